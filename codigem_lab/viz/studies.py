"""Figures of the paper's studies (Figs. 2-3): metric against a hyper-parameter with a ± std band,
and convergence curves. Each function takes data and returns a matplotlib Figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_sweep(
    summary: pd.DataFrame,
    param: str,
    metrics=("R@50", "N@50"),
    logx: bool = False,
    title: str = "",
    secondary: pd.Series | pd.DataFrame | None = None,
    secondary_label: str = "",
) -> Figure:
    """Mean ± std (shaded) of each metric against ``param``; optional second axis with one grey
    line per column of ``secondary`` (e.g. alpha_bar_1 and alpha_bar_T)."""
    fig = Figure(figsize=(6, 3.6), dpi=100)
    ax = fig.subplots()
    x = np.asarray(summary.index, dtype=float)
    for m in metrics:
        mean, std = summary[f"{m}_mean"].to_numpy(), np.nan_to_num(summary[f"{m}_std"].to_numpy())
        ax.plot(x, mean, marker="o", label=m)
        ax.fill_between(x, mean - std, mean + std, alpha=0.25)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel("test metric")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if secondary is not None:
        ax2 = ax.twinx()
        frame = (
            secondary.to_frame(secondary_label) if isinstance(secondary, pd.Series) else secondary
        )
        for col, ls in zip(frame.columns, ("--", ":", "-.")):
            (line,) = ax2.plot(
                x, frame[col].reindex(summary.index).to_numpy(), color="grey", ls=ls, label=col
            )
            handles.append(line)
            labels.append(str(col))
        ax2.set_ylabel(secondary_label, color="grey")
    ax.legend(handles, labels, loc="best")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def curve_band(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per epoch over runs of different lengths (a run counts while it lasts)."""
    n = max(len(c) for c in curves)
    padded = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        padded[i, : len(c)] = c
    return np.nanmean(padded, axis=0), np.nan_to_num(np.nanstd(padded, axis=0))


def plot_convergence(
    runs: pd.DataFrame, param: str = "T", metric: str = "R@50", title: str = ""
) -> Figure:
    """Validation ``metric`` per epoch for each value of ``param`` (mean over seeds, ± std band)."""
    fig = Figure(figsize=(6, 3.6), dpi=100)
    ax = fig.subplots()
    for value, group in runs.groupby(param):
        curves = [h[metric].to_numpy() for h in group["history"] if h is not None]
        if not curves:
            continue
        mean, std = curve_band(curves)
        epochs = np.arange(1, len(mean) + 1)
        ax.plot(epochs, mean, label=f"{param}={value:g}")
        ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, stem) -> list:
    """Save as PNG and SVG beside each other; returns the paths."""
    from pathlib import Path

    from codigem_lab._io import atomic_path

    paths = []
    for ext in ("png", "svg"):
        path = Path(f"{stem}.{ext}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext)
        paths.append(path)
    return paths
