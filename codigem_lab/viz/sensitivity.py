"""Notebook 07's widget: pick beta and T, see the cached sweep result at once, or train it now.

The sweeps of Figs. 2 and 3 vary one setting at a time: beta at T = 3 (Fig. 2) and T at
beta = 1e-4 (Fig. 3). :func:`sweep_table` puts both into one table with a ``beta`` and a ``T``
column; :func:`lookup_result` is what a slider move runs (a table look-up, no training), and
:func:`~codigem_lab.experiments.studies.train_setting` is what the button runs (one short CODIGEM
training on small data, passed in as ``trainer``: viz itself never trains). Both are plain
functions so tests can call them; :class:`SensitivityPanel` only wires them to ipywidgets.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from codigem_lab.diffusion.schedule import NoiseSchedule
from codigem_lab.viz.snapshot import SnapshotDisplay

#: The settings held fixed by each sweep (the paper's: Fig. 2 at T = 3, Fig. 3 at beta = 1e-4).
BETA_SWEEP_T = 3
T_SWEEP_BETA = 1e-4
METRICS = ("R@20", "R@50", "N@20", "N@50")
TIMINGS = ("epochs", "best_epoch", "train_s_per_epoch", "eval_s_per_epoch")


def sweep_table(
    beta_runs: pd.DataFrame | None,
    T_runs: pd.DataFrame | None,
    beta_T: int = BETA_SWEEP_T,
    T_beta: float = T_SWEEP_BETA,
) -> pd.DataFrame:
    """Both sweeps as one table: one row per (beta, T, seed) with the test metrics and timings.

    ``beta_runs``/``T_runs`` are the per-run frames of :func:`~codigem_lab.experiments.studies.sweep`
    (as ``reproduce(...).runs`` returns them); the setting a sweep held fixed is filled in. The
    paper's setting is in both sweeps; it is kept once per seed.
    """
    parts = []
    if beta_runs is not None and len(beta_runs):
        parts.append(beta_runs.assign(T=beta_runs.get("T", beta_T)))
    if T_runs is not None and len(T_runs):
        parts.append(T_runs.assign(beta=T_runs.get("beta", T_beta)))
    cols = ["beta", "T", "seed", *METRICS, *TIMINGS]
    if not parts:
        return pd.DataFrame(columns=cols)
    df = pd.concat(parts, ignore_index=True)
    df["beta"] = df["beta"].astype(float)
    df["T"] = df["T"].astype(int)
    keep = [c for c in cols if c in df.columns]
    return df.drop_duplicates(["beta", "T", "seed"])[keep].reset_index(drop=True)


def noise_at(beta: float, T: int) -> dict[str, float]:
    """alpha_bar_T and SNR(z_T) of the constant schedule (what is left of x after T steps)."""
    s = NoiseSchedule.constant(float(beta), int(T))
    return {"alpha_bar_T": float(s.alpha_bar[-1]), "snr_T": float(s.snr[-1])}


def lookup_result(sweep_df: pd.DataFrame | None, beta: float, T: int) -> dict:
    """The cached result for (beta, T): mean and std over seeds of each metric and timing.

    Always returns a dict with ``found``, ``beta``, ``T``, ``alpha_bar_T``, ``snr_T`` and a
    one-line ``message``. When found it also holds ``seeds`` and ``{name}_mean`` /
    ``{name}_std`` for the metrics (``R@50``...) and timings (``epochs``...). When the setting
    was not run, ``message`` says which settings the sweeps did run.
    """
    beta, T = float(beta), int(T)
    out: dict = {"found": False, "beta": beta, "T": T, **noise_at(beta, T)}
    if sweep_df is None or not len(sweep_df):
        out["message"] = (
            "No sweep results are loaded: run the beta and T sweeps first "
            "(codigem-lab reproduce fig2 / fig3), or train this setting now with the button."
        )
        return out
    hit = sweep_df[
        np.isclose(sweep_df["beta"].astype(float), beta, rtol=1e-9) & (sweep_df["T"] == T)
    ]
    if hit.empty:
        betas = sorted(sweep_df.loc[sweep_df["T"] == BETA_SWEEP_T, "beta"].astype(float).unique())
        Ts = sorted(
            sweep_df.loc[np.isclose(sweep_df["beta"], T_SWEEP_BETA), "T"].astype(int).unique()
        )
        out["message"] = (
            f"beta = {beta:g}, T = {T} was not run: the sweeps vary beta at T = {BETA_SWEEP_T} "
            f"(beta in {', '.join(f'{b:g}' for b in betas) or 'none'}) and T at beta = "
            f"{T_SWEEP_BETA:g} (T in {', '.join(map(str, Ts)) or 'none'}). Pick one of those, "
            "or train this setting now on small data with the button."
        )
        return out
    n = len(hit)
    out.update(found=True, seeds=n)
    for name in (*METRICS, *TIMINGS):
        if name in hit:
            vals = hit[name].astype(float).to_numpy()
            out[f"{name}_mean"] = float(vals.mean())
            out[f"{name}_std"] = float(vals.std(ddof=1)) if n > 1 else 0.0
    out["message"] = (
        f"beta = {beta:g}, T = {T}: test R@50 = {_value(out, 'R@50')}, "
        f"N@50 = {_value(out, 'N@50')} over {n} seed(s) "
        "(cached runs, loaded instantly)."
    )
    return out


def _value(result: dict, metric: str) -> str:
    """'0.4187 ± 0.0146' over several seeds; '0.4187' for one (a single run has no spread)."""
    mean = f"{result[f'{metric}_mean']:.4f}"
    return mean if result.get("seeds", 1) < 2 else f"{mean} ± {result[f'{metric}_std']:.4f}"


def plot_selection(
    sweep_df: pd.DataFrame, beta: float, T: int, metric: str = "R@50", dpi: int = 72
) -> Figure:
    """Figs. 2 and 3 in small (``metric`` against beta at T = 3, and against T at beta = 1e-4),
    with the selected setting marked where a sweep holds it."""
    from codigem_lab.viz.plots import new_figure

    fig = new_figure(7.0, 2.4, dpi)
    ax_b, ax_t = fig.subplots(1, 2)
    df = sweep_df if sweep_df is not None else pd.DataFrame(columns=["beta", "T", metric])
    by_beta = df[df["T"] == BETA_SWEEP_T].groupby("beta")[metric].mean() if len(df) else None
    by_T = (
        df[np.isclose(df["beta"].astype(float), T_SWEEP_BETA)].groupby("T")[metric].mean()
        if len(df)
        else None
    )
    for ax, series, x_sel, name in (
        (ax_b, by_beta, float(beta) if int(T) == BETA_SWEEP_T else None, "beta"),
        (ax_t, by_T, int(T) if np.isclose(float(beta), T_SWEEP_BETA) else None, "T"),
    ):
        if series is not None and len(series):
            ax.plot(series.index.astype(float), series.to_numpy(), "o-", color="#4c72b0", ms=3)
            if x_sel is not None and any(np.isclose(series.index.astype(float), x_sel)):
                y = float(series[np.isclose(series.index.astype(float), x_sel)].iloc[0])
                ax.plot([x_sel], [y], "o", ms=10, mfc="none", mec="#c44e52", mew=2)
                ax.set_title(f"{metric} against {name}: selected {x_sel:g}", fontsize=8)
            else:
                ax.set_title(f"{metric} against {name} (selection not in this sweep)", fontsize=8)
        ax.set_xlabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    ax_b.set_xscale("log")
    ax_b.set_ylabel(f"test {metric}", fontsize=8)
    return fig


def format_result(result: dict) -> str:
    """A lookup or training result as a small HTML block (readout of the widget)."""
    noise = (
        f"alpha_bar_T = {result['alpha_bar_T']:.4g} (share of the signal left in z_T), "
        f"SNR(z_T) = {result['snr_T']:.3g}"
    )
    lines = [f"<b>{html.escape(result.get('message', ''))}</b>", html.escape(noise)]
    if result.get("found"):
        cells = "".join(
            f"<td>{m}</td><td>{_value(result, m)}</td>" for m in METRICS if f"{m}_mean" in result
        )
        lines.append(f"<table><tr>{cells}</tr></table>")
        if "epochs_mean" in result:
            lines.append(
                f"epochs run {result['epochs_mean']:.1f}, best epoch "
                f"{result.get('best_epoch_mean', math.nan):.1f}, "
                f"{result.get('train_s_per_epoch_mean', math.nan):.2f} s per training epoch"
            )
    return "<br>".join(lines)


def plot_beta_sweep(
    runs: pd.DataFrame, values: Sequence[float] | None = None, title: str = ""
) -> Figure:
    """Fig. 2: test R@50/N@50 against beta (mean ± std over seeds, log axis); on a second axis the
    share of x's variance left in z_1 (the decoder's input) and in z_T. ``values`` keeps only
    those betas (e.g. the paper's coarse or fine range)."""
    from codigem_lab.experiments.studies import noise_readouts, summarise_sweep
    from codigem_lab.viz.studies import plot_sweep

    df = runs
    if values is not None:
        b = runs["beta"].to_numpy(dtype=float)
        df = runs[np.isclose(b[:, None], np.asarray(values, dtype=float)[None, :]).any(axis=1)]
    summary = summarise_sweep(df, "beta")
    noise = noise_readouts(summary.index, T=BETA_SWEEP_T).set_index("beta")
    shares = noise[["alpha_bar_1", "alpha_bar_T"]].rename(
        columns={
            "alpha_bar_1": "alpha_bar_1 (z_1, decoder input)",
            "alpha_bar_T": f"alpha_bar_T (z_{BETA_SWEEP_T})",
        }
    )
    return plot_sweep(
        summary, "beta", logx=True, title=title, secondary=shares, secondary_label="signal share"
    )


def plot_T_sweep(runs: pd.DataFrame, title: str = "") -> Figure:
    """Fig. 3 left: test R@50/N@50 against T (mean ± std over seeds)."""
    from codigem_lab.experiments.studies import summarise_sweep
    from codigem_lab.viz.studies import plot_sweep

    return plot_sweep(summarise_sweep(runs, "T"), "T", title=title)


def _beta_options(values: Sequence[float]) -> list[tuple[str, float]]:
    return [(f"{v:g}", float(v)) for v in sorted({float(v) for v in values})]


class SensitivityPanel(SnapshotDisplay):
    """Two selection sliders (beta, T) over the swept values, a readout, and a train button.

    ``panel.widget`` is the box to display. :meth:`select` is what a slider move runs (a
    :func:`lookup_result`, instant); :meth:`train_now` is what the button runs
    (the injected ``trainer``, e.g. :func:`codigem_lab.experiments.studies.train_setting`, with
    its progress bar in the panel's Output area; without one the button is disabled). Both can
    be called directly.
    """

    def __init__(
        self,
        sweep_df: pd.DataFrame | None,
        quick: bool = True,
        beta: float = T_SWEEP_BETA,
        T: int = BETA_SWEEP_T,
        trainer: Callable[..., dict] | None = None,
    ) -> None:
        import ipywidgets as w

        if sweep_df is None:
            sweep_df = pd.DataFrame(columns=["beta", "T", "seed", *METRICS, *TIMINGS])
        self.sweep_df = sweep_df
        self.quick = quick
        self.trainer = trainer
        betas = list(sweep_df["beta"]) if len(sweep_df) else [beta]
        Ts = sorted({int(t) for t in sweep_df["T"]}) if len(sweep_df) else [T]
        beta_opts = _beta_options(betas)
        start_beta = min(beta_opts, key=lambda o: abs(math.log(o[1]) - math.log(beta)))[1]
        self.beta_slider = w.SelectionSlider(
            options=beta_opts,
            value=start_beta,
            description="beta",
            continuous_update=True,
            layout=w.Layout(width="520px"),
        )
        self.T_slider = w.SelectionSlider(
            options=[(str(t), t) for t in Ts],
            value=T if T in Ts else Ts[0],
            description="T",
            continuous_update=True,
            layout=w.Layout(width="520px"),
        )
        self.readout = w.HTML()
        self.picture = w.Image(format="png")
        self.button = w.Button(
            description="train this setting now (small data)",
            icon="play",
            layout=w.Layout(width="300px"),
            disabled=trainer is None,
        )
        self.output = w.Output()
        self.last: dict = {}
        self.trained: dict | None = None
        for s in (self.beta_slider, self.T_slider):
            s.observe(self._on_change, names="value")
        self.button.on_click(self._on_click)
        self.select(self.beta_slider.value, self.T_slider.value)
        self.widget = w.VBox(
            [self.beta_slider, self.T_slider, self.readout, self.picture, self.button, self.output]
        )
        # CSS classes: stable handles for the browser test (tests/test_notebooks_browser.py)
        for widget, name in (
            (self.widget, "panel"),
            (self.beta_slider, "beta-slider"),
            (self.T_slider, "T-slider"),
            (self.readout, "readout"),
            (self.button, "train"),
            (self.output, "output"),
        ):
            widget.add_class(f"codigem-sensitivity-{name}")

    def select(self, beta: float, T: int) -> dict:
        """Show the cached result for (beta, T) in the readout; return it."""
        self.last = lookup_result(self.sweep_df, beta, T)
        self.readout.value = format_result(self.last)
        from codigem_lab.viz.plots import figure_png

        self.picture.value = figure_png(plot_selection(self.sweep_df, beta, T))
        return self.last

    def train_now(self) -> dict:
        """Train the selected setting on small data, progress bar and result in the Output area."""
        beta, T = self.beta_slider.value, self.T_slider.value
        if self.trainer is None:
            raise ValueError("this panel has no trainer: pass trainer=studies.train_setting")
        self.button.disabled = True
        try:
            with self.output:
                self.output.clear_output()
                try:
                    self.trained = self.trainer(beta, T, quick=self.quick, progress=True)
                except Exception as exc:  # shown in the panel, not lost in the kernel log
                    self.trained = {
                        "found": False,
                        "beta": beta,
                        "T": T,
                        "message": f"training beta = {beta:g}, T = {T} failed: {exc}",
                    }
                print(self.trained["message"])
        finally:
            self.button.disabled = False
        return self.trained

    def _on_change(self, change) -> None:  # noqa: ANN001 (traitlets change dict)
        self.select(self.beta_slider.value, self.T_slider.value)

    def _on_click(self, button) -> None:  # noqa: ANN001 (ipywidgets button)
        self.train_now()

    def snapshot_png(self) -> bytes:
        return bytes(self.picture.value)


def sensitivity_panel(sweep_df: pd.DataFrame, **kwargs):
    """Build a :class:`SensitivityPanel` for a :func:`sweep_table` and return its widget box."""
    return SensitivityPanel(sweep_df, **kwargs).widget
