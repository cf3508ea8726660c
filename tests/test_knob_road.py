"""A knob reaches eq (5) typed and checked once: `codigem-lab train --beta B` and the explorer's
slider (docs/architecture.md, "From a knob to eq (5)")."""

import sys

import torch
from course.explorer_runs import Explorer

from codigem_lab.cli import build_parser
from codigem_lab.cli_train import spec_from_args
from codigem_lab.data.spec import DataSpec
from codigem_lab.models import build_model
from codigem_lab.runs import run_training


class Calls:
    """Counts calls of check_beta for the knob ``beta`` and of q_step_sample, by frame."""

    def __init__(self) -> None:
        self.checks, self.steps, self.betas = 0, 0, []

    def __call__(self, frame, event, arg) -> None:
        if event != "call" or "codigem_lab" not in frame.f_code.co_filename:
            return
        name = frame.f_code.co_name
        if name == "check_beta" and frame.f_locals.get("name") == "beta":
            self.checks += 1
        elif name == "q_step_sample":
            self.steps += 1
            self.betas.append(frame.f_locals["beta_i"])

    def __enter__(self):
        sys.setprofile(self)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(None)


def test_cli_beta_is_checked_once_on_its_way_to_eq5(tmp_path) -> None:
    argv = ["train", "--dataset", "synthetic", "--device", "cpu", "--beta", "0.003", "--T", "2",
            "--max-epochs", "1", "--no-progress", "--decoder-only"]  # fmt: skip
    args = build_parser().parse_args(argv)
    with Calls() as calls:
        run_training(spec_from_args(args), tmp_path)
    assert calls.checks == 1
    assert calls.steps > 0 and set(calls.betas) == {0.003}


def test_slider_beta_is_checked_once_on_its_way_to_eq5(tmp_path) -> None:
    explorer = Explorer("synthetic", cache=str(tmp_path), max_users=80)
    split = DataSpec(max_users=80).load()
    with Calls() as calls:
        spec = explorer.setting(beta=0.3, T=4).spec()  # what ExplorerPanel.update hands explore
        rec = build_model(spec.model, spec.variant, spec.config, spec.train)
        module = rec.build(split)
        module.seed_noise(0)
        module.loss(torch.ones(3, split.n_items), step=0)
    assert calls.checks == 1
    assert calls.betas == [0.3]  # the decoder-only fast path: z_1 only
    # the explorer's alpha_bar readout and the model read the one schedule the config built
    assert rec.config.noise_schedule() is spec.config.config.noise_schedule()
    assert module.model.schedule is spec.config.config.noise_schedule()
