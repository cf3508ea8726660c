"""Mixed precision for training (``TrainConfig.precision``), kept apart from the plain loop.

``fp32`` (default, exact); ``tf32``: CUDA matmuls and convolutions on TF32 tensor cores (no
effect on CPU); ``bf16``: ``torch.autocast`` to bfloat16 for the training forward pass (CPU or
CUDA). Scoring stays float32, so rankings are not quantised to bfloat16's 8-bit mantissa.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PRECISIONS = ("fp32", "tf32", "bf16")


@contextlib.contextmanager
def matmul_precision(precision: str, device: torch.device) -> Iterator[None]:
    """Inside the block, CUDA matmuls and convolutions may use TF32 when ``precision == 'tf32'``.

    torch keeps these switches process-wide, so they are set for the block and restored after it.
    A no-op on CPU and for the other precisions.
    """
    if precision != "tf32" or device.type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bfloat16 autocast when ``precision == 'bf16'`` (CPU or CUDA); otherwise nothing."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
