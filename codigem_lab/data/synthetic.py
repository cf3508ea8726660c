"""The embedded default dataset: seeded synthetic ratings with taste groups, Zipf popularity and
log-normal activity, structure a model can learn (docs/data.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from codigem_lab.errors import ConfigError


@dataclass(frozen=True)
class SyntheticConfig:
    """Shape and structure of the synthetic data (defaults: ML-100K-like)."""

    n_users: int = 943
    n_items: int = 1682
    n_interactions: int = 100_000
    n_groups: int = 12
    zipf_exponent: float = 1.0
    group_boost: float = 25.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_users < 2 or self.n_items < 2:
            raise ConfigError("synthetic data needs at least 2 users and 2 items")
        if not 0 < self.n_interactions <= 0.5 * self.n_users * self.n_items:
            raise ConfigError(
                "n_interactions must be positive and at most half of n_users * n_items "
                f"(got {self.n_interactions:,} for {self.n_users:,} x {self.n_items:,})"
            )
        if self.n_groups < 1:
            raise ConfigError(f"n_groups must be >= 1, got {self.n_groups}")


def ml20m_shape(seed: int = 0) -> SyntheticConfig:
    """ML-20M's shape after ``multvae`` preprocessing: 136,677 users, 20,108 items, ~10M pairs."""
    return SyntheticConfig(
        n_users=136_677, n_items=20_108, n_interactions=9_990_682, n_groups=40, seed=seed
    )


def generate(config: SyntheticConfig | None = None, **overrides) -> pd.DataFrame:
    """Ratings ``user, item, rating`` (1-5; in-group items rate higher), one row per pair."""
    cfg = config or SyntheticConfig()
    if overrides:
        cfg = SyntheticConfig(**{**cfg.__dict__, **overrides})
    rng = np.random.default_rng(cfg.seed)
    popularity = 1.0 / np.arange(1, cfg.n_items + 1) ** cfg.zipf_exponent
    popularity = popularity[rng.permutation(cfg.n_items)]
    item_group = rng.integers(0, cfg.n_groups, cfg.n_items)
    user_group = rng.integers(0, cfg.n_groups, cfg.n_users)

    activity = rng.lognormal(mean=0.0, sigma=0.8, size=cfg.n_users)
    target = np.maximum(5, activity / activity.sum() * cfg.n_interactions).astype(np.int64)
    target = np.minimum(target, cfg.n_items // 2)
    samplers = [
        _AliasSampler(popularity * np.where(item_group == g, cfg.group_boost, 1.0))
        for g in range(cfg.n_groups)
    ]

    key = np.empty(0, dtype=np.int64)
    need = target.copy()
    for _ in range(8):  # top up users whose draws collided, until the total is reached
        users = np.repeat(np.arange(cfg.n_users), need + need // 4)
        items = np.empty(len(users), dtype=np.int64)
        groups = user_group[users]
        for g, sampler in enumerate(samplers):
            at = groups == g
            items[at] = sampler.draw(int(at.sum()), rng)
        key = np.union1d(key, users * cfg.n_items + items)
        have = np.bincount(key // cfg.n_items, minlength=cfg.n_users)
        need = np.maximum(target - have, 0)
        if len(key) >= cfg.n_interactions or not need.any():
            break
    if len(key) > cfg.n_interactions:
        key = np.sort(rng.choice(key, cfg.n_interactions, replace=False))
    u, i = key // cfg.n_items, key % cfg.n_items
    in_group = item_group[i] == user_group[u]
    rating = np.clip(np.rint(3.0 + 1.2 * in_group + rng.normal(0, 0.9, len(u))), 1, 5)
    return pd.DataFrame({"user": u + 1, "item": i + 1, "rating": rating.astype(np.float32)})


class _AliasSampler:
    """Walker's alias method: O(1) draws from a fixed discrete distribution."""

    def __init__(self, weight: np.ndarray) -> None:
        n = len(weight)
        prob = weight / weight.sum() * n
        self.alias = np.zeros(n, dtype=np.int64)
        self.prob = np.ones(n)
        small = [k for k in range(n) if prob[k] < 1.0]
        large = [k for k in range(n) if prob[k] >= 1.0]
        while small and large:
            s, big = small.pop(), large.pop()
            self.prob[s], self.alias[s] = prob[s], big
            prob[big] -= 1.0 - prob[s]
            (small if prob[big] < 1.0 else large).append(big)

    def draw(self, size: int, rng: np.random.Generator) -> np.ndarray:
        k = rng.integers(0, len(self.prob), size)
        return np.where(rng.random(size) < self.prob[k], k, self.alias[k])
