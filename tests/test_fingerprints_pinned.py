"""Split fingerprints key the result cache: these pinned values must never change."""

import pytest

from codigem_lab.data import prepare_split
from codigem_lab.data.registry import DATASETS, locate_ratings
from codigem_lab.errors import DataError

PINNED = [
    ("synthetic", None, "strong", "6cf3d289e632f01d"),
    ("synthetic", None, "ratio", "f8ccf01de973cc9c"),
    ("ml-100k", "paper-ml1m", "strong", "58ff630f72999873"),
    ("ml-100k", "paper-ml1m", "ratio", "8c0cd2f33b22fc50"),
]


def _have(dataset: str) -> bool:
    if dataset == "synthetic":
        return True
    try:
        locate_ratings(DATASETS[dataset], download=False, progress=False)
    except DataError:
        return False
    return True


@pytest.mark.parametrize(("dataset", "preset", "protocol", "expected"), PINNED)
def test_split_fingerprint_is_pinned(dataset, preset, protocol, expected):
    if not _have(dataset):
        pytest.skip(f"{dataset} is not in the data cache")
    split = prepare_split(dataset, preset=preset, protocol=protocol, seed=0, use_cache=False)
    assert split.fingerprint() == expected
