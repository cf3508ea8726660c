"""What the browser tests share: headless Chromium's flags, skipping without it, free ports,
stopping a server's process group, reading a log's tail and a widget's text."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser(*modules: str) -> None:
    """Skip (with the reason) where Chromium, Playwright or another needed module is missing."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); browser test skipped")
    pytest.importorskip("playwright.sync_api", reason="playwright (python package) is missing")
    for name in modules:
        pytest.importorskip(name, reason=f"{name} is missing (pip install {name})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(proc: subprocess.Popen) -> None:
    """Stop a server and everything it started (kernels): SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


def css_text(page, cls: str) -> str:
    """The text of the first element with CSS class ``cls``."""
    return page.locator(f".{cls}").first.inner_text().strip()


def lab_home(root: Path, **extra_env: str) -> tuple[dict, Path]:
    """A private JupyterLab home under ``root``: quiet settings (no news, every cell rendered,
    since JupyterLab 4 otherwise virtualises off-screen cells), private Jupyter/IPython folders,
    this interpreter first on PATH. Returns the server's environment and its settings folder."""
    import json
    import sys

    settings = root / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"})
    )
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(root / "config"),
        JUPYTER_DATA_DIR=str(root / "jdata"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        IPYTHONDIR=str(root / "ipython"),
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        **extra_env,
    )
    return env, settings.parent
