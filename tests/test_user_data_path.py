"""A user's machine: no ../shared, only the data cache. Notebook 02 runs on real data from the
cache, and on synthetic data with a clear banner when the cache is empty and there is no network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, shared_file

pytestmark = pytest.mark.slow


def _run_notebook_02(tmp_path: Path, cache: Path) -> str:
    """Execute notebook 02 in quick mode in a kernel whose environment is a user's; return text."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "notebooks" / "02_forward_noising.ipynb", as_version=4)
    nb.cells = nb.cells[:4]  # parameters, set-up (data choice), first figure
    env = {
        "CODIGEM_LAB_QUICK": "1",
        "CODIGEM_LAB_DATA": str(cache),
        "CODIGEM_LAB_SHARED_DATA": str(tmp_path / "no-shared-here"),
        "CODIGEM_LAB_THREADS": "1",
        # no network: the registry's download fails at once
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        # the notebooks' own package (course/), which a kernel started in notebooks/ finds
        "PYTHONPATH": os.pathsep.join([str(REPO / "notebooks"), os.environ.get("PYTHONPATH", "")]),
    }
    client = NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ, **env})  # the kernel's environment: a user's
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


@pytest.mark.shared_data
def test_notebook_02_uses_ml100k_from_the_users_cache(tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(shared_file("ml-100k"), cache / "ml-100k")
    text = _run_notebook_02(tmp_path, cache)
    assert "MovieLens-100K" in text and "synthetic" not in text


def test_notebook_02_says_it_uses_synthetic_data_offline(tmp_path):
    text = _run_notebook_02(tmp_path, tmp_path / "empty-cache")
    assert "synthetic data: numbers mean nothing for MovieLens" in text
    assert "codigem-lab data fetch" in text  # how to get the real data


def test_cli_quickstart_falls_back_with_the_banner(tmp_path):
    env = dict(
        os.environ,
        CODIGEM_LAB_DATA=str(tmp_path / "empty"),
        CODIGEM_LAB_SHARED_DATA=str(tmp_path / "none"),
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        CODIGEM_LAB_THREADS="1",
    )
    out = subprocess.run(
        [sys.executable, "-m", "codigem_lab.cli", "quickstart", "--epochs", "1", "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "numbers mean nothing for MovieLens" in out.stdout
