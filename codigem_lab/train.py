"""One trainer for CODIGEM and the neural baselines.

Adamax (lr 1e-3), batches of 200 users shuffled each epoch, at most 100 epochs, early stopping after
10 epochs without a better validation Recall@50, best checkpoint restored, test scored once; the
released CODIGEM code's schedule. Only the current batch is densified. Checkpoints are written
atomically each epoch and hold everything ``resume`` needs (weights, optimiser, RNG states,
history), so an interrupted run resumes to the same result as an uninterrupted one.

Under ``torchrun`` (see :mod:`codigem_lab.distributed`) the same trainer runs data-parallel: the
module is wrapped in ``DistributedDataParallel``; each global batch of users is split across
ranks and each rank's loss is weighted by its share, so the averaged gradient is the global batch
mean's; every rank evaluates a share of the held-out users and gathers the rest, so validation
metrics and early-stopping decisions are identical everywhere; only rank 0 writes checkpoints.

``TrainConfig.precision``: ``fp32`` (default, exact), ``tf32`` (CUDA matmuls on TF32 tensor
cores) or ``bf16`` (``torch.autocast`` to bfloat16 for the training forward pass; scoring stays
float32 so rankings are not quantised to bfloat16's 8-bit mantissa).

Noise keyed by batch: a module with ``seed_noise`` (CODIGEM) gets, before each batch, a seed mixed
from (seed, rank, epoch, batch) for its own noise generator, and torch's global generator (dropout)
is reseeded from the same key on a second stream. A batch's noise therefore does not depend on what
earlier batches drew, nor on the shuffle (numpy, its own generator), so a model that draws less
(decoder-only: z_1 only) sees exactly the draws the full model sees for z_1.

Decoder-only modules (``CODIGEMRecommender(decoder_only=True)``, CODIGEM under decoder scoring,
``codigem-lab train --decoder-only``): only the decoder p(x | z_1) is
trained, on z_1 alone; the T-1 transition nets and z_2..z_T are skipped. The decoder's weights, and
so every score and metric, are bit for bit those of the full model with the same seed (the
transition nets cannot reach a decoder score: they are not on the path from x to the ranking, and
the forward process has no parameters). The module refuses it where this is not so (reverse
scoring). History columns in that mode: ``loss`` (= -reconstruction, the decoder's objective) and
``reconstruction`` are train-batch means, the latter equal to the full model's column bit for bit;
``elbo``, ``kl``, ``prior``, ``reverse_i``, ``forward_entropy_i`` are the whole model's ELBO terms
(its transition nets untrained), computed at validation time without gradients on the first
``batch_size`` validation users' fold-in rows; ``TrainResult.extra['history_terms']`` says so.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from codigem_lab._io import atomic_path
from codigem_lab.distributed import DistContext, UserBatchSampler, ddp_loss, eval_shard, gather_eval
from codigem_lab.errors import ConfigError, TrainingError
from codigem_lab.metrics import DEFAULT_KS, EvalResult, Evaluator

OPTIMIZERS = {"adamax": torch.optim.Adamax, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
PRECISIONS = ("fp32", "tf32", "bf16")


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
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown optimizer {self.optimizer!r}; choose one of {list(OPTIMIZERS)}"
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"unknown precision {self.precision!r}; choose one of {list(PRECISIONS)}"
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
    """Densify only the given rows of a sparse matrix, on the device (a new tensor per call)."""
    return torch.from_numpy(m[rows].toarray()).to(device, non_blocking=True)


class DenseBatches:
    """Dense float32 batches of rows of a CSR matrix, scattered into one preallocated buffer.

    The matrix's index arrays live on the device; a batch is ``buffer.zero_()`` and one
    ``index_put_`` of its nonzeros, so no per-batch allocation of a [B, D] array, no scipy row
    slicing and no dtype conversion. The returned tensor is a view of the buffer: it is
    overwritten by the next call (the trainer finishes a step before it asks for the next batch).
    """

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
    """A 63-bit seed for one batch's noise, mixed from the run's seed, rank, epoch and batch.

    ``stream`` separates independent uses in the same batch (0: the model's noise generator,
    1: torch's global generator, i.e. dropout; 2: validation-time ELBO terms). SeedSequence
    mixing, so neighbouring keys give unrelated streams.
    """
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


def rank_seed(seed: int, rank: int) -> int:
    """Torch seed of a rank: the run's seed on rank 0, a distinct one derived from it elsewhere.

    Ranks must draw independent noise (dropout, diffusion) for their different users; the
    shuffle, drawn from numpy with the run's seed, stays the same on every rank.
    """
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


@contextlib.contextmanager
def matmul_precision(precision: str, device: torch.device) -> Iterator[None]:
    """Inside the block, CUDA matmuls and convolutions may use TF32 when ``precision == 'tf32'``.

    torch keeps these switches process-wide, so they are set for the block and restored after it.
    A no-op on CPU and for the other precisions.
    """
    if precision != "tf32" or device.type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bfloat16 autocast when ``precision == 'bf16'`` (CPU or CUDA); otherwise nothing."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


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


class Trainer:
    """Trains a :class:`TrainableModule` on ``split.train``, selecting on validation metrics.

    ``dist`` defaults to the running process group (:meth:`DistContext.current`): a single
    process unless started by torchrun.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        split,
        config: TrainConfig | None = None,
        run_dir: str | os.PathLike | None = None,
        model_config: dict | None = None,
        on_epoch: Callable[[dict], None] | None = None,
        dist: DistContext | None = None,
    ) -> None:
        self.config = config or TrainConfig()
        self.dist = dist or DistContext.current()
        self.device = self.dist.device(resolve_device(self.config.device))
        self.module = module.to(self.device)
        self.decoder_only = bool(getattr(self.module, "decoder_only", False))
        self._keyed_noise = callable(getattr(self.module, "seed_noise", None))
        self._loss = ddp_loss(self.module, self.device) if self.dist.enabled else self.module.loss
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
        share = -(-self.config.batch_size // self.dist.world_size)
        self._batches = DenseBatches(split.train, share, self.device)

    @property
    def _progress(self) -> bool:
        return self.config.progress and self.dist.is_main

    # -- scoring ---------------------------------------------------------------------------
    def score(self, fold_in: sp.csr_matrix, train_rows=None) -> torch.Tensor:
        """Dense scores for fold-in rows (eval mode, no gradients)."""
        self.module.eval()
        with torch.no_grad(), matmul_precision(self.config.precision, self.device):
            x = torch.from_numpy(fold_in.toarray()).to(self.device)
            return self.module.scores(x, train_rows)

    def evaluate(self, which: str = "valid") -> EvalResult:
        """Metrics of the current weights on ``which``; every rank gets the full result.

        Under DDP each rank scores a strided share of the users and the per-user rows are
        all-gathered (:func:`~codigem_lab.distributed.gather_eval`).
        """
        if not self.dist.enabled:
            return self.evaluator.evaluate(self, which)
        es = self.split.eval_set(which)
        rows = eval_shard(np.diff(es.target.indptr), self.dist)
        return gather_eval(self.evaluator.evaluate(self, which, users=rows), rows, self.dist)

    # -- training --------------------------------------------------------------------------
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
        sums: dict[str, list] = {}
        losses: list[torch.Tensor] = []
        bar = tqdm(
            sampler.batches(),
            total=sampler.n_batches,
            desc=f"epoch {epoch}",
            leave=False,
            disable=not self._progress,
        )
        with matmul_precision(self.config.precision, self.device):
            shares = []
            for batch, shard in enumerate(bar, start=1):
                terms = self._train_step(shard.rows, shard.share, step, epoch, batch)
                step += 1
                losses.append(terms["loss"])
                shares.append(shard.share)
                for k, v in terms.items():  # tensors stay on the device: no sync per batch
                    sums.setdefault(k, []).append(v)
        self._check_finite(losses, epoch)
        totals = {}
        for k, vals in sums.items():  # one transfer per term; summed in float64 as floats
            if isinstance(vals[0], torch.Tensor):
                vals = torch.stack(vals).double().cpu().tolist()
            totals[k] = sum(share * float(v) for share, v in zip(shares, vals, strict=True))
        totals = self.dist.sum_values(totals)
        return {k: v / max(sampler.n_batches, 1) for k, v in totals.items()}, step

    def _seed_batch(self, epoch: int, batch: int, stream: int = 0) -> None:
        """Key this batch's noise by (seed, rank, epoch, batch): the model's generator, dropout."""
        seed, rank = self.config.seed, self.dist.rank
        self.module.seed_noise(batch_key(seed, rank, epoch, batch, stream))
        torch.manual_seed(batch_key(seed, rank, epoch, batch, stream + 1))

    def _check_finite(self, losses: list[torch.Tensor], epoch: int) -> None:
        """One check (one device sync) per epoch that every batch's loss was finite."""
        if not losses:
            return
        finite = torch.isfinite(torch.stack([torch.as_tensor(v).float() for v in losses]))
        ok = bool(finite.all())
        if not self.dist.all_true(ok):
            bad = int((~finite).nonzero()[0, 0]) if not ok else -1
            self._diverged(losses[bad] if not ok else torch.tensor(0.0), epoch, bad + 1)

    def _train_step(
        self, rows: np.ndarray, share: float, step: int, epoch: int, batch: int
    ) -> dict[str, float]:
        """Forward, check, backward and update on this rank's ``rows`` of one global batch.

        The loss (a mean over ``rows``) is weighted by ``world * share``, so DDP's gradient
        average equals the gradient of the global batch's mean loss.
        """
        x = self._batches(rows)
        if self._keyed_noise:
            self._seed_batch(epoch, batch)
        with autocast(self.config.precision, self.device):
            loss, terms = self._loss(x, step, rows)
        self.optimizer.zero_grad(set_to_none=True)
        weight = self.dist.world_size * share
        (loss if weight == 1.0 else loss * weight).backward()
        self.optimizer.step()
        return {"loss": loss.detach(), **terms}

    def _diverged(self, loss: torch.Tensor, epoch: int, batch: int) -> None:
        hint = getattr(self.module, "divergence_hint", lambda: "")()
        where = "" if torch.isfinite(loss) else f" {loss.item()}"
        at = f"batch {batch}" if batch > 0 else "a batch"
        raise TrainingError(
            f"the loss became{where or ' non-finite on another rank'} at epoch {epoch}, "
            f"{at}; training stopped instead of producing garbage metrics. "
            + (hint or "Lower the learning rate or check the inputs.")
        )

    def fit(self, resume: bool = False, evaluate_test: bool = True) -> TrainResult:
        """Train with early stopping; restore the best weights; score the test set once."""
        cfg = self.config
        torch.manual_seed(rank_seed(cfg.seed, self.dist.rank))
        np_rng = np.random.default_rng(cfg.seed)
        sampler = self._sampler(np_rng)
        state = _FitState()
        last = self.run_dir / "last.pt" if self.run_dir else None
        if resume and last is not None:
            self._resume(last, state, np_rng)
        stopped_early = state.bad_epochs >= cfg.patience
        epochs_bar = tqdm(
            range(state.epoch + 1, cfg.max_epochs + 1),
            desc="training",
            disable=not self._progress or stopped_early,
            initial=state.epoch,
            total=cfg.max_epochs,
        )
        for epoch in epochs_bar:
            if stopped_early:
                break
            t0 = time.perf_counter()
            terms, state.step = self._train_epoch(epoch, sampler, state.step)
            train_s = time.perf_counter() - t0
            valid = self.evaluate("valid")
            if self.decoder_only:
                terms = {**terms, **self._validation_elbo(epoch)}
            row = {
                "epoch": epoch,
                **terms,
                **valid.metrics,
                "train_s": train_s,
                "eval_s": valid.seconds,
            }
            state.history.append(row)
            state.epoch = epoch
            metric = valid.metrics[cfg.select_metric]
            self._select(state, metric)
            epochs_bar.set_postfix(
                loss=f"{terms['loss']:.4g}",
                **{cfg.select_metric: f"{metric:.4f}"},
                best=state.best_epoch,
            )
            if self.on_epoch:
                self.on_epoch(row)
            if last is not None:
                self._save_last(last, state, np_rng)
            if state.bad_epochs >= cfg.patience:
                stopped_early = True
                break
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
        valid = self.evaluate("valid")
        test = self.evaluate("test") if evaluate_test else None
        return TrainResult(
            history=hist,
            best_epoch=state.best_epoch,
            epochs=len(hist),
            valid=valid,
            test=test,
            train_s_per_epoch=float(hist["train_s"].mean()),
            eval_s_per_epoch=float(hist["eval_s"].mean()),
            stopped_early=stopped_early,
            extra={"history_terms": HISTORY_TERMS_DECODER_ONLY} if self.decoder_only else {},
        )

    def _validation_elbo(self, epoch: int) -> dict[str, float]:
        """Decoder-only runs: the whole model's ELBO terms, no gradients, on validation fold-ins.

        The first ``batch_size`` validation users (one batch: these columns cost about a tenth
        of a fast-path epoch), noise keyed by the epoch on its own stream, so they never touch a
        training draw.
        """
        fold_in = self.split.eval_set("valid").fold_in[: self.config.batch_size]
        x = torch.from_numpy(fold_in.toarray()).to(self.device)
        self._seed_batch(epoch, 0, stream=2)
        self.module.eval()
        with torch.no_grad():
            return self.module.elbo_terms(x)

    def _select(self, state: _FitState, metric: float) -> None:
        """Early-stopping bookkeeping (``metric`` is the same on every rank)."""
        if metric > state.best_metric:
            state.best_metric, state.best_epoch = metric, state.epoch
            state.best_state = _cpu_state(self.module)
            state.bad_epochs = 0
        else:
            state.bad_epochs += 1

    # -- checkpoints -----------------------------------------------------------------------
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


HISTORY_TERMS_DECODER_ONLY = (
    "decoder_only: 'loss' (= -reconstruction, the decoder's objective) and 'reconstruction' are "
    "train-batch means ('reconstruction' equals the full model's bit for bit); 'elbo', 'kl', "
    "'prior', 'reverse_i' and 'forward_entropy_i' are the whole model's ELBO terms (transition "
    "nets untrained), computed at validation time without gradients on the first "
    "batch_size validation users' fold-in rows"
)


def rank_rng_state(ck: dict, ctx: DistContext, seed: int) -> dict:
    """This rank's RNG state from a checkpoint (``seed``: the run's).

    Its own saved state when the world size is unchanged; otherwise the numpy state (the shared
    shuffle) with a fresh torch state per rank, so ranks still draw independent noise.
    """
    per_rank = ck.get("rng_ranks")
    if per_rank is not None and len(per_rank) == ctx.world_size:
        return per_rank[ctx.rank]
    if ctx.rank == 0:
        return ck["rng"]
    torch_state = torch.Generator().manual_seed(rank_seed(seed, ctx.rank) + int(ck["epoch"]))
    return {"torch": torch_state.get_state(), "numpy": ck["rng"]["numpy"]}


def _cpu_state(module: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _plain(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
