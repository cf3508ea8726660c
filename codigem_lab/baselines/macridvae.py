"""MacridVAE (Ma et al., "Learning Disentangled Representations for Recommendation", NeurIPS 2019).

Generative model (Sec. 3 of the paper), for a user u with clicks x_u over M items:

- macro disentanglement: every item i has an embedding h_i and belongs to one of K concepts,
  c_i ~ Categorical(softmax_k(cos(h_i, m_k) / tau)) with learned prototypes m_1..m_K;
- micro disentanglement: the user has one d-dimensional representation per concept, z_u^(k);
- likelihood: multinomial over items with
  p(i | z_u, C) proportional to sum_k c_ik exp(cos(z_u^(k), h_i) / tau).

Inference: q(z^(k) | x_u, C) = N(mu_k, sigma_k^2 I), computed by one shared encoder from the
concept-k part of the clicks, x_u * c_{:,k} (L2-normalised, dropout), with mu_k projected onto the
unit sphere and sigma_k = sigma_0 exp(-b_k / 2). The prior is N(0, sigma_0^2 I); since ||mu_k|| = 1
the mu-part of the KL is a constant and is dropped (as the released code does). The loss is the
beta-VAE bound: multinomial NLL + beta * sum_k KL_k, beta annealed linearly from 0 to its cap over
the first epochs. During training the concept assignments are a Gumbel-softmax (temperature 1)
sample of the item-prototype softmax, one sample per batch shared by its users; at test time the
softmax itself (the mode). Scores are the log-probabilities of the mixture at z = mu (no sampling).

Defaults (the released code, github.com/JianxinMa/disentangled-recsys, ``main.py`` arguments):
``k=7`` (kfac), ``d=100`` (dfac), ``tau=0.1``, ``std=0.075`` (sigma_0), ``dropout=0.5``
(keep 0.5), ``beta=0.2``, annealed over ``anneal_epochs=5`` epochs (``total_anneal_steps =
5 * batches per epoch``), Gumbel-softmax on (``nogb`` off), ``weight_l2=0`` (``rg``: L2 on the
encoder weights, item embeddings and prototypes). The encoder is [M -> d -> 2d] with tanh (the
code's ``q_dims = [M, dfac, dfac]``). Init: Glorot-uniform weights, embeddings and prototypes,
biases N(0, 0.001^2) truncated. Optimiser: Adam lr 1e-3 in the code (``paper_train``); the shared
Trainer uses its ``TrainConfig``, batch size included.

Simplifications, stated honestly: the mixture log-likelihood is computed as a logsumexp over
concepts of ``cos / tau + log c_ik`` (the code's ``log(sum_k c_ik exp(.))``, the same value, stable
in float32); concept-k inputs, codes and logits are batched as [users, K, ...] tensors instead of the
code's Python loop over k. The one-hot category alignment used for the paper's visualisations is
not included. User-free: ``train_rows`` is ignored; every user is scored from the fold-in row.
"""

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


@dataclass(frozen=True)
class MacridVAEConfig:
    """``k`` concepts of ``d`` dims each; ``tau`` cosine temperature; ``std`` prior sigma_0;
    ``beta`` KL weight cap reached after ``anneal_epochs``; ``gumbel`` samples concepts in training.
    """

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
    """Item embeddings, K prototypes and one shared concept encoder; see the module docstring."""

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

    def _dropout(self, h: Tensor) -> Tensor:
        """Inverted dropout, an independent mask per concept (as the code's per-k ``q_graph_k``).

        Same distribution as ``nn.Dropout``; a uniform draw and a compare is about twice as fast
        as ``bernoulli_`` on the [B, K, M] tensor on CPU.
        """
        p = self.config.dropout
        if not self.training or p == 0:
            return h
        return h * (torch.rand_like(h) >= p) * (1.0 / (1.0 - p))

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
        xk = x.unsqueeze(1) * log_c.exp().unsqueeze(0)  # [B, K, M]: concept-k clicks
        h = self.encoder(self._dropout(F.normalize(xk, dim=2)))  # [B, K, 2d]
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
    """MacridVAE (Ma et al., NeurIPS 2019); defaults and sources in the module docstring.

    User-free: scores come from the fold-in row only (``train_rows`` is ignored).
    """

    name = "macridvae"
    config_class = MacridVAEConfig
    paper_train: ClassVar[dict] = {"optimizer": "adam", "lr": 1e-3}

    def build(self, split) -> MacridVAEModule:
        steps = self.config.anneal_epochs * batches_per_epoch(split, self.train_config)
        return MacridVAEModule(split.n_items, self.config, steps)
