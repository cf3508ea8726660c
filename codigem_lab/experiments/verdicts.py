"""Verdicts on the paper's claims, computed from the rows a notebook shows.

Each function takes a study's table rows (as its results file or ``execute`` gives them) and
returns a :class:`Verdict`: the claim in the paper's words, where the paper makes it, one of
:data:`HOLDS`, :data:`FAILS` or :data:`OPEN`, and the numbers it rests on. The rule is the same
everywhere: an effect in the claim's direction with an interval that excludes zero holds, one
whose interval lies wholly on the other side (or is exactly zero: bit-identical results) does not,
anything else (an interval across zero, or no interval at all) is not decidable from the numbers
shown. One row each, ready for a ledger.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from codigem_lab.experiments.paper import display_name

HOLDS, FAILS, OPEN = "holds", "does not hold", "not decidable from the numbers shown"
#: Timings carry no interval; a ratio within this share of 1 is read as "no difference".
TIMING_TOLERANCE = 0.10
#: The classical models the paper says CODIGEM outperforms (Sec. 4, RQ1).
CLASSICAL = ("bpr", "itemknn", "wmf", "pop")


@dataclass(frozen=True)
class Verdict:
    """One claim of the paper and what the numbers shown say of it."""

    claim: str
    source: str
    verdict: str
    evidence: str

    def row(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.source}, \u201c{self.claim}\u201d: {self.verdict.upper()}. {self.evidence}"


def judge(low: float | None, high: float | None) -> str:
    """The verdict of an effect whose positive sign is the claim's, from its interval; an interval
    of exactly zero (bit-identical results) contradicts a claimed difference."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return OPEN
    if low == high == 0:
        return FAILS
    return HOLDS if low > 0 else FAILS if high < 0 else OPEN


def combine(verdicts: Sequence[str]) -> str:
    """A claim about several comparisons: fails if one fails, holds if all hold."""
    if not verdicts:
        return OPEN
    if FAILS in verdicts:
        return FAILS
    return HOLDS if all(v == HOLDS for v in verdicts) else OPEN


def _num(v) -> float:
    return math.nan if v is None else float(v)


def _interval(effect: float, low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return f"{effect:+.4f} (no interval)"
    return f"{effect:+.4f} [{low:+.4f}, {high:+.4f}]"


def table2_verdict(rows: Sequence[Mapping]) -> Verdict:
    """Table 2: CODIGEM (paper preset) against the classical models on R@50. The paired effect
    interval where the rows carry one; else the two models' intervals over seeds, which must not
    overlap for a verdict either way."""
    by = {(r["model"], r.get("variant")): r for r in rows}
    ref = by.get(("codigem", "paper"))
    parts, verdicts = [], []
    for model in CLASSICAL:
        r = by.get((model, None))
        if ref is None or r is None:
            continue
        ci = r.get("effect_ci")
        if r.get("effect_R@50") is not None and ci:  # baseline - CODIGEM, paired
            effect, low, high = -float(r["effect_R@50"]), -_num(ci[1]), -_num(ci[0])
        else:
            effect = float(ref["R@50_mean"]) - float(r["R@50_mean"])
            low = _num(ref.get("R@50_ci_low")) - _num(r.get("R@50_ci_high"))
            high = _num(ref.get("R@50_ci_high")) - _num(r.get("R@50_ci_low"))
        verdicts.append(judge(low, high))
        parts.append(f"{display_name(model)} {_interval(effect, low, high)}")
    evidence = (
        "CODIGEM (paper) minus each model, R@50: " + "; ".join(parts)
        if parts
        else "the rows hold no CODIGEM (paper) row or no classical model"
    )
    return Verdict(
        "CODIGEM outperforms robust classical models (BPR, Item-KNN, WMF and Pop)",
        "Sec. 4, RQ1 (Table 2)",
        combine(verdicts),
        evidence,
    )


def table3_verdict(rows: Sequence[Mapping], variant: str, claim: str, sign: int) -> Verdict:
    """Table 3: a variant's paired effect on R@50 against its preset's base model, per preset;
    ``sign`` is the claim's direction (-1: the variant worsens R@50)."""
    parts, verdicts = [], []
    for r in rows:
        if r.get("variant") != variant or r.get("effect_R@50") is None:
            continue
        ci = r.get("effect_ci") or (None, None)
        effect, low, high = float(r["effect_R@50"]), _num(ci[0]), _num(ci[1])
        lo, hi = sorted((sign * low, sign * high))
        verdicts.append(judge(lo, hi))
        parts.append(f"{r['preset']} preset {_interval(effect, low, high)}")
    evidence = f"{variant} minus base, R@50: " + "; ".join(parts) if parts else f"no {variant} row"
    return Verdict(claim, "Sec. 4, RQ2 (Table 3)", combine(verdicts), evidence)


def _points(rows: Sequence[Mapping], param: str) -> dict[float, tuple[float, float]]:
    return {float(r[param]): (float(r["R@50_mean"]), _num(r.get("R@50_std"))) for r in rows}


def _noise(std: float, yardstick: float | None) -> float:
    """A point's seed-to-seed std: its own over seeds, else the yardstick given."""
    return std if not math.isnan(std) else _num(yardstick)


def _difference(a: tuple[float, float], b: tuple[float, float], yardstick: float | None):
    """a - b with a 95% band from the points' std (normal approximation: 1.96 sqrt(sa^2+sb^2))."""
    sa, sb = _noise(a[1], yardstick), _noise(b[1], yardstick)
    half = 1.96 * math.sqrt(sa**2 + sb**2)
    d = a[0] - b[0]
    return d, d - half, d + half


def fig2_verdict(rows: Sequence[Mapping], yardstick: float | None = None) -> Verdict:
    """Fig. 2: R@50 at beta = 1e-4 minus at beta = 0.1 (the claim: a sharp decline). The band is
    from the rows' std over seeds, or ``yardstick`` (a seed-to-seed std of R@50) for one seed."""
    p = _points(rows, "beta")
    claim = "performance declines sharply as beta goes from 1e-4 to 0.1"
    if 1e-4 not in p or 0.1 not in p:
        return Verdict(claim, "Fig. 2", OPEN, "the rows lack beta = 1e-4 or beta = 0.1")
    d, low, high = _difference(p[1e-4], p[0.1], yardstick)
    evidence = f"R@50 at beta = 1e-4 minus at 0.1: {_interval(d, low, high)}"
    return Verdict(claim, "Fig. 2", judge(low, high), evidence)


def fig3_verdict(rows: Sequence[Mapping], yardstick: float | None = None) -> Verdict:
    """Fig. 3 left: R@50 at T = 3 minus at every other T (the claim: T = 3 is best)."""
    p = _points(rows, "T")
    claim = "the best performance is at T = 3"
    if 3.0 not in p or len(p) < 2:
        return Verdict(claim, "Fig. 3 (left)", OPEN, "the rows lack T = 3 or another T")
    parts, verdicts = [], []
    for T, point in sorted(p.items()):
        if T != 3.0:
            d, low, high = _difference(p[3.0], point, yardstick)
            verdicts.append(judge(low, high))
            parts.append(f"T = {T:g}: {_interval(d, low, high)}")
    evidence = "R@50 at T = 3 minus at " + "; ".join(parts)
    return Verdict(claim, "Fig. 3 (left)", combine(verdicts), evidence)


def table5_verdict(rows: Sequence[Mapping]) -> Verdict:
    """Table 5: each VAE's total time to convergence over CODIGEM's (the claim: above 1). With no
    interval for timings, a ratio within :data:`TIMING_TOLERANCE` of 1 is not decidable."""
    by = {r["model"]: r for r in rows}
    claim = "CODIGEM is more computationally efficient than Multi-VAE and MacridVAE"
    if "codigem" not in by:
        return Verdict(claim, "Sec. 4, RQ4 (Table 5)", OPEN, "the rows hold no CODIGEM row")
    parts, verdicts = [], []
    for model in ("multvae", "macridvae"):
        if model in by:
            ratio = float(by[model]["total_s"]) / float(by["codigem"]["total_s"])
            verdicts.append(
                judge(
                    math.log(ratio) - math.log1p(TIMING_TOLERANCE),
                    math.log(ratio) + math.log1p(TIMING_TOLERANCE),
                )
            )
            parts.append(f"{display_name(model)} {ratio:.2f}x CODIGEM's")
    evidence = (
        "total time to convergence: "
        + "; ".join(parts)
        + f" (a ratio within {TIMING_TOLERANCE:.0%} of 1 counts as no difference)"
    )
    return Verdict(claim, "Sec. 4, RQ4 (Table 5)", combine(verdicts), evidence)
