"""The explorer (notebooks/explorer.ipynb) in a real browser: in JupyterLab and as a Voilà page.

In each, headless Chromium drags the beta slider from the paper's 1e-4 to the right end (0.9) and
checks that the top-10 table and R@50 change and that the status names the new beta: the kernel
trains the new setting then and there (about 5-15 s on a busy 2-core CPU), through a result cache
the two servers share, so the second one finds the first one's runs.

ML-100K comes from the data cache (``$CODIGEM_LAB_DATA``, else ``data_cache/``), seeded from
``$CODIGEM_LAB_SHARED_DATA``/``../shared/data`` when missing there; skipped without it, or without
Chromium / Playwright / Voilà. A third server serves the Voilà page as on a fresh clone with no
network (empty data cache, no shared folder, ``$CODIGEM_LAB_OFFLINE``): the page shows the
synthetic data's banner and its slider still trains. Servers run in their own process groups and
are always killed. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .browser_kit import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    css_text,
    free_port,
    kill_group,
    lab_home,
    require_browser,
    tail,
)
from .conftest import SHARED_DATA

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "explorer.ipynb"
START_S = 90
#: A new setting trains in the kernel: ~5 s on an idle 2-core CPU, several times that when busy.
TRAIN_S = 120


def _data_cache(root: Path) -> Path:
    """A data cache holding ml-100k: the user's, or a temp one seeded from the shared copy."""
    for env in ("CODIGEM_LAB_DATA",):
        p = os.environ.get(env)
        if p and (Path(p) / "ml-100k" / "u.data").exists():
            return Path(p)
    if (REPO / "data_cache" / "ml-100k" / "u.data").exists():
        return REPO / "data_cache"
    if (SHARED_DATA / "ml-100k" / "u.data").exists():
        cache = root / "data"
        shutil.copytree(SHARED_DATA / "ml-100k", cache / "ml-100k")
        return cache
    pytest.skip("ml-100k is neither in the data cache nor in the shared data folder")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """JupyterLab and Voilà on a copy of the explorer notebook, one shared result cache."""
    require_browser("voila")
    root = tmp_path_factory.mktemp("explorer")
    work = root / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    shutil.copytree(NOTEBOOK.parent / "course", work / "course")  # the panel lives there
    env, _settings = lab_home(
        root,
        CODIGEM_LAB_DATA=str(_data_cache(root)),
        CODIGEM_LAB_RUNS=str(root / "runs"),
        CODIGEM_LAB_THREADS="1",
    )
    token = os.urandom(16).hex()
    lab_port, voila_port = free_port(), free_port()
    commands = {
        "lab": [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={lab_port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}", f"--LabApp.workspaces_dir={root / 'workspaces'}",
            f"--LabApp.user_settings_dir={root / 'settings'}", "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        "voila": _voila(work / NOTEBOOK.name, voila_port),
    }  # fmt: skip
    with _started(commands, env, work, root) as procs:
        lab = f"http://127.0.0.1:{lab_port}"
        _wait_http(f"{lab}/api/status?token={token}", procs[0], root / "lab.log")
        voila = f"http://127.0.0.1:{voila_port}"
        _wait_port(voila_port, procs[1], root / "voila.log")
        yield {"lab": lab, "token": token, "voila": voila, "root": root}


@pytest.fixture(scope="module")
def offline_voila(tmp_path_factory):
    """The Voilà page on a fresh clone with no network: no data anywhere, downloads fail."""
    require_browser("voila")
    root = tmp_path_factory.mktemp("explorer-offline")
    work = root / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    shutil.copytree(NOTEBOOK.parent / "course", work / "course")  # the panel lives there
    env, _settings = lab_home(
        root,
        CODIGEM_LAB_DATA=str(root / "empty-cache"),
        CODIGEM_LAB_SHARED_DATA=str(root / "no-shared-here"),
        CODIGEM_LAB_OFFLINE="1",
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        CODIGEM_LAB_RUNS=str(root / "runs"),
        CODIGEM_LAB_THREADS="1",
    )
    port = free_port()
    with _started({"voila": _voila(work / NOTEBOOK.name, port)}, env, work, root) as procs:
        _wait_port(port, procs[0], root / "voila.log")
        yield {"voila": f"http://127.0.0.1:{port}", "root": root}


def _voila(notebook: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1",
        f"--port={port}", "--Voila.port_retries=0", "--show_tracebacks=True",
    ]  # fmt: skip


@contextlib.contextmanager
def _started(commands: dict[str, list[str]], env: dict, work: Path, root: Path):
    """Start each server in its own process group, logging to ``root/NAME.log``; yield them."""
    procs, logs = [], []
    try:
        for name, cmd in commands.items():
            log = open(root / f"{name}.log", "w")  # noqa: SIM115 (closed below)
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    cmd,
                    env=env,
                    cwd=work,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            )
        yield procs
    finally:
        for p in procs:
            kill_group(p)
        for log in logs:
            log.close()


def _wait_http(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited ({proc.returncode}):\n{tail(log)}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        time.sleep(0.5)
    pytest.fail(f"server did not start in {START_S} s:\n{tail(log)}")


def _wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"voila exited ({proc.returncode}):\n{tail(log)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail(f"voila did not listen in {START_S} s:\n{tail(log)}")


@contextlib.contextmanager
def _browser(url: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
            page.goto(url, timeout=120_000)
            yield page
        finally:
            browser.close()


def _wait_for(page, cls: str, pred, timeout_s: float, what: str) -> str:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            text = css_text(page, cls)
            if pred(text):
                return text
        time.sleep(0.2)
    raise AssertionError(f"{what}: .{cls} reads {text!r} after {timeout_s} s")


def _r50(status: str) -> float:
    m = re.search(r"R@50 = ([0-9.]+)", status)
    assert m, status
    return float(m.group(1))


def _drive(page, name: str, hits: bool = True) -> dict:
    """Wait for the panel, drag beta to the right end, check the lists and R@50 change
    (``hits``: that the paper setting's lists mark a held-out movie, as on ML-100K)."""
    panel = page.locator(".codigem-explorer-panel")
    panel.wait_for(state="attached", timeout=TRAIN_S * 2 * 1000)  # the first setting trains
    status0 = _wait_for(page, "codigem-explorer-status", lambda t: "ready" in t, TRAIN_S, "start")
    assert "beta = 1e-04" in status0 and "T = 3" in status0, status0
    top0 = css_text(page, "codigem-explorer-top10")
    assert not hits or top0.count("\u2713") >= 1, "no held-out hit in the paper setting's lists"
    page.screenshot(path=str(ARTIFACTS / f"explorer_{name}_before.png"), full_page=True)

    handle = page.locator(".codigem-explorer-beta-slider .noUi-handle")
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    t0 = time.monotonic()
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 800, y, steps=10)
    page.mouse.up()
    readout = page.locator(".codigem-explorer-beta-slider .widget-readout").first
    beta_now = readout.inner_text().strip()
    assert float(beta_now) > 1e-4, beta_now
    status1 = _wait_for(
        page,
        "codigem-explorer-status",
        lambda t: "ready" in t and f"beta = {beta_now}," in t,
        TRAIN_S,
        f"after moving beta to {beta_now}",
    )
    seconds = time.monotonic() - t0
    top1 = css_text(page, "codigem-explorer-top10")
    assert top1 != top0, "the top-10 lists did not change"
    assert _r50(status1) != _r50(status0), (status0, status1)
    metrics = css_text(page, "codigem-explorer-metrics")
    assert "CODIGEM" in metrics and "Item-KNN" in metrics
    page.screenshot(path=str(ARTIFACTS / f"explorer_{name}_after.png"), full_page=True)
    return {"beta": beta_now, "R@50": [_r50(status0), _r50(status1)], "seconds": seconds}


def _save(name: str, info: dict) -> None:
    (ARTIFACTS / f"explorer_{name}.json").write_text(json.dumps(info, indent=2))
    print(name, json.dumps(info))


def test_explorer_in_jupyterlab(servers):
    ARTIFACTS.mkdir(exist_ok=True)
    url = (
        f"{servers['lab']}/lab/workspaces/explorer/tree/{NOTEBOOK.name}"
        f"?reset&token={servers['token']}"
    )
    with _browser(url) as page:
        try:
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
            page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=120_000)
            for _ in range(3):  # a click while the kernel still connects runs nothing
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                try:
                    page.locator(
                        ".jp-CodeCell .jp-InputPrompt", has_text=re.compile(r"\[[0-9*]+\]")
                    ).first.wait_for(timeout=30_000)
                    break
                except Exception:  # noqa: BLE001 (playwright's TimeoutError: try again)
                    time.sleep(2)
            _save("jupyterlab", _drive(page, "jupyterlab"))
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "explorer_jupyterlab_failure.png"), full_page=True)
            raise


def test_explorer_as_voila_page(servers):
    ARTIFACTS.mkdir(exist_ok=True)
    with _browser(servers["voila"]) as page:
        try:
            _save("voila", _drive(page, "voila"))
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "explorer_voila_failure.png"), full_page=True)
            print(tail(servers["root"] / "voila.log"))
            raise


def test_explorer_voila_page_offline_shows_the_banner_and_trains(offline_voila):
    ARTIFACTS.mkdir(exist_ok=True)
    with _browser(offline_voila["voila"]) as page:
        try:
            info = _drive(page, "voila_offline", hits=False)
            banner = css_text(page, "codigem-explorer-banner")
            assert "synthetic data: numbers mean nothing for MovieLens" in banner, banner
            assert "codigem-lab data fetch" in banner, banner
            assert "There was an error" not in page.inner_text("body")
            assert "Traceback" not in page.inner_text("body")
            _save("voila_offline", info)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "explorer_voila_offline_failure.png"))
            print(tail(offline_voila["root"] / "voila.log"))
            raise
