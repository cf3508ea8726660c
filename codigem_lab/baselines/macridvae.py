"""MacridVAE (Ma et al., "Learning Disentangled Representations for Recommendation", NeurIPS 2019):
K concepts with prototypes, one code per concept; defaults and their sources in docs/baselines.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codigem_lab.baselines.layers import TanhMLP, anneal_weight, batches_per_epoch, multinomial_nll
from codigem_lab.neural import NeuralRecommender
from codigem_lab.train import TrainableModule
from codigem_lab.validate import check

#: users per chunk when scoring, to bound the [users, K, items] intermediates
SCORE_CHUNK = 256
#: F.normalize's default eps: norms below it are clamped to it
NORM_EPS = 1e-12


@dataclass(frozen=True)
class MacridVAEConfig:
    """``k`` concepts of ``d`` dims each; ``tau`` cosine temperature; ``std`` prior sigma_0;
    ``beta`` KL weight cap reached after ``anneal_epochs``; ``gumbel`` samples concepts in training."""

    k: int = 7
    d: int = 100
    tau: float = 0.1
    std: float = 0.075
    dropout: float = 0.5
    beta: float = 0.2
    anneal_epochs: float = 5.0
    gumbel: bool = True
    weight_l2: float = 0.0

    def __post_init__(self) -> None:
        check(int(self.k) >= 1, f"k (number of concepts) must be >= 1, got {self.k!r}")
        check(int(self.d) >= 1, f"d (dims per concept) must be >= 1, got {self.d!r}")
        check(self.tau > 0, f"tau must be > 0, got {self.tau!r}")
        check(self.std > 0, f"std (prior sigma_0) must be > 0, got {self.std!r}")
        check(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout!r}")
        check(self.beta >= 0, f"beta must be >= 0, got {self.beta!r}")
        check(self.anneal_epochs >= 0, f"anneal_epochs must be >= 0, got {self.anneal_epochs!r}")
        check(self.weight_l2 >= 0, f"weight_l2 must be >= 0, got {self.weight_l2!r}")


class MacridVAEModule(TrainableModule):
    """Item embeddings, K prototypes and one shared concept encoder."""

    def __init__(self, n_items: int, config: MacridVAEConfig, anneal_steps: float) -> None:
        super().__init__()
        self.config = config
        self.anneal_steps = anneal_steps
        c = config
        self.items = nn.Parameter(torch.empty(n_items, c.d))
        self.cores = nn.Parameter(torch.empty(c.k, c.d))
        nn.init.xavier_uniform_(self.items)
        nn.init.xavier_uniform_(self.cores)
        self.encoder = TanhMLP([n_items, c.d, 2 * c.d])

    def encode(self, x: Tensor, log_c: Tensor) -> Tensor:
        """[B, K, 2d] encoder outputs for clicks ``x`` [B, M] and log c_ik ``log_c`` [K, M].

        The encoder reads each concept's clicks x_u * c_k, L2-normalised, with inverted dropout (a
        mask per concept, ``q_graph_k``). The first layer is computed without building those [B, K, M]
        inputs: (x_u * c_k / ||x_u * c_k||) W = x_u (c_k W) / ||x_u * c_k||, where c_k W is [M, d]
        and the norms are a [B, M] x [M, K] product; only the dropout mask is [B, K, M]."""
        c = log_c.exp()
        first = self.encoder.layers[0]
        weight = c.unsqueeze(2) * first.weight.T.unsqueeze(0)  # [K, M, d]: c_ik W_i
        with torch.autocast(x.device.type, enabled=False):
            sq_norm = (x.float() * x.float()) @ (c.float() * c.float()).T  # [B, K]
        inv_norm = 1.0 / sq_norm.clamp_min(NORM_EPS**2).sqrt()  # F.normalize's clamp, grad-safe
        p = self.config.dropout
        b, m = x.shape
        k = c.shape[0]
        if self.training and p > 0:
            # rand >= p beats bernoulli_; drawn [B, M, K], as the [B, K, M] form drew them
            keep = torch.rand(b, m, k, dtype=x.dtype, device=x.device) >= p
            h = torch.bmm((x.unsqueeze(2) * keep).permute(2, 0, 1), weight).transpose(0, 1)
            inv_norm = inv_norm * (1.0 / (1.0 - p))
        else:
            h = (x @ weight.transpose(0, 1).reshape(m, -1)).view(b, k, -1)
        h = h * inv_norm.unsqueeze(2).to(h.dtype) + first.bias
        for layer in self.encoder.layers[1:]:
            h = layer(torch.tanh(h))
        return h

    def encode_reference(self, x: Tensor, log_c: Tensor) -> Tensor:
        """``encode`` as the paper writes it, building the [B, K, M] inputs: the reference that the
        tests and benchmarks/macridvae_encoder.py check ``encode`` against (same mask draws)."""
        h = F.normalize(x.unsqueeze(1) * log_c.exp().unsqueeze(0), dim=2)  # [B, K, M]
        p = self.config.dropout
        if self.training and p > 0:
            b, m = x.shape
            keep = torch.rand(b, m, log_c.shape[0], dtype=x.dtype, device=x.device) >= p
            h = h * keep.transpose(1, 2) * (1.0 / (1.0 - p))
        return self.encoder(h)

    def concept_log_probs(self, sample: bool) -> Tensor:
        """[M, K] log c_ik: log-softmax of cos(h_i, m_k) / tau, plus Gumbel noise if ``sample``."""
        items = F.normalize(self.items, dim=1)
        cores = F.normalize(self.cores, dim=1)
        logits = items @ cores.T / self.config.tau
        if sample:
            logits = logits - torch.empty_like(logits).exponential_().log()  # + Gumbel(0, 1)
        return F.log_softmax(logits, dim=1)

    def forward(self, x: Tensor, sample: bool) -> tuple[Tensor, Tensor]:
        """(log pi [B, M] of the multinomial, sum_k batch-mean KL_k) for clicks ``x`` [B, M]."""
        c = self.config
        log_c = self.concept_log_probs(sample and c.gumbel).T  # [K, M]
        h = self.encode(x, log_c)  # [B, K, 2d]
        mu = F.normalize(h[..., : c.d], dim=2)
        lnvar_ratio = -h[..., c.d :]  # ln sigma_k^2 - ln sigma_0^2
        kl = (0.5 * (-lnvar_ratio + lnvar_ratio.exp() - 1.0)).sum(2).mean(0).sum()
        z = mu
        if sample:
            z = mu + torch.randn_like(mu) * c.std * torch.exp(0.5 * lnvar_ratio)
        z = F.normalize(z, dim=2)
        items = F.normalize(self.items, dim=1)
        logits = z @ items.T / c.tau  # [B, K, M]
        log_mix = torch.logsumexp(logits + log_c.unsqueeze(0), dim=1)  # log sum_k c_ik exp(.)
        return F.log_softmax(log_mix, dim=1), kl

    def loss(self, x: Tensor, step: int, rows=None) -> tuple[Tensor, dict[str, float]]:
        """Multinomial NLL + beta * KL (+ the optional L2 penalty of the code's ``rg``)."""
        log_probs, kl = self(x, sample=True)
        neg_ll = multinomial_nll(log_probs, x)
        beta = anneal_weight(step, self.anneal_steps, self.config.beta)
        total = neg_ll + beta * kl
        terms = {"neg_ll": float(neg_ll.detach()), "kl": float(kl.detach()), "beta": beta}
        if self.config.weight_l2 > 0:
            sq = self.encoder.weight_sq_norm() + self.items.pow(2).sum() + self.cores.pow(2).sum()
            penalty = self.config.weight_l2 * sq
            total = total + penalty
            terms["l2"] = float(penalty.detach())
        return total, terms

    def scores(self, x: Tensor, train_rows=None) -> Tensor:
        """Mixture log-probabilities at z = mu with the softmax (mode) concept assignment."""
        return torch.cat(
            [self(x[b : b + SCORE_CHUNK], sample=False)[0] for b in range(0, len(x), SCORE_CHUNK)]
        )


class MacridVAE(NeuralRecommender):
    """MacridVAE (Ma et al., NeurIPS 2019); user-free: ``train_rows`` is ignored."""

    name = "macridvae"
    config_class = MacridVAEConfig
    paper_train: ClassVar[dict] = {"optimizer": "adam", "lr": 1e-3}

    def build(self, split) -> MacridVAEModule:
        steps = self.config.anneal_epochs * batches_per_epoch(split, self.train_config)
        return MacridVAEModule(split.n_items, self.config, steps)
