"""The studies as a notebook runs them: the CLI's settings, cached-only loading, the same command.

:func:`experiment_config` builds the :class:`~codigem_lab.experiments.common.ExperimentConfig` a
notebook uses: in full mode exactly the one ``codigem-lab reproduce ... --dataset csv --source
../shared/data/ml-1m/... --preset paper-ml1m`` builds from the repository root, so both hit the same
entries of the result cache (``runs/cache``); in quick mode small data and a few epochs.
:func:`reproduce` runs one study with the repository root as working directory (the cache key holds
the source path as written, so the relative path must mean the same file), and loads it without a
single progress bar when every run is already cached. ``cached_only=True`` never trains: it returns
the result, or a message with the command that would make it.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from codigem_lab.experiments.cache import ResultCache, RunRecord
from codigem_lab.experiments.common import QUICK_EPOCHS, QUICK_MAX_USERS, ExperimentConfig
from codigem_lab.experiments.tables import TableResult
from codigem_lab.runs import RunSpec

#: ML-1M as the README's ``reproduce`` commands name it (relative to the repository root).
CLI_ML1M_SOURCE = "../shared/data/ml-1m/ratings_no_timestamp.csv"
ML1M_PRESET = "paper-ml1m"
FULL_SEEDS = (0, 1, 2)
STUDIES = ("table2", "table3", "fig2", "fig3", "table4", "table5")


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

    ``dataset="auto"``: full mode takes ML-1M with the paper's preprocessing under the source
    path the README's commands use (when ``../shared/data`` is beside the repository), quick
    mode the notebooks' small data (ML-100K, else synthetic; at most 600 users, 3 epochs), and
    the synthetic dataset where no real data is found. Quick mode defaults to one seed, full mode
    to three. Relative paths in ``source`` are relative to the repository root, as for the CLI.
    ``paper_dataset`` names the paper's Table 2 block to show beside ours (found from the source
    path in full mode; ``"ml-1m"`` in quick mode, whose small run stands in for ML-1M's).
    ``presets`` picks Table 3's CODIGEM presets (default both), as the CLI's ``--presets``.
    ``progress`` (default: full mode only) draws progress bars for runs that must be trained;
    quick runs take seconds, and their bars would only bloat the saved notebook.
    """
    from codigem_lab import notebook as nb

    if dataset == "auto":
        choice = nb.default_data(quick=True) if quick else nb.ml1m() or nb.synthetic()
        dataset, source, preset = choice.dataset, _from_repo_root(choice.source), choice.preset
    elif source is None and dataset in ("ml-1m", "ml-100k"):
        choice = nb.resolve_data(dataset, None, quick=quick)
        dataset, source = choice.dataset, _from_repo_root(choice.source)
        preset = preset or choice.preset
    default_seeds = (0,) if quick else FULL_SEEDS
    if paper_dataset is None and quick:
        paper_dataset = "ml-1m"  # quick mode stands in for the ML-1M run: show its paper block
    return ExperimentConfig(
        dataset=dataset,
        source=source,
        preset=preset,
        protocol=protocol,
        seeds=tuple(seeds) if seeds is not None else default_seeds,
        recall_definition=recall_definition,
        quick=quick,
        progress=(not quick) if progress is None else progress,
        cache_root=cache_root,
        extra=({"paper_dataset": paper_dataset} if paper_dataset else {})
        | ({"presets": tuple(presets)} if presets else {}),
    )


def _from_repo_root(source: str | None) -> str | None:
    """A data path as the README's commands write it: relative to the repository root when it
    lies in the ``shared`` folder beside it (``../shared/data/...``), else unchanged."""
    from codigem_lab import notebook as nb

    root = nb.repo_root()
    if source is None or root is None:
        return source
    try:
        rel = Path(source).resolve().relative_to((root.parent / "shared").resolve())
    except ValueError:
        return source
    return str(Path("..") / "shared" / rel)


def describe_mode(cfg: ExperimentConfig) -> str:
    """One line saying which mode and data produced a notebook's outputs."""
    data = cfg.dataset + (f" ({cfg.source})" if cfg.source else "")
    data += f", preset {cfg.preset}" if cfg.preset else ""
    seeds = f"seeds {list(cfg.seeds)}"
    rdef = "hits/min(K,#targets)" if cfg.recall_definition == "minK" else "hits/#targets"
    if cfg.quick:
        cap = f"at most {QUICK_MAX_USERS} users, " if cfg.dataset != "synthetic" else ""
        return (
            f"QUICK MODE: {data}, {cap}{QUICK_EPOCHS} epochs, {seeds}; {cfg.protocol} protocol, "
            f"Recall = {rdef}. A smoke test: its numbers are not the paper's setting."
        )
    return (
        f"FULL MODE: {data}; {cfg.protocol} protocol, Recall = {rdef}; {seeds}; up to "
        f"{cfg.max_epochs} epochs, early stopping after {cfg.patience}."
    )


def reproduce_command(what: str, cfg: ExperimentConfig, models: str | None = None) -> str:
    """The ``codigem-lab reproduce`` command (run from the repository root) for the same runs."""
    args = ["codigem-lab", "reproduce", what, "--dataset", cfg.dataset]
    if cfg.source:
        args += ["--source", cfg.source]
    if cfg.preset:
        args += ["--preset", cfg.preset]
    args += ["--protocol", cfg.protocol]
    args += ["--seeds", str(len(cfg.seeds))]
    if cfg.recall_definition != "minK":
        args += ["--recall-definition", cfg.recall_definition]
    if cfg.max_epochs != 100:
        args += ["--max-epochs", str(cfg.max_epochs)]
    if cfg.patience != 10:
        args += ["--patience", str(cfg.patience)]
    if models:
        args += ["--models", models]
    if cfg.extra.get("paper_dataset"):
        args += ["--paper-dataset", cfg.extra["paper_dataset"]]
    if what == "table3" and cfg.extra.get("presets"):
        args += ["--presets", ",".join(cfg.extra["presets"])]
    if cfg.quick:
        args.append("--quick")
    command = " ".join(shlex.quote(a) for a in args)
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


@contextmanager
def repo_cwd() -> Iterator[Path]:
    """Run the body with the repository root as working directory (as the CLI is run).

    The result cache's keys hold the data source as written (``../shared/data/...``) and its
    default root is ``runs/cache``: both are relative to the repository root, while a notebook
    runs in ``notebooks/``. Outside a source checkout the working directory is left alone.
    """
    from codigem_lab import notebook as nb

    root = nb.repo_root()
    before = Path.cwd()
    if root is not None:
        os.chdir(root)
    try:
        yield Path.cwd()
    finally:
        os.chdir(before)


class NotInCache(LookupError):
    """A run that :class:`CachedOnlyCache` was asked for has not been made yet."""


class CachedOnlyCache(ResultCache):
    """A result cache that only reads: :meth:`run` returns a stored record or raises NotInCache."""

    def run(self, spec: RunSpec, keep_checkpoints: bool = False) -> RunRecord:
        record = self.get(spec)
        if record is None:
            label = f"{spec.model}{'/' + spec.variant if spec.variant else ''}"
            raise NotInCache(f"{label} {spec.params or ''} seed {spec.train.seed} ({spec.key()})")
        return record


@dataclass(frozen=True)
class _CachedOnlyConfig(ExperimentConfig):
    """An ExperimentConfig whose cache never trains (see :class:`CachedOnlyCache`)."""

    def cache(self) -> ResultCache:
        return CachedOnlyCache(self.cache_root)


def read_only_config(cfg: ExperimentConfig) -> ExperimentConfig:
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

    @property
    def available(self) -> bool:
        return self.result is not None


def _run_study(
    what: str, cfg: ExperimentConfig, models: str | None, command: str
) -> tuple[TableResult, pd.DataFrame | None]:
    from codigem_lab.experiments import studies, table2

    if what == "table2":
        return table2.reproduce_table2(cfg, models, command), None
    if what == "table3":
        return studies.reproduce_table3(cfg, command=command), None
    if what == "fig2":
        return studies.reproduce_fig2(cfg, command)
    if what == "fig3":
        return studies.reproduce_fig3(cfg, command)
    if what == "table4":
        return studies.reproduce_table4(cfg, command), None
    if what == "table5":
        return studies.reproduce_table5(cfg, command), None
    raise ValueError(f"unknown study {what!r}; choose one of {STUDIES}")


def reproduce(
    what: str, cfg: ExperimentConfig, models: str | None = None, cached_only: bool = False
) -> Reproduced:
    """Load one study from the result cache, or train its missing runs (unless ``cached_only``).

    Runs in the repository root (:func:`repo_cwd`). When every run is cached, nothing is trained
    and no progress bar is drawn; otherwise the missing runs train with ``cfg.progress`` bars and
    are stored, exactly as ``codigem-lab reproduce`` would.
    """
    if what not in STUDIES:
        raise ValueError(f"unknown study {what!r}; choose one of {STUDIES}")
    command = reproduce_command(what, cfg, models)
    with repo_cwd():
        try:
            result, runs = _run_study(what, read_only_config(cfg), models, command)
            return Reproduced(what, result, runs, command, True, config=cfg)
        except NotInCache as exc:
            if cached_only:
                msg = f"not in the result cache yet (first missing run: {exc}). Make it with:\n  {command}"
                return Reproduced(what, None, None, command, False, msg, cfg)
        result, runs = _run_study(what, cfg, models, command)
    return Reproduced(what, result, runs, command, False, config=cfg)


def model_histories(
    cfg: ExperimentConfig, models: Sequence[str] = ("macridvae", "multvae", "codigem")
) -> dict[str, list[pd.DataFrame]]:
    """Per-epoch histories of Table 5's cached runs: ``{model: [history per seed]}``.

    CODIGEM is the paper preset, as in :func:`~codigem_lab.experiments.studies.reproduce_table5`.
    Models whose runs are not all cached are left out.
    """
    cache = read_only_config(cfg).cache()
    out: dict[str, list[pd.DataFrame]] = {}
    with repo_cwd():
        for model in models:
            variant = "paper" if model == "codigem" else None
            records = [cache.get(cfg.spec(model, s, variant)) for s in cfg.seeds]
            hists = [r.history() for r in records if r is not None]
            if len(hists) == len(records) and all(h is not None for h in hists):
                out[model] = hists
    return out
