"""What a table on screen says, in one or two sentences computed from its numbers.

The notebooks print these under their tables, so that what the reader is told matches what the
reader sees in either mode: a quick run's reading speaks of the quick run's numbers, a full run's
of the full run's. The prose around them explains; these only state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from codigem_lab.audit import GradientFlowReport
from course.frames import KL_WEIGHT, loss_weights
from course.tables import row_label, table3_frame

if TYPE_CHECKING:
    from codigem_lab.experiments.explore import ExploreResult


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def table2_reading(rows: Sequence[Mapping], metric: str = "R@50") -> str:
    """Table 2 on screen: the best model, where each CODIGEM preset ranks, and the gap to Pop."""
    scores = {row_label(r): float(r[f"{metric}_mean"]) for r in rows}
    if not scores:
        return "No rows to read."
    order = sorted(scores, key=scores.get, reverse=True)
    best = order[0]
    parts = [f"On screen ({metric}, mean over seeds): best {best} {scores[best]:.3f}"]
    codigem = [m for m in order if m.startswith("CODIGEM")]
    for m in codigem:
        parts.append(f"{m} {scores[m]:.3f}, {_ordinal(order.index(m) + 1)} of {len(order)}")
    text = "; ".join(parts) + "."
    if "Pop" in scores and codigem:
        pop = scores["Pop"]
        below = [m for m in codigem if scores[m] <= pop]
        gaps = ", ".join(f"{m} {scores[m] - pop:+.3f}" for m in codigem)
        verdict = "every CODIGEM row is above it" if not below else f"{' and '.join(below)} not"
        text += f" Pop has {pop:.3f} ({gaps}): {verdict}."
    return text


def presets_reading(test: pd.DataFrame, metric: str = "R@50") -> str:
    """Two or more presets' test metrics (index = preset, a ``metric`` column): which is ahead."""
    col = test[metric].astype(float).sort_values(ascending=False)
    if len(col) < 2:
        return f"On screen: {col.index[0]} has test {metric} {col.iloc[0]:.3f}."
    (a, b), (va, vb) = col.index[:2], col.iloc[:2]
    return (
        f"On screen: the {a} preset has test {metric} {va:.3f}, the {b} preset {vb:.3f} "
        f"({va - vb:+.3f} for {a})."
    )


def table3_reading(rows: Sequence[Mapping], metric: str = "R@50") -> str:
    """Table 3 on screen, per preset: which variants equal the base model, how far the others move
    (the changes of :func:`codigem_lab.viz.results.table3_frame`)."""
    if not rows:
        return "No rows to read."
    f = table3_frame(rows)
    out = []
    for preset in dict.fromkeys(f.index.get_level_values("preset")):
        own = f.xs(preset, level="preset")
        if "base" not in own.index:
            continue
        others = own.drop(index="base")
        same = [v.split()[0] for v in others.index[others[f"identical_{metric}"]]]
        moved = [
            f"{v.split()[0]} {others.loc[v, f'{metric}_change_%']:+.1f} %"
            for v in others.index[~others[f"identical_{metric}"]]
        ]
        text = f"{preset} preset (base {metric} {own.loc['base', f'{metric}_mean']:.3f}): "
        if same:
            verb = "equal" if len(same) > 1 else "equals"
            text += f"{' and '.join(same)} {verb} the base model to the last digit"
        else:
            text += "no variant equals the base model"
        if moved:
            text += "; " + ", ".join(moved)
        out.append(text + ".")
    return "On screen: " + " ".join(out) if out else "No rows to read."


def sweep_reading(
    rows: Sequence[Mapping], knob: str, metric: str = "R@50", reference: float | None = None
) -> str:
    """A sensitivity sweep on screen (Fig. 2 or 3): the range of ``metric`` over ``knob``, where it
    peaks and where it is lowest, and its value at ``reference`` (the paper's setting)."""
    pts = sorted((float(r[knob]), float(r[f"{metric}_mean"])) for r in rows)
    if not pts:
        return "No rows to read."
    lo = min(pts, key=lambda p: p[1])
    hi = max(pts, key=lambda p: p[1])
    text = (
        f"On screen: {metric} from {lo[1]:.3f} ({knob} = {lo[0]:g}) to {hi[1]:.3f} "
        f"({knob} = {hi[0]:g}) over {len(pts)} settings, a spread of {hi[1] - lo[1]:.3f}"
    )
    at = [v for k, v in pts if reference is not None and k == reference]
    if at:
        text += f"; {at[0]:.3f} at the paper's {knob} = {reference:g}"
    return text + "."


def budget_reading(frame: pd.DataFrame) -> str:
    """What :func:`course.explorer_runs.budget_comparison`'s rows say, numbers from the rows; the reading is marked as
    an inference."""
    short, paper = frame.iloc[0], frame.iloc[1]
    knn = float(frame.loc["Item-KNN", "R@50"])
    n = int(paper["test users"])

    def diff(row) -> str:
        lo, hi = row["low"], row["high"]
        return f"{row['vs Item-KNN']:+.4f} [{lo:+.4f}, {hi:+.4f}]"

    text = (
        f"Item-KNN's test R@50 is {knn:.3f}. CODIGEM at the explorer's budget ({short['epochs']} "
        f"epochs run) reaches {short['R@50']:.3f}, {diff(short)} against Item-KNN over {n} test "
        f"users; trained as the paper trains it ({paper['epochs']} epochs run) it reaches "
        f"{paper['R@50']:.3f}, {diff(paper)}. "
    )
    lo, hi = paper["low"], paper["high"]
    gap = knn - float(short["R@50"])
    closed = (float(paper["R@50"]) - float(short["R@50"])) / gap if gap > 0 else float("nan")
    part = (
        f"training longer closes {closed:.0%} of the panel's gap"
        if gap > 0
        else "CODIGEM is not behind Item-KNN at the explorer's budget"
    )
    if hi < 0:
        return text + (
            f"Our reading (an inference from these numbers): {part}, but Item-KNN stays ahead "
            "beyond the noise of the test users even at the paper's budget: on this data the "
            "neighbourhood model is the stronger recommender, whatever the budget."
        )
    if lo > 0:
        return text + (
            f"Our reading (an inference from these numbers): {part}; at the paper's budget "
            "CODIGEM is ahead beyond the noise of the test users, so Item-KNN's lead in the panel "
            "comes from the explorer's short budget."
        )
    return text + (
        f"Our reading (an inference from these numbers): {part}, and at the paper's budget the "
        "difference is within the noise of the test users: Item-KNN's lead in the panel comes "
        f"{'mostly' if closed >= 0.5 else 'partly'} from the explorer's short budget, chosen so "
        "that a setting trains in seconds."
    )


def popularity_reading(low: ExploreResult, high: ExploreResult) -> str:
    """What a larger beta did to CODIGEM's lists beyond accuracy (ARP, coverage, R@50), from two
    results of one explorer; where ARP did not rise the numbers say which way the lists moved."""
    a, b = low.beyond["codigem"], high.beyond["codigem"]
    r_a, r_b = low.metrics["codigem"]["R@50"], high.metrics["codigem"]["R@50"]
    pop = low.beyond["pop"]["ARP@50"]
    text = (
        f"CODIGEM's top 50 at beta = {low.setting.beta:g} -> {high.setting.beta:g}: ARP@50 "
        f"{a['ARP@50']:.0f} -> {b['ARP@50']:.0f} (Pop's lists: {pop:.0f}), coverage@50 "
        f"{a['coverage@50']:.3f} -> {b['coverage@50']:.3f}, R@50 {r_a:.3f} -> {r_b:.3f}. "
    )
    if b["ARP@50"] > a["ARP@50"]:
        return text + (
            "With less of x left in z_1 the lists hold more popular movies"
            + (" and fewer distinct ones" if b["coverage@50"] < a["coverage@50"] else "")
            + ": the model falls back towards Pop's list of blockbusters."
        )
    return text + (
        "ARP did not rise: at the larger beta the lists are no more popular"
        + (
            f", though R@50 fell by {r_a - r_b:.3f}: the decoder lost accuracy without falling "
            "back on popular movies."
            if r_b < r_a
            else ", and R@50 did not fall: at this budget the larger beta did not hurt the decoder."
        )
    )


def _names(items) -> str:
    items = list(items)
    return ", ".join(items) if items else "nothing"


def _audited(report: GradientFlowReport) -> tuple[str, list[str]]:
    """The audited model as the reading names it (a CODIGEM with its config) and its notes."""
    c = report.config
    if c is None:  # another model, audited by course.gradient_flow
        return report.model, ["the module exposes its loss as one term"]
    bits = [f"T={c.T}", f"likelihood={c.likelihood}"]
    bits += [name for name in ("skip_forward", "skip_reverse") if getattr(c, name)]
    if c.anneal_steps:
        bits.append(f"anneal {c.anneal_steps} steps, cap {c.anneal_cap:g}")
    if c.deviations:
        bits.append("released deviations: " + ", ".join(c.deviations))
    notes = []
    if c.anneal_overwritten:
        notes.append(
            "anneal_overwritten: the KL weight is forced to 1, so annealing changes nothing"
        )
    if c.forward_term_bug:
        notes.append("forward_term_bug: the forward terms are still parameter-free (value only)")
    return f"CODIGEM ({', '.join(bits)})", notes


def gradient_flow_reading(report: GradientFlowReport) -> str:
    """A gradient-flow report in a few plain sentences: what reaches the ranking, through which
    terms, what cannot (:mod:`codigem_lab.audit`)."""
    r = report
    rg = r.ranking_groups
    model, notes = _audited(r)
    lines = [f"Gradient flow in {model}, {r.score_mode} scoring:"]
    lines.append(f"- the ranking is reached by: {_names(r.ordered(r.ranking_reach))}")
    if rg != r.ranking_reach:
        lines.append(f"- their training is coupled to: {_names(r.ordered(rg - r.ranking_reach))}")
    for group in r.groups:
        terms = [t for t, reached in r.term_reach.items() if group in reached]
        lines.append(f"- {group} is trained by: {_names(terms) if terms else 'no loss term'}")
    inert = [t for t, reached in r.term_reach.items() if not reached]  # no trainable parameter
    if inert:
        lines.append(
            f"- no trainable parameter in: {_names(inert)} "
            "(they change the loss value, never a gradient)"
        )
    cannot = [t for t in r.term_reach if t not in r.ranking_terms and t not in inert]
    if cannot:
        lines.append(
            f"- cannot change the ranking: {_names(cannot)} "
            f"(they train only {_names(r.ordered(set().union(*(r.term_reach[t] for t in cannot))))})"
        )
    weighted = [t for t, w in loss_weights(r).items() if w == KL_WEIGHT]
    if weighted:
        moves = [t for t in weighted if t in r.ranking_terms]
        lines.append(
            "- KL annealing (variant I) scales "
            + _names(weighted)
            + (
                f"; of these only {_names(moves)} can change the ranking"
                if moves
                else "; none of them can change the ranking"
            )
        )
    lines.extend(f"- note: {n}" for n in notes)
    return "\n".join(lines)
