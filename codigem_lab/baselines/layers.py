"""Building blocks shared by the autoencoder-style baselines (Multi-VAE/DAE, MacridVAE, DiffRec):
a tanh MLP with the released TF code's initialisation, the multinomial likelihood, KL annealing."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from codigem_lab.train import TrainConfig

#: std of the truncated-normal bias init of the released TF code (Liang et al.; Ma et al.)
BIAS_STD = 0.001


def init_linear_(layer: nn.Linear) -> None:
    """Glorot-uniform weight, bias ~ N(0, 0.001^2) truncated at 2 std (the released TF code)."""
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.trunc_normal_(layer.bias, std=BIAS_STD, a=-2 * BIAS_STD, b=2 * BIAS_STD)


def multinomial_nll(log_probs: Tensor, x: Tensor) -> Tensor:
    """-sum_i x_ui log pi_i(u), averaged over the users of the batch (Liang et al., Sec. 2)."""
    return -(log_probs * x).sum(1).mean()


def anneal_weight(step: int, total_steps: float, cap: float) -> float:
    """beta = min(cap, step / total_steps): linear KL annealing (``total_steps <= 0``: the cap)."""
    return float(cap) if total_steps <= 0 else min(float(cap), step / total_steps)


def batches_per_epoch(split, train_config: TrainConfig) -> int:
    """Gradient updates per epoch of the shared Trainer on this split."""
    return max(1, math.ceil(split.n_train_users / train_config.batch_size))


class TanhMLP(nn.Module):
    """Linear layers ``dims[0] -> ... -> dims[-1]`` with tanh between them (none after the last)."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        for layer in self.layers:
            init_linear_(layer)

    def forward(self, h: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = torch.tanh(h)
        return h

    def weight_sq_norm(self) -> Tensor:
        """sum ||W||^2 over the weight matrices (biases excluded, as in the released code)."""
        return sum(layer.weight.pow(2).sum() for layer in self.layers)  # type: ignore[return-value]
