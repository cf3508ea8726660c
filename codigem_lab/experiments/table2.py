"""Table 2 reproduced: every baseline and CODIGEM (both presets) on one split, several seeds, each
against CODIGEM (paper) by a paired test, Holm-adjusted over the planned comparisons."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from codigem_lab.errors import ConfigError
from codigem_lab.experiments import paper
from codigem_lab.experiments.aggregate import (
    BEYOND_NOTE,
    Family,
    add_holm,
    beyond_display,
    beyond_metrics,
    compare,
    comparison_columns,
    comparison_fields,
    comparison_note,
    mean_std,
    per_user_frame,
    side_by_side,
)
from codigem_lab.experiments.common import (
    MODEL_TRAIN,
    ExperimentConfig,
    NeedRuns,
    compute_seconds,
    run_specs,
    training_path_note,
)
from codigem_lab.experiments.tables import TableResult, nan_to_none

METRICS = ("R@20", "R@50", "N@20", "N@50")
#: The paper's eight baselines, CODIGEM as the paper writes it and as released, and three more.
DEFAULT_MODELS = (
    "pop",
    "itemknn",
    "bpr",
    "wmf",
    "enmf",
    "neumf",
    "multvae",
    "macridvae",
    "codigem:paper",
    "codigem:released",
    "multdae",
    "ease",
    "diffrec",
)
#: Small grids for models whose key settings the paper does not give (tuned on validation R@50).
TUNING: dict[str, dict[str, list]] = {
    "itemknn": {"k": [50, 100, 200, 500]},
    "ease": {"lam": [100.0, 250.0, 500.0, 1000.0, 2500.0]},
    "wmf": {"alpha": [1.0, 3.0, 10.0, 40.0]},
}


def parse_models(models: str | list[str] | tuple[str, ...] | None) -> list[tuple[str, str | None]]:
    """'pop,codigem:released' -> [('pop', None), ('codigem', 'released')]; bare 'codigem' = both."""
    if models is None:
        models = DEFAULT_MODELS
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    out = []
    for m in models:
        name, _, variant = m.partition(":")
        if name == "codigem" and not variant:
            out += [("codigem", "paper"), ("codigem", "released")]
        else:
            out.append((name, variant or None))
    return out


def paper_dataset(cfg: ExperimentConfig) -> str | None:
    """Which of the paper's Table 2 blocks fits this data (``extra['paper_dataset']`` overrides)."""
    name = cfg.data_spec.name
    return cfg.extra.get("paper_dataset") or (name if paper.table2(name) is not None else None)


@dataclass(frozen=True)
class Published:
    """A paper's printed rows beside ours (rows: model names, columns: metrics), their column
    label and the note that says where they come from."""

    block: pd.DataFrame | None
    label: str = "paper"
    note: str = "No paper block for this dataset."


def paper_published(cfg: ExperimentConfig) -> Published:
    """The CODIGEM paper's Table 2 block for ``cfg``'s data (``--paper-dataset`` overrides)."""
    key = paper_dataset(cfg)
    block = paper.table2(key) if key else None
    if block is None and cfg.extra.get("paper_dataset"):
        raise ConfigError(
            f"--paper-dataset {key!r}: the paper's Table 2 has no such block; "
            f"one of {list(paper.TABLE2_BLOCKS)}"
        )
    if block is None:
        return Published(None)
    return Published(
        block,
        note=f"(paper) columns: the paper's Table 2, {key} block, as printed there (its text: a "
        "per-user 8:1:1 split, which its baseline rows match; CODIGEM's released code: strong "
        "generalisation).",
    )


@dataclass(frozen=True)
class Layout:
    """What a model table reports: its planned models, metrics, reference (the first of
    ``references`` that ran), trainer overrides and the published rows beside ours."""

    title: str = "Table 2"
    models: tuple[str, ...] = DEFAULT_MODELS
    metrics: tuple[str, ...] = METRICS
    significance: str = "R@50"
    references: tuple[tuple[str, str | None], ...] = (("codigem", "paper"), ("codigem", "released"))
    train: dict = field(default_factory=dict)
    model_train: dict = field(default_factory=dict)
    published: Callable[[ExperimentConfig], Published] = paper_published
    all_published: bool = False

    def train_for(self, model: str) -> dict:
        return {**self.train, **self.model_train.get(model, {})}

    def family(self) -> Family:
        """The planned comparisons, fixed before any run: every planned model against the first
        reference, on the significance metric, whatever ``--models`` a command gives."""
        ref = self.references[0]
        keys = [k for k in parse_models(self.models) if k != ref]
        return Family(tuple(paper.display_name(*k) for k in keys))


TABLE2 = Layout(model_train=MODEL_TRAIN)


def tune(
    cfg: ExperimentConfig, model: str, variant: str | None, cache, train: dict
) -> tuple[dict, list[dict], list]:
    """Grid-search ``TUNING[model]`` on seed 0's validation selection metric: the best params, the
    grid with each point's score, and the other points' records (the best is the table's seed 0)."""
    grid = TUNING.get(model)
    if not grid:
        return {}, [], []
    keys = list(grid)
    values = [grid[k][:2] if cfg.quick else grid[k] for k in keys]
    combos = [dict(zip(keys, v)) for v in itertools.product(*values)]
    specs = [cfg.spec(model, cfg.seeds[0], variant, c, **train) for c in combos]
    records, _ = run_specs(specs, cache, cfg.progress, label=f"tuning {model}")
    col = f"valid {specs[0].train.select_metric}"
    tried = [dict(c, **{col: r.valid[col[6:]]}) for c, r in zip(combos, records)]
    best = max(tried, key=lambda t: t[col])
    others = [r for t, r in zip(tried, records) if t is not best]
    return {k: best[k] for k in keys}, tried, others


def reproduce_table2(cfg: ExperimentConfig, layout: Layout = TABLE2) -> TableResult:
    """Each model (``cfg.extra["models"]``, else the layout's) for every seed, in a table beside the
    layout's published rows."""
    metrics, sig = layout.metrics, layout.significance
    published = layout.published(cfg)  # first: a wrong --paper-dataset fails before any run
    cache = cfg.cache()
    chosen: dict[str, dict] = {}
    tuning_log: dict[str, list] = {}
    groups: dict[tuple[str, str | None], list] = {}
    tuning_records: list = []
    wall = 0.0
    tuning_pending = False
    for model, variant in parse_models(cfg.extra.get("models") or layout.models):
        train = layout.train_for(model)
        try:
            params, tried, others = tune(cfg, model, variant, cache, train)
        except NeedRuns:  # a dry plan (reproduce all): the grid is queued; plan the other models
            tuning_pending = True
            continue
        tuning_records += others
        if tried:
            chosen[model], tuning_log[model] = params, tried
        if model == "codigem":  # ranking-equivalent: the full model's metrics, bit for bit
            params = cfg.codigem_params(params, fast=True)
        specs = [cfg.spec(model, s, variant, params, **train) for s in cfg.seeds]
        label = f"{model}{':' + variant if variant else ''}"
        records, secs = run_specs(specs, cache, cfg.progress, label=label)
        groups[(model, variant)] = records
        wall += secs
    if tuning_pending:  # its seeds wait for the grid's best point
        raise NeedRuns("a tuning grid")
    ref_key = next((k for k in layout.references if k in groups), layout.references[-1])
    ref = groups.get(ref_key)
    ref_label = paper.display_name(*ref_key)
    rows = []
    for (model, variant), records in groups.items():
        row = {
            "model": model,
            "variant": variant,
            "label": paper.display_name(model, variant),
            # the paper's CODIGEM row came from the released code, and its text describes the
            # paper preset: it stands beside both
            "paper_key": model,
            "protocol": cfg.protocol,
            "recall_definition": cfg.recall_definition,
            "seeds": len(records),
            **mean_std(records, metrics + beyond_metrics(metrics)),
            "params": chosen.get(model, records[0].spec.params),
            "budget": {
                "max_epochs": records[0].spec.train.max_epochs,
                "epochs": [r.summary.get("epochs") for r in records],
                "best_epoch": [r.summary.get("best_epoch") for r in records],
            },
        }
        compared = ref is not None and records is not ref
        row["reference"] = ref_label if compared else None
        row.update(comparison_fields(compare(records, ref, sig) if compared else None, sig))
        rows.append(row)
    planned = ref_key == layout.references[0]  # else none of these comparisons is planned
    family = layout.family() if planned else Family(())
    holm_note = add_holm(rows, family, [r["label"] for r in rows])
    per_user = per_user_frame(
        [
            (paper.display_name(*k), recs, None if ref is None or recs is ref else ref_label)
            for k, recs in groups.items()
        ],
        metrics,
    )
    frame = pd.DataFrame(rows)
    paper_block = published.block
    if layout.all_published and paper_block is not None:  # the published models we did not run
        unrun = [k for k in paper_block.index if k not in set(frame["paper_key"])]
        frame = pd.concat([frame, pd.DataFrame({"label": unrun, "paper_key": unrun})])
    table = side_by_side(frame, paper_block, metrics)
    table.columns = [c.replace("(paper)", f"({published.label})") for c in table.columns]
    eff = f"effect on {sig} vs {ref_label}"
    beyond = beyond_display(frame, beyond_metrics(metrics))
    for name, values in {**comparison_columns(frame, eff, sig), **beyond}.items():
        table[name] = values
    table.index.name = "model"
    rdef = "hits / min(K, #targets)" if cfg.recall_definition == "minK" else "hits / #targets"
    quick = " [QUICK MODE: few epochs, small data — not comparable with the paper]"
    notes = [
        f"Ours: mean [95% t-interval over seeds] of {len(cfg.seeds)} seed(s) {list(cfg.seeds)}; "
        f"{cfg.protocol} protocol; Recall@K = {rdef}; dataset {cfg.data_spec.dataset}"
        + (f" ({cfg.data_spec.source})" if cfg.data_spec.source else "")
        + (quick if cfg.quick else ""),
        seed_variance_note(cfg),
        published.note,
        f"{eff}: model minus {ref_label} in mean test {sig}, with its 95% "
        f"interval; {comparison_note(rows, holm_note)}",
        *([BEYOND_NOTE] if beyond else []),
        f"CODIGEM: {training_path_note(cfg)}",
    ]
    by_model = {
        paper.display_name(m, v): sum(compute_seconds(r) for r in records)
        for (m, v), records in groups.items()
    }
    compute_s = sum(by_model.values())
    top = sorted(by_model.items(), key=lambda kv: -kv[1])[:5]
    tuning_s = sum(compute_seconds(r) for r in tuning_records)
    notes.append(
        f"Compute recorded by the runs themselves: {compute_s / 60:.1f} min of training and "
        "validation in all (timings depend on what else shared the CPU when each run was made); "
        "most of it: "
        + ", ".join(f"{name} {secs / 60:.1f} min ({secs / compute_s:.0%})" for name, secs in top)
        + (f"; tuning runs add {tuning_s / 60:.1f} min" if tuning_records else "")
        + "."
    )
    if tuning_log:
        notes.append(
            f"Tuned on validation {layout.train.get('select_metric', 'R@50')} "
            f"(seed {cfg.seeds[0]}): "
            + "; ".join(f"{m} grid {TUNING[m]} -> {chosen[m]}" for m in tuning_log)
        )
    json_rows = []
    for r in rows:
        j = {k: r[k] for k in ("model", "variant", "protocol", "recall_definition", "seeds")}
        j.update({k: r[k] for k in r if k.endswith(("_mean", "_std", "_ci_low", "_ci_high"))})
        compared = ("reference", f"effect_{sig}", "effect_ci", "p", "p_holm", "p_method")
        j.update({k: r.get(k) for k in (*compared, "effect_per_seed", "users_per_seed")})
        j["params"], j["budget"] = r["params"], r["budget"]
        if paper_block is not None and r["paper_key"] in paper_block.index:
            j.update({f"paper_{m}": float(paper_block.loc[r["paper_key"], m]) for m in metrics})
        json_rows.append(nan_to_none(j))
    return TableResult(
        name=f"{layout.title} — {cfg.data_spec.name}, {cfg.protocol} protocol",
        table=table,
        rows=json_rows,
        notes=notes,
        wall_s=wall,
        extra={
            "tuning": tuning_log,
            "chosen": chosen,
            "seeds": list(cfg.seeds),
            "split_seed": cfg.split_seed,
            "compute_s": compute_s,
            "tuning_compute_s": tuning_s,
        },
        per_user=per_user,
    )


def seed_variance_note(cfg: ExperimentConfig) -> str:
    """Which sources of variance the seeds of ``cfg`` vary (the table notes say it)."""
    if cfg.data_spec.dataset == "published":
        return (
            "Seeds: every seed trains on the one published split (nothing is drawn), so the "
            "intervals and tests cover training randomness only, not the choice of split."
        )
    if cfg.split_seed is None:
        return (
            "Seeds: seed s trains with seed s on the data split made with seed s, so the "
            "intervals and tests cover training randomness and the choice of split together."
        )
    return (
        f"Seeds: every seed trains on the one data split made with split seed {cfg.split_seed}, "
        "so the intervals and tests cover training randomness only, not the choice of split."
    )
