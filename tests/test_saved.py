"""A finished run reopened: load_run gives the trained scores, recommend lists unseen items."""

from __future__ import annotations

import shutil

import pytest
import torch

from codigem_lab import load_run
from codigem_lab._io import write_json
from codigem_lab.cli import main
from codigem_lab.data.spec import DataSpec
from codigem_lab.errors import ConfigError
from codigem_lab.runs import RunSpec, run_training
from codigem_lab.saved import open_run
from codigem_lab.train import TrainConfig

from .conftest import shared_file
from .test_cli import last_json
from .test_experiments_cache import small_synthetic  # noqa: F401 (fixture)

#: every run here is on the small synthetic data
pytestmark = pytest.mark.usefixtures("small_synthetic")


def spec(model="codigem", protocol="strong", **data) -> RunSpec:
    return RunSpec(
        DataSpec(protocol=protocol, **data),
        model,
        "paper" if model == "codigem" else None,
        {"T": 2} if model == "codigem" else {},
        TrainConfig(max_epochs=2, progress=False, seed=1),
    )


@pytest.mark.parametrize(
    "model, protocol",
    [("codigem", "strong"), ("bpr", "ratio"), ("itemknn", "strong"), ("ease", "strong"),
     ("wmf", "ratio"), ("pop", "ratio")],
)  # fmt: skip
def test_load_run_scores_like_the_trained_recommender(tmp_path, model, protocol):
    out = run_training(spec(model, protocol), tmp_path / "run")
    es = out.split.test
    rec = load_run(tmp_path / "run")
    assert type(rec) is type(out.recommender)
    torch.testing.assert_close(
        torch.as_tensor(rec.score(es.fold_in, es.train_rows)),
        torch.as_tensor(out.recommender.score(es.fold_in, es.train_rows)),
    )


def test_recommend_prints_top_k_without_fold_in_items(tmp_path, capsys):
    run = tmp_path / "run"
    out = run_training(spec(), run)
    es = out.split.test
    user, row = int(es.users[0]), 0
    assert main(["recommend", str(run), "--user", str(user), "--k", "7", "--json"]) == 0
    printed = capsys.readouterr().out
    got = last_json(printed)
    items = [d["item"] for d in got["items"]]
    assert len(items) == 7 and [d["rank"] for d in got["items"]] == list(range(1, 8))
    assert not set(items) & set(out.split.items[es.fold_in[row].indices].tolist())
    assert f"item {items[0]}" in printed  # synthetic data has no titles
    # the ranking is the trained model's, masked as the evaluator masks
    scores = torch.as_tensor(out.recommender.score(es.fold_in[[row]])).float()[0]
    scores[torch.from_numpy(es.mask[row].toarray()[0] > 0)] = float("-inf")
    top = out.split.items[torch.topk(scores, 7).indices.numpy()].tolist()
    assert items == top


def test_unknown_user_is_one_line_saying_where_the_ids_are(tmp_path, capsys):
    run_training(spec("pop"), tmp_path / "run")
    assert main(["recommend", str(tmp_path / "run"), "--user", "-5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "user -5 is not a test or validation user" in err and "test_per_user.csv" in err


def test_a_checkpoint_of_another_item_set_is_refused_in_one_line(tmp_path, capsys):
    run_training(spec(), tmp_path / "a")
    fewer = spec(item_core=40)  # another item set: fewer items survive the core filter
    n_a, n_b = open_run(tmp_path / "a").split.n_items, fewer.data.load().n_items
    assert n_a != n_b
    (tmp_path / "b").mkdir()
    write_json(tmp_path / "b" / "config.json", fewer.to_dict())
    shutil.copy(tmp_path / "a" / "best.pt", tmp_path / "b" / "best.pt")
    assert main(["recommend", str(tmp_path / "b"), "--user", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert (
        f"checkpoint was made by model codigem with {n_a} items; "
        f"this run/split has model codigem with {n_b} items"
    ) in err
    # an older checkpoint without the item count: its weights' shapes give it away
    ck = torch.load(tmp_path / "b" / "best.pt", weights_only=True)
    del ck["model_config"]["n_items"]
    torch.save(ck, tmp_path / "b" / "best.pt")
    with pytest.raises(ConfigError, match=f"this run/split has model codigem with {n_b} items"):
        load_run(tmp_path / "b")
    # a checkpoint made by another model
    train = TrainConfig(max_epochs=1, progress=False)
    run_training(RunSpec(DataSpec(), "multdae", None, {}, train), tmp_path / "c")
    shutil.copy(tmp_path / "c" / "best.pt", tmp_path / "a" / "best.pt")
    with pytest.raises(ConfigError, match="made by model multdae .* has model codigem"):
        load_run(tmp_path / "a")


def test_not_a_run_folder(tmp_path):
    with pytest.raises(ConfigError, match="not a run folder"):
        load_run(tmp_path)


@pytest.mark.shared_data
def test_recommend_on_ml100k_shows_titles(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    shutil.copytree(shared_file("ml-100k"), cache / "ml-100k")
    monkeypatch.setenv("CODIGEM_LAB_DATA", str(cache))
    run = tmp_path / "run"
    argv = ["train", "--dataset", "ml-100k", "--model", "pop", "--no-progress", "--run-dir"]
    assert main([*argv, str(run)]) == 0
    user = int(open_run(run).split.test.users[0])
    capsys.readouterr()
    assert main(["recommend", str(run), "--user", str(user), "--k", "5", "--json"]) == 0
    got = last_json(capsys.readouterr().out)
    titles = [d["title"] for d in got["items"]]
    assert len(titles) == 5 and all(not t.startswith("item ") for t in titles)
    assert any("(19" in t for t in titles)  # MovieLens titles end with their year
