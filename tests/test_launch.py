"""Launch without installing: Binder's files agree with pyproject.toml, the badges name the one
repository pyproject names and open files that exist, and the Colab cell is a no-op elsewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
import venv
from pathlib import Path
from urllib.parse import unquote

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
PAGES = (REPO / "README.md", REPO / "notebooks" / "README.md")
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
LINK = re.compile(
    r"\]\((https://(?:mybinder\.org/v2|colab\.research\.google\.com/github)/[^)\s]+)\)"
)


def _repository() -> str:
    """``org/name`` of the GitHub repository pyproject.toml names (the one place it is written)."""
    url = PROJECT["urls"]["Repository"]
    m = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)/?", url)
    assert m, f"[project.urls] Repository = {url!r} is not https://github.com/ORG/NAME"
    return m.group(1)


def _requirements_of(specs) -> dict[str, str]:
    reqs = [Requirement(s) for s in specs]
    return {r.name.lower().replace("_", "-"): str(r.specifier) for r in reqs}


def _requirements(path: Path) -> dict[str, str]:
    lines = (ln.split("#")[0].strip() for ln in path.read_text().splitlines())
    return _requirements_of(ln for ln in lines if ln)


def _launch_links() -> list[tuple[Path, str]]:
    return [(page, url) for page in PAGES for url in LINK.findall(page.read_text())]


def _opened(url: str) -> tuple[str, str]:
    """(the repository a launch link opens, the repository-relative file it opens)."""
    m = re.match(r"https://mybinder\.org/v2/gh/([^/]+/[^/]+)/[^?]+\?urlpath=(.+)", url)
    if m:
        path = unquote(m.group(2))
        for prefix in ("voila/render/", "lab/tree/"):
            if path.startswith(prefix):
                return m.group(1), path[len(prefix) :]
        raise AssertionError(f"{url}: urlpath {path!r} is neither voila/render/ nor lab/tree/")
    m = re.match(r"https://colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/[^/]+/(.+)", url)
    assert m, f"{url} is not a Binder or Colab launch link"
    return m.group(1), m.group(2)


# ---------------------------------------------------------------- Binder and pyproject agree
def test_binder_installs_pyprojects_dependencies():
    wanted = _requirements_of(PROJECT["dependencies"])
    torch_spec = SpecifierSet(wanted.pop("torch"))
    have = _requirements(BINDER / "requirements.txt")
    assert have == wanted, (
        "binder/requirements.txt must list pyproject.toml's dependencies, torch aside"
    )
    post = (BINDER / "postBuild").read_text()
    pin = re.search(r'"torch==([\d.]+)" --index-url https://download\.pytorch\.org/whl/cpu', post)
    assert pin, "binder/postBuild installs torch==X from PyTorch's CPU index"
    assert pin.group(1) in torch_spec, f"torch {pin.group(1)} is outside pyproject's {torch_spec}"
    assert "pip install --no-cache-dir -e ." in post
    assert os.access(BINDER / "postBuild", os.X_OK), "repo2docker runs postBuild as a program"


def test_the_requirement_check_sees_a_missing_dependency(tmp_path):
    """The comparison above is not vacuous: a requirements file without voila differs."""
    short = tmp_path / "requirements.txt"
    text = (BINDER / "requirements.txt").read_text()
    short.write_text(re.sub(r"(?m)^voila.*$", "", text))
    wanted = _requirements_of(PROJECT["dependencies"])
    wanted.pop("torch")
    assert "voila" in _requirements(BINDER / "requirements.txt")
    assert _requirements(short) != wanted


def test_binder_python_satisfies_requires_python():
    version = re.fullmatch(r"python-(\d+\.\d+)\s*", (BINDER / "runtime.txt").read_text())
    assert version, "binder/runtime.txt holds python-X.Y"
    assert SpecifierSet(PROJECT["requires-python"]).contains(version.group(1) + ".0")
    assert "libarchive-tools" in (BINDER / "apt.txt").read_text().split()  # bsdtar: DiffRec's RAR


@pytest.mark.slow
def test_binder_requirements_install_into_a_fresh_venv(tmp_path):
    """pip resolves binder/requirements.txt from the package index into a new environment."""
    venv.create(tmp_path / "env", with_pip=True)
    pip = tmp_path / "env" / ("Scripts" if os.name == "nt" else "bin") / "pip"
    cmd = [str(pip), "install", "--dry-run", "-q", "-r", str(BINDER / "requirements.txt")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


# ------------------------------------------------------------------------------- the links
def test_every_launch_link_names_pyprojects_repository():
    links = _launch_links()
    assert links, "README.md and notebooks/README.md carry the launch badges"
    for page, url in links:
        repo, _ = _opened(url)
        assert repo == _repository(), (
            f"{page.relative_to(REPO)}: {url} opens {repo}, but pyproject.toml's "
            f"[project.urls] Repository names {_repository()}: change one of them"
        )


def test_launch_links_open_the_explorer_the_notebooks_and_colab_and_files_that_exist():
    for page in PAGES:
        urls = [u for p, u in _launch_links() if p == page]
        paths = {_opened(u)[1] for u in urls}
        assert "notebooks/explorer.ipynb" in paths, f"{page}: no Voila badge for the explorer"
        assert any("urlpath=voila%2Frender%2Fnotebooks%2Fexplorer.ipynb" in u for u in urls)
        assert any("urlpath=lab%2Ftree%2Fnotebooks" in u for u in urls), f"{page}: no lab badge"
        assert any(u.startswith("https://colab.research.google.com/") for u in urls)
        for path in paths:
            assert (REPO / path).is_file(), f"{page.relative_to(REPO)}: a badge opens {path}"


def test_a_link_to_another_repository_or_a_missing_file_is_caught():
    other = "https://mybinder.org/v2/gh/someone/else/HEAD?urlpath=voila%2Frender%2Fno.ipynb"
    assert _opened(other) == ("someone/else", "no.ipynb")
    with pytest.raises(AssertionError, match="neither"):
        _opened("https://mybinder.org/v2/gh/a/b/HEAD?urlpath=tree%2Fx")


# ----------------------------------------------------------------------------- Colab cell
def _colab_cells() -> list[str]:
    """The Colab cell as notebooks/README.md and notebook 00 show it."""
    import nbformat

    block = re.compile(r"```python\n(# Running on Colab.*?)\n```", re.S)
    readme = block.findall((REPO / "notebooks" / "README.md").read_text())
    nb = nbformat.read(REPO / "notebooks" / "00_overview.ipynb", as_version=4)
    in_00 = [m for c in nb.cells if c.cell_type == "markdown" for m in block.findall(c.source)]
    assert len(readme) == 1 and len(in_00) == 1, "one Colab cell in each"
    return readme + in_00


def test_the_colab_cell_is_the_same_in_the_readme_and_in_00():
    readme, in_00 = _colab_cells()
    assert readme == in_00


def test_the_colab_cell_does_nothing_outside_colab(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(os, "chdir", lambda *a: calls.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    before = list(sys.path)
    exec(_colab_cells()[0], {})
    assert calls == [] and sys.path == before


def test_the_colab_cell_clones_installs_and_fetches_ml100k_on_colab(monkeypatch):
    from codigem_lab.cli import build_parser

    runs, moves = [], []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: runs.append((cmd, k)))
    monkeypatch.setattr(os, "chdir", moves.append)
    monkeypatch.setattr(os.path, "isdir", lambda p: False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(_colab_cells()[0], {})
    (clone, _), (pip, _), (fetch, where) = runs
    assert clone[:2] == ["git", "clone"] and clone[-2] == f"https://github.com/{_repository()}"
    home = clone[-1]
    assert pip[1:] == ["-m", "pip", "install", "-q", "-e", home]  # Colab's torch stays
    assert fetch[0] == "codigem-lab" and where["cwd"] == home and where["check"]
    args = build_parser().parse_args(fetch[1:])  # a command the CLI has
    assert (args.data_command, args.name) == ("fetch", "ml-100k")
    assert moves == [f"{home}/notebooks"] and sys.path[:2] == [home, f"{home}/notebooks"]
