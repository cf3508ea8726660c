"""What every ``reproduce`` command shares: data and training settings, quick mode, running a list
of runs through the result cache with a progress bar."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar

from tqdm.auto import tqdm

from codigem_lab.experiments.cache import ResultCache, RunInProgress, RunRecord, run_label
from codigem_lab.models import model_class
from codigem_lab.options import Option, argv_for
from codigem_lab.runs import TRAIN_OPTIONS, DataSpec, RunSpec
from codigem_lab.train import TrainConfig, inner_bars
from codigem_lab.validate import check_int

#: Quick mode (tests, the notebooks in CI): at most 600 users, 10 epochs of batches of 50 users,
#: early stopping after 3. On ML-100K that is about 150 updates, enough for CODIGEM (either preset)
#: to beat Pop (R@50 0.44-0.46 against 0.30), so quick runs show what full runs show, smaller.
QUICK_MAX_USERS = 600
QUICK_EPOCHS = 10
QUICK_PATIENCE = 3
QUICK_BATCH_SIZE = 50
#: Seconds between looks at a run that another process is training.
WAIT_POLL_S = 10.0
#: Models whose runs train under bf16 autocast unless ``--no-bf16`` (full runs only; scoring stays
#: float32 except DiffRec's reverse chain, results/bench/bf16-diffrec.md):
#: results/bench/bf16-models.md finds their test metrics within seed noise of fp32 in Table 2's
#: settings, and tests/test_bf16_models.py holds this set to that file (NeuMF, also
#: within noise there, trains slower in bf16; Mult-DAE's R@20 moved by more than its interval).
BF16_MODELS: frozenset[str] = frozenset({"codigem", "diffrec", "macridvae", "multvae"})

#: DiffRec's own code validates every 5 epochs; Table 2 keeps its rule in every protocol (its
#: validation runs the whole reverse chain, 40 networks, for every user).
DIFFREC_TRAIN = {"eval_every": 5, "patience": 15}
#: The other neural baselines validate every 5 epochs too, DiffRec's rule, with the command's
#: patience (in epochs): scoring every validation user each epoch (NeuMF's MLP over every
#: user-item pair, BPR's fold-in steps, MacridVAE's K concepts) cost more than their training.
#: CODIGEM validates every epoch, as the released code does. Table 5 reads its convergence from
#: Table 2's runs, so it trains each model by the same rule.
BASELINE_TRAIN = {"eval_every": 5}
NEURAL_BASELINES = ("bpr", "enmf", "neumf", "multvae", "multdae", "macridvae")
MODEL_TRAIN = {**{m: BASELINE_TRAIN for m in NEURAL_BASELINES}, "diffrec": DIFFREC_TRAIN}


@dataclass(frozen=True)
class ExperimentConfig:
    """Data, seeds and training budget shared by the runs of one ``reproduce`` command (``extra``:
    the study's own options; ``split_seed=None``: a new split for every training seed)."""

    data_spec: DataSpec = field(default_factory=DataSpec)
    seeds: tuple[int, ...] = (0, 1, 2)
    split_seed: int | None = None
    recall_definition: str = "minK"
    max_epochs: int = 100
    patience: int = 10
    device: str = "auto"
    precision: str = "fp32"
    bf16: bool = True
    quick: bool = False
    progress: bool = True
    cache_root: str | None = None
    keep_stale: bool = False
    keep_best: bool = True
    score_mode: str = "decoder"
    full_model: bool = False
    extra: dict = field(default_factory=dict)

    #: The flags of ``reproduce`` that fill these fields (the data flags come from DataSpec).
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("seeds", "--seeds", int, 3, "number of training seeds (0, 1, ...)"),
        *TRAIN_OPTIONS,  # split seed, recall definition, epochs, patience, device, precision
        Option("bf16", "--bf16", None, True,
               "train BF16_MODELS in bf16 where --precision is fp32 (default; the committed "
               "benchmark results/bench/bf16-models.md clears them); --no-bf16: every run in "
               "--precision", kind="flag"),
        Option("quick", "--quick", None, False, "small data, few epochs (tests, notebooks)",
               kind="switch"),
        Option("cache_root", "--cache-root", str, None, "result cache (default: runs/cache)"),
        Option("keep_stale", "--keep-stale", None, False,
               "use cached runs made by other code instead of re-running them", kind="switch"),
        Option("keep_best", "--keep-best", None, True,
               "keep each neural run's best.pt in the result cache (default; load_run and "
               "recommend need it); --no-keep-best drops it to save disk", kind="flag"),
        Option("score_mode", "--score-mode", str, "decoder",
               "how CODIGEM scores: decoder (released code) or reverse (the paper's Sec. 2.4)",
               ("decoder", "reverse")),
        Option("full_model", "--full-model", None, False,
               "train every CODIGEM network even where only the decoder reaches the ranking "
               "(default: the ranking-equivalent decoder-only fast path where a study allows it)",
               kind="switch"),
    )  # fmt: skip

    def __post_init__(self) -> None:
        # checked here, once, because quick mode replaces the budget before TrainConfig sees it
        check_int("max_epochs", self.max_epochs, 1, "--max-epochs")
        check_int("patience", self.patience, 1, "--patience, in epochs")
        for seed in self.seeds:
            check_int("seed", seed, 0, "--seeds N trains seeds 0 .. N-1")
        if self.split_seed is not None:
            check_int("split_seed", self.split_seed, 0, "--split-seed")

    @property
    def protocol(self) -> str:
        return self.data_spec.protocol

    def to_argv(self) -> list[str]:
        """The ``reproduce`` flags (data flags first) that rebuild this config."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["seeds"] = len(self.seeds)
        return self.data_spec.to_argv() + argv_for(values, self.OPTIONS)

    def data(self, seed: int) -> DataSpec:
        """The data of training seed ``seed``: split with ``split_seed``, else with ``seed``
        (quick mode caps the users of real data, not of a published split: it is read as it is)."""
        quick_cap = self.quick and self.data_spec.dataset not in ("synthetic", "published")
        return dataclasses.replace(
            self.data_spec,
            seed=seed if self.split_seed is None else self.split_seed,
            max_users=QUICK_MAX_USERS if quick_cap else self.data_spec.max_users,
        )

    def train(self, seed: int, model: str, **overrides) -> TrainConfig:
        """The shared trainer settings, then the model's own defaults, then ``overrides``."""
        base = dict(
            max_epochs=QUICK_EPOCHS if self.quick else self.max_epochs,
            patience=min(self.patience, QUICK_PATIENCE) if self.quick else self.patience,
            seed=seed,
            device=self.device,
            progress=self.progress,
            recall_definition=self.recall_definition,
            precision=self.precision_for(model),
        )
        base.update(getattr(model_class(model), "paper_train", {}) or {})
        base.update(overrides)
        if self.quick:
            base["max_epochs"] = min(base["max_epochs"], QUICK_EPOCHS)
            base["batch_size"] = min(base.get("batch_size", QUICK_BATCH_SIZE), QUICK_BATCH_SIZE)
        return TrainConfig(**base)

    def precision_for(self, model: str) -> str:
        """``precision``, but bf16 for :data:`BF16_MODELS` when it is fp32 and ``bf16`` is on
        (full runs: the benchmark behind the set trained full runs)."""
        cleared = self.bf16 and not self.quick and model in BF16_MODELS
        return "bf16" if cleared and self.precision == "fp32" else self.precision

    def codigem_params(self, params: dict | None = None, fast: bool = False) -> dict:
        """CODIGEM parameters with this config's score mode, and the decoder-only fast path (same
        metrics, bit for bit) when ``fast``, under decoder scoring, without ``--full-model``."""
        out = dict(params or {})
        if self.score_mode != "decoder":
            out["score_mode"] = self.score_mode
        elif fast and not self.full_model:
            out["decoder_only"] = True
        return out

    def spec(
        self, model: str, seed: int, variant: str | None = None, params: dict | None = None, **train
    ) -> RunSpec:
        """The run of ``model`` for training seed ``seed``; CODIGEM gets this config's score mode."""
        params = dict(params or {})
        if self.quick:  # a model's own quick budget (e.g. fewer ALS sweeps), under explicit params
            params = {**(getattr(model_class(model), "quick_params", {}) or {}), **params}
        if model == "codigem" and self.score_mode != "decoder":
            params.setdefault("score_mode", self.score_mode)
        return RunSpec(self.data(seed), model, variant, params, self.train(seed, model, **train))

    def cache(self) -> ResultCache:
        return ResultCache(self.cache_root, keep_stale=self.keep_stale, keep_best=self.keep_best)


def compute_seconds(record: RunRecord) -> float:
    """Seconds of training and validation a run recorded (epochs x per-epoch seconds)."""
    s = record.summary
    return s.get("epochs", 0) * (s.get("train_s_per_epoch", 0) + s.get("eval_s_per_epoch", 0))


class NeedRuns(Exception):
    """A study run under a dry :func:`planning` read a run that is not in the cache yet."""


class _Pending:
    """Stands for a run not in the cache under a dry :func:`planning`: reading it stops the study."""

    def __getattr__(self, name: str):
        raise NeedRuns(name)


@dataclass
class Plan:
    """What :func:`run_specs` met while a study ran under :func:`planning`: the records it used
    (by key) and, when ``dry``, the runs it still needs (none trained)."""

    dry: bool = True
    records: dict[str, RunRecord] = field(default_factory=dict)
    missing: list[RunSpec] = field(default_factory=list)
    timing: bool = True  # dry and False: a timed study stops before its timing runs (the pool's)

    def compute_s(self) -> float:
        return sum(compute_seconds(r) for r in self.records.values())


_PLANS: list[Plan] = []


def active_plan() -> Plan | None:
    return _PLANS[-1] if _PLANS else None


@contextmanager
def planning(dry: bool = True, timing: bool = True) -> Iterator[Plan]:
    """Note every run a study uses; ``dry``: train none, and hand the study a stand-in for each
    run not in the cache (``codigem-lab reproduce all`` trains those in a pool, then reruns it);
    ``timing`` False: leave out the timing runs of timed studies (made later, alone)."""
    plan = Plan(dry, timing=timing)
    _PLANS.append(plan)
    try:
        yield plan
    finally:
        _PLANS.remove(plan)


def run_specs(
    specs: list[RunSpec], cache: ResultCache, progress: bool = True, label: str = "runs"
) -> tuple[list[RunRecord], float]:
    """Run (or load) each spec through the cache: the records and the wall time. A run another
    process is training is left for last, then waited for (or taken over if it dies)."""
    plan = active_plan()
    if plan is not None and plan.dry:
        found = [cache.get(s) for s in specs]
        plan.missing += [s for s, r in zip(specs, found) if r is None]
        plan.records.update((r.key, r) for r in found if r is not None)
        return [r or _Pending() for r in found], 0.0  # type: ignore[misc]
    t0 = time.perf_counter()
    records: list[RunRecord | None] = [None] * len(specs)
    done = sum(cache.get(s) is not None for s in specs)
    bar = tqdm(total=len(specs), desc=label, disable=not progress, unit="run")
    if progress and done:
        bar.write(f"{done} of {len(specs)} runs already in the cache ({cache.root})")
    pending = list(range(len(specs)))
    with inner_bars():  # one bar over the runs; each run's own bar closes when it ends
        while pending:
            busy = []
            for i in pending:
                bar.set_postfix_str(run_label(specs[i]))
                try:
                    records[i] = cache.run(specs[i])
                except RunInProgress:
                    busy.append(i)
                    continue
                bar.update()
            if busy and len(busy) == len(pending):  # nothing else to do: wait for the other process
                bar.set_postfix_str(f"waiting for {len(busy)} run(s) trained by another process")
                time.sleep(WAIT_POLL_S)
            pending = busy
    bar.close()
    if plan is not None:
        plan.records.update((r.key, r) for r in records)  # type: ignore[union-attr]
    return records, time.perf_counter() - t0  # type: ignore[return-value]


def training_path_note(cfg: ExperimentConfig) -> str:
    """What a study's CODIGEM runs trained: the fast path, the full model, or reverse scoring."""
    if cfg.score_mode != "decoder":
        return (
            f"Scored by the {cfg.score_mode} chain (the paper's Sec. 2.4), model selection on the "
            "same scores; every network trained (the fast path does not apply)."
        ) + precision_note(cfg)
    if cfg.full_model:
        return "Decoder scoring; every network trained (--full-model)." + precision_note(cfg)
    return (
        "Decoder scoring, trained through the decoder-only fast path: only the decoder reaches the "
        "ranking, so the transition networks are skipped; the decoder's weights and the test "
        "metrics equal the full model's bit for bit (tests/test_decoder_only.py; on ML-1M: "
        "results/bench/identity-ml1m.md). --full-model trains every network."
    ) + precision_note(cfg)


def precision_note(cfg: ExperimentConfig) -> str:
    """Why the runs train in their precision (a committed benchmark decides where bf16 may go)."""
    if cfg.precision != "fp32":
        return f" Precision: {cfg.precision} (--precision)."
    if not cfg.bf16 or cfg.quick or not BF16_MODELS:
        return " Precision: fp32."
    return (
        f" Precision: bf16 autocast in training for {', '.join(sorted(BF16_MODELS))} (the "
        "committed benchmark results/bench/bf16-models.md finds their test metrics within seed "
        "noise of fp32), fp32 for the rest, scoring in fp32 except DiffRec's reverse chain (bf16 "
        "in a bf16 run: results/bench/bf16-diffrec.md); --no-bf16 trains every run in fp32."
    )
