"""The exercises of notebook 02_forward_noising.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

import dataclasses
import math

from .answers import alpha_bar, direction, first_T_below, run_changed
from .exercise import Exercise, Mistake


def _step_ref(z, beta, eps):
    from codigem_lab.diffusion.schedule import q_step_sample

    return q_step_sample(z, beta, eps)


def _step_probes() -> list[tuple]:
    import torch

    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 7, generator=g, dtype=torch.float64)
    eps = torch.randn(3, 7, generator=g, dtype=torch.float64)
    return [(z, 1e-4, eps), (z, 0.3, eps), (z, 0.9, eps)]


def chain_as_asked(x01, beta, T, generator):
    """The change exercise 02.predict_scaling asks for: the chain of eq (5) from z_0 = x (0/1)."""
    return _library_chain(x01, beta, T, generator, "none")


def _library_chain(x01, beta, T, generator, scaling="minus1_1"):
    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    c = CODIGEMConfig(n_items=x01.shape[1], T=T, beta=beta, hidden=2, n_layers=2)
    m = CODIGEM(dataclasses.replace(c, input_scaling=scaling)).double()
    return m.sample_latents(m.scale_input(x01), generator=generator)


def _chains(chain) -> tuple[list | None, list | None, str | None]:
    """(the learner's chain, the paper's chain, why it could not run) on one probe user."""
    import torch

    x = (torch.rand(1, 400, generator=torch.Generator().manual_seed(5)) < 0.1).double()
    ref = _library_chain(x, 1e-4, 3, torch.Generator().manual_seed(0))
    got, why = run_changed(
        "forward_chain_changed", chain, x, 1e-4, 3, torch.Generator().manual_seed(0)
    )
    return got, ref, why


def _scaling_precheck(chain) -> str | None:
    import torch

    got, ref, why = _chains(chain)
    if why:
        return why
    if torch.allclose(torch.as_tensor(got[-1]).double(), ref[-1]):
        return "forward_chain_changed still starts from scale(x01): change that line to start from x01."
    x = (torch.rand(1, 400, generator=torch.Generator().manual_seed(5)) < 0.1).double()
    asked = chain_as_asked(x, 1e-4, 3, torch.Generator().manual_seed(0))
    if not torch.allclose(torch.as_tensor(got[-1]).double(), asked[-1]):
        return "forward_chain_changed now differs in more than its start: change only that line (z = x01)."
    return None


def _scaling_direction(chain) -> str:
    got, ref, _ = _chains(chain)
    return direction(float((got[-1] ** 2).mean()), float((ref[-1] ** 2).mean()))


EXERCISES = (
    Exercise(
        "02.alpha_bar",
        "With a constant beta = 0.02 and T = 10 steps, what is alpha_bar_T?",
        "number",
        lambda: alpha_bar(0.02, 10),
        "alpha_bar_T = prod_t (1 - beta_t) = (1 - beta)^T for a constant schedule.",
        "alpha_bar_t is a product over the steps of alpha_s = 1 - beta_s.",
        (
            Mistake(
                lambda: (1 - 0.02) * 10,
                "alpha_bar_T = (1 - beta)^T, a product of T factors; you gave (1 - beta) * T.",
            ),
            Mistake(
                lambda: 1 - 0.02 * 10,
                "1 - beta * T is only the first-order approximation of (1 - beta)^T, poor at this beta.",
            ),
            Mistake(
                lambda: 1 - 0.02,
                "That is alpha_bar_1 = 1 - beta, one step; alpha_bar_T multiplies T of them.",
            ),
            Mistake(
                lambda: math.sqrt(alpha_bar(0.02, 10)),
                "That is sqrt(alpha_bar_T), the factor on x in the mean of q(z_T | x); alpha_bar_T is the share of x's variance kept.",
            ),
        ),
    ),
    Exercise(
        "02.half_signal",
        "Which constant beta makes alpha_bar_3 exactly 0.5 (half of the signal's variance left after "
        "three steps)?",
        "number",
        lambda: 1.0 - 0.5 ** (1.0 / 3.0),
        "Solve (1 - beta)^3 = 0.5: beta = 1 - 0.5^(1/3).",
        "Write alpha_bar_3 for a constant beta and solve for beta.",
        (
            Mistake(
                lambda: 0.5 / 3,
                "beta = 0.5 / 3 solves 1 - 3 beta = 0.5, the linear approximation; alpha_bar is a product: solve (1 - beta)^3 = 0.5.",
            ),
            Mistake(
                lambda: 0.5 ** (1.0 / 3.0),
                "That is 1 - beta, the alpha of each step; beta is one minus it.",
            ),
        ),
        rtol=1e-4,
    ),
    Exercise(
        "02.steps_to_noise",
        "At the paper's beta = 1e-4, what is the smallest T for which alpha_bar_T falls below 0.01?",
        "integer",
        lambda: first_T_below(1e-4, 0.01),
        "(1 - 1e-4)^T < 0.01 needs T > ln(0.01) / ln(1 - 1e-4), rounded up: tens of thousands of steps.",
        "Take logarithms of (1 - beta)^T < 0.01 (and mind the sign of ln(1 - beta)).",
        (
            Mistake(
                lambda: first_T_below(1e-4, 0.01) - 1,
                "Off by one: at that T alpha_bar_T is still above 0.01; round up.",
            ),
            Mistake(
                lambda: 9900,
                "T = 0.99 / beta solves 1 - beta T = 0.01, the linear approximation, which fails far from T = 0.",
            ),
            Mistake(
                lambda: 10000,
                "T = 1 / beta makes 1 - beta T zero in the linear approximation; (1 - beta)^T is then still about e^-1.",
            ),
            Mistake(
                lambda: math.log(0.01) / math.log(1 - 1e-4),
                "Your logarithms are right, but T counts steps: round that up to the next whole number (math.ceil).",
            ),
        ),
        atol=0.5,  # how near the unrounded solution an answer must be to be read as it
    ),
    Exercise(
        "02.forward_step",
        "Write step(z, beta, eps) that returns z_t from z = z_{t-1} and the noise eps, by eq (5).",
        "function",
        _step_ref,
        "z_t = sqrt(1 - beta) z_{t-1} + sqrt(beta) eps: the mean shrinks so that the variance stays 1.",
        "Eq (5): the mean is scaled by sqrt(1 - beta), the noise by sqrt(beta).",
        (
            Mistake(
                lambda z, beta, eps: (1 - beta) * z + beta * eps,
                "The factors are square roots: sqrt(1 - beta) on z and sqrt(beta) on eps (beta is the variance of the noise).",
            ),
            Mistake(
                lambda z, beta, eps: z + math.sqrt(beta) * eps,
                "Without the sqrt(1 - beta) shrink the variance grows at every step; eq (5) scales z_{t-1} down.",
            ),
        ),
        probes=lambda: _step_probes(),
        rtol=1e-9,
    ),
    Exercise(
        "02.predict_scaling",
        "Predict first, then change one line: in forward_chain_changed (a copy of forward_chain), "
        "start from the released code's {0, 1} input (z = x01) instead of the paper's {-1, +1} "
        "(z = scale(x01)). At beta = 1e-4, T = 3, does the average of z_T^2 over the items (how far "
        "z_T lies from the prior's mean 0) go up, down, or stay the same?",
        "choice",
        lambda chain: _scaling_direction(chain),
        "Down: the unliked items, most of the vector, now start at 0, the prior's mean, instead of -1, "
        "so z_T^2 averages about the share of liked items instead of about 1. z_T is nearer the prior's "
        "mean, yet still nothing like a draw of N(0, I): its spread is only sqrt(1 - alpha_bar_T).",
        "Where does an unliked item start with each input, and how far does three steps of "
        "beta = 1e-4 move it?",
        (
            Mistake(
                lambda chain: "up",
                "The liked items stay at 1 either way; the unliked ones move from -1 to 0, so z_T^2 falls.",
            ),
            Mistake(
                lambda chain: "same",
                "The noise is the same, but the start is not: the unliked items now start at 0, where "
                "z_T^2 is about 0 instead of about 1.",
            ),
        ),
        context=("chain",),
        choices=("up", "down", "same"),
        precheck=_scaling_precheck,
    ),
)
