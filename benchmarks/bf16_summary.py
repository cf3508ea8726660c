"""Combine per-seed bf16-vs-fp32 runs of bench_codigem.py into one interval over seeds.

Each input is the JSON that ``bench_codigem.py --quality-seeds S --out ...`` wrote (one seed per
file, so no single job runs longer than a few minutes on a shared 2-core machine):

    python benchmarks/bf16_summary.py results/bench/quality-ml1m-seed*-raw.json \\
        --out results/bench/bf16-ml1m            # writes bf16-ml1m.md and bf16-ml1m-raw.json

Prints and writes: test R@20 / R@50 per seed in fp32 and bf16 (decoder-only fast path, which is
bit-identical to the full model in each precision), the paired difference bf16 - fp32 with a 95%
t-interval over seeds, the fp32 seed-to-seed standard deviation, and the bf16 speed-up per seed
(train seconds per epoch, same job).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path

import numpy as np
from scipy import stats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    runs, commands, loads = {}, [], []
    for f in args.files:
        d = json.loads(Path(f).read_text())
        commands.append(d["command"])
        loads.append(f"{d['load before']} -> {d['load after']}")
        for r in d["runs"]:
            runs.update(r.get("bf16 quality", {}).get("runs", {}))
    seeds = sorted({int(k.split()[1]) for k in runs})
    seeds = [s for s in seeds if f"seed {s} fp32" in runs and f"seed {s} bf16" in runs]
    out: dict = {"seeds": seeds, "per seed": runs, "inputs": commands, "load": loads}
    lines = [
        "# bf16 against fp32 on ML-1M (released preset, decoder-only fast path)",
        "",
        "Command:",
        "",
        "```",
        "python benchmarks/bf16_summary.py "
        + " ".join(shlex.quote(f) for f in args.files)
        + (f" --out {args.out}" if args.out else ""),
        "```",
        "",
        "Per-seed runs (each from its own command, below), trained to early stop with the "
        "trainer's rule; 1 torch thread; CPU seconds are this process's.",
        "",
        "| seed | precision | epochs | best | CPU s to stop | s/epoch train | test R@20 | test R@50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in seeds:
        for prec in ("fp32", "bf16"):
            v = runs[f"seed {s} {prec}"]
            lines.append(
                f"| {s} | {prec} | {v['epochs']} | {v['best_epoch']} | {v['cpu seconds']:.1f} | "
                f"{v['train_s_per_epoch']:.3f} | {v['test R@20']:.4f} | {v['test R@50']:.4f} |"
            )
    lines.append("")
    for k in ("test R@20", "test R@50"):
        a = np.array([runs[f"seed {s} fp32"][k] for s in seeds])
        b = np.array([runs[f"seed {s} bf16"][k] for s in seeds])
        d = b - a
        n = len(d)
        half = float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        sd = float(a.std(ddof=1)) if n > 1 else float("nan")
        out[k] = {
            "fp32 mean": float(a.mean()),
            "bf16 mean": float(b.mean()),
            "bf16 - fp32": float(d.mean()),
            "95% t-interval": [float(d.mean() - half), float(d.mean() + half)],
            "fp32 seed std": sd,
        }
        lines.append(
            f"- {k}: fp32 {a.mean():.4f}, bf16 {b.mean():.4f}; bf16 - fp32 {d.mean():+.4f}, 95% "
            f"t-interval over {n} seeds [{d.mean() - half:+.4f}, {d.mean() + half:+.4f}]; fp32 "
            f"seed-to-seed std {sd:.4f}"
        )
    speed = [
        runs[f"seed {s} fp32"]["train_s_per_epoch"] / runs[f"seed {s} bf16"]["train_s_per_epoch"]
        for s in seeds
    ]
    out["bf16 speed-up per seed (train s/epoch, same job)"] = speed
    lines += [
        "- bf16 speed-up (fp32 / bf16 train s per epoch), per seed: "
        + ", ".join(f"{v:.2f}" for v in speed)
        + f" (median {statistics.median(speed):.2f}); wall-clock, other jobs on the cores",
        "",
        "Per-seed commands:",
        "",
        *[f"- `{c}` (load {ld})" for c, ld in zip(commands, loads, strict=True)],
        "",
    ]
    md = "\n".join(lines)
    print(md)
    if args.out:
        out_path = Path(args.out)
        raw = out_path.parent / f"{out_path.name}-raw.json"  # a raw record, not a results table
        raw.write_text(json.dumps(out, indent=1) + "\n")
        Path(args.out).with_suffix(".md").write_text(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
