"""One data spec: its flags, its content fingerprint, and where a user's data comes from."""

from __future__ import annotations

import argparse
import dataclasses
import shutil

import pandas as pd
import pytest

from codigem_lab.data import SYNTHETIC_BANNER, DataSpec, resolve_data
from codigem_lab.data.spec import seed_cache_from_shared
from codigem_lab.options import add_options
from codigem_lab.runs import RunSpec
from tests.conftest import shared_file


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_options(p, DataSpec.OPTIONS + DataSpec.SPLIT_OPTIONS)
    return p.parse_args(argv)


def test_flags_round_trip_through_the_spec():
    spec = DataSpec("csv", "r.csv", "paper-ml1m", "ratio", 0, min_rating=4.0, n_heldout=100)
    back = DataSpec.from_args(_parse(spec.to_argv()), seed=0)
    assert back == spec
    assert DataSpec().to_argv() == []  # defaults are left out


def test_heldout_counts_become_integers_and_bad_protocols_are_refused():
    assert DataSpec(n_heldout=100.0).n_heldout == 100
    assert DataSpec(n_heldout=0.1).n_heldout == 0.1
    with pytest.raises(Exception, match="protocol must be 'strong', 'ratio' or 'temporal'"):
        DataSpec(protocol="leave-one-out")


def _ml100k_as_csv(tmp_path):
    raw = pd.read_csv(shared_file("ml-100k", "u.data"), sep="\t", names=["u", "i", "r", "t"])
    path = tmp_path / "ratings.csv"
    raw.rename(columns={"u": "user", "i": "item", "r": "rating"})[
        ["user", "item", "rating"]
    ].to_csv(path, index=False)
    return path


@pytest.mark.shared_data
def test_the_same_ratings_from_the_registry_and_a_csv_share_their_runs(tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(shared_file("ml-100k"), cache / "ml-100k")
    registry = DataSpec("ml-100k", cache=str(cache))
    local = DataSpec("csv", str(_ml100k_as_csv(tmp_path)), cache=str(cache))
    assert registry.fingerprint() == local.fingerprint()
    assert RunSpec(registry).key() == RunSpec(local).key()
    # another split seed, preprocessing or protocol is other data
    for other in (
        dataclasses.replace(local, seed=1),
        dataclasses.replace(local, min_rating=4.0),
        dataclasses.replace(local, protocol="ratio"),
    ):
        assert RunSpec(other).key() != RunSpec(local).key()


def test_the_run_key_holds_device_and_precision():
    from codigem_lab.train import TrainConfig

    base = RunSpec(DataSpec())
    bf16 = dataclasses.replace(base, train=TrainConfig(precision="bf16"))
    assert bf16.key() != base.key()
    assert base.identity()["train"]["device"] in ("cpu", "cuda")
    quiet = dataclasses.replace(base, train=TrainConfig(progress=False))
    assert quiet.key() == base.key()  # progress display is not part of the result


def test_offline_with_an_empty_cache_gives_synthetic_with_its_banner(tmp_path, monkeypatch):
    monkeypatch.setenv("CODIGEM_LAB_SHARED_DATA", str(tmp_path / "nowhere"))
    for quick in (True, False):
        spec = resolve_data("auto", quick=quick, download=False, cache=str(tmp_path / "empty"))
        assert spec.is_synthetic and spec.banner == SYNTHETIC_BANNER
        assert "numbers mean nothing for MovieLens" in spec.banner
        assert "codigem-lab data fetch" in spec.banner  # and how to get the real data
    assert DataSpec("ml-100k").banner is None


@pytest.mark.shared_data
def test_a_cache_that_holds_ml100k_is_used_without_shared_data(tmp_path, monkeypatch):
    cache = tmp_path / "user-cache"
    shutil.copytree(shared_file("ml-100k"), cache / "ml-100k")
    monkeypatch.setenv("CODIGEM_LAB_SHARED_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("CODIGEM_LAB_DATA", str(cache))
    spec = resolve_data("auto", quick=True, download=False)
    assert (spec.dataset, spec.source) == ("ml-100k", None)
    assert spec.titles() is not None and len(spec.load().items) > 1000


@pytest.mark.shared_data
def test_shared_data_only_seeds_the_cache(tmp_path):
    shared = shared_file("ml-100k").parent
    cache = tmp_path / "cache"
    assert seed_cache_from_shared("ml-100k", str(cache), shared)
    assert (cache / "ml-100k" / "u.data").is_file()
    spec = resolve_data("ml-100k", cache=str(cache), shared=shared, download=False)
    assert spec.source is None  # read from the cache through the registry, not from shared/
    assert not seed_cache_from_shared("ml-20m", str(cache), shared)  # nothing there to seed


def test_shared_ml1m_csv_is_a_local_source_with_titles(tmp_path):
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ratings_no_timestamp.csv").write_text("user_id,movie_id,rating\n")
    (tmp_path / "ml-1m" / "movies.dat").write_text("1::Toy Story (1995)::Animation\n")
    spec = resolve_data("auto", shared=tmp_path, download=False, cache=str(tmp_path / "c"))
    assert (spec.dataset, spec.preset, spec.name) == ("csv", "paper-ml1m", "ml-1m")
    assert spec.titles().to_dict() == {1: "Toy Story (1995)"}
