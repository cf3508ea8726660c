"""The released code's deviations, one at a time: train the paper model with each switched on and
read its ELBO terms as that code reports them beside the true ELBO (notebook 03 only; nothing in
``codigem_lab`` imports this module)."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import torch

from codigem_lab.codigem import CODIGEMRecommender
from codigem_lab.diffusion.model import CODIGEM
from codigem_lab.train import TrainConfig


def elbo_terms_dict(terms) -> dict[str, float]:
    """:class:`~codigem_lab.diffusion.ELBOTerms` (batch means) as floats named after eq (9)."""
    out = {"ln p(x|z1)": float(terms.reconstruction)}
    for i, r in enumerate(terms.reverse, start=1):
        out[f"ln p(z{i}|z{i + 1})"] = float(r)
    out["ln p(zT)"] = float(terms.prior)
    for i, f in enumerate(terms.forward_entropy, start=1):
        cond = "x" if i == 1 else f"z{i - 1}"
        out[f"-ln q(z{i}|{cond})"] = float(f)
    out["KL"] = float(terms.kl)
    out["ELBO"] = float(terms.elbo)
    out["loss"] = float(terms.loss)
    return out


def evaluate_elbo_terms(
    model, x, seed: int = 0, kl_weight: float | None = None
) -> dict[str, float]:
    """ELBO terms of ``model`` on a dense batch ``x`` with a fixed noise seed (eval mode)."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            gen = torch.Generator().manual_seed(seed)
            return elbo_terms_dict(model(x, generator=gen, kl_weight=kl_weight))
    finally:
        model.train(was)


def expected_forward_term(n_items: int, beta: float) -> float:
    """E[-ln q(z_i | z_{i-1})] = D/2 (ln(2 pi beta) + 1): a constant of the schedule (nats)."""
    return 0.5 * n_items * (math.log(2 * math.pi * beta) + 1.0)


#: Each released-code deviation of docs/released-code.md alone (row: config switch), then all.
DEVIATIONS: dict[str, dict | str] = {
    "paper": {},
    "1 forward term q(z_i | z_i)": {"forward_term_bug": True},
    "2 reverse terms paired wrongly": {"pairing_bug": True},
    "3 KL weight forced to 1": {"anneal_overwritten": True},
    "4 released initialisation": {"init": "released"},
    "5 input in {0, 1}": {"input_scaling": "none"},
    "released (1-5)": "released",
}


def deviation_study(
    split,
    epochs: int,
    beta: float = 1e-4,
    seed: int = 0,
    kl_weight: float = 0.5,
    n_users: int = 200,
) -> pd.DataFrame:
    """The paper model trained with each deviation alone, scored on the same users and noise: its
    ELBO terms as its code reports them, the true ELBO of its weights and validation R@50."""
    rows = {}
    x = torch.from_numpy(split.train[: min(n_users, split.n_train_users)].toarray())
    cfg = TrainConfig(max_epochs=epochs, patience=epochs, seed=seed, progress=False)
    for name, switch in DEVIATIONS.items():
        variant, overrides = ("released", {}) if switch == "released" else ("paper", dict(switch))
        rec = CODIGEMRecommender(variant, cfg, beta=beta, **overrides).fit(split)
        model = rec.module.model
        row = evaluate_elbo_terms(model, x, seed=seed, kl_weight=kl_weight)
        textbook = dataclasses.replace(
            model.config, forward_term_bug=False, pairing_bug=False, anneal_overwritten=False
        )
        true_model = CODIGEM(textbook).to(next(model.parameters()).device)
        true_model.load_state_dict(model.state_dict())
        row["true ELBO"] = evaluate_elbo_terms(true_model, x, seed=seed)["ELBO"]
        row["R@50 (valid)"] = rec.result.valid.metrics["R@50"]
        rows[name] = row
    return pd.DataFrame(rows).T
