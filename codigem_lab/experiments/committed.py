"""The committed results files as a notebook's fallback: a study's table without retraining it.

A full-mode notebook on a fresh clone has an empty result cache, and Table 2 alone is 13 models x
3 seeds of ML-1M training (hours on a laptop CPU). :func:`find_committed` looks in ``results/``
for the file a ``codigem-lab reproduce`` run of *the same study with the same settings* wrote
(same file stem, same flags once the data's location is set aside: the committed files name the
development copy of the ratings, a user's clone the registry's download of the same file), and
:func:`load_table` rebuilds its :class:`~codigem_lab.experiments.tables.TableResult`. The file
keeps its own command and provenance, which the notebook prints beside the table.
"""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codigem_lab.data.spec import DataSpec
from codigem_lab.experiments.common import ExperimentConfig
from codigem_lab.experiments.registry import Study, get_study
from codigem_lab.experiments.tables import TableResult
from codigem_lab.options import add_options
from codigem_lab.paths import results_root

#: Flags that say where the data lives or how a run reports, not what it computes. ``full_model``
#: is among them because the fast path's decoder and metrics equal the full model's bit for bit
#: (``tests/test_decoder_only.py``).
IGNORED = frozenset(
    {"dataset", "source", "cache", "cache_root", "keep_stale", "progress", "out", "full_model"}
)


@dataclass(frozen=True)
class Committed:
    """One committed results file that matches a study's settings, and its table."""

    path: Path
    result: TableResult
    doc: dict

    def describe(self, root: Path | None = None) -> str:
        """Where the table comes from, in one paragraph: the file, its command and when."""
        root = root or results_root().parent
        try:
            shown = self.path.relative_to(root)
        except ValueError:
            shown = self.path
        prov = self.doc.get("provenance") or {}
        when = prov.get("written_utc")
        code = prov.get("code_version")
        made = f"written {when}" if when else "written before results files recorded a date"
        if code:
            made += f" by code version {code}"
        return (
            f"from the committed results file {shown} ({made}; nothing trained here). "
            f"It was made by:\n  {self.doc.get('command') or '(command not recorded)'}"
        )


def _parser(study: Study) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    add_options(parser, DataSpec.OPTIONS + DataSpec.SPLIT_OPTIONS)
    add_options(parser, ExperimentConfig.OPTIONS)
    add_options(parser, study.options)
    return parser


def command_settings(command: str, study: Study) -> dict | None:
    """The settings a ``codigem-lab [global flags] reproduce STUDY ...`` command asks for.

    Data-location and reporting flags (:data:`IGNORED`) are left out; None when ``command`` is
    not a ``reproduce`` command of ``study``.
    """
    words = shlex.split(command or "")
    if "reproduce" not in words:
        return None
    rest = words[words.index("reproduce") + 1 :]
    if not rest or rest[0] != study.name:
        return None
    try:
        args, _unknown = _parser(study).parse_known_args(rest[1:])
    except (argparse.ArgumentError, SystemExit):
        return None
    return {k: v for k, v in vars(args).items() if k not in IGNORED}


def load_table(path: Path) -> tuple[TableResult, dict]:
    """The :class:`TableResult` a results file (format 2) holds, and the file's whole record."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    t = doc["table"]
    index = pd.Index(t["index"], name=t.get("index_name") or None)
    table = pd.DataFrame(t["cells"], columns=t["columns"], index=index)
    result = TableResult(
        name=doc["name"],
        table=table,
        rows=list(doc.get("rows") or []),
        notes=list(doc.get("notes") or []),
        wall_s=float(doc.get("wall_s") or 0.0),
        command=doc.get("command") or "",
    )
    return result, doc


def find_committed(what: str, cfg: ExperimentConfig, root: Path | None = None) -> Committed | None:
    """The committed results file of study ``what`` made with ``cfg``'s settings, if any.

    Looks for ``<stem>.json`` anywhere under ``root`` (default ``results/``); a file counts when
    its recorded command asks for the same settings as ``cfg`` (see :func:`command_settings`).
    Several matches: the most recently written.
    """
    study = get_study(what)
    root = Path(root) if root is not None else results_root()
    if not root.is_dir():
        return None
    wanted = command_settings(study.command(cfg), study)
    found = []
    for path in sorted(root.rglob(f"{study.stem(cfg)}.json")):
        try:
            result, doc = load_table(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if wanted is not None and command_settings(result.command, study) == wanted:
            when = (doc.get("provenance") or {}).get("written_utc") or ""
            found.append((when, path, result, doc))
    if not found:
        return None
    _, path, result, doc = max(found, key=lambda f: f[0])
    return Committed(path, result, doc)
