"""Splits another paper published as files, read as they are (``--dataset published``): DiffRec's
``*_list.npy`` or any train/valid/test tables of (user, item) rows (docs/data.md)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from codigem_lab.data.preprocess import table1_stats
from codigem_lab.data.registry import DATASETS, SPLITS, locate_ratings
from codigem_lab.data.splits import Split, id_codes, per_user_split
from codigem_lab.errors import DataError

#: The file names a published split may use, tried in this order for each part.
PUBLISHED_NAMES = ("{part}_list.npy", "{part}.csv", "{part}.tsv", "{part}.txt")


def split_folder(source: str | os.PathLike, cache: str | os.PathLike | None = None) -> Path:
    """The folder of a published split: ``source`` itself, or, for a registry split's name or its
    archive, the registry's verified extraction in the data cache (downloaded on first use)."""
    if str(source) in SPLITS:
        return locate_ratings(DATASETS[str(source)], cache=cache).parent
    path = Path(source).expanduser()
    spec = next((DATASETS[n] for n in SPLITS if DATASETS[n].download_name == path.name), None)
    if spec is not None and path.is_file():
        return locate_ratings(spec, source=path, cache=cache).parent
    return path


def _read_part(folder: Path, part: str) -> tuple[pd.DataFrame, str]:
    """The (user, item) rows of one part and the name of the file they came from."""
    for pattern in PUBLISHED_NAMES:
        path = folder / pattern.format(part=part)
        if not path.is_file():
            continue
        if path.suffix == ".npy":
            a = np.load(path, allow_pickle=False)
            if a.ndim != 2 or a.shape[1] < 2:
                raise DataError(f"{path}: expected an array of (user, item) rows, got {a.shape}")
            return pd.DataFrame({"user": a[:, 0], "item": a[:, 1]}), path.name
        sep = {".csv": ",", ".tsv": "\t"}.get(path.suffix, r"\s+")
        df = pd.read_csv(path, sep=sep, header=None, usecols=[0, 1], names=["user", "item"])
        df = df.astype(str)
        if len(df) and not df.iloc[0, 0].lstrip("-").isdigit():
            df = df.iloc[1:]  # a header line
        return df, path.name
    tried = ", ".join(p.format(part=part) for p in PUBLISHED_NAMES)
    raise DataError(
        f"{folder} has no {part} file (looked for {tried}); a published split is a folder with "
        "train, valid and test files of (user, item) rows"
    )


def read_published(source: str | os.PathLike) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The (user, item) rows of all three files of the folder ``source``, each row's part (0 train,
    1 valid, 2 test) and the file names read; refuses a pair that appears twice."""
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"{folder} is not a folder; a published split is a folder holding train, valid and "
            "test files (DiffRec: train_list.npy, valid_list.npy, test_list.npy)"
        )
    read = [_read_part(folder, p) for p in ("train", "valid", "test")]
    df = pd.concat([r[0] for r in read], ignore_index=True)
    dup = df.duplicated()
    if dup.any():
        u, i = df[dup].iloc[0]
        raise DataError(
            f"{folder}: the pair (user {u}, item {i}) appears more than once across "
            "train/valid/test; a split puts each interaction in one part"
        )
    part = np.repeat(np.arange(3), [len(r[0]) for r in read])
    return df, part, [r[1] for r in read]


def published_split(source: str | os.PathLike) -> Split:
    """The split shipped as three files of (user, item) rows in the folder ``source``; ids sorted
    over all three files (DiffRec's, already 0..n-1, keep their numbers)."""
    df, part, files = read_published(source)
    users, items, rows, cols = id_codes(df)
    split = per_user_split("published", rows, cols, part, users, items, {"files": files})
    split.stats = table1_stats(df)
    return split
