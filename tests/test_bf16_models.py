"""Where the studies train in bf16: only models the committed benchmark clears, full runs only,
never in the timing runs; and the pool starts its longest runs first."""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path

import pytest
from scipy import stats

from codigem_lab.experiments import common
from codigem_lab.experiments.common import (
    BF16_MODELS,
    DIFFREC_TRAIN,
    NEURAL_BASELINES,
    ExperimentConfig,
)
from codigem_lab.experiments.table2 import TABLE2
from codigem_lab.reproduce import _expected_s, _longest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "results" / "bench" / "bf16-models-raw.json"
#: later benchmarks of single models, made after a change to them: their verdicts replace BENCH's
#: (MacridVAE's encoder stopped building its [users, K, items] inputs, docs/baselines.md; DiffRec's
#: bf16 runs score in bf16 too, docs/reproduce.md)
REMEASURED = (
    REPO / "results" / "bench" / "bf16-macridvae-raw.json",
    REPO / "results" / "bench" / "bf16-diffrec-raw.json",
)


def cleared_by_benchmark() -> set[str]:
    """Models whose every benchmarked variant is within seed noise, the verdict recomputed from the
    per-seed values the files store (interval holds 0, |mean difference| <= fp32's seed SD)."""
    models: dict[str, dict] = {}
    for path in (BENCH, *REMEASURED):
        doc = json.loads(path.read_text(encoding="utf-8"))
        again = {name.split(":")[0] for name in doc["models"]}  # all its variants are replaced
        models = {k: v for k, v in models.items() if k.split(":")[0] not in again}
        models.update(doc["models"])
    verdicts: dict[str, list[bool]] = {}
    for name, res in models.items():
        ok = []
        for m in res["metrics"].values():
            d = [b - a for a, b in zip(m["fp32"], m["bf16"])]
            half = stats.t.ppf(0.975, len(d) - 1) * statistics.stdev(d) / len(d) ** 0.5
            mean = statistics.fmean(d)
            ok.append(mean - half <= 0 <= mean + half and abs(mean) <= statistics.stdev(m["fp32"]))
        assert res["within_seed_noise"] == all(ok), (
            f"{name}: the file's verdict is not its numbers'"
        )
        verdicts.setdefault(name.split(":")[0], []).append(all(ok))
    return {m for m, v in verdicts.items() if all(v)}


def test_only_models_the_committed_benchmark_clears_train_in_bf16():
    assert BF16_MODELS, "the benchmark clears some models: the studies should use it"
    assert BF16_MODELS <= cleared_by_benchmark()


def full() -> ExperimentConfig:
    return ExperimentConfig(seeds=(0,), progress=False)


@pytest.mark.parametrize("model", sorted(BF16_MODELS))
def test_a_cleared_model_trains_in_bf16_in_full_runs_only(model):
    assert full().train(0, model).precision == "bf16"
    assert dataclasses.replace(full(), bf16=False).train(0, model).precision == "fp32"
    assert dataclasses.replace(full(), quick=True).train(0, model).precision == "fp32"
    assert dataclasses.replace(full(), precision="tf32").train(0, model).precision == "tf32"


def test_a_model_the_benchmark_did_not_clear_stays_fp32():
    assert "pop" not in BF16_MODELS
    assert full().train(0, "pop").precision == "fp32"


def test_no_bf16_is_a_reproduce_flag_and_the_default_leaves_stored_commands_alone():
    cfg = full()
    assert "--no-bf16" in dataclasses.replace(cfg, bf16=False).to_argv()
    assert not any("bf16" in a for a in cfg.to_argv())
    assert "bf16" in common.precision_note(cfg) and "fp32" in common.precision_note(
        dataclasses.replace(cfg, bf16=False)
    )


def test_timing_runs_train_in_the_commands_precision_not_bf16(monkeypatch):
    from codigem_lab.experiments import studies

    seen = []
    monkeypatch.setattr(studies, "run_specs", lambda specs, *a, **k: (seen.extend(specs), 1 / 0))
    cfg = full()
    with pytest.raises(ZeroDivisionError):
        studies.timed_seconds(cfg, [cfg.spec("codigem", 0, "paper")], label="t")
    assert [s.train.precision for s in seen] == ["fp32"]


def test_diffrec_validates_every_five_epochs_in_every_table2():
    assert TABLE2.train_for("diffrec") == DIFFREC_TRAIN == {"eval_every": 5, "patience": 15}
    spec = full().spec("diffrec", 0, None, None, **TABLE2.train_for("diffrec"))
    assert (spec.train.eval_every, spec.train.patience) == (5, 15)


def test_every_neural_baseline_validates_every_five_epochs_and_codigem_every_epoch():
    from codigem_lab.experiments.diffrec_table import LAYOUT
    from codigem_lab.models import MODELS, model_class
    from codigem_lab.neural import NeuralRecommender

    neural = {m for m in MODELS if issubclass(model_class(m), NeuralRecommender)}
    assert set(NEURAL_BASELINES) == neural - {"codigem", "diffrec"}  # a new one joins the rule
    for layout in (TABLE2, LAYOUT):
        for m in neural - {"codigem"}:
            assert layout.train_for(m)["eval_every"] == 5, m
        assert layout.train_for("codigem").get("eval_every", 1) == 1
    spec = full().spec("macridvae", 0, None, None, **TABLE2.train_for("macridvae"))
    assert (spec.train.eval_every, spec.train.patience) == (5, full().patience)


def test_the_pool_starts_the_runs_expected_longest_first():
    per = {"macridvae": 7.5, "pop": 0.03, "codigem:paper": 0.9, "codigem:paper:full": 3.6}
    cfg = full()
    spec = cfg.spec
    assert _expected_s(spec("macridvae", 0), per) > _expected_s(spec("pop", 0), per)
    fast = spec("codigem", 0, "paper", {"decoder_only": True})
    assert _expected_s(spec("codigem", 0, "paper"), per) > _expected_s(fast, per)
    assert _expected_s(spec("wmf", 0), {"wmf": 30.0}) == 30.0  # closed form: one fit
    queue = {"p": spec("pop", 0), "m": spec("macridvae", 0), "c": fast}
    assert _longest(queue, per) == "m"  # what run_plan starts next, in the pool or alone
