"""Noise schedule (eqs 4-5): values, validation, closed-form marginal vs the iterated chain."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codigem_lab.diffusion.schedule import NoiseSchedule, q_step_sample
from codigem_lab.errors import ConfigError


def test_constant_schedule_values() -> None:
    s = NoiseSchedule.constant(1e-4, 3)
    assert s.T == 3
    np.testing.assert_allclose(s.beta, [1e-4] * 3)
    np.testing.assert_allclose(s.alpha, [1 - 1e-4] * 3)
    np.testing.assert_allclose(s.alpha_bar, [(1 - 1e-4) ** t for t in (1, 2, 3)])
    ab = s.alpha_bar
    np.testing.assert_allclose(s.snr, ab / (1 - ab))
    assert s.beta.dtype == np.float64


def test_linear_and_cosine_schedules() -> None:
    lin = NoiseSchedule.linear(1e-4, 0.02, 5)
    np.testing.assert_allclose(lin.beta[[0, -1]], [1e-4, 0.02])
    assert np.all(np.diff(lin.beta) > 0)
    cos = NoiseSchedule.cosine(50)
    assert cos.T == 50
    assert np.all((cos.beta > 0) & (cos.beta < 1))
    assert np.all(np.diff(cos.alpha_bar) < 0)  # signal decreases monotonically
    assert NoiseSchedule.from_name("linear", 5, 1e-4, 0.02) == lin
    assert hash(NoiseSchedule.constant(0.1, 2)) == hash(NoiseSchedule(beta=[0.1, 0.1]))


def test_beta_is_read_only() -> None:
    s = NoiseSchedule.constant(0.1, 2)
    with pytest.raises(ValueError):
        s.beta[0] = 0.5


@pytest.mark.parametrize("beta", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_beta_out_of_range_is_rejected(beta: float) -> None:
    with pytest.raises(ConfigError, match=r"0 < beta < 1"):
        NoiseSchedule.constant(beta, 3)


def test_explicit_beta_validation_names_the_step() -> None:
    with pytest.raises(ConfigError, match=r"beta_2 = 1\.2"):
        NoiseSchedule(beta=[0.1, 1.2])


@pytest.mark.parametrize("T", [0, -1, 2.5, True, "3"])
def test_T_must_be_a_positive_integer(T: object) -> None:
    with pytest.raises(ConfigError, match=r"integer >= 1"):
        NoiseSchedule.constant(0.1, T)  # type: ignore[arg-type]


def test_unknown_schedule_name() -> None:
    with pytest.raises(ConfigError, match="constant"):
        NoiseSchedule.from_name("quadratic", 3)


def test_q_step_sample_is_eq5() -> None:
    z_prev, eps = np.array([1.0, -1.0]), np.array([0.5, 2.0])
    z = q_step_sample(z_prev, 0.19, eps)
    np.testing.assert_allclose(z, math.sqrt(0.81) * z_prev + math.sqrt(0.19) * eps)


def test_q_marginal_closed_form_and_bounds() -> None:
    s = NoiseSchedule.linear(0.1, 0.3, 3)
    x = torch.tensor([0.0, 1.0])
    mean, var = s.q_marginal(x, 2)
    ab2 = (1 - 0.1) * (1 - 0.2)
    torch.testing.assert_close(mean, math.sqrt(ab2) * x)
    assert var == pytest.approx(1 - ab2)
    mean0, var0 = s.q_marginal(x, 0)
    assert var0 == 0.0 and torch.equal(mean0, x)
    with pytest.raises(ConfigError, match="0..3"):
        s.q_marginal(x, 4)


def test_marginal_matches_iterated_chain() -> None:
    s = NoiseSchedule.linear(0.1, 0.4, 4)
    x = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    n = 20000
    chain = s.sample_chain(x.expand(n, -1).clone(), generator=torch.Generator().manual_seed(0))
    assert len(chain) == 4
    for t in range(1, 5):
        mean, var = s.q_marginal(x, t)
        se_mean = math.sqrt(var / n)
        assert torch.all((chain[t - 1].mean(0) - mean).abs() < 5 * se_mean)
        assert torch.all((chain[t - 1].var(0) - var).abs() < 5 * var * math.sqrt(2 / n))


def test_sampling_is_reproducible_for_numpy_and_torch() -> None:
    s = NoiseSchedule.constant(0.02, 50)
    x = (np.random.default_rng(0).random(3000) < 0.1).astype(int)  # ints are accepted
    a = s.sample_chain(x, generator=7)
    b = s.sample_chain(x, generator=7)
    assert len(a) == 50 and a[-1].dtype == np.float64
    np.testing.assert_array_equal(a[-1], b[-1])
    zt = s.sample_marginal(torch.tensor(x), 10, generator=3)
    assert torch.equal(zt, s.sample_marginal(torch.tensor(x), 10, generator=3))
    with pytest.raises(ConfigError, match="numpy Generator"):
        s.sample_chain(x, generator=torch.Generator())


def test_slider_speed_d3000_t50() -> None:
    import time

    s = NoiseSchedule.constant(0.02, 50)
    x = np.zeros(3000)
    start = time.perf_counter()
    s.sample_chain(x, generator=0)
    s.sample_marginal(x, 25, generator=0)
    assert time.perf_counter() - start < 0.1
