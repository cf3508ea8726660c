"""Small text renderings shared by the CLI and notebooks: metric tables, JSON lines, item names."""

from __future__ import annotations

import json
import math

import pandas as pd


def format_table(df: pd.DataFrame, digits: int = 4) -> str:
    """A plain-text table with fixed decimals (NaN shown as '-')."""

    def fmt(v):
        if isinstance(v, float):
            return "-" if math.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    return df.map(fmt).to_string()


def json_line(obj) -> str:
    """One compact JSON line (NaN becomes null) for ``--json`` output."""

    def clean(v):
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if hasattr(v, "item") and not isinstance(v, (str, bytes)):
            return clean(v.item())
        return v

    return json.dumps(clean(obj), sort_keys=False)


def item_name(item_id, titles: pd.Series | None) -> str:
    """A readable item name: its title when known, else ``item <id>``."""
    if titles is not None and item_id in titles.index:
        return str(titles[item_id])
    return f"item {item_id}"
