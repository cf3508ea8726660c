"""The diffusion layer's mode strings as ``Literal`` types (checked by ``check_choice``)."""

from __future__ import annotations

from typing import Literal, get_args

from codigem_lab.validate import check_choice  # noqa: F401 (the check of these types)

Preset = Literal["paper", "released"]
"""'paper' follows the equations; 'released' switches on the released code's deviations."""

Activation = Literal["prelu", "relu", "tanh"]
"""Nonlinearity between the Linear layers of every network (the paper: PReLU)."""

ScheduleName = Literal["constant", "linear", "cosine"]
"""Noise schedule beta_1..beta_T of eq (4) (the paper: constant)."""

Likelihood = Literal["gaussian", "multinomial"]
"""p(x | z_1): N(x0 | tanh NN(z_1), I) (Sec 2.3) or multinomial over softmax NN(z_1) (variant IV)."""

Init = Literal["xavier", "released"]
"""'xavier' (Sec 3.1) or the released code's recipe (deviation 4)."""

InputScaling = Literal["minus1_1", "none"]
"""x0 = 2x - 1 (Sec 2.3) or x0 = x (deviation 5)."""

ScoreMode = Literal["decoder", "reverse"]
"""How ``CODIGEM.score`` reaches z_1: q(z_1 | x) then the decoder, or the reverse chain (Sec 2.4)."""

Reduction = Literal["mean", "none"]
"""ELBO terms averaged over the batch, or one value per row."""

PRESETS: tuple[str, ...] = get_args(Preset)
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)
INPUT_SCALINGS: tuple[str, ...] = get_args(InputScaling)
SCORE_MODES: tuple[str, ...] = get_args(ScoreMode)
