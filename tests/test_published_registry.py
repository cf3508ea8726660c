"""DiffRec's ML-1M split through the registry: a pinned RAR, extracted by whichever tool is
installed, or a one-line error naming what to install; ``--dataset diffrec-ml-1m`` reads it."""

from __future__ import annotations

import shutil

import pytest

from codigem_lab.data import registry
from codigem_lab.data.spec import DataSpec
from codigem_lab.errors import ChecksumError, ConfigError, DataError

from .conftest import shared_file

SPEC = registry.DATASETS["diffrec-ml-1m"]


def _no_check(path):
    return None


def test_the_entry_is_a_pinned_rar_from_diffrecs_repository():
    assert SPEC.is_split and SPEC.is_archive and registry.SPLITS == ("diffrec-ml-1m",)
    assert "/YiyanXu/DiffRec/" in SPEC.url and SPEC.url.endswith("/datasets/ml-1m_clean.rar")
    assert SPEC.archive_hash.startswith("sha256:") and SPEC.ratings_hash


def test_a_registry_split_is_a_published_dataset():
    spec = DataSpec("diffrec-ml-1m")
    assert (spec.dataset, spec.source, spec.protocol) == ("published", "diffrec-ml-1m", "published")
    assert DataSpec("diffrec-ml-1m", source="x.rar").source == "x.rar"  # a local copy
    with pytest.raises(ConfigError, match="published split, not ratings"):
        registry.load_ratings("diffrec-ml-1m")


def test_without_a_rar_tool_the_error_names_what_to_install(tmp_path, monkeypatch):
    archive = tmp_path / "ml-1m_clean.rar"
    archive.write_bytes(b"Rar!\x1a\x07\x00")
    monkeypatch.setattr(registry.shutil, "which", lambda name: None)
    root = tmp_path / "cache"
    with pytest.raises(DataError, match="apt-get install libarchive-tools") as err:
        registry.extract_archive(archive, root, SPEC.folder, SPEC.ratings_file, _no_check, None)
    assert "bsdtar, unar, unrar" in str(err.value) and "\n" not in str(err.value)
    assert list(root.iterdir()) == []  # nothing half-written


def test_a_failing_rar_tool_is_reported_and_leaves_nothing(tmp_path, monkeypatch):
    archive = tmp_path / "ml-1m_clean.rar"
    archive.write_bytes(b"not a rar")
    monkeypatch.setattr(registry, "RAR_TOOLS", {"false": ("false", "{a}", "{d}")})
    root = tmp_path / "cache"
    with pytest.raises(DataError, match="false could not extract .*corrupt or truncated"):
        registry.extract_archive(archive, root, SPEC.folder, SPEC.ratings_file, _no_check, None)
    assert list(root.iterdir()) == []


def test_files_in_one_folder_of_the_archive_land_in_the_datasets_folder(tmp_path, monkeypatch):
    """DiffRec's RAR holds ml-1m_clean/*.npy: they end up in <cache>/diffrec-ml-1m/."""
    archive = tmp_path / "ml-1m_clean.rar"
    archive.write_bytes(b"")
    script = "mkdir {d}/ml-1m_clean && echo x > {d}/ml-1m_clean/train_list.npy"
    monkeypatch.setattr(registry, "RAR_TOOLS", {"sh": ("sh", "-c", script)})
    root = tmp_path / "cache"
    out = registry.extract_archive(archive, root, SPEC.folder, SPEC.ratings_file, _no_check, "m")
    assert out == root / "diffrec-ml-1m" and (out / "train_list.npy").read_text() == "x\n"
    assert [p.name for p in root.iterdir()] == ["diffrec-ml-1m"]


def test_an_archive_that_is_not_diffrecs_is_refused_before_extraction(tmp_path, monkeypatch):
    fake = tmp_path / "ml-1m_clean.rar"
    fake.write_bytes(b"something else")
    monkeypatch.setattr(registry, "extract_archive", pytest.fail)
    with pytest.raises(ChecksumError, match="is not the official file"):
        DataSpec("diffrec-ml-1m", source=str(fake)).load()
    with pytest.raises(ChecksumError):
        DataSpec("published", source=str(fake)).load()  # known by its file name


@pytest.mark.shared_data
def test_the_shared_rar_without_a_tool_fails_cleanly(tmp_path, monkeypatch):
    rar = shared_file("diffrec-ml-1m_clean", "ml-1m_clean.rar")
    monkeypatch.setattr(registry.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="libarchive-tools"):
        DataSpec("diffrec-ml-1m", source=str(rar), cache=str(tmp_path)).load()
    assert not (tmp_path / "diffrec-ml-1m").exists()


@pytest.mark.shared_data
def test_the_registry_split_is_diffrecs_files(tmp_path, monkeypatch):
    """Extracted from the pinned RAR (then from the cache, offline), the split is the one the
    shared folder's .npy files make."""
    rar = shared_file("diffrec-ml-1m_clean", "ml-1m_clean.rar")
    if not any(shutil.which(t) for t in registry.RAR_TOOLS):
        pytest.skip(f"no RAR tool installed ({', '.join(registry.RAR_TOOLS)})")
    cache = str(tmp_path / "cache")
    want = DataSpec("published", source=str(rar.parent), cache=cache).load().fingerprint()
    got = DataSpec("diffrec-ml-1m", source=str(rar), cache=cache).load()
    assert got.fingerprint() == want
    assert (tmp_path / "cache" / "diffrec-ml-1m" / registry.MARKER).is_file()
    monkeypatch.setenv(registry.OFFLINE_VAR, "1")
    shutil.rmtree(tmp_path / "cache" / "prepared")  # read the extracted files again
    again = DataSpec("published", source="diffrec-ml-1m", cache=cache).load()
    assert again.fingerprint() == want
