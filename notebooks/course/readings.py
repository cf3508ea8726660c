"""What a table on screen says, in one or two sentences computed from its numbers.

The notebooks print these under their tables, so that what the reader is told matches what the
reader sees in either mode: a quick run's reading speaks of the quick run's numbers, a full run's
of the full run's. The prose around them explains; these only state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from codigem_lab.viz.results import row_label, table3_frame


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
