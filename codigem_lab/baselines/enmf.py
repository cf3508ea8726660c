"""ENMF (Chen, Zhang, Zhang, Liu & Ma, TOIS 2020, "Efficient Neural Matrix Factorization without
Sampling for Recommendation"), user-based variant.

Prediction ``y_uv = h^T (p_u * q_v)``, trained on the whole data with weight ``c+ = 1`` on
observed pairs and ``c0`` on all others. For a batch B of users the paper's efficient
whole-data loss is (the constant dropped)

    L = sum_{u in B} sum_{v in V_u+} ((1 - c0) y_uv^2 - 2 y_uv)
        + c0 sum_{d, d'} (sum_{u in B} p_ud p_ud') (sum_v q_vd q_vd') h_d h_d'

where the k x k Gram form of the second term avoids a sum over every (user, item) pair.
Dropout on ``p_u`` regularises. (The trainer hands over a dense batch anyway, so the observed
predictions come from one dense [B, n_items] product, which is cheap at these sizes.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codigem_lab.baselines.factors import UserFactorModule, gather_rows, implicit_user_solve
from codigem_lab.neural import NeuralRecommender
from codigem_lab.validate import check_range


@dataclass(frozen=True)
class ENMFConfig:
    """ENMF hyper-parameters, defaults from the authors' released code (chenchongthu/ENMF).

    ``factors`` 64 (``embed_size``), ``c0`` 0.1 (``negative_weight``, the weight of every
    unobserved pair; the paper tunes it per data set), ``dropout`` 0.3 (keep probability 0.7),
    ``init_std`` 0.01 for the embeddings (truncated normal in the code, plain normal here) and
    ``h`` initialised to 0.01, no L2 penalty
    (``lambda_bilinear = 0``). ``ridge`` is a tiny L2 term that only keeps the fold-in solve
    well-posed.
    """

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
    """User-based ENMF trained by the shared trainer on batches of training users (as the
    authors' code does, 256 users a batch there, 200 here).

    Default optimiser Adam, lr 1e-2 (``paper_train``, ours; the released code uses Adagrad, lr 0.05,
    which the shared trainer does not offer; at its Adamax 1e-3 the user rows, updated once per
    epoch, barely move).

    Fold-in (``strong`` protocol) is exact, not gradient steps: ENMF's loss is quadratic in
    ``p_u * h`` with the items fixed, so a held-out user's vector is one weighted least-squares
    solve (c+ = 1, c- = c0, as in WMF's user step) of the expected loss under training's dropout.
    Under ``ratio`` the learned ``p_u`` of the training user is used. Dropout is off at scoring.
    """

    name = "enmf"
    config_class = ENMFConfig
    paper_train = {"optimizer": "adam", "lr": 1e-2}

    def build(self, split) -> ENMFModule:
        return ENMFModule(split.n_train_users, split.n_items, self.config)
