"""Re-run the notebooks in place to refresh their committed outputs, or time them.

    python tools/execute_notebooks.py --execute [NAME ...] [--quick | --paper]
    python tools/execute_notebooks.py --time [NAME ...] [--quick | --paper]

The mode is the notebooks' own default (``MODE = "learn"`` in each parameters cell: what a learner
gets on Run All) unless ``--quick`` (``CODIGEM_LAB_QUICK=1``, as the tests run them) or
``--paper`` (``CODIGEM_LAB_MODE=paper``: full-scale runs) says otherwise.

``--time`` runs them without writing anything back, each with an empty result cache (as on a
fresh clone, unless ``--keep-cache``), prints the seconds per notebook and records them in
``results/bench/notebooks-<default|quick|paper>-raw.json`` (and its ``.md``, without ``-raw``), one row per notebook
with the load average before and after and the command: the table the notebooks' plan lines
take their estimates from (``course.session.plan``).

Each notebook runs top to bottom with nbclient in its own folder; the saved widget state keeps
only widgets still on screen (no closed progress bars), so the files stay small. Development
tooling: not part of the package.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from codigem_lab._io import atomic_open, write_json
from codigem_lab.paths import RUNS_ENV, notebooks_dir, repo_root, results_root

sys.path.insert(0, str(notebooks_dir()))  # the notebooks' own package, course/
from course.session import MODE_ENV, QUICK_ENV  # noqa: E402

#: Each --time/--execute mode and the environment it gives the kernel (default: neither).
MODE_VARS = {"default": {}, "quick": {QUICK_ENV: "1"}, "paper": {MODE_ENV: "paper"}}
#: The most seconds a notebook may take in the default (learn) mode or quick mode.
LEARN_LIMIT_S = 120

WIDGET_STATE_KEY = "application/vnd.jupyter.widget-state+json"


WIDGET_VIEW_KEY = "application/vnd.jupyter.widget-view+json"


def _widget_refs(value) -> Iterable[str]:
    """Model ids a widget's state refers to (``IPY_MODEL_<id>`` strings, nested anywhere)."""
    if isinstance(value, str):
        if value.startswith("IPY_MODEL_"):
            yield value[len("IPY_MODEL_") :]
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _widget_refs(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _widget_refs(v)


def _refresh_progress_text(nb, state: Mapping[str, dict]) -> None:
    """Give each saved progress bar (tqdm's HTML | progress | HTML box) its final text.

    The plain-text fallback of a widget output is captured when the bar first appears
    ("0/3"); viewers that do not render widgets would show that forever.
    """
    import html
    import re

    def value(mid: str, key: str = "value"):
        return state.get(mid, {}).get("state", {}).get(key)

    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            view = out.get("data", {}).get(WIDGET_VIEW_KEY) if "data" in out else None
            box = state.get(view["model_id"], {}) if view else {}
            kids = [r[len("IPY_MODEL_") :] for r in box.get("state", {}).get("children", []) or []]
            if len(kids) != 3 or state.get(kids[1], {}).get("model_name") != "FloatProgressModel":
                continue
            left, right = (
                html.unescape(re.sub(r"<[^>]+>", "", str(value(k) or ""))).strip()
                for k in (kids[0], kids[2])
            )
            done, total = value(kids[1]), value(kids[1], "max")
            frac = float(done or 0) / float(total) if total else 0.0
            bar = "█" * int(round(10 * frac)) + " " * (10 - int(round(10 * frac)))
            out["data"]["text/plain"] = f"{left} |{bar}| {right}".strip()


def prune_widget_state(nb, closed: set[str] | frozenset[str] = frozenset()) -> None:
    """Keep only widgets still on screen: drop views of closed widgets and unreachable models.

    Progress bars that closed themselves (``leave=False``) and intermediate widgets would
    otherwise stay in the saved state and bloat the file.
    """
    meta = nb.metadata.get("widgets", {}).get(WIDGET_STATE_KEY)
    state = dict(meta["state"]) if meta else {}
    for cid in closed:
        state.pop(cid, None)
    roots = set()
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW_KEY) if "data" in out else None
            if view is not None and view.get("model_id") not in state:
                continue  # a view of a widget that no longer exists
            if view is not None:
                roots.add(view["model_id"])
            kept.append(out)
        cell["outputs"] = kept
    _refresh_progress_text(nb, state)
    reach, todo = set(), list(roots)
    while todo:
        mid = todo.pop()
        if mid in reach or mid not in state:
            continue
        reach.add(mid)
        todo.extend(_widget_refs(state[mid].get("state", {})))
    if meta:
        if reach:
            meta["state"] = {k: v for k, v in state.items() if k in reach}
        else:
            del nb.metadata["widgets"]


def kernel_env(mode: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the mode variables, plus ``mode``'s and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in (QUICK_ENV, MODE_ENV)}
    return {**env, **MODE_VARS[mode], **(extra or {})}


def execute_notebook(
    path: str | os.PathLike,
    mode: str = "default",
    timeout: int = 3600,
    kernel: str = "python3",
    write: bool = True,
    env: Mapping[str, str] | None = None,
) -> float:
    """Run one notebook top to bottom in its own folder, in ``mode`` (a :data:`MODE_VARS` key;
    ``env``: more variables for its kernel), and save it in place (unless not ``write``);
    return the seconds it ran."""
    import nbformat
    from nbclient import NotebookClient

    class _Client(NotebookClient):
        """Records widgets that closed (nbclient keeps their state otherwise)."""

        closed: set[str] = set()

        def handle_comm_msg(self, outs, msg, cell_index):  # noqa: ANN001 (nbclient's signature)
            if msg["msg_type"] == "comm_close":
                self.closed.add(msg["content"]["comm_id"])
            return super().handle_comm_msg(outs, msg, cell_index)

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = _Client(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
    )
    client.closed = set()
    start = time.perf_counter()
    client.execute(env=kernel_env(mode, env))
    seconds = time.perf_counter() - start
    if write:
        prune_widget_state(nb, client.closed)
        for cell in nb.cells:
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(nb, path)
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    """``python tools/execute_notebooks.py --execute|--time [NAME ...] [--quick | --paper]``."""
    parser = argparse.ArgumentParser(
        prog="python tools/execute_notebooks.py",
        description="Re-run the notebooks in place (their default mode: learn) or time them.",
    )
    parser.add_argument("--execute", action="store_true", help="execute notebooks in place")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all, in order)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--quick", action="store_true", help=f"as the tests run them: {QUICK_ENV}=1 (learn mode)"
    )
    which.add_argument(
        "--paper", action="store_true", help=f"paper mode ({MODE_ENV}=paper): full-scale runs"
    )
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument(
        "--time",
        action="store_true",
        help="run without writing back; record seconds per notebook in results/bench/",
    )
    parser.add_argument(
        "--keep-cache", action="store_true", help="with --time: use the result cache as it is"
    )
    args = parser.parse_args(argv)
    if not (args.execute or args.time):
        parser.print_help()
        return 2
    mode = "quick" if args.quick else "paper" if args.paper else "default"
    folder = notebooks_dir()
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb")) + sorted(folder.glob("explorer.ipynb"))
    if args.names:
        wanted = [Path(n).stem for n in args.names]
        paths = [p for p in paths if p.stem in wanted or p.stem.split("_")[0] in wanted]
        if not paths:
            parser.error(f"no notebook matches {args.names}")
    if args.time:
        command = "python tools/execute_notebooks.py " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        return _time_notebooks(paths, mode, args.timeout, args.keep_cache, command)
    for p in paths:
        print(f"executing {p.name} ({mode} mode) ...", flush=True)
        seconds = execute_notebook(p, mode=mode, timeout=args.timeout)
        print(f"  done in {seconds:.0f} s, {p.stat().st_size / 1024:.0f} KB", flush=True)
    return 0


def _time_notebooks(
    paths: Sequence[Path], mode: str, timeout: int, keep_cache: bool, command: str
) -> int:
    """Run each notebook without saving it (fresh result cache each), print its seconds and
    record them in the mode's timing file."""
    import tempfile

    cache = "the existing result cache" if keep_cache else "an empty result cache each"
    print(f"{mode} mode, {cache}, {os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}")
    rows, total = [], 0.0
    for p in paths:
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix="codigem-runs-") as tmp:
            env = {} if keep_cache else {RUNS_ENV: tmp}
            seconds = execute_notebook(p, mode=mode, timeout=timeout, write=False, env=env)
        total += seconds
        over = mode != "paper" and seconds > LEARN_LIMIT_S
        print(
            f"{p.stem:24s} {seconds:6.1f} s{f'  over {LEARN_LIMIT_S} s' if over else ''}",
            flush=True,
        )
        rows.append(
            {
                "notebook": p.stem,
                "seconds": round(seconds, 1),
                "load_before": round(load_before, 2),
                "load_after": round(os.getloadavg()[0], 2),
                "cores": os.cpu_count(),
                "empty_cache": not keep_cache,
                "written_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "commit": _commit(),
                "command": command,
            }
        )
    print(f"{'total':24s} {total:6.1f} s (load now {os.getloadavg()[0]:.1f})")
    written = record_timings(results_root() / "bench" / f"notebooks-{mode}-raw.json", mode, rows)
    print(f"recorded in {written}")
    return 0


def _commit() -> str:
    """The checkout's short commit, with '+edits' when the working tree differs from it."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True)
        return out.stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + (
            "+edits" if git("status", "--porcelain") else ""
        )
    except OSError:
        return "(no git)"


def record_timings(path: Path, mode: str, rows: Sequence[dict]) -> Path:
    """Merge ``rows`` into the timing file ``path`` (a notebook's new row replaces its old one)
    and render its ``.md``; return the ``.md``'s path."""
    doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"rows": []}
    kept = {r["notebook"]: r for r in doc["rows"]}
    kept.update({r["notebook"]: dict(r) for r in rows})
    env = " ".join(f"{k}={v}" for k, v in MODE_VARS[mode].items()) or "no mode variable"
    doc = {
        "title": f"Notebooks in {mode} mode ({env}): seconds per notebook",
        "mode": mode,
        "rows": [kept[k] for k in sorted(kept, key=lambda n: (n[0] not in "0123456789", n))],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, doc)
    md = path.with_name(path.name.replace("-raw.json", ".md"))
    lines = [
        f"# {doc['title']}",
        "",
        "Each notebook ran top to bottom (nbclient, nothing written back), with an empty result "
        "cache unless the row says otherwise; load = the 1-minute load average before and after. "
        f"Written by `tools/execute_notebooks.py --time` from `{path.name}`; "
        "`course.session.plan` reads the estimates from it.",
        "",
        "| notebook | seconds | load before | load after | cores | empty cache | measured | commit | command |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        cells = [
            r["notebook"],
            f"{r['seconds']:.1f}",
            r["load_before"],
            r["load_after"],
            r["cores"],
        ]
        cells += [r["empty_cache"], r["written_utc"], r["commit"], f"`{r['command']}`"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    commands = dict.fromkeys(r["command"] for r in doc["rows"])
    lines += ["", "Made by:", "", "```", *commands, "```"]
    with atomic_open(md, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return md


if __name__ == "__main__":
    sys.exit(main())
