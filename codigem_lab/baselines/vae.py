"""Multi-VAE^PR and Multi-DAE (Liang et al., WWW 2018): one autoencoder module, with or without
the variational bottleneck; defaults and their sources in docs/baselines.md."""

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


@dataclass(frozen=True)
class AutoencoderConfig:
    """Shared shape and regularisation: encoder ``hidden`` sizes (the decoder mirrors them), code
    size, input dropout, ``weight_l2`` (the released code's ``lam * batch_size``)."""

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
    """Multi-VAE^PR: [D -> 600 -> 200 -> 600 -> D], beta annealed to 0.2 over 200k updates."""

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


class MultAutoencoder(TrainableModule):
    """x -> normalise -> dropout -> encoder -> (mu, log sigma^2) (Multi-VAE) or tanh code
    (Multi-DAE) -> decoder -> logits; ``l2_batch_size`` makes ``weight_l2`` a per-user penalty."""

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


class _MultAutoencoderRecommender(NeuralRecommender):
    """Builds a :class:`MultAutoencoder` for the split; ``train_rows`` is ignored when scoring."""

    variational: ClassVar[bool] = False
    paper_train: ClassVar[dict] = {"optimizer": "adam", "lr": 1e-3, "batch_size": 500}

    def build(self, split) -> MultAutoencoder:
        return MultAutoencoder(
            split.n_items, self.config, self.variational, self.train_config.batch_size
        )


class MultVAE(_MultAutoencoderRecommender):
    """Multi-VAE^PR (Liang et al., WWW 2018)."""

    name = "multvae"
    config_class = MultVAEConfig
    variational = True


class MultDAE(_MultAutoencoderRecommender):
    """Multi-DAE (Liang et al., WWW 2018)."""

    name = "multdae"
    config_class = MultDAEConfig
    variational = False
