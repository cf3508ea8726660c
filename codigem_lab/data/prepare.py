"""From a dataset name to a cached ``Split``: load, preprocess, split, store under
``<cache>/prepared/`` (keyed by dataset, source, preprocessing, protocol and seed)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from codigem_lab._io import atomic_path
from codigem_lab.data import synthetic
from codigem_lab.data.preprocess import Preprocessing, get_preset, preprocess, table1_stats
from codigem_lab.data.published import published_split, read_published, split_folder
from codigem_lab.data.registry import cache_dir, load_ratings
from codigem_lab.data.splits import PER_USER, EvalSet, Split, make_split
from codigem_lab.errors import ConfigError

log = logging.getLogger(__name__)

CACHE_VERSION = 1
DEFAULT_PRESETS = {"ml-1m": "paper-ml1m", "ml-20m": "multvae"}


def default_preset(dataset: str) -> str:
    """The preprocessing a dataset gets when none is named (the paper's, where it has one)."""
    return DEFAULT_PRESETS.get(dataset, "none")


def load_interactions(
    dataset: str = "synthetic",
    source: str | os.PathLike | None = None,
    preset: str | Preprocessing | None = None,
    cache: str | os.PathLike | None = None,
    synthetic_config: synthetic.SyntheticConfig | None = None,
    **overrides,
) -> pd.DataFrame:
    """Raw ratings of a dataset, preprocessed by a preset (columns ``user``, ``item``, ...)."""
    if dataset == "synthetic":
        if source is not None:
            raise ConfigError("--source is for files on disk; the synthetic dataset has none")
        ratings = synthetic.generate(synthetic_config)
    elif dataset == "published":
        _check_published(source, preset, overrides)
        return read_published(split_folder(source, cache))[0]
    else:
        ratings = load_ratings(dataset, source=source, cache=cache)
    return preprocess(
        ratings, preset if preset is not None else default_preset(dataset), **overrides
    )


def subsample_users(df: pd.DataFrame, max_users: int, seed: int = 0) -> pd.DataFrame:
    """Keep a seeded random subset of at most ``max_users`` users (all their interactions)."""
    if max_users < 10:
        raise ConfigError(
            f"max_users must be >= 10 to leave validation and test users, got {max_users}"
        )
    users = df["user"].unique()
    if len(users) <= max_users:
        return df
    keep = np.random.default_rng(seed).choice(users, max_users, replace=False)
    return df[df["user"].isin(keep)].reset_index(drop=True)


def _check_published(source, preset, options: dict) -> None:
    """A published split is read as it is: it needs its folder and takes no other option."""
    if source is None:
        raise ConfigError(
            "dataset 'published' needs the split's folder: pass --source FOLDER (DiffRec's "
            "train_list.npy / valid_list.npy / test_list.npy, or train / valid / test files)"
        )
    given = sorted(k for k, v in dict(options, preset=preset).items() if v not in (None, "none"))
    if given:
        raise ConfigError(
            f"a published split is read as it is, with its own preprocessing and protocol: "
            f"{given} do not apply; leave them out"
        )


def _fingerprint(source: str | os.PathLike | None) -> str | None:
    """The source path with its size and time, and those of the files in it when it is a folder."""
    if source is None:
        return None
    p = Path(source).resolve()
    if not p.exists():
        return str(p)
    files = [p, *sorted(f for f in p.iterdir() if f.is_file())] if p.is_dir() else [p]
    out = [f"{f.name if f != p else f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    return "|".join(out)


def split_key(
    dataset, source, prep: Preprocessing, protocol, seed, split_kwargs, synthetic_config
) -> str:
    """Stable hash naming a prepared split's cache entry."""
    payload = {
        "v": CACHE_VERSION,
        "dataset": dataset,
        "source": _fingerprint(source),
        "prep": prep.to_dict(),
        "protocol": protocol,
        "seed": seed,
        "split": split_kwargs,
        "synthetic": (synthetic_config or synthetic.SyntheticConfig()).__dict__
        if dataset == "synthetic"
        else None,
    }
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_split(
    dataset: str = "synthetic",
    source: str | os.PathLike | None = None,
    preset: str | Preprocessing | None = None,
    protocol: str = "strong",
    seed: int = 0,
    cache: str | os.PathLike | None = None,
    use_cache: bool = True,
    synthetic_config: synthetic.SyntheticConfig | None = None,
    min_rating: float | None = None,
    user_core: int | None = None,
    item_core: int | None = None,
    max_users: int | None = None,
    **split_kwargs,
) -> Split:
    """Load, preprocess and split a dataset, reusing the on-disk cache when it holds this split;
    ``max_users`` keeps a seeded random subset of users; ``published`` reads ``source``."""
    published = dataset == "published"
    if published:
        if protocol not in ("strong", "published"):  # "strong": the default, not a choice
            raise ConfigError(
                f"a published split brings its own protocol; --protocol {protocol} does not apply"
            )
        overrides = dict(min_rating=min_rating, user_core=user_core, item_core=item_core)
        _check_published(source, preset, dict(overrides, max_users=max_users, **split_kwargs))
        source = split_folder(source, cache)  # a registry split's name: its extracted folder
        protocol, seed = "published", 0  # nothing is drawn: every split seed is the same split
    prep = get_preset(
        preset if preset is not None else default_preset(dataset),
        min_rating=min_rating,
        user_core=user_core,
        item_core=item_core,
    )
    key_kwargs = dict(split_kwargs, max_users=max_users) if max_users else split_kwargs
    key = split_key(dataset, source, prep, protocol, seed, key_kwargs, synthetic_config)
    path = cache_dir(cache) / "prepared" / f"{dataset}-{prep.name}-{protocol}-s{seed}-{key}.npz"
    if use_cache and path.exists():
        try:
            return load_split(path)
        except Exception as exc:  # a corrupt entry is reported and rebuilt, never trusted
            log.warning("cached split %s is unreadable (%s); rebuilding it", path, exc)
    if published:
        split = published_split(source)
    else:
        df = load_interactions(dataset, source, prep, cache, synthetic_config)
        if max_users is not None:
            df = subsample_users(df, max_users, seed)
        split = make_split(df, protocol=protocol, seed=seed, **split_kwargs)
        split.stats = table1_stats(df)
    split.meta.update(
        dataset=dataset,
        source=None if source is None else str(source),
        preset=prep.name,
        preprocessing=prep.describe(),
    )
    if use_cache:
        save_split(split, path)
        split.meta["cache_path"] = str(path)
    return split


def _put_csr(arrays: dict, name: str, m: sp.csr_matrix) -> None:
    arrays[f"{name}.indptr"] = m.indptr
    arrays[f"{name}.indices"] = m.indices
    arrays[f"{name}.shape"] = np.asarray(m.shape)


def _get_csr(z, name: str) -> sp.csr_matrix:
    indices = z[f"{name}.indices"]
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, indices, z[f"{name}.indptr"]), shape=tuple(z[f"{name}.shape"]))


def _ids(a: np.ndarray) -> np.ndarray:
    return a if a.dtype.kind in "iuf" else a.astype(str)


def save_split(split: Split, path: str | os.PathLike) -> None:
    """Write a split to one ``.npz`` file, atomically."""
    arrays: dict[str, np.ndarray] = {
        "train_users": _ids(split.train_users),
        "items": _ids(split.items),
        "json": np.asarray(
            json.dumps({"protocol": split.protocol, "stats": split.stats, "meta": split.meta})
        ),
    }
    _put_csr(arrays, "train", split.train)
    for part in ("valid", "test"):
        es: EvalSet = getattr(split, part)
        for name in ("fold_in", "target", "mask"):
            _put_csr(arrays, f"{part}.{name}", getattr(es, name))
        arrays[f"{part}.users"] = _ids(es.users)
        if es.train_rows is not None:
            arrays[f"{part}.train_rows"] = es.train_rows
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_split(path: str | os.PathLike) -> Split:
    """Read a split written by :func:`save_split`."""
    with np.load(path, allow_pickle=False) as z:
        info = json.loads(str(z["json"]))
        parts = {}
        for part in ("valid", "test"):
            fold_in = _get_csr(z, f"{part}.fold_in")
            mask = _get_csr(z, f"{part}.mask")
            parts[part] = EvalSet(
                fold_in=fold_in,
                target=_get_csr(z, f"{part}.target"),
                mask=fold_in if (mask != fold_in).nnz == 0 else mask,
                users=z[f"{part}.users"],
                train_rows=z[f"{part}.train_rows"] if f"{part}.train_rows" in z else None,
            )
        train = _get_csr(z, "train")
        if info["protocol"] in PER_USER:
            for es in parts.values():
                es.fold_in = train
            if (parts["valid"].mask != train).nnz == 0:
                parts["valid"].mask = train
        meta = dict(info["meta"], cache_path=str(path))
        return Split(
            protocol=info["protocol"],
            train=train,
            valid=parts["valid"],
            test=parts["test"],
            train_users=z["train_users"],
            items=z["items"],
            stats=info["stats"],
            meta=meta,
        )
