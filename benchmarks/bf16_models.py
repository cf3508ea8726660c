"""bf16 against fp32, model by model, in Table 2's settings on ML-1M: may a model train in bf16?

Each model is trained to early stop for every seed of Table 2's committed file
(results/table2/table2-ml-1m-strong-minK.json: its command gives data, protocol, split, budget)
twice, once per precision; runs go through the result cache (``--cache-root``), so fp32 runs that
Table 2 already made are read, not trained again. Per model and metric it prints the paired
difference bf16 - fp32 over seeds with its 95% t-interval, fp32's seed-to-seed standard deviation,
and a verdict: **within seed noise** when, for every metric, the interval holds 0 and the mean
difference is no larger than that standard deviation. Speed-up: fp32 / bf16 training seconds per
epoch as each run recorded it (runs of a pool of ``--workers`` processes, one torch thread each).

    python benchmarks/bf16_models.py --workers 2 --out results/bench/bf16-models
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shlex
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from scipy import stats

from codigem_lab.experiments.common import run_specs
from codigem_lab.experiments.table2 import TABLE2, parse_models
from codigem_lab.reproduce import _train, config_from_args, parse_command

REPO = Path(__file__).resolve().parents[1]
TABLE2_FILE = "results/table2/table2-ml-1m-strong-minK.json"
MODELS = "macridvae,multvae,multdae,diffrec,neumf,codigem:paper,codigem:released"
METRICS = ("R@20", "R@50", "N@20", "N@50")


def specs_for(cfg, model: str, variant: str | None, precision: str) -> list:
    """Table 2's runs of one model (every seed) in ``precision``."""
    params = cfg.codigem_params({}, fast=True) if model == "codigem" else {}
    train = {**TABLE2.train_for(model), "precision": precision}
    return [cfg.spec(model, s, variant, params, **train) for s in cfg.seeds]


def compare(fp32: list, bf16: list) -> dict:
    """Per metric: mean paired difference (bf16 - fp32) over seeds, its 95% t-interval, fp32's
    seed-to-seed SD; and the verdict over all metrics."""
    out: dict = {"metrics": {}}
    for m in METRICS:
        a = [r.test[m] for r in fp32]
        b = [r.test[m] for r in bf16]
        d = [y - x for x, y in zip(a, b)]
        mean, n = statistics.fmean(d), len(d)
        half = stats.t.ppf(0.975, n - 1) * statistics.stdev(d) / n**0.5 if n > 1 else float("inf")
        sd = statistics.stdev(a) if n > 1 else float("nan")
        out["metrics"][m] = {
            "fp32": a,
            "bf16": b,
            "fp32_mean": statistics.fmean(a),
            "bf16_mean": statistics.fmean(b),
            "diff": mean,
            "ci": [mean - half, mean + half],
            "fp32_sd": sd,
            "within": bool(mean - half <= 0 <= mean + half and abs(mean) <= sd),
        }
    out["within_seed_noise"] = all(v["within"] for v in out["metrics"].values())
    per = [
        (f.summary["train_s_per_epoch"] / b.summary["train_s_per_epoch"])
        for f, b in zip(fp32, bf16)
        if b.summary.get("train_s_per_epoch")
    ]
    out["speedup_per_seed"] = per
    out["epochs"] = {
        "fp32": [r.summary.get("epochs") for r in fp32],
        "bf16": [r.summary.get("epochs") for r in bf16],
    }
    return out


def markdown(doc: dict) -> str:
    lines = [
        "# bf16 against fp32, model by model (ML-1M, Table 2's settings)",
        "",
        "Command:",
        "",
        "```",
        doc["command"],
        "```",
        "",
        f"Settings: the command of `{TABLE2_FILE}`; seeds {doc['seeds']}; each run to early "
        "stop by the trainer's rule. Verdict *within seed noise*: for every metric the 95% "
        "t-interval of the paired difference (bf16 - fp32, over seeds) holds 0 and the mean "
        "difference is no larger than fp32's seed-to-seed SD. Speed-up: fp32 / bf16 training "
        "seconds per epoch as each run recorded them when it was trained (runs missing from the "
        f"cache by {doc['how']}; the others, e.g. Table 2's fp32 runs, by earlier commands, some "
        "with other jobs on the cores: read the speed-ups as rough, the verdicts as exact).",
        "",
        "| model | metric | fp32 | bf16 | bf16 - fp32 [95% CI] | fp32 SD | within |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, res in doc["models"].items():
        for m, v in res["metrics"].items():
            lines.append(
                f"| {name} | {m} | {v['fp32_mean']:.4f} | {v['bf16_mean']:.4f} | "
                f"{v['diff']:+.4f} [{v['ci'][0]:+.4f}, {v['ci'][1]:+.4f}] | {v['fp32_sd']:.4f} | "
                f"{'yes' if v['within'] else 'no'} |"
            )
    lines += [
        "",
        "| model | verdict | speed-up per seed | epochs fp32 | epochs bf16 |",
        "|---|---|---|---|---|",
    ]
    for name, res in doc["models"].items():
        verdict = "within seed noise" if res["within_seed_noise"] else "not within seed noise"
        speed = ", ".join(f"{s:.2f}" for s in res["speedup_per_seed"])
        lines.append(
            f"| {name} | {verdict} | {speed} | {res['epochs']['fp32']} | {res['epochs']['bf16']} |"
        )
    lines += [
        "",
        f"This invocation: load average before {doc['load_before']}, after {doc['load_after']}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=MODELS)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache-root", default=None)
    p.add_argument("--out", required=True, help="path stem: writes STEM.md and STEM-raw.json")
    args = p.parse_args(argv)
    doc_in = json.loads((REPO / TABLE2_FILE).read_text(encoding="utf-8"))
    targs = parse_command(doc_in["command"])
    targs.cache_root, targs.progress = args.cache_root, False
    cfg = config_from_args(targs)
    models = parse_models(args.models)
    jobs = {p: [specs_for(cfg, m, v, p) for m, v in models] for p in ("fp32", "bf16")}
    flat = [s for group in jobs.values() for specs in group for s in specs]
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    cache_args = (cfg.cache_root, False, True)
    spawn = multiprocessing.get_context("spawn")
    flat.sort(key=lambda s: s.model != "macridvae")  # the longest runs first
    with ProcessPoolExecutor(args.workers, spawn, torch.set_num_threads, (1,)) as pool:
        for key in pool.map(_train, flat, *[[a] * len(flat) for a in cache_args]):
            print("done", key, flush=True)
    cache = cfg.cache()
    doc = {
        "command": "python benchmarks/bf16_models.py " + shlex.join(argv or sys.argv[1:]),
        "settings_from": TABLE2_FILE,
        "seeds": list(cfg.seeds),
        "how": f"a pool of {args.workers} process(es), one torch thread each",
        "load_before": load_before,
        "models": {},
    }
    for (m, v), f32, b16 in zip(models, jobs["fp32"], jobs["bf16"]):
        rf, _ = run_specs(f32, cache, progress=False)
        rb, _ = run_specs(b16, cache, progress=False)
        doc["models"][f"{m}:{v}" if v else m] = compare(rf, rb)
    doc["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}-raw.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    Path(f"{out}.md").write_text(markdown(doc), encoding="utf-8")
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
