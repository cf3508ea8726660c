"""ARP, novelty and coverage against hand-computed values."""

import numpy as np
import pytest
import scipy.sparse as sp

from codigem_lab.metrics import catalogue_coverage, item_popularity, list_popularity


def test_popularity_is_the_training_column_count():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=np.float32))
    assert item_popularity(train).tolist() == [3, 2, 1, 0]


def test_arp_and_novelty_by_hand():
    pop = np.array([4.0, 2.0, 1.0, 0.0])
    top = np.array([[0, 1], [2, 3]])
    out = list_popularity(top, pop, n_users=4)
    assert out["ARP"].tolist() == [3.0, 0.5]
    # -log2(4/4)=0, -log2(2/4)=1 -> 0.5; -log2(1/4)=2 and the unseen item counts once -> 2
    assert out["novelty"] == pytest.approx([0.5, 2.0])


def test_popular_lists_have_higher_arp_and_lower_novelty():
    pop = np.arange(10, 0, -1, dtype=float)
    head, tail = np.array([[0, 1, 2]]), np.array([[7, 8, 9]])
    a, b = list_popularity(head, pop, 10), list_popularity(tail, pop, 10)
    assert a["ARP"][0] > b["ARP"][0] and a["novelty"][0] < b["novelty"][0]


def test_coverage_counts_distinct_items():
    assert catalogue_coverage(np.array([[0, 1], [1, 2]]), 10) == pytest.approx(0.3)
    assert catalogue_coverage(np.array([[0, 1], [0, 1]]), 4) == pytest.approx(0.5)


def _tiny_split():
    """4 training users over 5 items (popularity 4, 2, 2, 1, 0); two evaluated users, whose fold-in
    items (0 for the first, 1 for the second) are masked."""
    from codigem_lab.data.splits import EvalSet, Split

    def csr(rows):
        return sp.csr_matrix(np.array(rows, dtype=np.float32))

    train = csr([[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 1, 0, 0], [1, 0, 0, 1, 0]])
    fold_in = csr([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]])
    es = EvalSet(fold_in, csr([[0, 0, 0, 1, 0], [0, 0, 1, 0, 0]]), fold_in, np.array([10, 11]))
    return Split("strong", train, es, es, np.arange(4), np.arange(5))


def test_evaluator_reports_arp_novelty_coverage_by_hand():
    from codigem_lab.metrics import Evaluator

    def scorer(fold_in, train_rows=None):  # the same ranking 0 > 1 > 2 > 3 > 4 for everyone
        return np.tile(np.array([5.0, 4, 3, 2, 1]), (fold_in.shape[0], 1))

    res = Evaluator(_tiny_split(), ks=(1, 2)).evaluate(scorer, "test")
    # lists: user 10 -> [1, 2], user 11 -> [0, 2] (each one's fold-in item masked)
    assert res.per_user["ARP@1"].tolist() == [2.0, 4.0]
    assert res.per_user["ARP@2"].tolist() == [2.0, 3.0]
    # p = count / 4 training users: -log2 of 2/4, 4/4, 2/4 -> 1, 0, 1
    assert res.per_user["novelty@1"].tolist() == pytest.approx([1.0, 0.0])
    assert res.per_user["novelty@2"].tolist() == pytest.approx([1.0, 0.5])
    assert "coverage@1" not in res.per_user  # catalogue-level: no per-user value
    m = res.metrics
    assert (m["ARP@1"], m["ARP@2"]) == (3.0, 2.5)
    assert (m["novelty@1"], m["novelty@2"]) == pytest.approx((0.5, 0.75))
    assert (m["coverage@1"], m["coverage@2"]) == pytest.approx((2 / 5, 3 / 5))  # {0,1}, {0,1,2}
    # grouped after the accuracy columns
    assert list(m) == ["R@1", "R@2", "N@1", "N@2", "ARP@1", "ARP@2", "novelty@1", "novelty@2",
                       "coverage@1", "coverage@2"]  # fmt: skip


# -- in the tables --------------------------------------------------------------------------------
BEYOND_50 = ["ARP@50", "novelty@50", "coverage@50"]


def _with_beyond(rows: list[dict]) -> list[dict]:
    out = []
    for k, r in enumerate(rows):
        r = dict(r)
        for j, m in enumerate(BEYOND_50):
            v = 10.0 * (k + 1) + j
            r.update({f"{m}_mean": v, f"{m}_std": 1.0, f"{m}_ci_low": v - 1, f"{m}_ci_high": v + 1})
        out.append(r)
    return out


def test_records_made_before_have_nan_and_no_columns():
    from types import SimpleNamespace

    from codigem_lab.experiments.aggregate import beyond_display, beyond_metrics, mean_std

    assert beyond_metrics(("R@20", "N@20", "R@50")) == (
        "ARP@20", "ARP@50", "novelty@20", "novelty@50", "coverage@20", "coverage@50",
    )  # fmt: skip
    old = [SimpleNamespace(test={"R@50": 0.3}), SimpleNamespace(test={"R@50": 0.5})]
    row = mean_std(old, ("R@50", "ARP@50"))
    assert row["R@50_mean"] == pytest.approx(0.4) and np.isnan(row["ARP@50_mean"])
    import pandas as pd

    assert beyond_display(pd.DataFrame([row]), ["ARP@50"]) == {}
    new = [SimpleNamespace(test={"ARP@50": 100.0}), SimpleNamespace(test={"ARP@50": 120.0})]
    shown = beyond_display(pd.DataFrame([mean_std(new, ["ARP@50"])]), ["ARP@50"])
    assert shown["ARP@50"][0].startswith("110.0 [")  # ARP (a count) with 1 decimal


def test_a_file_without_the_columns_still_loads_and_renders(tmp_path):
    """A Table 2 file written before the beyond-accuracy columns (as users' older files are)."""
    import json
    from pathlib import Path

    from course import tables as R

    from codigem_lab.experiments.tables import TableResult, render_markdown

    path = Path(__file__).resolve().parents[1] / "results/table2/table2-ml-1m-strong-minK.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    beyond = ("ARP@", "novelty@", "coverage@")
    doc["rows"] = [{k: v for k, v in r.items() if not k.startswith(beyond)} for r in doc["rows"]]
    keep = [i for i, c in enumerate(doc["table"]["columns"]) if not c.startswith(beyond)]
    doc["table"]["columns"] = [doc["table"]["columns"][i] for i in keep]
    doc["table"]["cells"] = [[row[i] for i in keep] for row in doc["table"]["cells"]]
    old = tmp_path / path.name
    old.write_text(json.dumps(doc), encoding="utf-8")
    res = TableResult.load(old)
    assert "ARP@50" not in res.table.columns and "ARP@50_mean" not in res.rows[0]
    shown = R.style_table2(res.rows).data
    assert ("R@50", "ours") in shown.columns and not any(c[0] in BEYOND_50 for c in shown.columns)
    text = render_markdown(doc)
    assert "| R@20 |" in text and "ARP@50" not in text
