"""Prose that cannot drift from the files: every number of ours in the READMEs and the notebooks'
markdown is generated from a results file (a ``<!-- results:... -->`` block), bound to one
(``tests/prose_bindings.py``), the paper's own (a number in ``codigem_lab/experiments/paper.py``
or, Table 1's, ``notebooks/course/paper_table1.py``),
or listed there with the reason it is no result.

(a) each binding, rendered from its file, must appear in its document word for word;
(b) a scan of the documents lists every decimal number, ``Nx`` ratio, ``N s`` timing and
percentage that none of these covers.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

from .prose_bindings import BINDINGS, DOCS, WHITELIST, Bind, resolve

ROOT = Path(__file__).resolve().parents[1]
# The paper's printed numbers, in one place (the paper itself is not part of a checkout).
PAPER_FILES = (
    ROOT / "codigem_lab" / "experiments" / "paper.py",
    ROOT / "notebooks" / "course" / "paper_table1.py",
)

# Regions that hold no prose numbers: generated blocks, code, link targets, comments, section
# numbers of the paper ("Sec. 2.3") and version numbers.
SKIP = [
    re.compile(r"<!-- results:[\w.-]+ -->.*?<!-- /results -->", re.S),
    re.compile(r"```.*?```", re.S),
    re.compile(r"(?m)^(?: {4}|\t)(?![*-] ).*$"),
    re.compile(r"`[^`\n]*`"),
    re.compile(r"\]\([^)\s]*\)"),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"Secs?\. \d(?:\.\d)?(?:-\d(?:\.\d)?)?"),
    re.compile(r"\b\d+\.\d+\.\d+\b"),
]
# A decimal number (with an optional ratio, percent or time unit), or a whole number with one.
NUMBER = re.compile(
    r"(?<![\w.\x00])(?:"
    r"(?P<dec>\d{1,3}(?:,\d{3})*\.\d+|\d+\.\d+)(?:e[-+]?\d+)?(?:x\b|%|\s?(?:s|ms|min)\b)?"
    r"|\d{1,3}(?:,\d{3})*(?:x\b|%|\s?(?:s|ms|min)\b)"
    r")"
)


def markdown(rel: str) -> str:
    """A document's prose: the file, or a notebook's markdown cells joined by blank lines."""
    path = ROOT / rel
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return text
    cells = json.loads(text)["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def normalise(text: str) -> str:
    """Whitespace runs as one space, so that a fragment matches across wrapped lines."""
    return re.sub(r"\s+", " ", text)


def blank(text: str) -> str:
    """``text`` with every non-space character of the SKIP regions replaced by NUL (same length,
    same whitespace, so that it normalises in step with ``text``)."""
    out = list(text)
    for rx in SKIP:
        for m in rx.finditer(text):
            for i in range(m.start(), m.end()):
                if not out[i].isspace():
                    out[i] = "\x00"
    return "".join(out)


@cache
def paper_numbers() -> frozenset[str]:
    """Every number of the paper that :data:`PAPER_FILES` hold, without thousands commas."""
    found: set[str] = set()
    for path in PAPER_FILES:
        if path.exists():
            found.update(
                n.replace(",", "")
                for n in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", path.read_text())
            )
    return frozenset(found)


def rendered(b: Bind) -> str:
    """The binding's fragment with its values from the source filled in."""
    return b.text.format(**resolve(b))


def uncovered(rel: str) -> list[str]:
    """The numbers of ``rel`` that no block, binding, paper number or whitelist entry covers."""
    raw = markdown(rel)
    text, masked = normalise(raw), normalise(blank(raw))
    assert len(text) == len(masked)
    covered = [False] * len(text)

    def cover(fragment: str) -> int:
        n = 0
        for m in re.finditer(re.escape(fragment), text):
            covered[m.start() : m.end()] = [True] * (m.end() - m.start())
            n += 1
        return n

    for b in BINDINGS:
        if b.doc == rel:
            cover(normalise(rendered(b)))
    for w in WHITELIST:
        if w.applies(rel):
            for m in re.finditer(w.pattern, text):
                covered[m.start() : m.end()] = [True] * (m.end() - m.start())
    paper = paper_numbers()
    out = []
    for m in NUMBER.finditer(masked):
        if all(covered[m.start() : m.end()]):
            continue
        if m.group("dec") and m.group("dec").replace(",", "") in paper:
            continue
        out.append(f"{m.group(0)!r} in “…{text[max(0, m.start() - 60) : m.end() + 20]}…”")
    return out


@pytest.mark.parametrize("b", BINDINGS, ids=lambda b: f"{b.doc}:{b.text[:40]}")
def test_binding_matches_its_file(b):
    """The fragment, rendered from its file, is in the document word for word."""
    doc = normalise(markdown(b.doc))
    want = normalise(rendered(b))
    assert want in doc, (
        f"{b.doc} should say {want!r} (from {b.source}); it does not: the document or the file "
        "changed. Re-word the document from the file, or fix the binding in tests/prose_bindings.py."
    )


@pytest.mark.parametrize("rel", DOCS)
def test_every_number_is_covered(rel):
    """No number of ours in the document is typed in: each is generated, bound, the paper's or
    whitelisted with a reason."""
    bad = uncovered(rel)
    assert not bad, (
        f"{rel}: {len(bad)} number(s) neither generated, bound to a results file, the paper's, nor "
        "whitelisted (tests/prose_bindings.py):\n  " + "\n  ".join(bad)
    )


def test_every_whitelist_entry_is_used():
    """A whitelist entry that matches nothing is stale and hides nothing: it must go."""
    stale = [
        w.pattern
        for w in WHITELIST
        if not any(re.search(w.pattern, normalise(markdown(d))) for d in DOCS if w.applies(d))
    ]
    assert not stale, f"whitelist entries that match no document: {stale}"


def test_the_scan_sees_numbers():
    """The scanner is not blind: a typed-in number of each kind is reported, a generated one not."""
    text = (
        "took 1.3 s; 63x faster; 565 users/s; 43% of it; R@50 0.4187; Sec. 2.3; torch 2.13.0\n"
        "<!-- results:x -->\n| 0.5 |\n<!-- /results -->\n"
    )
    masked = normalise(blank(text))
    found = [m.group(0) for m in NUMBER.finditer(masked)]
    assert found == ["1.3 s", "63x", "43%", "0.4187"]


def test_the_strong_protocol_ranking_is_written_best_first():
    """results/README.md lists Table 2's strong-protocol R@50 as a ranking, and says the ratio
    protocol puts the same five models on top: both must hold in the files, whatever they hold."""
    text = markdown("results/README.md")
    listed = re.search(
        r"Strong protocol, R@50:\s*(.*?)\. The ratio protocol gives the same five", text, re.S
    )
    assert listed, "the ranked list moved: update this test with it"
    values = [float(v) for v in re.findall(r"\s(\d\.\d{3})(?:,|$)", listed.group(1))]
    assert len(values) == 13 and values == sorted(values, reverse=True), listed.group(1)

    def top5(name: str) -> set:
        rows = json.loads((ROOT / "results" / "table2" / name).read_text(encoding="utf-8"))["rows"]
        ranked = sorted(rows, key=lambda r: -r["R@50_mean"])
        return {(r["model"], r.get("variant")) for r in ranked[:5]}

    assert top5("table2-ml-1m-strong-minK.json") == top5("table2-ml-1m-ratio-targets.json")
