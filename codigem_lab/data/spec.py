"""Which data a run uses: :class:`DataSpec`, its command-line flags, and the notebooks'
:func:`resolve_data` (real data wherever it can be had; docs/data.md)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, get_args

import pandas as pd

from codigem_lab.errors import ConfigError, DataError
from codigem_lab.options import Option, argv_for, values_from_args
from codigem_lab.paths import shared_data_dir

log = logging.getLogger(__name__)

Protocol = Literal["strong", "ratio", "temporal", "published"]

SYNTHETIC_BANNER = (
    "synthetic data: numbers mean nothing for MovieLens. Get the real data with "
    "`codigem-lab data fetch ml-100k` (or ml-1m) when online, or put the official archive in "
    "the data cache (data_cache/ or $CODIGEM_LAB_DATA)"
)

#: What each MovieLens name is called in prose.
LABELS = {
    "ml-100k": "MovieLens-100K",
    "ml-1m": "MovieLens-1M",
    "ml-20m": "MovieLens-20M",
    "ml-latest-small": "MovieLens latest-small",
    "amazon-electronics": "Amazon Electronics",
    "synthetic": "synthetic (ML-100K-shaped, generated)",
}
#: A development machine's shared local copies, by registry name: official files (they seed the
#: cache) or, for ML-1M, a csv in official order (read as a ``csv`` source; docs/data.md).
SHARED_OFFICIAL = {"ml-100k": "u.data", "ml-latest-small": "ratings.csv"}
SHARED_CSV = {"ml-1m": "ml-1m/ratings_no_timestamp.csv"}
TITLE_FILES = ("movies.dat", "u.item", "movies.csv")


def _shares(text: str) -> tuple[float, float, float]:
    """``--ratios 0.7,0.2,0.1``: three shares (train, valid, test)."""
    try:
        shares = tuple(float(w) for w in text.split(","))
    except ValueError:
        shares = ()
    if len(shares) != 3:
        raise ValueError(
            f"--ratios takes three comma-separated shares, e.g. 0.7,0.2,0.1; got {text!r}"
        )
    return shares


@dataclass(frozen=True)
class DataSpec:
    """Which data (dataset, source), preprocessed how, split by which protocol and seed."""

    dataset: str = "synthetic"
    source: str | None = None
    preset: str | None = None
    protocol: Protocol = "strong"
    seed: int = 0
    min_rating: float | None = None
    user_core: int | None = None
    item_core: int | None = None
    n_heldout: float | None = None
    cache: str | None = None
    max_users: int | None = None
    ratios: tuple[float, float, float] | None = None

    #: The data flags every sub-command shares (``seed`` is the split seed).
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option(
            "dataset",
            "--dataset",
            str,
            "synthetic",
            "registry name, 'csv', 'synthetic', or 'published' (a split another paper shipped: "
            "--source FOLDER with train/valid/test files, e.g. DiffRec's *_list.npy, or a "
            "registry split's name: --dataset diffrec-ml-1m is --dataset published --source "
            "diffrec-ml-1m)",
        ),
        Option("source", "--source", str, None, "local file, folder or archive to read"),
        Option("preset", "--preset", str, None, "preprocessing: paper-ml1m, multvae or none"),
        Option("min_rating", "--min-rating", float, None, "override the rating threshold"),
        Option("user_core", "--user-core", int, None, "override users' k-core size"),
        Option("item_core", "--item-core", int, None, "override items' k-core size"),
        Option("cache", "--cache", str, None, "data cache folder (default: data_cache/)"),
    )
    SPLIT_OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option(
            "protocol",
            "--protocol",
            str,
            "strong",
            "evaluation protocol: strong (held-out users, as the released code), ratio (each "
            "user's items 8:1:1 at random, the paper's text) or temporal (each user's items by "
            "time, DiffRec's; compare with --recall-definition targets, DiffRec's Recall). "
            "A published dataset's is its own",
            ("strong", "ratio", "temporal", "published"),
        ),
        Option("n_heldout", "--heldout", float, None, "held-out users (count or fraction)"),
        Option(
            "ratios",
            "--ratios",
            _shares,
            None,
            "train,valid,test shares of each user's items for --protocol ratio (default 0.8,0.1,"
            "0.1) or temporal (default 0.7,0.2,0.1, as DiffRec's shipped files; its paper says "
            "7:1:2)",
        ),
    )

    def __post_init__(self) -> None:
        from codigem_lab.data.registry import SPLITS

        if self.dataset in SPLITS:  # a registry split: published, from the registry or --source
            object.__setattr__(self, "source", self.source or self.dataset)
            object.__setattr__(self, "dataset", "published")
        if self.dataset == "published" and self.protocol == "strong":  # the default: not chosen
            object.__setattr__(self, "protocol", "published")
        if self.protocol not in get_args(Protocol) or (self.protocol == "published") != (
            self.dataset == "published"
        ):
            raise ConfigError(
                f"protocol must be 'strong', 'ratio' or 'temporal'; got {self.protocol!r} for "
                f"dataset {self.dataset!r} (strong: held-out users, as the released code; ratio: "
                "the paper's 8:1:1; temporal: by time, DiffRec's; a published split brings its own)"
            )
        if self.n_heldout is not None and self.n_heldout >= 1:
            object.__setattr__(self, "n_heldout", int(self.n_heldout))
        if self.ratios is not None:
            object.__setattr__(self, "ratios", tuple(float(r) for r in self.ratios))
            if self.protocol not in ("ratio", "temporal"):
                raise ConfigError(
                    f"--ratios applies to --protocol ratio or temporal, not {self.protocol!r}"
                )

    @classmethod
    def from_args(cls, args, split: bool = True, **overrides) -> DataSpec:
        """The spec the data flags of a parsed command line describe."""
        opts = cls.OPTIONS + (cls.SPLIT_OPTIONS if split else ())
        return cls(**{**values_from_args(args, opts), **overrides})

    def to_argv(self, split: bool = True) -> list[str]:
        """The data flags that describe this spec (defaults left out)."""
        opts = self.OPTIONS + (self.SPLIT_OPTIONS if split else ())
        return argv_for(dataclasses.asdict(self), opts)

    def _reading(self) -> dict:
        """Where the ratings come from and how they are preprocessed, as keyword arguments."""
        fields = ("source", "preset", "cache", "min_rating", "user_core", "item_core")
        return {f: getattr(self, f) for f in fields}

    def load(self):
        """The prepared (cached on disk) split."""
        from codigem_lab.data.prepare import prepare_split

        extra = {"n_heldout": self.n_heldout, "ratios": self.ratios}
        extra = {k: v for k, v in extra.items() if v is not None}
        return prepare_split(
            self.dataset,
            protocol=self.protocol,
            seed=self.seed,
            max_users=self.max_users,
            **self._reading(),
            **extra,
        )

    def prepare(self, **changes):
        """The split of this data with another split seed / protocol / field (cached on disk)."""
        return dataclasses.replace(self, **changes).load()

    def fingerprint(self) -> str:
        """Hash of the prepared split's content (see :meth:`Split.fingerprint`); memoised."""
        return _fingerprint(self)

    def interactions(self) -> pd.DataFrame:
        """The preprocessed interactions (columns ``user``, ``item``, ``rating``), before splitting."""
        from codigem_lab.data.prepare import load_interactions

        return load_interactions(self.dataset, **self._reading())

    def titles(self) -> pd.Series | None:
        """Item id -> title where the dataset has a titles file on disk (never downloads)."""
        from codigem_lab.data.readers import read_item_titles
        from codigem_lab.data.registry import load_item_titles

        if self.dataset in ("synthetic", "published"):
            return None
        if self.dataset == "csv":
            path = _titles_beside(Path(self.source)) if self.source else None
            return read_item_titles(path) if path else None
        return load_item_titles(self.dataset, source=self.source, cache=self.cache)

    @property
    def is_synthetic(self) -> bool:
        return self.dataset == "synthetic"

    @property
    def name(self) -> str:
        """Short name for file stems: the registry name, or what a csv holds (``ml-1m``)."""
        if self.dataset == "csv" and self.source:
            for name, rel in SHARED_CSV.items():
                if Path(self.source).as_posix().endswith(rel):
                    return name
            return Path(self.source).stem
        if self.dataset == "published" and self.source:
            return Path(self.source).name
        return self.dataset

    @property
    def label(self) -> str:
        """A readable name with the preprocessing, for captions."""
        base = LABELS.get(self.name, self.name)
        if self.dataset == "csv":
            base += f" (local csv {Path(self.source).name})"
        if self.dataset == "published":
            base = f"published split {Path(self.source).name}" if self.source else "published"
        return base + (f", preset {self.preset}" if self.preset else "")

    @property
    def banner(self) -> str | None:
        """The warning every output made from synthetic data carries; None for real data."""
        return SYNTHETIC_BANNER if self.is_synthetic else None


@functools.lru_cache(maxsize=256)
def _fingerprint(spec: DataSpec) -> str:
    return spec.load().fingerprint()


def _titles_beside(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    return next((folder / n for n in TITLE_FILES if (folder / n).is_file()), None)


def seed_cache_from_shared(
    dataset: str, cache: str | None = None, shared: Path | None = None
) -> bool:
    """Copy a development machine's local official files of ``dataset`` into the data cache; True
    when the cache holds them (the registry checks their checksum on reading, as for a download)."""
    from codigem_lab.data.registry import cache_dir, get_spec

    shared = shared_data_dir() if shared is None else shared
    if shared is None or dataset not in SHARED_OFFICIAL:
        return False
    spec = get_spec(dataset)
    src = shared / spec.folder
    if not (src / SHARED_OFFICIAL[dataset]).is_file():
        return False
    dest = cache_dir(cache) / spec.folder
    if (dest / spec.ratings_file).is_file():
        return True
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    tmp.rename(dest)  # whole folder or nothing
    log.info("seeded the data cache with %s from %s", dataset, src)
    return True


def _available(dataset: str, cache: str | None, download: bool, progress: bool) -> bool:
    """Whether the registry can deliver ``dataset`` (cached, or downloaded now)."""
    from codigem_lab.data.registry import get_spec, locate_ratings

    try:
        locate_ratings(get_spec(dataset), cache=cache, download=download, progress=progress)
    except DataError as exc:
        log.info("%s is not available: %s", dataset, exc)
        return False
    return True


def resolve_data(
    dataset: str = "auto",
    source: str | None = None,
    preset: str | None = None,
    quick: bool = False,
    download: bool = True,
    progress: bool = True,
    cache: str | None = None,
    shared: Path | None = None,
    **fields,
) -> DataSpec:
    """A notebook's data as a :class:`DataSpec`: ``"auto"`` is ML-1M (``paper-ml1m``), ML-100K if
    ``quick``; cached, shared or downloaded, else synthetic with its banner (docs/data.md)."""
    if dataset == "auto":
        dataset = "ml-100k" if quick else "ml-1m"
    if preset is None and dataset == "ml-1m":
        preset = "paper-ml1m"
    if dataset in ("synthetic", "csv") or source is not None:
        return DataSpec(dataset, source, preset, cache=cache, **fields)
    if _available(dataset, cache, download=False, progress=False) or (
        seed_cache_from_shared(dataset, cache, shared)
    ):
        return DataSpec(dataset, None, preset, cache=cache, **fields)
    local = _shared_csv(dataset, shared)
    if local is not None:
        return DataSpec("csv", str(local), preset, cache=cache, **fields)
    if download and _available(dataset, cache, download=True, progress=progress):
        return DataSpec(dataset, None, preset, cache=cache, **fields)
    log.warning("%s is not available offline: using the synthetic dataset", dataset)
    return DataSpec("synthetic", cache=cache, **fields)


def _shared_csv(dataset: str, shared: Path | None) -> Path | None:
    shared = shared_data_dir() if shared is None else shared
    if shared is None or dataset not in SHARED_CSV:
        return None
    path = shared / SHARED_CSV[dataset]
    return path if path.is_file() else None
