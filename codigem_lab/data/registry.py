"""Named datasets: where they come from, how they are verified and how their ratings are read
(the cache, ``source``, offline use and pinned hashes: docs/data.md)."""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pooch

from codigem_lab._io import atomic_open
from codigem_lab.data import readers
from codigem_lab.errors import ChecksumError, ConfigError, DataError

log = logging.getLogger(__name__)

ENV_VAR = "CODIGEM_LAB_DATA"
OFFLINE_VAR = "CODIGEM_LAB_OFFLINE"
MARKER = ".verified_from_archive"
PIN_FILE = "PINNED_SHA256"
_CHUNK = 1 << 20
_ARCHIVES = (".zip", ".rar")  # extracted here (a RAR by one of RAR_TOOLS)
_OTHER_ARCHIVES = (".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z")
#: Programs that extract a RAR archive, tried in this order ({a}: the archive, {d}: the folder).
RAR_TOOLS = {
    "bsdtar": ("bsdtar", "-xf", "{a}", "-C", "{d}"),
    "unar": ("unar", "-q", "-o", "{d}", "{a}"),
    "unrar": ("unrar", "x", "-idq", "{a}", "{d}/"),
}

_MOVIELENS_LICENSE = (
    "GroupLens MovieLens usage license: research or non-commercial use only, no redistribution "
    "without permission; cite F. M. Harper and J. A. Konstan (2015), ACM TiiS 5(4)."
)


@dataclass(frozen=True)
class DatasetSpec:
    """Where one named dataset comes from, how to verify it, and which reader parses its ratings."""

    name: str
    url: str
    archive_hash: str | None  # "md5:<hex>" or "sha256:<hex>" of the downloaded file, or None
    ratings_file: str  # path of the ratings file inside ``folder``
    ratings_hash: str | None  # sha256 of the extracted ratings file, where known
    reader: str  # a function in codigem_lab.data.readers, or "published": a split (data.published)
    items_file: str | None = None  # item titles, inside ``folder``
    description: str = ""
    license_note: str = _MOVIELENS_LICENSE

    @property
    def folder(self) -> str:
        """The folder the archive extracts to, inside the cache: the dataset's name."""
        return self.name

    @property
    def is_archive(self) -> bool:
        """True when the download is an archive to extract (else it is the ratings file)."""
        return self.url.endswith(_ARCHIVES)

    @property
    def is_split(self) -> bool:
        """True for a split another paper published (read by :mod:`~codigem_lab.data.published`)."""
        return self.reader == "published"

    @property
    def download_name(self) -> str:
        """File name of the download, as it is stored in the cache."""
        return self.url.rsplit("/", 1)[-1]


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="ml-100k",
            url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
            archive_hash="md5:0e33842e24a9c977be4e0107933c0723",
            ratings_file="u.data",
            ratings_hash="06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            reader="read_u_data",
            items_file="u.item",
            description="MovieLens 100K: 100,000 ratings (1-5) by 943 users of 1,682 movies.",
        ),
        DatasetSpec(
            name="ml-1m",
            url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
            archive_hash="sha256:a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            ratings_file="ratings.dat",
            ratings_hash="506d64ca44484487c11dc2d9a28de5c54948213e6b96285e298afe28d6ea4e0f",
            reader="read_ml1m_dat",
            items_file="movies.dat",
            description="MovieLens 1M: 1,000,209 ratings (1-5) by 6,040 users of 3,706 movies.",
        ),
        DatasetSpec(
            name="ml-20m",
            url="https://files.grouplens.org/datasets/movielens/ml-20m.zip",
            archive_hash="sha256:96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
            ratings_file="ratings.csv",
            ratings_hash=None,
            reader="read_movielens_csv",
            items_file="movies.csv",
            description="MovieLens 20M: 20,000,263 ratings (0.5-5) by 138,493 users.",
        ),
        DatasetSpec(
            name="ml-latest-small",
            url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
            archive_hash=None,
            ratings_file="ratings.csv",
            ratings_hash="aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            reader="read_movielens_csv",
            items_file="movies.csv",
            description="MovieLens latest-small (2018-09): 100,836 ratings by 610 users.",
        ),
        DatasetSpec(
            name="diffrec-ml-1m",
            url="https://raw.githubusercontent.com/YiyanXu/DiffRec/"
            "d503f1703d8a950a484bfe3d5e67bff6b5ae5fd1/datasets/ml-1m_clean.rar",
            archive_hash="sha256:407d6f1deac6e373c3a7157ce9cf974fcd42f43967d7f0cfaa25b01bc2521050",
            ratings_file="train_list.npy",
            ratings_hash="b39010ebf49c1159c71b5a44a2a45081f01c3f653f4221027fef2721cc0b0523",
            reader="published",
            description=(
                "DiffRec's published ML-1M split (SIGIR 2023, 'clean' setting): train/valid/test "
                "_list.npy of (user, item) rows, per user by time; a RAR archive."
            ),
        ),
        DatasetSpec(
            name="amazon-electronics",
            url="http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_Electronics.csv",
            archive_hash=None,
            ratings_file="ratings_Electronics.csv",
            ratings_hash=None,
            reader="read_amazon_csv",
            description=(
                "Amazon Electronics ratings (McAuley 2014 release, ratings only): user, item, "
                "rating 1-5, unix time; string ids. No published hash: pinned on first download."
            ),
            license_note=(
                "Amazon review data (J. McAuley, UCSD): for research use; cite He and McAuley "
                "(WWW 2016) and McAuley et al. (SIGIR 2015)."
            ),
        ),
    )
}

#: Names that are not downloads: any local ratings table (source=PATH), a split another paper
#: published (source=FOLDER, read by :mod:`~codigem_lab.data.published`), and generated data.
_SPECIAL = ("csv", "published", "synthetic")
#: The registry's published splits (``--dataset NAME`` or ``--dataset published --source NAME``).
SPLITS = tuple(name for name, spec in DATASETS.items() if spec.is_split)


# --- public API -------------------------------------------------------------------------------


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """The folder for downloads: argument > $CODIGEM_LAB_DATA > <repo>/data_cache > ~/.cache."""
    if cache is not None and str(cache) != "":
        path = Path(cache)
    elif os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR])
    elif (Path(__file__).parents[2] / "data_cache").is_dir():
        path = Path(__file__).parents[2] / "data_cache"
    else:
        path = Path.home() / ".cache" / "codigem_lab"
    path = path.expanduser().absolute()
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file, read in chunks (files may be gigabytes)."""
    return _file_hash(Path(path), "sha256")


def get_spec(name: str) -> DatasetSpec:
    """The spec of a named dataset; ConfigError listing the known names (and a close match)."""
    key = name.strip().lower()
    if key in DATASETS:
        return DATASETS[key]
    known = [*DATASETS, *_SPECIAL]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown dataset {name!r}{hint} Known datasets: {', '.join(known)}")


def load_ratings(
    name: str,
    source: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
    download: bool = True,
    progress: bool = True,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = "rating",
    timestamp_col: str | None = None,
) -> pd.DataFrame:
    """Ratings of a dataset as columns user, item, rating (float32)[, timestamp], verified first;
    the ``*_col`` arguments name a ``csv`` table's columns (named datasets ignore them)."""
    key = name.strip().lower()
    if key == "synthetic":
        raise ConfigError(
            "the synthetic dataset is generated, not loaded: use codigem_lab.data.synthetic"
        )
    if key == "published":
        raise ConfigError(
            "a published split is a split, not ratings: use codigem_lab.data.published or "
            "DataSpec('published', source=FOLDER)"
        )
    if key == "csv":
        if source is None:
            raise ConfigError("dataset 'csv' needs a file: pass --source PATH (source=PATH)")
        return readers.read_ratings_csv(source, user_col, item_col, rating_col, timestamp_col)
    spec = get_spec(key)
    if spec.is_split:
        raise ConfigError(f"{key} is a published split, not ratings: use --dataset {key}")
    path = locate_ratings(spec, source=source, cache=cache, download=download, progress=progress)
    return getattr(readers, spec.reader)(path)


def load_item_titles(
    name: str, source: str | os.PathLike | None = None, cache: str | os.PathLike | None = None
) -> pd.Series | None:
    """Item id -> title where the dataset has titles on disk (never downloads); else None."""
    key = name.strip().lower()
    if key in _SPECIAL:
        return None
    spec = get_spec(key)
    if spec.items_file is None:
        return None
    try:
        ratings = locate_ratings(spec, source=source, cache=cache, download=False, progress=False)
    except ChecksumError:
        raise
    except DataError as exc:
        log.info("no item titles for %s: %s", spec.name, exc)
        return None
    path = _folder_of(ratings, spec) / spec.items_file
    if not path.is_file():
        log.info("no item titles for %s: %s is missing", spec.name, path)
        return None
    return readers.read_item_titles(path)


def locate_ratings(
    spec: DatasetSpec,
    source: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
    download: bool = True,
    progress: bool = True,
) -> Path:
    """Path of the verified ratings file: from ``source``, the cache, or a fresh download."""
    root = cache_dir(cache)
    if source is not None:
        return _ratings_from_source(spec, Path(source).expanduser(), root)
    found = _ratings_in_cache(spec, root)
    if found is not None:
        return found
    if not download:
        raise DataError(
            f"{spec.name} is not in the cache {root} and downloading is off. "
            + _manual_fix(spec, root)
        )
    fetched = _download(spec, root, progress)
    if spec.is_archive:
        return _ratings_from_archive(spec, fetched, root, user_file=False)
    _verify_or_pin(spec, fetched, root, user_file=False)
    return fetched


def extract_archive(
    archive: str | os.PathLike,
    root: str | os.PathLike,
    folder: str,
    required: str,
    check: Callable[[Path], None],
    marker: str | None,
) -> Path:
    """Extract a zip or RAR ``archive`` into ``root/folder`` atomically, refusing members outside
    it; ``check`` vets the ``required`` file first, ``marker``: the archive hash (docs/data.md)."""
    archive, root = Path(archive), Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.extract-", dir=root))
    try:
        (_unrar if archive.suffix.lower() == ".rar" else _unzip)(archive, tmp, root / folder)
        tops = [d for d in tmp.iterdir() if d.is_dir()]
        src = next((d for d in (tmp, *tops) if (d / required).is_file()), tmp)
        if not (src / required).is_file():
            raise DataError(
                f"{archive} has no {folder}/{required}; expected the official archive. Delete "
                "it and download it again, or pass the right archive with --source PATH"
            )
        check(src / required)
        if marker is not None:
            with atomic_open(src / MARKER, "w", encoding="utf-8") as fh:
                fh.write(marker + "\n")
        _replace_dir(src, root / folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root / folder


# --- where the ratings file comes from --------------------------------------------------------


def _ratings_from_source(spec: DatasetSpec, source: Path, root: Path) -> Path:
    """A user's archive, folder or ratings file, verified (never modified or deleted)."""
    if not source.exists():
        raise DataError(
            f"--source {source} does not exist; expected the {spec.download_name} archive, "
            f"its extracted {spec.folder}/ folder, or the {spec.ratings_file} file"
        )
    if source.is_dir():
        return _ratings_in_folder(spec, source, root)
    if source.suffix.lower() in _ARCHIVES:
        return _ratings_from_archive(spec, source, root, user_file=True)
    if source.name.lower().endswith(_OTHER_ARCHIVES):
        raise DataError(
            f"--source {source}: only .zip and .rar archives are supported; extract it yourself "
            "and pass the folder or the ratings file"
        )
    _verify_or_pin(spec, source, root, user_file=True)
    return source


def _ratings_in_folder(spec: DatasetSpec, folder: Path, root: Path) -> Path:
    """Ratings inside a user's folder: the extracted folder itself, its parent, or an archive."""
    for candidate in (folder, folder / spec.folder):
        ratings = candidate / spec.ratings_file
        if ratings.is_file():
            _verify_extracted(spec, candidate, ratings, user_file=True, root=root)
            return ratings
    archive = folder / spec.download_name
    if spec.is_archive and archive.is_file():
        return _ratings_from_archive(spec, archive, root, user_file=True)
    raise DataError(
        f"--source {folder} holds no {spec.ratings_file} (looked in {folder} and "
        f"{folder / spec.folder}) and no {spec.download_name}; pass the folder that holds it"
    )


def _ratings_in_cache(spec: DatasetSpec, root: Path) -> Path | None:
    """The verified ratings file from the cache's extracted folder or archive; None if absent."""
    folder = root / spec.folder
    ratings = folder / spec.ratings_file
    archive = root / spec.download_name
    have_archive = spec.is_archive and archive.is_file()
    checkable = spec.ratings_hash is not None or _marker_ok(spec, folder)
    if ratings.is_file() and (checkable or not have_archive):
        _verify_extracted(spec, folder, ratings, user_file=False, root=root)
        return ratings
    if have_archive:  # no folder, or one that cannot be checked: extract the verified archive
        return _ratings_from_archive(spec, archive, root, user_file=False)
    return None


def _ratings_from_archive(spec: DatasetSpec, archive: Path, root: Path, user_file: bool) -> Path:
    """Verify an archive, then reuse its verified extraction in the cache or extract it there."""
    if spec.archive_hash is not None:
        _verify(archive, spec.archive_hash, user_file=user_file)
    ratings = root / spec.folder / spec.ratings_file
    if ratings.is_file() and _extraction_trusted(spec, ratings.parent):
        return ratings

    def check(path: Path) -> None:
        if spec.ratings_hash is not None:
            _verify(path, spec.ratings_hash, user_file=user_file, shown=archive)

    extract_archive(archive, root, spec.folder, spec.ratings_file, check, spec.archive_hash)
    return ratings


def _extraction_trusted(spec: DatasetSpec, folder: Path) -> bool:
    """True when an extracted folder matches the ratings hash or carries the archive's marker."""
    if spec.ratings_hash is not None:
        return _hash_matches(folder / spec.ratings_file, spec.ratings_hash)
    return _marker_ok(spec, folder)


def _verify_extracted(
    spec: DatasetSpec, folder: Path, ratings: Path, user_file: bool, root: Path
) -> None:
    """Check an extracted ratings file by its hash, the archive marker, or (Amazon) the pin."""
    if spec.ratings_hash is not None:
        _verify(ratings, spec.ratings_hash, user_file=user_file, shown=folder)
    elif _marker_ok(spec, folder):
        log.debug("%s: verified by %s", ratings, folder / MARKER)
    elif spec.is_archive:
        log.warning(
            "%s: no checksum is known for %s and the folder was not extracted from a verified "
            "archive here; using it unverified",
            ratings,
            spec.ratings_file,
        )
    else:
        _verify_or_pin(spec, ratings, root, user_file=user_file)


def _marker_ok(spec: DatasetSpec, folder: Path) -> bool:
    marker = folder / MARKER
    if spec.archive_hash is None or not marker.is_file():
        return False
    return marker.read_text(encoding="utf-8").strip().lower() == spec.archive_hash.lower()


def _folder_of(ratings: Path, spec: DatasetSpec) -> Path:
    return ratings.parents[len(Path(spec.ratings_file).parts) - 1]


# --- checksums --------------------------------------------------------------------------------


def _split_hash(expected: str) -> tuple[str, str]:
    """("sha256", hex) from "sha256:<hex>", "md5:<hex>" or a bare sha256 hex."""
    alg, _, digest = expected.rpartition(":")
    return (alg.lower() or "sha256"), digest.lower()


def _file_hash(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_matches(path: Path, expected: str) -> bool:
    alg, digest = _split_hash(expected)
    return _file_hash(path, alg) == digest


def _verify(path: Path, expected: str, user_file: bool, shown: Path | None = None) -> None:
    """ChecksumError naming the file, both hashes and the fix when ``path`` does not match."""
    alg, digest = _split_hash(expected)
    actual = _file_hash(path, alg)
    if actual == digest:
        return
    if user_file:
        fix = (
            f"{shown or path} (your --source) is not the official file or is corrupt; it was left "
            "as it is. Pass the right file with --source PATH, or leave --source out to download it"
        )
    else:
        fix = (
            f"the cached copy is corrupt or from another release: delete {shown or path} and run "
            "again to download it afresh, or pass the right file with --source PATH"
        )
    raise ChecksumError(
        f"checksum mismatch for {path}: expected {alg} {digest}, got {actual}; {fix}"
    )


def _verify_or_pin(spec: DatasetSpec, path: Path, root: Path, user_file: bool) -> None:
    """Verify a ratings file by its known hash or the cache's pin; pin it when neither exists."""
    if spec.ratings_hash is not None:
        _verify(path, spec.ratings_hash, user_file=user_file)
        return
    pin = root / spec.folder / PIN_FILE
    if pin.is_file():
        _verify(path, "sha256:" + pin.read_text(encoding="utf-8").strip(), user_file=user_file)
        return
    digest = file_sha256(path)
    if user_file:
        print(f"{spec.name}: {path} has sha256 {digest} (no published hash)", file=sys.stderr)
        return
    with atomic_open(pin, "w", encoding="utf-8") as fh:
        fh.write(digest + "\n")
    print(
        f"{spec.name}: no published hash; pinned sha256 {digest} of {path} in {pin}",
        file=sys.stderr,
    )


# --- download and extraction ------------------------------------------------------------------


def _download(spec: DatasetSpec, root: Path, progress: bool) -> Path:
    """Fetch the official file with pooch against the pinned hash; DataError when offline."""
    target = root if spec.is_archive else root / spec.folder
    if os.environ.get(OFFLINE_VAR, "0") not in ("", "0"):
        raise DataError(_download_failed(spec, root, RuntimeError(f"${OFFLINE_VAR} is set")))
    try:
        path = pooch.retrieve(
            spec.url,
            known_hash=spec.archive_hash,
            fname=spec.download_name,
            path=target,
            progressbar=progress,
        )
    except ValueError as exc:
        if "hash" in str(exc).lower():
            raise ChecksumError(
                f"the download of {spec.url} does not match its pinned hash {spec.archive_hash} "
                f"({exc}); try again later, or download it yourself and pass --source PATH"
            ) from exc
        raise DataError(_download_failed(spec, root, exc)) from exc
    except Exception as exc:  # requests/urllib3/socket errors all mean "could not download"
        raise DataError(_download_failed(spec, root, exc)) from exc
    return Path(path)


def _download_failed(spec: DatasetSpec, root: Path, exc: Exception) -> str:
    return f"could not download {spec.name} from {spec.url} ({exc}). " + _manual_fix(spec, root)


def _manual_fix(spec: DatasetSpec, root: Path) -> str:
    where = (
        root / spec.download_name if spec.is_archive else root / spec.folder / spec.download_name
    )
    return (
        f"To fix: download {spec.url} by hand and save it as {where}, or pass --source PATH "
        f"(the archive, its extracted {spec.folder}/ folder, or {spec.ratings_file})"
    )


def _unzip(archive: Path, dest: Path, shown: Path) -> None:
    """Extract every member into ``dest`` after checking that none escapes it."""
    base = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = (base / info.filename).resolve()
                if not target.is_relative_to(base):
                    raise DataError(
                        f"{archive}: refusing to extract member {info.filename!r}: it would be "
                        f"written outside {shown}; the archive is not a genuine dataset release"
                    )
            zf.extractall(dest)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DataError(
            f"{archive} is not a valid zip archive (corrupt or truncated: {exc}); delete it and "
            "download it again, or pass a good copy with --source PATH"
        ) from exc


def _unrar(archive: Path, dest: Path, shown: Path) -> None:
    """Extract a RAR archive into ``dest`` with the first of :data:`RAR_TOOLS` on the PATH."""
    tool = next((t for t in RAR_TOOLS if shutil.which(t)), None)
    if tool is None:
        raise DataError(
            f"{archive} is a RAR archive and no program to extract it is installed (looked for "
            f"{', '.join(RAR_TOOLS)}); install one (Debian/Ubuntu: apt-get install "
            "libarchive-tools; conda: conda install -c conda-forge libarchive), or extract it "
            "yourself and pass the folder with --source FOLDER"
        )
    cmd = [w.format(a=archive, d=dest) for w in RAR_TOOLS[tool]]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise DataError(
            f"{tool} could not extract {archive} into {shown} (exit {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[-300:]}); the archive is corrupt or "
            "truncated: delete it and download it again, or pass a good copy with --source PATH"
        )


def _replace_dir(src: Path, dest: Path) -> None:
    """Move ``src`` onto ``dest``; an existing ``dest`` is moved aside first, then removed."""
    if not dest.exists():
        os.replace(src, dest)
        return
    old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(dest, old)
    try:
        os.replace(src, dest)
    except OSError:
        os.replace(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
