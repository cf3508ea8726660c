"""Re-run the notebooks in place to refresh their committed outputs (full mode by default).

    python tools/execute_notebooks.py --execute [NAME ...] [--quick]
    python tools/execute_notebooks.py --time --quick [NAME ...]

``--time`` runs them without writing anything back, each with an empty result cache (as on a
fresh clone, unless ``--keep-cache``), and prints the seconds per notebook: the figure behind
"every notebook runs within 60 s in quick mode".

Each notebook runs top to bottom with nbclient in its own folder; the saved widget state keeps
only widgets still on screen (no closed progress bars), so the files stay small. Development
tooling: not part of the package.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from codigem_lab.paths import notebooks_dir
from codigem_lab.session import QUICK_ENV

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


def execute_notebook(
    path: str | os.PathLike,
    quick: bool = False,
    timeout: int = 3600,
    kernel: str = "python3",
    write: bool = True,
) -> float:
    """Run one notebook top to bottom in its own folder and save it in place (unless not
    ``write``); return the seconds it ran."""
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
    env_before = os.environ.get(QUICK_ENV)
    os.environ[QUICK_ENV] = "1" if quick else "0"
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
    try:
        client.execute()
    finally:
        if env_before is None:
            os.environ.pop(QUICK_ENV, None)
        else:
            os.environ[QUICK_ENV] = env_before
    seconds = time.perf_counter() - start
    if write:
        prune_widget_state(nb, client.closed)
        for cell in nb.cells:
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(nb, path)
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    """``python tools/execute_notebooks.py --execute [NAME ...] [--quick]``."""
    parser = argparse.ArgumentParser(
        prog="python tools/execute_notebooks.py",
        description="Re-run the notebooks in place (full mode by default) to refresh their outputs.",
    )
    parser.add_argument("--execute", action="store_true", help="execute notebooks in place")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all, in order)")
    parser.add_argument("--quick", action="store_true", help="quick mode (small data, few epochs)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument(
        "--time", action="store_true", help="run without writing back; print seconds per notebook"
    )
    parser.add_argument(
        "--keep-cache", action="store_true", help="with --time: use the result cache as it is"
    )
    args = parser.parse_args(argv)
    if not (args.execute or args.time):
        parser.print_help()
        return 2
    folder = notebooks_dir()
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb")) + sorted(folder.glob("explorer.ipynb"))
    if args.names:
        wanted = [Path(n).stem for n in args.names]
        paths = [p for p in paths if p.stem in wanted or p.stem.split("_")[0] in wanted]
        if not paths:
            parser.error(f"no notebook matches {args.names}")
    if args.time:
        return _time_notebooks(paths, args.quick, args.timeout, args.keep_cache)
    for p in paths:
        print(f"executing {p.name} ({'quick' if args.quick else 'full'} mode) ...", flush=True)
        seconds = execute_notebook(p, quick=args.quick, timeout=args.timeout)
        print(f"  done in {seconds:.0f} s, {p.stat().st_size / 1024:.0f} KB", flush=True)
    return 0


def _time_notebooks(paths: Sequence[Path], quick: bool, timeout: int, keep_cache: bool) -> int:
    """Run each notebook without saving it and print its seconds (fresh result cache each)."""
    import tempfile

    from codigem_lab.paths import RUNS_ENV

    mode = "quick" if quick else "full"
    cache = "the existing result cache" if keep_cache else "an empty result cache each"
    print(f"{mode} mode, {cache}, {os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}")
    total = 0.0
    for p in paths:
        before = os.environ.get(RUNS_ENV)
        with tempfile.TemporaryDirectory(prefix="codigem-runs-") as tmp:
            if not keep_cache:
                os.environ[RUNS_ENV] = tmp
            try:
                seconds = execute_notebook(p, quick=quick, timeout=timeout, write=False)
            finally:
                if before is None:
                    os.environ.pop(RUNS_ENV, None)
                else:
                    os.environ[RUNS_ENV] = before
        total += seconds
        flag = "  over 60 s" if quick and seconds > 60 else ""
        print(f"{p.stem:24s} {seconds:6.1f} s{flag}", flush=True)
    print(f"{'total':24s} {total:6.1f} s (load now {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
