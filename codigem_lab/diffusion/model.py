"""CODIGEM (Walker et al., KSEM 2022): a T-step diffusion model over 0/1 clicks (eqs 2-13)."""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from codigem_lab.diffusion.schedule import (
    NoiseSchedule,
    q_marginal_sample,
    q_step_mean,
    q_step_sample,
)
from codigem_lab.diffusion.types import (
    PRESETS,
    SCORE_MODES,
    Activation,
    Init,
    InputScaling,
    Likelihood,
    Preset,
    Reduction,
    ScheduleName,
    ScoreMode,
)
from codigem_lab.errors import ConfigError
from codigem_lab.options import knob
from codigem_lab.validate import check_bool, check_choice, check_int, check_range

__all__ = ["CODIGEM", "PRESETS", "SCORE_MODES", "CODIGEMConfig", "ELBOTerms", "n_flops_per_example"]

LOG_2PI = math.log(2.0 * math.pi)
RELEASED_FIRST_LAYER_STD = 1e-4

#: What each preset sets on top of the paper's defaults: 'released' switches on deviations 1-5.
PRESET_FIELDS: dict[str, dict] = {
    "paper": {},
    "released": dict(
        init="released",
        input_scaling="none",
        forward_term_bug=True,
        pairing_bug=True,
        anneal_overwritten=True,
    ),
}


@dataclass(frozen=True)
class CODIGEMConfig:
    """Everything that defines a CODIGEM model (defaults: the paper's Sec 3.1), checked once, here;
    frozen, so a run's config can be hashed. ``n_items`` (D) may wait for :meth:`for_items`."""

    n_items: int | None = None
    hidden: int = knob(200, "hidden units M per layer")
    n_layers: int = knob(6, "Linear layers per network")
    activation: Activation = knob("prelu", "nonlinearity between layers")
    T: int = knob(3, "diffusion steps, >= 1")
    beta: float = knob(1e-4, "noise per step, 0 < beta < 1 (the linear schedule's first)")
    schedule: ScheduleName = knob("constant", "noise schedule beta_1..beta_T (eq 4)")
    beta_end: float = knob(0.02, "the linear schedule's last beta")
    likelihood: Likelihood = knob("gaussian", "p(x | z_1); multinomial is variant IV")
    skip_forward: bool = knob(False, "variant II: skips in the transition nets")
    skip_reverse: bool = knob(False, "variant III: skips in the decoder")
    anneal_steps: int = knob(0, "variant I: KL annealing steps (0: off)")
    anneal_cap: float = knob(1.0, "variant I: the KL weight's cap")
    init: Init = knob("xavier", "weight init (released: deviation 4)")
    input_scaling: InputScaling = knob("minus1_1", "x0 = 2x - 1, or x (deviation 5)")
    forward_term_bug: bool = knob(False, "deviation 1 of the released code")
    pairing_bug: bool = knob(False, "deviation 2 of the released code")
    anneal_overwritten: bool = knob(False, "deviation 3 of the released code")
    dropout: float = knob(0.0, "dropout on every network's input, 0 <= dropout < 1")

    def __post_init__(self) -> None:
        if self.n_items is not None:
            check_int("n_items", self.n_items, 1, "the number of item columns D")
        check_int("hidden", self.hidden, 1, "the paper uses 200")
        check_int("n_layers", self.n_layers, 2, "Linear layers per network; the paper uses 6")
        check_int("anneal_steps", self.anneal_steps, 0, "0 switches annealing off")
        check_choice("activation", self.activation, Activation)
        check_choice("likelihood", self.likelihood, Likelihood)
        check_choice("init", self.init, Init)
        check_choice("input_scaling", self.input_scaling, InputScaling)
        for name in ("skip_forward", "skip_reverse", "forward_term_bug", "pairing_bug",
                     "anneal_overwritten"):  # fmt: skip
            check_bool(name, getattr(self, name))
        check_range("dropout", self.dropout, 0.0, 1.0, open_high=True)
        check_range("anneal_cap", self.anneal_cap, 0.0, 1.0)
        # schedule, T, beta and beta_end: checked once, by building the schedule they name
        noise = NoiseSchedule.from_name(self.schedule, self.T, self.beta, self.beta_end)
        object.__setattr__(self, "_noise", noise)
        if self.skip_forward and self.T < 2:
            raise ConfigError(
                "skip_forward (variant II) adds skips to the T-1 transition networks, and T = 1 "
                "has none; set T >= 2 or skip_forward=False"
            )

    @classmethod
    def preset(cls, name: Preset, n_items: int | None = None, **overrides: object) -> CODIGEMConfig:
        """'paper' follows the equations; 'released' adds :data:`PRESET_FIELDS` (the released code's
        deviations); ``overrides`` replace any field, e.g. ``preset("paper", n_items=D, T=5)``."""
        check_choice("preset", name, Preset)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(
                f"unknown CODIGEMConfig field(s) {unknown}; valid fields: {sorted(known)}"
            )
        return cls(n_items=n_items, **{**PRESET_FIELDS[name], **overrides})

    @staticmethod
    def preset_value(name: Preset, field_name: str) -> object:
        """The value preset ``name`` gives a field (without building a config)."""
        return PRESET_FIELDS[name].get(field_name, getattr(CODIGEMConfig, field_name))

    def for_items(self, n_items: int) -> CODIGEMConfig:
        """This config for data with ``n_items`` columns; only D is checked (the rest was)."""
        if self.n_items == n_items:
            return self
        out = copy.copy(self)  # shares the schedule: the same beta_1..beta_T object
        object.__setattr__(out, "n_items", check_int("n_items", n_items, 1, "item columns D"))
        return out

    def noise_schedule(self) -> NoiseSchedule:
        """The forward-process schedule beta_1..beta_T (eq 4) this config names (built once)."""
        return self._noise  # type: ignore[attr-defined]

    def kl_weight(self, step: int) -> float:
        """Variant I (Multi-VAE annealing): min(anneal_cap, step / anneal_steps); 1 if steps = 0."""
        if self.anneal_steps == 0:
            return 1.0
        return min(self.anneal_cap, step / self.anneal_steps)

    @property
    def deviations(self) -> tuple[str, ...]:
        """Names of the released-code deviations (1-5) this config switches on."""
        out = [
            n for n in ("forward_term_bug", "pairing_bug", "anneal_overwritten") if getattr(self, n)
        ]
        if self.init == "released":
            out.append("init")
        if self.input_scaling == "none":
            out.append("input_scaling")
        return tuple(out)


class MLP(nn.Module):
    """Linear(D_in, M), act, (n_layers - 2) x [Linear(M, M), act], Linear(M, D_out), input dropout;
    ``residual=True`` turns each hidden block into h <- h + act(W h + b) (variants II/III)."""

    def __init__(
        self,
        d_in: int,
        hidden: int,
        d_out: int,
        n_layers: int,
        activation: str,
        residual: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.first = nn.Linear(d_in, hidden)
        self.blocks = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(n_layers - 2))
        self.acts = nn.ModuleList(_activation(activation) for _ in range(n_layers - 1))
        self.out = nn.Linear(hidden, d_out)

    def forward(self, z: Tensor) -> Tensor:
        h = self.acts[0](self.first(self.drop(z)))
        for linear, act in zip(self.blocks, self.acts[1:], strict=True):
            a = act(linear(h))
            h = h + a if self.residual else a
        return self.out(h)

    def linears(self) -> list[nn.Linear]:
        """All Linear layers, input to output."""
        return [self.first, *self.blocks, self.out]


def _activation(name: str) -> nn.Module:
    return {"prelu": nn.PReLU, "relu": nn.ReLU, "tanh": nn.Tanh}[name]()


@dataclass
class ELBOTerms:
    """The pieces of the ELBO (eq 9) for one batch: batch means, or [B] with ``reduction='none'``;
    true log densities in nats, summed over the D items (constants included)."""

    loss: Tensor  # -(reconstruction - kl_weight * kl), the quantity to minimise
    elbo: Tensor  # reconstruction - kl
    reconstruction: Tensor  # ln p(x | z_1)
    reverse: list[Tensor]  # ln p(z_i | z_{i+1}), i = 1..T-1 (as the model scores them)
    prior: Tensor  # ln p(z_T) = ln N(z_T | 0, I)
    forward_entropy: list[Tensor]  # -ln q(z_i | z_{i-1}), i = 1..T, z_0 = x (eq 4)
    kl: Tensor  # -(sum reverse + prior + sum forward_entropy)
    kl_weight: float
    latents: list[Tensor] = field(repr=False, default_factory=list)  # [z_1, ..., z_T]


class CODIGEM(nn.Module):
    """T-1 transition nets p(z_i | z_{i+1}) (``reverse_nets[i - 1]``: [mean, log-variance], eq 7)
    and a decoder p(x | z_1): tanh mean (Sec 2.3), or plain logits (multinomial, variant IV)."""

    def __init__(self, config: CODIGEMConfig) -> None:
        super().__init__()
        if not isinstance(config, CODIGEMConfig):
            raise ConfigError(f"CODIGEM needs a CODIGEMConfig; got {type(config).__name__}")
        if config.n_items is None:
            raise ConfigError("CODIGEM needs the number of items: pass config.for_items(D)")
        self.config = c = config
        self.schedule = c.noise_schedule()
        #: beta_1..beta_T and alpha_bar_1..alpha_bar_T as Python floats (eq 5 takes a float).
        self.beta = tuple(float(b) for b in self.schedule.beta)
        self.alpha_bar = tuple(float(a) for a in self.schedule.alpha_bar)

        def mlp(d_out: int, residual: bool) -> MLP:
            return MLP(c.n_items, c.hidden, d_out, c.n_layers, c.activation, residual, c.dropout)

        self.reverse_nets = nn.ModuleList(
            mlp(2 * c.n_items, c.skip_forward) for _ in range(c.T - 1)
        )
        self.decoder = mlp(c.n_items, c.skip_reverse)
        # p(x | z_1) = N(x0 | link(NN(z_1)), exp(logvar) I), Sec 2.3; the checks' toy swaps both
        self.output_link: nn.Module = nn.Tanh()
        self.output_logvar: float = 0.0
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """'xavier': Glorot-uniform weights, zero biases (Sec 3.1). 'released' (deviation 4):
        PyTorch's default, but each transition net's first weight AND bias from N(0, 1e-4^2)."""
        for net in [*self.reverse_nets, self.decoder]:
            for layer in net.linears():
                layer.reset_parameters()
        if self.config.init == "xavier":
            for net in [*self.reverse_nets, self.decoder]:
                for layer in net.linears():
                    nn.init.xavier_uniform_(layer.weight)
                    nn.init.zeros_(layer.bias)
        else:
            for net in self.reverse_nets:
                nn.init.normal_(net.first.weight, mean=0.0, std=RELEASED_FIRST_LAYER_STD)
                nn.init.normal_(net.first.bias, mean=0.0, std=RELEASED_FIRST_LAYER_STD)

    def scale_input(self, x: Tensor) -> Tensor:
        """x -> 2x - 1 ('minus1_1', Sec 2.3) or x unchanged ('none', deviation 5)."""
        return scale_input(_dense_float(x, self._dtype()), self.config.input_scaling)

    def sample_latents(
        self, x_scaled: Tensor, generator: torch.Generator | None = None
    ) -> list[Tensor]:
        """[z_1, ..., z_T] by iterating eq (5) (``schedule.q_step_sample``) from z_0 = x_scaled."""
        zs, z = [], x_scaled
        for beta_i in self.beta:
            eps = torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
            z = q_step_sample(z, beta_i, eps)
            zs.append(z)
        return zs

    def forward(
        self,
        x: Tensor,
        generator: torch.Generator | None = None,
        kl_weight: float | None = None,
        latents: list[Tensor] | None = None,
        reduction: Reduction = "mean",
    ) -> ELBOTerms:
        """One-sample ELBO (eq 9) and terms for 0/1 rows x [B, D]; ``latents``: a given chain."""
        c = self.config
        x = _dense_float(x, self._dtype())
        if x.ndim != 2 or x.shape[1] != c.n_items:
            raise ConfigError(f"x must have shape [B, {c.n_items}]; got {tuple(x.shape)}")
        check_choice("reduction", reduction, Reduction)
        x0 = self.scale_input(x)
        zs = self.sample_latents(x0, generator) if latents is None else list(latents)
        if len(zs) != c.T:
            raise ConfigError(f"latents must hold T = {c.T} tensors; got {len(zs)}")

        rec = self.log_likelihood(x, x0, self.decoder(zs[0]))

        reverse = [log_normal(z_i, mu, logvar) for z_i, mu, logvar in self._reverse_pairs(zs)]
        prior = log_normal_std(zs[-1])

        forward_entropy = []
        for i, beta_i in enumerate(self.beta):
            z_prev = x0 if i == 0 else zs[i - 1]
            if c.forward_term_bug:  # deviation 1: conditioning input is z_i itself
                z_prev = zs[i]
            forward_entropy.append(-log_normal_iso(zs[i], q_step_mean(z_prev, beta_i), beta_i))

        kl = -(sum(reverse, torch.zeros_like(rec)) + prior + sum(forward_entropy))
        weight = 1.0 if (kl_weight is None or c.anneal_overwritten) else float(kl_weight)
        elbo = rec - kl
        loss = -(rec - weight * kl)
        terms = ELBOTerms(loss, elbo, rec, reverse, prior, forward_entropy, kl, weight, zs)
        if reduction == "mean":
            terms = _batch_mean(terms)
        return terms

    def log_likelihood(self, x: Tensor, x0: Tensor, nn_out: Tensor) -> Tensor:
        """ln p(x | z_1) per row from ``nn_out`` = NN(z_1): Gaussian on x0 or multinomial on x."""
        if self.config.likelihood == "gaussian":
            return log_normal_iso(x0, self.output_link(nn_out), math.exp(self.output_logvar))
        return (x * torch.log_softmax(nn_out, dim=-1)).sum(-1)

    def _reverse_pairs(self, zs: list[Tensor]) -> list[tuple[Tensor, Tensor, Tensor]]:
        """(value, mean, logvar) of reverse terms i = 1..T-1: z_i under reverse_nets[i-1](z_{i+1});
        deviation 2 (pairing_bug) scores z_k under reverse_nets[T-1-k](z_{T+1-k}) instead."""
        T = self.config.T
        pairs = []
        for k in range(1, T):
            if self.config.pairing_bug:
                net, z_in = self.reverse_nets[T - 1 - k], zs[T - k]
            else:
                net, z_in = self.reverse_nets[k - 1], zs[k]
            mu, logvar = net(z_in).chunk(2, dim=-1)
            pairs.append((zs[k - 1], mu, logvar))
        return pairs

    @torch.no_grad()
    def score(
        self,
        x: Tensor,
        mode: ScoreMode = "decoder",
        noise: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Item scores [B, D], unmasked: NN(z_1), z_1 from q(z_1 | x) ('decoder') or
        :meth:`reverse_chain` ('reverse', Sec 2.4); means unless ``noise``."""
        check_choice("mode", mode, ScoreMode)
        was_training = self.training
        self.eval()
        try:
            if mode == "reverse":
                z = self.reverse_chain(x, noise, generator)[-1]
            else:
                z = self._diffuse_to(self.scale_input(x), 1, noise, generator)
            return self.decoder(z)
        finally:
            self.train(was_training)

    def reverse_chain(
        self, x: Tensor, noise: bool = False, generator: torch.Generator | None = None
    ) -> list[Tensor]:
        """[z_T, z_{T-1}, ..., z_1] of reverse-chain scoring (Sec 2.4): z_T from q(z_T | x), then
        z_i = mean of p(z_i | z_{i+1}) (sampled if ``noise``)."""
        z = self._diffuse_to(self.scale_input(x), self.config.T, noise, generator)
        return self._reverse_from(z, noise, generator)

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """NN(z_1) of ``n`` new users drawn from the model (eq 2): z_T ~ p(z_T) = N(0, I), then
        z_i ~ p(z_i | z_{i+1}) down to z_1 (Sec 2.4 as written). Rank a row for its top items."""
        check_int("n", n, 1, "the number of users to generate")
        w = self.decoder.out.weight
        z = torch.randn(n, self.config.n_items, generator=generator, dtype=w.dtype, device=w.device)
        was_training = self.training
        self.eval()
        try:
            return self.decoder(self._reverse_from(z, True, generator)[-1])
        finally:
            self.train(was_training)

    def _reverse_from(
        self, z: Tensor, noise: bool, generator: torch.Generator | None
    ) -> list[Tensor]:
        """[z_T, ..., z_1] from a given z_T: z_i = mean of p(z_i | z_{i+1}) (sampled if noise)."""
        chain = [z]
        for i in range(self.config.T - 1, 0, -1):  # z_{i+1} -> z_i
            mu, logvar = self.reverse_nets[i - 1](z).chunk(2, dim=-1)
            z = mu
            if noise:
                eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
                z = mu + torch.exp(0.5 * logvar) * eps
            chain.append(z)
        return chain

    def _diffuse_to(
        self, x0: Tensor, t: int, noise: bool, generator: torch.Generator | None
    ) -> Tensor:
        """z_t from q(z_t | x) in closed form (``schedule.q_marginal_sample``); its mean unless noise."""
        eps = None
        if noise:
            eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        return q_marginal_sample(x0, self.alpha_bar[t - 1], eps)

    def _dtype(self) -> torch.dtype:
        return self.decoder.out.weight.dtype


def n_flops_per_example(config: CODIGEMConfig) -> int:
    """Matmul FLOPs per user for one training step (backward about twice forward): a lower bound."""
    D, M, L = config.n_items, config.hidden, config.n_layers
    trunk = D * M + (L - 2) * M * M
    per_reverse_net = trunk + M * 2 * D
    decoder = trunk + M * D
    forward = 2 * ((config.T - 1) * per_reverse_net + decoder)
    return 3 * forward


def scale_input(x, scaling: InputScaling = "minus1_1"):
    """0/1 clicks -> z_0: 2x - 1 ('minus1_1', Sec 2.3) or x ('none', deviation 5), any array."""
    return (
        2.0 * x - 1.0 if check_choice("input_scaling", scaling, InputScaling) == "minus1_1" else x
    )


def log_normal(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """ln N(x | mean, diag exp(logvar)) summed over the last axis (a true density, in nats)."""
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar)).sum(-1)


def log_normal_iso(x: Tensor, mean: Tensor, var: float) -> Tensor:
    """ln N(x | mean, var I) for a scalar variance, summed over the last axis."""
    d = x.shape[-1]
    diff = x - mean
    return -0.5 * (d * (LOG_2PI + math.log(var)) + torch.linalg.vecdot(diff, diff) / var)


def log_normal_std(x: Tensor) -> Tensor:
    """ln N(x | 0, I) summed over the last axis (the prior p(z_T)), without materialising zeros."""
    return -0.5 * (x.shape[-1] * LOG_2PI + torch.linalg.vecdot(x, x))


def _dense_float(x: Tensor, dtype: torch.dtype) -> Tensor:
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    if x.is_sparse or x.layout != torch.strided:
        x = x.to_dense()
    return x.to(dtype)


def _batch_mean(t: ELBOTerms) -> ELBOTerms:
    means = {k: v.mean() for k, v in vars(t).items() if isinstance(v, Tensor)}
    lists = {k: [v.mean() for v in getattr(t, k)] for k in ("reverse", "forward_entropy")}
    return dataclasses.replace(t, **means, **lists)
