"""The committed results files as a full-mode notebook loads them: by the study's file stem."""

import json

import pandas as pd
import pytest

from codigem_lab.errors import ConfigError
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


def test_load_by_stem_round_trip(tmp_path):
    cfg = _cfg()
    command = "codigem-lab reproduce table5 --source /elsewhere/r.csv --seeds 1"
    written = _write(tmp_path / "results", "table5", cfg, command)
    found = get_study("table5").load(cfg, root=tmp_path / "results").result
    assert found.rows == written.rows and found.notes == written.notes
    assert found.table.loc["CODIGEM", "R@50"] == "0.4000" and found.command == command
    assert "results/table5/table5-synthetic-strong.json" in found.origin
    assert "reproduce table5" in found.origin and "at code version" in found.origin
    with pytest.raises(ConfigError, match="reproduce table4"):
        get_study("table4").load(cfg, root=tmp_path / "results")


def _committed_files():
    root = results_root()
    for path in sorted(root.rglob("*.json")) if root.is_dir() else []:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and " reproduce " in (doc.get("command") or ""):
            yield path


@pytest.mark.parametrize("path", list(_committed_files()), ids=lambda p: p.name)
def test_every_committed_study_file_loads_under_its_study_folder(path):
    result = TableResult.load(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    study = get_study(doc["command"].split(" reproduce ")[1].split()[0])
    assert path.parent.name == study.name and path.stem.startswith(study.name + "-")
    assert list(result.table.columns) == doc["table"]["columns"] and result.rows


def test_printed_commands_name_a_source_beside_the_repository_relative_to_it(tmp_path, monkeypatch):
    from codigem_lab.experiments import registry
    from codigem_lab.runs import DataSpec

    monkeypatch.setattr(registry, "repo_root", lambda: tmp_path / "repo")
    beside = ExperimentConfig(data_spec=DataSpec("csv", str(tmp_path / "shared" / "r.csv")))
    elsewhere = ExperimentConfig(data_spec=DataSpec("csv", "/srv/ratings.csv"))
    assert "--source ../shared/r.csv" in get_study("table2").command(beside)
    assert "--source /srv/ratings.csv" in get_study("table2").command(elsewhere)
