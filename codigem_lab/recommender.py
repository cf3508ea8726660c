"""One interface for every recommender: ``fit(split)``, then dense, unmasked ``score(fold_in)``."""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch


class Recommender(abc.ABC):
    """Base class: subclasses set ``name`` and implement ``fit`` and ``score``."""

    name: ClassVar[str] = "recommender"
    #: dataclass of the model's hyper-parameters (None: the model has none)
    config_class: ClassVar[type | None] = None

    @classmethod
    def from_params(cls, params: dict, train_config=None, run_dir=None, variant=None):
        """Build from plain hyper-parameters (the CLI's and the result cache's form)."""
        if cls.config_class is None:
            if params:
                raise TypeError(f"{cls.name} takes no parameters, got {sorted(params)}")
            return cls()
        return cls(cls.config_class(**params))

    @abc.abstractmethod
    def fit(self, split, progress: bool = True) -> Recommender:
        """Learn from ``split.train`` (and use ``split.valid`` for early stopping where relevant)."""

    @abc.abstractmethod
    def score(
        self, fold_in: sp.csr_matrix, train_rows: np.ndarray | None = None
    ) -> np.ndarray | torch.Tensor:
        """Dense scores [n_rows, n_items] for the fold-in rows; higher ranks first. ``train_rows``:
        the users' training rows under ``ratio``, for models with user embeddings."""

    @staticmethod
    def _fitted(state):
        """``state`` (what ``fit`` made), or the error for a model used before ``fit``."""
        if state is None:
            raise RuntimeError("call fit(split) before using the model")
        return state

    def recommend(self, fold_in: sp.csr_matrix, n: int = 10, train_rows=None) -> np.ndarray:
        """Top-``n`` item columns per row, fold-in items excluded."""
        scores = torch.as_tensor(self.score(fold_in, train_rows)).float()
        mask = torch.from_numpy(fold_in.toarray() > 0)
        scores = scores.masked_fill(mask, float("-inf"))
        return torch.topk(scores, min(n, scores.shape[1]), dim=1).indices.numpy()
