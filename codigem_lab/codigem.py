"""CODIGEM behind the shared ``fit``/``score`` interface, scored by decoder or reverse chain."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch

from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig, _dense_float
from codigem_lab.diffusion.schedule import q_step_sample
from codigem_lab.diffusion.types import SCORE_MODES, Preset, ScoreMode
from codigem_lab.neural import NeuralRecommender
from codigem_lab.options import Option, config_options
from codigem_lab.train import TrainableModule, TrainConfig
from codigem_lab.validate import check, check_bool, check_choice


class CODIGEMModule(TrainableModule):
    """Adapts :class:`CODIGEM` to the trainer: negative ELBO, KL annealing, batch-keyed noise."""

    keyed_noise = True

    def __init__(
        self,
        config: CODIGEMConfig,
        score_mode: str = "decoder",
        score_noise: bool = False,
        decoder_only: bool = False,
    ) -> None:
        super().__init__()
        self.model = CODIGEM(config)
        self.score_mode = score_mode
        self.score_noise = score_noise
        self.decoder_only = False
        self._noise: torch.Generator | None = None
        self.set_decoder_only(decoder_only)

    def seed_noise(self, key: int) -> None:
        """Reseed this module's noise generator (the trainer calls it once per batch)."""
        device = self.model.decoder.out.weight.device
        if self._noise is None or self._noise.device != device:
            self._noise = torch.Generator(device=device)
        self._noise.manual_seed(int(key))

    def set_decoder_only(self, on: bool = True) -> None:
        """Train only the decoder, on z_1 (decoder scoring only); ``on=False``: the whole model."""
        check_decoder_only(on, self.score_mode, self.score_noise)
        self.decoder_only = bool(on)
        self.epoch_terms_note = HISTORY_TERMS_DECODER_ONLY if self.decoder_only else None
        for p in self.model.reverse_nets.parameters():  # frozen: DDP expects no gradient there
            p.requires_grad_(not self.decoder_only)

    def loss(self, x: torch.Tensor, step: int, rows=None) -> tuple[torch.Tensor, dict]:
        if self.decoder_only:
            return self._decoder_loss(x)
        t = self.model(x, generator=self._noise, kl_weight=self.model.config.kl_weight(step))
        terms = {
            "elbo": t.elbo.detach(),
            "reconstruction": t.reconstruction.detach(),
            "prior": t.prior.detach(),
            "kl": t.kl.detach(),
            "kl_weight": float(t.kl_weight),
        }
        for i, r in enumerate(t.reverse, start=1):
            terms[f"reverse_{i}"] = r.detach()
        for i, f in enumerate(t.forward_entropy, start=1):
            terms[f"forward_entropy_{i}"] = f.detach()
        return t.loss, terms

    def _decoder_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """-mean ln p(x | z_1), z_1 from eq (5) with the batch's first draw (as the full model)."""
        m = self.model
        x = _dense_float(x, m._dtype())
        x0 = m.scale_input(x)
        eps = torch.randn(x0.shape, generator=self._noise, dtype=x0.dtype, device=x0.device)
        z1 = q_step_sample(x0, m.beta[0], eps)
        rec = m.log_likelihood(x, x0, m.decoder(z1))
        loss = (-rec).mean()  # the full loss -(rec - w kl).mean() sends rec the same -1/B
        return loss, {"reconstruction": rec.detach().mean()}

    def epoch_terms(self, x: torch.Tensor) -> dict[str, float]:
        """The whole model's ELBO terms (batch means) on rows ``x``, for the history columns."""
        t = self.model(x, generator=self._noise)
        out = {
            "elbo": float(t.elbo),
            "prior": float(t.prior),
            "kl": float(t.kl),
        }
        out.update({f"reverse_{i}": float(r) for i, r in enumerate(t.reverse, start=1)})
        out.update({f"forward_entropy_{i}": float(f) for i, f in enumerate(t.forward_entropy, 1)})
        return out

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


#: What a decoder-only run's history columns mean (``TrainResult.extra['history_terms']``).
HISTORY_TERMS_DECODER_ONLY = (
    "decoder_only: 'loss' (= -reconstruction, the decoder's objective) and 'reconstruction' are "
    "train-batch means ('reconstruction' equals the full model's bit for bit); 'elbo', 'kl', "
    "'prior', 'reverse_i' and 'forward_entropy_i' are the whole model's ELBO terms (transition "
    "nets untrained), computed at validation time without gradients on the first "
    "batch_size validation users' fold-in rows"
)


def check_decoder_only(decoder_only: object, score_mode: str, score_noise: bool = False) -> None:
    """Refuse ``decoder_only`` where it would not give the full model's ranking."""
    check_bool("decoder_only", decoder_only)
    check_bool("score_noise", score_noise)
    check(
        not (decoder_only and score_noise),
        "decoder_only with score_noise=True: scoring noise comes from torch's global "
        "generator, whose state at test time depends on what training drew, so the fast "
        "path could not reproduce the full model's scores. Use score_noise=False (default).",
    )
    check(
        not (decoder_only and score_mode != "decoder"),
        f"decoder_only needs score_mode='decoder'; with score_mode={score_mode!r} the "
        "transition nets produce z_1 at scoring time, so training the decoder alone would "
        "change the ranking. Drop --decoder-only, or score with --score-mode decoder.",
    )


@dataclass(frozen=True)
class CODIGEMParams:
    """A CODIGEM run's hyper-parameters, typed and checked once; ``given``: those set explicitly."""

    variant: Preset
    config: CODIGEMConfig
    score_mode: ScoreMode = "decoder"
    score_noise: bool = False
    decoder_only: bool = False
    given: tuple[str, ...] = ()

    #: The flags of ``codigem-lab train`` that fill these: one per config field, and scoring.
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        *config_options(CODIGEMConfig, skip=("n_items",)),
        Option("score_mode", "--score-mode", str, "decoder", "how CODIGEM scores", SCORE_MODES),
        Option("decoder_only", "--decoder-only", None, False,
               "CODIGEM, decoder scoring: train only the decoder on z_1 (the ranking-equivalent "
               "fast path: same decoder weights and test metrics, bit for bit, as the full model)",
               kind="switch"),
    )  # fmt: skip
    SCORING: ClassVar[tuple[str, ...]] = ("score_mode", "score_noise", "decoder_only")

    def __post_init__(self) -> None:
        check_choice("score_mode", self.score_mode, ScoreMode)
        check_decoder_only(self.decoder_only, self.score_mode, self.score_noise)

    @classmethod
    def of(cls, variant: str | None, params: Mapping) -> CODIGEMParams:
        """Typed params from a preset name and ``{name: value}`` (a RunSpec's, a notebook's)."""
        given = dict(params)
        scoring = {k: given.pop(k) for k in cls.SCORING if k in given}
        config = CODIGEMConfig.preset(variant or "paper", **given)
        return cls(variant or "paper", config, **scoring, given=tuple(params))

    def as_dict(self) -> dict:
        """The given parameters as ``{name: value}``: ``RunSpec.params``, the run's name."""
        return {k: getattr(self if k in self.SCORING else self.config, k) for k in self.given}


class CODIGEMRecommender(NeuralRecommender):
    """CODIGEM from a preset (``paper``, ``released``) and config overrides, or typed ``params``."""

    name = "codigem"
    params_type = CODIGEMParams

    def __init__(
        self,
        variant: str = "paper",
        train_config: TrainConfig | None = None,
        run_dir: str | os.PathLike | None = None,
        *,
        params: CODIGEMParams | None = None,
        **given,
    ) -> None:
        super().__init__(train_config=train_config, run_dir=run_dir)
        self.params = params if params is not None else CODIGEMParams.of(variant, given)
        self.variant = self.params.variant
        self.score_mode = self.params.score_mode
        self.score_noise = self.params.score_noise
        self.decoder_only = self.params.decoder_only
        self.config: CODIGEMConfig | None = None

    @property
    def overrides(self) -> dict:
        """The config fields given on top of the preset."""
        return {k: v for k, v in self.params.as_dict().items() if k not in CODIGEMParams.SCORING}

    @classmethod
    def from_params(cls, params, train_config=None, run_dir=None, variant=None):
        if isinstance(params, CODIGEMParams):
            return cls(params.variant, train_config, run_dir, params=params)
        return cls(variant or "paper", train_config, run_dir, **params)

    def build(self, split) -> CODIGEMModule:
        self.config = self.params.config.for_items(split.n_items)
        return CODIGEMModule(self.config, self.score_mode, self.score_noise, self.decoder_only)

    def describe(self) -> dict:
        return {
            "model": self.name,
            "variant": self.variant,
            "score_mode": self.score_mode,
            "score_noise": self.score_noise,
            **({"decoder_only": True} if self.decoder_only else {}),
            "codigem": dataclasses.asdict(self.config) if self.config else dict(self.overrides),
        }
