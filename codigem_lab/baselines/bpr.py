"""BPR-MF (Rendle, Freudenthaler, Gantner & Schmidt-Thieme, UAI 2009): BPR-Opt (Sec. 4.1) on sampled
(user, observed item, unobserved item) triples; defaults and their sources in docs/baselines.md."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from codigem_lab.baselines.factors import (
    UserFactorModule,
    gather_entries,
    gather_rows,
    gradient_fold_in,
    positive_pairs,
    sample_negatives,
)
from codigem_lab.neural import NeuralRecommender
from codigem_lab.validate import check_range


@dataclass(frozen=True)
class BPRConfig:
    """BPR-MF hyper-parameters; a held-out user's factors get ``fold_in_steps`` Adam steps, its
    negatives seeded by ``seed``."""

    factors: int = 64
    reg: float = 1e-3
    init_std: float = 0.1
    fold_in_steps: int = 100
    fold_in_lr: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        check_range("factors", self.factors, 1)
        check_range("reg", self.reg, 0.0)
        check_range("init_std", self.init_std, 0.0, open_low=True)
        check_range("fold_in_steps", self.fold_in_steps, 1)
        check_range("fold_in_lr", self.fold_in_lr, 0.0, open_low=True)


class BPRModule(UserFactorModule):
    """User and item factor tables; the loss draws one negative per observed pair of the batch."""

    def __init__(self, n_users: int, n_items: int, config: BPRConfig) -> None:
        super().__init__()
        self.config = config
        self.user = torch.nn.Parameter(torch.randn(n_users, config.factors) * config.init_std)
        self.item = torch.nn.Parameter(torch.randn(n_items, config.factors) * config.init_std)

    def _bpr_loss(
        self,
        p: torch.Tensor,
        q: torch.Tensor,
        x: torch.Tensor,
        pairs: tuple[torch.Tensor, torch.Tensor],
        generator: torch.Generator | None = None,
        item_reg: bool = True,
    ) -> tuple[torch.Tensor, int]:
        """Summed BPR-Opt over the observed ``pairs`` of ``x``, one fresh negative each; #triples.
        Scores: one dense ``p @ q.T``; L2 terms from how often each row occurs."""
        u, i = pairs
        j = sample_negatives(x, u, generator)
        s = p @ q.T
        x_uij = gather_entries(s, u, i) - gather_entries(s, u, j)
        n_u = torch.bincount(u, minlength=p.shape[0]).to(p.dtype)
        reg = (n_u * p.square().sum(1)).sum()
        if item_reg:
            n_i = torch.bincount(torch.cat([i, j]), minlength=q.shape[0]).to(q.dtype)
            reg = reg + (n_i * q.square().sum(1)).sum()
        return F.softplus(-x_uij).sum() + self.config.reg * reg, len(u)

    def loss(self, x: torch.Tensor, step: int, rows) -> tuple[torch.Tensor, dict[str, float]]:
        p = gather_rows(self.user, torch.as_tensor(rows, dtype=torch.long, device=x.device))
        total, n = self._bpr_loss(p, self.item, x, positive_pairs(x))
        # a mean over the batch's users (the trainer's convention), and the mean per triple
        return total / len(rows), {"loss_per_triple": float(total.detach()) / max(n, 1)}

    def user_params(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"p": gather_rows(self.user, rows)}

    def fold_in(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pairs = positive_pairs(x)

        def loss(params, gen):
            return self._bpr_loss(params["p"], self.item, x, pairs, gen, item_reg=False)[0]

        c = self.config
        return gradient_fold_in(
            x.shape[0], {"p": c.factors}, loss, c.fold_in_steps, c.fold_in_lr, c.seed, x.device
        )

    def predict(self, users: dict[str, torch.Tensor]) -> torch.Tensor:
        return users["p"] @ self.item.T


class BPR(NeuralRecommender):
    """BPR-MF on batches of training users, each observed pair with one unobserved item (LearnBPR,
    Sec. 4.2, user-batched); held-out users are folded in by gradient steps."""

    name = "bpr"
    config_class = BPRConfig
    paper_train = {"optimizer": "adam", "lr": 1e-2}

    def build(self, split) -> BPRModule:
        return BPRModule(split.n_train_users, split.n_items, self.config)
