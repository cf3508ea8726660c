"""The exercises of notebook 03_elbo.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

import dataclasses
import math

from .answers import direction, run_changed
from .exercise import Exercise, Mistake


def _log_normal_ref(v, mean, logvar):
    from codigem_lab.diffusion.model import log_normal

    return log_normal(v, mean, logvar)


def _log_normal_probes() -> list[tuple]:
    import torch

    g = torch.Generator().manual_seed(1)
    shape = (4, 9)
    v, mean = (
        torch.randn(shape, generator=g, dtype=torch.float64),
        torch.randn(shape, generator=g, dtype=torch.float64),
    )
    logvar = torch.randn(shape, generator=g, dtype=torch.float64)
    return [(v, mean, logvar), (v, mean, torch.zeros(shape, dtype=torch.float64))]


def _prior_at_data(D: int) -> float:
    import torch

    from codigem_lab.diffusion.model import log_normal_std

    return float(log_normal_std(torch.ones(1, D, dtype=torch.float64))[0])


def _expected_forward(D: int, beta: float) -> float:
    from course.deviations import expected_forward_term

    return expected_forward_term(D, beta)


def forward_terms_as_asked(x0, zs, beta):
    """The change exercise 03.predict_forward_term asks for: each q(z_i | .) conditioned on z_i."""
    return _library_forward_terms(x0, zs, beta, bug=True)


def _library_forward_terms(x0, zs, beta, bug=False):
    """-ln q(z_i | z_{i-1}), i = 1..T, per user, by the library's CODIGEM.forward."""
    import torch

    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    c = CODIGEMConfig(n_items=x0.shape[1], T=len(zs), beta=beta, hidden=2, n_layers=2)
    m = CODIGEM(dataclasses.replace(c, forward_term_bug=bug)).double()
    with torch.no_grad():
        return m((x0 + 1) / 2, latents=zs, reduction="none").forward_entropy


def _forward_probe():
    import torch

    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    x01 = (torch.rand(8, 300, generator=torch.Generator().manual_seed(6)) < 0.1).double()
    m = CODIGEM(CODIGEMConfig(n_items=300, hidden=2, n_layers=2)).double()
    x0 = m.scale_input(x01)
    return x0, m.sample_latents(x0, generator=torch.Generator().manual_seed(0)), 1e-4


def _total(terms) -> float:
    import torch

    return float(sum(torch.as_tensor(t).double().mean() for t in terms))


def _forward_precheck(forward_terms) -> str | None:
    x0, zs, beta = _forward_probe()
    got, why = run_changed("forward_terms_changed", forward_terms, x0, zs, beta)
    if why:
        return why
    if math.isclose(_total(got), _total(_library_forward_terms(x0, zs, beta)), rel_tol=1e-9):
        return "forward_terms_changed still conditions on z_{i-1}: change the prevs line to prevs = zs."
    if not math.isclose(_total(got), _total(forward_terms_as_asked(x0, zs, beta)), rel_tol=1e-6):
        return (
            "forward_terms_changed now differs in more than the prevs line: change only that line."
        )
    return None


def _forward_direction(forward_terms) -> str:
    """The ELBO adds the forward terms, so it moves as their sum does."""
    x0, zs, beta = _forward_probe()
    new = _total(forward_terms(x0, zs, beta))
    return direction(new, _total(_library_forward_terms(x0, zs, beta)))


EXERCISES = (
    Exercise(
        "03.forward_term",
        "What is the expected forward term E[-ln q(z_i | z_{i-1})] in nats, for D = 1000 items and "
        "beta = 0.01?",
        "number",
        lambda: _expected_forward(1000, 0.01),
        "-ln N(z_i | m, beta I) averages to D/2 (ln(2 pi beta) + 1): the entropy of a Gaussian of variance beta in D dimensions.",
        "It is the (differential) entropy of the Gaussian q(z_i | z_{i-1}), of variance beta in D dimensions.",
        (
            Mistake(
                lambda: 0.5 * 1000 * math.log(2 * math.pi * 0.01),
                "The +1 is missing: E[(z - m)^2 / beta] = 1 per item adds D/2.",
            ),
            Mistake(
                lambda: -_expected_forward(1000, 0.01),
                "Sign: the term is -ln q, the entropy, D/2 (ln 2 pi beta + 1), negative here because beta is small.",
            ),
            Mistake(
                lambda: _expected_forward(1000, 0.01) / 1000,
                "That is per item; the terms are summed over the D items.",
            ),
        ),
        rtol=1e-6,
    ),
    Exercise(
        "03.prior_at_data",
        "z_T is (almost) a +-1 vector at the paper's setting. What is ln N(z | 0, I) for a vector z of "
        "D = 1000 entries, each +1 or -1?",
        "number",
        lambda: _prior_at_data(1000),
        "ln N(z | 0, I) = -D/2 ln(2 pi) - |z|^2 / 2 = -D/2 (ln 2 pi + 1) when every z_d^2 = 1.",
        "ln N(z | 0, I) = -D/2 ln(2 pi) - |z|^2 / 2.",
        (
            Mistake(
                lambda: -500 * math.log(2 * math.pi),
                "The quadratic part -|z|^2 / 2 = -D/2 is missing.",
            ),
            Mistake(
                lambda: _prior_at_data(1000) / 1000,
                "That is per item; the ELBO's terms sum over the D items.",
            ),
        ),
    ),
    Exercise(
        "03.log_normal",
        "Write log_normal(v, mean, logvar) = ln N(v | mean, diag exp(logvar)), summed over the last axis "
        "(the density every ELBO term uses).",
        "function",
        _log_normal_ref,
        "-0.5 sum_d (ln 2 pi + logvar_d + (v_d - mean_d)^2 exp(-logvar_d)): the log density of independent Gaussians.",
        "Per item: -0.5 (ln 2 pi + logvar + (v - mean)^2 / exp(logvar)); then sum over the last axis.",
        (
            Mistake(
                lambda v, m, lv: (
                    -0.5 * (math.log(2 * math.pi) + lv + (v - m) ** 2 * lv.neg().exp())
                ),
                "Right per item, but not summed: the terms are sums over the last axis (.sum(-1)).",
            ),
            Mistake(
                lambda v, m, lv: (
                    -0.5 * (math.log(2 * math.pi) + lv + (v - m) ** 2 / lv.exp().sqrt())
                ).sum(-1),
                "exp(logvar) is the variance; divide the squared error by it, not by the standard deviation.",
            ),
        ),
        probes=lambda: _log_normal_probes(),
        rtol=1e-9,
    ),
    Exercise(
        "03.recall_deviations",
        "Which of the released code's deviations 1-5 can change Recall, with decoder scoring? Give a "
        "set of numbers, e.g. {1, 2}.",
        "set",
        lambda: {4, 5},
        "Only the decoder and its input reach the ranking: the initialisation (4) and the input scaling (5) change them; 1-3 only touch the KL side.",
        "Ask of each deviation: does it change the decoder's parameters, or the data the decoder reads?",
        (
            Mistake(
                lambda: {2, 4, 5},
                "Deviation 2 changes what the transition networks learn, but they never reach the decoder's ranking.",
            ),
            Mistake(
                lambda: {1, 2, 3, 4, 5},
                "Deviations 1 and 3 change only what is reported, and 2 only the transition networks.",
            ),
        ),
    ),
    Exercise(
        "03.predict_forward_term",
        "Predict first, then change one line: in forward_terms_changed, condition each forward term "
        "on z_i itself (prevs = zs) instead of on z_{i-1}, as the released code does (deviation 1). "
        "Does the ELBO, the sum of all the terms, go up, down, or stay the same?",
        "choice",
        lambda forward_terms: _forward_direction(forward_terms),
        "Down: -ln q(z_i | z_i) is evaluated at z_i's own position, almost at its mean sqrt(1 - beta) z_i, "
        "so the squared-error part, D/2 per term on average, vanishes: each forward term falls by about "
        "D/2, the ELBO by about T D/2. No parameter enters these terms, so training is unchanged "
        "(section 3, row 1: same Recall, shifted ELBO).",
        "-ln N(z | m, beta I) = D/2 ln(2 pi beta) + |z - m|^2 / (2 beta): what happens to |z - m|^2 "
        "when m is computed from z itself?",
        (
            Mistake(
                lambda forward_terms: "up",
                "The density is evaluated nearer its mean, so q is higher and -ln q lower: the ELBO "
                "adds -ln q, so it goes down.",
            ),
            Mistake(
                lambda forward_terms: "same",
                "The terms have no parameters, so training is the same, but their value is not: each "
                "loses its squared-error part, about D/2.",
            ),
        ),
        context=("forward_terms",),
        choices=("up", "down", "same"),
        precheck=_forward_precheck,
    ),
)
