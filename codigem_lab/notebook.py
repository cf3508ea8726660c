"""Small helpers the notebooks share: parameters, where the data is, titles, and re-running them.

A notebook's first cell reads its parameters with :func:`is_quick` (``CODIGEM_LAB_QUICK=1``: small
data, few epochs) and picks its data with :func:`resolve_data`. ``"auto"`` means MovieLens-1M from
``../shared/data`` beside the repository (preset ``paper-ml1m``) in full mode, MovieLens-100K from
there in quick mode, and the embedded synthetic dataset when those files are absent (CI on a bare
clone), so every notebook runs anywhere.

The committed notebook outputs come from one command (see ``notebooks/README.md``)::

    python -m codigem_lab.notebook --execute          # all notebooks, full mode, in place

It runs each notebook top to bottom with nbclient and keeps the saved widget state small (only
widgets still on screen, no closed progress bars).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

QUICK_ENV = "CODIGEM_LAB_QUICK"
SHARED_ENV = "CODIGEM_LAB_SHARED_DATA"
ML1M_RATINGS = ("ml-1m", "ratings_no_timestamp.csv")
ML100K_DIR = ("ml-100k",)
TITLE_FILES = ("movies.dat", "u.item", "movies.csv")
WIDGET_STATE_KEY = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW_KEY = "application/vnd.jupyter.widget-view+json"


# =========================================================================== parameters / data
def is_quick(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``CODIGEM_LAB_QUICK=1``: notebooks then use small data and a few epochs."""
    env = os.environ if environ is None else environ
    return env.get(QUICK_ENV, "") == "1"


def repo_root() -> Path | None:
    """The source checkout this package was imported from (editable install), else None."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def shared_data_dir(
    environ: Mapping[str, str] | None = None, start: str | os.PathLike | None = None
) -> Path | None:
    """``../shared/data`` beside the repository, or None when it is absent.

    Looked up in order: ``$CODIGEM_LAB_SHARED_DATA``; ``<repo>/../shared/data`` for the checkout
    this package comes from; ``shared/data`` beside ``start`` (default: the working directory) or
    any of its parents (a notebook runs with its own folder as working directory).
    """
    env = os.environ if environ is None else environ
    if env.get(SHARED_ENV):
        p = Path(env[SHARED_ENV]).expanduser()
        return p if p.is_dir() else None
    candidates = []
    root = repo_root()
    if root is not None:
        candidates.append(root.parent / "shared" / "data")
    here = Path(start) if start is not None else Path.cwd()
    candidates += [p / "shared" / "data" for p in [here, *here.resolve().parents]]
    return next((p for p in candidates if p.is_dir()), None)


@dataclass(frozen=True)
class DataChoice:
    """A dataset as ``prepare_split`` takes it, plus a label and where its item titles are."""

    dataset: str
    source: str | None = None
    preset: str | None = None
    label: str = ""
    titles_path: str | None = None
    split_kwargs: dict = field(default_factory=dict)

    @property
    def is_real(self) -> bool:
        """False for the generated synthetic dataset."""
        return self.dataset != "synthetic"

    def prepare(self, seed: int = 0, protocol: str = "strong", **kwargs):
        """The cached ``Split`` of this data (see :func:`codigem_lab.data.prepare_split`)."""
        from codigem_lab.data import prepare_split

        opts = {**self.split_kwargs, **kwargs}
        return prepare_split(
            self.dataset,
            source=self.source,
            preset=self.preset,
            protocol=protocol,
            seed=seed,
            **opts,
        )

    def interactions(self) -> pd.DataFrame:
        """The preprocessed interactions (columns ``user``, ``item``, ``rating``)."""
        from codigem_lab.data import load_interactions

        return load_interactions(self.dataset, source=self.source, preset=self.preset)

    def titles(self) -> pd.Series | None:
        """Item id -> title, where the dataset has a titles file on disk; else None."""
        if self.titles_path is None:
            return None
        from codigem_lab.data.readers import read_item_titles

        return read_item_titles(self.titles_path)


def ml1m(shared: Path | None = None) -> DataChoice | None:
    """MovieLens-1M from ``../shared/data/ml-1m`` with the paper's preprocessing, or None."""
    shared = shared_data_dir() if shared is None else shared
    if shared is None:
        return None
    ratings = shared.joinpath(*ML1M_RATINGS)
    if not ratings.is_file():
        return None
    return DataChoice(
        "csv",
        str(ratings),
        "paper-ml1m",
        "MovieLens-1M (rating >= 3, 10-core)",
        _titles_beside(ratings),
    )


def ml100k(shared: Path | None = None) -> DataChoice | None:
    """MovieLens-100K from ``../shared/data/ml-100k`` (all ratings kept), or None."""
    shared = shared_data_dir() if shared is None else shared
    if shared is None:
        return None
    folder = shared.joinpath(*ML100K_DIR)
    if not (folder / "u.data").is_file():
        return None
    return DataChoice(
        "ml-100k",
        str(folder),
        "none",
        "MovieLens-100K (all ratings)",
        _titles_beside(folder / "u.data"),
    )


def synthetic() -> DataChoice:
    """The embedded synthetic dataset (ML-100K-shaped, no titles): always available."""
    return DataChoice("synthetic", None, None, "synthetic (ML-100K-shaped, generated)")


def default_data(quick: bool) -> DataChoice:
    """Full mode: ML-1M; quick mode: ML-100K; the synthetic dataset when the files are absent."""
    found = ml100k() if quick else ml1m()
    return found if found is not None else synthetic()


def resolve_data(
    dataset: str = "auto", source: str | None = None, quick: bool = False, preset: str | None = None
) -> DataChoice:
    """A notebook's ``DATASET``/``SOURCE`` parameters as a :class:`DataChoice`.

    ``"auto"`` is :func:`default_data`; ``"ml-1m"`` / ``"ml-100k"`` take the shared copies when
    no source is given; any other name (``"csv"`` with a source, ``"synthetic"``, a registry name)
    is passed to the data layer as it is.
    """
    if dataset == "auto":
        return default_data(quick)
    if dataset == "ml-1m" and source is None and ml1m() is not None:
        return ml1m()  # type: ignore[return-value]
    if dataset == "ml-100k" and source is None and ml100k() is not None:
        return ml100k()  # type: ignore[return-value]
    if dataset == "synthetic":
        return synthetic()
    titles = _titles_beside(Path(source)) if source else None
    return DataChoice(dataset, source, preset, dataset, titles)


def _titles_beside(path: Path) -> str | None:
    folder = path if path.is_dir() else path.parent
    return next((str(folder / n) for n in TITLE_FILES if (folder / n).is_file()), None)


# ============================================================================= display / setup
THREADS_ENV = "CODIGEM_LAB_THREADS"


def torch_threads(environ: Mapping[str, str] | None = None) -> int | None:
    """How many threads torch should use here: ``$CODIGEM_LAB_THREADS``, else 1 on <= 4 cores.

    On a small CPU shared with other work, torch's worker threads spin-wait for each other and an
    epoch can take ten times longer than on one thread (measured: ML-1M, 2 loaded cores, 27 s
    with 2 threads vs 2.4 s with 1). None means: keep torch's default.
    """
    env = os.environ if environ is None else environ
    if env.get(THREADS_ENV):
        return max(1, int(env[THREADS_ENV]))
    return 1 if (os.cpu_count() or 1) <= 4 else None


def setup(dpi: int = 90, threads: int | None = None) -> None:
    """Prepare a notebook session: inline PNG figures at a modest dpi, torch's thread count.

    ``threads`` defaults to :func:`torch_threads`. Figures returned by the ``viz`` functions are
    then displayed once, as small PNGs.
    """
    import matplotlib

    matplotlib.rcParams["figure.dpi"] = int(dpi)
    n = threads if threads is not None else torch_threads()
    if n is not None:
        import torch

        torch.set_num_threads(n)
    try:
        from IPython import get_ipython
    except ImportError:  # not in IPython: nothing more to configure
        return
    ip = get_ipython()
    if ip is None:
        return
    ip.run_line_magic("matplotlib", "inline")
    ip.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    from matplotlib.figure import Figure

    from codigem_lab.viz.plots import figure_png

    ip.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


def item_name(item_id, titles: pd.Series | None) -> str:
    """A readable item name: its title when known, else ``item <id>``."""
    if titles is not None and item_id in titles.index:
        return str(titles[item_id])
    return f"item {item_id}"


def recommendations_frame(
    recommender,
    split,
    rows: Sequence[int],
    n: int = 10,
    titles: pd.Series | None = None,
    which: str = "test",
) -> pd.DataFrame:
    """Top-``n`` items for some held-out users, with titles and whether each is a held-out hit.

    One row per (user, rank): ``user``, ``seen`` (fold-in size), ``rank``, ``item``, ``title``,
    ``hit`` (the item is in the user's held-out target set).
    """
    es = split.eval_set(which)
    rows = np.asarray(rows)
    top = recommender.recommend(es.fold_in[rows], n=n)
    out = []
    for r, items in zip(rows, top, strict=True):
        targets = set(es.target[r].indices.tolist())
        for rank, col in enumerate(items, start=1):
            item_id = split.items[col]
            out.append(
                {
                    "user": es.users[r],
                    "seen": int(es.fold_in[r].nnz),
                    "rank": rank,
                    "item": item_id,
                    "title": item_name(item_id, titles),
                    "hit": col in targets,
                }
            )
    return pd.DataFrame(out)


def users_with_targets(split, k: int = 3, min_seen: int = 10, which: str = "test") -> np.ndarray:
    """The first ``k`` held-out rows with at least ``min_seen`` fold-in items and some targets."""
    es = split.eval_set(which)
    seen = np.diff(es.fold_in.indptr)
    tgt = np.diff(es.target.indptr)
    return np.flatnonzero((seen >= min_seen) & (tgt > 0))[:k]


def typical_user(matrix, quantile: float = 0.5) -> int:
    """Row index of a user whose interaction count is at the given quantile (median by default)."""
    counts = np.diff(matrix.indptr)
    target = np.quantile(counts, quantile)
    return int(np.argmin(np.abs(counts - target)))


# ============================================================================ ELBO presentation
def elbo_terms_dict(terms) -> dict[str, float]:
    """Flatten :class:`~codigem_lab.diffusion.ELBOTerms` (batch means) into named floats.

    Names follow eq (9): ``ln p(x|z1)``, ``ln p(z1|z2)``..., ``ln p(zT)``, ``-ln q(z1|x)``,
    ``-ln q(z2|z1)``..., then ``KL`` and ``ELBO``.
    """
    out = {"ln p(x|z1)": float(terms.reconstruction)}
    for i, r in enumerate(terms.reverse, start=1):
        out[f"ln p(z{i}|z{i + 1})"] = float(r)
    out["ln p(zT)"] = float(terms.prior)
    for i, f in enumerate(terms.forward_entropy, start=1):
        cond = "x" if i == 1 else f"z{i - 1}"
        out[f"-ln q(z{i}|{cond})"] = float(f)
    out["KL"] = float(terms.kl)
    out["ELBO"] = float(terms.elbo)
    out["loss"] = float(terms.loss)
    return out


def evaluate_elbo_terms(
    model, x, seed: int = 0, kl_weight: float | None = None
) -> dict[str, float]:
    """ELBO terms of ``model`` on a dense batch ``x`` with a fixed noise seed (eval mode)."""
    import torch

    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            gen = torch.Generator().manual_seed(seed)
            return elbo_terms_dict(model(x, generator=gen, kl_weight=kl_weight))
    finally:
        model.train(was)


def expected_forward_term(n_items: int, beta: float) -> float:
    """E[-ln q(z_i | z_{i-1})] = D/2 (ln(2 pi beta) + 1): a constant of the schedule (nats)."""
    import math

    return 0.5 * n_items * (math.log(2 * math.pi * beta) + 1.0)


#: Each released-code deviation of ``docs/released-code-notes.md`` alone, then all of them.
DEVIATIONS: dict[str, dict | str] = {
    "paper": {},
    "1 forward_term_bug": {"forward_term_bug": True},
    "2 pairing_bug": {"pairing_bug": True},
    "3 anneal_overwritten": {"anneal_overwritten": True},
    "4 init='released'": {"init": "released"},
    "5 input_scaling='none'": {"input_scaling": "none"},
    "released (1-5)": "released",
}


def deviation_study(
    split,
    epochs: int,
    beta: float = 1e-4,
    seed: int = 0,
    kl_weight: float = 0.5,
    n_users: int = 200,
    deviations: Mapping[str, dict | str] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Train the paper model with each deviation switched on alone; report its ELBO terms.

    Every variant trains ``epochs`` epochs from the same seed, then is scored on the same
    ``n_users`` training users with the same noise. Columns: the terms as the variant's code
    reports them (:func:`elbo_terms_dict`; ``loss`` with a KL weight of ``kl_weight``, so
    deviation 3 shows), ``true ELBO`` (the same weights scored by the textbook eq (9), see
    :func:`textbook_config`) and the validation ``R@50`` of the best epoch.
    """
    import torch

    from codigem_lab.codigem import CODIGEMRecommender
    from codigem_lab.diffusion.model import CODIGEM
    from codigem_lab.train import TrainConfig

    rows = {}
    x = torch.from_numpy(split.train[: min(n_users, split.n_train_users)].toarray())
    cfg = TrainConfig(max_epochs=epochs, patience=epochs, seed=seed, progress=progress)
    for name, switch in (deviations or DEVIATIONS).items():
        variant, overrides = ("released", {}) if switch == "released" else ("paper", dict(switch))
        rec = CODIGEMRecommender(variant, cfg, beta=beta, **overrides).fit(split)
        model = rec.module.model
        row = evaluate_elbo_terms(model, x, seed=seed, kl_weight=kl_weight)
        true_model = CODIGEM(textbook_config(model.config)).to(next(model.parameters()).device)
        true_model.load_state_dict(model.state_dict())
        row["true ELBO"] = evaluate_elbo_terms(true_model, x, seed=seed)["ELBO"]
        row["R@50 (valid)"] = rec.result.valid.metrics["R@50"]
        rows[name] = row
    return pd.DataFrame(rows).T


def textbook_config(config):
    """The same config with the evaluation-side bugs (deviations 1-3) switched off.

    Scoring a model trained with a bug under this config gives its true ELBO (eq 9), since the
    bugs change what is reported, not the architecture.
    """
    import dataclasses

    return dataclasses.replace(
        config, forward_term_bug=False, pairing_bug=False, anneal_overwritten=False
    )


# ==================================================================== paper numbers / tables
#: Table 1 of the paper (statistics after preprocessing), as printed there.
PAPER_TABLE1 = {
    "ML-20m": {"users": 136677, "items": 20108, "interactions": 9990682, "sparsity": 99.64},
    "ML-1m": {"users": 6034, "items": 3124, "interactions": 834449, "sparsity": 95.57},
    "AE": {"users": 13456, "items": 8361, "interactions": 234521, "sparsity": 99.79},
}
#: CODIGEM's row of the paper's Table 2 on ML-1M.
PAPER_CODIGEM_ML1M = {"R@20": 0.2796, "R@50": 0.4354, "N@20": 0.2447, "N@50": 0.3026}


def table1_comparison(stats: Mapping[str, float], label: str, paper: str = "ML-1m") -> str:
    """Our Table 1 statistics beside the paper's column for ``paper``, as fixed-width text."""
    ref = PAPER_TABLE1[paper]
    rows = [
        ("users", f"{stats['users']:,}", f"{ref['users']:,}", stats["users"] - ref["users"]),
        ("items", f"{stats['items']:,}", f"{ref['items']:,}", stats["items"] - ref["items"]),
        (
            "interactions",
            f"{stats['interactions']:,}",
            f"{ref['interactions']:,}",
            stats["interactions"] - ref["interactions"],
        ),
        ("sparsity", f"{stats['sparsity']:.2f}%", f"{ref['sparsity']:.2f}%", None),
    ]
    head = f"{'':14}{'ours':>14}{'paper':>14}{'ours - paper':>14}"
    lines = [f"ours: {label}", f"paper: Table 1, {paper}", "", head]
    for name, ours, theirs, diff in rows:
        d = "" if diff is None else f"{diff:+,d}"
        lines.append(f"{name:14}{ours:>14}{theirs:>14}{d:>14}")
    return "\n".join(lines)


def preprocessing_steps(data: DataChoice) -> pd.DataFrame:
    """Users, items and interactions after each preprocessing step (raw, threshold, k-core)."""
    from codigem_lab.data import get_preset, load_ratings, table1_stats
    from codigem_lab.data.preprocess import k_core, to_implicit
    from codigem_lab.data.synthetic import generate

    prep = get_preset(data.preset or "none")
    raw = generate() if data.dataset == "synthetic" else load_ratings(data.dataset, data.source)
    thresholded = to_implicit(raw, prep)
    cored = k_core(thresholded, prep.user_core, prep.item_core, prep.iterative)
    if prep.min_rating is None:
        thr = "no rating threshold"
    else:
        thr = f"rating {'>' if prep.strict else '>='} {prep.min_rating:g}"
    core = (
        f"{'iterative ' if prep.iterative else ''}core: users >= {prep.user_core}, "
        f"items >= {prep.item_core}"
        if prep.user_core or prep.item_core
        else "no k-core"
    )
    steps = {"raw ratings": raw, thr: thresholded, core: cored}
    table = pd.DataFrame({k: table1_stats(v) for k, v in steps.items()}).T
    return table.astype({"users": int, "items": int, "interactions": int})


def interaction_matrix(df: pd.DataFrame) -> sp.csr_matrix:
    """The 0/1 user x item CSR matrix of an interactions table (rows/columns in sorted id order)."""
    users, u = np.unique(df["user"].to_numpy(), return_inverse=True)
    items, i = np.unique(df["item"].to_numpy(), return_inverse=True)
    m = sp.csr_matrix((np.ones(len(df), dtype=np.float32), (u, i)), shape=(len(users), len(items)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def toy_interactions(
    n_users: int = 16, n_items: int = 24, n_interactions: int = 150, seed: int = 3
) -> pd.DataFrame:
    """A tiny synthetic interaction table for drawing the protocols cell by cell."""
    from codigem_lab.data.synthetic import generate

    return generate(
        n_users=n_users, n_items=n_items, n_interactions=n_interactions, n_groups=2, seed=seed
    )


def click_vector(matrix, row: int) -> np.ndarray:
    """One user's 0/1 interaction vector over all items (a dense 1-D float array)."""
    return np.asarray(matrix[row].toarray(), dtype=np.float64).reshape(-1)


def fold_in_titles(
    split, row: int, titles: pd.Series | None, n: int = 10, which: str = "test"
) -> list[str]:
    """Names of up to ``n`` items a held-out user has interacted with (their fold-in items)."""
    es = split.eval_set(which)
    cols = es.fold_in[row].indices[:n]
    return [item_name(split.items[c], titles) for c in cols]


def recommendations_wide(frame: pd.DataFrame, mark: str = " ✓") -> pd.DataFrame:
    """:func:`recommendations_frame` as one column per user; held-out hits marked with ``mark``."""
    df = frame.assign(
        label=frame["title"] + np.where(frame["hit"], mark, ""),
        column=[f"user {u} ({s} seen)" for u, s in zip(frame["user"], frame["seen"], strict=True)],
    )
    return df.pivot(index="rank", columns="column", values="label")


def runs_table(runs: Mapping[tuple[str, int], object]) -> pd.DataFrame:
    """One row per trained run ``{(name, seed): fitted NeuralRecommender}``: test metrics, epochs,
    best epoch, seconds per epoch (training and validation pass), whether it stopped early."""
    rows = []
    for (name, seed), rec in runs.items():
        r = rec.result
        rows.append(
            {
                "model": name,
                "seed": seed,
                **{k: r.test.metrics[k] for k in ("R@20", "R@50", "N@20", "N@50")},
                "epochs": r.epochs,
                "best epoch": r.best_epoch,
                "train s/epoch": r.train_s_per_epoch,
                "eval s/epoch": r.eval_s_per_epoch,
                "stopped early": r.stopped_early,
            }
        )
    return pd.DataFrame(rows).set_index(["model", "seed"])


# ======================================================================= executing notebooks
def notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (needs a source checkout)."""
    root = repo_root()
    if root is None:
        raise FileNotFoundError("codigem_lab is not imported from a source checkout")
    return root / "notebooks"


def _widget_refs(value) -> Iterable[str]:
    """Model ids a widget's state refers to (``IPY_MODEL_<id>`` strings, nested anywhere)."""
    if isinstance(value, str):
        if value.startswith("IPY_MODEL_"):
            yield value[len("IPY_MODEL_") :]
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _widget_refs(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _widget_refs(v)


def _refresh_progress_text(nb, state: Mapping[str, dict]) -> None:
    """Give each saved progress bar (tqdm's HTML | progress | HTML box) its final text.

    The plain-text fallback of a widget output is captured when the bar first appears
    ("0/3"); viewers that do not render widgets would show that forever.
    """
    import html
    import re

    def value(mid: str, key: str = "value"):
        return state.get(mid, {}).get("state", {}).get(key)

    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            view = out.get("data", {}).get(WIDGET_VIEW_KEY) if "data" in out else None
            box = state.get(view["model_id"], {}) if view else {}
            kids = [r[len("IPY_MODEL_") :] for r in box.get("state", {}).get("children", []) or []]
            if len(kids) != 3 or state.get(kids[1], {}).get("model_name") != "FloatProgressModel":
                continue
            left, right = (
                html.unescape(re.sub(r"<[^>]+>", "", str(value(k) or ""))).strip()
                for k in (kids[0], kids[2])
            )
            done, total = value(kids[1]), value(kids[1], "max")
            frac = float(done or 0) / float(total) if total else 0.0
            bar = "█" * int(round(10 * frac)) + " " * (10 - int(round(10 * frac)))
            out["data"]["text/plain"] = f"{left} |{bar}| {right}".strip()


def prune_widget_state(nb, closed: set[str] | frozenset[str] = frozenset()) -> None:
    """Keep only widgets still on screen: drop views of closed widgets and unreachable models.

    Progress bars that closed themselves (``leave=False``) and intermediate widgets would
    otherwise stay in the saved state and bloat the file.
    """
    meta = nb.metadata.get("widgets", {}).get(WIDGET_STATE_KEY)
    state = dict(meta["state"]) if meta else {}
    for cid in closed:
        state.pop(cid, None)
    roots = set()
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW_KEY) if "data" in out else None
            if view is not None and view.get("model_id") not in state:
                continue  # a view of a widget that no longer exists
            if view is not None:
                roots.add(view["model_id"])
            kept.append(out)
        cell["outputs"] = kept
    _refresh_progress_text(nb, state)
    reach, todo = set(), list(roots)
    while todo:
        mid = todo.pop()
        if mid in reach or mid not in state:
            continue
        reach.add(mid)
        todo.extend(_widget_refs(state[mid].get("state", {})))
    if meta:
        if reach:
            meta["state"] = {k: v for k, v in state.items() if k in reach}
        else:
            del nb.metadata["widgets"]


def execute_notebook(
    path: str | os.PathLike, quick: bool = False, timeout: int = 3600, kernel: str = "python3"
) -> float:
    """Run one notebook top to bottom in its own folder and save it in place; return seconds."""
    import nbformat
    from nbclient import NotebookClient

    class _Client(NotebookClient):
        """Records widgets that closed (nbclient keeps their state otherwise)."""

        closed: set[str] = set()

        def handle_comm_msg(self, outs, msg, cell_index):  # noqa: ANN001 (nbclient's signature)
            if msg["msg_type"] == "comm_close":
                self.closed.add(msg["content"]["comm_id"])
            return super().handle_comm_msg(outs, msg, cell_index)

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get(QUICK_ENV)
    os.environ[QUICK_ENV] = "1" if quick else "0"
    client = _Client(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
    )
    client.closed = set()
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        if env_before is None:
            os.environ.pop(QUICK_ENV, None)
        else:
            os.environ[QUICK_ENV] = env_before
    prune_widget_state(nb, client.closed)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m codigem_lab.notebook --execute [NAME ...] [--quick]``."""
    parser = argparse.ArgumentParser(
        prog="python -m codigem_lab.notebook",
        description="Re-run the notebooks in place (full mode by default) to refresh their outputs.",
    )
    parser.add_argument("--execute", action="store_true", help="execute notebooks in place")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all, in order)")
    parser.add_argument("--quick", action="store_true", help="quick mode (small data, few epochs)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    if not args.execute:
        parser.print_help()
        return 2
    folder = notebooks_dir()
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if args.names:
        wanted = [Path(n).stem for n in args.names]
        paths = [p for p in paths if p.stem in wanted or p.stem.split("_")[0] in wanted]
        if not paths:
            parser.error(f"no notebook matches {args.names}")
    for p in paths:
        print(f"executing {p.name} ({'quick' if args.quick else 'full'} mode) ...", flush=True)
        seconds = execute_notebook(p, quick=args.quick, timeout=args.timeout)
        print(f"  done in {seconds:.0f} s, {p.stat().st_size / 1024:.0f} KB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
