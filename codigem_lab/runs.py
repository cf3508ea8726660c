"""A training run from start to files: a :class:`RunSpec` (data, model, training config) -> a run
folder (its files: docs/architecture.md); under torchrun only rank 0 writes it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from codigem_lab._io import write_json
from codigem_lab.data.spec import DataSpec
from codigem_lab.distributed import DistContext
from codigem_lab.errors import ConfigError
from codigem_lab.metrics import Evaluator
from codigem_lab.models import build_model, typed_params
from codigem_lab.neural import NeuralRecommender
from codigem_lab.options import Option
from codigem_lab.train import TrainConfig, Trainer, load_checkpoint

#: The training flags ``train`` and ``reproduce`` share (TrainConfig's fields; the split's seed).
TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("split_seed", "--split-seed", int, None, "split the data with this seed "
           "(default: the training seed)"),
    Option("recall_definition", "--recall-definition", str, "minK",
           "Recall@K denominator: minK = hits / min(K, #targets) (Multi-VAE's and the released "
           "CODIGEM code's), targets = hits / #targets (DiffRec's; the paper's baseline rows "
           "match it); minK under every protocol, temporal and published included: pass "
           "targets to compare with DiffRec", ("minK", "targets")),
    Option("max_epochs", "--max-epochs", int, 100, "epoch cap"),
    Option("patience", "--patience", int, 10, "early stopping patience (epochs)"),
    Option("device", "--device", str, "auto", "auto (CUDA if available), cpu or cuda"),
    Option("precision", "--precision", str, "fp32",
           "fp32 (default, exact); tf32: TF32 matmuls on CUDA; bf16: bfloat16 autocast of the "
           "training forward pass (scoring stays float32, except DiffRec's reverse chain)", ("fp32", "tf32", "bf16")),
)  # fmt: skip


@dataclass(frozen=True)
class RunSpec:
    """A model (name, variant, hyper-parameters) trained under a config on a data spec; ``params``
    (a dict or typed) is kept as the dict that names the run and as the checked typed ``config``."""

    data: DataSpec
    model: str = "codigem"
    variant: str | None = "paper"
    params: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        config = typed_params(self.model, self.variant, self.params)
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "params", config if isinstance(config, dict) else config.as_dict())

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["train"]["ks"] = list(d["train"]["ks"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        train = dict(d["train"])
        train["ks"] = tuple(train["ks"])
        return cls(
            DataSpec(**d["data"]), d["model"], d["variant"], dict(d["params"]), TrainConfig(**train)
        )

    def identity(self) -> dict:
        """What defines the run's result: the data's content hash, model, variant, parameters, all
        training settings but progress display, device type and precision (they change results)."""
        from codigem_lab.train import resolve_device

        d = self.to_dict()
        train = d["train"]
        train.pop("progress")
        if train["eval_every"] == 1:  # the default before the field existed: keys stay the same
            del train["eval_every"]
        train["device"] = resolve_device(train["device"]).type
        data = d.pop("data")
        d["data"] = {"content": self.data.fingerprint(), "protocol": data["protocol"]}
        return d

    def key(self) -> str:
        """Short hash of :meth:`identity`: names the run's folder in the result cache."""
        payload = json.dumps(self.identity(), sort_keys=True, default=str)
        return hashlib.sha1(payload.encode()).hexdigest()[:12]

    def default_dir(self, root: str | os.PathLike = "runs") -> Path:
        variant = f"-{self.variant}" if self.variant else ""
        name = f"{self.data.dataset}-{self.model}{variant}-{self.data.protocol}-s{self.train.seed}-{self.key()}"
        return Path(root) / name


@dataclass
class RunOutcome:
    """Summary of a finished run (what ``--json`` prints) and where its files are."""

    run_dir: Path
    summary: dict
    valid: dict
    test: dict
    history: object = None
    recommender: object = None
    split: object = None


def run_training(
    spec: RunSpec, run_dir: str | os.PathLike | None = None, resume: bool = False
) -> RunOutcome:
    """Prepare data, fit the model (with early stopping), evaluate, and write the run folder."""
    run_dir = Path(run_dir) if run_dir is not None else spec.default_dir()
    config_path = run_dir / "config.json"
    if resume and config_path.exists():
        _check_same_run(spec, config_path, run_dir)
    ctx = DistContext.current()
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(config_path, spec.to_dict())
    with ctx.first():  # one process per node prepares (and caches) the split
        split = spec.data.load()
    rec = build_model(spec.model, spec.variant, spec.config, spec.train, run_dir)
    evaluator = Evaluator(
        split, spec.train.ks, spec.train.recall_definition, spec.train.eval_batch_size
    )
    if isinstance(rec, NeuralRecommender):
        rec.fit(split, resume=resume)
        res = rec.result
        valid, test, history = res.valid, res.test, res.history
        summary = res.summary()
    else:
        import time

        t0 = time.perf_counter()
        rec.fit(split, progress=spec.train.progress)
        fit_s = time.perf_counter() - t0
        valid = evaluator.evaluate(rec, "valid")
        test = evaluator.evaluate(rec, "test")
        history = None
        summary = dict(
            test.metrics,
            epochs=1,
            best_epoch=1,
            train_s_per_epoch=round(fit_s, 4),
            eval_s_per_epoch=round(valid.seconds, 4),
        )
    if ctx.is_main:
        if history is not None:
            history.to_csv(run_dir / "history.csv", index=False)
        test.per_user.to_csv(run_dir / "test_per_user.csv")
        write_json(
            run_dir / "metrics.json",
            {
                "summary": summary,
                "valid": valid.metrics,
                "test": test.metrics,
                "recall_definition": test.recall_definition,
                "split_stats": split.stats,
                "split_meta": split.meta,
            },
        )
    return RunOutcome(run_dir, summary, valid.metrics, test.metrics, history, rec, split)


def _check_same_run(spec: RunSpec, config_path: Path, run_dir: Path) -> None:
    """ConfigError unless the folder's saved spec equals ``spec`` (display and device aside)."""
    saved = RunSpec.from_dict(json.loads(config_path.read_text())).to_dict()  # fills new defaults
    mine = spec.to_dict()
    for d in (saved, mine):
        d["train"].pop("progress", None)
        d["train"].pop("device", None)
    if saved != mine:
        raise ConfigError(
            f"--resume: {run_dir} was started with different options; "
            "use the same options, or another --run-dir"
        )


def evaluate_run(
    run_dir: str | os.PathLike, which: str = "test", recall_definition: str | None = None
):
    """Re-score a finished run's best checkpoint (or refit a non-neural model) on its split."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.exists():
        raise ConfigError(
            f"{run_dir} is not a run folder (no config.json); pass the folder `train` wrote"
        )
    spec = RunSpec.from_dict(json.loads(config_path.read_text()))
    split = spec.data.load()
    rec = build_model(spec.model, spec.variant, spec.config, spec.train, None)
    evaluator = Evaluator(
        split,
        spec.train.ks,
        recall_definition or spec.train.recall_definition,
        spec.train.eval_batch_size,
    )
    if isinstance(rec, NeuralRecommender):
        best = run_dir / "best.pt"
        if not best.exists():
            raise ConfigError(
                f"{best} is missing: the run did not finish; continue it with --resume"
            )
        module = rec.build(split)
        module.load_state_dict(load_checkpoint(best)["model"])
        config = dataclasses.replace(
            spec.train, progress=False, recall_definition=evaluator.recall_definition
        )
        return Trainer(module, split, config).evaluate(which)  # top-k on the model's device
    rec.fit(split, progress=False)
    return evaluator.evaluate(rec, which)
