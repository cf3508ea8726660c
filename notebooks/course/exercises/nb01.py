"""The exercises of notebook 01_data.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

from .exercise import Exercise, Mistake


def _sparsity(users: int, items: int, interactions: int) -> float:
    """The library's definition (``data.table1_stats``, there in percent) as a fraction."""
    import pandas as pd

    from codigem_lab.data import table1_stats

    # a table with the stated numbers of users, items and interactions (no duplicate pairs)
    pairs = [(k % users, (k // users + k) % items) for k in range(interactions)]
    df = pd.DataFrame(pairs, columns=["user", "item"])
    assert not df.duplicated().any() and df["item"].nunique() == items
    return float(table1_stats(df)["sparsity"]) / 100.0


def _table1(dataset: str, column: str) -> int:
    from course.paper_table1 import TABLE1

    return int(TABLE1.loc[dataset, column])


EXERCISES = (
    Exercise(
        "01.sparsity",
        "A dataset has 500 users, 200 items and 4,000 interactions. What is its sparsity, as a "
        "fraction between 0 and 1?",
        "number",
        lambda: _sparsity(500, 200, 4000),
        "sparsity = 1 - interactions / (users x items) = 1 - 4000/100000: the share of empty cells.",
        "Sparsity is the share of the user x item matrix that is empty.",
        (
            Mistake(
                lambda: 4000 / (500 * 200),
                "That is the density, the share of filled cells; sparsity is the empty share, 1 minus it.",
            ),
            Mistake(
                lambda: 100 * (1 - 4000 / (500 * 200)), "That is a percentage; give the fraction."
            ),
        ),
    ),
    Exercise(
        "01.padding",
        "The paper's Table 1 prints 136,677 users for ML-20M. If that count includes a padding id, "
        "as ML-1M's one extra user suggests, how many real users does that ML-20M data hold?",
        "integer",
        lambda: _table1("ml-20m", "users") - 1,
        "A padding id counted as a user is one user too many: one fewer real user.",
        "Think about what the padding id does to a count.",
        (
            Mistake(
                lambda: _table1("ml-20m", "users") + 1,
                "The padding id is an extra count, so the real data has one user fewer, not one more.",
            ),
            Mistake(
                lambda: _table1("ml-20m", "users"),
                "That is the printed count, which includes the padding id.",
            ),
        ),
    ),
    Exercise(
        "01.ratio_test_users",
        "Under the ratio protocol, how many users are evaluated on the test set of the data loaded "
        "above?",
        "integer",
        lambda ratio: int(ratio.test.n_users),
        "Under ratio every user is a training user and is tested on their own held-out 10%.",
        "Under the ratio protocol, what is held out: users, or a share of each user's items?",
        (
            Mistake(
                lambda ratio: round(0.1 * ratio.n_train_users),
                "10% of each user's items are held out, not 10% of the users: every user is tested.",
            ),
            Mistake(
                lambda ratio: round(0.1 * ratio.test.n_users),
                "10% of each user's items are held out, not 10% of the users: every user is tested.",
            ),
        ),
        context=("ratio",),
    ),
)
