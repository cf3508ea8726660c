import json
import shutil
import subprocess
import sys

import pytest

from codigem_lab.cli import main

from .conftest import shared_file


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_data_stats_json_synthetic(capsys):
    assert main(["data", "stats", "--json"]) == 0
    stats = last_json(capsys.readouterr().out)
    assert stats["users"] == 943 and stats["items"] > 1500
    assert {"users", "items", "interactions", "sparsity"} <= set(stats)


@pytest.mark.shared_data
def test_data_stats_paper_ml1m_console_script():
    src = shared_file("ml-1m", "ratings_no_timestamp.csv")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "codigem_lab.cli",
            "data",
            "stats",
            "--dataset",
            "csv",
            "--source",
            str(src),
            "--preset",
            "paper-ml1m",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stats = last_json(out)
    assert (stats["users"], stats["items"], stats["interactions"]) == (6033, 3123, 834_449)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "stats", "--dataset", "ml-2m"], "unknown dataset"),
        (["data", "stats", "--dataset", "csv"], "source"),
        (
            ["data", "stats", "--dataset", "csv", "--source", "/nonexistent/r.csv"],
            "/nonexistent/r.csv",
        ),
        (["data", "stats", "--preset", "paper"], "unknown preprocessing preset"),
        (["data", "stats", "--min-rating", "9"], "left no interactions"),
        (["train", "--model", "nope", "--no-progress"], "unknown model"),
        (["train", "--beta", "1.5", "--no-progress"], "beta"),
        (["train", "--protocol", "ratio", "--heldout", "10", "--no-progress"], "--heldout"),
        (["evaluate", "/nonexistent-run"], "not a run folder"),
        (["train", "--seed", "-1", "--no-progress"], "seed"),
        (["--threads", "-2", "data", "stats"], "--threads"),
        (["reproduce", "table3", "--quick", "--no-save", "--max-epochs", "0"], "--max-epochs"),
        (["reproduce", "table3", "--quick", "--no-save", "--split-seed", "-3"], "--split-seed"),
        (["reproduce", "all", "--dry-run", "--workers", "0"], "--workers"),
        (["train", "--resume", "--overwrite", "--no-progress"], "pick one"),
        (["train", "--model", "pop", "--beta", "0.3", "--no-progress"], "--beta"),
        (["train", "--model", "pop", "--variant", "released", "--no-progress"], "--variant"),
        (["train", "--distributed", "--nproc", "0", "--no-progress"], "--nproc"),
        (["train", "--beta-end", "0.5", "--no-progress"], "--schedule linear"),
        (["reproduce", "table2", "--quick", "--no-save", "--paper-dataset", "x"], "ml-20m"),
        (["reproduce", "diffrec-ml1m", "--quick", "--no-save", "--paper-dataset", "x"], "yelp"),
        (["explore", "--max-users", "0"], "max_users"),
        (["explore", "--seed", "-1"], "seed"),
        (["reproduce", "fig2", "--quick", "--no-save", "--models", "pop"], "--models"),
        (["reproduce", "table2", "--quick", "--no-save", "--presets", "paper"], "--presets"),
        (["reproduce", "all", "--dry-run", "--presets", "paper"], "--presets"),
        (["reproduce", "table3", "--quick", "--no-save", "--workers", "2"], "--workers"),
    ],
)
def test_errors_are_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("codigem-lab: error:") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_debug_shows_traceback(capsys):
    assert main(["--debug", "data", "stats", "--dataset", "ml-2m"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_train_then_evaluate(tmp_path, capsys):
    run = tmp_path / "run"
    argv = [
        "train",
        "--max-epochs",
        "2",
        "--no-progress",
        "--json",
        "--run-dir",
        str(run),
        "--T",
        "2",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    res = last_json(out)
    assert set(res) == {
        "R@20",
        "R@50",
        "N@20",
        "N@50",
        "N@100",
        "ARP@50",
        "novelty@50",
        "coverage@50",
        "epochs",
        "best_epoch",
        "train_s_per_epoch",
        "eval_s_per_epoch",
    }
    assert res["epochs"] == 2 and "N@100" in out and "coverage@50" in out
    assert res["ARP@50"] > 0 and res["novelty@50"] > 0 and 0 < res["coverage@50"] <= 1
    for f in (
        "config.json",
        "metrics.json",
        "history.csv",
        "best.pt",
        "last.pt",
        "test_per_user.csv",
    ):
        assert (run / f).exists(), f
    assert main(["evaluate", str(run), "--json"]) == 0
    again = last_json(capsys.readouterr().out)
    assert again["R@50"] == pytest.approx(res["R@50"])
    assert again["ARP@50"] == pytest.approx(res["ARP@50"])


def test_resume_refuses_other_options(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--max-epochs", "1", "--no-progress", "--run-dir", str(run)]) == 0
    assert (
        main(
            [
                "train",
                "--max-epochs",
                "1",
                "--no-progress",
                "--run-dir",
                str(run),
                "--beta",
                "0.01",
                "--resume",
            ]
        )
        == 2
    )
    assert "different options" in capsys.readouterr().err


def test_threads_from_the_environment_must_be_a_number(capsys, monkeypatch):
    monkeypatch.setenv("CODIGEM_LAB_THREADS", "abc")
    assert main(["data", "stats"]) == 2
    err = capsys.readouterr().err
    assert "$CODIGEM_LAB_THREADS" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["reproduce", "table3", "--quick", "--out"],
        ["claims", "--out"],
        ["train", "--no-progress", "--run-dir"],
        ["data", "stats", "--cache"],
    ],
)
def test_a_folder_flag_naming_a_file_fails_before_any_work(tmp_path, capsys, argv):
    file = tmp_path / "a-file"
    file.write_text("keep me")
    assert main([*argv, str(file)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert file.read_text() == "keep me"


def test_train_never_mixes_a_new_run_into_an_old_runs_folder(tmp_path, capsys):
    """``train`` into another run's folder is refused (nothing there changes), even when its own
    options would fail later; ``--overwrite`` deletes the old run's files first."""
    run = tmp_path / "run"
    base = ["train", "--max-epochs", "1", "--no-progress", "--run-dir", str(run)]
    assert main(base) == 0
    before = {f.name: f.read_bytes() for f in run.iterdir()}
    for extra in (
        ["--model", "pop"],
        ["--beta", "0.01"],
        ["--protocol", "ratio", "--heldout", "10"],
    ):
        assert main([*base, *extra]) == 2
        assert "already holds another run" in capsys.readouterr().err
        assert {f.name: f.read_bytes() for f in run.iterdir()} == before
    assert main(base) == 0  # the same run again is made again in place
    assert main([*base, "--model", "pop", "--overwrite"]) == 0
    assert json.loads((run / "config.json").read_text())["model"] == "pop"
    assert not (run / "best.pt").exists() and not (run / "last.pt").exists()  # CODIGEM's, gone


def test_a_run_folder_with_broken_files_is_one_line(tmp_path, capsys):
    """evaluate and recommend name the folder when its files do not make one run: a checkpoint
    of other shapes, an unreadable best.pt or config.json."""
    base = ["train", "--max-epochs", "1", "--no-progress", "--T", "2"]
    run, other = tmp_path / "run", tmp_path / "other"
    assert main([*base, "--run-dir", str(run)]) == 0
    assert main([*base, "--hidden", "20", "--run-dir", str(other)]) == 0
    capsys.readouterr()
    shutil.copy(other / "best.pt", run / "best.pt")  # another model's shapes
    breaks = [lambda: None, lambda: (run / "best.pt").write_bytes(b"not a checkpoint")]
    breaks.append(lambda: (run / "config.json").write_text("{ not json"))
    for damage in breaks:
        damage()
        for argv in (["evaluate", str(run)], ["recommend", str(run), "--user", "1"]):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert str(run) in err and "Traceback" not in err and err.count("\n") == 1, err


def test_claims_check_names_the_out_folder_it_checked(tmp_path, capsys):
    assert main(["claims", "--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert f"codigem-lab claims --out {tmp_path}`" in err


def test_a_wrong_paper_block_fails_before_any_run(tmp_path, capsys):
    cache = tmp_path / "cache"
    argv = ["reproduce", "table2", "--quick", "--no-save", "--no-progress", "--paper-dataset"]
    assert main([*argv, "ml-2m", "--cache-root", str(cache)]) == 2
    assert "no such block" in capsys.readouterr().err
    assert not list(cache.rglob("record.json"))


def test_check_elbo(capsys):
    assert main(["check-elbo", "--preset", "paper", "--json"]) == 0
    verdicts = last_json(capsys.readouterr().out)
    assert len(verdicts) == 6 and set(verdicts.values()) == {"pass"}  # six derivation checks
    assert main(["check-elbo", "--preset", "released", "--json"]) == 1
    out = capsys.readouterr().out
    assert last_json(out)["preset_faithfulness"] == "fail" and "pairing_bug" in out


def test_quickstart_offline(capsys):
    assert main(["quickstart", "--epochs", "2", "--no-progress", "--json"]) == 0
    out = capsys.readouterr().out
    assert "Table 1" in out and "Item-KNN" in out and "CODIGEM" in out
    summary = last_json(out)
    assert summary["Pop"]["R@50"] > 0


def _reproduce_config(*words):
    from codigem_lab.cli import build_parser
    from codigem_lab.reproduce import config_from_args

    return config_from_args(build_parser().parse_args(["reproduce", "table2", *words]))


def test_no_keep_best_reaches_the_result_cache_and_the_printed_command():
    kept, dropped = _reproduce_config(), _reproduce_config("--no-keep-best")
    assert kept.cache().keep_best is True and dropped.cache().keep_best is False
    assert "--no-keep-best" in dropped.to_argv() and "keep-best" not in " ".join(kept.to_argv())
    assert _reproduce_config(*dropped.to_argv()).keep_best is False


def test_recall_definition_help_names_diffrecs_and_the_default_of_every_protocol(capsys):
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "targets = hits / #targets (DiffRec's" in text
    assert "minK under every protocol, temporal and published included" in text
    for words in (["--protocol", "temporal"], ["--dataset", "published", "--source", "x"]):
        assert _reproduce_config(*words).recall_definition == "minK"  # what the help says
