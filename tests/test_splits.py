import numpy as np
import pandas as pd
import pytest

from codigem_lab.data import SyntheticConfig, load_split, make_split, prepare_split, save_split
from codigem_lab.data.synthetic import generate
from codigem_lab.errors import ConfigError


@pytest.fixture(scope="module")
def df():
    return generate(SyntheticConfig(n_users=400, n_items=300, n_interactions=12000, seed=3))


def test_strong_split_shapes_and_disjoint_users(df):
    s = make_split(df, "strong", seed=0)
    n_users = df["user"].nunique()
    assert s.valid.n_users == s.test.n_users == round(0.1 * n_users)
    assert s.n_train_users == n_users - 2 * s.valid.n_users
    all_users = np.concatenate([s.train_users, s.valid.users, s.test.users])
    assert len(np.unique(all_users)) == n_users
    # item ids come from training users only
    assert s.n_items == df[df["user"].isin(s.train_users)]["item"].nunique()
    # fold-in and target never overlap; about 20% are targets for users with >= 5 items
    assert s.valid.fold_in.multiply(s.valid.target).nnz == 0
    frac = s.valid.target.nnz / (s.valid.target.nnz + s.valid.fold_in.nnz)
    assert 0.12 < frac < 0.21
    assert s.valid.mask is s.valid.fold_in and s.valid.train_rows is None


def test_strong_small_users_keep_everything_as_fold_in():
    rows = [(u, i, 5.0) for u in range(1, 41) for i in range(1, 4 if u % 2 else 9)]
    s = make_split(
        pd.DataFrame(rows, columns=["user", "item", "rating"]), "strong", seed=1, n_heldout=10
    )
    n_target = np.diff(s.test.target.indptr)
    n_fold = np.diff(s.test.fold_in.indptr)
    assert np.all(n_target[n_fold + n_target < 5] == 0)
    assert np.all(n_target[n_fold + n_target >= 5] == 1)  # int(0.2 * 8) = 1


def test_ratio_split_is_8_1_1_per_user(df):
    s = make_split(df, "ratio", seed=0)
    total = s.train.nnz + s.valid.target.nnz + s.test.target.nnz
    assert total == len(df)
    assert 0.78 < s.train.nnz / total < 0.86  # floor(0.1 n) for valid/test
    # parts are disjoint, every user keeps train items, test mask holds train + valid
    assert s.train.multiply(s.valid.target).nnz == 0
    assert s.valid.target.multiply(s.test.target).nnz == 0
    assert (np.diff(s.train.indptr) > 0).all()
    assert s.test.mask.nnz == s.train.nnz + s.valid.target.nnz
    assert (s.valid.train_rows == np.arange(s.n_train_users)).all()


def test_seeded(df):
    a, b = make_split(df, "strong", seed=5), make_split(df, "strong", seed=5)
    c = make_split(df, "strong", seed=6)
    assert (a.test.users == b.test.users).all() and (a.test.target != b.test.target).nnz == 0
    assert not np.array_equal(a.test.users, c.test.users)


def test_bad_options(df):
    with pytest.raises(ConfigError, match="unknown protocol"):
        make_split(df, "leave-one-out")
    with pytest.raises(ConfigError, match="leaves no training users"):
        make_split(df, "strong", n_heldout=200)
    with pytest.raises(ConfigError, match="fraction"):
        make_split(df, "strong", n_heldout=-3)
    with pytest.raises(ConfigError, match="ratios"):
        make_split(df, "ratio", ratios=(0.5, 0.5, 0.5))


@pytest.mark.parametrize("protocol", ["strong", "ratio"])
def test_save_load_round_trip(tmp_path, df, protocol):
    s = make_split(df, protocol, seed=0)
    save_split(s, tmp_path / "s.npz")
    t = load_split(tmp_path / "s.npz")
    assert t.protocol == protocol
    for a, b in [(s.train, t.train), (s.test.target, t.test.target), (s.test.mask, t.test.mask)]:
        assert (a != b).nnz == 0
    assert (t.items == s.items).all() and (t.test.users == s.test.users).all()


def test_prepare_split_caches(tmp_path):
    cfg = SyntheticConfig(n_users=200, n_items=100, n_interactions=4000, seed=2)
    a = prepare_split("synthetic", synthetic_config=cfg, cache=tmp_path)
    path = a.meta["cache_path"]
    b = prepare_split("synthetic", synthetic_config=cfg, cache=tmp_path)
    assert b.meta["cache_path"] == path and (a.train != b.train).nnz == 0
    assert b.stats == a.stats and 3000 < b.stats["interactions"] <= 4000
    # a corrupt cache entry is not trusted: it is rebuilt
    with open(path, "wb") as fh:
        fh.write(b"not a zip")
    c = prepare_split("synthetic", synthetic_config=cfg, cache=tmp_path)
    assert (c.train != a.train).nnz == 0
    assert len(list((tmp_path / "prepared").glob("*.tmp"))) == 0


def test_synthetic_default_is_fast_and_learnable():
    import time

    t = time.perf_counter()
    d = generate()
    assert time.perf_counter() - t < 1.0
    assert d["user"].nunique() == 943 and d["item"].nunique() <= 1682
    assert 85_000 < len(d) <= 100_000
    counts = d["item"].value_counts().to_numpy()
    assert counts[:17].sum() > 3 * counts[-170:].sum()  # long tail: top 1% >> bottom 10%
    assert (generate()["item"] == d["item"]).all()  # seeded
