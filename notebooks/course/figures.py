"""Figures only the notebooks draw (01-04, 06): plain data in, a matplotlib Figure out.

Built on the library's :func:`~codigem_lab.viz.plots.new_figure` and
:func:`~codigem_lab.viz.plots.style_axes`; nothing in ``codigem_lab`` imports this module.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm, SymLogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from codigem_lab.diffusion.model import CODIGEM
from codigem_lab.metrics import item_popularity, list_popularity
from codigem_lab.report import item_name
from codigem_lab.viz.plots import DEFAULT_DPI, new_figure, style_axes

# Roles of a cell in the user x item grid of an evaluation protocol (see protocol_role_grid).
ROLE_NONE, ROLE_TRAIN, ROLE_FOLD_IN, ROLE_VALID, ROLE_TEST = range(5)
ROLE_LABELS = {
    ROLE_TRAIN: "training input",
    ROLE_FOLD_IN: "fold-in (model input at evaluation)",
    ROLE_VALID: "validation target",
    ROLE_TEST: "test target",
}
ROLE_COLORS = ["#ffffff", "#4c72b0", "#9ecae1", "#dd8452", "#c44e52"]


# ================================================================================ 01: data
def protocol_role_grid(split) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """The user x item grid of a ``Split`` with each interaction coloured by its role.

    Returns ``(grid, groups)``: ``grid[u, i]`` is one of the ``ROLE_*`` codes, and ``groups``
    lists ``(label, first_row, end_row)`` blocks of rows. Under ``strong`` the rows are the
    training users, then the validation users, then the test users (held-out users' items are
    fold-in or target). Under ``ratio`` every user is a row; each user's items are split into
    training input, validation target and test target.
    """
    n_items = split.n_items
    if split.protocol == "strong":
        codes = [np.where(split.train.toarray() > 0, ROLE_TRAIN, ROLE_NONE)]
        for es, role in ((split.valid, ROLE_VALID), (split.test, ROLE_TEST)):
            g = np.full((es.n_users, n_items), ROLE_NONE)
            g[es.fold_in.toarray() > 0] = ROLE_FOLD_IN
            g[es.target.toarray() > 0] = role
            codes.append(g)
        starts = np.cumsum([0, *(c.shape[0] for c in codes)])
        labels = ["training users", "validation users", "test users"]
        groups = [(lab, int(starts[k]), int(starts[k + 1])) for k, lab in enumerate(labels)]
        return np.vstack(codes), groups
    grid = np.full(split.train.shape, ROLE_NONE)
    grid[split.train.toarray() > 0] = ROLE_TRAIN
    grid[split.valid.target.toarray() > 0] = ROLE_VALID
    grid[split.test.target.toarray() > 0] = ROLE_TEST
    return grid, [("all users", 0, grid.shape[0])]


def plot_protocol_grids(
    grids: Mapping[str, tuple[np.ndarray, list[tuple[str, int, int]]]], dpi: int = DEFAULT_DPI
) -> Figure:
    """Side-by-side user x item grids (from :func:`protocol_role_grid`), one per protocol."""
    fig = new_figure(4.6 * len(grids), 4.4, dpi)
    axes = fig.subplots(1, len(grids), squeeze=False)[0]
    cmap = ListedColormap(ROLE_COLORS)
    norm = BoundaryNorm(np.arange(-0.5, len(ROLE_COLORS)), cmap.N)
    for ax, (title, (grid, groups)) in zip(axes, grids.items(), strict=True):
        ax.imshow(grid, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
        ax.set_xticks(np.arange(-0.5, grid.shape[1]), minor=True)
        ax.set_yticks(np.arange(-0.5, grid.shape[0]), minor=True)
        ax.grid(which="minor", color="#dddddd", linewidth=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False)
        for _label, start, _stop in groups:
            if start > 0:
                ax.axhline(start - 0.5, color="black", linewidth=1.5)
        centers = [(start + stop - 1) / 2 for _, start, stop in groups]
        ax.set_yticks(centers, [label.replace(" ", "\n") for label, _, _ in groups], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("items")
    handles = [
        Patch(facecolor=ROLE_COLORS[r], edgecolor="#888888", label=lab)
        for r, lab in ROLE_LABELS.items()
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    return fig


def plot_long_tail(
    item_counts: np.ndarray, head_share: float = 0.2, dpi: int = DEFAULT_DPI
) -> Figure:
    """Item popularity: sorted interaction counts (log scale) and the cumulative share curve."""
    counts = np.sort(np.asarray(item_counts, dtype=float))[::-1]
    counts = counts[counts > 0]
    n = len(counts)
    n_head = max(1, int(round(head_share * n)))
    cum = np.cumsum(counts) / counts.sum()
    fig = new_figure(9.0, 3.3, dpi)
    ax1, ax2 = fig.subplots(1, 2)
    rank = np.arange(1, n + 1)
    ax1.fill_between(
        rank[:n_head],
        counts[:n_head],
        color="#4c72b0",
        alpha=0.6,
        label=f"head: top {head_share:.0%} of items",
    )
    ax1.fill_between(
        rank[n_head - 1 :], counts[n_head - 1 :], color="#dd8452", alpha=0.6, label="long tail"
    )
    ax1.set_yscale("log")
    style_axes(ax1, "item rank by popularity", "interactions", "popularity of each item",
               legend={"fontsize": 8})  # fmt: skip
    ax2.plot(rank / n, cum, color="#4c72b0")
    ax2.plot([0, 1], [0, 1], color="#999999", linestyle=":", label="equal popularity")
    share = cum[n_head - 1]
    ax2.plot([head_share], [share], "o", color="#c44e52")
    ax2.annotate(
        f"top {head_share:.0%} of items hold {share:.0%}\nof all interactions",
        (head_share, share),
        xytext=(0.35, 0.35),
        fontsize=8,
        arrowprops={"arrowstyle": "->", "color": "#555555"},
    )
    style_axes(ax2, "share of items (most popular first)", "share of interactions",
               "cumulative share", legend={"fontsize": 8, "loc": "lower right"})  # fmt: skip
    return fig


def plot_sparsity(matrix: sp.spmatrix, blocks: int = 80, dpi: int = DEFAULT_DPI) -> Figure:
    """How empty the user x item matrix is: per-user activity and a block-density picture.

    The right panel sorts users by activity and items by popularity, cuts the matrix into
    ``blocks`` x ``blocks`` tiles and colours each tile by the share of its cells that hold an
    interaction (log scale): the dense corner is where popular items meet active users.
    """
    m = sp.csr_matrix(matrix)
    n_users, n_items = m.shape
    user_counts = np.diff(m.indptr)
    item_counts = np.bincount(m.indices, minlength=n_items)
    fig = new_figure(9.0, 3.4, dpi)
    ax1, ax2 = fig.subplots(1, 2)
    lo = max(1, user_counts[user_counts > 0].min()) if m.nnz else 1
    bins = np.geomspace(lo, max(lo + 1, user_counts.max()), 30)
    ax1.hist(user_counts, bins=bins, color="#4c72b0")
    ax1.set_xscale("log")
    ax1.axvline(
        np.median(user_counts),
        color="#c44e52",
        linestyle="--",
        label=f"median {np.median(user_counts):.0f} of {n_items:,} items",
    )
    density = 100.0 * m.nnz / (n_users * n_items)
    style_axes(ax1, "interactions per user", "users",
               f"{n_users:,} users x {n_items:,} items: {density:.2f}% filled",
               legend={"fontsize": 8})  # fmt: skip

    ur = np.empty(n_users, dtype=np.int64)
    ur[np.argsort(-user_counts, kind="stable")] = np.arange(n_users)
    ir = np.empty(n_items, dtype=np.int64)
    ir[np.argsort(-item_counts, kind="stable")] = np.arange(n_items)
    coo = m.tocoo()
    by = np.minimum(ur[coo.row] * blocks // n_users, blocks - 1)
    bx = np.minimum(ir[coo.col] * blocks // n_items, blocks - 1)
    hits = np.zeros((blocks, blocks))
    np.add.at(hits, (by, bx), 1.0)
    cells = np.outer(
        np.bincount(ur * blocks // n_users, minlength=blocks)[:blocks],
        np.bincount(ir * blocks // n_items, minlength=blocks)[:blocks],
    )
    share = np.where(cells > 0, hits / np.maximum(cells, 1), np.nan)
    floor = 1e-4
    im = ax2.imshow(
        np.clip(share, floor, 1.0),
        cmap="viridis",
        norm=LogNorm(floor, 1.0),
        aspect="auto",
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax2, label="share of cells filled")
    style_axes(ax2, "items, most popular first", "users, most active first",
               "where the interactions are")  # fmt: skip
    ax2.set_xticks([])
    ax2.set_yticks([])
    return fig


# ============================================================================== 02: chains
Q_COLOR, P_COLOR = "#4c72b0", "#55a868"  # the forward process q, the learned reverse p_theta


def chain_nodes(T: int, shown: int = 4) -> list[str]:
    """The boxes' labels: x, z_1, ..., z_T, with "..." in place of the middle when T > shown."""
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    steps = list(range(1, T + 1))
    if T > shown:
        steps = [*steps[: shown - 1], None, T]
    return ["x"] + ["..." if t is None else f"z_{t}" for t in steps]


def plot_chains(T: int = 3, dpi: int = DEFAULT_DPI) -> Figure:
    """Boxes x, z_1, ..., z_T; q(z_t | z_{t-1}) arrows left to right above them, p_theta arrows
    right to left below them, the prior N(0, I) on z_T and the decoder p_theta(x | z_1)."""
    nodes = chain_nodes(T)
    fig = new_figure(1.7 * len(nodes) + 1.6, 2.6, dpi)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_xlim(-0.7, len(nodes) + 0.2)
    ax.set_ylim(-1.25, 1.25)
    tex = {"x": r"$\mathbf{x}$", "...": r"$\cdots$"}
    for i, name in enumerate(nodes):
        label = tex.get(name, rf"$\mathbf{{z}}_{{{name[2:]}}}$")
        box = {"boxstyle": "round,pad=0.35", "fc": "white", "ec": "#333333"}
        ax.text(
            i, 0, label, ha="center", va="center", fontsize=13, bbox=box if name != "..." else None
        )
    for i in range(len(nodes) - 1):
        a, b = nodes[i], nodes[i + 1]
        if "..." in (a, b):
            continue
        prev = r"\mathbf{x}" if a == "x" else rf"\mathbf{{z}}_{{{a[2:]}}}"
        cur = rf"\mathbf{{z}}_{{{b[2:]}}}"
        for sign, color, text in (
            (1, Q_COLOR, rf"$q({cur}\mid {prev})$"),
            (-1, P_COLOR, rf"$p_\theta({prev}\mid {cur})$"),
        ):
            start, end = (i + 0.25, i + 0.75) if sign > 0 else (i + 0.75, i + 0.25)
            ax.annotate(
                "", xy=(end, 0.3 * sign), xytext=(start, 0.3 * sign),
                arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.6,
                            "connectionstyle": f"arc3,rad={-0.35 * sign}"},
            )  # fmt: skip
            ax.text(i + 0.5, 0.72 * sign, text, ha="center", va="center", color=color, fontsize=9)
    ax.text(len(nodes) - 1, -1.05, r"prior $p(\mathbf{z}_T) = \mathcal{N}(\mathbf{0}, \mathbf{I})$",
            ha="center", va="center", fontsize=9, color=P_COLOR)  # fmt: skip
    ax.text(
        -0.65, 0.72, "forward\n(fixed noise)", ha="left", va="center", fontsize=8, color=Q_COLOR
    )
    ax.text(-0.65, -0.72, "reverse\n(learned)", ha="left", va="center", fontsize=8, color=P_COLOR)
    ax.set_title(
        f"T = {T}: q adds noise step by step; p_theta learns to undo each step", fontsize=9
    )
    return fig


# ============================================================================ 02: schedules
def plot_schedules(schedules: Mapping[str, object], dpi: int = DEFAULT_DPI) -> Figure:
    """alpha_bar_t and SNR_t of several ``NoiseSchedule`` objects, one line each."""
    fig = new_figure(9.0, 3.2, dpi)
    ax1, ax2 = fig.subplots(1, 2)
    for name, s in schedules.items():
        t = np.arange(1, s.T + 1)
        style = "o-" if s.T <= 60 else "-"
        ax1.plot(t, s.alpha_bar, style, markersize=3, label=name)
        ax2.plot(t, np.clip(s.snr, 1e-8, 1e8), style, markersize=3, label=name)
    for ax, title in ((ax1, "alpha_bar_t"), (ax2, "SNR_t")):
        ax.set_xscale("log")
        style_axes(ax, "step t", title=title)
    ax1.set_ylim(-0.03, 1.05)
    ax2.set_yscale("log")
    ax2.axhline(1.0, color="#555555", linewidth=0.8, linestyle=":")
    ax1.legend(fontsize=8)
    return fig


# ================================================================================= 03: ELBO
TERM_COLOR = "#4c72b0"


def plot_elbo_terms(
    terms: Mapping[str, float], title: str = "ELBO terms (nats per user)", dpi: int = DEFAULT_DPI
) -> Figure:
    """Horizontal bars, one per term of eq (9), on a symmetric log axis, values printed. One
    colour for all: a log-density is negative by nature, so a sign is no warning."""
    names = list(terms)
    values = np.array([terms[k] for k in names], dtype=float)
    fig = new_figure(8.0, 0.35 * len(names) + 1.2, dpi)
    ax = fig.subplots()
    y = np.arange(len(names))
    ax.barh(y, values, color=TERM_COLOR)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=1.0)
    ax.axvline(0, color="black", linewidth=0.8)
    lim = max(10.0, float(np.abs(values).max()) * 30)
    ax.set_xlim(-lim, lim)
    for yi, v in zip(y, values, strict=True):
        ax.text(v, yi, f" {v:,.1f} ", va="center", ha="left" if v >= 0 else "right", fontsize=8)
    style_axes(ax, "nats per user (symmetric log scale)", title=title, title_size=10)
    return fig


def plot_deviation_effects(
    table: pd.DataFrame,
    baseline: str,
    columns: Sequence[str] | None = None,
    title: str = "",
    dpi: int = DEFAULT_DPI,
) -> Figure:
    """Heat map of each variant's change in each term relative to ``baseline`` (a row label).

    Colour is the signed difference on a symmetric log scale; each cell prints the difference.
    """
    cols = list(columns) if columns is not None else list(table.columns)
    diff = table[cols].astype(float) - table.loc[baseline, cols].astype(float)
    diff = diff.drop(index=baseline)
    vals = diff.to_numpy()
    fig = new_figure(1.0 + 0.95 * len(cols), 0.45 * len(diff) + 1.6, dpi)
    ax = fig.subplots()
    vmax = max(1.0, float(np.nanmax(np.abs(vals))) if vals.size else 1.0)
    im = ax.imshow(
        vals, cmap="RdBu_r", norm=SymLogNorm(linthresh=0.01, vmin=-vmax, vmax=vmax), aspect="auto"
    )
    ax.set_xticks(np.arange(len(cols)), cols, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(diff)), diff.index, fontsize=8)
    for (r, c), v in np.ndenumerate(vals):
        txt = "0" if abs(v) < 5e-4 else (f"{v:+.3g}" if abs(v) < 1000 else f"{v:+.2e}")
        color = "white" if abs(v) > vmax / 20 else "black"
        ax.text(c, r, txt, ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(im, ax=ax, label=f"difference from '{baseline}'")
    ax.set_title(title or f"change relative to '{baseline}'", fontsize=10)
    return fig


# ============================================================================= 04: training
def plot_learning_curves(
    histories: Mapping[str, pd.DataFrame],
    best_epochs: Mapping[str, int] | None = None,
    metrics: Sequence[str] = ("R@20", "R@50", "N@20", "N@50"),
    dpi: int = DEFAULT_DPI,
) -> Figure:
    """Per-epoch curves from ``TrainResult.history``: loss, ELBO terms, validation metrics.

    One colour per run; the best epoch (model selection) is marked with a vertical line.
    """
    fig = new_figure(12.0, 3.4, dpi)
    ax_loss, ax_terms, ax_val = fig.subplots(1, 3)
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]
    for k, (name, h) in enumerate(histories.items()):
        c = colors[k % len(colors)]
        ep = h["epoch"].to_numpy()
        ax_loss.plot(ep, h["loss"], "-", color=c, label=f"{name}: loss (as its code reports it)")
        if "reconstruction" in h:
            ax_terms.plot(ep, -h["reconstruction"], "-", color=c, label=f"{name}: -ln p(x|z1)")
        if "kl" in h:
            ax_terms.plot(ep, h["kl"], "--", color=c, label=f"{name}: KL terms")
        for j, m in enumerate(metrics):
            if m in h:
                ax_val.plot(ep, h[m], ["-", "--", "-.", ":"][j % 4], color=c, label=f"{name}: {m}")
        if best_epochs and name in best_epochs:
            for ax in (ax_loss, ax_terms, ax_val):
                ax.axvline(best_epochs[name], color=c, linewidth=0.8, alpha=0.6)
    for ax, title in (
        (ax_loss, "training loss per epoch (nats per user)"),
        (ax_terms, "-reconstruction and KL terms (nats per user)"),
        (ax_val, "validation metrics (vertical line: best epoch)"),
    ):
        style_axes(ax, "epoch", title=title, legend={"fontsize": 6}, title_size=10)
    return fig


def plot_metric_bars(
    table: pd.DataFrame,
    reference: Mapping[str, float] | None = None,
    reference_label: str = "paper",
    dpi: int = DEFAULT_DPI,
) -> Figure:
    """Grouped bars of test metrics (rows: models, columns: metrics), with an optional reference."""
    cols = list(table.columns)
    fig = new_figure(7.5, 3.2, dpi)
    ax = fig.subplots()
    n = len(table) + (1 if reference else 0)
    width = 0.8 / n
    x = np.arange(len(cols))
    rows = [(str(i), table.loc[i, cols].to_numpy(dtype=float)) for i in table.index]
    if reference:
        rows.append((reference_label, np.array([reference.get(c, np.nan) for c in cols])))
    for k, (label, vals) in enumerate(rows):
        is_reference = reference and k == n - 1  # hatched grey, after the models
        style = {"hatch": "//", "color": "#dddddd", "edgecolor": "#555555"} if is_reference else {}
        ax.bar(x + (k - (n - 1) / 2) * width, vals, width, label=label, **style)
    ax.set_xticks(x, cols)
    style_axes(ax, ylabel="test metric", legend={"fontsize": 8})
    return fig


@dataclass
class ReverseProcess:
    """One user's chain and rankings; ``items`` is the window of item columns the strips show:
    fold-in items, then as many others (a figure draws its line between the two halves)."""

    T: int
    items: np.ndarray  # [W] item columns shown in the strips
    x_scaled: np.ndarray  # [W] the scaled input x0 on the window
    chain: np.ndarray  # [T, W] z_T, z_{T-1}, ..., z_1 on the window
    decoder_scores: np.ndarray  # [D] NN(z_1) with z_1 from q(z_1 | x)
    reverse_scores: np.ndarray  # [D] NN(z_1) with z_1 from the reverse chain
    top_decoder: np.ndarray  # [n] item columns, best first (fold-in masked)
    top_reverse: np.ndarray  # [n]
    targets: np.ndarray  # the user's held-out item columns
    overlap: int  # items the two top-n lists share


def reverse_process(
    model: CODIGEM, fold_in_row, target_row, n: int = 10, width: int = 60, seed: int = 0
) -> ReverseProcess:
    """The chain and both rankings of one user (rows of the split's fold-in / target matrices).

    Runs a trained CODIGEM on the user's fold-in row: the forward latent z_T = sqrt(alpha_bar_T) x0
    (its mean), the reverse chain z_{T-1}, ..., z_1 through the transition networks (the paper's
    Sec. 2.4), and the decoder's scores of both ways to score, decoder scoring (z_1 from
    q(z_1 | x), as the released code ranks) and reverse scoring (z_1 from the chain), each turned
    into a ranking with the fold-in items masked. Nothing is trained here.
    """
    x = torch.from_numpy(np.asarray(fold_in_row.toarray(), dtype=np.float32))
    x = x.to(next(model.parameters()).dtype)
    with torch.no_grad():
        chain = [z[0].numpy() for z in model.reverse_chain(x)]
        dec = model.score(x, mode="decoder")[0].numpy()
        rev = model.score(x, mode="reverse")[0].numpy()
        x0 = model.scale_input(x)[0].numpy()
    seen = fold_in_row.indices
    targets = np.asarray(target_row.indices)
    rng = np.random.default_rng(seed)
    clicked = rng.permutation(seen)[: width // 2]
    rest = np.setdiff1d(np.arange(x.shape[1]), seen)
    others = rng.choice(rest, size=min(len(clicked), len(rest)), replace=False)  # equal halves
    items = np.concatenate([np.sort(clicked), np.sort(others)])

    def top(scores: np.ndarray) -> np.ndarray:
        s = scores.astype(np.float64).copy()
        s[seen] = -np.inf
        return np.argsort(-s, kind="stable")[:n]

    t_dec, t_rev = top(dec), top(rev)
    return ReverseProcess(
        T=len(chain),
        items=items,
        x_scaled=x0[items],
        chain=np.stack([z[items] for z in chain]),
        decoder_scores=dec,
        reverse_scores=rev,
        top_decoder=t_dec,
        top_reverse=t_rev,
        targets=targets,
        overlap=len(set(t_dec.tolist()) & set(t_rev.tolist())),
    )


def popularity_of_lists(top: np.ndarray, train) -> dict[str, float]:
    """How close top-k lists ([users, k] item columns) are to recommending by popularity: the mean
    number of items they share with Pop's top k, their ARP (:func:`metrics.list_popularity`) and
    how many distinct items all of them hold. ``train``: the training matrix that counts."""
    pop = item_popularity(train)
    k = top.shape[1]
    pop_top = np.argsort(-pop, kind="stable")[:k]
    return {
        f"shared with Pop's top {k}": float(np.isin(top, pop_top).sum(1).mean()),
        "ARP": float(list_popularity(top, pop, train.shape[0])["ARP"].mean()),
        "distinct items": float(len(np.unique(top))),
    }


REVERSE_LOOK_FOR = (
    "what to look for: the liked items (left) stay red from x down to z_1; red cells on the "
    "right of the last row are the items the decoder recommends"
)


def plot_reverse_process(view, titles=None, item_ids=None, dpi: int = DEFAULT_DPI) -> Figure:
    """Notebook 04: one user's reverse process (a :class:`ReverseProcess`). Left: strips of x,
    z_T, ..., z_1 and the decoder's scores over a window of items (half the user's fold-in items, half others). Right: the top 10 under decoder scoring
    and under reverse scoring, held-out hits marked with a check."""
    fig = new_figure(11.0, 3.4, dpi)
    gs = fig.add_gridspec(1, 3, width_ratios=[2.2, 1.0, 1.0])
    ax = fig.add_subplot(gs[0, 0])
    dec_w = view.decoder_scores[view.items]
    rows = np.vstack([view.x_scaled, view.chain, np.tanh(dec_w)])
    im = ax.imshow(rows, aspect="auto", cmap="RdBu_r", vmin=-1.5, vmax=1.5, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.01, label="value: -1 not liked, +1 liked")
    names = ["x (scaled)"] + [f"z_{view.T - i}" for i in range(view.T)] + ["tanh NN(z_1)"]
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xticks([])
    ax.axvline(len(view.items) / 2 - 0.5, color="black", linewidth=0.8)
    ax.set_xlabel("items: the user's fold-in items (left) | others (right)", fontsize=8)
    ax.set_title("reverse chain z_T -> ... -> z_1, then the decoder", fontsize=9)
    targets = set(view.targets.tolist())
    for k, (top, label) in enumerate(
        ((view.top_decoder, "decoder scoring"), (view.top_reverse, "reverse scoring"))
    ):
        a = fig.add_subplot(gs[0, 1 + k])
        a.axis("off")
        lines = []
        for rank, col in enumerate(top, start=1):
            name = item_name(item_ids[col] if item_ids is not None else col, titles)
            lines.append(f"{rank:>2}. {name[:28]}{'  ✓' if col in targets else ''}")
        a.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=7)
        hits = sum(int(c in targets) for c in top)
        a.set_title(f"top {len(top)}, {label}: {hits} hits", fontsize=9)
    fig.suptitle(
        f"the two rankings share {view.overlap} of their top {len(view.top_decoder)} items",
        fontsize=9,
    )
    fig.supxlabel(REVERSE_LOOK_FOR, fontsize=8)
    return fig


def plot_gradient_flow(norms: pd.DataFrame, title: str = "", dpi: int = DEFAULT_DPI) -> Figure:
    """The gradient-flow audit drawn (notebook 06): one row per loss term (and the ranking), one
    column per parameter group, colour = log10 of the gradient norm, blank where it is zero."""
    vals = norms.to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        logv = np.where(vals > 0, np.log10(np.maximum(vals, 1e-300)), np.nan)
    fig = new_figure(1.6 + 1.3 * vals.shape[1], 0.8 + 0.32 * vals.shape[0], dpi)
    ax = fig.subplots()
    im = ax.imshow(logv, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(vals.shape[1]), list(norms.columns), fontsize=8)
    ax.set_yticks(range(vals.shape[0]), list(norms.index), fontsize=8)
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            if vals[i, j] == 0:
                ax.text(j, i, "0", ha="center", va="center", fontsize=7, color="#888888")
    fig.colorbar(im, ax=ax, label="log10 gradient norm")
    ax.set_title(title or "which parameters each term (and the ranking) reaches", fontsize=9)
    return fig


PASS_COLOR, EXPECTED_COLOR, FAIL_COLOR = "#55a868", "#9a9a9a", "#c44e52"
CHECK_LEGEND = {
    PASS_COLOR: "PASS",
    EXPECTED_COLOR: "FAIL, expected: a known deviation of this preset",
    FAIL_COLOR: "FAIL, unexpected",
}


def plot_check_grid(
    verdicts: Mapping[str, Mapping[str, bool]],
    expected: Mapping[str, Collection[str]] | None = None,
    title: str = "",
    dpi: int = DEFAULT_DPI,
) -> Figure:
    """The derivation checks as a pass/fail grid (notebook 03): one column per model (preset),
    one row per check, green PASS, grey FAIL where ``expected[model]`` names the check (the
    released code's known deviations), red only for an unexpected FAIL; blank: not run."""
    models = list(verdicts)
    checks = list(dict.fromkeys(name for v in verdicts.values() for name in v))
    fig = new_figure(2.6 + 1.2 * len(models), 1.2 + 0.36 * len(checks), dpi)
    ax = fig.subplots()
    drawn = []
    for j, model in enumerate(models):
        for i, name in enumerate(checks):
            if name not in verdicts[model]:
                continue
            ok = bool(verdicts[model][name])
            known = name in (expected or {}).get(model, ())
            color = PASS_COLOR if ok else EXPECTED_COLOR if known else FAIL_COLOR
            drawn.append(color)
            ax.fill_between([j - 0.5, j + 0.5], i - 0.5, i + 0.5, color=color)
            ax.text(j, i, "PASS" if ok else "FAIL", ha="center", va="center", color="white",
                    fontsize=9, fontweight="bold")  # fmt: skip
    ax.set_xlim(-0.5, len(models) - 0.5)
    ax.set_ylim(len(checks) - 0.5, -0.5)
    ax.set_xticks(range(len(models)), models, fontsize=9)
    ax.set_yticks(range(len(checks)), checks, fontsize=9)
    ax.tick_params(length=0)
    for j in range(1, len(models)):
        ax.axvline(j - 0.5, color="white", linewidth=3)
    for i in range(1, len(checks)):
        ax.axhline(i - 0.5, color="white", linewidth=2)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.xaxis.tick_top()
    passed = sum(bool(ok) for v in verdicts.values() for ok in v.values())
    total = sum(len(v) for v in verdicts.values())
    known = f", {drawn.count(EXPECTED_COLOR)} FAILs expected" if EXPECTED_COLOR in drawn else ""
    ax.set_title(title or f"derivation checks: {passed} of {total} passed{known}", fontsize=9)
    handles = [Patch(color=c, label=text) for c, text in CHECK_LEGEND.items() if c in drawn]
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False)
    return fig
