"""The study registry: one definition per study feeds the CLI, the notebooks and the commands."""

from __future__ import annotations

import shlex

import pytest
from course.settings import experiment_config

from codigem_lab.cli import build_parser
from codigem_lab.data import DataSpec
from codigem_lab.experiments.common import ExperimentConfig
from codigem_lab.experiments.registry import STUDIES, get_study
from codigem_lab.reproduce import config_from_args
from codigem_lab.viz.studies import FIGURES


def _cli(command: str) -> ExperimentConfig:
    return config_from_args(build_parser().parse_args(shlex.split(command)[1:]))


def test_every_study_is_a_cli_choice_and_every_listed_figure_has_a_maker():
    reproduce = next(
        a for a in build_parser()._subparsers._group_actions[0].choices["reproduce"]._actions
        if a.dest == "what"
    )  # fmt: skip
    assert list(reproduce.choices) == [*STUDIES, "all"]
    for study in STUDIES.values():
        for suffix in study.figures:
            assert suffix in FIGURES[study.name], (study.name, suffix)


@pytest.mark.parametrize("name", list(STUDIES))
def test_the_printed_command_rebuilds_the_same_config(name):
    cfg = ExperimentConfig(
        data_spec=DataSpec("csv", "some/ratings.csv", "paper-ml1m", "ratio"),
        seeds=(0, 1),
        split_seed=4,
        recall_definition="targets",
        max_epochs=7,
        quick=True,
        extra={"paper_dataset": "ml-1m"},
    )
    back = _cli(get_study(name).command(cfg))
    assert back.data_spec == cfg.data_spec
    for field in ("seeds", "split_seed", "recall_definition", "max_epochs", "quick"):
        assert getattr(back, field) == getattr(cfg, field), field
    assert back.extra == cfg.extra


def test_study_options_reach_extra_and_back():
    cfg = _cli("codigem-lab reproduce table3 --dataset ml-100k --presets released --quick")
    assert cfg.extra == {"presets": ("released",)}
    assert "--presets released" in get_study("table3").command(cfg)
    assert get_study("table3").stem(cfg) == "table3-ml-100k-strong-released-quick"
    t2 = _cli("codigem-lab reproduce table2 --dataset ml-100k --models pop,itemknn")
    assert t2.extra == {"models": "pop,itemknn"}
    with pytest.raises(SystemExit):
        _cli("codigem-lab reproduce table3 --presets nonsense")


def test_notebook_settings_give_the_registry_command():
    cfg = experiment_config("synthetic", quick=True, models="pop")
    assert "--models pop" in get_study("table2").command(cfg)
    assert _cli(get_study("table2").command(cfg)).extra == cfg.extra


def test_split_seed_is_separate_from_the_training_seed():
    cfg = ExperimentConfig(seeds=(0, 1, 2))
    assert [cfg.data(s).seed for s in cfg.seeds] == [0, 1, 2]
    fixed = ExperimentConfig(seeds=(0, 1, 2), split_seed=5)
    assert [fixed.data(s).seed for s in fixed.seeds] == [5, 5, 5]
    assert [fixed.spec("pop", s).train.seed for s in fixed.seeds] == [0, 1, 2]


def test_unknown_study_is_refused_with_the_list():
    with pytest.raises(Exception, match="choose one of table2"):
        get_study("table9")


def test_score_mode_and_fast_path_reach_the_codigem_runs():
    cfg = _cli("codigem-lab reproduce fig3 --dataset ml-100k --score-mode reverse")
    assert cfg.score_mode == "reverse" and "--score-mode reverse" in get_study("fig3").command(cfg)
    assert get_study("fig3").stem(cfg) == "fig3-ml-100k-strong-reverse-scoring"
    assert cfg.codigem_params({"T": 5}, fast=True) == {"T": 5, "score_mode": "reverse"}
    assert cfg.spec("codigem", 0, "paper").params == {"score_mode": "reverse"}
    assert cfg.spec("pop", 0).params == {}
    dec = ExperimentConfig()
    assert dec.codigem_params({"T": 5}, fast=True) == {"T": 5, "decoder_only": True}
    assert dec.codigem_params({"T": 5}, fast=False) == {"T": 5}
    full = _cli("codigem-lab reproduce fig2 --full-model")
    assert full.full_model and full.codigem_params({}, fast=True) == {}


def test_a_stored_command_leaves_out_where_the_cache_lies():
    cfg = _cli("codigem-lab reproduce table2 --dataset ml-100k --cache-root /tmp/c --no-keep-best")
    assert cfg.cache_root == "/tmp/c" and cfg.keep_best is False
    command = get_study("table2").command(cfg)
    assert "--cache-root" not in command and "keep-best" not in command
    assert "--dataset ml-100k" in command
