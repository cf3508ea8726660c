"""Time preparing a split from the raw file and loading it again from the split cache.

python benchmarks/bench_data.py            # ML-1M from ../shared/data (paper-ml1m, strong)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from codigem_lab.data import prepare_split

REPO = Path(__file__).resolve().parents[1]
ML1M = REPO.parent / "shared" / "data" / "ml-1m" / "ratings_no_timestamp.csv"


def main() -> int:
    if not ML1M.exists():
        print(f"{ML1M} not found", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as cache:
        kw = dict(source=ML1M, preset="paper-ml1m", protocol="strong", seed=0, cache=cache)
        t = time.perf_counter()
        first = prepare_split("csv", **kw)
        t_first = time.perf_counter() - t
        t = time.perf_counter()
        second = prepare_split("csv", **kw)
        t_second = time.perf_counter() - t
    assert (first.train != second.train).nnz == 0
    print(
        f"ML-1M paper-ml1m strong: first preparation {t_first:.2f} s, "
        f"cached load {t_second:.3f} s ({t_first / t_second:.0f}x faster)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
