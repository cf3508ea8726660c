"""The recipes of docs/architecture.md ("How to add ..."), followed for a toy model and a toy study.

Each is registered the public way, in a temporary registry (``monkeypatch`` restores it), and run
once: the model through the result cache and ``codigem-lab reproduce table2 --models toy``, the
study through ``codigem-lab reproduce toy``, which writes its table and figure files.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from matplotlib.figure import Figure

from codigem_lab import models
from codigem_lab.cli import main
from codigem_lab.data import SyntheticConfig
from codigem_lab.experiments.common import ExperimentConfig, run_specs
from codigem_lab.experiments.registry import STUDIES, Study
from codigem_lab.experiments.tables import TableResult
from codigem_lab.recommender import Recommender
from codigem_lab.viz.studies import FIGURES


class ToyRecommender(Recommender):
    """Item co-occurrence: an item scores by how often it was clicked with the user's items."""

    name = "toy"

    def fit(self, split, progress: bool = True) -> ToyRecommender:
        train = sp.csr_matrix(split.train, dtype=np.float32)
        self.cooc = (train.T @ train).toarray()
        return self

    def score(self, fold_in: sp.csr_matrix, train_rows=None) -> np.ndarray:
        return np.asarray(fold_in @ self.cooc, dtype=np.float32)


def toy_study(cfg: ExperimentConfig) -> tuple[TableResult, pd.DataFrame]:
    """A study the recipe's way: its runs through ``run_specs`` (cached), a table and its runs."""
    specs = [cfg.spec(model, seed) for model in ("pop", "toy") for seed in cfg.seeds]
    records, wall = run_specs(specs, cfg.cache(), cfg.progress, label="toy study")
    runs = pd.DataFrame([{"model": r.spec.model, "R@50": r.test["R@50"]} for r in records])
    mean = runs.groupby("model")["R@50"].mean()
    table = pd.DataFrame({"R@50": [f"{v:.4f}" for v in mean]}, index=mean.index)
    rows = [{"model": m, "R@50_mean": float(v)} for m, v in mean.items()]
    return TableResult("Toy study — Pop against co-occurrence", table, rows, [], wall), runs


def _bars(out, name: str) -> Figure:
    fig = Figure()
    fig.subplots().bar(out.runs["model"], out.runs["R@50"])
    return fig


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """The toy model and study, registered as the recipes say, on small synthetic data."""
    import codigem_lab.data.synthetic as syn

    small = SyntheticConfig(n_users=150, n_items=80, n_interactions=3000, n_groups=3, seed=0)
    monkeypatch.setattr(syn, "SyntheticConfig", lambda *a, **k: small)
    monkeypatch.setenv("CODIGEM_LAB_RUNS", str(tmp_path / "runs"))
    # a model: one line in models.MODELS
    monkeypatch.setattr(models, "MODELS", {**models.MODELS, "toy": f"{__name__}:ToyRecommender"})
    # a study: one Study row in the registry, its figures in viz/studies.py
    study = Study("toy", "Toy: Pop against co-occurrence", toy_study, figures=("bars",))
    monkeypatch.setitem(STUDIES, "toy", study)
    monkeypatch.setitem(FIGURES, "toy", {"bars": _bars})
    return tmp_path


def test_a_new_model_runs_through_the_cache_and_table2(toy, capsys):
    cfg = ExperimentConfig(quick=True, seeds=(0,), progress=False)
    record = cfg.cache().run(cfg.spec("toy", 0))
    assert 0.0 < record.test["R@50"] <= 1.0 and record.spec.model == "toy"
    argv = ["reproduce", "table2", "--quick", "--seeds", "1", "--models", "pop,toy"]
    assert main([*argv, "--no-progress", "--json", "--out", str(toy / "res")]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["model"] for r in rows] == ["pop", "toy"]
    assert rows[1]["R@50_mean"] == pytest.approx(record.test["R@50"])


def test_a_new_study_runs_from_the_cli_and_writes_its_files(toy, capsys):
    argv = ["reproduce", "toy", "--quick", "--seeds", "1", "--no-progress", "--json"]
    assert main([*argv, "--out", str(toy / "res")]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {r["model"] for r in rows} == {"pop", "toy"}
    folder = toy / "res" / "toy"
    stem = "toy-synthetic-strong-quick"
    assert {p.name for p in folder.iterdir()} >= {f"{stem}.{x}" for x in ("json", "md", "csv")}
    assert (folder / f"{stem}-bars.png").exists()
    doc = json.loads((folder / f"{stem}.json").read_text())
    assert doc["command"].startswith("codigem-lab reproduce toy ") and "--quick" in doc["command"]
    cfg = ExperimentConfig(quick=True, seeds=(0,), progress=False)
    loaded = STUDIES["toy"].load(cfg, root=toy / "res").result  # as a full-mode notebook loads it
    assert loaded.rows == rows and loaded.command == doc["command"]
