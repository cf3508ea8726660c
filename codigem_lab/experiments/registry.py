"""The study registry: each of the paper's tables and figures defined once.

A :class:`Study` names its run function, its own command-line options, its file stem and the
figures it saves. ``codigem-lab reproduce``, the notebooks' :func:`~codigem_lab.experiments.
interactive.reproduce` and every printed "same runs as: codigem-lab reproduce ..." line derive
from :data:`STUDIES`, so adding a study or a flag is one edit here. The figures themselves are
drawn by :mod:`codigem_lab.viz.study_figures` (the layer above), keyed by the names listed here.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from codigem_lab.errors import ConfigError
from codigem_lab.experiments.common import ExperimentConfig
from codigem_lab.experiments.tables import TableResult
from codigem_lab.options import Option, argv_for


@dataclass
class StudyOutput:
    """What a study's run function returns: its table and, for sweeps, the per-run frame."""

    result: TableResult
    runs: pd.DataFrame | None = None


@dataclass(frozen=True)
class Study:
    """One table or figure of the paper: how to run it, its options, files and figures."""

    name: str
    title: str
    run: Callable[[ExperimentConfig, str], StudyOutput]
    options: tuple[Option, ...] = ()
    figures: tuple[str, ...] = ()
    stem_parts: Callable[[ExperimentConfig], list[str]] = field(default=lambda cfg: [])

    def config_values(self, cfg: ExperimentConfig) -> dict:
        """This study's options as ``cfg.extra`` holds them."""
        return {o.dest: cfg.extra[o.dest] for o in self.options if o.dest in cfg.extra}

    def command(self, cfg: ExperimentConfig) -> str:
        """The ``codigem-lab reproduce`` command that makes exactly these runs."""
        words = ["codigem-lab", "reproduce", self.name, *cfg.to_argv()]
        words += argv_for(self.config_values(cfg), self.options)
        return " ".join(shlex.quote(w) for w in words)

    def stem(self, cfg: ExperimentConfig) -> str:
        """File stem: ``<study>-<data>-<protocol>[-parts][-reverse-scoring][-quick]``."""
        parts = [self.name, cfg.data_spec.name, cfg.protocol, *self.stem_parts(cfg)]
        if cfg.score_mode != "decoder":
            parts.append(f"{cfg.score_mode}-scoring")
        return "-".join(parts) + ("-quick" if cfg.quick else "")

    def execute(self, cfg: ExperimentConfig) -> StudyOutput:
        """Run (or load from the cache) the study; its files name :meth:`command`."""
        return self.run(cfg, self.command(cfg))


def _table2(cfg: ExperimentConfig, command: str) -> StudyOutput:
    from codigem_lab.experiments import table2

    return StudyOutput(table2.reproduce_table2(cfg, cfg.extra.get("models"), command))


def _table3(cfg: ExperimentConfig, command: str) -> StudyOutput:
    from codigem_lab.experiments import studies

    return StudyOutput(studies.reproduce_table3(cfg, command=command))


def _fig2(cfg: ExperimentConfig, command: str) -> StudyOutput:
    from codigem_lab.experiments import studies

    return StudyOutput(*studies.reproduce_fig2(cfg, command))


def _fig3(cfg: ExperimentConfig, command: str) -> StudyOutput:
    from codigem_lab.experiments import studies

    return StudyOutput(*studies.reproduce_fig3(cfg, command))


def _table4(cfg: ExperimentConfig, command: str) -> StudyOutput:
    from codigem_lab.experiments import studies

    return StudyOutput(studies.reproduce_table4(cfg, command))


def _table5(cfg: ExperimentConfig, command: str) -> StudyOutput:
    from codigem_lab.experiments import studies

    return StudyOutput(studies.reproduce_table5(cfg, command))


def _parse_presets(text: str) -> tuple[str, ...]:
    """'paper,released' -> ('paper', 'released'), refusing unknown names."""
    from codigem_lab.diffusion.model import PRESETS

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

STUDIES: dict[str, Study] = {
    s.name: s
    for s in (
        Study(
            "table2",
            "Table 2: every model against the paper's rows",
            _table2,
            (MODELS, PAPER_DATASET),
            stem_parts=lambda cfg: [cfg.recall_definition],
        ),
        Study(
            "table3",
            "Table 3: CODIGEM variants I-IV",
            _table3,
            (PRESETS_OPTION, PAPER_DATASET),
            stem_parts=lambda cfg: list(cfg.extra.get("presets") or ("paper", "released")),
        ),
        Study("fig2", "Fig. 2: sensitivity to beta", _fig2, (PAPER_DATASET,), ("beta",)),
        Study("fig3", "Fig. 3: T and convergence", _fig3, (PAPER_DATASET,), ("T", "convergence")),
        Study("table4", "Table 4: seconds per epoch against T", _table4, (PAPER_DATASET,)),
        Study("table5", "Table 5: efficiency against the VAEs", _table5, (PAPER_DATASET,)),
    )
}


def get_study(name: str) -> Study:
    """The study called ``name``; ConfigError listing the known ones."""
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; choose one of {', '.join(STUDIES)}")
    return STUDIES[name]
