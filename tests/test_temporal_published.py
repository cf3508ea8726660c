"""The temporal protocol and published splits: parts by time or by file, evaluated over all users,
reached through ``make_split``, :class:`DataSpec`, the split cache and the command line."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from codigem_lab.cli import main
from codigem_lab.data import load_split, make_split, save_split
from codigem_lab.data.published import published_split
from codigem_lab.data.spec import DataSpec
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


def _published_folder(tmp_path):
    rng = np.random.default_rng(2)
    pairs = np.array([(u, i) for u in range(8) for i in rng.choice(12, 5, replace=False)])
    part = np.tile([0, 0, 0, 1, 2], 8)
    folder = tmp_path / "split"
    folder.mkdir()
    for k, name in enumerate(("train", "valid", "test")):
        np.save(folder / f"{name}_list.npy", pairs[part == k].astype(np.int64))
    return folder


@pytest.mark.parametrize("protocol", ["temporal", "published"])
def test_per_user_splits_round_trip_through_the_split_cache(tmp_path, protocol):
    if protocol == "temporal":
        s = make_split(_timed(), "temporal", seed=3, ratios=(0.6, 0.2, 0.2))
    else:
        s = published_split(_published_folder(tmp_path))
    save_split(s, tmp_path / "s.npz")
    t = load_split(tmp_path / "s.npz")
    assert t.protocol == protocol and t.fingerprint() == s.fingerprint()
    # every user is a training user: the fold-in rows are the training matrix itself
    assert t.valid.fold_in is t.train and t.test.fold_in is t.train and t.valid.mask is t.train
    assert (t.test.mask != (t.train + t.valid.target)).nnz == 0
    assert (t.test.train_rows == np.arange(t.n_train_users)).all()


def test_make_split_takes_the_temporal_protocol_and_its_ratios_only():
    df = _timed()
    assert make_split(df, "temporal", seed=7).fingerprint() == temporal_split(df).fingerprint()
    with pytest.raises(ConfigError, match="--heldout.*do not apply to the 'temporal'"):
        make_split(df, "temporal", n_heldout=0.1)
    with pytest.raises(ConfigError, match="--ratios.*do not apply to the 'strong'"):
        make_split(df, "strong", ratios=(0.7, 0.2, 0.1))


def test_dataspec_refuses_temporal_without_timestamps_and_misplaced_options():
    with pytest.raises(DataError, match="no timestamps.*ml-100k, ml-latest-small, ml-1m"):
        DataSpec("synthetic", protocol="temporal").load()
    with pytest.raises(ConfigError, match="--ratios applies to --protocol ratio or temporal"):
        DataSpec(ratios=(0.7, 0.2, 0.1))
    spec = DataSpec(protocol="temporal", ratios=[0.6, 0.2, 0.2])
    assert spec.ratios == (0.6, 0.2, 0.2) and hash(spec)  # a list from JSON becomes a tuple
    assert spec.to_argv() == ["--protocol", "temporal", "--ratios", "0.6,0.2,0.2"]


def test_ratios_flag_reads_three_shares(capsys):
    from codigem_lab.cli import build_parser

    args = build_parser().parse_args(["train", "--protocol", "temporal", "--ratios", "0.7,0.1,0.2"])
    assert DataSpec.from_args(args).ratios == (0.7, 0.1, 0.2)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--ratios", "0.7,0.3"])
    assert "three comma-separated shares" in capsys.readouterr().err


def test_published_dataset_through_dataspec_and_its_cache(tmp_path):
    folder = _published_folder(tmp_path)
    spec = DataSpec("published", source=str(folder), cache=str(tmp_path / "cache"))
    assert spec.protocol == "published" and spec.name == "split" and spec.titles() is None
    first = spec.load()
    again = DataSpec("published", source=str(folder), cache=str(tmp_path / "cache"), seed=4).load()
    assert first.meta["cache_path"] == again.meta["cache_path"]  # no seed: one split, one entry
    assert spec.fingerprint() == published_split(folder).fingerprint()
    assert first.stats["interactions"] == 40 == len(spec.interactions())
    # a file rewritten in the folder is other data, not a stale cache entry
    np.save(folder / "test_list.npy", np.array([[0, 11]], dtype=np.int64))
    assert spec.load().meta["cache_path"] != first.meta["cache_path"]


def test_published_dataset_errors_say_what_to_pass(tmp_path):
    folder = _published_folder(tmp_path)
    with pytest.raises(ConfigError, match="needs the split's folder: pass --source"):
        DataSpec("published").load()
    with pytest.raises(DataError, match="is not a folder"):
        DataSpec("published", source=str(tmp_path / "missing")).load()
    with pytest.raises(ConfigError, match="a published split brings its own"):
        DataSpec("published", source=str(folder), protocol="ratio")
    with pytest.raises(ConfigError, match="protocol must be"):
        DataSpec("ml-100k", protocol="published")
    with pytest.raises(ConfigError, match=r"read as it is.*\['min_rating', 'preset'\]"):
        DataSpec("published", source=str(folder), preset="paper-ml1m", min_rating=4.0).load()


@pytest.fixture
def ml100k_cache(tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(shared_file("ml-100k"), cache / "ml-100k")
    return cache


@pytest.mark.shared_data
def test_temporal_ml100k_through_dataspec_never_tests_on_the_past(ml100k_cache):
    spec = DataSpec("ml-100k", protocol="temporal", cache=str(ml100k_cache))
    s = spec.load()
    assert s.protocol == "temporal" and s.meta["ratios"] == [0.7, 0.2, 0.1]
    raw = pd.read_csv(shared_file("ml-100k", "u.data"), sep="\t", names=["u", "i", "r", "t"])
    t = pd.Series(raw["t"].to_numpy(), index=pd.MultiIndex.from_arrays([raw["u"], raw["i"]]))

    def times(m):
        coo = m.tocoo()
        key = pd.MultiIndex.from_arrays([s.train_users[coo.row], s.items[coo.col]])
        return pd.Series(t.loc[key].to_numpy()).groupby(coo.row)

    newest_train, oldest_test = times(s.train).max(), times(s.test.target).min()
    assert (newest_train.reindex(oldest_test.index) <= oldest_test).all()
    assert len(oldest_test) == s.n_train_users  # every user is tested
    assert s.train.nnz + s.valid.target.nnz + s.test.target.nnz == 100_000
    cached = spec.prepare()  # the second load reads the cache entry
    assert cached.fingerprint() == s.fingerprint() and cached.valid.fold_in is cached.train


@pytest.mark.shared_data
def test_cli_trains_ease_under_the_temporal_protocol(ml100k_cache, monkeypatch, capsys):
    monkeypatch.setenv("CODIGEM_LAB_DATA", str(ml100k_cache))
    argv = ["train", "--dataset", "ml-100k", "--protocol", "temporal", "--model", "ease"]
    assert main([*argv, "--json", "--device", "cpu", "--recall-definition", "targets"]) == 0
    out = capsys.readouterr().out
    assert "hits / #targets" in out and 0 < json.loads(out.splitlines()[-1])["R@20"] < 1


@pytest.mark.shared_data
def test_cli_trains_pop_on_diffrecs_published_split(capsys):
    folder = str(shared_file("diffrec-ml-1m_clean"))
    argv = ["train", "--dataset", "published", "--source", folder, "--model", "pop", "--json"]
    assert main([*argv, "--device", "cpu"]) == 0
    assert 0 < json.loads(capsys.readouterr().out.splitlines()[-1])["R@20"] < 1
    assert main(["data", "stats", "--dataset", "published", "--source", folder, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (stats["users"], stats["items"], stats["interactions"]) == (5949, 2810, 571531)
