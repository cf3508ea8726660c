"""Re-render every committed results file from its JSON, and the README tables from the files.

    python tools/render_results.py            # rewrite results/**/*.md and the marked README tables
    python tools/render_results.py --check    # exit 1 on any difference (what the test checks)

A results ``.md`` is :func:`codigem_lab.experiments.tables.render_markdown` of its ``.json`` and
nothing else. Tables in ``README.md``, ``results/README.md`` and ``results/ml20m/README.md`` that
show numbers from results files sit between markers::

    <!-- results:table2-ml-1m-strong-minK -->
    ...generated...
    <!-- /results -->

and are generated here (:data:`BLOCKS`), so they cannot drift from the files either.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from codigem_lab._io import atomic_open  # noqa: E402
from codigem_lab.experiments.tables import (  # noqa: E402
    markdown_table,
    render_markdown,
)

RESULTS = ROOT / "results"
MARKER = re.compile(
    r"(<!-- results:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.DOTALL
)
ML1M = "--dataset csv --source ../shared/data/ml-1m/ratings_no_timestamp.csv --preset paper-ml1m"


# ================================================================ results files and their .md
def is_table(path: Path) -> bool:
    """Whether a JSON file is a results table (``name`` and ``rows``), not, e.g., a benchmark's
    raw record (``results/ml20m/bench-cpu-1thread.json``), which has no .md of its own."""
    try:
        doc = load(path)
    except ValueError:
        return False
    return isinstance(doc, dict) and "name" in doc and "rows" in doc


def table_files(root: Path | None = None) -> list[Path]:
    """Every results-table JSON under ``root`` (default: results/), sorted."""
    return sorted(p for p in (root or RESULTS).rglob("*.json") if is_table(p))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def render_file(path: Path) -> str:
    """The .md text of one results JSON."""
    return render_markdown(load(path))


# ======================================================================= README blocks
def kept_stale() -> dict[str, str]:
    """results/kept-stale.json: the files made at an older code version on purpose, and why."""
    path = RESULTS / "kept-stale.json"
    return load(path) if path.exists() else {}


def _block_table(rel: str) -> Callable[[], str]:
    def block() -> str:
        stale = kept_stale().get(rel)
        return markdown_table(load(RESULTS / rel)["table"]) + (
            f"\n\n*`{rel}`: kept stale, {stale}.*" if stale else ""
        )

    block.rel = rel  # the file it shows: tests check that a kept-stale one says so
    return block


def _gib(mb: float) -> str:
    return f"{mb / 1024:.2f} GiB"


def ml20m_bench() -> str:
    """The ML-20M-shaped CPU benchmark (``results/ml20m/bench-cpu-1thread.json``) as a table.
    Peak RSS is ``ru_maxrss``, which ``bench_ml20m.py`` records in MiB; shown in GiB."""
    b = load(RESULTS / "ml20m" / "bench-cpu-1thread.json")
    p, lo, t = b["prepare"], b["load"], b["train"]
    rows = [
        (
            "prepare: read csv, `multvae`, `strong` 10k/10k, write cache",
            f"{p['prepare_s']:.1f} s",
            _gib(p["peak_rss_mb"]),
        ),
        ("load the prepared split again (cache)", f"{lo['load_s']:.1f} s", _gib(lo["peak_rss_mb"])),
        (
            f"CODIGEM (paper) training, one full epoch ({t['epoch_batches']} batches of 200 users),"
            f" {t['precision']}, {t['threads']} thread",
            f"{t['epoch_s']:.1f} s ({t['train_users_per_s']:.0f} users/s)",
            _gib(t["peak_rss_mb"]),
        ),
        (
            f"evaluation: {t['eval_users']:,} users x {p['items']:,} items, top-100",
            f"{t['eval_s']:.1f} s ({t['eval_users_per_s']:,.0f} users/s)",
            "(same process)",
        ),
    ]
    lines = ["| phase | time | peak RSS |", "|---|---|---|"]
    lines += [f"| {a} | {b_} | {c} |" for a, b_, c in rows]
    return "\n".join(lines)


def ml1m_bench() -> str:
    """The README's CODIGEM speed table from ``results/bench/bench-ml1m-cpu1-raw.json``: seconds per
    epoch (median over rounds), the ratio to the full model's matmul bound, and the speed-ups."""
    b = load(RESULTS / "bench" / "bench-ml1m-cpu1-raw.json")
    run = b["runs"][0]
    s, r = run["epochs"], run["ratios"]
    bound = "full-model matmul bound"

    def sec(name: str) -> str:
        return f"{s[name]['epoch s (median)']:.2f}"

    rows = [
        (
            f"matmul bound, full model ({run['GEMM GFLOP/s (fp32, full-model shapes)']:.0f} GFLOP/s, "
            f"{b['threads']} thread)",
            f"{run['matmul bound s (full model)']:.2f}",
            "1",
            "",
        ),
        (
            "released-equivalent loop, fp32",
            sec("released-loop"),
            f"{r[f'released-loop / {bound}']:.2f}",
            "1",
        ),
        (
            "full model, fp32",
            sec("full-fp32"),
            f"{r[f'full-fp32 / {bound}']:.2f}",
            f"{r['full-fp32 speed-up over released loop']:.2f} over the released loop",
        ),
        (
            "full model, bf16",
            sec("full-bf16"),
            f"{r[f'full-bf16 / {bound}']:.2f}",
            f"{r['bf16 speed-up, full model']:.2f} over fp32",
        ),
        (
            "decoder-only fast path, fp32",
            sec("fast-fp32"),
            f"{r[f'fast-fp32 / {bound}']:.2f} ({r['fast-fp32 / decoder matmul bound']:.2f} x its own"
            " bound)",
            f"{r['fast path speed-up over full model (fp32)']:.2f} over the full model",
        ),
        (
            "decoder-only fast path, bf16",
            sec("fast-bf16"),
            f"{r[f'fast-bf16 / {bound}']:.2f}",
            f"{r['fast bf16 speed-up over full fp32']:.2f} over the full model fp32",
        ),
    ]
    clock = "CPU s" if run["clock"] == "cpu" else "s"
    lines = [
        f"| per epoch ({run['train users']:,} users) | {clock} | x matmul bound | speed-up |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b_} | {c} | {d} |" for a, b_, c, d in rows]
    return "\n".join(lines)


def _compute_text(doc: dict) -> str:
    """The training + validation seconds the file's runs recorded, where the file holds them."""
    if doc.get("compute_s") is not None:
        return f"{doc['compute_s'] / 60:.1f} min"
    rows = doc["rows"]
    if rows and {"epochs_mean", "train_s_per_epoch_mean", "eval_s_per_epoch_mean"} <= set(rows[0]):
        s = sum(
            r["epochs_mean"] * (r["train_s_per_epoch_mean"] + r["eval_s_per_epoch_mean"])
            for r in rows
        )
        return f"{s / 60:.1f} min (epochs x s/epoch of its rows)"
    return "not in the file"


def _seeds_from_notes(notes: list[str]) -> list[int] | None:
    """The seeds a table's notes name ('seeds [0, 1, 2]'), for files that do not list them."""
    for n in notes:
        m = re.search(r"seeds?(?:\(s\))? \[([\d, ]+)\]", n)
        if m:
            return [int(x) for x in m.group(1).split(",")]
    return None


def results_files() -> str:
    """results/README.md's table of every results file: what, seeds, wall time, compute."""
    lines = [
        "| file | what | seeds | wall time recorded in the file | training + validation its "
        "runs recorded |",
        "|---|---|---|---|---|",
    ]
    stale = kept_stale()
    for path in table_files():
        doc = load(path)
        rel = path.relative_to(RESULTS).as_posix()
        seeds = doc.get("seeds") or _seeds_from_notes(doc.get("notes") or [])
        wall = doc["provenance"]["wall_s"]
        lines.append(
            f"| [`{rel}`]({rel.replace('.json', '.md')}){' (kept stale)' if rel in stale else ''}"
            f" | {doc['name']} | "
            f"{len(seeds) if seeds else ''} | {wall:.0f} s ({wall / 60:.1f} min) | "
            f"{_compute_text(doc)} |"
        )
    return "\n".join(lines)


def regeneration() -> str:
    """README's account of the last ``reproduce all`` from ``results/bench/reproduce-all-raw.json``:
    when, at which code version, its wall time, how many runs it trained, and the one-hour target."""
    path = RESULTS / "bench" / "reproduce-all-raw.json"
    stale = kept_stale()
    if not path.exists():
        return (
            "No complete `reproduce all` has been timed at the current code version yet: "
            f"{len(stale)} of the {len(table_files())} committed results files are listed in "
            "`results/kept-stale.json` with their reasons, the others were made by it."
        )
    b = load(path)
    files = b["files"]
    versions = sorted(
        {load(ROOT / f["remakes"])["provenance"].get("code_version", "?") for f in files}
    )
    estimate = sum(b["estimated_min"].values())
    runs, trained = sum(f["runs"] for f in files), sum(f["trained"] for f in files)
    verdict = "met" if b["wall_s"] <= 3600 and trained == runs else "not met"
    lines = [
        f"The last regeneration (`{b['command']}`, {b['written_utc']}, commit {b['commit']}) "
        f"wrote {len(files)} results files at code version {', '.join(versions)} in "
        f"{b['wall_s'] / 60:.1f} min of wall time with {b['workers']} workers on {b['cores']} cores "
        f"(torch fp32 GEMM, one thread: {b['gemm_gflops_1thread'][0]:.0f} GFLOP/s before, "
        f"{b['gemm_gflops_1thread'][1]:.0f} after). "
        + (
            f"It started from an empty result cache: all {runs} runs its files use (a run shared "
            "by two files counted twice) were trained in that invocation. "
            if trained == runs
            else f"Of the {runs} runs its files use (a run shared by two files counted twice), "
            f"{trained} were trained in that invocation; the others came from the result cache, "
            "trained earlier by the same code version (the cache key includes it). "
        )
        + f"The dry run's estimate for an empty cache was {estimate:.0f} min, so the one-hour "
        f"target is {verdict}"
        + ("" if verdict == "met" else " on two cores")
        + "; `results/bench/reproduce-all.md` has the per-file breakdown.",
    ]
    if stale:
        lines.append(
            f" Still kept stale: {len(stale)} file(s), listed in `results/kept-stale.json`."
        )
    return "".join(lines)


#: Marker name -> the function that makes the block's text.
BLOCKS: dict[str, Callable[[], str]] = {
    "codigem-table2-ml-1m-strong-minK": _block_table(
        "codigem/table2/table2-ml-1m-strong-minK.json"
    ),
    "table2-ml-1m-strong-minK": _block_table("table2/table2-ml-1m-strong-minK.json"),
    "table2-ml-1m-ratio-targets": _block_table("table2/table2-ml-1m-ratio-targets.json"),
    "ml20m-bench": ml20m_bench,
    "bench-ml1m-cpu1": ml1m_bench,
    "results-files": results_files,
    "regeneration": regeneration,
}
#: The files whose marked blocks are generated.
MARKED = ("README.md", "results/README.md", "results/ml20m/README.md")


def render_blocks(text: str) -> str:
    """``text`` with every marked block regenerated (an unknown marker name is an error)."""

    def one(m: re.Match) -> str:
        name = m.group("name")
        if name not in BLOCKS:
            raise KeyError(f"unknown results block {name!r}; known: {sorted(BLOCKS)}")
        return f"{m.group(1)}{BLOCKS[name]()}\n{m.group(4)}"

    return MARKER.sub(one, text)


# ================================================================================= main
def differences() -> list[str]:
    """Every file whose committed text differs from what this tool renders."""
    bad = []
    for path in table_files():
        md = path.with_suffix(".md")
        if not md.exists() or md.read_text(encoding="utf-8") != render_file(path):
            bad.append(str(md.relative_to(ROOT)))
    for rel in MARKED:
        p = ROOT / rel
        if p.exists() and p.read_text(encoding="utf-8") != render_blocks(p.read_text("utf-8")):
            bad.append(rel)
    return bad


def write_all() -> list[str]:
    changed = []
    for path in table_files():
        md = path.with_suffix(".md")
        text = render_file(path)
        if not md.exists() or md.read_text(encoding="utf-8") != text:
            with atomic_open(md, "w", encoding="utf-8") as fh:
                fh.write(text)
            changed.append(str(md.relative_to(ROOT)))
    for rel in MARKED:
        p = ROOT / rel
        if not p.exists():
            continue
        old = p.read_text(encoding="utf-8")
        new = render_blocks(old)
        if new != old:
            with atomic_open(p, "w", encoding="utf-8") as fh:
                fh.write(new)
            changed.append(rel)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 on any difference, write nothing")
    args = ap.parse_args(argv)
    if args.check:
        bad = differences()
        for b in bad:
            print(f"differs from its source: {b}")
        print("all results files and README tables match" if not bad else f"{len(bad)} differ")
        return 1 if bad else 0
    for c in write_all():
        print(f"rendered {c}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
