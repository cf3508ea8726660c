"""Datasets: registry and download, readers, the paper's preprocessing, protocols, split cache."""

from codigem_lab.data.prepare import (
    default_preset,
    load_interactions,
    load_split,
    prepare_split,
    save_split,
)
from codigem_lab.data.preprocess import PRESETS, Preprocessing, get_preset, preprocess, table1_stats
from codigem_lab.data.registry import DATASETS, cache_dir, load_item_titles, load_ratings
from codigem_lab.data.spec import SYNTHETIC_BANNER, DataSpec, resolve_data
from codigem_lab.data.splits import PROTOCOLS, EvalSet, Split, make_split
from codigem_lab.data.synthetic import SyntheticConfig, ml20m_shape

__all__ = [
    "DATASETS",
    "DataSpec",
    "SYNTHETIC_BANNER",
    "PRESETS",
    "PROTOCOLS",
    "EvalSet",
    "Preprocessing",
    "Split",
    "SyntheticConfig",
    "cache_dir",
    "default_preset",
    "get_preset",
    "load_interactions",
    "load_item_titles",
    "load_ratings",
    "load_split",
    "make_split",
    "ml20m_shape",
    "prepare_split",
    "resolve_data",
    "preprocess",
    "save_split",
    "table1_stats",
]
