"""Ranking metrics (Recall@K in both definitions, NDCG@K) and the one ``Evaluator``.

Recall@K has two definitions in use, and results differ by them, so every table names its own:

- ``minK``: hits / min(K, #targets) (Multi-VAE and the released CODIGEM code);
- ``targets``: hits / #targets (the toolkit the paper's baseline rows were run in).

NDCG@K uses binary relevance with the ideal DCG over min(K, #targets). Fold-in (masked) items are
set to -inf before ranking; users without targets are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from codigem_lab.errors import ConfigError

RECALL_DEFINITIONS = ("minK", "targets")
DEFAULT_KS = (20, 50, 100)


def _check_definition(definition: str) -> None:
    if definition not in RECALL_DEFINITIONS:
        raise ConfigError(
            f"unknown recall definition {definition!r}; choose one of {list(RECALL_DEFINITIONS)}"
        )


def topk_hits(scores: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """A [B, k] 0/1 matrix: whether the item ranked r-th (by score) is a target."""
    k = min(k, scores.shape[1])
    idx = torch.topk(scores, k, dim=1).indices
    return torch.gather(target.to(scores.dtype), 1, idx)


def recall_from_hits(
    hits: torch.Tensor, n_targets: torch.Tensor, k: int, definition: str = "minK"
) -> torch.Tensor:
    """Per-user Recall@k from a hit matrix (NaN where a user has no targets)."""
    _check_definition(definition)
    n = n_targets.to(hits.dtype)
    denom = torch.clamp(n, max=k) if definition == "minK" else n
    out = hits[:, :k].sum(1) / denom
    return torch.where(n > 0, out, torch.full_like(out, float("nan")))


def ndcg_from_hits(hits: torch.Tensor, n_targets: torch.Tensor, k: int) -> torch.Tensor:
    """Per-user NDCG@k, binary relevance, ideal DCG over min(k, #targets) (NaN without targets)."""
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=hits.dtype, device=hits.device))
    kk = min(k, hits.shape[1])
    dcg = (hits[:, :kk] * discount[:kk]).sum(1)
    ideal_cum = torch.cumsum(discount, 0)
    n = torch.clamp(n_targets, max=k).long()
    idcg = ideal_cum[torch.clamp(n - 1, min=0)]  # rows with n = 0 become NaN below
    out = dcg / idcg
    return torch.where(n > 0, out, torch.full_like(out, float("nan")))


def ranking_metrics(
    scores: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    recall_definition: str = "minK",
) -> dict[str, torch.Tensor]:
    """Per-user ``R@k`` and ``N@k`` for dense scores and 0/1 targets; ``mask`` items never rank."""
    scores = scores.float()
    if mask is not None:
        scores = scores.masked_fill(mask.bool(), float("-inf"))
    hits = topk_hits(scores, target, max(ks))  # topk_hits caps K at the catalogue size
    n_targets = target.float().sum(1)
    out = {}
    for k in ks:
        out[f"R@{k}"] = recall_from_hits(hits, n_targets, k, recall_definition)
        out[f"N@{k}"] = ndcg_from_hits(hits, n_targets, k)
    return out


def metric_columns(ks: Sequence[int] = DEFAULT_KS) -> list[str]:
    """Column order used in every table: R@k for each k, then N@k."""
    return [f"R@{k}" for k in ks] + [f"N@{k}" for k in ks]


def _dense(m: sp.csr_matrix, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.from_numpy(m.toarray()).to(device)


Scorer = Callable[[sp.csr_matrix, "np.ndarray | None"], "np.ndarray | torch.Tensor"]


@dataclass
class EvalResult:
    """Mean metrics, per-user metrics and timing for one evaluation pass."""

    which: str
    metrics: dict[str, float]
    per_user: pd.DataFrame
    recall_definition: str
    seconds: float
    n_users: int
    extra: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One-row table of the mean metrics."""
        return pd.DataFrame([self.metrics], index=[self.which])


class Evaluator:
    """Scores any recommender on a split the same way: mask, rank, compare with targets.

    ``scorer`` is either an object with ``score(fold_in, train_rows)`` or such a callable; it gets a
    CSR batch of fold-in rows (and, under the ``ratio`` protocol, those users' rows in the training
    matrix) and returns dense scores [batch, n_items]. It must not mask anything itself.
    """

    def __init__(
        self,
        split,
        ks: Sequence[int] = DEFAULT_KS,
        recall_definition: str = "minK",
        batch_size: int = 1000,
        device: torch.device | str = "cpu",
    ) -> None:
        _check_definition(recall_definition)
        if not ks or any(int(k) < 1 for k in ks):
            raise ConfigError(f"ks must be positive integers, got {list(ks)}")
        self.split = split
        self.ks = tuple(int(k) for k in ks)
        self.recall_definition = recall_definition
        self.batch_size = int(batch_size)
        self.device = torch.device(device)

    def evaluate(self, scorer, which: str = "valid", users: np.ndarray | None = None) -> EvalResult:
        """Mean and per-user R@k/N@k on the validation or test set (optionally a subset of rows)."""
        es = self.split.eval_set(which)
        score = scorer.score if hasattr(scorer, "score") else scorer
        rows = np.arange(es.n_users) if users is None else np.asarray(users)
        has_target = np.diff(es.target.indptr)[rows] > 0
        rows = rows[has_target]
        start = time.perf_counter()
        parts: dict[str, list[np.ndarray]] = {}
        with torch.no_grad():
            for b in range(0, len(rows), self.batch_size):
                r = rows[b : b + self.batch_size]
                train_rows = None if es.train_rows is None else es.train_rows[r]
                scores = score(es.fold_in[r], train_rows)
                scores = torch.as_tensor(scores, device=self.device)
                if scores.shape != (len(r), self.split.n_items):
                    raise ValueError(
                        f"scorer returned shape {tuple(scores.shape)}, expected "
                        f"{(len(r), self.split.n_items)}"
                    )
                m = ranking_metrics(
                    scores,
                    _dense(es.target[r], self.device),
                    _dense(es.mask[r], self.device),
                    self.ks,
                    self.recall_definition,
                )
                for key, v in m.items():
                    parts.setdefault(key, []).append(v.cpu().numpy())
        seconds = time.perf_counter() - start
        cols = metric_columns(self.ks)
        per_user = pd.DataFrame(
            {c: np.concatenate(parts[c]) if parts else np.empty(0) for c in cols},
            index=pd.Index(es.users[rows], name="user"),
        )
        metrics = {c: float(per_user[c].mean()) if len(per_user) else float("nan") for c in cols}
        return EvalResult(which, metrics, per_user, self.recall_definition, seconds, len(rows))


# -- beyond accuracy: what kind of items the lists hold, not whether they hit -------------------


def item_popularity(train: sp.csr_matrix) -> np.ndarray:
    """Each item's training interactions (its column count): the popularity the lists are read by."""
    return np.asarray(train.getnnz(axis=0), dtype=np.float64)


def list_popularity(top: np.ndarray, popularity: np.ndarray, n_users: int) -> dict[str, np.ndarray]:
    """Per-user ARP and novelty of top-K lists (``top``: [users, K] item indices).

    ARP (average recommendation popularity): the mean training count of a list's items.
    Novelty: the mean self-information -log2(p_i) of a list's items, p_i = count_i / n_users (the
    share of training users who have item i; unseen items count once, so log2 stays finite).
    """
    pop = popularity[top]
    p = np.maximum(pop, 1.0) / float(n_users)
    return {"ARP": pop.mean(axis=1), "novelty": (-np.log2(p)).mean(axis=1)}


def catalogue_coverage(top: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one user's top-K list."""
    return float(len(np.unique(top)) / n_items) if n_items else float("nan")
