"""The notebooks' experiment settings: in full mode the very config ``codigem-lab reproduce ...
--dataset ml-1m --preset paper-ml1m`` builds, so notebooks and CLI share the result cache."""

from __future__ import annotations

from collections.abc import Sequence

from codigem_lab.data.spec import resolve_data
from codigem_lab.experiments.common import (
    QUICK_BATCH_SIZE,
    QUICK_EPOCHS,
    QUICK_MAX_USERS,
    ExperimentConfig,
)

FULL_SEEDS = (0, 1, 2)


def experiment_config(
    dataset: str = "auto",
    source: str | None = None,
    quick: bool = False,
    seeds: Sequence[int] | None = None,
    protocol: str = "strong",
    recall_definition: str = "minK",
    presets: Sequence[str] | None = None,
    models: str | None = None,
) -> ExperimentConfig:
    """The notebooks' experiment settings, equal to the CLI's so the result cache is shared.

    ``dataset="auto"``: ML-1M with the paper's preprocessing (quick mode: ML-100K) through
    :func:`~codigem_lab.data.spec.resolve_data`. Quick mode runs one seed (full mode three), draws
    no progress bars and shows the paper's ML-1M block beside its small run. ``presets`` and
    ``models`` are the CLI's ``--presets`` and ``--models``.
    """
    data = resolve_data(dataset, source, quick=quick, protocol=protocol)
    default_seeds = (0,) if quick else FULL_SEEDS
    paper_dataset = "ml-1m" if quick else None  # a quick run stands in for the ML-1M one
    extra = {"paper_dataset": paper_dataset, "presets": tuple(presets or ()), "models": models}
    return ExperimentConfig(
        data_spec=data,
        seeds=tuple(seeds) if seeds is not None else default_seeds,
        recall_definition=recall_definition,
        quick=quick,
        progress=not quick,
        extra={k: v for k, v in extra.items() if v},
    )


def describe_mode(cfg: ExperimentConfig) -> str:
    """The settings behind a notebook's outputs in learn (quick) or paper mode, with the
    synthetic-data banner."""
    data = cfg.data_spec.label
    seeds = f"seeds {list(cfg.seeds)}"
    rdef = "hits/min(K,#targets)" if cfg.recall_definition == "minK" else "hits/#targets"
    banner = f"\n*** {cfg.data_spec.banner} ***" if cfg.data_spec.banner else ""
    if cfg.quick:
        cap = f"at most {QUICK_MAX_USERS} users, " if not cfg.data_spec.is_synthetic else ""
        return (
            f"Learn-mode settings: {data}, {cap}at most {QUICK_EPOCHS} epochs of batches of "
            f"{QUICK_BATCH_SIZE} users, {seeds}; {cfg.protocol} protocol, Recall = {rdef}. Small "
            f"and short: the same comparisons as the full runs, not their numbers.{banner}"
        )
    return (
        f"Paper-mode settings: {data}; {cfg.protocol} protocol, Recall = {rdef}; {seeds}; up to "
        f"{cfg.max_epochs} epochs, early stopping after {cfg.patience}.{banner}"
    )
