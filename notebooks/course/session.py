"""A notebook's session: its mode and plan line, torch's thread count, inline PNG figures.

The top layer (with the CLI): it may import anything below it; nothing in the library imports it.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from codigem_lab.data.spec import DataSpec
from codigem_lab.errors import ConfigError
from codigem_lab.experiments.common import QUICK_EPOCHS, QUICK_MAX_USERS, ExperimentConfig
from codigem_lab.experiments.registry import Study
from codigem_lab.experiments.tables import TableResult
from codigem_lab.paths import results_root
from codigem_lab.train import inner_bars
from codigem_lab.validate import check_choice
from course.settings import describe_mode

QUICK_ENV = "CODIGEM_LAB_QUICK"
MODE_ENV = "CODIGEM_LAB_MODE"
THREADS_ENV = "CODIGEM_LAB_THREADS"

ModeName = Literal["learn", "paper"]
#: What each mode does, in the words a parameters cell and a plan line use.
MODE_TEXT = {
    "learn": f"small data (MovieLens-100K, at most {QUICK_MAX_USERS} users), at most "
    f"{QUICK_EPOCHS} short epochs, one seed",
    "paper": "the paper's scale (MovieLens-1M, its epochs and seeds)",
}
#: The timing file of each mode, written by ``tools/execute_notebooks.py --time``.
TIMING_FILES = {"learn": "notebooks-default", "paper": "notebooks-paper"}


@dataclass(frozen=True)
class Mode:
    """A notebook's mode and what chose it: ``learn`` (small data, short runs: the library's
    quick settings) or ``paper`` (full-scale runs)."""

    name: ModeName
    chosen_by: str = "MODE in the parameters cell"

    @property
    def quick(self) -> bool:
        return self.name == "learn"

    def __str__(self) -> str:
        return f"{self.name.capitalize()} mode"


def choose_mode(cell: str = "learn", environ: Mapping[str, str] | None = None) -> Mode:
    """The mode a notebook runs in: ``$CODIGEM_LAB_QUICK=1`` (the tests) forces learn,
    ``$CODIGEM_LAB_MODE=learn|paper`` overrides the cell's ``MODE``; ConfigError on a typo."""
    env = os.environ if environ is None else environ
    check_choice("MODE", cell, ModeName)
    forced = env.get(MODE_ENV, "")
    if forced:
        check_choice(f"${MODE_ENV}", forced, ModeName)
    if env.get(QUICK_ENV, "") == "1":
        if forced == "paper":
            raise ConfigError(
                f"${QUICK_ENV}=1 forces learn mode but ${MODE_ENV}=paper asks for paper mode; "
                "unset one of them"
            )
        return Mode("learn", f"${QUICK_ENV}=1")
    return Mode(forced, f"${MODE_ENV}={forced}") if forced else Mode(cell)  # type: ignore[arg-type]


def measured_seconds(notebook: str, mode: Mode, folder: Path | None = None) -> tuple[float, dict]:
    """The measured seconds of ``notebook`` in ``mode`` and that row of the timing file
    (``results/bench/notebooks-<default|paper>-raw.json``); KeyError when it was never timed."""
    path = Path(folder or results_root() / "bench") / f"{TIMING_FILES[mode.name]}-raw.json"
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"] if path.is_file() else []
    row = next((r for r in rows if r["notebook"] == notebook), None)
    if row is None:
        raise KeyError(f"{notebook} was never timed in {mode} ({path.name})")
    return float(row["seconds"]), row


def about(seconds: float) -> str:
    """A duration as a plan line says it: 'about 40 s', 'about 9 min', 'about 2.5 h'."""
    if seconds < 60:
        return f"about {max(5, 5 * round(seconds / 5)):.0f} s"
    if seconds < 3600:
        return f"about {round(seconds / 60):.0f} min"
    return f"about {seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Recorded:
    """Compute a committed results file records (``file``, under results/), the paper-mode
    estimate of a notebook too long to time: its rows matching ``where``, ``epochs`` at their
    mean seconds per epoch, else ``runs`` times their seconds (no such rows: its ``wall_s``)."""

    file: str
    where: Mapping[str, object] = field(default_factory=dict)
    epochs: float | None = None
    runs: float = 1.0

    def seconds(self, root: Path | None = None) -> float:
        data = json.loads((Path(root or results_root()) / self.file).read_text(encoding="utf-8"))
        rows = [r for r in data.get("rows", []) if self.where.items() <= r.items()]

        def num(row: dict, key: str) -> float:  # a row's value, or its mean over seeds
            return float(row.get(key, row.get(f"{key}_mean")) or 0.0)

        epoch_s = [num(r, "train_s_per_epoch") + num(r, "eval_s_per_epoch") for r in rows]
        run_s = [
            num(r, "total_s") or num(r, "epochs") * e for r, e in zip(rows, epoch_s, strict=True)
        ]
        if self.epochs is not None:
            seconds = self.epochs * sum(epoch_s) / max(1, len(rows))
        else:
            whole = 0.0 if self.where else float(data.get("wall_s") or 0.0)
            seconds = self.runs * (sum(run_s) or whole)
        if not seconds:
            raise ValueError(f"{self.file} records no compute for {dict(self.where) or 'its rows'}")
        return seconds


def estimate(
    notebook: str, mode: Mode, folder: Path | None = None, recorded: Sequence[Recorded] = ()
) -> str:
    """'about 40 s (measured on 2 CPU cores, empty result cache)'; in paper mode, never timed:
    the ``recorded`` compute of the results files it would regenerate; else how to measure it."""
    try:
        seconds, row = measured_seconds(notebook, mode, folder)
    except (KeyError, OSError, ValueError):
        flag = " --paper" if mode.name == "paper" else ""
        measure = f"`python tools/execute_notebooks.py --time{flag} {notebook[:2]}` measures it"
        try:
            guess = sum(r.seconds() for r in recorded) if mode.name == "paper" else 0.0
        except (OSError, ValueError):
            guess = 0.0
        if guess:
            files = " and ".join(dict.fromkeys(f"{Path(r.file).name}'s" for r in recorded))
            return f"{about(guess)} (estimated from {files} recorded compute; {measure})"
        return f"not timed yet: {measure}"
    cache = "an empty" if row.get("empty_cache", True) else "a filled"
    return f"{about(seconds)} (measured on {row.get('cores', '?')} CPU cores, {cache} result cache)"


def plan(
    notebook: str,
    mode: Mode,
    data: DataSpec | ExperimentConfig | str,
    does: str,
    studies: Sequence[tuple[Study, ExperimentConfig]] = (),
    train: bool = True,
    timings: Path | None = None,
    recorded: Sequence[Recorded] = (),
) -> str:
    """A notebook's first output: its mode, what this run does and on which data, about how long
    it takes (measured by ``tools/execute_notebooks.py --time``; in paper mode, never timed: the
    ``recorded`` compute), each study it runs or the committed file it loads instead
    (``train=False``), and the other mode's estimate.

    ``data``: an ExperimentConfig (its settings follow, :func:`describe_mode`), a DataSpec (its
    synthetic-data banner follows, where it has one) or the name of a dataset."""
    cfg = data if isinstance(data, ExperimentConfig) else None
    spec = cfg.data_spec if cfg else data
    label = spec if isinstance(spec, str) else spec.label
    time = estimate(notebook, mode, timings, recorded)
    lines = [f"{mode} ({mode.chosen_by}): {does}, on {label}; {time}."]
    for study, study_cfg in studies:
        if train:
            how = "run here through the result cache (it trains what the cache lacks)"
        elif study.results_path(study_cfg).is_file():
            how = study.load(study_cfg).result.origin
        else:
            how = f"no results file {study.results_path(study_cfg).name}: make it with `{study.command(study_cfg)}`"
        lines.append(f"  {study.title.split(':')[0]}: {how}.")
    if cfg:
        lines.append("  " + describe_mode(cfg))
    elif isinstance(spec, DataSpec) and spec.banner:
        lines.append(f"*** {spec.banner} ***")
    other = Mode("paper" if mode.quick else "learn")
    lines.append(
        f'  MODE = "{other.name}" instead: {MODE_TEXT[other.name]}; '
        f"{estimate(notebook, other, timings, recorded)}."
    )
    return "\n".join(lines)


def section_bar(items: Iterable, desc: str, show: bool = True) -> Iterator:
    """One progress bar over a notebook section's runs, with tqdm's estimate of the time left;
    each run's own bar closes when its run ends (:func:`~codigem_lab.train.inner_bars`)."""
    from tqdm.auto import tqdm

    with inner_bars():
        yield from tqdm(items, desc=desc, unit="run", disable=not show)


def provenance(result: TableResult):  # noqa: ANN201 (IPython's Markdown, imported here)
    """A table's origin as Markdown: the one line (loaded from which file, made by which command,
    at which code version; or computed just now) and its notes folded under it."""
    from IPython.display import Markdown

    folded = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    summary = "<summary>notes: how to read the table, how it was made</summary>"
    more = f"\n\n<details>{summary}<ul>{folded}</ul></details>" if result.notes else ""
    return Markdown(f"*{result.origin}*" + more)


def folded(styler, what: str):  # noqa: ANN201 (IPython's HTML, imported here)
    """A wide table folded away under one line: the reader opens it for every column."""
    from IPython.display import HTML

    return HTML(
        f"<details><summary>{html.escape(what)} (click to open)</summary>"
        f"{styler.to_html()}</details>"
    )


def torch_threads(environ: Mapping[str, str] | None = None) -> int | None:
    """How many threads torch should use here: ``$CODIGEM_LAB_THREADS``, else 1 on <= 4 cores.

    On a small CPU shared with other work, torch's worker threads spin-wait for each other and an
    epoch can take ten times longer than on one thread (measured: ML-1M, 2 loaded cores, 27 s
    with 2 threads vs 2.4 s with 1). None means: keep torch's default.
    """
    env = os.environ if environ is None else environ
    if env.get(THREADS_ENV):
        return max(1, int(env[THREADS_ENV]))
    return 1 if (os.cpu_count() or 1) <= 4 else None


def setup(dpi: int = 90, threads: int | None = None) -> None:
    """Prepare a notebook session: inline PNG figures at a modest dpi, torch's thread count.

    ``threads`` defaults to :func:`torch_threads`. Figures returned by the ``viz`` functions are
    then displayed once, as small PNGs.
    """
    import matplotlib

    matplotlib.rcParams["figure.dpi"] = int(dpi)
    n = threads if threads is not None else torch_threads()
    if n is not None:
        import torch

        torch.set_num_threads(n)
    try:
        from IPython import get_ipython
    except ImportError:  # not in IPython: nothing more to configure
        return
    ip = get_ipython()
    if ip is None:
        return
    show_library_warnings_briefly()
    ip.run_line_magic("matplotlib", "inline")
    ip.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    from matplotlib.figure import Figure

    from course.png import figure_png

    ip.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


def show_library_warnings_briefly() -> None:
    """Print the library's own warnings as one line on stdout (``Note (RankingUnaffectedWarning):
    ...``), without the file path and source line Python adds: they are messages for the reader
    (and end up in committed outputs), not errors, so they are not drawn as Jupyter's red stderr
    box. Other warnings keep Python's format."""
    import sys
    import warnings

    default = warnings.showwarning
    if getattr(default, "codigem_brief", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if category.__module__.startswith("codigem_lab"):
            (file or sys.stdout).write(f"Note ({category.__name__}): {message}\n")
        else:
            default(message, category, filename, lineno, file, line)

    show.codigem_brief = True  # type: ignore[attr-defined]
    warnings.showwarning = show
