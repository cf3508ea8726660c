"""``codigem-lab train``, ``evaluate`` and ``check-elbo``: parsing only; the work is in the library."""

from __future__ import annotations

import argparse

import pandas as pd

from codigem_lab.codigem import CODIGEMParams
from codigem_lab.data.spec import DataSpec
from codigem_lab.diffusion.checks import run_all_checks
from codigem_lab.diffusion.types import PRESETS
from codigem_lab.distributed import DistContext, default_nproc, relaunch, under_torchrun
from codigem_lab.errors import ConfigError
from codigem_lab.models import model_class
from codigem_lab.options import Option, add_options, given_values, values_from_args
from codigem_lab.report import format_table, json_line
from codigem_lab.runs import TRAIN_OPTIONS, RunSpec, evaluate_run, run_training
from codigem_lab.train import TrainConfig

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
    split_seed = args.seed if args.split_seed is None else args.split_seed
    data = DataSpec.from_args(args, seed=split_seed)
    params: object = {}
    variant = None
    if args.model == "codigem":  # typed and checked once: CODIGEMConfig's fields and scoring
        variant = args.variant
        params = CODIGEMParams.of(variant, given_values(args, CODIGEMParams.OPTIONS))
    elif getattr(args, "decoder_only", False):
        raise ConfigError(f"--decoder-only is for --model codigem only; got --model {args.model}")
    # the model's own optimiser settings (``paper_train``), then what the command line says
    own = dict(getattr(model_class(args.model), "paper_train", {}) or {})
    for key in ("lr", "optimizer", "batch_size"):
        if getattr(args, key) is not None:
            own[key] = getattr(args, key)
    own |= values_from_args(args, [o for o in TRAIN_OPTIONS if o.dest != "split_seed"])
    own |= {"seed": args.seed, "progress": not args.no_progress}
    train = TrainConfig(**own, eval_batch_size=args.eval_batch_size)
    return RunSpec(data=data, model=args.model, variant=variant, params=params, train=train)


def cmd_train(args) -> int:
    if args.distributed and not under_torchrun():
        return relaunch(args.argv, args.nproc or default_nproc())
    spec = spec_from_args(args)
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


def cmd_evaluate(args) -> int:
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
