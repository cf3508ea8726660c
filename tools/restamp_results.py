"""Carry results files made at an older commit to the current code version, where provably the same.

    python tools/restamp_results.py --made-at f960dc9            # results/ (then render_results.py)
    python tools/restamp_results.py --made-at f960dc9 --cache runs/cache   # a result cache's records

A results file records the version of the code that made it. That version was once the sha1 of the
run sources' bytes; it is now :func:`~codigem_lab.experiments.cache.source_digest` of their syntax
trees, docstrings left out. A file stamped with the byte hash of commit C's run sources gets the
current version only if C's run sources have the syntax trees of the checkout's (only docstrings,
comments or layout changed since C); its provenance note says so. Anything else is refused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codigem_lab._io import write_json  # noqa: E402
from codigem_lab.experiments.cache import RUN_SOURCES, code_version, source_digest  # noqa: E402


def run_sources_at(commit: str, repo: Path = ROOT) -> dict[str, str]:
    """The run sources of ``commit``, path relative to the package -> text, in RUN_SOURCES order."""
    git = ["git", "-C", str(repo)]
    listed = subprocess.run(
        [*git, "ls-tree", "-r", "--name-only", commit, "codigem_lab/"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    names = [p.removeprefix("codigem_lab/") for p in listed if p.endswith(".py")]
    sources = {}
    for top in RUN_SOURCES:
        for name in sorted(n for n in names if n == top or n.startswith(f"{top}/")):
            sources[name] = subprocess.run(
                [*git, "show", f"{commit}:codigem_lab/{name}"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
    return sources


def byte_version(sources: dict[str, str]) -> str:
    """The former code version: sha1 (12 hex digits) of each run source's name and bytes, in order."""
    h = hashlib.sha1()
    for name, text in sources.items():
        h.update(name.encode())
        h.update(text.encode("utf-8"))
    return h.hexdigest()[:12]


def _versions(commit: str, repo: Path) -> tuple[str, str]:
    """(``commit``'s byte version, the current version), refused unless their syntax trees agree."""
    sources = run_sources_at(commit, repo)
    old, now = byte_version(sources), code_version()
    if source_digest(sources) != now:
        raise SystemExit(
            f"the run sources of {commit} differ from the checkout's in code, not only in "
            f"docstrings or layout: regenerate with `codigem-lab reproduce all` instead"
        )
    return old, now


def restamp_cache(cache: Path, commit: str, repo: Path = ROOT) -> list[Path]:
    """Restamp the result cache's records (``<key>/record.json``) made by ``commit``'s run sources."""
    old, now = _versions(commit, repo)
    changed = []
    for path in sorted(cache.glob("*/record.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("code_version") == old:
            record["code_version"] = now
            write_json(path, record)
            changed.append(path)
    return changed


def restamp(results: Path, commit: str, repo: Path = ROOT) -> list[Path]:
    """Restamp every results JSON under ``results`` made by ``commit``'s run sources; the changed files."""
    old, now = _versions(commit, repo)
    changed = []
    for path in sorted(results.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        prov = doc.get("provenance") if isinstance(doc, dict) else None
        if not isinstance(prov, dict) or prov.get("code_version") != old:
            continue
        note = (
            f"Made at code version {old} (the bytes of commit {commit}'s run sources), whose "
            f"syntax trees are those of code version {now}."
        )
        prov["note"] = f"{prov['note']} {note}" if prov.get("note") else note
        prov["code_version"] = now
        write_json(path, doc)
        changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--made-at", required=True, help="the commit whose run sources made the files")
    ap.add_argument("--results", default=str(ROOT / "results"), help="folder of results files")
    ap.add_argument("--cache", help="restamp this result cache's records instead of results files")
    args = ap.parse_args(argv)
    if args.cache:
        changed = restamp_cache(Path(args.cache), args.made_at)
    else:
        changed = restamp(Path(args.results), args.made_at)
    for p in changed:
        print(f"restamped {p}")
    print(f"{len(changed)} file(s) restamped to code version {code_version()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
