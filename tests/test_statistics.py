"""The statistics behind every table: intervals over seeds, the two-stage paired
comparison (users within a seed, seeds as replicates), Holm's adjustment, and their text."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from codigem_lab.experiments.aggregate import (
    Family,
    add_holm,
    compare,
    compare_differences,
    effect_text,
    format_interval,
    holm,
    p_text,
    paired_differences,
    t_interval,
)


def _null_seeds(rng, n_seeds=3, users=300, tau=0.02, sigma=0.15, shift=0.0):
    """Per-seed per-user differences: a seed effect N(shift, tau) plus user noise N(0, sigma)."""
    return [rng.normal(shift + rng.normal(0, tau), sigma, users) for _ in range(n_seeds)]


def test_seed_to_seed_spread_is_not_hidden_by_many_users():
    # three seeds that disagree (+0.05, -0.03, +0.04) with 5,000 users each: pooling users x seeds
    # as independent gives p ~ 1e-30; the seeds only support a weak claim
    rng = np.random.default_rng(1)
    diffs = [rng.normal(mu, 0.15, 5000) for mu in (0.05, -0.03, 0.04)]
    pooled = stats.ttest_1samp(np.concatenate(diffs), 0).pvalue
    assert pooled < 1e-20
    c = compare_differences(diffs)
    assert c.p > 0.2 and c.seeds == 3 and "df = 2" in c.method
    assert c.ci_low < 0 < c.ci_high


def test_null_rejection_rate_is_nominal():
    rng = np.random.default_rng(7)
    sims = 600
    rejected = sum(compare_differences(_null_seeds(rng)).p < 0.05 for _ in range(sims))
    # a pooled test rejects about half of these; ours at its 5% (binomial 99.9% band: ~2-8.5%)
    assert 0.015 * sims < rejected < 0.085 * sims


def test_interval_covers_the_true_effect_at_its_level():
    rng = np.random.default_rng(3)
    sims, true = 400, 0.03
    covered = 0
    for _ in range(sims):
        c = compare_differences(_null_seeds(rng, shift=true))
        covered += c.ci_low <= true <= c.ci_high
    assert 0.91 * sims < covered < 0.985 * sims


def test_a_consistent_effect_is_found():
    rng = np.random.default_rng(5)
    c = compare_differences(_null_seeds(rng, n_seeds=5, users=3000, tau=0.002, shift=0.05))
    assert c.p < 1e-3 and c.ci_low > 0.03 and abs(c.effect - 0.05) < 0.01


def test_effect_is_the_mean_of_per_seed_means_not_of_pooled_users():
    diffs = [np.full(10, 0.1), np.full(1000, -0.1), np.array([0.0, 0.3])]
    c = compare_differences(diffs)
    assert c.effect == pytest.approx((0.1 - 0.1 + 0.15) / 3)
    assert c.effect_per_seed == pytest.approx((0.1, -0.1, 0.15)) and c.users == (10, 1000, 2)
    lo, hi = t_interval([0.1, -0.1, 0.15])
    assert (c.ci_low, c.ci_high) == pytest.approx((lo, hi))
    assert c.p == pytest.approx(stats.ttest_1samp([0.1, -0.1, 0.15], 0).pvalue)


def test_one_seed_falls_back_to_users_and_says_so():
    rng = np.random.default_rng(0)
    d = rng.normal(0.01, 0.1, 400)
    c = compare_differences([d])
    assert c.p == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    assert c.method.startswith("1 seed: paired t-test over its 400 test users")
    assert "user sampling only" in c.method
    assert (c.ci_low, c.ci_high) == pytest.approx(t_interval(d))


def test_identical_models_give_no_effect_and_p_one():
    c = compare_differences([np.zeros(50), np.zeros(40), np.zeros(60)])
    assert (c.effect, c.ci_low, c.ci_high, c.p) == (0.0, 0.0, 0.0, 1.0)
    assert compare_differences([np.zeros(50)]).p == 1.0


def test_t_interval_agrees_with_scipy():
    v = [0.41, 0.43, 0.39]
    lo, hi = t_interval(v)
    ref = stats.t.interval(0.95, 2, loc=np.mean(v), scale=stats.sem(v))
    assert (lo, hi) == pytest.approx(ref)
    assert all(math.isnan(x) for x in t_interval([0.4]))


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = holm([None, 0.2, float("nan"), 0.01])
    assert out[0] is None and out[2] is None and out[1:4:2] == pytest.approx([0.2, 0.02])
    assert holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1, monotone


def test_holm_family_is_fixed_before_the_runs():
    family = Family(("a", "b", "c", "d"), excluded={"d": "a proven no-op"})
    full = [{"p": 0.01}, {"p": 0.04}, {"p": 0.03}, {"p": 1.0}]
    note = add_holm(full, family, ["a", "b", "c", "d"])
    assert [r["p_holm"] for r in full] == pytest.approx([0.03, 0.06, 0.06, None])
    assert "3 planned comparisons" in note and "left out: d" in note
    # a command that ran a subset (and an unplanned extra): the same family, so c counts at p = 1
    sub = [{"p": 0.01}, {"p": 0.04}, {"p": 0.001}, {"p": None}]
    note = add_holm(sub, family, ["a", "b", "x", "ref"])
    assert [r["p_holm"] for r in sub] == [pytest.approx(0.03), pytest.approx(0.08), None, None]
    assert "not run by this command, counted at p = 1: c" in note and "unadjusted: x" in note
    for a, b in zip(full[:2], sub[:2]):  # never below the full run's
        assert b["p_holm"] >= a["p_holm"]


def test_texts():
    assert format_interval(0.41866, 0.38, 0.45) == "0.4187 [0.3800, 0.4500]"
    assert format_interval(0.41866, float("nan"), None) == "0.4187 (1 seed: no interval)"
    assert effect_text(0.05, [0.04, 0.06]) == "+0.0500 [+0.0400, +0.0600]"
    assert effect_text(-0.05, None) == "-0.0500" and effect_text(None, None) == ""
    assert p_text(0.0) == "< 1e-300" and p_text(0.01234) == "0.012" and p_text(None) == ""


def _record(seed, users, values, tmp_path, name):
    folder = tmp_path / f"{name}-{seed}"
    folder.mkdir()
    pd.DataFrame({"R@50": values}, index=pd.Index(users, name="user")).to_csv(
        folder / "test_per_user.csv"
    )
    return SimpleNamespace(
        spec=SimpleNamespace(train=SimpleNamespace(seed=seed)),
        per_user=lambda: pd.read_csv(folder / "test_per_user.csv", index_col=0),
    )


def test_records_are_paired_by_seed_and_user(tmp_path):
    a = [
        _record(0, [1, 2, 3], [0.5, 0.6, 0.7], tmp_path, "a"),
        _record(1, [4, 5], [0.2, 0.4], tmp_path, "a"),
        _record(2, [6], [0.9], tmp_path, "a"),  # the reference has no seed 2: left out
    ]
    ref = [
        _record(1, [5, 4, 9], [0.1, 0.1, 0.3], tmp_path, "b"),  # user 9 only here: left out
        _record(0, [3, 2, 1], [0.7, 0.5, 0.5], tmp_path, "b"),
    ]
    diffs = paired_differences(a, ref)
    assert [list(np.round(d, 6)) for d in diffs] == [[0.0, 0.1, 0.0], [0.1, 0.3]]
    c = compare(a, ref)
    assert c.seeds == 2 and c.effect == pytest.approx((0.1 / 3 + 0.2) / 2)
    assert compare(a[2:], ref) is None


def test_notebook_tables_show_intervals_effects_and_holm():
    from course.tables import style_table2, table2_frame

    def rows(p):
        return [
            {"model": "pop", "variant": None, "R@50_mean": 0.24, "R@50_std": 0.01,
             "R@50_ci_low": 0.22, "R@50_ci_high": 0.26, "effect_R@50": -0.18,
             "effect_ci": [-0.2, -0.16], "p": p, "p_holm": None if p is None else 2 * p},
            {"model": "codigem", "variant": "paper", "R@50_mean": 0.42, "R@50_std": 0.01,
             "R@50_ci_low": 0.40, "R@50_ci_high": 0.44, "effect_R@50": None, "effect_ci": None,
             "p": None, "p_holm": None},
        ]  # fmt: skip

    shown = style_table2(rows(0.004), metrics=("R@50",))
    frame = getattr(shown, "data", shown)
    assert frame.iloc[0][("R@50", "ours")] == "0.2400 [0.2200, 0.2600]"
    assert frame.iloc[0][("effect on R@50 vs CODIGEM", "")] == "-0.1800 [-0.2000, -0.1600]"
    assert frame.iloc[0][("p (Holm)", "")] == "0.008" and frame.iloc[1][("p", "")] == ""
    assert table2_frame(rows(0.004), ("R@50",))["p_holm"].iloc[0] == 0.008
