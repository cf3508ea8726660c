"""Split fingerprints key the result cache: these pinned values must never change."""

import pytest

from codigem_lab.data import prepare_split
from tests.conftest import shared_file

PINNED = [
    ("synthetic", None, "strong", "6cf3d289e632f01d"),
    ("synthetic", None, "ratio", "f8ccf01de973cc9c"),
    ("ml-100k", "paper-ml1m", "strong", "58ff630f72999873"),
    ("ml-100k", "paper-ml1m", "ratio", "8c0cd2f33b22fc50"),
]


@pytest.mark.parametrize(("dataset", "preset", "protocol", "expected"), PINNED)
def test_split_fingerprint_is_pinned(dataset, preset, protocol, expected):
    source = None if dataset == "synthetic" else str(shared_file(dataset))
    split = prepare_split(
        dataset, source=source, preset=preset, protocol=protocol, seed=0, use_cache=False
    )
    assert split.fingerprint() == expected


def test_temporal_and_published_fingerprints_are_pinned():
    from codigem_lab.data import load_ratings, preprocess
    from codigem_lab.data.published import published_split
    from codigem_lab.data.splits import temporal_split

    ratings = load_ratings("ml-100k", source=shared_file("ml-100k"))
    df = preprocess(ratings, "paper-ml1m")
    assert temporal_split(df).fingerprint() == "a43ffc57788718fb"
    assert temporal_split(df, (0.6, 0.2, 0.2)).fingerprint() == "bfa359ea8e78bdd6"
    assert published_split(shared_file("diffrec-ml-1m_clean")).fingerprint() == "837f155aced644e1"
