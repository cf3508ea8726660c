"""ML-20M at full scale on synthetic data: prepare, cached load, one training epoch, one evaluation.

The real ML-20M cannot be downloaded offline, so the benchmark writes a synthetic ``ratings.csv`` in
ML-20M's format (header ``userId,movieId,rating,timestamp``, ~20M rows, 138,493 users, 20,108
items: ML-20M's item count after preprocessing, so the model has ML-20M's size) once, then times the library's own path on it: the ML-20M reader, the ``multvae``
preset (rating > 3.5, users with >= 5 items) and the ``strong`` protocol with 10,000 validation and
10,000 test users. Each phase runs in a fresh child process, so each peak RSS is that phase's own:

- ``prepare``: read the csv, preprocess, split, write the cache (peak RSS, wall time);
- ``load``: the same call again, served from the cache (wall time, peak RSS);
- ``train``: CODIGEM (paper preset) through the shared ``Trainer``: one training epoch (``--batches
  0``: every training user; ``--batches N``: the first N batches of 200 users) and one full
  evaluation pass over the 10,000 validation users (seconds, users/s, peak RSS).

    python benchmarks/bench_ml20m.py                          # CPU, 50 training batches
    python benchmarks/bench_ml20m.py --device cuda --batches 0 --precision bf16
    python benchmarks/bench_ml20m.py --workdir /data/bench    # where the csv and the cache live

Run it alone (a second heavy process on the same cores distorts every figure); ``--threads`` sets
torch's CPU threads in the training phase. Each phase also reports its CPU seconds, which a busy
machine inflates much less than wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ML20M_RAW = dict(n_users=138_493, n_items=20_108, n_interactions=20_000_263, n_groups=40)
HELDOUT = 10_000
PHASES = ("csv", "prepare", "load", "train")


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_ratings_csv(path: Path, seed: int = 0) -> dict:
    """A synthetic ratings.csv in ML-20M's format (whole-star ratings, plausible timestamps)."""
    import numpy as np

    from codigem_lab.data.synthetic import SyntheticConfig, generate

    t = time.perf_counter()
    df = generate(SyntheticConfig(**ML20M_RAW, seed=seed))
    df.columns = ["userId", "movieId", "rating"]
    rng = np.random.default_rng(seed)
    df["timestamp"] = rng.integers(789_652_004, 1_427_784_002, len(df))
    df = df.sample(frac=1.0, random_state=seed).sort_values("userId", kind="stable")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    df.to_csv(tmp, index=False, float_format="%.1f", chunksize=1_000_000)
    tmp.replace(path)
    return {
        "rows": len(df),
        "csv_mb": path.stat().st_size / 2**20,
        "write_s": time.perf_counter() - t,
    }


def prepare(workdir: Path):
    """The call the CLI makes for ``--dataset ml-20m --preset multvae --heldout 10000``."""
    from codigem_lab.data import prepare_split

    return prepare_split(
        "ml-20m",
        source=workdir / "ml-20m" / "ratings.csv",
        preset="multvae",
        protocol="strong",
        seed=0,
        cache=workdir / "cache",
        n_heldout=HELDOUT,
    )


def phase_prepare(workdir: Path) -> dict:
    t, c = time.perf_counter(), time.process_time()
    split = prepare(workdir)
    out = {
        "prepare_s": time.perf_counter() - t,
        "prepare_cpu_s": time.process_time() - c,
        "peak_rss_mb": peak_rss_mb(),
    }
    out.update(split.stats)
    out.update(train_users=split.n_train_users, items=split.n_items, train_nnz=split.train.nnz)
    return out


def phase_load(workdir: Path) -> dict:
    t, c = time.perf_counter(), time.process_time()
    split = prepare(workdir)
    if "cache_path" not in split.meta:
        raise RuntimeError("the second call did not come from the cache")
    return {
        "load_s": time.perf_counter() - t,
        "load_cpu_s": time.process_time() - c,
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_train(workdir: Path, args: argparse.Namespace) -> dict:
    import torch

    from codigem_lab.codigem import CODIGEMRecommender
    from codigem_lab.train import TrainConfig, Trainer

    if args.threads:
        torch.set_num_threads(args.threads)
    split = prepare(workdir)
    cfg = TrainConfig(
        progress=False,
        device=args.device,
        precision=args.precision,
        eval_batch_size=args.eval_batch_size,
    )
    torch.manual_seed(0)
    module = CODIGEMRecommender(args.variant, cfg).build(split)
    if args.batches:
        n = min(split.n_train_users, args.batches * cfg.batch_size)
        split = dataclasses.replace(split, train=split.train[:n])
    trainer = Trainer(module, split, cfg)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else lambda: None
    t, c = time.perf_counter(), time.process_time()
    trainer.train_epoch(1)
    sync()
    epoch_s, epoch_cpu_s = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    res = trainer.evaluate("valid")
    sync()
    eval_s, eval_cpu_s = time.perf_counter() - t, time.process_time() - c
    users = split.n_train_users
    return {
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
        "precision": args.precision,
        "epoch_users": users,
        "epoch_batches": -(-users // cfg.batch_size),
        "epoch_s": epoch_s,
        "epoch_cpu_s": epoch_cpu_s,
        "train_users_per_s": users / epoch_s,
        "eval_users": res.n_users,
        "eval_s": eval_s,
        "eval_cpu_s": eval_cpu_s,
        "eval_users_per_s": res.n_users / eval_s,
        "valid_R@50": res.metrics["R@50"],
        "peak_rss_mb": peak_rss_mb(),
    }


def run_phase(name: str, argv: list[str]) -> dict:
    """Run one phase in a fresh interpreter; its last stdout line is the phase's JSON."""
    cmd = [sys.executable, __file__, "--phase", name, *argv]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "codigem_lab_ml20m"))
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    p.add_argument("--variant", default="paper", choices=["paper", "released"])
    p.add_argument("--batches", type=int, default=50, help="training batches (0: a full epoch)")
    p.add_argument("--eval-batch-size", type=int, default=1000)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (train phase)")
    p.add_argument("--fresh", action="store_true", help="rebuild the prepared split's cache")
    p.add_argument("--phase", choices=PHASES, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    workdir = Path(args.workdir)
    if args.phase is not None:
        fn = {
            "csv": lambda: write_ratings_csv(workdir / "ml-20m" / "ratings.csv"),
            "prepare": lambda: phase_prepare(workdir),
            "load": lambda: phase_load(workdir),
            "train": lambda: phase_train(workdir, args),
        }[args.phase]
        print(json.dumps(fn()))
        return 0
    child = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--fresh"]
    results = {}
    if not (workdir / "ml-20m" / "ratings.csv").exists():
        results["csv"] = run_phase("csv", child)
    if args.fresh or not list((workdir / "cache" / "prepared").glob("ml-20m-*.npz")):
        for old in (workdir / "cache" / "prepared").glob("ml-20m-*.npz"):
            old.unlink()
        results["prepare"] = run_phase("prepare", child)
    results["load"] = run_phase("load", child)
    results["train"] = run_phase("train", child)
    for name, figures in results.items():
        print(f"{name}:")
        for k, v in figures.items():
            print(f"  {k:<20} {v:,.3f}" if isinstance(v, float) else f"  {k:<20} {v}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
