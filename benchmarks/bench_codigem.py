"""CODIGEM training speed on ML-1M as ratios measured in one run: matmul bound, full model (fp32,
bf16), the decoder-only fast path (fp32, bf16), a released-equivalent loop, and time to quality.

Every contender trains one epoch over the same 4,827 users in the same shuffled batches; the
contenders alternate within each round (round r starts with contender r mod n), so load from
other jobs on the machine lands on all of them alike. Ratios are per round, then the median over
rounds. The matmul bound is the model's matmul FLOPs per epoch (forward + backward of every Linear
layer, :func:`n_flops_per_example`) over this machine's float32 GEMM rate, measured in the same run
at the same shapes.

The released-equivalent loop (:func:`released_epoch`) is a plain PyTorch loop that mirrors the
authors' training step (see docs/released-code.md): the batch densified from scipy, the
same three networks, textbook Gaussian terms, Adamax lr 1e-3, batch 200.

Time to quality: start (data in memory) to early stop with the trainer's stopping rule, for the
full model and for the fast path, with the test R@20 / R@50 each reaches.

    python benchmarks/bench_codigem.py --rounds 3 --clock cpu --threads 1 --components \\
        --out results/bench/bench-ml1m-cpu1      # writes ...-cpu1.md and ...-cpu1-raw.json
    python benchmarks/bench_codigem.py --only ml20m --ml20m-batches 30   # synthetic ML-20M shape

Run it alone where possible: a second heavy process on the same cores distorts every figure
(the output records the load average before and after).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import resource
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from codigem_lab.codigem import CODIGEMRecommender
from codigem_lab.data import make_split, ml20m_shape, prepare_split
from codigem_lab.data.synthetic import generate
from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig, n_flops_per_example
from codigem_lab.train import TrainConfig, Trainer, matmul_precision, resolve_device

REPO = Path(__file__).resolve().parents[1]
ML1M = (
    Path(os.environ.get("CODIGEM_LAB_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "ml-1m"
    / "ratings_no_timestamp.csv"
)
LOG_2PI = math.log(2.0 * math.pi)
CLOCK = time.perf_counter  # --clock cpu: time.process_time (this process's CPU seconds)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} logical CPUs"


def linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


# ============================================================ the released-equivalent loop
class ReleasedMLP(nn.Module):
    """Linear(D, M), PReLU, 4 x [Linear(M, M), PReLU], Linear(M, out) (+ Tanh for the decoder)."""

    def __init__(self, d: int, out: int, m: int = 200, tanh: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(d, m), nn.PReLU()]
        for _ in range(4):
            layers += [nn.Linear(m, m), nn.PReLU()]
        layers.append(nn.Linear(m, out))
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


def _lognormal(x, mu, logvar):
    return -0.5 * (LOG_2PI + logvar + (x - mu) ** 2 / torch.exp(logvar)).sum(-1)


def released_step(train, rows, nets, opt, beta=1e-4, T=3, device="cpu") -> torch.Tensor:
    """One training step of the authors' loop, written plainly (their structure, our code)."""
    net_a, net_b, dec = nets
    a, s = math.sqrt(1.0 - beta), math.sqrt(beta)
    x = torch.from_numpy(train[rows].toarray()).to(device)
    zs, z = [], x
    for _ in range(T):
        z = a * z + s * torch.randn_like(z)
        zs.append(z)
    rec = _lognormal(x, dec(zs[0]), torch.zeros_like(x))
    mu_b, lv_b = net_b(zs[2]).chunk(2, dim=-1)  # released pairing: z1 | net(z3)
    mu_a, lv_a = net_a(zs[1]).chunk(2, dim=-1)  # and z2 | net(z2)
    logp = _lognormal(zs[0], mu_b, lv_b) + _lognormal(zs[1], mu_a, lv_a)
    logp = logp + _lognormal(zs[2], torch.zeros_like(x), torch.zeros_like(x))
    logq = sum(  # forward terms, each z_i conditioned on itself (deviation 1)
        _lognormal(zi, a * zi, torch.full_like(zi, math.log(beta))) for zi in zs
    )
    kl = logq - logp
    loss = -(rec - kl).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.detach()


# ================================================================================ contenders
@dataclasses.dataclass
class Contender:
    name: str
    step: object  # callable(rows, epoch, batch) -> None: one training step
    flops_per_user: float


def contenders(split, variant: str, device: torch.device, which: list[str]) -> list[Contender]:
    D = split.n_items
    cfg = CODIGEMConfig.preset(variant, n_items=D)
    full_flops = n_flops_per_example(cfg)
    dec_flops = n_flops_per_example(dataclasses.replace(cfg, T=1))
    out = []
    for name in which:
        if name.startswith("gemm-"):
            model = CODIGEM(cfg)
            shapes = linear_shapes(model if name == "gemm-full" else model.decoder)
            mats = [
                (
                    torch.randn(200, i, device=device),
                    torch.randn(o, i, device=device),
                    torch.randn(200, o, device=device),
                )
                for i, o in shapes
            ]

            def step(rows, epoch, b, mats=mats):  # the batch's matmuls alone: fwd, dX, dW
                for x, w, dy in mats:
                    x[: len(rows)] @ w.T
                    dy[: len(rows)] @ w
                    dy[: len(rows)].T @ x[: len(rows)]
                return torch.zeros(())

            out.append(Contender(name, step, 0.0))
        elif name == "adamax-only":  # the full model's optimiser step alone, fixed gradients
            torch.manual_seed(0)
            params = list(CODIGEM(cfg).to(device).parameters())
            for q in params:
                q.grad = 1e-3 * torch.randn_like(q)
            opt = torch.optim.Adamax(params, lr=1e-3)

            def step(rows, epoch, b, opt=opt):
                opt.step()
                return torch.zeros(())

            out.append(Contender(name, step, 0.0))
        elif name == "noise-only":  # drawing eps_1..eps_T for one batch alone
            gen = torch.Generator(device=device).manual_seed(0)

            def step(rows, epoch, b, gen=gen):
                for _ in range(cfg.T):
                    torch.randn(len(rows), D, generator=gen, device=device)
                return torch.zeros(())

            out.append(Contender(name, step, 0.0))
        elif name == "released-loop":
            torch.manual_seed(0)
            nets = [
                ReleasedMLP(D, 2 * D).to(device),
                ReleasedMLP(D, 2 * D).to(device),
                ReleasedMLP(D, D, tanh=True).to(device),
            ]
            opt = torch.optim.Adamax([p for n in nets for p in n.parameters()], lr=1e-3)

            def step(rows, epoch, b, nets=nets, opt=opt):
                return released_step(split.train, rows, nets, opt, device=device)

            out.append(Contender(name, step, full_flops))
        else:  # full-fp32, fast-bf16, ...; a suffix @T<n> overrides T (e.g. fast-fp32@T15)
            base, _, t_over = name.partition("@T")
            kind, precision = base.rsplit("-", 1)
            tc = TrainConfig(progress=False, device=str(device), precision=precision, seed=0)
            over = {"T": int(t_over)} if t_over else {}
            rec = CODIGEMRecommender(variant, tc, decoder_only=kind == "fast", **over)
            torch.manual_seed(0)
            tr = Trainer(rec.build(split), split, tc)
            tr.module.train()

            def step(rows, epoch, b, tr=tr):  # what Trainer._train_epoch does per batch
                with matmul_precision(tr.config.precision, tr.device):
                    return tr._train_step(rows, 1.0, b, epoch, b)["loss"]

            out.append(Contender(name, step, dec_flops if kind == "fast" else full_flops))
    return out


def time_epochs(
    cons: list[Contender], n_users: int, rounds: int, device, chunk: int = 5
) -> dict[str, list[float]]:
    """Per round, one epoch of every contender over the same shuffled batches, interleaved.

    The epoch is cut into chunks of ``chunk`` batches; chunk k runs every contender in turn,
    the order rotating from chunk to chunk, so load from other jobs falls on all of them alike.
    A contender's epoch time is the sum of its chunks (plus the per-epoch loss check).
    """
    batch = 200
    warm = np.random.default_rng(0).permutation(n_users)
    for c in cons:  # warm-up: two batches each
        for b in range(2):
            c.step(warm[b * batch : (b + 1) * batch], 0, b + 1)
    times: dict[str, list[float]] = {c.name: [] for c in cons}
    for r in range(rounds):
        order = np.random.default_rng(r + 1).permutation(n_users)
        starts = list(range(0, n_users, batch))
        acc = {c.name: 0.0 for c in cons}
        losses: dict[str, list] = {c.name: [] for c in cons}
        for k, c0 in enumerate(range(0, len(starts), chunk)):
            rot = (k + r) % len(cons)
            for c in cons[rot:] + cons[:rot]:
                _sync(device)
                t = CLOCK()
                for b in range(c0, min(c0 + chunk, len(starts))):
                    rows = order[starts[b] : starts[b] + batch]
                    losses[c.name].append(c.step(rows, r + 1, b + 1))
                _sync(device)
                acc[c.name] += CLOCK() - t
        for c in cons:
            t = CLOCK()
            bool(torch.isfinite(torch.stack(losses[c.name])).all())
            times[c.name].append(acc[c.name] + CLOCK() - t)
        print(
            f"  round {r + 1} (load {load()}): "
            + ", ".join(f"{n} {v[-1]:.2f} s" for n, v in times.items()),
            flush=True,
        )
    return times


def time_to_quality(split, variant: str, device, precision: str, decoder_only: bool, seed=0):
    """Seconds from start to early stop (fit incl. validation and the final test pass)."""
    tc = TrainConfig(progress=False, device=str(device), precision=precision, seed=seed)
    rec = CODIGEMRecommender(variant, tc, decoder_only=decoder_only)
    t, c = time.perf_counter(), time.process_time()
    rec.fit(split)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    r = rec.result
    return {
        "seconds": wall,
        "cpu seconds": cpu,
        "epochs": r.epochs,
        "best_epoch": r.best_epoch,
        "train_s_per_epoch": r.train_s_per_epoch,
        "eval_s_per_epoch": r.eval_s_per_epoch,
        "test R@20": r.test.metrics["R@20"],
        "test R@50": r.test.metrics["R@50"],
        "test N@50": r.test.metrics.get("N@50"),
        "_decoder": {
            k: v for k, v in rec.module.state_dict().items() if k.startswith("model.decoder.")
        },
    }


def bench_ml1m(args, device) -> dict:
    split = prepare_split("csv", source=args.source, preset="paper-ml1m", protocol="strong", seed=0)
    n_users, batch = split.n_train_users, 200
    n_batches = -(-n_users // batch)
    cfg = CODIGEMConfig.preset(args.variant, n_items=split.n_items)
    shapes_full = linear_shapes(CODIGEM(cfg))
    shapes_dec = linear_shapes(CODIGEM(cfg).decoder)
    which = ["gemm-full", "gemm-decoder", *args.contenders.split(",")]
    if args.components:
        which += ["adamax-only", "noise-only"]
    cons = contenders(split, args.variant, device, which)
    print(f"ML-1M: {n_users:,} train users x {split.n_items:,} items, {n_batches} batches/epoch")
    times = time_epochs(cons, n_users, args.rounds, device)
    gemm_full, gemm_dec = times.pop("gemm-full"), times.pop("gemm-decoder")
    components = {k: times.pop(k) for k in ("adamax-only", "noise-only") if k in times}
    flops_full = sum(3 * 2 * n_users * i * o for i, o in shapes_full)
    flops_dec = sum(3 * 2 * n_users * i * o for i, o in shapes_dec)
    bound_full, bound_dec = statistics.median(gemm_full), statistics.median(gemm_dec)
    gflops, gflops_dec = flops_full / bound_full / 1e9, flops_dec / bound_dec / 1e9
    med = {k: statistics.median(v) for k, v in times.items()}

    def ratio(a: str, b: str) -> float:  # median over rounds of (a / b) in the same round
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    rows = {}
    for name in times:
        rows[name] = {
            "epoch s (median)": med[name],
            "epoch s (min)": min(times[name]),
            "epoch s (rounds)": times[name],
            "to fp32 full-model bound": med[name] / bound_full,
        }

    def to_bound(name: str, gemm: list[float]) -> float:  # same round, median over rounds
        return statistics.median(x / y for x, y in zip(times[name], gemm, strict=True))

    ratios = {}
    for name in times:
        if name.startswith("fast"):
            ratios[f"{name} / decoder matmul bound"] = to_bound(name, gemm_dec)
        ratios[f"{name} / full-model matmul bound"] = to_bound(name, gemm_full)
    pairs = [
        ("released-loop", "full-fp32", "full-fp32 speed-up over released loop"),
        ("released-loop", "full-bf16", "full-bf16 speed-up over released loop"),
        ("full-fp32", "full-bf16", "bf16 speed-up, full model"),
        ("full-fp32", "fast-fp32", "fast path speed-up over full model (fp32)"),
        ("fast-fp32", "fast-bf16", "bf16 speed-up, fast path"),
        ("full-fp32", "fast-bf16", "fast bf16 speed-up over full fp32"),
        ("released-loop", "fast-fp32", "fast fp32 speed-up over released loop"),
    ]
    for name in times:  # T sweeps: cost of T = n relative to the default T = 3, same path
        base, _, t_over = name.partition("@T")
        if t_over and base in times:
            pairs.append((name, base, f"{name} / {base} (T = {t_over} vs 3)"))
    for a, b, label in pairs:
        if a in times and b in times:
            ratios[label] = ratio(a, b)
    out = {
        "data": "ML-1M paper-ml1m strong (split seed 0)",
        "variant": args.variant,
        "D": split.n_items,
        "train users": n_users,
        "GEMM GFLOP/s (fp32, full-model shapes)": gflops,
        "GEMM GFLOP/s (fp32, decoder shapes)": gflops_dec,
        "matmul bound s (full model)": bound_full,
        "matmul bound s (decoder only)": bound_dec,
        "matmul bound s (full model, rounds)": gemm_full,
        "matmul bound s (decoder only, rounds)": gemm_dec,
        "clock": args.clock,
        "epochs": rows,
        "ratios": ratios,
        "components (s per epoch, median; x full-model bound)": {
            k: [statistics.median(v), statistics.median(x / y for x, y in zip(v, gemm_full))]
            for k, v in components.items()
        },
    }
    if args.time_to_quality:
        ttq = {}
        plan = []
        for name in args.ttq.split(","):
            kind, precision = name.rsplit("-", 1)
            plan.append((name, precision, kind == "fast"))
        for name, precision, dec in plan:
            print(f"  time to quality: {name} ...", flush=True)
            ttq[name] = time_to_quality(split, args.variant, device, precision, dec)
            print(
                f"    {ttq[name]['seconds']:.1f} s, {ttq[name]['epochs']} epochs, "
                f"test R@50 {ttq[name]['test R@50']:.4f}"
            )
        if "full-fp32" in ttq and "fast-fp32" in ttq:
            a, b = ttq["full-fp32"]["_decoder"], ttq["fast-fp32"]["_decoder"]
            ttq["fast-fp32 decoder == full-fp32 decoder (bit for bit)"] = all(
                torch.equal(a[k], b[k]) for k in a
            )
        for v in ttq.values():
            if isinstance(v, dict):
                v.pop("_decoder", None)
        out["time to quality"] = ttq
    if args.check_identity:
        out["identity check"] = identity_check(split, args, device)
    if args.quality_seeds:
        out["bf16 quality"] = bf16_quality(split, args, device)
    out["peak RSS MB"] = peak_rss_mb()
    return out


def identity_check(split, args, device) -> dict:
    """Full model vs fast path on ML-1M for ``--check-identity`` epochs (fp32, seed 0): are the
    decoder weights and the validation / test metrics bit for bit the same?"""
    res = {}
    for name, dec in (("full", False), ("fast", True)):
        tc = TrainConfig(progress=False, device=str(device), seed=0, max_epochs=args.check_identity)
        rec = CODIGEMRecommender(args.variant, tc, decoder_only=dec).fit(split)
        res[name] = rec
    a, b = (
        {k: v for k, v in r.module.state_dict().items() if k.startswith("model.decoder.")}
        for r in (res["full"], res["fast"])
    )
    full, fast = res["full"].result, res["fast"].result
    return {
        "epochs": args.check_identity,
        "decoder state_dict equal": all(torch.equal(a[k], b[k]) for k in a),
        "valid metrics equal": full.valid.metrics == fast.valid.metrics,
        "test metrics equal": full.test.metrics == fast.test.metrics,
        "test R@50 (full, fast)": [full.test.metrics["R@50"], fast.test.metrics["R@50"]],
        "train s per epoch (full, fast)": [full.train_s_per_epoch, fast.train_s_per_epoch],
    }


def bf16_quality(split, args, device) -> dict:
    """Test R@20 / R@50 of fp32 and bf16 per training seed (fast path, bit-identical to the full
    model in each precision), the paired difference bf16 - fp32 with a 95% t-interval over seeds,
    and the seed-to-seed std of fp32 (the noise a difference must stay inside)."""
    from scipy import stats

    seeds = [int(v) for v in args.quality_seeds.split(",")]
    per = {}
    for seed in seeds:
        for precision in ("fp32", "bf16"):
            print(f"  bf16 quality: seed {seed} {precision} ...", flush=True)
            r = time_to_quality(split, args.variant, device, precision, True, seed=seed)
            r.pop("_decoder", None)
            per[f"seed {seed} {precision}"] = r
    out: dict = {"runs": per}
    for k in ("test R@20", "test R@50"):
        a = np.array([per[f"seed {s} fp32"][k] for s in seeds])
        b = np.array([per[f"seed {s} bf16"][k] for s in seeds])
        d = b - a
        half = (
            float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
            if len(d) > 1
            else float("nan")
        )
        out[k] = {
            "fp32 mean": float(a.mean()),
            "bf16 mean": float(b.mean()),
            "bf16 - fp32 mean": float(d.mean()),
            "95% interval": [float(d.mean() - half), float(d.mean() + half)],
            "fp32 seed std": float(a.std(ddof=1)) if len(a) > 1 else float("nan"),
        }
    out["speed: fp32 / bf16 train s per epoch (median over seeds)"] = float(
        statistics.median(
            per[f"seed {s} fp32"]["train_s_per_epoch"] / per[f"seed {s} bf16"]["train_s_per_epoch"]
            for s in seeds
        )
    )
    return out


def bench_ml20m(args, device) -> dict:
    """Synthetic ML-20M shape: seconds per epoch of the full model and the fast path (fp32)."""
    t = time.perf_counter()
    df = generate(ml20m_shape())
    split = make_split(df, "strong", seed=0, n_heldout=10_000)
    del df
    print(f"synthetic ML-20M shape prepared in {time.perf_counter() - t:.1f} s")
    res = {"data": "synthetic ML-20M shape", "D": split.n_items, "train users": split.n_train_users}
    n_batches = -(-split.n_train_users // 200)
    for name, dec in (("full-fp32", False), ("fast-fp32", True)):
        tc = TrainConfig(progress=False, device=str(device), seed=0)
        rec = CODIGEMRecommender(args.variant, tc, decoder_only=dec)
        torch.manual_seed(0)
        tr = Trainer(rec.build(split), split, tc)
        sampler = tr._sampler(np.random.default_rng(0))
        sampler.set_epoch(1)
        shards = list(sampler.batches())[: args.ml20m_batches + 1]
        tr.module.train()
        tr._train_step(shards[0].rows, 1.0, 0, 1, 1)  # warm-up
        _sync(device)
        t = time.perf_counter()
        for b, sh in enumerate(shards[1:], start=2):
            tr._train_step(sh.rows, 1.0, b, 1, b)
        _sync(device)
        per_batch = (time.perf_counter() - t) / max(len(shards) - 1, 1)
        res[f"{name} s/epoch (from {len(shards) - 1} batches)"] = per_batch * n_batches
    res["paper Table 5 CODIGEM s/epoch (train, eval)"] = [48.22, 46.67]
    return res


def render_md(result: dict, command: str) -> str:
    lines = [
        "# CODIGEM training speed (benchmarks/bench_codigem.py)",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: {result['machine']}; torch {result['torch']}, {result['threads']} threads, "
        f"device {result['device']}; load average before {result['load before']}, after "
        f"{result['load after']} (other jobs share these cores: read ratios, not seconds).",
        "",
    ]
    for r in result["runs"]:
        lines.append(f"## {r['data']}")
        lines.append("")
        if "epochs" in r:
            lines.append(
                f"fp32 GEMM rate at CODIGEM's shapes: {r['GEMM GFLOP/s (fp32, full-model shapes)']:.0f} "
                f"GFLOP/s; matmul bound per epoch: full model {r['matmul bound s (full model)']:.3f} s, "
                f"decoder only {r['matmul bound s (decoder only)']:.3f} s (the batches' matmuls "
                f"alone, timed interleaved with the contenders; clock: {r['clock']})."
            )
            lines += [
                "",
                "| contender | epoch s (median) | min | x full-model bound |",
                "|---|---|---|---|",
            ]
            for name, e in r["epochs"].items():
                lines.append(
                    f"| {name} | {e['epoch s (median)']:.3f} | {e['epoch s (min)']:.3f} | "
                    f"{e['to fp32 full-model bound']:.2f} |"
                )
            lines += ["", "| ratio (median over rounds, same round) | value |", "|---|---|"]
            for k, v in r["ratios"].items():
                lines.append(f"| {k} | {v:.2f} |")
            comp = r.get("components (s per epoch, median; x full-model bound)") or {}
            if comp:
                lines += [
                    "",
                    "Overheads timed alone, interleaved with the rest (s per epoch; x full-model bound):",
                    "",
                ]
                for k, (sec, rat) in comp.items():
                    lines.append(f"- {k}: {sec:.3f} s ({rat:.2f} x bound)")
            if "time to quality" in r:
                lines += [
                    "",
                    "Time to quality (start to early stop, validation and test passes included):",
                    "",
                    "| run | wall s | CPU s | epochs | best epoch | s/epoch train | test R@20 | test R@50 |",
                    "|---|---|---|---|---|---|---|---|",
                ]
                for k, v in r["time to quality"].items():
                    if isinstance(v, dict):
                        lines.append(
                            f"| {k} | {v['seconds']:.1f} | {v['cpu seconds']:.1f} | {v['epochs']} | "
                            f"{v['best_epoch']} | "
                            f"{v['train_s_per_epoch']:.3f} | {v['test R@20']:.4f} | "
                            f"{v['test R@50']:.4f} |"
                        )
                    else:
                        lines += ["", f"{k}: {v}"]
            if "identity check" in r:
                lines += ["", "Full model vs fast path on this data, fp32, seed 0:", ""]
                lines += [f"- {k}: {v}" for k, v in r["identity check"].items()]
            if "bf16 quality" in r:
                q = r["bf16 quality"]
                lines += [
                    "",
                    "bf16 against fp32 (fast path, per training seed, to early stop):",
                    "",
                    "| run | wall s to stop | CPU s | epochs | best | s/epoch train | test R@20 | "
                    "test R@50 |",
                    "|---|---|---|---|---|---|---|---|",
                ]
                for k, v in q["runs"].items():
                    lines.append(
                        f"| {k} | {v['seconds']:.1f} | {v['cpu seconds']:.1f} | {v['epochs']} | "
                        f"{v['best_epoch']} | {v['train_s_per_epoch']:.3f} | "
                        f"{v['test R@20']:.4f} | {v['test R@50']:.4f} |"
                    )
                lines.append("")
                for k in ("test R@20", "test R@50"):
                    e = q[k]
                    lo, hi = e["95% interval"]
                    lines.append(
                        f"- {k}: fp32 {e['fp32 mean']:.4f}, bf16 {e['bf16 mean']:.4f}; bf16 - fp32 "
                        f"{e['bf16 - fp32 mean']:+.4f} (95% t-interval over seeds {lo:+.4f} to "
                        f"{hi:+.4f}); fp32 seed-to-seed std {e['fp32 seed std']:.4f}"
                    )
                k = "speed: fp32 / bf16 train s per epoch (median over seeds)"
                lines.append(f"- {k}: {q[k]:.2f}")
        else:
            for k, v in r.items():
                lines.append(f"- {k}: {v}")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["ml1m", "ml20m"], default="ml1m")
    p.add_argument("--source", default=str(ML1M), help="ML-1M ratings csv")
    p.add_argument("--variant", default="released", choices=["paper", "released"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--contenders",
        default="released-loop,full-fp32,full-bf16,fast-fp32,fast-bf16",
        help="comma-separated subset of released-loop, full-fp32, full-bf16, fast-fp32, fast-bf16",
    )
    p.add_argument("--time-to-quality", action="store_true", help="train to early stop too")
    p.add_argument(
        "--ttq",
        default="full-fp32,fast-fp32,fast-bf16",
        help="runs timed to early stop (subset of full-fp32, full-bf16, fast-fp32, fast-bf16)",
    )
    p.add_argument(
        "--check-identity",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="train the full model and the fast path this many epochs; compare bit for bit",
    )
    p.add_argument(
        "--quality-seeds",
        default=None,
        help="e.g. 0,1,2: train fp32 and bf16 (fast path) to early stop per seed, compare R@20/50",
    )
    p.add_argument(
        "--components", action="store_true", help="also time Adamax steps and noise draws alone"
    )
    p.add_argument("--ml20m-batches", type=int, default=30)
    p.add_argument("--out", default=None, help="write OUT.json and OUT.md")
    p.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "cpu"],
        help="wall: perf_counter; cpu: this process's CPU time (robust to other jobs on the "
        "cores when --threads 1; with more threads it counts OpenMP spin-waits too)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    command = "python benchmarks/bench_codigem.py " + " ".join(
        shlex.quote(a) for a in (argv or sys.argv[1:])
    )
    result = {
        "command": command,
        "machine": machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "load before": load(),
        "runs": [],
    }
    print(
        f"{result['machine']}; torch {torch.__version__}, threads {result['threads']}, load {result['load before']}"
    )
    t0 = time.perf_counter()
    if args.only == "ml1m":
        if not Path(args.source).exists():
            print(f"ML-1M not found at {args.source}", file=sys.stderr)
            return 2
        result["runs"].append(bench_ml1m(args, device))
    else:
        result["runs"].append(bench_ml20m(args, device))
    result["load after"] = load()
    result["wall s"] = time.perf_counter() - t0
    md = render_md(result, command)
    print()
    print(md)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        raw = out.parent / f"{out.name}-raw.json"  # a raw record: not a results table
        raw.write_text(json.dumps(result, indent=1, default=float) + "\n")
        out.with_suffix(".md").write_text(md)
        print(f"wrote {raw} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
