"""A results table as the ``reproduce`` commands produce it: display table, JSON rows, files."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from codigem_lab._io import atomic_open, write_json
from codigem_lab.report import json_line


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (index as the first column)."""
    names = [n for n in df.index.names if n] if df.index.nlevels > 1 else [df.index.name or ""]
    cols = [" / ".join(names)] + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in df.iterrows():
        label = " / ".join(map(str, idx)) if isinstance(idx, tuple) else str(idx)
        cells = [label] + ["" if (isinstance(v, float) and math.isnan(v)) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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

    def text(self) -> str:
        with pd.option_context("display.width", 250, "display.max_columns", 50):
            body = self.table.to_string()
        return "\n".join([f"{self.name}", body, *self.notes, f"wall time: {self.wall_s:.1f} s"])

    def json_line(self) -> str:
        return json_line(self.rows)

    def save(self, folder: str | os.PathLike, stem: str) -> list[Path]:
        """Write ``stem``.csv (rows), .md (display table + notes + command) and .json."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        csv = folder / f"{stem}.csv"
        with atomic_open(csv, "w", encoding="utf-8") as fh:
            pd.DataFrame(self.rows).to_csv(fh, index=False)
        md = folder / f"{stem}.md"
        with atomic_open(md, "w", encoding="utf-8") as fh:
            fh.write(f"# {self.name}\n\n{to_markdown(self.table)}\n\n")
            for n in self.notes:
                fh.write(f"{n}\n\n")
            fh.write(
                f"Wall time on this machine: {self.wall_s:.0f} s (cached runs load in seconds).\n\n"
            )
            if self.command:
                fh.write(f"Made by:\n\n```\n{self.command}\n```\n")
        js = folder / f"{stem}.json"
        write_json(
            js,
            {
                "name": self.name,
                "rows": json.loads(self.json_line()),
                "notes": self.notes,
                "command": self.command,
                "wall_s": self.wall_s,
                **self.extra,
            },
        )
        return [csv, md, js]
