import json

import pytest

from codigem_lab.cli import main
from codigem_lab.experiments import paper
from codigem_lab.experiments.table2 import parse_models


def test_parse_models():
    assert parse_models("pop,codigem") == [
        ("pop", None),
        ("codigem", "paper"),
        ("codigem", "released"),
    ]
    assert parse_models("codigem:released") == [("codigem", "released")]


def test_paper_table2_rows():
    t = paper.table2("ml-1m")
    assert t.loc["pop", "R@20"] == 0.1289 and t.loc["codigem", "N@50"] == 0.3026
    assert paper.table2("synthetic") is None


def test_reproduce_table2_quick_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CODIGEM_LAB_RUNS", str(tmp_path / "runs"))
    argv = [
        "reproduce",
        "table2",
        "--quick",
        "--seeds",
        "2",
        "--models",
        "pop,itemknn,codigem:paper",
        "--no-progress",
        "--json",
        "--out",
        str(tmp_path / "results"),
        "--paper-dataset",
        "ml-1m",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    rows = json.loads(out.strip().splitlines()[-1])
    assert [r["model"] for r in rows] == ["pop", "itemknn", "codigem"]
    for r in rows:
        assert {
            "model",
            "variant",
            "protocol",
            "recall_definition",
            "R@20_mean",
            "R@50_std",
            "N@50_mean",
            "R@50_ci_low",
            "R@50_ci_high",
            "effect_R@50",
            "effect_ci",
            "p",
            "p_holm",
            "p_method",
        } <= set(r)
        assert r["paper_R@20"] == pytest.approx(paper.table2("ml-1m").loc[r["model"], "R@20"])
    assert rows[2]["p"] is None and rows[2]["p_holm"] is None  # the reference itself
    for r in rows[:2]:
        assert (
            0 <= r["p"] <= r["p_holm"] <= 1 and "t-test over the 2 seeds (df = 1)" in r["p_method"]
        )
        lo, hi = r["effect_ci"]
        assert lo <= r["effect_R@50"] <= hi
        assert r["effect_R@50"] == pytest.approx(r["R@50_mean"] - rows[2]["R@50_mean"], abs=1e-6)
        assert r["R@50_ci_low"] <= r["R@50_mean"] <= r["R@50_ci_high"]
    assert rows[1]["params"]["k"] in (50, 100)  # tuned on a (quick) grid
    assert "R@50 (paper)" in out and "Tuned on validation" in out
    compute = next(line for line in out.splitlines() if line.startswith("Compute recorded"))
    assert "most of it: " in compute and "tuning runs add" in compute  # itemknn's other k
    files = sorted(p.name for p in (tmp_path / "results" / "table2").iterdir())
    assert files == [
        "table2-synthetic-strong-minK-quick-per-user.csv.gz",
        "table2-synthetic-strong-minK-quick.csv",
        "table2-synthetic-strong-minK-quick.json",
        "table2-synthetic-strong-minK-quick.md",
    ]
    # beyond accuracy: numbers in every row, columns after the accuracy ones, no paper's column
    doc = json.loads(
        (tmp_path / "results/table2/table2-synthetic-strong-minK-quick.json").read_text()
    )
    beyond = ["ARP@20", "ARP@50", "novelty@20", "novelty@50", "coverage@20", "coverage@50"]
    cols = doc["table"]["columns"]
    assert cols[-len(beyond) :] == beyond and cols.index("N@50 (paper)") < cols.index("ARP@20")
    assert not any(c.startswith(("ARP", "novelty", "coverage")) and "paper" in c for c in cols)
    for r in doc["rows"]:
        assert r["ARP@50_mean"] > 0 and 0 < r["coverage@20_mean"] <= r["coverage@50_mean"] <= 1
        assert r["novelty@50_ci_low"] <= r["novelty@50_mean"] <= r["novelty@50_ci_high"]
        assert "paper_ARP@50" not in r
    by_model = {r["model"]: r for r in doc["rows"]}
    assert by_model["pop"]["ARP@50_mean"] > by_model["codigem"]["ARP@50_mean"]  # the head
    assert any(n.startswith("Beyond accuracy") for n in doc["notes"])
    # a re-run is served from the cache and prints the same table
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again == rows


def test_quick_mode_uses_a_models_own_quick_budget():
    from codigem_lab.experiments.common import ExperimentConfig

    quick, full = ExperimentConfig(quick=True), ExperimentConfig()
    assert quick.spec("wmf", 0).params == {"iterations": 5}
    assert quick.spec("wmf", 0, params={"alpha": 1.0}).params == {"iterations": 5, "alpha": 1.0}
    assert quick.spec("wmf", 0, params={"iterations": 9}).params == {"iterations": 9}
    assert full.spec("wmf", 0).params == {} and quick.spec("ease", 0).params == {}
