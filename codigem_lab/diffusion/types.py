"""The mode strings of the diffusion layer, defined once as ``Literal`` types, and their one check.

Every string-valued option of :class:`~codigem_lab.diffusion.model.CODIGEMConfig` and of
``CODIGEM.score`` is one of these types; :func:`check_choice` is the only place a value is
validated against its type, so the allowed values and the error message live here alone.
The tuples (``SCORE_MODES``, ``INPUT_SCALINGS``, ...) are derived from the types for callers
that need to list the choices (argparse ``choices=``, widgets).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from codigem_lab.errors import ConfigError

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
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)
LIKELIHOODS: tuple[str, ...] = get_args(Likelihood)
INITS: tuple[str, ...] = get_args(Init)
INPUT_SCALINGS: tuple[str, ...] = get_args(InputScaling)
SCORE_MODES: tuple[str, ...] = get_args(ScoreMode)
REDUCTIONS: tuple[str, ...] = get_args(Reduction)


def check_choice(name: str, value: Any, choices: Any) -> str:
    """Return ``value`` if it is one of ``choices`` (a ``Literal`` type or a tuple), else raise.

    The error names the option, the allowed values and what was given, e.g.
    ``input_scaling must be one of ('minus1_1', 'none'); got 'zscore'``.
    """
    allowed = get_args(choices) if not isinstance(choices, tuple) else choices
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{name} must be one of {allowed}; got {value!r}")
    return value
