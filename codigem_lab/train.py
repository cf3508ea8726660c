"""One trainer for CODIGEM and the neural baselines.

Adamax (lr 1e-3), batches of 200 users shuffled each epoch, at most 100 epochs, early stopping after
10 epochs without a better validation Recall@50, best checkpoint restored, test scored once; the
released CODIGEM code's schedule. Only the current batch is densified. Checkpoints are written
atomically each epoch and hold everything ``resume`` needs (weights, optimiser, RNG states,
history), so an interrupted run resumes to the same result as an uninterrupted one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from codigem_lab._io import atomic_path
from codigem_lab.errors import ConfigError, TrainingError
from codigem_lab.metrics import DEFAULT_KS, EvalResult, Evaluator

OPTIMIZERS = {"adamax": torch.optim.Adamax, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}


class TrainableModule(Protocol):
    """What the trainer needs from a model: a loss on a dense batch, and scores for fold-in rows."""

    def loss(
        self, x: torch.Tensor, step: int, rows: np.ndarray
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss on a dense batch ``x`` of training users (``rows``: their rows in ``split.train``)."""
        ...

    def scores(self, x: torch.Tensor, train_rows: np.ndarray | None) -> torch.Tensor:
        """Scores for fold-in rows ``x``; ``train_rows`` as in ``Recommender.score``."""
        ...


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and model-selection settings (defaults: the paper / released code)."""

    lr: float = 1e-3
    optimizer: str = "adamax"
    weight_decay: float = 0.0
    batch_size: int = 200
    max_epochs: int = 100
    patience: int = 10
    select_metric: str = "R@50"
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    eval_batch_size: int = 1000
    ks: tuple[int, ...] = DEFAULT_KS
    recall_definition: str = "minK"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown optimizer {self.optimizer!r}; choose one of {list(OPTIMIZERS)}"
            )
        for name in ("batch_size", "max_epochs", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.patience < 1:
            raise ConfigError(f"patience must be >= 1, got {self.patience}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA when available, else CPU; anything else is taken as given."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda was asked for but no CUDA GPU is visible; use --device cpu"
        )
    return dev


def dense_batch(m: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Densify only the given rows of a sparse matrix, on the device."""
    return torch.from_numpy(m[rows].toarray()).to(device, non_blocking=True)


@dataclass
class TrainResult:
    """What a training run produced: per-epoch history, best epoch, validation and test results."""

    history: pd.DataFrame
    best_epoch: int
    epochs: int
    valid: EvalResult
    test: EvalResult | None
    train_s_per_epoch: float
    eval_s_per_epoch: float
    stopped_early: bool
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Test metrics plus the run's counts and timings (the CLI's ``--json`` line)."""
        out = dict(self.test.metrics if self.test else {})
        out.update(
            epochs=self.epochs,
            best_epoch=self.best_epoch,
            train_s_per_epoch=round(self.train_s_per_epoch, 4),
            eval_s_per_epoch=round(self.eval_s_per_epoch, 4),
        )
        return out


def _rng_state(np_rng: np.random.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np_rng.bit_generator.state}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, np_rng: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    np_rng.bit_generator.state = state["numpy"]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """``torch.save`` to a temp file, then rename: a crash never leaves a half checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint safely (``weights_only=True``: tensors and plain containers only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


class Trainer:
    """Trains a :class:`TrainableModule` on ``split.train``, selecting on validation metrics."""

    def __init__(
        self,
        module: torch.nn.Module,
        split,
        config: TrainConfig | None = None,
        run_dir: str | os.PathLike | None = None,
        model_config: dict | None = None,
        on_epoch: Callable[[dict], None] | None = None,
    ) -> None:
        self.config = config or TrainConfig()
        self.device = resolve_device(self.config.device)
        self.module = module.to(self.device)
        self.split = split
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.model_config = model_config or {}
        self.on_epoch = on_epoch
        self.evaluator = Evaluator(
            split,
            ks=self.config.ks,
            recall_definition=self.config.recall_definition,
            batch_size=self.config.eval_batch_size,
            device=self.device,
        )
        opt_cls = OPTIMIZERS[self.config.optimizer]
        self.optimizer = opt_cls(
            self.module.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay
        )

    # -- scoring ---------------------------------------------------------------------------
    def score(self, fold_in: sp.csr_matrix, train_rows=None) -> torch.Tensor:
        """Dense scores for fold-in rows (eval mode, no gradients)."""
        self.module.eval()
        with torch.no_grad():
            x = torch.from_numpy(fold_in.toarray()).to(self.device)
            return self.module.scores(x, train_rows)

    # -- training --------------------------------------------------------------------------
    def _train_epoch(self, epoch: int, np_rng: np.random.Generator, step: int) -> tuple[dict, int]:
        self.module.train()
        train = self.split.train
        order = np_rng.permutation(train.shape[0])
        bs = self.config.batch_size
        sums: dict[str, float] = {}
        n_batches = 0
        batches = range(0, len(order), bs)
        bar = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not self.config.progress)
        for b in bar:
            rows = order[b : b + bs]
            x = dense_batch(train, rows, self.device)
            loss, terms = self.module.loss(x, step, rows)
            if not torch.isfinite(loss):
                hint = getattr(self.module, "divergence_hint", lambda: "")()
                raise TrainingError(
                    f"the loss became {loss.item()} at epoch {epoch}, batch {n_batches + 1}; "
                    "training stopped instead of producing garbage metrics. "
                    + (hint or "Lower the learning rate or check the inputs.")
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            step += 1
            n_batches += 1
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        return {k: v / max(n_batches, 1) for k, v in sums.items()}, step

    def fit(self, resume: bool = False, evaluate_test: bool = True) -> TrainResult:
        """Train with early stopping; restore the best weights; score the test set once."""
        cfg = self.config
        torch.manual_seed(cfg.seed)
        np_rng = np.random.default_rng(cfg.seed)
        history: list[dict] = []
        best = {"metric": -math.inf, "epoch": 0, "state": None}
        bad_epochs, step, start_epoch = 0, 0, 1
        last = self.run_dir / "last.pt" if self.run_dir else None
        if resume and last is not None and last.exists():
            ck = load_checkpoint(last)
            self.module.load_state_dict(ck["model"])
            self.optimizer.load_state_dict(ck["optimizer"])
            _set_rng_state(ck["rng"], np_rng)
            history = pd.DataFrame(ck["history"]).to_dict("records")
            best = {
                "metric": ck["best_metric"],
                "epoch": ck["best_epoch"],
                "state": ck["best_model"],
            }
            bad_epochs, step, start_epoch = ck["bad_epochs"], ck["step"], ck["epoch"] + 1
        stopped_early = bad_epochs >= cfg.patience
        epochs_bar = tqdm(
            range(start_epoch, cfg.max_epochs + 1),
            desc="training",
            disable=not cfg.progress or stopped_early,
            initial=start_epoch - 1,
            total=cfg.max_epochs,
        )
        for epoch in epochs_bar:
            if stopped_early:
                break
            t0 = time.perf_counter()
            terms, step = self._train_epoch(epoch, np_rng, step)
            train_s = time.perf_counter() - t0
            valid = self.evaluator.evaluate(self, "valid")
            row = {
                "epoch": epoch,
                **terms,
                **valid.metrics,
                "train_s": train_s,
                "eval_s": valid.seconds,
            }
            history.append(row)
            metric = valid.metrics[cfg.select_metric]
            if metric > best["metric"]:
                best = {"metric": metric, "epoch": epoch, "state": _cpu_state(self.module)}
                bad_epochs = 0
            else:
                bad_epochs += 1
            epochs_bar.set_postfix(
                loss=f"{terms['loss']:.4g}",
                **{cfg.select_metric: f"{metric:.4f}"},
                best=best["epoch"],
            )
            if self.on_epoch:
                self.on_epoch(row)
            if last is not None:
                save_checkpoint(
                    last,
                    {
                        "model": _cpu_state(self.module),
                        "optimizer": self.optimizer.state_dict(),
                        "rng": _rng_state(np_rng),
                        "history": pd.DataFrame(history).to_dict("list"),
                        "best_metric": best["metric"],
                        "best_epoch": best["epoch"],
                        "best_model": best["state"],
                        "bad_epochs": bad_epochs,
                        "step": step,
                        "epoch": epoch,
                        "train_config": _plain(asdict(cfg)),
                        "model_config": self.model_config,
                    },
                )
            if bad_epochs >= cfg.patience:
                stopped_early = True
                break
        if best["state"] is None:
            raise TrainingError("no epoch was trained; raise --max-epochs")
        self.module.load_state_dict(best["state"])
        if self.run_dir is not None:
            save_checkpoint(
                self.run_dir / "best.pt",
                {
                    "model": best["state"],
                    "best_epoch": best["epoch"],
                    "train_config": _plain(asdict(cfg)),
                    "model_config": self.model_config,
                },
            )
        hist = pd.DataFrame(history)
        valid = self.evaluator.evaluate(self, "valid")
        test = self.evaluator.evaluate(self, "test") if evaluate_test else None
        return TrainResult(
            history=hist,
            best_epoch=best["epoch"],
            epochs=len(hist),
            valid=valid,
            test=test,
            train_s_per_epoch=float(hist["train_s"].mean()),
            eval_s_per_epoch=float(hist["eval_s"].mean()),
            stopped_early=stopped_early,
        )


def _cpu_state(module: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _plain(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
