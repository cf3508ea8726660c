"""Registry: cache folder, offline use, checksums, extraction and downloads (no network)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import zipfile
from pathlib import Path

import numpy as np
import pooch
import pytest

from codigem_lab.data import readers, registry
from codigem_lab.data.registry import (
    DATASETS,
    cache_dir,
    file_sha256,
    load_item_titles,
    load_ratings,
)
from codigem_lab.errors import ChecksumError, ConfigError, DataError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def needs_shared(test):
    """Mark a test that reads the shared MovieLens copies; skip it where they are absent."""
    skip = pytest.mark.skipif(
        not SHARED.is_dir(), reason=f"shared MovieLens copies not found at {SHARED}"
    )
    return pytest.mark.shared_data(skip(test))


U_DATA = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
U_ITEM = "242|Kolya (1996)|24-Jan-1997||x|0\n302|L.A. Confidential (1997)|x||y|0\n".encode(
    "latin-1"
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def set_spec(monkeypatch: pytest.MonkeyPatch, name: str, **changes) -> registry.DatasetSpec:
    """Replace a registry entry for one test (hashes of the tiny fake files)."""
    spec = dataclasses.replace(DATASETS[name], **changes)
    monkeypatch.setitem(DATASETS, name, spec)
    return spec


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the network must not be used here")

    monkeypatch.setattr(pooch, "retrieve", refuse)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def fake_100k(monkeypatch: pytest.MonkeyPatch) -> registry.DatasetSpec:
    return set_spec(monkeypatch, "ml-100k", ratings_hash=sha256(U_DATA))


def extracted(cache: Path, folder: str, files: dict[str, bytes]) -> Path:
    (cache / folder).mkdir(parents=True)
    for name, data in files.items():
        (cache / folder / name).write_bytes(data)
    return cache / folder


# --- cache folder and names -------------------------------------------------------------------


def test_cache_dir_explicit_is_created(tmp_path: Path) -> None:
    assert cache_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()


def test_cache_dir_env_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODIGEM_LAB_DATA", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"  # an explicit argument wins


def test_cache_dir_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CODIGEM_LAB_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    repo_cache = Path(registry.__file__).parents[2] / "data_cache"
    expected = repo_cache if repo_cache.is_dir() else tmp_path / ".cache" / "codigem_lab"
    assert cache_dir() == expected.absolute()


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 1000)
    assert file_sha256(path) == sha256(b"abc" * 1000)


def test_registry_entries() -> None:
    ratings = {"ml-100k", "ml-1m", "ml-20m", "ml-latest-small", "amazon-electronics"}
    assert set(DATASETS) == ratings | {"diffrec-ml-1m"}
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert spec.is_split or callable(getattr(readers, spec.reader))
        if spec.archive_hash is not None:
            assert spec.archive_hash.split(":")[0] in {"md5", "sha256"}
        assert spec.license_note and spec.description


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'ml-1m'\?.*ml-100k.*amazon-electronics"):
        load_ratings("ml-1mm")


def test_synthetic_and_csv_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"codigem_lab\.data\.synthetic"):
        load_ratings("synthetic")
    with pytest.raises(ConfigError, match="--source"):
        load_ratings("csv")
    path = tmp_path / "r.tsv"
    path.write_text("uid\tiid\tscore\nu1\ti1\t4\n")
    df = load_ratings("csv", source=path, user_col="uid", item_col="iid", rating_col="score")
    assert df.values.tolist() == [["u1", "i1", 4.0]]


# --- offline: extracted folders and user sources ----------------------------------------------


def test_offline_extracted_folder(cache: Path, fake_100k) -> None:
    extracted(cache, "ml-100k", {"u.data": U_DATA, "u.item": U_ITEM})
    df = load_ratings("ml-100k", cache=cache)
    assert df["user"].tolist() == [196, 186, 22]
    assert df["rating"].dtype == np.float32 and "timestamp" in df
    titles = load_item_titles("ml-100k", cache=cache)
    assert titles.to_dict() == {242: "Kolya (1996)", 302: "L.A. Confidential (1997)"}


def test_env_var_used_by_load(monkeypatch: pytest.MonkeyPatch, cache: Path, fake_100k) -> None:
    extracted(cache, "ml-100k", {"u.data": U_DATA})
    monkeypatch.setenv("CODIGEM_LAB_DATA", str(cache))
    assert len(load_ratings("ml-100k")) == 3


def test_cached_folder_checksum_mismatch(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_spec(monkeypatch, "ml-100k", ratings_hash="0" * 64)
    folder = extracted(cache, "ml-100k", {"u.data": U_DATA})
    with pytest.raises(ChecksumError) as info:
        load_ratings("ml-100k", cache=cache)
    message = str(info.value)
    assert "u.data" in message and "0" * 64 in message and sha256(U_DATA) in message
    assert f"delete {folder}" in message
    assert (folder / "u.data").exists()


def test_source_checksum_mismatch_keeps_file(tmp_path: Path, cache: Path, monkeypatch) -> None:
    set_spec(monkeypatch, "ml-100k", ratings_hash="f" * 64)
    source = tmp_path / "my_u.data"
    source.write_bytes(U_DATA)
    with pytest.raises(ChecksumError, match=r"your --source.*left as it is"):
        load_ratings("ml-100k", source=source, cache=cache)
    assert source.read_bytes() == U_DATA


@pytest.mark.parametrize("form", ["file", "folder", "parent"])
def test_source_forms(tmp_path: Path, cache: Path, fake_100k, form: str) -> None:
    folder = extracted(tmp_path / "downloads", "ml-100k", {"u.data": U_DATA})
    source = {"file": folder / "u.data", "folder": folder, "parent": folder.parent}[form]
    assert len(load_ratings("ml-100k", source=source, cache=cache)) == 3
    assert not (cache / "ml-100k").exists()  # used in place, nothing copied


def test_source_errors(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_ratings("ml-1m", source=tmp_path / "missing.zip", cache=cache)
    tarball = tmp_path / "ml-1m.tar.gz"
    tarball.write_bytes(b"x")
    with pytest.raises(DataError, match=r"only \.zip"):
        load_ratings("ml-1m", source=tarball, cache=cache)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no ratings.dat"):
        load_ratings("ml-1m", source=tmp_path / "empty", cache=cache)


def test_folder_without_known_hash(cache: Path, monkeypatch, caplog) -> None:
    spec = DATASETS["ml-20m"]
    folder = extracted(
        cache, "ml-20m", {"ratings.csv": b"userId,movieId,rating,timestamp\n1,2,3.5,4\n"}
    )
    with caplog.at_level(logging.WARNING, logger="codigem_lab.data.registry"):
        assert len(load_ratings("ml-20m", cache=cache)) == 1
    assert "unverified" in caplog.text
    caplog.clear()
    (folder / registry.MARKER).write_text(spec.archive_hash + "\n")
    with caplog.at_level(logging.WARNING, logger="codigem_lab.data.registry"):
        assert len(load_ratings("ml-20m", cache=cache)) == 1
    assert "unverified" not in caplog.text


# --- archives ---------------------------------------------------------------------------------


def fake_archive(path: Path, monkeypatch, members: dict[str, bytes] | None = None) -> Path:
    members = members or {"ml-100k/u.data": U_DATA, "ml-100k/u.item": U_ITEM}
    make_zip(path, members)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    set_spec(monkeypatch, "ml-100k", archive_hash=f"md5:{md5}", ratings_hash=sha256(U_DATA))
    return path


def test_cached_archive_is_extracted(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.mkdir()
    archive = fake_archive(cache / "ml-100k.zip", monkeypatch)
    assert len(load_ratings("ml-100k", cache=cache)) == 3
    folder = cache / "ml-100k"
    assert (folder / "u.data").read_bytes() == U_DATA
    assert (folder / registry.MARKER).read_text().strip() == DATASETS["ml-100k"].archive_hash
    assert sorted(p.name for p in cache.iterdir()) == ["ml-100k", "ml-100k.zip"]
    assert archive.exists()

    def fail(*args, **kwargs):
        raise AssertionError("must not extract again")

    monkeypatch.setattr(registry, "extract_archive", fail)
    assert len(load_ratings("ml-100k", cache=cache)) == 3
    assert len(load_item_titles("ml-100k", cache=cache)) == 2


def test_source_archive(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = fake_archive(tmp_path / "ml-100k.zip", monkeypatch)
    assert len(load_ratings("ml-100k", source=archive, cache=cache)) == 3
    assert (cache / "ml-100k" / "u.data").is_file()
    assert load_item_titles("ml-100k", source=archive, cache=cache)[242] == "Kolya (1996)"


def test_archive_checksum_mismatch(tmp_path: Path, cache: Path, monkeypatch) -> None:
    archive = fake_archive(tmp_path / "ml-100k.zip", monkeypatch)
    set_spec(monkeypatch, "ml-100k", archive_hash="md5:" + "0" * 32)
    with pytest.raises(ChecksumError, match=r"expected md5 0{32}, got [0-9a-f]{32}"):
        load_ratings("ml-100k", source=archive, cache=cache)
    assert archive.exists() and not (cache / "ml-100k").exists()


def test_extracted_ratings_mismatch_leaves_nothing(tmp_path: Path, cache: Path, monkeypatch):
    archive = make_zip(tmp_path / "ml-100k.zip", {"ml-100k/u.data": U_DATA})
    set_spec(monkeypatch, "ml-100k", archive_hash=None, ratings_hash="a" * 64)
    with pytest.raises(ChecksumError, match="your --source"):
        load_ratings("ml-100k", source=archive, cache=cache)
    assert archive.exists()
    assert list(cache.iterdir()) == []


def test_zip_slip_refused(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    members = {"ml-100k/u.data": U_DATA, "../../evil.txt": b"owned"}
    archive = fake_archive(tmp_path / "ml-100k.zip", monkeypatch, members)
    with pytest.raises(DataError, match=r"refusing to extract member '\.\./\.\./evil\.txt'"):
        load_ratings("ml-100k", source=archive, cache=cache)
    assert not any(p.name == "evil.txt" for p in tmp_path.parent.rglob("evil.txt"))
    assert list(cache.iterdir()) == []


def test_extraction_is_atomic(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = fake_archive(tmp_path / "ml-100k.zip", monkeypatch)

    def crash(self, path, *args, **kwargs):
        Path(path, "ml-100k").mkdir(parents=True)
        Path(path, "ml-100k", "u.data").write_bytes(U_DATA[:10])
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", crash)
    with pytest.raises(OSError, match="disk full"):
        load_ratings("ml-100k", source=archive, cache=cache)
    assert list(cache.iterdir()) == []


def test_corrupt_archive(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_spec(monkeypatch, "ml-100k", archive_hash=None)
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="not a valid zip"):
        load_ratings("ml-100k", source=archive, cache=cache)


# --- downloads (pooch.retrieve simulated) -----------------------------------------------------


def test_download_then_offline(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    built = fake_archive(tmp_path / "built.zip", monkeypatch)
    calls = []

    def retrieve(url, known_hash, fname, path, progressbar):
        calls.append(dict(url=url, known_hash=known_hash, fname=fname, progressbar=progressbar))
        target = Path(path) / fname
        target.write_bytes(built.read_bytes())
        return str(target)

    monkeypatch.setattr(pooch, "retrieve", retrieve)
    assert len(load_ratings("ml-100k", cache=cache, progress=False)) == 3
    spec = DATASETS["ml-100k"]
    assert calls == [
        dict(url=spec.url, known_hash=spec.archive_hash, fname="ml-100k.zip", progressbar=False)
    ]
    assert len(load_ratings("ml-100k", cache=cache)) == 3
    assert len(calls) == 1  # the second load is offline


def test_network_unreachable(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(DataError) as info:
        load_ratings("ml-1m", cache=cache)
    message = str(info.value)
    assert DATASETS["ml-1m"].url in message
    assert str(cache / "ml-1m.zip") in message and "--source PATH" in message


def test_download_hash_mismatch(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def bad(*args, **kwargs):
        raise ValueError("SHA256 hash of downloaded file (ml-1m.zip) does not match")

    monkeypatch.setattr(pooch, "retrieve", bad)
    with pytest.raises(ChecksumError, match="pinned hash"):
        load_ratings("ml-1m", cache=cache)


def test_download_disabled(cache: Path) -> None:
    with pytest.raises(DataError, match="downloading is off.*ml-20m.zip"):
        load_ratings("ml-20m", cache=cache, download=False)


def test_amazon_hash_pinned_on_first_download(cache: Path, monkeypatch, capsys) -> None:
    data = b"A1,0001,5.0,1365811200\nA2,0002,3.0,1341100800\n"

    def retrieve(url, known_hash, fname, path, progressbar):
        assert known_hash is None and fname == "ratings_Electronics.csv"
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / fname).write_bytes(data)
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", retrieve)
    df = load_ratings("amazon-electronics", cache=cache)
    assert df["item"].tolist() == ["0001", "0002"]
    pin = cache / "amazon-electronics" / registry.PIN_FILE
    assert pin.read_text().strip() == sha256(data)
    assert sha256(data) in capsys.readouterr().err
    assert load_item_titles("amazon-electronics", cache=cache) is None

    (cache / "amazon-electronics" / "ratings_Electronics.csv").write_bytes(data + b"A3,3,1,1\n")
    with pytest.raises(ChecksumError, match=sha256(data)):
        load_ratings("amazon-electronics", cache=cache)


# --- the shared copies of the official files --------------------------------------------------


@needs_shared
def test_shared_ml100k_verified(tmp_path: Path) -> None:
    source = SHARED / "ml-100k"
    assert file_sha256(source / "u.data") == DATASETS["ml-100k"].ratings_hash
    df = load_ratings("ml-100k", source=source, cache=tmp_path)
    assert len(df) == 100_000
    assert df["user"].nunique() == 943 and df["item"].nunique() == 1682
    assert len(load_item_titles("ml-100k", source=source, cache=tmp_path)) == 1682


@needs_shared
def test_shared_ml_latest_small_verified(tmp_path: Path) -> None:
    df = load_ratings("ml-latest-small", source=SHARED / "ml-latest-small", cache=tmp_path)
    assert len(df) == 100_836 and df["user"].nunique() == 610


@needs_shared
def test_shared_ml100k_from_the_cache_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official folder placed in the cache (as .ci/run seeds it) is used without any download,
    after its checksum is verified; a tampered copy is refused."""
    import shutil

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download although the cache holds the dataset")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    shutil.copytree(SHARED / "ml-100k", tmp_path / "ml-100k")
    df = load_ratings("ml-100k", cache=tmp_path)
    assert len(df) == 100_000
    with open(tmp_path / "ml-100k" / "u.data", "a") as fh:
        fh.write("1\t2\t3\t4\n")
    with pytest.raises(ChecksumError):
        load_ratings("ml-100k", cache=tmp_path)
