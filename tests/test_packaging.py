"""environment.yml (conda users) must ask for what pyproject.toml asks for."""

import re
from pathlib import Path

import tomllib
import yaml

REPO = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = dict(
        _split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]
    )
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    have = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for d in items:
            if d.startswith("-e"):
                continue
            name, spec = _split(d)
            have[name] = spec
    for name, spec in wanted.items():
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in have, f"{conda_name} is in pyproject.toml but not in environment.yml"
        assert have[conda_name] == spec, (
            f"{conda_name}: environment.yml {have[conda_name]!r} != pyproject {spec!r}"
        )
    assert "python" in have and "pip" in have
    assert any(isinstance(d, dict) and "-e ." in d["pip"] for d in env["dependencies"])


def test_python_requirement_agrees():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert f"python{project['requires-python']}" in env["dependencies"]


def test_layer_contract_holds():
    """docs/architecture.md's layers, as pyproject.toml's import-linter contract states them."""
    import shutil
    import subprocess

    exe = shutil.which("lint-imports")
    assert exe, "lint-imports (import-linter, a test extra) is not installed"
    out = subprocess.run([exe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 kept, 0 broken" in out.stdout or "0 broken" in out.stdout


def test_every_module_has_a_layer():
    """A module outside the contract would escape the layer check: each must be listed."""
    layers = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    listed = {
        part.strip().strip("()")
        for layer in layers["contracts"][0]["layers"]
        for part in layer.replace(":", "|").split("|")
    }
    pkg = REPO / "codigem_lab"
    modules = {f"codigem_lab.{p.stem}" for p in pkg.glob("*.py") if p.name != "__init__.py"}
    modules |= {f"codigem_lab.{p.name}" for p in pkg.iterdir() if (p / "__init__.py").is_file()}
    assert modules - listed == set(), f"add these to [tool.importlinter] layers: {modules - listed}"
