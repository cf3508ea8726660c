"""Notebooks 05-08's results charts and tables (course.tables, beside the notebooks).

Charts must return a Figure holding the promised artists (one bar per model, error bars, the
paper's bars beside ours), and the notebooks' settings must give the very runs (cache keys) the
CLI gives.
"""

from __future__ import annotations

import math
import re
import shlex

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

matplotlib.use("Agg")

from course import tables as R  # noqa: E402
from course.settings import experiment_config  # noqa: E402

from codigem_lab.experiments import paper  # noqa: E402
from codigem_lab.experiments.aggregate import p_text  # noqa: E402
from codigem_lab.experiments.common import ExperimentConfig  # noqa: E402
from codigem_lab.experiments.registry import get_study  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_pyplot_leak")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The trainings here are tiny: one torch thread is as fast, and immune to a busy CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _bars(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


# ------------------------------------------------------------------------------- data
@pytest.fixture
def table2_rows() -> list[dict]:
    """Four models as reproduce_table2's JSON rows: three in the paper, one not (EASE)."""
    rows = []
    for k, (model, variant) in enumerate(
        [("pop", None), ("multvae", None), ("codigem", "paper"), ("ease", None)]
    ):
        r = {"model": model, "variant": variant, "protocol": "strong", "recall_definition": "minK"}
        for j, m in enumerate(R.TABLE2_METRICS):
            r[f"{m}_mean"] = 0.1 + 0.05 * k + 0.01 * j
            r[f"{m}_std"] = 0.002 * (k + 1)
            r[f"{m}_ci_low"], r[f"{m}_ci_high"] = r[f"{m}_mean"] - 0.01, r[f"{m}_mean"] + 0.01
        key = model if variant in (None, "paper") else None
        if key in paper.table2("ml-1m").index:
            r.update(
                {f"paper_{m}": float(paper.table2("ml-1m").loc[key, m]) for m in R.TABLE2_METRICS}
            )
        cmp = model != "codigem"
        r.update({"effect_R@50": 0.01 if cmp else None, "effect_ci": [0.0, 0.02] if cmp else None})
        r.update({"p": 0.01 if cmp else None, "p_holm": 0.03 if cmp else None})
        rows.append(r)
    return rows


@pytest.fixture
def table3_rows() -> list[dict]:
    """reproduce_table3's rows: I and II equal to base, III and IV different."""
    rows = []
    for preset, base in (("paper", 0.40), ("released", 0.45)):
        for variant, delta in zip(paper.TABLE3.index, [0.0, 0.0, 0.0, -0.01, -0.1]):
            rows.append(
                {
                    "preset": preset,
                    "variant": variant,
                    "R@50_mean": base + delta,
                    "R@50_std": 0.003,
                    "N@50_mean": base / 2 + delta,
                    "N@50_std": 0.002,
                    "R@50_ci_low": base + delta - 0.01,
                    "R@50_ci_high": base + delta + 0.01,
                    "N@50_ci_low": base / 2 + delta - 0.01,
                    "N@50_ci_high": base / 2 + delta + 0.01,
                    "effect_R@50": None if variant == "base" else delta,
                    "effect_ci": None if variant == "base" else [delta - 0.01, delta + 0.01],
                    "p": None if variant == "base" else 0.5,
                    "p_holm": None if variant == "base" else 1.0,
                    "kl_weight_last": 0.2 if variant.startswith("I ") else 1.0,
                    "epochs": 30.0,
                }
            )
    return rows


def test_plot_table2_one_bar_per_model_with_error_bars_and_paper_bars(table2_rows):
    fig = R.plot_table2(table2_rows, metrics=("R@20", "R@50"), paper_label="paper (ml-1m)")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    for ax, m in zip(fig.axes, ("R@20", "R@50"), strict=True):
        ours, theirs = _bars(ax)
        assert len(ours) == len(table2_rows)  # one bar per model
        assert ours.errorbar is not None  # std over seeds drawn
        widths = [p.get_width() for p in ours.patches]
        np.testing.assert_allclose(widths, [r[f"{m}_mean"] for r in table2_rows])
        assert len(theirs) == 3  # EASE is not in the paper
        assert theirs.errorbar is None
    names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert names == ["Pop", "Multi-VAE", "CODIGEM (paper)", "EASE"]
    labels = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert labels == ["ours (mean ± std)", "paper (ml-1m)"]


def test_plot_table2_without_paper_block_draws_only_ours(table2_rows):
    rows = [{k: v for k, v in r.items() if not k.startswith("paper_")} for r in table2_rows]
    fig = R.plot_table2(rows, metrics=("R@50",))
    assert len(_bars(fig.axes[0])) == 1


def test_style_table2_puts_paper_beside_ours_and_bolds_the_best(table2_rows):
    styled = R.style_table2(table2_rows, caption="Table 2")
    frame = styled.data if hasattr(styled, "data") else styled
    assert list(frame.columns[:2]) == [("R@20", "ours"), ("R@20", "paper")]
    assert frame.loc["Pop", ("R@50", "paper")] == f"{paper.table2('ml-1m').loc['pop', 'R@50']:.4f}"
    assert frame.loc["EASE", ("R@50", "paper")] == "—"
    assert frame.loc["CODIGEM (paper)", ("R@50", "ours")] == "0.2100 [0.2000, 0.2200]"
    assert frame.loc["Pop", ("p", "")] == p_text(0.01)
    if hasattr(styled, "to_html"):
        html = styled.to_html()
        assert "font-weight: bold" in html and "Table 2" in html


def test_compare_tables_keeps_model_order_and_adds_the_paper(table2_rows):
    other = [dict(r, **{"R@20_mean": r["R@20_mean"] / 2}) for r in table2_rows[:2]]
    t = R.compare_tables({"strong": table2_rows, "ratio": other}, "R@20")
    assert list(t.index) == ["Pop", "Multi-VAE", "CODIGEM (paper)", "EASE"]
    assert t.loc["Pop", "ratio"] == pytest.approx(t.loc["Pop", "strong"] / 2)
    assert math.isnan(t.loc["EASE", "ratio"]) and math.isnan(t.loc["EASE", "paper R@20"])


# ------------------------------------------------------------------------------ Table 3
def test_plot_table3_bars_per_variant_with_error_bars(table3_rows):
    fig = R.plot_table3(table3_rows, "R@50")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    abs_bars, rel_bars = _bars(fig.axes[0]), _bars(fig.axes[1])
    assert len(abs_bars) == 3 and len(rel_bars) == 3  # two presets + the paper
    n_variants = len(paper.TABLE3)
    assert all(len(c) == n_variants for c in abs_bars + rel_bars)
    assert abs_bars[0].errorbar is not None and abs_bars[1].errorbar is not None
    rel = [p.get_height() for p in rel_bars[0].patches]
    np.testing.assert_allclose(rel, [0, 0, 0, -2.5, -25], atol=1e-9)  # % change from base


def test_table3_frame_flags_variants_identical_to_base(table3_rows):
    f = R.table3_frame(table3_rows)
    same = f["identical_R@50"].xs("paper", level="preset")
    assert same.tolist() == [True, True, True, False, False]
    styled = R.style_table3(table3_rows)
    if hasattr(styled, "to_html"):
        selectors = styled.to_html().split("font-style: italic")[0].rsplit("}", 1)[-1]
        rows = {int(r) for r in re.findall(r"_row(\d+)_col0\b", selectors)}
        assert rows == {1, 2, 6, 7}  # I and II of both presets are greyed


# ------------------------------------------------------------------------- Tables 4, 5
def test_plot_time_vs_T_relative_to_T3():
    rows = [
        {"T": t, "total_s": 10.0 * t * 20, "epochs": 20.0, "train_s_per_epoch": 8.0 * t}
        for t in (1, 2, 3, 5)
    ]
    fig = R.plot_time_vs_T(rows)
    assert len(fig.axes) == 2
    ours = fig.axes[1].get_lines()[0]
    np.testing.assert_allclose(ours.get_ydata(), [1 / 3, 2 / 3, 1, 5 / 3])
    paper_line = fig.axes[1].get_lines()[1]
    assert list(paper_line.get_xdata()) == list(paper.TABLE4.index)


def test_plot_efficiency_stacks_train_and_eval_and_compares_ratios():
    rows = [
        {
            "model": m,
            "train_s_per_epoch": tr,
            "eval_s_per_epoch": ev,
            "epochs_to_converge": ep,
            "epochs_run": ep + 10,
            "total_s": (ep + 10) * (tr + ev),
        }
        for m, tr, ev, ep in [
            ("macridvae", 3.0, 1.0, 40),
            ("multvae", 1.0, 0.5, 60),
            ("codigem", 1.5, 0.5, 20),
        ]
    ]
    fig = R.plot_efficiency(rows)
    ax_t, ax_e, ax_r = fig.axes
    train, evals = _bars(ax_t)
    assert len(train) == len(evals) == 3
    assert [p.get_y() for p in evals.patches] == [3.0, 1.0, 1.5]  # stacked on training
    ours, theirs = _bars(ax_r)
    assert ours.patches[2].get_height() == pytest.approx(1.0)  # CODIGEM / CODIGEM
    assert theirs.patches[0].get_height() == pytest.approx(
        paper.TABLE5.loc["macridvae", "total_s"] / paper.TABLE5.loc["codigem", "total_s"]
    )


def test_plot_model_convergence_one_curve_per_model():
    h = [pd.DataFrame({"R@50": [0.1, 0.3, 0.2]}), pd.DataFrame({"R@50": [0.2, 0.25]})]
    fig = R.plot_model_convergence({"multvae": h, "codigem": h[:1]})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Multi-VAE", "CODIGEM"]
    curve = ax.get_lines()[0]
    np.testing.assert_allclose(curve.get_ydata(), [0.15, 0.275, 0.2])


def test_plot_model_convergence_draws_only_the_epochs_a_run_validated():
    every5 = pd.DataFrame(
        {"epoch": range(1, 11), "R@50": [np.nan] * 4 + [0.3] + [np.nan] * 4 + [0.2]}
    )
    fig = R.plot_model_convergence({"macridvae": [every5]})
    curve, best = fig.axes[0].get_lines()[:2]
    np.testing.assert_allclose(curve.get_xdata(), [5, 10])
    np.testing.assert_allclose(curve.get_ydata(), [0.3, 0.2])
    assert list(best.get_xdata()) == [5]  # the best validated epoch, not a NaN's position


# ------------------------------------------------------------- settings shared with the CLI
def _cli_config(command: str) -> ExperimentConfig:
    from codigem_lab.cli import build_parser
    from codigem_lab.reproduce import config_from_args

    argv = shlex.split(command)[1:]  # drop "codigem-lab"
    return config_from_args(build_parser().parse_args(argv))


@pytest.mark.parametrize("quick", [False, True])
def test_notebook_settings_give_the_cli_runs(quick):
    cfg = experiment_config(
        quick=quick, protocol="ratio", recall_definition="targets", models="pop,codigem"
    )
    cli = _cli_config(get_study("table2").command(cfg))
    for model, variant in (("pop", None), ("codigem", "paper")):
        for seed in cfg.seeds:
            assert cfg.spec(model, seed, variant).key() == cli.spec(model, seed, variant).key()
    assert cli.extra == cfg.extra and cfg.extra["models"] == "pop,codigem"
    assert cfg.seeds == ((0,) if quick else (0, 1, 2)) and cfg.quick == quick


def test_table2_dot_plot_has_one_line_per_model_with_intervals(table2_rows):
    fig = R.plot_table2_intervals(table2_rows, "R@50")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(table2_rows) and len(set(labels)) == len(labels)
    means = ax.get_lines()[0].get_xdata()
    assert list(means) == sorted(means)  # sorted by our mean
    assert len(ax.collections) == 1  # the interval lines


def test_style_tables_show_beyond_after_accuracy_and_only_where_present(table2_rows, table3_rows):
    from tests.test_beyond_accuracy import BEYOND_50, _with_beyond

    rows2, rows3 = table2_rows, table3_rows
    old2 = R.style_table2(rows2).data
    assert not any(c[0] in BEYOND_50 for c in old2.columns)
    new2 = R.style_table2(_with_beyond(rows2)).data
    assert [c for c in new2.columns][-3:] == [(m, "ours") for m in BEYOND_50]  # no paper's
    assert new2[("ARP@50", "ours")].iloc[0] == "10.0 [9.0, 11.0]"
    assert not any(c in BEYOND_50 for c in R.style_table3(rows3).data.columns)
    new3 = R.style_table3(_with_beyond(rows3)).data
    assert list(new3.columns)[-3:] == BEYOND_50
