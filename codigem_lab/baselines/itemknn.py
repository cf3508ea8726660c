"""Item-KNN (Deshpande & Karypis 2004): cosine item-item similarity, top-k neighbours, shrinkage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from codigem_lab.errors import ConfigError
from codigem_lab.recommender import Recommender


@dataclass(frozen=True)
class ItemKNNConfig:
    """``k`` neighbours kept per item; ``shrink`` damps similarities built on few co-occurrences."""

    k: int = 100
    shrink: float = 0.0
    block: int = 2048

    def __post_init__(self) -> None:
        if self.k < 1 or self.shrink < 0:
            raise ConfigError(f"ItemKNN needs k >= 1 and shrink >= 0 (got {self.k}, {self.shrink})")


class ItemKNN(Recommender):
    """score(u, j) = sum over the user's items i of sim(i, j), with sim kept for top-k i per j."""

    name = "itemknn"
    config_class = ItemKNNConfig

    def __init__(self, config: ItemKNNConfig | None = None) -> None:
        self.config = config or ItemKNNConfig()
        self.sim: sp.csr_matrix | None = None

    def fit(self, split, progress: bool = True) -> ItemKNN:
        x = split.train.astype(np.float32).tocsc()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(0)).ravel())
        xt = x.T.tocsr()
        n = x.shape[1]
        k = min(self.config.k, n - 1) if n > 1 else 1
        rows, cols, vals = [], [], []
        for start in range(0, n, self.config.block):
            stop = min(start + self.config.block, n)
            co = torch.from_numpy((xt @ x[:, start:stop]).toarray())  # [n, block]
            denom = torch.from_numpy(
                np.outer(norms, norms[start:stop]) + self.config.shrink + 1e-12
            )
            sim = (co / denom).float()
            sim[torch.arange(start, stop), torch.arange(stop - start)] = 0.0  # no self-similarity
            top = torch.topk(sim, k, dim=0)
            rows.append(top.indices.numpy().ravel(order="F"))
            cols.append(np.repeat(np.arange(start, stop), k))
            vals.append(top.values.numpy().ravel(order="F"))
        self.sim = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )
        return self

    def score(self, fold_in: sp.csr_matrix, train_rows=None) -> np.ndarray:
        return np.asarray((fold_in @ self._fitted(self.sim)).todense(), dtype=np.float32)
