"""Why Table 3's variants I and II cannot move the ranking: their decoder gradients, side by side.

With decoder scoring the ranking depends on the decoder alone, and the decoder's gradient comes
from the reconstruction term alone; :func:`decoder_gradient_check` shows it on one batch
(notebook 06).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd


def decoder_gradient_check(
    x,
    variants: Mapping[str, dict] | None = None,
    preset: str = "paper",
    seed: int = 0,
    kl_weight: float = 0.2,
) -> pd.DataFrame:
    """Each Table 3 variant's gradient on one batch, compared with the base model's.

    Every model is built from the same seed and fed the same noise. Variant I (annealing) is
    scored with a KL weight of ``kl_weight`` (its cap), the others with 1. Columns, as the
    largest absolute difference from the base model: the decoder's initial weights, the
    decoder's gradient, the transition nets' gradient, and the scores used for ranking (decoder
    on the input, no noise) after one Adamax step. Zero decoder differences mean the variant
    trains the very same decoder, hence the very same ranking.
    """
    import scipy.sparse as sp
    import torch

    from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig
    from codigem_lab.experiments.studies import VARIANTS

    dense = x.toarray() if sp.issparse(x) else np.asarray(x)
    xt = torch.as_tensor(dense, dtype=torch.float32)
    found = {}
    for name, overrides in (variants or VARIANTS).items():
        torch.manual_seed(seed)
        cfg = CODIGEMConfig.preset(preset, n_items=xt.shape[1], **overrides)
        model = CODIGEM(cfg)
        init = torch.cat([p.detach().flatten().clone() for p in model.decoder.parameters()])
        weight = kl_weight if cfg.anneal_steps else None
        terms = model(xt, generator=torch.Generator().manual_seed(seed), kl_weight=weight)
        terms.loss.backward()
        dec = torch.cat([p.grad.flatten() for p in model.decoder.parameters()])
        trans = [p.grad.flatten() for p in model.reverse_nets.parameters() if p.grad is not None]
        torch.optim.Adamax(model.parameters(), lr=1e-3).step()  # the paper's optimiser
        with torch.no_grad():
            scores = model.score(xt[: min(50, len(xt))], mode="decoder", noise=False)
        found[name] = (
            init,
            dec,
            torch.cat(trans) if trans else torch.zeros(0),
            scores,
            terms.kl_weight,
        )
    base = found.get("base") or next(iter(found.values()))

    def diff(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).abs().max()) if a.shape == b.shape and a.numel() else math.nan

    rows = {
        name: {
            "KL weight": w,
            "decoder init": diff(i, base[0]),
            "decoder gradient": diff(d, base[1]),
            "transition-net gradient": diff(t, base[2]),
            "scores after one step": diff(sc, base[3]),
        }
        for name, (i, d, t, sc, w) in found.items()
    }
    out = pd.DataFrame(rows).T
    out.index.name = "max |difference| from base"
    return out
