"""The figures each registered study saves beside its table: ``FIGURES[study][suffix](output,
name)`` draws one from a :class:`~codigem_lab.experiments.registry.StudyOutput`."""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

from codigem_lab.experiments.registry import StudyOutput, get_study
from codigem_lab.viz.studies import plot_beta_sweep, plot_convergence, plot_T_sweep

FIGURES: dict[str, dict[str, Callable[[StudyOutput, str], Figure]]] = {
    "fig2": {"beta": lambda out, name: plot_beta_sweep(out.runs, title=f"Fig. 2: beta ({name})")},
    "fig3": {
        "T": lambda out, name: plot_T_sweep(out.runs, title=f"Fig. 3 left: T ({name})"),
        "convergence": lambda out, name: plot_convergence(
            out.runs, "T", title=f"Fig. 3 right: convergence ({name})"
        ),
    },
}


def study_figures(study: str, out: StudyOutput, name: str) -> list[tuple[Figure, str]]:
    """Every figure the registry lists for ``study``, as ``(figure, file suffix)``."""
    makers = FIGURES.get(study, {})
    return [(makers[suffix](out, name), suffix) for suffix in get_study(study).figures]
