"""The diagram of the forward and reverse chains (notebook 02)."""

from __future__ import annotations

import pytest
from course.figures import P_COLOR, Q_COLOR, chain_nodes, plot_chains


def test_chain_nodes_elide_the_middle_of_a_long_chain():
    assert chain_nodes(3) == ["x", "z_1", "z_2", "z_3"]
    assert chain_nodes(50) == ["x", "z_1", "z_2", "z_3", "...", "z_50"]
    with pytest.raises(ValueError, match="T must be >= 1"):
        chain_nodes(0)


@pytest.mark.parametrize(("T", "steps"), [(1, 1), (3, 3), (50, 3)])
def test_one_q_arrow_and_one_p_arrow_per_drawn_step(T, steps):
    ax = plot_chains(T).axes[0]
    arrows = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
    colors = [a.arrow_patch.get_edgecolor() for a in arrows]
    from matplotlib.colors import to_rgba

    assert colors.count(to_rgba(Q_COLOR)) == steps and colors.count(to_rgba(P_COLOR)) == steps
    labels = " ".join(t.get_text() for t in ax.texts)
    assert r"q(\mathbf{z}_{1}\mid \mathbf{x})" in labels
    assert r"p_\theta(\mathbf{x}\mid \mathbf{z}_{1})" in labels  # the decoder
    assert r"\mathcal{N}(\mathbf{0}, \mathbf{I})" in labels  # the prior
