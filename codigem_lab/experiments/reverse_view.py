"""The reverse process of one user, as arrays a figure can draw (notebook 04).

:func:`reverse_process` runs a trained CODIGEM on one held-out user's fold-in row: the forward
latent z_T = sqrt(alpha_bar_T) x0 (its mean), the reverse chain z_{T-1}, ..., z_1 through the
transition networks (the paper's Sec. 2.4), and the decoder's scores of both ways to score,
decoder scoring (z_1 from q(z_1 | x), as the released code ranks) and reverse scoring (z_1 from
the chain), each turned into a ranking with the fold-in items masked. Nothing is trained here.
:func:`popularity_of_lists` reads top-k lists (of users drawn from the model's prior by
``CODIGEM.generate``, say) against the training data's popularity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codigem_lab.diffusion.model import CODIGEM
from codigem_lab.metrics import item_popularity, list_popularity


@dataclass
class ReverseProcess:
    """One user's chain and rankings; ``items`` is the window of item columns the strips show:
    fold-in items, then as many others (a figure draws its line between the two halves)."""

    T: int
    items: np.ndarray  # [W] item columns shown in the strips
    x_scaled: np.ndarray  # [W] the scaled input x0 on the window
    chain: np.ndarray  # [T, W] z_T, z_{T-1}, ..., z_1 on the window
    decoder_scores: np.ndarray  # [D] NN(z_1) with z_1 from q(z_1 | x)
    reverse_scores: np.ndarray  # [D] NN(z_1) with z_1 from the reverse chain
    top_decoder: np.ndarray  # [n] item columns, best first (fold-in masked)
    top_reverse: np.ndarray  # [n]
    targets: np.ndarray  # the user's held-out item columns
    overlap: int  # items the two top-n lists share


def reverse_process(
    model: CODIGEM, fold_in_row, target_row, n: int = 10, width: int = 60, seed: int = 0
) -> ReverseProcess:
    """The chain and both rankings of one user (rows of the split's fold-in / target matrices)."""
    x = torch.from_numpy(np.asarray(fold_in_row.toarray(), dtype=np.float32))
    x = x.to(next(model.parameters()).dtype)
    with torch.no_grad():
        chain = [z[0].numpy() for z in model.reverse_chain(x)]
        dec = model.score(x, mode="decoder")[0].numpy()
        rev = model.score(x, mode="reverse")[0].numpy()
        x0 = model.scale_input(x)[0].numpy()
    seen = fold_in_row.indices
    targets = np.asarray(target_row.indices)
    rng = np.random.default_rng(seed)
    clicked = rng.permutation(seen)[: width // 2]
    rest = np.setdiff1d(np.arange(x.shape[1]), seen)
    others = rng.choice(rest, size=min(len(clicked), len(rest)), replace=False)  # equal halves
    items = np.concatenate([np.sort(clicked), np.sort(others)])

    def top(scores: np.ndarray) -> np.ndarray:
        s = scores.astype(np.float64).copy()
        s[seen] = -np.inf
        return np.argsort(-s, kind="stable")[:n]

    t_dec, t_rev = top(dec), top(rev)
    return ReverseProcess(
        T=len(chain),
        items=items,
        x_scaled=x0[items],
        chain=np.stack([z[items] for z in chain]),
        decoder_scores=dec,
        reverse_scores=rev,
        top_decoder=t_dec,
        top_reverse=t_rev,
        targets=targets,
        overlap=len(set(t_dec.tolist()) & set(t_rev.tolist())),
    )


def popularity_of_lists(top: np.ndarray, train) -> dict[str, float]:
    """How close top-k lists ([users, k] item columns) are to recommending by popularity: the mean
    number of items they share with Pop's top k, their ARP (:func:`metrics.list_popularity`) and
    how many distinct items all of them hold. ``train``: the training matrix that counts."""
    pop = item_popularity(train)
    k = top.shape[1]
    pop_top = np.argsort(-pop, kind="stable")[:k]
    return {
        f"shared with Pop's top {k}": float(np.isin(top, pop_top).sum(1).mean()),
        "ARP": float(list_popularity(top, pop, train.shape[0])["ARP"].mean()),
        "distinct items": float(len(np.unique(top))),
    }
