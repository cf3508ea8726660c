"""Shared fixtures: small synthetic splits, and the shared real data when it exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CODIGEM_LAB_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test with a reason when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present (real data lives in ../shared/data on dev and CI machines)")
    return p


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own data cache unless it sets one itself, and no memoised data
    fingerprint from another test (one made while a test shrank 'synthetic' would key the next
    test's runs by the wrong data)."""
    from codigem_lab.data.spec import _fingerprint

    monkeypatch.setenv("CODIGEM_LAB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("CODIGEM_LAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("CODIGEM_LAB_QUIET", "1")
    _fingerprint.cache_clear()
    yield
    _fingerprint.cache_clear()


@pytest.fixture(scope="session")
def small_split():
    """A small synthetic strong-protocol split (built once per session, not cached on disk)."""
    from codigem_lab.data import SyntheticConfig, prepare_split

    cfg = SyntheticConfig(n_users=300, n_items=200, n_interactions=9000, n_groups=4, seed=1)
    return prepare_split("synthetic", synthetic_config=cfg, use_cache=False, seed=0)


@pytest.fixture(scope="session")
def small_ratio_split():
    from codigem_lab.data import SyntheticConfig, prepare_split

    cfg = SyntheticConfig(n_users=300, n_items=200, n_interactions=9000, n_groups=4, seed=1)
    return prepare_split(
        "synthetic", synthetic_config=cfg, protocol="ratio", use_cache=False, seed=0
    )


@pytest.fixture
def no_pyplot_leak():
    """No plot function may register figures with pyplot (they would leak and display twice)."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before
