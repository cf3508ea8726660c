"""The exercises of notebook 03_elbo.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

import math

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
    from codigem_lab.experiments.deviations import expected_forward_term

    return expected_forward_term(D, beta)


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
)
