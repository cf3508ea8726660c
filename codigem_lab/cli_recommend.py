"""``codigem-lab recommend RUN --user U``: a finished run's top-k items for one user, by title."""

from __future__ import annotations

from codigem_lab.errors import ConfigError
from codigem_lab.report import item_name, json_line


def register(sub) -> None:
    """Add the recommend sub-command."""
    p = sub.add_parser(
        "recommend", help="top-k items for one user from a run folder (its best.pt, or a refit)"
    )
    p.add_argument("run_dir", help="a folder `train` wrote, or a result-cache entry")
    p.add_argument(
        "--user",
        type=int,
        required=True,
        help="original user id: a test or validation user of the run's split "
        "(the index of RUN/test_per_user.csv lists the test users)",
    )
    p.add_argument("--k", type=int, default=10, help="how many items (default 10)")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the items")
    p.set_defaults(func=cmd_recommend)


def cmd_recommend(args) -> int:
    from codigem_lab.saved import open_run

    if args.k < 1:
        raise ConfigError(f"--k must be at least 1, got {args.k}")
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
