"""One trainer for CODIGEM and the neural baselines, early stopping included (docs/training.md)."""

from __future__ import annotations

import abc
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from codigem_lab._io import atomic_path
from codigem_lab.distributed import DistContext, UserBatchSampler, rank_rng_state, rank_seed
from codigem_lab.errors import ConfigError, TrainingError
from codigem_lab.metrics import DEFAULT_KS, EvalResult, Evaluator
from codigem_lab.precision import PRECISIONS, autocast, matmul_precision
from codigem_lab.validate import check_choice, check_int, check_range

OPTIMIZERS = {"adamax": torch.optim.Adamax, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
#: ``last.pt`` is written at most this often (and after the final epoch): saving the model, the
#: optimizer and the best weights after every epoch took a sizeable share of a CODIGEM epoch.
CHECKPOINT_EVERY_S = 60.0


class TrainableModule(torch.nn.Module, abc.ABC):
    """What the trainer calls on a model: ``loss``, ``scores``, and hooks with no-op defaults."""

    #: True: the trainer reseeds noise and dropout from :func:`batch_key` before each batch.
    keyed_noise: bool = False
    #: True: scoring runs under the run's autocast too (bf16 runs); False: scoring stays float32.
    #: Only where a benchmark cleared it and scoring costs as much as training (DiffRec's chain).
    autocast_scores: bool = False

    @abc.abstractmethod
    def loss(
        self, x: torch.Tensor, step: int, rows: np.ndarray
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Batch-mean loss and logged terms on dense rows ``x``; ``step``: updates so far."""

    @abc.abstractmethod
    def scores(self, x: torch.Tensor, train_rows: np.ndarray | None) -> torch.Tensor:
        """Scores for fold-in rows ``x``; ``train_rows`` as in ``Recommender.score``."""

    def seed_noise(self, key: int) -> None:
        """Reseed the model's own noise generator (called before each batch when ``keyed_noise``)."""

    def divergence_hint(self) -> str | None:
        """The likely cause, for the error raised when the loss becomes non-finite (None: none)."""
        return None

    #: What :meth:`epoch_terms`' columns mean; None: it has none and is never called.
    epoch_terms_note: str | None = None

    def epoch_terms(self, x: torch.Tensor) -> dict[str, float]:
        """History columns computed once an epoch, without gradients, on validation rows ``x``."""
        return {}


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
    precision: str = "fp32"
    #: Validate every this many epochs (DiffRec's code: 5); patience still counts epochs.
    eval_every: int = 1

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        check_choice("precision", self.precision, PRECISIONS)
        for name in ("batch_size", "max_epochs", "eval_batch_size", "patience", "eval_every"):
            check_int(name, getattr(self, name), 1)
        check_range("lr", self.lr, 0.0, open_low=True)


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


class DenseBatches:
    """Dense float32 batches of CSR rows in one reused device buffer (overwritten each call)."""

    def __init__(self, m: sp.csr_matrix, batch_size: int, device: torch.device) -> None:
        m = sp.csr_matrix(m)
        self.indptr = m.indptr.astype(np.int64)
        self.device = device
        self.indices = torch.from_numpy(m.indices.astype(np.int64)).to(device)
        self.data = torch.from_numpy(np.asarray(m.data, dtype=np.float32)).to(device)
        self.n_cols = m.shape[1]
        self.buffer = torch.zeros(batch_size, m.shape[1], dtype=torch.float32, device=device)

    def __call__(self, rows: np.ndarray) -> torch.Tensor:
        rows = np.asarray(rows, dtype=np.int64)
        n = len(rows)
        if n > self.buffer.shape[0]:
            self.buffer = torch.zeros(n, self.n_cols, dtype=torch.float32, device=self.device)
        out = self.buffer[:n]
        out.zero_()
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lens = ends - starts
        total = int(lens.sum())
        if total:
            first = np.cumsum(lens) - lens  # position of each row's first nonzero in the gather
            pos = np.arange(total, dtype=np.int64) + np.repeat(starts - first, lens)
            r = torch.from_numpy(np.repeat(np.arange(n, dtype=np.int64), lens)).to(self.device)
            p = torch.from_numpy(pos).to(self.device)
            out.index_put_((r, self.indices[p]), self.data[p])
        return out


def batch_key(seed: int, rank: int, epoch: int, batch: int, stream: int = 0) -> int:
    """A 63-bit seed for one batch's noise; ``stream`` 0: the model's generator, 1: torch's
    (dropout), 2: validation-time ELBO terms."""
    ss = np.random.SeedSequence([int(seed), int(rank), int(epoch), int(batch), int(stream)])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


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


@dataclass
class _FitState:
    """What ``fit`` carries from epoch to epoch (and what ``last.pt`` stores)."""

    history: list[dict] = field(default_factory=list)
    best_metric: float = -math.inf
    best_epoch: int = 0
    best_state: dict | None = None
    bad_epochs: int = 0
    step: int = 0
    epoch: int = 0  # the last finished epoch


_INNER_BARS = [False]


@contextmanager
def inner_bars() -> Iterator[None]:
    """Within, each run's bar closes when it ends, so only the bar over the runs stays on screen."""
    before, _INNER_BARS[0] = _INNER_BARS[0], True
    try:
        yield
    finally:
        _INNER_BARS[0] = before


class Trainer:
    """Trains a :class:`TrainableModule` on ``split.train``, selecting on validation metrics."""

    def __init__(
        self,
        module: TrainableModule,
        split,
        config: TrainConfig | None = None,
        run_dir: str | os.PathLike | None = None,
        model_config: dict | None = None,
        on_epoch: Callable[[dict], None] | None = None,
        dist: DistContext | None = None,
        checkpoint_every_s: float | None = None,
    ) -> None:
        if not isinstance(module, TrainableModule):
            name = type(module).__name__
            raise TypeError(f"the Trainer needs a TrainableModule; make {name} subclass it")
        self.config = config or TrainConfig()
        self.dist = dist or DistContext.current()
        self.device = self.dist.device(resolve_device(self.config.device))
        self.module = module.to(self.device)
        self._loss = self.dist.loss(self.module, self.device)  # module.loss, DDP-wrapped if ranks
        self.split = split
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.model_config = model_config or {}
        self.on_epoch = on_epoch
        #: seconds between ``last.pt`` writes (None: :data:`CHECKPOINT_EVERY_S`)
        self.checkpoint_every_s = (
            CHECKPOINT_EVERY_S if checkpoint_every_s is None else checkpoint_every_s
        )
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
        share = -(-self.config.batch_size // self.dist.world_size)
        self._batches = DenseBatches(split.train, share, self.device)

    def _bar(self, items: Iterable, desc: str, **kw) -> tqdm:
        """A progress bar on rank 0 when ``config.progress``."""
        kw.setdefault("leave", not _INNER_BARS[0])
        return tqdm(
            items, desc=desc, disable=not (self.config.progress and self.dist.is_main), **kw
        )

    def score(self, fold_in: sp.csr_matrix, train_rows=None) -> torch.Tensor:
        """Dense float32 scores for fold-in rows (eval mode, no gradients)."""
        self.module.eval()
        precision = self.config.precision if self.module.autocast_scores else "fp32"
        with torch.no_grad(), matmul_precision(self.config.precision, self.device):
            x = torch.from_numpy(fold_in.toarray()).to(self.device)
            with autocast(precision, self.device):
                return self.module.scores(x, train_rows).float()

    def evaluate(self, which: str = "valid") -> EvalResult:
        """Metrics of the current weights on ``which`` (under DDP, every rank gets them all)."""
        return self.dist.evaluate(self.evaluator, self, which)

    def fit(self, resume: bool = False, evaluate_test: bool = True) -> TrainResult:
        """Train with early stopping; restore the best weights; score the test set once."""
        cfg = self.config
        torch.manual_seed(rank_seed(cfg.seed, self.dist.rank))
        np_rng = np.random.default_rng(cfg.seed)  # the shuffle
        sampler = self._sampler(np_rng)
        state = _FitState()
        last = self.run_dir / "last.pt" if self.run_dir else None
        if resume and last is not None:
            self._resume(last, state, np_rng)
        epochs = range(state.epoch + 1, cfg.max_epochs + 1)
        if state.bad_epochs >= cfg.patience:  # resumed after it had stopped early
            epochs = range(0)
        bar = self._bar(None, "training", initial=state.epoch, total=cfg.max_epochs)
        saved_at = time.perf_counter()
        for epoch in epochs:  # the bar is updated by hand: a loop left by `break` would turn it red
            t0 = time.perf_counter()
            terms, state.step = self._train_epoch(epoch, sampler, state.step)
            train_s = time.perf_counter() - t0
            row, eval_s = {"epoch": epoch, **terms}, 0.0
            state.epoch = epoch
            if epoch % cfg.eval_every == 0 or epoch == cfg.max_epochs:
                valid = self.evaluate("valid")
                row = {**row, **self._epoch_terms(epoch), **valid.metrics}
                eval_s, metric = valid.seconds, valid.metrics[cfg.select_metric]
                self._select(state, metric)
                bar.set_postfix(
                    loss=f"{terms['loss']:.4g}",
                    **{cfg.select_metric: f"{metric:.4f}"},
                    best=state.best_epoch,
                )
            row.update(train_s=train_s, eval_s=eval_s)
            state.history.append(row)
            if self.on_epoch:
                self.on_epoch(row)
            final = epoch == cfg.max_epochs or state.bad_epochs >= cfg.patience
            due = final or time.perf_counter() - saved_at >= self.checkpoint_every_s
            if last is not None and self.dist.broadcast(due):  # rank 0's clock decides
                self._save_last(last, state, np_rng)
                saved_at = time.perf_counter()
            bar.update()
            if state.bad_epochs >= cfg.patience:
                bar.n = bar.total = epoch  # early stopping is success: a full bar, not a red one
                bar.close()
                break
        if state.bad_epochs >= cfg.patience:  # a full bar: Jupyter draws one closed short in red
            bar.total = bar.n
            bar.set_description("training (stopped early)")
        bar.close()
        if state.best_state is None:
            raise TrainingError("no epoch was trained; raise --max-epochs")
        self.module.load_state_dict(state.best_state)
        if self.run_dir is not None and self.dist.is_main:
            save_checkpoint(
                self.run_dir / "best.pt",
                {
                    "model": state.best_state,
                    "best_epoch": state.best_epoch,
                    "train_config": _plain(asdict(cfg)),
                    "model_config": self.model_config,
                },
            )
        hist = pd.DataFrame(state.history)
        note = self.module.epoch_terms_note
        return TrainResult(
            history=hist,
            best_epoch=state.best_epoch,
            epochs=len(hist),
            valid=self.evaluate("valid"),
            test=self.evaluate("test") if evaluate_test else None,
            train_s_per_epoch=float(hist["train_s"].mean()),
            eval_s_per_epoch=float(hist["eval_s"].mean()),
            stopped_early=state.bad_epochs >= cfg.patience,
            extra={"history_terms": note} if note else {},
        )

    def _sampler(self, np_rng: np.random.Generator) -> UserBatchSampler:
        return UserBatchSampler(
            self.split.n_train_users,
            self.config.batch_size,
            np_rng,
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
        )

    def train_epoch(self, epoch: int = 1) -> dict:
        """One pass over the training users from the config seed's shuffle (for benchmarks)."""
        sampler = self._sampler(np.random.default_rng(self.config.seed))
        terms, _ = self._train_epoch(epoch, sampler, 0)
        return terms

    def _train_epoch(self, epoch: int, sampler: UserBatchSampler, step: int) -> tuple[dict, int]:
        """One pass over the training users: mean loss terms per global batch, and the new step."""
        self.module.train()
        sampler.set_epoch(epoch)
        shares, per_batch = [], []  # per batch: its share of the global batch, its loss terms
        batches = self._bar(
            sampler.batches(), f"epoch {epoch}", total=sampler.n_batches, leave=False
        )
        with matmul_precision(self.config.precision, self.device):
            for batch, shard in enumerate(batches, start=1):
                per_batch.append(self._train_step(shard.rows, shard.share, step, epoch, batch))
                shares.append(shard.share)
                step += 1
        self._check_finite([terms["loss"] for terms in per_batch], epoch)
        totals = {}
        # terms stay on the device until here: one transfer per term
        for k in per_batch[0] if per_batch else ():
            vals = [terms[k] for terms in per_batch]
            if isinstance(vals[0], torch.Tensor):
                vals = torch.stack(vals).double().cpu().tolist()
            totals[k] = sum(share * float(v) for share, v in zip(shares, vals, strict=True))
        totals = self.dist.sum_values(totals)  # summed in float64 over batches, then ranks
        return {k: v / max(sampler.n_batches, 1) for k, v in totals.items()}, step

    def _train_step(
        self, rows: np.ndarray, share: float, step: int, epoch: int, batch: int
    ) -> dict[str, float]:
        """Forward, backward and update on this rank's ``rows`` of one global batch."""
        x = self._batches(rows)
        if self.module.keyed_noise:
            self._seed_batch(epoch, batch)
        with autocast(self.config.precision, self.device):
            loss, terms = self._loss(x, step, rows)
        self.optimizer.zero_grad(set_to_none=True)
        self.dist.weighted(loss, share).backward()
        self.optimizer.step()
        return {"loss": loss.detach(), **terms}

    def _seed_batch(self, epoch: int, batch: int, stream: int = 0) -> None:
        """Key this batch's noise by (seed, rank, epoch, batch): the model's generator, dropout."""
        seed, rank = self.config.seed, self.dist.rank
        self.module.seed_noise(batch_key(seed, rank, epoch, batch, stream))
        torch.manual_seed(batch_key(seed, rank, epoch, batch, stream + 1))

    def _check_finite(self, losses: list[torch.Tensor], epoch: int) -> None:
        """One check (one device sync) per epoch that every batch's loss was finite, on every rank."""
        if not losses:
            return
        finite = torch.isfinite(torch.stack([torch.as_tensor(v).float() for v in losses]))
        ok = bool(finite.all())
        if self.dist.all_true(ok):
            return
        if ok:
            where = f"became non-finite on another rank at epoch {epoch}, a batch"
        else:
            bad = int((~finite).nonzero()[0, 0])
            where = f"became {losses[bad].item()} at epoch {epoch}, batch {bad + 1}"
        hint = self.module.divergence_hint() or "Lower the learning rate or check the inputs."
        raise TrainingError(
            f"the loss {where}; training stopped instead of producing garbage metrics. {hint}"
        )

    def _epoch_terms(self, epoch: int) -> dict[str, float]:
        """The module's history columns on the first ``batch_size`` validation users (own noise)."""
        if self.module.epoch_terms_note is None:
            return {}
        fold_in = self.split.eval_set("valid").fold_in[: self.config.batch_size]
        x = torch.from_numpy(fold_in.toarray()).to(self.device)
        self._seed_batch(epoch, 0, stream=2)
        self.module.eval()
        with torch.no_grad():
            return self.module.epoch_terms(x)

    def _select(self, state: _FitState, metric: float) -> None:
        """Early-stopping bookkeeping (``metric`` is the same on every rank)."""
        if metric > state.best_metric:
            state.best_metric, state.best_epoch = metric, state.epoch
            state.best_state = _cpu_state(self.module)
            state.bad_epochs = 0
        else:
            state.bad_epochs += self.config.eval_every

    def _save_last(self, path: Path, state: _FitState, np_rng: np.random.Generator) -> None:
        """Rank 0 writes ``last.pt``; it holds every rank's RNG state (a collective)."""
        rngs = self.dist.gather(_rng_state(np_rng))
        if not self.dist.is_main:
            return
        payload = {
            "model": _cpu_state(self.module),
            "optimizer": self.optimizer.state_dict(),
            "rng": rngs[0],
            "history": pd.DataFrame(state.history).to_dict("list"),
            "best_metric": state.best_metric,
            "best_epoch": state.best_epoch,
            "best_model": state.best_state,
            "bad_epochs": state.bad_epochs,
            "step": state.step,
            "epoch": state.epoch,
            "train_config": _plain(asdict(self.config)),
            "model_config": self.model_config,
        }
        if self.dist.enabled:
            payload["rng_ranks"] = rngs
        save_checkpoint(path, payload)

    def _resume(self, path: Path, state: _FitState, np_rng: np.random.Generator) -> None:
        """Load ``last.pt`` on every rank (it must be on a filesystem all ranks see)."""
        found = path.exists()
        if not self.dist.agree(found):
            raise ConfigError(
                f"--resume: {path} exists for some ranks only; put the run folder on a "
                "filesystem that every node shares"
            )
        if not found:
            return
        ck = load_checkpoint(path)
        self.module.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        _set_rng_state(rank_rng_state(ck, self.dist, self.config.seed), np_rng)
        state.history = pd.DataFrame(ck["history"]).to_dict("records")
        state.best_metric, state.best_epoch = ck["best_metric"], ck["best_epoch"]
        state.best_state = ck["best_model"]
        state.bad_epochs, state.step, state.epoch = ck["bad_epochs"], ck["step"], ck["epoch"]


def _cpu_state(module: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _plain(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
