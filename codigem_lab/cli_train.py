"""``codigem-lab train``, ``evaluate`` and ``check-elbo``: parsing only; the work is in the library."""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from codigem_lab.codigem import CODIGEMParams
from codigem_lab.data.spec import DataSpec
from codigem_lab.diffusion.checks import run_all_checks
from codigem_lab.diffusion.types import PRESETS
from codigem_lab.distributed import DistContext, default_nproc, relaunch, under_torchrun
from codigem_lab.errors import CodigemError, ConfigError
from codigem_lab.models import model_class
from codigem_lab.options import Option, add_options, given_values, values_from_args
from codigem_lab.report import format_table, json_line
from codigem_lab.runs import TRAIN_OPTIONS, RunSpec, evaluate_run, run_training
from codigem_lab.runs import _check_same_run as check_same_run
from codigem_lab.train import TrainConfig
from codigem_lab.validate import check_int

#: The columns ``train`` and ``evaluate`` print (and ``--json``): accuracy, then beyond accuracy
#: (the run folder's metrics.json has every K).
COLUMNS = ["R@20", "R@50", "N@20", "N@50", "N@100", "ARP@50", "novelty@50", "coverage@50"]

#: The flags of ``train`` besides the data's, the shared training ones and CODIGEM's.
OPTIONS = (
    Option("seed", "--seed", int, 0, "training seed (and split seed)"),
    Option("model", "--model", str, "codigem", "codigem, pop, itemknn, ..."),
    Option("variant", "--variant", str, "paper", "CODIGEM preset: paper or released"),
    Option("batch_size", "--batch-size", int, None, "default: the model's (200)"),
    Option("lr", "--lr", float, None, "default: the model's (1e-3)"),
    Option("optimizer", "--optimizer", str, None, "default: the model's (adamax)"),
    Option("eval_batch_size", "--eval-batch-size", int, 1000,
           "users scored at once (a batch holds about 6 x users x items x 4 bytes on the device)"),
    Option("distributed", "--distributed", None, False,
           "data-parallel training: re-run this command under torchrun with --nproc processes "
           "(one per GPU; gloo on CPU). Already under torchrun, this flag changes nothing",
           kind="switch"),
    Option("nproc", "--nproc", int, None,
           "processes for --distributed (default: one per visible GPU, else 2)"),
    Option("run_dir", "--run-dir", str, None, "where to write (default: runs/<name>)"),
    Option("resume", "--resume", None, False, "continue an interrupted run", kind="switch"),
    Option("overwrite", "--overwrite", None, False,
           "replace the run already in --run-dir (its files are deleted first)", kind="switch"),
    Option("no_progress", "--no-progress", None, False, "no progress bars", kind="switch"),
    Option("json", "--json", None, False, "end with one JSON line of test metrics",
           kind="switch"),
)  # fmt: skip


def register(sub) -> None:
    """Add the train, evaluate and check-elbo sub-commands."""
    train = sub.add_parser("train", help="train a model with early stopping and write a run folder")
    add_options(train, DataSpec.OPTIONS + DataSpec.SPLIT_OPTIONS + OPTIONS + TRAIN_OPTIONS)
    add_options(train.add_argument_group("CODIGEM (default: the preset's)"), CODIGEMParams.OPTIONS)
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="re-score a run folder's best checkpoint")
    ev.add_argument("run_dir")
    ev.add_argument("--which", default="test", choices=["valid", "test"])
    ev.add_argument(
        "--recall-definition",
        choices=["minK", "targets"],
        help="minK: hits / min(K, #targets); targets: hits / #targets (DiffRec's); "
        "default: the run's own",
    )
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_evaluate)

    chk = sub.add_parser("check-elbo", help="run the ELBO derivation checks for a preset")
    chk.add_argument("--preset", default="paper", choices=PRESETS)
    chk.add_argument("--seed", type=int, default=0)
    chk.add_argument("--json", action="store_true")
    chk.set_defaults(func=cmd_check_elbo)


def spec_from_args(args: argparse.Namespace):
    """The RunSpec a ``train`` command line describes."""
    check_int("seed", args.seed, 0, "--seed")
    if args.split_seed is not None:
        check_int("split_seed", args.split_seed, 0, "--split-seed")
    split_seed = args.seed if args.split_seed is None else args.split_seed
    data = DataSpec.from_args(args, seed=split_seed)
    params: object = {}
    variant = None
    if args.model == "codigem":  # typed and checked once: CODIGEMConfig's fields and scoring
        variant = args.variant
        params = CODIGEMParams.of(variant, given_values(args, CODIGEMParams.OPTIONS))
        if "beta_end" in params.given and params.config.schedule == "constant":
            raise ConfigError(
                "--beta-end is the linear schedule's last beta and the schedule is constant: "
                "add --schedule linear, or drop --beta-end"
            )
    else:  # CODIGEM's flags on another model would be dropped without a word: refused
        options = [o for o in OPTIONS if o.dest == "variant"] + list(CODIGEMParams.OPTIONS)
        given = [o.flag for o in options if o.dest in given_values(args, options)]
        if given:
            raise ConfigError(
                f"{', '.join(given)}: CODIGEM's options, and --model {args.model} has none; "
                "drop them or train --model codigem"
            )
    # the model's own optimiser settings (``paper_train``), then what the command line says
    own = dict(getattr(model_class(args.model), "paper_train", {}) or {})
    for key in ("lr", "optimizer", "batch_size"):
        if getattr(args, key) is not None:
            own[key] = getattr(args, key)
    own |= values_from_args(args, [o for o in TRAIN_OPTIONS if o.dest != "split_seed"])
    own |= {"seed": args.seed, "progress": not args.no_progress}
    train = TrainConfig(**own, eval_batch_size=args.eval_batch_size)
    return RunSpec(data=data, model=args.model, variant=variant, params=params, train=train)


#: What a run leaves in its folder (runs.run_training and the trainer's checkpoints).
RUN_FILES = (
    "config.json",
    "metrics.json",
    "history.csv",
    "test_per_user.csv",
    "best.pt",
    "last.pt",
)


def claim_run_dir(run_dir: Path, spec: RunSpec, resume: bool, overwrite: bool) -> None:
    """Refuse to train over another run in ``run_dir`` unless asked (``resume``: continue it, the
    options checked by the trainer; ``overwrite``: delete its files first, so none is mixed in).
    The same run again (its config.json equals ``spec``) is made again in place."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(
            f"--run-dir {run_dir} is a file; give a folder (it is created if missing)"
        )
    if resume and overwrite:
        raise ConfigError(
            "--resume continues the run in --run-dir, --overwrite replaces it: pick one"
        )
    held = [f for f in RUN_FILES if (run_dir / f).exists()]
    if not held:
        if resume:
            print(f"nothing to resume in {run_dir}: starting a new run", file=sys.stderr)
        return
    if overwrite:
        for name in held:
            (run_dir / name).unlink()
    elif not resume and not _same_run(run_dir / "config.json", spec):
        raise ConfigError(
            f"{run_dir} already holds another run ({', '.join(held)}); pass another --run-dir, "
            "or --overwrite to replace it"
        )


def _same_run(config: Path, spec: RunSpec) -> bool:
    """Whether ``config`` (a run folder's config.json) describes ``spec``, display and device aside."""
    try:
        check_same_run(spec, config, config.parent)  # the trainer's own test, used by --resume
    except (OSError, ValueError, KeyError, TypeError, CodigemError):  # other, or unreadable
        return False
    return True


def cmd_train(args) -> int:
    spec = spec_from_args(args)  # bad options fail here, before anything is written or launched
    if not under_torchrun():  # once, in the launching process
        if args.distributed and args.nproc is not None and args.nproc < 1:
            raise ConfigError(f"--nproc must be >= 1 (processes), got {args.nproc}")
        run_dir = Path(args.run_dir) if args.run_dir is not None else spec.default_dir()
        claim_run_dir(run_dir, spec, args.resume, args.overwrite)
        if args.distributed:  # the ranks, under torchrun, skip the check above
            return relaunch(args.argv, args.nproc or default_nproc())
    out = run_training(spec, args.run_dir, resume=args.resume)
    if not DistContext.current().is_main:
        return 0
    s = out.summary
    print(f"run folder: {out.run_dir}")
    print(
        f"epochs: {s['epochs']} (best {s['best_epoch']}), "
        f"{s['train_s_per_epoch']:.2f} s/epoch training, {s['eval_s_per_epoch']:.2f} s/epoch evaluation"
    )
    rdef = "min(K, #targets)" if spec.train.recall_definition == "minK" else "#targets"
    print(f"metrics (Recall@K = hits / {rdef}):")
    print(format_table(pd.DataFrame([out.valid, out.test], index=["valid", "test"])[COLUMNS]))
    if args.json:
        keys = [*COLUMNS, "epochs", "best_epoch", "train_s_per_epoch", "eval_s_per_epoch"]
        print(json_line({k: s[k] for k in keys}))
    return 0


@contextmanager
def run_folder_errors(run_dir: str) -> Iterator[None]:
    """A run folder whose files do not make one run (an unreadable config.json or best.pt, or a
    checkpoint of other shapes): one line naming the folder, not a traceback."""
    try:
        yield
    except (json.JSONDecodeError, pickle.UnpicklingError, EOFError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "state_dict" not in str(exc):
            raise  # another failure, not the folder's files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(
            f"{run_dir}: its files do not make one run ({type(exc).__name__}: {first}); pass "
            "the folder `train` wrote, or train it again with --overwrite"
        ) from exc


def cmd_evaluate(args) -> int:
    with run_folder_errors(args.run_dir):
        res = evaluate_run(args.run_dir, args.which, args.recall_definition)
    print(
        f"{args.which} metrics of {args.run_dir} ({res.n_users} users, recall: {res.recall_definition}):"
    )
    print(format_table(pd.DataFrame([res.metrics], index=[args.which])[COLUMNS]))
    if args.json:
        print(json_line({k: res.metrics[k] for k in COLUMNS}))
    return 0


def cmd_check_elbo(args) -> int:
    reports = run_all_checks(args.preset, seed=args.seed)
    for r in reports:
        print(f"[{'PASS' if r.passed else 'FAIL'}] {r.name}: {r.message}")
    if args.json:
        print(json_line({r.name: "pass" if r.passed else "fail" for r in reports}))
    return 0 if all(r.passed for r in reports) else 1  # like a test runner: 1 when any fails
