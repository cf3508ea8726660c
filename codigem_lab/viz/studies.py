"""Figures of the paper's studies of CODIGEM (Figs. 2-3): a test metric against beta or T with a
± std band over seeds, and convergence curves; data in, a Figure out. :data:`FIGURES` lists the
ones each registered study saves beside its table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from codigem_lab._io import atomic_path
from codigem_lab.experiments.registry import StudyOutput, get_study
from codigem_lab.experiments.studies import noise_readouts, summarise_sweep
from codigem_lab.viz.plots import new_figure, style_axes


def plot_sweep(
    summary: pd.DataFrame,
    param: str,
    logx: bool = False,
    title: str = "",
    secondary: pd.DataFrame | None = None,
    secondary_label: str = "",
) -> Figure:
    """Mean ± std (shaded) of R@50 and N@50 against ``param``; optional second axis with one grey
    line per column of ``secondary`` (e.g. alpha_bar_1 and alpha_bar_T)."""
    fig = new_figure(6, 3.6, 100)
    ax = fig.subplots()
    x = np.asarray(summary.index, dtype=float)
    for m in ("R@50", "N@50"):
        mean, std = summary[f"{m}_mean"].to_numpy(), np.nan_to_num(summary[f"{m}_std"].to_numpy())
        ax.plot(x, mean, marker="o", label=m)
        ax.fill_between(x, mean - std, mean + std, alpha=0.25)
    if logx:
        ax.set_xscale("log")
    handles, labels = ax.get_legend_handles_labels()
    if secondary is not None:
        ax2 = ax.twinx()
        for col, ls in zip(secondary.columns, ("--", ":", "-.")):
            y = secondary[col].reindex(summary.index).to_numpy()
            (line,) = ax2.plot(x, y, color="grey", ls=ls, label=col)
            handles.append(line)
            labels.append(str(col))
        ax2.set_ylabel(secondary_label, color="grey")
    legend = {"handles": handles, "labels": labels, "loc": "best"}
    style_axes(ax, param, "test metric", title, grid=True, legend=legend)
    return fig


def plot_beta_sweep(
    runs: pd.DataFrame, values: Sequence[float] | None = None, title: str = "", T: int = 3
) -> Figure:
    """Fig. 2: test R@50/N@50 against beta (only ``values``, if given), and on a second axis the
    share of x's variance left in z_1 (the decoder's input) and in z_T."""
    df = runs
    if values is not None:
        b = runs["beta"].to_numpy(dtype=float)
        df = runs[np.isclose(b[:, None], np.asarray(values, dtype=float)[None, :]).any(axis=1)]
    summary = summarise_sweep(df, "beta")
    shares = noise_readouts(summary.index, T=T).set_index("beta")[["alpha_bar_1", "alpha_bar_T"]]
    shares.columns = ["alpha_bar_1 (z_1, decoder input)", f"alpha_bar_T (z_{T})"]
    return plot_sweep(
        summary, "beta", logx=True, title=title, secondary=shares, secondary_label="signal share"
    )


def curve_band(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per epoch over runs of different lengths (a run counts while it lasts)."""
    n = max(len(c) for c in curves)
    padded = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        padded[i, : len(c)] = c
    return np.nanmean(padded, axis=0), np.nan_to_num(np.nanstd(padded, axis=0))


def plot_convergence(runs: pd.DataFrame, param: str = "T", title: str = "") -> Figure:
    """Fig. 3 right: validation R@50 per epoch for each value of ``param`` (mean ± std)."""
    fig = new_figure(6, 3.6, 100)
    ax = fig.subplots()
    for value, group in runs.groupby(param):
        curves = [h["R@50"].to_numpy() for h in group["history"] if h is not None]
        if not curves:
            continue
        mean, std = curve_band(curves)
        epochs = np.arange(1, len(mean) + 1)
        ax.plot(epochs, mean, label=f"{param}={value:g}")
        ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
    legend = {"loc": "lower right", "fontsize": 8}
    style_axes(ax, "epoch", "validation R@50", title, grid=True, legend=legend)
    return fig


def save_figure(fig: Figure, stem) -> list:
    """Save as PNG and SVG beside each other; returns the paths."""
    paths = [Path(f"{stem}.{ext}") for ext in ("png", "svg")]
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:])
    return paths


#: ``FIGURES[study][suffix](output, name)`` draws one from a study's :class:`StudyOutput`.
FIGURES: dict[str, dict[str, Callable[[StudyOutput, str], Figure]]] = {
    "fig2": {"beta": lambda out, name: plot_beta_sweep(out.runs, title=f"Fig. 2: beta ({name})")},
    "fig3": {
        "T": lambda out, name: plot_sweep(
            summarise_sweep(out.runs, "T"), "T", title=f"Fig. 3 left: T ({name})"
        ),
        "convergence": lambda out, name: plot_convergence(
            out.runs, "T", title=f"Fig. 3 right: convergence ({name})"
        ),
    },
}


def study_figures(study: str, out: StudyOutput, name: str) -> list[tuple[Figure, str]]:
    """Every figure the registry lists for ``study``, as ``(figure, file suffix)``."""
    makers = FIGURES.get(study, {})
    return [(makers[suffix](out, name), suffix) for suffix in get_study(study).figures]
