"""Verdicts on the paper's claims: the one rule (interval on the claim's side, the other side, or
across zero) on hand-made rows and on the committed results files."""

from __future__ import annotations

import json

import pytest

from codigem_lab.experiments import verdicts as v
from codigem_lab.paths import results_root


def rows(study: str, stem: str) -> list[dict]:
    return json.loads((results_root() / study / f"{stem}.json").read_text())["rows"]


def t2_row(model, mean, low, high, variant=None, effect=None, ci=None) -> dict:
    return {"model": model, "variant": variant, "R@50_mean": mean, "R@50_ci_low": low,
            "R@50_ci_high": high, "effect_R@50": effect, "effect_ci": ci}  # fmt: skip


def test_judge_reads_the_interval():
    assert v.judge(0.01, 0.03) == v.HOLDS
    assert v.judge(-0.03, -0.01) == v.FAILS
    assert v.judge(-0.01, 0.03) == v.OPEN
    assert v.judge(0.0, 0.0) == v.FAILS  # bit-identical: no difference at all
    assert v.judge(None, 0.3) == v.OPEN and v.judge(float("nan"), 1.0) == v.OPEN
    assert v.combine([v.HOLDS, v.HOLDS]) == v.HOLDS
    assert v.combine([v.HOLDS, v.OPEN]) == v.OPEN
    assert v.combine([v.HOLDS, v.OPEN, v.FAILS]) == v.FAILS
    assert v.combine([]) == v.OPEN


def test_table2_paired_interval_first_then_seed_intervals():
    codigem = t2_row("codigem", 0.45, 0.44, 0.46, variant="paper")
    better = [t2_row(m, 0.40, 0.39, 0.41, effect=-0.05, ci=[-0.06, -0.04]) for m in v.CLASSICAL]
    assert v.table2_verdict([codigem, *better]).verdict == v.HOLDS
    # Item-KNN ahead by a paired interval that excludes 0, though the seed intervals overlap
    knn = t2_row("itemknn", 0.455, 0.44, 0.47, effect=0.005, ci=[0.002, 0.008])
    out = v.table2_verdict([codigem, *better[:1], knn])
    assert out.verdict == v.FAILS and "Item-KNN -0.0050 [-0.0080, -0.0020]" in out.evidence
    # no paired interval (a converted file): the seed intervals overlap, so nothing is decided
    plain = t2_row("itemknn", 0.44, 0.43, 0.45)
    assert v.table2_verdict([codigem, plain]).verdict == v.OPEN
    assert v.table2_verdict([plain]).verdict == v.OPEN


def test_table2_on_the_committed_ml1m_run():
    out = v.table2_verdict(rows("table2", "table2-ml-1m-strong-minK"))
    assert out.verdict == v.FAILS  # WMF's interval lies wholly above CODIGEM (paper)'s
    assert "WMF -0.0703" in out.evidence and "Item-KNN +0.0013" in out.evidence
    assert str(out).startswith("Sec. 4, RQ1 (Table 2)")


def test_table3_claims_on_the_committed_runs():
    both = rows("table3", "table3-ml-1m-strong-paper") + rows(
        "table3", "table3-ml-1m-strong-released"
    )
    iv = v.table3_verdict(both, "IV (multinomial)", "the multinomial likelihood worsens it", -1)
    assert iv.verdict == v.FAILS  # paper preset: +0.0235, interval above 0
    assert "paper preset +0.0235" in iv.evidence and "released preset -0.0245" in iv.evidence
    released = [r for r in both if r["preset"] == "released"]
    assert v.table3_verdict(released, "IV (multinomial)", "", -1).verdict == v.HOLDS
    paper = [r for r in both if r["preset"] == "paper"]
    assert v.table3_verdict(paper, "III (skip, decoder)", "", -1).verdict == v.HOLDS
    assert v.table3_verdict(paper, "I (annealing)", "", -1).verdict == v.FAILS  # exactly 0
    assert v.table3_verdict([], "IV (multinomial)", "", -1).verdict == v.OPEN


def test_sweeps_need_a_noise_measure():
    fig2 = rows("fig2", "fig2-ml-1m-strong")
    assert v.fig2_verdict(fig2).verdict == v.OPEN  # one seed, no yardstick: no band
    assert "no interval" in v.fig2_verdict(fig2).evidence
    out = v.fig2_verdict(fig2, yardstick=0.001)  # a tiny seed-to-seed std: R@50 rose at 0.1
    assert out.verdict == v.FAILS
    sharp = [{"beta": 1e-4, "R@50_mean": 0.45, "R@50_std": 0.01},
             {"beta": 0.1, "R@50_mean": 0.30, "R@50_std": 0.01}]  # fmt: skip
    assert v.fig2_verdict(sharp).verdict == v.HOLDS
    assert v.fig2_verdict(sharp[:1]).verdict == v.OPEN
    fig3 = rows("fig3", "fig3-ml-1m-strong")
    assert v.fig3_verdict(fig3, yardstick=0.015).verdict == v.OPEN
    best = [{"T": t, "R@50_mean": 0.40 + (t == 3) * 0.1, "R@50_std": 0.01} for t in (1, 3, 5)]
    assert v.fig3_verdict(best).verdict == v.HOLDS
    assert v.fig3_verdict(best, yardstick=0.5).verdict == v.HOLDS  # own std wins over yardstick


def test_table5_ratio_with_a_tolerance():
    committed = v.table5_verdict(rows("table5", "table5-ml-1m-strong"))
    assert committed.verdict == v.FAILS and "Multi-VAE 0.52x" in committed.evidence
    make = lambda mv, mc: [{"model": "codigem", "total_s": 100.0},  # noqa: E731
                           {"model": "multvae", "total_s": mv}, {"model": "macridvae", "total_s": mc}]  # fmt: skip
    assert v.table5_verdict(make(900, 1500)).verdict == v.HOLDS
    assert v.table5_verdict(make(105, 1500)).verdict == v.OPEN
    assert v.table5_verdict([]).verdict == v.OPEN


@pytest.mark.parametrize("fn", [v.table2_verdict, v.table5_verdict])
def test_verdict_rows_are_ledger_rows(fn):
    assert set(fn([]).row()) == {"claim", "source", "verdict", "evidence"}
