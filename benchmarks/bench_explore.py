"""Seconds per explorer setting on ML-100K: new (trained now) and cached (shown from the cache).

A "new setting" is what moving a slider to a setting nobody has tried costs: ``explore`` trains
CODIGEM for it (the explorer's budget: at most 10 epochs, batches of 50) through the result
cache, ranks the test users once, and the panel builds its tables and figure
(``explorer_view``). Pop and Item-KNN are trained once, by the first setting, which is reported
apart (it also pays for imports). A "cached setting" is the same settings again. The target is a
new setting on screen within 10 s on a 2-core CPU at the default T = 3.

    python benchmarks/bench_explore.py                 # ML-100K, T = 3 and a few other settings
    python benchmarks/bench_explore.py --Ts 1 3 5 10 15
    python benchmarks/bench_explore.py --fast-path     # with the decoder-only training path

Uses a fresh temporary result cache, so nothing is cached before it starts. Run it alone: other
processes on the same cores distort the figures (the load averages are printed).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))  # the panel's views


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--betas", type=float, nargs="+", default=[1e-4, 0.9, 1e-2, 1e-3])
    parser.add_argument("--Ts", type=int, nargs="+", default=[1, 5])
    parser.add_argument(
        "--threads", type=int, default=None, help="default: the session's (1 on <= 4 cores)"
    )
    parser.add_argument(
        "--fast-path",
        action="store_true",
        help="train with FAST_PATH_PARAMS = {'decoder_only': True} (same decoder, same lists)",
    )
    args = parser.parse_args(argv)

    import torch
    from course.session import torch_threads

    threads = args.threads or torch_threads()
    if threads:
        torch.set_num_threads(threads)
    from course.explorer import explorer_view
    from course.explorer_runs import Explorer

    from codigem_lab.experiments import explore as ex
    from codigem_lab.experiments.cache import ResultCache

    print(f"explorer benchmark: {args.dataset}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), {platform.processor() or platform.machine()}")  # fmt: skip
    if args.fast_path:
        ex.FAST_PATH_PARAMS["decoder_only"] = True
    print(f"fast path: {ex.FAST_PATH_PARAMS or 'off'}")
    print(f"budget: at most {ex.EPOCHS} epochs, patience {ex.PATIENCE}, batches of {ex.BATCH_SIZE}")
    print(f"before: {load()}")
    settings = [(b, 3) for b in args.betas] + [(1e-4, t) for t in args.Ts if t != 3]
    header = (
        f"{'setting':<22}{'explore s':>10}{'view s':>8}{'total s':>9}{'CPU s':>7}"
        f"{'R@50':>8}{'Pop':>8}{'epochs':>7}"
    )

    def one(explorer, beta, T, tried):
        w0, c0 = time.perf_counter(), time.process_time()
        r = explorer(beta=beta, T=T)
        w1 = time.perf_counter()
        view = explorer_view(r, tried)
        w2, c2 = time.perf_counter(), time.process_time()
        line = (
            f"beta={beta:<8.3g} T={T:<8d}{w1 - w0:>10.2f}{w2 - w1:>8.2f}{w2 - w0:>9.2f}"
            f"{c2 - c0:>7.2f}{r.metrics['codigem']['R@50']:>8.4f}{r.metrics['pop']['R@50']:>8.4f}"
            f"{r.epochs:>7d}"
        )
        return r, view, w2 - w0, c2 - c0, line

    with tempfile.TemporaryDirectory(prefix="bench-explore-") as root:
        explorer = Explorer(args.dataset, cache=ResultCache(root))
        new, cached, tried = [], [], []
        print("\nnew settings (trained now):\n" + header)
        for i, (beta, T) in enumerate(settings):
            r, view, wall, cpu, line = one(explorer, beta, T, tried)
            assert r.trained
            tried = view.tried
            new.append((T, wall, cpu, i == 0))
            print(line + ("  (first: also trains Pop, Item-KNN; imports)" if i == 0 else ""))
        print("\ncached settings (the same again):\n" + header)
        for beta, T in settings:
            r, view, wall, cpu, line = one(explorer, beta, T, tried)
            assert not r.trained
            cached.append(wall)
            print(line)
    print("\nsummary (CPU s: this process's CPU time, about the wall time on an idle CPU):")
    t3 = [(w, c) for T, w, c, first in new if T == 3 and not first]
    if t3:
        print(
            f"  new setting at T = 3: median {statistics.median(w for w, _ in t3):.2f} s wall, "
            f"{statistics.median(c for _, c in t3):.2f} s CPU (target: 10 s)"
        )
    for T, w, c, _first in new:
        if T != 3:
            print(f"  new setting at T = {T}: {w:.2f} s wall, {c:.2f} s CPU")
    print(f"  cached setting: median {statistics.median(cached):.3f} s, max {max(cached):.3f} s")
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
