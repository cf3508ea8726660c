"""Turning cached runs into tables: mean ± std over seeds, paired t-tests over users."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from codigem_lab.experiments.cache import RunRecord


def mean_std(records: Sequence[RunRecord], metrics: Sequence[str]) -> dict[str, float]:
    """``{metric}_mean`` and ``{metric}_std`` (sample std over seeds; NaN for a single seed)."""
    out: dict[str, float] = {}
    for m in metrics:
        vals = np.array([r.test[m] for r in records], dtype=float)
        out[f"{m}_mean"] = float(vals.mean())
        out[f"{m}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else math.nan
    return out


def paired_pvalue(a: Sequence[RunRecord], b: Sequence[RunRecord], metric: str = "R@50") -> float:
    """Two-sided paired t-test of per-user ``metric`` between two models over the same test users.

    Users are paired within each seed (same split), and pairs are pooled over seeds.
    """
    by_seed_b = {r.spec.train.seed: r for r in b}
    xs, ys = [], []
    for ra in a:
        rb = by_seed_b.get(ra.spec.train.seed)
        if rb is None:
            continue
        joined = (
            ra.per_user()[[metric]]
            .add_suffix("_a")
            .join(rb.per_user()[[metric]].add_suffix("_b"), how="inner")
            .dropna()
        )
        xs.append(joined[f"{metric}_a"].to_numpy())
        ys.append(joined[f"{metric}_b"].to_numpy())
    if not xs:
        return math.nan
    x, y = np.concatenate(xs), np.concatenate(ys)
    if len(x) < 2 or np.allclose(x, y):
        return 1.0 if len(x) >= 2 else math.nan
    return float(stats.ttest_rel(x, y).pvalue)


def format_mean_std(mean: float | None, std: float | None, digits: int = 4) -> str:
    if mean is None or math.isnan(mean):
        return "-"
    if std is None or math.isnan(std):  # a single seed: no spread to show
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def mean_std_column(frame: pd.DataFrame, metric: str) -> list[str]:
    """'mean ± std' strings from a frame's ``{metric}_mean`` and ``{metric}_std`` columns."""
    return [format_mean_std(a, b) for a, b in zip(frame[f"{metric}_mean"], frame[f"{metric}_std"])]


def side_by_side(
    rows: pd.DataFrame, paper: pd.DataFrame | None, metrics: Sequence[str]
) -> pd.DataFrame:
    """A display table: for each metric, ours (mean ± std) then the paper's value beside it.

    ``rows`` has columns ``label``, ``paper_key`` and ``{m}_mean``/``{m}_std``.
    """
    out = pd.DataFrame(index=rows["label"])
    for m in metrics:
        out[m] = mean_std_column(rows, m)
        if paper is not None:
            out[f"{m} (paper)"] = [
                f"{paper.loc[k, m]:.4f}" if isinstance(k, str) and k in paper.index else ""
                for k in rows["paper_key"]
            ]
    return out


def p_text(p: float | None) -> str:
    """A p-value for a table: 2 significant digits, '' when there is none, and '< 1e-300' where
    the t-distribution's tail underflows to 0 in float64 (thousands of users, large effects)."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "< 1e-300" if p == 0 else f"{p:.2g}"
