"""The exercises of notebook 05_baselines.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

from .answers import recall
from .exercise import Exercise, Mistake


def _pop_share(split, n: int) -> float:
    import numpy as np

    counts = np.asarray(split.train.sum(axis=0)).ravel()
    return float(np.sort(counts)[::-1][:n].sum() / counts.sum())


EXERCISES = (
    Exercise(
        "05.recall_targets",
        "A user has 150 targets and 30 of them are in the top 50. What is their Recall@50 under the "
        "`targets` definition?",
        "number",
        lambda: recall(150, 30, 50, "targets"),
        "`targets` divides the hits by #targets: 30 / 150.",
        "Which denominator does `targets` use?",
        (
            Mistake(
                lambda: recall(150, 30, 50, "minK"),
                "30/50 is the `minK` definition (divide by min(K, #targets)).",
            ),
        ),
    ),
    Exercise(
        "05.baseline_protocol",
        "Under which of our two protocols do the paper's baseline rows (Pop, Item-KNN) match our "
        "numbers? Answer 'strong' or 'ratio'.",
        "choice",
        lambda: "ratio",
        "Under ratio with `targets` Recall our Pop and Item-KNN come within 0.003 of the paper's rows on every metric (full mode, 3 seeds).",
        "Compare the paper's Pop row with ours in the table of section 3.",
        (
            Mistake(
                lambda: "strong",
                "Under strong our Pop has R@20 about 0.19 in full mode, against the paper's 0.129.",
            ),
        ),
        choices=("strong", "ratio"),
    ),
    Exercise(
        "05.pop_share",
        "Pop recommends the items with the most training users. What share of all training "
        "interactions go to the 10 most popular items of the split loaded above?",
        "number",
        lambda split: _pop_share(split, 10),
        "The top-10 items' interaction counts over all interactions: the head of the long tail (notebook 01).",
        "Count each item's training users (column sums of split.train), take the 10 largest, divide by the total.",
        (
            Mistake(
                lambda split: 10 / split.n_items,
                "That is the share of items, not of interactions; popular items hold far more.",
            ),
        ),
        context=("split",),
        rtol=1e-6,
    ),
)
