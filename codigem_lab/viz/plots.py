"""What every figure uses: a pyplot-free Figure, axis styling, small palette PNGs.

Figures are built with :class:`matplotlib.figure.Figure` directly, never through ``pyplot``, so
nothing is registered in pyplot's global figure list (no leaks, no double display in Jupyter:
a notebook shows a returned Figure once). Sizes and dpi are modest so the PNGs embedded in
committed notebooks stay small.
"""

from __future__ import annotations

import io

import numpy as np
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


def figure_png(fig: Figure, dpi: int | None = None, tight: bool = True) -> bytes:
    """The figure as a small PNG: rendered with Agg, then reduced to a 256-colour palette.

    Plots need few colours; the palette PNG is 2-3 times smaller than the RGBA one (this is what
    keeps the committed notebooks small). ``tight`` crops empty margins like Jupyter does.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, bbox_inches="tight" if tight else None)
    buf.seek(0)
    from PIL import Image

    with Image.open(buf) as im:
        return rgb_to_png(np.asarray(im.convert("RGB")))


def rgb_to_png(rgb: np.ndarray) -> bytes:
    """Encode an RGB(A) pixel array as a palette PNG (fast octree quantisation, ~10 ms)."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    out = io.BytesIO()
    img.quantize(256, method=Image.Quantize.FASTOCTREE).save(out, format="png", compress_level=6)
    return out.getvalue()
