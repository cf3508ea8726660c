"""The README's main job: Table 1 statistics, Pop and Item-KNN, then CODIGEM trained briefly,
and the top recommendations for a few held-out users. Offline it uses the synthetic dataset."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from codigem_lab.baselines import ItemKNN, Pop
from codigem_lab.codigem import CODIGEMRecommender
from codigem_lab.data.spec import DataSpec
from codigem_lab.metrics import Evaluator
from codigem_lab.report import format_table, item_name
from codigem_lab.train import TrainConfig


@dataclass
class QuickstartReport:
    """What the quickstart prints (``text``) and its metrics by model (``summary``)."""

    text: str
    summary: dict


def run_quickstart(data: DataSpec, epochs: int = 20, progress: bool = True) -> QuickstartReport:
    """Load the data, evaluate Pop, Item-KNN and a briefly trained CODIGEM; recommend for a few users."""
    data = dataclasses.replace(data, seed=0)
    split = data.load()
    lines = [f"Dataset {data.label}: {split.meta.get('preprocessing', '')}"]
    if data.banner:
        lines.append(f"*** {data.banner} ***")
    lines.append("Table 1 statistics:")
    st = split.stats
    lines += [
        f"  users {st['users']:,}   items {st['items']:,}   interactions {st['interactions']:,}"
        f"   sparsity {st['sparsity']:.2f}%",
        f"Protocol: strong generalisation, {split.valid.n_users} validation and "
        f"{split.test.n_users} test users (80% fold-in / 20% target each).",
        "",
    ]
    evaluator = Evaluator(split)
    baselines = {"Pop": Pop(), "Item-KNN": ItemKNN()}
    rows = {name: evaluator.evaluate(m.fit(split), "test").metrics for name, m in baselines.items()}
    # both presets: the released code's raw 0/1 inputs learn much faster than the paper's [-1, 1]
    train = TrainConfig(max_epochs=epochs, patience=epochs, seed=0, progress=progress)
    models = {v: CODIGEMRecommender(v, train).fit(split) for v in ("released", "paper")}
    for variant, model in models.items():
        rows[f"CODIGEM ({variant} preset, {model.result.epochs} epochs)"] = (
            model.result.test.metrics
        )
    table = pd.DataFrame(rows).T[["R@20", "R@50", "N@20", "N@50"]]
    lines += ["Test metrics (Recall@K = hits / min(K, #targets)):", format_table(table), ""]

    titles = data.titles()
    es = split.test
    users = np.flatnonzero(np.diff(es.fold_in.indptr) >= 5)[:3]
    top = models["released"].recommend(es.fold_in[users], n=5)
    for u, items in zip(users, top):
        names = [item_name(split.items[i], titles) for i in items]
        hits = set(es.target[u].indices)
        marked = [f"{n}{' *' if i in hits else ''}" for n, i in zip(names, items)]
        lines.append(f"User {es.users[u]} ({es.fold_in[u].nnz} items seen): " + ", ".join(marked))
    lines.append("(CODIGEM, released preset; * = a held-out item the user really interacted with)")
    summary = {name: {k: round(v, 4) for k, v in m.items()} for name, m in rows.items()}
    return QuickstartReport("\n".join(lines), summary)
