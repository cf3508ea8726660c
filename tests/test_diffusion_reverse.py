"""Reverse-chain scoring (``CODIGEM.score(mode='reverse')``, Sec 2.4) checked by its behaviour.

The networks are replaced by affine maps of the same interface (``checks.AffineNet``), so the
score has a closed form: z_T = sqrt(alpha_bar_T) x0, then z_i = a_i z_{i+1} + c_i for
i = T-1..1 (the means of p(z_i | z_{i+1})), then the decoder. Distinct, non-commuting maps
make the net order, the use of the mean (not the log-variance) and the start at z_T visible.
"""

from __future__ import annotations

import math

import pytest
import torch

from codigem_lab.diffusion.checks import AffineNet
from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig

D = 4
NETS = [(0.5, 0.3, -2.0), (2.0, -1.0, 1.5), (-0.7, 0.2, 0.4)]  # (a, c, logvar) of nets 1..3


def _affine_model(T: int = 3, decoder: tuple[float, float] = (1.0, 0.0)) -> CODIGEM:
    cfg = CODIGEMConfig.preset("paper", n_items=D, hidden=4, T=T, beta=0.1)
    m = CODIGEM(cfg).double().eval()
    m.reverse_nets = torch.nn.ModuleList(
        AffineNet(D, a, c, logvar=lv) for a, c, lv in NETS[: T - 1]
    )
    m.decoder = AffineNet(D, *decoder)
    return m


def _x(n: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(n, D, generator=g) < 0.5).double()
    x[0] = torch.tensor([0.0, 1.0, 0.0, 1.0])
    return x


def _expected(m: CODIGEM, x: torch.Tensor) -> torch.Tensor:
    T = m.config.T
    z = math.sqrt(float(m.schedule.alpha_bar[T - 1])) * (2 * x - 1)  # start at z_T, mean of q
    for i in range(T - 1, 0, -1):  # z_{i+1} -> z_i with net i
        a, c, _ = NETS[i - 1]
        z = a * z + c
    return z


@pytest.mark.parametrize("T", [2, 3, 4])
def test_reverse_score_is_the_chain_of_means_from_z_T(T: int) -> None:
    m = _affine_model(T)
    x = _x()
    torch.testing.assert_close(m.score(x, mode="reverse"), _expected(m, x))


def test_reverse_score_uses_the_decoder_last() -> None:
    m = _affine_model(3, decoder=(3.0, 0.5))
    x = _x()
    torch.testing.assert_close(m.score(x, mode="reverse"), 3.0 * _expected(m, x) + 0.5)


def test_reverse_score_differs_from_each_wrong_reading() -> None:
    """The three named mutations give other numbers on this model (so they are visible)."""
    m = _affine_model(3)
    x = _x()
    got = m.score(x, mode="reverse")
    x0 = 2 * x - 1
    ab = [float(v) for v in m.schedule.alpha_bar]
    wrong_order = 2.0 * (0.5 * math.sqrt(ab[2]) * x0 + 0.3) - 1.0
    logvar_as_mean = torch.full_like(x0, NETS[0][2])
    from_z1 = 0.5 * (2.0 * math.sqrt(ab[0]) * x0 - 1.0) + 0.3
    for wrong in (wrong_order, logvar_as_mean, from_z1):
        assert (got - wrong).abs().max() > 0.05


def test_reverse_score_with_noise_has_the_reverse_chain_distribution() -> None:
    """noise=True: z_T ~ q(z_T|x), z_i ~ N(mu, exp(logvar)); mean and variance by z tests."""
    m = _affine_model(3)
    n = 20000
    x = torch.tensor([[0.0, 1.0, 1.0, 0.0]], dtype=torch.float64).expand(n, -1)
    s = m.score(x, mode="reverse", noise=True, generator=torch.Generator().manual_seed(1))
    ab3 = float(m.schedule.alpha_bar[2])
    (a1, c1, lv1), (a2, c2, lv2) = NETS[0], NETS[1]
    x0 = 2 * x[0] - 1
    mean = a1 * (a2 * math.sqrt(ab3) * x0 + c2) + c1
    var = a1**2 * (a2**2 * (1 - ab3) + math.exp(lv2)) + math.exp(lv1)
    z_mean = (s.mean(0) - mean) / math.sqrt(var / n)
    z_var = (s.var(0) / var - 1) / math.sqrt(2 / n)
    assert z_mean.abs().max() < 5 and z_var.abs().max() < 5
    # the noiseless score is the mean of this distribution
    torch.testing.assert_close(m.score(x[:1], mode="reverse")[0], mean)


def test_decoder_score_with_noise_is_a_draw_of_q_z1() -> None:
    m = _affine_model(3)
    n = 20000
    x = torch.tensor([[0.0, 1.0, 1.0, 0.0]], dtype=torch.float64).expand(n, -1)
    s = m.score(x, mode="decoder", noise=True, generator=torch.Generator().manual_seed(2))
    ab1 = float(m.schedule.alpha_bar[0])
    mean, var = math.sqrt(ab1) * (2 * x[0] - 1), 1 - ab1
    assert ((s.mean(0) - mean) / math.sqrt(var / n)).abs().max() < 5
    assert ((s.var(0) / var - 1) / math.sqrt(2 / n)).abs().max() < 5
    torch.testing.assert_close(m.score(x[:1])[0], mean)


def test_reverse_score_ignores_pairing_bug_and_training_mode() -> None:
    """The chain always uses the intended pairing (docstring of score), and score leaves train()."""
    m = _affine_model(3)
    m.config = CODIGEMConfig.preset("paper", n_items=D, hidden=4, T=3, beta=0.1, pairing_bug=True)
    m.train()
    x = _x()
    torch.testing.assert_close(m.score(x, mode="reverse"), _expected(m, x))
    assert m.training


def test_reverse_scores_rank_by_the_chain_on_a_trained_model() -> None:
    """On a small trained model, reverse scoring ranks clicked items first like decoder scoring."""
    torch.manual_seed(0)
    m = CODIGEM(CODIGEMConfig.preset("paper", n_items=20, hidden=32, beta=0.05)).double()
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(32, 20, generator=g) < 0.3).double()
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(150):
        opt.zero_grad()
        m(x, generator=g).loss.backward()
        opt.step()
    s = m.score(x, mode="reverse")
    assert s[x > 0].mean() > s[x == 0].mean() + 0.5
    assert not torch.allclose(s, m.score(x, mode="decoder"))


def test_generate_samples_the_generative_chain_from_the_prior() -> None:
    """generate: z_T ~ N(0, I) (not q(z_T | x)), z_i ~ N(a z_{i+1} + c, exp(logvar)), decoder."""
    m = _affine_model(3, decoder=(2.0, 0.5))
    n = 20000
    s = m.generate(n, generator=torch.Generator().manual_seed(3))
    (a1, c1, lv1), (a2, c2, lv2) = NETS[0], NETS[1]
    mean = 2.0 * (a1 * c2 + c1) + 0.5
    var = 4.0 * (a1**2 * (a2**2 + math.exp(lv2)) + math.exp(lv1))
    assert s.shape == (n, D)
    assert ((s.mean(0) - mean) / math.sqrt(var / n)).abs().max() < 5
    assert ((s.var(0) / var - 1) / math.sqrt(2 / n)).abs().max() < 5
    again = m.generate(n, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(again, s)  # the generator alone decides the draw


def test_generate_refuses_a_bad_count() -> None:
    with pytest.raises(Exception, match="n must"):
        _affine_model(3).generate(0)
