"""The exercises of notebook 07_sensitivity.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

import math

from .answers import alpha_bar, first_T_below
from .exercise import Exercise, Mistake


def _snr(beta: float, T: int) -> float:
    from codigem_lab.diffusion import NoiseSchedule

    return float(NoiseSchedule.constant(beta, T).snr[-1])


EXERCISES = (
    Exercise(
        "07.decoder_signal",
        "At beta = 0.3 and T = 3, what share of x's variance is left in the latent the decoder reads "
        "under decoder scoring?",
        "number",
        lambda: alpha_bar(0.3, 1),
        "The decoder reads z_1, which keeps alpha_bar_1 = 1 - beta of the signal's variance.",
        "Which latent does the decoder read, and what alpha_bar belongs to it?",
        (
            Mistake(
                lambda: alpha_bar(0.3, 3), "That is alpha_bar_3, in z_3; the decoder reads z_1."
            ),
            Mistake(
                lambda: math.sqrt(alpha_bar(0.3, 1)),
                "That is sqrt(alpha_bar_1), the scale of x in z_1's mean; its variance share is alpha_bar_1.",
            ),
        ),
    ),
    Exercise(
        "07.snr",
        "What is the signal-to-noise ratio of z_3 at beta = 0.3?",
        "number",
        lambda: _snr(0.3, 3),
        "SNR_3 = alpha_bar_3 / (1 - alpha_bar_3), with alpha_bar_3 = 0.7^3.",
        "SNR_t = alpha_bar_t / (1 - alpha_bar_t).",
        (
            Mistake(
                lambda: alpha_bar(0.3, 3),
                "That is alpha_bar_3 itself; the SNR divides it by the noise variance 1 - alpha_bar_3.",
            ),
            Mistake(lambda: _snr(0.3, 1), "That is the SNR of z_1."),
        ),
        rtol=1e-6,
    ),
    Exercise(
        "07.T_signal",
        "At beta = 1e-4, how many steps T does it take for alpha_bar_T to fall below 0.99?",
        "integer",
        lambda: first_T_below(1e-4, 0.99),
        "ln(0.99) / ln(1 - 1e-4), rounded up: about a hundred steps, far beyond the sweep's T = 15.",
        "Solve (1 - beta)^T < 0.99 with logarithms.",
        (Mistake(lambda: first_T_below(1e-4, 0.99) - 1, "Off by one: round up."),),
    ),
)
