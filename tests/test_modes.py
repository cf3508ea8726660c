"""The learner's default path: a notebook's mode (learn or paper), its plan line, the timing table
the plan's estimates come from, and the one-line marker of loaded and live results.

The notebooks are read as files (no kernel): each offers ``MODE = "learn"`` in its parameters
cell, resolves it with ``session.choose_mode`` and prints ``session.plan(...)`` first.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
from course import session

from codigem_lab.errors import ConfigError
from codigem_lab.experiments import registry
from codigem_lab.experiments.cache import code_version
from codigem_lab.experiments.common import ExperimentConfig
from codigem_lab.experiments.registry import Study, get_study
from codigem_lab.experiments.tables import TableResult

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


# ------------------------------------------------------------------------------ choose_mode
def test_learn_is_the_default_and_the_cell_can_ask_for_paper():
    assert session.choose_mode(environ={}) == session.Mode("learn")
    mode = session.choose_mode("paper", environ={})
    assert mode.name == "paper" and not mode.quick and str(mode) == "Paper mode"
    assert session.choose_mode("learn", environ={}).quick


def test_the_environment_overrides_the_cell():
    assert session.choose_mode("learn", {"CODIGEM_LAB_MODE": "paper"}).name == "paper"
    mode = session.choose_mode("paper", {"CODIGEM_LAB_MODE": "learn"})
    assert mode.name == "learn" and mode.chosen_by == "$CODIGEM_LAB_MODE=learn"
    forced = session.choose_mode("paper", {"CODIGEM_LAB_QUICK": "1"})  # the tests (CI)
    assert forced.name == "learn" and forced.chosen_by == "$CODIGEM_LAB_QUICK=1"
    assert session.choose_mode("paper", {"CODIGEM_LAB_QUICK": "0"}).name == "paper"


@pytest.mark.parametrize(
    "cell, env, match",
    [
        ("lean", {}, r"MODE = 'lean' is not valid: MODE must be one of \('learn', 'paper'\)"),
        ("learn", {"CODIGEM_LAB_MODE": "full"}, r"\$CODIGEM_LAB_MODE = 'full' is not valid"),
        ("learn", {"CODIGEM_LAB_MODE": "paper", "CODIGEM_LAB_QUICK": "1"}, "unset one of them"),
    ],
)
def test_a_typo_or_a_contradiction_is_one_clear_error(cell, env, match):
    with pytest.raises(ConfigError, match=match):
        session.choose_mode(cell, env)


# ------------------------------------------------------------------------------ plan line
def _timings(folder: Path, rows: dict[str, float], name: str = "notebooks-default") -> Path:
    rows_ = [
        {"notebook": n, "seconds": s, "cores": 2, "empty_cache": True} for n, s in rows.items()
    ]
    (folder / f"{name}-raw.json").write_text(json.dumps({"rows": rows_}), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "seconds, text",
    [
        (3, "about 5 s"),
        (42, "about 40 s"),
        (516, "about 9 min"),
        (1800, "about 30 min"),
        (9000, "about 2.5 h"),
    ],  # fmt: skip
)
def test_durations_are_said_roughly(seconds, text):
    assert session.about(seconds) == text


def test_plan_states_mode_work_data_and_the_measured_estimates(tmp_path):
    folder = _timings(tmp_path, {"04_training": 42.0})
    _timings(folder, {"04_training": 516.0}, "notebooks-paper")
    text = session.plan(
        "04_training", session.Mode("learn"), "ml-100k", "trains twice", timings=folder
    )
    first, *rest = text.splitlines()
    assert first == (
        "Learn mode (MODE in the parameters cell): trains twice, on ml-100k; about 40 s "
        "(measured on 2 CPU cores, an empty result cache)."
    )
    assert rest[-1].startswith('  MODE = "paper" instead: the paper\'s scale')
    assert "about 9 min" in rest[-1]


def test_plan_says_how_to_measure_a_notebook_never_timed(tmp_path):
    text = session.plan("03_elbo", session.Mode("paper"), "ml-1m", "trains", timings=tmp_path)
    assert "not timed yet: `python tools/execute_notebooks.py --time --paper 03`" in text
    assert "`python tools/execute_notebooks.py --time 03`" in text  # the other mode's line


def _results(path: Path, rows: list[dict], wall_s: float = 0.0) -> str:
    path.write_text(json.dumps({"rows": rows, "wall_s": wall_s}), encoding="utf-8")
    return str(path)


def test_a_paper_run_never_timed_is_estimated_from_the_recorded_compute(tmp_path):
    sweep = _results(tmp_path / "fig2.json", [  # two runs: 100 x (5 + 1) s and 50 x (5 + 1) s
        {"beta": 1e-4, "epochs_mean": 100, "train_s_per_epoch_mean": 5.0, "eval_s_per_epoch_mean": 1.0},
        {"beta": 0.9, "epochs_mean": 50, "train_s_per_epoch_mean": 5.0, "eval_s_per_epoch_mean": 1.0},
    ], wall_s=10.0)  # fmt: skip
    timed = _results(tmp_path / "table4.json", [
        {"T": 3, "epochs": 80, "train_s_per_epoch": 2.0, "eval_s_per_epoch": 1.0, "total_s": 240.0},
        {"T": 5, "epochs": 80, "train_s_per_epoch": 4.0, "eval_s_per_epoch": 1.0, "total_s": 400.0},
    ])  # fmt: skip
    assert session.Recorded(sweep).seconds() == 900.0  # the rows' compute, not the wall time
    assert session.Recorded(sweep, {"beta": 0.9}, runs=2).seconds() == 600.0
    assert session.Recorded(timed, {"T": 3}, runs=3).seconds() == 720.0  # total_s of the row
    assert session.Recorded(timed, {"T": 3}, epochs=10).seconds() == 30.0  # its s per epoch
    walled = _results(tmp_path / "w.json", [{"model": "x"}], wall_s=120.0)
    assert session.Recorded(walled).seconds() == 120.0  # rows without compute: the wall time
    with pytest.raises(ValueError, match="records no compute for {'T': 8}"):
        session.Recorded(timed, {"T": 8}).seconds()

    recorded = [session.Recorded(sweep), session.Recorded(timed, {"T": 3})]  # 900 + 240 s
    paper = session.plan("07_sensitivity", session.Mode("paper"), "ml-1m", "sweeps",
                         timings=tmp_path, recorded=recorded)  # fmt: skip
    assert paper.splitlines()[0].endswith(
        "sweeps, on ml-1m; about 19 min (estimated from fig2.json's and table4.json's recorded "
        "compute; `python tools/execute_notebooks.py --time --paper 07` measures it)."
    )
    learn = session.plan("07_sensitivity", session.Mode("learn"), "ml-100k", "sweeps",
                         timings=tmp_path, recorded=recorded)  # fmt: skip
    first, *_, other = learn.splitlines()
    assert "not timed yet" in first  # the paper files say nothing of learn mode
    assert other.startswith('  MODE = "paper" instead') and "about 19 min (estimated from" in other
    _timings(tmp_path, {"07_sensitivity": 3000.0}, "notebooks-paper")  # a measurement wins
    measured = session.estimate("07_sensitivity", session.Mode("paper"), tmp_path, recorded)
    assert measured.startswith("about 50 min (measured on 2 CPU cores")
    broken = [session.Recorded(str(tmp_path / "missing.json"))]
    assert session.estimate("03_elbo", session.Mode("paper"), tmp_path, broken).startswith(
        "not timed yet"
    )


@pytest.mark.parametrize("stem", ["03_elbo", "04_training", "07_sensitivity"])
def test_the_long_notebooks_estimate_paper_mode_from_committed_files(stem):
    """03, 04 and 07 are too long to time in paper mode: their plan line names committed results
    files whose recorded compute (rows matching ``where``) is there."""
    (path,) = [p for p in NOTEBOOKS if p.stem == stem]
    _, first = parameters_and_first_cell(path)
    calls = [n for n in ast.walk(ast.parse(_source(first))) if isinstance(n, ast.Call)]
    assert any(k.arg == "recorded" for k in first_output_call(path).keywords)
    found = [c for c in calls if ast.unparse(c.func) == "session.Recorded"]
    assert found, "a session.Recorded(...) for the plan's paper-mode estimate"
    for call in found:
        where = ast.literal_eval(call.args[1]) if len(call.args) > 1 else {}
        assert session.Recorded(ast.literal_eval(call.args[0]), where).seconds() > 120  # minutes


def test_plan_names_the_file_it_loads_or_the_study_it_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "results_root", lambda: tmp_path / "results")
    cfg = ExperimentConfig(seeds=(0,), progress=False)  # the embedded synthetic data, paper mode
    study = get_study("table5")
    result = TableResult("Table 5", pd.DataFrame({"x": ["1"]}), [{"x": 1}], command="cmd --x")
    result.save(tmp_path / "results" / "table5", study.stem(cfg))
    loads = session.plan(
        "08_efficiency", session.Mode("paper"), cfg, "times", [(study, cfg)], False
    )
    assert (
        "  Table 5: loaded from " in loads
        and "table5-synthetic-strong.json, made by `cmd --x`" in loads
    )
    assert "Paper-mode settings: synthetic" in loads  # describe_mode(cfg) follows
    runs = session.plan("08_efficiency", session.Mode("paper"), cfg, "times", [(study, cfg)], True)
    assert "  Table 5: run here through the result cache" in runs and "loaded" not in runs
    missing = session.plan(
        "08_efficiency", session.Mode("paper"), cfg, "t", [(get_study("table4"), cfg)], False
    )
    assert (
        "no results file table4-synthetic-strong.json: make it with `codigem-lab reproduce table4"
        in missing
    )


# -------------------------------------------------------------------------- the notebooks
def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _assigned(tree: ast.Module) -> dict[str, str]:
    """name -> source of the value, for the top-level assignments of a cell."""
    return {
        t.id: ast.unparse(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def parameters_and_first_cell(path: Path) -> tuple[dict, dict]:
    """The cell tagged ``parameters`` (the first code cell) and the code cell after it."""
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), "the first code cell: parameters"
    return code[0], code[1]


def mode_choice_defects(path: Path) -> list[str]:
    """What the parameters cell lacks of the visible mode choice (empty: nothing)."""
    params, _ = parameters_and_first_cell(path)
    text = _source(params)
    found = _assigned(ast.parse(text))
    need = {"MODE": "'learn'", "mode": "session.choose_mode(MODE)", "QUICK": "mode.quick"}
    defects = [f"{k} = {v}" for k, v in need.items() if found.get(k) != v]
    comments = "\n".join(line for line in text.splitlines() if "#" in line)
    defects += [f"a comment on {w}" for w in ('"learn"', '"paper"') if w not in comments]
    return defects


def first_output_call(path: Path) -> ast.Call | None:
    """The first print(...) of the code cell after the parameters cell, if it is print(plan)."""
    _, first = parameters_and_first_cell(path)
    for node in ast.walk(ast.parse(_source(first))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("print", "display"):
            arg = node.args[0] if node.args else None
            is_plan = isinstance(arg, ast.Call) and ast.unparse(arg.func) == "session.plan"
            return arg if is_plan else None
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_parameters_cell_offers_the_mode_choice_learn_by_default(path):
    assert mode_choice_defects(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_first_output_is_the_plan_line_of_this_notebook(path):
    call = first_output_call(path)
    assert call is not None, "the first cell after the parameters prints session.plan(...) first"
    assert ast.literal_eval(call.args[0]) == path.stem  # its estimates are keyed by the stem
    _, first = parameters_and_first_cell(path)
    texts = [
        o.get("text", "") for o in first.get("outputs", []) if o.get("output_type") == "stream"
    ]
    if texts:  # executed copies: the plan line comes out first
        assert "".join(texts[0]).startswith(("Learn mode (", "Paper mode ("))


def test_the_checks_see_a_notebook_without_the_mode_choice(tmp_path):
    cells = _cells(NOTEBOOKS[0])
    params = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
    params["source"] = _source(params).replace('\nMODE = "learn"', '\nMODE = "paper"')
    changed = tmp_path / "changed.ipynb"
    changed.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert mode_choice_defects(changed) == ["MODE = 'learn'"]


# ------------------------------------------------------------------ the timing table's tool
def _tool():
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", REPO / "tools" / "execute_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(notebook: str, seconds: float) -> dict:
    return {"notebook": notebook, "seconds": seconds, "load_before": 0.5, "load_after": 0.7,
            "cores": 2, "empty_cache": True, "written_utc": "2026-01-01T00:00:00Z",
            "commit": "abc1234", "command": "python tools/execute_notebooks.py --time"}  # fmt: skip


def test_timings_merge_by_notebook_and_feed_the_plan(tmp_path):
    tool = _tool()
    path = tmp_path / "notebooks-default-raw.json"
    tool.record_timings(path, "default", [_row("05_baselines", 50.0), _row("explorer", 14.0)])
    md = tool.record_timings(
        path, "default", [_row("00_overview", 12.0), _row("05_baselines", 44.0)]
    )
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    assert [(r["notebook"], r["seconds"]) for r in rows] == [
        ("00_overview", 12.0), ("05_baselines", 44.0), ("explorer", 14.0)
    ]  # fmt: skip
    text = md.read_text(encoding="utf-8")
    assert "| 05_baselines | 44.0 | 0.5 | 0.7 | 2 |" in text and "--time`" in text
    seconds, _ = session.measured_seconds("05_baselines", session.Mode("learn"), tmp_path)
    assert seconds == 44.0


def test_each_mode_gives_the_kernel_its_variable_and_only_it(monkeypatch):
    tool = _tool()
    monkeypatch.setenv("CODIGEM_LAB_QUICK", "1")
    monkeypatch.setenv("CODIGEM_LAB_MODE", "learn")
    default = tool.kernel_env("default")
    assert "CODIGEM_LAB_QUICK" not in default and "CODIGEM_LAB_MODE" not in default
    assert tool.kernel_env("quick")["CODIGEM_LAB_QUICK"] == "1"
    paper = tool.kernel_env("paper", {"CODIGEM_LAB_RUNS": "/tmp/x"})
    assert paper["CODIGEM_LAB_MODE"] == "paper" and paper["CODIGEM_LAB_RUNS"] == "/tmp/x"
    assert "CODIGEM_LAB_QUICK" not in paper


# ---------------------------------------------------------------- loaded vs live results
def test_a_loaded_table_says_so_in_one_line(tmp_path):
    result = TableResult("T", pd.DataFrame({"x": ["1"]}), [{"x": 1}], command="codigem-lab x")
    (js,) = [p for p in result.save(tmp_path, "t") if p.suffix == ".json"]
    origin = TableResult.load(js, shown="results/t.json").origin
    assert (
        origin
        == f"loaded from results/t.json, made by `codigem-lab x` at code version {code_version()}"
    )


def test_a_study_says_computed_just_now_or_loaded_from_the_result_cache(tmp_path, monkeypatch):
    def pop_table(cfg: ExperimentConfig) -> TableResult:
        record = cfg.cache().run(cfg.spec("pop", 0))
        return TableResult("Pop", pd.DataFrame({"R@50": [record.test["R@50"]]}), [])

    monkeypatch.setitem(registry.STUDIES, "popstudy", Study("popstudy", "Pop alone", pop_table))
    cfg = ExperimentConfig(seeds=(0,), progress=False, quick=True, cache_root=str(tmp_path / "c"))
    first = registry.STUDIES["popstudy"].execute(cfg).result.origin
    assert first == "computed just now (learn mode)"
    again = registry.STUDIES["popstudy"].execute(cfg).result.origin
    assert again.startswith(f"loaded from the result cache {tmp_path / 'c'}, made by `codigem-lab")
    assert again.endswith(f"at code version {code_version()}") and "\n" not in again


def test_provenance_is_the_origin_line_with_the_notes_folded():
    result = TableResult(
        "T", pd.DataFrame(), [], notes=["p < 0.05 withdrawn"], origin="loaded from f"
    )
    text = session.provenance(result).data
    first, rest = text.split("\n", 1)
    assert first == "*loaded from f*"
    assert (
        rest.strip().startswith("<details><summary>") and "<li>p &lt; 0.05 withdrawn</li>" in rest
    )
    assert session.provenance(TableResult("T", pd.DataFrame(), [], origin="x")).data == "*x*"


# ------------------------------------------------------------------------- progress bars
def test_a_sections_bar_stays_and_each_runs_bar_closes_inside_it():
    from types import SimpleNamespace

    from codigem_lab.train import Trainer, inner_bars

    quiet = SimpleNamespace(
        config=SimpleNamespace(progress=False), dist=SimpleNamespace(is_main=True)
    )
    assert Trainer._bar(quiet, [], "training").leave is True  # a run alone: its bar stays
    with inner_bars():
        assert Trainer._bar(quiet, [], "training").leave is False
    assert Trainer._bar(quiet, [], "training").leave is True
    seen = [
        (i, Trainer._bar(quiet, [], "t").leave) for i in session.section_bar([1, 2], "runs", False)
    ]
    assert seen == [(1, False), (2, False)]


def test_a_studys_runs_train_with_one_bar_over_them(tmp_path, monkeypatch):
    from codigem_lab import train
    from codigem_lab.experiments import common

    seen = []

    class Cache:
        root = tmp_path

        def get(self, spec):
            return None

        def run(self, spec):
            seen.append(train._INNER_BARS[0])
            return spec

    monkeypatch.setattr(common, "run_label", str)
    common.run_specs([1, 2], Cache(), progress=False)
    assert seen == [True, True] and train._INNER_BARS[0] is False
