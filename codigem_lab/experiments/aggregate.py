"""Cached runs into tables: means with 95% intervals over seeds, and paired comparisons that
respect how the numbers were made (users nested in seeds); the method: docs/statistics.md."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from codigem_lab.experiments.cache import RunRecord
from codigem_lab.metrics import beyond_columns

LEVEL = 0.95
SEEDS_METHOD = (
    "two-stage paired test: per-seed mean paired difference over the same test users, then a "
    "one-sample t-test over the {n} seeds (df = {df}); effect interval: t-interval over seeds"
)
ONE_SEED_METHOD = (
    "1 seed: paired t-test over its {users} test users (user sampling only; says nothing about "
    "training or split variance); effect interval: paired t-interval over users"
)


# ============================================================================ rows: intervals
def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """Two-sided ``level`` t-interval for the mean of ``values`` (NaNs for fewer than 2)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def mean_std(records: Sequence[RunRecord], metrics: Sequence[str]) -> dict[str, float]:
    """Per metric, ``{m}_mean``, ``{m}_std`` and ``{m}_ci_low/high`` (95% t-interval) over seeds:
    NaN std and interval for one seed, all NaN where a record lacks the metric."""
    out: dict[str, float] = {}
    for m in metrics:
        vals = np.array([r.test.get(m, math.nan) for r in records], dtype=float)
        out[f"{m}_mean"] = float(vals.mean())
        out[f"{m}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else math.nan
        out[f"{m}_ci_low"], out[f"{m}_ci_high"] = t_interval(vals)
    return out


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def format_interval(mean, low, high, digits: int = 4) -> str:
    """'0.4187 [0.3825, 0.4549]'; '0.4187 (1 seed: no interval)' without one; '-' without a mean."""
    if _nan(mean):
        return "-"
    if _nan(low) or _nan(high):
        return f"{mean:.{digits}f} (1 seed: no interval)"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def interval_column(frame: pd.DataFrame, metric: str) -> list[str]:
    """'mean [low, high]' strings from a frame's ``{m}_mean`` and ``{m}_ci_low/high`` columns
    (ARP, a mean count of interactions, with 1 decimal; the rest with 4)."""
    lo = frame.get(f"{metric}_ci_low", pd.Series(math.nan, index=frame.index))
    hi = frame.get(f"{metric}_ci_high", pd.Series(math.nan, index=frame.index))
    digits = 1 if metric.startswith("ARP@") else 4
    return [format_interval(a, b, c, digits) for a, b, c in zip(frame[f"{metric}_mean"], lo, hi)]


def beyond_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """ARP, novelty and coverage at the Ks of accuracy ``metrics`` (('R@20', 'N@50') -> ARP@20,
    ARP@50, novelty@20, ...)."""
    return tuple(beyond_columns(list(dict.fromkeys(int(m.split("@")[1]) for m in metrics))))


def beyond_display(frame: pd.DataFrame, metrics: Sequence[str]) -> dict[str, list[str]]:
    """The 'mean [low, high]' columns of the beyond-accuracy ``metrics`` that ``frame`` has numbers
    for (none for rows made before they were computed)."""
    have = [m for m in metrics if f"{m}_mean" in frame and frame[f"{m}_mean"].notna().any()]
    return {m: interval_column(frame, m) for m in have}


BEYOND_NOTE = (
    "Beyond accuracy (after the accuracy columns; the paper reports none; never used to select): "
    "ARP@K, the mean training popularity (interaction count) of a user's top-K items, and "
    "novelty@K, their mean self-information -log2(count / #training users), are per-user means; "
    "coverage@K is catalogue-level, the share of items in at least one test user's top-K list "
    "(one number per seed). Intervals over seeds as above."
)


def mean_std_column(frame: pd.DataFrame, metric: str) -> list[str]:
    """'mean ± std' strings from a frame's ``{metric}_mean`` and ``{metric}_std`` columns (the
    mean alone for a single seed, no spread to show; '-' without a mean)."""
    return [
        "-" if _nan(a) else f"{a:.4f}" + ("" if _nan(b) else f" ± {b:.4f}")
        for a, b in zip(frame[f"{metric}_mean"], frame[f"{metric}_std"])
    ]


def side_by_side(
    rows: pd.DataFrame, paper: pd.DataFrame | None, metrics: Sequence[str]
) -> pd.DataFrame:
    """A display table: for each metric, ours (mean [95% interval over seeds]) then the paper's;
    ``rows`` has columns ``label``, ``paper_key`` and ``{m}_mean``/``{m}_ci_low``/``{m}_ci_high``."""
    out = pd.DataFrame(index=rows["label"])
    for m in metrics:
        out[m] = interval_column(rows, m)
        if paper is not None:
            out[f"{m} (paper)"] = [
                f"{paper.loc[k, m]:.4f}" if isinstance(k, str) and k in paper.index else ""
                for k in rows["paper_key"]
            ]
    return out


# ======================================================================== comparisons
@dataclass(frozen=True)
class Comparison:
    """One model against the reference: effect (model - reference), its interval, p-value."""

    effect: float
    ci_low: float
    ci_high: float
    p: float
    seeds: int
    users: tuple[int, ...]
    effect_per_seed: tuple[float, ...]
    method: str


def compare_differences(per_seed: Sequence[np.ndarray], level: float = LEVEL) -> Comparison:
    """The comparison of docs/statistics.md from per-user paired differences (model - reference),
    one array per seed: over the seeds' means, or over the users of a single seed."""
    diffs = [np.asarray(d, dtype=float) for d in per_seed if len(d)]
    if not diffs:
        raise ValueError("no paired users to compare")
    means = np.array([d.mean() for d in diffs])
    users, n = tuple(len(d) for d in diffs), len(diffs)
    if n == 1:
        method, replicates = ONE_SEED_METHOD.format(users=users[0]), diffs[0]
    else:
        method, replicates = SEEDS_METHOD.format(n=n, df=n - 1), means
    lo, hi = t_interval(replicates, level)
    p = _t_test_p(replicates)
    if np.all([np.all(d == 0) for d in diffs]):  # bit-identical scores: no difference at all
        lo = hi = 0.0
    return Comparison(float(means.mean()), lo, hi, p, n, users, tuple(means), method)


def _t_test_p(values: np.ndarray) -> float:
    """Two-sided one-sample t-test of mean 0; 1 where every value is 0; NaN where undefined."""
    if len(values) < 2:
        return math.nan
    if np.all(values == values[0]):
        return 1.0 if values[0] == 0 else 0.0  # no spread: infinite t (reported as such)
    return float(stats.ttest_1samp(values, 0.0).pvalue)


def paired_differences(
    a: Sequence[RunRecord], ref: Sequence[RunRecord], metric: str = "R@50"
) -> list[np.ndarray]:
    """Per seed, per-user ``metric`` of ``a`` minus that of ``ref`` over their common test users
    (records matched by training seed; a seed only one side has is left out)."""
    by_seed = {r.spec.train.seed: r for r in ref}
    out = []
    for ra in a:
        rb = by_seed.get(ra.spec.train.seed)
        if rb is None:
            continue
        joined = (
            ra.per_user()[[metric]]
            .add_suffix("_a")
            .join(rb.per_user()[[metric]].add_suffix("_b"), how="inner")
            .dropna()
        )
        out.append((joined[f"{metric}_a"] - joined[f"{metric}_b"]).to_numpy())
    return out


def compare(
    a: Sequence[RunRecord], ref: Sequence[RunRecord], metric: str = "R@50"
) -> Comparison | None:
    """``a`` against ``ref`` (same seeds, same splits; docs/statistics.md); None if no seed is shared."""
    diffs = paired_differences(a, ref, metric)
    return compare_differences(diffs) if diffs else None


def comparison_fields(cmp: Comparison | None, metric: str = "R@50") -> dict:
    """A table row's comparison fields (``p_holm`` is added by :func:`add_holm`); None in each
    where the row is the reference itself."""
    if cmp is None:
        return {f"effect_{metric}": None, "effect_ci": None, "p": None, "p_method": None}
    return {
        f"effect_{metric}": cmp.effect,
        "effect_ci": [cmp.ci_low, cmp.ci_high],
        "p": cmp.p,
        "p_method": cmp.method,
        "effect_per_seed": list(cmp.effect_per_seed),
        "users_per_seed": list(cmp.users),
    }


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of the p-values of one table (None/NaN stay None and do not
    count as comparisons)."""
    idx = [i for i, p in enumerate(pvalues) if not _nan(p)]
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out


@dataclass(frozen=True)
class Family:
    """A study's planned comparisons, named by its definition before any run: Holm adjusts over
    these only, so a comparison's adjusted p never depends on which others a command ran.
    ``excluded``: planned comparisons proven no-ops before training (name -> why), left out."""

    planned: tuple[str, ...]
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def tested(self) -> tuple[str, ...]:
        return tuple(c for c in self.planned if c not in self.excluded)


def add_holm(rows: list[dict], family: Family, names: Sequence[str]) -> str:
    """Set ``p_holm`` of each row (called ``names[i]``) from its ``p``, adjusted over
    ``family``: a planned comparison this command did not run counts at p = 1 (so its absence can
    only raise the others' adjusted p); a row outside the family gets None. Returns the note."""
    p = {n: r.get("p") for n, r in zip(names, rows)}
    tested = family.tested
    adjusted = dict(zip(tested, holm([1.0 if _nan(p.get(c)) else p[c] for c in tested])))
    for n, r in zip(names, rows):
        r["p_holm"] = None if _nan(r.get("p")) else adjusted.get(n)
    missing = [c for c in tested if _nan(p.get(c))]
    unplanned = [n for n in names if n not in family.planned and not _nan(p[n])]
    planned = f"over the study's {len(tested)} planned comparisons, fixed before the runs"
    parts = [f"{planned} ({', '.join(tested)})"] if tested else []
    for what, which in (
        ("proven unable to change the ranking before training, left out", list(family.excluded)),
        ("planned but not run by this command, counted at p = 1", missing),
        ("not planned, left unadjusted", unplanned),
    ):
        parts += [f"{what}: {', '.join(which)}"] if which else []
    return f"p (Holm): Holm-adjusted {'; '.join(parts) or 'over no comparison'}."


def minimum_detectable_effect(se: float, df: float) -> float:
    """The smallest true effect a two-sided t-test with standard error ``se`` and ``df`` degrees of
    freedom finds with probability 0.8 (power) at level 1 - :data:`LEVEL` = 0.05 (noncentral t)."""
    if se == 0:
        return 0.0
    crit = stats.t.ppf(0.5 + LEVEL / 2, df)

    def shortfall(delta: float) -> float:
        nc = delta / se
        wrong_side = np.nan_to_num(stats.nct.cdf(-crit, df, nc))  # NaN where it underflows
        return stats.nct.sf(crit, df, nc) + wrong_side - 0.8

    high = se * (crit + 3)
    while shortfall(high) < 0:
        high *= 2
    return float(optimize.brentq(shortfall, 0.0, high, xtol=se * 1e-9))


# ======================================================================== display text
def p_text(p: float | None) -> str:
    """A p-value for a table: 2 significant digits; '' when there is none; '< 1e-300' where it
    underflows in float64 (a t-test with no spread between seeds, or thousands of users)."""
    if _nan(p):
        return ""
    return "< 1e-300" if p == 0 else f"{p:.2g}"


def comparison_columns(
    frame: pd.DataFrame, effect_name: str, metric: str = "R@50"
) -> dict[str, list[str]]:
    """A table's comparison columns from its rows' fields: the effect on ``metric`` with its
    interval (headed ``effect_name``), p and Holm's p."""
    return {
        effect_name: [
            effect_text(e, ci) for e, ci in zip(frame[f"effect_{metric}"], frame["effect_ci"])
        ],
        "p": [p_text(p) for p in frame["p"]],
        "p (Holm)": [p_text(p) for p in frame["p_holm"]],
    }


def comparison_note(rows: Sequence[dict], holm_note: str) -> str:
    """The notes' account of a table's p-values: which test made them, and Holm's family (the
    note :func:`add_holm` returned)."""
    methods = sorted({r["p_method"] for r in rows if r["p_method"]})
    return f"p: {'; '.join(methods) if methods else 'no comparison'}; {holm_note}"


def effect_text(effect: float | None, ci: Sequence[float] | None, digits: int = 4) -> str:
    """'+0.0493 [+0.0410, +0.0576]'; the bare effect where there is no interval."""
    if _nan(effect):
        return ""
    if ci is None or any(_nan(c) for c in ci):
        return f"{effect:+.{digits}f}"
    return f"{effect:+.{digits}f} [{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]"


# ==================================================================== per-user values
PER_USER_KEYS = ("group", "reference", "model", "variant", "seed", "user")


def per_user_frame(
    groups: Sequence[tuple[str, Sequence[RunRecord], str | None]], metrics: Sequence[str]
) -> pd.DataFrame:
    """Every (group, seed, user) row of a table's per-user test ``metrics``; ``groups``: (label,
    the row's runs, the label of the row it is compared with or None), in the rows' order."""
    parts = []
    for label, records, reference in groups:
        for r in records:
            pu = r.per_user()
            pu = pu[[m for m in metrics if m in pu.columns]].rename_axis("user").reset_index()
            keys = dict(group=label, reference=reference or "", model=r.spec.model)
            keys |= dict(variant=r.spec.variant or "", seed=r.spec.train.seed)
            parts.append(pu.assign(**keys))
    frame = pd.concat(parts, ignore_index=True)
    return frame[[*PER_USER_KEYS, *[c for c in frame.columns if c not in PER_USER_KEYS]]]
