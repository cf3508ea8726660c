"""The studies as a notebook runs them: the CLI's settings, cached-only loading, the same command.

:func:`experiment_config` builds the :class:`~codigem_lab.experiments.common.ExperimentConfig` a
notebook uses from its parameters cell: in full mode the very config ``codigem-lab reproduce ...
--dataset ml-1m --preset paper-ml1m`` builds (the result cache keys runs by the data's content,
so a local csv of the same ratings shares them), in quick mode small data and a few epochs.
:func:`reproduce` runs one study of the registry, and loads it without a single progress bar when
every run is already cached. ``cached_only=True`` never trains: it returns the result, or a
message with the command that would make it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from codigem_lab.data.spec import resolve_data
from codigem_lab.experiments.cache import ResultCache, RunRecord, run_label
from codigem_lab.experiments.committed import Committed, find_committed
from codigem_lab.experiments.common import (
    QUICK_BATCH_SIZE,
    QUICK_EPOCHS,
    QUICK_MAX_USERS,
    ExperimentConfig,
)
from codigem_lab.experiments.registry import get_study
from codigem_lab.experiments.tables import TableResult
from codigem_lab.paths import repo_root
from codigem_lab.runs import RunSpec

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
) -> ExperimentConfig:
    """The notebooks' experiment settings, equal to the CLI's so the result cache is shared.

    ``dataset="auto"``: full mode takes ML-1M with the paper's preprocessing, quick mode ML-100K
    (at most 600 users, 10 epochs of batches of 50), from the data cache or the registry (see
    :func:`~codigem_lab.data.spec.resolve_data`); the synthetic dataset, with its banner, only
    where no real data can be had. Quick mode defaults to one seed, full mode to three.
    ``paper_dataset`` names the paper's Table 2 block to show beside ours (found from the source
    path in full mode; ``"ml-1m"`` in quick mode, whose small run stands in for ML-1M's).
    ``presets`` picks Table 3's CODIGEM presets (default both), as the CLI's ``--presets``.
    ``progress`` (default: full mode only) draws progress bars for runs that must be trained;
    quick runs take seconds, and their bars would only bloat the saved notebook.
    """
    data = resolve_data(dataset, source, preset, quick=quick, protocol=protocol)
    default_seeds = (0,) if quick else FULL_SEEDS
    if paper_dataset is None and quick:
        paper_dataset = "ml-1m"  # quick mode stands in for the ML-1M run: show its paper block
    return ExperimentConfig(
        data_spec=data,
        seeds=tuple(seeds) if seeds is not None else default_seeds,
        recall_definition=recall_definition,
        quick=quick,
        progress=(not quick) if progress is None else progress,
        cache_root=cache_root,
        extra=({"paper_dataset": paper_dataset} if paper_dataset else {})
        | ({"presets": tuple(presets)} if presets else {}),
    )


def describe_mode(cfg: ExperimentConfig) -> str:
    """Which mode and data produced a notebook's outputs (with the synthetic-data banner)."""
    data = cfg.data_spec.label
    seeds = f"seeds {list(cfg.seeds)}"
    rdef = "hits/min(K,#targets)" if cfg.recall_definition == "minK" else "hits/#targets"
    banner = f"\n*** {cfg.data_spec.banner} ***" if cfg.data_spec.banner else ""
    if cfg.quick:
        cap = f"at most {QUICK_MAX_USERS} users, " if not cfg.data_spec.is_synthetic else ""
        return (
            f"QUICK MODE: {data}, {cap}at most {QUICK_EPOCHS} epochs of batches of "
            f"{QUICK_BATCH_SIZE} users, {seeds}; {cfg.protocol} protocol, Recall = {rdef}. Small "
            f"and short: the same comparisons as the full runs, not their numbers.{banner}"
        )
    return (
        f"FULL MODE: {data}; {cfg.protocol} protocol, Recall = {rdef}; {seeds}; up to "
        f"{cfg.max_epochs} epochs, early stopping after {cfg.patience}.{banner}"
    )


def reproduce_command(what: str, cfg: ExperimentConfig, models: str | None = None) -> str:
    """The ``codigem-lab reproduce`` command for the same runs (see :meth:`Study.command`), to
    run from the repository root: a source file beside the repository is named relative to it
    (``../shared/...``), as the committed results files name it, not by this machine's path."""
    if models:
        cfg = dataclasses.replace(cfg, extra={**cfg.extra, "models": models})
    root, source = repo_root(), cfg.data_spec.source
    if root is not None and source and os.path.isabs(source):
        rel = os.path.relpath(source, root)
        if not rel.startswith(os.path.join(os.pardir, os.pardir)):
            cfg = dataclasses.replace(cfg, data_spec=dataclasses.replace(cfg.data_spec, source=rel))
    command = get_study(what).command(cfg)
    if cfg.seeds != tuple(range(len(cfg.seeds))):
        command += f"  # note: the CLI runs seeds 0..{len(cfg.seeds) - 1}, not {list(cfg.seeds)}"
    return command


def paper_label(cfg: ExperimentConfig) -> str:
    """'paper (ml-1m)': the legend of the paper's bars, naming the Table 2 block shown."""
    from codigem_lab.experiments.table2 import paper_dataset

    block = paper_dataset(cfg)
    return f"paper ({block})" if block else "paper (no block for this data)"


def machine_text(cfg: ExperimentConfig) -> str:
    """Where runs made now would be timed: device, torch threads, CPU cores."""
    import torch

    from codigem_lab.train import resolve_device

    dev = resolve_device(cfg.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    return f"{name}, {torch.get_num_threads()} torch thread(s), {os.cpu_count()} CPU cores visible"


class NotInCache(LookupError):
    """A run that :class:`CachedOnlyCache` was asked for has not been made yet."""


class CachedOnlyCache(ResultCache):
    """A result cache that only reads: :meth:`run` returns a stored record or raises NotInCache."""

    def run(self, spec: RunSpec, keep_checkpoints: bool = False) -> RunRecord:
        record = self.get(spec)
        if record is None:
            raise NotInCache(f"{run_label(spec)} {spec.params or ''} ({spec.key()})")
        return record


@dataclass(frozen=True)
class _CachedOnlyConfig(ExperimentConfig):
    """An ExperimentConfig whose cache never trains (see :class:`CachedOnlyCache`); the notes on
    records made by other code versions are collected in ``stale_notes``, not printed."""

    stale_notes: list = field(default_factory=list, compare=False, repr=False)

    def cache(self) -> ResultCache:
        return CachedOnlyCache(
            self.cache_root, keep_stale=True, quiet=True, stale_notes=self.stale_notes
        )


def read_only_config(cfg: ExperimentConfig) -> _CachedOnlyConfig:
    """The same settings (same cache keys), reading the cache only and without progress bars."""
    values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(ExperimentConfig)}
    values["progress"] = False
    return _CachedOnlyConfig(**values)


@dataclass
class Reproduced:
    """One study as a notebook shows it: its table (None when not available), runs and command."""

    what: str
    result: TableResult | None
    runs: pd.DataFrame | None
    command: str
    from_cache: bool
    message: str = ""
    config: ExperimentConfig | None = field(default=None, repr=False)
    committed: Committed | None = field(default=None, repr=False)
    stale_runs: int = 0

    @property
    def available(self) -> bool:
        return self.result is not None

    @property
    def origin(self) -> str:
        """Where the table on screen comes from: the result cache, runs trained now, or a
        committed results file (with its command), for the line a notebook prints above it."""
        if self.committed is not None:
            return (
                f"{self.committed.describe()}\nNot in this machine's result cache: to train "
                f"it here instead, set TRAIN = True or run\n  {self.command}"
            )
        if not self.available:
            return self.message
        if self.from_cache:
            stale = (
                f" ({self.stale_runs} of its runs were made by an earlier version of the run code"
                " and are used as they are; the command above remakes them)"
                if self.stale_runs
                else ""
            )
            return f"loaded from the result cache: nothing trained{stale}"
        return "trained now (missing runs) and stored in the result cache"


def reproduce(
    what: str, cfg: ExperimentConfig, models: str | None = None, cached_only: bool = False
) -> Reproduced:
    """Load one study from the result cache, or train its missing runs (unless ``cached_only``).

    When every run is cached, nothing is trained and no progress bar is drawn (records made by
    other code are used and reported); otherwise the missing runs train with ``cfg.progress``
    bars and are stored, exactly as ``codigem-lab reproduce`` would. ``cached_only`` never
    trains: with runs missing from the cache, the table comes from the committed results file made
    with the same settings (:func:`~codigem_lab.experiments.committed.find_committed`; no
    per-run frame then), else ``result`` is None and ``message`` says how to make it.
    """
    study = get_study(what)
    if models:
        cfg = dataclasses.replace(cfg, extra={**cfg.extra, "models": models})
    command = reproduce_command(what, cfg)
    read_only = read_only_config(cfg)
    try:
        out = study.run(read_only, command)
        stale = len(read_only.stale_notes)
        return Reproduced(what, out.result, out.runs, command, True, config=cfg, stale_runs=stale)
    except NotInCache as exc:
        if cached_only:
            found = find_committed(what, cfg)
            if found is not None:
                return Reproduced(what, found.result, None, command, False, "", cfg, found)
            msg = f"not in the result cache yet (first missing run: {exc}). Make it with:\n  {command}"
            return Reproduced(what, None, None, command, False, msg, cfg)
    out = study.run(cfg, command)
    return Reproduced(what, out.result, out.runs, command, False, config=cfg)


def model_histories(
    cfg: ExperimentConfig, models: Sequence[str] = ("macridvae", "multvae", "codigem")
) -> dict[str, list[pd.DataFrame]]:
    """Per-epoch histories of Table 5's cached runs: ``{model: [history per seed]}``.

    CODIGEM is the paper preset, as in :func:`~codigem_lab.experiments.studies.reproduce_table5`.
    Models whose runs are not all cached are left out.
    """
    cache = read_only_config(cfg).cache()
    out: dict[str, list[pd.DataFrame]] = {}
    for model in models:
        variant = "paper" if model == "codigem" else None
        records = [cache.get(cfg.spec(model, s, variant)) for s in cfg.seeds]
        hists = [r.history() for r in records if r is not None]
        if len(hists) == len(records) and all(h is not None for h in hists):
            out[model] = hists
    return out
