"""The notebooks' exercise checker: right answers pass, known mistakes fail with their reason."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from course.exercises import EXERCISES, check, exercises, right_answer

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="module")
def context(small_split, small_ratio_split):
    """What the notebooks pass to check: splits, and each change-a-line exercise's changed code
    (as the exercise asks for it)."""
    from course.exercises import nb02, nb03, nb04

    return {
        "split": small_split,
        "ratio": small_ratio_split,
        "chain": nb02.chain_as_asked,
        "forward_terms": nb03.forward_terms_as_asked,
        "batch_loss": nb04.batch_loss_as_asked,
    }


def _ctx(ex, context):
    return {k: context[k] for k in ex.context}


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_right_answer_is_right(name, context, capsys):
    ex = EXERCISES[name]
    assert check(name, right_answer(name, **_ctx(ex, context)), **_ctx(ex, context)) is True
    assert f"[{name}] right" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_each_known_mistake_is_wrong_and_says_why(name, context, capsys):
    ex = EXERCISES[name]
    c = _ctx(ex, context)
    assert ex.mistakes, f"{name}: no known mistakes to explain"
    for m in ex.mistakes:
        wrong = m.value if ex.kind == "function" else m.value(**c)
        if ex.context and wrong == right_answer(name, **c):
            continue  # on this small split the mistake happens to give the right number
        assert check(name, wrong, **c) is False, f"{name}: mistake accepted: {m.why}"
        out = capsys.readouterr().out
        assert "not yet" in out and m.why in out


@pytest.mark.parametrize("placeholder", [None, ...])
def test_placeholder_is_not_answered_yet(placeholder, capsys):
    assert check("02.alpha_bar", placeholder) is None
    assert "not answered yet" in capsys.readouterr().out


def test_placeholder_needs_no_work_even_with_context(small_split, capsys):
    assert check("04.batches", None, split=small_split) is None


def test_alpha_bar_mistake_names_the_formula(capsys):
    assert check("02.alpha_bar", (1 - 0.02) * 10) is False
    assert "(1 - beta)^T" in capsys.readouterr().out and "(1 - beta) * T" in "(1 - beta) * T"


def test_the_right_value_comes_from_the_library():
    from codigem_lab.diffusion import NoiseSchedule

    assert right_answer("02.alpha_bar") == pytest.approx(
        float(NoiseSchedule.constant(0.02, 10).alpha_bar[-1]), rel=1e-12
    )
    assert right_answer("02.alpha_bar") == pytest.approx((1 - 0.02) ** 10)
    assert right_answer("06.softmax_ratio") == pytest.approx(math.e**2)


def test_an_unknown_wrong_answer_gets_the_hint(capsys):
    assert check("02.alpha_bar", 0.123) is False
    assert EXERCISES["02.alpha_bar"].hint in capsys.readouterr().out


def test_a_function_that_raises_is_reported_not_raised(capsys):
    assert check("02.forward_step", lambda z, beta, eps: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_a_number_where_a_function_is_wanted(capsys):
    assert check("02.forward_step", 3.0) is False
    assert "wants a function" in capsys.readouterr().out


def test_sets_and_choices_are_normalised():
    assert check("03.recall_deviations", ["4", 5]) is True
    assert check("06.rank_variants", {"iii", "IV"}) is True
    assert check("05.baseline_protocol", " Ratio ") is True


def test_unknown_exercise_and_missing_context():
    with pytest.raises(KeyError):
        check("99.nothing", 1)
    with pytest.raises(TypeError, match="split="):
        check("04.batches", 3)


def test_each_numbered_notebook_has_its_own_exercise_file():
    """Exercises are found by file (course/exercises/nbNN.py), one per numbered notebook."""
    numbered = {p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
    assert {e.notebook for e in EXERCISES.values()} == numbered
    for nb in numbered:
        assert (NOTEBOOKS / "course" / "exercises" / f"nb{nb}.py").is_file()


def test_every_notebook_has_three_to_five_exercises():
    for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"):
        nb = path.name[:2]
        n = len(exercises(nb))
        assert 3 <= n <= 5, f"notebook {nb} has {n} exercises"


def _solutions():
    """(exercise name, python code of its folded solution) for every exercise in the notebooks."""
    import json
    import re

    out = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells[:-1]):
            src = "".join(cell["source"])
            m = re.search(r'check\("([\w.]+)"', src) if cell["cell_type"] == "code" else None
            if m and m.group(1) in EXERCISES:
                solution = "".join(cells[i + 1]["source"])
                blocks = re.findall(r"```python\n(.*?)```", solution, re.S)
                out.append((m.group(1), "\n".join(blocks)))
    return out


@pytest.mark.parametrize(("name", "code"), _solutions(), ids=[n for n, _ in _solutions()])
def test_the_folded_solutions_are_right(name, code, context, capsys):
    """Each notebook's solution, run as a learner would paste it, passes its own check."""
    import numpy as np
    import torch

    assert code.strip(), f"{name}: the solution shows no code"
    ns = {"math": math, "torch": torch, "np": np, "check": check, **context}
    exec(compile(code, name, "exec"), ns)  # noqa: S102 - the notebook's own solution text
    if "check(" not in code:
        assert check(name, ns["answer"], **_ctx(EXERCISES[name], context)) is True
    out = capsys.readouterr().out
    assert f"[{name}] right" in out and "not yet" not in out, out


def test_recommend_masking_seen_items_with_zero_is_refused(capsys):
    """A seen item masked with 0 outranks negative scores (CODIGEM's decoder gives many)."""
    import torch

    def masked_with_zero(scores, seen, k):
        return torch.topk(torch.as_tensor(scores).masked_fill(seen, 0.0), k, dim=-1).indices

    def masked_with_minus_inf(scores, seen, k):
        return torch.topk(torch.as_tensor(scores).masked_fill(seen, -torch.inf), k, dim=-1).indices

    assert check("00.recommend", masked_with_zero) is False
    assert "Masking with 0" in capsys.readouterr().out
    assert check("00.recommend", masked_with_minus_inf) is True


def test_an_unrounded_number_of_steps_is_told_to_round_up(capsys):
    exact = math.log(0.01) / math.log(1 - 1e-4)
    for unrounded in (exact, round(exact, 1), math.log(0.01) / math.log1p(-1e-4)):
        assert check("02.steps_to_noise", unrounded) is False
        out = capsys.readouterr().out
        assert "round that up" in out and "Take logarithms" not in out


@pytest.mark.parametrize(
    ("name", "key", "unchanged"),
    [
        ("02.predict_scaling", "chain", "_library_chain"),
        ("03.predict_forward_term", "forward_terms", "_library_forward_terms"),
        ("04.predict_decoder_only", "batch_loss", "_library_loss"),
    ],
)
def test_a_prediction_is_not_checked_before_the_line_is_changed(name, key, unchanged, capsys):
    """The checker runs the learner's code: unchanged, or changed otherwise, it says so."""
    import importlib

    module = importlib.import_module(f"course.exercises.nb{name[:2]}")
    assert check(name, "same", **{key: getattr(module, unchanged)}) is None
    assert "not checked yet" in capsys.readouterr().out
    assert check(name, "same", **{key: lambda *args: 1 / 0}) is None
    assert "ZeroDivisionError" in capsys.readouterr().out
    for choice in EXERCISES[name].choices:  # exactly one choice is right for the asked change
        check(name, choice, **{key: getattr(module, f"{key}_as_asked")})
    out = capsys.readouterr().out
    assert out.count("] right") == 1 and out.count("not yet") == 2
