"""The ``codigem-lab`` command: a thin layer that parses options and calls the library.

Errors a user can fix exit non-zero with one line on stderr (``--debug`` shows the traceback).
Under ``torchrun`` (``WORLD_SIZE > 1``) the command runs inside a process group, one rank per
process: ``torchrun --nproc-per-node 4 -m codigem_lab.cli train ...``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from codigem_lab.errors import CodigemError
from codigem_lab.report import json_line


def _add_data_args(p: argparse.ArgumentParser, protocol: bool = True) -> None:
    p.add_argument("--dataset", default="synthetic", help="registry name, 'csv' or 'synthetic'")
    p.add_argument("--source", default=None, help="local file, folder or archive to read")
    p.add_argument("--preset", default=None, help="preprocessing: paper-ml1m, multvae or none")
    p.add_argument("--min-rating", type=float, default=None, help="override the rating threshold")
    p.add_argument("--user-core", type=int, default=None, help="override users' k-core size")
    p.add_argument("--item-core", type=int, default=None, help="override items' k-core size")
    p.add_argument("--cache", default=None, help="data cache folder (default: data_cache/)")
    if protocol:
        p.add_argument("--protocol", default="strong", choices=["strong", "ratio"])
        p.add_argument("--seed", type=int, default=0)
        p.add_argument(
            "--heldout", type=float, default=None, help="held-out users (count or fraction)"
        )


def _prep_kwargs(args) -> dict:
    return dict(min_rating=args.min_rating, user_core=args.user_core, item_core=args.item_core)


def cmd_data_stats(args) -> int:
    from codigem_lab.data import load_interactions, table1_stats

    df = load_interactions(args.dataset, args.source, args.preset, args.cache, **_prep_kwargs(args))
    stats = table1_stats(df)
    stats["dataset"] = args.dataset
    print(f"Table 1 statistics for {args.dataset}:")
    for key in ("users", "items", "interactions"):
        print(f"  {key:<13} {stats[key]:>12,}")
    print(f"  {'sparsity':<13} {stats['sparsity']:>11.2f}%")
    if args.json:
        print(json_line(stats))
    return 0


def cmd_quickstart(args) -> int:
    from codigem_lab.quickstart import run_quickstart

    report = run_quickstart(
        dataset=args.dataset, source=args.source, epochs=args.epochs, progress=not args.no_progress
    )
    print(report.text)
    if args.json:
        print(json_line(report.summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
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
    _add_data_args(stats, protocol=False)
    stats.add_argument("--json", action="store_true", help="end with one JSON line")
    stats.set_defaults(func=cmd_data_stats)

    quick = sub.add_parser("quickstart", help="the README's demo (offline: synthetic data)")
    quick.add_argument("--dataset", default="synthetic")
    quick.add_argument("--source", default=None)
    quick.add_argument("--epochs", type=int, default=20)
    quick.add_argument("--no-progress", action="store_true")
    quick.add_argument("--json", action="store_true")
    quick.set_defaults(func=cmd_quickstart)

    from codigem_lab import cli_reproduce, cli_train

    cli_train.register(sub, _add_data_args)
    cli_reproduce.register(sub)
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
    args = parser.parse_args(argv)
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
