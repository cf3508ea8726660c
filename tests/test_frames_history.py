"""Recommendation tables show each user's history (their fold-in items) beside their list."""

from __future__ import annotations

import numpy as np
from course import frames, inspect


def test_history_beside_recommendations(small_split):
    rows = inspect.users_with_targets(small_split, k=2)

    class Oracle:
        def recommend(self, fold_in, n=10):
            return np.stack([small_split.test.target[r].indices[:n] for r in rows])

    n = min(len(small_split.test.target[r].indices) for r in rows)
    frame = frames.recommendations_frame(Oracle(), small_split, rows, n=n)
    wide = frames.recommendations_wide(frame, history=True)
    assert wide.shape == (n, 4)
    for r in rows:
        user = small_split.test.users[r]
        label = f"user {user} ({small_split.test.fold_in[r].nnz} seen)"
        liked = frames.fold_in_titles(small_split, r, None, n=n)
        assert wide[(label, "liked (fold-in)")].tolist() == liked + [""] * (n - len(liked))
        assert wide[(label, "recommended")].str.endswith("✓").all()
    assert frames.recommendations_wide(frame).shape == (n, 2)  # without history, as before
