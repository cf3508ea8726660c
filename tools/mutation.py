"""Mutation testing for the maths of codigem_lab: the diffusion model, its checks and the metrics.

A small AST mutator (no third-party tool: mutmut and cosmic-ray copy or rewrite the tree in
place, which four engineers sharing one working tree cannot afford). It

1. copies ``codigem_lab/``, ``tests/`` and ``pyproject.toml`` to a private snapshot (the working
   tree is never written to);
2. runs each module's targeted tests once, under coverage, to check they pass and to learn which
   lines they execute;
3. for every mutation site of the module (operator swaps, comparison boundaries, and/or, number
   and bool constants, negated conditions, dropped calls like ``math.sqrt(e) -> e``, deleted
   call statements) writes ONE mutant into the snapshot and runs the targeted tests with ``-x``
   in a process forked from a parent that has already imported torch (a mutant costs ~1-3 s,
   not the ~6 s a fresh interpreter spends importing torch);
4. prints a table and the mutation score, killed / (mutants - equivalent); mutants on lines no
   selected test executes count as survivors without being run.

``--planted`` also applies named mutations (the sampler's sqrt, three reverse-scoring
mutations, the unscaled reconstruction target, the released init's bias, the fold-in mask) one
at a time and lists every test that kills each.

Usage (from the repository root, venv active)::

    python tools/mutation.py                       # all target modules
    python tools/mutation.py --modules codigem_lab/metrics.py
    python tools/mutation.py --planted
    python tools/mutation.py --report docs/mutation-report.md   # also write the report
    python tools/mutation.py --list codigem_lab/diffusion/model.py   # the mutants, not run
    python tools/mutation.py --show 'model.py::CODIGEM.score::...'   # one mutant's diff

Equivalent mutants (no test can kill them: the program's observable behaviour is unchanged)
are listed in ``EQUIVALENT`` below with the reason; they are excluded from the score.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Targeted tests per module, fastest first (each run stops at the first failure).
TESTS: dict[str, list[str]] = {
    "codigem_lab/diffusion/types.py": [
        "tests/test_diffusion_validation.py",
        "tests/test_schedule.py",
        "tests/test_model.py",
    ],
    "codigem_lab/diffusion/schedule.py": [
        "tests/test_diffusion_validation.py",
        "tests/test_schedule.py",
        "tests/test_model.py",
        "tests/test_diffusion_reverse.py",
        "tests/test_elbo_checks.py",
    ],
    "codigem_lab/diffusion/model.py": [
        "tests/test_diffusion_validation.py",
        "tests/test_speed_kernels.py",
        "tests/test_model.py",
        "tests/test_diffusion_reverse.py",
        "tests/test_elbo_checks.py",
    ],
    "codigem_lab/diffusion/checks.py": ["tests/test_elbo_checks.py"],
    "codigem_lab/metrics.py": ["tests/test_metrics.py"],
}
DESELECT = ["tests/test_metrics.py::test_against_ranx"]  # numba JIT: 40 s, checked elsewhere
# checks.py (the derivation checks themselves, ~840 mutants, ~1 h) runs on request only
DEFAULT_MODULES = [m for m in TESTS if not m.endswith("checks.py")]

# key -> why no test can tell the mutant from the original (excluded from the score)
EQUIVALENT: dict[str, str] = {
    "schedule.py::NoiseSchedule.__post_init__::const 1->2::1": (
        "reshape(-1) -> reshape(-2): numpy treats any negative size as 'infer this dimension'"
    ),
    "schedule.py::NoiseSchedule.cosine::binop Div->Mult::f / f[0]": (
        "alpha_bar = f * f[0] instead of f / f[0] rescales every alpha_bar_t by f[0]^2; the "
        "schedule keeps only beta_t = 1 - alpha_bar_t / alpha_bar_(t-1), a ratio"
    ),
    "schedule.py::NoiseSchedule.cosine::const 0->1::0#1": (
        "f / f[1] instead of f / f[0]: again only a common scale of alpha_bar, lost in the ratios"
    ),
    "schedule.py::NoiseSchedule.cosine::const 1e-12->2e-12::1e-12": (
        "the lower clip only guards beta > 0; cosine betas are > 1e-9 for any T < 10^5"
    ),
    "schedule.py::NoiseSchedule.T::call int(e)->e::int(self.beta.shape[0])": (
        "ndarray.shape holds Python ints already"
    ),
    "schedule.py::NoiseSchedule.q_marginal::call float(e)->e::float(self.alpha_bar[t - 1])": (
        "numpy.float64 subclasses float: math.sqrt and tensor arithmetic treat it as a Python "
        "float (no dtype promotion); float() only spells the type out"
    ),
    "schedule.py::NoiseSchedule.sample_marginal::call float(e)->e::float(self.alpha_bar[t - 1])": (
        "as above: numpy.float64 is a float"
    ),
    "schedule.py::NoiseSchedule.sample_chain::call float(e)->e::float(beta_t)": (
        "as above: numpy.float64 is a float"
    ),
    "schedule.py::NoiseSchedule._check_t::call int(e)->e::int(t)": (
        "t has passed isinstance(t, (int, np.integer)); a numpy integer indexes and compares "
        "like an int"
    ),
    "schedule.py::check_beta::call float(e)->e::float(value)": (
        "the comparison 0 < value < 1 gives the same answer for any real number type"
    ),
    "schedule.py::_check_T::call int(e)->e::int(T)": (
        "T has passed isinstance(T, (int, np.integer)); np.full/linspace accept either"
    ),
    "schedule.py::_make_generator::call int(e)->e::int(generator)": (
        "torch.Generator.manual_seed accepts a numpy integer as it accepts an int"
    ),
    "schedule.py::_randn_like::const False->True::False": (
        "astype(copy=True) instead of copy=False: a copy of the same values (memory only)"
    ),
    "model.py::MLP.forward::const True->False::True": (
        "zip(strict=False): blocks and acts[1:] both hold n_layers - 2 modules by construction"
    ),
    "model.py::CODIGEM.log_likelihood::negate if c -> if not c::isinstance(lv, (int, float))": (
        "the two branches compute the same Gaussian density, one with a scalar variance "
        "(log_normal_iso, the fast path), one with a [B, D] log-variance (log_normal); they "
        "agree to rounding (tests/test_speed_kernels.py checks both)"
    ),
    "model.py::CODIGEM.log_likelihood::unary drop USub::-1": (
        "every tensor here is [B, D] (forward checks x.ndim == 2; score's rows come from the same [B, D] fold-in matrix), so axis 1 is axis -1"
    ),
    "model.py::CODIGEM.log_likelihood::unary drop USub::-1#1": (
        "every tensor here is [B, D] (forward checks x.ndim == 2; score's rows come from the same [B, D] fold-in matrix), so axis 1 is axis -1"
    ),
    "model.py::CODIGEM._reverse_pairs::unary drop USub::-1": (
        "every tensor here is [B, D] (forward checks x.ndim == 2; score's rows come from the same [B, D] fold-in matrix), so axis 1 is axis -1"
    ),
    "model.py::CODIGEM.score::unary drop USub::-1#1": (
        "every tensor here is [B, D] (forward checks x.ndim == 2; score's rows come from the same [B, D] fold-in matrix), so axis 1 is axis -1"
    ),
    "model.py::log_normal_iso::unary drop USub::-1": (
        "x.shape[1] for x.shape[-1]: the densities are only called on [B, D] tensors"
    ),
    "model.py::log_normal_std::unary drop USub::-1": ("as above: [B, D] tensors only"),
    "model.py::log_normal::unary drop USub::-1": ("sum(1) for sum(-1): [B, D] tensors only"),
    "metrics.py::Evaluator.__init__::call int(e)->e::int(k)": (
        "k < 1 and int(k) < 1 agree for every integer or integral float K (the stored ks are "
        "converted by the second int(), which a test checks)"
    ),
    "metrics.py::Evaluator.evaluate::const 0->1::0#2": (
        "np.empty(1) for np.empty(0) when no user is evaluated: pandas broadcasts a length-1 "
        "column onto the empty user index, giving the same empty frame"
    ),
    "model.py::CODIGEM.score::binop Add->Sub::mu + torch.exp(0.5 * logvar) * eps": (
        "eps ~ N(0, I) is symmetric: mu - s eps has the law of mu + s eps, and score(noise=True) "
        "promises a draw, not a particular one"
    ),
    "model.py::CODIGEM.__init__::call float(e)->e::float(b)": (
        "numpy.float64 is a float: the precomputed list works the same in math.* and in tensor "
        "arithmetic (float32 tensors stay float32)"
    ),
    "model.py::CODIGEM.__init__::call float(e)->e::float(a)": ("as above"),
    "metrics.py::recall_from_hits::call where(c, a, b)->arg1::torch.where(n > 0, out, "
    "torch.full_like(out, float('nan')))": (
        "a user without targets has hits = 0 and denominator 0 (min(0, k) or 0), so out is "
        "already 0/0 = NaN: the where() only makes the NaN explicit"
    ),
    "metrics.py::recall_from_hits::compare Gt->GtE::n > 0": (
        "n >= 0 always holds; the n = 0 rows are 0/0 = NaN either way (see the where() above)"
    ),
    "metrics.py::ndcg_from_hits::call torch.clamp(e)->e::torch.clamp(n - 1, min=0)": (
        "only rows with n = 0 differ (index -1 reads the last ideal DCG instead of the first), "
        "and those rows are set to NaN by the final where()"
    ),
    "metrics.py::Evaluator.__init__::const 1000->1001::1000": (
        "the default batch size only changes how many users are scored per call, not a metric"
    ),
    "metrics.py::ndcg_from_hits::const 1.0->2.0::1.0": (
        "doubling every discount doubles DCG and ideal DCG alike: NDCG is a ratio"
    ),
    "metrics.py::ndcg_from_hits::const 2->3::2#1": (
        "arange(2, k + 3) adds one discount past position k; only the first min(k, D) "
        "discounts (DCG) and the first min(k, #targets) (ideal DCG) are ever read"
    ),
}

# ------------------------------------------------------------------------------ mutation sites
BINOP_SWAP: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Pow: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
}
CMP_SWAP: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
# f(e, ...) -> e: a dropped square root, log, exp, link function, clamp or conversion
DROP_CALLS = {
    "math.sqrt",
    "math.log",
    "math.exp",
    "torch.exp",
    "torch.log",
    "torch.sqrt",
    "torch.tanh",
    "torch.clamp",
    "torch.log_softmax",
    "abs",
    "float",
    "int",
}
SKIP_FIELDS = {"annotation", "returns", "decorator_list", "type_comment", "type_params"}


@dataclass
class Site:
    """One mutation: where (qualname, line), what (kind, detail) and how (apply on a fresh tree)."""

    module: str
    qualname: str
    lineno: int
    end_lineno: int
    kind: str
    detail: str
    snippet: str
    apply: Callable[[], None] = field(repr=False)
    key: str = ""


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _short(node: ast.AST, n: int = 60) -> str:
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= n else text[: n - 3] + "..."


class _Finder:
    """Walks a module's AST in a fixed order and records every mutation site."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.sites: list[Site] = []
        self.qual: list[str] = []

    def add(self, node: ast.AST, kind: str, detail: str, apply: Callable[[], None]) -> None:
        self.sites.append(
            Site(
                self.module,
                ".".join(self.qual) or "<module>",
                getattr(node, "lineno", 0),
                getattr(node, "end_lineno", getattr(node, "lineno", 0)),
                kind,
                detail,
                _short(node),
                apply,
            )
        )

    def walk(self, node: ast.AST, parent: ast.AST | None, fld: str, idx: int | None) -> None:
        if isinstance(node, (ast.JoinedStr, ast.Import, ast.ImportFrom, ast.Raise)):
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # docstring
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return
        if isinstance(node, ast.Assert):
            return
        pushed = False
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.qual.append(node.name)
            pushed = True
        self.sites_for(node, parent, fld, idx)
        for f, i, child in _children(node):
            if f in SKIP_FIELDS:
                continue
            self.walk(child, node, f, i)
        if pushed:
            self.qual.pop()

    def sites_for(self, node: ast.AST, parent: ast.AST | None, fld: str, idx: int | None) -> None:
        def replace_with(new: ast.AST) -> Callable[[], None]:
            return lambda: _replace(parent, fld, idx, new)

        if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in BINOP_SWAP:
            new = BINOP_SWAP[type(node.op)]
            self.add(
                node,
                "binop" if isinstance(node, ast.BinOp) else "augassign",
                f"{type(node.op).__name__}->{new.__name__}",
                lambda: setattr(node, "op", new()),
            )
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            self.add(node, "unary", f"drop {type(node.op).__name__}", replace_with(node.operand))
        elif isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in CMP_SWAP:
                    new = CMP_SWAP[type(op)]

                    def swap(k: int = k, new: type = new) -> None:
                        node.ops[k] = new()

                    self.add(node, "compare", f"{type(op).__name__}->{new.__name__}", swap)
        elif isinstance(node, ast.BoolOp):
            new = ast.Or if isinstance(node.op, ast.And) else ast.And
            self.add(
                node,
                "boolop",
                f"{type(node.op).__name__}->{new.__name__}",
                lambda: setattr(node, "op", new()),
            )
        elif isinstance(node, ast.Constant) and parent is not None:
            v = node.value
            if isinstance(v, bool):
                self.add(node, "const", f"{v}->{not v}", replace_with(ast.Constant(not v)))
            elif isinstance(v, int):
                self.add(node, "const", f"{v}->{v + 1}", replace_with(ast.Constant(v + 1)))
            elif isinstance(v, float):
                nv = 1.0 if v == 0.0 else 2.0 * v
                self.add(node, "const", f"{v!r}->{nv!r}", replace_with(ast.Constant(nv)))
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in DROP_CALLS and node.args and not isinstance(node.args[0], ast.Starred):
                self.add(node, "call", f"{name}(e)->e", replace_with(node.args[0]))
            elif name in ("min", "max") and len(node.args) == 2 and not node.keywords:
                for j in (0, 1):
                    self.add(node, "call", f"{name}(a, b)->arg{j}", replace_with(node.args[j]))
            elif name == "torch.where" and len(node.args) == 3:
                for j in (1, 2):
                    self.add(node, "call", f"where(c, a, b)->arg{j}", replace_with(node.args[j]))
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            test = node.test
            self.add(
                test,
                "negate",
                "if c -> if not c",
                lambda: setattr(node, "test", ast.UnaryOp(ast.Not(), test)),
            )
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self.add(node, "delete", "statement -> pass", replace_with(ast.Pass()))


def _children(node: ast.AST) -> Iterator[tuple[str, int | None, ast.AST]]:
    for f, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield f, i, item
        elif isinstance(value, ast.AST):
            yield f, None, value


def _replace(parent: ast.AST | None, fld: str, idx: int | None, new: ast.AST) -> None:
    if idx is None:
        setattr(parent, fld, new)
    else:
        getattr(parent, fld)[idx] = new


def find_sites(module: str, source: str) -> tuple[ast.Module, list[Site]]:
    """Parse ``source`` and list its mutation sites, each with a stable key."""
    tree = ast.parse(source)
    finder = _Finder(module)
    finder.walk(tree, None, "", None)
    seen: dict[str, int] = {}
    short = Path(module).name
    for s in finder.sites:
        base = f"{short}::{s.qualname}::{s.kind} {s.detail}::{s.snippet}"
        n = seen.get(base, 0)
        seen[base] = n + 1
        s.key = base if n == 0 else f"{base}#{n}"
    return tree, finder.sites


def mutant_source(module: str, source: str, index: int) -> str:
    """The module's source with mutation ``index`` applied (on a fresh parse)."""
    tree, sites = find_sites(module, source)
    sites[index].apply()
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


# ---------------------------------------------------------------------------- planted mutants
@dataclass(frozen=True)
class Planted:
    name: str
    module: str
    pattern: str  # a regex; every match is replaced (there must be at least one)
    replacement: str
    check: str = ""  # the derivation check (codigem-lab check-elbo) that also fails, if any


PLANTED = [
    Planted(
        "sampler: sqrt(1-beta) -> (1-beta) in CODIGEM.sample_latents",
        "codigem_lab/diffusion/model.py",
        r"z = q_step_sample\(z, beta_i, eps\)",
        "z = (1.0 - beta_i) * z + math.sqrt(beta_i) * eps",
        "marginal (z test on z_1's mean: 21.8 SE), gaussian_kl, toy_elbo_gap",
    ),
    Planted(
        "sampler: sqrt(1-beta) -> (1-beta) in schedule.q_step_mean (eq 5's one implementation)",
        "codigem_lab/diffusion/schedule.py",
        r"return math\.sqrt\(1\.0 - beta_i\) \* z_prev",
        "return (1.0 - beta_i) * z_prev",
        "all but iwae_bounds (the sampler and the forward density share the line)",
    ),
    Planted(
        "reverse scoring: wrong net order",
        "codigem_lab/diffusion/model.py",
        r"self\.reverse_nets\[i - 1\]\(z\)\.chunk\(2, dim=-1\)",
        "self.reverse_nets[self.config.T - 1 - i](z).chunk(2, dim=-1)",
    ),
    Planted(
        "reverse scoring: log-variance used as the mean",
        "codigem_lab/diffusion/model.py",
        r"(\n\s+)z = mu(\n\s+if noise:)",
        r"\1z = logvar\2",
    ),
    Planted(
        "reverse scoring: chain starts at z_1 instead of z_T",
        "codigem_lab/diffusion/model.py",
        r"t_start = 1 if mode == \"decoder\" else self\.config\.T",
        "t_start = 1",
    ),
    Planted(
        "reconstruction target left unscaled (x instead of x0)",
        "codigem_lab/diffusion/model.py",
        r"(log_normal(?:_iso)?\()x0(, self\.output_link\(nn_out\))",
        r"\1x\2",
        "rearrangements (the model's ELBO differs from eq (9) with textbook densities)",
    ),
    Planted(
        "released init: first-layer bias not redrawn from N(0, 1e-4^2)",
        "codigem_lab/diffusion/model.py",
        r"\n\s+nn\.init\.normal_\(net\.first\.bias, mean=0\.0, std=RELEASED_FIRST_LAYER_STD\)",
        "",
        "none: preset_faithfulness flags the released init either way (nonzero biases)",
    ),
    Planted(
        "metrics: fold-in mask not applied",
        "codigem_lab/metrics.py",
        r"scores = scores\.masked_fill\(mask\.bool\(\), float\(\"-inf\"\)\)",
        "pass",
    ),
]


def planted_source(p: Planted, source: str) -> str | None:
    """The source with ``p`` applied, or None when its pattern no longer matches the code."""
    if not re.search(p.pattern, source):
        return None
    return re.sub(p.pattern, p.replacement, source)


# ------------------------------------------------------------------------------------ running
def _make_snapshot(root: Path) -> Path:
    snap = Path(tempfile.mkdtemp(prefix="codigem-mutation-"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(root / "codigem_lab", snap / "codigem_lab", ignore=ignore)
    shutil.copytree(root / "tests", snap / "tests", ignore=ignore)
    for name in ("pyproject.toml", "setup.cfg"):
        if (root / name).exists():
            shutil.copy2(root / name, snap / name)
    return snap


def _pytest_args(tests: list[str], stop_first: bool) -> list[str]:
    args = [*tests, "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-p", "no:randomly"]
    args += ["-W", "ignore"]
    for d in DESELECT:
        if d.split("::")[0] in tests:
            args += ["--deselect", d]
    if stop_first:
        args.append("-x")
    return args


class _Recorder:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report) -> None:  # noqa: ANN001 (pytest hook)
        if report.failed:
            self.failed.append(report.nodeid)


def _child(
    snap: Path, tests: list[str], stop_first: bool, out: Path, cover: str | None, target: str
) -> None:
    """Runs in a forked process: pytest on the snapshot, results to ``out``; never returns.

    Bytecode of the unchanged files (the package, pytest's rewritten tests) is cached in the
    snapshot between runs; the mutated module's is deleted first, so it is always compiled from
    the mutant's source (a pyc is keyed by mtime in whole seconds and size, which two mutants
    written in the same second can share).
    """
    rc = 3
    try:
        import importlib.util

        Path(importlib.util.cache_from_source(str(snap / target))).unlink(missing_ok=True)
        os.chdir(snap)
        sys.path.insert(0, str(snap))
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        import pytest

        rec = _Recorder()
        cov = None
        if cover:
            try:  # optional (pip install -e .[mutation]); without it every mutant is run
                import coverage
            except ImportError:
                coverage = None
            if coverage is not None:
                cov = coverage.Coverage(data_file=None, include=[str(snap / cover)])
                cov.start()
        rc = int(pytest.main(_pytest_args(tests, stop_first), plugins=[rec]))
        lines: list[int] = []
        if cov is not None:
            cov.stop()
            lines = sorted(cov.get_data().lines(str(snap / cover)) or [])
        import codigem_lab

        where = str(Path(codigem_lab.__file__).resolve())
        out.write_text(json.dumps({"rc": rc, "failed": rec.failed, "lines": lines, "pkg": where}))
    finally:
        os._exit(rc)


@dataclass
class Outcome:
    status: str  # killed / survived / timeout / error / no-coverage / equivalent
    seconds: float
    killer: str = ""


def _run(snap: Path, tests: list[str], timeout: float, target: str, stop_first: bool = True,
         cover: str | None = None) -> tuple[dict, float]:  # fmt: skip
    out = Path(tempfile.mktemp(prefix="mut-result-", suffix=".json"))
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        _child(snap, tests, stop_first, out, cover, target)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() - start > timeout:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return {"rc": "timeout", "failed": []}, time.perf_counter() - start
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    if out.exists():
        res = json.loads(out.read_text())
        out.unlink()
    else:
        res = {"rc": os.waitstatus_to_exitcode(status), "failed": []}
    return res, seconds


def _warm_imports(snap: Path) -> None:
    """Import the package once (from the snapshot) so its third-party imports are cached in the
    parent, then forget the package itself: every child imports its own (mutated) copy."""
    sys.path.insert(0, str(snap))
    try:
        import codigem_lab  # noqa: F401
        import codigem_lab.baselines  # noqa: F401
        import codigem_lab.diffusion.checks  # noqa: F401
    finally:
        sys.path.remove(str(snap))
        for name in [m for m in sys.modules if m == "codigem_lab" or m.startswith("codigem_lab.")]:
            del sys.modules[name]


def run_module(
    module: str, snap: Path, verbose: bool, previous: dict[str, dict] | None = None
) -> tuple[list[Site], list[Outcome], dict]:
    """Baseline (with coverage), then every mutant of ``module``; restores the snapshot after.

    ``previous`` (key -> result of an earlier ``--json``) makes the run incremental: a mutant
    killed before (same key: same function, operator and source text) is not run again. Tests
    are only ever added or sharpened, so a killed mutant stays killed; everything else reruns.
    """
    tests = TESTS[module]
    target = snap / module
    original = target.read_text()
    base, base_s = _run(snap, tests, timeout=900, target=module, stop_first=False, cover=module)
    if base["rc"] != 0:
        raise SystemExit(f"{module}: the selected tests fail before any mutation: {base}")
    if not base.get("pkg", "").startswith(str(snap.resolve())):
        raise SystemExit(f"tests imported codigem_lab from {base.get('pkg')}, not the snapshot")
    covered = set(base["lines"]) or set(range(1, len(original.splitlines()) + 1))
    _, sites = find_sites(module, original)
    timeout = max(20.0, 3.0 * base_s)
    outcomes: list[Outcome] = []
    try:
        for i, site in enumerate(sites):
            if site.key in EQUIVALENT:
                outcomes.append(Outcome("equivalent", 0.0))
                continue
            if not covered & set(range(site.lineno, site.end_lineno + 1)):
                outcomes.append(Outcome("no-coverage", 0.0))
                continue
            old = (previous or {}).get(site.key)
            if old and old["status"] in KILLED:
                outcomes.append(
                    Outcome(old["status"], 0.0, old.get("killer", "") + " (earlier run)")
                )
                continue
            target.write_text(mutant_source(module, original, i))
            res, sec = _run(snap, tests, timeout, target=module)
            if res["rc"] == "timeout":
                o = Outcome("timeout", sec)
            elif res["rc"] == 0:
                o = Outcome("survived", sec)
            elif res["failed"]:
                o = Outcome("killed", sec, res["failed"][0])
            else:
                o = Outcome("error", sec, f"pytest exit {res['rc']} (import/collection)")
            outcomes.append(o)
            if verbose:
                print(f"  [{i + 1}/{len(sites)}] {o.status:9s} {sec:5.1f}s  {site.key}", flush=True)
    finally:
        target.write_text(original)
    return sites, outcomes, {"baseline_s": base_s, "covered_lines": len(covered)}


def run_planted(snap: Path) -> list[tuple[Planted, list[str], float]]:
    rows = []
    for p in PLANTED:
        target = snap / p.module
        original = target.read_text()
        mutated = planted_source(p, original)
        if mutated is None:
            print(f"  pattern not found (the code changed; update PLANTED): {p.name}")
            rows.append((p, ["<pattern not found: update PLANTED in tools/mutation.py>"], 0.0))
            continue
        try:
            target.write_text(mutated)
            tests = TESTS[p.module]
            if p.module == "codigem_lab/metrics.py":
                tests = [*tests, "tests/test_train.py"]
            res, sec = _run(snap, tests, timeout=900, target=p.module, stop_first=False)
        finally:
            target.write_text(original)
        rows.append((p, res["failed"] if res["rc"] != 0 else [], sec))
        print(f"  {len(res['failed']):3d} failing tests  {sec:5.1f}s  {p.name}", flush=True)
    return rows


# ------------------------------------------------------------------------------------- report
KILLED = ("killed", "timeout", "error")


def summarize(results: dict[str, tuple[list[Site], list[Outcome], dict]]) -> dict:
    total = killed = equivalent = 0
    per = {}
    for module, (sites, outs, _) in results.items():
        k = sum(o.status in KILLED for o in outs)
        e = sum(o.status == "equivalent" for o in outs)
        per[module] = {"mutants": len(sites), "killed": k, "equivalent": e}
        total, killed, equivalent = total + len(sites), killed + k, equivalent + e
    score = killed / max(1, total - equivalent)
    return {"per_module": per, "mutants": total, "killed": killed, "equivalent": equivalent,
            "score": score}  # fmt: skip


def render(results, planted, summary, seconds, command, history=()) -> str:  # noqa: ANN001
    lines = [
        "# Mutation report",
        "",
        "Written by `tools/mutation.py` (do not edit by hand; rerun the command below). The tool",
        "is a small AST mutator of its own (no mutmut/cosmic-ray: they rewrite or copy the tree,",
        "and this repository's working tree is shared). It copies `codigem_lab/` and `tests/` to",
        "a private snapshot, runs each module's targeted tests once under coverage, then writes",
        "one mutant at a time into the snapshot and runs the targeted tests with `-x` in a",
        "process forked from a parent that has already imported torch. Mutation operators:",
        "arithmetic and comparison swaps, and/or, number and bool constants, negated conditions,",
        "dropped calls (`math.sqrt(e) -> e`, `torch.exp`, `tanh`, `clamp`, `min`/`max`,",
        "`torch.where`) and deleted call statements. Strings, f-strings, `raise` arguments,",
        "docstrings and annotations are not mutated. The derivation checks themselves",
        "(`diffusion/checks.py`, ~840 mutants) run on request: `--modules",
        "codigem_lab/diffusion/checks.py`.",
        "",
        f"- command: `{command}`",
        f"- wall time: {seconds / 60:.1f} min on 1 CPU thread (fork per mutant, `-x`), on a "
        "2-core machine shared with four other jobs",
        *[
            f"- incremental over an earlier run: `{h['command']}` ({h['wall_s'] / 60:.1f} min); "
            "mutants it killed are not rerun"
            for h in history
        ],
        f"- mutants: {summary['mutants']}, killed {summary['killed']}, equivalent "
        f"{summary['equivalent']}, **score {100 * summary['score']:.1f} %** "
        "(killed / (mutants - equivalent))",
        "",
        "| module | mutants | killed | equivalent | survived | score | tests run |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for module in results:
        s = summary["per_module"][module]
        surv = s["mutants"] - s["killed"] - s["equivalent"]
        sc = s["killed"] / max(1, s["mutants"] - s["equivalent"])
        tests = ", ".join(Path(t).name for t in TESTS[module])
        lines.append(
            f"| `{module}` | {s['mutants']} | {s['killed']} | {s['equivalent']} | {surv} "
            f"| {100 * sc:.1f} % | {tests} |"
        )
    if planted:
        lines += [
            "",
            "## Named mutations (`--planted`) and the tests that kill them",
            "",
            "| mutation | derivation check that fails | killed by (tests) |",
            "|---|---|---|",
        ]
        for p, failed, _ in planted:
            names = "<br>".join(f"`{f}`" for f in failed) if failed else "**SURVIVES**"
            lines.append(f"| {p.name} | {p.check or 'none (a test, not a check)'} | {names} |")
    lines += ["", "## Equivalent mutants", ""]
    eq_rows = [
        (site, EQUIVALENT[site.key])
        for sites, outs, _ in results.values()
        for site, o in zip(sites, outs, strict=True)
        if o.status == "equivalent"
    ]
    if eq_rows:
        lines += ["| line | mutant | why it is equivalent |", "|---:|---|---|"]
        for site, why in eq_rows:
            lines.append(f"| {site.lineno} | `{_md(site.key)}` | {why} |")
    else:
        lines.append("None.")
    surv = [
        (site, o)
        for sites, outs, _ in results.values()
        for site, o in zip(sites, outs, strict=True)
        if o.status in ("survived", "no-coverage")
    ]
    lines += ["", "## Survivors", ""]
    if surv:
        lines += ["| line | mutant | status |", "|---:|---|---|"]
        for site, o in surv:
            lines.append(f"| {site.lineno} | `{_md(site.key)}` | {o.status} |")
    else:
        lines.append("None: every non-equivalent mutant is killed.")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modules", nargs="+", default=DEFAULT_MODULES, choices=list(TESTS))
    ap.add_argument("--planted", action="store_true", help="also run the named mutations")
    ap.add_argument("--only-planted", action="store_true", help="run the named mutations only")
    ap.add_argument("--list", metavar="MODULE", help="list MODULE's mutants and exit")
    ap.add_argument("--show", metavar="KEY", help="print the diff of one mutant and exit")
    ap.add_argument("--report", type=Path, help="write the markdown report here")
    ap.add_argument("--json", type=Path, help="write per-mutant results as JSON here")
    ap.add_argument(
        "--incremental",
        type=Path,
        metavar="JSON",
        help="reuse the kills recorded in an earlier --json file; run only the rest",
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    if args.list or args.show:
        for module in [args.list] if args.list else list(TESTS):
            src = (REPO / module).read_text()
            _, sites = find_sites(module, src)
            for i, s in enumerate(sites):
                if args.list:
                    print(f"{s.lineno:5d}  {s.key}")
                elif s.key == args.show:
                    new = mutant_source(module, src, i)
                    old = ast.unparse(ast.parse(src)) + "\n"
                    sys.stdout.writelines(
                        difflib.unified_diff(old.splitlines(True), new.splitlines(True), n=2)
                    )
                    return 0
        return 0 if args.list else 1

    os.environ.setdefault("CODIGEM_LAB_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # nbval & co. cost 7 s per run
    # import the heavy dependencies once; every forked mutant run inherits them
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pytest  # noqa: F401
    import scipy.sparse  # noqa: F401
    import scipy.stats  # noqa: F401
    import torch

    torch.set_num_threads(1)
    previous: dict[str, dict[str, dict]] = {}
    if args.incremental:
        old = json.loads(args.incremental.read_text())
        previous = {
            m: {r["key"]: r for r in rows}
            for m, rows in old.items()
            if m not in ("planted", "_meta")
        }
    history: list[dict] = []
    if args.incremental:
        meta = json.loads(args.incremental.read_text()).get("_meta")
        if meta:
            history = [*meta.get("earlier_runs", []), {k: meta[k] for k in ("command", "wall_s")}]
    start = time.perf_counter()
    snap = _make_snapshot(REPO)
    _warm_imports(snap)
    try:
        planted = []
        results: dict = {}
        if not args.only_planted:
            for module in args.modules:
                print(f"{module}: {len(TESTS[module])} test files", flush=True)
                results[module] = run_module(module, snap, args.verbose, previous.get(module))
                s = summarize({module: results[module]})
                print(f"  {s['killed']}/{s['mutants'] - s['equivalent']} killed "
                      f"({100 * s['score']:.1f} %)", flush=True)  # fmt: skip
        if args.planted or args.only_planted:
            print("planted mutations:")
            planted = run_planted(snap)
    finally:
        shutil.rmtree(snap, ignore_errors=True)
    seconds = time.perf_counter() - start
    command = "python tools/mutation.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if results:
        summary = summarize(results)
        surv = [
            (site, o)
            for sites, outs, _ in results.values()
            for site, o in zip(sites, outs, strict=True)
            if o.status in ("survived", "no-coverage")
        ]
        print(f"\n{'status':11s} {'line':>5s}  mutant")
        for site, o in surv:
            print(f"{o.status:11s} {site.lineno:5d}  {site.key}")
        print(
            f"\nmutation score {100 * summary['score']:.1f} %: {summary['killed']} killed of "
            f"{summary['mutants'] - summary['equivalent']} ({summary['equivalent']} equivalent "
            f"excluded) in {seconds / 60:.1f} min"
        )
    else:
        summary = {"mutants": 0, "killed": 0, "equivalent": 0, "score": 1.0, "per_module": {}}
    if args.json:
        data = {
            m: [
                {
                    "key": s.key,
                    "line": s.lineno,
                    "status": o.status,
                    "killer": o.killer,
                    "seconds": round(o.seconds, 2),
                }  # fmt: skip
                for s, o in zip(sites, outs, strict=True)
            ]
            for m, (sites, outs, _) in results.items()
        }
        data["planted"] = [{"name": p.name, "killed_by": f} for p, f, _ in planted]
        data["_meta"] = {"command": command, "wall_s": round(seconds, 1), "earlier_runs": history}
        args.json.write_text(json.dumps(data, indent=1))
    if args.report:
        args.report.write_text(render(results, planted, summary, seconds, command, history))
    survivors = summary["mutants"] - summary["killed"] - summary["equivalent"]
    return 1 if survivors or any(not f for _, f, _ in planted) else 0


if __name__ == "__main__":
    sys.exit(main())
