"""``codigem-lab explore``: the live explorer's computation for one setting, from the shell.

    codigem-lab explore --dataset ml-100k --beta 1e-4 --T 3 --json

trains CODIGEM for the setting through the result cache (a setting is trained once), prints one
test user's top 10 beside Pop's and Item-KNN's with the held-out hits marked, R@20/R@50 of the
three models, alpha_bar_1/alpha_bar_T, and with ``--json`` ends with one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses

from codigem_lab.options import add_options
from codigem_lab.report import json_line


def _data_options() -> list:
    """The shared data flags (DataSpec.OPTIONS) the explorer takes: ML-100K by default, and the
    preprocessing preset as ``--data-preset`` (``--preset`` names CODIGEM's preset here)."""
    from codigem_lab.data.spec import DataSpec

    out = []
    for opt in DataSpec.OPTIONS:
        if opt.dest == "dataset":
            out.append(dataclasses.replace(opt, default="ml-100k"))
        elif opt.dest == "source":
            out.append(opt)
        elif opt.dest == "preset":
            out.append(dataclasses.replace(opt, dest="data_preset", flag="--data-preset"))
    return out


def register(sub) -> None:
    """Add the ``explore`` sub-command."""
    from codigem_lab.diffusion.types import INPUT_SCALINGS, PRESETS
    from codigem_lab.experiments import explore as ex

    p = sub.add_parser(
        "explore",
        help="train one (beta, T) setting of CODIGEM (cached) and show a user's top 10 vs Pop/Item-KNN",
    )
    add_options(p, _data_options())
    p.add_argument("--beta", type=float, default=1e-4, help="noise per step, 0 < beta < 1")
    p.add_argument("--T", "-T", dest="T", type=int, default=3, help="diffusion steps, >= 1")
    p.add_argument("--preset", default="paper", choices=PRESETS, help="CODIGEM preset")
    p.add_argument(
        "--variant",
        default="base",
        help="Table 3 variant: base, I (annealing), II, III (skips), IV (multinomial)",
    )
    p.add_argument(
        "--input-scaling",
        default=None,
        choices=INPUT_SCALINGS,
        help="x in {-1, 1} (minus1_1) or {0, 1} (none); default: the preset's",
    )
    p.add_argument("--user", type=int, default=None, help="test user id (default: a typical one)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--epochs", type=int, default=ex.EPOCHS, help="at most this many epochs")
    p.add_argument("--max-users", type=int, default=None, help="keep only this many users")
    p.add_argument("--cache-root", default=None, help="result cache (default: runs/cache)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="end with one JSON line")
    p.set_defaults(func=cmd_explore)


def setting_from_args(args: argparse.Namespace):
    from codigem_lab.experiments.explore import ExploreSetting

    return ExploreSetting(
        beta=args.beta,
        T=args.T,
        preset=args.preset,
        input_scaling=args.input_scaling,
        variant=args.variant,
        dataset=args.dataset,
        source=args.source,
        data_preset=args.data_preset,
        seed=args.seed,
        max_users=args.max_users,
        epochs=args.epochs,
        user=args.user,
    )


def cmd_explore(args: argparse.Namespace) -> int:
    from codigem_lab.experiments.explore import explore, render_text

    setting = setting_from_args(args)
    print(f"explore {setting.label()} on {setting.dataset} (cached settings return at once)")
    result = explore(setting, cache=args.cache_root, progress=not args.no_progress)
    print(render_text(result))
    if args.json:
        print(json_line(result.to_json()))
    return 0
