"""Checks of the baselines' config values: each failure is a ConfigError that names the value."""

from __future__ import annotations

from codigem_lab.errors import ConfigError


def check_range(
    name: str, value: float, low: float, high: float | None = None, *, open_low: bool = False
) -> None:
    """Raise ``ConfigError`` unless ``low <= value`` (``<`` when ``open_low``) and ``value <= high``."""
    ok = value > low if open_low else value >= low
    if high is not None:
        ok = ok and value <= high
    if not ok:
        lo = f"({low}" if open_low else f"[{low}"
        hi = f"{high}]" if high is not None else "inf)"
        raise ConfigError(f"{name} must be in {lo}, {hi}, got {value!r}")


def check(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


def int_tuple(name: str, value: object) -> tuple[int, ...]:
    """``value`` (an int sequence; a list from JSON or the CLI is fine) as a tuple of ints >= 1."""
    try:
        out = tuple(int(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a sequence of layer sizes, got {value!r}") from exc
    check(all(v >= 1 for v in out), f"{name} must hold sizes >= 1, got {value!r}")
    return out
