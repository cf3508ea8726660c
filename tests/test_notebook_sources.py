"""The notebooks' sources, read as files (no kernel): clean text and the learning scaffolding.

* No control characters in any cell (a ``\\b`` typed into a Python string once turned ``\\beta``
  into a backspace and ``eta``, and JupyterLab rendered "Math input error").
* Every numbered notebook opens with its "What you'll learn" box and prerequisites, and ends with
  3-5 exercises: a question, a cell calling ``check`` from ``course.exercises`` with a
  placeholder, and a collapsible solution.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from course.exercises import EXERCISES

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NUMBERED = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def control_characters(path: Path) -> list[str]:
    """'cell <id>: 0x08 in "...context..."' for every control character in a cell source."""
    found = []
    for i, cell in enumerate(_cells(path)):
        text = _source(cell)
        for m in CONTROL.finditer(text):
            around = text[max(0, m.start() - 20) : m.end() + 20]
            found.append(f"cell {cell.get('id', i)}: {ord(m.group()):#04x} in {around!r}")
    return found


def test_numbered_notebooks_are_found_and_numbered_in_a_row():
    assert len(NUMBERED) >= 9
    assert [p.name[:2] for p in NUMBERED] == [f"{i:02d}" for i in range(len(NUMBERED))]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_control_characters_in_cell_sources(path):
    assert control_characters(path) == []


def test_the_control_character_check_finds_a_planted_backspace(tmp_path):
    cells = _cells(NUMBERED[3])
    cells[-1]["source"] = ["At $\x08eta = 0.1$ the latents differ."]
    planted = tmp_path / "planted.ipynb"
    planted.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert len(control_characters(planted)) == 1
    assert "0x08" in control_characters(planted)[0]


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.name)
def test_opens_with_what_you_will_learn_and_prerequisites(path):
    first = _source(_cells(path)[0])
    title, _, rest = first.partition("\n")
    assert title.startswith("# "), "the first cell starts with the notebook's title"
    box = rest.lstrip("\n")
    assert box.startswith("> **What you'll learn.**"), "the learning box follows the title"
    assert "> **Prerequisites.**" in box.split("\n\n")[0]


def _check_calls(source: str) -> list[str]:
    """Exercise names of the check("...", ...) calls in a code cell."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "check"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.append(node.args[0].value)
    return names


def _exercise_cells(path: Path) -> list[tuple[int, str, dict]]:
    """(cell index, exercise name, cell) for each check("...") call in a code cell."""
    found = []
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "code":
            found += [(i, name, cell) for name in _check_calls(_source(cell))]
    return found


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.name)
def test_ends_with_three_to_five_checked_exercises(path):
    cells = _cells(path)
    number = path.name[:2]
    found = _exercise_cells(path)
    names = [name for _, name, _ in found]
    assert 3 <= len(names) <= 5, f"{len(names)} exercises"
    assert len(set(names)) == len(names)
    assert sorted(names) == sorted(e.name for e in EXERCISES.values() if e.notebook == number)
    heading = max(i for i, c in enumerate(cells) if _source(c).startswith("## Exercises"))
    takeaways = [i for i, c in enumerate(cells) if "## Takeaways" in _source(c)]
    assert all(t < heading for t in takeaways), "the exercises come after the takeaways"
    for i, name, cell in found:
        assert i > heading, f"{name} is not in the final Exercises section"
        question, solution = _source(cells[i - 1]), _source(cells[i + 1])
        assert question.startswith("**Exercise") and EXERCISES[name].question in question
        assert solution.startswith("<details><summary>Solution</summary>")
        assert solution.rstrip().endswith("</details>")
        # the cell as committed has a placeholder, so it runs before anyone answers
        assert re.search(rf'check\("{re.escape(name)}", (None|answer)\b', _source(cell))
        assert re.search(r"^answer = None\b|check\(\"[\w.]+\", None\)", _source(cell), re.M)


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.name)
def test_no_sentence_repeats_within_a_cell(path):
    """A prose edit applied twice shows up as a sentence said twice in a row."""
    for cell in _cells(path):
        if cell["cell_type"] != "markdown":
            continue
        text = " ".join(_source(cell).split())
        sentences = [s for s in re.split(r"(?<=[.:;])\s+", text) if len(s) > 60 and "`" not in s]
        repeated = sorted({s for s in sentences if sentences.count(s) > 1})
        assert not repeated, f"cell {cell.get('id')}: {repeated[0]!r}"


def test_section_numbers_do_not_repeat():
    for path in NUMBERED:
        numbers = [
            m.group(1)
            for c in _cells(path)
            if c["cell_type"] == "markdown"
            for m in re.finditer(r"^## (\d+) ·", _source(c), re.M)
        ]
        assert len(numbers) == len(set(numbers)), f"{path.name}: sections {numbers}"


ABSOLUTE_DATA_PATH = re.compile(r"(?<![\w.])/(?:[\w.-]+/)+shared/data/")


def output_defects(path: Path) -> list[str]:
    """What a reader of the saved outputs should not meet: this machine's absolute paths to the
    shared data, one note per stale cache entry (they are summarised), errors."""
    found = []
    for i, cell in enumerate(_cells(path)):
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain") or ""
            text = text if isinstance(text, str) else "".join(text)
            if ABSOLUTE_DATA_PATH.search(text):
                found.append(f"cell {i}: absolute data path")
            if "note: cache entry" in text:
                found.append(f"cell {i}: a stale-cache note per entry")
            if out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}")
    return found


def test_output_defects_are_found():
    fake = {"cells": [{"cell_type": "code", "source": "", "outputs": [
        {"output_type": "stream", "text": "--source /home/me/shared/data/ml-1m/r.csv\n"},
        {"output_type": "stream", "text": ["note: cache entry 1234 (pop) was made by code x\n"]},
        {"output_type": "error", "ename": "KeyError"},
        {"output_type": "stream", "text": "--source ../shared/data/ml-1m/r.csv\n"},
    ]}]}  # fmt: skip
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "x.ipynb"
        p.write_text(json.dumps(fake), encoding="utf-8")
        assert output_defects(p) == [
            "cell 0: absolute data path", "cell 0: a stale-cache note per entry", "cell 0: KeyError"
        ]  # fmt: skip


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_saved_outputs_read_cleanly(path):
    assert output_defects(path) == []
