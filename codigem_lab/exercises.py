"""The notebooks' exercises: ``check(name, answer)`` says right or wrong, and why.

Each exercise's right answer is computed by the library (``NoiseSchedule``, ``CODIGEM``,
``metrics``, ``experiments.paper``), never typed in: if the library changes, the checker follows.
A wrong answer that matches a known mistake gets that mistake's explanation ("alpha_bar_T =
(1 - beta)^T, you gave (1 - beta) * T"); any other wrong answer gets the exercise's hint. The
right value itself is not printed: it is in the notebook's collapsible solution.

``None`` or ``...`` is a placeholder: ``check`` then prints "not answered yet" and returns None,
so the exercise cells run (and pass nbval) before anyone answers them.

Answers can be numbers, tensors or arrays, sets of choices, or functions; a function is called on
probe inputs and compared with the library's own on each of them.

The top layer (beside ``session``): it may import anything below it; nothing imports it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["number", "integer", "array", "choice", "set", "function"]

__all__ = ["EXERCISES", "Exercise", "Mistake", "check", "exercises", "right_answer"]


@dataclass(frozen=True)
class Mistake:
    """A wrong answer people give, as a function of the exercise's context, and why it is wrong."""

    value: Callable[..., Any]
    why: str


@dataclass(frozen=True)
class Exercise:
    """One exercise: its question, how the library computes the answer, and the known mistakes.

    ``expected(**context)`` gives the right answer. For ``kind='function'``, ``expected`` is the
    reference function and ``probes(**context)`` the list of argument tuples both are called on.
    ``context`` names the keyword arguments the notebook passes to :func:`check` (a split, say).
    """

    name: str
    question: str
    kind: Kind
    expected: Callable[..., Any]
    why: str
    hint: str
    mistakes: tuple[Mistake, ...] = ()
    rtol: float = 1e-6
    atol: float = 0.0
    probes: Callable[..., list[tuple]] | None = None
    context: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    notebook: str = field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "notebook", self.name.split(".", 1)[0])


# ================================================================================ checking
def _is_placeholder(answer: object) -> bool:
    return answer is None or answer is Ellipsis


def _norm_choice(value: object) -> str:
    return str(value).strip().lower().replace("'", "").replace('"', "")


def _to_numpy(value: object):
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def _same(
    ex: Exercise, answer: object, expected: object, context: Mapping[str, Any]
) -> tuple[bool, str]:
    """(equal?, a note on how they differ) for an answer against one reference value."""
    import numpy as np

    if ex.kind in ("number", "integer"):
        if isinstance(answer, bool) or not isinstance(answer, (int, float, np.number)):
            try:
                answer = float(answer)  # a 0-d tensor or array
            except (TypeError, ValueError):
                return False, f"Expected a number, got {type(answer).__name__}"
        if ex.kind == "integer":
            return float(answer) == float(expected), ""
        return math.isclose(float(answer), float(expected), rel_tol=ex.rtol, abs_tol=ex.atol), ""
    if ex.kind == "array":
        try:
            a, e = _to_numpy(answer), _to_numpy(expected)
        except (TypeError, ValueError):
            return False, f"Expected an array or tensor, got {type(answer).__name__}"
        if a.shape != e.shape:
            return False, f"Shape {a.shape}, expected {e.shape}"
        return bool(np.allclose(a, e, rtol=ex.rtol, atol=ex.atol)), ""
    if ex.kind == "choice":
        return _norm_choice(answer) == _norm_choice(expected), ""
    if ex.kind == "set":
        if isinstance(answer, (str, int)):
            answer = [answer]
        try:
            got = {_norm_choice(a) for a in answer}  # type: ignore[union-attr]
        except TypeError:
            return False, f"Expected a set such as {{'a', 'b'}}, got {type(answer).__name__}"
        return got == {_norm_choice(e) for e in expected}, ""  # type: ignore[union-attr]
    raise AssertionError(ex.kind)


def _same_function(
    ex: Exercise, fn: Callable, ref: Callable, context: Mapping[str, Any]
) -> tuple[bool, str]:
    """Call the learner's function and the reference on every probe; compare the outputs."""
    import numpy as np

    assert ex.probes is not None
    for args in ex.probes(**context):
        want = ref(*args)
        try:
            got = fn(*args)
        except Exception as exc:  # the learner's code: report, never raise
            return False, f"It raised {type(exc).__name__}: {exc}"
        try:
            g, w = _to_numpy(got), _to_numpy(want)
        except (TypeError, ValueError):
            return False, f"It returned {type(got).__name__}, expected a tensor"
        if g.shape != w.shape:
            return False, f"It returned shape {g.shape}, expected {w.shape}"
        if not np.allclose(g, w, rtol=ex.rtol, atol=ex.atol):
            worst = float(np.max(np.abs(g - w)))
            return False, f"Its output differs from the library's by up to {worst:.3g}"
    return True, ""


def _evaluate(ex: Exercise, answer: object, context: Mapping[str, Any]) -> tuple[bool, str]:
    """(right?, the explanation to print)."""
    expected = ex.expected(**context) if ex.kind != "function" else ex.expected
    if ex.kind == "function":
        if not callable(answer):
            return (
                False,
                f"This exercise wants a function; you gave {type(answer).__name__}. {ex.hint}",
            )
        ok, note = _same_function(ex, answer, expected, context)
        if ok:
            return True, ex.why
        for m in ex.mistakes:
            if _same_function(ex, answer, m.value, context)[0]:
                return False, m.why
        return False, f"{note}. {ex.hint}"
    ok, note = _same(ex, answer, expected, context)
    if ok:
        return True, ex.why
    for m in ex.mistakes:
        if _same(ex, answer, m.value(**context), context)[0]:
            return False, m.why
    return False, (f"{note}. " if note else "") + ex.hint


def check(name: str, answer: object = None, **context: Any) -> bool | None:
    """Check ``answer`` to exercise ``name``; print right/wrong and why. None: not answered yet."""
    if name not in EXERCISES:
        raise KeyError(f"no exercise {name!r}; known: {sorted(EXERCISES)}")
    ex = EXERCISES[name]
    missing = [k for k in ex.context if k not in context]
    if missing:
        raise TypeError(f"check({name!r}, ...) needs {', '.join(f'{k}=...' for k in missing)}")
    if _is_placeholder(answer):
        print(
            f"[{name}] not answered yet: replace the None with your answer and run the cell again."
        )
        return None
    ok, why = _evaluate(ex, answer, context)
    shown = "your function" if callable(answer) else repr(answer)
    if ok:
        print(f"[{name}] right ({shown}). {why}")
    else:
        print(f"[{name}] not yet: {shown} is wrong. {why}")
    return ok


def right_answer(name: str, **context: Any) -> Any:
    """The library's answer to exercise ``name`` (the tests use it; learners read the solution)."""
    return (
        EXERCISES[name].expected(**context)
        if EXERCISES[name].kind != "function"
        else EXERCISES[name].expected
    )


def exercises(notebook: str | None = None) -> list[Exercise]:
    """All exercises, or those of one notebook ('02')."""
    return [e for e in EXERCISES.values() if notebook is None or e.notebook == notebook]


# =========================================================================== library answers
def _alpha_bar(beta: float, T: int) -> float:
    from codigem_lab.diffusion import NoiseSchedule

    return float(NoiseSchedule.constant(beta, T).alpha_bar[-1])


def _snr(beta: float, T: int) -> float:
    from codigem_lab.diffusion import NoiseSchedule

    return float(NoiseSchedule.constant(beta, T).snr[-1])


def _first_T_below(beta: float, level: float) -> int:
    """Smallest T whose alpha_bar_T is below ``level`` (checked with the library's schedule)."""
    T = max(1, math.ceil(math.log(level) / math.log(1.0 - beta)) - 2)
    while _alpha_bar(beta, T) >= level:
        T += 1
    while T > 1 and _alpha_bar(beta, T - 1) < level:
        T -= 1
    return T


def _n_networks(T: int) -> int:
    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    m = CODIGEM(CODIGEMConfig(n_items=4, hidden=2, n_layers=2, T=T))
    return len(m.reverse_nets) + 1


def _recall(n_targets: int, hits: int, k: int, definition: str) -> float:
    import torch

    from codigem_lab.metrics import recall_from_hits

    row = torch.zeros(1, k, dtype=torch.float64)
    row[0, :hits] = 1.0
    return float(recall_from_hits(row, torch.tensor([n_targets]), k, definition)[0])


def _recommend_ref(scores, seen, k):
    """Top-k item indices of each row, seen items excluded (the Evaluator's masking)."""
    import torch

    s = torch.as_tensor(scores, dtype=torch.float64).clone()
    s[torch.as_tensor(seen, dtype=torch.bool)] = -torch.inf
    return torch.topk(s, k, dim=-1).indices


def _recommend_unmasked(scores, seen, k):
    import torch

    return torch.topk(torch.as_tensor(scores, dtype=torch.float64), k, dim=-1).indices


def _recommend_probes() -> list[tuple]:
    import torch

    g = torch.Generator().manual_seed(3)
    scores = torch.randn(4, 30, generator=g, dtype=torch.float64)
    seen = torch.rand(4, 30, generator=g) < 0.3
    return [(scores, seen, 5), (scores, seen, 1)]


def _step_ref(z, beta, eps):
    from codigem_lab.diffusion.schedule import q_step_sample

    return q_step_sample(z, beta, eps)


def _step_probes() -> list[tuple]:
    import torch

    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 7, generator=g, dtype=torch.float64)
    eps = torch.randn(3, 7, generator=g, dtype=torch.float64)
    return [(z, 1e-4, eps), (z, 0.3, eps), (z, 0.9, eps)]


def _log_normal_ref(v, mean, logvar):
    from codigem_lab.diffusion.model import log_normal

    return log_normal(v, mean, logvar)


def _log_normal_probes() -> list[tuple]:
    import torch

    g = torch.Generator().manual_seed(1)
    shape = (4, 9)
    v, mean = (
        torch.randn(shape, generator=g, dtype=torch.float64),
        torch.randn(shape, generator=g, dtype=torch.float64),
    )
    logvar = torch.randn(shape, generator=g, dtype=torch.float64)
    return [(v, mean, logvar), (v, mean, torch.zeros(shape, dtype=torch.float64))]


def _decoder_input_ref(x):
    """z_1 as decoder scoring feeds it to the decoder: the mean of q(z_1 | x), paper preset."""
    import torch

    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig
    from codigem_lab.diffusion.schedule import q_marginal_sample

    x = torch.as_tensor(x, dtype=torch.float64)
    m = CODIGEM(CODIGEMConfig.preset("paper", n_items=x.shape[-1], hidden=2, n_layers=2)).double()
    return q_marginal_sample(m.scale_input(x), float(m.schedule.alpha_bar[0]))


def _decoder_input_probes() -> list[tuple]:
    import torch

    g = torch.Generator().manual_seed(2)
    return [((torch.rand(3, 11, generator=g) < 0.3).double(),)]


def _decoder_params(D: int) -> int:
    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    return sum(
        p.numel() for p in CODIGEM(CODIGEMConfig.preset("paper", n_items=D)).decoder.parameters()
    )


def _kl_weight(step: int) -> float:
    from codigem_lab.diffusion import CODIGEMConfig

    # variant I's settings (experiments.studies.VARIANTS): 2,000 steps, cap 0.2
    return CODIGEMConfig(n_items=4, anneal_steps=2000, anneal_cap=0.2).kl_weight(step)


def _flops_ratio(T_big: int, T_small: int, D: int) -> float:
    from codigem_lab.diffusion import CODIGEMConfig, n_flops_per_example

    f = lambda T: n_flops_per_example(CODIGEMConfig(n_items=D, T=T))  # noqa: E731
    return f(T_big) / f(T_small)


def _table5(model: str, column: str) -> float:
    from codigem_lab.experiments.paper import TABLE5

    return float(TABLE5.loc[model, column])


def _prior_at_data(D: int) -> float:
    import torch

    from codigem_lab.diffusion.model import log_normal_std

    return float(log_normal_std(torch.ones(1, D, dtype=torch.float64))[0])


def _sparsity(users: int, items: int, interactions: int) -> float:
    """The library's definition (``data.table1_stats``, there in percent) as a fraction."""
    import pandas as pd

    from codigem_lab.data import table1_stats

    # a table with the stated numbers of users, items and interactions (no duplicate pairs)
    pairs = [(k % users, (k // users + k) % items) for k in range(interactions)]
    df = pd.DataFrame(pairs, columns=["user", "item"])
    assert not df.duplicated().any() and df["item"].nunique() == items
    return float(table1_stats(df)["sparsity"]) / 100.0


def _table1(dataset: str, column: str) -> int:
    from codigem_lab.experiments.paper import TABLE1

    return int(TABLE1.loc[dataset, column])


def _n_batches(n_users: int, batch_size: int) -> int:
    import numpy as np

    from codigem_lab.distributed import UserBatchSampler

    return UserBatchSampler(n_users, batch_size, np.random.default_rng(0)).n_batches


# ================================================================================= registry
def _ex(*items: Exercise) -> dict[str, Exercise]:
    return {e.name: e for e in items}


EXERCISES: dict[str, Exercise] = _ex(
    # ------------------------------------------------------------------------------ 00
    Exercise(
        "00.networks",
        "With T = 5 diffusion steps, how many neural networks does CODIGEM train?",
        "integer",
        lambda: _n_networks(5),
        "T - 1 transition networks p(z_i | z_{i+1}) and one decoder p(x | z_1): T networks in all.",
        "Count the factors of eq (2) that have parameters: p(x | z_1), each p(z_i | z_{i+1}), p(z_T).",
        (
            Mistake(
                lambda: 4,
                "4 = T - 1 counts only the transition networks; the decoder p(x | z_1) is a network too.",
            ),
            Mistake(
                lambda: 6, "T + 1 gives p(z_T) a network, but the prior N(0, I) has no parameters."
            ),
            Mistake(
                lambda: 10,
                "2T counts the forward process too, but q has no networks: it only adds noise.",
            ),
        ),
    ),
    Exercise(
        "00.recall",
        "A test user has 30 hidden items; 12 of them are in the model's top 20. What is that user's "
        "Recall@20 as this notebook computes it?",
        "number",
        lambda: _recall(30, 12, 20, "minK"),
        "Recall@K = hits / min(K, #targets) = 12 / min(20, 30) (the Multi-VAE convention the released code uses).",
        "Divide the hits by min(K, #targets).",
        (
            Mistake(
                lambda: _recall(30, 12, 20, "targets"),
                "12/30 divides by #targets (the toolkit definition, notebook 05); this notebook divides by min(K, #targets).",
            ),
            Mistake(
                lambda: 12, "Recall is a share of the hidden items found, not a count of hits."
            ),
        ),
    ),
    Exercise(
        "00.recommend",
        "Write recommend(scores, seen, k): for each row of a [users, items] score tensor, the indices "
        "of the k best-scored items the user has not seen (seen: a boolean tensor of the same shape), "
        "best first.",
        "function",
        _recommend_ref,
        "Masking the seen items with -inf and taking torch.topk is how the library's Evaluator ranks.",
        "Set the seen items' scores to -inf, then torch.topk(scores, k, dim=-1).indices.",
        (
            Mistake(
                _recommend_unmasked,
                "Those are the k best items including the ones the user has already seen: mask them first.",
            ),
        ),
        probes=lambda: _recommend_probes(),
    ),
    # ------------------------------------------------------------------------------ 01
    Exercise(
        "01.sparsity",
        "A dataset has 500 users, 200 items and 4,000 interactions. What is its sparsity, as a "
        "fraction between 0 and 1?",
        "number",
        lambda: _sparsity(500, 200, 4000),
        "sparsity = 1 - interactions / (users x items) = 1 - 4000/100000: the share of empty cells.",
        "Sparsity is the share of the user x item matrix that is empty.",
        (
            Mistake(
                lambda: 4000 / (500 * 200),
                "That is the density, the share of filled cells; sparsity is the empty share, 1 minus it.",
            ),
            Mistake(
                lambda: 100 * (1 - 4000 / (500 * 200)), "That is a percentage; give the fraction."
            ),
        ),
    ),
    Exercise(
        "01.padding",
        "The paper's Table 1 prints 136,677 users for ML-20M, counted by the same toolkit that adds "
        "the padding id to ML-1M's count. How many real users does that ML-20M data hold?",
        "integer",
        lambda: _table1("ml-20m", "users") - 1,
        "The toolkit reserves internal id 0 as a padding id and counts it as a user: one fewer real user.",
        "Think about what the padding id does to a count.",
        (
            Mistake(
                lambda: _table1("ml-20m", "users") + 1,
                "The padding id is added by the toolkit, so the real data has one user fewer, not one more.",
            ),
            Mistake(
                lambda: _table1("ml-20m", "users"),
                "That is the printed count, which includes the padding id.",
            ),
        ),
    ),
    Exercise(
        "01.ratio_test_users",
        "Under the ratio protocol, how many users are evaluated on the test set of the data loaded "
        "above?",
        "integer",
        lambda ratio: int(ratio.test.n_users),
        "Under ratio every user is a training user and is tested on their own held-out 10%.",
        "Under the ratio protocol, what is held out: users, or a share of each user's items?",
        (
            Mistake(
                lambda ratio: round(0.1 * ratio.n_train_users),
                "10% of each user's items are held out, not 10% of the users: every user is tested.",
            ),
            Mistake(
                lambda ratio: round(0.1 * ratio.test.n_users),
                "10% of each user's items are held out, not 10% of the users: every user is tested.",
            ),
        ),
        context=("ratio",),
    ),
    # ------------------------------------------------------------------------------ 02
    Exercise(
        "02.alpha_bar",
        "With a constant beta = 0.02 and T = 10 steps, what is alpha_bar_T?",
        "number",
        lambda: _alpha_bar(0.02, 10),
        "alpha_bar_T = prod_t (1 - beta_t) = (1 - beta)^T for a constant schedule.",
        "alpha_bar_t is a product over the steps of alpha_s = 1 - beta_s.",
        (
            Mistake(
                lambda: (1 - 0.02) * 10,
                "alpha_bar_T = (1 - beta)^T, a product of T factors; you gave (1 - beta) * T.",
            ),
            Mistake(
                lambda: 1 - 0.02 * 10,
                "1 - beta * T is only the first-order approximation of (1 - beta)^T, poor at this beta.",
            ),
            Mistake(
                lambda: 1 - 0.02,
                "That is alpha_bar_1 = 1 - beta, one step; alpha_bar_T multiplies T of them.",
            ),
            Mistake(
                lambda: math.sqrt(_alpha_bar(0.02, 10)),
                "That is sqrt(alpha_bar_T), the factor on x in the mean of q(z_T | x); alpha_bar_T is the share of x's variance kept.",
            ),
        ),
    ),
    Exercise(
        "02.half_signal",
        "Which constant beta makes alpha_bar_3 exactly 0.5 (half of the signal's variance left after "
        "three steps)?",
        "number",
        lambda: 1.0 - 0.5 ** (1.0 / 3.0),
        "Solve (1 - beta)^3 = 0.5: beta = 1 - 0.5^(1/3).",
        "Write alpha_bar_3 for a constant beta and solve for beta.",
        (
            Mistake(
                lambda: 0.5 / 3,
                "beta = 0.5 / 3 solves 1 - 3 beta = 0.5, the linear approximation; alpha_bar is a product: solve (1 - beta)^3 = 0.5.",
            ),
            Mistake(
                lambda: 0.5 ** (1.0 / 3.0),
                "That is 1 - beta, the alpha of each step; beta is one minus it.",
            ),
        ),
        rtol=1e-4,
    ),
    Exercise(
        "02.steps_to_noise",
        "At the paper's beta = 1e-4, what is the smallest T for which alpha_bar_T falls below 0.01?",
        "integer",
        lambda: _first_T_below(1e-4, 0.01),
        "(1 - 1e-4)^T < 0.01 needs T > ln(0.01) / ln(1 - 1e-4), rounded up: tens of thousands of steps.",
        "Take logarithms of (1 - beta)^T < 0.01 (and mind the sign of ln(1 - beta)).",
        (
            Mistake(
                lambda: _first_T_below(1e-4, 0.01) - 1,
                "Off by one: at that T alpha_bar_T is still above 0.01; round up.",
            ),
            Mistake(
                lambda: 9900,
                "T = 0.99 / beta solves 1 - beta T = 0.01, the linear approximation, which fails far from T = 0.",
            ),
            Mistake(
                lambda: 10000,
                "T = 1 / beta makes 1 - beta T zero in the linear approximation; (1 - beta)^T is then still about e^-1.",
            ),
        ),
    ),
    Exercise(
        "02.forward_step",
        "Write step(z, beta, eps) that returns z_t from z = z_{t-1} and the noise eps, by eq (5).",
        "function",
        _step_ref,
        "z_t = sqrt(1 - beta) z_{t-1} + sqrt(beta) eps: the mean shrinks so that the variance stays 1.",
        "Eq (5): the mean is scaled by sqrt(1 - beta), the noise by sqrt(beta).",
        (
            Mistake(
                lambda z, beta, eps: (1 - beta) * z + beta * eps,
                "The factors are square roots: sqrt(1 - beta) on z and sqrt(beta) on eps (beta is the variance of the noise).",
            ),
            Mistake(
                lambda z, beta, eps: z + math.sqrt(beta) * eps,
                "Without the sqrt(1 - beta) shrink the variance grows at every step; eq (5) scales z_{t-1} down.",
            ),
        ),
        probes=lambda: _step_probes(),
        rtol=1e-9,
    ),
    # ------------------------------------------------------------------------------ 03
    Exercise(
        "03.forward_term",
        "What is the expected forward term E[-ln q(z_i | z_{i-1})] in nats, for D = 1000 items and "
        "beta = 0.01?",
        "number",
        lambda: _expected_forward(1000, 0.01),
        "-ln N(z_i | m, beta I) averages to D/2 (ln(2 pi beta) + 1): the entropy of a Gaussian of variance beta in D dimensions.",
        "It is the (differential) entropy of the Gaussian q(z_i | z_{i-1}), of variance beta in D dimensions.",
        (
            Mistake(
                lambda: 0.5 * 1000 * math.log(2 * math.pi * 0.01),
                "The +1 is missing: E[(z - m)^2 / beta] = 1 per item adds D/2.",
            ),
            Mistake(
                lambda: -_expected_forward(1000, 0.01),
                "Sign: the term is -ln q, the entropy, D/2 (ln 2 pi beta + 1), negative here because beta is small.",
            ),
            Mistake(
                lambda: _expected_forward(1000, 0.01) / 1000,
                "That is per item; the terms are summed over the D items.",
            ),
        ),
        rtol=1e-6,
    ),
    Exercise(
        "03.prior_at_data",
        "z_T is (almost) a +-1 vector at the paper's setting. What is ln N(z | 0, I) for a vector z of "
        "D = 1000 entries, each +1 or -1?",
        "number",
        lambda: _prior_at_data(1000),
        "ln N(z | 0, I) = -D/2 ln(2 pi) - |z|^2 / 2 = -D/2 (ln 2 pi + 1) when every z_d^2 = 1.",
        "ln N(z | 0, I) = -D/2 ln(2 pi) - |z|^2 / 2.",
        (
            Mistake(
                lambda: -500 * math.log(2 * math.pi),
                "The quadratic part -|z|^2 / 2 = -D/2 is missing.",
            ),
            Mistake(
                lambda: _prior_at_data(1000) / 1000,
                "That is per item; the ELBO's terms sum over the D items.",
            ),
        ),
    ),
    Exercise(
        "03.log_normal",
        "Write log_normal(v, mean, logvar) = ln N(v | mean, diag exp(logvar)), summed over the last axis "
        "(the density every ELBO term uses).",
        "function",
        _log_normal_ref,
        "-0.5 sum_d (ln 2 pi + logvar_d + (v_d - mean_d)^2 exp(-logvar_d)): the log density of independent Gaussians.",
        "Per item: -0.5 (ln 2 pi + logvar + (v - mean)^2 / exp(logvar)); then sum over the last axis.",
        (
            Mistake(
                lambda v, m, lv: (
                    -0.5 * (math.log(2 * math.pi) + lv + (v - m) ** 2 * lv.neg().exp())
                ),
                "Right per item, but not summed: the terms are sums over the last axis (.sum(-1)).",
            ),
            Mistake(
                lambda v, m, lv: (
                    -0.5 * (math.log(2 * math.pi) + lv + (v - m) ** 2 / lv.exp().sqrt())
                ).sum(-1),
                "exp(logvar) is the variance; divide the squared error by it, not by the standard deviation.",
            ),
        ),
        probes=lambda: _log_normal_probes(),
        rtol=1e-9,
    ),
    Exercise(
        "03.recall_deviations",
        "Which of the released code's deviations 1-5 can change Recall, with decoder scoring? Give a "
        "set of numbers, e.g. {1, 2}.",
        "set",
        lambda: {4, 5},
        "Only the decoder and its input reach the ranking: the initialisation (4) and the input scaling (5) change them; 1-3 only touch the KL side.",
        "Ask of each deviation: does it change the decoder's parameters, or the data the decoder reads?",
        (
            Mistake(
                lambda: {2, 4, 5},
                "Deviation 2 changes what the transition networks learn, but they never reach the decoder's ranking.",
            ),
            Mistake(
                lambda: {1, 2, 3, 4, 5},
                "Deviations 1 and 3 change only what is reported, and 2 only the transition networks.",
            ),
        ),
    ),
    # ------------------------------------------------------------------------------ 04
    Exercise(
        "04.batches",
        "How many batches of 200 users make one training epoch on the split loaded above?",
        "integer",
        lambda split: _n_batches(split.n_train_users, 200),
        "ceil(training users / 200): the last batch holds the remainder.",
        "Training users divided by the batch size; what happens to the remainder?",
        (
            Mistake(
                lambda split: split.n_train_users // 200,
                "Rounded down: the last, smaller batch is still trained on.",
            ),
            Mistake(
                lambda split: math.ceil(
                    (split.n_train_users + split.valid.n_users + split.test.n_users) / 200
                ),
                "Only training users are batched; validation and test users are never trained on (strong protocol).",
            ),
        ),
        context=("split",),
    ),
    Exercise(
        "04.stop_epoch",
        "Early stopping with patience 10, at most 100 epochs: the best validation Recall@50 came at "
        "epoch 75 and never improved after. After which epoch does training stop?",
        "integer",
        lambda: min(75 + 10, 100),
        "Training continues 10 more epochs after the best one to be sure it is the best, then stops at 85 (and restores epoch 75's weights).",
        "How many epochs without improvement does patience 10 allow?",
        (
            Mistake(
                lambda: 75,
                "Training cannot know epoch 75 is the best until 10 epochs have passed without improvement.",
            ),
            Mistake(
                lambda: 100,
                "Early stopping ends training before the cap: 10 epochs after the best one.",
            ),
        ),
    ),
    Exercise(
        "04.decoder_params",
        "How many parameters (weights, biases and PReLU slopes) does the paper's decoder have for "
        "D = 100 items (M = 200, six Linear layers)?",
        "integer",
        lambda: _decoder_params(100),
        "Linear(D, M) + 4 Linear(M, M) + Linear(M, D), each with a bias, plus one slope per PReLU (5).",
        "Count each Linear layer's weight matrix and bias, and the five PReLUs' single slopes.",
        (
            Mistake(
                lambda: _decoder_params(100) - 5,
                "Each of the five PReLUs has one learnable slope: add 5.",
            ),
            Mistake(
                lambda: 100 * 200 + 4 * 200 * 200 + 200 * 100,
                "The biases (and the PReLU slopes) are parameters too.",
            ),
        ),
    ),
    Exercise(
        "04.decoder_input",
        "Write decoder_input(x) that returns the z_1 the decoder reads when the paper preset "
        "(beta = 1e-4) scores a batch x of 0/1 rows by decoder scoring.",
        "function",
        _decoder_input_ref,
        "z_1 = sqrt(alpha_bar_1) (2x - 1), the mean of q(z_1 | x) on the rescaled input, with alpha_bar_1 = 1 - beta.",
        "Two steps: the paper's input scaling, then the mean of q(z_1 | x) (no noise at test time).",
        (
            Mistake(
                lambda x: math.sqrt(1 - 1e-4) * x,
                "The paper rescales x from {0, 1} to {-1, +1} first (2x - 1); only the released code keeps {0, 1}.",
            ),
            Mistake(
                lambda x: 2 * x - 1,
                "Almost: z_1's mean is also shrunk by sqrt(alpha_bar_1) = sqrt(1 - beta).",
            ),
        ),
        probes=lambda: _decoder_input_probes(),
        rtol=1e-9,
    ),
    # ------------------------------------------------------------------------------ 05
    Exercise(
        "05.recall_targets",
        "A user has 150 targets and 30 of them are in the top 50. What is their Recall@50 under the "
        "`targets` definition?",
        "number",
        lambda: _recall(150, 30, 50, "targets"),
        "`targets` divides the hits by #targets: 30 / 150.",
        "Which denominator does `targets` use?",
        (
            Mistake(
                lambda: _recall(150, 30, 50, "minK"),
                "30/50 is the `minK` definition (divide by min(K, #targets)).",
            ),
        ),
    ),
    Exercise(
        "05.baseline_protocol",
        "Under which of our two protocols do the paper's baseline rows (Pop, Item-KNN) match our "
        "numbers? Answer 'strong' or 'ratio'.",
        "choice",
        lambda: "ratio",
        "Under ratio with `targets` Recall our Pop and Item-KNN come within 0.003 of the paper's rows on every metric (full mode, 3 seeds).",
        "Compare the paper's Pop row with ours in the table of section 3.",
        (
            Mistake(
                lambda: "strong",
                "Under strong our Pop has R@20 about 0.19 in full mode, against the paper's 0.129.",
            ),
        ),
        choices=("strong", "ratio"),
    ),
    Exercise(
        "05.pop_share",
        "Pop recommends the items with the most training users. What share of all training "
        "interactions go to the 10 most popular items of the split loaded above?",
        "number",
        lambda split: _pop_share(split, 10),
        "The top-10 items' interaction counts over all interactions: the head of the long tail (notebook 01).",
        "Count each item's training users (column sums of split.train), take the 10 largest, divide by the total.",
        (
            Mistake(
                lambda split: 10 / split.n_items,
                "That is the share of items, not of interactions; popular items hold far more.",
            ),
        ),
        context=("split",),
        rtol=1e-6,
    ),
    # ------------------------------------------------------------------------------ 06
    Exercise(
        "06.kl_weight",
        "Variant I anneals the KL weight linearly to 0.2 over 2,000 steps. What is the weight at "
        "step 300?",
        "number",
        lambda: _kl_weight(300),
        "weight = min(cap, step / steps) = min(0.2, 300 / 2000).",
        "The weight rises as step / steps until it reaches the cap.",
        (
            Mistake(
                lambda: 0.2 * 300 / 2000,
                "The weight is step / steps capped at 0.2, not 0.2 x step / steps.",
            ),
            Mistake(lambda: 0.2, "At step 300 the weight has not reached the cap yet."),
        ),
    ),
    Exercise(
        "06.rank_variants",
        "Which of Table 3's variants I-IV can change the ranking with decoder scoring? Give a set such "
        "as {'I', 'II'}.",
        "set",
        lambda: {"III", "IV"},
        "Only III (skips in the decoder) and IV (the decoder's likelihood) change the decoder or its gradient.",
        "The ranking comes from the decoder alone; which variants touch it?",
        (
            Mistake(
                lambda: {"II", "III", "IV"},
                "II changes the transition networks, which do not reach the decoder's gradient.",
            ),
            Mistake(
                lambda: {"I", "III", "IV"},
                "I scales only the KL part, and the decoder's parameters are not in it.",
            ),
        ),
    ),
    Exercise(
        "06.softmax_ratio",
        "Logits bounded by tanh to [-1, 1]: at most how many times likelier can the softmax make one "
        "item than another?",
        "number",
        lambda: math.exp(1.0 - (-1.0)),
        "softmax_i / softmax_j = exp(l_i - l_j) <= exp(1 - (-1)) = e^2, about 7.4.",
        "Write the ratio of two softmax probabilities in terms of their logits.",
        (
            Mistake(
                lambda: math.e,
                "The logits can differ by 2 (from -1 to +1), not 1: the ratio is e^2.",
            ),
            Mistake(lambda: 2.0, "The ratio is exp of the difference of the logits."),
        ),
    ),
    Exercise(
        "06.skip_params",
        "How many parameters do variant II's residual skip connections add to one transition network?",
        "integer",
        lambda: _skip_extra_params(),
        "h <- h + act(W h + b) reuses the block's own weights: a skip adds no parameters (why the random draws line up).",
        "Look at the residual block: does h + act(W h + b) need a new weight?",
        (Mistake(lambda: 200 * 200, "A residual skip is an addition, not a new Linear layer."),),
    ),
    # ------------------------------------------------------------------------------ 07
    Exercise(
        "07.decoder_signal",
        "At beta = 0.3 and T = 3, what share of x's variance is left in the latent the decoder reads "
        "under decoder scoring?",
        "number",
        lambda: _alpha_bar(0.3, 1),
        "The decoder reads z_1, which keeps alpha_bar_1 = 1 - beta of the signal's variance.",
        "Which latent does the decoder read, and what alpha_bar belongs to it?",
        (
            Mistake(
                lambda: _alpha_bar(0.3, 3), "That is alpha_bar_3, in z_3; the decoder reads z_1."
            ),
            Mistake(
                lambda: math.sqrt(_alpha_bar(0.3, 1)),
                "That is sqrt(alpha_bar_1), the scale of x in z_1's mean; its variance share is alpha_bar_1.",
            ),
        ),
    ),
    Exercise(
        "07.snr",
        "What is the signal-to-noise ratio of z_3 at beta = 0.3?",
        "number",
        lambda: _snr(0.3, 3),
        "SNR_3 = alpha_bar_3 / (1 - alpha_bar_3), with alpha_bar_3 = 0.7^3.",
        "SNR_t = alpha_bar_t / (1 - alpha_bar_t).",
        (
            Mistake(
                lambda: _alpha_bar(0.3, 3),
                "That is alpha_bar_3 itself; the SNR divides it by the noise variance 1 - alpha_bar_3.",
            ),
            Mistake(lambda: _snr(0.3, 1), "That is the SNR of z_1."),
        ),
        rtol=1e-6,
    ),
    Exercise(
        "07.T_signal",
        "At beta = 1e-4, how many steps T does it take for alpha_bar_T to fall below 0.99?",
        "integer",
        lambda: _first_T_below(1e-4, 0.99),
        "ln(0.99) / ln(1 - 1e-4), rounded up: about a hundred steps, far beyond the sweep's T = 15.",
        "Solve (1 - beta)^T < 0.99 with logarithms.",
        (Mistake(lambda: _first_T_below(1e-4, 0.99) - 1, "Off by one: round up."),),
    ),
    # ------------------------------------------------------------------------------ 08
    Exercise(
        "08.flops_ratio",
        "By the library's FLOP count (n_flops_per_example), how many times more matmul work per user "
        "is a training step at T = 15 than at T = 3, for D = 3,123 items and M = 200?",
        "number",
        lambda: _flops_ratio(15, 3, 3123),
        "T - 1 transition networks (each with a 2D output layer) plus the decoder (D outputs): 14 of the first and 1 decoder against 2 and 1.",
        "Count the networks at each T and note that a transition network's output layer is twice the decoder's.",
        (
            Mistake(
                lambda: 15 / 3,
                "15/3 counts networks as equal, but each transition network outputs 2D numbers (mean and log-variance), the decoder D.",
            ),
            Mistake(lambda: 14 / 2, "14/2 leaves out the decoder, which runs at every T."),
        ),
        rtol=1e-3,
    ),
    Exercise(
        "08.paper_total",
        "The paper's Table 5: CODIGEM trains 48.22 s and evaluates 46.67 s per epoch, for 18 epochs. "
        "What total time does the table report, in seconds?",
        "number",
        lambda: _table5("codigem", "total_s"),
        "total = epochs x (training + evaluation) seconds per epoch = 18 x 94.89.",
        "Each epoch trains and then evaluates.",
        (Mistake(lambda: 18 * 48.22, "The total includes the evaluation pass after every epoch."),),
        rtol=1e-4,
    ),
    Exercise(
        "08.paper_speedup",
        "By the paper's Table 5 totals, how many times longer than CODIGEM does Multi-VAE take?",
        "number",
        lambda: _table5("multvae", "total_s") / _table5("codigem", "total_s"),
        "15,243 s / 1,708 s: the 'about 9 times' of the paper, made by its epoch counts (150 against 18).",
        "Divide Multi-VAE's total time by CODIGEM's.",
        (
            Mistake(
                lambda: _table5("codigem", "total_s") / _table5("multvae", "total_s"),
                "Upside down: that is CODIGEM's time as a share of Multi-VAE's.",
            ),
        ),
        rtol=1e-3,
    ),
)


def _expected_forward(D: int, beta: float) -> float:
    from codigem_lab.experiments.deviations import expected_forward_term

    return expected_forward_term(D, beta)


def _pop_share(split, n: int) -> float:
    import numpy as np

    counts = np.asarray(split.train.sum(axis=0)).ravel()
    return float(np.sort(counts)[::-1][:n].sum() / counts.sum())


def _skip_extra_params() -> int:
    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    def n(**kw) -> int:
        return sum(
            p.numel()
            for p in CODIGEM(CODIGEMConfig(n_items=50, T=2, **kw)).reverse_nets[0].parameters()
        )

    return n(skip_forward=True) - n()
