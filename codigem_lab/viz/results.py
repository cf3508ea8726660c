"""The paper's tables and figures for notebooks 05-08: the runs they need, styled tables and charts.

Three parts, each usable on its own:

* **Settings shared with the CLI.** :func:`experiment_config` builds the
  :class:`~codigem_lab.experiments.common.ExperimentConfig` a notebook uses: in full mode exactly
  the one ``codigem-lab reproduce ... --dataset csv --source ../shared/data/ml-1m/... --preset
  paper-ml1m --seeds 3`` builds from the repository root, so both hit the same entries of the
  result cache (``runs/cache``); in quick mode small data and a few epochs.
  :func:`reproduce` runs one study with the repository root as working directory (the cache key
  holds the source path as written, so the relative path must mean the same file), and loads it
  without a single progress bar when every run is already cached. ``cached_only=True`` never
  trains: it returns the result, or a message with the command that would make it.
* **Styled tables** (:func:`style_table2`, :func:`style_table3`, :func:`style_result`): a pandas
  ``Styler`` (plain ``DataFrame`` where jinja2 is missing) with the best value per column in bold.
* **Charts**: plain data in (the ``rows`` of a :class:`~codigem_lab.experiments.tables.TableResult`,
  or run histories), a matplotlib ``Figure`` out, never through pyplot.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from codigem_lab.experiments import paper
from codigem_lab.experiments.aggregate import mean_std_column
from codigem_lab.experiments.cache import ResultCache, RunRecord
from codigem_lab.experiments.common import QUICK_EPOCHS, QUICK_MAX_USERS, ExperimentConfig
from codigem_lab.experiments.tables import TableResult
from codigem_lab.runs import RunSpec
from codigem_lab.viz.plots import DEFAULT_DPI, new_figure
from codigem_lab.viz.studies import curve_band

#: ML-1M as the README's ``reproduce`` commands name it (relative to the repository root).
CLI_ML1M_SOURCE = "../shared/data/ml-1m/ratings_no_timestamp.csv"
ML1M_PRESET = "paper-ml1m"
FULL_SEEDS = (0, 1, 2)
STUDIES = ("table2", "table3", "fig2", "fig3", "table4", "table5")
TABLE2_METRICS = ("R@20", "R@50", "N@20", "N@50")

OURS_COLOR = "#4c72b0"
RELEASED_COLOR = "#dd8452"
PAPER_COLOR = "#dddddd"
PAPER_EDGE = "#555555"


# ================================================================ settings shared with the CLI
def experiment_config(
    dataset: str = "auto",
    source: str | None = None,
    quick: bool = False,
    seeds: Sequence[int] | None = None,
    protocol: str = "strong",
    recall_definition: str = "minK",
    preset: str | None = None,
    progress: bool | None = None,
    cache_root: str | None = None,
    paper_dataset: str | None = None,
    presets: Sequence[str] | None = None,
) -> ExperimentConfig:
    """The notebooks' experiment settings, equal to the CLI's so the result cache is shared.

    ``dataset="auto"``: full mode takes ML-1M with the paper's preprocessing under the source
    path the README's commands use (when ``../shared/data`` is beside the repository), quick
    mode the notebooks' small data (ML-100K, else synthetic; at most 600 users, 3 epochs), and
    the synthetic dataset where no real data is found. Quick mode defaults to one seed, full mode
    to three. Relative paths in ``source`` are relative to the repository root, as for the CLI.
    ``paper_dataset`` names the paper's Table 2 block to show beside ours (found from the source
    path in full mode; ``"ml-1m"`` in quick mode, whose small run stands in for ML-1M's).
    ``presets`` picks Table 3's CODIGEM presets (default both), as the CLI's ``--presets``.
    ``progress`` (default: full mode only) draws progress bars for runs that must be trained;
    quick runs take seconds, and their bars would only bloat the saved notebook.
    """
    from codigem_lab import notebook as nb

    if dataset == "auto":
        choice = nb.default_data(quick=True) if quick else nb.ml1m() or nb.synthetic()
        dataset, source, preset = choice.dataset, _from_repo_root(choice.source), choice.preset
    elif source is None and dataset in ("ml-1m", "ml-100k"):
        choice = nb.resolve_data(dataset, None, quick=quick)
        dataset, source = choice.dataset, _from_repo_root(choice.source)
        preset = preset or choice.preset
    default_seeds = (0,) if quick else FULL_SEEDS
    if paper_dataset is None and quick:
        paper_dataset = "ml-1m"  # quick mode stands in for the ML-1M run: show its paper block
    return ExperimentConfig(
        dataset=dataset,
        source=source,
        preset=preset,
        protocol=protocol,
        seeds=tuple(seeds) if seeds is not None else default_seeds,
        recall_definition=recall_definition,
        quick=quick,
        progress=(not quick) if progress is None else progress,
        cache_root=cache_root,
        extra=({"paper_dataset": paper_dataset} if paper_dataset else {})
        | ({"presets": tuple(presets)} if presets else {}),
    )


def _from_repo_root(source: str | None) -> str | None:
    """A data path as the README's commands write it: relative to the repository root when it
    lies in the ``shared`` folder beside it (``../shared/data/...``), else unchanged."""
    from codigem_lab import notebook as nb

    root = nb.repo_root()
    if source is None or root is None:
        return source
    try:
        rel = Path(source).resolve().relative_to((root.parent / "shared").resolve())
    except ValueError:
        return source
    return str(Path("..") / "shared" / rel)


def describe_mode(cfg: ExperimentConfig) -> str:
    """One line saying which mode and data produced a notebook's outputs."""
    data = cfg.dataset + (f" ({cfg.source})" if cfg.source else "")
    data += f", preset {cfg.preset}" if cfg.preset else ""
    seeds = f"seeds {list(cfg.seeds)}"
    rdef = "hits/min(K,#targets)" if cfg.recall_definition == "minK" else "hits/#targets"
    if cfg.quick:
        cap = f"at most {QUICK_MAX_USERS} users, " if cfg.dataset != "synthetic" else ""
        return (
            f"QUICK MODE: {data}, {cap}{QUICK_EPOCHS} epochs, {seeds}; {cfg.protocol} protocol, "
            f"Recall = {rdef}. A smoke test: its numbers are not the paper's setting."
        )
    return (
        f"FULL MODE: {data}; {cfg.protocol} protocol, Recall = {rdef}; {seeds}; up to "
        f"{cfg.max_epochs} epochs, early stopping after {cfg.patience}."
    )


def reproduce_command(what: str, cfg: ExperimentConfig, models: str | None = None) -> str:
    """The ``codigem-lab reproduce`` command (run from the repository root) for the same runs."""
    args = ["codigem-lab", "reproduce", what, "--dataset", cfg.dataset]
    if cfg.source:
        args += ["--source", cfg.source]
    if cfg.preset:
        args += ["--preset", cfg.preset]
    args += ["--protocol", cfg.protocol]
    args += ["--seeds", str(len(cfg.seeds))]
    if cfg.recall_definition != "minK":
        args += ["--recall-definition", cfg.recall_definition]
    if cfg.max_epochs != 100:
        args += ["--max-epochs", str(cfg.max_epochs)]
    if cfg.patience != 10:
        args += ["--patience", str(cfg.patience)]
    if models:
        args += ["--models", models]
    if cfg.extra.get("paper_dataset"):
        args += ["--paper-dataset", cfg.extra["paper_dataset"]]
    if what == "table3" and cfg.extra.get("presets"):
        args += ["--presets", ",".join(cfg.extra["presets"])]
    if cfg.quick:
        args.append("--quick")
    command = " ".join(shlex.quote(a) for a in args)
    if cfg.seeds != tuple(range(len(cfg.seeds))):
        command += f"  # note: the CLI runs seeds 0..{len(cfg.seeds) - 1}, not {list(cfg.seeds)}"
    return command


def paper_label(cfg: ExperimentConfig) -> str:
    """'paper (ml-1m)': the legend of the paper's bars, naming the Table 2 block shown."""
    from codigem_lab.experiments.table2 import paper_dataset

    block = paper_dataset(cfg)
    return f"paper ({block})" if block else "paper (no block for this data)"


def machine_text(cfg: ExperimentConfig) -> str:
    """Where runs made now would be timed: device, torch threads, CPU cores."""
    import torch

    from codigem_lab.train import resolve_device

    dev = resolve_device(cfg.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    return f"{name}, {torch.get_num_threads()} torch thread(s), {os.cpu_count()} CPU cores visible"


@contextmanager
def repo_cwd() -> Iterator[Path]:
    """Run the body with the repository root as working directory (as the CLI is run).

    The result cache's keys hold the data source as written (``../shared/data/...``) and its
    default root is ``runs/cache``: both are relative to the repository root, while a notebook
    runs in ``notebooks/``. Outside a source checkout the working directory is left alone.
    """
    from codigem_lab import notebook as nb

    root = nb.repo_root()
    before = Path.cwd()
    if root is not None:
        os.chdir(root)
    try:
        yield Path.cwd()
    finally:
        os.chdir(before)


class NotInCache(LookupError):
    """A run that :class:`CachedOnlyCache` was asked for has not been made yet."""


class CachedOnlyCache(ResultCache):
    """A result cache that only reads: :meth:`run` returns a stored record or raises NotInCache."""

    def run(self, spec: RunSpec, keep_checkpoints: bool = False) -> RunRecord:
        record = self.get(spec)
        if record is None:
            label = f"{spec.model}{'/' + spec.variant if spec.variant else ''}"
            raise NotInCache(f"{label} {spec.params or ''} seed {spec.train.seed} ({spec.key()})")
        return record


@dataclass(frozen=True)
class _CachedOnlyConfig(ExperimentConfig):
    """An ExperimentConfig whose cache never trains (see :class:`CachedOnlyCache`)."""

    def cache(self) -> ResultCache:
        return CachedOnlyCache(self.cache_root)


def read_only_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """The same settings (same cache keys), reading the cache only and without progress bars."""
    values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(ExperimentConfig)}
    values["progress"] = False
    return _CachedOnlyConfig(**values)


@dataclass
class Reproduced:
    """One study as a notebook shows it: its table (None when not available), runs and command."""

    what: str
    result: TableResult | None
    runs: pd.DataFrame | None
    command: str
    from_cache: bool
    message: str = ""
    config: ExperimentConfig | None = field(default=None, repr=False)

    @property
    def available(self) -> bool:
        return self.result is not None


def _run_study(
    what: str, cfg: ExperimentConfig, models: str | None, command: str
) -> tuple[TableResult, pd.DataFrame | None]:
    from codigem_lab.experiments import studies, table2

    if what == "table2":
        return table2.reproduce_table2(cfg, models, command), None
    if what == "table3":
        return studies.reproduce_table3(cfg, command=command), None
    if what == "fig2":
        return studies.reproduce_fig2(cfg, command)
    if what == "fig3":
        return studies.reproduce_fig3(cfg, command)
    if what == "table4":
        return studies.reproduce_table4(cfg, command), None
    if what == "table5":
        return studies.reproduce_table5(cfg, command), None
    raise ValueError(f"unknown study {what!r}; choose one of {STUDIES}")


def reproduce(
    what: str, cfg: ExperimentConfig, models: str | None = None, cached_only: bool = False
) -> Reproduced:
    """Load one study from the result cache, or train its missing runs (unless ``cached_only``).

    Runs in the repository root (:func:`repo_cwd`). When every run is cached, nothing is trained
    and no progress bar is drawn; otherwise the missing runs train with ``cfg.progress`` bars and
    are stored, exactly as ``codigem-lab reproduce`` would.
    """
    if what not in STUDIES:
        raise ValueError(f"unknown study {what!r}; choose one of {STUDIES}")
    command = reproduce_command(what, cfg, models)
    with repo_cwd():
        try:
            result, runs = _run_study(what, read_only_config(cfg), models, command)
            return Reproduced(what, result, runs, command, True, config=cfg)
        except NotInCache as exc:
            if cached_only:
                msg = f"not in the result cache yet (first missing run: {exc}). Make it with:\n  {command}"
                return Reproduced(what, None, None, command, False, msg, cfg)
        result, runs = _run_study(what, cfg, models, command)
    return Reproduced(what, result, runs, command, False, config=cfg)


def model_histories(
    cfg: ExperimentConfig, models: Sequence[str] = ("macridvae", "multvae", "codigem")
) -> dict[str, list[pd.DataFrame]]:
    """Per-epoch histories of Table 5's cached runs: ``{model: [history per seed]}``.

    CODIGEM is the paper preset, as in :func:`~codigem_lab.experiments.studies.reproduce_table5`.
    Models whose runs are not all cached are left out.
    """
    cache = read_only_config(cfg).cache()
    out: dict[str, list[pd.DataFrame]] = {}
    with repo_cwd():
        for model in models:
            variant = "paper" if model == "codigem" else None
            records = [cache.get(cfg.spec(model, s, variant)) for s in cfg.seeds]
            hists = [r.history() for r in records if r is not None]
            if len(hists) == len(records) and all(h is not None for h in hists):
                out[model] = hists
    return out


# ======================================================================= 05: the protocols
def load_split(cfg: ExperimentConfig, seed: int = 0, protocol: str | None = None):
    """The (cached) split the runs of ``cfg`` train on, for seed ``seed`` (from the repo root)."""
    if protocol is not None:
        cfg = dataclasses.replace(cfg, protocol=protocol)
    with repo_cwd():
        return cfg.data(seed).load()


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


# ============================================== 06: why variants I and II cannot move the ranking
def decoder_gradient_check(
    x,
    variants: Mapping[str, dict] | None = None,
    preset: str = "paper",
    seed: int = 0,
    kl_weight: float = 0.2,
) -> pd.DataFrame:
    """Each Table 3 variant's gradient on one batch, compared with the base model's.

    Every model is built from the same seed and fed the same noise. Variant I (annealing) is
    scored with a KL weight of ``kl_weight`` (its cap), the others with 1. Columns, as the
    largest absolute difference from the base model: the decoder's initial weights, the
    decoder's gradient, the transition nets' gradient, and the scores used for ranking (decoder
    on the input, no noise) after one Adamax step. Zero decoder differences mean the variant
    trains the very same decoder, hence the very same ranking.
    """
    import scipy.sparse as sp
    import torch

    from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig
    from codigem_lab.experiments.studies import VARIANTS

    dense = x.toarray() if sp.issparse(x) else np.asarray(x)
    xt = torch.as_tensor(dense, dtype=torch.float32)
    found = {}
    for name, overrides in (variants or VARIANTS).items():
        torch.manual_seed(seed)
        cfg = CODIGEMConfig.preset(preset, n_items=xt.shape[1], **overrides)
        model = CODIGEM(cfg)
        init = torch.cat([p.detach().flatten().clone() for p in model.decoder.parameters()])
        weight = kl_weight if cfg.anneal_steps else None
        terms = model(xt, generator=torch.Generator().manual_seed(seed), kl_weight=weight)
        terms.loss.backward()
        dec = torch.cat([p.grad.flatten() for p in model.decoder.parameters()])
        trans = [p.grad.flatten() for p in model.reverse_nets.parameters() if p.grad is not None]
        torch.optim.Adamax(model.parameters(), lr=1e-3).step()  # the paper's optimiser
        with torch.no_grad():
            scores = model.score(xt[: min(50, len(xt))], mode="decoder", noise=False)
        found[name] = (
            init,
            dec,
            torch.cat(trans) if trans else torch.zeros(0),
            scores,
            terms.kl_weight,
        )
    base = found.get("base") or next(iter(found.values()))

    def diff(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).abs().max()) if a.shape == b.shape and a.numel() else math.nan

    rows = {
        name: {
            "KL weight": w,
            "decoder init": diff(i, base[0]),
            "decoder gradient": diff(d, base[1]),
            "transition-net gradient": diff(t, base[2]),
            "scores after one step": diff(sc, base[3]),
        }
        for name, (i, d, t, sc, w) in found.items()
    }
    out = pd.DataFrame(rows).T
    out.index.name = "max |difference| from base"
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
    name = paper.DISPLAY.get(row["model"], row["model"])
    return name + (f" ({row['variant']})" if row.get("variant") else "")


def table2_frame(rows: Sequence[Mapping], metrics: Sequence[str] = TABLE2_METRICS) -> pd.DataFrame:
    """Table 2's JSON rows as numbers: index = model label; ``{m}_mean``, ``{m}_std``,
    ``paper_{m}`` (NaN where the paper has no such row) and ``p_value_vs_codigem``."""
    out = []
    for r in rows:
        d = {"model": row_label(r)}
        for m in metrics:
            for key in (f"{m}_mean", f"{m}_std", f"paper_{m}"):
                v = r.get(key)
                d[key] = math.nan if v is None else v  # None: a single seed's std, or no paper row
        p = r.get("p_value_vs_codigem")
        d["p_value_vs_codigem"] = math.nan if p is None else p
        out.append(d)
    return pd.DataFrame(out).set_index("model")


def style_table2(
    rows: Sequence[Mapping], metrics: Sequence[str] = TABLE2_METRICS, caption: str = ""
):
    """Table 2 with ours (mean ± std) beside the paper's value for each metric.

    The best of ours and the best of the paper's values in each metric are bold; CODIGEM rows
    are shaded. Returns a Styler (a DataFrame where jinja2 is missing).
    """
    f = table2_frame(rows, metrics)
    cols = pd.MultiIndex.from_tuples([(m, w) for m in metrics for w in ("ours", "paper")])
    display = pd.DataFrame(index=f.index, columns=cols, dtype=object)
    css = pd.DataFrame("", index=f.index, columns=cols)
    for m in metrics:
        display[(m, "ours")] = mean_std_column(f, m)
        display[(m, "paper")] = [_fmt(v) for v in f[f"paper_{m}"]]
        css[(m, "ours")] = _bold_max(f[f"{m}_mean"])
        css[(m, "paper")] = _bold_max(f[f"paper_{m}"])
    display[("p vs CODIGEM", "")] = ["" if p != p else f"{p:.2g}" for p in f["p_value_vs_codigem"]]
    css[("p vs CODIGEM", "")] = ""
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
    for m in ("R@50", "N@50"):
        f[f"{m}_std"] = pd.to_numeric(f[f"{m}_std"], errors="coerce")  # None (one seed) -> NaN
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
        display[f"{m}"] = mean_std_column(f, m)
        display[f"{m} vs base"] = [f"{c:+.2f}%" for c in f[f"{m}_change_%"]]
        display[f"{m} (paper)"] = [_fmt(v) for v in f[f"paper_{m}"]]
        display[f"{m} (paper) vs base"] = [f"{c:+.2f}%" for c in f[f"paper_{m}_change_%"]]
    display["p vs base"] = ["" if p is None or p != p else f"{p:.2g}" for p in f["p_value_vs_base"]]
    display["final KL weight"] = [
        "" if w is None or w != w else f"{w:.3g}" for w in f["kl_weight_last"]
    ]
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
    paper_label: str = "paper",
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


def plot_table3(rows: Sequence[Mapping], metric: str = "R@50", dpi: int = DEFAULT_DPI) -> Figure:
    """Table 3: each variant's ``metric`` per preset (left, ± std) and its change from base (right).

    Ours for each preset in colour, the paper's (ML-20M) hatched grey. The right panel is the
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
    ax_abs.bar(x + off, ref, w, label="paper (ML-20M)", **style)
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
        label="paper (ML-20M, GPU)",
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
    names = [paper.DISPLAY.get(m, m) for m in f.index]
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
    ax_r.bar(x + w / 2, paper_rel, w, label="paper (ML-20M, GPU)", **style)
    ax_r.axhline(1, color="black", linewidth=0.8)
    ax_r.set_ylabel("total time ÷ CODIGEM's")
    ax_r.set_title("total training time relative to CODIGEM", fontsize=10)
    ax_r.legend(fontsize=8)
    for ax in (ax_t, ax_e, ax_r):
        ax.set_xticks(x, names, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    return fig


def plot_model_convergence(
    histories: Mapping[str, Sequence[pd.DataFrame]],
    metric: str = "R@50",
    dpi: int = DEFAULT_DPI,
    title: str = "",
) -> Figure:
    """Validation ``metric`` per epoch for each model (mean over seeds, ± std band), with a dot
    at each run's best epoch (the one model selection keeps)."""
    fig = new_figure(6.5, 3.4, dpi)
    ax = fig.subplots()
    colors = [OURS_COLOR, RELEASED_COLOR, "#55a868", "#c44e52", "#8172b3"]
    for k, (name, hists) in enumerate(histories.items()):
        curves = [h[metric].to_numpy(dtype=float) for h in hists if h is not None and metric in h]
        if not curves:
            continue
        mean, std = curve_band(curves)
        ep = np.arange(1, len(mean) + 1)
        c = colors[k % len(colors)]
        ax.plot(ep, mean, color=c, label=paper.DISPLAY.get(name, name))
        ax.fill_between(ep, mean - std, mean + std, color=c, alpha=0.2)
        best = [int(np.argmax(cv)) for cv in curves]
        ax.plot(
            [b + 1 for b in best],
            [cv[b] for cv, b in zip(curves, best, strict=True)],
            "o",
            color=c,
            markersize=4,
        )
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
    from codigem_lab.notebook import repo_root

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
        "peak RSS (GB)": (b["train"]["peak_rss_mb"] / 1024, None),
        "prepare s (csv -> cached split)": (b["prepare"]["prepare_s"], None),
    }
    return pd.DataFrame(
        [(k, round(v, 2), "" if p is None else p) for k, (v, p) in rows.items()],
        columns=["", "ours: CPU, 1 thread, synthetic ML-20M shape", "paper: GPU, ML-20M"],
    ).set_index("")
