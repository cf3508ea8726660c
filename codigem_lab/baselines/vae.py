"""Multi-VAE and Multi-DAE (Liang et al., "Variational Autoencoders for Collaborative Filtering",
WWW 2018): one autoencoder module, with or without the variational bottleneck.

Both read a user's click vector x_u, L2-normalise it, drop half of its entries (dropout 0.5 on the
input, Sec. 2.4 of the paper), encode it with a tanh MLP and decode logits f(z) over all items; the
likelihood is multinomial, log pi(z) = log_softmax(f(z)) (Sec. 2), so the reconstruction term is
-sum_i x_ui log pi_i.

- Multi-VAE^PR: q(z|x) = N(mu, diag sigma^2) with a 2 x 200 head (mu, log sigma^2), reparameterised
  sample during training, beta-weighted KL to N(0, I) (Sec. 2.2.2) with beta annealed linearly from 0 and
  capped (Sec. 2.2.2). Architecture [D -> 600 -> 200 -> 600 -> D] (Sec. 4.3).
- Multi-DAE: the same network without the variational head, [D -> 200 -> D] (Sec. 4.3: the better
  DAE architecture), tanh on the code, and an L2 penalty on the weights (Sec. 2.3).

Defaults and where they come from (the released code, github.com/dawenl/vae_cf, notebook
``VAE_ML20M_WWW2018``):

- ``hidden=(600,)``, ``latent=200`` (VAE) and ``hidden=()``, ``latent=200`` (DAE): Sec. 4.3;
- ``dropout=0.5``: keep_prob 0.5 on the normalised input (both models);
- ``total_anneal_steps=200000``, ``anneal_cap=0.2``: beta = min(cap, updates / total) per
  gradient update, the code's schedule (the paper's Sec. 2.2.2 picks the cap on validation);
- ``weight_l2``: the code's ``lam = 0.01 / batch_size`` for the DAE (0 for the VAE), added as
  ``2 * lam * ||W||^2 / 2 = lam * ||W||^2`` over the weight matrices (not the biases) to the
  batch-mean loss; i.e. 0.01 ||W||^2 per batch of *summed* user losses. Here ``weight_l2 = 0.01``
  and the penalty on the batch-mean loss is ``weight_l2 / batch_size * ||W||^2`` with
  ``batch_size = TrainConfig.batch_size``;
- initialisation: Xavier (Glorot-uniform) weights, biases ~ N(0, 0.001^2) truncated at 2 std;
- optimiser: Adam, lr 1e-3, batches of 500 users in the code (``paper_train`` below). The shared
  Trainer takes these from ``TrainConfig`` (lab default: Adamax, lr 1e-3, batch 200), so pass
  ``TrainConfig(**MultVAE.paper_train)`` to train with the paper's optimiser settings.

Scoring: decoder logits at the posterior mean (no dropout, no sampling). These are user-free
autoencoders: ``train_rows`` (ratio protocol) is ignored and every user is scored from the fold-in
row alone, under both protocols.

The building blocks it shares with MacridVAE and DiffRec are in :mod:`codigem_lab.baselines.layers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codigem_lab.baselines.layers import TanhMLP, anneal_weight, multinomial_nll
from codigem_lab.neural import NeuralRecommender
from codigem_lab.train import TrainableModule
from codigem_lab.validate import check, int_tuple


# ======================================================================================= configs
@dataclass(frozen=True)
class AutoencoderConfig:
    """Shape and regularisation shared by Multi-VAE and Multi-DAE (see the module docstring).

    ``hidden``: encoder hidden sizes (the decoder mirrors them); ``latent``: code size;
    ``dropout``: input dropout rate; ``weight_l2``: L2 weight of the code's ``lam * batch_size``.
    """

    hidden: tuple[int, ...] = ()
    latent: int = 200
    dropout: float = 0.5
    weight_l2: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", int_tuple("hidden", self.hidden))
        check(int(self.latent) >= 1, f"latent must be >= 1, got {self.latent!r}")
        check(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout!r}")
        check(self.weight_l2 >= 0.0, f"weight_l2 must be >= 0, got {self.weight_l2!r}")


@dataclass(frozen=True)
class MultDAEConfig(AutoencoderConfig):
    """Multi-DAE: [D -> 200 -> D], dropout 0.5, weight_l2 0.01 (code: lam = 0.01 / batch)."""

    weight_l2: float = 0.01


@dataclass(frozen=True)
class MultVAEConfig(AutoencoderConfig):
    """Multi-VAE^PR: [D -> 600 -> 200 -> 600 -> D], dropout 0.5, beta annealed to 0.2 over 200k
    updates (the released code's ``total_anneal_steps`` and ``anneal_cap``), no weight penalty."""

    hidden: tuple[int, ...] = (600,)
    total_anneal_steps: int = 200_000
    anneal_cap: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            self.total_anneal_steps >= 0,
            f"total_anneal_steps must be >= 0, got {self.total_anneal_steps!r}",
        )
        check(self.anneal_cap >= 0.0, f"anneal_cap must be >= 0, got {self.anneal_cap!r}")


# ======================================================================================== module
class MultAutoencoder(TrainableModule):
    """x -> normalise -> dropout -> encoder -> (mu, log sigma^2) or tanh code -> decoder -> logits.

    ``variational=True`` is Multi-VAE (encoder outputs 2 x latent), ``False`` Multi-DAE.
    ``l2_batch_size`` turns ``weight_l2`` into the per-user-mean penalty (module docstring).
    """

    def __init__(
        self,
        n_items: int,
        config: AutoencoderConfig,
        variational: bool,
        l2_batch_size: int = 500,
    ) -> None:
        super().__init__()
        check(
            not variational or isinstance(config, MultVAEConfig),
            f"a variational autoencoder needs a MultVAEConfig, got {type(config).__name__}",
        )
        self.config = config
        self.variational = variational
        self.l2_scale = config.weight_l2 / l2_batch_size
        c = config
        head = 2 * c.latent if variational else c.latent
        self.encoder = TanhMLP([n_items, *c.hidden, head])
        self.decoder = TanhMLP([c.latent, *reversed(c.hidden), n_items])
        self.drop = nn.Dropout(c.dropout)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """(mu, log sigma^2) for the VAE; (tanh code, None) for the DAE. Dropout in train mode."""
        h = self.encoder(self.drop(F.normalize(x, dim=1)))
        if not self.variational:
            return torch.tanh(h), None
        return h[:, : self.config.latent], h[:, self.config.latent :]

    def loss(self, x: Tensor, step: int, rows=None) -> tuple[Tensor, dict[str, float]]:
        """neg_ll + beta * KL (VAE, Sec. 2.2.2) or neg_ll (DAE), plus the weight penalty (Sec. 2.3)."""
        mu, logvar = self.encode(x)
        z = mu
        terms: dict[str, float] = {}
        total = torch.zeros((), dtype=x.dtype, device=x.device)
        if logvar is not None:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            kl = (0.5 * (-logvar + logvar.exp() + mu.pow(2) - 1.0)).sum(1).mean()
            c = self.config
            assert isinstance(c, MultVAEConfig)
            beta = anneal_weight(step, c.total_anneal_steps, c.anneal_cap)
            total = total + beta * kl
            terms.update(kl=float(kl.detach()), beta=beta)
        neg_ll = multinomial_nll(F.log_softmax(self.decoder(z), dim=1), x)
        total = total + neg_ll
        terms["neg_ll"] = float(neg_ll.detach())
        if self.l2_scale > 0:
            penalty = self.l2_scale * (
                self.encoder.weight_sq_norm() + self.decoder.weight_sq_norm()
            )
            total = total + penalty
            terms["l2"] = float(penalty.detach())
        return total, terms

    def scores(self, x: Tensor, train_rows=None) -> Tensor:
        """Decoder logits at the posterior mean (DAE: at the code); no dropout, no sampling."""
        h = self.encoder(F.normalize(x, dim=1))
        z = h[:, : self.config.latent] if self.variational else torch.tanh(h)
        return self.decoder(z)


# ================================================================================ recommenders
class _MultAutoencoderRecommender(NeuralRecommender):
    """Builds a :class:`MultAutoencoder` for the split; ``train_rows`` is ignored when scoring."""

    variational: ClassVar[bool] = False
    paper_train: ClassVar[dict] = {"optimizer": "adam", "lr": 1e-3, "batch_size": 500}

    def build(self, split) -> MultAutoencoder:
        return MultAutoencoder(
            split.n_items, self.config, self.variational, self.train_config.batch_size
        )


class MultVAE(_MultAutoencoderRecommender):
    """Multi-VAE^PR (Liang et al., WWW 2018); defaults and their sources in the module docstring."""

    name = "multvae"
    config_class = MultVAEConfig
    variational = True


class MultDAE(_MultAutoencoderRecommender):
    """Multi-DAE (Liang et al., WWW 2018); defaults and their sources in the module docstring."""

    name = "multdae"
    config_class = MultDAEConfig
    variational = False
