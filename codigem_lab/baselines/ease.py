"""EASE (Steck, WWW 2019, "Embarrassingly Shallow Autoencoders for Sparse Data").

An item-item weight matrix ``B`` with a zero diagonal, fitted in closed form (Steck, eq. 8):
``G = X^T X + lambda I``, ``P = G^-1``, ``B_ij = -P_ij / P_jj`` (i != j), ``B_jj = 0``.
A user's scores are ``x_u B``, so held-out users need no fold-in: ``B`` applies to any row.
"""

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
    """``lam``: the L2 weight lambda; 500 is Steck's value for ML-20M-scale data (his Sec. 4
    reports lambda between 200 and 1000 on the three data sets) and a good ML-1M value too."""

    lam: float = 500.0

    def __post_init__(self) -> None:
        check_range("lam", self.lam, 0.0, open_low=True)


class EASE(Recommender):
    """Closed-form item-item model; ``score = X_fold_in @ B`` (same rule for both protocols).

    The zero diagonal keeps an item from predicting itself, but a user's own items still score
    high through their co-occurring items; the evaluator, not the model, masks them.
    """

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
        if self.B is None:
            raise RuntimeError("call fit(split) before score()")
        return np.asarray(fold_in.astype(np.float32) @ self.B.numpy())
