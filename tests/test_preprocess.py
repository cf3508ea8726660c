import pandas as pd
import pytest

from codigem_lab.data.preprocess import get_preset, k_core, preprocess, table1_stats
from codigem_lab.errors import ConfigError, DataError

from .conftest import shared_file


def frame(rows):
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


def test_threshold_and_duplicates():
    df = frame([(1, 1, 5), (1, 1, 4), (1, 2, 2), (2, 1, 3), (2, 3, 3.5)])
    out = preprocess(df, "none", min_rating=3)
    assert len(out) == 3  # (1,1) once, (2,1), (2,3)
    strict = preprocess(df, "multvae", user_core=0)
    assert set(map(tuple, strict[["user", "item"]].to_numpy())) == {(1, 1)}


def test_iterative_k_core_removes_cascades():
    # k=2: user 4 (one item) goes; then item 3 has one user left and goes; then user 3 does.
    rows = [(u, i, 5) for u in (1, 2) for i in (1, 2)] + [(3, 1, 5), (3, 3, 5), (4, 3, 5)]
    df = frame(rows)
    once = k_core(df, 2, 2, iterative=False)
    full = k_core(df, 2, 2, iterative=True)
    assert set(once["user"]) == {1, 2, 3}  # a single pass misses the cascade
    assert set(full["user"]) == {1, 2}
    assert table1_stats(full) == {"users": 2, "items": 2, "interactions": 4, "sparsity": 0.0}


def test_empty_after_filter_is_a_clear_error():
    with pytest.raises(DataError, match="left no interactions"):
        preprocess(frame([(1, 1, 1)]), "paper-ml1m")


def test_unknown_preset_and_bad_core():
    with pytest.raises(ConfigError, match="unknown preprocessing preset"):
        get_preset("paper")
    with pytest.raises(ConfigError, match="k-core"):
        get_preset("none", user_core=-1)


def test_overrides_rename_preset():
    p = get_preset("paper-ml1m", item_core=5)
    assert p.item_core == 5 and p.user_core == 10 and p.name == "paper-ml1m+custom"


@pytest.mark.shared_data
def test_paper_ml1m_table1():
    from codigem_lab.data import load_ratings

    path = shared_file("ml-1m", "ratings_no_timestamp.csv")
    df = preprocess(load_ratings("csv", source=path), "paper-ml1m")
    assert table1_stats(df)["users"] == 6033
    assert table1_stats(df)["items"] == 3123
    assert table1_stats(df)["interactions"] == 834_449
