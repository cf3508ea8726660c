"""MacridVAE's encoder without its [B, K, M] inputs (``encode``) against the form that builds them
(``encode_reference``): training-step seconds and how far bf16 moves each form's gradients.

    python benchmarks/macridvae_encoder.py --out results/bench/macridvae-encoder

One ML-1M-sized batch (500 users, 3706 items, 4.5% of them clicked; the model's defaults), one torch thread, both forms timed in the same run and alternated so that load shifts
hit both. Prints and writes (``--out``: .md and -raw.json): seconds per training step (forward,
backward, Adam) per form and precision, the speed-up of ``encode``, and for each form the relative
distance of its bf16 gradient from the fp32 gradient of the same parameters and batch. In fp32 the
two forms agree to rounding (tests/test_baselines_neural.py); the bf16 distances say whether the
new form rounds more than the one results/bench/bf16-models.md cleared.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import torch

from codigem_lab._io import atomic_open, write_json
from codigem_lab.baselines.macridvae import MacridVAEConfig, MacridVAEModule

FORMS = ("encode", "encode_reference")


def _module(form: str, n_items: int) -> MacridVAEModule:
    torch.manual_seed(1)
    module = MacridVAEModule(n_items, MacridVAEConfig(), anneal_steps=100.0)
    module.encode = getattr(module, form)  # the forward pass calls self.encode
    return module


def _step(module, opt, x, bf16: bool) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss, _ = module.loss(x, 5)
    opt.zero_grad()
    loss.backward()
    opt.step()


def _grads(form: str, x, bf16: bool) -> torch.Tensor:
    module = _module(form, x.shape[1])
    torch.manual_seed(10)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss, _ = module.loss(x, 5)
    loss.backward()
    return torch.cat([p.grad.flatten() for p in module.parameters()])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--items", type=int, default=3706)
    p.add_argument("--steps", type=int, default=6, help="timed steps per form and precision")
    p.add_argument("--out", default=None, help="write OUT.md and OUT-raw.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = (torch.rand(args.users, args.items) < 0.045).float()
    load_before = os.getloadavg()
    seconds: dict[str, list[float]] = {f"{f} {pr}": [] for f in FORMS for pr in ("fp32", "bf16")}
    state = {}
    for key in seconds:
        form, precision = key.split()
        module = _module(form, args.items)
        state[key] = (module, torch.optim.Adam(module.parameters(), 1e-3), precision == "bf16")
        _step(*state[key][:2], x, state[key][2])  # warm-up
    for _ in range(args.steps):  # alternate the four so that a load change hits all of them
        for key, (module, opt, bf16) in state.items():
            start = time.perf_counter()
            _step(module, opt, x, bf16)
            seconds[key].append(time.perf_counter() - start)
    median = {k: sorted(v)[len(v) // 2] for k, v in seconds.items()}
    reference = _grads("encode_reference", x, bf16=False)
    drift = {
        form: float((_grads(form, x, bf16=True) - reference).norm() / reference.norm())
        for form in FORMS
    }
    out = {
        "command": "python benchmarks/macridvae_encoder.py "
        + " ".join(map(shlex.quote, argv or sys.argv[1:])),
        "batch": [args.users, args.items],
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "s_per_step_median": median,
        "speedup": {
            pr: median[f"encode_reference {pr}"] / median[f"encode {pr}"] for pr in ("fp32", "bf16")
        },
        "bf16_grad_rel_distance_from_fp32": drift,
    }
    lines = [
        "# MacridVAE's encoder: without the [B, K, M] inputs (`encode`) and with them (`encode_reference`)",
        "",
        "Command:",
        "",
        "```",
        out["command"],
        "```",
        "",
        f"One batch of {args.users} users x {args.items} items, one torch thread, median of "
        f"{args.steps} alternated training steps; load average before "
        + " ".join(f"{v:.2f}" for v in load_before)
        + ", after "
        + " ".join(f"{v:.2f}" for v in out["load_after"])
        + ".",
        "",
        "| precision | encode_reference s/step | encode s/step | speed-up |",
        "|---|---|---|---|",
    ]
    for pr in ("fp32", "bf16"):
        lines.append(
            f"| {pr} | {median[f'encode_reference {pr}']:.3f} | {median[f'encode {pr}']:.3f} "
            f"| {out['speedup'][pr]:.2f} |"
        )
    lines += [
        "",
        "Relative distance of the bf16 gradient (all parameters) from the fp32 gradient of the "
        "reference form, same parameters, batch and random draws:",
        "",
        "| form | bf16 gradient distance |",
        "|---|---|",
        *(f"| {form} | {drift[form]:.4f} |" for form in FORMS),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with atomic_open(f"{args.out}.md", "w", encoding="utf-8") as fh:
            fh.write(text)
        write_json(f"{args.out}-raw.json", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
