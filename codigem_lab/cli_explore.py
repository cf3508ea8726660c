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


def resolved_setting(setting, progress: bool = True):
    """``setting`` on its data as the notebooks get it (``resolve_data``): from the cache or the
    registry, else the synthetic dataset (the banner is printed). Given sources stay as given."""
    from codigem_lab.data.spec import resolve_data
    from codigem_lab.experiments.explore import data_fields

    s = setting
    data = resolve_data(
        s.dataset, s.source, s.data_preset, progress=progress, seed=s.split_seed,
        max_users=s.max_users,
    )  # fmt: skip
    if data.banner and s.dataset != "synthetic":
        print(f"{s.dataset} is not available: {data.banner}")
    return dataclasses.replace(s, **data_fields(data))


def cmd_explore(args: argparse.Namespace) -> int:
    from codigem_lab.experiments.explore import ExploreSetting, explore, render_text

    given = given_values(args, config_options(ExploreSetting, skip=SKIP))
    setting = resolved_setting(ExploreSetting(**given), progress=not args.no_progress)
    print(f"explore {setting.label()} on {setting.dataset} (cached settings return at once)")
    result = explore(setting, cache=args.cache_root, progress=not args.no_progress)
    print(render_text(result))
    if args.json:
        print(json_line(result.to_json()))
    return 0
