"""The paper's baselines and stronger ones, all behind the ``Recommender`` interface."""

from codigem_lab.baselines.itemknn import ItemKNN, ItemKNNConfig
from codigem_lab.baselines.pop import Pop

__all__ = ["ItemKNN", "ItemKNNConfig", "Pop"]
