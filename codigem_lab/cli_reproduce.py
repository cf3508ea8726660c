"""``codigem-lab reproduce TABLE``: rerun one of the paper's tables or figures through the cache."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from codigem_lab.experiments.common import ExperimentConfig

EXPERIMENTS = ("table2", "table3", "fig2", "fig3", "table4", "table5")


def register(sub) -> None:
    """Add the ``reproduce`` sub-command."""
    p = sub.add_parser(
        "reproduce", help="rerun one of the paper's tables/figures (results are cached)"
    )
    p.add_argument("what", choices=EXPERIMENTS)
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--source", default=None)
    p.add_argument("--preset", default=None)
    p.add_argument("--protocol", default="strong", choices=["strong", "ratio"])
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    p.add_argument("--models", default=None, help="comma list, e.g. pop,itemknn,codigem:paper")
    p.add_argument("--recall-definition", default="minK", choices=["minK", "targets"])
    p.add_argument(
        "--presets",
        default="paper,released",
        help="table3: CODIGEM presets to run, comma list (paper, released)",
    )
    p.add_argument("--max-epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="small data, few epochs (for tests)")
    p.add_argument("--cache-root", default=None, help="result cache (default: runs/cache)")
    p.add_argument("--out", default="results", help="folder for the table files")
    p.add_argument("--no-save", action="store_true", help="print only")
    p.add_argument("--paper-dataset", default=None, help="paper block to compare with (ml-1m, ...)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="end with the table as one JSON line")
    p.set_defaults(func=cmd_reproduce)


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    if args.seeds < 1:
        from codigem_lab.errors import ConfigError

        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    extra = {"paper_dataset": args.paper_dataset} if args.paper_dataset else {}
    if args.what == "table3":
        presets = parse_presets(args.presets)
        if presets != ("paper", "released"):
            extra["presets"] = presets
    return ExperimentConfig(
        dataset=args.dataset,
        source=args.source,
        preset=args.preset,
        protocol=args.protocol,
        seeds=tuple(range(args.seeds)),
        recall_definition=args.recall_definition,
        max_epochs=args.max_epochs,
        patience=args.patience,
        device=args.device,
        quick=args.quick,
        progress=not args.no_progress,
        cache_root=args.cache_root,
        extra=extra,
    )


def parse_presets(text: str) -> tuple[str, ...]:
    """'paper,released' -> ('paper', 'released'), refusing unknown names."""
    from codigem_lab.diffusion.model import PRESETS
    from codigem_lab.errors import ConfigError

    presets = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in presets if p not in PRESETS]
    if not presets or bad:
        raise ConfigError(f"--presets must be a comma list of {list(PRESETS)}; got {text!r}")
    return presets


def cmd_reproduce(args) -> int:
    from codigem_lab.experiments import studies, table2

    cfg = config_from_args(args)
    command = (
        "codigem-lab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if sys.argv[1:2] == ["reproduce"]
        else ""
    )
    name = cfg.dataset if cfg.dataset != "csv" else (table2.paper_dataset(cfg) or "csv")
    stem = f"{args.what}-{name}-{cfg.protocol}" + ("-quick" if cfg.quick else "")
    folder = Path(args.out) / args.what
    figures = []
    if args.what == "table2":
        result = table2.reproduce_table2(cfg, args.models, command)
        stem = table2.default_stem(cfg)
    elif args.what == "table3":
        result = studies.reproduce_table3(cfg, command=command)
        if cfg.extra.get("presets"):
            stem += "-" + "-".join(cfg.extra["presets"])
    elif args.what == "fig2":
        from codigem_lab.viz.sensitivity import plot_beta_sweep

        result, runs = studies.reproduce_fig2(cfg, command)
        figures.append((plot_beta_sweep(runs, title=f"Fig. 2: beta ({name})"), "beta"))
    elif args.what == "fig3":
        from codigem_lab.viz.studies import plot_convergence, plot_sweep

        result, runs = studies.reproduce_fig3(cfg, command)
        figures.append(
            (
                plot_sweep(
                    studies.summarise_sweep(runs, "T"), "T", title=f"Fig. 3 left: T ({name})"
                ),
                "T",
            )
        )
        figures.append(
            (
                plot_convergence(runs, "T", title=f"Fig. 3 right: convergence ({name})"),
                "convergence",
            )
        )
    elif args.what == "table4":
        result = studies.reproduce_table4(cfg, command)
    else:
        result = studies.reproduce_table5(cfg, command)
    print(result.text())
    if not args.no_save:
        paths = result.save(folder, stem)
        for fig, suffix in figures:
            from codigem_lab.viz.studies import save_figure

            paths += save_figure(fig, folder / f"{stem}-{suffix}")
        print("saved: " + ", ".join(str(p) for p in paths))
    if args.json:
        print(result.json_line())
    return 0
