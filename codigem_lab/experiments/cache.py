"""The result cache: every finished run is stored once and never recomputed.

A run is identified by its :class:`~codigem_lab.runs.RunSpec` (model, variant, dataset, preset,
protocol, hyper-parameters, seed); its hash names a folder under the cache root holding:

- ``record.json`` — the spec, validation/test metrics, summary; written last and atomically, so its
  presence (and validity) marks the run as finished;
- ``history.csv`` (per-epoch), ``test_per_user.csv`` (per-user metrics, for paired t-tests);
- ``last.pt`` while a neural run is in progress: a re-run resumes from it instead of starting over.

A corrupt or incomplete entry is reported and re-run, never trusted. While a process trains a run
it holds ``<key>.lock`` beside the folder, so that two commands sharing a cache (two sweeps on two
cores, a notebook beside the CLI) never train, or delete, the same run: the second one moves on
to other runs and comes back for this one when the first has stored it. A lock whose process has
died is stale and is taken over.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
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


class RunInProgress(RuntimeError):
    """Another live process is training this run (it holds the run's lock)."""


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, finished but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


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

    def lock_path(self, spec: RunSpec) -> Path:
        return self.root / f"{spec.key()}.lock"

    def holder(self, spec: RunSpec) -> int | None:
        """The pid of the live process on this host that is training ``spec``, else None."""
        try:
            host, pid = self.lock_path(spec).read_text().split()
            pid = int(pid)
        except (OSError, ValueError):
            return None
        if host != socket.gethostname():
            return pid  # another machine's process: cannot be checked, so trusted
        return pid if _pid_alive(pid) else None

    def _acquire(self, spec: RunSpec) -> None:
        """Take the run's lock, or raise RunInProgress; a stale lock (dead process) is taken over."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = self.lock_path(spec)
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = self.holder(spec)
                if pid is not None and pid != os.getpid():
                    raise RunInProgress(
                        f"run {spec.key()} is being trained by process {pid}"
                    ) from None
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{socket.gethostname()} {os.getpid()}\n")
            return
        raise RunInProgress(f"could not take the lock {lock}")

    def run(self, spec: RunSpec, keep_checkpoints: bool = False) -> RunRecord:
        """Return the cached record for ``spec``, or train it (resuming a partial run) and store it.

        Raises :class:`RunInProgress` when another live process is training the same run.
        """
        cached = self.get(spec)
        if cached is not None:
            return cached
        self._acquire(spec)
        try:
            cached = self.get(spec)  # finished by another process since the first look
            if cached is not None:
                return cached
            return self._train(spec, keep_checkpoints)
        finally:
            self.lock_path(spec).unlink(missing_ok=True)

    def _train(self, spec: RunSpec, keep_checkpoints: bool) -> RunRecord:
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
