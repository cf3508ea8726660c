"""NeuMF (He et al., WWW 2017): GMF and MLP towers fused by one output layer (Sec. 3.4, eq. 11),
BCE with sampled negatives (eq. 7); defaults and their sources in docs/baselines.md."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from codigem_lab.baselines.factors import (
    UserFactorModule,
    gather_rows,
    gradient_fold_in,
    positive_pairs,
    sample_negatives,
)
from codigem_lab.errors import ConfigError
from codigem_lab.neural import NeuralRecommender
from codigem_lab.validate import check_range


@dataclass(frozen=True)
class NeuMFConfig:
    """NeuMF hyper-parameters; ``layers[0]`` is the user and item MLP embeddings side by side, and
    fold-in draws ``fold_in_negatives`` per positive, weighted to ``n_negatives``."""

    gmf_factors: int = 8
    layers: tuple[int, ...] = (64, 32, 16, 8)
    n_negatives: int = 4
    reg: float = 0.0
    init_std: float = 0.01
    fold_in_steps: int = 50
    fold_in_lr: float = 0.03
    fold_in_negatives: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(int(v) for v in self.layers))
        check_range("gmf_factors", self.gmf_factors, 1)
        if len(self.layers) < 2 or any(v < 1 for v in self.layers) or self.layers[0] % 2:
            raise ConfigError(
                "layers must list >= 2 positive widths, the first even (it is the user and item "
                f"MLP embeddings side by side), got {self.layers}"
            )
        check_range("n_negatives", self.n_negatives, 1)
        check_range("reg", self.reg, 0.0)
        check_range("init_std", self.init_std, 0.0, open_low=True)
        check_range("fold_in_steps", self.fold_in_steps, 1)
        check_range("fold_in_lr", self.fold_in_lr, 0.0, open_low=True)
        check_range("fold_in_negatives", self.fold_in_negatives, 1)


class NeuMFModule(UserFactorModule):
    """GMF and MLP embeddings, the MLP tower and the fusing output layer; the first MLP layer is
    split into a user part and an item part, computed once each and added per pair."""

    def __init__(self, n_users: int, n_items: int, config: NeuMFConfig) -> None:
        super().__init__()
        self.config = config
        f, e, std = config.gmf_factors, config.layers[0] // 2, config.init_std
        self.user_gmf = torch.nn.Parameter(torch.randn(n_users, f) * std)
        self.item_gmf = torch.nn.Parameter(torch.randn(n_items, f) * std)
        self.user_mlp = torch.nn.Parameter(torch.randn(n_users, e) * std)
        self.item_mlp = torch.nn.Parameter(torch.randn(n_items, e) * std)
        widths = config.layers
        self.mlp = torch.nn.ModuleList(
            torch.nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.out = torch.nn.Linear(f + widths[-1], 1)
        for layer in [*self.mlp, self.out]:
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)

    def _user_part(self, pm: torch.Tensor) -> torch.Tensor:
        """``a``: the user half of the first MLP layer (with its bias), one row per user."""
        e = self.config.layers[0] // 2
        return pm @ self.mlp[0].weight[:, :e].T + self.mlp[0].bias

    def _item_part(self) -> torch.Tensor:
        """``b``: the item half of the first MLP layer, one row per item."""
        e = self.config.layers[0] // 2
        return self.item_mlp @ self.mlp[0].weight[:, e:].T

    def _tower_rest(self, h: torch.Tensor) -> torch.Tensor:
        h = F.relu(h)
        for layer in self.mlp[1:]:
            h = F.relu(layer(h))
        return h

    def _pair_logits(self, pg, a, b, u, i) -> torch.Tensor:
        """Logits of the (user row ``u``, item ``i``) pairs from the users' GMF embeddings ``pg``
        and the user and item parts ``a``, ``b`` of the first MLP layer."""
        f = self.config.gmf_factors
        mlp = self._tower_rest(gather_rows(a, u) + gather_rows(b, i))
        gmf = gather_rows(pg, u) * gather_rows(self.item_gmf, i)
        return gmf @ self.out.weight[0, :f] + mlp @ self.out.weight[0, f:] + self.out.bias

    def _bce(
        self, pg, pm, x, pairs, generator=None, b=None, n_draws: int | None = None
    ) -> tuple[torch.Tensor, int]:
        """Summed BCE over the observed ``pairs`` and ``n_negatives`` negatives per pair, from
        ``n_draws`` draws weighted by ``n_negatives / n_draws``; ``b``: a precomputed item part."""
        u, i = pairs
        n_draws = n_draws or self.config.n_negatives
        u_neg = u.repeat(n_draws)
        j = sample_negatives(x, u_neg, generator)
        a = self._user_part(pm)
        b = self._item_part() if b is None else b
        # BCE with logits: -log sigma(z) = softplus(-z) for positives, softplus(z) for negatives
        loss = F.softplus(-self._pair_logits(pg, a, b, u, i)).sum()
        neg_weight = self.config.n_negatives / n_draws
        loss = loss + neg_weight * F.softplus(self._pair_logits(pg, a, b, u_neg, j)).sum()
        if self.config.reg:
            item_sq = self.item_gmf.square().sum(1) + self.item_mlp.square().sum(1)
            n_u = torch.bincount(u, minlength=pg.shape[0]) * (1 + self.config.n_negatives)
            user_term = (n_u * (pg.square().sum(1) + pm.square().sum(1))).sum()
            item_term = gather_rows(item_sq, i).sum() + neg_weight * gather_rows(item_sq, j).sum()
            loss = loss + self.config.reg * (user_term + item_term)
        return loss, len(u) + len(u_neg)

    def loss(self, x: torch.Tensor, step: int, rows) -> tuple[torch.Tensor, dict[str, float]]:
        r = torch.as_tensor(rows, dtype=torch.long, device=x.device)
        pg, pm = gather_rows(self.user_gmf, r), gather_rows(self.user_mlp, r)
        total, n = self._bce(pg, pm, x, positive_pairs(x))
        # a mean over the batch's users (the trainer's convention), and the mean per pair
        return total / len(r), {"bce_per_pair": float(total.detach()) / max(n, 1)}

    def user_params(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"pg": gather_rows(self.user_gmf, rows), "pm": gather_rows(self.user_mlp, rows)}

    def fold_in(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        pairs = positive_pairs(x)
        b = self._item_part()  # items are frozen: computed once for all steps

        def loss(params, gen):
            return self._bce(params["pg"], params["pm"], x, pairs, gen, b, c.fold_in_negatives)[0]

        dims = {"pg": c.gmf_factors, "pm": c.layers[0] // 2}
        return gradient_fold_in(
            x.shape[0], dims, loss, c.fold_in_steps, c.fold_in_lr, c.seed, x.device
        )

    def predict(self, users: dict[str, torch.Tensor], block_elements: int = 2**24) -> torch.Tensor:
        pg, pm = users["pg"], users["pm"]
        a, b = self._user_part(pm), self._item_part()
        f = self.config.gmf_factors
        w_gmf, w_mlp = self.out.weight[0, :f], self.out.weight[0, f:]
        gmf = pg @ (self.item_gmf * w_gmf).T  # [n, n_items]: h_G^T (p * q) for every item
        chunk = max(1, block_elements // (b.shape[0] * b.shape[1]))
        mlp = [
            self._tower_rest(a[s : s + chunk, None, :] + b[None]) @ w_mlp
            for s in range(0, a.shape[0], chunk)
        ]
        return gmf + torch.cat(mlp) + self.out.bias if mlp else gmf


class NeuMF(NeuralRecommender):
    """NeuMF on batches of training users; held-out users are folded in by gradient steps."""

    name = "neumf"
    config_class = NeuMFConfig
    paper_train = {"optimizer": "adam", "lr": 1e-2}

    def build(self, split) -> NeuMFModule:
        return NeuMFModule(split.n_train_users, split.n_items, self.config)
