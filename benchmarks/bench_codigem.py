"""Time one CODIGEM training epoch and one validation pass; compare with a matmul lower bound.

The bound is the model's matmul FLOPs per epoch (forward + backward of every Linear layer) divided
by this machine's float32 GEMM rate, measured in the same run at the same shapes. A ratio near 1
means the epoch is as fast as its matrix multiplications allow.

    python benchmarks/bench_codigem.py                       # ML-1M (../shared/data) + synthetic ML-20M
    python benchmarks/bench_codigem.py --only ml1m --variant released
    python benchmarks/bench_codigem.py --ml20m-batches 50 --device cuda

Run it alone: a second heavy process on the same cores distorts every figure.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from codigem_lab.codigem import CODIGEMModule
from codigem_lab.data import make_split, ml20m_shape, prepare_split
from codigem_lab.data.synthetic import generate
from codigem_lab.diffusion.model import CODIGEMConfig
from codigem_lab.metrics import Evaluator
from codigem_lab.train import TrainConfig, Trainer, dense_batch, resolve_device

REPO = Path(__file__).resolve().parents[1]
ML1M = REPO.parent / "shared" / "data" / "ml-1m" / "ratings_no_timestamp.csv"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def linear_shapes(module: torch.nn.Module) -> list[tuple[int, int]]:
    return [
        (m.in_features, m.out_features) for m in module.modules() if isinstance(m, torch.nn.Linear)
    ]


def gemm_bound_seconds(
    shapes, batch: int, n_batches: int, device: torch.device, repeats: int = 3
) -> tuple[float, float]:
    """Seconds of pure matmuls (fwd X@W^T, bwd dY@W and dY^T@X) for one epoch, and the GFLOP/s."""
    mats = []
    for fin, fout in shapes:
        x = torch.randn(batch, fin, device=device)
        w = torch.randn(fout, fin, device=device)
        dy = torch.randn(batch, fout, device=device)
        mats.append((x, w, dy))

    def one_batch():
        for x, w, dy in mats:
            x @ w.T
            dy @ w
            dy.T @ x

    one_batch()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(5):
            one_batch()
        _sync(device)
        best = min(best, (time.perf_counter() - t) / 5)
    flops = sum(3 * 2 * batch * fin * fout for fin, fout in shapes)
    return best * n_batches, flops / best / 1e9


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(
    name: str, split, variant: str, device: torch.device, max_batches: int | None, batch: int = 200
) -> dict:
    cfg = CODIGEMConfig.preset(variant, n_items=split.n_items)
    torch.manual_seed(0)
    module = CODIGEMModule(cfg).to(device)
    trainer = Trainer(module, split, TrainConfig(progress=False, device=str(device)))
    n_users = split.n_train_users
    n_batches = -(-n_users // batch)
    if max_batches:
        n_batches = min(n_batches, max_batches)
    order = np.random.default_rng(0).permutation(n_users)
    # warm-up (allocations, kernels)
    for b in range(2):
        rows = order[b * batch : (b + 1) * batch]
        loss, _ = module.loss(dense_batch(split.train, rows, device), 0, rows)
        loss.backward()
    trainer.optimizer.zero_grad()
    _sync(device)
    t = time.perf_counter()
    for b in range(n_batches):
        rows = order[b * batch : (b + 1) * batch]
        x = dense_batch(split.train, rows, device)
        loss, _ = module.loss(x, b, rows)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()
    _sync(device)
    epoch_s = time.perf_counter() - t
    bound_s, gflops = gemm_bound_seconds(linear_shapes(module), batch, n_batches, device)
    ev = Evaluator(split, batch_size=1000, device=device)
    t = time.perf_counter()
    res = ev.evaluate(trainer, "valid")
    eval_s = time.perf_counter() - t
    users = min(n_batches * batch, n_users)
    return {
        "data": name,
        "D": split.n_items,
        "train users": users,
        "epoch s": epoch_s,
        "users/s": users / epoch_s,
        "matmul bound s": bound_s,
        "ratio to bound": epoch_s / bound_s,
        "GEMM GFLOP/s": gflops,
        "valid pass s": eval_s,
        "valid users": res.n_users,
        "peak RSS MB": peak_rss_mb(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["ml1m", "ml20m"], default=None)
    p.add_argument("--variant", default="paper", choices=["paper", "released"])
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--ml20m-batches", type=int, default=30, help="training batches timed on ML-20M shape"
    )
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    rows = []
    if args.only in (None, "ml1m"):
        if ML1M.exists():
            split = prepare_split(
                "csv", source=ML1M, preset="paper-ml1m", protocol="strong", seed=0
            )
            rows.append(bench("ML-1M paper-ml1m strong", split, args.variant, device, None))
        else:
            print(f"skipping ML-1M: {ML1M} not found", file=sys.stderr)
    if args.only in (None, "ml20m"):
        t = time.perf_counter()
        df = generate(ml20m_shape())
        split = make_split(df, "strong", seed=0, n_heldout=10_000)
        print(
            f"synthetic ML-20M shape prepared in {time.perf_counter() - t:.1f} s: "
            f"{split.n_train_users:,} train users x {split.n_items:,} items"
        )
        del df
        rows.append(
            bench(
                f"synthetic ML-20M ({args.ml20m_batches} batches)",
                split,
                args.variant,
                device,
                args.ml20m_batches,
            )
        )
    for r in rows:
        print()
        for k, v in r.items():
            print(f"  {k:<16} {v:,.3f}" if isinstance(v, float) else f"  {k:<16} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
