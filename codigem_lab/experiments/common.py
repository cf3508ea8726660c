"""What every ``reproduce`` command shares: data and training settings, quick mode, running a list
of runs through the result cache with a progress bar."""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from codigem_lab.experiments.cache import ResultCache, RunInProgress, RunRecord
from codigem_lab.models import model_class
from codigem_lab.runs import DataSpec, RunSpec
from codigem_lab.train import TrainConfig

QUICK_MAX_USERS = 600
QUICK_EPOCHS = 3
#: Seconds between looks at a run that another process is training.
WAIT_POLL_S = 10.0


@dataclass(frozen=True)
class ExperimentConfig:
    """Data, seeds and training budget shared by the runs of one ``reproduce`` command."""

    dataset: str = "synthetic"
    source: str | None = None
    preset: str | None = None
    protocol: str = "strong"
    seeds: tuple[int, ...] = (0, 1, 2)
    recall_definition: str = "minK"
    max_epochs: int = 100
    patience: int = 10
    device: str = "auto"
    quick: bool = False
    progress: bool = True
    cache_root: str | None = None
    extra: dict = field(default_factory=dict)

    def data(self, seed: int) -> DataSpec:
        return DataSpec(
            dataset=self.dataset,
            source=self.source,
            preset=self.preset,
            protocol=self.protocol,
            seed=seed,
            max_users=QUICK_MAX_USERS if self.quick and self.dataset != "synthetic" else None,
        )

    def train(self, seed: int, model: str, **overrides) -> TrainConfig:
        """The shared trainer settings, then the model's own defaults, then ``overrides``."""
        base = dict(
            max_epochs=QUICK_EPOCHS if self.quick else self.max_epochs,
            patience=min(self.patience, 2) if self.quick else self.patience,
            seed=seed,
            device=self.device,
            progress=self.progress,
            recall_definition=self.recall_definition,
        )
        base.update(getattr(model_class(model), "paper_train", {}) or {})
        base.update(overrides)
        if self.quick:
            base["max_epochs"] = min(base["max_epochs"], QUICK_EPOCHS)
        return TrainConfig(**base)

    def spec(
        self, model: str, seed: int, variant: str | None = None, params: dict | None = None, **train
    ) -> RunSpec:
        return RunSpec(
            self.data(seed), model, variant, dict(params or {}), self.train(seed, model, **train)
        )

    def cache(self) -> ResultCache:
        return ResultCache(self.cache_root)


def run_specs(
    specs: list[RunSpec], cache: ResultCache, progress: bool = True, label: str = "runs"
) -> tuple[list[RunRecord], float]:
    """Run (or load) each spec through the cache; return the records and the wall time.

    A run that another process is training is left for last and then waited for (or taken over,
    should that process die), so two commands sharing the cache split the work between them.
    """
    t0 = time.perf_counter()
    records: list[RunRecord | None] = [None] * len(specs)
    done = sum(cache.get(s) is not None for s in specs)
    bar = tqdm(total=len(specs), desc=label, disable=not progress, unit="run")
    if progress and done:
        bar.write(f"{done} of {len(specs)} runs already in the cache ({cache.root})")
    pending = list(range(len(specs)))
    while pending:
        busy = []
        for i in pending:
            spec = specs[i]
            bar.set_postfix_str(_name(spec))
            try:
                records[i] = cache.run(spec)
            except RunInProgress:
                busy.append(i)
                continue
            bar.update()
        if busy and len(busy) == len(pending):  # nothing else to do: wait for the other process
            bar.set_postfix_str(f"waiting for {len(busy)} run(s) trained by another process")
            time.sleep(WAIT_POLL_S)
        pending = busy
    bar.close()
    return records, time.perf_counter() - t0  # type: ignore[return-value]


def _name(spec: RunSpec) -> str:
    return f"{spec.model}{'/' + spec.variant if spec.variant else ''} seed {spec.train.seed}"


def results_dir(name: str, root: str | os.PathLike = "results") -> Path:
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def with_seed(spec: RunSpec, seed: int) -> RunSpec:
    return dataclasses.replace(
        spec,
        data=dataclasses.replace(spec.data, seed=seed),
        train=dataclasses.replace(spec.train, seed=seed),
    )
