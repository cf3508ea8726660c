"""The claims ledger: each claim of the paper and finding of ours (claim_specs.json) judged from
the results files by one rule, ``RULE``; ``codigem-lab claims`` writes results/claims.md, .json."""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import stats

from codigem_lab._io import atomic_open
from codigem_lab.errors import ConfigError
from codigem_lab.experiments import paper
from codigem_lab.experiments.aggregate import add_holm, holm, minimum_detectable_effect, p_text
from codigem_lab.experiments.studies import table3_family
from codigem_lab.experiments.tables import markdown_table
from codigem_lab.paths import results_root

HOLDS, FAILS, OPEN = "holds", "does not hold", "not decidable at this power"
ALPHA = 0.05
#: Timings carry no spread: a ratio within this share of 1 counts as no difference.
TIMING_TOLERANCE = 0.10
COMMAND = "codigem-lab claims"

#: The skip-connection variants: the paper calls their change "a slight decline".
SKIP = ("II (skip, transition nets)", "III (skip, decoder)")


@dataclass(frozen=True)
class Contrast:
    """One effect a claim rests on: interval, test, MDE, and what the claim says of it."""

    label: str
    effect: float
    low: float | None
    high: float | None
    p: float | None = None
    p_holm: float | None = None
    mde: float | None = None
    test: str = ""
    sign: int = 1  # the claim: +1 effect > 0, -1 effect < 0, 0 effect != 0
    size: float | None = None  # the effect the paper reports, in the claim's direction
    kind: str = "differs"  # or "no decline", or "identical" (bit for bit)

    @property
    def verdict(self) -> str:
        """Holds, does not hold, or is not decidable at this power, by :data:`RULE`."""
        zero = self.effect == 0 and self.low == 0 and self.high == 0
        if self.kind == "identical":
            return HOLDS if zero else FAILS
        x = self.effect * self.sign if self.sign else abs(self.effect)
        p = self.p_holm if self.p_holm is not None else self.p
        if p is not None:
            sig = p < ALPHA
        else:
            sig = None not in (self.low, self.high) and (self.low > 0 or self.high < 0)
        powered = None not in (self.mde, self.size) and self.mde <= self.size
        if self.kind == "no decline":
            if sig and x < 0:
                return FAILS
            return HOLDS if zero or (sig and x > 0) or powered else OPEN
        if zero:
            return FAILS
        if sig:
            return HOLDS if x > 0 else FAILS
        return FAILS if powered else OPEN

    def text(self) -> str:
        ci = "" if self.low is None else f" [{self.low:+.4f}, {self.high:+.4f}]"
        return f"{self.label}: {self.effect:+.4f}{ci}"


def combine(verdicts: list[str]) -> str:
    """Several contrasts: does not hold if one does not, holds if all hold."""
    if FAILS in verdicts:
        return FAILS
    return HOLDS if verdicts and all(v == HOLDS for v in verdicts) else OPEN


@dataclass(frozen=True)
class Claim:
    """One row of the ledger: a claim, where it is made, the files that test it, the verdict."""

    key: str
    quote: str
    place: str
    notebook: str
    files: tuple[str, ...]
    commands: tuple[str, ...]
    contrasts: tuple[Contrast, ...]
    stale: tuple[str, ...] = ()  # files made at an older code version (results/kept-stale.json)

    @property
    def verdict(self) -> str:
        return combine([c.verdict for c in self.contrasts])

    @property
    def mde(self) -> float | None:
        """The largest MDE among the undecided contrasts (None if none, or none computable)."""
        mdes = [c.mde for c in self.contrasts if c.verdict == OPEN and c.mde is not None]
        return max(mdes) if mdes else None

    def deciding(self) -> Contrast:
        """The contrast the verdict turns on: one that fails, the least powered undecided one,
        or the weakest that holds."""
        by = {v: [c for c in self.contrasts if c.verdict == v] for v in (FAILS, OPEN, HOLDS)}
        if by[FAILS]:
            return by[FAILS][0]
        if by[OPEN]:
            return max(by[OPEN], key=lambda c: -1 if c.mde is None else c.mde)
        return max(by[HOLDS], key=lambda c: -1 if c.p_holm is None else c.p_holm)

    def display(self) -> dict[str, str]:
        """The ledger's Markdown row."""
        c, verdicts = self.deciding(), [c.verdict for c in self.contrasts]
        counts = ", ".join(
            f"{verdicts.count(v)} {v}" for v in (HOLDS, FAILS, OPEN) if v in verdicts
        )
        verdict = self.verdict
        if verdict == OPEN:
            verdict += f" (MDE {self.mde:.4g})" if self.mde is not None else " (no spread stored)"
        return {
            "#": self.key,
            "claim": self.quote if self.place == "ours" else f"“{self.quote}”",
            "where": self.place,
            "notebook": self.notebook,
            "tested on": ", ".join(
                f.removeprefix("results/").removesuffix(".json")
                + (" (kept stale)" if f in self.stale else "")
                for f in self.files
            ),
            "effect [95% interval]": c.text(),
            "test": c.test,
            "p": p_text(c.p),
            "p (Holm)": p_text(c.p_holm),
            "contrasts": f"{len(verdicts)}: {counts}",
            "verdict": f"**{verdict}**",
        }

    def row(self) -> dict:
        """The ledger's JSON row (numbers to 6 significant digits, so it is the same anywhere)."""
        row = {**asdict(self), "verdict": self.verdict, "mde": self.mde}
        for c, out in zip(self.contrasts, row["contrasts"]):
            out["verdict"] = c.verdict
        return _rounded(row)


def _rounded(obj):
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_rounded(v) for v in obj]
    return float(f"{obj:.6g}") if isinstance(obj, float) else obj


# ============================================================================ contrasts
def _key(row: dict) -> str:
    return f"{row['model']}:{row['variant']}" if row.get("variant") else row["model"]


def _name(key: str) -> str:
    model, _, variant = key.partition(":")
    return paper.display_name(model, variant or None)


def _t(label: str, d: float, se: float, df: float, test: str, **kw) -> Contrast:
    """A t-test of effect ``d`` with standard error ``se`` on ``df`` degrees of freedom."""
    if se == 0:
        return Contrast(label, d, d, d, 0.0 if d else 1.0, None, 0.0, test, **kw)
    half = stats.t.ppf(1 - ALPHA / 2, df) * se
    p = float(2 * stats.t.sf(abs(d) / se, df))
    mde = minimum_detectable_effect(se, df)
    return Contrast(label, d, d - half, d + half, p, None, mde, test, **kw)


def _one_sample(label: str, values, centre: float, what: str, **kw) -> Contrast:
    """A one-sample t-test of the mean of ``values`` against ``centre``."""
    n, sd = len(values), float(np.std(values, ddof=1))
    return _t(label, float(np.mean(values)) - centre, sd / math.sqrt(n), n - 1,
              f"one-sample t-test over {n} {what}", **kw)  # fmt: skip


def _paired(label: str, row: dict, m: str, flip: bool = False, **kw) -> Contrast:
    """The paired comparison a results row holds (``effect_<m>``, model minus its reference; minus
    that with ``flip``), its MDE from the per-seed effects' SD (1 seed: from its users)."""
    s = -1 if flip else 1
    low, high = sorted(s * v for v in row["effect_ci"])
    per = row.get("effect_per_seed") or []
    if len(per) > 1:
        se, df, test = np.std(per, ddof=1) / math.sqrt(len(per)), len(per) - 1, f"paired t-test over {len(per)} seeds"  # fmt: skip
    else:
        df = row["users_per_seed"][0] - 1
        se = (high - low) / 2 / stats.t.ppf(1 - ALPHA / 2, df)
        test = f"paired t-test over the {df + 1} test users of 1 seed (user sampling only)"
    mde = minimum_detectable_effect(se, df)
    return Contrast(label, s * row[f"effect_{m}"], low, high, row.get("p"), row.get("p_holm"),
                    mde, test, **kw)  # fmt: skip


def _two_rows(label: str, a: dict, b: dict, m: str, yard: dict | None = None, **kw) -> Contrast:
    """``a`` minus ``b`` in ``m``: paired where ``b`` was compared with ``a`` in its file, else
    Welch's t-test from the rows' means and SDs over seeds, or, for single runs, against
    ``yard[m]`` = (seed-to-seed SD, seeds, where) of the same model measured elsewhere."""
    if b.get("effect_ci") and f"effect_{m}" in b and b.get("reference") == _name(_key(a)):
        return _paired(label, b, m, flip=True, **kw)
    d, sa, sb = a[f"{m}_mean"] - b[f"{m}_mean"], a.get(f"{m}_std"), b.get(f"{m}_std")
    if sa is None or sb is None:
        if not yard:
            return Contrast(label, d, None, None, test="one run each: no spread", **kw)
        sd, n, where = yard[m]
        test = f"two single runs against the seed-to-seed SD of {where} ({n} seeds)"
        return _t(label, d, sd * math.sqrt(2), n - 1, test, **kw)
    va, vb = sa**2 / a["seeds"], sb**2 / b["seeds"]
    df = (va + vb) ** 2 / (va**2 / (a["seeds"] - 1) + vb**2 / (b["seeds"] - 1)) if va + vb else 1
    test = f"Welch t-test from the rows' means and SDs over {a['seeds']} and {b['seeds']} seeds"
    return _t(label, d, math.sqrt(va + vb), df, test, **kw)


def _holm(contrasts: list[Contrast]) -> list[Contrast]:
    """Holm over a claim's own contrasts (where the ledger made the tests)."""
    adjusted = holm([c.p for c in contrasts])
    return [replace(c, p_holm=h) for c, h in zip(contrasts, adjusted)]


def outperform(doc: dict, winners: list[str], losers: list[str]) -> list[Contrast]:
    """Each winner minus each loser on every metric of a Table 2 file (the paper's own difference,
    where it prints one above 0, is the size the claim reports)."""
    rows, block = {_key(r): r for r in doc["rows"]}, paper.table2("ml-1m")
    metrics = [k[:-5] for k in doc["rows"][0] if k.endswith("_mean") and k[:2] in ("R@", "N@")]
    out = []
    for w in (w for w in winners if w in rows):
        for loser in (x for x in losers if x in rows):
            for m in metrics:
                a, b = w.split(":")[0], loser.split(":")[0]
                size = block.loc[a, m] - block.loc[b, m] if m in block else 0.0
                label = f"{_name(w)} − {_name(loser)}, {m}"
                c = _two_rows(label, rows[w], rows[loser], m, size=size if size > 0 else None)
                out.append(c)
    return _holm(out)


def variants(doc: dict, names: list[str], sign: int = 0, kind: str = "differs") -> list[Contrast]:
    """Each variant in ``names`` minus its preset's base model on R@50, Holm over Table 3's planned
    family. ``kind="audit"``: identical where the audit proved before training that the variant
    cannot change the ranking, different elsewhere; else only the variants that can change it,
    the paper's Table 3 difference (for "no decline": the smallest it calls a decline) the size."""
    t3 = paper.TABLE3["R@50"]
    smallest = min(t3["base"] - t3[v] for v in SKIP)
    words = shlex.split(doc["command"])  # the score mode the file's command ran with
    mode = words[words.index("--score-mode") + 1] if "--score-mode" in words else "decoder"
    family = table3_family(mode)
    rows = [dict(r) for r in doc["rows"]]
    keys = [f"{r['preset']} / {r['variant']}" for r in rows]
    add_holm(rows, family, keys)
    out = []
    for r, key in zip(rows, keys):
        noop, v = key in family.excluded, r["variant"]
        if v not in names or (noop and kind != "audit"):
            continue
        if kind == "audit":
            kw = {"sign": 0, "kind": "identical" if noop else "differs"}
        else:
            size = smallest if kind == "no decline" else sign * (t3[v] - t3["base"])
            kw = {"sign": sign, "kind": kind, "size": size}
        c = _paired(f"{key} − base, R@50", r, "R@50", **kw)
        holm_test = f"; Holm over Table 3's {len(family.tested)} planned comparisons"
        out.append(replace(c, test=c.test + holm_test))
    return out


def sweep(
    doc: dict,
    table2: dict,
    param: str,
    pairs: list = (),
    best: float | None = None,
    above: float | None = None,
    sign: int = 1,
    kind: str = "differs",
) -> list[Contrast]:
    """Sweep point a minus point b on R@50 and N@50, for each (a, b) of ``pairs``, ``best`` minus
    each other point, and each point above ``above`` minus it; single runs are judged against
    CODIGEM (paper)'s seed-to-seed SD in the Table 2 file given."""
    ref = next(r for r in table2["rows"] if _key(r) == "codigem:paper")
    where = f"CODIGEM (paper) in {Path(table2['_file']).stem}"
    yard = {m: (ref[f"{m}_std"], ref["seeds"], where) for m in ("R@50", "N@50")}
    rows = {float(r[param]): r for r in doc["rows"]}
    pairs = [(float(a), float(b)) for a, b in pairs]
    pairs += [(float(best), v) for v in sorted(rows) if best is not None and v != best]
    pairs += [(v, float(above)) for v in sorted(rows) if above is not None and v > above]
    return _holm([
        _two_rows(f"{m} at {param} = {a:g} − at {b:g}", rows[a], rows[b], m, yard, sign=sign, kind=kind)
        for a, b in pairs if a in rows and b in rows for m in ("R@50", "N@50")
    ])  # fmt: skip


def cost_slope(doc: dict) -> list[Contrast]:
    """Table 4: the least-squares slope of seconds per epoch (÷ that at T = 3) against T; the
    paper's Table 4 slope (its seconds per epoch the same way) is the size."""
    rows = {r["T"]: r["train_s_per_epoch"] for r in doc["rows"]}
    fit = stats.linregress(list(rows), [v / rows[3] for v in rows.values()])
    per = paper.TABLE4["total_s"] / paper.TABLE4["epochs"]
    size = stats.linregress(per.index, per / per[3]).slope
    df = len(rows) - 2
    test = f"least-squares slope over {len(rows)} values of T, t-test (df = {df})"
    return [_t("slope of seconds per epoch ÷ at T = 3, per step of T", fit.slope, fit.stderr, df,
               test, size=size)]  # fmt: skip


def efficiency(doc: dict, models: list[str]) -> list[Contrast]:
    """Table 5: each model's total time to convergence over CODIGEM's, minus 1; a ratio within
    :data:`TIMING_TOLERANCE` of 1 is no difference, and the paper's ratio is the size."""
    by, t5 = {r["model"]: r["total_s"] for r in doc["rows"]}, paper.TABLE5["total_s"]
    tol = TIMING_TOLERANCE
    test = f"timings, no spread stored: a ratio within {tol:.0%} of 1 counts as no difference"
    return [
        Contrast(f"{_name(m)} total time ÷ CODIGEM's, − 1", r - 1, r / (1 + tol) - 1,
                 r * (1 + tol) - 1, mde=tol, test=test, size=t5[m] / t5["codigem"] - 1)
        for m in models for r in [by[m] / by["codigem"]]
    ]  # fmt: skip


def epochs(doc: dict, models: list[str], low: float, high: float) -> list[Contrast]:
    """The epochs to the best validation score against the claimed range [low, high]: a t-test
    over the seeds' epochs where the file keeps them, else the mean alone (no interval)."""
    out = []
    for r in (r for r in doc["rows"] if _key(r) in models):
        per = (r.get("budget") or {}).get("best_epoch") or []
        mean = float(np.mean(per)) if per else r["epochs_to_converge"]
        for bound, sign in ((low, 1), (high, -1)):
            label = f"{_name(_key(r))} epochs to best − {bound:g}"
            if len(per) > 1:
                out.append(_one_sample(label, per, bound, "seeds", sign=sign))
            else:
                test = "the file keeps the mean over seeds only: no spread"
                out.append(Contrast(label, mean - bound, None, None, test=test, sign=sign))
    return _holm(out)


def vs_reference(doc: dict, models: list[str], metric: str) -> list[Contrast]:
    """The file's own paired comparisons of ``models`` against its reference model."""
    return [
        _paired(f"{_name(_key(r))} − {r['reference']}, {metric}", r, metric, sign=-1)
        for r in doc["rows"] if _key(r) in models
    ]  # fmt: skip


def protocol_fit(strong: dict, ratio: dict) -> list[Contrast]:
    """Per paper baseline, the mean over Table 2's metrics of |ours - paper's| / paper's under the
    strong protocol minus that under the ratio protocol; a one-sample t-test over the baselines."""

    def dev(doc: dict) -> dict[str, float]:
        ms = paper.table2("ml-1m").columns
        return {
            r["model"]: float(np.mean([abs(r[f"{m}_mean"] / r[f"paper_{m}"] - 1) for m in ms]))
            for r in doc["rows"] if r.get("paper_R@50") and r["model"] != "codigem"
        }  # fmt: skip

    s, r = dev(strong), dev(ratio)
    d = [s[m] - r[m] for m in s if m in r]
    return _holm(
        [_one_sample("relative distance to the paper's rows, strong − ratio", d, 0, "baselines")]
    )


# =============================================================================== the claims
@dataclass(frozen=True)
class Spec:
    """A claim and how to test it (an entry of claim_specs.json): the builder ``test`` turns the
    results files of one ``files`` entry, with ``args``, into contrasts (one ledger row each)."""

    key: str
    quote: str
    place: str
    notebook: str
    test: str
    files: tuple[tuple[str, ...], ...]
    args: dict = field(default_factory=dict)


TESTS = (outperform, variants, sweep, cost_slope, efficiency, epochs, vs_reference, protocol_fit)
BUILDERS = {f.__name__: f for f in TESTS}  # the builders a claim's ``test`` may name


def _read_specs() -> tuple[str, tuple[Spec, ...]]:
    """claim_specs.json (package data): the rule, and the claims (a ``files`` entry naming one
    file is a row of one file)."""
    text = resources.files(__package__).joinpath("claim_specs.json").read_text(encoding="utf-8")
    data, specs = json.loads(text), []
    for entry in data["claims"]:
        files = tuple((f,) if isinstance(f, str) else tuple(f) for f in entry["files"])
        specs.append(Spec(**{**entry, "files": files}))
    return data["rule"], tuple(specs)


#: How a contrast and a claim are judged (:attr:`Contrast.verdict`), as claims.md states it.
RULE, SPECS = _read_specs()


def _load(root: Path, stem: str) -> dict:
    path = root / f"{stem}.json"
    if not path.is_file():
        raise ConfigError(f"the claims ledger needs {path}; make it with `codigem-lab reproduce`")
    doc = json.loads(path.read_text(encoding="utf-8"))
    seeds = len(doc.get("seeds") or []) or 1
    for r in doc["rows"]:
        r.setdefault("seeds", seeds)
    return {**doc, "_file": f"results/{stem}.json"}


def ledger(root: Path | None = None) -> list[Claim]:
    """Every claim against the results files under ``root`` (default: results/)."""
    root = Path(root or results_root())
    kept = root / "kept-stale.json"
    stale = json.loads(kept.read_text(encoding="utf-8")) if kept.is_file() else {}
    out = []
    for s in SPECS:
        for files in s.files:
            docs = [_load(root, f) for f in files]
            contrasts = BUILDERS[s.test](*docs, **s.args)
            if contrasts:
                files_ = tuple(d["_file"] for d in docs)
                commands = tuple(d["command"] for d in docs)
                old = tuple(f for f in files_ if f.removeprefix("results/") in stale)
                out.append(Claim(s.key, s.quote, s.place, s.notebook, files_, commands, tuple(contrasts), old))  # fmt: skip
    return out


def table_markdown(claims: list[Claim], notebook: str | None = None, columns=None) -> str:
    """The ledger's table (of one notebook's claims, and some columns, if given) in Markdown."""
    rows = [c.display() for c in claims if notebook in (None, c.notebook)]
    cols = list(columns or rows[0])
    return markdown_table({"index_name": cols[0], "columns": cols[1:], "index": [r[cols[0]] for r in rows],
                           "cells": [[r[c] for c in cols[1:]] for r in rows]})  # fmt: skip


def render(claims: list[Claim]) -> dict[str, str]:
    """The two files' texts: ``claims.md`` and ``claims.json``."""
    files = {f: cmd for c in claims for f, cmd in zip(c.files, c.commands)}
    md = [
        "# Claims ledger", "",
        "Every claim of the paper, and our own findings, judged from the committed results files "
        "by one rule, by the command at the end; do not edit.", "",
        RULE, "",
        table_markdown(claims), "",
        "## Results files and the commands that made them", "",
        markdown_table({"index_name": "file", "columns": ["command"], "index": list(files),
                        "cells": [[f"`{cmd}`"] for cmd in files.values()]}), "",
        "Made by:", "", "```", COMMAND, "```", "",
    ]  # fmt: skip
    rows = ",\n".join(json.dumps(c.row(), ensure_ascii=False) for c in claims)  # one a line
    head = json.dumps({"name": "Claims ledger", "command": COMMAND})[:-1]
    return {"claims.md": "\n".join(md), "claims.json": f'{head}, "claims": [\n{rows}\n]}}\n'}


def write(out: Path | None = None, root: Path | None = None) -> list[Path]:
    """Write ``claims.md`` and ``claims.json`` into ``out`` (default: results/), each atomically,
    after the whole ledger is built."""
    texts, out = render(ledger(root)), Path(out or results_root())
    for name, text in texts.items():
        with atomic_open(out / name, "w", encoding="utf-8") as fh:
            fh.write(text)
    return [out / name for name in texts]


def stale(out: Path | None = None, root: Path | None = None) -> list[str]:
    """The ledger files in ``out`` that differ from what the results files give."""
    out = Path(out or results_root())
    return [
        name
        for name, text in render(ledger(root)).items()
        if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text
    ]
