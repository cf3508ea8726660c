import json

import pandas as pd
import pytest

from codigem_lab.cli import main
from codigem_lab.data import SyntheticConfig
from codigem_lab.errors import CodigemError
from codigem_lab.experiments import studies
from codigem_lab.experiments.cache import RunRecord
from codigem_lab.experiments.common import QUICK_EPOCHS, ExperimentConfig, NeedRuns, planning
from codigem_lab.experiments.table2 import TABLE2

pytestmark = pytest.mark.slow  # trains ~25 tiny models; about a minute on 2 idle cores


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    import codigem_lab.data.synthetic as syn

    small = SyntheticConfig(n_users=150, n_items=80, n_interactions=3000, n_groups=3, seed=0)
    monkeypatch.setattr(syn, "SyntheticConfig", lambda *a, **k: small)
    monkeypatch.setenv("CODIGEM_LAB_RUNS", str(tmp_path / "runs"))
    return ExperimentConfig(quick=True, seeds=(0, 1), progress=False)


def test_table3_annealing_is_a_no_op_when_released(tiny):
    res = studies.reproduce_table3(tiny)
    rows = {(r["preset"], r["variant"]): r for r in res.rows}
    rel_base, rel_i = rows[("released", "base")], rows[("released", "I (annealing)")]
    assert rel_i["R@50_mean"] == rel_base["R@50_mean"]  # KL weight overwritten with 1
    assert rows[("paper", "I (annealing)")]["kl_weight_last"] < 0.2
    assert rows[("released", "I (annealing)")]["kl_weight_last"] == 1
    assert "R@50 (paper)" in res.table.columns and len(res.table) == 10
    cols = list(res.table.columns)
    assert cols[-3:] == ["ARP@50", "novelty@50", "coverage@50"]  # after accuracy, no paper's
    assert all(r["coverage@50_mean"] > 0 for r in res.rows)


def test_beta_readouts_follow_the_schedule():
    r = studies.noise_readouts([1e-4, 0.9], T=3).set_index("beta")
    assert r.loc[1e-4, "alpha_bar_T"] == pytest.approx((1 - 1e-4) ** 3)
    assert r.loc[0.9, "snr_T"] < 1e-2 < r.loc[1e-4, "snr_T"]


@pytest.mark.parametrize("what", ["fig2", "fig3", "table4", "table5"])
def test_reproduce_commands_quick(tiny, tmp_path, capsys, what):
    argv = [
        "reproduce",
        what,
        "--quick",
        "--seeds",
        "1",
        "--no-progress",
        "--json",
        "--out",
        str(tmp_path / "res"),
    ]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rows and isinstance(rows, list)
    files = {p.suffix for p in (tmp_path / "res" / what).iterdir()}
    assert {".csv", ".md", ".json"} <= files
    if what in ("fig2", "fig3"):
        assert {".png", ".svg"} <= files
    assert main(argv) == 0  # second time: from the cache, same rows
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == rows


def test_a_study_dry_run_trains_and_writes_nothing(tiny, tmp_path, capsys):
    """`reproduce <study> --dry-run` names the runs it would train, trains none and writes no
    file; once they are trained it has none left to train."""
    argv = ["reproduce", "table3", "--quick", "--seeds", "1", "--no-progress"]
    argv += ["--out", str(tmp_path / "res")]
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "to train: " in out and "codigem/paper x" in out and "dry run" in out
    assert not (tmp_path / "res").exists()
    assert not list((tmp_path / "runs").rglob("record.json"))
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--dry-run"]) == 0
    assert "to train: none" in capsys.readouterr().out


def test_sweep_point_at_the_paper_setting_is_the_cached_base_run():
    cfg = ExperimentConfig(quick=True, seeds=(0,), progress=False)
    assert studies.sweep_params("paper", "T", 3) == {}
    assert studies.sweep_params("paper", "beta", 1e-4) == {}
    assert studies.sweep_params("paper", "beta", 3e-4) == {"beta": 3e-4}
    base = cfg.spec("codigem", 0, "paper").key()
    assert cfg.spec("codigem", 0, "paper", studies.sweep_params("paper", "T", 3)).key() == base
    assert cfg.spec("codigem", 0, "paper", studies.sweep_params("paper", "T", 5)).key() != base


def test_validations_counts_the_epochs_a_runs_history_validated(tmp_path):
    """Table 5's count is read from what the trainer recorded (its selection metric on validated
    epochs only), and a run without that history is an error, not a zero."""
    spec = ExperimentConfig(quick=True).spec("multvae", 0, None, None, eval_every=5)
    metric = spec.train.select_metric
    values = [None] * 4 + [0.1] + [None] * 4 + [0.2, None, 0.3]  # epochs 5, 10 and the cap 12
    pd.DataFrame({"epoch": range(1, 13), "loss": 1.0, metric: values}).to_csv(
        tmp_path / "history.csv", index=False
    )
    record = RunRecord(spec, {}, {}, {"epochs": 12}, "minK", tmp_path, key="k")
    assert studies.validations(record) == 3
    (tmp_path / "history.csv").unlink()
    with pytest.raises(CodigemError, match="cannot be counted"):
        studies.validations(record)


def test_table5_reads_table2s_runs_of_its_models(tiny):
    """One set of runs: Table 5's convergence runs are Table 2's (same keys), so
    `reproduce all` trains them once."""
    cfg = ExperimentConfig(quick=True, seeds=(0, 1), progress=False)
    t2 = {
        cfg.spec(m, s, None, None, **TABLE2.train_for(m)).key()
        for m in ("multvae", "macridvae")
        for s in cfg.seeds
    }
    with planning(dry=True, timing=False) as plan, pytest.raises(NeedRuns):
        studies.reproduce_table5(cfg)
    planned = {spec.key() for spec in plan.missing if spec.model in ("multvae", "macridvae")}
    assert planned == t2


def test_efficiency_seconds_come_from_back_to_back_timing_runs(tiny):
    cfg = ExperimentConfig(quick=True, seeds=(0,), progress=False)
    res = studies.reproduce_table5(cfg)
    cache = cfg.cache()
    n = min(studies.TIMING_EPOCHS, QUICK_EPOCHS)
    timing = [
        r for r in cache.records() if (r.spec.train.max_epochs, r.spec.train.patience) == (n, n)
    ]
    for row in res.rows:
        spec = cfg.spec(row["model"], 0, "paper" if row["model"] == "codigem" else None)
        mine = [
            r
            for r in timing
            if r.spec.model == spec.model
            and r.spec.key() != spec.key()
            and not r.spec.params.get("decoder_only")  # CODIGEM's fast path is timed beside it
        ]
        assert mine, f"no timing run for {row['model']}"
        h = mine[0].history()
        assert row["train_s_per_epoch"] == pytest.approx(float(h["train_s"].iloc[1:].median()))
        assert row["total_s"] == pytest.approx(
            row["epochs_run"] * row["train_s_per_epoch"]
            + row["validations"] * row["eval_s_per_epoch"]
        )
        every = 1 if row["model"] == "codigem" else 5  # Table 2's validation rule
        assert row["eval_every"] == every
        converged = [  # the convergence run: its history shows how often the trainer validated
            r
            for r in cache.records()
            if r.spec.model == row["model"]
            and r.spec.train.eval_every == every
            and r.spec.train.max_epochs == QUICK_EPOCHS
        ]
        assert len(converged) == 1
        assert row["validations"] == converged[0].history()["R@50"].notna().sum()
    cod = next(r for r in res.rows if r["model"] == "codigem")
    fast = [r for r in timing if r.spec.params.get("decoder_only")]
    assert len(fast) == 1 and cod["fast_train_s_per_epoch"] == pytest.approx(
        float(fast[0].history()["train_s"].iloc[1:].median())
    )


def test_table3_presets_option(tiny, tmp_path, capsys):
    out = tmp_path / "res"
    argv = ["reproduce", "table3", "--quick", "--seeds", "1", "--presets", "released"]
    assert main(argv + ["--no-progress", "--json", "--out", str(out)]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {r["preset"] for r in rows} == {"released"} and len(rows) == 5
    assert (out / "table3" / "table3-synthetic-strong-released-quick.md").exists()
    assert main(["reproduce", "table3", "--presets", "paper,nope"]) != 0
    assert "--presets must be a comma list" in capsys.readouterr().err


def test_beta_readouts_name_the_decoder_input_too():
    r = studies.noise_readouts([0.3], T=3).set_index("beta")
    assert r.loc[0.3, "alpha_bar_1"] == pytest.approx(0.7)  # z_1 keeps 1 - beta of x's variance
    assert r.loc[0.3, "alpha_bar_T"] == pytest.approx(0.7**3)
    assert r.loc[0.3, "snr_1"] == pytest.approx(0.7 / 0.3)


def test_final_kl_weight_counts_users_from_this_config_not_the_records_path():
    """A cached fast-path run made from another folder names a --source relative to it; the KL
    weight is recomputed from this config's data (here the embedded synthetic set)."""
    from types import SimpleNamespace

    from codigem_lab.runs import DataSpec

    cfg = ExperimentConfig(seeds=(0,), progress=False)
    n_train = cfg.data(0).load().n_train_users
    record = SimpleNamespace(
        spec=SimpleNamespace(
            data=DataSpec("csv", "../elsewhere/ratings.csv"),
            train=SimpleNamespace(seed=0, batch_size=200),
        ),
        summary={"epochs": 10},
        history=lambda: None,
    )
    w = studies._final_kl_weight(cfg, "paper", {"anneal_steps": 2000, "anneal_cap": 0.2}, [record])
    steps = 10 * -(-n_train // 200)
    assert w == pytest.approx(min(0.2, steps / 2000))


def test_table4_under_reverse_scoring_times_no_fast_path(tiny):
    """The decoder-only fast path is not ranking-equivalent under reverse scoring: Table 4 makes
    no fast-path timing run there (and does not build one it would refuse)."""
    import dataclasses

    cfg = dataclasses.replace(tiny, seeds=(0,), score_mode="reverse")
    assert studies.fast_path_copies(cfg, [cfg.spec("codigem", 0, "paper")]) == []
    res = studies.reproduce_table4(cfg)
    assert all("fast_train_s_per_epoch" not in r for r in res.rows)
    assert set(res.table["train s/epoch, fast path (ours)"]) == {""}
