"""The exercises of notebook 00_overview.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

from .answers import recall
from .exercise import Exercise, Mistake


def _n_networks(T: int) -> int:
    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    m = CODIGEM(CODIGEMConfig(n_items=4, hidden=2, n_layers=2, T=T))
    return len(m.reverse_nets) + 1


def _recommend_ref(scores, seen, k):
    """Top-k item indices of each row, seen items excluded (the Evaluator's masking)."""
    import torch

    s = torch.as_tensor(scores, dtype=torch.float64).clone()
    s[torch.as_tensor(seen, dtype=torch.bool)] = -torch.inf
    return torch.topk(s, k, dim=-1).indices


def _recommend_unmasked(scores, seen, k):
    import torch

    return torch.topk(torch.as_tensor(scores, dtype=torch.float64), k, dim=-1).indices


def _recommend_masked_zero(scores, seen, k):
    import torch

    s = torch.as_tensor(scores, dtype=torch.float64)
    s = s.masked_fill(torch.as_tensor(seen, dtype=torch.bool), 0.0)
    return torch.topk(s, k, dim=-1).indices


def _recommend_probes() -> list[tuple]:
    """Scores of both signs, and all negative ones (as CODIGEM's decoder mostly gives)."""
    import torch

    g = torch.Generator().manual_seed(3)
    scores = torch.randn(4, 30, generator=g, dtype=torch.float64)
    seen = torch.rand(4, 30, generator=g) < 0.3
    negative = -scores.abs() - 0.1
    return [(scores, seen, 5), (scores, seen, 1), (negative, seen, 5)]


EXERCISES = (
    Exercise(
        "00.networks",
        "With T = 5 diffusion steps, how many neural networks does CODIGEM train?",
        "integer",
        lambda: _n_networks(5),
        "T - 1 transition networks p(z_i | z_{i+1}) and one decoder p(x | z_1): T networks in all.",
        "Count the factors of eq (2) that have parameters: p(x | z_1), each p(z_i | z_{i+1}), p(z_T).",
        (
            Mistake(
                lambda: 4,
                "4 = T - 1 counts only the transition networks; the decoder p(x | z_1) is a network too.",
            ),
            Mistake(
                lambda: 6, "T + 1 gives p(z_T) a network, but the prior N(0, I) has no parameters."
            ),
            Mistake(
                lambda: 10,
                "2T counts the forward process too, but q has no networks: it only adds noise.",
            ),
        ),
    ),
    Exercise(
        "00.recall",
        "A test user has 30 hidden items; 12 of them are in the model's top 20. What is that user's "
        "Recall@20 as this notebook computes it?",
        "number",
        lambda: recall(30, 12, 20, "minK"),
        "Recall@K = hits / min(K, #targets) = 12 / min(20, 30) (the Multi-VAE convention the released code uses).",
        "Divide the hits by min(K, #targets).",
        (
            Mistake(
                lambda: recall(30, 12, 20, "targets"),
                "12/30 divides by #targets (the toolkit definition, notebook 05); this notebook divides by min(K, #targets).",
            ),
            Mistake(
                lambda: 12, "Recall is a share of the hidden items found, not a count of hits."
            ),
        ),
    ),
    Exercise(
        "00.recommend",
        "Write recommend(scores, seen, k): for each row of a [users, items] score tensor, the indices "
        "of the k best-scored items the user has not seen (seen: a boolean tensor of the same shape), "
        "best first.",
        "function",
        _recommend_ref,
        "Masking the seen items with -inf and taking torch.topk is how the library's Evaluator ranks.",
        "Set the seen items' scores to -inf, then torch.topk(scores, k, dim=-1).indices.",
        (
            Mistake(
                _recommend_unmasked,
                "Those are the k best items including the ones the user has already seen: mask them first.",
            ),
            Mistake(
                _recommend_masked_zero,
                "Masking with 0 works only while the best scores are positive. The paper preset's "
                "decoder scores NN(z_1) are mostly negative, even its top ones (it learns tanh outputs "
                "near -1 for unrated items), so a seen item set to 0 outranks them and is recommended "
                "again: mask with -inf.",
            ),
        ),
        probes=lambda: _recommend_probes(),
    ),
)
