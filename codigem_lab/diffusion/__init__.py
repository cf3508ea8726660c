"""CODIGEM's diffusion model: noise schedule (eqs 4-5), the model and ELBO (eqs 8-13), checks."""

from codigem_lab.diffusion.checks import CheckReport, run_all_checks
from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig, ELBOTerms, n_flops_per_example
from codigem_lab.diffusion.schedule import NoiseSchedule, q_marginal_sample, q_step_sample

__all__ = [
    "CODIGEM",
    "CODIGEMConfig",
    "CheckReport",
    "ELBOTerms",
    "NoiseSchedule",
    "n_flops_per_example",
    "q_marginal_sample",
    "q_step_sample",
    "run_all_checks",
]
