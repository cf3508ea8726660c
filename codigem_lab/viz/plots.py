"""What every figure uses: a Figure built without ``pyplot`` (no global figure list, so no leaks
and no double display in Jupyter), and axis styling."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DEFAULT_DPI = 90


def new_figure(width: float, height: float, dpi: int = DEFAULT_DPI) -> Figure:
    """A Figure with an Agg canvas attached (renderable to PNG without pyplot)."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def style_axes(
    ax, xlabel: str = "", ylabel: str = "", title: str = "", grid: bool = False,
    legend: dict | None = None, title_size: float | None = None,
) -> None:  # fmt: skip
    """Axis labels, title, a light grid and a legend (``legend``: its keyword arguments): what
    nearly every figure here sets on each of its axes."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, **({} if title_size is None else {"fontsize": title_size}))
    if grid:
        ax.grid(alpha=0.3)
    if legend is not None:
        ax.legend(**legend)
