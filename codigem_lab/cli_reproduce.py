"""``codigem-lab reproduce STUDY``: one of the paper's tables or figures through the cache (as the
study registry defines it); ``reproduce all``: every committed results file again."""

from __future__ import annotations

from codigem_lab.data.spec import DataSpec
from codigem_lab.experiments.common import ExperimentConfig
from codigem_lab.experiments.registry import STUDIES
from codigem_lab.options import given_values
from codigem_lab.report import json_line
from codigem_lab.reproduce import (
    add_arguments,
    config_from_args,
    plan_text,
    report_text,
    results_plan,
    run_plan,
    save_output,
)


def register(sub) -> None:
    """Add the ``reproduce`` sub-command."""
    p = sub.add_parser(
        "reproduce", help="rerun one of the paper's tables/figures (results are cached), or all"
    )
    add_arguments(p)
    p.set_defaults(func=cmd_reproduce)


def plan_for(args) -> list:
    """``reproduce all``'s plan: the committed files, with the flags given here replacing theirs."""
    overrides = given_values(args, ExperimentConfig.OPTIONS)
    if "seeds" in overrides:
        overrides["seeds"] = tuple(range(args.seeds))
    data = given_values(args, DataSpec.OPTIONS)
    return results_plan(out=args.out, overrides=overrides, data=data)


def cmd_reproduce(args) -> int:
    if args.what == "all":
        items = plan_for(args)
        print(plan_text(items, args.workers))
        if not args.dry_run:
            print(report_text(run_plan(items, args.workers, progress=not args.no_progress)))
        return 0
    study = STUDIES[args.what]
    cfg = config_from_args(args)
    out = study.execute(cfg)
    print(out.result.text())
    if not args.no_save:
        paths = save_output(study, cfg, out, args.out)
        print("saved: " + ", ".join(str(p) for p in paths))
    if args.json:
        print(json_line(out.result.rows))
    return 0
