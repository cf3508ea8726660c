"""The exercises of notebook 08_efficiency.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

from .exercise import Exercise, Mistake


def _flops_ratio(T_big: int, T_small: int, D: int) -> float:
    from codigem_lab.diffusion import CODIGEMConfig, n_flops_per_example

    f = lambda T: n_flops_per_example(CODIGEMConfig(n_items=D, T=T))  # noqa: E731
    return f(T_big) / f(T_small)


def _table5(model: str, column: str) -> float:
    from codigem_lab.experiments.paper import TABLE5

    return float(TABLE5.loc[model, column])


EXERCISES = (
    Exercise(
        "08.flops_ratio",
        "By the library's FLOP count (n_flops_per_example), how many times more matmul work per user "
        "is a training step at T = 15 than at T = 3, for D = 3,123 items and M = 200?",
        "number",
        lambda: _flops_ratio(15, 3, 3123),
        "T - 1 transition networks (each with a 2D output layer) plus the decoder (D outputs): 14 of the first and 1 decoder against 2 and 1.",
        "Count the networks at each T and note that a transition network's output layer is twice the decoder's.",
        (
            Mistake(
                lambda: 15 / 3,
                "15/3 counts networks as equal, but each transition network outputs 2D numbers (mean and log-variance), the decoder D.",
            ),
            Mistake(lambda: 14 / 2, "14/2 leaves out the decoder, which runs at every T."),
        ),
        rtol=1e-3,
    ),
    Exercise(
        "08.paper_total",
        "The paper's Table 5: CODIGEM trains 48.22 s and evaluates 46.67 s per epoch, for 18 epochs. "
        "What total time does the table report, in seconds?",
        "number",
        lambda: _table5("codigem", "total_s"),
        "total = epochs x (training + evaluation) seconds per epoch = 18 x 94.89.",
        "Each epoch trains and then evaluates.",
        (Mistake(lambda: 18 * 48.22, "The total includes the evaluation pass after every epoch."),),
        rtol=1e-4,
    ),
    Exercise(
        "08.paper_speedup",
        "By the paper's Table 5 totals, how many times longer than CODIGEM does Multi-VAE take?",
        "number",
        lambda: _table5("multvae", "total_s") / _table5("codigem", "total_s"),
        "15,243 s / 1,708 s: the 'about 9 times' of the paper, made by its epoch counts (150 against 18).",
        "Divide Multi-VAE's total time by CODIGEM's.",
        (
            Mistake(
                lambda: _table5("codigem", "total_s") / _table5("multvae", "total_s"),
                "Upside down: that is CODIGEM's time as a share of Multi-VAE's.",
            ),
        ),
        rtol=1e-3,
    ),
)
