"""DiffRec's Table 2 side by side: the lab's models on DiffRec's own ML-1M split, by DiffRec's rules.

Run with ``--dataset published --source <folder of DiffRec's train/valid/test_list.npy>``. The
split is read as shipped and evaluated as DiffRec's code evaluates it (every user; validation masks
the training items, the test masks training and validation items; Recall@K = hits / #targets
averaged over all users, ``evaluate_utils.computeTopNAccuracy``; K in 10, 20, 50, 100).

DiffRec's ML-1M clean settings, read in github.com/YiyanXu/DiffRec: ``DiffRec/inference.py`` (the
``ml-1m_clean`` branch: steps 40, noise_scale 0.005, noise_min 0.005, noise_max 0.01, and its
checkpoint ``ml-1m_clean_lr0.001_wd0.0_bs400_dims[200,600]_emb10_x0_steps40_..._sample0_reweight1``)
and ``DiffRec/main.py`` (AdamW with that weight decay, at most 1000 epochs, validation every 5
epochs, selection on validation Recall@20, and a stop once 20 epochs have passed since the best
one, i.e. after three validations without a better one). The lab's DiffRec defaults are those
settings (:mod:`codigem_lab.baselines.diffrec`); here it also validates every 5 epochs and stops
after 15 epochs without a better validation Recall@20, which is the same rule. Every model selects
on validation Recall@20; the others validate every epoch with the command's patience.
"""

from __future__ import annotations

import dataclasses

from codigem_lab.experiments import diffrec_paper
from codigem_lab.experiments.common import ExperimentConfig, run_specs
from codigem_lab.experiments.paper import display_name
from codigem_lab.experiments.table2 import Layout, Published, reproduce_table2
from codigem_lab.experiments.tables import TableResult

MODELS = ("pop", "itemknn", "ease", "multvae", "codigem:paper", "codigem:released", "diffrec")
LABEL = "DiffRec paper"


def diffrec_published(cfg: ExperimentConfig) -> Published:
    """The block of DiffRec's Table 2 for ``cfg`` (``--paper-dataset``, else ``ml-1m`` for a
    published split), labelled as that paper's."""
    block = cfg.extra.get("paper_dataset") or ("ml-1m" if cfg.dataset == "published" else None)
    frame = diffrec_paper.table2(block) if block else None
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
    model_train={"diffrec": {"eval_every": 5, "patience": 15}},
    published=diffrec_published,
    all_published=True,
)


def reproduce_diffrec(cfg: ExperimentConfig) -> TableResult:
    """Every model of :data:`MODELS` (or ``--models``) for every seed, by DiffRec's rules (Recall
    as hits / #targets whatever ``--recall-definition`` says), beside DiffRec's published rows."""
    cfg = dataclasses.replace(cfg, recall_definition="targets")
    result = reproduce_table2(cfg, cfg.extra.get("models"), LAYOUT)
    result.notes.append(budget_note(result.rows))
    if "diffrec" in {r["model"] for r in result.rows}:
        result.notes.append(every_epoch_probe(cfg))
    return result


def every_epoch_probe(cfg: ExperimentConfig) -> str:
    """DiffRec of the first seed trained again, validated every epoch (same patience in epochs):
    what DiffRec's rule of validating every 5 epochs costs or gains, measured, not guessed."""
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
    """Epochs trained and the selected (best) epoch of each seed against the cap, for every
    trained model: a best epoch near the cap says the budget, not the rule, ended training."""
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
