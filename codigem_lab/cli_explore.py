"""``codigem-lab explore``: the live explorer's computation for one setting, from the shell:
CODIGEM trained through the result cache, one user's top 10 beside Pop's and Item-KNN's."""

from __future__ import annotations

import argparse
import dataclasses

from codigem_lab.options import add_options, config_options, given_values
from codigem_lab.report import json_line

#: The setting's flags, generated from ExploreSetting (``--preset`` is CODIGEM's preset here,
#: ``--data-preset`` the preprocessing); a flag not given leaves the setting's default.
SKIP = ("split_seed", "patience", "batch_size")


def register(sub) -> None:
    """Add the ``explore`` sub-command."""
    from codigem_lab.experiments.explore import ExploreSetting

    p = sub.add_parser(
        "explore",
        help="train one (beta, T) setting of CODIGEM (cached) and show a user's top 10 vs Pop/Item-KNN",
    )
    add_options(p, config_options(ExploreSetting, skip=SKIP))
    p.add_argument("--cache-root", default=None, help="result cache (default: runs/cache)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="end with one JSON line")
    p.set_defaults(func=cmd_explore)


def cmd_explore(args: argparse.Namespace) -> int:
    from codigem_lab.data.spec import resolve_data
    from codigem_lab.experiments.explore import ExploreSetting, data_fields, explore, render_text

    s = ExploreSetting(**given_values(args, config_options(ExploreSetting, skip=SKIP)))
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
    print(render_text(result))
    if args.json:
        print(json_line(result.to_json()))
    return 0
