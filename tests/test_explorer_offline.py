"""Offline never crashes: on a fresh clone (empty data cache, no ../shared, no network) every
explorer entry point falls back to the synthetic dataset with its banner, never a traceback.

"No network" is ``$CODIGEM_LAB_OFFLINE=1``, which the registry's download honours (it fails at
once with the manual fix, as a download with no network would after its timeout); the proxies
point nowhere as a second guard.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codigem_lab.data.registry import OFFLINE_VAR, get_spec, locate_ratings
from codigem_lab.data.spec import SYNTHETIC_BANNER, resolve_data
from codigem_lab.errors import DataError

from .conftest import REPO

NOTEBOOK = REPO / "notebooks" / "explorer.ipynb"


def offline_env(tmp_path: Path) -> dict[str, str]:
    """A user's fresh clone with no network: empty data cache, no shared folder, no downloads."""
    return {
        "CODIGEM_LAB_DATA": str(tmp_path / "empty-cache"),
        "CODIGEM_LAB_SHARED_DATA": str(tmp_path / "no-shared-here"),
        "CODIGEM_LAB_RUNS": str(tmp_path / "runs"),
        "CODIGEM_LAB_THREADS": "1",
        OFFLINE_VAR: "1",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }


def test_offline_download_fails_at_once_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(OFFLINE_VAR, "1")
    with pytest.raises(DataError, match=rf"could not download ml-100k.*\${OFFLINE_VAR}.*To fix"):
        locate_ratings(get_spec("ml-100k"), cache=tmp_path / "cache", progress=False)
    data = resolve_data("ml-100k", cache=str(tmp_path / "cache"), shared=tmp_path / "none")
    assert data.is_synthetic and data.banner == SYNTHETIC_BANNER


@pytest.mark.slow
def test_explorer_notebook_runs_offline_on_synthetic_data_with_the_banner(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    panel_cell = next(i for i, c in enumerate(nb.cells) if "open_explorer(" in c.source)
    nb.cells = nb.cells[: panel_cell + 1]
    nb.cells.append(nbformat.v4.new_code_cell("print(_.banner.value)\nprint(_.status.value)"))
    env = offline_env(tmp_path)
    # the kernel starts where Jupyter would, beside the notebook (its course/ package is there)
    client = NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute(env={**os.environ, **env})  # the kernel's environment: a user's
    outputs = [out for cell in nb.cells for out in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(o.get("text", "") for o in outputs)
    assert SYNTHETIC_BANNER in text.replace("&#x27;", "'").replace("&quot;", '"'), text
    assert "codigem-explorer-done" in text and "codigem-explorer-error" not in text, text


@pytest.mark.slow
def test_cli_explore_offline_falls_back_with_the_banner(tmp_path):
    env = {**os.environ, **offline_env(tmp_path)}
    argv = ["explore", "--dataset", "ml-100k", "--max-users", "300", "--epochs", "2",
            "--no-progress", "--json"]  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "codigem_lab.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ml-100k is not available: synthetic data: numbers mean nothing" in out.stdout
    assert '"dataset": "synthetic"' in out.stdout.splitlines()[-1]
    assert "Traceback" not in out.stderr
