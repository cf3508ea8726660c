"""The paper's Table 1 (Walker et al., KSEM 2022, after preprocessing), as printed there, for notebook
01 to show beside ours; nothing here is computed, and nothing in ``codigem_lab`` imports it (the
paper's other numbers, which the studies use, are in ``codigem_lab/experiments/paper.py``)."""

from __future__ import annotations

import pandas as pd

#: ML-1M's 6,034 / 3,124 count a padding id; we get 6,033 / 3,123.
TABLE1 = pd.DataFrame(
    {
        "users": [136677, 6034, 13456],
        "items": [20108, 3124, 8361],
        "interactions": [9990682, 834449, 234521],
        "sparsity": [99.64, 95.57, 99.79],
    },
    index=["ml-20m", "ml-1m", "amazon-electronics"],
    dtype=float,
)
