"""Re-render every committed results file from its JSON, and the README tables from the files.

    python tools/render_results.py            # rewrite results/**/*.md and the marked README tables
    python tools/render_results.py --check    # exit 1 on any difference (what the test checks)
    python tools/render_results.py --upgrade  # once: convert results files written before issue 13

A results ``.md`` is :func:`codigem_lab.experiments.tables.render_markdown` of its ``.json`` and
nothing else. Tables in ``README.md``, ``results/README.md`` and ``results/ml20m/README.md`` that
show numbers from results files sit between markers::

    <!-- results:table2-ml-1m-strong-minK -->
    ...generated...
    <!-- /results -->

and are generated here (:data:`BLOCKS`), so they cannot drift from the files either.

``--upgrade`` converts the format-1 files (written before issue 13) once: every number they hold
is kept; 95% intervals over seeds are recomputed from the stored mean, std and number of seeds;
the difference in mean R@50 from the stored means; the old p-values (users pooled over seeds as if
independent) stay in the rows under their old keys but are no longer shown, since the per-user
values the new test needs are in the result cache, not in the files. A command the file did not
record is filled in from ``results/README.md`` (and marked as such); wall time is the file's own.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from codigem_lab._io import atomic_open, write_json  # noqa: E402
from codigem_lab.experiments import paper  # noqa: E402
from codigem_lab.experiments.aggregate import (  # noqa: E402
    effect_text,
    format_interval,
    interval_from_std,
)
from codigem_lab.experiments.tables import (  # noqa: E402
    FORMAT,
    markdown_table,
    render_markdown,
    table_json,
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
def _block_table(rel: str) -> Callable[[], str]:
    return lambda: markdown_table(load(RESULTS / rel)["table"])


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


def results_files() -> str:
    """results/README.md's table of every results file: what, seeds, wall time, compute."""
    lines = [
        "| file | what | seeds | wall time recorded in the file | training + validation its "
        "runs recorded |",
        "|---|---|---|---|---|",
    ]
    for path in table_files():
        doc = load(path)
        rel = path.relative_to(RESULTS).as_posix()
        seeds = doc.get("seeds") or _seeds_from_notes(doc.get("notes") or [])
        wall = doc["provenance"]["wall_s"]
        lines.append(
            f"| [`{rel}`]({rel.replace('.json', '.md')}) | {doc['name']} | "
            f"{len(seeds) if seeds else ''} | {wall:.0f} s ({wall / 60:.1f} min) | "
            f"{_compute_text(doc)} |"
        )
    return "\n".join(lines)


#: Marker name -> the function that makes the block's text.
BLOCKS: dict[str, Callable[[], str]] = {
    "codigem-table2-ml-1m-strong-minK": _block_table(
        "codigem/table2/table2-ml-1m-strong-minK.json"
    ),
    "table2-ml-1m-strong-minK": _block_table("table2/table2-ml-1m-strong-minK.json"),
    "table2-ml-1m-ratio-targets": _block_table("table2/table2-ml-1m-ratio-targets.json"),
    "ml20m-bench": ml20m_bench,
    "results-files": results_files,
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


# ============================================================================== upgrade
def _seeds_from_notes(notes: list[str]) -> list[int] | None:
    for n in notes:
        m = re.search(r"seeds?(?:\(s\))? \[([\d, ]+)\]", n)
        if m:
            return [int(x) for x in m.group(1).split(",")]
    return None


def _parse_md_table(md: str) -> dict:
    """The first Markdown table of an old .md file as :func:`table_json`'s dict."""
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    split = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    header, body = split[0], split[2:]
    return {
        "index_name": header[0],
        "columns": header[1:],
        "index": [r[0] for r in body],
        "cells": [r[1:] for r in body],
    }


def _add_intervals(rows: list[dict], metrics, n: int) -> None:
    for r in rows:
        for m in metrics:
            if f"{m}_mean" in r:
                lo, hi = interval_from_std(r[f"{m}_mean"], r.get(f"{m}_std"), n)
                r[f"{m}_ci_low"] = None if math.isnan(lo) else lo
                r[f"{m}_ci_high"] = None if math.isnan(hi) else hi


OLD_P = (
    "The p-values of this file's first version (a paired t-test pooling users x seeds as if "
    "independent, which overstates the evidence) are kept in its JSON rows ({key}) but not "
    "shown. The per-user values the current test needs (paired over users within a seed, a "
    "t-test over seeds, Holm-adjusted) are in the result cache, not in this file: rerun the "
    "command below with the cache in place to add the effect intervals, p and p (Holm)."
)
INTERVALS = (
    "Intervals: 95% t-intervals over the {n} seeds, recomputed from this file's stored mean and "
    "std when it was converted (format 2); the difference in mean R@50 is that of the stored means "
    "(the paired effect per seed has no interval here)."
)


def _intervals_note(n: int) -> str:
    if n > 1:
        return INTERVALS.format(n=n)
    return (
        "One seed: no interval over seeds; the difference in mean R@50 is that of the stored means."
    )


SEED_VARIANCE = (
    "Seeds: made before the split seed was its own option, so seed s trained with seed s on the "
    "split made with seed s: the spread covers training randomness and the choice of split "
    "together."
)


def _upgrade_table2(doc: dict, n: int) -> None:
    metrics = ("R@20", "R@50", "N@20", "N@50")
    rows = doc["rows"]
    _add_intervals(rows, metrics, n)
    ref = next(r for r in rows if r["model"] == "codigem" and r["variant"] == "paper")
    for r in rows:
        is_ref = r is ref
        r["reference"] = None if is_ref else "CODIGEM (paper)"
        r["effect_R@50"] = None if is_ref else r["R@50_mean"] - ref["R@50_mean"]
        r["effect_ci"] = None
        r["p"] = r["p_holm"] = None
        r["p_method"] = (
            None
            if is_ref
            else "not recomputed (per-user values not in the file); p_value_vs_codigem: old "
            "pooled t-test"
        )
    frame = pd.DataFrame(rows)
    labels = [
        paper.DISPLAY.get(r["model"], r["model"]) + (f" ({r['variant']})" if r["variant"] else "")
        for r in rows
    ]
    table = pd.DataFrame(index=pd.Index(labels, name="model"))
    for m in metrics:
        table[m] = [
            format_interval(a, b, c)
            for a, b, c in zip(frame[f"{m}_mean"], frame[f"{m}_ci_low"], frame[f"{m}_ci_high"])
        ]
        table[f"{m} (paper)"] = [
            "" if r.get(f"paper_{m}") is None else f"{r[f'paper_{m}']:.4f}" for r in rows
        ]
    table["difference in mean R@50 vs CODIGEM (paper)"] = [
        effect_text(r["effect_R@50"], None) for r in rows
    ]
    doc["table"] = table_json(table)
    notes = []
    for note in doc["notes"]:
        if note.startswith("p vs CODIGEM:"):
            continue
        notes.append(
            note.replace("Ours: mean ± std over", "Ours: mean [95% t-interval over seeds] of")
        )
    notes.insert(1, SEED_VARIANCE)
    notes.insert(2, _intervals_note(n))
    notes.insert(3, OLD_P.format(key="p_value_vs_codigem"))
    doc["notes"] = notes
    m = re.search(r"Compute recorded by the runs themselves: ([\d.]+) min", " ".join(notes))
    if m:
        doc["compute_s"] = float(m.group(1)) * 60  # the file's note, to its 0.1 min
    doc["seeds"] = list(range(n))


def _upgrade_table3(doc: dict, n: int) -> None:
    rows = doc["rows"]
    _add_intervals(rows, ("R@50", "N@50"), n)
    base = {r["preset"]: r for r in rows if r["variant"] == "base"}
    for r in rows:
        is_base = r["variant"] == "base"
        r["seeds"] = n
        r["reference"] = None if is_base else f"{r['preset']} / base"
        r["effect_R@50"] = None if is_base else r["R@50_mean"] - base[r["preset"]]["R@50_mean"]
        r["effect_ci"] = None
        r["p"] = r["p_holm"] = None
        r["p_method"] = (
            None
            if is_base
            else "not recomputed (per-user values not in the file); p_value_vs_base: old "
            "pooled t-test"
        )
    frame = pd.DataFrame(rows)
    table = pd.DataFrame(
        {
            "preset": frame["preset"],
            "variant": frame["variant"],
            "R@50": [
                format_interval(a, b, c)
                for a, b, c in zip(frame["R@50_mean"], frame["R@50_ci_low"], frame["R@50_ci_high"])
            ],
            "R@50 (paper)": [paper.TABLE3.loc[v, "R@50"] for v in frame["variant"]],
            "N@50": [
                format_interval(a, b, c)
                for a, b, c in zip(frame["N@50_mean"], frame["N@50_ci_low"], frame["N@50_ci_high"])
            ],
            "N@50 (paper)": [paper.TABLE3.loc[v, "N@50"] for v in frame["variant"]],
            "difference in mean R@50 vs base": [effect_text(r["effect_R@50"], None) for r in rows],
            "final KL weight": [
                f"{w:.3g}" if w is not None and w == w else "" for w in frame["kl_weight_last"]
            ],
        }
    ).set_index(["preset", "variant"])
    doc["table"] = table_json(table)
    notes = []
    for note in doc["notes"]:
        if note.startswith("p vs base:"):
            continue
        note = note.replace("mean ± std over seeds", "mean [95% t-interval over seeds] of seeds")
        note = note.replace(
            "(paper): its Table 3, ML-20M, strong protocol.",
            "(paper): its Table 3, which names no dataset (its base row equals its Table 2 ML-20M "
            "CODIGEM row).",
        )
        notes.append(note)
    notes.insert(1, SEED_VARIANCE)
    notes.insert(2, _intervals_note(n))
    notes.insert(3, OLD_P.format(key="p_value_vs_base"))
    doc["notes"] = notes
    doc["seeds"] = list(range(n))


PAPER_HW = {
    "(paper): ML-20M on a GPU; compare the ratios to T=3, not the seconds.": (
        "(paper): its Table 4, which names neither the dataset nor the hardware it was timed on; "
        "compare the ratios to T=3, not the seconds."
    ),
    "(paper): ML-20M on a GPU. Seconds are not comparable across machines; the ratios to "
    "CODIGEM are.": (
        "(paper): its Table 5, which names neither the dataset nor the hardware it was timed on. "
        "Seconds are not comparable across machines; the ratios to CODIGEM are."
    ),
}
TABLE5_TIMING = (
    "timing runs of the three models made back to back by this command (median after the first "
    "epoch)"
)
TABLE5_TIMING_FIX = (
    "timing runs (median after the first epoch). Only Multi-VAE's and MacridVAE's were made by "
    "this command: CODIGEM's timing run has the same spec as Table 4's T = 3 timing run, so the "
    "result cache served the run the table4 command had made (its seconds equal Table 4's T = 3 "
    "row to every digit); the three were not timed back to back"
)

#: Commands of files that recorded none, from results/README.md ("Commands and wall times").
FILLED_COMMANDS = {
    "table3/table3-ml-1m-strong-paper.json": (
        f"codigem-lab reproduce table3 {ML1M} --presets paper --seeds 3"
    ),
    "table3/table3-ml-1m-strong-released.json": (
        f"codigem-lab reproduce table3 {ML1M} --presets released --seeds 1"
    ),
    "fig2/fig2-ml-1m-strong.json": f"codigem-lab reproduce fig2 {ML1M} --seeds 1",
    "fig3/fig3-ml-1m-strong.json": f"codigem-lab reproduce fig3 {ML1M} --seeds 1",
}


def upgrade(path: Path) -> bool:
    """Convert one format-1 results file (and rewrite its .csv from its rows); False if current."""
    doc = load(path)
    if doc.get("format") == FORMAT:
        return False
    rel = path.relative_to(RESULTS).as_posix()
    study = rel.split("/")[-1].split("-")[0]
    seeds = _seeds_from_notes(doc["notes"])
    n = len(seeds) if seeds else 1
    md_old = path.with_suffix(".md").read_text(encoding="utf-8")
    prov_note = [
        "Converted to results format 2 (issue 13) by `python tools/render_results.py --upgrade` "
        "from the file's first version, every number kept; that version recorded neither the "
        "machine nor the thread count."
    ]
    threads_source = None
    m = re.search(r"--threads (\d+)", doc.get("command", ""))
    if m:
        threads, threads_source = int(m.group(1)), "from the command"
    else:
        m = re.search(r"CPU, (\d+) threads", " ".join(doc["notes"]))
        if m:
            threads, threads_source = int(m.group(1)), "from the file's own notes"
        else:
            threads, threads_source = 1, "results/README.md: each command ran with --threads 1"
    if not doc.get("command"):
        doc["command"] = FILLED_COMMANDS[rel]
        doc["command_source"] = "results/README.md (the file's first version recorded none)"
        prov_note.append(
            "Its first version recorded no command; the one shown is the one results/README.md "
            "lists for it."
        )
    if study == "table2":
        _upgrade_table2(doc, n)
    elif study == "table3":
        _upgrade_table3(doc, n)
    else:
        doc["table"] = _parse_md_table(md_old)
        doc["notes"] = [PAPER_HW.get(x, x) for x in doc["notes"]]
        if study == "table5":
            doc["notes"] = [x.replace(TABLE5_TIMING, TABLE5_TIMING_FIX) for x in doc["notes"]]
        doc["seeds"] = seeds or [0]
    doc["format"] = FORMAT
    doc["provenance"] = {
        "wall_s": doc["wall_s"],
        "machine": None,
        "threads": threads,
        "threads_source": threads_source,
        "note": " ".join(prov_note),
    }
    write_json(path, doc)
    with atomic_open(path.with_suffix(".csv"), "w", encoding="utf-8") as fh:
        pd.DataFrame(doc["rows"]).to_csv(fh, index=False)
    return True


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
    ap.add_argument("--upgrade", action="store_true", help="convert format-1 files, then render")
    args = ap.parse_args(argv)
    if args.check:
        bad = differences()
        for b in bad:
            print(f"differs from its source: {b}")
        print("all results files and README tables match" if not bad else f"{len(bad)} differ")
        return 1 if bad else 0
    if args.upgrade:
        for path in table_files():
            if upgrade(path):
                print(f"upgraded {path.relative_to(ROOT)}")
    for c in write_all():
        print(f"rendered {c}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
