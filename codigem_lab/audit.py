"""Gradient-flow audit: which parameters each loss term trains and which reach the ranking, so
which variants can change a model's ranking (docs/released-code.md, docs/model-and-checks.md)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from codigem_lab.diffusion.model import CODIGEM, SCORE_MODES, CODIGEMConfig, ELBOTerms
from codigem_lab.errors import ConfigError
from codigem_lab.validate import check_choice

#: Size of the probe model the CODIGEM audit builds (the flow of gradients does not depend on it).
PROBE_ITEMS, PROBE_HIDDEN, PROBE_BATCH = 24, 16, 8
#: Steps at which a variant's loss is compared with the base's (plus its warm-up's middle and end).
PROBE_STEPS = (0, 1_000_000)


class RankingUnaffectedWarning(UserWarning):
    """A study is about to train a variant that cannot change the ranking it is scored by."""


def one_thread(fn):
    """Run ``fn`` with one intra-op thread (tiny probes), then restore the caller's thread count."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper


@dataclass(frozen=True)
class GradientFlowReport:
    """Where gradients flow in one model, for one score mode: groups reached by each loss term
    (``term_reach``) and by the scores (``ranking_reach``), with gradient norms; a CODIGEM's config."""

    model: str
    score_mode: str
    groups: tuple[str, ...]
    term_reach: dict[str, frozenset[str]]
    ranking_reach: frozenset[str]
    term_norms: dict[str, dict[str, float]] = field(repr=False)
    ranking_norms: dict[str, float] = field(repr=False)
    config: CODIGEMConfig | None = field(default=None, repr=False)

    @property
    def ranking_groups(self) -> frozenset[str]:
        """Groups whose training can change the ranking: the groups that reach it, closed under
        'shares a loss term with' (a group in a term's graph enters the others' gradients)."""
        found = set(self.ranking_reach)
        changed = True
        while changed:
            changed = False
            for reached in self.term_reach.values():
                if reached & found and not reached <= found:
                    found |= reached
                    changed = True
        return frozenset(found)

    @property
    def ranking_terms(self) -> tuple[str, ...]:
        """Loss terms whose gradient reaches a group in :attr:`ranking_groups`."""
        rg = self.ranking_groups
        return tuple(t for t, reached in self.term_reach.items() if reached & rg)

    def ordered(self, groups: Iterable[str]) -> list[str]:
        """``groups`` in the report's order."""
        groups = set(groups)
        return [g for g in self.groups if g in groups]


def _names(items: Iterable[str]) -> str:
    items = list(items)
    return ", ".join(items) if items else "nothing"


def default_groups(module: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """Parameters grouped by sub-network: the first name part, with a list index ('reverse_nets.0'),
    below the CODIGEM model held, or below a prefix all parameters share ('net.' in DiffRec)."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    parts = [n.split(".") for n, _ in named]
    inner = next((name for name, m in module.named_modules() if isinstance(m, CODIGEM)), None)
    if inner is not None:
        strip = len(inner.split(".")) if inner else 0
    else:
        strip = 0
        while (
            parts and all(len(p) > strip + 2 for p in parts) and len({p[strip] for p in parts}) == 1
        ):
            strip += 1
    groups: dict[str, list[tuple[str, nn.Parameter]]] = {}
    for (name, param), p in zip(named, parts, strict=True):
        rest = p[strip:]
        key = rest[0]
        if len(rest) > 2 and rest[1].isdigit():
            key = f"{rest[0]}.{rest[1]}"
        groups.setdefault(key, []).append((name, param))
    return groups


def _grads(output: Tensor, params: list[nn.Parameter]) -> list[Tensor | None]:
    """The gradient of the scalar ``output`` for each of ``params`` (None where it has none)."""
    if not output.requires_grad:
        return [None] * len(params)
    return list(torch.autograd.grad(output, params, retain_graph=True, allow_unused=True))


def _reach(
    output: Tensor, groups: Mapping[str, list[tuple[str, nn.Parameter]]]
) -> tuple[frozenset[str], dict[str, float]]:
    """Groups with a non-zero gradient of the scalar ``output``, and each group's gradient norm."""
    grads = iter(_grads(output, [p for members in groups.values() for _, p in members]))
    norms = {}
    for g, members in groups.items():
        found = [d for _, d in zip(members, grads) if d is not None]
        norms[g] = sum(float(d.double().pow(2).sum()) for d in found) ** 0.5
    return frozenset(g for g, n in norms.items() if n > 0.0), norms


def _projection(scores: Tensor, seed: int) -> Tensor:
    """A scalar that depends on every score: a fixed random projection (a plain sum could cancel)."""
    gen = torch.Generator().manual_seed(seed + 7919)
    w = torch.randn(scores.shape, generator=gen, dtype=torch.float64).to(scores)
    return (scores * w).sum()


def gradient_flow(
    terms: Mapping[str, Tensor],
    scores: Tensor,
    groups: Mapping[str, list[tuple[str, nn.Parameter]]],
    seed: int = 0,
) -> dict:
    """The gradient fields of a :class:`GradientFlowReport`: the groups (and gradient norms) that
    each loss term in ``terms`` reaches, and that the ``scores`` reach."""
    reach = {name: _reach(value, groups) for name, value in terms.items()}
    ranking_reach, ranking_norms = _reach(_projection(scores, seed), groups)
    return {
        "groups": tuple(groups),
        "term_reach": {name: r for name, (r, _) in reach.items()},
        "ranking_reach": ranking_reach,
        "term_norms": {name: n for name, (_, n) in reach.items()},
        "ranking_norms": ranking_norms,
    }


def codigem_scores_with_grad(model: CODIGEM, x: Tensor, mode: str = "decoder") -> Tensor:
    """``model.score(x, mode)`` with autograd on: the model's own scoring code, undecorated."""
    with torch.enable_grad():
        out = inspect.unwrap(type(model).score)(model, x, mode=mode)
    if not out.requires_grad:
        raise RuntimeError(
            "CODIGEM.score produced no autograd graph even when undecorated; the gradient-flow "
            "audit needs its scoring to be differentiable (a torch.no_grad inside it?)"
        )
    return out


def _random_clicks(batch: int, n_items: int, seed: int, dtype=torch.float64) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, n_items, generator=gen) < 0.3).to(dtype)
    x[:, 0] = 1.0  # every row has at least one click
    return x


def codigem_terms(terms: ELBOTerms) -> dict[str, Tensor]:
    """The ELBO's terms by name, in eq (9)'s order: reconstruction, reverse_1..T-1, prior,
    forward_entropy_1..T (each a batch mean)."""
    out = {"reconstruction": terms.reconstruction}
    out.update({f"reverse_{i}": r for i, r in enumerate(terms.reverse, start=1)})
    out["prior"] = terms.prior
    out.update({f"forward_entropy_{i}": f for i, f in enumerate(terms.forward_entropy, start=1)})
    return out


def probe_config(config: CODIGEMConfig) -> CODIGEMConfig:
    """``config`` at probe size (D = 24, M = 16, no dropout); every other field kept."""
    return dataclasses.replace(config, n_items=PROBE_ITEMS, hidden=PROBE_HIDDEN, dropout=0.0)


def _build(config: CODIGEMConfig, seed: int) -> CODIGEM:
    torch.manual_seed(seed)
    return CODIGEM(config).double()


def _preset(config: CODIGEMConfig | CODIGEM | str, score_mode: str) -> CODIGEMConfig | CODIGEM:
    """``config`` with a preset name read at probe size; ``score_mode`` checked."""
    check_choice("score_mode", score_mode, SCORE_MODES)
    return CODIGEMConfig.preset(config, n_items=PROBE_ITEMS) if isinstance(config, str) else config


@one_thread
def audit_codigem(
    config: CODIGEMConfig | CODIGEM | str,
    score_mode: str = "decoder",
    *,
    seed: int = 0,
    x: Tensor | None = None,
) -> GradientFlowReport:
    """The gradient-flow report of a CODIGEM config, preset or built model under ``score_mode``; a
    config is audited at probe size, in float64, on ``x`` or a seeded random batch."""
    config = _preset(config, score_mode)
    if isinstance(config, CODIGEM):
        model = config
        config = model.config
    elif isinstance(config, CODIGEMConfig):
        model = _build(probe_config(config), seed)
    else:
        raise ConfigError(
            f"audit_codigem needs a CODIGEMConfig or CODIGEM; got {type(config).__name__}"
        )
    if x is None:
        x = _random_clicks(PROBE_BATCH, model.config.n_items, seed, model._dtype())
    groups = default_groups(model)

    was_training = model.training
    model.train()
    try:
        # each term is back-propagated on its own, unweighted: the KL weight cannot matter here
        terms = model(x, generator=torch.Generator().manual_seed(seed))
        named = codigem_terms(terms)
        scores = codigem_scores_with_grad(model, x[: min(len(x), PROBE_BATCH)], score_mode)
        flow = gradient_flow(named, scores, groups, seed)
    finally:
        model.train(was_training)

    return GradientFlowReport(
        model="CODIGEM",
        score_mode=score_mode,
        config=config,
        **flow,
    )


@dataclass(frozen=True)
class VariantEffect:
    """What a config change does to one batch, with the same seed, weights and noise as the base:
    changed terms, initial values, training gradients, scores or architecture."""

    overrides: dict
    score_mode: str
    changed_terms: tuple[str, ...]
    changed_init: tuple[str, ...]
    changed_gradients: tuple[str, ...]
    scores_changed: bool
    architecture_changed: bool

    @property
    def changes_nothing(self) -> bool:
        changed = (self.changed_terms, self.changed_init, self.changed_gradients)
        return not (any(changed) or self.scores_changed or self.architecture_changed)


def _close(a: Tensor | None, b: Tensor | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def _term_grads(
    model: CODIGEM, x: Tensor, seed: int, step: int, terms_too: bool
) -> tuple[dict, dict, float]:
    """Values and gradients (by parameter name) of the loss at ``step`` (and, with ``terms_too``, of
    every ELBO term); and the KL weight the model used."""
    terms = model(
        x, generator=torch.Generator().manual_seed(seed), kl_weight=model.config.kl_weight(step)
    )
    named = codigem_terms(terms) if terms_too else {}
    names, params = zip(*model.named_parameters(), strict=True)
    values, grads = {}, {}
    for t, v in [*named.items(), ("loss", terms.loss)]:
        values[t] = v.detach()
        grads[t] = dict(zip(names, _grads(v, list(params)), strict=True))
    return values, grads, terms.kl_weight


@one_thread
def variant_effect(
    config: CODIGEMConfig | str,
    overrides: Mapping[str, object],
    score_mode: str = "decoder",
    *,
    seed: int = 0,
) -> VariantEffect:
    """Compare the variant ``config + overrides`` with ``config`` on one probe batch: same seed
    (init differences show), then the base weights, batch and noise, at each :data:`PROBE_STEPS`."""
    base_cfg = probe_config(_preset(config, score_mode))
    var_cfg = dataclasses.replace(base_cfg, **dict(overrides))
    base, var = _build(base_cfg, seed), _build(var_cfg, seed)
    groups = default_groups(base)
    group_of = {n: g for g, members in groups.items() for n, _ in members}
    shapes = [{n: p.shape for n, p in m.named_parameters()} for m in (base, var)]
    if shapes[0] != shapes[1]:
        return VariantEffect(
            dict(overrides), score_mode, ("*",), tuple(groups), tuple(groups), True, True
        )

    pv = dict(var.named_parameters())
    changed_init = sorted({group_of[n] for n, p in base.named_parameters() if not _close(p, pv[n])})
    var.load_state_dict(base.state_dict())
    x = _random_clicks(PROBE_BATCH, base_cfg.n_items, seed)

    steps = sorted({*PROBE_STEPS, var_cfg.anneal_steps // 2, var_cfg.anneal_steps})
    changed_terms: set[str] = set()
    changed_grads: set[str] = set()
    base.train()
    var.train()
    for k, step in enumerate(steps):
        # the terms themselves do not depend on the step, only their weight in the loss does
        vb, gb, wb = _term_grads(base, x, seed, step, terms_too=k == 0)
        vv, gv, wv = _term_grads(var, x, seed, step, terms_too=k == 0)
        if k == 0:
            order = list(vb)  # eq (9)'s order, then "loss"
            kl_terms = {t for t in order if t not in ("reconstruction", "loss")}
        if wb != wv:  # the variant weights the KL terms differently at this step
            changed_terms |= kl_terms
        if set(vb) != set(vv):  # T differs: different terms
            changed_terms |= set(vb) ^ set(vv)
        for t in set(vb) & set(vv):
            if not _close(vb[t], vv[t]) or any(not _close(gb[t][n], gv[t][n]) for n in gb[t]):
                if t != "loss":
                    changed_terms.add(t)
        changed_grads |= {
            group_of[n] for n in gb["loss"] if not _close(gb["loss"][n], gv["loss"][n])
        }
    sb = codigem_scores_with_grad(base, x, score_mode).detach()
    sv = codigem_scores_with_grad(var, x, score_mode).detach()
    return VariantEffect(
        overrides=dict(overrides),
        score_mode=score_mode,
        changed_terms=tuple(
            sorted(changed_terms, key=lambda t: order.index(t) if t in order else 99)
        ),
        changed_init=tuple(changed_init),
        changed_gradients=tuple(g for g in groups if g in changed_grads),
        scores_changed=not _close(sb, sv),
        architecture_changed=False,
    )


def ranking_unaffected(
    report: GradientFlowReport, variant: Mapping[str, object] | VariantEffect, *, seed: int = 0
) -> bool:
    """True when the variant (config overrides or a :class:`VariantEffect`) cannot change the
    ranking under ``report.score_mode``: same scores, nothing reaching ranking groups changes."""
    return not _reasons(report, variant, seed)[1]


def _reasons(
    report: GradientFlowReport, variant: Mapping[str, object] | VariantEffect, seed: int = 0
) -> tuple[VariantEffect, list[str]]:
    """The variant's effect (probed unless given) and why it can change the ranking under the
    report's score mode: no reason when it cannot."""
    if not isinstance(variant, VariantEffect):
        if report.config is None:
            raise ConfigError(
                "this report has no CODIGEM config to apply overrides to; pass a VariantEffect"
            )
        variant = variant_effect(report.config, variant, report.score_mode, seed=seed)
    elif variant.score_mode != report.score_mode:
        raise ConfigError(
            f"the variant was probed under {variant.score_mode!r} scoring, the report is for "
            f"{report.score_mode!r}"
        )
    effect, reasons = variant, []
    if effect.scores_changed:
        reasons.append("the scores differ at the same weights")
    hit = sorted(set(effect.changed_gradients) & report.ranking_groups)
    if hit:
        reasons.append(f"the training gradient of {_names(hit)} changes")
    hit = sorted(set(effect.changed_init) & report.ranking_groups)
    if hit:
        reasons.append(f"the init of {_names(hit)} changes")
    terms = [t for t in effect.changed_terms if t in report.ranking_terms]
    if terms:
        reasons.append(
            f"it changes loss terms {_names(terms)}, which train the ranking's parameters"
        )
    if effect.architecture_changed:
        reasons.append("the parameters themselves differ")
    return effect, reasons


def explain_variant(
    report: GradientFlowReport, variant: Mapping[str, object] | VariantEffect, name: str = ""
) -> str:
    """One sentence: whether the variant can change the ranking, and why."""
    effect, reasons = _reasons(report, variant)
    label = name or str(effect.overrides)
    mode = f"{report.score_mode} scoring"
    if not reasons:
        if effect.changes_nothing:
            why = "it changes no loss term, gradient, initial value or score at all"
        else:
            what = [f"loss terms {_names(effect.changed_terms)}"] if effect.changed_terms else []
            what += [f"the init of {_names(effect.changed_init)}"] if effect.changed_init else []
            reached = [report.term_reach.get(t, frozenset()) for t in effect.changed_terms]
            touched = report.ordered(
                {*effect.changed_gradients, *effect.changed_init}.union(*reached)
            )
            why = (
                f"it changes {' and '.join(what)}, which reach only {_names(touched)}, while the "
                f"ranking is reached only by {_names(report.ordered(report.ranking_groups))}"
            )
        return f"{label} cannot change the ranking under {mode}: {why}."
    return f"{label} can change the ranking under {mode}: {'; '.join(reasons)}."


def variant_effects(config, variants, score_mode, seed):
    """The audit report of ``config`` and each variant's effect (the base model, without
    overrides, is the reference and is skipped)."""
    report = audit_codigem(config, score_mode, seed=seed)
    effects = {
        name: variant_effect(report.config, over, score_mode, seed=seed)
        for name, over in variants.items()
        if over
    }
    return report, effects


def unaffected_variants(
    config: CODIGEMConfig | str,
    variants: Mapping[str, Mapping[str, object]],
    score_mode: str = "decoder",
    *,
    label: str = "",
    seed: int = 0,
) -> dict[str, str]:
    """Before a study trains ``variants`` of ``config``: each variant that cannot change the
    ranking under ``score_mode``, with the sentence that says why (a study's notes)."""
    report, effects = variant_effects(config, variants, score_mode, seed)
    prefix = f"{label + ': ' if label else ''}variant "
    return {
        name: explain_variant(report, eff, name=prefix + name)
        + " Its runs will reproduce the base model's ranking."
        for name, eff in effects.items()
        if ranking_unaffected(report, eff)
    }
