"""Figures and widgets for the notebooks: plain data in, a matplotlib Figure (or a panel) out."""

from codigem_lab.viz.plots import ForwardNoisingFigure, figure_png, plot_forward_noising
from codigem_lab.viz.widgets import (
    ForwardNoisingPanel,
    forward_noising_state,
    noising_readouts,
    noising_summary,
)

__all__ = [
    "ForwardNoisingFigure",
    "ForwardNoisingPanel",
    "figure_png",
    "forward_noising_state",
    "noising_readouts",
    "noising_summary",
    "plot_forward_noising",
]
