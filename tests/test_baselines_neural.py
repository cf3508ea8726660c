"""Neural baselines (Multi-VAE, Multi-DAE, MacridVAE, DiffRec): they learn, score without masking,
are deterministic, report their loss terms, validate their configs, and build from the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codigem_lab.baselines.diffrec import DiffRec, DiffRecConfig, DiffRecModule
from codigem_lab.baselines.macridvae import MacridVAE, MacridVAEConfig, MacridVAEModule
from codigem_lab.baselines.vae import (
    MultAutoencoder,
    MultDAE,
    MultDAEConfig,
    MultVAE,
    MultVAEConfig,
    anneal_weight,
)
from codigem_lab.errors import ConfigError
from codigem_lab.metrics import Evaluator
from codigem_lab.models import build_model, model_class
from codigem_lab.train import TrainConfig

#: small networks for the 200-item synthetic split
SMALL: dict[str, dict] = {
    "multvae": {"hidden": [64], "latent": 32, "total_anneal_steps": 20},
    "multdae": {"latent": 32},
    "macridvae": {"k": 2, "d": 16},
    "diffrec": {"dims": [64], "steps": 5},
}
CLASSES = {"multvae": MultVAE, "multdae": MultDAE, "macridvae": MacridVAE, "diffrec": DiffRec}
TERMS = {
    "multvae": {"neg_ll", "kl", "beta"},
    "multdae": {"neg_ll", "l2"},
    "macridvae": {"neg_ll", "kl", "beta"},
    "diffrec": {"mse", "weight"},
}


def _train_config(**over) -> TrainConfig:
    base = dict(batch_size=32, max_epochs=6, patience=6, optimizer="adam", lr=3e-3, progress=False)
    return TrainConfig(**{**base, **over})


def _fit(name: str, split, **train_over):
    model = build_model(name, params=SMALL[name], train_config=_train_config(**train_over))
    return model.fit(split)


@pytest.fixture(scope="module")
def fitted(small_split) -> dict:
    return {name: _fit(name, small_split) for name in SMALL}


@pytest.fixture(scope="module")
def random_r50(small_split) -> float:
    """Mean test R@50 of uniform random scores (three draws)."""
    gen = torch.Generator().manual_seed(0)
    ev = Evaluator(small_split)

    def scorer(fold_in, rows=None):
        return torch.rand(fold_in.shape[0], small_split.n_items, generator=gen)

    return float(np.mean([ev.evaluate(scorer, "test").metrics["R@50"] for _ in range(3)]))


# --------------------------------------------------------------------------------- registry
@pytest.mark.parametrize("name", list(SMALL))
def test_registered(name: str) -> None:
    cls = model_class(name)
    assert cls is CLASSES[name]
    assert cls.name == name
    model = build_model(name, params=SMALL[name])
    assert isinstance(model.config, cls.config_class)
    assert model.describe()["model"] == name
    assert model.describe()["config"]


@pytest.mark.parametrize("name", list(SMALL))
def test_unknown_parameter(name: str) -> None:
    with pytest.raises(ConfigError, match="bad parameters"):
        build_model(name, params={"no_such_option": 1})


def test_wrong_config_type() -> None:
    with pytest.raises(ConfigError, match="MultVAEConfig"):
        MultVAE(MultDAEConfig())


# --------------------------------------------------------------------------------- learning
@pytest.mark.parametrize("name", list(SMALL))
def test_learns(name: str, fitted: dict, random_r50: float) -> None:
    r50 = fitted[name].result.test.metrics["R@50"]
    assert r50 > 1.5 * random_r50, (name, r50, random_r50)


@pytest.mark.parametrize("name", list(SMALL))
def test_score_masks_nothing(name: str, fitted: dict, small_split) -> None:
    fold_in = small_split.test.fold_in
    scores = torch.as_tensor(fitted[name].score(fold_in))
    assert scores.shape == (fold_in.shape[0], small_split.n_items)
    assert torch.isfinite(scores).all()
    own = torch.from_numpy(fold_in.toarray() > 0)
    # autoencoders reconstruct their input: a user's own items score above the others
    assert scores[own].mean() > scores[~own].mean()


@pytest.mark.parametrize("name", list(SMALL))
def test_deterministic(name: str, fitted: dict, small_split) -> None:
    again = _fit(name, small_split)
    assert again.result.test.metrics == fitted[name].result.test.metrics
    a = torch.as_tensor(fitted[name].score(small_split.valid.fold_in))
    b = torch.as_tensor(again.score(small_split.valid.fold_in))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", list(SMALL))
def test_loss_terms_reported(name: str, fitted: dict) -> None:
    history = fitted[name].result.history
    assert TERMS[name] <= set(history.columns)
    for term in TERMS[name]:
        assert np.isfinite(history[term]).all()


@pytest.mark.parametrize("name", list(SMALL))
def test_ratio_protocol_ignores_train_rows(name: str, small_ratio_split) -> None:
    model = _fit(name, small_ratio_split, max_epochs=1)
    es = small_ratio_split.valid
    rows = np.arange(5)
    with_rows = torch.as_tensor(model.score(es.fold_in[rows], es.train_rows[rows]))
    without = torch.as_tensor(model.score(es.fold_in[rows]))
    assert torch.equal(with_rows, without)


# ------------------------------------------------------------------------------ Multi-VAE/DAE
def test_vae_anneal_grows_to_cap(fitted: dict, small_split) -> None:
    assert [anneal_weight(s, 100, 0.2) for s in (0, 10, 50, 1000)] == [0.0, 0.1, 0.2, 0.2]
    assert anneal_weight(5, 0, 0.3) == 0.3
    torch.manual_seed(0)
    module = MultAutoencoder(8, MultVAEConfig(hidden=(6,), latent=3, total_anneal_steps=100), True)
    x = (torch.rand(4, 8) < 0.5).float()
    betas = [module.loss(x, step)[1]["beta"] for step in (0, 10, 50, 1000)]
    assert betas == [0.0, 0.1, 0.2, 0.2]
    beta = fitted["multvae"].result.history["beta"].to_numpy()
    assert np.all(np.diff(beta) >= 0) and beta[0] < beta[-1] == pytest.approx(0.2)


def test_vae_defaults_and_eval_is_deterministic() -> None:
    vae, dae = MultVAEConfig(), MultDAEConfig()
    assert (vae.hidden, vae.latent, vae.dropout, vae.weight_l2) == ((600,), 200, 0.5, 0.0)
    assert (vae.total_anneal_steps, vae.anneal_cap) == (200_000, 0.2)
    assert (dae.hidden, dae.latent, dae.dropout, dae.weight_l2) == ((), 200, 0.5, 0.01)
    torch.manual_seed(0)
    module = MultAutoencoder(30, MultVAEConfig(), True).eval()
    layers = [layer.out_features for layer in [*module.encoder.layers, *module.decoder.layers]]
    assert layers == [600, 400, 600, 30]
    assert module.encoder.layers[0].bias.abs().max() <= 0.002  # truncated N(0, 0.001)
    x = (torch.rand(3, 30) < 0.3).float()
    assert torch.equal(module.scores(x), module.scores(x))


def test_dae_weight_penalty() -> None:
    torch.manual_seed(0)
    module = MultAutoencoder(10, MultDAEConfig(latent=4), False, l2_batch_size=50)
    x = (torch.rand(5, 10) < 0.5).float()
    _, terms = module.loss(x, 0)
    sq = sum(float(layer.weight.detach().pow(2).sum()) for layer in module.encoder.layers)
    sq += sum(float(layer.weight.detach().pow(2).sum()) for layer in module.decoder.layers)
    assert terms["l2"] == pytest.approx(0.01 / 50 * sq, rel=1e-5)
    assert "kl" not in terms


# ---------------------------------------------------------------------------------- MacridVAE
def test_macridvae_concepts_and_anneal(small_split) -> None:
    model = MacridVAE(MacridVAEConfig(k=3, d=8), train_config=_train_config())
    module = model.build(small_split)
    assert isinstance(module, MacridVAEModule)
    per_epoch = math.ceil(small_split.n_train_users / 32)
    assert module.anneal_steps == 5 * per_epoch
    torch.manual_seed(0)
    mode = module.concept_log_probs(sample=False).exp()
    sample = module.concept_log_probs(sample=True).exp()
    assert mode.shape == (small_split.n_items, 3)
    assert torch.allclose(mode.sum(1), torch.ones(small_split.n_items))
    assert torch.allclose(sample.sum(1), torch.ones(small_split.n_items))
    assert not torch.allclose(mode, sample)
    x = torch.from_numpy(small_split.train[:4].toarray())
    betas = [module.loss(x, s)[1]["beta"] for s in (0, 5 * per_epoch, 50 * per_epoch)]
    assert betas == [0.0, 0.2, 0.2]
    with torch.no_grad():
        log_probs, kl = module.eval()(x, sample=False)
    assert torch.allclose(log_probs.exp().sum(1), torch.ones(4))
    assert float(kl) >= 0


@pytest.mark.parametrize("training", [True, False])
def test_macridvae_encoder_equals_the_normalised_per_concept_input(training) -> None:
    """``encode`` never builds the [B, K, M] inputs; outputs and gradients match the form that does."""
    torch.manual_seed(0)
    x = (torch.rand(6, 40) < 0.3).float()
    x[2] = 0.0  # a user with no clicks: F.normalize's clamp, and no NaN gradient
    module = MacridVAEModule(40, MacridVAEConfig(k=3, d=5), anneal_steps=1.0).train(training)
    outs, grads = [], []
    for encode in (module.encode, module.encode_reference):
        module.zero_grad()
        torch.manual_seed(1)
        log_c = module.concept_log_probs(sample=False).T
        out = encode(x, log_c)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in module.parameters()])
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    for mine, written in zip(*grads):
        assert torch.isfinite(mine).all() and torch.allclose(mine, written, atol=1e-5)


# ------------------------------------------------------------------------------------ DiffRec
def test_diffrec_schedule_and_reverse_chain() -> None:
    c = DiffRecConfig()
    assert (c.steps, c.noise_scale, c.noise_min, c.noise_max) == (40, 0.005, 0.005, 0.01)
    assert (c.dims, c.emb_size, c.sampling_steps, c.reweight) == ((200, 600), 10, 0, True)
    betas = c.betas()
    assert betas[0] == 1e-5 and (betas > 0).all() and (betas < 1).all()
    # linear variance before beta_1 is fixed: 1 - abar_t = linspace(s * min, s * max, T)
    free = DiffRecConfig(fix_first_beta=False)
    one_minus_abar = 1 - np.cumprod(1 - free.betas())
    assert np.allclose(one_minus_abar, np.linspace(0.005 * 0.005, 0.005 * 0.01, 40))
    torch.manual_seed(0)
    module = DiffRecModule(12, DiffRecConfig(dims=(8,), steps=4)).eval()
    assert float(module.coef_x0[0]) == pytest.approx(1.0) and float(module.coef_xt[0]) == 0.0
    assert float(module.loss_weight[0]) == 1.0 and (module.loss_weight[1:] > 1).all()
    flat = DiffRecModule(12, DiffRecConfig(dims=(8,), steps=4, reweight=False))
    assert torch.equal(flat.loss_weight, torch.ones(4))
    x = (torch.rand(3, 12) < 0.4).float()
    # T' = 0: no noise at inference, so scores are a deterministic function of x
    assert torch.equal(module.scores(x), module.scores(x))
    assert [layer.out_features for layer in module.net.mlp.layers] == [8, 12]
    assert module.net.mlp.layers[0].in_features == 12 + 10


# ------------------------------------------------------------------------------ config checks
@pytest.mark.parametrize(
    ("cls", "kwargs", "pattern"),
    [
        (MultVAEConfig, {"latent": 0}, "latent"),
        (MultVAEConfig, {"dropout": 1.0}, "dropout"),
        (MultVAEConfig, {"hidden": [600, 0]}, "hidden"),
        (MultVAEConfig, {"hidden": "abc"}, "hidden"),
        (MultVAEConfig, {"anneal_cap": -0.1}, "anneal_cap"),
        (MultVAEConfig, {"total_anneal_steps": -1}, "total_anneal_steps"),
        (MultDAEConfig, {"weight_l2": -1.0}, "weight_l2"),
        (MacridVAEConfig, {"k": 0}, "k "),
        (MacridVAEConfig, {"d": 0}, "d "),
        (MacridVAEConfig, {"tau": 0.0}, "tau"),
        (MacridVAEConfig, {"std": -1.0}, "std"),
        (MacridVAEConfig, {"beta": -0.1}, "beta"),
        (MacridVAEConfig, {"anneal_epochs": -1}, "anneal_epochs"),
        (MacridVAEConfig, {"dropout": -0.1}, "dropout"),
        (DiffRecConfig, {"steps": 0}, "steps"),
        (DiffRecConfig, {"noise_scale": 0.0}, "noise_scale"),
        (DiffRecConfig, {"noise_min": 0.02}, "noise_min"),
        (DiffRecConfig, {"noise_scale": 200.0}, "noise_scale"),
        (DiffRecConfig, {"dims": []}, "dims"),
        (DiffRecConfig, {"emb_size": 0}, "emb_size"),
        (DiffRecConfig, {"sampling_steps": 41}, "sampling_steps"),
    ],
)
def test_config_validation(cls: type, kwargs: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        cls(**kwargs)


def test_config_lists_become_tuples() -> None:
    assert MultVAEConfig(hidden=[300]).hidden == (300,)
    assert DiffRecConfig(dims=[1000]).dims == (1000,)
