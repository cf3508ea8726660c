"""Six numerical checks of CODIGEM's ELBO derivation (eqs 4-13); see docs/model-and-checks.md."""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Normal, kl_divergence

from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig
from codigem_lab.diffusion.schedule import NoiseSchedule
from codigem_lab.errors import ConfigError

N_SE = 5.0  # Monte Carlo agreement threshold, in standard errors
#: The checks each preset's deviations (1-5) are known to fail; any other FAIL is unexpected.
EXPECTED_FAILS = {
    "paper": frozenset(),
    "released": frozenset({"rearrangements", "gaussian_kl", "toy_elbo_gap", "preset_faithfulness"}),
}


@dataclass
class CheckReport:
    """Outcome of one check: a verdict, one readable message, and the numbers behind it."""

    name: str
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"[{'PASS' if self.passed else 'FAIL'}] {self.name}: {self.message}"


def _build(config: CODIGEMConfig, seed: int) -> CODIGEM:
    """A float64 CODIGEM in eval mode (deterministic densities) from ``seed``; global RNG kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CODIGEM(config).double().eval()


def _clicks(batch: int, n_items: int, gen: torch.Generator, p: float = 0.3) -> Tensor:
    return (torch.rand(batch, n_items, generator=gen, dtype=torch.float64) < p).double()


def _ln_normal(value: Tensor, mean: Tensor | float, std: Tensor | float) -> Tensor:
    """Textbook ln N(value | mean, std^2 I), summed over items (torch.distributions)."""
    mean = torch.as_tensor(mean, dtype=value.dtype)
    std = torch.as_tensor(std, dtype=value.dtype)
    return Normal(mean, std).log_prob(value).sum(-1)


def _scaled(config: CODIGEMConfig, x: Tensor) -> Tensor:
    """x0 as Sec 2.3 defines it, computed here independently of ``CODIGEM.scale_input``."""
    return 2.0 * x - 1.0 if config.input_scaling == "minus1_1" else x


def _ln_reverse(model: CODIGEM, j: int, z_cond: Tensor, z: Tensor) -> Tensor:
    """ln N(z | mu, exp(logvar)) with (mu, logvar) from reverse net ``j`` (1-based) fed ``z_cond``."""
    mu, logvar = model.reverse_nets[j - 1](z_cond).chunk(2, dim=-1)
    return _ln_normal(z, mu, torch.exp(0.5 * logvar))


def _textbook_terms(model: CODIGEM, x: Tensor, zs: list[Tensor]) -> dict[str, Any]:
    """Per-example ln p(x|z_1), ln p(z_i|z_{i+1}) (i=1..T-1), ln p(z_T), ln q(z_i|z_{i-1}) (i=1..T)."""
    c = model.config
    x0 = _scaled(c, x)
    out = model.decoder(zs[0])
    if c.likelihood == "gaussian":
        rec = _ln_normal(x0, torch.tanh(out), 1.0)
    else:
        rec = (x * torch.log_softmax(out, dim=-1)).sum(-1)
    rev = [_ln_reverse(model, i, zs[i], zs[i - 1]) for i in range(1, c.T)]
    prior = _ln_normal(zs[-1], 0.0, 1.0)
    beta = model.schedule.beta
    lq = []
    for i in range(1, c.T + 1):
        z_prev = x0 if i == 1 else zs[i - 2]
        b = float(beta[i - 1])
        lq.append(_ln_normal(zs[i - 1], math.sqrt(1.0 - b) * z_prev, math.sqrt(b)))
    return {"rec": rec, "rev": rev, "prior": prior, "lq": lq, "x0": x0}


def check_rearrangements(
    config: CODIGEMConfig | None = None, batch: int = 16, seed: int = 0
) -> CheckReport:
    """Check 1: eqs (9), (10), (11), (13) regroup one sum, and the model's ELBO on the same chains
    equals eq (9) from textbook densities (the 'released' preset fails)."""
    if config is None:
        config = CODIGEMConfig.preset("paper", n_items=6, hidden=16, T=4, beta=0.1)
    if config.T < 2:
        raise ConfigError(
            f"eqs (10)-(13) split off ln p(z_1 | z_2), which needs T >= 2; got T = {config.T}"
        )
    model = _build(config, seed)
    gen = torch.Generator().manual_seed(seed)
    x = _clicks(batch, config.n_items, gen)
    T = config.T
    with torch.no_grad():
        zs = model.sample_latents(model.scale_input(x), gen)
        t = _textbook_terms(model, x, zs)
        rec, rev, prior, lq = t["rec"], t["rev"], t["prior"], t["lq"]
        # lists are 0-based: rev[i-1] = ln p(z_i|z_{i+1}), lq[i-1] = ln q(z_i|z_{i-1})
        eq9 = rec + sum(rev) + prior - sum(lq[1:T]) - lq[0]
        eq10 = (
            rec
            + rev[0]
            + sum(rev[1 : T - 1], torch.zeros_like(rec))
            + prior
            - sum(lq[1 : T - 1], torch.zeros_like(rec))
            - lq[T - 1]
            - lq[0]
        )
        eq11 = (
            rec
            + sum((rev[i - 1] - lq[i - 1] for i in range(2, T)), torch.zeros_like(rec))
            + prior
            - lq[T - 1]
            + rev[0]
            - lq[0]
        )
        eq13 = (
            rec
            + sum((rev[i - 1] - lq[i - 1] for i in range(2, T)), torch.zeros_like(rec))
            + (prior - lq[T - 1])
            + (rev[0] - lq[0])
        )
        model_elbo = model(x, latents=zs, reduction="none").elbo

    scale = 1.0 + max(float(v.abs().max()) for v in [rec, prior, *rev, *lq])
    tol = 1e-10 * scale
    forms = {"eq9": eq9, "eq10": eq10, "eq11": eq11, "eq13": eq13}
    algebra_diff = max(float((v - eq9).abs().max()) for v in forms.values())
    model_diff = float((model_elbo - eq9).abs().max())
    details = {f"{k}_mean": float(v.mean()) for k, v in forms.items()}
    details.update(
        model_elbo_mean=float(model_elbo.mean()),
        max_abs_diff_between_eqs=algebra_diff,
        max_abs_diff_model_vs_eq9=model_diff,
        tolerance=tol,
        batch=batch,
        T=T,
        dtype="float64",
    )
    algebra_ok = algebra_diff <= tol
    model_ok = model_diff <= tol
    if algebra_ok and model_ok:
        msg = (
            f"eqs (9), (10), (11), (13) and the model's ELBO agree on {batch} sampled chains "
            f"(T={T}): max difference {max(algebra_diff, model_diff):.1e} nats "
            f"(tolerance {tol:.1e}); mean ELBO {float(eq9.mean()):.4f}"
        )
    elif algebra_ok:
        msg = (
            f"eqs (9)-(13) agree with each other (max diff {algebra_diff:.1e}), but the model's "
            f"reported ELBO differs from eq (9) by up to {model_diff:.4g} nats per user "
            f"(model mean {float(model_elbo.mean()):.4f} vs eq (9) {float(eq9.mean()):.4f}); "
            f"switched-on deviations: {', '.join(config.deviations) or 'none'}"
        )
    else:
        msg = f"eqs (9)-(13) disagree by {algebra_diff:.3g} nats: the regrouping is wrong"
    return CheckReport("rearrangements", algebra_ok and model_ok, msg, details)


def _z_mean(sample: Tensor, mean: Tensor | float, var: float) -> Tensor:
    """z statistic of the sample mean of each column against ``mean`` (known variance ``var``)."""
    return (sample.mean(0) - mean) / math.sqrt(var / sample.shape[0])


def _z_var(resid: Tensor) -> Tensor:
    """Chi-square variance test of standardized residuals, per column, as a z statistic."""
    n = resid.shape[0]
    return ((resid**2).sum(0) - n) / math.sqrt(2.0 * n)


def _power(effect_in_se: float, limit: float = N_SE) -> float:
    """Probability that a two-sided |z| > limit test detects a mean shift of ``effect_in_se`` SE."""
    nd = torch.distributions.Normal(0.0, 1.0)
    e = torch.tensor(abs(effect_in_se), dtype=torch.float64)
    return float(nd.cdf(e - limit) + nd.cdf(-e - limit))


def check_marginal(
    config: CODIGEMConfig | None = None, n_samples: int = 20000, seed: int = 0
) -> CheckReport:
    """Check 2: ``CODIGEM.sample_latents`` (eq 5) follows q(z_t | x) and q(z_t | z_{t-1}): z tests
    per (t, d) and a KS test over ``n_samples`` chains from x0 = (-1, 0, 0.5, 1)."""
    if config is None:
        config = CODIGEMConfig.preset("paper", n_items=4, hidden=8, T=4, beta=0.1)
    from scipy import stats

    model = _build(dataclasses.replace(config, dropout=0.0), seed)
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.tensor([-1.0, 0.0, 0.5, 1.0], dtype=torch.float64).expand(n_samples, -1)
    with torch.no_grad():
        zs = model.sample_latents(x0.clone(), gen)
    sched = model.schedule
    if len(zs) != sched.T:
        msg = f"sample_latents returned {len(zs)} latents; eq (5) gives T = {sched.T}"
        return CheckReport("marginal", False, msg, {"n_samples": n_samples})
    stats_by_test: dict[str, float] = {}
    pooled = []
    rows = []
    for t in range(1, sched.T + 1):
        ab = float(sched.alpha_bar[t - 1])
        b = float(sched.beta[t - 1])
        z, z_prev = zs[t - 1], (x0 if t == 1 else zs[t - 2])
        resid_m = (z - math.sqrt(ab) * x0[0]) / math.sqrt(1.0 - ab)
        resid_s = (z - math.sqrt(1.0 - b) * z_prev) / math.sqrt(b)
        for test, resid in (("marginal", resid_m), ("step", resid_s)):
            stats_by_test[f"{test}_mean_t{t}"] = float(_z_mean(resid, 0.0, 1.0).abs().max())
            stats_by_test[f"{test}_var_t{t}"] = float(_z_var(resid).abs().max())
        if t >= 2:
            zp = (z_prev - z_prev.mean(0)) / z_prev.std(0)
            corr = (zp * (resid_s - resid_s.mean(0))).mean(0) / resid_s.std(0)
            stats_by_test[f"step_corr_t{t}"] = float((corr * math.sqrt(n_samples)).abs().max())
        pooled += [resid_m.reshape(-1), resid_s.reshape(-1)]
        rows.append(
            {
                "t": t,
                "alpha_bar": ab,
                "mean_closed": (math.sqrt(ab) * x0[0]).tolist(),
                "mean_sampled": z.mean(0).tolist(),
                "var_closed": 1.0 - ab,
                "var_sampled": z.var(0).tolist(),
            }
        )
    ks = stats.kstest(torch.cat(pooled).numpy(), "norm")
    worst_name = max(stats_by_test, key=stats_by_test.get)
    worst = stats_by_test[worst_name]
    # power against sqrt(1 - beta) -> (1 - beta) at t = 1, x0 = 1 (largest |x0|)
    b1 = float(sched.beta[0])
    shift_sd = (1.0 - b1 - math.sqrt(1.0 - b1)) / math.sqrt(b1)
    details: dict[str, Any] = {
        "n_samples": n_samples,
        "max_se": worst,
        "worst_test": worst_name,
        "z_by_test": stats_by_test,
        "ks_pvalue": float(ks.pvalue),
        "n_tests": sum(
            4 if k.startswith(("marginal", "step_mean", "step_var")) else 3 for k in stats_by_test
        ),
        "power_sqrt_mutation": _power(shift_sd * math.sqrt(n_samples)),
        "detectable_mean_shift_sd": (N_SE + 3.09) / math.sqrt(n_samples),
        "steps": rows,
    }
    passed = worst < N_SE and ks.pvalue > 1e-6
    if passed:
        msg = (
            f"CODIGEM.sample_latents, {n_samples} chains, T={sched.T}: z_t matches q(z_t|x) and "
            f"q(z_t|z_(t-1)) (eq 4) in mean, variance and step correlation; worst |z| "
            f"{worst:.2f} (limit {N_SE:g}), KS p = {ks.pvalue:.2g}"
        )
    else:
        msg = (
            f"CODIGEM.sample_latents departs from eq (4)/(5): {worst_name} is {worst:.1f} SE off "
            f"(limit {N_SE:g}), KS p = {ks.pvalue:.2g} ({n_samples} chains, T={sched.T}); check "
            "that z_i = sqrt(1 - beta_i) z_(i-1) + sqrt(beta_i) eps"
        )
    return CheckReport("marginal", passed, msg, details)


def gaussian_kl(mu_q: Tensor, std_q: Tensor, mu_p: Tensor, std_p: Tensor) -> Tensor:
    """KL(N(mu_q, diag std_q^2) || N(mu_p, diag std_p^2)), summed over the last axis."""
    vq, vp = std_q**2, std_p**2
    return 0.5 * (torch.log(vp / vq) + (vq + (mu_q - mu_p) ** 2) / vp - 1.0).sum(-1)


def q_posterior(schedule: NoiseSchedule, t: int, x0: Tensor, z_t: Tensor) -> tuple[Tensor, float]:
    """Mean and variance of q(z_{t-1} | z_t, x0), t = 2..T (Ho et al. 2020, eq 7)."""
    ab_t, ab_prev = float(schedule.alpha_bar[t - 1]), float(schedule.alpha_bar[t - 2])
    b = float(schedule.beta[t - 1])
    mean = (math.sqrt(ab_prev) * b / (1.0 - ab_t)) * x0 + (
        math.sqrt(1.0 - b) * (1.0 - ab_prev) / (1.0 - ab_t)
    ) * z_t
    return mean, (1.0 - ab_prev) * b / (1.0 - ab_t)


def check_gaussian_kl(
    config: CODIGEMConfig | None = None, n_chains: int = 4000, seed: int = 0
) -> CheckReport:
    """Check 3: the model's reverse and prior terms, as Monte Carlo KLs, match DDPM's analytic L_t,
    and its forward terms factorise backwards exactly."""
    if config is None:
        config = CODIGEMConfig.preset("paper", n_items=6, hidden=16, T=4, beta=0.1)
    model = _build(dataclasses.replace(config, dropout=0.0), seed)
    gen = torch.Generator().manual_seed(seed)
    x = _clicks(8, config.n_items, gen).repeat_interleave(n_chains, dim=0)
    sched, T = model.schedule, config.T
    with torch.no_grad():
        terms = model(x, generator=gen, reduction="none")
        zs = terms.latents
        x0 = _scaled(config, x)
        rows: list[dict[str, Any]] = []

        def term(name: str, mc: Tensor, kl: Tensor) -> None:
            d = mc - kl
            se = float(d.std()) / math.sqrt(d.shape[0])
            n_se = abs(float(d.mean())) / max(se, 1e-300)
            rows.append(
                {
                    "term": name,
                    "mc": float(mc.mean()),
                    "closed_form": float(kl.mean()),
                    "se": se,
                    "n_se": n_se,
                    "detectable_bias_nats": (N_SE + 3.09) * se,
                }
            )

        ab_T = float(sched.alpha_bar[T - 1])
        mean_T, sd_T = math.sqrt(ab_T) * x0, math.sqrt(1.0 - ab_T)
        lq_T = _ln_normal(zs[-1], mean_T, sd_T)
        one = torch.ones_like(x0)
        prior_kl = gaussian_kl(mean_T, sd_T * one, 0.0 * one, one)
        term("prior KL(q(z_T|x) || p(z_T))", lq_T - terms.prior, prior_kl)
        lq_backward = lq_T
        for t in range(2, T + 1):
            pm, pv = q_posterior(sched, t, x0, zs[t - 1])
            lq_post = _ln_normal(zs[t - 2], pm, math.sqrt(pv))
            lq_backward = lq_backward + lq_post
            mu, logvar = model.reverse_nets[t - 2](zs[t - 1]).chunk(2, dim=-1)
            kl = gaussian_kl(pm, math.sqrt(pv) * one, mu, torch.exp(0.5 * logvar))
            term(
                f"L_{t - 1} = KL(q(z_{t - 1}|z_{t},x) || p(z_{t - 1}|z_{t}))",
                lq_post - terms.reverse[t - 2],
                kl,
            )
        lq_forward = -sum(terms.forward_entropy)
        ident = float((lq_forward - lq_backward).abs().max())
        ident_tol = 1e-8 * (1.0 + float(lq_backward.abs().max()))
        # torch's own KL agrees with the closed form
        torch_kl = kl_divergence(Normal(mean_T, sd_T), Normal(0.0, 1.0)).sum(-1)
        torch_diff = float((torch_kl - prior_kl).abs().max())

    worst = max(rows, key=lambda r: r["n_se"])
    mc_ok = worst["n_se"] < N_SE
    ident_ok = ident <= ident_tol
    passed = mc_ok and ident_ok and torch_diff < 1e-10
    details: dict[str, Any] = {
        "n_chains": n_chains,
        "n_users": 8,
        "terms": rows,
        "forward_factorisation_max_abs_diff": ident,
        "forward_factorisation_tolerance": ident_tol,
        "torch_kl_max_abs_diff": torch_diff,
        "max_se": worst["n_se"],
    }
    n = x.shape[0]
    if passed:
        msg = (
            f"the model's {T - 1} reverse terms and prior, as Monte Carlo KLs over {n} chains, "
            f"match DDPM's closed-form L_t (worst {worst['n_se']:.2f} SE, limit {N_SE:g}); "
            f"its forward terms factorise backwards exactly (diff {ident:.1e})"
        )
    else:
        parts = []
        if not mc_ok:
            parts.append(
                f"term {worst['term']}: Monte Carlo {worst['mc']:.4g} vs closed form "
                f"{worst['closed_form']:.4g} nats, {worst['n_se']:.1f} SE apart (limit {N_SE:g})"
            )
        if not ident_ok:
            parts.append(
                f"the model's sum ln q(z_i|z_(i-1)) differs from ln q(z_T|x) + sum ln "
                f"q(z_(t-1)|z_t,x) by up to {ident:.4g} nats: its forward terms are not eq (4)"
            )
        if torch_diff >= 1e-10:
            parts.append(f"gaussian_kl differs from torch's kl_divergence by {torch_diff:.2g}")
        msg = (
            "; ".join(parts) + f"; switched-on deviations: {', '.join(config.deviations) or 'none'}"
        )
    return CheckReport("gaussian_kl", passed, msg, details)


class AffineNet(nn.Module):
    """A drop-in for the model's ``MLP``: z -> a * z + c (with ``logvar``: [mean, logvar])."""

    def __init__(self, n_items: int, a: float, c: float = 0.0, logvar: float | None = None):
        super().__init__()
        self.out = nn.Linear(n_items, n_items, dtype=torch.float64)
        with torch.no_grad():
            self.out.weight.copy_(a * torch.eye(n_items, dtype=torch.float64))
            self.out.bias.fill_(c)
        self.logvar = logvar

    def forward(self, z: Tensor) -> Tensor:
        mu = self.out(z)
        if self.logvar is None:
            return mu
        return torch.cat([mu, torch.full_like(mu, self.logvar)], dim=-1)

    def linears(self) -> list[nn.Linear]:
        return [self.out]


@dataclass(frozen=True)
class _LinearGaussianModel:
    """Per-coordinate p(z_T) = N(0, prior_var), z_i = a[i] z_{i+1} + N(0, v[i]) (x = z_0)."""

    prior_var: float
    a: tuple[float, ...]
    v: tuple[float, ...]

    def var_x(self) -> float:
        """Var x under p: Var z_i = a_i^2 Var z_{i+1} + v_i from Var z_T = prior_var to z_0 = x."""
        var = self.prior_var
        for a, v in zip(reversed(self.a), reversed(self.v), strict=True):
            var = a * a * var + v
        return var


def _true_reversal(schedule: NoiseSchedule, s2: float) -> _LinearGaussianModel:
    """The exact time reversal of eq (4) for x ~ N(0, s2), so that p(z | x) = Q(z | x)."""
    sig2 = [s2]
    for b in schedule.beta:
        sig2.append((1.0 - b) * sig2[-1] + b)
    a, v = [], []
    for t in range(1, schedule.T + 1):
        b = float(schedule.beta[t - 1])
        a.append(math.sqrt(1.0 - b) * sig2[t - 1] / sig2[t])
        v.append(b * sig2[t - 1] / sig2[t])
    return _LinearGaussianModel(prior_var=sig2[-1], a=tuple(a), v=tuple(v))


def _analytic_elbo(model: _LinearGaussianModel, schedule: NoiseSchedule, x: Tensor) -> Tensor:
    """E_Q of the eq (9) integrand in closed form, x [R, D] -> [R] (docs/model-and-checks.md)."""
    ab = [1.0, *schedule.alpha_bar.tolist()]  # index 0 is x itself
    beta = [0.0, *schedule.beta.tolist()]
    T = schedule.T
    mean = [math.sqrt(ab[i]) * x for i in range(T + 1)]
    var = [1.0 - ab[i] for i in range(T + 1)]

    def expected_ln_normal(i: int, a: float, v: float) -> Tensor:  # ln N(z_i | a z_{i+1}, v)
        cov = math.sqrt(1.0 - beta[i + 1]) * var[i]
        sq = (mean[i] - a * mean[i + 1]) ** 2 + var[i] + a * a * var[i + 1] - 2 * a * cov
        return -0.5 * (math.log(2 * math.pi * v) + sq / v).sum(-1)

    out = -0.5 * (
        math.log(2 * math.pi * model.prior_var) + (mean[T] ** 2 + var[T]) / model.prior_var
    )
    out = out.sum(-1)
    for i in range(T):
        out = out + expected_ln_normal(i, model.a[i], model.v[i])
    for i in range(1, T + 1):
        out = out + 0.5 * (math.log(2 * math.pi * beta[i]) + 1.0) * x.shape[-1]
    return out


def toy_codigem(config: CODIGEMConfig, lg: _LinearGaussianModel, seed: int = 0) -> CODIGEM:
    """A float64 CODIGEM whose networks are the affine maps of ``lg``; the rest is its own code."""
    if abs(lg.prior_var - 1.0) > 1e-12:
        raise ConfigError(
            f"CODIGEM's prior is N(0, I); the toy needs prior_var = 1, got {lg.prior_var}"
        )
    model = _build(config, seed)
    D = config.n_items
    model.reverse_nets = nn.ModuleList(
        AffineNet(D, lg.a[i], logvar=math.log(lg.v[i])) for i in range(1, config.T)
    ).double()
    model.decoder = AffineNet(D, lg.a[0]).double()
    model.output_link = nn.Identity()
    model.output_logvar = math.log(lg.v[0])
    return model.eval()


def check_toy_elbo_gap(
    config: CODIGEMConfig | None = None,
    n_samples: int = 20000,
    seed: int = 0,
    n_points: int = 4,
) -> CheckReport:
    """Check 4: a linear-Gaussian toy with exact ln p(x), run through the CODIGEM class: its ELBO
    matches the closed-form E_Q of eq (9), stays below ln p(x), equals it at the true reversal."""
    if config is None:
        config = CODIGEMConfig.preset("paper", n_items=3)
    toy_cfg = dataclasses.replace(
        config,
        n_items=3,
        hidden=2,
        n_layers=2,
        T=3,
        schedule="linear",
        beta=0.1,
        beta_end=0.3,
        input_scaling="none",
        likelihood="gaussian",
        skip_forward=False,
        skip_reverse=False,
        dropout=0.0,
    )
    schedule = toy_cfg.noise_schedule()
    gen = torch.Generator().manual_seed(seed)
    D, T = toy_cfg.n_items, toy_cfg.T
    x = torch.randn(n_points, D, generator=gen, dtype=torch.float64)
    x_rep = x.repeat_interleave(n_samples, dim=0)
    models = {
        "generic": _LinearGaussianModel(1.0, (1.1,) + (0.9,) * (T - 1), (0.3,) + (0.5,) * (T - 1)),
        "true_posterior": _true_reversal(schedule, 1.0),
    }
    details: dict[str, Any] = {"n_samples": n_samples, "n_points": n_points, "T": T, "s": 1.0}
    ok = True
    parts = []
    for name, lg in models.items():
        model = toy_codigem(toy_cfg, lg, seed)
        with torch.no_grad():
            vals = model(x_rep, generator=gen, reduction="none").elbo.view(n_points, n_samples)
        log_px = _ln_normal(x, 0.0, math.sqrt(lg.var_x()))
        mc, se = vals.mean(-1), vals.std(-1) / math.sqrt(n_samples)
        exact_elbo = _analytic_elbo(lg, schedule, x)
        gap_mc, gap_exact = log_px - mc, log_px - exact_elbo
        agree = bool(((mc - exact_elbo).abs() <= N_SE * se + 1e-9).all())
        if name == "generic":
            good = agree and bool((gap_mc > N_SE * se).all()) and bool((gap_exact > 0).all())
        else:
            good = agree and bool((gap_exact.abs() < 1e-9).all())
            good = good and bool(((vals - log_px[:, None]).abs() < 1e-9).all())
        ok = ok and good
        details[name] = {
            "log_px": log_px.tolist(),
            "elbo_mc": mc.tolist(),
            "elbo_mc_se": se.tolist(),
            "elbo_closed_form": exact_elbo.tolist(),
            "gap_mc": gap_mc.tolist(),
            "gap_closed_form": gap_exact.tolist(),
            "mc_minus_closed_in_se": ((mc - exact_elbo) / se.clamp_min(1e-300)).tolist(),
            "var_x": lg.var_x(),
            "passed": good,
        }
        parts.append(
            f"{name}: ln p(x) - ELBO = {float(gap_exact.mean()):.3g} nats "
            f"(model's MC {float(gap_mc.mean()):.3g} +- {float(se.mean()):.1g})"
        )
    msg = "CODIGEM with affine nets: " + "; ".join(parts)
    msg += f" [{n_points} points, {n_samples} chains each]"
    if not ok:
        bad = [n for n in models if not details[n]["passed"]]
        msg = (
            f"toy ELBO check failed for {', '.join(bad)}: the model's ELBO is not the closed-form "
            f"E_Q of eq (9) or not tight at the true reversal; switched-on deviations: "
            f"{', '.join(config.deviations) or 'none'}. " + msg
        )
    return CheckReport("toy_elbo_gap", ok, msg, details)


_CONSEQUENCES = {
    "forward_term_bug": (
        "the reported ELBO/loss is shifted by a parameter-free amount (gradients unchanged), so "
        "loss values are not true ELBOs"
    ),
    "pairing_bug": (
        "the net meant to denoise z_{i+1} -> z_i is trained on the wrong latent; harmless at "
        "beta = 1e-4 (latents ~ x), but wrong as soon as beta is large"
    ),
    "anneal_overwritten": (
        "the KL weight a trainer passes is replaced by 1, so CODIGEM-I (annealing) cannot "
        "differ from the base model"
    ),
    "init": (
        "the paper says Xavier for every layer; with first-layer weights ~1e-4 the transition "
        "nets start almost blind to their input, and the decoder starts from PyTorch's default"
    ),
    "input_scaling": (
        "the Gaussian p(x|z_1) with tanh mean in [-1, 1] is fit to 0/1 data instead of the "
        "paper's [-1, 1] inputs (Sec 2.3)"
    ),
}


def check_preset_faithfulness(config: CODIGEMConfig | str = "paper", seed: int = 0) -> CheckReport:
    """Check 5: where ``config`` departs from the paper (deviations 1-5), found by probing a small
    copy of the model (D = 32, M = 64)."""
    if isinstance(config, str):
        config = CODIGEMConfig.preset(config, n_items=32)
    probe = dataclasses.replace(config, n_items=32, hidden=64, dropout=0.0)
    model = _build(probe, seed)
    gen = torch.Generator().manual_seed(seed)
    x = _clicks(8, probe.n_items, gen)
    T = probe.T
    found: dict[str, str] = {}
    details: dict[str, Any] = {"probe": {"n_items": 32, "hidden": 64, "T": T}}

    with torch.no_grad():
        terms = model(x, generator=gen, reduction="none")
        zs = terms.latents
        book = _textbook_terms(model, x, zs)

        # deviation 1: forward terms
        reported_lq = [-f for f in terms.forward_entropy]
        diff = max(float((r - b).abs().max()) for r, b in zip(reported_lq, book["lq"], strict=True))
        details["forward_terms_max_abs_diff"] = diff
        if diff > 1e-8 * (1.0 + max(float(b.abs().max()) for b in book["lq"])):
            self_cond = [
                _ln_normal(zs[i], math.sqrt(1.0 - float(b)) * zs[i], math.sqrt(float(b)))
                for i, b in enumerate(model.schedule.beta)
            ]
            same = all(torch.allclose(r, s_) for r, s_ in zip(reported_lq, self_cond, strict=True))
            shift = float(sum(r - b for r, b in zip(reported_lq, book["lq"], strict=True)).mean())
            how = (
                "ln q(z_i|z_{i-1}) is evaluated as N(z_i | sqrt(1-beta) z_i, beta), z_i "
                "conditioning on itself"
                if same
                else "ln q(z_i|z_{i-1}) differs from eq (4)"
            )
            found["forward_term_bug"] = f"{how}; reported sum ln q is off by {shift:+.4g} nats/user"

        # deviation 2: pairing of reverse nets and latents
        mismatches = []
        for k, reported in enumerate(terms.reverse, start=1):
            match = None
            for j, m in itertools.product(range(1, T), range(1, T + 1)):
                cand = _ln_reverse(model, j, zs[m - 1], zs[k - 1])
                if torch.allclose(cand, reported, rtol=1e-10, atol=1e-8):
                    match = (j, m)
                    break
            if match != (k, k + 1):
                where = f"net {match[0]} fed z_{match[1]}" if match else "no (net, latent) pair"
                mismatches.append(f"z_{k} is scored under {where} (paper: net {k} fed z_{k + 1})")
        details["pairing_mismatches"] = mismatches
        if mismatches:
            found["pairing_bug"] = "; ".join(mismatches)
        elif probe.pairing_bug:
            details["pairing_note"] = f"pairing_bug is set but has no effect at T = {T} (< 3)"

        # deviation 3: annealing weight reaches the loss?
        half = model(x, latents=zs, kl_weight=0.5, reduction="none")
        expected = -(half.reconstruction - 0.5 * half.kl)
        details["kl_weight_used_when_0.5_passed"] = half.kl_weight
        if not torch.allclose(half.loss, expected):
            found["anneal_overwritten"] = (
                f"a KL weight of 0.5 was passed but the loss used {half.kl_weight:g}"
            )

    # deviation 4: initialisation vs Xavier (std within 15 %, zero biases)
    init_notes = []
    nets = [(f"reverse net {i + 1}", n) for i, n in enumerate(model.reverse_nets)]
    for label, net in [*nets, ("decoder", model.decoder)]:
        for li, layer in enumerate(net.linears(), start=1):
            fan_out, fan_in = layer.weight.shape
            want = math.sqrt(2.0 / (fan_in + fan_out))
            got = float(layer.weight.detach().std())
            nonzero_bias = bool(layer.bias.abs().max() > 0)
            if abs(got / want - 1.0) > 0.15 or nonzero_bias:
                init_notes.append(
                    f"{label} layer {li}: weight std {got:.3g} (Xavier {want:.3g})"
                    + (", nonzero bias" if nonzero_bias else "")
                )
    details["init_departures"] = init_notes
    if init_notes:
        first_tiny = [n for n in init_notes if "layer 1:" in n and "reverse" in n]
        summary = f"{len(init_notes)} Linear layer(s) not Xavier-initialised"
        if first_tiny:
            summary += f", e.g. {first_tiny[0]}"
        if any(n.startswith("decoder") for n in init_notes):
            summary += "; the decoder keeps PyTorch's default init"
        found["init"] = summary

    # deviation 5: input scaling
    with torch.no_grad():
        mapped = model.scale_input(torch.tensor([[0.0, 1.0]]).expand(1, 2))
    lo, hi = float(mapped[0, 0]), float(mapped[0, 1])
    details["input_map"] = {"0": lo, "1": hi}
    if (lo, hi) != (-1.0, 1.0):
        found["input_scaling"] = f"clicks enter the diffusion as {lo:g}/{hi:g}, not -1/1"

    details["deviations"] = sorted(found)
    details["not_checked"] = "deviation 6 (evaluation batch bound) belongs to the evaluator"
    if not found:
        msg = (
            "no departure from the paper found: forward terms follow eq (4), each reverse net is "
            "scored on its own latent (eq 9), the KL weight reaches the loss, Xavier init, "
            "inputs scaled to [-1, 1]"
        )
        return CheckReport("preset_faithfulness", True, msg, details)
    lines = [f"{len(found)} departure(s) from the paper's equations:"]
    for n, (key, what) in enumerate(found.items(), start=1):
        lines.append(f"  {n}. {key}: {what}. Consequence: {_CONSEQUENCES[key]}.")
    return CheckReport("preset_faithfulness", False, "\n".join(lines), details)


def _train_small(config: CODIGEMConfig, x: Tensor, steps: int, seed: int) -> CODIGEM:
    """A float64 CODIGEM trained for ``steps`` full-batch Adam steps on ``x`` (seeded)."""
    model = _build(config, seed).train()
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        opt.zero_grad()
        model(x, generator=gen).loss.backward()
        opt.step()
    return model.eval()


def iwae_bound(
    model: CODIGEM, x: Tensor, k: int, n_groups: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Per-user IWAE_k (Burda et al. 2016) and its SE from ``n_groups`` groups of k ELBOs (eq 9)."""
    U = x.shape[0]
    with torch.no_grad():
        w = model(x.repeat_interleave(n_groups * k, 0), generator=generator, reduction="none").elbo
    w = w.view(U, n_groups, k)
    est = torch.logsumexp(w, dim=-1) - math.log(k)
    return est.mean(-1), est.std(-1) / math.sqrt(n_groups)


def check_iwae_bounds(
    config: CODIGEMConfig | None = None,
    ks: tuple[int, int] = (5, 50),
    n_chains: int = 400,
    steps: int = 60,
    seed: int = 0,
) -> CheckReport:
    """Check 6: ELBO <= IWAE_K <= IWAE_K' (K < K', Burda et al. 2016) on a small trained CODIGEM,
    each gap > 3 SE, and independent groups of chains disagree."""
    if config is None:
        config = CODIGEMConfig.preset("paper", n_items=20)
    small = dataclasses.replace(
        config,
        n_items=20,
        hidden=32,
        T=3,
        beta=0.1,
        schedule="constant",
        dropout=0.0,
        skip_forward=False if config.T < 3 else config.skip_forward,
    )
    k1, k2 = ks
    if not 1 < k1 < k2:
        raise ConfigError(f"ks must be two integers 1 < K < K'; got {ks}")
    gen = torch.Generator().manual_seed(seed)
    prob = torch.rand(1, small.n_items, generator=gen, dtype=torch.float64) * 0.6
    x_train = (torch.rand(64, small.n_items, generator=gen, dtype=torch.float64) < prob).double()
    model = _train_small(small, x_train, steps, seed)
    x = x_train[:16]
    estimates = {}
    for k in (1, k1, k2):
        estimates[k] = iwae_bound(model, x, k, max(2, n_chains // k), gen)
    gaps = []
    for lo, hi in ((1, k1), (k1, k2)):
        diff = estimates[hi][0] - estimates[lo][0]
        se = torch.sqrt(estimates[hi][1] ** 2 + estimates[lo][1] ** 2)
        mean_diff = float(diff.mean())
        se_mean = float(torch.sqrt((se**2).sum())) / len(diff)
        gaps.append((lo, hi, mean_diff, se_mean))
    # independent groups of chains must disagree: zero spread means the rows shared one chain
    spread = min(float(v[1].min()) for v in estimates.values())
    passed = spread > 0 and all(d > 3.0 * s for _, _, d, s in gaps)
    names = {1: "ELBO", k1: f"IWAE_{k1}", k2: f"IWAE_{k2}"}
    details: dict[str, Any] = {
        "ks": [1, k1, k2],
        "n_chains": n_chains,
        "train_steps": steps,
        "min_se_across_groups": spread,
        "mean_bound": {names[k]: float(v[0].mean()) for k, v in estimates.items()},
        "gaps": [{"from": names[lo], "to": names[hi], "mean": d, "se": s} for lo, hi, d, s in gaps],
    }
    text = " <= ".join(f"{names[k]} {float(v[0].mean()):.3f}" for k, v in estimates.items())
    gap_text = ", ".join(f"{names[hi]} - {names[lo]} = {d:.3f} +- {s:.3f}" for lo, hi, d, s in gaps)
    if passed:
        msg = f"trained model, 16 users: {text} nats/user ({gap_text}; each > 3 SE)"
    else:
        msg = (
            f"the bounds are not ordered ELBO < IWAE_{k1} < IWAE_{k2} by > 3 SE: {text} "
            f"({gap_text}); the model's per-row ELBO may share chains across rows"
        )
    return CheckReport("iwae_bounds", passed, msg, details)


def run_all_checks(preset: str = "paper", seed: int = 0) -> list[CheckReport]:
    """Checks 1-6, each on a small CODIGEM built from ``preset`` (beta = 0.1 where it matters)."""
    small = CODIGEMConfig.preset(preset, n_items=6, hidden=16, T=4, beta=0.1)
    return [
        check_rearrangements(small, seed=seed),
        check_marginal(dataclasses.replace(small, n_items=4, hidden=8), seed=seed),
        check_gaussian_kl(small, seed=seed),
        check_toy_elbo_gap(CODIGEMConfig.preset(preset, n_items=3), seed=seed),
        check_preset_faithfulness(CODIGEMConfig.preset(preset, n_items=32), seed=seed),
        check_iwae_bounds(CODIGEMConfig.preset(preset, n_items=20), seed=seed),
    ]
