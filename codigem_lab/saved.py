"""Open a finished run folder as a fitted recommender: neural models load ``best.pt``; closed-form
ones are refitted on the split ``config.json`` rebuilds (both deterministic)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from codigem_lab.data.splits import EvalSet, Split
from codigem_lab.errors import ConfigError
from codigem_lab.models import build_model
from codigem_lab.neural import NeuralRecommender
from codigem_lab.recommender import Recommender
from codigem_lab.runs import RunSpec


@dataclass
class SavedRun:
    """A run folder opened for use: its spec, the split it was trained on, the fitted model."""

    path: Path
    spec: RunSpec
    split: Split
    recommender: Recommender

    def user_row(self, user: int) -> tuple[EvalSet, int]:
        """The evaluation set and row of ``user`` (an original user id): a test user, else a
        validation user (under ``ratio`` every user is a test user)."""
        for es in (self.split.test, self.split.valid):
            rows = np.flatnonzero(es.users == user)
            if len(rows):
                return es, int(rows[0])
        some = ", ".join(str(u) for u in self.split.test.users[:5])
        raise ConfigError(
            f"user {user} is not a test or validation user of {self.path} "
            f"({self.split.protocol} protocol); the test users are the index of "
            f"{self.path / 'test_per_user.csv'}, e.g. {some}"
        )

    def recommend(self, user: int, k: int = 10) -> pd.DataFrame:
        """The top-``k`` items for ``user`` (``rank``, ``item``: original id, ``score``), less the
        items the evaluator masks for them (their fold-in items)."""
        es, row = self.user_row(user)
        train_rows = None if es.train_rows is None else es.train_rows[[row]]
        scores = torch.as_tensor(self.recommender.score(es.fold_in[[row]], train_rows))
        masked = torch.from_numpy(es.mask[row].toarray()[0] > 0)
        scores = scores.float().cpu()[0].masked_fill(masked, float("-inf"))
        top = torch.topk(scores, min(k, int(torch.isfinite(scores).sum())))
        rank, items = np.arange(1, len(top.indices) + 1), self.split.items[top.indices.numpy()]
        return pd.DataFrame({"rank": rank, "item": items, "score": top.values.numpy()})


def open_run(path: str | os.PathLike) -> SavedRun:
    """Rebuild a run's split from its ``config.json`` and its fitted model (see the module note)."""
    path = Path(path)
    config = path / "config.json"
    if not config.exists():
        raise ConfigError(
            f"{path} is not a run folder (no config.json); pass the folder `train` wrote "
            "or a result-cache entry (runs/cache/<key>)"
        )
    spec = RunSpec.from_dict(json.loads(config.read_text()))
    split = spec.data.load()
    rec = build_model(spec.model, spec.variant, spec.config, spec.train, None)
    if isinstance(rec, NeuralRecommender):
        best = path / "best.pt"
        if not best.exists():
            raise ConfigError(
                f"{best} is missing: the run did not finish (continue it with --resume), or the "
                "result cache was told not to keep checkpoints"
            )
        rec.load(split, best)
    else:
        rec.fit(split, progress=False)
    return SavedRun(path, spec, split, rec)


def load_run(path: str | os.PathLike) -> Recommender:
    """The fitted recommender of a finished run folder (see :func:`open_run`)."""
    return open_run(path).recommender
