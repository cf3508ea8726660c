"""The committed results files as a full-mode notebook's fallback (experiments/committed.py)."""

import json

import pandas as pd
import pytest

from codigem_lab.experiments import committed
from codigem_lab.experiments import interactive as X
from codigem_lab.experiments.common import ExperimentConfig
from codigem_lab.experiments.registry import get_study
from codigem_lab.experiments.tables import TableResult
from codigem_lab.paths import results_root


def _cfg(seeds=(0,)) -> ExperimentConfig:
    return ExperimentConfig(seeds=seeds, progress=False)  # the embedded synthetic data, full mode


def _write(root, what: str, cfg: ExperimentConfig, command: str | None = None) -> TableResult:
    study = get_study(what)
    table = pd.DataFrame({"R@50": ["0.4000"], "s/epoch": ["1.23"]}, index=pd.Index(["CODIGEM"]))
    result = TableResult(
        name="Table 5 (test)",
        table=table,
        rows=[{"model": "codigem", "R@50_mean": 0.4}],
        notes=["a note"],
        command=command or study.command(cfg),
    )
    result.save(root / what, study.stem(cfg))
    return result


def test_settings_ignore_where_the_data_lives_but_not_what_runs():
    study = get_study("table2")
    a = committed.command_settings(
        "codigem-lab --threads 1 reproduce table2 --dataset csv --source ../shared/r.csv "
        "--preset paper-ml1m --protocol strong --seeds 3 --no-progress",
        study,
    )
    b = committed.command_settings(
        "codigem-lab reproduce table2 --dataset ml-1m --preset paper-ml1m", study
    )
    assert a is not None and a == b  # location, default protocol and reporting flags set aside
    c = committed.command_settings(
        "codigem-lab reproduce table2 --dataset ml-1m --preset paper-ml1m --seeds 1", study
    )
    assert c != b
    assert committed.command_settings("codigem-lab reproduce table3 --seeds 3", study) is None
    assert committed.command_settings("python benchmarks/x.py", study) is None


def test_find_and_load_round_trip(tmp_path):
    cfg = _cfg()
    written = _write(
        tmp_path, "table5", cfg, "codigem-lab reproduce table5 --source /elsewhere/r.csv --seeds 1"
    )
    found = committed.find_committed("table5", cfg, root=tmp_path)
    assert found is not None and found.path.name == "table5-synthetic-strong.json"
    assert found.result.rows == written.rows and found.result.notes == written.notes
    assert found.result.table.loc["CODIGEM", "R@50"] == "0.4000"
    assert "reproduce table5" in found.describe(tmp_path)
    assert committed.find_committed("table5", _cfg(seeds=(0, 1, 2)), root=tmp_path) is None
    assert committed.find_committed("table4", cfg, root=tmp_path) is None


def test_reproduce_cached_only_falls_back_to_the_committed_file(tmp_path, monkeypatch):
    cfg = _cfg()
    monkeypatch.setattr(committed, "results_root", lambda: tmp_path / "results")
    missing = X.reproduce("table5", cfg, cached_only=True)
    assert not missing.available and "not in the result cache" in missing.origin
    _write(tmp_path / "results", "table5", cfg)
    shown = X.reproduce("table5", cfg, cached_only=True)
    assert shown.available and shown.runs is None and not shown.from_cache
    assert shown.result.rows == [{"model": "codigem", "R@50_mean": 0.4}]
    assert "committed results file" in shown.origin and "TRAIN = True" in shown.origin


def _committed_files():
    root = results_root()
    for path in sorted(root.rglob("*.json")) if root.is_dir() else []:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and " reproduce " in (doc.get("command") or ""):
            yield path


@pytest.mark.parametrize("path", list(_committed_files()), ids=lambda p: p.name)
def test_every_committed_study_file_can_stand_in(path):
    result, doc = committed.load_table(path)
    study = get_study(doc["command"].split(" reproduce ")[1].split()[0])
    assert committed.command_settings(result.command, study) is not None
    assert list(result.table.columns) == doc["table"]["columns"] and result.rows


def test_printed_commands_name_a_source_beside_the_repository_relative_to_it(tmp_path, monkeypatch):
    from codigem_lab.runs import DataSpec

    monkeypatch.setattr(X, "repo_root", lambda: tmp_path / "repo")
    beside = ExperimentConfig(data_spec=DataSpec("csv", str(tmp_path / "shared" / "r.csv")))
    elsewhere = ExperimentConfig(data_spec=DataSpec("csv", "/srv/ratings.csv"))
    assert "--source ../shared/r.csv" in X.reproduce_command("table2", beside)
    assert "--source /srv/ratings.csv" in X.reproduce_command("table2", elsewhere)
