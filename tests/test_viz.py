"""The notebooks' figures (codigem_lab.viz, course.figures, course.noising) and helpers (session,
course.frames, course.inspect).

Each plot function must return a Figure holding the artists it promises, built from the data it
was given, without touching pyplot's global figure list.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

matplotlib.use("Agg")

from course import (
    figures,  # noqa: E402
    inspect,  # noqa: E402
    noising,  # noqa: E402
    png,  # noqa: E402
    session,  # noqa: E402
)
from course import frames as course_frames  # noqa: E402

from codigem_lab.diffusion import NoiseSchedule  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_pyplot_leak")


def _images(fig: Figure) -> list:
    return [im for ax in fig.axes for im in ax.images]


def _png_ok(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


# ------------------------------------------------------------------------------ protocols
def test_protocol_role_grid_strong_counts_every_interaction_once(small_split):
    grid, groups = figures.protocol_role_grid(small_split)
    s = small_split
    assert grid.shape == (s.n_train_users + s.valid.n_users + s.test.n_users, s.n_items)
    assert [g[0] for g in groups] == ["training users", "validation users", "test users"]
    assert (grid == figures.ROLE_TRAIN).sum() == s.train.nnz
    assert (grid == figures.ROLE_FOLD_IN).sum() == s.valid.fold_in.nnz + s.test.fold_in.nnz
    assert (grid == figures.ROLE_VALID).sum() == s.valid.target.nnz
    assert (grid == figures.ROLE_TEST).sum() == s.test.target.nnz
    # the row blocks are the three user groups, in order
    assert groups[1][1] == s.n_train_users and groups[2][2] == grid.shape[0]
    train_rows = grid[: s.n_train_users]
    assert not np.isin(
        train_rows, [figures.ROLE_FOLD_IN, figures.ROLE_VALID, figures.ROLE_TEST]
    ).any()


def test_protocol_role_grid_ratio_splits_each_users_items(small_ratio_split):
    grid, groups = figures.protocol_role_grid(small_ratio_split)
    s = small_ratio_split
    assert grid.shape == s.train.shape and len(groups) == 1
    assert (grid == figures.ROLE_TRAIN).sum() == s.train.nnz
    assert (grid == figures.ROLE_VALID).sum() == s.valid.target.nnz
    assert (grid == figures.ROLE_TEST).sum() == s.test.target.nnz
    assert (grid == figures.ROLE_FOLD_IN).sum() == 0


def test_plot_protocol_grids_draws_one_grid_per_protocol(small_split, small_ratio_split):
    fig = figures.plot_protocol_grids(
        {
            "strong": figures.protocol_role_grid(small_split),
            "ratio": figures.protocol_role_grid(small_ratio_split),
        }
    )
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["strong", "ratio"]
    images = _images(fig)
    assert len(images) == 2
    np.testing.assert_array_equal(
        images[1].get_array(), figures.protocol_role_grid(small_ratio_split)[0]
    )
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == list(figures.ROLE_LABELS.values())


# ----------------------------------------------------------------------- popularity, sparsity
def test_plot_long_tail_reports_the_head_share():
    counts = np.array([50, 30, 10, 5, 2, 1, 1, 1, 0, 0])
    fig = figures.plot_long_tail(counts, head_share=0.25)
    ax1, ax2 = fig.axes
    assert ax1.get_yscale() == "log"
    # 8 non-zero items, head = top 2 -> (50 + 30) / 100
    texts = [t.get_text() for t in ax2.texts]
    assert any("top 25% of items hold 80%" in t for t in texts)
    curve = ax2.lines[0].get_ydata()
    np.testing.assert_allclose(curve[-1], 1.0)
    assert np.all(np.diff(curve) >= 0)


def test_plot_sparsity_title_and_density_image(small_split):
    m = small_split.train
    fig = figures.plot_sparsity(m, blocks=10)
    ax1, ax2 = fig.axes[:2]
    density = 100 * m.nnz / (m.shape[0] * m.shape[1])
    assert f"{density:.2f}% filled" in ax1.get_title()
    (img,) = ax2.images
    share = np.asarray(img.get_array())
    assert share.shape == (10, 10)
    assert np.nanmax(share) <= 1.0
    # the most active users x most popular items corner is the densest tile row/column
    assert np.nanmean(share[0]) >= np.nanmean(share[-1])


# --------------------------------------------------------------------------- forward noising
@pytest.fixture(scope="module")
def clicks():
    rng = np.random.default_rng(0)
    x = np.zeros(400)
    x[rng.choice(400, 40, replace=False)] = 1.0
    return x


def test_plot_forward_noising_has_strips_lines_and_histogram(clicks):
    state = noising.forward_noising_state(clicks, beta=0.05, T=7, seed=0)
    fig = noising.plot_forward_noising(state)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 6  # 2 strips, alpha_bar, SNR, histogram, colorbar
    chain_im, closed_im = _images(fig)[:2]
    assert chain_im.get_array().shape == (8, state.strip_chain.shape[1])
    np.testing.assert_array_equal(chain_im.get_array(), state.strip_chain)
    np.testing.assert_array_equal(closed_im.get_array(), state.strip_closed)
    f = noising.ForwardNoisingFigure(state, animated=False)
    np.testing.assert_allclose(f.ln_ab.get_ydata(), state.alpha_bar)
    np.testing.assert_array_equal(f.ln_ab.get_xdata(), np.arange(1, 8))
    np.testing.assert_allclose(f.st_closed.get_data().values, np.maximum(state.hist_closed, 1e-12))
    assert "beta = 0.05, T = 7" in f.suptitle.get_text()


def test_forward_noising_figure_update_and_png_follow_the_state(clicks):
    a = noising.forward_noising_state(clicks, beta=1e-4, T=3, seed=0)
    b = noising.forward_noising_state(clicks, beta=0.3, T=20, seed=0)
    f = noising.ForwardNoisingFigure(a)
    png_a = f.png()
    f.update(b)
    np.testing.assert_allclose(f.ln_ab.get_ydata(), b.alpha_bar)
    np.testing.assert_array_equal(f.im_chain.get_array(), b.strip_chain)
    png_b = f.png()
    img_a, img_b = _png_ok(png_a), _png_ok(png_b)
    assert img_a.size == img_b.size
    assert png_a != png_b
    f.update(a)  # back to the first state: the blitted image is the same pixels again
    assert np.array_equal(
        np.asarray(_png_ok(f.png()).convert("RGB")), np.asarray(img_a.convert("RGB"))
    )


def test_plot_schedules_one_line_per_schedule():
    scheds = {"paper": NoiseSchedule.constant(1e-4, 3), "cos": NoiseSchedule.cosine(20)}
    fig = figures.plot_schedules(scheds)
    ax1, ax2 = fig.axes
    assert len(ax1.lines) == 2
    np.testing.assert_allclose(ax1.lines[1].get_ydata(), scheds["cos"].alpha_bar)
    assert ax2.get_yscale() == "log"


# ------------------------------------------------------------------------------------ ELBO
def test_plot_elbo_terms_one_bar_per_term():
    terms = {"ln p(x|z1)": -120.0, "ln p(zT)": -50.0, "KL": 300.0, "ELBO": -420.0}
    fig = figures.plot_elbo_terms(terms)
    (ax,) = fig.axes
    widths = [p.get_width() for p in ax.patches]
    assert widths == list(terms.values())
    assert [t.get_text() for t in ax.get_yticklabels()] == list(terms)
    # a log-density is negative by nature: negative bars share the positive bars' neutral colour
    from matplotlib.colors import to_hex

    assert {to_hex(p.get_facecolor()) for p in ax.patches} == {figures.TERM_COLOR}
    assert figures.FAIL_COLOR not in {to_hex(p.get_facecolor()) for p in ax.patches}


def test_plot_deviation_effects_shows_differences_to_the_baseline():
    table = pd.DataFrame(
        {"a": [1.0, 3.0, 1.0], "b": [10.0, 10.0, 4.0]}, index=["paper", "bug1", "bug2"]
    )
    fig = figures.plot_deviation_effects(table, "paper")
    (img,) = _images(fig)
    np.testing.assert_allclose(img.get_array(), [[2.0, 0.0], [0.0, -6.0]])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["bug1", "bug2"]
    assert {t.get_text() for t in ax.texts} == {"+2", "0", "-6"}


# -------------------------------------------------------------------------------- training
def test_plot_learning_curves_lines_and_best_epoch():
    h = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "loss": [5.0, 4.0, 3.5],
            "reconstruction": [-2.0, -1.5, -1.2],
            "kl": [3.0, 2.5, 2.3],
            "R@20": [0.1, 0.2, 0.15],
            "R@50": [0.2, 0.3, 0.25],
        }
    )
    fig = figures.plot_learning_curves({"paper": h, "released": h}, {"paper": 2, "released": 3})
    ax_loss, ax_terms, ax_val = fig.axes
    assert len(ax_loss.lines) == 2 + 2  # one loss line per run + one best-epoch line each
    np.testing.assert_allclose(ax_loss.lines[0].get_ydata(), h["loss"])
    np.testing.assert_allclose(ax_terms.lines[0].get_ydata(), -h["reconstruction"])
    vlines = [ln for ln in ax_val.lines if len(set(ln.get_xdata())) == 1]
    assert sorted(ln.get_xdata()[0] for ln in vlines) == [2, 3]


def test_plot_metric_bars_with_reference():
    table = pd.DataFrame({"R@20": [0.2, 0.25], "N@20": [0.1, 0.12]}, index=["paper", "released"])
    fig = figures.plot_metric_bars(table, reference={"R@20": 0.28, "N@20": 0.24})
    (ax,) = fig.axes
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted([0.2, 0.25, 0.1, 0.12, 0.28, 0.24])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["paper", "released", "paper"]


def test_figure_png_is_a_small_palette_png(clicks):
    fig = noising.plot_forward_noising(noising.forward_noising_state(clicks, 0.05, 10))
    img = _png_ok(png.figure_png(fig))
    assert img.mode == "P"
    w, h = fig.get_size_inches() * fig.dpi  # "tight" crops or slightly grows the canvas
    assert abs(img.size[0] - w) < 0.05 * w and abs(img.size[1] - h) < 0.05 * h


# ======================================================================== notebook helpers
def test_table1_comparison_prints_ours_beside_the_paper():
    text = course_frames.table1_comparison(
        {"users": 6033, "items": 3123, "interactions": 834449, "sparsity": 95.5711}, "ML-1M"
    )
    assert "6,033" in text and "6,034" in text and "-1" in text and "+0" in text
    assert text.count("95.57%") == 2


def test_prune_widget_state_drops_closed_and_unreachable_widgets():
    import nbformat

    nb = _execute_tool()

    view = "application/vnd.jupyter.widget-view+json"
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("display_data", {view: {"model_id": "box"}, "text/plain": "0/3"}),
        nbformat.v4.new_output("display_data", {view: {"model_id": "gone"}, "text/plain": "x"}),
    ]
    book = nbformat.v4.new_notebook(cells=[cell])
    state = {
        "box": {
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_p", "IPY_MODEL_b"]},
        },
        "a": {"model_name": "HTMLModel", "state": {"value": "training: 100%"}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": 3, "max": 3}},
        "b": {"model_name": "HTMLModel", "state": {"value": "3/3"}},
        "gone": {"model_name": "HBoxModel", "state": {}},
        "orphan": {"model_name": "LayoutModel", "state": {}},
    }
    book.metadata["widgets"] = {nb.WIDGET_STATE_KEY: {"state": state}}
    nb.prune_widget_state(book, closed={"gone"})
    assert len(book.cells[0].outputs) == 1
    assert set(book.metadata["widgets"][nb.WIDGET_STATE_KEY]["state"]) == {"box", "a", "p", "b"}
    assert book.cells[0].outputs[0]["data"]["text/plain"] == "training: 100% |██████████| 3/3"


def test_recommendations_frame_marks_hits(small_split):
    class Oracle:
        """Scores each user's held-out targets highest."""

        def recommend(self, fold_in, n=10):
            rows = inspect.users_with_targets(small_split, k=2)
            return np.stack([small_split.test.target[r].indices[:n] for r in rows])

    rows = inspect.users_with_targets(small_split, k=2)
    n = min(len(small_split.test.target[r].indices) for r in rows)
    frame = course_frames.recommendations_frame(Oracle(), small_split, rows, n=n)
    assert frame["hit"].all() and len(frame) == 2 * n
    wide = course_frames.recommendations_wide(frame)
    assert wide.shape == (n, 2) and wide.iloc[0, 0].endswith("✓")


def _execute_tool():
    """tools/execute_notebooks.py as a module (development tooling, not in the package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tools" / "execute_notebooks.py"
    spec = importlib.util.spec_from_file_location("execute_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_strips_label_their_rows_and_follow_T(clicks):
    f = noising.ForwardNoisingFigure(noising.forward_noising_state(clicks, beta=1e-2, T=3, seed=0))
    shown = [t.get_text() for t in f.row_labels[: f.MAX_ROW_LABELS] if t.get_text()]
    assert shown == ["x", "z_1", "z_2", "z_3"]
    f.update(noising.forward_noising_state(clicks, beta=1e-2, T=20, seed=0))
    shown = [t.get_text() for t in f.row_labels[: f.MAX_ROW_LABELS] if t.get_text()]
    assert shown[0] == "x" and shown[-1] == "z_20" and len(shown) <= f.MAX_ROW_LABELS


def test_T_slider_stops_include_the_papers_T(clicks):
    from course.noising import T_CHOICES

    panel = noising.ForwardNoisingPanel(clicks)
    assert panel.T_slider.value == 3 and 3 in panel.T_slider.options
    assert tuple(panel.T_slider.options) == T_CHOICES


def test_check_grid_colours_each_verdict():
    from course.figures import FAIL_COLOR, PASS_COLOR, plot_check_grid
    from matplotlib.colors import to_hex

    verdicts = {"paper": {"a": True, "b": True}, "released": {"a": False}}
    fig = plot_check_grid(verdicts)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["PASS", "PASS", "FAIL"]  # released never ran "b": blank
    colours = [to_hex(c.get_facecolor()[0]) for c in ax.collections]
    assert colours == [PASS_COLOR, PASS_COLOR, FAIL_COLOR]  # no expectation given: red
    assert "2 of 3 passed" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    legend = {to_hex(h.get_facecolor()): t.get_text()
              for h, t in zip(fig.legends[0].get_patches(), fig.legends[0].get_texts())}  # fmt: skip
    assert legend == {PASS_COLOR: "PASS", FAIL_COLOR: "FAIL, unexpected"}


def test_check_grid_draws_an_expected_fail_grey_and_only_a_surprise_red():
    from course.figures import EXPECTED_COLOR, FAIL_COLOR, PASS_COLOR, plot_check_grid
    from matplotlib.colors import to_hex

    from codigem_lab.diffusion.checks import EXPECTED_FAILS

    known = sorted(EXPECTED_FAILS["released"])[0]
    verdicts = {"paper": {known: True, "x": True}, "released": {known: False, "x": False}}
    fig = plot_check_grid(verdicts, EXPECTED_FAILS)
    ax = fig.axes[0]
    colours = [to_hex(c.get_facecolor()[0]) for c in ax.collections]
    assert colours == [PASS_COLOR, PASS_COLOR, EXPECTED_COLOR, FAIL_COLOR]
    legend = {to_hex(h.get_facecolor()): t.get_text()
              for h, t in zip(fig.legends[0].get_patches(), fig.legends[0].get_texts())}  # fmt: skip
    assert set(legend) == {PASS_COLOR, EXPECTED_COLOR, FAIL_COLOR}
    assert legend[EXPECTED_COLOR].startswith("FAIL, expected")
    assert ax.get_title().endswith("2 of 4 passed, 1 FAILs expected")
    # the paper preset expects nothing: the same failure there is red
    ax = plot_check_grid({"paper": {known: False}}, EXPECTED_FAILS).axes[0]
    assert to_hex(ax.collections[0].get_facecolor()[0]) == FAIL_COLOR


def test_library_warnings_print_as_one_line_in_notebooks(monkeypatch, capsys):
    import warnings

    from codigem_lab.audit import RankingUnaffectedWarning

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    session.show_library_warnings_briefly()
    session.show_library_warnings_briefly()  # idempotent: wraps once
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(RankingUnaffectedWarning("variant I cannot change the ranking"), stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    out, err = capsys.readouterr()
    assert out == "Note (RankingUnaffectedWarning): variant I cannot change the ranking\n"
    assert "UserWarning: something else\n" != err[-len("UserWarning: something else\n") :]


# ----------------------------------------------------------------- study plots (Figs. 2-3)
def _sweep_runs(param: str, values, seeds=(0, 1, 2)) -> pd.DataFrame:
    """Per-run frames as studies.sweep returns them (metric = f(value) + seed offset)."""
    rows = []
    for v in values:
        for s in seeds:
            r50 = (
                0.4 - 0.1 * np.log10(float(v) + 1) + 0.01 * s
                if param == "beta"
                else 0.4 - 0.01 * v + 0.01 * s
            )
            rows.append(
                {
                    param: v,
                    "seed": s,
                    "R@20": r50 - 0.05,
                    "R@50": r50,
                    "N@20": r50 - 0.1,
                    "N@50": r50 - 0.08,
                    "epochs": 20 + s,
                    "best_epoch": 10 + s,
                    "train_s_per_epoch": 1.0 + 0.5 * (v if param == "T" else 3),
                    "eval_s_per_epoch": 0.2,
                    "history": pd.DataFrame({"epoch": [1, 2, 3], "R@50": [0.1, 0.2, r50]}),
                }
            )
    return pd.DataFrame(rows)


def test_plot_beta_and_T_sweeps():
    from codigem_lab.experiments.studies import summarise_sweep
    from codigem_lab.viz.studies import plot_beta_sweep, plot_sweep

    beta_runs = _sweep_runs("beta", [1e-4, 1e-3, 1e-2, 0.9])
    fig = plot_beta_sweep(beta_runs, [1e-4, 1e-2, 0.9])
    ax = fig.axes[0]
    assert len(ax.get_lines()[0].get_xdata()) == 3  # only the betas asked for
    assert len(fig.axes) == 2  # alpha_bar_1 and alpha_bar_T on a second axis
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), [1 - 1e-4, 0.99, 0.1])
    fig_t = plot_sweep(summarise_sweep(_sweep_runs("T", [1, 2, 3]), "T"), "T")  # Fig. 3 left
    assert list(fig_t.axes[0].get_lines()[0].get_xdata()) == [1, 2, 3]


def test_plot_convergence_one_mean_curve_per_setting():
    from codigem_lab.viz.studies import plot_convergence

    runs = _sweep_runs("T", [1, 3])
    ax = plot_convergence(runs, "T").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["T=1", "T=3"]
    r50 = runs.query("T == 3")["R@50"].mean()
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [0.1, 0.2, r50])
