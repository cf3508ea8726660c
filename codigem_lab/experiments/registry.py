"""The study registry: each of the paper's tables and figures listed once, with its run function,
options, file stem and figures; ``reproduce``, the notebooks and every printed command use it."""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from codigem_lab.diffusion.model import PRESETS
from codigem_lab.errors import ConfigError
from codigem_lab.experiments.cache import ResultCache, code_version
from codigem_lab.experiments.common import ExperimentConfig, active_plan, planning
from codigem_lab.experiments.diffrec_table import reproduce_diffrec
from codigem_lab.experiments.studies import (
    reproduce_fig2,
    reproduce_fig3,
    reproduce_table3,
    reproduce_table4,
    reproduce_table5,
)
from codigem_lab.experiments.table2 import reproduce_table2
from codigem_lab.experiments.tables import TableResult, origin_line
from codigem_lab.options import Option, argv_for
from codigem_lab.paths import repo_root, results_root


def _parse_presets(text: str) -> tuple[str, ...]:
    """'paper,released' -> ('paper', 'released'), refusing unknown names."""
    presets = tuple(p.strip() for p in str(text).split(",") if p.strip())
    bad = [p for p in presets if p not in PRESETS]
    if not presets or bad:
        raise ConfigError(f"--presets must be a comma list of {list(PRESETS)}; got {text!r}")
    return presets


PAPER_DATASET = Option(
    "paper_dataset", "--paper-dataset", str, None, "paper block to compare with (ml-1m, ...)"
)
MODELS = Option("models", "--models", str, None, "comma list, e.g. pop,itemknn,codigem:paper")
PRESETS_OPTION = Option(
    "presets",
    "--presets",
    _parse_presets,
    ("paper", "released"),
    "table3: CODIGEM presets to run, comma list (paper, released)",
)


@dataclass
class StudyOutput:
    """What a study's run function returns: its table and, for sweeps, the per-run frame."""

    result: TableResult
    runs: pd.DataFrame | None = None


@dataclass(frozen=True)
class Study:
    """One table or figure of the paper: its run function (a table, or a table and per-run frame),
    its flags (by default ``--paper-dataset`` alone), files and figures; ``timed``: it reports
    seconds, so ``reproduce all`` runs it last, alone."""

    name: str
    title: str
    run: Callable[[ExperimentConfig], TableResult | tuple[TableResult, pd.DataFrame]]
    options: tuple[Option, ...] = (PAPER_DATASET,)
    figures: tuple[str, ...] = ()
    stem_parts: Callable[[ExperimentConfig], list[str]] = field(default=lambda cfg: [])
    timed: bool = False

    def command(self, cfg: ExperimentConfig) -> str:
        """The ``codigem-lab reproduce`` command that makes these runs, from the repository root (a
        source file beside the repository named relative to it, as the results files name it); where
        the result cache lies and whether it keeps checkpoints change no result: left out."""
        cfg = dataclasses.replace(cfg, cache_root=None, keep_best=True)
        root, source = repo_root(), cfg.data_spec.source
        if root is not None and source and os.path.isabs(source):
            rel = os.path.relpath(source, root)
            if not rel.startswith(os.path.join(os.pardir, os.pardir)):
                cfg = dataclasses.replace(
                    cfg, data_spec=dataclasses.replace(cfg.data_spec, source=rel)
                )
        words = ["codigem-lab", "reproduce", self.name, *cfg.to_argv()]
        words += argv_for(cfg.extra, self.options)
        command = " ".join(shlex.quote(w) for w in words)
        if cfg.seeds != tuple(range(len(cfg.seeds))):
            command += (
                f"  # note: the CLI runs seeds 0..{len(cfg.seeds) - 1}, not {list(cfg.seeds)}"
            )
        return command

    def stem(self, cfg: ExperimentConfig) -> str:
        """File stem: ``<study>-<data>-<protocol>[-parts][-reverse-scoring][-quick]``."""
        parts = [self.name, cfg.data_spec.name, cfg.protocol, *self.stem_parts(cfg)]
        if cfg.score_mode != "decoder":
            parts.append(f"{cfg.score_mode}-scoring")
        return "-".join(parts) + ("-quick" if cfg.quick else "")

    def execute(self, cfg: ExperimentConfig) -> StudyOutput:
        """Run the study through the result cache; its table names :meth:`command`, its ``origin``
        whether any run was trained just now, and its extra the runs used and their compute."""
        before = ResultCache.trained
        with nullcontext(active_plan()) if active_plan() else planning(dry=False) as plan:
            out = self.run(cfg)
        result, runs = out if isinstance(out, tuple) else (out, None)
        result.command = self.command(cfg)
        result.extra.setdefault("compute_s", plan.compute_s())
        result.extra["runs"] = len(plan.records)
        if ResultCache.trained > before:
            result.origin = f"computed just now ({'learn' if cfg.quick else 'paper'} mode)"
        else:
            root, top = cfg.cache().root, repo_root()
            shown = root.relative_to(top) if top and root.is_relative_to(top) else root
            doc = {"command": result.command, "provenance": {"code_version": code_version()}}
            result.origin = origin_line(doc, f"the result cache {shown}")
        return StudyOutput(result, runs)

    def results_path(self, cfg: ExperimentConfig, root: Path | None = None) -> Path:
        """The results file of these settings: ``results/<study>/<stem>.json``."""
        return Path(root or results_root()) / self.name / f"{self.stem(cfg)}.json"

    def load(self, cfg: ExperimentConfig, root: Path | None = None) -> StudyOutput:
        """The table of the committed results file (no per-run frame); ConfigError naming the
        command that makes it when it is missing."""
        root = Path(root or results_root())
        path = self.results_path(cfg, root)
        if not path.is_file():
            raise ConfigError(
                f"no results file {path}; make it with `{self.command(cfg)}` or run the study now"
            )
        return StudyOutput(TableResult.load(path, shown=str(path.relative_to(root.parent))))


STUDIES: dict[str, Study] = {
    s.name: s
    for s in (
        Study(
            "table2",
            "Table 2: every model against the paper's rows",
            reproduce_table2,
            (MODELS, PAPER_DATASET),
            stem_parts=lambda cfg: [cfg.recall_definition],
        ),
        Study(
            "table3",
            "Table 3: CODIGEM variants I-IV",
            reproduce_table3,
            (PRESETS_OPTION, PAPER_DATASET),
            stem_parts=lambda cfg: list(cfg.extra.get("presets") or ("paper", "released")),
        ),
        Study("fig2", "Fig. 2: sensitivity to beta", reproduce_fig2, figures=("beta",)),
        Study("fig3", "Fig. 3: T and convergence", reproduce_fig3, figures=("T", "convergence")),
        Study("table4", "Table 4: seconds per epoch against T", reproduce_table4, timed=True),
        Study("table5", "Table 5: efficiency against the VAEs", reproduce_table5, timed=True),
        Study(
            "diffrec-ml1m",
            "DiffRec's Table 2 (ML-1M, clean): our models on DiffRec's split, by its rules",
            reproduce_diffrec,
            (MODELS, PAPER_DATASET),
        ),
    )
}


def get_study(name: str) -> Study:
    """The study called ``name``; ConfigError listing the known ones."""
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; choose one of {', '.join(STUDIES)}")
    return STUDIES[name]
