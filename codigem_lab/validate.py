"""The one way a config value is checked (in each config's ``__post_init__``): a ConfigError such
as ``T = 0 is out of range: T must be an integer >= 1 (the paper uses 3)``."""

from __future__ import annotations

import math
import numbers
from typing import Any, get_args

from codigem_lab.errors import ConfigError


def check(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


def _fail(name: str, value: object, need: str, hint: str = "", wrong_type: bool = False):
    problem = "is not valid" if wrong_type else "is out of range"
    hint = f" ({hint})" if hint else ""
    raise ConfigError(f"{name} = {value!r} {problem}: {name} must be {need}{hint}")


def check_int(name: str, value: object, low: int, hint: str = "") -> int:
    """An integer (not a bool) >= ``low``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not (ok and value >= low):
        _fail(name, value, f"an integer >= {low}", hint, wrong_type=not ok)
    return int(value)


def check_range(
    name: str,
    value: object,
    low: float,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    hint: str = "",
) -> float:
    """A real number (not a bool, not NaN) in [low, high] (``open_low``/``open_high``: strict)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
    inside = ok and (value > low if open_low else value >= low)
    if inside and high is not None:
        inside = value < high if open_high else value <= high
    if not inside:
        lo = f"({low}" if open_low else f"[{low}"
        hi = "inf)" if high is None else (f"{high})" if open_high else f"{high}]")
        if high is None:
            between = f"{name} {'>' if open_low else '>='} {low}"
        else:
            between = (
                f"{low} {'<' if open_low else '<='} {name} {'<' if open_high else '<='} {high}"
            )
        _fail(name, value, f"in {lo}, {hi}, i.e. {between}", hint, wrong_type=not ok)
    return value  # type: ignore[return-value]


def check_bool(name: str, value: object) -> bool:
    """True or False (not 0/1, not None)."""
    if not isinstance(value, bool):
        _fail(name, value, "True or False", wrong_type=True)
    return value  # type: ignore[return-value]


def check_choice(name: str, value: Any, choices: Any) -> str:
    """``value`` if it is one of ``choices`` (a ``Literal`` type or a tuple), else ConfigError."""
    allowed = get_args(choices) if not isinstance(choices, tuple) else choices
    if not isinstance(value, str) or value not in allowed:
        _fail(name, value, f"one of {allowed}", wrong_type=True)
    return value


def int_tuple(name: str, value: object) -> tuple[int, ...]:
    """``value`` (an int sequence; a list from JSON or the CLI is fine) as a tuple of ints >= 1."""
    try:
        out = tuple(int(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a sequence of layer sizes, got {value!r}") from exc
    check(all(v >= 1 for v in out), f"{name} must hold sizes >= 1, got {value!r}")
    return out
