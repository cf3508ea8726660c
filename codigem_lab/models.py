"""Model registry: a name (as the CLI spells it) -> the recommender class, imported lazily
(``module:Class``) so that a missing optional model never breaks the rest."""

from __future__ import annotations

import importlib

from codigem_lab.errors import ConfigError
from codigem_lab.recommender import Recommender
from codigem_lab.train import TrainConfig

MODELS: dict[str, str] = {
    "codigem": "codigem_lab.codigem:CODIGEMRecommender",
    "pop": "codigem_lab.baselines.pop:Pop",
    "itemknn": "codigem_lab.baselines.itemknn:ItemKNN",
    "ease": "codigem_lab.baselines.ease:EASE",
    "wmf": "codigem_lab.baselines.wmf:WMF",
    "bpr": "codigem_lab.baselines.bpr:BPR",
    "enmf": "codigem_lab.baselines.enmf:ENMF",
    "neumf": "codigem_lab.baselines.neumf:NeuMF",
    "multvae": "codigem_lab.baselines.vae:MultVAE",
    "multdae": "codigem_lab.baselines.vae:MultDAE",
    "macridvae": "codigem_lab.baselines.macridvae:MacridVAE",
    "diffrec": "codigem_lab.baselines.diffrec:DiffRec",
}


def model_class(name: str) -> type[Recommender]:
    """The class registered under ``name``."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    module, cls = MODELS[name].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"model {name!r} is not available in this install ({exc})") from exc


def typed_params(name: str, variant: str | None, params: object) -> object:
    """``params`` as the model's typed params where it declares a ``params_type`` (already
    typed ones are kept), else as a plain dict; the one check of a CODIGEM run's settings."""
    params_type = getattr(model_class(name), "params_type", None)
    if params_type is None or isinstance(params, params_type):
        return params if params_type else dict(params or {})
    return params_type.of(variant, params or {})


def build_model(
    name: str,
    variant: str | None = None,
    params: object = None,
    train_config: TrainConfig | None = None,
    run_dir=None,
) -> Recommender:
    """Build a registered model from a params dict or its typed params (ConfigError if unknown)."""
    cls = model_class(name)
    if train_config is None:  # the model's own optimiser settings where it has them
        train_config = TrainConfig(**(getattr(cls, "paper_train", {}) or {}))
    try:
        return cls.from_params(typed_params(name, variant, params), train_config, run_dir, variant)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for model {name!r}: {exc}") from exc
