"""EASE (Steck, WWW 2019): a closed-form item-item matrix ``B`` with a zero diagonal (eq. 8); a
user's scores are ``x_u B``, so held-out users need no fold-in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from codigem_lab.neural import resolve_config
from codigem_lab.recommender import Recommender
from codigem_lab.validate import check_range


@dataclass(frozen=True)
class EASEConfig:
    """``lam``: the L2 weight lambda (Steck's value for ML-20M-scale data)."""

    lam: float = 500.0

    def __post_init__(self) -> None:
        check_range("lam", self.lam, 0.0, open_low=True)


class EASE(Recommender):
    """Closed-form item-item model; ``score = X_fold_in @ B`` (same rule for both protocols)."""

    name = "ease"
    config_class = EASEConfig

    def __init__(self, config: EASEConfig | None = None) -> None:
        self.config = resolve_config(self.name, EASEConfig, config)
        self.B: torch.Tensor | None = None

    def fit(self, split, progress: bool = True) -> EASE:
        x = split.train.astype(np.float64)
        gram = torch.from_numpy((x.T @ x).toarray())
        gram.diagonal().add_(self.config.lam)
        p = torch.cholesky_inverse(torch.linalg.cholesky(gram))  # G is symmetric positive definite
        b = -p / torch.diagonal(p)[None, :]
        b.fill_diagonal_(0.0)
        self.B = b.float()
        return self

    def score(self, fold_in: sp.csr_matrix, train_rows=None) -> np.ndarray:
        return np.asarray(fold_in.astype(np.float32) @ self._fitted(self.B).numpy())
