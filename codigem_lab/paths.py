"""Where things are: the source checkout, the development copy of the data, the result cache
(only these functions look at the file system layout)."""

from __future__ import annotations

import os
from pathlib import Path

#: A development convenience: a folder of local dataset copies that seeds the data cache.
SHARED_ENV = "CODIGEM_LAB_SHARED_DATA"
#: The result cache's root (default ``runs/cache`` under the repository root or working folder).
RUNS_ENV = "CODIGEM_LAB_RUNS"


def repo_root() -> Path | None:
    """The source checkout this package was imported from (editable install), else None."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def shared_data_dir() -> Path | None:
    """``$CODIGEM_LAB_SHARED_DATA``, else ``../shared/data`` beside the checkout; None if absent
    (development and CI machines only: a user's clone never needs it)."""
    if os.environ.get(SHARED_ENV):
        p = Path(os.environ[SHARED_ENV]).expanduser()
        return p if p.is_dir() else None
    root = repo_root()
    if root is None:
        return None
    p = root.parent / "shared" / "data"
    return p if p.is_dir() else None


def runs_root() -> Path:
    """``$CODIGEM_LAB_RUNS``, else ``<repo>/runs/cache`` in a checkout, else ``runs/cache`` in the
    working folder; absolute, so notebooks (run in ``notebooks/``) and the CLI share one cache."""
    if os.environ.get(RUNS_ENV):
        return Path(os.environ[RUNS_ENV]).expanduser().absolute()
    return ((repo_root() or Path.cwd()) / "runs" / "cache").absolute()


def results_root() -> Path:
    """``<repo>/results`` in a checkout, else ``results`` in the working folder."""
    return (repo_root() or Path.cwd()) / "results"


def notebooks_dir() -> Path:
    """``<repo>/notebooks``; FileNotFoundError outside a source checkout."""
    root = repo_root()
    if root is None or not (root / "notebooks").is_dir():
        raise FileNotFoundError("codigem_lab is not imported from a source checkout")
    return root / "notebooks"
