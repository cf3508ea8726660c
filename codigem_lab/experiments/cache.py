"""The result cache: every finished run is stored once, under its RunSpec's key, and never
recomputed; entries made by other code are re-run (docs/architecture.md, "The result cache")."""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from filelock import FileLock, Timeout

from codigem_lab._io import write_json
from codigem_lab.paths import runs_root
from codigem_lab.runs import RunSpec, run_training

log = logging.getLogger(__name__)

RECORD = "record.json"
RECORD_VERSION = 2
#: The modules whose source defines what a run computes (everything up to :mod:`codigem_lab.runs`).
RUN_SOURCES = (
    "_io.py", "errors.py", "options.py", "paths.py", "data", "diffusion", "metrics.py",
    "distributed.py", "train.py", "recommender.py", "neural.py", "codigem.py", "baselines",
    "models.py", "runs.py",
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The version of the code a run's result depends on: :func:`source_digest` of ``RUN_SOURCES``."""
    pkg = Path(__file__).resolve().parents[1]
    sources = {}
    for name in RUN_SOURCES:
        p = pkg / name
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            sources[f.relative_to(pkg).as_posix()] = f.read_text(encoding="utf-8")
    return source_digest(sources)


def source_digest(sources: dict[str, str]) -> str:
    """sha1 (12 hex digits) of each file's name and syntax tree, docstrings removed, in name order."""
    h = hashlib.sha1()
    for name in sorted(sources):
        tree = ast.parse(sources[name])
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                first = node.body[0] if node.body else None
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    if isinstance(first.value.value, str):
                        node.body = node.body[1:] or [ast.Pass()]
        h.update(name.encode())
        h.update(ast.dump(tree).encode())
    return h.hexdigest()[:12]


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
    code_version: str = ""
    key: str = ""

    def per_user(self) -> pd.DataFrame:
        """Per-user test metrics (index: user id)."""
        return pd.read_csv(self.path / "test_per_user.csv", index_col=0)

    def history(self) -> pd.DataFrame | None:
        p = self.path / "history.csv"
        return pd.read_csv(p) if p.exists() else None


class CorruptEntry(Exception):
    """A cache entry that exists but cannot be trusted."""


class RunInProgress(RuntimeError):
    """Another live process is training this run (it holds the run's lock)."""


class ResultCache:
    """Stores finished runs under ``root/<key>/``; ``run`` returns a cached record or makes one
    (``keep_stale``: use records of other code, reported once; ``keep_best=False``: drop best.pt)."""

    #: Runs trained (not loaded) by any cache of this process: tells a study loaded from computed.
    trained = 0

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        keep_stale: bool = False,
        keep_best: bool = True,
    ) -> None:
        # default: $CODIGEM_LAB_RUNS, else runs/cache in the repository
        self.root = Path(root) if root is not None else runs_root()
        self.keep_stale = keep_stale
        self.keep_best = keep_best
        self._told_best = False  # the note on kept checkpoints is printed once per cache
        self.stale_notes: list[str] = []

    def path(self, spec: RunSpec) -> Path:
        return self.root / spec.key()

    def get(self, spec: RunSpec) -> RunRecord | None:
        """The finished record for ``spec``, or None (missing, unfinished, stale or corrupt)."""
        path = self.path(spec)
        if not (path / RECORD).exists():
            return None
        try:
            record = self._read(path)
        except CorruptEntry as exc:
            log.warning("cache entry %s is corrupt (%s); it will be re-run", path, exc)
            print(f"warning: cache entry {path} is corrupt ({exc}); re-running it")
            (path / RECORD).unlink(missing_ok=True)
            return None
        if record.code_version != code_version():
            what = f"cache entry {path.name} ({run_label(spec)}) was made by code {record.code_version}"
            action = (
                "used as it is (--keep-stale)"
                if self.keep_stale
                else "re-running it (--keep-stale uses it)"
            )
            note = f"note: {what}, this is {code_version()}: {action}"
            if note not in self.stale_notes:
                self.stale_notes.append(note)
                print(note)
            if not self.keep_stale:
                return None
        return record

    def _read(self, path: Path) -> RunRecord:
        try:
            d = json.loads((path / RECORD).read_text())
            stored = RunSpec.from_dict(d["spec"])
            valid, test, summary = d["valid"], d["test"], d["summary"]
            rdef = d["recall_definition"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptEntry(f"unreadable {RECORD}: {exc}") from exc
        if d.get("version") != RECORD_VERSION:
            raise CorruptEntry(f"record version {d.get('version')} != {RECORD_VERSION}")
        if d.get("key") != path.name:
            raise CorruptEntry("stored key does not match its folder")
        if not (path / "test_per_user.csv").exists():
            raise CorruptEntry("test_per_user.csv is missing")
        if not all(isinstance(v, (int, float)) or v is None for v in test.values()):
            raise CorruptEntry("test metrics are not numbers")
        return RunRecord(
            stored, valid, test, summary, rdef, path, True, d.get("code_version", ""), path.name
        )

    def lock_path(self, spec: RunSpec) -> Path:
        return self.root / f"{spec.key()}.lock"

    def run(self, spec: RunSpec, keep_checkpoints: bool = False) -> RunRecord:
        """Return the cached record for ``spec``, or train it (resuming a partial run) and store it
        (``keep_checkpoints``: keep ``last.pt`` too).

        Raises :class:`RunInProgress` when another live process is training the same run.
        """
        cached = self.get(spec)
        if cached is not None:
            return cached
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock_path(spec), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RunInProgress(
                f"run {spec.key()} ({run_label(spec)}) is being trained by another process"
            ) from None
        try:
            cached = self.get(spec)  # finished by another process since the first look
            if cached is not None:
                return cached
            return self._train(spec, keep_checkpoints)
        finally:
            lock.release()

    def _train(self, spec: RunSpec, keep_checkpoints: bool) -> RunRecord:
        path = self.path(spec)
        resume = (path / "last.pt").exists()
        if path.exists() and not resume:
            shutil.rmtree(path)  # leftovers of a run that never checkpointed
        out = run_training(spec, path, resume=resume)
        ResultCache.trained += 1
        record = {
            "version": RECORD_VERSION,
            "key": path.name,
            "code_version": code_version(),
            "spec": spec.to_dict(),
            "identity": spec.identity(),
            "valid": out.valid,
            "test": out.test,
            "summary": out.summary,
            "recall_definition": spec.train.recall_definition,
        }
        if not keep_checkpoints:
            (path / "last.pt").unlink(missing_ok=True)
            self._keep_best(path / "best.pt")
        write_json(path / RECORD, record)
        return replace(self._read(path), from_cache=False)  # as a later get() reads it back

    def _keep_best(self, best: Path) -> None:
        """Drop ``best`` (``keep_best=False``) or say once per cache what keeping it costs."""
        if not best.exists():
            return
        if not self.keep_best:
            best.unlink()
            return
        if not self._told_best:
            self._told_best = True
            mb = best.stat().st_size / 2**20
            print(
                f"the result cache keeps each run's best.pt ({mb:.1f} MiB for run "
                f"{best.parent.name}) for load_run / `codigem-lab recommend`; "
                "ResultCache(keep_best=False) drops it"
            )

    def records(self) -> list[RunRecord]:
        """Every finished, readable record under the root."""
        out = []
        for p in sorted(self.root.iterdir()) if self.root.exists() else []:
            if (p / RECORD).exists():
                try:
                    out.append(self._read(p))
                except CorruptEntry as exc:
                    log.warning("skipping corrupt cache entry %s: %s", p, exc)
        return out


def run_label(spec: RunSpec) -> str:
    """'codigem/paper seed 0': how progress bars and messages name a run."""
    return f"{spec.model}{'/' + spec.variant if spec.variant else ''} seed {spec.train.seed}"
