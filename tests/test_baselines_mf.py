"""EASE, WMF, BPR, ENMF, NeuMF: they learn (both protocols), mask nothing, are deterministic, and
reject bad settings; plus the shared fold-in helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codigem_lab.baselines.factors import gradient_fold_in, implicit_user_solve, sample_negatives
from codigem_lab.errors import ConfigError
from codigem_lab.metrics import Evaluator
from codigem_lab.models import build_model, model_class
from codigem_lab.train import TrainConfig

#: small settings that learn on the synthetic split within a few seconds each
SMALL: dict[str, tuple[dict, int]] = {
    "ease": ({"lam": 50.0}, 0),
    "wmf": ({"factors": 16, "iterations": 4}, 0),
    "bpr": ({"factors": 16, "fold_in_steps": 30, "fold_in_lr": 0.05}, 30),
    "enmf": ({"factors": 16}, 30),
    "neumf": ({"gmf_factors": 8, "layers": [32, 16, 8], "fold_in_steps": 20}, 30),
}
MODELS = list(SMALL)


def _build(name: str, seed: int = 0, epochs: int | None = None, **params):
    base, default_epochs = SMALL[name]
    epochs = default_epochs if epochs is None else epochs
    cls = model_class(name)
    train = None
    if default_epochs:
        train = cls.default_train_config(
            max_epochs=epochs, patience=epochs, progress=False, seed=seed, device="cpu"
        )
    return build_model(name, params={**base, **params}, train_config=train)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The synthetic data is tiny: one thread is as fast, and immune to a busy shared CPU (where
    two threads' barrier waits made this module 30x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def fitted(small_split, small_ratio_split):
    """Each (model, protocol) fitted once for the module."""
    cache: dict = {}
    splits = {"strong": small_split, "ratio": small_ratio_split}

    def get(name: str, protocol: str):
        if (name, protocol) not in cache:
            cache[name, protocol] = _build(name).fit(splits[protocol], progress=False)
        return cache[name, protocol]

    return get


def _r50(split, scorer) -> float:
    return Evaluator(split, ks=(50,)).evaluate(scorer, "test").metrics["R@50"]


def _random_r50(split) -> float:
    gen = torch.Generator().manual_seed(0)
    return _r50(split, lambda f, rows: torch.rand(f.shape[0], split.n_items, generator=gen))


def _pop_r50(split) -> float:
    return _r50(split, build_model("pop").fit(split))


# ------------------------------------------------------------------------------ learning
@pytest.mark.parametrize("protocol", ["strong", "ratio"])
@pytest.mark.parametrize("name", MODELS)
def test_learns(name, protocol, fitted, small_split, small_ratio_split):
    split = small_split if protocol == "strong" else small_ratio_split
    r50 = _r50(split, fitted(name, protocol))
    assert r50 > 1.5 * _random_r50(split), r50
    assert r50 > 1.1 * _pop_r50(split), r50


@pytest.mark.parametrize("name", ["bpr", "enmf", "neumf", "wmf"])
def test_ratio_uses_learned_user_factors(name, fitted, small_ratio_split):
    """With ``train_rows`` the learned rows are used; without, the rows are folded in afresh."""
    model = fitted(name, "ratio")
    es = small_ratio_split.valid
    rows = np.arange(20)
    learned = torch.as_tensor(model.score(es.fold_in[rows], es.train_rows[rows]))
    folded = torch.as_tensor(model.score(es.fold_in[rows], None))
    assert learned.shape == folded.shape == (20, small_ratio_split.n_items)
    assert not torch.allclose(learned, folded)


@pytest.mark.parametrize("name", ["bpr", "enmf", "neumf"])
def test_history_and_best_epoch(name, fitted):
    result = fitted(name, "strong").result
    assert len(result.history) == SMALL[name][1]
    assert {"loss", "R@50"} <= set(result.history.columns)
    assert 1 <= result.best_epoch <= len(result.history)


def test_wmf_history(fitted):
    model = fitted("wmf", "strong")
    assert list(model.history["epoch"]) == [1, 2, 3, 4]
    assert model.history.loc[model.best_iteration - 1, "R@50"] == model.history["R@50"].max()


# ------------------------------------------------------------------------------ no masking
@pytest.mark.parametrize("name", MODELS)
def test_score_masks_nothing(name, fitted, small_split):
    """Fold-in items keep finite scores, and a user's own items score above the others."""
    es = small_split.test
    scores = torch.as_tensor(fitted(name, "strong").score(es.fold_in, None)).double()
    own = torch.from_numpy(es.fold_in.toarray() > 0)
    assert torch.isfinite(scores).all()
    assert (scores[own] != 0).all()
    has = own.any(1) & (~own).any(1)
    mean_own = (scores * own).sum(1)[has] / own.sum(1)[has]
    mean_other = (scores * ~own).sum(1)[has] / (~own).sum(1)[has]
    assert (mean_own > mean_other).float().mean() > 0.9


# ------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("name", MODELS)
def test_deterministic(name, small_split):
    """Same seed, same scores (fitting included, whatever the global RNG's state); scoring twice
    gives the same scores."""
    fold_in = small_split.test.fold_in[:30]
    out = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        kw = {"iterations": 2} if name == "wmf" else {}
        model = _build(name, epochs=2, **kw)
        model.fit(small_split, progress=False)
        out.append(torch.as_tensor(model.score(fold_in, None)))
        torch.testing.assert_close(out[-1], torch.as_tensor(model.score(fold_in, None)))
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=0)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("name", "params", "pattern"),
    [
        ("ease", {"lam": 0.0}, "lam must be in"),
        ("wmf", {"factors": 0}, "factors must be in"),
        ("wmf", {"alpha": -1.0}, "alpha must be in"),
        ("wmf", {"iterations": 0}, "iterations must be in"),
        ("bpr", {"reg": -1e-3}, "reg must be in"),
        ("bpr", {"fold_in_steps": 0}, "fold_in_steps must be in"),
        ("enmf", {"c0": 0.0}, r"c0 must be in \(0.0, 1.0\]"),
        ("enmf", {"dropout": 1.0}, "dropout must be in"),
        ("neumf", {"layers": [63, 8]}, "first even"),
        ("neumf", {"n_negatives": 0}, "n_negatives must be in"),
        ("neumf", {"fold_in_lr": 0.0}, "fold_in_lr must be in"),
        ("bpr", {"no_such_option": 1}, "bad parameters for model 'bpr'"),
    ],
)
def test_config_errors(name, params, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_model(name, params=params)


@pytest.mark.parametrize("name", MODELS)
def test_wrong_config_type(name):
    other = model_class("ease" if name != "ease" else "wmf").config_class()
    with pytest.raises(ConfigError, match=f"{name} needs a"):
        model_class(name)(other)


@pytest.mark.parametrize("name", ["bpr", "enmf", "neumf"])
def test_own_optimiser_defaults(name):
    """Built without a TrainConfig, the model trains with its own ``paper_train`` settings."""
    cls = model_class(name)
    assert cls().train_config == TrainConfig(**cls.paper_train)
    assert cls.default_train_config(max_epochs=3).max_epochs == 3


# ------------------------------------------------------------------------------ helpers
def test_implicit_user_solve_is_weighted_least_squares():
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(9, 30, generator=gen) < 0.3).float()
    q = torch.randn(30, 5, generator=gen)
    c_neg, c_pos, reg, rel = 0.5, 3.0, 0.1, 0.4
    got = implicit_user_solve(x, q, c_neg, c_pos, reg=reg, rel_reg=rel, block_elements=50)
    for u in range(9):
        c = torch.where(x[u] > 0, c_pos, c_neg)
        m = (q.T * c) @ q
        a = m + rel * torch.diag(torch.diagonal(m)) + reg * torch.eye(5)
        torch.testing.assert_close(
            got[u], torch.linalg.solve(a, (q.T * c) @ x[u]), atol=1e-5, rtol=1e-4
        )
    import scipy.sparse as sp

    torch.testing.assert_close(
        implicit_user_solve(sp.csr_matrix(x.numpy()), q, c_neg, c_pos, reg),
        implicit_user_solve(x, q, c_neg, c_pos, reg),
    )


def test_implicit_user_solve_triangle_equals_full_outer_products_bit_for_bit():
    """The solve sums only the upper triangle of each item's outer product and mirrors it: the
    result must equal, bit for bit, the solve that sums all k*k products (its first version)."""
    import scipy.sparse as sp

    from codigem_lab.baselines.factors import _as_sparse_csr

    gen = torch.Generator().manual_seed(1)
    x = sp.random(40, 60, density=0.2, format="csr", random_state=0, dtype=np.float32)
    x.data[:] = np.random.default_rng(0).uniform(0.5, 2.0, x.nnz).astype(np.float32)
    q = torch.randn(60, 7, generator=gen)
    full = (q[:, :, None] * q[:, None, :]).reshape(60, -1)
    s = (_as_sparse_csr(x, q.device) @ full).double().reshape(-1, 7, 7)
    m = 0.5 * (q.double().T @ q.double()) + (3.0 - 0.5) * s
    m = m + 0.2 * torch.diag_embed(torch.diagonal(m, dim1=1, dim2=2)) + 0.1 * torch.eye(7).double()
    b = 3.0 * (_as_sparse_csr(x, q.device) @ q).double()
    want = torch.linalg.solve(m, b.unsqueeze(-1)).squeeze(-1).float()
    assert torch.equal(implicit_user_solve(x, q, 0.5, 3.0, reg=0.1, rel_reg=0.2), want)


def test_sample_negatives_avoids_positives():
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(50, 20, generator=gen) < 0.5).float()
    x[:, 0] = 0.0  # every row keeps at least one negative
    rows = torch.arange(50).repeat(20)
    cols = sample_negatives(x, rows, torch.Generator().manual_seed(1), rounds=50)
    assert (x[rows, cols] == 0).all()


def test_gradient_fold_in_is_seeded_and_leaves_no_grad():
    w = torch.nn.Parameter(torch.randn(4, 3))

    def loss(params, gen):
        noise = torch.randn(5, 3, generator=gen)
        return ((params["p"] @ w.detach() - noise) ** 2).sum()

    a = gradient_fold_in(5, {"p": 4}, loss, steps=5, lr=0.1, seed=3)
    b = gradient_fold_in(5, {"p": 4}, loss, steps=5, lr=0.1, seed=3)
    torch.testing.assert_close(a["p"], b["p"], rtol=0, atol=0)
    assert not a["p"].requires_grad and w.grad is None
    with torch.no_grad():  # the evaluator scores under no_grad; fold-in still optimises
        c = gradient_fold_in(5, {"p": 4}, loss, steps=5, lr=0.1, seed=3)
    torch.testing.assert_close(a["p"], c["p"])


def test_fold_in_leaves_module_unchanged(fitted, small_split):
    model = fitted("neumf", "strong")
    module = model.module
    before = {k: v.clone() for k, v in module.state_dict().items()}
    grads = [None if p.grad is None else p.grad.clone() for p in module.parameters()]
    model.score(small_split.test.fold_in[:10], None)
    for p, g in zip(module.parameters(), grads, strict=True):
        assert p.requires_grad
        assert (p.grad is None and g is None) or torch.equal(p.grad, g)
    for k, v in module.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)


def test_enmf_fold_in_minimises_its_loss():
    """Without dropout, the closed-form fold-in is a stationary point of ENMF's own batch loss
    (up to the float32 sums inside the solve)."""
    from codigem_lab.baselines.enmf import ENMFConfig, ENMFModule

    torch.manual_seed(0)
    module = ENMFModule(6, 40, ENMFConfig(factors=5, dropout=0.0, ridge=0.0)).double()
    with torch.no_grad():
        module.item.normal_()
        module.h.uniform_(0.5, 1.5)
    x = (torch.rand(6, 40) < 0.3).double()

    def user_grad(p: torch.Tensor) -> torch.Tensor:
        module.user.grad = None
        with torch.no_grad():
            module.user.copy_(p)
        module.loss(x, 0, np.arange(6))[0].backward()
        return module.user.grad.abs().max()

    ph = module.fold_in(x)["ph"].double()
    assert user_grad(ph / module.h.detach()) < 1e-5 * user_grad(torch.zeros(6, 5))


def test_neumf_all_item_scores_match_pair_logits(fitted, small_split):
    """``predict`` (split first layer, chunked) equals the pairwise network on every pair."""
    module = fitted("neumf", "strong").module
    users = module.user_params(torch.arange(7))
    n_items = small_split.n_items
    u = torch.arange(7).repeat_interleave(n_items)
    i = torch.arange(n_items).repeat(7)
    with torch.no_grad():
        a, b = module._user_part(users["pm"]), module._item_part()
        pair = module._pair_logits(users["pg"], a, b, u, i).reshape(7, n_items)
        full = module.predict(users, block_elements=1000)
    torch.testing.assert_close(full, pair, atol=1e-5, rtol=1e-5)


def test_ease_matches_closed_form(small_split):
    model = build_model("ease", params={"lam": 10.0}).fit(small_split)
    x = small_split.train.toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 10.0 * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)
    np.testing.assert_allclose(model.B.numpy(), b, atol=1e-5)
    assert np.all(np.diag(model.B.numpy()) == 0)


# ------------------------------------------------------------------------------ run folders
@pytest.mark.parametrize(
    ("name", "params"), [("neumf", SMALL["neumf"][0]), ("wmf", {"factors": 8})]
)
def test_run_folder_round_trip(name, params, tmp_path):
    """``run_training`` writes a run folder; ``evaluate_run`` rebuilds the model from it (for
    neural models from ``best.pt``: the fold-in lives in the module) and gets the same metrics."""
    from codigem_lab.runs import DataSpec, RunSpec, evaluate_run, run_training

    data = DataSpec(dataset="synthetic", seed=0, cache=str(tmp_path / "cache"), max_users=150)
    cls = model_class(name)
    make = getattr(cls, "default_train_config", TrainConfig)  # WMF ignores the TrainConfig
    train = make(max_epochs=2, progress=False, device="cpu")
    spec = RunSpec(data, model=name, variant=None, params=dict(params), train=train)
    out = run_training(spec, tmp_path / "run")
    again = evaluate_run(tmp_path / "run", "test")
    assert again.metrics == pytest.approx(out.test, abs=1e-6)


@pytest.mark.parametrize("name", ["pop", "itemknn", "ease", "wmf", "bpr", "multvae"])
def test_score_before_fit_is_a_clear_error(name, small_split):
    with pytest.raises(RuntimeError, match=r"call fit\(split\)"):
        build_model(name).score(small_split.valid.fold_in)
