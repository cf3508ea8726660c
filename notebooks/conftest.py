"""nbval configuration for the notebooks (``python -m pytest --nbval-lax notebooks/``).

* Learn mode, forced: the kernels nbval starts inherit ``CODIGEM_LAB_QUICK=1`` (small data, a
  few epochs) unless ``CODIGEM_LAB_QUICK`` or ``CODIGEM_LAB_MODE`` is already set, so the whole
  set runs in a few minutes whatever a parameters cell says (``CODIGEM_LAB_MODE=paper`` tests
  paper mode).
* Cells marked ``# NBVAL_CHECK_OUTPUT`` are compared with their committed output. A cell whose
  output depends on data that a bare clone lacks says so with a line ``# nbval-needs: ml-1m``;
  where that dataset cannot be had without a download (not in the data cache, not seedable from
  a development machine's shared folder) the cell still runs, but its output is not compared (it
  prints the statistics of the fallback dataset instead of the committed ML-1M ones).
"""

from __future__ import annotations

import os
import re

import pytest

if "CODIGEM_LAB_MODE" not in os.environ:
    os.environ.setdefault("CODIGEM_LAB_QUICK", "1")

_NEEDS = re.compile(r"^\s*#\s*nbval-needs:\s*([\w.-]+)", re.MULTILINE)


def _available(name: str) -> bool:
    from codigem_lab.data import resolve_data

    known = ("ml-1m", "ml-100k")
    if name not in known:
        raise ValueError(f"unknown '# nbval-needs: {name}' (known: {sorted(known)})")
    return not resolve_data(name, download=False).is_synthetic


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Turn off the output comparison of cells whose data is missing here."""
    for item in items:
        options = getattr(item, "options", None)
        cell = getattr(item, "cell", None)
        if not options or cell is None or not options.get("check"):
            continue
        missing = [n for n in _NEEDS.findall(cell.source) if not _available(n)]
        if missing:
            options["check"] = False
            item.add_marker(pytest.mark.nbval_output_unchecked(missing=missing))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "nbval_output_unchecked(missing): output comparison skipped, data not present here",
    )
