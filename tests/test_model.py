"""CODIGEM: shapes, ELBO bookkeeping, released-code switches, variants, scoring, init, training."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from codigem_lab.diffusion.model import (
    CODIGEM,
    PRESETS,
    CODIGEMConfig,
    n_flops_per_example,
)
from codigem_lab.errors import ConfigError

D, B = 12, 5


def _model(preset: str = "paper", seed: int = 0, **over: object) -> CODIGEM:
    over.setdefault("hidden", 16)
    torch.manual_seed(seed)
    return CODIGEM(CODIGEMConfig.preset(preset, n_items=D, **over)).double()


def _x(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, D, generator=g) < 0.3).double()


def _gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------------- config
def test_presets() -> None:
    assert PRESETS == ("paper", "released")
    paper = CODIGEMConfig.preset("paper", n_items=D)
    rel = CODIGEMConfig.preset("released", n_items=D)
    for c in (paper, rel):
        assert (c.T, c.beta, c.hidden, c.n_layers) == (3, 1e-4, 200, 6)
    assert paper.deviations == ()
    assert set(rel.deviations) == {
        "forward_term_bug",
        "pairing_bug",
        "anneal_overwritten",
        "init",
        "input_scaling",
    }
    assert CODIGEMConfig.preset("paper", n_items=D, T=5).T == 5


@pytest.mark.parametrize(
    ("over", "pattern"),
    [
        ({"beta": 0.0}, "beta"),
        ({"beta": 1.0}, "beta"),
        ({"T": 0}, "T must be"),
        ({"hidden": 0}, "hidden"),
        ({"n_layers": 1}, "n_layers"),
        ({"likelihood": "bernoulli"}, "likelihood"),
        ({"init": "he"}, "init"),
        ({"input_scaling": "zscore"}, "input_scaling"),
        ({"schedule": "quad"}, "schedule"),
        ({"dropout": 1.0}, "dropout"),
        ({"anneal_cap": 1.5}, "anneal_cap"),
        ({"anneal_steps": -1}, "anneal_steps"),
        ({"pairing_bug": 1}, "pairing_bug"),
        ({"skip_forward": True, "T": 1}, "T >= 2"),
        ({"betaa": 0.1}, "unknown"),
    ],
)
def test_config_validation(over: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        CODIGEMConfig.preset("paper", n_items=D, **over)


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="paper"):
        CODIGEMConfig.preset("authors", n_items=D)


# ------------------------------------------------------------------------------ structure
def test_architecture_and_shapes() -> None:
    m = _model()
    assert len(m.reverse_nets) == 2
    net = m.reverse_nets[0]
    assert len(net.linears()) == 6
    assert (net.first.in_features, net.first.out_features) == (D, 16)
    assert net.out.out_features == 2 * D
    assert m.decoder.out.out_features == D
    assert isinstance(net.acts[0], torch.nn.PReLU)
    terms = m(_x(), generator=_gen())
    assert terms.loss.shape == () and torch.isfinite(terms.loss)
    assert len(terms.reverse) == 2 and len(terms.forward_entropy) == 3
    assert [z.shape for z in terms.latents] == [(B, D)] * 3
    per = m(_x(), generator=_gen(), reduction="none")
    assert per.loss.shape == (B,)


def test_terms_add_up_to_elbo() -> None:
    t = _model()(_x(), generator=_gen())
    total = t.reconstruction + sum(t.reverse) + t.prior + sum(t.forward_entropy)
    torch.testing.assert_close(t.elbo, total)
    torch.testing.assert_close(t.kl, t.reconstruction - t.elbo)
    torch.testing.assert_close(t.loss, -t.elbo)  # kl_weight defaults to 1


def test_forward_terms_are_true_log_densities() -> None:
    """-ln q(z_1 | x) for the paper's scaled input is the textbook Gaussian log density."""
    m = _model(beta=0.1)
    x = _x()
    t = m(x, generator=_gen(), reduction="none")
    x0 = 2 * x - 1
    ref = torch.distributions.Normal(math.sqrt(0.9) * x0, math.sqrt(0.1))
    torch.testing.assert_close(-t.forward_entropy[0], ref.log_prob(t.latents[0]).sum(-1))
    prior = torch.distributions.Normal(0.0, 1.0).log_prob(t.latents[-1]).sum(-1)
    torch.testing.assert_close(t.prior, prior)


def test_same_generator_same_loss() -> None:
    m = _model()
    a, b = m(_x(), generator=_gen(3)), m(_x(), generator=_gen(3))
    assert torch.equal(a.loss, b.loss)


# ------------------------------------------------------------------------ released switches
def _grads(model: CODIGEM, x: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    model(x, generator=_gen()).loss.backward()
    return [p.grad.clone() for p in model.parameters()]


def test_forward_term_bug_changes_value_not_gradients() -> None:
    good, bad = _model(beta=0.05), _model(beta=0.05, forward_term_bug=True)
    bad.load_state_dict(good.state_dict())
    x = _x()
    tg, tb = good(x, generator=_gen()), bad(x, generator=_gen())
    assert not torch.allclose(tg.forward_entropy[1], tb.forward_entropy[1])
    assert torch.allclose(tg.reconstruction, tb.reconstruction)
    for g1, g2 in zip(_grads(good, x), _grads(bad, x), strict=True):
        torch.testing.assert_close(g1, g2)


def test_pairing_bug_changes_reverse_terms() -> None:
    good, bad = _model(beta=0.05), _model(beta=0.05, pairing_bug=True)
    bad.load_state_dict(good.state_dict())
    x = _x()
    tg, tb = good(x, generator=_gen()), bad(x, generator=_gen())
    assert not torch.allclose(tg.reverse[0], tb.reverse[0])
    torch.testing.assert_close(tg.prior, tb.prior)
    # released pairing for T = 3: z_1 under net_2(z_3), z_2 under net_1(z_2)
    per = bad(x, generator=_gen(), reduction="none")
    z1, z2, z3 = per.latents
    mu, lv = bad.reverse_nets[1](z3).chunk(2, dim=-1)
    ref = torch.distributions.Normal(mu, torch.exp(0.5 * lv)).log_prob(z1).sum(-1)
    torch.testing.assert_close(per.reverse[0], ref)
    mu, lv = bad.reverse_nets[0](z2).chunk(2, dim=-1)
    ref = torch.distributions.Normal(mu, torch.exp(0.5 * lv)).log_prob(z2).sum(-1)
    torch.testing.assert_close(per.reverse[1], ref)


def test_pairing_bug_is_identity_at_T2() -> None:
    good, bad = _model(T=2), _model(T=2, pairing_bug=True)
    bad.load_state_dict(good.state_dict())
    torch.testing.assert_close(good(_x(), generator=_gen()).loss, bad(_x(), generator=_gen()).loss)


def test_kl_annealing_weights() -> None:
    cfg = CODIGEMConfig.preset("paper", n_items=D, anneal_steps=100, anneal_cap=0.2)
    assert cfg.kl_weight(0) == 0.0
    assert cfg.kl_weight(10) == pytest.approx(0.1)
    assert cfg.kl_weight(1000) == pytest.approx(0.2)
    assert CODIGEMConfig.preset("paper", n_items=D).kl_weight(5) == 1.0
    m = _model()
    t = m(_x(), generator=_gen(), kl_weight=0.3)
    assert t.kl_weight == 0.3
    torch.testing.assert_close(t.loss, -(t.reconstruction - 0.3 * t.kl))
    torch.testing.assert_close(t.elbo, t.reconstruction - t.kl)  # elbo is unweighted


def test_anneal_overwritten_forces_weight_one() -> None:
    m = _model(anneal_overwritten=True)
    t = m(_x(), generator=_gen(), kl_weight=0.3)
    assert t.kl_weight == 1.0
    torch.testing.assert_close(t.loss, -t.elbo)


def test_init_modes() -> None:
    torch.manual_seed(0)
    cfg = CODIGEMConfig.preset("paper", n_items=300, hidden=50)
    xav = CODIGEM(cfg)
    rel = CODIGEM(dataclasses.replace(cfg, init="released"))
    want = math.sqrt(2 / (300 + 50))
    assert xav.reverse_nets[0].first.weight.std().item() == pytest.approx(want, rel=0.1)
    assert torch.count_nonzero(xav.decoder.first.bias) == 0
    assert rel.reverse_nets[0].first.weight.std().item() == pytest.approx(1e-4, rel=0.1)
    assert rel.reverse_nets[1].first.weight.std().item() == pytest.approx(1e-4, rel=0.1)
    # decoder keeps PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std 1/sqrt(3 fan_in)
    default = 1 / math.sqrt(3 * 300)
    assert rel.decoder.first.weight.std().item() == pytest.approx(default, rel=0.1)
    assert torch.count_nonzero(rel.decoder.first.bias) > 0


def test_input_scaling() -> None:
    x = torch.tensor([[0.0, 1.0] * (D // 2)], dtype=torch.float64)
    paper, rel = _model(), _model(input_scaling="none")
    assert paper.scale_input(x).min() == -1 and paper.scale_input(x).max() == 1
    assert torch.equal(rel.scale_input(x), x)
    # Gaussian reconstruction targets the scaled x: tanh(NN) = x0 exactly would give -D/2 ln 2pi
    t = paper(x, generator=_gen(), reduction="none")
    assert t.reconstruction.item() <= -0.5 * D * math.log(2 * math.pi)


def test_multinomial_likelihood() -> None:
    m = _model(likelihood="multinomial")
    x = _x()
    t = m(x, generator=_gen(), reduction="none")
    logits = m.decoder(t.latents[0])
    torch.testing.assert_close(t.reconstruction, (x * torch.log_softmax(logits, -1)).sum(-1))
    assert torch.all(t.reconstruction <= 0)


def test_skip_variants_change_outputs_but_not_parameters() -> None:
    base = _model()
    n_params = sum(p.numel() for p in base.parameters())
    for over in ({"skip_forward": True}, {"skip_reverse": True}):
        m = _model(**over)
        assert sum(p.numel() for p in m.parameters()) == n_params
        m.load_state_dict(base.state_dict())
        assert not torch.allclose(m(_x(), generator=_gen()).loss, base(_x(), generator=_gen()).loss)
    assert _model(skip_forward=True).reverse_nets[0].residual
    assert _model(skip_reverse=True).decoder.residual


def test_T1_edge_case() -> None:
    m = _model(T=1)
    assert len(m.reverse_nets) == 0
    t = m(_x(), generator=_gen())
    assert t.reverse == [] and len(t.forward_entropy) == 1
    torch.testing.assert_close(t.elbo, t.reconstruction + t.prior + t.forward_entropy[0])
    torch.testing.assert_close(m.score(_x(), mode="reverse"), m.score(_x(), mode="decoder"))


# ----------------------------------------------------------------------------------- score
def test_score_modes_and_determinism() -> None:
    m = _model(beta=0.05)
    x = _x()
    for mode in ("decoder", "reverse"):
        s1, s2 = m.score(x, mode=mode), m.score(x, mode=mode)
        assert s1.shape == (B, D) and torch.equal(s1, s2)
        n1 = m.score(x, mode=mode, noise=True, generator=_gen(4))
        n2 = m.score(x, mode=mode, noise=True, generator=_gen(4))
        assert torch.equal(n1, n2) and not torch.equal(n1, s1)
    assert not torch.allclose(m.score(x, mode="decoder"), m.score(x, mode="reverse"))
    # decoder mode: NN(sqrt(alpha_bar_1) x0)
    z1 = math.sqrt(0.95) * (2 * x - 1)
    torch.testing.assert_close(m.score(x), m.decoder(z1).detach())
    with pytest.raises(ConfigError, match="mode"):
        m.score(x, mode="prior")


def test_score_ignores_dropout_and_keeps_train_mode() -> None:
    m = _model(dropout=0.5)
    m.train()
    x = _x()
    assert torch.equal(m.score(x), m.score(x))
    assert m.training


def test_flops() -> None:
    cfg = CODIGEMConfig.preset("paper", n_items=100, hidden=10)
    trunk = 100 * 10 + 4 * 10 * 10
    expected = 3 * 2 * (2 * (trunk + 10 * 200) + trunk + 10 * 100)
    assert n_flops_per_example(cfg) == expected
    # counting the real Linear layers gives the same number
    m = CODIGEM(cfg)
    counted = sum(
        2 * mod.in_features * mod.out_features
        for mod in m.modules()
        if isinstance(mod, torch.nn.Linear)
    )
    assert n_flops_per_example(m.config) == 3 * counted


def test_sparse_input_and_shape_check() -> None:
    m = _model()
    x = _x()
    torch.testing.assert_close(m.score(x.to_sparse()), m.score(x))
    with pytest.raises(ConfigError, match="shape"):
        m(torch.zeros(2, D + 1))


# -------------------------------------------------------------------------------- training
@pytest.mark.parametrize("preset", PRESETS)
def test_tiny_model_overfits(preset: str) -> None:
    torch.manual_seed(0)
    m = CODIGEM(CODIGEMConfig.preset(preset, n_items=20, hidden=32))
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(16, 20, generator=g) < 0.3).float()
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = m(x, generator=g).loss
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first - 10.0  # nats per user; the loss holds a large parameter-free part
    # the decoder learned the data: clicked items score above unclicked ones on average
    s = m.score(x)
    assert s[x > 0].mean() > s[x == 0].mean()


# ------------------------------------------------------------------- targets and released init
@pytest.mark.parametrize("scaling", ["minus1_1", "none"])
def test_gaussian_reconstruction_targets_the_scaled_input(scaling: str) -> None:
    """ln p(x | z_1) = ln N(x0 | tanh NN(z_1), I) with x0 = 2x - 1 (paper) or x (deviation 5)."""
    m = _model(input_scaling=scaling)
    x = _x()
    t = m(x, generator=_gen(), reduction="none")
    x0 = 2 * x - 1 if scaling == "minus1_1" else x
    mean = torch.tanh(m.decoder(t.latents[0]))
    ref = torch.distributions.Normal(mean, 1.0).log_prob(x0).sum(-1)
    torch.testing.assert_close(t.reconstruction, ref)


def test_elbo_terms_match_textbook_densities_term_by_term() -> None:
    """Every reported term against torch.distributions on the model's own chain (T = 4)."""
    m = _model(T=4, beta=0.1)
    x = _x()
    t = m(x, generator=_gen(), reduction="none")
    z = [2 * x - 1, *t.latents]  # z[0] = x0
    N = torch.distributions.Normal
    for i in range(1, 4):  # ln p(z_i | z_{i+1}) under net i
        mu, lv = m.reverse_nets[i - 1](z[i + 1]).chunk(2, -1)
        ref = N(mu, torch.exp(0.5 * lv)).log_prob(z[i]).sum(-1)
        torch.testing.assert_close(t.reverse[i - 1], ref)
    for i in range(1, 5):  # -ln q(z_i | z_{i-1}), eq (4)
        ref = N(math.sqrt(0.9) * z[i - 1], math.sqrt(0.1)).log_prob(z[i]).sum(-1)
        torch.testing.assert_close(-t.forward_entropy[i - 1], ref)
    torch.testing.assert_close(t.prior, N(0.0, 1.0).log_prob(z[4]).sum(-1))
    torch.testing.assert_close(t.kl, -(sum(t.reverse) + t.prior + sum(t.forward_entropy)))


def test_released_init_matches_the_released_recipe() -> None:
    """Released code: normal_(0, 1e-4) on the first Linear's weight AND bias of each transition
    net; every other layer and the whole decoder keep PyTorch's default U(+-1/sqrt(fan_in))."""
    torch.manual_seed(0)
    m = CODIGEM(CODIGEMConfig.preset("released", n_items=300, hidden=200, T=4))
    for net in m.reverse_nets:
        w, b = net.first.weight.detach(), net.first.bias.detach()
        assert w.std().item() == pytest.approx(1e-4, rel=0.05)
        assert b.std().item() == pytest.approx(1e-4, rel=0.25)  # 200 values
        assert abs(b.mean().item()) < 4 * 1e-4 / math.sqrt(200)
        assert abs(w.mean().item()) < 4 * 1e-4 / math.sqrt(w.numel())
        for layer in net.linears()[1:]:
            default = 1 / math.sqrt(3 * layer.in_features)
            assert layer.weight.std().item() == pytest.approx(default, rel=0.1)
            assert layer.bias.abs().max().item() <= 1 / math.sqrt(layer.in_features)
            assert layer.bias.std().item() == pytest.approx(default, rel=0.3)
    for layer in m.decoder.linears():
        default = 1 / math.sqrt(3 * layer.in_features)
        assert layer.weight.std().item() == pytest.approx(default, rel=0.1)
        assert layer.bias.std().item() == pytest.approx(default, rel=0.3)
    # the paper preset keeps Xavier weights with zero biases in the same layer
    paper = CODIGEM(CODIGEMConfig.preset("paper", n_items=300, hidden=200, T=4))
    assert paper.reverse_nets[0].first.bias.abs().max() == 0
