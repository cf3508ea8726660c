"""The ``codigem-lab`` command: a thin layer that parses options and calls the library.
Errors a user can fix exit with one line on stderr (``--debug`` shows the traceback)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from codigem_lab.errors import CodigemError
from codigem_lab.report import json_line


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
        for name in stale:
            print(f"{name} differs from the results files; run `{claims.COMMAND}`", file=sys.stderr)
        return 1 if stale else 0
    for path in claims.write(args.out):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from codigem_lab import cli_explore, cli_recommend, cli_reproduce, cli_train
    from codigem_lab.data.spec import DataSpec
    from codigem_lab.options import add_options

    parser = argparse.ArgumentParser(prog="codigem-lab", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
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
    fetch.add_argument("--cache", default=None, help="data cache folder (default: data_cache/)")
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
    claims.add_argument("--out", default=None, help="folder of claims.md/.json (default results/)")
    claims.add_argument("--check", action="store_true", help="exit 1 if the files there differ")
    claims.set_defaults(func=cmd_claims)

    cli_train.register(sub)
    cli_reproduce.register(sub)
    cli_explore.register(sub)
    cli_recommend.register(sub)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``codigem-lab`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has printed
        return int(exc.code or 0)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for a re-launch under torchrun
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING, format="%(message)s")
    threads = args.threads or int(os.environ.get("CODIGEM_LAB_THREADS", "0") or 0)
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
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
