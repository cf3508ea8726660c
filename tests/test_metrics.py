import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from codigem_lab.errors import ConfigError
from codigem_lab.metrics import Evaluator, ranking_metrics


def brute_force(scores, target, mask, k, definition):
    """Reference: sort each row in numpy, count hits one by one."""
    rec, ndcg = [], []
    for s, t, m in zip(scores, target, mask):
        s = np.where(m > 0, -np.inf, s)
        order = np.argsort(-s, kind="stable")[:k]
        n = int(t.sum())
        if n == 0:
            rec.append(np.nan)
            ndcg.append(np.nan)
            continue
        hits = t[order]
        rec.append(hits.sum() / (min(k, n) if definition == "minK" else n))
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, n)))
        ndcg.append(dcg / idcg)
    return np.array(rec), np.array(ndcg)


@pytest.mark.parametrize("definition", ["minK", "targets"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force(seed, definition):
    rng = np.random.default_rng(seed)
    b, d = 40, 120
    scores = rng.normal(size=(b, d)).astype(np.float32)  # continuous: no ties
    target = (rng.random((b, d)) < rng.uniform(0.01, 0.4)).astype(np.float32)
    mask = ((rng.random((b, d)) < 0.2) & (target == 0)).astype(np.float32)
    target[0] = 0  # a user without targets is skipped (NaN)
    out = ranking_metrics(
        torch.from_numpy(scores),
        torch.from_numpy(target),
        torch.from_numpy(mask),
        (5, 20, 50),
        definition,
    )
    for k in (5, 20, 50):
        rec, ndcg = brute_force(scores, target, mask, k, definition)
        np.testing.assert_allclose(out[f"R@{k}"].numpy(), rec, rtol=1e-5, equal_nan=True)
        np.testing.assert_allclose(out[f"N@{k}"].numpy(), ndcg, rtol=1e-5, equal_nan=True)


def test_hand_worked_example():
    # items ranked 2, 0, 3, 1; targets {0, 1}; K=2: one hit at rank 2.
    scores = torch.tensor([[0.5, 0.1, 0.9, 0.3]])
    target = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    out = ranking_metrics(scores, target, None, (2, 3))
    assert out["R@2"].item() == pytest.approx(0.5)
    assert out["N@2"].item() == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # K=3: ranks 2, 0, 3 -> still one hit; minK denominator min(3, 2) = 2
    assert out["R@3"].item() == pytest.approx(0.5)


def test_recall_definitions_differ_when_many_targets():
    scores = torch.arange(10, dtype=torch.float32).flip(0)[None]
    target = torch.ones(1, 10)
    out_min = ranking_metrics(scores, target, None, (2,), "minK")
    out_t = ranking_metrics(scores, target, None, (2,), "targets")
    assert out_min["R@2"].item() == 1.0
    assert out_t["R@2"].item() == pytest.approx(0.2)


def test_against_ranx():
    ranx = pytest.importorskip("ranx")
    rng = np.random.default_rng(7)
    b, d, k = 15, 60, 10
    scores = rng.normal(size=(b, d))
    target = (rng.random((b, d)) < 0.15).astype(np.float32)
    target[:, 0] = 1  # every user has a target
    qrels = {f"u{u}": {f"i{i}": 1 for i in np.flatnonzero(target[u])} for u in range(b)}
    run = {f"u{u}": {f"i{i}": float(scores[u, i]) for i in range(d)} for u in range(b)}
    ref = ranx.evaluate(
        ranx.Qrels(qrels), ranx.Run(run), [f"recall@{k}", f"ndcg@{k}"], make_comparable=True
    )
    out = ranking_metrics(torch.from_numpy(scores), torch.from_numpy(target), None, (k,), "targets")
    assert out[f"R@{k}"].mean().item() == pytest.approx(ref[f"recall@{k}"], rel=1e-5)
    assert out[f"N@{k}"].mean().item() == pytest.approx(ref[f"ndcg@{k}"], rel=1e-5)


def test_unknown_definition():
    with pytest.raises(ConfigError, match="recall definition"):
        ranking_metrics(torch.zeros(1, 3), torch.ones(1, 3), None, (1,), "bogus")


def _target_scorer(es):
    """A scorer that returns the target rows in evaluation order."""
    state = {"pos": 0}
    has_target = np.flatnonzero(np.diff(es.target.indptr) > 0)

    def score(fold_in, train_rows=None):
        n = fold_in.shape[0]
        rows = has_target[state["pos"] : state["pos"] + n]
        state["pos"] += n
        return es.target[rows].toarray()

    return score


@pytest.mark.parametrize("which", ["valid", "test"])
def test_leakage_oracle_gets_one(small_split, which):
    ev = Evaluator(small_split, ks=(20, 50), batch_size=64)
    res = ev.evaluate(_target_scorer(small_split.eval_set(which)), which)
    assert res.metrics["R@20"] == pytest.approx(1.0)
    assert res.metrics["N@50"] == pytest.approx(1.0)
    assert res.n_users == (np.diff(small_split.eval_set(which).target.indptr) > 0).sum()


def test_fold_in_items_never_count(small_split):
    es = small_split.valid
    has_target = np.flatnonzero(np.diff(es.target.indptr) > 0)
    state = {"pos": 0}

    def fold_in_first(fold_in, train_rows=None):
        n = fold_in.shape[0]
        rows = has_target[state["pos"] : state["pos"] + n]
        state["pos"] += n
        # fold-in items get the highest scores, targets the next highest, the rest zero: only
        # the mask keeps the fold-in items out of the top K
        return fold_in.toarray() * 10 + es.target[rows].toarray() * 5

    res = Evaluator(small_split, ks=(20,), batch_size=50).evaluate(fold_in_first, "valid")
    assert res.metrics["R@20"] == pytest.approx(1.0)  # with masking every top-K slot is a target
    # without the mask the fold-in items would fill the top of every list
    n_fold = np.diff(es.fold_in.indptr)[has_target]
    assert np.mean(n_fold >= 20) > 0.1  # so the test above has teeth on this split


def test_ranking_metrics_mask_excludes_items():
    scores = torch.tensor([[9.0, 8.0, 1.0, 0.5]])
    target = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    assert ranking_metrics(scores, target, mask, (2,))["R@2"].item() == 1.0
    assert ranking_metrics(scores, target, None, (2,))["R@2"].item() == 0.0


def test_evaluator_ratio_masks_validation_at_test(small_ratio_split):
    es = small_ratio_split.test
    # validation items are in the test mask, so scoring them highest gives no hits
    assert (
        es.mask.multiply(small_ratio_split.valid.target)
    ).nnz == small_ratio_split.valid.target.nnz
    assert es.train_rows is not None


def test_evaluator_rejects_wrong_shape(small_split):
    with pytest.raises(ValueError, match="expected"):
        Evaluator(small_split).evaluate(lambda f, r: np.zeros((f.shape[0], 3)), "valid")


def test_per_user_table(small_split):
    from codigem_lab.baselines import Pop

    res = Evaluator(small_split).evaluate(Pop().fit(small_split), "test")
    accuracy = ["R@20", "R@50", "R@100", "N@20", "N@50", "N@100"]
    beyond = ["ARP@20", "ARP@50", "ARP@100", "novelty@20", "novelty@50", "novelty@100"]
    assert list(res.per_user.columns) == accuracy + beyond
    assert len(res.per_user) == res.n_users
    assert 0 < res.metrics["R@50"] < 1
    assert isinstance(res.table().iloc[0]["N@20"], float)


def test_topk_hits_shape_and_k_larger_than_catalogue():
    from codigem_lab.metrics import topk_hits

    scores = torch.tensor([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]])
    target = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert topk_hits(scores, target, 2).tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert topk_hits(scores, target, 5).shape == (2, 3)  # k is capped at the catalogue size
    out = ranking_metrics(scores, target, None, (5,))  # K = 5 > 3 items: every item is ranked
    assert out["R@5"].tolist() == [1.0, 1.0]
    assert out["N@5"][0].item() == pytest.approx(1.0)
    assert out["N@5"][1].item() == pytest.approx(1 / math.log2(4))


def test_single_target_user_and_user_without_targets():
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.9, 0.1, 0.5]])
    target = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    out = ranking_metrics(scores, target, None, (1, 2))
    assert out["R@1"][0].item() == 0.0 and out["R@2"][0].item() == 1.0
    assert out["N@2"][0].item() == pytest.approx(1 / math.log2(3))
    assert math.isnan(out["R@2"][1].item()) and math.isnan(out["N@2"][1].item())


class _EvalSet:
    def __init__(self, fold_in, target, users):
        import scipy.sparse as sp

        self.fold_in = sp.csr_matrix(fold_in)
        self.target = sp.csr_matrix(target)
        self.mask = sp.csr_matrix(fold_in)
        self.users = np.asarray(users)
        self.n_users = len(users)
        self.train_rows = None


class _TinySplit:
    """3 users x 4 items; user 11 has no targets and must be skipped."""

    n_items = 4
    n_train_users = 2

    def __init__(self):
        self.train = sp.csr_matrix(np.ones((2, 4), dtype=np.float32))
        self.valid = _EvalSet(
            [[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0]],
            [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]],
            [10, 11, 12],
        )

    def eval_set(self, which):
        return self.valid


def test_evaluator_skips_users_without_targets_and_validates():
    split = _TinySplit()
    ev = Evaluator(split, ks=(1.0, 2), batch_size=2.0)
    assert ev.ks == (1, 2) and ev.batch_size == 2

    def by_item(fold_in, train_rows=None):  # ranks item 1, then 2, 3, 0
        return np.tile([0.0, 3.0, 2.0, 1.0], (fold_in.shape[0], 1))

    res = ev.evaluate(by_item, "valid")
    assert res.n_users == 2 and list(res.per_user.index) == [10, 12]
    assert list(res.per_user.columns)[:4] == ["R@1", "R@2", "N@1", "N@2"]
    # user 10: target item 1 ranked first; user 12: item 1 is fold-in (masked), item 2 first
    assert res.metrics["R@1"] == 1.0 and res.metrics["N@2"] == 1.0
    assert 0.0 <= res.seconds < 60.0
    empty = ev.evaluate(by_item, "valid", users=np.array([1]))  # only the user without targets
    assert empty.n_users == 0 and len(empty.per_user) == 0
    assert all(isinstance(v, float) and math.isnan(v) for v in empty.metrics.values())
    for bad in ((), (0,), (5, -1)):
        with pytest.raises(ConfigError, match="ks must be positive"):
            Evaluator(split, ks=bad)
    assert Evaluator(split, ks=(1,)).ks == (1,)
    with pytest.raises(ConfigError, match="recall definition"):
        Evaluator(split, recall_definition="bogus")
