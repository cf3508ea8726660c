"""Small looks into the data for the notebooks: a user to show, a click vector, the 0/1 matrix
of an interactions table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


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


def click_vector(matrix, row: int) -> np.ndarray:
    """One user's 0/1 interaction vector over all items (a dense 1-D float array)."""
    return np.asarray(matrix[row].toarray(), dtype=np.float64).reshape(-1)
