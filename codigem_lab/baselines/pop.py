"""Pop: rank items by how many training users interacted with them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from codigem_lab.recommender import Recommender


class Pop(Recommender):
    """Most-popular items first, the same list for everyone (the paper's weakest baseline)."""

    name = "pop"

    def __init__(self) -> None:
        self.counts: torch.Tensor | None = None

    def fit(self, split, progress: bool = True) -> Pop:
        self.counts = torch.from_numpy(np.asarray(split.train.sum(0)).ravel().astype(np.float32))
        return self

    def score(self, fold_in: sp.csr_matrix, train_rows=None) -> torch.Tensor:
        return self._fitted(self.counts).expand(fold_in.shape[0], -1)
