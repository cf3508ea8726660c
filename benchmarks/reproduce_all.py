"""Time ``codigem-lab reproduce all``: total wall, per results file, with the load average and the
machine's torch GEMM rate (fp32, one thread) measured in the same run, beside the dry-run estimate.

    python benchmarks/reproduce_all.py                                  # the committed plan
    python benchmarks/reproduce_all.py --bench-out /tmp/ra -- --dataset ml-100k --max-epochs 2 \\
        --out /tmp/ra-results --cache-root /tmp/ra-cache                 # a small end-to-end check

Writes ``<bench-out>.md`` and ``<bench-out>-raw.json`` (default results/bench/reproduce-all).
Flags after ``--`` are ``codigem-lab reproduce all``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from codigem_lab.cli import build_parser
from codigem_lab.reproduce import estimate, plan_for, report_text, run_plan

REPO = Path(__file__).resolve().parents[1]


def gemm_gflops(n: int = 1024, repeats: int = 5) -> float:
    """fp32 matmul rate of one torch thread (median of ``repeats`` n x n x n products)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    a, b = torch.randn(n, n), torch.randn(n, n)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    torch.set_num_threads(threads)
    return 2 * n**3 / statistics.median(times) / 1e9


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cut = argv.index("--") if "--" in argv else len(argv)
    ours, theirs = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-out", default=str(REPO / "results/bench/reproduce-all"))
    args = ap.parse_args(ours)
    cli = build_parser().parse_args(["reproduce", "all", *theirs])
    cli.argv = ["reproduce", "all", *theirs]  # the flags named, as the CLI reads them
    items = plan_for(cli)
    load_before, gflops_before = os.getloadavg(), gemm_gflops()
    report = run_plan(items, cli.workers, progress=not cli.no_progress)
    load_after, gflops_after = os.getloadavg(), gemm_gflops()
    estimated = {r["file"]: r["minutes"] for r in estimate(items, cli.workers)}
    command = shlex.join(["python", "benchmarks/reproduce_all.py", *argv])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    raw = {
        "command": command,
        "commit": commit.stdout.strip(),
        "written_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": os.cpu_count(),
        "load_before": load_before,
        "load_after": load_after,
        "gemm_gflops_1thread": [gflops_before, gflops_after],
        "estimated_min": estimated,
        **report,
    }
    out = Path(args.bench_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}-raw.json").write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# `codigem-lab reproduce all`: wall time",
        "",
        f"Total wall: {report['wall_s'] / 60:.1f} min with {report['workers']} worker(s) on "
        f"{os.cpu_count()} cores; load average before {' '.join(f'{v:.2f}' for v in load_before)}"
        f", after {' '.join(f'{v:.2f}' for v in load_after)}; torch fp32 GEMM, one thread: "
        f"{gflops_before:.0f} GFLOP/s before, {gflops_after:.0f} after; commit {raw['commit']}.",
        "",
        "| file written (remakes) | runs | trained now | compute min | written at min | "
        "estimated min | how |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["files"]:
        lines.append(
            f"| `{r['file']}` (`{r['remakes']}`) | {r['runs']} | {r['trained']} | "
            f"{r['compute_s'] / 60:.1f} | {r['done_s'] / 60:.1f} | "
            f"{estimated[r['remakes']]:.1f} | {r['how']} |"
        )
    lines += ["", "Made by:", "", "```", command, "```", ""]
    Path(f"{out}.md").write_text("\n".join(lines), encoding="utf-8")
    print(report_text(report))
    print(f"wrote {out}.md and {out}-raw.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
