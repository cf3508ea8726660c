"""Notebooks 05-08's library code: results charts and tables (codigem_lab.viz.results) and the
sensitivity widget's functions (codigem_lab.viz.sensitivity).

Charts must return a Figure holding the promised artists (one bar per model, error bars, the
paper's bars beside ours); the slider look-up must return the right cached row or say clearly
that a setting was not run; the button's training function must return metrics in quick mode;
and the notebooks' settings must give the very runs (cache keys) the CLI gives.
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

from codigem_lab.experiments import paper  # noqa: E402
from codigem_lab.experiments.aggregate import p_text  # noqa: E402
from codigem_lab.experiments.common import ExperimentConfig  # noqa: E402
from codigem_lab.experiments.registry import get_study  # noqa: E402
from codigem_lab.experiments.settings import experiment_config  # noqa: E402
from codigem_lab.viz import results as R  # noqa: E402
from codigem_lab.viz import sensitivity as S  # noqa: E402

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


def _sweep_runs(param: str, values, seeds=(0, 1, 2)) -> pd.DataFrame:
    """Per-run frames as studies.sweep returns them (metric = f(value) + seed offset)."""
    rows = []
    for v in values:
        for s in seeds:
            r50 = (
                0.4 - 0.1 * math.log10(float(v) + 1) + 0.01 * s
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


@pytest.fixture
def sweep() -> pd.DataFrame:
    beta_runs = _sweep_runs("beta", [1e-4, 1e-3, 1e-2, 0.9])
    T_runs = _sweep_runs("T", [1, 2, 3, 5])
    return S.sweep_table(beta_runs, T_runs)


# ------------------------------------------------------------------------------ Table 2
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


# -------------------------------------------------------------------- sensitivity widget
def test_sweep_table_merges_both_sweeps_once(sweep):
    assert set(sweep.columns) >= {"beta", "T", "seed", "R@50", "epochs"}
    paper_setting = sweep[np.isclose(sweep["beta"], 1e-4) & (sweep["T"] == 3)]
    assert len(paper_setting) == 3  # in both sweeps, kept once per seed
    assert len(sweep) == 3 * (4 + 4 - 1)


def test_lookup_result_returns_the_cached_row(sweep):
    r = S.lookup_result(sweep, 1e-2, 3)
    rows = sweep[np.isclose(sweep["beta"], 1e-2) & (sweep["T"] == 3)]
    assert r["found"] and r["seeds"] == 3
    assert r["R@50_mean"] == pytest.approx(rows["R@50"].mean())
    assert r["R@50_std"] == pytest.approx(rows["R@50"].std(ddof=1))
    assert r["epochs_mean"] == pytest.approx(21.0)
    assert r["alpha_bar_T"] == pytest.approx((1 - 1e-2) ** 3)
    assert "beta = 0.01, T = 3" in r["message"] and "cached" in r["message"]
    t = S.lookup_result(sweep, 1e-4, 5)
    assert t["found"] and t["train_s_per_epoch_mean"] == pytest.approx(3.5)
    assert S.lookup_result(sweep, 0.0001000000000001, 3)["found"]  # float noise tolerated


def test_lookup_result_says_clearly_when_a_setting_was_not_run(sweep):
    r = S.lookup_result(sweep, 1e-2, 5)
    assert not r["found"] and "R@50_mean" not in r
    msg = r["message"]
    assert "was not run" in msg and "T = 3" in msg and "beta = 0.0001" in msg
    assert "0.01" in msg and "1, 2, 3, 5" in msg and "button" in msg
    assert r["alpha_bar_T"] == pytest.approx((1 - 1e-2) ** 5)  # readouts still given
    empty = S.lookup_result(None, 1e-4, 3)
    assert not empty["found"] and "No sweep results" in empty["message"]
    assert "not run" in S.format_result(r) or "was not run" in S.format_result(r)


def test_panel_sliders_offer_swept_values_and_look_up_instantly(sweep):
    calls = []

    def fake_trainer(beta, T, quick, progress):
        calls.append((beta, T, quick, progress))
        return {"found": True, "beta": beta, "T": T, "message": "trained"}

    panel = S.SensitivityPanel(sweep, quick=True, trainer=fake_trainer)
    assert [v for _, v in panel.beta_slider.options] == [1e-4, 1e-3, 1e-2, 0.9]
    assert [v for _, v in panel.T_slider.options] == [1, 2, 3, 5]
    assert panel.last["found"] and panel.last["beta"] == 1e-4 and panel.last["T"] == 3
    panel.beta_slider.value = 0.9  # a slider move runs the look-up
    assert panel.last["beta"] == 0.9 and panel.last["found"]
    assert "0.9" in panel.readout.value
    panel.T_slider.value = 5
    assert not panel.last["found"] and "was not run" in panel.readout.value
    assert panel.train_now()["message"] == "trained"
    assert calls == [(0.9, 5, True, True)] and not panel.button.disabled


def test_panel_reports_a_failed_training_instead_of_raising(sweep):
    def broken(*args, **kwargs):
        raise RuntimeError("loss became nan")

    panel = S.SensitivityPanel(sweep, trainer=broken)
    out = panel.train_now()
    assert not out["found"] and "loss became nan" in out["message"]
    assert not panel.button.disabled


def test_train_setting_quick_returns_metrics():
    from codigem_lab.experiments import studies
    from codigem_lab.experiments.common import QUICK_EPOCHS

    out = studies.train_setting(1e-3, 2, quick=True, progress=False)
    assert out["beta"] == 1e-3 and out["T"] == 2 and out["epochs"] == QUICK_EPOCHS
    for m in ("R@20", "R@50", "N@20", "N@50"):
        assert 0.0 <= out[m] <= 1.0
    assert out["R@50"] > 0
    assert out["alpha_bar_T"] == pytest.approx((1 - 1e-3) ** 2)
    assert "trained now" in out["message"] and out["seconds"] > 0


def test_plot_beta_and_T_sweeps(sweep):
    beta_runs = _sweep_runs("beta", [1e-4, 1e-3, 1e-2, 0.9])
    fig = S.plot_beta_sweep(beta_runs, [1e-4, 1e-2, 0.9])
    ax = fig.axes[0]
    assert len(ax.get_lines()[0].get_xdata()) == 3  # only the betas asked for
    assert len(fig.axes) == 2  # alpha_bar_T on a second axis
    fig_t = S.plot_T_sweep(_sweep_runs("T", [1, 2, 3]))
    assert list(fig_t.axes[0].get_lines()[0].get_xdata()) == [1, 2, 3]


# ------------------------------------------------------------- settings shared with the CLI
def _cli_config(command: str) -> ExperimentConfig:
    from codigem_lab.cli import build_parser
    from codigem_lab.cli_reproduce import config_from_args

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


def test_single_seed_readout_has_no_spread_and_the_selection_is_marked():
    one = _sweep_runs("beta", [1e-4, 1e-2, 0.9]).query("seed == 0")
    out = S.lookup_result(S.sweep_table(one, None), 1e-2, 3)
    assert out["found"] and out["seeds"] == 1 and "±" not in out["message"]
    assert "±" not in S.format_result(out)
    fig = S.plot_selection(S.sweep_table(one, None), 1e-2, 3)
    marked = [
        ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "o" and ln.get_markersize() >= 10
    ]
    assert len(marked) == 1 and marked[0].get_xdata()[0] == pytest.approx(1e-2)
    assert "selected" in fig.axes[0].get_title()
    assert "not in this sweep" in fig.axes[1].get_title()  # T sweep is at beta = 1e-4


def test_table2_dot_plot_has_one_line_per_model_with_intervals(table2_rows):
    fig = R.plot_table2_intervals(table2_rows, "R@50")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(table2_rows) and len(set(labels)) == len(labels)
    means = ax.get_lines()[0].get_xdata()
    assert list(means) == sorted(means)  # sorted by our mean
    assert len(ax.collections) == 1  # the interval lines
