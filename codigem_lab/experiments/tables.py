"""A results table as the ``reproduce`` commands produce it: the ``.json`` record (display table,
rows, notes, command, provenance) and the ``.md`` rendered from it and nothing else."""

from __future__ import annotations

import gzip
import json
import math
import os
import platform
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from codigem_lab._io import atomic_open, write_json
from codigem_lab.experiments.cache import code_version
from codigem_lab.report import json_line

#: Version of the results-file layout (every committed file is format 2).
FORMAT = 2


def nan_to_none(row: dict) -> dict:
    """A table row with NaN as None, as the JSON rows of every study hold missing values."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def _cell(v) -> str:
    return "" if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v)


def table_json(df: pd.DataFrame) -> dict:
    """A display table as JSON: index name, column names, row labels and text cells."""
    names = [n for n in df.index.names if n] if df.index.nlevels > 1 else [df.index.name or ""]
    index = [" / ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in df.index]
    cells = [[_cell(v) for v in row] for row in df.itertuples(index=False, name=None)]
    return {
        "index_name": " / ".join(str(n) for n in names),
        "columns": [str(c) for c in df.columns],
        "index": index,
        "cells": cells,
    }


def markdown_table(table: dict) -> str:
    """A GitHub-flavoured Markdown table from :func:`table_json`'s dict."""
    cols = [table["index_name"], *table["columns"]]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for label, cells in zip(table["index"], table["cells"], strict=True):
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines)


def machine_info() -> dict:
    """Where a result was made: platform, CPU model, cores, torch threads and device, Python."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        cpuinfo = ""
    found = re.search(r"^model name[^:]*:(.*)$", cpuinfo, re.M)
    cpu = found.group(1).strip() if found else platform.processor()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "platform": platform.platform(),
        "cpu": cpu or platform.machine(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def provenance(wall_s: float) -> dict:
    """The provenance block of a results file written now."""
    return {
        "wall_s": wall_s,
        "machine": machine_info(),
        "code_version": code_version(),
        "written_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def provenance_text(doc: dict) -> str:
    """One paragraph from the provenance block :func:`provenance` wrote: wall time, machine,
    threads, code version, when, and the note a restamp adds (tools/restamp_results.py)."""
    prov = doc["provenance"]
    wall, m = prov["wall_s"], prov["machine"]
    parts = [
        f"Wall time of the command that wrote this file: {wall:.0f} s"
        + (" (under a second: its runs came from the result cache)" if wall < 1 else ""),
        f"machine: {m.get('platform')}, {m.get('cpu')}, {m.get('cores')} cores"
        + (f", GPU {m['gpu']}" if m.get("gpu") else "")
        + f"; torch threads: {m.get('threads')}",
        f"code version {prov['code_version']}",
        f"written {prov['written_utc']}",
    ]
    text = "; ".join(parts) + "."
    if prov.get("note"):
        text += f" {prov['note']}"
    return text


def render_markdown(doc: dict) -> str:
    """The ``.md`` file of a results JSON ``doc`` (the only way one is written): title, table,
    notes, provenance, and last the command that made it."""
    out = [f"# {doc['name']}", "", markdown_table(doc["table"]), ""]
    for n in doc.get("notes", []):
        out += [n, ""]
    out += [provenance_text(doc), ""]
    command = doc.get("command") or "(not recorded)"
    out += ["Made by:", "", "```", command, "```", ""]
    return "\n".join(out)


def origin_line(doc: dict, shown: str) -> str:
    """The line that marks a table as loaded: from which file, made by which command, at which
    code version."""
    version = (doc.get("provenance") or {}).get("code_version") or "(not recorded)"
    command = doc.get("command") or "(command not recorded)"
    return f"loaded from {shown}, made by `{command}` at code version {version}"


@dataclass
class TableResult:
    """One reproduced table: what to print, what ``--json`` emits, and provenance."""

    name: str
    table: pd.DataFrame
    rows: list[dict]
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    command: str = ""
    extra: dict = field(default_factory=dict)
    #: Where this copy comes from (computed now, or which results file), for a notebook to print.
    origin: str = field(default="", compare=False)
    #: Per-user test metrics of the rows (``aggregate.per_user_frame``), saved compressed beside.
    per_user: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike, shown: str | None = None) -> TableResult:
        """The table a results file (format 2) holds; ``origin`` names the file (as ``shown``)."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        t = doc["table"]
        index = pd.Index(t["index"], name=t.get("index_name") or None)
        return cls(
            name=doc["name"],
            table=pd.DataFrame(t["cells"], columns=t["columns"], index=index),
            rows=list(doc.get("rows") or []),
            notes=list(doc.get("notes") or []),
            wall_s=float(doc.get("wall_s") or 0.0),
            command=doc.get("command") or "",
            origin=origin_line(doc, shown or str(path)),
        )

    def text(self) -> str:
        with pd.option_context("display.width", 250, "display.max_columns", 50):
            body = self.table.to_string()
        return "\n".join([f"{self.name}", body, *self.notes, f"wall time: {self.wall_s:.1f} s"])

    def to_json(self) -> dict:
        """The results file's content (plain JSON types; NaN as null)."""
        doc = {
            "format": FORMAT,
            "name": self.name,
            "table": table_json(self.table),
            "rows": json.loads(json_line(self.rows)),
            "notes": list(self.notes),
            "command": self.command,
            "wall_s": self.wall_s,
            "provenance": provenance(self.wall_s),
            **self.extra,
        }
        return json.loads(json_line(doc))

    def save(self, folder: str | os.PathLike, stem: str) -> list[Path]:
        """Write ``stem``.json (the record), .md (rendered from it), .csv (its rows) and, made from
        runs, ``stem``-per-user.csv.gz (what its intervals and p-values come from)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        js = folder / f"{stem}.json"
        write_json(js, self.to_json())
        md = folder / f"{stem}.md"
        with atomic_open(md, "w", encoding="utf-8") as fh:
            fh.write(render_markdown(json.loads(js.read_text(encoding="utf-8"))))
        csv = folder / f"{stem}.csv"
        with atomic_open(csv, "w", encoding="utf-8") as fh:
            pd.DataFrame(self.rows).to_csv(fh, index=False)
        if self.per_user is None:
            return [csv, md, js]
        pu = folder / f"{stem}-per-user.csv.gz"
        text = self.per_user.to_csv(index=False, float_format="%.9g")
        with atomic_open(pu, "wb") as fh:
            fh.write(gzip.compress(text.encode(), mtime=0))
        return [csv, md, js, pu]
