"""The temporal protocol and published splits: parts by time or by file, evaluated over all users."""

import numpy as np
import pandas as pd
import pytest

from codigem_lab.data.published import published_split
from codigem_lab.data.splits import temporal_split
from codigem_lab.errors import ConfigError, DataError

from .conftest import shared_file


def _timed(n_users=30, n_items=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=rng.integers(3, 25), replace=False)
        for i in items:
            rows.append((u, int(i), 4.0, int(rng.integers(0, 10_000))))
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def _times(df, split, part_matrix):
    """{user row: set of timestamps} of the interactions in ``part_matrix``."""
    ts = {
        (u, i): t
        for u, i, t in zip(
            pd.Index(split.train_users).get_indexer(df["user"]),
            pd.Index(split.items).get_indexer(df["item"]),
            df["timestamp"],
        )
    }
    out: dict[int, list[int]] = {}
    coo = part_matrix.tocoo()
    for u, i in zip(coo.row, coo.col):
        out.setdefault(int(u), []).append(ts[(int(u), int(i))])
    return out


def test_no_test_item_is_older_than_any_training_item():
    df = _timed()
    s = temporal_split(df, (0.6, 0.2, 0.2))
    train, valid, test = (_times(df, s, m) for m in (s.train, s.valid.target, s.test.target))
    for u in train:
        assert max(train[u]) <= min(test.get(u, [np.inf]))
        assert max(train[u]) <= min(valid.get(u, [np.inf]))
        assert max(valid.get(u, [-np.inf])) <= min(test.get(u, [np.inf]))
    assert s.train.nnz + s.valid.target.nnz + s.test.target.nnz == len(df)


def test_every_user_is_evaluated_with_earlier_items_masked():
    s = temporal_split(_timed())
    assert s.valid.n_users == s.test.n_users == s.n_train_users
    assert (s.valid.mask != s.train).nnz == 0
    assert (s.test.mask != (s.train + s.valid.target)).nnz == 0
    assert (s.test.target.multiply(s.test.mask)).nnz == 0
    # every user keeps a training item and gets a test item
    assert (np.diff(s.train.indptr) > 0).all() and (np.diff(s.test.target.indptr) > 0).all()


def test_ratios_are_the_shares_of_each_users_history():
    df = _timed(n_users=1, seed=3)
    n = len(df)
    s = temporal_split(df, (0.7, 0.2, 0.1))
    assert s.test.target.nnz == max(1, round(0.1 * n))
    assert s.valid.target.nnz == max(1, round(0.2 * n))


def test_data_without_timestamps_is_refused_with_the_fix():
    with pytest.raises(DataError, match="no timestamps.*ml-100k"):
        temporal_split(_timed().drop(columns="timestamp"))
    with pytest.raises(ConfigError, match="summing to 1"):
        temporal_split(_timed(), (0.5, 0.2, 0.2))


def test_published_split_reads_npy_and_text_alike(tmp_path):
    rng = np.random.default_rng(1)
    pairs = np.array([(u, i) for u in range(6) for i in rng.choice(9, 5, replace=False)])
    part = np.tile([0, 0, 0, 1, 2], 6)
    npy, txt = tmp_path / "npy", tmp_path / "txt"
    npy.mkdir(), txt.mkdir()
    for k, name in enumerate(("train", "valid", "test")):
        np.save(npy / f"{name}_list.npy", pairs[part == k].astype(np.int64))
        pd.DataFrame(pairs[part == k], columns=["user", "item"]).to_csv(
            txt / f"{name}.csv", index=False
        )
    a, b = published_split(npy), published_split(txt)
    for s in (a, b):
        assert (s.train.nnz, s.valid.target.nnz, s.test.target.nnz) == (18, 6, 6)
        assert (s.test.mask != (s.train + s.valid.target)).nnz == 0
    assert (a.train != b.train).nnz == 0 and (a.test.target != b.test.target).nnz == 0


def test_published_split_errors_name_the_fix(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        published_split(tmp_path / "missing")
    np.save(tmp_path / "train_list.npy", np.array([[0, 1]]))
    with pytest.raises(DataError, match="no valid file.*valid_list.npy"):
        published_split(tmp_path)
    np.save(tmp_path / "valid_list.npy", np.array([[0, 1]]))
    np.save(tmp_path / "test_list.npy", np.array([[0, 2]]))
    with pytest.raises(DataError, match="more than once"):
        published_split(tmp_path)


@pytest.mark.shared_data
def test_diffrecs_published_ml1m_split_keeps_its_counts():
    folder = shared_file("diffrec-ml-1m_clean")
    s = published_split(folder)
    assert s.train.shape == (5949, 2810)
    assert (s.train.nnz, s.valid.target.nnz, s.test.target.nnz) == (403277, 110722, 57532)
    assert list(s.items[:3]) == [0, 1, 2]  # DiffRec's ids keep their numbers
