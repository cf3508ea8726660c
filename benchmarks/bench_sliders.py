"""Time the slider updates of notebook 02 (forward noising) at realistic sizes.

One update is what a slider move runs: recompute the forward process for all D items
(``forward_noising_state``), move the figure's artists, blit them onto the cached background,
encode the PNG the image widget shows, and set the readout labels. The target is < 200 ms per
update, so that dragging a slider feels live. For comparison the script also times a full
matplotlib redraw of the same figure (no blitting), which is what a naive panel would do.

    python benchmarks/bench_sliders.py              # ML-1M's median user (D = 3,123), else synthetic
    python benchmarks/bench_sliders.py --items 20108 --repeats 20

Run it alone: other heavy processes on the same cores distort the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))  # the panel of 02
from course import inspect as nb  # noqa: E402
from course.noising import ForwardNoisingFigure, ForwardNoisingPanel, forward_noising_state  # noqa: E402
from course.png import figure_png  # noqa: E402

TARGET_MS = 200.0
BETAS = (1e-5, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 0.9)
TS = (1, 3, 10, 25, 50)


def click_vector(items: int | None, seed: int = 0) -> tuple[np.ndarray, str]:
    """The median user of ML-1M (or of the synthetic data), or a random vector of ``items``."""
    if items is not None:
        rng = np.random.default_rng(seed)
        x = np.zeros(items)
        x[rng.choice(items, max(1, items // 40), replace=False)] = 1.0
        return x, f"random clicks, D = {items:,}"
    from codigem_lab.data import resolve_data

    data = resolve_data(quick=False)
    split = data.prepare()
    x = nb.click_vector(split.train, nb.typical_user(split.train))
    return x, f"{data.label}, median user, D = {x.size:,}"


def stats_ms(samples: list[float]) -> str:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
    return f"median {statistics.median(s):6.1f}   p95 {p95:6.1f}   max {s[-1]:6.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=None, help="use a random vector of D items")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the (beta, T) grid")
    args = parser.parse_args(argv)

    x, label = click_vector(args.items)
    print(f"data: {label}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    panel = ForwardNoisingPanel(x)
    grid = [(b, t) for t in TS for b in BETAS]
    for beta, T in grid[:3]:  # warm-up
        panel.update(beta, T)

    state_ms, total_ms = [], []
    for _ in range(args.repeats):
        for beta, T in grid:
            t0 = time.perf_counter()
            forward_noising_state(x, beta, T, window=panel.window)
            state_ms.append(1000 * (time.perf_counter() - t0))
            panel.update(beta, T)
            total_ms.append(panel.last_update_ms)
    at50 = [ms for ms, (_, T) in zip(total_ms, grid * args.repeats, strict=True) if T == 50]

    naive = ForwardNoisingFigure(forward_noising_state(x, 1e-4, 3), animated=False)
    naive_ms = []
    for beta, T in grid[:: max(1, len(grid) // 8)]:
        t0 = time.perf_counter()
        naive.update(forward_noising_state(x, beta, T, window=panel.window))
        figure_png(naive.fig, tight=False)
        naive_ms.append(1000 * (time.perf_counter() - t0))

    n = len(total_ms)
    print(f"\n{n} slider updates over beta in {BETAS[0]:g}..{BETAS[-1]:g}, T in {TS}:")
    print(f"  state only (forward process, all items):  {stats_ms(state_ms)}")
    print(f"  full update (state + blit + PNG + labels): {stats_ms(total_ms)}")
    print(f"  full update at T = 50:                     {stats_ms(at50)}")
    print(f"  naive full matplotlib redraw (reference):  {stats_ms(naive_ms)}")
    median = statistics.median(total_ms)
    verdict = "meets" if median < TARGET_MS else "MISSES"
    print(f"\nms per update (median): {median:.1f}  -> {verdict} the {TARGET_MS:.0f} ms target")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
