"""The paper's preprocessing (Sec. 3.1): rating threshold, k-core, implicit feedback, as the presets
``paper-ml1m``, ``multvae`` and ``none`` (their sources: docs/data.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from codigem_lab.errors import ConfigError, DataError


@dataclass(frozen=True)
class Preprocessing:
    """A rating threshold (``>=``, or ``>`` when ``strict``) plus a k-core on users and items,
    repeated until stable when ``iterative``."""

    name: str = "custom"
    min_rating: float | None = None
    strict: bool = False
    user_core: int = 0
    item_core: int = 0
    iterative: bool = True

    def __post_init__(self) -> None:
        if self.user_core < 0 or self.item_core < 0:
            raise ConfigError(
                f"k-core sizes must be >= 0 (got user_core={self.user_core}, "
                f"item_core={self.item_core})"
            )

    def describe(self) -> str:
        """One line saying what this preset keeps."""
        parts = []
        if self.min_rating is not None:
            parts.append(f"rating {'>' if self.strict else '>='} {self.min_rating:g}")
        if self.user_core or self.item_core:
            kind = "iterative " if self.iterative else ""
            parts.append(f"{kind}core users>={self.user_core}, items>={self.item_core}")
        return f"{self.name}: " + ("; ".join(parts) if parts else "all interactions")

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preprocessing] = {
    "paper-ml1m": Preprocessing("paper-ml1m", min_rating=3, user_core=10, item_core=10),
    "multvae": Preprocessing("multvae", min_rating=3.5, strict=True, user_core=5, iterative=False),
    "none": Preprocessing("none"),
}


def get_preset(
    preset: str | Preprocessing | None = "none",
    *,
    min_rating: float | None = None,
    strict: bool | None = None,
    user_core: int | None = None,
    item_core: int | None = None,
) -> Preprocessing:
    """Resolve a preset name, then apply any explicit overrides (any combination is allowed)."""
    if isinstance(preset, Preprocessing):
        base = preset
    else:
        name = preset or "none"
        if name not in PRESETS:
            raise ConfigError(
                f"unknown preprocessing preset {name!r}; choose one of {sorted(PRESETS)} "
                "or pass --min-rating/--user-core/--item-core"
            )
        base = PRESETS[name]
    overrides = {
        k: v
        for k, v in dict(
            min_rating=min_rating, strict=strict, user_core=user_core, item_core=item_core
        ).items()
        if v is not None
    }
    if overrides:
        base = replace(base, name=f"{base.name}+custom", **overrides)
    return base


def k_core(
    df: pd.DataFrame, user_core: int, item_core: int, iterative: bool = True
) -> pd.DataFrame:
    """Keep users with >= ``user_core`` and items with >= ``item_core`` interactions; iterative
    until nothing is removed, else Multi-VAE's one pass, items first."""
    u = pd.factorize(df["user"])[0]
    i = pd.factorize(df["item"])[0]
    return df.loc[_core_mask(u, i, user_core, item_core, iterative)]


def preprocess(
    ratings: pd.DataFrame, preset: str | Preprocessing | None = "none", **overrides
) -> pd.DataFrame:
    """Explicit ratings -> the implicit interactions a preset keeps (threshold, first of each
    pair, k-core), on row positions and integer codes so the table is copied once, at the end."""
    prep = get_preset(preset, **overrides)
    rows, u, i = _implicit_rows(ratings, prep)
    rows = rows[_core_mask(u, i, prep.user_core, prep.item_core, prep.iterative)]
    if len(rows) == 0:
        raise DataError(
            f"preprocessing '{prep.describe()}' left no interactions out of {len(ratings):,} "
            "ratings; lower --min-rating or the k-core sizes"
        )
    df = ratings.iloc[rows]
    df.index = pd.RangeIndex(len(df))
    return df


def _implicit_rows(
    ratings: pd.DataFrame, prep: Preprocessing
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of the rows passing the threshold, first of each (user, item) pair, in order,
    and their user and item codes (``pd.factorize``) for the k-core."""
    rows = np.arange(len(ratings))
    if prep.min_rating is not None:
        if "rating" not in ratings:
            raise DataError("a rating threshold needs a 'rating' column; use preset 'none'")
        r = ratings["rating"]
        keep = r > prep.min_rating if prep.strict else r >= prep.min_rating
        rows = np.flatnonzero(keep.to_numpy())
    u = pd.factorize(ratings["user"].take(rows))[0]
    i = pd.factorize(ratings["item"].take(rows))[0]
    pair = u.astype(np.int64) * (int(i.max()) + 1 if len(i) else 1) + i
    first = ~pd.Series(pair, copy=False).duplicated(keep="first").to_numpy()
    return rows[first], u[first], i[first]


def _core_mask(
    u: np.ndarray, i: np.ndarray, user_core: int, item_core: int, iterative: bool
) -> np.ndarray:
    """Rows kept by the k-core, from user and item codes (0..n-1) of the rows."""
    keep = np.ones(len(u), dtype=bool)
    while True:
        removed = False
        for codes, core in ((i, item_core), (u, user_core)):  # items first, then users
            if core > 0:
                counts = np.bincount(codes[keep], minlength=codes.max() + 1 if len(codes) else 0)
                bad = keep & (counts[codes] < core)
                if bad.any():
                    keep &= ~bad
                    removed = True
        if not (iterative and removed):
            break
    return keep


def table1_stats(df: pd.DataFrame) -> dict:
    """Table 1 columns: users, items, interactions, sparsity (%)."""
    users = int(df["user"].nunique())
    items = int(df["item"].nunique())
    n = int(len(df))
    sparsity = 100.0 * (1.0 - n / (users * items)) if users and items else 100.0
    return {"users": users, "items": items, "interactions": n, "sparsity": round(sparsity, 4)}
