"""Profile CODIGEM training epochs on ML-1M with torch.profiler; print the top operators.

    python benchmarks/profile_codigem.py --variant released --epochs 2 [--decoder-only] [--precision bf16]

Prints the operator table (self CPU time) of the profiled epochs and the share of the epoch spent
in matrix multiplications (aten::mm / addmm and their backward), the rest being what the
benchmark's "ratio to bound" pays for.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

from codigem_lab.codigem import CODIGEMRecommender
from codigem_lab.data import prepare_split
from codigem_lab.train import TrainConfig, Trainer

ML1M = "/work/shared/data/ml-1m/ratings_no_timestamp.csv"
MATMUL = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear")
GROUPS = {
    "matmul (mm, addmm)": MATMUL,
    "Adamax update (lerp_, mul_, abs, add_, maximum, addcdiv_)": (
        "aten::lerp_",
        "aten::mul_",
        "aten::abs",
        "aten::add_",
        "aten::maximum",
        "aten::addcdiv_",
    ),
    "noise (normal_)": ("aten::normal_",),
    "PReLU fwd + bwd": ("aten::_prelu_kernel", "aten::_prelu_kernel_backward"),
    "reductions (sum: bias grads, PReLU weight grads, log-densities)": ("aten::sum",),
    "dense batch (index, index_put_, zero_)": (
        "aten::index",
        "aten::_index_put_impl_",
        "aten::zero_",
    ),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=ML1M)
    p.add_argument("--variant", default="released", choices=["paper", "released"])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--decoder-only", action="store_true")
    p.add_argument("--rows", type=int, default=25)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    split = prepare_split("csv", source=args.source, preset="paper-ml1m", protocol="strong", seed=0)
    cfg = TrainConfig(progress=False, precision=args.precision)
    rec = CODIGEMRecommender(args.variant, cfg, decoder_only=args.decoder_only)
    torch.manual_seed(0)
    trainer = Trainer(rec.build(split), split, cfg)
    trainer.train_epoch(1)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for e in range(args.epochs):
            trainer.train_epoch(e + 2)
        wall = (time.perf_counter() - t) / args.epochs
    avg = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in avg)
    mm = sum(e.self_cpu_time_total for e in avg if e.key in MATMUL)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args}")
    print(f"epoch wall {wall:.3f} s (under the profiler); matmul self-CPU share {mm / total:.1%}")
    print(f"load average {' '.join(f'{v:.2f}' for v in __import__('os').getloadavg())}")
    seen: set[str] = set()
    for label, keys in GROUPS.items():
        t = sum(e.self_cpu_time_total for e in avg if e.key in keys and e.key not in seen)
        seen.update(keys)
        print(f"  {label:<66} {t / total:6.1%}")
    rest = sum(e.self_cpu_time_total for e in avg if e.key not in seen)
    print(f"  {'everything else (elementwise fwd/bwd, copies, autograd)':<66} {rest / total:6.1%}")
    print(avg.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
