"""ENMF (Chen et al., TOIS 2020), user-based: ``y_uv = h^T (p_u * q_v)`` trained on the whole data by
the paper's efficient Gram-form loss; defaults and their sources in docs/baselines.md."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codigem_lab.baselines.factors import UserFactorModule, gather_rows, implicit_user_solve
from codigem_lab.neural import NeuralRecommender
from codigem_lab.validate import check_range


@dataclass(frozen=True)
class ENMFConfig:
    """ENMF settings: ``c0`` weighs every unobserved pair; ``ridge`` keeps fold-in well-posed."""

    factors: int = 64
    c0: float = 0.1
    dropout: float = 0.3
    init_std: float = 0.01
    ridge: float = 1e-6

    def __post_init__(self) -> None:
        check_range("factors", self.factors, 1)
        check_range("c0", self.c0, 0.0, 1.0, open_low=True)
        check_range("dropout", self.dropout, 0.0, 0.95)
        check_range("init_std", self.init_std, 0.0, open_low=True)
        check_range("ridge", self.ridge, 0.0)


class ENMFModule(UserFactorModule):
    """User and item embeddings and the prediction vector ``h``; the efficient whole-data loss."""

    def __init__(self, n_users: int, n_items: int, config: ENMFConfig) -> None:
        super().__init__()
        self.config = config
        k = config.factors
        self.user = torch.nn.Parameter(torch.randn(n_users, k) * config.init_std)
        self.item = torch.nn.Parameter(torch.randn(n_items, k) * config.init_std)
        self.h = torch.nn.Parameter(torch.full((k,), 0.01))
        self.drop = torch.nn.Dropout(config.dropout)

    def loss(self, x: torch.Tensor, step: int, rows) -> tuple[torch.Tensor, dict[str, float]]:
        c0 = self.config.c0
        r = torch.as_tensor(rows, dtype=torch.long, device=x.device)
        p = self.drop(gather_rows(self.user, r))
        y = (p * self.h) @ self.item.T  # all predictions of the batch; only observed ones used
        observed = (x * ((1.0 - c0) * y.square() - 2.0 * y)).sum()
        whole = c0 * ((p.T @ p) * (self.item.T @ self.item) * torch.outer(self.h, self.h)).sum()
        n = len(rows)
        terms = {"observed": float(observed.detach()) / n, "whole": float(whole.detach()) / n}
        return (observed + whole) / n, terms

    def user_params(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"ph": gather_rows(self.user, rows) * self.h}

    def fold_in(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        # The loss is quadratic in p_u * h: weighted least squares with c+ = 1, c- = c0, and the
        # expected inverted-dropout penalty dropout / (1 - dropout) * sum_d ph_d^2 M_u,dd.
        c = self.config
        ph = implicit_user_solve(
            x,
            self.item,
            c_neg=c.c0,
            c_pos=1.0,
            reg=c.ridge,
            rel_reg=c.dropout / (1.0 - c.dropout),
        )
        return {"ph": ph}

    def predict(self, users: dict[str, torch.Tensor]) -> torch.Tensor:
        return users["ph"] @ self.item.T


class ENMF(NeuralRecommender):
    """User-based ENMF on batches of training users; fold-in is exact (one least-squares solve)."""

    name = "enmf"
    config_class = ENMFConfig
    paper_train = {"optimizer": "adam", "lr": 1e-2}

    def build(self, split) -> ENMFModule:
        return ENMFModule(split.n_train_users, split.n_items, self.config)
