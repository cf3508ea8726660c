"""Figures and widgets for the notebooks: plain data in, a matplotlib Figure (or a panel) out."""

from codigem_lab.viz.plots import (
    ForwardNoisingFigure,
    figure_png,
    plot_check_grid,
    plot_deviation_effects,
    plot_elbo_terms,
    plot_forward_noising,
    plot_gradient_flow,
    plot_learning_curves,
    plot_long_tail,
    plot_metric_bars,
    plot_protocol_grids,
    plot_reverse_process,
    plot_schedules,
    plot_sparsity,
    protocol_role_grid,
)
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
    "plot_deviation_effects",
    "plot_elbo_terms",
    "plot_forward_noising",
    "plot_check_grid",
    "plot_gradient_flow",
    "plot_learning_curves",
    "plot_long_tail",
    "plot_metric_bars",
    "plot_protocol_grids",
    "plot_reverse_process",
    "plot_schedules",
    "plot_sparsity",
    "protocol_role_grid",
]
