"""Data-parallel training under ``torchrun``, no-ops in one process (docs/training.md)."""

from __future__ import annotations

import contextlib
import inspect
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler

from codigem_lab.metrics import EvalResult, Evaluator, mean_metrics


def under_torchrun(environ: dict | None = None) -> bool:
    """Whether this process is a rank started by torchrun (which always sets ``LOCAL_RANK``)."""
    return "LOCAL_RANK" in (os.environ if environ is None else environ)


@dataclass(frozen=True)
class DistContext:
    """This process's place among the ranks, and the collectives the trainer needs."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def current(cls) -> DistContext:
        """The initialised default process group's view, or a single process."""
        if not (dist.is_available() and dist.is_initialized()):
            return cls()
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return cls(dist.get_rank(), dist.get_world_size(), local)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files and prints."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """The device of this rank: ``cuda`` becomes ``cuda:LOCAL_RANK`` under DDP."""
        if self.enabled and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    def _comm_device(self) -> torch.device:
        """Where collective tensors must live: the rank's GPU for NCCL, else the CPU."""
        if dist.get_backend() == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def loss(self, module: torch.nn.Module, device: torch.device) -> Callable:
        """``module.loss``; with several ranks through DistributedDataParallel (parameters shared)."""
        if not self.enabled:
            return module.loss
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(LossForward(module), device_ids=ids, output_device=None)

    def weighted(self, loss: torch.Tensor, share: float) -> torch.Tensor:
        """``loss`` times ``world * share`` (1 in one process): DDP then averages to the global mean."""
        weight = self.world_size * share
        return loss if weight == 1.0 else loss * weight

    def evaluate(self, evaluator: Evaluator, scorer: object, which: str) -> EvalResult:
        """``evaluator.evaluate(scorer, which)``; with several ranks sharded, then all-gathered."""
        if not self.enabled:
            return evaluator.evaluate(scorer, which)
        n_target = np.diff(evaluator.split.eval_set(which).target.indptr)
        rows = np.flatnonzero(n_target > 0)[self.rank :: self.world_size]  # a strided share
        return gather_eval(evaluator.evaluate(scorer, which, users=rows), rows, self)

    def all_true(self, flag: bool) -> bool:
        """True on every rank iff ``flag`` is true on every rank."""
        if not self.enabled:
            return bool(flag)
        t = torch.tensor([int(bool(flag))], device=self._comm_device())
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return bool(t.item())

    def sum_values(self, values: dict[str, float]) -> dict[str, float]:
        """Element-wise sum of a dict of floats over ranks (the same keys, in the same order)."""
        if not self.enabled:
            return values
        keys = list(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t)
        return dict(zip(keys, t.tolist()))

    def gather(self, obj: object) -> list:
        """Every rank's ``obj``, in rank order, on every rank (picklable objects)."""
        if not self.enabled:
            return [obj]
        out: list = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: object) -> object:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def agree(self, value: object) -> bool:
        """Whether every rank holds the same (picklable, comparable) value."""
        values = self.gather(value)
        return all(v == values[0] for v in values)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    @contextlib.contextmanager
    def first(self) -> Iterator[None]:
        """Run the block on each node's local rank 0 before the others (work reused from disk)."""
        leader = self.local_rank == 0
        if not leader:
            self.barrier()
        yield
        if leader:
            self.barrier()


@contextlib.contextmanager
def process_group(device: str = "auto") -> Iterator[DistContext]:
    """The default process group from torchrun's environment for the block (NCCL on CUDA, else
    gloo); nothing without ``WORLD_SIZE > 1`` or with a group already."""
    started = dist.is_available() and dist.is_initialized()
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or started:
        yield DistContext.current()
        return
    use_cuda = torch.cuda.is_available() and str(device).split(":")[0] in ("auto", "cuda")
    options: dict = {"backend": "nccl" if use_cuda else "gloo"}
    if use_cuda:
        gpu = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(gpu)
        if "device_id" in inspect.signature(dist.init_process_group).parameters:  # torch >= 2.3
            options["device_id"] = gpu
    dist.init_process_group(**options)
    try:
        yield DistContext.current()
    finally:
        dist.destroy_process_group()


def relaunch(argv: Sequence[str], nproc: int) -> int:
    """Run ``codigem-lab ARGV`` under torchrun (launch flags dropped); its exit status."""
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    ranks = [f"--nproc_per_node={int(nproc)}", "-m", "codigem_lab.cli"]
    return subprocess.call([*run, *ranks, *_without_launch_flags(argv)])


def _without_launch_flags(argv: Sequence[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif arg != "--distributed" and not arg.startswith("--nproc="):
            out.append(arg)
    return out


def default_nproc() -> int:
    """Processes for ``--distributed`` without ``--nproc``: one per visible GPU, else 2 (CPU)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 2


@dataclass(frozen=True)
class Shard:
    """This rank's part of one global batch: ``n_real`` user rows, or one stand-in row of weight 0
    when a tiny batch leaves it none (every rank must run forward and backward for DDP)."""

    rows: np.ndarray
    n_real: int
    n_global: int

    @property
    def share(self) -> float:
        """This rank's fraction of the global batch: weight of its batch-mean statistics."""
        return self.n_real / self.n_global


class UserBatchSampler(DistributedSampler):
    """This rank's share ``batch[rank::world]`` of each global batch of the one-process shuffle."""

    def __init__(
        self,
        n_users: int,
        batch_size: int,
        rng: np.random.Generator,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        super().__init__(range(n_users), num_replicas=num_replicas, rank=rank, shuffle=True)
        self.n_users = n_users
        self.batch_size = batch_size
        self.rng = rng
        self.order: np.ndarray | None = None

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's global permutation (call once per epoch, on every rank)."""
        super().set_epoch(epoch)
        self.order = self.rng.permutation(self.n_users)

    @property
    def n_batches(self) -> int:
        """Global batches per epoch (the same on every rank)."""
        return -(-self.n_users // self.batch_size)

    def __len__(self) -> int:
        """Users this rank gets per epoch."""
        full, rest = divmod(self.n_users, self.batch_size)
        sizes = [self.batch_size] * full + ([rest] if rest else [])
        return sum(len(range(self.rank, size, self.num_replicas)) for size in sizes)

    def batches(self) -> Iterator[Shard]:
        if self.order is None:
            raise RuntimeError("call set_epoch(epoch) before iterating")
        world, rank = self.num_replicas, self.rank
        for start in range(0, self.n_users, self.batch_size):
            batch = self.order[start : start + self.batch_size]
            mine = batch[rank::world] if world > 1 else batch
            if len(mine) == 0:
                yield Shard(batch[:1], 0, len(batch))
            else:
                yield Shard(np.ascontiguousarray(mine), len(mine), len(batch))

    def __iter__(self) -> Iterator[int]:
        for shard in self.batches():
            yield from shard.rows[: shard.n_real].tolist()


def gather_eval(part: EvalResult, rows: np.ndarray, ctx: DistContext) -> EvalResult:
    """All ranks' per-user results in row order, with rank 0's means broadcast (so early stopping
    compares bit-identical numbers everywhere)."""
    pieces = ctx.gather((np.asarray(rows), part.per_user, part.seconds, part.shown))
    order = np.argsort(np.concatenate([p[0] for p in pieces]), kind="stable")
    per_user = pd.concat([p[1] for p in pieces]).iloc[order]
    shown = {k: np.logical_or.reduce([p[3][k] for p in pieces]) for k in part.shown}
    metrics = ctx.broadcast(mean_metrics(per_user, shown))
    seconds = max(p[2] for p in pieces)
    return EvalResult(
        part.which, metrics, per_user, part.recall_definition, seconds, len(per_user), shown=shown
    )


class LossForward(torch.nn.Module):
    """Routes ``forward`` to ``module.loss``: DDP synchronises gradients of forward calls only."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor, step: int, rows: np.ndarray):
        return self.module.loss(x, step, rows)


def rank_seed(seed: int, rank: int) -> int:
    """Torch seed of a rank: the run's seed on rank 0, one derived from it elsewhere."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def rank_rng_state(ck: dict, ctx: DistContext, seed: int) -> dict:
    """This rank's RNG state from a checkpoint: its own when the world size is unchanged, else the
    shared numpy state with a fresh torch state per rank."""
    per_rank = ck.get("rng_ranks")
    if per_rank is not None and len(per_rank) == ctx.world_size:
        return per_rank[ctx.rank]
    if ctx.rank == 0:
        return ck["rng"]
    torch_state = torch.Generator().manual_seed(rank_seed(seed, ctx.rank) + int(ck["epoch"]))
    return {"torch": torch_state.get_state(), "numpy": ck["rng"]["numpy"]}
