"""CODIGEM as a recommender: the diffusion model behind the shared ``fit``/``score`` interface.

Scoring follows the released code by default (``score_mode='decoder'``: decoder on the
forward-diffused fold-in vector, noise off so a test score is reproducible); ``'reverse'`` runs the
reverse chain as the paper's Sec. 2.4 describes. The experiments use ``'decoder'``.
"""

from __future__ import annotations

import dataclasses
import os

import torch

from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig
from codigem_lab.errors import ConfigError
from codigem_lab.neural import NeuralRecommender
from codigem_lab.train import TrainConfig


class CODIGEMModule(torch.nn.Module):
    """Adapts :class:`CODIGEM` to the trainer: ``loss`` = negative ELBO with KL annealing."""

    def __init__(
        self, config: CODIGEMConfig, score_mode: str = "decoder", score_noise: bool = False
    ) -> None:
        super().__init__()
        self.model = CODIGEM(config)
        self.score_mode = score_mode
        self.score_noise = score_noise

    def loss(self, x: torch.Tensor, step: int, rows=None) -> tuple[torch.Tensor, dict[str, float]]:
        t = self.model(x, kl_weight=self.model.config.kl_weight(step))
        terms = {
            "elbo": float(t.elbo.detach()),
            "reconstruction": float(t.reconstruction.detach()),
            "prior": float(t.prior.detach()),
            "kl": float(t.kl.detach()),
            "kl_weight": float(t.kl_weight),
        }
        for i, r in enumerate(t.reverse, start=1):
            terms[f"reverse_{i}"] = float(r.detach())
        for i, f in enumerate(t.forward_entropy, start=1):
            terms[f"forward_entropy_{i}"] = float(f.detach())
        return t.loss, terms

    def scores(self, x: torch.Tensor, train_rows=None) -> torch.Tensor:
        return self.model.score(x, mode=self.score_mode, noise=self.score_noise)

    def divergence_hint(self) -> str:
        c = self.model.config
        ab = float(self.model.schedule.alpha_bar[-1])
        where = (
            f"beta={c.beta:g} is large (alpha_bar_T={ab:.4g}: z_T keeps little of x), the likely "
            "cause; try --beta 1e-4 (the paper's value)"
            if c.beta > 1e-2
            else f"beta={c.beta:g} is small, so the learning rate is the likely cause; "
            "try a smaller --lr (the paper's is 1e-3)"
        )
        return f"The reverse networks' log-variances ran away: {where}."


class CODIGEMRecommender(NeuralRecommender):
    """CODIGEM with a preset (``paper`` or ``released``) and any config overrides."""

    name = "codigem"

    def __init__(
        self,
        variant: str = "paper",
        train_config: TrainConfig | None = None,
        run_dir: str | os.PathLike | None = None,
        score_mode: str = "decoder",
        score_noise: bool = False,
        **overrides,
    ) -> None:
        super().__init__(train_config, run_dir)
        if score_mode not in ("decoder", "reverse"):
            raise ConfigError(f"score_mode must be 'decoder' or 'reverse', got {score_mode!r}")
        self.variant = variant
        self.overrides = overrides
        self.score_mode = score_mode
        self.score_noise = score_noise
        self.config: CODIGEMConfig | None = None
        CODIGEMConfig.preset(variant, n_items=1, **overrides)  # validate options early

    @classmethod
    def from_params(cls, params: dict, train_config=None, run_dir=None, variant=None):
        return cls(variant or "paper", train_config, run_dir, **params)

    def build(self, split) -> CODIGEMModule:
        self.config = CODIGEMConfig.preset(self.variant, n_items=split.n_items, **self.overrides)
        return CODIGEMModule(self.config, self.score_mode, self.score_noise)

    def describe(self) -> dict:
        return {
            "model": self.name,
            "variant": self.variant,
            "score_mode": self.score_mode,
            "score_noise": self.score_noise,
            "codigem": dataclasses.asdict(self.config) if self.config else dict(self.overrides),
        }
