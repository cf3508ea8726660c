"""The figures each registered study saves beside its table, keyed by the registry's names.

``FIGURES[study][suffix](output, title_data)`` draws one figure from a study's
:class:`~codigem_lab.experiments.registry.StudyOutput`; :func:`study_figures` draws them all.
A test checks that every figure a study lists in the registry has a maker here.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

from codigem_lab.experiments.registry import StudyOutput, get_study


def _fig2_beta(out: StudyOutput, name: str) -> Figure:
    from codigem_lab.viz.studies import plot_beta_sweep

    return plot_beta_sweep(out.runs, title=f"Fig. 2: beta ({name})")


def _fig3_T(out: StudyOutput, name: str) -> Figure:
    from codigem_lab.viz.studies import plot_T_sweep

    return plot_T_sweep(out.runs, title=f"Fig. 3 left: T ({name})")


def _fig3_convergence(out: StudyOutput, name: str) -> Figure:
    from codigem_lab.viz.studies import plot_convergence

    return plot_convergence(out.runs, "T", title=f"Fig. 3 right: convergence ({name})")


FIGURES: dict[str, dict[str, Callable[[StudyOutput, str], Figure]]] = {
    "fig2": {"beta": _fig2_beta},
    "fig3": {"T": _fig3_T, "convergence": _fig3_convergence},
}


def study_figures(study: str, out: StudyOutput, name: str) -> list[tuple[Figure, str]]:
    """Every figure the registry lists for ``study``, as ``(figure, file suffix)``."""
    makers = FIGURES.get(study, {})
    return [(makers[suffix](out, name), suffix) for suffix in get_study(study).figures]
