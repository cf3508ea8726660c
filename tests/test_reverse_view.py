"""One user's reverse process (notebook 04) and the drawn gradient-flow audit (notebook 06)."""

from __future__ import annotations

import numpy as np
import torch
from course.figures import plot_gradient_flow, plot_reverse_process, reverse_process
from course.frames import gradient_norms_frame

from codigem_lab.audit import audit_codigem
from codigem_lab.diffusion import CODIGEM, CODIGEMConfig


def test_reverse_process_is_the_models_own_chain_and_rankings(small_split):
    torch.manual_seed(0)
    model = CODIGEM(CODIGEMConfig.preset("paper", n_items=small_split.n_items, hidden=16))
    es = small_split.test
    row = int(np.flatnonzero(np.diff(es.target.indptr) > 0)[0])
    v = reverse_process(model, es.fold_in[row], es.target[row], n=10, width=20)
    x = torch.from_numpy(es.fold_in[row].toarray().astype(np.float32))
    chain = model.reverse_chain(x)
    assert v.T == model.config.T and len(chain) == model.config.T
    np.testing.assert_array_equal(v.chain[-1], chain[-1][0].detach().numpy()[v.items])
    np.testing.assert_array_equal(v.reverse_scores, model.score(x, mode="reverse")[0].numpy())
    np.testing.assert_array_equal(v.decoder_scores, model.score(x, mode="decoder")[0].numpy())
    seen = set(es.fold_in[row].indices.tolist())
    assert not seen & set(v.top_decoder.tolist()) and not seen & set(v.top_reverse.tolist())
    assert v.top_decoder[0] == max(
        set(range(small_split.n_items)) - seen, key=lambda c: v.decoder_scores[c]
    )
    fig = plot_reverse_process(v)
    assert fig.axes[0].get_yticklabels()[1].get_text() == f"z_{model.config.T}"
    # a colour bar that reads the strips' values, and a caption saying what to look for
    (bar,) = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert "+1 liked" in bar.get_ylabel() and bar.get_ylim() == (-1.5, 1.5)
    assert fig.get_supxlabel().startswith("what to look for:")


def test_gradient_flow_drawing_blanks_what_the_ranking_does_not_reach():
    norms = gradient_norms_frame(audit_codigem("paper", "decoder"))
    fig = plot_gradient_flow(norms)
    image = fig.axes[0].images[0].get_array()
    ranking = image[-1]  # last row: the ranking under decoder scoring
    cols = list(norms.columns)
    assert np.ma.is_masked(ranking[cols.index("reverse_nets.0")]) or np.isnan(
        ranking[cols.index("reverse_nets.0")]
    )
    assert np.isfinite(ranking[cols.index("decoder")])


def test_popularity_of_lists_against_pop_by_hand():
    import scipy.sparse as sp
    from course.figures import popularity_of_lists

    # item counts 4, 3, 2, 1, 0: Pop's top 2 are items 0 and 1
    train = sp.csr_matrix(
        np.array([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    )
    top = np.array([[0, 1], [0, 2], [4, 3]])
    got = popularity_of_lists(top, train)
    assert got["shared with Pop's top 2"] == (2 + 1 + 0) / 3  # item 2 is third: not shared
    assert got["ARP"] == ((4 + 3) / 2 + (4 + 2) / 2 + (0 + 1) / 2) / 3
    assert got["distinct items"] == 5


def test_reverse_process_window_is_half_fold_in_even_for_a_light_user(small_split):
    """The figure's line sits at the window's middle: left of it the fold-in items, right others."""
    torch.manual_seed(0)
    model = CODIGEM(CODIGEMConfig.preset("paper", n_items=small_split.n_items, hidden=8))
    es = small_split.test
    row = int(np.argmin(np.diff(es.fold_in.indptr)))  # the user with the fewest fold-in items
    seen = set(es.fold_in[row].indices.tolist())
    assert 0 < len(seen) < 30
    v = reverse_process(model, es.fold_in[row], es.target[row], width=60)
    half = len(v.items) // 2
    assert len(v.items) == 2 * len(seen)
    assert set(v.items[:half].tolist()) == seen and not seen & set(v.items[half:].tolist())
