"""The notebooks' exercises: ``check(name, answer)`` says right or wrong, and why.

Each notebook's exercises live in ``nbNN.py`` beside this file (``nb02.py`` for
``02_forward_noising.ipynb``) and are found by that name: a new notebook brings its own file and
touches nothing else. Each right answer is computed by the library (``NoiseSchedule``, ``CODIGEM``,
``metrics``, ``experiments.paper``), never typed in: if the library changes, the checker follows.
A wrong answer that matches a known mistake gets that mistake's explanation ("alpha_bar_T =
(1 - beta)^T, you gave (1 - beta) * T"); any other wrong answer gets the exercise's hint. The
right value itself is not printed: it is in the notebook's collapsible solution.

``None`` or ``...`` is a placeholder: ``check`` then prints "not answered yet" and returns None,
so the exercise cells run (and pass nbval) before anyone answers them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

from .exercise import Exercise, Mistake, evaluate

__all__ = ["EXERCISES", "Exercise", "Mistake", "check", "exercises", "right_answer"]


def _load() -> dict[str, Exercise]:
    """Every ``nbNN`` module's ``EXERCISES``, by exercise name; each name starts with its ``NN.``."""
    found: dict[str, Exercise] = {}
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if not re.fullmatch(r"nb\d\d", mod):
            continue
        for ex in importlib.import_module(f"{__name__}.{mod}").EXERCISES:
            if ex.notebook != mod[2:] or ex.name in found:
                raise ValueError(f"{mod}.py: exercise {ex.name!r} is misnamed or defined twice")
            found[ex.name] = ex
    return found


EXERCISES: dict[str, Exercise] = _load()


def check(name: str, answer: object = None, **context: Any) -> bool | None:
    """Check ``answer`` to exercise ``name``; print right/wrong and why. None: not answered yet."""
    if name not in EXERCISES:
        raise KeyError(f"no exercise {name!r}; known: {sorted(EXERCISES)}")
    ex = EXERCISES[name]
    missing = [k for k in ex.context if k not in context]
    if missing:
        raise TypeError(f"check({name!r}, ...) needs {', '.join(f'{k}=...' for k in missing)}")
    if answer is None or answer is Ellipsis:
        print(
            f"[{name}] not answered yet: replace the None with your answer and run the cell again."
        )
        return None
    blocked = ex.precheck(**context) if ex.precheck is not None else None
    if blocked:
        print(f"[{name}] not checked yet: {blocked}")
        return None
    ok, why = evaluate(ex, answer, context)
    shown = "your function" if callable(answer) else repr(answer)
    if ok:
        print(f"[{name}] right ({shown}). {why}")
    else:
        print(f"[{name}] not yet: {shown} is wrong. {why}")
    return ok


def right_answer(name: str, **context: Any) -> Any:
    """The library's answer to exercise ``name`` (the tests use it; learners read the solution)."""
    ex = EXERCISES[name]
    return ex.expected(**context) if ex.kind != "function" else ex.expected


def exercises(notebook: str | None = None) -> list[Exercise]:
    """All exercises, or those of one notebook ('02')."""
    return [e for e in EXERCISES.values() if notebook is None or e.notebook == notebook]
