"""The ELBO derivation checks pass on the paper preset and name the released code's deviations."""

from __future__ import annotations

import dataclasses
import time

import pytest

from codigem_lab.diffusion.checks import (
    CheckReport,
    check_gaussian_kl,
    check_marginal,
    check_preset_faithfulness,
    check_rearrangements,
    check_toy_elbo_gap,
    run_all_checks,
)
from codigem_lab.diffusion.model import CODIGEMConfig
from codigem_lab.errors import ConfigError


def test_run_all_checks_pass_on_paper_and_are_fast() -> None:
    start = time.perf_counter()
    reports = run_all_checks("paper", seed=0)
    assert time.perf_counter() - start < 10
    assert [r.name for r in reports] == [
        "rearrangements",
        "marginal",
        "gaussian_kl",
        "toy_elbo_gap",
        "preset_faithfulness",
    ]
    for r in reports:
        assert isinstance(r, CheckReport)
        assert r.passed, str(r)
        assert str(r).startswith("[PASS]")


def test_rearrangements_details() -> None:
    r = check_rearrangements()
    assert r.passed
    assert r.details["max_abs_diff_between_eqs"] < 1e-9
    assert r.details["T"] == 4


def test_rearrangements_flags_released_model() -> None:
    cfg = CODIGEMConfig.preset("released", n_items=6, hidden=16, T=4, beta=0.1)
    r = check_rearrangements(cfg)
    assert not r.passed
    assert "differs from eq (9)" in r.message
    assert r.details["max_abs_diff_between_eqs"] < 1e-9  # the algebra itself still holds


@pytest.mark.parametrize(
    "over",
    [{"likelihood": "multinomial"}, {"skip_forward": True, "skip_reverse": True}, {"dropout": 0.3}],
)
def test_rearrangements_hold_for_variants(over: dict) -> None:
    cfg = CODIGEMConfig.preset("paper", n_items=6, hidden=16, T=4, beta=0.1, **over)
    assert check_rearrangements(cfg).passed
    assert check_preset_faithfulness(dataclasses.replace(cfg, n_items=32)).passed


def test_rearrangements_needs_T2() -> None:
    with pytest.raises(ConfigError, match="T >= 2"):
        check_rearrangements(CODIGEMConfig.preset("paper", n_items=4, T=1))


def test_marginal_states_sample_size() -> None:
    r = check_marginal(n_samples=20000)
    assert r.passed and r.details["n_samples"] == 20000 and r.details["max_se"] < 5


def test_gaussian_kl() -> None:
    r = check_gaussian_kl()
    assert r.passed
    assert abs(r.details["closed"] - r.details["torch"]) < 1e-12


def test_toy_elbo_gap() -> None:
    r = check_toy_elbo_gap()
    assert r.passed, r.message
    generic, exact = r.details["generic"], r.details["true_posterior"]
    assert min(generic["gap_closed_form"]) > 0.1
    assert max(abs(g) for g in exact["gap_closed_form"]) < 1e-9
    # the exact reversal reproduces the data distribution N(0, s^2)
    assert exact["var_x"] == pytest.approx(r.details["s"] ** 2)


def test_preset_faithfulness_paper_passes() -> None:
    r = check_preset_faithfulness("paper")
    assert r.passed, r.message
    assert r.details["deviations"] == []


def test_preset_faithfulness_released_names_each_deviation() -> None:
    r = check_preset_faithfulness("released")
    assert not r.passed
    assert set(r.details["deviations"]) == {
        "forward_term_bug",
        "pairing_bug",
        "anneal_overwritten",
        "init",
        "input_scaling",
    }
    for word in ("forward_term_bug", "pairing_bug", "anneal", "init", "input_scaling"):
        assert word in r.message
    assert "net 2 fed z_3" in r.message  # z_1 scored under the net fed z_3
    assert "Consequence" in r.message


@pytest.mark.parametrize(
    "switch",
    [
        {"forward_term_bug": True},
        {"pairing_bug": True},
        {"anneal_overwritten": True},
        {"init": "released"},
        {"input_scaling": "none"},
    ],
)
def test_each_switch_is_detected_alone(switch: dict) -> None:
    cfg = CODIGEMConfig.preset("paper", n_items=8, **switch)
    r = check_preset_faithfulness(cfg)
    assert not r.passed
    assert len(r.details["deviations"]) == 1


def test_released_checks_fail_only_where_expected() -> None:
    reports = {r.name: r for r in run_all_checks("released")}
    assert not reports["rearrangements"].passed
    assert not reports["preset_faithfulness"].passed
    for name in ("marginal", "gaussian_kl", "toy_elbo_gap"):
        assert reports[name].passed
