"""A notebook's session: quick mode, torch's thread count, inline PNG figures.

The top layer (with the CLI): it may import anything below it; nothing in the library imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

QUICK_ENV = "CODIGEM_LAB_QUICK"


THREADS_ENV = "CODIGEM_LAB_THREADS"


def is_quick(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``CODIGEM_LAB_QUICK=1``: notebooks then use small data and a few epochs."""
    env = os.environ if environ is None else environ
    return env.get(QUICK_ENV, "") == "1"


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

    from codigem_lab.viz.plots import figure_png

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
