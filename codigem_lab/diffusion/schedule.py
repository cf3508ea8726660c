"""CODIGEM's forward process (eqs 4-5) for numpy or torch: ``beta[t - 1]`` is beta_t, z_0 = x."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from codigem_lab.diffusion.types import ScheduleName
from codigem_lab.errors import ConfigError
from codigem_lab.validate import check_choice, check_int, check_range

Array = np.ndarray | torch.Tensor
Generator = int | np.random.Generator | torch.Generator | None


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """Variances beta_1..beta_T of the Gaussian steps q(z_t | z_{t-1}) (eq 4), float64, read-only:
    :meth:`constant` (the paper's), :meth:`linear`, :meth:`cosine` or explicit ``beta=[...]``."""

    beta: np.ndarray

    def __post_init__(self) -> None:
        try:
            beta = np.array(self.beta, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"beta must be a sequence of numbers; got {self.beta!r}") from exc
        if beta.size < 1:
            raise ConfigError("T (the number of diffusion steps) must be >= 1; got an empty beta")
        bad = np.flatnonzero(~((beta > 0.0) & (beta < 1.0)))
        if bad.size:
            i = bad[0]
            check_beta(float(beta[i]), f"beta_{i + 1}")
        beta.setflags(write=False)
        object.__setattr__(self, "beta", beta)

    @classmethod
    def constant(cls, beta: float, T: int) -> NoiseSchedule:
        """The paper's schedule: beta_t = beta for t = 1..T (Sec 3.1: beta = 1e-4, T = 3)."""
        return cls(beta=np.full(check_T(T), check_beta(beta, "beta")))

    @classmethod
    def linear(cls, beta_start: float, beta_end: float, T: int) -> NoiseSchedule:
        """beta_t evenly spaced from beta_start (t = 1) to beta_end (t = T), as in Ho et al. 2020."""
        start, end = check_beta(beta_start, "beta_start"), check_beta(beta_end, "beta_end")
        return cls(beta=np.linspace(start, end, check_T(T)))

    @classmethod
    def cosine(cls, T: int, s: float = 0.008) -> NoiseSchedule:
        """Nichol & Dhariwal's alpha_bar_t = f(t)/f(0), f(t) = cos((t/T + s)/(1 + s) pi/2)^2, with
        beta_t = 1 - alpha_bar_t / alpha_bar_{t-1} clipped to 0.999 (the last would be 1)."""
        T = check_T(T)
        check_range("cosine schedule offset s", s, 0.0, open_low=True)
        t = np.arange(T + 1, dtype=np.float64)
        f = np.cos((t / T + s) / (1.0 + s) * math.pi / 2.0) ** 2
        alpha_bar = f / f[0]
        beta = 1.0 - alpha_bar[1:] / alpha_bar[:-1]
        return cls(beta=np.clip(beta, 1e-12, 0.999))

    @classmethod
    def from_name(
        cls, name: ScheduleName, T: int, beta: float = 1e-4, beta_end: float = 0.02
    ) -> NoiseSchedule:
        """A schedule by name, all arguments checked, used or not (``CODIGEMConfig`` needs that)."""
        check_choice("schedule", name, ScheduleName)
        T, beta = check_T(T), check_beta(beta, "beta")
        beta_end = check_beta(beta_end, "beta_end")
        if name == "cosine":
            return cls.cosine(T)
        return cls(beta=np.linspace(beta, beta_end if name == "linear" else beta, T))

    @property
    def T(self) -> int:
        """Number of diffusion steps."""
        return int(self.beta.shape[0])

    @property
    def alpha(self) -> np.ndarray:
        """alpha_t = 1 - beta_t."""
        return 1.0 - self.beta

    @property
    def alpha_bar(self) -> np.ndarray:
        """alpha_bar_t = prod_{s <= t} alpha_s: the signal kept in z_t (q(z_t|x) has mean sqrt of it)."""
        return np.cumprod(self.alpha)

    @property
    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t) of q(z_t | x)."""
        ab = self.alpha_bar
        return ab / (1.0 - ab)

    def q_marginal(self, x: Array, t: int) -> tuple[Array, float]:
        """Mean and isotropic variance of q(z_t | x) (eq 5, t times); t = 0 returns (x, 0)."""
        t = self._check_t(t)
        x = _as_float(x)
        if t == 0:
            return x, 0.0
        return q_marginal_moments(x, float(self.alpha_bar[t - 1]))

    def sample_marginal(self, x: Array, t: int, generator: Generator = None) -> Array:
        """One draw of z_t ~ q(z_t | x) in a single step (closed form, no chain)."""
        t = self._check_t(t)
        x = _as_float(x)
        if t == 0:
            return x
        return q_marginal_sample(x, float(self.alpha_bar[t - 1]), _randn_like(x, generator))

    def sample_chain(self, x: Array, generator: Generator = None) -> list[Array]:
        """[z_1, ..., z_T] drawn by iterating eq (5) from z_0 = x (one Markov chain per row of x)."""
        z = _as_float(x)
        gen = _make_generator(z, generator)
        chain = []
        for beta_t in self.beta:
            z = q_step_sample(z, float(beta_t), _randn_like(z, gen))
            chain.append(z)
        return chain

    def _check_t(self, t: int) -> int:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= self.T:
            raise ConfigError(f"step t must be an integer in 0..T = 0..{self.T}; got {t!r}")
        return int(t)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoiseSchedule) and np.array_equal(self.beta, other.beta)

    def __hash__(self) -> int:
        return hash(tuple(self.beta.tolist()))

    def __repr__(self) -> str:
        if np.all(self.beta == self.beta[0]):
            return f"NoiseSchedule.constant(beta={float(self.beta[0])!r}, T={self.T})"
        return f"NoiseSchedule(beta={self.beta.tolist()!r})"


def q_step_sample(z_prev: Array, beta_i: float, eps: Array) -> Array:
    """One forward step, eq (5): z_i = sqrt(1 - beta_i) z_{i-1} + sqrt(beta_i) eps."""
    return q_step_mean(z_prev, beta_i) + math.sqrt(beta_i) * eps


def q_step_mean(z_prev: Array, beta_i: float) -> Array:
    """Mean sqrt(1 - beta_i) z_{i-1} of q(z_i | z_{i-1}), eq (4), shared by density and sampler."""
    return math.sqrt(1.0 - beta_i) * z_prev


def q_marginal_moments(x: Array, alpha_bar_t: float) -> tuple[Array, float]:
    """Mean and variance of q(z_t | x): sqrt(alpha_bar_t) x and 1 - alpha_bar_t (eq 5, t times)."""
    return math.sqrt(alpha_bar_t) * x, 1.0 - alpha_bar_t


def q_marginal_sample(x: Array, alpha_bar_t: float, eps: Array | None = None) -> Array:
    """z_t = sqrt(alpha_bar_t) x + sqrt(1 - alpha_bar_t) eps ~ q(z_t | x); the mean if no eps."""
    mean, var = q_marginal_moments(x, alpha_bar_t)
    return mean if eps is None else mean + math.sqrt(var) * eps


def check_beta(value: object, name: str = "beta") -> float:
    """A noise variance: a real number with 0 < beta < 1 (eq 4); returned as a float."""
    hint = "every beta must; the paper uses beta = 1e-4"
    return float(check_range(name, value, 0, 1, open_low=True, open_high=True, hint=hint))


def check_T(T: object) -> int:
    """The number of diffusion steps: an integer >= 1."""
    return check_int("T", T, 1, "the number of diffusion steps; the paper uses 3")


def _as_float(x: Array) -> Array:
    """Integer/bool inputs (0/1 click vectors) become float64; float inputs keep their dtype."""
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.to(torch.float64)
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _make_generator(x: Array, generator: Generator) -> Generator:
    """Turn an int seed into the generator kind that matches x (torch or numpy)."""
    if isinstance(x, torch.Tensor):
        if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
            return torch.Generator(device=x.device).manual_seed(int(generator))
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ConfigError("a torch tensor needs a torch.Generator (or an int seed, or None)")
        return generator
    if isinstance(generator, torch.Generator):
        raise ConfigError("a numpy array needs a numpy Generator (or an int seed, or None)")
    return np.random.default_rng(generator)


def _randn_like(x: Array, generator: Generator) -> Array:
    gen = _make_generator(x, generator)
    if isinstance(x, torch.Tensor):
        return torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device)
    return gen.standard_normal(x.shape).astype(x.dtype, copy=False)
