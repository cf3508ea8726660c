"""DiffRec (Wang et al., "Diffusion Recommender Model", SIGIR 2023): Gaussian diffusion on a user's
interaction vector with an MLP that predicts x_0; defaults and their sources in docs/baselines.md."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codigem_lab.baselines.layers import TanhMLP
from codigem_lab.neural import NeuralRecommender
from codigem_lab.train import TrainableModule
from codigem_lab.validate import check, int_tuple

#: beta_1 of the released code's ``beta_fixed`` (Sohl-Dickstein et al. 2015, Sec. 2.4.1)
FIRST_BETA = 1e-5
MAX_BETA = 0.999


@dataclass(frozen=True)
class DiffRecConfig:
    """Diffusion schedule, denoiser shape and inference depth (defaults: released ML-1M model)."""

    steps: int = 40
    noise_scale: float = 0.005
    noise_min: float = 0.005
    noise_max: float = 0.01
    dims: tuple[int, ...] = (200, 600)
    emb_size: int = 10
    dropout: float = 0.5
    norm: bool = False
    reweight: bool = True
    sampling_steps: int = 0
    fix_first_beta: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", int_tuple("dims", self.dims))
        check(len(self.dims) >= 1, "dims needs at least one hidden size, e.g. (1000,)")
        check(int(self.steps) >= 1, f"steps must be >= 1, got {self.steps!r}")
        check(self.noise_scale > 0, f"noise_scale must be > 0, got {self.noise_scale!r}")
        check(
            0 < self.noise_min < self.noise_max or (self.steps == 1 and 0 < self.noise_min),
            f"need 0 < noise_min < noise_max, got {self.noise_min!r}, {self.noise_max!r}",
        )
        check(
            self.noise_scale * self.noise_max < 1,
            f"noise_scale * noise_max must be < 1, got {self.noise_scale * self.noise_max!r}",
        )
        check(int(self.emb_size) >= 1, f"emb_size must be >= 1, got {self.emb_size!r}")
        check(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout!r}")
        check(
            0 <= self.sampling_steps <= self.steps,
            f"sampling_steps must be in [0, steps={self.steps}], got {self.sampling_steps!r}",
        )

    def betas(self) -> np.ndarray:
        """beta_1..beta_T (float64) of the linear-variance schedule, beta_1 fixed if asked."""
        variance = np.linspace(
            self.noise_scale * self.noise_min, self.noise_scale * self.noise_max, self.steps
        )
        alpha_bar = 1.0 - variance
        betas = np.empty(self.steps)
        betas[0] = variance[0]
        betas[1:] = np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], MAX_BETA)
        if self.fix_first_beta:
            betas[0] = FIRST_BETA
        return betas


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """[cos(t f), sin(t f)] with f_j = max_period^(-j / half), zero-padded to ``dim`` (DDPM)."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1)
    return emb


class DenoiseMLP(nn.Module):
    """x0_hat = MLP([dropout(x_t), Linear(timestep_embedding(t))]) (the released ``DNN``)."""

    def __init__(self, n_items: int, config: DiffRecConfig) -> None:
        super().__init__()
        c = config
        self.emb_size = c.emb_size
        self.norm = c.norm
        self.emb_layer = nn.Linear(c.emb_size, c.emb_size)
        self.mlp = TanhMLP([n_items + c.emb_size, *reversed(c.dims), *c.dims[1:], n_items])
        self.drop = nn.Dropout(c.dropout)
        for layer in [self.emb_layer, *self.mlp.layers]:
            nn.init.xavier_normal_(layer.weight)
            nn.init.normal_(layer.bias, std=0.001)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        emb = self.emb_layer(timestep_embedding(t, self.emb_size))
        if self.norm:
            x = F.normalize(x, dim=1)
        return self.mlp(torch.cat([self.drop(x), emb], dim=1))


class DiffRecModule(TrainableModule):
    """The schedule's constants (buffers, rebuilt from the config) and the denoiser."""

    #: A bf16 run scores in bf16 too: the reverse chain runs the denoiser ``steps`` times per user,
    #: so float32 scoring cost more than training (results/bench/bf16-diffrec.md).
    autocast_scores = True

    def __init__(self, n_items: int, config: DiffRecConfig) -> None:
        super().__init__()
        self.config = config
        self.net = DenoiseMLP(n_items, config)
        betas = config.betas()
        alpha_bar = np.cumprod(1.0 - betas)
        alpha_bar_prev = np.concatenate([[1.0], alpha_bar[:-1]])
        snr = alpha_bar / (1.0 - alpha_bar)
        weight = np.concatenate([[1.0], snr[:-1] - snr[1:]])  # SNR(t-1) - SNR(t); 1 at t = 1
        consts = {
            "sqrt_alpha_bar": np.sqrt(alpha_bar),
            "sqrt_one_minus_alpha_bar": np.sqrt(1.0 - alpha_bar),
            "coef_x0": betas * np.sqrt(alpha_bar_prev) / (1.0 - alpha_bar),
            "coef_xt": (1.0 - alpha_bar_prev) * np.sqrt(1.0 - betas) / (1.0 - alpha_bar),
            "loss_weight": weight if config.reweight else np.ones_like(weight),
        }
        for name, value in consts.items():
            self.register_buffer(name, torch.tensor(value, dtype=torch.float32), persistent=False)

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor | None = None) -> Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (t: 0-based step indices, shape [B])."""
        noise = torch.randn_like(x0) if noise is None else noise
        return self.sqrt_alpha_bar[t, None] * x0 + self.sqrt_one_minus_alpha_bar[t, None] * noise

    def loss(self, x: Tensor, step: int, rows=None) -> tuple[Tensor, dict[str, float]]:
        """Weighted MSE between x0_hat(x_t, t) and x_0, t uniform over the T steps."""
        t = torch.randint(0, self.config.steps, (x.shape[0],), device=x.device)
        pred = self.net(self.q_sample(x, t), t)
        mse = (pred - x).pow(2).mean(1)
        w = self.loss_weight[t]
        loss = (w * mse).mean()
        return loss, {"mse": float(mse.mean().detach()), "weight": float(w.mean())}

    def scores(self, x: Tensor, train_rows=None) -> Tensor:
        """Reverse-chain means from x (or x diffused to ``sampling_steps``) down to x0_hat."""
        n = x.shape[0]
        k = self.config.sampling_steps
        x_t = x if k == 0 else self.q_sample(x, torch.full((n,), k - 1, device=x.device))
        for i in reversed(range(self.config.steps)):
            t = torch.full((n,), i, device=x.device, dtype=torch.long)
            x0_hat = self.net(x_t, t)
            x_t = self.coef_x0[i] * x0_hat + self.coef_xt[i] * x_t
        return x_t


class DiffRec(NeuralRecommender):
    """DiffRec (Wang et al., SIGIR 2023); user-free: ``train_rows`` is ignored."""

    name = "diffrec"
    config_class = DiffRecConfig
    paper_train: ClassVar[dict] = {"optimizer": "adam", "lr": 1e-3, "batch_size": 400}

    def build(self, split) -> DiffRecModule:
        return DiffRecModule(split.n_items, self.config)
