"""The base class of trained recommenders: build a module for the split, train it, score with it."""

from __future__ import annotations

import abc
import os
from dataclasses import asdict, replace
from typing import ClassVar

import scipy.sparse as sp
import torch

from codigem_lab.errors import ConfigError
from codigem_lab.recommender import Recommender
from codigem_lab.train import TrainableModule, TrainConfig, Trainer, TrainResult, load_checkpoint


class NeuralRecommender(Recommender):
    """A recommender whose ``fit`` runs the shared trainer on a module from :meth:`build`."""

    paper_train: ClassVar[dict] = {}

    def __init__(
        self,
        config: object | None = None,
        train_config: TrainConfig | None = None,
        run_dir: str | os.PathLike | None = None,
    ) -> None:
        self.config = resolve_config(self.name, self.config_class, config)
        self.train_config = train_config or self.default_train_config()
        self.run_dir = run_dir
        self.trainer: Trainer | None = None
        self.result: TrainResult | None = None

    @classmethod
    def default_train_config(cls, **overrides) -> TrainConfig:
        """A ``TrainConfig`` with this model's ``paper_train``, then ``overrides``, applied."""
        return TrainConfig(**{**cls.paper_train, **overrides})

    @classmethod
    def from_params(cls, params: dict, train_config=None, run_dir=None, variant=None):
        config = cls.config_class(**params) if cls.config_class is not None else None
        return cls(config, train_config=train_config, run_dir=run_dir)

    @abc.abstractmethod
    def build(self, split) -> TrainableModule:
        """A fresh :class:`~codigem_lab.train.TrainableModule` for this split's items."""

    def describe(self) -> dict:
        """Plain-data description of the model (stored in checkpoints)."""
        if self.config is None:
            return {"model": self.name}
        return {"model": self.name, "config": asdict(self.config)}

    def fit(self, split, progress: bool | None = None, resume: bool = False) -> NeuralRecommender:
        """Train on ``split`` (``progress`` overrides the config's bar setting when given)."""
        cfg = self.train_config
        if progress is not None and cfg.progress != progress:
            cfg = replace(cfg, progress=progress)
        torch.manual_seed(cfg.seed)  # weights are initialised from the run's seed
        module = self.build(split)
        # stored in checkpoints, checked on load
        made = {**self.describe(), "n_items": split.n_items}
        self.trainer = Trainer(module, split, cfg, run_dir=self.run_dir, model_config=made)
        self.result = self.trainer.fit(resume=resume)
        return self

    def load(self, split, path: str | os.PathLike) -> NeuralRecommender:
        """Fitted from the weights of checkpoint ``path`` (``best.pt``) instead of training."""
        ck = load_checkpoint(path)
        made = ck.get("model_config") or {}
        name, n = made.get("model", "an unknown model"), made.get("n_items", "an unknown number of")
        mismatch = ConfigError(
            f"{path}: checkpoint was made by model {name} with {n} items; "
            f"this run/split has model {self.name} with {split.n_items} items"
        )
        if name != self.name or n not in (split.n_items, "an unknown number of"):
            raise mismatch
        module = self.build(split)
        try:
            module.load_state_dict(ck["model"])
        except (RuntimeError, KeyError) as exc:  # shapes of another item set (older checkpoints)
            raise mismatch from exc
        cfg = replace(self.train_config, progress=False)
        self.trainer = Trainer(module, split, cfg, model_config=made)
        return self

    @property
    def module(self) -> torch.nn.Module:
        return self._fitted(self.trainer).module

    def score(self, fold_in: sp.csr_matrix, train_rows=None) -> torch.Tensor:
        return self._fitted(self.trainer).score(fold_in, train_rows)


def resolve_config(model: str, config_class: type | None, config: object | None):
    """``config``, or ``config_class()`` when None; a config of another class is a ConfigError."""
    if config_class is None:
        return config
    if config is None:
        return config_class()
    if not isinstance(config, config_class):
        raise ConfigError(
            f"{model} needs a {config_class.__name__}, got {type(config).__name__}; "
            f"build it with {config_class.__name__}(...) or pass the parameters to build_model"
        )
    return config
