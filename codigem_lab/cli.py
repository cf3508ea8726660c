"""The ``codigem-lab`` command: a thin layer that parses options and calls the library.
Errors a user can fix exit with one line on stderr (``--debug`` shows the traceback)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from codigem_lab.errors import CodigemError, ConfigError
from codigem_lab.report import item_name, json_line


def cmd_data_stats(args) -> int:
    from codigem_lab.data import table1_stats
    from codigem_lab.data.spec import DataSpec

    spec = DataSpec.from_args(args, split=False)
    stats = table1_stats(spec.interactions())
    stats["dataset"] = args.dataset
    print(f"Table 1 statistics for {spec.label}:")
    for key in ("users", "items", "interactions"):
        print(f"  {key:<13} {stats[key]:>12,}")
    print(f"  {'sparsity':<13} {stats['sparsity']:>11.2f}%")
    if args.json:
        print(json_line(stats))
    return 0


def cmd_data_fetch(args) -> int:
    from codigem_lab.data.registry import get_spec, locate_ratings

    path = locate_ratings(get_spec(args.name), cache=args.cache, progress=not args.no_progress)
    print(f"{args.name}: {path} (checksum verified)")
    return 0


def cmd_quickstart(args) -> int:
    from codigem_lab.data.spec import DataSpec, resolve_data
    from codigem_lab.quickstart import run_quickstart

    if args.dataset == "auto":  # ML-100K from the cache or the registry, else synthetic (offline)
        data = resolve_data("auto", quick=True, cache=args.cache, progress=not args.no_progress)
    else:
        data = DataSpec.from_args(args, split=False)
    report = run_quickstart(data, epochs=args.epochs, progress=not args.no_progress)
    print(report.text)
    if args.json:
        print(json_line(report.summary))
    return 0


def cmd_claims(args) -> int:
    from codigem_lab.experiments import claims

    if args.check:
        stale = claims.stale(args.out)
        command = claims.COMMAND + (f" --out {args.out}" if args.out else "")
        for name in stale:
            print(f"{name} differs from the results files; run `{command}`", file=sys.stderr)
        return 1 if stale else 0
    for path in claims.write(args.out):
        print(f"wrote {path}")
    return 0


def cmd_reproduce(args) -> int:
    """One of the paper's tables or figures through the cache (as the study registry defines it);
    ``all``: every committed results file again."""
    from codigem_lab import reproduce
    from codigem_lab.experiments.registry import STUDIES

    own = [o.flag for s in STUDIES.values() for o in reproduce.given_options(args, s.options)]
    if args.what == "all":
        if args.workers < 1:
            raise ConfigError(f"--workers must be >= 1 (worker processes), got {args.workers}")
        if own:
            raise ConfigError(
                f"{', '.join(dict.fromkeys(own))}: a study's own option; `reproduce all` makes "
                "each file with the options stored in it (give it to `reproduce <study>`)"
            )
        items = reproduce.plan_for(args)
        changed = reproduce.changed_flags(args)
        print(reproduce.plan_text(items, args.workers, args.out, changed))
        if not args.dry_run:
            report = reproduce.run_plan(items, args.workers, progress=not args.no_progress)
            print(reproduce.report_text(report))
        return 0
    if "--workers" in reproduce.named_flags(args):
        raise ConfigError("--workers is for `reproduce all`; one study trains in this process")
    study = STUDIES[args.what]
    cfg = reproduce.config_from_args(args)
    if args.dry_run:
        print(reproduce.study_plan_text(study, cfg, args.out))
        return 0
    out = study.execute(cfg)
    print(out.result.text())
    if not args.no_save:
        paths = reproduce.save_output(study, cfg, out, args.out)
        print("saved: " + ", ".join(str(p) for p in paths))
    if args.json:
        print(json_line(out.result.rows))
    return 0


#: ``explore``'s flags, generated from ExploreSetting (``--preset`` is CODIGEM's preset here,
#: ``--data-preset`` the preprocessing); a flag not given leaves the setting's default.
EXPLORE_SKIP = ("split_seed", "patience", "batch_size")


def cmd_explore(args) -> int:
    """The live explorer's computation for one setting, from the shell: CODIGEM trained through
    the result cache, one user's top 10 beside Pop's and Item-KNN's."""
    from codigem_lab.data.spec import resolve_data
    from codigem_lab.experiments.explore import ExploreSetting, data_fields, explore
    from codigem_lab.options import config_options, given_values

    s = ExploreSetting(**given_values(args, config_options(ExploreSetting, skip=EXPLORE_SKIP)))
    # the data as the notebooks get it: the cache or the registry, else synthetic with its banner
    data = resolve_data(
        s.dataset, s.source, s.data_preset, progress=not args.no_progress, seed=s.split_seed,
        max_users=s.max_users,
    )  # fmt: skip
    if data.banner and s.dataset != "synthetic":
        print(f"{s.dataset} is not available: {data.banner}")
    setting = dataclasses.replace(s, **data_fields(data))
    print(f"explore {setting.label()} on {setting.dataset} (cached settings return at once)")
    result = explore(setting, cache=args.cache_root, progress=not args.no_progress)
    print(explore_text(result))
    if args.json:
        print(json_line(result.to_json()))
    return 0


def explore_text(result, width: int = 34) -> str:
    """What ``codigem-lab explore`` prints for an ``ExploreResult``: the setting, the three models'
    accuracy and popularity, the user's history and the three top-10 lists side by side."""
    from codigem_lab.experiments.explore import MODELS, TOP_N, TOP_STORED
    from codigem_lab.experiments.paper import DISPLAY

    beyond = [f"{m}@{TOP_STORED}" for m in ("ARP", "novelty", "coverage")]

    def cell(t) -> str:
        if t is None:
            return ""
        text = ("* " if t.hit else "  ") + t.title
        return text if len(text) <= width else text[: width - 1] + "~"

    s = result.setting
    how = "trained now" if result.trained else "from the cache"
    lines = [
        f"{s.label()} on {s.dataset}: {result.epochs} epochs (best {result.best_epoch}), "
        f"{how}, {result.seconds:.1f} s",
        f"alpha_bar_1 = {result.alpha_bar_1:.6g}, alpha_bar_T = {result.alpha_bar_T:.6g}",
        "",
        f"{'':<8}{'R@20':>8}{'R@50':>8}" + "".join(f"{k:>13}" for k in beyond),
    ]
    for model in MODELS:
        m, b = result.metrics[model], result.beyond.get(model, {})
        lines.append(
            f"{DISPLAY[model]:<8}{m['R@20']:>8.4f}{m['R@50']:>8.4f}"
            + "".join(f"{b.get(k, math.nan):>13.3f}" for k in beyond)
        )
    lines += [
        "",
        f"User {result.user} rated {len(result.seen)} movies, e.g. "
        + "; ".join(result.seen[:TOP_N]),
        "",
        f"Top {TOP_N} for test user {result.user} ({result.n_fold_in} movies seen, "
        f"{len(result.targets)} held out; * = a held-out one):",
        "    " + "".join(f"{DISPLAY[m]:<{width + 2}}" for m in MODELS),
    ]
    for i in range(TOP_N):
        row = [result.top[m][i] if i < len(result.top[m]) else None for m in MODELS]
        lines.append(f"{i + 1:>2}  " + "".join(f"{cell(t):<{width + 2}}" for t in row).rstrip())
    return "\n".join(lines)


def cmd_recommend(args) -> int:
    """A finished run's top-k items for one user, by title."""
    from codigem_lab.cli_train import run_folder_errors
    from codigem_lab.saved import open_run

    if args.k < 1:
        raise ConfigError(f"--k must be at least 1, got {args.k}")
    with run_folder_errors(args.run_dir):
        run = open_run(args.run_dir)
    top = run.recommend(args.user, args.k)
    titles = run.spec.data.titles()
    top["title"] = [item_name(i, titles) for i in top["item"]]
    es, row = run.user_row(args.user)
    print(
        f"top {len(top)} for user {args.user} ({es.fold_in[row].nnz} fold-in items excluded) "
        f"from {run.spec.model} in {args.run_dir}:"
    )
    for r in top.itertuples():
        print(f"{r.rank:>3}. {r.title}  (item {r.item}, score {r.score:.4g})")
    if args.json:
        items = [{"rank": int(r.rank), "item": int(r.item), "title": r.title, "score": float(r.score)}
                 for r in top.itertuples()]  # fmt: skip
        print(json_line({"user": args.user, "items": items}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from codigem_lab import cli_train
    from codigem_lab.data.spec import DataSpec
    from codigem_lab.experiments.explore import ExploreSetting
    from codigem_lab.options import add_options, config_options
    from codigem_lab.reproduce import add_arguments

    parser = argparse.ArgumentParser(prog="codigem-lab", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: torch's, or $CODIGEM_LAB_THREADS); use 1 when several "
        "jobs share the cores: oversubscribed threads run many times slower",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="datasets: statistics")
    dsub = data.add_subparsers(dest="data_command", required=True)
    stats = dsub.add_parser("stats", help="print Table 1 statistics of a preprocessed dataset")
    add_options(stats, DataSpec.OPTIONS)
    stats.add_argument("--json", action="store_true", help="end with one JSON line")
    stats.set_defaults(func=cmd_data_stats)
    fetch = dsub.add_parser(
        "fetch", help="download a registry dataset into the data cache (pinned checksum)"
    )
    fetch.add_argument("name", help="registry name: ml-100k, ml-1m, ml-20m, ...")
    fetch.add_argument("--cache", help="data cache folder (default: data_cache/)")
    fetch.add_argument("--no-progress", action="store_true")
    fetch.set_defaults(func=cmd_data_fetch)

    quick = sub.add_parser("quickstart", help="the README's demo (offline: synthetic data)")
    add_options(quick, DataSpec.OPTIONS)
    quick.add_argument("--epochs", type=int, default=20)
    quick.add_argument("--no-progress", action="store_true")
    quick.add_argument("--json", action="store_true")
    quick.set_defaults(dataset="auto", func=cmd_quickstart)

    claims = sub.add_parser(
        "claims", help="the claims ledger: every claim judged from the results files"
    )
    claims.add_argument("--out", help="folder of claims.md/.json (default results/)")
    claims.add_argument("--check", action="store_true", help="exit 1 if the files there differ")
    claims.set_defaults(func=cmd_claims)

    cli_train.register(sub)

    rep = sub.add_parser(
        "reproduce", help="rerun one of the paper's tables/figures (results are cached), or all"
    )
    add_arguments(rep)
    rep.set_defaults(func=cmd_reproduce)

    ex = sub.add_parser(
        "explore",
        help="train one (beta, T) setting of CODIGEM (cached) and show a user's top 10 vs Pop/Item-KNN",
    )
    add_options(ex, config_options(ExploreSetting, skip=EXPLORE_SKIP))
    ex.add_argument("--cache-root", help="result cache (default: runs/cache)")
    ex.add_argument("--no-progress", action="store_true")
    ex.add_argument("--json", action="store_true", help="end with one JSON line")
    ex.set_defaults(func=cmd_explore)

    rec = sub.add_parser(
        "recommend", help="top-k items for one user from a run folder (its best.pt, or a refit)"
    )
    rec.add_argument("run_dir", help="a folder `train` wrote, or a result-cache entry")
    rec.add_argument(
        "--user",
        type=int,
        required=True,
        help="original user id: a test or validation user of the run's split "
        "(the index of RUN/test_per_user.csv lists the test users)",
    )
    rec.add_argument("--k", type=int, default=10, help="how many items (default 10)")
    rec.add_argument("--json", action="store_true", help="end with one JSON line of the items")
    rec.set_defaults(func=cmd_recommend)
    return parser


def _distributed() -> bool:
    """Whether torchrun started this process as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _run(args: argparse.Namespace) -> int:
    """Run the sub-command; inside a torch.distributed process group when started by torchrun."""
    if not _distributed():
        return int(args.func(args) or 0)
    from codigem_lab.distributed import process_group

    with process_group(getattr(args, "device", "auto")):
        return int(args.func(args) or 0)


#: The flags that name a folder (created when missing): a file there is an error before any work.
FOLDER_FLAGS = {
    "out": "--out",
    "cache": "--cache",
    "cache_root": "--cache-root",
    "run_dir": "--run-dir",
}


def _check_folders(args: argparse.Namespace) -> None:
    for dest, flag in FOLDER_FLAGS.items():
        path = getattr(args, dest, None)
        if path is not None and Path(path).exists() and not Path(path).is_dir():
            raise ConfigError(f"{flag} {path} is a file; give a folder (it is created if missing)")


def _threads(flag: int | None) -> int:
    """torch's CPU threads: --threads, else $CODIGEM_LAB_THREADS; 0 leaves torch's own choice."""
    text = os.environ.get("CODIGEM_LAB_THREADS", "") if flag is None else str(flag)
    source = "--threads" if flag is not None else "$CODIGEM_LAB_THREADS"
    try:
        threads = int(text or 0)
    except ValueError:
        raise ConfigError(f"{source} must be a whole number of threads; got {text!r}") from None
    if threads < 0:
        raise ConfigError(
            f"{source} must be >= 0 (torch CPU threads; 0: torch's choice); got {threads}"
        )
    return threads


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``codigem-lab`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has printed
        return int(exc.code or 0)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for a re-launch under torchrun
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING, format="%(message)s")
    try:
        threads = _threads(args.threads)
        if threads:
            import torch

            torch.set_num_threads(threads)
        _check_folders(args)
        return _run(args)
    except CodigemError as exc:
        if args.debug:
            traceback.print_exc()
        where = f" (rank {os.environ.get('RANK')})" if _distributed() else ""
        print(f"codigem-lab: error{where}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codigem-lab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
