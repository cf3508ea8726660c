"""How a table or a list names an item: its title when the data has titles."""

from __future__ import annotations

import pandas as pd


def item_name(item_id, titles: pd.Series | None) -> str:
    """A readable item name: its title when known, else ``item <id>``."""
    if titles is not None and item_id in titles.index:
        return str(titles[item_id])
    return f"item {item_id}"
