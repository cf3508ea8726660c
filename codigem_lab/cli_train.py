"""``codigem-lab train``, ``evaluate`` and ``check-elbo``: parsing only; the work is in the library."""

from __future__ import annotations

import argparse

from codigem_lab.options import add_options, given_values
from codigem_lab.report import format_table, json_line


def register(sub, add_data_args) -> None:
    """Add the train, evaluate and check-elbo sub-commands."""
    train = sub.add_parser("train", help="train a model with early stopping and write a run folder")
    add_data_args(train)
    train.add_argument("--seed", type=int, default=0, help="training seed (and split seed)")
    train.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="split the data with this seed (default: --seed)",
    )
    train.add_argument("--model", default="codigem", help="codigem, pop, itemknn, ...")
    train.add_argument("--variant", default="paper", help="CODIGEM preset: paper or released")
    from codigem_lab.codigem import CODIGEMParams

    add_options(train.add_argument_group("CODIGEM (default: the preset's)"), CODIGEMParams.OPTIONS)
    train.add_argument("--max-epochs", type=int, default=100)
    train.add_argument("--patience", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=None, help="default: the model's (200)")
    train.add_argument("--lr", type=float, default=None, help="default: the model's (1e-3)")
    train.add_argument("--optimizer", default=None, help="default: the model's (adamax)")
    train.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    train.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "tf32", "bf16"],
        help="fp32 (default, exact); tf32: TF32 matmuls on CUDA; bf16: bfloat16 autocast of the "
        "training forward pass (scoring stays float32)",
    )
    train.add_argument(
        "--eval-batch-size",
        type=int,
        default=1000,
        help="users scored at once (a batch holds about 6 x users x items x 4 bytes on the device)",
    )
    train.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel training: re-run this command under torchrun with --nproc processes "
        "(one per GPU; gloo on CPU). Already under torchrun, this flag changes nothing",
    )
    train.add_argument(
        "--nproc",
        type=int,
        default=None,
        help="processes for --distributed (default: one per visible GPU, else 2)",
    )
    train.add_argument("--recall-definition", default="minK", choices=["minK", "targets"])
    train.add_argument("--run-dir", default=None, help="where to write (default: runs/<name>)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run")
    train.add_argument("--no-progress", action="store_true")
    train.add_argument("--json", action="store_true", help="end with one JSON line of test metrics")
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="re-score a run folder's best checkpoint")
    ev.add_argument("run_dir")
    ev.add_argument("--which", default="test", choices=["valid", "test"])
    ev.add_argument("--recall-definition", default=None, choices=["minK", "targets"])
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_evaluate)

    chk = sub.add_parser("check-elbo", help="run the ELBO derivation checks for a preset")
    chk.add_argument("--preset", default="paper", choices=["paper", "released"])
    chk.add_argument("--seed", type=int, default=0)
    chk.add_argument("--json", action="store_true")
    chk.set_defaults(func=cmd_check_elbo)


def spec_from_args(args: argparse.Namespace):
    """The RunSpec a ``train`` command line describes."""
    from codigem_lab.data.spec import DataSpec
    from codigem_lab.models import model_class
    from codigem_lab.runs import RunSpec
    from codigem_lab.train import TrainConfig

    split_seed = args.seed if args.split_seed is None else args.split_seed
    data = DataSpec.from_args(args, seed=split_seed)
    params: object = {}
    variant = None
    if args.model == "codigem":  # typed and checked once: CODIGEMConfig's fields and scoring
        from codigem_lab.codigem import CODIGEMParams

        variant = args.variant
        params = CODIGEMParams.of(variant, given_values(args, CODIGEMParams.OPTIONS))
    elif getattr(args, "decoder_only", False):
        from codigem_lab.errors import ConfigError

        raise ConfigError(f"--decoder-only is for --model codigem only; got --model {args.model}")
    # the model's own optimiser settings (``paper_train``), then what the command line says
    own = dict(getattr(model_class(args.model), "paper_train", {}) or {})
    for key in ("lr", "optimizer", "batch_size"):
        if getattr(args, key) is not None:
            own[key] = getattr(args, key)
    train = TrainConfig(
        **own,
        max_epochs=args.max_epochs,
        patience=args.patience,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
        eval_batch_size=args.eval_batch_size,
        recall_definition=args.recall_definition,
        precision=args.precision,
    )
    return RunSpec(data=data, model=args.model, variant=variant, params=params, train=train)


def cmd_train(args) -> int:
    import pandas as pd

    from codigem_lab.distributed import DistContext, default_nproc, relaunch, under_torchrun
    from codigem_lab.runs import run_training

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
    cols = ["R@20", "R@50", "N@20", "N@50", "N@100"]
    table = pd.DataFrame([out.valid, out.test], index=["valid", "test"])[cols]
    print(
        f"metrics (Recall@K = hits / {'min(K, #targets)' if spec.train.recall_definition == 'minK' else '#targets'}):"
    )
    print(format_table(table))
    if args.json:
        print(
            json_line(
                {
                    k: s[k]
                    for k in [
                        *cols,
                        "epochs",
                        "best_epoch",
                        "train_s_per_epoch",
                        "eval_s_per_epoch",
                    ]
                }
            )
        )
    return 0


def cmd_evaluate(args) -> int:
    import pandas as pd

    from codigem_lab.runs import evaluate_run

    res = evaluate_run(args.run_dir, args.which, args.recall_definition)
    cols = ["R@20", "R@50", "N@20", "N@50", "N@100"]
    print(
        f"{args.which} metrics of {args.run_dir} ({res.n_users} users, recall: {res.recall_definition}):"
    )
    print(format_table(pd.DataFrame([res.metrics], index=[args.which])[cols]))
    if args.json:
        print(json_line({k: res.metrics[k] for k in cols}))
    return 0


def cmd_check_elbo(args) -> int:
    from codigem_lab.diffusion.checks import run_all_checks

    reports = run_all_checks(args.preset, seed=args.seed)
    for r in reports:
        print(f"[{'PASS' if r.passed else 'FAIL'}] {r.name}: {r.message}")
    if args.json:
        print(json_line({r.name: "pass" if r.passed else "fail" for r in reports}))
    return 0 if all(r.passed for r in reports) else 1  # like a test runner: 1 when any fails
