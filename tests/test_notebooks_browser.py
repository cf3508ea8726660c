"""Notebooks in a real browser: JupyterLab + headless Chromium. 02's sliders moved by keyboard and
mouse (the explorer, 07's live panel, has its own: tests/test_explorer_browser.py); Run All of the
two notebooks that train most, 04 and 07, within the learner's two minutes each.

What it checks, end to end: the notebook runs in JupyterLab ("Run > Run All Cells") in quick mode,
the forward-noising panel appears, moving the beta slider with the keyboard and the T slider with
the mouse changes the readouts and the plot, and the plot then settles. Screenshots and the
measured latencies go to ``test-artifacts/`` (git-ignored).

Skipped, with the reason, when Chromium (``shutil.which("chromium")``) or Playwright's Python
package is missing. The JupyterLab server runs in its own process group with private config,
data, runtime, workspace and settings folders under a temp dir, and is always killed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
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

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "02_forward_noising.ipynb"
TRAINING = ("04_training.ipynb", "07_sensitivity.ipynb")  # the two that train most in learn mode
SERVER_START_S = 90
RUN_ALL_S = 240
#: What a learner's Run All may take in the default mode (the modes' promise).
LEARN_RUN_ALL_S = 120


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A private JupyterLab server with a copy of notebook 02; yields (base_url, token, folder)."""
    require_browser()
    root = tmp_path_factory.mktemp("jupyterlab")
    work = root / "work"
    work.mkdir()
    for name in (NOTEBOOK.name, *TRAINING):
        shutil.copy(NOTEBOOK.parent / name, work / name)
    # the notebooks' own package beside them, as in notebooks/ (02's panel lives there)
    shutil.copytree(NOTEBOOK.parent / "course", work / "course")
    # learn mode (the default) and an empty result cache of its own, as on a fresh clone
    env, _settings = lab_home(root, CODIGEM_LAB_QUICK="1", CODIGEM_LAB_RUNS=str(root / "runs"))
    port, token = free_port(), os.urandom(16).hex()
    log = open(root / "server.log", "w")  # noqa: SIM115 (closed in the finalizer below)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}",
            f"--LabApp.workspaces_dir={root / 'workspaces'}",
            f"--LabApp.user_settings_dir={root / 'settings'}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the kernels die with it
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited ({proc.returncode}):\n{tail(root / 'server.log')}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"JupyterLab did not start in {SERVER_START_S} s:\n{tail(root / 'server.log')}"
                )
            time.sleep(0.5)
        yield base, token, work
    finally:
        kill_group(proc)
        log.close()


@contextlib.contextmanager
def _open(lab, notebook: Path):
    """A fresh headless Chromium (new temporary profile) on ``notebook``."""
    from playwright.sync_api import sync_playwright

    base, token, _ = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1100})
            pg = context.new_page()
            # a workspace of its own, reset: only this notebook open (the server is shared)
            url = f"{base}/lab/workspaces/{notebook.stem}/tree/{notebook.name}?reset&token={token}"
            pg.goto(url, timeout=60_000)
            yield pg
        finally:
            browser.close()


@pytest.fixture()
def page(lab):
    with _open(lab, NOTEBOOK) as pg:
        yield pg


def _wait_idle(page, timeout_ms: int) -> None:
    page.wait_for_selector(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]',
        timeout=timeout_ms,
    )


def _wait_change(page, cls: str, old: str, timeout_s: float = 30.0) -> tuple[str, float]:
    """Wait until the text of ``.cls`` differs from ``old``; return it and the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        now = css_text(page, cls)
        if now != old:
            return now, time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f".{cls} still reads {old!r} after {timeout_s} s")


def _half_unit(number: str) -> float:
    """Half a unit in the last printed digit of a number like "1.78e-4" (its rounding error)."""
    mantissa, _, exp = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (-decimals) * 10.0 ** int(exp or 0)


def _settled_shot(locator, interval_s: float = 0.5, timeout_s: float = 30.0) -> bytes:
    """Screenshots of ``locator`` until two in a row are identical (the plot stopped changing)."""
    last = locator.screenshot()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(interval_s)
        shot = locator.screenshot()
        if shot == last:
            return shot
        last = shot
    raise AssertionError(f"the plot kept changing for {timeout_s} s")


def test_sliders_update_readouts_and_plot(page):
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        _drive_sliders(page)
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "02_sliders_failure.png"), full_page=True)
        raise


def _run_all_cells(page) -> None:
    """Run > Run All Cells through the menu bar, once the kernel is connected and idle.

    A click that lands while the kernel is still connecting runs nothing; then the first code
    cell never gets an execution count, and the menu is used again.
    """
    page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=120_000)
    for _attempt in range(3):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.locator(
                ".jp-CodeCell .jp-InputPrompt", has_text=re.compile(r"\[[0-9*]+\]")
            ).first.wait_for(timeout=30_000)
            return
        except Exception:  # noqa: BLE001 (playwright's TimeoutError: try the menu again)
            time.sleep(2)
    raise AssertionError("Run > Run All Cells did not start the notebook")


def _drive_sliders(page) -> None:
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    _run_all_cells(page)
    panel = page.locator(".codigem-noising-panel")
    panel.wait_for(state="attached", timeout=RUN_ALL_S * 1000)
    _wait_idle(page, RUN_ALL_S * 1000)
    panel.scroll_into_view_if_needed()
    panel.wait_for(state="visible")

    plot = page.locator("img.codigem-noising-plot")
    plot.wait_for()
    alpha0, snr0 = (
        css_text(page, "codigem-readout-alpha-bar"),
        css_text(page, "codigem-readout-snr"),
    )
    assert alpha0 == f"alpha_bar_T = {(1 - 1e-4) ** 3:.6g}"  # the paper's setting at start
    shot0 = _settled_shot(plot)
    page.screenshot(path=str(ARTIFACTS / "02_sliders_before.png"))

    # beta: keyboard. Focus the handle, press ArrowRight a few times.
    beta_handle = page.locator(".codigem-beta-slider .noUi-handle")
    beta_handle.scroll_into_view_if_needed()
    beta_handle.focus()
    t_key = time.monotonic()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    alpha1, first_change_s = _wait_change(page, "codigem-readout-alpha-bar", alpha0)
    beta_readout = page.locator(".codigem-beta-slider .widget-readout").first
    assert float(beta_readout.inner_text()) > 1e-4
    shot1 = _settled_shot(plot)
    settle_beta_s = time.monotonic() - t_key
    assert shot1 != shot0, "the plot did not change after moving beta"
    assert css_text(page, "codigem-readout-snr") != snr0

    # T: mouse. Scroll into view, drag the handle to the right.
    t_handle = page.locator(".codigem-T-slider .noUi-handle")
    t_handle.scroll_into_view_if_needed()
    box = t_handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    t_readout = page.locator(".codigem-T-slider .widget-readout").first
    assert t_readout.inner_text().strip() == "3"
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 150, y, steps=12)
    page.mouse.up()
    t_drag = time.monotonic()
    _wait_change(page, "codigem-readout-alpha-bar", alpha1)
    assert int(t_readout.inner_text()) > 3
    shot2 = _settled_shot(plot)
    settle_T_s = time.monotonic() - t_drag
    assert shot2 != shot1, "the plot did not change after moving T"

    # once settled, the readouts agree with the slider values the browser shows
    T_now = int(t_readout.inner_text())
    beta_text = beta_readout.inner_text().strip()  # e.g. "1.78e-4": beta up to rounding
    beta_now, half = float(beta_text), _half_unit(beta_text)
    shown = float(css_text(page, "codigem-readout-alpha-bar").split("=")[1])
    lo, hi = (1 - beta_now - half) ** T_now, (1 - beta_now + half) ** T_now
    assert lo * (1 - 1e-5) <= shown <= hi * (1 + 1e-5), (shown, beta_text, T_now)
    assert f"T = {T_now}" in css_text(page, "codigem-readout-verdict")

    plot.screenshot(path=str(ARTIFACTS / "02_sliders_plot_after.png"))
    page.screenshot(path=str(ARTIFACTS / "02_sliders_after.png"))
    timings = {
        "beta_keypress_to_first_readout_change_s": round(first_change_s, 3),
        "beta_5_keypresses_to_settled_plot_s": round(settle_beta_s, 3),
        "T_drag_to_settled_plot_s": round(settle_T_s, 3),
        "final": {"beta": beta_now, "T": T_now, "alpha_bar_T": shown},
    }
    (ARTIFACTS / "02_sliders_timings.json").write_text(json.dumps(timings, indent=2))
    print(json.dumps(timings, indent=2))


def _prompts_when_done(page, timeout_s: float) -> list[str]:
    """The code cells' prompts once none is queued or running ("[*]") and the kernel is idle
    (a Run All stopped by an error leaves the cells after it unnumbered)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        if prompts and not any("*" in p for p in prompts):
            _wait_idle(page, 5_000)
            if not any(
                "*" in p for p in page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
            ):
                return prompts
        time.sleep(1)
    raise AssertionError(f"the notebook was still running after {timeout_s} s")


@pytest.mark.parametrize("name", TRAINING)
def test_run_all_teaches_within_two_minutes(lab, name):
    """Run > Run All Cells of a training notebook, empty result cache: every code cell runs (an
    error would stop Run All and leave later cells unnumbered) within the learner's two minutes."""
    ARTIFACTS.mkdir(exist_ok=True)
    with _open(lab, lab[2] / name) as page:
        try:
            _run_all_cells(page)
            start = time.monotonic()
            prompts = _prompts_when_done(page, RUN_ALL_S)
            seconds = time.monotonic() - start
            left = [p for p in prompts if not re.search(r"\[\d+\]", p)]
            (ARTIFACTS / f"{Path(name).stem}_run_all.json").write_text(
                json.dumps({"seconds": round(seconds, 1), "cells": len(prompts)})
            )
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / f"{Path(name).stem}_failure.png"), full_page=True)
            raise
    assert prompts and not left, f"{name}: {len(left)} of {len(prompts)} code cells did not run"
    assert seconds <= LEARN_RUN_ALL_S, f"{name}: Run All took {seconds:.0f} s"
