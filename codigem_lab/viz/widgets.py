"""ipywidgets panels for the notebooks. Each slider's work is a plain function of plain values.

:func:`forward_noising_state` (beta, T -> everything the forward-noising picture shows) and
:func:`noising_readouts` (that state -> the text of the readouts) need no browser and no widget;
:class:`ForwardNoisingPanel` only wires them to sliders, labels and one reused figure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from codigem_lab.diffusion.model import scale_input
from codigem_lab.diffusion.schedule import NoiseSchedule
from codigem_lab.viz.plots import ForwardNoisingFigure, NoisingView
from codigem_lab.viz.snapshot import SnapshotDisplay

PAPER_BETA, PAPER_T = 1e-4, 3
BETA_MIN, BETA_MAX = 1e-5, 0.9
T_MIN, T_MAX = 1, 50
#: The T slider's stops: every step to 10, then coarser (a mouse lands on each, 3 included).
T_CHOICES = (1, 2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 30, 50)
HIST_EDGES = np.linspace(-4.5, 4.5, 61)


@dataclass
class NoisingState(NoisingView):
    """A :class:`NoisingView` plus the numbers the readouts show."""

    kl_per_item: float = 0.0  # mean over items of KL(q(z_T | x_d) || N(0, 1)), nats
    kl_total: float = 0.0  # KL(q(z_T | x) || N(0, I)) summed over the D items, nats
    n_items: int = 0


def scale_clicks(x: np.ndarray, scaling: str = "minus1_1") -> np.ndarray:
    """One user's 0/1 clicks as float64 -> the model's input z_0 (:func:`scale_input`)."""
    return scale_input(np.asarray(x, dtype=np.float64).reshape(-1), scaling)


def item_window(x: np.ndarray, width: int = 80, seed: int = 0) -> np.ndarray:
    """Columns to show in the heat-map strips: up to half clicked items, the rest not, sorted."""
    x = np.asarray(x).reshape(-1)
    rng = np.random.default_rng(seed)
    on, off = np.flatnonzero(x > 0), np.flatnonzero(x <= 0)
    n_on = min(len(on), width // 2)
    n_off = min(len(off), width - n_on)
    cols = np.concatenate(
        [rng.choice(on, n_on, replace=False), rng.choice(off, n_off, replace=False)]
    )
    return np.sort(cols)


def kl_to_standard_normal(x_scaled: np.ndarray, alpha_bar_T: float) -> np.ndarray:
    """Per-item KL(q(z_T | x_d) || N(0, 1)) in nats, q(z_T | x_d) = N(sqrt(ab) x_d, 1 - ab).

    KL(N(m, s^2) || N(0, 1)) = (s^2 + m^2 - 1 - ln s^2) / 2 with m^2 = ab x_d^2, s^2 = 1 - ab.
    """
    ab = float(alpha_bar_T)
    return 0.5 * (ab * np.asarray(x_scaled) ** 2 - ab - math.log1p(-ab))


def _binned_mixture(edges: np.ndarray, means: np.ndarray, std: float) -> np.ndarray:
    """Density per bin of the equal-weight mixture of N(mean_d, std^2), from CDF differences."""
    from scipy.special import ndtr

    vals, weights = np.unique(means, return_counts=True)  # 0/1 data: two distinct means
    cdf = ndtr((edges[None, :] - vals[:, None]) / std)
    mass = (np.diff(cdf, axis=1) * weights[:, None]).sum(0) / weights.sum()
    return mass / np.diff(edges)


def forward_noising_state(
    x: np.ndarray,
    beta: float,
    T: int,
    seed: int = 0,
    scaling: str = "minus1_1",
    window: np.ndarray | None = None,
) -> NoisingState:
    """Everything the forward-noising panel shows for one (beta, T); a pure function.

    ``x`` is a user's 0/1 click vector over the D items. The noise is drawn from ``seed`` in a
    fixed order, so the same (beta, T) always gives the same picture and a larger T extends the
    chain without redrawing its first steps. The chain is the library's
    :meth:`NoiseSchedule.sample_chain` (eq 5 iterated); the closed form is
    :meth:`NoiseSchedule.q_marginal` (q(z_t | x) = N(sqrt(alpha_bar_t) x, (1 - alpha_bar_t) I)).
    """
    schedule = NoiseSchedule.constant(float(beta), int(T))
    x0 = scale_clicks(x, scaling)
    cols = item_window(x) if window is None else np.asarray(window)
    chain = np.stack(schedule.sample_chain(x0, generator=seed))  # [T, D]
    closed_rng = np.random.default_rng(seed + 1)
    eps = closed_rng.standard_normal((schedule.T, len(cols)))
    closed = np.empty_like(eps)
    for t in range(1, schedule.T + 1):
        mean, var = schedule.q_marginal(x0[cols], t)
        closed[t - 1] = mean + math.sqrt(var) * eps[t - 1]
    ab = schedule.alpha_bar
    zT = chain[-1]
    hist, _ = np.histogram(
        np.clip(zT, HIST_EDGES[0], HIST_EDGES[-1]), bins=HIST_EDGES, density=True
    )
    mean_T, var_T = schedule.q_marginal(x0, schedule.T)
    hist_closed = _binned_mixture(HIST_EDGES, np.asarray(mean_T), math.sqrt(var_T))
    # sampled estimates of sqrt(alpha_bar_t) (regression of z_t on x) and of the noise std
    xc = x0 - x0.mean()
    denom = float(xc @ xc)
    if denom > 0:
        signal = (chain - chain.mean(1, keepdims=True)) @ xc / denom
    else:  # a constant x carries no signal to estimate; fall back to the closed form
        signal = np.sqrt(ab)
    resid = chain - signal[:, None] * x0[None, :]
    noise = resid.std(axis=1)
    ref = NoiseSchedule.constant(PAPER_BETA, PAPER_T)
    kl = kl_to_standard_normal(x0, float(ab[-1]))
    return NoisingState(
        beta=float(beta),
        T=schedule.T,
        alpha_bar=ab,
        snr=schedule.snr,
        strip_chain=np.vstack([x0[cols], chain[:, cols]]),
        strip_closed=np.vstack([x0[cols], closed]),
        hist_edges=HIST_EDGES,
        hist_sampled=hist,
        hist_closed=hist_closed,
        signal_sampled=np.abs(signal),
        noise_sampled=noise,
        reference_alpha_bar=ref.alpha_bar,
        reference_snr=ref.snr,
        kl_per_item=float(kl.mean()),
        kl_total=float(kl.sum()),
        n_items=int(x0.shape[0]),
    )


def noising_readouts(state: NoisingState) -> dict[str, str]:
    """The readout texts for a state: alpha_bar_T, SNR_T, KL to N(0, I), paper comparison."""
    ab = float(state.alpha_bar[-1])
    snr = float(state.snr[-1])
    db = 10 * math.log10(snr) if snr > 0 else -math.inf
    ref_ab = float(state.reference_alpha_bar[-1])
    if ab > 0.99:
        verdict = "almost all signal kept: z_T is x plus a little noise"
    elif ab > 0.1:
        verdict = "signal and noise both matter"
    elif ab > 1e-3:
        verdict = "mostly noise"
    else:
        verdict = "pure noise for all practical purposes"
    return {
        "alpha_bar": f"alpha_bar_T = {ab:.6g}",
        "snr": f"SNR_T = {snr:.4g} ({db:+.1f} dB)",
        "kl": (
            f"KL(q(z_T|x) || N(0,I)) = {state.kl_per_item:.4g} nats per item, "
            f"{state.kl_total:,.1f} for the {state.n_items:,} items"
        ),
        "verdict": f"beta = {state.beta:.3g}, T = {state.T}: {verdict}",
        "paper": (
            f"paper (beta = 1e-4, T = 3): alpha_bar_T = {ref_ab:.6g}, "
            f"SNR_T = {ref_ab / (1 - ref_ab):.4g}"
        ),
    }


def noising_summary(
    x: np.ndarray, settings: Sequence[tuple[float, int]], scaling: str = "minus1_1"
) -> pd.DataFrame:
    """How close q(z_T | x) is to N(0, I) for several (beta, T): closed-form numbers only.

    Columns: ``alpha_bar_T``, ``signal sqrt(alpha_bar_T)``, ``noise std sqrt(1 - alpha_bar_T)``,
    ``SNR_T``, ``KL per item`` and ``KL per user`` (nats; KL(q(z_T | x) || N(0, I))).
    """
    x0 = scale_clicks(x, scaling)
    rows = []
    for beta, T in settings:
        ab = float(NoiseSchedule.constant(float(beta), int(T)).alpha_bar[-1])
        kl = kl_to_standard_normal(x0, ab)
        rows.append(
            {
                "beta": beta,
                "T": int(T),
                "alpha_bar_T": ab,
                "signal sqrt(alpha_bar_T)": math.sqrt(ab),
                "noise std sqrt(1 - alpha_bar_T)": math.sqrt(1.0 - ab),
                "SNR_T": ab / (1.0 - ab),
                "KL per item": float(kl.mean()),
                "KL per user": float(kl.sum()),
            }
        )
    return pd.DataFrame(rows).set_index(["beta", "T"])


class ForwardNoisingPanel(SnapshotDisplay):
    """Sliders for beta (log scale) and T, live readouts, and one reused figure as an image.

    ``panel.widget`` is the box to display. :meth:`update` is what a slider move runs; it can be
    called directly (tests, benchmarks) and returns the new state. ``last_update_ms`` is the
    time the last update took (compute + redraw + PNG).
    """

    def __init__(
        self,
        x: np.ndarray,
        seed: int = 0,
        scaling: str = "minus1_1",
        dpi: int = 80,
        beta: float = PAPER_BETA,
        T: int = PAPER_T,
        continuous_update: bool = True,
    ) -> None:
        import ipywidgets as w

        self.x = np.asarray(x, dtype=np.float64).reshape(-1)
        self.seed = seed
        self.window = item_window(self.x, seed=seed)
        self.beta_slider = w.FloatLogSlider(
            value=beta,
            base=10,
            min=math.log10(BETA_MIN),
            max=math.log10(BETA_MAX),
            step=0.05,
            description="beta",
            readout_format=".2e",
            continuous_update=continuous_update,
            layout=w.Layout(width="420px"),
        )
        # T from a short list (the paper's 3 among them) so a mouse lands on each value easily
        self.T_slider = w.SelectionSlider(
            options=[t for t in T_CHOICES if T_MIN <= t <= T_MAX] if T in T_CHOICES else [T],
            value=T,
            description="T",
            continuous_update=continuous_update,
            layout=w.Layout(width="420px"),
        )
        self.scaling = w.ToggleButtons(
            options=[("x in {-1, 1} (paper)", "minus1_1"), ("x in {0, 1} (released)", "none")],
            value=scaling,
            description="input",
            style={"button_width": "175px"},
        )
        self.beta_slider.add_class("codigem-beta-slider")
        self.T_slider.add_class("codigem-T-slider")
        self.labels = {k: w.HTML() for k in ("alpha_bar", "snr", "kl", "verdict", "paper")}
        for k, lab in self.labels.items():
            lab.add_class(f"codigem-readout-{k.replace('_', '-')}")
        state = self._state(beta, T, scaling)
        self.figure = ForwardNoisingFigure(state, dpi=dpi)
        self.image = w.Image(format="png", value=self.figure.png())
        self.image.add_class("codigem-noising-plot")
        self._show_readouts(state)
        self.last_update_ms = 0.0
        for s in (self.beta_slider, self.T_slider, self.scaling):
            s.observe(self._on_change, names="value")
        self.widget = w.VBox(
            [
                w.HBox([w.VBox([self.beta_slider, self.T_slider]), self.scaling]),
                w.VBox([self.labels[k] for k in ("alpha_bar", "snr", "kl", "verdict", "paper")]),
                self.image,
            ]
        )
        self.widget.add_class("codigem-noising-panel")

    def _state(self, beta: float, T: int, scaling: str) -> NoisingState:
        return forward_noising_state(self.x, beta, T, self.seed, scaling, self.window)

    def _show_readouts(self, state: NoisingState) -> None:
        for k, text in noising_readouts(state).items():
            self.labels[k].value = f"<code>{text}</code>"

    def update(self, beta: float, T: int, scaling: str | None = None) -> NoisingState:
        """Recompute for (beta, T), move the figure's artists, re-render the image, set labels."""
        start = time.perf_counter()
        state = self._state(beta, T, scaling or self.scaling.value)
        self.figure.update(state)
        self.image.value = self.figure.png()
        self._show_readouts(state)
        self.last_update_ms = 1000 * (time.perf_counter() - start)
        return state

    def _on_change(self, change) -> None:  # noqa: ANN001 (traitlets change dict)
        self.update(self.beta_slider.value, self.T_slider.value, self.scaling.value)

    def snapshot_png(self) -> bytes:
        return bytes(self.image.value)
