"""The notebooks' experiment settings: the CLI's, built from a parameters cell.

:func:`experiment_config` gives in full mode the very config ``codigem-lab reproduce ...
--dataset ml-1m --preset paper-ml1m`` builds (the result cache keys runs by the data's content,
so a local csv of the same ratings shares them), in quick mode small data and a few epochs.
"""

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
    preset: str | None = None,
    progress: bool | None = None,
    cache_root: str | None = None,
    paper_dataset: str | None = None,
    presets: Sequence[str] | None = None,
    models: str | None = None,
) -> ExperimentConfig:
    """The notebooks' experiment settings, equal to the CLI's so the result cache is shared.

    ``dataset="auto"``: full mode takes ML-1M with the paper's preprocessing, quick mode ML-100K
    (at most 600 users, 10 epochs of batches of 50), from the data cache or the registry (see
    :func:`~codigem_lab.data.spec.resolve_data`); the synthetic dataset, with its banner, only
    where no real data can be had. Quick mode defaults to one seed, full mode to three.
    ``paper_dataset`` names the paper's Table 2 block to show beside ours (found from the source
    path in full mode; ``"ml-1m"`` in quick mode, whose small run stands in for ML-1M's).
    ``presets`` (Table 3's CODIGEM presets) and ``models`` (Table 2's models) are the CLI's
    ``--presets`` and ``--models``. ``progress`` (default: full mode only) draws progress bars
    for runs that must be trained; quick runs take seconds, and their bars would only bloat the
    saved notebook.
    """
    data = resolve_data(dataset, source, preset, quick=quick, protocol=protocol)
    default_seeds = (0,) if quick else FULL_SEEDS
    if paper_dataset is None and quick:
        paper_dataset = "ml-1m"  # quick mode stands in for the ML-1M run: show its paper block
    extra = {"paper_dataset": paper_dataset, "presets": tuple(presets or ()), "models": models}
    return ExperimentConfig(
        data_spec=data,
        seeds=tuple(seeds) if seeds is not None else default_seeds,
        recall_definition=recall_definition,
        quick=quick,
        progress=(not quick) if progress is None else progress,
        cache_root=cache_root,
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
