"""``codigem-lab reproduce STUDY``: rerun one of the paper's tables or figures through the cache
(studies, options, file names and figures all come from the study registry)."""

from __future__ import annotations

import argparse
from pathlib import Path

from codigem_lab.data.spec import DataSpec
from codigem_lab.errors import ConfigError
from codigem_lab.experiments.common import ExperimentConfig
from codigem_lab.experiments.registry import STUDIES
from codigem_lab.options import add_options, values_from_args


def _study_options() -> list:
    """Every study's own options, once each (several studies share --paper-dataset)."""
    seen: dict[str, object] = {}
    for study in STUDIES.values():
        for opt in study.options:
            seen.setdefault(opt.dest, opt)
    return list(seen.values())


def register(sub) -> None:
    """Add the ``reproduce`` sub-command."""
    p = sub.add_parser(
        "reproduce", help="rerun one of the paper's tables/figures (results are cached)"
    )
    p.add_argument("what", choices=list(STUDIES), help="; ".join(s.title for s in STUDIES.values()))
    add_options(p, DataSpec.OPTIONS + DataSpec.SPLIT_OPTIONS)
    add_options(p, ExperimentConfig.OPTIONS)
    add_options(p, _study_options())
    p.add_argument("--out", default="results", help="folder for the table files")
    p.add_argument("--no-save", action="store_true", help="print only")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="end with the table as one JSON line")
    p.set_defaults(func=cmd_reproduce)


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The ExperimentConfig (with the study's own options in ``extra``) a command line describes."""
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    values = values_from_args(args, ExperimentConfig.OPTIONS)
    values["seeds"] = tuple(range(args.seeds))
    study = STUDIES[args.what]
    extra = {
        o.dest: getattr(args, o.dest)
        for o in study.options
        if getattr(args, o.dest) is not None and getattr(args, o.dest) != o.default
    }
    return ExperimentConfig(
        data_spec=DataSpec.from_args(args),
        progress=not args.no_progress,
        extra=extra,
        **values,
    )


def cmd_reproduce(args) -> int:
    study = STUDIES[args.what]
    cfg = config_from_args(args)
    out = study.execute(cfg)
    print(out.result.text())
    if not args.no_save:
        from codigem_lab.viz.studies import save_figure
        from codigem_lab.viz.study_figures import study_figures

        folder, stem = Path(args.out) / study.name, study.stem(cfg)
        paths = out.result.save(folder, stem)
        for fig, suffix in study_figures(study.name, out, cfg.data_spec.name):
            paths += save_figure(fig, folder / f"{stem}-{suffix}")
        print("saved: " + ", ".join(str(p) for p in paths))
    if args.json:
        print(out.result.json_line())
    return 0
