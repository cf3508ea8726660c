"""DiffRec's Table 2 study: our models on a published split by DiffRec's rules, beside its rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from codigem_lab.cli import main
from codigem_lab.experiments import diffrec_paper
from codigem_lab.experiments.cache import ResultCache


def _split(tmp_path):
    """A tiny published split: 60 users, 40 items, 8 train / 2 valid / 2 test rows each."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "split"
    folder.mkdir()
    rows = [(u, i) for u in range(60) for i in rng.choice(40, 12, replace=False)]
    part = np.tile([0] * 8 + [1, 1, 2, 2], 60)
    for k, name in enumerate(("train", "valid", "test")):
        np.save(folder / f"{name}_list.npy", np.array(rows)[part == k].astype(np.int64))
    return folder


def test_the_study_runs_end_to_end_beside_the_labelled_published_rows(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(diffrec_paper.ROWS, "ml-1m", {"lightgcn": (0.1, 0.2, 0.3, 0.4)})
    monkeypatch.setitem(diffrec_paper.SOURCES, "ml-1m", "https://example.org/table2")
    out, cache = tmp_path / "results", tmp_path / "cache"
    argv = ["reproduce", "diffrec-ml1m", "--dataset", "published", "--source",
            str(_split(tmp_path)), "--quick", "--seeds", "2", "--models", "pop,diffrec",
            "--cache-root", str(cache), "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads((out / "diffrec-ml1m" / "diffrec-ml1m-split-published-quick.json").read_text())
    table = doc["table"]
    assert table["columns"][:2] == ["R@10", "R@10 (DiffRec paper)"]
    assert table["index"] == ["Pop", "DiffRec", "lightgcn"]  # the published model we did not run
    published = dict(zip(table["columns"], table["cells"][2]))
    assert published["R@20 (DiffRec paper)"] == "0.2000" and published["R@20"] == "-"
    assert any("read from https://example.org/table2" in n for n in doc["notes"])
    assert "reproduce diffrec-ml1m --dataset published" in doc["command"]
    budget = next(n for n in doc["notes"] if n.startswith("Training budget"))
    assert "DiffRec " in budget and "(cap 10)" in budget and "Pop" not in budget
    probe = next(n for n in doc["notes"] if n.startswith("Probe (seed 0)"))
    assert "every 5 epochs" in probe and "validated every epoch: selected epoch" in probe
    assert any("one published split" in n for n in doc["notes"])
    pop, diffrec = doc["rows"]
    assert pop["recall_definition"] == "targets" and pop["reference"] == "DiffRec"
    assert not math.isnan(pop["R@10_mean"]) and "effect_R@20" in pop
    runs: dict[str, list] = {}
    for r in ResultCache(cache).records():
        runs.setdefault(r.spec.model, []).append(r.spec.train)
    diffrec = sorted(t.eval_every for t in runs["diffrec"])
    assert diffrec == [1, 5, 5] and runs["pop"][0].select_metric == "R@20"  # 2 seeds, 1 probe
    assert runs["pop"][0].ks == (10, 20, 50, 100)
    capsys.readouterr()


def test_without_published_rows_the_column_stays_empty_and_says_why(tmp_path, capsys, monkeypatch):
    monkeypatch.delitem(diffrec_paper.ROWS, "ml-1m", raising=False)
    monkeypatch.delitem(diffrec_paper.SOURCES, "ml-1m", raising=False)
    out = tmp_path / "results"
    argv = ["reproduce", "diffrec-ml1m", "--dataset", "published", "--source",
            str(_split(tmp_path)), "--quick", "--seeds", "1", "--models", "pop",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(next((out / "diffrec-ml1m").glob("*.json")).read_text())
    assert "R@20 (DiffRec paper)" in doc["table"]["columns"]
    assert {c for row in doc["table"]["cells"] for c in row[1:8:2]} == {""}
    assert any("could not be read here" in n for n in doc["notes"])
    capsys.readouterr()


def test_published_rows_have_every_metric_and_a_source():
    assert diffrec_paper.table2("no-such-block") is None
    for block in diffrec_paper.BLOCKS:
        frame = diffrec_paper.table2(block)
        assert list(frame.columns) == list(diffrec_paper.COLUMNS)
        if len(frame):
            assert diffrec_paper.SOURCES[block].startswith("https://")
            assert ((frame > 0) & (frame < 1)).all().all(), block
    for block, rows in diffrec_paper.ROWS.items():
        assert block in diffrec_paper.BLOCKS
        assert all(len(v) == 4 for v in rows.values())
    if not diffrec_paper.ROWS:
        assert all(url in diffrec_paper.NOT_READ for url in diffrec_paper.SEARCHED)


@pytest.mark.parametrize("model", ["diffrec", "pop"])
def test_the_study_trains_by_diffrecs_rules(model):
    from codigem_lab.experiments.common import ExperimentConfig
    from codigem_lab.experiments.diffrec_table import LAYOUT

    spec = ExperimentConfig(recall_definition="targets").spec(
        model, 0, None, None, **LAYOUT.train_for(model)
    )
    assert spec.train.select_metric == "R@20" and spec.train.recall_definition == "targets"
    assert (spec.train.eval_every, spec.train.patience) == (
        (5, 15) if model == "diffrec" else (1, 10)
    )


def test_validating_every_few_epochs_keeps_patience_in_epochs(small_split):
    from codigem_lab.baselines.diffrec import DiffRec
    from codigem_lab.train import TrainConfig

    cfg = TrainConfig(max_epochs=30, patience=4, eval_every=2, progress=False, seed=0)
    h = DiffRec(train_config=cfg).fit(small_split).result.history
    validated = list(h.dropna(subset=["R@50"])["epoch"])
    assert validated == [e for e in h["epoch"] if e % 2 == 0]
    assert (h.loc[h["R@50"].isna(), "eval_s"] == 0).all()
    best = int(h.loc[h["R@50"].idxmax(), "epoch"])
    assert h["epoch"].iloc[-1] == best + 4 < 30  # stopped 4 epochs (2 validations) after the best
