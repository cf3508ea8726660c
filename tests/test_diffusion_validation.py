"""Boundaries of every validation in the diffusion layer: the smallest legal value passes, the
next one out fails with a ConfigError that names the option (written to kill mutants that move
a boundary, tools/mutation.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from codigem_lab.diffusion import types
from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig
from codigem_lab.diffusion.schedule import NoiseSchedule, check_beta, q_marginal_sample
from codigem_lab.errors import ConfigError


def test_smallest_legal_config_builds() -> None:
    c = CODIGEMConfig(n_items=1, hidden=1, n_layers=2, T=1, anneal_steps=0, dropout=0.0)
    m = CODIGEM(c)
    assert len(m.decoder.blocks) == 0 and len(m.reverse_nets) == 0
    assert CODIGEMConfig(n_items=3, anneal_cap=0.0).anneal_cap == 0.0
    assert CODIGEMConfig(n_items=3, anneal_cap=1.0, anneal_steps=1).kl_weight(5) == 1.0


@pytest.mark.parametrize(
    ("over", "pattern"),
    [
        ({"n_items": 0}, "n_items"),
        ({"n_items": 2.0}, "n_items"),
        ({"n_items": True}, "n_items"),
        ({"T": True}, "T must be"),
        ({"hidden": 3.0}, "hidden"),
        ({"dropout": -0.1}, "dropout"),
        ({"dropout": True}, "dropout"),
        ({"anneal_cap": -0.1}, "anneal_cap"),
        ({"anneal_cap": True}, "anneal_cap"),
        ({"anneal_cap": 1.01}, "anneal_cap"),
        ({"dropout": "0.1"}, "dropout"),
        ({"dropout": float("nan")}, "dropout"),
        ({"beta": True}, "beta"),
        ({"beta_end": 1.0}, "beta_end"),
        ({"activation": "gelu"}, "activation"),
        ({"skip_reverse": "yes"}, "skip_reverse"),
        ({"forward_term_bug": 0}, "forward_term_bug"),
        ({"anneal_overwritten": None}, "anneal_overwritten"),
        ({"skip_forward": 1}, "skip_forward"),
    ],
)
def test_config_rejects(over: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        CODIGEMConfig(**{"n_items": 4, **over})


def test_skip_forward_allowed_at_T2() -> None:
    assert CODIGEMConfig(n_items=4, T=2, skip_forward=True).skip_forward


def test_kl_weight_ramp() -> None:
    c = CODIGEMConfig(n_items=3, anneal_steps=4, anneal_cap=0.5)
    assert [c.kl_weight(s) for s in (0, 1, 2, 3, 8)] == [0.0, 0.25, 0.5, 0.5, 0.5]


def test_deviations_listed_in_order() -> None:
    c = CODIGEMConfig.preset("released", n_items=3)
    assert c.deviations == (
        "forward_term_bug",
        "pairing_bug",
        "anneal_overwritten",
        "init",
        "input_scaling",
    )
    assert dataclasses.replace(c, pairing_bug=False).deviations[1] == "anneal_overwritten"


def test_check_choice_and_literal_tuples() -> None:
    assert types.check_choice("mode", "reverse", types.ScoreMode) == "reverse"
    assert types.check_choice("x", "b", ("a", "b")) == "b"
    with pytest.raises(ConfigError, match=r"mode must be one of \('decoder', 'reverse'\)"):
        types.check_choice("mode", "prior", types.ScoreMode)
    with pytest.raises(ConfigError, match="^mode = 3 is not valid"):
        types.check_choice("mode", 3, types.ScoreMode)
    assert types.SCORE_MODES == ("decoder", "reverse")
    assert types.INPUT_SCALINGS == ("minus1_1", "none")
    assert types.SCHEDULES == ("constant", "linear", "cosine")


def test_check_beta() -> None:
    assert check_beta(np.float32(0.25)) == 0.25
    assert check_beta(np.float64(1e-4), "beta") == 1e-4
    for bad in (True, "0.1", None, 0.0, 1.0, float("nan")):
        with pytest.raises(ConfigError, match="0 < beta < 1"):
            check_beta(bad)
    with pytest.raises(ConfigError, match="beta_end = 2"):
        check_beta(2, "beta_end")


def test_schedule_step_index_and_generators() -> None:
    s = NoiseSchedule.constant(0.1, 3)
    x = torch.ones(2, 3)
    assert s.q_marginal(x, np.int64(2))[1] == pytest.approx(1 - 0.9**2)
    for bad in (True, -1, 4, 1.0):
        with pytest.raises(ConfigError, match=r"0\.\.T = 0\.\.3"):
            s.q_marginal(x, bad)
    assert torch.equal(s.sample_marginal(x, 0), x)
    with pytest.raises(ConfigError, match="torch.Generator"):
        s.sample_chain(x, generator=np.random.default_rng(0))
    z = s.sample_marginal(x, 3, generator=torch.Generator().manual_seed(0))
    assert z.shape == x.shape and not torch.equal(z, x)
    assert q_marginal_sample(x, 0.81).equal(0.9 * x)
    i = np.array([0, 1])
    assert s.sample_marginal(i, 1, generator=0).dtype == np.float64


def test_schedule_value_semantics_and_repr() -> None:
    c = NoiseSchedule.constant(0.1, 2)
    assert c == NoiseSchedule(beta=[0.1, 0.1]) and c != NoiseSchedule(beta=[0.1, 0.2])
    assert c != "NoiseSchedule" and not (c == [0.1, 0.1])
    assert repr(c) == "NoiseSchedule.constant(beta=0.1, T=2)"
    assert repr(NoiseSchedule(beta=[0.1, 0.2])) == "NoiseSchedule(beta=[0.1, 0.2])"
    with pytest.raises(ConfigError, match="sequence of numbers"):
        NoiseSchedule(beta=["a"])
    with pytest.raises(ConfigError, match="empty"):
        NoiseSchedule(beta=[])
    with pytest.raises(ConfigError, match="offset s"):
        NoiseSchedule.cosine(5, s=0.0)
    with pytest.raises(ConfigError, match="offset s"):
        NoiseSchedule.cosine(5, s=True)
    assert NoiseSchedule.from_name("cosine", 4) == NoiseSchedule.cosine(4)
    assert NoiseSchedule.from_name("constant", 2, beta=0.1) == c
    lin = NoiseSchedule.linear(0.1, 0.3, 3)
    np.testing.assert_allclose(lin.beta, [0.1, 0.2, 0.3])
    assert NoiseSchedule.cosine(1).T == 1
    assert NoiseSchedule.cosine(10).beta.max() <= 0.999


def test_cosine_schedule_values() -> None:
    """alpha_bar_t = f(t) / f(0), f(t) = cos((t/T + s) / (1 + s) pi/2)^2 (Nichol & Dhariwal)."""
    T, s = 4, 0.008
    f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
    want = f[1:] / f[0]
    got = NoiseSchedule.cosine(T).alpha_bar  # the default offset is s = 0.008
    np.testing.assert_allclose(got[:-1], want[:-1], rtol=1e-12)
    assert NoiseSchedule.cosine(T).beta[-1] == 0.999  # clipped


def test_reset_parameters_reinitialises_every_layer() -> None:
    torch.manual_seed(0)
    for init in ("xavier", "released"):
        m = CODIGEM(CODIGEMConfig(n_items=50, hidden=40, T=3, init=init))
        with torch.no_grad():
            for p in m.parameters():
                p.fill_(7.0)
        m.reset_parameters()
        for net in [*m.reverse_nets, m.decoder]:
            for layer in net.linears():
                assert layer.weight.abs().max() < 1.0, init
                assert layer.bias.abs().max() < 1.0, init


def test_dense_input_forms() -> None:
    torch.manual_seed(0)
    m = CODIGEM(CODIGEMConfig(n_items=6, hidden=8)).double()
    x = (torch.rand(3, 6) < 0.5).double()
    ref = m.score(x)
    torch.testing.assert_close(m.score(x.to_sparse_csr()), ref)
    torch.testing.assert_close(m.score(x.numpy()), ref)
    with pytest.raises(ConfigError, match="shape"):
        m(torch.zeros(6))
    with pytest.raises(ConfigError, match="latents must hold T = 3"):
        m(x, latents=[x, x])
    with pytest.raises(ConfigError, match="reduction"):
        m(x, reduction="sum")


def test_config_defaults_are_the_papers() -> None:
    """Sec 3.1: M = 200, 6 layers, PReLU, T = 3, constant beta = 1e-4, Gaussian, Xavier, [-1, 1]."""
    assert dataclasses.asdict(CODIGEMConfig(n_items=7)) == {
        "n_items": 7,
        "hidden": 200,
        "n_layers": 6,
        "activation": "prelu",
        "T": 3,
        "beta": 1e-4,
        "schedule": "constant",
        "beta_end": 0.02,
        "likelihood": "gaussian",
        "skip_forward": False,
        "skip_reverse": False,
        "anneal_steps": 0,
        "anneal_cap": 1.0,
        "init": "xavier",
        "input_scaling": "minus1_1",
        "forward_term_bug": False,
        "pairing_bug": False,
        "anneal_overwritten": False,
        "dropout": 0.0,
    }


def test_elbo_terms_repr_leaves_out_the_latents() -> None:
    torch.manual_seed(0)
    m = CODIGEM(CODIGEMConfig(n_items=4, hidden=3))
    t = m(torch.zeros(2, 4), generator=torch.Generator().manual_seed(0))
    assert "latents" not in repr(t) and "elbo" in repr(t)
    assert len(t.latents) == 3


def test_mlp_residual_and_dropout() -> None:
    torch.manual_seed(0)
    plain = CODIGEM(CODIGEMConfig(n_items=5, hidden=6)).decoder
    with torch.no_grad():  # distinct PReLU slopes, so each layer's own activation matters
        for i, act in enumerate(plain.acts):
            act.weight.fill_(0.1 * (i + 1))
    res = CODIGEM(CODIGEMConfig(n_items=5, hidden=6, skip_reverse=True)).decoder
    res.load_state_dict(plain.state_dict())
    z = torch.randn(4, 5)
    h = plain.acts[0](plain.first(z))
    h_res = h
    for lin, act in zip(plain.blocks, plain.acts[1:], strict=True):
        h = act(lin(h))
        h_res = h_res + act(lin(h_res))
    torch.testing.assert_close(plain(z), plain.out(h))
    torch.testing.assert_close(res(z), res.out(h_res))
    assert isinstance(plain.drop, torch.nn.Identity)
    drop = CODIGEM(CODIGEMConfig(n_items=5, hidden=6, dropout=0.5)).decoder
    assert isinstance(drop.drop, torch.nn.Dropout) and drop.drop.p == 0.5
    acts = {a: type(CODIGEM(CODIGEMConfig(n_items=3, activation=a)).decoder.acts[0]) for a in
            ("prelu", "relu", "tanh")}  # fmt: skip
    assert acts == {"prelu": torch.nn.PReLU, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}


def test_schedule_errors_name_the_parameter_the_user_passed() -> None:
    with pytest.raises(ConfigError, match=r"^beta = 1\.5 is out of range"):
        NoiseSchedule.constant(1.5, 3)
    with pytest.raises(ConfigError, match=r"^beta_start = 0\.0 "):
        NoiseSchedule.linear(0.0, 0.1, 3)
    with pytest.raises(ConfigError, match=r"^beta_end = 1\.5 "):
        NoiseSchedule.linear(0.1, 1.5, 3)
    with pytest.raises(ConfigError, match=r"^beta_2 = 1\.2 "):
        NoiseSchedule(beta=[0.1, 1.2])
    with pytest.raises(ConfigError, match=r"^beta_2 = 0\.0 "):
        NoiseSchedule(beta=[0.1, 0.0])
    with pytest.raises(ConfigError, match=r"^beta_1 = 1\.0 "):
        NoiseSchedule(beta=[1.0])
    for bad_T in (0, True, 2.0):
        for build in (
            lambda T: NoiseSchedule.constant(0.1, T),
            lambda T: NoiseSchedule.linear(0.1, 0.2, T),
            lambda T: NoiseSchedule.cosine(T),
        ):
            with pytest.raises(ConfigError, match="integer >= 1"):
                build(bad_T)


def test_from_name_defaults() -> None:
    assert NoiseSchedule.from_name("constant", 2) == NoiseSchedule.constant(1e-4, 2)
    assert NoiseSchedule.from_name("linear", 3) == NoiseSchedule.linear(1e-4, 0.02, 3)
    assert NoiseSchedule.from_name("linear", 3, 0.1, 0.3) == NoiseSchedule.linear(0.1, 0.3, 3)


def test_sample_marginal_distribution_and_T1_repr() -> None:
    """One-shot z_t ~ N(sqrt(alpha_bar_t) x, 1 - alpha_bar_t) at t = 1 and t = 2 (z tests, 5 SE)."""
    s = NoiseSchedule.linear(0.1, 0.3, 3)
    n = 20000
    x = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64).expand(n, -1)
    for t in (1, 2):
        ab = float(s.alpha_bar[t - 1])
        z = s.sample_marginal(x, t, generator=t)
        assert ((z.mean(0) - ab**0.5 * x[0]) / ((1 - ab) / n) ** 0.5).abs().max() < 5
        assert ((z.var(0) / (1 - ab) - 1) / (2 / n) ** 0.5).abs().max() < 5
    assert repr(NoiseSchedule.constant(0.1, 1)) == "NoiseSchedule.constant(beta=0.1, T=1)"


def test_closed_form_draws_and_input_dtypes() -> None:
    x, eps = torch.tensor([1.0, -1.0]), torch.tensor([0.5, 2.0])
    torch.testing.assert_close(q_marginal_sample(x, 0.81, eps), 0.9 * x + 0.19**0.5 * eps)
    assert type(check_beta(np.float32(0.5))) is float
    s = NoiseSchedule.constant(0.1, 2)
    assert s.sample_chain(np.zeros(3, dtype=np.float32), generator=0)[0].dtype == np.float32
    assert s.q_marginal(np.array([0, 1]), 0)[0].dtype == np.float64  # 0/1 ints become float
    assert s.q_marginal(torch.tensor([0, 1]), 0)[0].dtype == torch.float64
    assert s.q_marginal(torch.zeros(2, dtype=torch.float32), 1)[0].dtype == torch.float32


def test_kl_weight_is_normalised_to_a_float() -> None:
    torch.manual_seed(0)
    m = CODIGEM(CODIGEMConfig(n_items=4, hidden=3))
    t = m(
        torch.zeros(2, 4), generator=torch.Generator().manual_seed(0), kl_weight=torch.tensor(0.5)
    )
    assert type(t.kl_weight) is float and t.kl_weight == 0.5
