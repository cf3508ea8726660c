"""Command-line options declared once, as :class:`Option` rows next to the dataclass they fill:
the CLI's flags and a notebook's printed command come from the same list."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """One flag: ``--flag`` fills ``dest``; ``kind`` is 'value' (typed), 'switch' (store_true)
    or 'flag' (``--x`` True, ``--no-x`` False, neither: the default, left out of ``argv``)."""

    dest: str
    flag: str
    type: Callable[[str], Any] | None = str
    default: Any = None
    help: str = ""
    choices: tuple | None = None
    kind: str = "value"

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.kind in ("switch", "flag"):
            action = "store_true" if self.kind == "switch" else argparse.BooleanOptionalAction
            default = self.default if self.kind == "flag" else False
            parser.add_argument(
                self.flag, dest=self.dest, action=action, default=default, help=self.help
            )
            return
        parser.add_argument(
            self.flag,
            dest=self.dest,
            type=_reported(self.type),
            default=self.default,
            choices=self.choices,
            help=self.help,
        )

    def argv(self, value: Any) -> list[str]:
        """The words that set ``value`` (none when it is the default)."""
        if self.kind == "switch":
            return [self.flag] if value else []
        if self.kind == "flag":
            if value is None or value == self.default:
                return []
            return [self.flag if value else "--no-" + self.flag[2:]]
        if value is None or value == self.default:
            return []
        if isinstance(value, (tuple, list)):
            value = ",".join(str(v) for v in value)
        return [self.flag, f"{value:g}" if isinstance(value, float) else str(value)]


def knob(default: Any, help: str) -> Any:
    """A config dataclass field with its command-line help (read by :func:`config_options`)."""
    return dataclasses.field(default=default, metadata={"help": help})


def config_options(cls: type, skip: Iterable[str] = ()) -> tuple[Option, ...]:
    """One flag per field of the config dataclass ``cls`` (``--beta-end`` fills ``beta_end``),
    typed from its annotation, help from its ``metadata``; a flag not given is None."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        hint, flag = hints[f.name], "--" + f.name.replace("_", "-")
        if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None: X
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None
        help = f.metadata.get("help", "")
        if hint is bool:
            out.append(Option(f.name, flag, None, None, help, kind="flag"))
        else:
            out.append(Option(f.name, flag, str if choices else hint, None, help, choices))
    return tuple(out)


def add_options(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    """Add every option's flag to ``parser``."""
    for opt in options:
        opt.add_to(parser)


def values_from_args(args: argparse.Namespace, options: Iterable[Option]) -> dict[str, Any]:
    """``{dest: value}`` for the options, read from parsed arguments."""
    return {opt.dest: getattr(args, opt.dest) for opt in options}


def given_values(args: argparse.Namespace, options: Iterable[Option]) -> dict[str, Any]:
    """``{dest: value}`` for the options a command line set to other than their default."""
    return {o.dest: getattr(args, o.dest) for o in options if getattr(args, o.dest) != o.default}


def argv_for(values: Mapping[str, Any], options: Iterable[Option]) -> list[str]:
    """The command-line words that reproduce ``values`` (defaults left out)."""
    words: list[str] = []
    for opt in options:
        if opt.dest in values:
            words += opt.argv(values[opt.dest])
    return words


def _reported(parse: Callable[[str], Any] | None) -> Callable[[str], Any] | None:
    """A parser whose ValueError message argparse prints as it is (built-in types keep theirs)."""
    if parse in (None, str, int, float):
        return parse

    def wrapped(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    wrapped.__name__ = getattr(parse, "__name__", "value")
    return wrapped
