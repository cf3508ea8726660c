"""Small looks into the data for the notebooks: a user to show, a click vector, a toy matrix,
and the size of the data after each preprocessing step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from codigem_lab.data.spec import DataSpec


def users_with_targets(split, k: int = 3, min_seen: int = 10, which: str = "test") -> np.ndarray:
    """The first ``k`` held-out rows with at least ``min_seen`` fold-in items and some targets."""
    es = split.eval_set(which)
    seen = np.diff(es.fold_in.indptr)
    tgt = np.diff(es.target.indptr)
    return np.flatnonzero((seen >= min_seen) & (tgt > 0))[:k]


def typical_user(matrix, quantile: float = 0.5) -> int:
    """Row index of a user whose interaction count is at the given quantile (median by default)."""
    counts = np.diff(matrix.indptr)
    target = np.quantile(counts, quantile)
    return int(np.argmin(np.abs(counts - target)))


def interaction_matrix(df: pd.DataFrame) -> sp.csr_matrix:
    """The 0/1 user x item CSR matrix of an interactions table (rows/columns in sorted id order)."""
    users, u = np.unique(df["user"].to_numpy(), return_inverse=True)
    items, i = np.unique(df["item"].to_numpy(), return_inverse=True)
    m = sp.csr_matrix((np.ones(len(df), dtype=np.float32), (u, i)), shape=(len(users), len(items)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def toy_interactions(
    n_users: int = 16, n_items: int = 24, n_interactions: int = 150, seed: int = 3
) -> pd.DataFrame:
    """A tiny synthetic interaction table for drawing the protocols cell by cell."""
    from codigem_lab.data.synthetic import generate

    return generate(
        n_users=n_users, n_items=n_items, n_interactions=n_interactions, n_groups=2, seed=seed
    )


def click_vector(matrix, row: int) -> np.ndarray:
    """One user's 0/1 interaction vector over all items (a dense 1-D float array)."""
    return np.asarray(matrix[row].toarray(), dtype=np.float64).reshape(-1)


def preprocessing_steps(data: DataSpec) -> pd.DataFrame:
    """Users, items and interactions after each preprocessing step (raw, threshold, k-core)."""
    from codigem_lab.data import get_preset, load_ratings, table1_stats
    from codigem_lab.data.preprocess import k_core, to_implicit
    from codigem_lab.data.synthetic import generate

    prep = get_preset(data.preset or "none")
    raw = (
        generate()
        if data.is_synthetic
        else load_ratings(data.dataset, data.source, cache=data.cache)
    )
    thresholded = to_implicit(raw, prep)
    cored = k_core(thresholded, prep.user_core, prep.item_core, prep.iterative)
    if prep.min_rating is None:
        thr = "no rating threshold"
    else:
        thr = f"rating {'>' if prep.strict else '>='} {prep.min_rating:g}"
    core = (
        f"{'iterative ' if prep.iterative else ''}core: users >= {prep.user_core}, "
        f"items >= {prep.item_core}"
        if prep.user_core or prep.item_core
        else "no k-core"
    )
    steps = {"raw ratings": raw, thr: thresholded, core: cored}
    table = pd.DataFrame({k: table1_stats(v) for k, v in steps.items()}).T
    return table.astype({"users": int, "items": int, "interactions": int})
