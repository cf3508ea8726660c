"""DiffRec's published Table 2 (clean training), labelled as that paper's wherever shown: every
number read from a copy of the paper whose address :data:`SOURCES` records, never from memory."""

from __future__ import annotations

import pandas as pd

PAPER = "Wang et al., Diffusion Recommender Model, SIGIR 2023 (arXiv 2304.04971), Table 2"
COLUMNS = ("R@10", "R@20", "N@10", "N@20")
#: The blocks of Table 2 (DiffRec's datasets, clean training).
BLOCKS = ("amazon-book", "yelp", "ml-1m")

#: block -> {model: (R@10, R@20, N@10, N@20)}, every row as printed; a model we run is keyed by its
#: registry name (``multvae``, ``codigem``, ``diffrec``), any other by the paper's name for it.
ROWS: dict[str, dict[str, tuple[float, float, float, float]]] = {}
#: block -> the address of the copy its rows were read from.
SOURCES: dict[str, str] = {}

#: The stored copies searched for the table; none returned more than its opening paragraphs.
SEARCHED = (
    "https://hf-p-cfw.fyan.top/datasets/google/spiqa/resolve/576140b7eed8e63bc200683edb88986ae092b2e3/"
    "SPIQA_train_val_test-A_raw_tex.zip (SPIQA_train_val_test-A_raw_tex/2304.04971v2.txt)",
    "https://hf-p-cfw.fyan.top/datasets/google/spiqa/resolve/main/"
    "SPIQA_train_val_test-A_extracted_paragraphs.zip (2304.04971v2.txt)",
    "https://arxiv.org/html/2304.04971v3",
)
NOT_READ = (
    "DiffRec's Table 2 could not be read here: the stored copies of the paper searched ("
    + "; ".join(SEARCHED)
    + ") return their opening paragraphs only, not the table, so the (DiffRec paper) columns are "
    "left empty rather than filled from memory. To fill them, read Table 2's rows from the paper "
    "into diffrec_paper.ROWS with the address in diffrec_paper.SOURCES."
)


def table2(block: str) -> pd.DataFrame | None:
    """Table 2's ``block`` (rows: models, columns: :data:`COLUMNS`); empty where it was not read,
    None for a block the table does not have."""
    if block not in BLOCKS:
        return None
    return pd.DataFrame(ROWS.get(block, {}), index=list(COLUMNS), dtype=float).T


def source_note(block: str) -> str:
    """Where ``block``'s rows were read, or why they are missing."""
    if block not in SOURCES:
        return NOT_READ
    return (
        f"(DiffRec paper) columns: {PAPER}, {block} block, as printed there, read from "
        f"{SOURCES[block]}."
    )
