"""``codigem-lab reproduce all``: its plan is every committed results file, each written where it
lies; the dry run prints the estimate; a pool of workers writes what one process writes."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from codigem_lab.cli import build_parser, main
from codigem_lab.data.spec import DataSpec
from codigem_lab.errors import ConfigError
from codigem_lab.experiments.aggregate import (
    PER_USER_KEYS,
    compare_differences,
    comparison_fields,
    t_interval,
)
from codigem_lab.experiments.common import ExperimentConfig, NeedRuns, run_specs
from codigem_lab.experiments.registry import STUDIES, Study
from codigem_lab.experiments.tables import TableResult
from codigem_lab.reproduce import (
    EPOCH_BENCH,
    PlanItem,
    _measured_s,
    estimate,
    plan_for,
    results_plan,
    run_plan,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def _committed() -> set[Path]:
    docs = {p: json.loads(p.read_text(encoding="utf-8")) for p in RESULTS.rglob("*.json")}
    return {p for p, d in docs.items() if isinstance(d, dict) and "rows" in d and "command" in d}


def test_the_plan_remakes_every_committed_results_file_where_it_lies():
    items = results_plan()
    assert {it.file for it in items} == _committed() and len(items) == len(_committed())
    for it in items:
        assert ROOT / it.out / it.study.name / f"{it.study.stem(it.cfg)}.json" == it.file
    names = {it.file.relative_to(RESULTS).as_posix() for it in items}
    assert {
        "fastpath/table3/table3-ml-1m-strong-paper.json",
        "table3/table3-ml-1m-strong-paper-reverse-scoring.json",
        "table3/table3-ml-1m-strong-released.json",
        "table5/table5-ml-1m-strong.json",
    } <= names
    assert {it.cfg.protocol for it in items} >= {"strong", "ratio", "published"}


def test_a_stored_command_that_would_write_elsewhere_is_refused(tmp_path):
    src = RESULTS / "fastpath/table3/table3-ml-1m-strong-paper.json"
    dst = tmp_path / "results/fastpath/table3" / src.name
    dst.parent.mkdir(parents=True)
    doc = json.loads(src.read_text(encoding="utf-8"))
    doc["command"] = doc["command"].replace(" --out results/fastpath", "")
    dst.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ConfigError, match="add the --out"):
        results_plan(tmp_path / "results")


def test_dry_run_prints_each_file_its_estimate_and_the_total(capsys):
    assert main(["reproduce", "all", "--dry-run", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    for path in _committed():
        assert path.relative_to(ROOT).as_posix() in out
    rows = estimate(results_plan(), 2)
    total = next(line for line in out.splitlines() if line.startswith("total:"))
    assert f"{sum(r['minutes'] for r in rows):.0f} min estimated" in total
    by_file = {r["file"]: r for r in rows}
    assert by_file["results/fastpath/table3/table3-ml-1m-strong-paper.json"]["minutes"] == 0
    assert by_file["results/codigem/table2/table2-ml-1m-strong-minK.json"]["minutes"] == 0
    assert "alone" in by_file["results/table5/table5-ml-1m-strong.json"]["how"]
    strong = by_file["results/table2/table2-ml-1m-strong-minK.json"]  # bf16 models: recorded
    assert strong["measured_min"] is None
    assert strong["minutes"] == pytest.approx(strong["recorded_min"] / 2)
    fp32 = {r["file"]: r for r in estimate(results_plan(overrides={"bf16": False}), 2)}
    for name in ("table2/table2-ml-1m-strong-minK.json", "fig2/fig2-ml-1m-strong.json"):
        row = fp32[f"results/{name}"]  # epochs recorded on the benchmark's data, all fp32
        assert row["minutes"] == pytest.approx(row["measured_min"] / 2)
    assert f"{sum(r['recorded_est_min'] for r in rows):.0f} min" in out.splitlines()[-1]


def test_flags_named_for_all_replace_the_stored_ones_even_at_their_default(capsys, tmp_path):
    """``--dataset synthetic`` and ``--seeds 3`` are the defaults, yet named they replace the
    stored ``--dataset csv`` and ``--seeds 1``; the dry run says so and where it would write."""
    out_dir = tmp_path / "check"
    argv = ["reproduce", "all", "--dry-run", "--dataset", "synthetic", "--seeds", "3"]
    argv += ["--out", str(out_dir)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "--dataset" in lines[-1] and "--seeds" in lines[-1] and "replace" in lines[-1]
    assert any(line.startswith(f"written under {out_dir}") for line in lines)
    args = build_parser().parse_args(argv)
    args.argv = argv
    items = plan_for(args)
    assert items and {it.cfg.data_spec.dataset for it in items} == {"synthetic"}
    assert {it.cfg.seeds for it in items} == {(0, 1, 2)}
    assert not out_dir.exists()


def test_a_file_without_epochs_is_estimated_from_its_recorded_compute(tmp_path):
    name = "table2/table2-ml-1m-strong-minK.json"
    for rel in (name, EPOCH_BENCH):
        (tmp_path / "results" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(RESULTS / rel, tmp_path / "results" / rel)
    doc = json.loads((RESULTS / name).read_text(encoding="utf-8"))
    for row in doc["rows"]:  # as an older file wrote them
        row.pop("budget", None), row.pop("epochs", None), row.pop("epochs_mean", None)
    (tmp_path / "results" / name).write_text(json.dumps(doc), encoding="utf-8")
    (strong,) = estimate(results_plan(tmp_path / "results"), 2)
    assert strong["measured_min"] is None and strong["how"] == "pool of 2, recorded"
    assert 0 < strong["minutes"] == strong["recorded_est_min"] == strong["recorded_min"] / 2


def test_the_estimate_is_measured_seconds_per_epoch_times_recorded_epochs():
    data = {"dataset": "csv", "source": "r.csv", "preset": "p", "protocol": "strong"}
    bench = {
        "data": data,
        "models": {
            k: {"epoch_cpu_s": v}
            for k, v in {
                "pop": 1.0,
                "wmf": 10.0,
                "codigem:paper": 2.0,
                "codigem:paper:full": 8.0,
            }.items()
        },
    }
    cfg = ExperimentConfig(data_spec=DataSpec(**data), seeds=(0, 1), bf16=False)
    doc = {
        "rows": [
            {"model": "pop", "budget": {"epochs": [1, 1]}},
            {"model": "codigem", "variant": "paper", "epochs": 30},  # x 2 seeds, fast path
            {"preset": "paper", "epochs_mean": 10, "seeds": 1},  # a sweep's row: CODIGEM
        ],
        "tuning": {"wmf": [{}, {}, {}]},
    }  # two more fits
    item = PlanItem(Path("f.json"), Path("results"), STUDIES["table2"], cfg, Path("r"), doc)
    assert _measured_s(item, bench) == 2 * 1.0 + 60 * 2.0 + 10 * 2.0 + 2 * 10.0
    full = dataclasses.replace(item, cfg=dataclasses.replace(cfg, full_model=True))
    assert _measured_s(full, bench) == 2 * 1.0 + 60 * 8.0 + 10 * 8.0 + 2 * 10.0
    other = dataclasses.replace(cfg, data_spec=DataSpec(**{**data, "protocol": "ratio"}))
    assert _measured_s(dataclasses.replace(item, cfg=other), bench) is None
    old = {"rows": [{"model": "pop"}], "notes": ["most of it: CODIGEM (paper) 3.0 min (20%)"]}
    old_item = dataclasses.replace(item, doc=old)
    assert _measured_s(old_item, bench) is None  # no epochs recorded: the recorded compute
    bf16 = dataclasses.replace(item, cfg=dataclasses.replace(cfg, bf16=True))  # the default
    assert _measured_s(bf16, bench) is None  # CODIGEM in bf16, the benchmark fp32: recorded


def test_a_pending_tuning_grid_does_not_hold_back_the_other_models_runs(tmp_path):
    """The pool sees every model's runs at once: a grid still waiting (Item-KNN's, here) no longer
    hides the runs of the models after it (their seeds do not depend on the grid)."""
    from codigem_lab.experiments.common import planning

    cfg = ExperimentConfig(
        quick=True,
        seeds=(0, 1),
        progress=False,
        cache_root=str(tmp_path / "c"),
        extra={"models": "itemknn,multdae,ease"},
    )
    with planning() as plan, pytest.raises(NeedRuns):
        STUDIES["table2"].execute(cfg)
    missing = {(s.model, s.train.seed) for s in plan.missing}
    assert {("multdae", 0), ("multdae", 1)} <= missing  # planned while the grids wait
    assert ("itemknn", 1) not in missing  # seed 1 waits for the grid's best point
    assert {s.params.get("k") for s in plan.missing if s.model == "itemknn"} >= {50, 100}
    assert any(s.model == "ease" for s in plan.missing)  # the next grid is queued too


def test_the_diffrec_probe_is_planned_while_a_grid_waits(tmp_path):
    """DiffRec's every-epoch probe (the longest single run of the regeneration) enters the pool
    with the first plan, not after the baselines' tuning grids are done."""
    from codigem_lab.experiments.common import planning

    cfg = ExperimentConfig(
        quick=True,
        seeds=(0,),
        progress=False,
        cache_root=str(tmp_path / "c"),
        extra={"models": "itemknn,diffrec"},
    )
    with planning() as plan, pytest.raises(NeedRuns):
        STUDIES["diffrec-ml1m"].execute(cfg)
    every = {s.train.eval_every for s in plan.missing if s.model == "diffrec"}
    assert every == {1, 5}  # the table's rule and the probe's every-epoch run


def test_the_pool_plans_table5s_convergence_runs_and_leaves_its_timing_runs(tmp_path):
    """Table 5's convergence runs (every model, every seed) reach the worker pool in one dry pass;
    its timing runs do not (they are made after the pool, alone)."""
    from codigem_lab.experiments.common import planning
    from codigem_lab.experiments.studies import EFFICIENCY_MODELS

    cfg = ExperimentConfig(quick=True, seeds=(0, 1), progress=False, cache_root=str(tmp_path))
    with planning(timing=False) as plan, pytest.raises(NeedRuns):
        STUDIES["table5"].execute(cfg)
    got = sorted((s.model, s.train.seed) for s in plan.missing)
    assert got == sorted((m, s) for m in EFFICIENCY_MODELS for s in (0, 1))
    assert {s.train.max_epochs for s in plan.missing} == {cfg.train(0, "codigem").max_epochs}


def _timed_toy(cfg: ExperimentConfig) -> TableResult:
    """A study whose result would be seconds: Pop's runs, timed."""
    records, wall = run_specs([cfg.spec("pop", s) for s in cfg.seeds], cfg.cache(), False)
    rows = [{"seed": r.spec.train.seed, "R@50": r.test["R@50"]} for r in records]
    return TableResult("Toy timed", pd.DataFrame(rows).set_index("seed"), rows, [], wall)


def _timing_toy(cfg: ExperimentConfig) -> TableResult:
    """A timed study whose runs are all timing runs (as ``timed_seconds`` leaves them out)."""
    from codigem_lab.experiments.common import active_plan

    plan = active_plan()
    if plan is not None and plan.dry and not plan.timing:
        raise NeedRuns("timing runs")
    return _timed_toy(cfg)


def test_a_timing_run_two_timed_files_share_counts_as_trained_in_both(tmp_path, monkeypatch):
    """From an empty cache every run is trained by the invocation, also in the second of two timed
    files that share a timing run (Tables 4 and 5 share CODIGEM's): the README's regeneration
    sentence says so only when each file's trained count equals its runs."""
    for name in ("toytimingA", "toytimingB"):
        monkeypatch.setitem(STUDIES, name, Study(name, name, _timing_toy, timed=True))
    cfg = ExperimentConfig(quick=True, seeds=(0,), progress=False, cache_root=str(tmp_path / "c"))
    out = tmp_path / "out"
    items = [
        PlanItem(out / f"{n}.json", out, STUDIES[n], cfg, out, {})
        for n in ("toytimingA", "toytimingB")
    ]
    report = run_plan(items, workers=1, progress=False)
    assert [(r["runs"], r["trained"]) for r in report["files"]] == [(1, 1), (1, 1)]


def _items(out: Path, cache: Path) -> list[PlanItem]:
    base = ExperimentConfig(quick=True, progress=False, cache_root=str(cache))
    table2 = dataclasses.replace(base, seeds=(0, 1), extra={"models": "pop,itemknn"})
    fig2 = dataclasses.replace(base, seeds=(0,))
    return [
        PlanItem(out / "a.json", out, STUDIES["toytimed"], base, out, {}),
        PlanItem(out / "b.json", out, STUDIES["table2"], table2, out, {}),
        PlanItem(out / "c.json", out, STUDIES["fig2"], fig2, out, {}),
    ]


def _numbers(doc: dict) -> list[dict]:
    """A results file's rows without the seconds its runs took (the rest must match bit for bit)."""
    return [{k: v for k, v in r.items() if "_s_per_epoch" not in k} for r in doc["rows"]]


@pytest.mark.slow
def test_a_pool_of_two_writes_what_one_process_writes(tmp_path, monkeypatch):
    toy = Study("toytimed", "Toy timed", _timed_toy, timed=True)
    monkeypatch.setitem(STUDIES, "toytimed", toy)
    pool = run_plan(_items(tmp_path / "pool", tmp_path / "cache-pool"), workers=2, progress=False)
    serial = run_plan(_items(tmp_path / "one", tmp_path / "cache-one"), workers=1, progress=False)
    assert [r["study"] for r in pool["files"]][-1] == "toytimed"  # timed: last, alone
    assert "alone" in pool["files"][-1]["how"] and "pool of 2" in pool["files"][0]["how"]
    assert sum(r["trained"] for r in pool["files"]) == sum(r["trained"] for r in serial["files"])
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*"))
    assert [f.name for f in files if f.name.endswith("per-user.csv.gz")] == [
        "fig2-synthetic-strong-quick-per-user.csv.gz",
        "table2-synthetic-strong-minK-quick-per-user.csv.gz",
    ]
    for rel in files:
        a, b = tmp_path / "pool" / rel, tmp_path / "one" / rel
        if rel.suffix == ".json":
            da, db = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
            assert _numbers(da) == _numbers(db) and da["table"] == db["table"], rel  # bit for bit
            assert da["provenance"]["code_version"] == db["provenance"]["code_version"]
        elif rel.name.endswith(".gz"):
            assert gzip.decompress(a.read_bytes()) == gzip.decompress(b.read_bytes()), rel


@pytest.mark.slow
def test_intervals_and_p_values_come_back_from_the_per_user_file(tmp_path):
    out = tmp_path / "results"
    argv = ["reproduce", "table2", "--quick", "--seeds", "2", "--models", "pop,ease,codigem:paper"]
    assert main([*argv, "--no-progress", "--out", str(out), "--cache-root", str(tmp_path)]) == 0
    _check_recomputed(out / "table2" / "table2-synthetic-strong-minK-quick.json")


@pytest.mark.parametrize("path", sorted(RESULTS.rglob("*-per-user.csv.gz")), ids=str)
def test_committed_per_user_files_give_their_results_files_numbers(path):
    _check_recomputed(path.with_name(path.name.replace("-per-user.csv.gz", ".json")))


def recompute_rows(per_user: pd.DataFrame, metric: str | None = None) -> list[dict]:
    """Each group's mean, std and 95% interval over seeds of every metric, and (``metric``) its
    comparison with its reference group, recomputed from a per-user frame; rows in file order."""
    metrics = [c for c in per_user.columns if c not in PER_USER_KEYS]
    rows = []
    for label, g in per_user.groupby("group", sort=False):
        seeds = g.groupby("seed", sort=False)[metrics].mean()
        row: dict = {"group": label}
        for m in metrics:
            v = seeds[m].to_numpy()
            row[f"{m}_mean"] = float(v.mean())
            row[f"{m}_std"] = float(v.std(ddof=1)) if len(v) > 1 else math.nan
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = t_interval(v)
        ref = g["reference"].iloc[0]
        if metric and isinstance(ref, str) and ref:
            other = per_user[per_user["group"] == ref]
            diffs = []
            for seed, a in g.groupby("seed", sort=False):
                b = other[other["seed"] == seed].set_index("user")[[metric]]
                j = a.set_index("user")[[metric]].join(b, how="inner", rsuffix="_b").dropna()
                diffs.append((j[metric] - j[f"{metric}_b"]).to_numpy())
            row.update(comparison_fields(compare_differences(diffs), metric))
        rows.append(row)
    return rows


def recompute_results(path) -> list[tuple[dict, dict]]:
    """(row of a results JSON, the same row recomputed from its per-user file) for every row:
    intervals and p-values checked against the users' own values."""
    path = Path(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    per_user = pd.read_csv(path.with_name(f"{path.stem}-per-user.csv.gz"))  # TableResult.save's
    effects = (k for r in doc["rows"] for k in r if k.startswith("effect_") and "@" in k)
    metric = next(effects, "effect_")[len("effect_") :] or None
    return list(zip(doc["rows"], recompute_rows(per_user, metric), strict=True))


def _check_recomputed(js: Path) -> None:
    pairs = recompute_results(js)
    assert pairs
    for row, again in pairs:
        shared = [k for k in again if k in row and k != "group"]
        assert any(k.endswith("_ci_low") or k.endswith("_std") for k in shared)
        for k in shared:
            a, b = row[k], again[k]
            if isinstance(a, list):
                assert b == pytest.approx(a, rel=1e-5, abs=1e-6, nan_ok=True), k
            elif isinstance(a, (int, float)):  # the files' means are of float32 values
                assert b == pytest.approx(a, rel=1e-5, abs=1e-6, nan_ok=True), k
            elif a is None:
                assert b is None or b != b, k  # NaN where the file holds null
            else:
                assert a == b, k
        if row.get("p") is not None:
            assert again["p"] == row["p"] and again["effect_ci"] == row["effect_ci"]


def test_per_user_recompute_fails_on_a_changed_user_value(tmp_path):
    """The check above can fail: one user's value changed moves the interval."""
    frame = pd.DataFrame(
        {
            "group": ["a"] * 4 + ["b"] * 4,
            "reference": [""] * 4 + ["a"] * 4,
            "model": "m",
            "variant": "",
            "seed": [0, 0, 1, 1] * 2,
            "user": [1, 2, 1, 2] * 2,
            "R@50": [0.5, 0.25, 0.75, 0.5, 0.75, 0.5, 1.0, 0.5],
        }
    )
    rows = recompute_rows(frame, "R@50")
    assert rows[0]["R@50_mean"] == 0.5 and rows[1]["effect_R@50"] == 0.1875
    assert rows[1]["effect_per_seed"] == [0.25, 0.125] and "p" in rows[1] and "p" not in rows[0]
    frame.loc[7, "R@50"] = 0.75
    assert recompute_rows(frame, "R@50")[1]["effect_R@50"] == 0.25


def test_a_kept_stale_file_written_again_where_it_lies_leaves_the_list(tmp_path, monkeypatch):
    monkeypatch.setitem(STUDIES, "toytimed", Study("toytimed", "Toy timed", _timed_toy, timed=True))
    results = tmp_path / "results"
    cfg = ExperimentConfig(quick=True, seeds=(0,), progress=False, cache_root=str(tmp_path / "c"))
    file = results / "toytimed" / f"{STUDIES['toytimed'].stem(cfg)}.json"
    kept = {"toytimed/" + file.name: "made before now; regenerate with codigem-lab reproduce all"}
    results.mkdir()
    (results / "kept-stale.json").write_text(json.dumps({**kept, "x.json": "r"}), "utf-8")
    report = run_plan([PlanItem(file, results, STUDIES["toytimed"], cfg, results, {})], 1, False)
    assert file.is_file() and report["files"][0]["trained"] == 1
    assert json.loads((results / "kept-stale.json").read_text("utf-8")) == {"x.json": "r"}


def test_timing_runs_are_left_out_of_the_pools_plan(tmp_path):
    """``timed_seconds`` under the pool's plan (dry, timing False) plans no run; under a plain dry
    plan it lists its timing runs."""
    from codigem_lab.experiments.common import planning
    from codigem_lab.experiments.studies import timed_seconds

    cfg = ExperimentConfig(quick=True, seeds=(0,), progress=False, cache_root=str(tmp_path))
    specs = [cfg.spec("multvae", 0)]
    with planning(timing=False) as pool, pytest.raises(NeedRuns):
        timed_seconds(cfg, specs, "timing")
    assert pool.missing == []
    with planning() as dry, pytest.raises(NeedRuns):
        timed_seconds(cfg, specs, "timing")
    assert [s.model for s in dry.missing] == ["multvae"]
