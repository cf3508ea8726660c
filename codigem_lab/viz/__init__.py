"""Figures and widgets for the notebooks: plain data in, a matplotlib Figure (or a panel) out."""

from codigem_lab.viz.plots import (
    ForwardNoisingFigure,
    NoisingView,
    figure_png,
    new_figure,
    plot_deviation_effects,
    plot_elbo_terms,
    plot_forward_noising,
    plot_learning_curves,
    plot_long_tail,
    plot_metric_bars,
    plot_protocol_grids,
    plot_schedules,
    plot_sparsity,
    protocol_role_grid,
)
from codigem_lab.viz.widgets import (
    ForwardNoisingPanel,
    NoisingState,
    forward_noising_panel,
    forward_noising_state,
    kl_to_standard_normal,
    noising_readouts,
)

__all__ = [
    "ForwardNoisingFigure",
    "ForwardNoisingPanel",
    "NoisingState",
    "NoisingView",
    "figure_png",
    "forward_noising_panel",
    "forward_noising_state",
    "kl_to_standard_normal",
    "new_figure",
    "noising_readouts",
    "plot_deviation_effects",
    "plot_elbo_terms",
    "plot_forward_noising",
    "plot_learning_curves",
    "plot_long_tail",
    "plot_metric_bars",
    "plot_protocol_grids",
    "plot_schedules",
    "plot_sparsity",
    "protocol_role_grid",
]
