"""Results that cannot drift: every committed ``results/**/*.md`` is its ``.json``
rendered by ``render_markdown``, names the command that made it, and the README tables between
``<!-- results:... -->`` markers are generated from the files (``tools/render_results.py``)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from codigem_lab.experiments.tables import FORMAT, TableResult, render_markdown

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
COMMAND = re.compile(r"^(codigem-lab |python benchmarks/|python tools/)")


def _tool():
    spec = importlib.util.spec_from_file_location(
        "render_results", ROOT / "tools/render_results.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


TOOL = _tool()
TABLES = TOOL.table_files()


def test_there_are_results_files():
    assert len(TABLES) >= 9


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_md_is_its_json_rendered(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    md = path.with_suffix(".md")
    assert md.exists(), f"{md} missing"
    assert md.read_text(encoding="utf-8") == render_markdown(doc), (
        f"{md.relative_to(ROOT)} differs from its .json: run python tools/render_results.py"
    )


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_json_carries_command_and_provenance(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == FORMAT
    assert COMMAND.match(doc["command"]), doc["command"]
    prov = doc["provenance"]
    assert prov["wall_s"] == doc["wall_s"] and prov["wall_s"] >= 0
    assert prov.get("machine") or prov.get("threads"), "machine or thread count must be recorded"
    if prov.get("machine"):
        assert {"platform", "cpu", "threads"} <= set(prov["machine"])


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_display_cells_show_the_rows_numbers(path):
    """The display table (text) and the rows (numbers) of one file agree on each row's means."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    cells = doc["table"]["cells"]
    for row, line in zip(doc["rows"], cells):
        for m in ("R@50", "N@50"):
            if f"{m}_mean" in row:
                assert any(c.startswith(f"{row[f'{m}_mean']:.4f}") for c in line), (row, line)
    assert len(doc["rows"]) == len(cells)


def test_every_md_in_results_names_its_command():
    """A table's .md ends with its command; any other .md in results/ (a benchmark's write-up)
    names the command that made it on a line of its own."""
    mds = [p for p in RESULTS.rglob("*.md") if p.name != "README.md"]
    assert mds
    for md in mds:
        lines = md.read_text(encoding="utf-8").rstrip("\n").splitlines()
        if md.with_suffix(".json").exists():
            assert lines[-1] == "```", f"{md}: does not end with its command block"
            assert COMMAND.match(lines[-2]), f"{md}: last line {lines[-2]!r} is not a command"
        else:
            assert any(COMMAND.match(ln.strip()) for ln in lines), f"{md}: names no command"


def test_no_md_escapes_rendering():
    """A JSON that is not a results table (a benchmark's raw record) has no .md of the same
    name, so every .md beside a JSON is one the render test checks."""
    others = set(RESULTS.rglob("*.json")) - set(TABLES) - {RESULTS / "claims.json"}
    assert {p.relative_to(RESULTS).as_posix() for p in others} >= {"ml20m/bench-cpu-1thread.json"}
    for p in others:
        assert not p.with_suffix(".md").exists(), f"{p}: has a .md but is not a results table"


def test_claims_ledger_is_generated_from_the_files():
    """results/claims.md and .json are what ``codigem-lab claims`` makes of the files now."""
    from codigem_lab.experiments import claims

    assert claims.stale(RESULTS, RESULTS) == [], "run codigem-lab claims"


def test_readme_tables_are_generated_from_the_files():
    seen = set()
    for rel in TOOL.MARKED:
        text = (ROOT / rel).read_text(encoding="utf-8")
        seen |= {m.group("name") for m in TOOL.MARKER.finditer(text)}
        assert TOOL.render_blocks(text) == text, (
            f"{rel}: a marked table differs from the results files; run "
            "python tools/render_results.py"
        )
    assert seen == set(TOOL.BLOCKS), f"markers missing for {set(TOOL.BLOCKS) - seen}"


def test_check_mode_catches_an_edited_md(tmp_path, monkeypatch):
    folder = tmp_path / "results" / "t"
    folder.mkdir(parents=True)
    res = TableResult(
        "T", pd.DataFrame({"R@50": ["0.5000"]}, index=pd.Index(["m"], name="model")),
        [{"model": "m", "R@50_mean": 0.5}], ["a note"], 1.5, "codigem-lab reproduce t",
    )  # fmt: skip
    res.save(folder, "t")
    monkeypatch.setattr(TOOL, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(TOOL, "ROOT", tmp_path)
    assert TOOL.differences() == []
    md = folder / "t.md"
    md.write_text(md.read_text().replace("0.5000", "0.5001"))
    assert TOOL.differences() == ["results/t/t.md"]
    assert TOOL.main(["--check"]) == 1
    assert TOOL.main([]) == 0 and TOOL.differences() == []


def test_save_writes_md_from_json_with_provenance(tmp_path):
    table = pd.DataFrame({"R@50": ["0.4187 [0.3825, 0.4549]"]}, index=pd.Index(["x"], name="m"))
    res = TableResult(
        "Name", table, [{"R@50_mean": 0.4187}], ["n1"], 12.0, "codigem-lab reproduce x"
    )
    paths = res.save(tmp_path, "stem")
    assert sorted(p.suffix for p in paths) == [".csv", ".json", ".md"]
    doc = json.loads((tmp_path / "stem.json").read_text())
    assert (tmp_path / "stem.md").read_text() == render_markdown(doc)
    m = doc["provenance"]["machine"]
    assert m["threads"] >= 1 and m["cpu"] and m["platform"]
    assert doc["provenance"]["wall_s"] == 12.0 and doc["provenance"]["code_version"]
    text = (tmp_path / "stem.md").read_text()
    assert text.rstrip().endswith("```\ncodigem-lab reproduce x\n```")
    assert "torch threads:" in text and "Wall time" in text and "n1" in text
    assert doc["table"]["cells"] == [["0.4187 [0.3825, 0.4549]"]]


KEPT_STALE = json.loads((RESULTS / "kept-stale.json").read_text(encoding="utf-8"))
STALE_REASON = re.compile(r"made before .+; regenerate with codigem-lab reproduce all")


def test_committed_results_carry_one_code_version_or_are_listed_as_kept_stale():
    versions: dict[str | None, list[str]] = {}
    for path in TABLES:
        rel = path.relative_to(RESULTS).as_posix()
        version = json.loads(path.read_text(encoding="utf-8"))["provenance"].get("code_version")
        if rel not in KEPT_STALE:
            versions.setdefault(version, []).append(rel)
    assert None not in versions, f"results without a code version: {versions.get(None)}"
    assert len(versions) <= 1, (
        f"results made by {len(versions)} code versions: {versions}; regenerate them with "
        "`codigem-lab reproduce all`, or list the older ones in results/kept-stale.json"
    )
    for rel, reason in KEPT_STALE.items():
        assert (RESULTS / rel).is_file(), f"results/kept-stale.json names no file {rel}"
        assert STALE_REASON.fullmatch(reason), (rel, reason)
        doc = json.loads((RESULTS / rel).read_text(encoding="utf-8"))
        assert doc["provenance"].get("code_version") not in versions, f"{rel} is not stale"


def test_every_place_showing_a_kept_stale_file_says_so():
    listing = TOOL.results_files()
    for rel in KEPT_STALE:
        assert f"[`{rel}`]({rel.replace('.json', '.md')}) (kept stale)" in listing
    shown = {name: block.rel for name, block in TOOL.BLOCKS.items() if hasattr(block, "rel")}
    assert "table2-ml-1m-strong-minK" in shown  # the blocks that show one results file
    for name, rel in shown.items():
        if rel in KEPT_STALE:
            assert "kept stale" in TOOL.BLOCKS[name](), name


def _regeneration_text(tmp_path, monkeypatch, wall_s: float, trained: int) -> str:
    tool = _tool()
    results = tmp_path / "results"
    (results / "bench").mkdir(parents=True, exist_ok=True)
    (results / "t").mkdir(exist_ok=True)
    (results / "t" / "a.json").write_text(json.dumps({"provenance": {"code_version": "abc"}}))
    raw = {
        "command": "python benchmarks/reproduce_all.py",
        "written_utc": "2026-01-01T00:00:00Z",
        "commit": "c0ffee",
        "cores": 2,
        "workers": 2,
        "wall_s": wall_s,
        "gemm_gflops_1thread": [100.0, 90.0],
        "estimated_min": {"results/t/a.json": 70.0},
        "files": [{"file": "x", "remakes": "results/t/a.json", "runs": 4, "trained": trained}],
    }
    (results / "bench" / "reproduce-all-raw.json").write_text(json.dumps(raw))
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "RESULTS", results)
    return tool.regeneration()


def test_regeneration_block_reports_the_run_and_judges_the_hour(tmp_path, monkeypatch):
    slow = _regeneration_text(tmp_path, monkeypatch, wall_s=4000.0, trained=4)
    assert "code version abc" in slow and "66.7 min" in slow and "target is not met" in slow
    assert "empty result cache: all 4 runs" in slow and "came from the result cache" not in slow
    resumed = _regeneration_text(tmp_path, monkeypatch, wall_s=600.0, trained=1)
    assert "target is not met" in resumed  # a resumed run says nothing about a cold one
    assert "1 were trained" in resumed and "came from the result cache" in resumed
    cold = _regeneration_text(tmp_path, monkeypatch, wall_s=3000.0, trained=4)
    assert "target is met" in cold


def _restamp_tool():
    spec = importlib.util.spec_from_file_location("restamp", ROOT / "tools/restamp_results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_restamp_carries_files_of_a_commit_with_the_same_syntax_trees(tmp_path, monkeypatch):
    from codigem_lab.experiments.cache import code_version

    tool = _restamp_tool()
    old = tool.byte_version(tool.run_sources_at("HEAD"))
    (tmp_path / "t").mkdir()
    made = {"name": "T", "rows": [], "provenance": {"code_version": old, "wall_s": 1.0}}
    other = {"name": "U", "rows": [], "provenance": {"code_version": "000000000000"}}
    (tmp_path / "t" / "a.json").write_text(json.dumps(made))
    (tmp_path / "t" / "b.json").write_text(json.dumps(other))
    assert tool.restamp(tmp_path, "HEAD") == [tmp_path / "t" / "a.json"]
    prov = json.loads((tmp_path / "t" / "a.json").read_text())["provenance"]
    assert prov["code_version"] == code_version() and f"Made at code version {old}" in prov["note"]
    assert json.loads((tmp_path / "t" / "b.json").read_text()) == other
    monkeypatch.setattr(tool, "code_version", lambda: "ffffffffffff")  # other code: refused
    (tmp_path / "t" / "a.json").write_text(json.dumps(made))
    with pytest.raises(SystemExit, match="regenerate"):
        tool.restamp(tmp_path, "HEAD")
    assert json.loads((tmp_path / "t" / "a.json").read_text()) == made


def test_restamp_carries_cache_records_of_a_commit_with_same_trees(tmp_path, monkeypatch):
    from codigem_lab.experiments.cache import code_version

    tool = _restamp_tool()
    old = tool.byte_version(tool.run_sources_at("HEAD"))
    for key, version in (("a", old), ("b", "000000000000")):
        (tmp_path / key).mkdir()
        (tmp_path / key / "record.json").write_text(json.dumps({"code_version": version}))
    assert tool.restamp_cache(tmp_path, "HEAD") == [tmp_path / "a" / "record.json"]
    stamp = {
        k: json.loads((tmp_path / k / "record.json").read_text())["code_version"] for k in "ab"
    }
    assert stamp == {"a": code_version(), "b": "000000000000"}
    monkeypatch.setattr(tool, "code_version", lambda: "ffffffffffff")  # other code: refused
    (tmp_path / "a" / "record.json").write_text(json.dumps({"code_version": old}))
    with pytest.raises(SystemExit, match="regenerate"):
        tool.restamp_cache(tmp_path, "HEAD")
    assert json.loads((tmp_path / "a" / "record.json").read_text())["code_version"] == old
