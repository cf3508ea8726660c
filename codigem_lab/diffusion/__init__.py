"""CODIGEM's diffusion model: noise schedule (eqs 4-5), the model and its ELBO (eqs 8-13), checks."""

from codigem_lab.diffusion.checks import (
    CheckReport,
    check_gaussian_kl,
    check_marginal,
    check_preset_faithfulness,
    check_rearrangements,
    check_toy_elbo_gap,
    gaussian_kl,
    run_all_checks,
)
from codigem_lab.diffusion.model import (
    CODIGEM,
    PRESETS,
    CODIGEMConfig,
    ELBOTerms,
    n_flops_per_example,
)
from codigem_lab.diffusion.schedule import SCHEDULES, NoiseSchedule, q_step_sample

__all__ = [
    "CODIGEM",
    "PRESETS",
    "SCHEDULES",
    "CODIGEMConfig",
    "CheckReport",
    "ELBOTerms",
    "NoiseSchedule",
    "check_gaussian_kl",
    "check_marginal",
    "check_preset_faithfulness",
    "check_rearrangements",
    "check_toy_elbo_gap",
    "gaussian_kl",
    "n_flops_per_example",
    "q_step_sample",
    "run_all_checks",
]
