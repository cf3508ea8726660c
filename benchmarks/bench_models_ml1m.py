"""One epoch (train + validation) of every Table 2 model on ML-1M, in Table 2's settings.

The settings are read from the command stored in Table 2's committed file
(results/table2/table2-ml-1m-strong-minK.json: paper-ml1m preset, strong protocol, split seed 0,
each model's paper training settings, the tuned parameters that file chose), so the runs timed are
the ones ``reproduce all`` trains. A neural model: one training epoch (``Trainer.train_epoch``)
and one validation (metrics and the model's validation-time history terms), as ``Trainer.fit``
does per epoch; a closed-form model: its fit and one validation. CODIGEM is timed as the studies
run it (decoder-only fast path) and as the full model. Each timing is both wall and CPU seconds
(this process, one torch thread): the CPU seconds are what ``reproduce all --dry-run`` reads,
since another job sharing the cores inflates the wall seconds but hardly the CPU seconds.

The fp32 GEMM rate is measured before and after, in the same process, and the load average is
recorded: read the ratios (to CODIGEM's fast path, and epoch seconds x GEMM rate) across machines.

    python benchmarks/bench_models_ml1m.py --threads 1 --out results/bench/models-ml1m
    python benchmarks/bench_models_ml1m.py --threads 1 --models wmf,macridvae,diffrec --profile \
        --out results/bench/models-ml1m-profile   # + each epoch's top operators (torch.profiler)
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from codigem_lab.experiments.table2 import DEFAULT_MODELS, TABLE2, parse_models
from codigem_lab.metrics import Evaluator
from codigem_lab.models import build_model
from codigem_lab.neural import NeuralRecommender
from codigem_lab.paths import repo_root
from codigem_lab.reproduce import bench_data, config_from_args, parse_command
from codigem_lab.train import Trainer

REPO = Path(__file__).resolve().parents[1]
MATMUL = ("aten::mm", "aten::addmm", "aten::bmm")
TABLE2_FILE = "results/table2/table2-ml-1m-strong-minK.json"


def gemm_gflops(k: int, n: int = 500, m: int = 600, seconds: float = 1.0) -> float:
    """fp32 GEMM GFLOP/s at a CODIGEM-like shape (batch x items x hidden), CPU seconds."""
    a, b = torch.randn(n, k), torch.randn(k, m)
    torch.mm(a, b)
    reps, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
    return 2 * n * k * m * reps / (time.process_time() - t0) / 1e9


def _timed(fn, *args):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - w, time.process_time() - c


def time_model(cfg, split, model: str, variant, params: dict, repeats: int = 1) -> dict:
    """Seconds (wall and CPU) of one training epoch and one validation of one model: the median
    over ``repeats`` epochs (closed form: fits) of one model instance."""
    spec = cfg.spec(model, 0, variant, params, **TABLE2.train_for(model))
    train = dataclasses.replace(spec.train, progress=False)
    rec = build_model(spec.model, spec.variant, spec.config, train)
    torch.manual_seed(0)
    if isinstance(rec, NeuralRecommender):
        trainer = Trainer(rec.build(split), split, train)

        def validate():
            trainer.evaluate("valid")
            trainer._epoch_terms(1)  # what fit adds to each validation (CODIGEM's ELBO terms)

        steps = [lambda e: trainer.train_epoch(e), lambda e: validate()]
    else:
        evaluator = Evaluator(split, train.ks, train.recall_definition, train.eval_batch_size)
        steps = [lambda e: rec.fit(split, progress=False), lambda e: evaluator.evaluate(rec)]
    times = [[_timed(f, e)[1:] for f in steps] for e in range(1, repeats + 1)]
    med = [[statistics.median(t[i][j] for t in times) for j in (0, 1)] for i in (0, 1)]
    (tw, tc), (ew, ec) = med
    return {"train_wall_s": tw, "train_cpu_s": tc, "eval_wall_s": ew, "eval_cpu_s": ec}


def contenders(doc: dict, cfg) -> list[tuple[str, str, str | None, dict]]:
    """(label, model, variant, params): Table 2's models as it runs them, and CODIGEM's full model."""
    out = []
    for model, variant in parse_models(DEFAULT_MODELS):
        params = dict((doc.get("chosen") or {}).get(model) or {})
        label = f"{model}:{variant}" if variant else model
        if model == "codigem":
            out.append((f"{label}:full", model, variant, cfg.codigem_params(params)))
            params = cfg.codigem_params(params, fast=True)
        out.append((label, model, variant, params))
    return out


def render_md(res: dict, command: str) -> str:
    ref = res["models"].get("codigem:paper", {}).get("epoch_cpu_s")
    lines = [
        "# One epoch of every Table 2 model on ML-1M (benchmarks/bench_models_ml1m.py)",
        "",
        f"Command:\n\n```\n{command}\n```\n",
        f"Settings: those of `{res['settings_from']}` ({res['settings']}). Machine: {res['machine']};"
        f" torch {res['torch']}, {res['threads']} thread(s); load average before "
        f"{res['load_before']}, after {res['load_after']} (other jobs share these cores: read "
        "CPU seconds and ratios, not wall seconds).",
        "",
        f"fp32 GEMM rate (500 x items x 600, CPU seconds): {res['gemm_gflops_before']:.0f} GFLOP/s "
        f"before, {res['gemm_gflops_after']:.0f} after.",
        "",
        f"One epoch = one training epoch + one validation (a closed-form model: its fit + one "
        f"validation), the median of {res['repeats']} per model. `:full`: CODIGEM's full model; without it, the decoder-only fast path the "
        "studies train. `GFLOP-equivalents` = epoch CPU s x GEMM GFLOP/s (median of the two).",
        "",
        "| model | train CPU s | valid CPU s | epoch CPU s | epoch wall s | x CODIGEM (paper) fast"
        " | GFLOP-equivalents |",
        "|---|---|---|---|---|---|---|",
    ]
    rate = statistics.median([res["gemm_gflops_before"], res["gemm_gflops_after"]])
    for label, r in res["models"].items():
        x = f"{r['epoch_cpu_s'] / ref:.2f}" if ref else ""
        lines.append(
            f"| {label} | {r['train_cpu_s']:.3f} | {r['eval_cpu_s']:.3f} | {r['epoch_cpu_s']:.3f}"
            f" | {r['epoch_wall_s']:.3f} | {x} | {r['epoch_cpu_s'] * rate:.0f} |"
        )
    for label, r in res["models"].items():
        if "top_ops" in r:
            lines += [
                "",
                f"**{label}**: matmul (mm, addmm, bmm) {r['matmul_share']:.0%} of the "
                "profiled self CPU time (profiler on: seconds inflated); top operators:",
                "",
                "| operator | self CPU s | calls |",
                "|---|---|---|",
            ]
            lines += [f"| {n} | {t:.3f} | {c} |" for n, t, c in r["top_ops"]]
    return "\n".join(lines) + "\n"


def profiled(fn) -> dict:
    """``fn()``'s result with the top operators by self CPU time and the matmul share."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        r = fn()
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ops) or 1
    r["matmul_share"] = sum(e.self_cpu_time_total for e in ops if e.key in MATMUL) / total
    r["top_ops"] = [(e.key, e.self_cpu_time_total / 1e6, e.count) for e in ops[:8]]
    return r


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1, help="epochs per model (median reported)")
    p.add_argument("--models", default=None, help="comma-separated labels (default: all)")
    p.add_argument("--out", default=None, help="write OUT.md and OUT-raw.json")
    p.add_argument("--profile", action="store_true", help="also each model's top operators")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.chdir(repo_root() or REPO)  # the stored command's relative --source
    doc = json.loads(Path(TABLE2_FILE).read_text(encoding="utf-8"))
    cfg = config_from_args(parse_command(doc["command"]))
    cfg = dataclasses.replace(cfg, progress=False)
    split = cfg.data(0).load()
    chosen = contenders(doc, cfg)
    if args.models:
        keep = set(args.models.split(","))
        chosen = [c for c in chosen if c[0] in keep]
    res = {
        "settings_from": TABLE2_FILE,
        "data": bench_data(cfg),  # reproduce all --dry-run reads these seconds for this data
        "settings": f"{cfg.data_spec.preset}, {cfg.protocol}, split seed 0, "
        f"{split.n_train_users} training users, {split.n_items} items",
        "machine": f"{os.cpu_count()} logical CPUs",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "load_before": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "gemm_gflops_before": gemm_gflops(split.n_items),
        "models": {},
    }
    for label, model, variant, params in chosen:
        run = functools.partial(time_model, cfg, split, model, variant, params, args.repeats)
        r = profiled(run) if args.profile else run()
        r["epoch_cpu_s"] = r["train_cpu_s"] + r["eval_cpu_s"]
        r["epoch_wall_s"] = r["train_wall_s"] + r["eval_wall_s"]
        r["params"] = params
        res["models"][label] = r
        print(
            f"{label:<22} epoch {r['epoch_cpu_s']:8.3f} CPU s {r['epoch_wall_s']:8.3f} wall s",
            flush=True,
        )
    res["gemm_gflops_after"] = gemm_gflops(split.n_items)
    res["load_after"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    command = "python " + " ".join(
        shlex.quote(a) for a in ["benchmarks/bench_models_ml1m.py", *(argv or sys.argv[1:])]
    )
    res["command"] = command
    md = render_md(res, command)
    print(md)
    if args.out:
        Path(f"{args.out}-raw.json").write_text(json.dumps(res, indent=2) + "\n")
        Path(f"{args.out}.md").write_text(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
