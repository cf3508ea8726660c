"""The exercises of notebook 06_ablations.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

import math

from .exercise import Exercise, Mistake


def _kl_weight(step: int) -> float:
    from codigem_lab.diffusion import CODIGEMConfig

    # variant I's settings (experiments.studies.VARIANTS): 2,000 steps, cap 0.2
    return CODIGEMConfig(n_items=4, anneal_steps=2000, anneal_cap=0.2).kl_weight(step)


def _skip_extra_params() -> int:
    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    def n(**kw) -> int:
        return sum(
            p.numel()
            for p in CODIGEM(CODIGEMConfig(n_items=50, T=2, **kw)).reverse_nets[0].parameters()
        )

    return n(skip_forward=True) - n()


EXERCISES = (
    Exercise(
        "06.kl_weight",
        "Variant I anneals the KL weight linearly to 0.2 over 2,000 steps. What is the weight at "
        "step 300?",
        "number",
        lambda: _kl_weight(300),
        "weight = min(cap, step / steps) = min(0.2, 300 / 2000).",
        "The weight rises as step / steps until it reaches the cap.",
        (
            Mistake(
                lambda: 0.2 * 300 / 2000,
                "The weight is step / steps capped at 0.2, not 0.2 x step / steps.",
            ),
            Mistake(lambda: 0.2, "At step 300 the weight has not reached the cap yet."),
        ),
    ),
    Exercise(
        "06.rank_variants",
        "Which of Table 3's variants I-IV can change the ranking with decoder scoring? Give a set such "
        "as {'I', 'II'}.",
        "set",
        lambda: {"III", "IV"},
        "Only III (skips in the decoder) and IV (the decoder's likelihood) change the decoder or its gradient.",
        "The ranking comes from the decoder alone; which variants touch it?",
        (
            Mistake(
                lambda: {"II", "III", "IV"},
                "II changes the transition networks, which do not reach the decoder's gradient.",
            ),
            Mistake(
                lambda: {"I", "III", "IV"},
                "I scales only the KL part, and the decoder's parameters are not in it.",
            ),
        ),
    ),
    Exercise(
        "06.softmax_ratio",
        "Logits bounded by tanh to [-1, 1]: at most how many times likelier can the softmax make one "
        "item than another?",
        "number",
        lambda: math.exp(1.0 - (-1.0)),
        "softmax_i / softmax_j = exp(l_i - l_j) <= exp(1 - (-1)) = e^2, about 7.4.",
        "Write the ratio of two softmax probabilities in terms of their logits.",
        (
            Mistake(
                lambda: math.e,
                "The logits can differ by 2 (from -1 to +1), not 1: the ratio is e^2.",
            ),
            Mistake(lambda: 2.0, "The ratio is exp of the difference of the logits."),
        ),
    ),
    Exercise(
        "06.skip_params",
        "How many parameters do variant II's residual skip connections add to one transition network?",
        "integer",
        lambda: _skip_extra_params(),
        "h <- h + act(W h + b) reuses the block's own weights: a skip adds no parameters (why the random draws line up).",
        "Look at the residual block: does h + act(W h + b) need a new weight?",
        (Mistake(lambda: 200 * 200, "A residual skip is an addition, not a new Linear layer."),),
    ),
)
