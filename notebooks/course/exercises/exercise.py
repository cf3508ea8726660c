"""One exercise (its question, the library's answer, the known mistakes) and how an answer is
compared with it: numbers within a tolerance, arrays elementwise, choices and sets normalised,
functions called on probe inputs next to the library's own."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["number", "integer", "array", "choice", "set", "function"]


@dataclass(frozen=True)
class Mistake:
    """A wrong answer people give, as a function of the exercise's context, and why it is wrong."""

    value: Callable[..., Any]
    why: str


@dataclass(frozen=True)
class Exercise:
    """One exercise: its question, how the library computes the answer, and the known mistakes.

    ``expected(**context)`` gives the right answer. For ``kind='function'``, ``expected`` is the
    reference function and ``probes(**context)`` the list of argument tuples both are called on.
    ``context`` names the keyword arguments the notebook passes to :func:`check` (a split, say).
    ``precheck(**context)``, if given, returns why the answer cannot be checked yet (a line of
    code the exercise asks to change is unchanged, say), or None.
    """

    name: str
    question: str
    kind: Kind
    expected: Callable[..., Any]
    why: str
    hint: str
    mistakes: tuple[Mistake, ...] = ()
    rtol: float = 1e-6
    atol: float = 0.0
    probes: Callable[..., list[tuple]] | None = None
    context: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    precheck: Callable[..., str | None] | None = None
    notebook: str = field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "notebook", self.name.split(".", 1)[0])


def _norm_choice(value: object) -> str:
    return str(value).strip().lower().replace("'", "").replace('"', "")


def _to_numpy(value: object):
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def _same(
    ex: Exercise, answer: object, expected: object, context: Mapping[str, Any]
) -> tuple[bool, str]:
    """(equal?, a note on how they differ) for an answer against one reference value."""
    import numpy as np

    if ex.kind in ("number", "integer"):
        if isinstance(answer, bool) or not isinstance(answer, (int, float, np.number)):
            try:
                answer = float(answer)  # a 0-d tensor or array
            except (TypeError, ValueError):
                return False, f"Expected a number, got {type(answer).__name__}"
        if ex.kind == "integer" and float(expected).is_integer():  # a known mistake may be
            return float(answer) == float(expected), ""  # an unrounded value: then within rtol
        return math.isclose(float(answer), float(expected), rel_tol=ex.rtol, abs_tol=ex.atol), ""
    if ex.kind == "array":
        try:
            a, e = _to_numpy(answer), _to_numpy(expected)
        except (TypeError, ValueError):
            return False, f"Expected an array or tensor, got {type(answer).__name__}"
        if a.shape != e.shape:
            return False, f"Shape {a.shape}, expected {e.shape}"
        return bool(np.allclose(a, e, rtol=ex.rtol, atol=ex.atol)), ""
    if ex.kind == "choice":
        return _norm_choice(answer) == _norm_choice(expected), ""
    if ex.kind == "set":
        if isinstance(answer, (str, int)):
            answer = [answer]
        try:
            got = {_norm_choice(a) for a in answer}  # type: ignore[union-attr]
        except TypeError:
            return False, f"Expected a set such as {{'a', 'b'}}, got {type(answer).__name__}"
        return got == {_norm_choice(e) for e in expected}, ""  # type: ignore[union-attr]
    raise AssertionError(ex.kind)


def _same_function(
    ex: Exercise, fn: Callable, ref: Callable, context: Mapping[str, Any]
) -> tuple[bool, str]:
    """Call the learner's function and the reference on every probe; compare the outputs."""
    import numpy as np

    assert ex.probes is not None
    for args in ex.probes(**context):
        want = ref(*args)
        try:
            got = fn(*args)
        except Exception as exc:  # the learner's code: report, never raise
            return False, f"It raised {type(exc).__name__}: {exc}"
        try:
            g, w = _to_numpy(got), _to_numpy(want)
        except (TypeError, ValueError):
            return False, f"It returned {type(got).__name__}, expected a tensor"
        if g.shape != w.shape:
            return False, f"It returned shape {g.shape}, expected {w.shape}"
        if not np.allclose(g, w, rtol=ex.rtol, atol=ex.atol):
            worst = float(np.max(np.abs(g - w)))
            return False, f"Its output differs from the library's by up to {worst:.3g}"
    return True, ""


def evaluate(ex: Exercise, answer: object, context: Mapping[str, Any]) -> tuple[bool, str]:
    """(right?, the explanation to print)."""
    expected = ex.expected(**context) if ex.kind != "function" else ex.expected
    if ex.kind == "function":
        if not callable(answer):
            return (
                False,
                f"This exercise wants a function; you gave {type(answer).__name__}. {ex.hint}",
            )
        ok, note = _same_function(ex, answer, expected, context)
        if ok:
            return True, ex.why
        for m in ex.mistakes:
            if _same_function(ex, answer, m.value, context)[0]:
                return False, m.why
        return False, f"{note}. {ex.hint}"
    ok, note = _same(ex, answer, expected, context)
    if ok:
        return True, ex.why
    for m in ex.mistakes:
        if _same(ex, answer, m.value(**context), context)[0]:
            return False, m.why
    return False, (f"{note}. " if note else "") + ex.hint
