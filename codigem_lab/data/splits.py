"""Evaluation protocols ``strong``, ``ratio``, ``temporal`` (docs/data.md) and the :class:`Split`
they produce: a CSR training matrix, an :class:`EvalSet` each for validation and test, the ids."""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from codigem_lab.errors import ConfigError, DataError

PROTOCOLS = ("strong", "ratio", "temporal")
#: The protocols (and published splits) whose evaluated users are the training users: their
#: fold-in rows are the training matrix (see :func:`per_user_split`).
PER_USER = ("ratio", "temporal", "published")
#: DiffRec's shipped temporal proportions (train, valid, test); its paper's text says 7:1:2.
TEMPORAL_RATIOS = (0.7, 0.2, 0.1)
#: ``strong``: the share of a held-out user's items that are targets, and the fewest items a user
#: needs to have any (Multi-VAE's 80/20 fold-in/target split).
TARGET_FRACTION = 0.2
MIN_ITEMS_FOR_TARGET = 5


@dataclass
class EvalSet:
    """One stage's held-out interactions: ``fold_in`` (input), ``mask`` (not ranked), ``target``;
    ``train_rows``: users' ``Split.train`` rows under :data:`PER_USER` protocols, else None."""

    fold_in: sp.csr_matrix
    target: sp.csr_matrix
    mask: sp.csr_matrix
    users: np.ndarray
    train_rows: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return self.fold_in.shape[0]


@dataclass
class Split:
    """A prepared dataset: training matrix, validation and test sets, ids and statistics."""

    protocol: str
    train: sp.csr_matrix
    valid: EvalSet
    test: EvalSet
    train_users: np.ndarray
    items: np.ndarray
    stats: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return self.train.shape[1]

    @property
    def n_train_users(self) -> int:
        return self.train.shape[0]

    def eval_set(self, which: str) -> EvalSet:
        """The validation (``'valid'``) or test (``'test'``) set."""
        if which not in ("valid", "test"):
            raise ConfigError(f"which must be 'valid' or 'test', got {which!r}")
        return self.valid if which == "valid" else self.test

    def summary(self) -> pd.DataFrame:
        """Users, interactions per part, as a small table."""
        rows = [
            ("train", self.train.shape[0], self.train.nnz),
            ("valid fold-in", self.valid.n_users, self.valid.fold_in.nnz),
            ("valid target", self.valid.n_users, self.valid.target.nnz),
            ("test fold-in", self.test.n_users, self.test.fold_in.nnz),
            ("test target", self.test.n_users, self.test.target.nnz),
        ]
        return pd.DataFrame(rows, columns=["part", "users", "interactions"]).set_index("part")

    def fingerprint(self) -> str:
        """A hash of the split's content (every matrix and id), independent of where it came
        from: the result cache keys runs by it. Computed once per split."""
        if "_fingerprint" not in self.__dict__:
            h = hashlib.sha1(self.protocol.encode())
            mats = [self.train]
            for es in (self.valid, self.test):
                mats += [es.fold_in, es.target, es.mask]
            for m in mats:
                h.update(np.asarray(m.shape, dtype=np.int64).tobytes())
                h.update(np.ascontiguousarray(m.indptr, dtype=np.int64).tobytes())
                h.update(np.ascontiguousarray(m.indices, dtype=np.int64).tobytes())
            for ids in (self.train_users, self.items, self.valid.users, self.test.users):
                h.update("\x1f".join(map(str, ids.tolist())).encode())
            self.__dict__["_fingerprint"] = h.hexdigest()[:16]
        return self.__dict__["_fingerprint"]


def _csr(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    data = np.ones(len(rows), dtype=np.float32)
    m = sp.csr_matrix((data, (rows, cols)), shape=shape, dtype=np.float32)
    m.sum_duplicates()
    m.data[:] = 1.0
    m.sort_indices()
    return m


def id_codes(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct users and items, and each row's user and item position among them."""
    user, item = df["user"], df["item"]
    users, items = np.sort(user.unique()), np.sort(item.unique())
    return users, items, pd.Index(users).get_indexer(user), pd.Index(items).get_indexer(item)


def rank_within_user(user_codes: np.ndarray, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's rank 0..n_u-1 among its user's rows, ordered by ``keys`` (the last one first,
    as in ``np.lexsort``: random numbers, or time then file order), and its user's count n_u."""
    order = np.lexsort((*keys, user_codes))
    counts = np.bincount(user_codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(user_codes), dtype=np.int64)
    rank[order] = np.arange(len(user_codes)) - np.repeat(starts, counts)
    return rank, counts[user_codes]


def _n_heldout(value: int | float, n_users: int) -> int:
    if isinstance(value, float) and 0 < value < 1:
        n = int(round(value * n_users))
    elif float(value).is_integer() and value >= 1:
        n = int(value)
    else:
        raise ConfigError(
            f"n_heldout must be a fraction in (0, 1) or a user count >= 1, got {value!r}"
        )
    if 2 * n >= n_users:
        raise ConfigError(
            f"holding out {n} validation and {n} test users leaves no training users "
            f"(only {n_users} users); use a smaller --heldout"
        )
    return max(n, 1)


def strong_split(df: pd.DataFrame, seed: int = 0, n_heldout: int | float = 0.1) -> Split:
    """Multi-VAE strong generalisation: ``n_heldout`` (count or fraction) validation and as many
    test users, 80/20 fold-in/target for each."""
    rng = np.random.default_rng(seed)
    users = np.sort(df["user"].unique())
    n = _n_heldout(n_heldout, len(users))
    perm = users[rng.permutation(len(users))]
    train_users = np.sort(perm[: len(users) - 2 * n])
    valid_users = np.sort(perm[len(users) - 2 * n : len(users) - n])
    test_users = np.sort(perm[len(users) - n :])

    # Work on the two id columns only: copying whole row subsets of large data costs much memory.
    user, item = df["user"].to_numpy(), df["item"].to_numpy()
    train_rows = pd.Index(train_users).get_indexer(user)
    in_train = train_rows >= 0
    items = np.sort(df["item"][in_train].unique())
    item_index = pd.Index(items)
    train = _csr(
        train_rows[in_train],
        item_index.get_indexer(item[in_train]),
        (len(train_users), len(items)),
    )
    del train_rows, in_train

    def heldout(part_users: np.ndarray) -> EvalSet:
        rows = pd.Index(part_users).get_indexer(user)
        in_part = np.flatnonzero(rows >= 0)
        cols = item_index.get_indexer(item[in_part])
        seen = cols >= 0  # items unseen in training are dropped
        rows, cols = rows[in_part[seen]], cols[seen]
        rank, n_u = rank_within_user(rows, rng.random(len(rows)))
        n_target = np.where(n_u >= MIN_ITEMS_FOR_TARGET, (TARGET_FRACTION * n_u).astype(int), 0)
        is_target = rank < n_target
        shape = (len(part_users), len(items))
        fold_in = _csr(rows[~is_target], cols[~is_target], shape)
        return EvalSet(
            fold_in=fold_in,
            target=_csr(rows[is_target], cols[is_target], shape),
            mask=fold_in,
            users=part_users,
        )

    valid = heldout(valid_users)
    test = heldout(test_users)
    return Split(
        protocol="strong",
        train=train,
        valid=valid,
        test=test,
        train_users=train_users,
        items=items,
        meta={"seed": seed, "n_heldout": n, "target_fraction": TARGET_FRACTION},
    )


def ratio_split(
    df: pd.DataFrame, seed: int = 0, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> Split:
    """Per-user random 8:1:1 split; validation and test get ``floor(ratio * n)`` items, at least
    one while the user keeps a training item (the usual toolkit rule; the paper names none)."""
    _check_ratios(ratios)
    rng = np.random.default_rng(seed)
    users, items, rows, cols = id_codes(df)
    rank, n_u = rank_within_user(rows, rng.random(len(rows)))
    n_valid = np.floor(ratios[1] * n_u).astype(int)
    n_test = np.floor(ratios[2] * n_u).astype(int)
    # A part with a positive but sub-one share gets one item, while train keeps more than one.
    bump_t = (n_test == 0) & (ratios[2] * n_u > 0) & (n_u - n_valid - n_test > 1)
    n_test = n_test + bump_t
    bump_v = (n_valid == 0) & (ratios[1] * n_u > 0) & (n_u - n_valid - n_test > 1)
    n_valid = n_valid + bump_v
    n_train = n_u - n_valid - n_test
    part = np.where(rank < n_train, 0, np.where(rank < n_train + n_valid, 1, 2))
    return per_user_split(
        "ratio", rows, cols, part, users, items, {"seed": seed, "ratios": list(ratios)}
    )


def _check_ratios(ratios: tuple[float, ...]) -> None:
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise ConfigError(
            f"--ratios must be three non-negative shares summing to 1 (train,valid,test), "
            f"got {tuple(ratios)}"
        )


def temporal_split(df: pd.DataFrame, ratios: tuple[float, ...] = TEMPORAL_RATIOS) -> Split:
    """Each user's oldest ``ratios[0]`` of interactions train, the next ``ratios[1]`` validate,
    the newest test (``round(ratio n)``, at least one while one trains; ties keep file order)."""
    if "timestamp" not in df:
        raise DataError(
            "the temporal protocol orders each user's interactions by time, but this data has no "
            "timestamps (the shared ML-1M csv and the synthetic dataset have none). Use a dataset "
            "with them (ml-100k, ml-latest-small, ml-1m or ml-20m from the registry) or "
            "--protocol strong / ratio"
        )
    ratios = tuple(float(r) for r in ratios)
    _check_ratios(ratios)
    users, items, rows, cols = id_codes(df)
    rank, n_u = rank_within_user(rows, np.arange(len(df)), df["timestamp"].to_numpy())
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


def per_user_split(
    protocol: str,
    rows: np.ndarray,
    cols: np.ndarray,
    part: np.ndarray,
    users: np.ndarray,
    items: np.ndarray,
    meta: dict,
) -> Split:
    """A Split from each interaction's part (0 train, 1 valid, 2 test) over all users: validation
    masks the training items, the test masks training and validation items."""
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


def make_split(df: pd.DataFrame, protocol: str = "strong", seed: int = 0, **kwargs) -> Split:
    """Split preprocessed interactions (columns ``user``, ``item``[, ``timestamp``]) under a named
    protocol (``kwargs``: that protocol's options, e.g. ``n_heldout`` or ``ratios``)."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of {list(PROTOCOLS)}")
    if len(df) == 0:
        raise DataError("no interactions to split")
    fn = {"strong": strong_split, "ratio": ratio_split, "temporal": temporal_split}[protocol]
    params = set(inspect.signature(fn).parameters)
    allowed = params - {"df", "seed"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        flags = ", ".join("--" + k.replace("n_", "").replace("_", "-") for k in unknown)
        raise ConfigError(
            f"option(s) {unknown} ({flags}) do not apply to the {protocol!r} protocol; "
            f"it takes {sorted(allowed)}"
        )
    if "seed" in params:  # the temporal split draws nothing
        kwargs["seed"] = seed
    return fn(df, **kwargs)
