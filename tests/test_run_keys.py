"""Run keys are pinned: the result cache and the committed results are found by them.

The keys below were computed before the knob road became typed; a spec built by the CLI, the
explorer, a study's config or by hand must keep naming the same run.
"""

import pytest

from codigem_lab.cli import build_parser
from codigem_lab.cli_train import spec_from_args
from codigem_lab.data.spec import DataSpec
from codigem_lab.experiments.common import ExperimentConfig
from codigem_lab.experiments.explore import ExploreSetting
from codigem_lab.runs import RunSpec
from codigem_lab.train import TrainConfig

PINNED = {
    "cli_beta_T": "169cd7ec90f6",
    "cli_released_many": "738a9ab5f66f",
    "cli_reverse": "b977450e92f5",
    "cli_plain": "c3de2af7e3e0",
    "cli_pop": "8542ae3f7381",
    "explore_base": "a45e3cb3ac97",
    "explore_released_IV": "5b29abf72f67",
    "explore_pop": "8542ae3f7381",
    "exp_reverse": "a7e7dedad4e0",
    "exp_reverse_bf16": "b62374ac02c8",
    "exp_fast": "16464d7247a7",
    "exp_wmf": "36434ba929e4",
    "raw_linear": "3ee53e5925b0",
    "cli_linear": "3ee53e5925b0",  # the CLI now sets beta_end: the same run as the dict spells it
}


def cli(*words: str) -> RunSpec:
    argv = ["train", "--dataset", "synthetic", "--device", "cpu", *words]
    return spec_from_args(build_parser().parse_args(argv))


def specs() -> dict:
    quick = ExperimentConfig(DataSpec(), quick=True, device="cpu")
    fast = ExperimentConfig(DataSpec()).codigem_params(
        {"anneal_steps": 200000, "anneal_cap": 0.2}, fast=True
    )
    return {
        "cli_beta_T": lambda: cli("--beta", "1e-4", "--T", "3", "--max-epochs", "2"),
        "cli_released_many": lambda: cli(
            "--variant",
            "released",
            "--beta",
            "0.01",
            "--T",
            "5",
            "--hidden",
            "64",
            "--likelihood",
            "multinomial",
            "--anneal-steps",
            "100",
            "--anneal-cap",
            "0.2",
            "--dropout",
            "0.5",
            "--skip-forward",
            "--decoder-only",
        ),  # fmt: skip
        "cli_reverse": lambda: cli("--score-mode", "reverse", "--schedule", "cosine"),
        "cli_plain": lambda: cli(),
        "cli_pop": lambda: cli("--model", "pop"),
        "explore_base": lambda: ExploreSetting(dataset="synthetic").spec(),
        "explore_released_IV": lambda: ExploreSetting(
            dataset="synthetic",
            preset="released",
            variant="IV",
            input_scaling="minus1_1",
            beta=0.3,
            T=7,
        ).spec(),  # fmt: skip
        "explore_pop": lambda: ExploreSetting(dataset="synthetic").spec("pop"),
        "exp_reverse": lambda: ExperimentConfig(
            DataSpec(), score_mode="reverse", device="cpu", bf16=False
        ).spec("codigem", 0, "paper"),
        "exp_reverse_bf16": lambda: ExperimentConfig(  # the studies' default: CODIGEM in bf16
            DataSpec(), score_mode="reverse", device="cpu"
        ).spec("codigem", 0, "paper"),
        "exp_fast": lambda: quick.spec("codigem", 1, "released", fast),
        "exp_wmf": lambda: quick.spec("wmf", 0),
        "raw_linear": lambda: RunSpec(
            DataSpec(),
            "codigem",
            "paper",
            {"schedule": "linear", "beta": 1e-4, "beta_end": 0.02, "T": 4},
            TrainConfig(device="cpu"),
        ),  # fmt: skip
        "cli_linear": lambda: cli(
            "--schedule", "linear", "--beta", "1e-4", "--beta-end", "0.02", "--T", "4"
        ),
    }


@pytest.mark.parametrize("name", list(PINNED))
def test_run_key_is_pinned(name: str) -> None:
    assert specs()[name]().key() == PINNED[name]
