"""The temporal protocol: each user's history split by time, evaluated as DiffRec evaluates.

Each user's interactions are ordered by timestamp; the oldest share trains, the next validates,
the newest is the test (DiffRec's "temporal splitting": its shipped ML-1M files are about 7:2:1,
its paper's text says 7:1:2). Every user is evaluated, the training row is the model's input,
validation masks the training items and the test masks training and validation items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from codigem_lab.data.splits import EvalSet, Split, _csr
from codigem_lab.errors import ConfigError, DataError

#: DiffRec's shipped proportions (train, valid, test); its paper's text says 7:1:2.
TEMPORAL_RATIOS = (0.7, 0.2, 0.1)


def per_user_split(
    protocol: str,
    rows: np.ndarray,
    cols: np.ndarray,
    part: np.ndarray,
    users: np.ndarray,
    items: np.ndarray,
    meta: dict,
) -> Split:
    """A Split from each interaction's part (0 train, 1 valid, 2 test), evaluated over all users."""
    shape = (len(users), len(items))
    train = _csr(rows[part == 0], cols[part == 0], shape)
    valid_t = _csr(rows[part == 1], cols[part == 1], shape)
    test_t = _csr(rows[part == 2], cols[part == 2], shape)
    all_rows = np.arange(len(users))
    valid = EvalSet(fold_in=train, target=valid_t, mask=train, users=users, train_rows=all_rows)
    test = EvalSet(
        fold_in=train,
        target=test_t,
        mask=(train + valid_t).tocsr(),
        users=users,
        train_rows=all_rows,
    )
    return Split(protocol, train, valid, test, users, items, meta=meta)


def temporal_split(df: pd.DataFrame, ratios: tuple[float, ...] = TEMPORAL_RATIOS) -> Split:
    """Each user's oldest ``ratios[0]`` of interactions train, the next ``ratios[1]`` validate,
    the newest test (ties in time keep the file's order). Needs a ``timestamp`` column.

    A user with n interactions gets ``round(ratios[2] n)`` test and ``round(ratios[1] n)``
    validation items, at least one each while at least one item is left to train on.
    """
    if "timestamp" not in df:
        raise DataError(
            "the temporal protocol orders each user's interactions by time, but this data has no "
            "timestamps (the shared ML-1M csv and the synthetic dataset have none). Use a dataset "
            "with them (ml-100k, ml-latest-small, ml-1m or ml-20m from the registry) or "
            "--protocol strong / ratio"
        )
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise ConfigError(
            f"--ratios must be three non-negative shares summing to 1 (train,valid,test), "
            f"got {ratios}"
        )
    users = np.sort(df["user"].unique())
    items = np.sort(df["item"].unique())
    rows = pd.Index(users).get_indexer(df["user"])
    cols = pd.Index(items).get_indexer(df["item"])
    order = np.lexsort((np.arange(len(df)), df["timestamp"].to_numpy(), rows))
    counts = np.bincount(rows, minlength=len(users))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(df), dtype=np.int64)
    rank[order] = np.arange(len(df)) - np.repeat(starts, counts)
    n_u = counts[rows]
    n_test = np.rint(ratios[2] * n_u).astype(np.int64)
    n_test = np.where((n_test == 0) & (ratios[2] > 0) & (n_u > 1), 1, n_test)
    n_valid = np.rint(ratios[1] * n_u).astype(np.int64)
    n_valid = np.where((n_valid == 0) & (ratios[1] > 0) & (n_u - n_test > 1), 1, n_valid)
    n_valid = np.minimum(n_valid, np.maximum(n_u - n_test - 1, 0))
    n_train = n_u - n_valid - n_test
    part = np.where(rank < n_train, 0, np.where(rank < n_train + n_valid, 1, 2))
    return per_user_split(
        "temporal", rows, cols, part, users, items, {"ratios": list(ratios), "order": "time"}
    )
