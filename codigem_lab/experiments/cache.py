"""The result cache: every finished run is stored once and never recomputed.

A run is identified by its :class:`~codigem_lab.runs.RunSpec` (model, variant, dataset, preset,
protocol, hyper-parameters, seed); its hash names a folder under the cache root holding:

- ``record.json`` — the spec, validation/test metrics, summary; written last and atomically, so its
  presence (and validity) marks the run as finished;
- ``history.csv`` (per-epoch), ``test_per_user.csv`` (per-user metrics, for paired t-tests);
- ``last.pt`` while a neural run is in progress: a re-run resumes from it instead of starting over.

A corrupt or incomplete entry is reported and re-run, never trusted.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codigem_lab._io import write_json
from codigem_lab.runs import RunSpec, run_training

log = logging.getLogger(__name__)

RECORD = "record.json"
RECORD_VERSION = 1


def default_root() -> Path:
    """``$CODIGEM_LAB_RUNS``, else ``runs/cache`` in the current folder."""
    return Path(os.environ.get("CODIGEM_LAB_RUNS", "runs/cache"))


@dataclass
class RunRecord:
    """One finished run as stored: spec, metrics and where its files are."""

    spec: RunSpec
    valid: dict
    test: dict
    summary: dict
    recall_definition: str
    path: Path
    from_cache: bool = False

    def per_user(self) -> pd.DataFrame:
        """Per-user test metrics (index: user id)."""
        return pd.read_csv(self.path / "test_per_user.csv", index_col=0)

    def history(self) -> pd.DataFrame | None:
        p = self.path / "history.csv"
        return pd.read_csv(p) if p.exists() else None

    def row(self) -> dict:
        """A flat dict for a results DataFrame."""
        s = self.spec
        out = {
            "model": s.model,
            "variant": s.variant,
            "dataset": s.data.dataset,
            "preset": s.data.preset,
            "protocol": s.data.protocol,
            "seed": s.train.seed,
            "recall_definition": self.recall_definition,
            "params": json.dumps(s.params, sort_keys=True),
            "key": s.key(),
        }
        out.update({f"valid_{k}": v for k, v in self.valid.items()})
        out.update(self.test)
        out.update({k: v for k, v in self.summary.items() if k not in self.test})
        return out


class CorruptEntry(Exception):
    """A cache entry that exists but cannot be trusted."""


class ResultCache:
    """Stores finished runs under ``root/<key>/``; ``run`` returns a cached record or makes one."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def path(self, spec: RunSpec) -> Path:
        return self.root / spec.key()

    def get(self, spec: RunSpec) -> RunRecord | None:
        """The finished record for ``spec``, or None (missing, unfinished, or corrupt: reported)."""
        path = self.path(spec)
        if not (path / RECORD).exists():
            return None
        try:
            return self._read(path, spec)
        except CorruptEntry as exc:
            log.warning("cache entry %s is corrupt (%s); it will be re-run", path, exc)
            print(f"warning: cache entry {path} is corrupt ({exc}); re-running it")
            (path / RECORD).unlink(missing_ok=True)
            return None

    def _read(self, path: Path, spec: RunSpec | None) -> RunRecord:
        try:
            d = json.loads((path / RECORD).read_text())
            stored = RunSpec.from_dict(d["spec"])
            valid, test, summary = d["valid"], d["test"], d["summary"]
            rdef = d["recall_definition"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptEntry(f"unreadable {RECORD}: {exc}") from exc
        if d.get("version") != RECORD_VERSION:
            raise CorruptEntry(f"record version {d.get('version')} != {RECORD_VERSION}")
        if spec is not None and stored.key() != spec.key():
            raise CorruptEntry("stored spec does not match its folder")
        if not (path / "test_per_user.csv").exists():
            raise CorruptEntry("test_per_user.csv is missing")
        if not all(isinstance(v, (int, float)) or v is None for v in test.values()):
            raise CorruptEntry("test metrics are not numbers")
        return RunRecord(stored, valid, test, summary, rdef, path, from_cache=True)

    def run(self, spec: RunSpec, keep_checkpoints: bool = False) -> RunRecord:
        """Return the cached record for ``spec``, or train it (resuming a partial run) and store it."""
        cached = self.get(spec)
        if cached is not None:
            return cached
        path = self.path(spec)
        resume = (path / "last.pt").exists()
        if path.exists() and not resume:
            shutil.rmtree(path)  # leftovers of a run that never checkpointed
        out = run_training(spec, path, resume=resume)
        record = {
            "version": RECORD_VERSION,
            "spec": spec.to_dict(),
            "valid": out.valid,
            "test": out.test,
            "summary": out.summary,
            "recall_definition": spec.train.recall_definition,
        }
        if not keep_checkpoints:
            for f in ("last.pt", "best.pt"):
                (path / f).unlink(missing_ok=True)
        write_json(path / RECORD, record)
        return RunRecord(spec, out.valid, out.test, out.summary, spec.train.recall_definition, path)

    def records(self) -> list[RunRecord]:
        """Every finished, readable record under the root."""
        out = []
        if not self.root.exists():
            return out
        for p in sorted(self.root.iterdir()):
            if (p / RECORD).exists():
                try:
                    out.append(self._read(p, None))
                except CorruptEntry as exc:
                    log.warning("skipping corrupt cache entry %s: %s", p, exc)
        return out

    def to_frame(self) -> pd.DataFrame:
        """All finished runs as one DataFrame (one row per run)."""
        return pd.DataFrame([r.row() for r in self.records()])
