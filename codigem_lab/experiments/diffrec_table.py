"""DiffRec's Table 2 side by side: the lab's models on DiffRec's own ML-1M split, by DiffRec's rules
(``--dataset published``); the rules and where they were read: docs/baselines.md."""

from __future__ import annotations

import contextlib
import dataclasses

from codigem_lab.errors import ConfigError
from codigem_lab.experiments import diffrec_paper
from codigem_lab.experiments.common import MODEL_TRAIN, ExperimentConfig, NeedRuns, run_specs
from codigem_lab.experiments.paper import display_name
from codigem_lab.experiments.table2 import (
    Layout,
    Published,
    parse_models,
    reproduce_table2,
)
from codigem_lab.experiments.tables import TableResult

MODELS = ("pop", "itemknn", "ease", "multvae", "codigem:paper", "codigem:released", "diffrec")
LABEL = "DiffRec paper"


def diffrec_published(cfg: ExperimentConfig) -> Published:
    """DiffRec's Table 2 block for ``cfg`` (``--paper-dataset``, else ml-1m for a published split),
    labelled as that paper's."""
    published = cfg.data_spec.dataset == "published"
    block = cfg.extra.get("paper_dataset") or ("ml-1m" if published else None)
    frame = diffrec_paper.table2(block) if block else None
    if frame is None and cfg.extra.get("paper_dataset"):
        raise ConfigError(
            f"--paper-dataset {block!r}: {diffrec_paper.PAPER} has no such block; "
            f"one of {list(diffrec_paper.BLOCKS)}"
        )
    if frame is None:
        return Published(None, LABEL, f"No block of {diffrec_paper.PAPER} for this data.")
    return Published(frame, LABEL, diffrec_paper.source_note(block))


LAYOUT = Layout(
    title="DiffRec's Table 2 (clean training)",
    models=MODELS,
    metrics=diffrec_paper.COLUMNS,
    significance="R@20",
    references=(("diffrec", None),),
    train={"ks": (10, 20, 50, 100), "select_metric": "R@20"},
    model_train=MODEL_TRAIN,
    published=diffrec_published,
    all_published=True,
)


def reproduce_diffrec(cfg: ExperimentConfig) -> TableResult:
    """Table 2's machinery with :data:`LAYOUT`, Recall as hits / #targets (DiffRec's), whatever
    ``--recall-definition`` says."""
    cfg = dataclasses.replace(cfg, recall_definition="targets")
    try:
        result = reproduce_table2(cfg, LAYOUT)
    except NeedRuns:  # a dry plan waiting for a tuning grid: queue the probe now, not after it
        if any(m == "diffrec" for m, _ in parse_models(cfg.extra.get("models") or LAYOUT.models)):
            with contextlib.suppress(NeedRuns):
                every_epoch_probe(cfg)
        raise
    result.notes.append(budget_note(result.rows))
    if "diffrec" in {r["model"] for r in result.rows}:
        result.notes.append(every_epoch_probe(cfg))
    return result


def every_epoch_probe(cfg: ExperimentConfig) -> str:
    """DiffRec of the first seed again, validated every epoch: what DiffRec's rule of validating
    every 5 epochs costs or gains, measured."""
    train = LAYOUT.train_for("diffrec")
    specs = [
        cfg.spec("diffrec", cfg.seeds[0], None, None, **{**train, "eval_every": every})
        for every in (train["eval_every"], 1)
    ]
    (rule, probe), _ = run_specs(specs, cfg.cache(), cfg.progress, label="diffrec probe")
    text = [
        f"selected epoch {r.summary.get('best_epoch')} of {r.summary.get('epochs')}, test "
        f"R@20 {r.test['R@20']:.4f}, N@20 {r.test['N@20']:.4f}"
        for r in (rule, probe)
    ]
    return (
        f"Probe (seed {cfg.seeds[0]}): DiffRec validated every {train['eval_every']} epochs as "
        f"DiffRec's code does: {text[0]}; validated every epoch: {text[1]}."
    )


def budget_note(rows: list[dict]) -> str:
    """Epochs trained / selected epoch per seed against the cap: a best epoch near the cap says the
    budget, not the rule, ended training."""
    trained = [r for r in rows if r["budget"]["max_epochs"] > 1 and max(r["budget"]["epochs"]) > 1]
    return (
        "Training budget (epochs trained / selected epoch, per seed; cap): "
        + "; ".join(
            f"{display_name(r['model'], r['variant'])} "
            + ", ".join(
                f"{e}/{b}" for e, b in zip(r["budget"]["epochs"], r["budget"]["best_epoch"])
            )
            + f" (cap {r['budget']['max_epochs']})"
            for r in trained
        )
        + "."
    )
