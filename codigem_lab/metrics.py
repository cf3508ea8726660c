"""Ranking metrics (two Recall@K definitions, NDCG@K, beyond accuracy): docs/metrics.md."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from codigem_lab.errors import ConfigError

RECALL_DEFINITIONS = ("minK", "targets")
DEFAULT_KS = (20, 50, 100)
#: The beyond-accuracy metrics, in the order tables show them (after the accuracy columns).
BEYOND_ACCURACY = ("ARP", "novelty", "coverage")


def _check_definition(definition: str) -> None:
    if definition not in RECALL_DEFINITIONS:
        raise ConfigError(
            f"unknown recall definition {definition!r}; choose one of {list(RECALL_DEFINITIONS)}"
        )


def topk_hits(scores: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """A [B, k] 0/1 matrix: whether the item ranked r-th (by score) is a target."""
    return torch.gather(target.to(scores.dtype), 1, top_items(scores, None, k))


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


def top_items(scores: torch.Tensor, mask: torch.Tensor | None, k: int) -> torch.Tensor:
    """Indices [B, min(k, #items)] of each row's best-scored items; ``mask`` items never rank."""
    scores = scores.float()
    if mask is not None:
        scores = scores.masked_fill(mask.bool(), float("-inf"))
    return torch.topk(scores, min(k, scores.shape[1]), dim=1).indices


def accuracy_from_top(
    top: torch.Tensor, target: torch.Tensor, ks: Sequence[int], recall_definition: str = "minK"
) -> dict[str, torch.Tensor]:
    """Per-user ``R@k`` and ``N@k`` of ranked lists ``top`` (item indices) against 0/1 targets."""
    hits = torch.gather(target.float(), 1, top)
    n_targets = target.float().sum(1)
    out = {}
    for k in ks:
        out[f"R@{k}"] = recall_from_hits(hits, n_targets, k, recall_definition)
        out[f"N@{k}"] = ndcg_from_hits(hits, n_targets, k)
    return out


def ranking_metrics(
    scores: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    recall_definition: str = "minK",
) -> dict[str, torch.Tensor]:
    """Per-user ``R@k`` and ``N@k`` for dense scores and 0/1 targets; ``mask`` items never rank."""
    return accuracy_from_top(top_items(scores, mask, max(ks)), target, ks, recall_definition)


def metric_columns(ks: Sequence[int] = DEFAULT_KS) -> list[str]:
    """Column order used in every table: R@k for each k, then N@k."""
    return [f"R@{k}" for k in ks] + [f"N@{k}" for k in ks]


def beyond_columns(ks: Sequence[int] = DEFAULT_KS, names=BEYOND_ACCURACY) -> list[str]:
    """The beyond-accuracy columns at ``ks``: ARP@k for each k, then novelty@k, then coverage@k."""
    return [f"{name}@{k}" for name in names for k in ks]


def mean_metrics(per_user: pd.DataFrame, shown: dict[int, np.ndarray]) -> dict[str, float]:
    """Means of the per-user columns, then coverage@k: the share of items ``shown[k]`` marks."""
    out = {c: float(per_user[c].mean()) for c in per_user}  # NaN without users
    nan = float("nan")
    out.update(
        {f"coverage@{k}": float(v.mean()) if len(per_user) else nan for k, v in shown.items()}
    )
    return out


def _dense(m: sp.csr_matrix, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.from_numpy(m.toarray()).to(device)


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
    #: k -> 0/1 mask over the catalogue: the items in some evaluated user's top-k list.
    shown: dict[int, np.ndarray] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One-row table of the mean metrics."""
        return pd.DataFrame([self.metrics], index=[self.which])


class Evaluator:
    """Scores any recommender on a split the same way: mask, rank, compare with targets."""

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
        self.popularity = item_popularity(split.train)  # what ARP and novelty read the lists by

    def _beyond(self, top: np.ndarray, shown: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-user ARP@k and novelty@k of one batch's lists; marks their items in ``shown``."""
        out = {}
        for k in self.ks:
            lists = list_popularity(top[:, :k], self.popularity, self.split.n_train_users)
            out[f"ARP@{k}"], out[f"novelty@{k}"] = lists["ARP"], lists["novelty"]
            shown[k][top[:, :k]] = True
        return out

    def evaluate(self, scorer, which: str = "valid", users: np.ndarray | None = None) -> EvalResult:
        """Mean and per-user metrics on the validation or test set (optionally rows ``users``)."""
        es = self.split.eval_set(which)
        score = scorer.score if hasattr(scorer, "score") else scorer
        rows = np.arange(es.n_users) if users is None else np.asarray(users)
        has_target = np.diff(es.target.indptr)[rows] > 0
        rows = rows[has_target]
        start = time.perf_counter()
        parts: dict[str, list[np.ndarray]] = {}
        shown = {k: np.zeros(self.split.n_items, dtype=bool) for k in self.ks}
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
                top = top_items(scores, _dense(es.mask[r], self.device), max(self.ks))
                m = accuracy_from_top(
                    top, _dense(es.target[r], self.device), self.ks, self.recall_definition
                )
                m = {key: v.cpu().numpy() for key, v in m.items()}
                m.update(self._beyond(top.cpu().numpy(), shown))
                for key, v in m.items():
                    parts.setdefault(key, []).append(v)
        seconds = time.perf_counter() - start
        cols = metric_columns(self.ks) + beyond_columns(self.ks, ("ARP", "novelty"))
        per_user = pd.DataFrame(
            {c: np.concatenate(parts[c]) if parts else np.empty(0) for c in cols},
            index=pd.Index(es.users[rows], name="user"),
        )
        metrics = mean_metrics(per_user, shown)
        return EvalResult(
            which, metrics, per_user, self.recall_definition, seconds, len(rows), shown=shown
        )


# -- beyond accuracy: what kind of items the lists hold, not whether they hit -------------------


def item_popularity(train: sp.csr_matrix) -> np.ndarray:
    """Each item's training interactions (its column count): the popularity the lists are read by."""
    return np.asarray(train.getnnz(axis=0), dtype=np.float64)


def list_popularity(top: np.ndarray, popularity: np.ndarray, n_users: int) -> dict[str, np.ndarray]:
    """Per-user ARP and novelty of top-K lists ``top`` [users, K] (docs/metrics.md)."""
    pop = popularity[top]
    p = np.maximum(pop, 1.0) / float(n_users)
    return {"ARP": pop.mean(axis=1), "novelty": (-np.log2(p)).mean(axis=1)}


def catalogue_coverage(top: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one user's top-K list."""
    return float(len(np.unique(top)) / n_items) if n_items else float("nan")
