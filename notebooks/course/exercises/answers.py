"""Library answers that more than one notebook's exercises ask for."""

from __future__ import annotations

import math


def alpha_bar(beta: float, T: int) -> float:
    """alpha_bar_T of a constant schedule, as the library's ``NoiseSchedule`` computes it."""
    from codigem_lab.diffusion import NoiseSchedule

    return float(NoiseSchedule.constant(beta, T).alpha_bar[-1])


def first_T_below(beta: float, level: float) -> int:
    """Smallest T whose alpha_bar_T is below ``level`` (checked with the library's schedule)."""
    T = max(1, math.ceil(math.log(level) / math.log(1.0 - beta)) - 2)
    while alpha_bar(beta, T) >= level:
        T += 1
    while T > 1 and alpha_bar(beta, T - 1) < level:
        T -= 1
    return T


def recall(n_targets: int, hits: int, k: int, definition: str) -> float:
    """One user's Recall@k with ``hits`` of ``n_targets`` in the top k, by the library's ``definition``."""
    import torch

    from codigem_lab.metrics import recall_from_hits

    row = torch.zeros(1, k, dtype=torch.float64)
    row[0, :hits] = 1.0
    return float(recall_from_hits(row, torch.tensor([n_targets]), k, definition)[0])


def direction(new: float, old: float, rtol: float = 1e-6) -> str:
    """'up', 'down' or 'same' (within ``rtol``): what a change did to a number, as the
    change-a-line exercises ask the learner to predict."""
    if math.isclose(new, old, rel_tol=rtol, abs_tol=1e-12):
        return "same"
    return "up" if new > old else "down"


def run_changed(name: str, fn, *args):
    """(output, None) of the learner's changed function, or (None, why it could not run)."""
    try:
        return fn(*args), None
    except Exception as exc:  # the learner's code: report, never raise
        return None, f"{name} raised {type(exc).__name__}: {exc}"
