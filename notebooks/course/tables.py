"""The paper's tables and figures for notebooks 05-08: styled tables and charts of the studies' runs.

The runs come from the study registry (:mod:`codigem_lab.experiments.registry`); this module only
draws and styles what they return, and nothing in ``codigem_lab`` imports it. Three parts:

* **Tables of the protocols** (:func:`target_counts`, :func:`compare_tables`).
* **Styled tables** (:func:`style_table2`, :func:`style_table3`, :func:`style_result`): a pandas
  ``Styler`` (plain ``DataFrame`` where jinja2 is missing) with the best value per column in bold.
* **Charts**: plain data in (the ``rows`` of a :class:`~codigem_lab.experiments.tables.TableResult`,
  or run histories), a matplotlib ``Figure`` out, never through pyplot.
"""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from codigem_lab.audit import ranking_unaffected, variant_effects
from codigem_lab.diffusion.model import CODIGEMConfig
from codigem_lab.experiments import paper
from codigem_lab.experiments.aggregate import (
    beyond_display,
    beyond_metrics,
    comparison_columns,
    interval_column,
)
from codigem_lab.experiments.common import ExperimentConfig
from codigem_lab.experiments.tables import TableResult
from codigem_lab.viz.plots import DEFAULT_DPI, new_figure

TABLE2_METRICS = ("R@20", "R@50", "N@20", "N@50")

OURS_COLOR = "#4c72b0"
RELEASED_COLOR = "#dd8452"
PAPER_COLOR = "#dddddd"
PAPER_EDGE = "#555555"


# ======================================================================= 05: the protocols
def load_split(cfg: ExperimentConfig, seed: int = 0, protocol: str | None = None):
    """The (cached) split the runs of ``cfg`` train on, for seed ``seed``."""
    data = cfg.data(seed)
    if protocol is not None:
        data = dataclasses.replace(data, protocol=protocol)
    return data.load()


def target_counts(
    cfg: ExperimentConfig,
    protocols: Sequence[str] = ("strong", "ratio"),
    ks: Sequence[int] = (20, 50),
    seed: int = 0,
) -> pd.DataFrame:
    """How many held-out items each test user has under each protocol.

    The two Recall definitions differ only for users with more targets than K: ``minK`` divides
    their hits by K, ``targets`` by the number of targets. Columns: test users, mean and median
    number of targets, and the share of test users with more than K targets for each K.
    """
    rows = {}
    for p in protocols:
        es = load_split(cfg, seed, p).eval_set("test")
        n = np.diff(es.target.indptr)
        n = n[n > 0]
        row = {"test users": len(n), "mean #targets": n.mean(), "median #targets": np.median(n)}
        row.update({f"share with > {k} targets": float((n > k).mean()) for k in ks})
        rows[p] = row
    out = pd.DataFrame(rows).T
    out.index.name = "protocol"
    return out


def compare_tables(
    tables: Mapping[str, Sequence[Mapping]], metric: str = "R@20", with_paper: bool = True
) -> pd.DataFrame:
    """One metric of several Table 2 runs side by side (columns: the ``tables`` keys), one row per
    model found in any of them, plus the paper's value where it has one."""
    frames = {name: table2_frame(rows, (metric,)) for name, rows in tables.items()}
    order = list(dict.fromkeys(m for f in frames.values() for m in f.index))
    out = pd.DataFrame({name: f[f"{metric}_mean"] for name, f in frames.items()}).reindex(order)
    if with_paper:
        paper_vals = pd.concat([f[f"paper_{metric}"] for f in frames.values()])
        paper_vals = paper_vals[~paper_vals.index.duplicated()]
        out[f"paper {metric}"] = paper_vals.reindex(out.index)
    out.index.name = "model"
    return out


# =========================================================================== styled tables
def _styler(display: pd.DataFrame, css: pd.DataFrame | None = None, caption: str = ""):
    """``display`` as a Styler with per-cell ``css``; the plain DataFrame where jinja2 is missing."""
    try:
        styler = display.style
    except ImportError:  # pandas' Styler needs jinja2
        return display
    if css is not None:
        styler = styler.apply(lambda _: css, axis=None)
    if caption:
        styler = styler.set_caption(caption)
    return styler.set_table_styles(
        [
            {"selector": "caption", "props": "caption-side: top; text-align: left;"},
            {"selector": "th, td", "props": "padding: 2px 8px; white-space: nowrap;"},
        ],
        overwrite=False,
    )


def _bold_max(values: pd.Series) -> list[str]:
    top = values.max(skipna=True)
    return ["font-weight: bold" if (v == v and v == top) else "" for v in values]


def _fmt(v: float, digits: int = 4) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def row_label(row: Mapping) -> str:
    """'CODIGEM (paper)', 'Multi-VAE': the paper's display name plus the variant, if any."""
    return paper.display_name(row["model"], row.get("variant"))


def table2_frame(rows: Sequence[Mapping], metrics: Sequence[str] = TABLE2_METRICS) -> pd.DataFrame:
    """Table 2's JSON rows as numbers: index = model label; ``{m}_mean``, ``{m}_std``,
    ``{m}_ci_low``/``{m}_ci_high`` (95% interval over seeds), ``paper_{m}`` (NaN where the paper
    has no such row), ``effect_R@50``/``effect_ci``, ``p`` and ``p_holm``; the same numbers (no
    paper's) for the beyond-accuracy metrics at the Ks of ``metrics`` (NaN in older files)."""
    out = []
    for r in rows:
        d = {"model": row_label(r)}
        for m in (*metrics, *beyond_metrics(metrics)):
            for key in (f"{m}_mean", f"{m}_std", f"{m}_ci_low", f"{m}_ci_high", f"paper_{m}"):
                v = r.get(key)
                d[key] = math.nan if v is None else v  # None: a single seed's std, or no paper row
        for key in ("effect_R@50", "p", "p_holm"):
            v = r.get(key)
            d[key] = math.nan if v is None else v
        d["effect_ci"] = r.get("effect_ci")
        out.append(d)
    return pd.DataFrame(out).set_index("model")


def style_table2(
    rows: Sequence[Mapping], metrics: Sequence[str] = TABLE2_METRICS, caption: str = ""
):
    """Table 2 with ours (mean [95% interval over seeds]) beside the paper's value for each metric,
    then the effect on R@50 against CODIGEM (paper preset) with its interval, p and Holm's p, then
    ours beyond accuracy (ARP, novelty, coverage; where the rows have them).

    The best of ours and the best of the paper's values in each metric are bold; CODIGEM rows
    are shaded. Returns a Styler (a DataFrame where jinja2 is missing).
    """
    f = table2_frame(rows, metrics)
    cols = pd.MultiIndex.from_tuples([(m, w) for m in metrics for w in ("ours", "paper")])
    display = pd.DataFrame(index=f.index, columns=cols, dtype=object)
    css = pd.DataFrame("", index=f.index, columns=cols)
    for m in metrics:
        display[(m, "ours")] = interval_column(f, m)
        display[(m, "paper")] = [_fmt(v) for v in f[f"paper_{m}"]]
        css[(m, "ours")] = _bold_max(f[f"{m}_mean"])
        css[(m, "paper")] = _bold_max(f[f"paper_{m}"])
    for name, values in comparison_columns(f, "effect on R@50 vs CODIGEM").items():
        display[(name, "")] = values
        css[(name, "")] = ""
    for name, values in beyond_display(f, beyond_metrics(metrics)).items():
        display[(name, "ours")] = values
        css[(name, "ours")] = ""
    shade = [i.startswith("CODIGEM") for i in f.index]
    for c in css.columns:
        css[c] = [
            (s + "; " if s else "") + "background-color: #eef3fb" if sh else s
            for s, sh in zip(css[c], shade, strict=True)
        ]
    return _styler(display, css, caption)


def table3_frame(rows: Sequence[Mapping]) -> pd.DataFrame:
    """Table 3's JSON rows as numbers, with each variant's change from its preset's base (%)
    and the paper's values and changes beside them. Index: (preset, variant)."""
    f = pd.DataFrame(list(rows)).set_index(["preset", "variant"])
    for key in ("effect_R@50", "p", "p_holm"):
        f[key] = pd.to_numeric(f[key], errors="coerce") if key in f else math.nan
    if "effect_ci" not in f:
        f["effect_ci"] = None
    for m in ("R@50", "N@50"):
        f[f"{m}_std"] = pd.to_numeric(f[f"{m}_std"], errors="coerce")  # None (one seed) -> NaN
        for side in ("low", "high"):
            key = f"{m}_ci_{side}"
            f[key] = pd.to_numeric(f[key], errors="coerce") if key in f else math.nan
        base_by_preset = f.xs("base", level="variant")[f"{m}_mean"]
        base = pd.Series(
            base_by_preset.reindex(f.index.get_level_values("preset")).to_numpy(), index=f.index
        )
        f[f"{m}_change_%"] = 100 * (f[f"{m}_mean"] / base - 1)
        variants = f.index.get_level_values("variant")
        f[f"paper_{m}"] = [paper.TABLE3.loc[v, m] for v in variants]
        f[f"paper_{m}_change_%"] = [
            100 * (paper.TABLE3.loc[v, m] / paper.TABLE3.loc["base", m] - 1) for v in variants
        ]
        f[f"identical_{m}"] = f[f"{m}_mean"].to_numpy() == base.to_numpy()
    return f


def style_table3(rows: Sequence[Mapping], caption: str = ""):
    """Table 3: ours per preset and variant beside the paper's, with changes from base in %.

    Variants whose test metrics are bit-for-bit those of their base model are greyed and
    italic (with decoder scoring, a change that cannot reach the decoder cannot move them).
    """
    f = table3_frame(rows)
    display = pd.DataFrame(index=f.index)
    for m in ("R@50", "N@50"):
        display[f"{m}"] = interval_column(f, m)
        display[f"{m} vs base"] = [f"{c:+.2f}%" for c in f[f"{m}_change_%"]]
        display[f"{m} (paper)"] = [_fmt(v) for v in f[f"paper_{m}"]]
        display[f"{m} (paper) vs base"] = [f"{c:+.2f}%" for c in f[f"paper_{m}_change_%"]]
    for name, values in comparison_columns(f, "effect on R@50 vs base").items():
        display[name] = values
    display["final KL weight"] = [
        "" if w is None or w != w else f"{w:.3g}" for w in f["kl_weight_last"]
    ]
    for name, values in beyond_display(f, beyond_metrics(("R@50",))).items():
        display[name] = values
    same = f["identical_R@50"] & f["identical_N@50"]
    is_base = f.index.get_level_values("variant") == "base"
    css = pd.DataFrame("", index=display.index, columns=display.columns)
    for i, (s, b) in enumerate(zip(same, is_base, strict=True)):
        if s and not b:
            css.iloc[i, :] = "color: #777777; font-style: italic"
    return _styler(display, css, caption)


def style_result(result: TableResult, caption: str | None = None):
    """Any reproduced table as a Styler, captioned with its name (the notes stay in ``result``)."""
    return _styler(result.table, None, result.name if caption is None else caption)


# ================================================================================== charts
def plot_table2(
    rows: Sequence[Mapping],
    metrics: Sequence[str] = ("R@20", "R@50"),
    dpi: int = DEFAULT_DPI,
    title: str = "",
    paper_label: str = "paper",  # the legend text
) -> Figure:
    """Table 2 as horizontal bars: ours (mean, error bar = std over seeds) beside the paper's.

    One panel per metric, one pair of bars per model: ours in blue with its error bar, the
    paper's value hatched grey (absent for models the paper did not run).
    """
    f = table2_frame(rows, metrics)
    n = len(f)
    fig = new_figure(4.2 * len(metrics), 0.9 + 0.32 * n, dpi)
    axes = np.atleast_1d(fig.subplots(1, len(metrics), sharey=True))
    y = np.arange(n)
    h = 0.38
    for ax, m in zip(axes, metrics, strict=True):
        ax.barh(
            y - h / 2,
            f[f"{m}_mean"],
            h,
            xerr=f[f"{m}_std"],
            color=OURS_COLOR,
            error_kw={"ecolor": "black", "capsize": 2, "elinewidth": 1},
            label="ours (mean ± std)",
        )
        has = f[f"paper_{m}"].notna().to_numpy()
        if has.any():
            ax.barh(
                y[has] + h / 2,
                f.loc[has, f"paper_{m}"],
                h,
                color=PAPER_COLOR,
                edgecolor=PAPER_EDGE,
                hatch="//",
                label=paper_label,
            )
        ax.set_title(m, fontsize=10)
        ax.set_xlabel("test metric")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, list(f.index))
    axes[0].invert_yaxis()
    axes[-1].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_table2_intervals(
    rows: Sequence[Mapping],
    metric: str = "R@50",
    dpi: int = DEFAULT_DPI,
    title: str = "",
    paper_label: str = "paper",  # the legend text
) -> Figure:
    """Table 2 as a dot plot: one line per model, ours as a dot with its 95% interval over seeds
    (a dot alone for one seed), the paper's value as a grey diamond; sorted by our mean."""
    f = table2_frame(rows, (metric,)).sort_values(f"{metric}_mean")
    n = len(f)
    fig = new_figure(6.0, 0.9 + 0.3 * n, dpi)
    ax = fig.subplots()
    y = np.arange(n)
    mean = f[f"{metric}_mean"].to_numpy(dtype=float)
    lo = f[f"{metric}_ci_low"].to_numpy(dtype=float)
    hi = f[f"{metric}_ci_high"].to_numpy(dtype=float)
    has_ci = ~np.isnan(lo) & ~np.isnan(hi)
    ax.hlines(
        y[has_ci], lo[has_ci], hi[has_ci], color=OURS_COLOR, linewidth=2, label="ours: 95% interval"
    )
    ax.plot(mean, y, "o", color=OURS_COLOR, label="ours: mean over seeds")
    paper_vals = f[f"paper_{metric}"].to_numpy(dtype=float)
    has = ~np.isnan(paper_vals)
    if has.any():
        ax.plot(paper_vals[has], y[has], "D", mfc=PAPER_COLOR, mec=PAPER_EDGE, label=paper_label)
    ax.set_yticks(y, list(f.index))
    ax.set_xlabel(f"test {metric}")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title or f"Table 2, {metric}: one line per model", fontsize=10)
    return fig


def plot_table3(rows: Sequence[Mapping], metric: str = "R@50", dpi: int = DEFAULT_DPI) -> Figure:
    """Table 3: each variant's ``metric`` per preset (left, ± std) and its change from base (right).

    Ours for each preset in colour, the paper's (no dataset named; ML-20M inferred) hatched grey. The right panel is the
    comparable one: datasets differ, relative changes from the base model need not.
    """
    f = table3_frame(rows)
    presets = list(dict.fromkeys(f.index.get_level_values("preset")))
    variants = list(dict.fromkeys(f.index.get_level_values("variant")))
    groups = len(presets) + 1
    w = 0.8 / groups
    x = np.arange(len(variants))
    colors = [OURS_COLOR, RELEASED_COLOR, "#55a868", "#8172b3"]
    fig = new_figure(11.0, 3.4, dpi)
    ax_abs, ax_rel = fig.subplots(1, 2)
    for k, p in enumerate(presets):
        sub = f.xs(p, level="preset").reindex(variants)
        off = (k - (groups - 1) / 2) * w
        ax_abs.bar(
            x + off,
            sub[f"{metric}_mean"],
            w,
            yerr=sub[f"{metric}_std"],
            color=colors[k % len(colors)],
            error_kw={"capsize": 2, "elinewidth": 1},
            label=f"ours, {p} preset",
        )
        ax_rel.bar(x + off, sub[f"{metric}_change_%"], w, color=colors[k % len(colors)])
    off = (groups - 1) / 2 * w
    ref = [paper.TABLE3.loc[v, metric] for v in variants]
    ref_rel = [100 * (r / paper.TABLE3.loc["base", metric] - 1) for r in ref]
    style = {"color": PAPER_COLOR, "edgecolor": PAPER_EDGE, "hatch": "//"}
    ax_abs.bar(x + off, ref, w, label="paper (ML-20M, inferred)", **style)
    ax_rel.bar(x + off, ref_rel, w, **style)
    short = [textwrap.fill(v, 14) for v in variants]
    for ax in (ax_abs, ax_rel):
        ax.set_xticks(x, short, fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    ax_abs.set_ylabel(f"test {metric}")
    ax_abs.set_title(f"{metric} per variant", fontsize=10)
    ax_rel.axhline(0, color="black", linewidth=0.8)
    ax_rel.set_ylabel("change from base (%)")
    ax_rel.set_title("change from the same preset's base model", fontsize=10)
    ax_abs.legend(fontsize=7)
    return fig


def _paper_per_epoch_by_T() -> pd.Series:
    t4 = paper.TABLE4
    return t4["total_s"] / t4["epochs"]


def plot_time_vs_T(rows: Sequence[Mapping], dpi: int = DEFAULT_DPI) -> Figure:
    """Table 4: time per epoch against T, ours in seconds (left), ours and the paper's relative
    to T = 3 (right; the paper's per-epoch time is its total over its epochs).

    ``rows``: Table 4's JSON rows (``T``, ``total_s``, ``epochs``, ``train_s_per_epoch``).
    """
    f = pd.DataFrame(list(rows)).set_index("T").sort_index()
    per_epoch = f["total_s"] / f["epochs"]
    fig = new_figure(10.0, 3.3, dpi)
    ax_s, ax_rel = fig.subplots(1, 2)
    Ts = f.index.to_numpy(dtype=float)
    ax_s.plot(Ts, f["train_s_per_epoch"], "o-", color=OURS_COLOR, label="training")
    ax_s.plot(Ts, per_epoch, "s--", color=RELEASED_COLOR, label="training + evaluation")
    ax_s.set_xlabel("T")
    ax_s.set_ylabel("seconds per epoch (ours)")
    ax_s.set_title("time per epoch on this machine", fontsize=10)
    ax_s.legend(fontsize=8)
    base = per_epoch.loc[3] if 3 in per_epoch.index else per_epoch.iloc[0]
    pp = _paper_per_epoch_by_T()
    ax_rel.plot(Ts, per_epoch / base, "o-", color=OURS_COLOR, label="ours")
    ax_rel.plot(
        pp.index.to_numpy(dtype=float),
        pp / pp.loc[3],
        "s--",
        color=PAPER_EDGE,
        label="paper (data, hardware not named)",
    )
    ax_rel.set_xlabel("T")
    ax_rel.set_ylabel("time per epoch ÷ time at T = 3")
    ax_rel.set_title("relative to T = 3: comparable across machines", fontsize=10)
    ax_rel.legend(fontsize=8)
    for ax in (ax_s, ax_rel):
        ax.grid(alpha=0.3)
    return fig


def plot_efficiency(rows: Sequence[Mapping], dpi: int = DEFAULT_DPI) -> Figure:
    """Table 5: per model, training and evaluation seconds per epoch (stacked, ours), epochs to
    the best epoch and total time relative to CODIGEM, ours beside the paper's.

    ``rows``: Table 5's JSON rows (``model``, ``train_s_per_epoch``, ``eval_s_per_epoch``,
    ``epochs_to_converge``, ``total_s``).
    """
    f = pd.DataFrame(list(rows)).set_index("model")
    names = [paper.display_name(m) for m in f.index]
    x = np.arange(len(f))
    w = 0.38
    fig = new_figure(12.0, 3.3, dpi)
    ax_t, ax_e, ax_r = fig.subplots(1, 3)
    ax_t.bar(x, f["train_s_per_epoch"], 0.6, color=OURS_COLOR, label="training")
    ax_t.bar(
        x,
        f["eval_s_per_epoch"],
        0.6,
        bottom=f["train_s_per_epoch"],
        color=RELEASED_COLOR,
        label="evaluation",
    )
    ax_t.set_ylabel("seconds per epoch (ours)")
    ax_t.set_title("training vs evaluation time", fontsize=10)
    ax_t.legend(fontsize=8)
    t5 = paper.TABLE5.reindex(f.index)
    style = {"color": PAPER_COLOR, "edgecolor": PAPER_EDGE, "hatch": "//"}
    ax_e.bar(x - w / 2, f["epochs_to_converge"], w, color=OURS_COLOR, label="ours (best epoch)")
    ax_e.bar(x + w / 2, t5["epochs"], w, label="paper", **style)
    ax_e.set_ylabel("epochs")
    ax_e.set_title("epochs to converge", fontsize=10)
    ax_e.legend(fontsize=8)
    ours_rel = f["total_s"] / f.loc["codigem", "total_s"] if "codigem" in f.index else f["total_s"]
    paper_rel = t5["total_s"] / paper.TABLE5.loc["codigem", "total_s"]
    ax_r.bar(x - w / 2, ours_rel, w, color=OURS_COLOR, label="ours")
    ax_r.bar(x + w / 2, paper_rel, w, label="paper (data, hardware not named)", **style)
    ax_r.axhline(1, color="black", linewidth=0.8)
    ax_r.set_ylabel("total time ÷ CODIGEM's")
    ax_r.set_title("total training time relative to CODIGEM", fontsize=10)
    ax_r.legend(fontsize=8)
    for ax in (ax_t, ax_e, ax_r):
        ax.set_xticks(x, names, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    return fig


def validated(history: pd.DataFrame, metric: str) -> pd.Series:
    """``metric`` at the epochs a run validated (a run validated every 5 epochs has NaN between),
    indexed by epoch."""
    epochs = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
    return pd.Series(history[metric].to_numpy(dtype=float), index=epochs).dropna()


def plot_model_convergence(
    histories: Mapping[str, Sequence[pd.DataFrame]],
    metric: str = "R@50",
    dpi: int = DEFAULT_DPI,
    title: str = "",
) -> Figure:
    """Validation ``metric`` at each validated epoch for each model (mean over the seeds still
    running, ± std band), with a dot at each run's best epoch (the one model selection keeps)."""
    fig = new_figure(6.5, 3.4, dpi)
    ax = fig.subplots()
    colors = [OURS_COLOR, RELEASED_COLOR, "#55a868", "#c44e52", "#8172b3"]
    for k, (name, hists) in enumerate(histories.items()):
        runs = [validated(h, metric) for h in hists if h is not None and metric in h]
        if not runs:
            continue
        grid = pd.concat(runs, axis=1)  # one column per run; NaN after a run stopped
        mean, std = grid.mean(axis=1), grid.std(axis=1, ddof=0).fillna(0.0)
        c = colors[k % len(colors)]
        ax.plot(grid.index, mean, color=c, label=paper.display_name(name))
        ax.fill_between(grid.index, mean - std, mean + std, color=c, alpha=0.2)
        best = [r.idxmax() for r in runs]
        ax.plot(best, [r[b] for r, b in zip(runs, best, strict=True)], "o", color=c, markersize=4)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "convergence (dots: best epoch of each run)", fontsize=10)
    return fig


def ml20m_benchmark_table(path: str | Path | None = None) -> pd.DataFrame | None:
    """The committed ML-20M-shaped CPU benchmark (``results/ml20m/``) beside the paper's Table 5.

    Returns None when the file is absent (e.g. outside a source checkout).
    """
    from codigem_lab.experiments import paper
    from codigem_lab.paths import repo_root

    if path is None:
        root = repo_root()
        if root is None:
            return None
        path = root / "results" / "ml20m" / "bench-cpu-1thread.json"
    path = Path(path)
    if not path.exists():
        return None
    b = json.loads(path.read_text())
    t5 = paper.TABLE5.loc["codigem"]
    rows = {
        "training s / epoch": (b["train"]["epoch_s"], t5["train_s_per_epoch"]),
        "evaluation s / pass": (b["train"]["eval_s"], t5["eval_s_per_epoch"]),
        "training users / s": (b["train"]["train_users_per_s"], None),
        "peak RSS (GiB)": (b["train"]["peak_rss_mb"] / 1024, None),  # ru_maxrss, in MiB
        "prepare s (csv -> cached split)": (b["prepare"]["prepare_s"], None),
    }
    return pd.DataFrame(
        [(k, round(v, 2), "" if p is None else p) for k, (v, p) in rows.items()],
        columns=[
            "",
            "ours: CPU, 1 thread, synthetic ML-20M shape",
            "paper's Table 5 (dataset and hardware not named)",
        ],
    ).set_index("")


def audit_variants(
    config: CODIGEMConfig | str,
    variants: Mapping[str, Mapping[str, object]],
    score_mode: str = "decoder",
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per variant: what it changes and whether it can change the ranking (notebook 06;
    the audit itself: :mod:`codigem_lab.audit`)."""
    report, effects = variant_effects(config, variants, score_mode, seed)
    rows = {
        name: {
            "changed loss terms": ", ".join(eff.changed_terms),
            "changed init": ", ".join(eff.changed_init),
            "changed gradients": ", ".join(eff.changed_gradients),
            "scores changed": eff.scores_changed,
            "can change ranking": not ranking_unaffected(report, eff),
        }
        for name, eff in effects.items()
    }
    out = pd.DataFrame(rows).T
    out.index.name = f"variant ({score_mode} scoring)"
    return out
