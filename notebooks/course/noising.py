"""Notebook 02's forward-noising panel: sliders for beta and T over one reused figure.

:func:`forward_noising_state` (beta, T -> everything the picture shows, from the library's
``NoiseSchedule``) and :func:`noising_readouts` (that state -> the readout texts) are plain
functions a test calls without a browser; :class:`ForwardNoisingPanel` only wires them to sliders,
labels and one :class:`ForwardNoisingFigure`, which blits its moving artists so that a slider
move stays live. Nothing in ``codigem_lab`` imports this module.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from codigem_lab.diffusion.model import scale_input
from codigem_lab.diffusion.schedule import NoiseSchedule
from codigem_lab.viz.plots import DEFAULT_DPI, new_figure, style_axes
from course.png import figure_png, rgb_to_png
from course.snapshot import SnapshotDisplay

PAPER_BETA, PAPER_T = 1e-4, 3
BETA_MIN, BETA_MAX = 1e-5, 0.9
T_MIN, T_MAX = 1, 50
#: The T slider's stops: every step to 10, then coarser (a mouse lands on each, 3 included).
T_CHOICES = (1, 2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 30, 50)
HIST_EDGES = np.linspace(-4.5, 4.5, 61)


@dataclass
class NoisingState:
    """What the forward-noising figure draws and the readouts print; made by
    :func:`forward_noising_state`."""

    beta: float
    T: int
    alpha_bar: np.ndarray  # [T]
    snr: np.ndarray  # [T]
    strip_chain: np.ndarray  # [T + 1, W]: x then z_1..z_T by iterating eq (5), window of items
    strip_closed: np.ndarray  # [T + 1, W]: x then one-shot draws from q(z_t | x)
    hist_edges: np.ndarray  # [B + 1]
    hist_sampled: np.ndarray  # [B] density of z_T (all D items) from the chain
    hist_closed: np.ndarray  # [B] density of q(z_T | x) averaged over items, per bin
    signal_sampled: np.ndarray  # [T] sampled estimate of sqrt(alpha_bar_t)
    noise_sampled: np.ndarray  # [T] sampled estimate of sqrt(1 - alpha_bar_t)
    reference_alpha_bar: np.ndarray  # [T_ref] the paper's setting, for comparison
    reference_snr: np.ndarray
    kl_per_item: float  # mean over items of KL(q(z_T | x_d) || N(0, 1)), nats
    kl_total: float  # KL(q(z_T | x) || N(0, I)) summed over the D items, nats
    n_items: int


class ForwardNoisingFigure:
    """One reusable figure for the forward process; :meth:`update` moves its artists.

    Top: two heat-map strips of x, z_1..z_T over a window of items, one by iterating eq (5)
    and one drawn in a single step from the closed form q(z_t | x). Bottom: alpha_bar_t, the
    signal-to-noise ratio per step, and the distribution of z_T against N(0, I).

    Why it is fast enough for a slider: every axis limit is fixed (steps on a log axis 1..50,
    the strips stretched to their axes whatever T is), so axes, ticks, labels and legends never
    change. With ``animated=True`` they are drawn once into a background; :meth:`png` restores
    it and draws only the data artists (blitting), then encodes the pixels. Text layout, which
    dominates a full matplotlib draw, happens once. ``animated=False`` gives an ordinary figure
    for static display.
    """

    SNR_LIMITS = (1e-8, 1e8)
    STEP_LIMITS = (0.8, 62.0)
    MAX_ROW_LABELS = 7
    STEP_TICKS = (1, 2, 3, 5, 10, 20, 50)

    def __init__(self, view: NoisingState, dpi: int = 80, animated: bool = True) -> None:
        self.fig = new_figure(10.0, 6.0, dpi)
        self.animated = animated
        gs = self.fig.add_gridspec(2, 3, height_ratios=[1.0, 1.0])
        self.ax_chain = self.fig.add_subplot(gs[0, :2])
        self.ax_closed = self.fig.add_subplot(gs[0, 2])
        self.ax_ab = self.fig.add_subplot(gs[1, 0])
        self.ax_snr = self.fig.add_subplot(gs[1, 1])
        self.ax_hist = self.fig.add_subplot(gs[1, 2])
        self._background = None
        self._build(view)
        for artist in self.dynamic_artists():
            artist.set_animated(animated)
        self.update(view)

    # ------------------------------------------------------------------------------- build
    def _build(self, v: NoisingState) -> None:
        kw = {
            "cmap": "RdBu_r",
            "vmin": -2.5,
            "vmax": 2.5,
            "aspect": "auto",
            "interpolation": "nearest",
            "extent": (0.0, 1.0, 1.0, 0.0),
        }
        self.im_chain = self.ax_chain.imshow(v.strip_chain, **kw)
        self.im_closed = self.ax_closed.imshow(v.strip_closed, **kw)
        self.row_labels = []  # x, z_1, ..., z_T beside the strips: dynamic, outside the layout
        for ax in (self.ax_chain, self.ax_closed):
            ax.set_xlim(0.0, 1.0)
            ax.set_ylim(1.0, 0.0)
            ax.set_xticks([])
            ax.set_yticks([])
            for _ in range(self.MAX_ROW_LABELS):
                text = ax.text(-0.01, 0.5, "", transform=ax.transAxes, ha="right", va="center")
                text.set_fontsize(7)
                text.set_in_layout(False)
                self.row_labels.append(text)
        style_axes(self.ax_chain, "items (a window: half clicked by the user, half not)",
                   title="iterating eq (5): rows x, z_1, ..., z_T (top to bottom)")  # fmt: skip
        style_axes(self.ax_closed, "the same items",
                   title="closed form: one draw of q(z_t | x) per row")  # fmt: skip
        self.fig.colorbar(self.im_closed, ax=self.ax_closed, fraction=0.08, pad=0.02)

        self.ln_ab, self.ln_sig = self._curves(self.ax_ab, v.reference_alpha_bar, "sampled (chain)")
        self.ax_ab.set_ylim(-0.03, 1.05)
        ref_snr = np.clip(v.reference_snr, *self.SNR_LIMITS)
        self.ln_snr, self.ln_snr_s = self._curves(self.ax_snr, ref_snr, "sampled")
        self.ax_snr.axhline(1.0, color="#555555", linewidth=0.8, linestyle=":")
        self.ax_snr.set_yscale("log")
        self.ax_snr.set_ylim(*self.SNR_LIMITS)
        _plain_log_ticks(self.ax_snr.yaxis, [1e-8, 1e-4, 1, 1e4, 1e8])
        for ax, title in (
            (self.ax_ab, "signal kept: alpha_bar_t"),
            (self.ax_snr, "SNR_t = alpha_bar_t / (1 - alpha_bar_t)"),
        ):
            ax.set_xscale("log")
            ax.set_xlim(*self.STEP_LIMITS)
            _plain_log_ticks(ax.xaxis, self.STEP_TICKS, fmt="{:.0f}")
            style_axes(ax, "step t", title=title, legend={"fontsize": 7, "loc": "lower left"})

        edges = v.hist_edges
        self.st_sampled = self.ax_hist.stairs(
            v.hist_sampled, edges, fill=True, color="#9ecae1", label="z_T sampled (chain)"
        )
        self.st_closed = self.ax_hist.stairs(
            v.hist_closed, edges, color="#4c72b0", linewidth=1.5, label="q(z_T | x) closed form"
        )
        grid = np.linspace(edges[0], edges[-1], 200)
        normal = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
        self.ax_hist.plot(grid, normal, "--", color="#c44e52", label="N(0, 1)")
        self.ax_hist.set_yscale("log")
        self.ax_hist.set_ylim(1e-3, 50.0)
        self.ax_hist.set_xlim(edges[0], edges[-1])
        _plain_log_ticks(self.ax_hist.yaxis, [1e-3, 1e-2, 1e-1, 1, 10])
        style_axes(self.ax_hist, "value of one coordinate of z_T", title="z_T over all items vs N(0, I)",
                   legend={"fontsize": 7, "loc": "upper left"})  # fmt: skip
        self.suptitle = self.fig.suptitle(" ", fontsize=11)

    @staticmethod
    def _curves(ax, reference: np.ndarray, sampled_label: str) -> tuple:
        """The paper's curve (fixed) and two empty lines, closed form and sampled, for update."""
        t_ref = np.arange(1, len(reference) + 1)
        ax.plot(t_ref, reference, "s--", color="#999999", markersize=4, label="paper")
        (closed,) = ax.plot([], [], "o-", color="#4c72b0", markersize=3, label="closed form")
        (sampled,) = ax.plot([], [], "x", color="#c44e52", markersize=5, label=sampled_label)
        return closed, sampled

    def _label_rows(self, T: int) -> None:
        """Row labels x, z_1, ..., z_T on both strips (every row up to T = 6, then a few)."""
        rows = list(range(T + 1)) if T <= 6 else [0, 1, 2, T // 2, T - 1, T]
        per_axis = self.MAX_ROW_LABELS
        for ax_labels in (self.row_labels[:per_axis], self.row_labels[per_axis:]):
            for i, text in enumerate(ax_labels):
                if i < len(rows):
                    r = rows[i]
                    text.set_text("x" if r == 0 else f"z_{r}")
                    text.set_y(1.0 - (r + 0.5) / (T + 1))
                else:
                    text.set_text("")

    def dynamic_artists(self) -> list:
        """The artists an update changes (everything else is static background)."""
        return [
            self.im_chain,
            self.im_closed,
            self.ln_ab,
            self.ln_sig,
            self.ln_snr,
            self.ln_snr_s,
            self.st_sampled,
            self.st_closed,
            self.suptitle,
            *self.row_labels,
        ]

    # ------------------------------------------------------------------------------ update
    def update(self, v: NoisingState) -> None:
        """Point every dynamic artist at the new data (the canvas is not drawn here)."""
        self.im_chain.set_data(v.strip_chain)
        self.im_closed.set_data(v.strip_closed)
        self._label_rows(v.T)
        t = np.arange(1, v.T + 1)
        self.ln_ab.set_data(t, v.alpha_bar)
        self.ln_sig.set_data(t, v.signal_sampled**2)
        self.ln_snr.set_data(t, np.clip(v.snr, *self.SNR_LIMITS))
        sig2, noi2 = v.signal_sampled**2, np.maximum(v.noise_sampled**2, 1e-300)
        self.ln_snr_s.set_data(t, np.clip(sig2 / noi2, *self.SNR_LIMITS))
        self.st_sampled.set_data(np.maximum(v.hist_sampled, 1e-12), v.hist_edges)
        self.st_closed.set_data(np.maximum(v.hist_closed, 1e-12), v.hist_edges)
        self.suptitle.set_text(
            f"forward process: beta = {v.beta:.3g}, T = {v.T}, alpha_bar_T = {v.alpha_bar[-1]:.4g}"
        )

    def png(self) -> bytes:
        """The current state as PNG bytes (blitted onto the cached background when animated)."""
        if not self.animated:
            return figure_png(self.fig, tight=False)
        canvas = self.fig.canvas
        if self._background is None:
            canvas.draw()  # lays out and draws the static parts (animated artists are skipped)
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        canvas.restore_region(self._background)
        for artist in self.dynamic_artists():
            self.fig.draw_artist(artist)
        return rgb_to_png(np.asarray(canvas.buffer_rgba()))


def _plain_log_ticks(axis, ticks: Sequence[float], fmt: str | None = None) -> None:
    """Fixed major ticks with short plain labels ("1e-4", "20"), no minor tick labels.

    Mathtext tick labels are the slowest part of drawing a log axis.
    """
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    def label(v: float) -> str:
        if fmt is not None:
            return fmt.format(v)
        return f"{v:g}" if 1e-2 <= v <= 1e3 else f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")

    axis.set_major_locator(FixedLocator(list(ticks)))
    axis.set_major_formatter(lambda v, _pos: label(v))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def plot_forward_noising(view: NoisingState, dpi: int = DEFAULT_DPI) -> Figure:
    """A static forward-noising figure (see :class:`ForwardNoisingFigure`)."""
    return ForwardNoisingFigure(view, dpi=dpi, animated=False).fig


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
