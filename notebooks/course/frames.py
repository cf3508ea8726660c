"""Tables only the notebooks show (00, 01, 04, 06): recommendation lists with titles and hits, runs,
Table 1 beside the paper's, the gradient-flow audit. Plain data in, a DataFrame or text out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from codigem_lab.report import item_name
from course.paper_table1 import TABLE1

#: Table 1 by the column names the paper prints (ML-20m, ML-1m, AE).
TABLE1_BY_LABEL = {
    label: {k: (v if k == "sparsity" else int(v)) for k, v in TABLE1.loc[name].items()}
    for label, name in (("ML-20m", "ml-20m"), ("ML-1m", "ml-1m"), ("AE", "amazon-electronics"))
}


def recommendations_frame(
    recommender,
    split,
    rows: Sequence[int],
    n: int = 10,
    titles: pd.Series | None = None,
    which: str = "test",
) -> pd.DataFrame:
    """Top-``n`` items for some held-out users, with titles and whether each is a held-out hit.

    One row per (user, rank): ``user``, ``seen`` (fold-in size), ``rank``, ``item``, ``title``,
    ``hit`` (the item is in the user's held-out target set) and ``liked``, the user's rank-th
    fold-in item (their history, "" past its end).
    """
    es = split.eval_set(which)
    rows = np.asarray(rows)
    top = recommender.recommend(es.fold_in[rows], n=n)
    out = []
    for r, items in zip(rows, top, strict=True):
        targets = set(es.target[r].indices.tolist())
        liked = fold_in_titles(split, r, titles, n, which)
        for rank, col in enumerate(items, start=1):
            item_id = split.items[col]
            out.append(
                {
                    "user": es.users[r],
                    "seen": int(es.fold_in[r].nnz),
                    "rank": rank,
                    "item": item_id,
                    "title": item_name(item_id, titles),
                    "hit": col in targets,
                    "liked": liked[rank - 1] if rank <= len(liked) else "",
                }
            )
    return pd.DataFrame(out)


def fold_in_titles(
    split, row: int, titles: pd.Series | None, n: int = 10, which: str = "test"
) -> list[str]:
    """Names of up to ``n`` items a held-out user has interacted with (their fold-in items)."""
    es = split.eval_set(which)
    cols = es.fold_in[row].indices[:n]
    return [item_name(split.items[c], titles) for c in cols]


def recommendations_wide(
    frame: pd.DataFrame, mark: str = " ✓", history: bool = False
) -> pd.DataFrame:
    """:func:`recommendations_frame` as one column per user; held-out hits marked with ``mark``.
    ``history``: two columns per user, what they liked (fold-in) beside what they are recommended."""
    df = frame.assign(
        label=frame["title"] + np.where(frame["hit"], mark, ""),
        column=[f"user {u} ({s} seen)" for u, s in zip(frame["user"], frame["seen"], strict=True)],
    )
    wide = df.pivot(index="rank", columns="column", values="label")
    if not history:
        return wide
    liked = df.pivot(index="rank", columns="column", values="liked")
    both = pd.concat({"liked (fold-in)": liked, "recommended": wide}, axis=1)
    return both.swaplevel(axis=1).sort_index(axis=1)


def runs_table(runs: Mapping[tuple[str, int], object]) -> pd.DataFrame:
    """One row per trained run ``{(name, seed): fitted NeuralRecommender}``: test metrics, epochs,
    best epoch, seconds per epoch (training and validation pass), whether it stopped early."""
    rows = []
    for (name, seed), rec in runs.items():
        r = rec.result
        rows.append(
            {
                "model": name,
                "seed": seed,
                **{k: r.test.metrics[k] for k in ("R@20", "R@50", "N@20", "N@50")},
                "epochs": r.epochs,
                "best epoch": r.best_epoch,
                "train s/epoch": r.train_s_per_epoch,
                "eval s/epoch": r.eval_s_per_epoch,
                "stopped early": r.stopped_early,
            }
        )
    return pd.DataFrame(rows).set_index(["model", "seed"])


def table1_comparison(stats: Mapping[str, float], label: str, paper: str = "ML-1m") -> str:
    """Our Table 1 statistics beside the paper's column for ``paper``, as fixed-width text."""
    ref = TABLE1_BY_LABEL[paper]
    counts = ("users", "items", "interactions")
    rows = [(k, f"{stats[k]:,}", f"{ref[k]:,}", stats[k] - ref[k]) for k in counts]
    rows.append(("sparsity", f"{stats['sparsity']:.2f}%", f"{ref['sparsity']:.2f}%", None))
    head = f"{'':14}{'ours':>14}{'paper':>14}{'ours - paper':>14}"
    lines = [f"ours: {label}", f"paper: Table 1, {paper}", "", head]
    for name, ours, theirs, diff in rows:
        d = "" if diff is None else f"{diff:+,d}"
        lines.append(f"{name:14}{ours:>14}{theirs:>14}{d:>14}")
    return "\n".join(lines)


#: How the reading and the frame name a KL term's weight in CODIGEM's loss (variant I anneals it).
KL_WEIGHT = "KL weight"


def loss_weights(report) -> dict[str, str]:
    """Each CODIGEM loss term's weight in the loss, in words: 1 for the reconstruction, else the KL
    weight (1 where the released code overwrites it); none for a model without a CODIGEM config."""
    if report.config is None:
        return {}
    kl = "1 (annealing overwritten)" if report.config.anneal_overwritten else KL_WEIGHT
    return {t: ("1" if t == "reconstruction" else kl) for t in report.term_reach}


def gradient_flow_frame(report) -> pd.DataFrame:
    """An audit report (``codigem_lab.audit``) as a table: one row per loss term, then the ranking;
    True where the gradient reaches a group, the term's weight, whether it can change the ranking."""
    reach = [*report.term_reach.values(), report.ranking_reach]
    frame = _audit_frame(report, [{g: g in r for g in report.groups} for r in reach], "gradient of")
    weights = loss_weights(report)
    frame["weight in loss"] = [*(weights.get(t, "1") for t in report.term_reach), ""]
    frame["can change ranking"] = [*(t in report.ranking_terms for t in report.term_reach), True]
    return frame


def gradient_norms_frame(report) -> pd.DataFrame:
    """Like :func:`gradient_flow_frame`, with the gradient norms instead of booleans (06 draws it)."""
    norms = [*(report.term_norms[t] for t in report.term_reach), report.ranking_norms]
    rows = [{g: n.get(g, 0.0) for g in report.groups} for n in norms]
    return _audit_frame(report, rows, "gradient norm of")


def _audit_frame(report, rows: list[dict], name: str) -> pd.DataFrame:
    index = [*report.term_reach, f"ranking ({report.score_mode} scoring)"]
    return pd.DataFrame(rows, index=pd.Index(index, name=name))
