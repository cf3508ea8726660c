"""Model registry: a name (as the CLI spells it) -> a factory building a ``Recommender``.

A factory takes ``(variant, params, train_config, run_dir)``; ``params`` are the model's own
hyper-parameters (e.g. CODIGEM's ``beta`` and ``T``). Every model is scored by the one Evaluator.
"""

from __future__ import annotations

from collections.abc import Callable

from codigem_lab.errors import ConfigError
from codigem_lab.recommender import Recommender
from codigem_lab.train import TrainConfig

Factory = Callable[[str | None, dict, TrainConfig, object], Recommender]


def _codigem(variant, params, train_config, run_dir):
    from codigem_lab.codigem import CODIGEMRecommender

    return CODIGEMRecommender(variant or "paper", train_config, run_dir, **params)


def _pop(variant, params, train_config, run_dir):
    from codigem_lab.baselines import Pop

    return Pop(**params)


def _itemknn(variant, params, train_config, run_dir):
    from codigem_lab.baselines import ItemKNN, ItemKNNConfig

    return ItemKNN(ItemKNNConfig(**params))


MODELS: dict[str, Factory] = {"codigem": _codigem, "pop": _pop, "itemknn": _itemknn}


def build_model(
    name: str,
    variant: str | None = None,
    params: dict | None = None,
    train_config: TrainConfig | None = None,
    run_dir=None,
) -> Recommender:
    """Build a registered model; unknown names and unknown parameters get a clear error."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    try:
        return MODELS[name](variant, dict(params or {}), train_config or TrainConfig(), run_dir)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for model {name!r}: {exc}") from exc
