"""The two chains of a diffusion model as a diagram: x -> z_1 -> ... -> z_T by the fixed forward
process q (eqs 3-5) above, and back by the learned generative model p_theta (eq 2) below."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

Q_COLOR, P_COLOR = "#4c72b0", "#55a868"


def chain_nodes(T: int, shown: int = 4) -> list[str]:
    """The boxes' labels: x, z_1, ..., z_T, with "..." in place of the middle when T > shown."""
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    steps = list(range(1, T + 1))
    if T > shown:
        steps = [*steps[: shown - 1], None, T]
    return ["x"] + ["..." if t is None else f"z_{t}" for t in steps]


def plot_chains(T: int = 3, dpi: int = 90) -> Figure:
    """Boxes x, z_1, ..., z_T; q(z_t | z_{t-1}) arrows left to right above them, p_theta arrows
    right to left below them, the prior N(0, I) on z_T and the decoder p_theta(x | z_1)."""
    nodes = chain_nodes(T)
    fig = Figure(figsize=(1.7 * len(nodes) + 1.6, 2.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_xlim(-0.7, len(nodes) + 0.2)
    ax.set_ylim(-1.25, 1.25)
    tex = {"x": r"$\mathbf{x}$", "...": r"$\cdots$"}
    for i, name in enumerate(nodes):
        label = tex.get(name, rf"$\mathbf{{z}}_{{{name[2:]}}}$")
        box = {"boxstyle": "round,pad=0.35", "fc": "white", "ec": "#333333"}
        ax.text(
            i, 0, label, ha="center", va="center", fontsize=13, bbox=box if name != "..." else None
        )
    for i in range(len(nodes) - 1):
        a, b = nodes[i], nodes[i + 1]
        if "..." in (a, b):
            continue
        prev = r"\mathbf{x}" if a == "x" else rf"\mathbf{{z}}_{{{a[2:]}}}"
        cur = rf"\mathbf{{z}}_{{{b[2:]}}}"
        for sign, color, text in (
            (1, Q_COLOR, rf"$q({cur}\mid {prev})$"),
            (-1, P_COLOR, rf"$p_\theta({prev}\mid {cur})$"),
        ):
            start, end = (i + 0.25, i + 0.75) if sign > 0 else (i + 0.75, i + 0.25)
            ax.annotate(
                "", xy=(end, 0.3 * sign), xytext=(start, 0.3 * sign),
                arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.6,
                            "connectionstyle": f"arc3,rad={-0.35 * sign}"},
            )  # fmt: skip
            ax.text(i + 0.5, 0.72 * sign, text, ha="center", va="center", color=color, fontsize=9)
    ax.text(len(nodes) - 1, -1.05, r"prior $p(\mathbf{z}_T) = \mathcal{N}(\mathbf{0}, \mathbf{I})$",
            ha="center", va="center", fontsize=9, color=P_COLOR)  # fmt: skip
    ax.text(
        -0.65, 0.72, "forward\n(fixed noise)", ha="left", va="center", fontsize=8, color=Q_COLOR
    )
    ax.text(-0.65, -0.72, "reverse\n(learned)", ha="left", va="center", fontsize=8, color=P_COLOR)
    ax.set_title(
        f"T = {T}: q adds noise step by step; p_theta learns to undo each step", fontsize=9
    )
    return fig
