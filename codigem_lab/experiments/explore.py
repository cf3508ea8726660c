"""The live explorer's computation: one (beta, T, preset, ...) setting -> what the panel shows,
CODIGEM at a short budget through the result cache beside Pop and Item-KNN (docs/explorer.md)."""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from codigem_lab._io import write_json
from codigem_lab.codigem import CODIGEMParams
from codigem_lab.data import load_item_titles
from codigem_lab.diffusion.model import CODIGEMConfig
from codigem_lab.diffusion.types import PRESETS, InputScaling, Preset
from codigem_lab.errors import ConfigError
from codigem_lab.experiments.cache import ResultCache, RunInProgress, RunRecord
from codigem_lab.experiments.studies import VARIANTS
from codigem_lab.metrics import catalogue_coverage, item_popularity, list_popularity, top_items
from codigem_lab.models import build_model
from codigem_lab.neural import NeuralRecommender
from codigem_lab.options import knob
from codigem_lab.report import item_name
from codigem_lab.runs import DataSpec, RunSpec, run_training
from codigem_lab.train import TrainConfig
from codigem_lab.validate import check_choice, check_int

#: The explorer's training budget (docs/explorer.md): epochs, patience, users per batch.
EPOCHS = 10
PATIENCE = 3
BATCH_SIZE = 50
#: Extra CODIGEM parameters for every explorer run: the decoder-only fast path (the same decoder
#: weights and metrics under decoder scoring, bit for bit, 2-4x faster; ``{}`` trains every
#: network). They are part of the run's cache key.
FAST_PATH_PARAMS: dict = {"decoder_only": True}
#: Items kept per test user in ``explore_top.json`` (the panel shows 10; 50 lets tests check R@50).
TOP_STORED = 50
TOP_N = 10
TOP_FILE = "explore_top.json"
MIN_TARGETS = 3
BASELINES = ("pop", "itemknn")
MODELS = ("codigem", *BASELINES)
#: Seconds between looks at a run another process is training, and how long to wait for it.
WAIT_POLL_S = 1.0
WAIT_MAX_S = 900.0
#: The setting's data fields, each with the :class:`DataSpec` field it sets.
DATA_FIELDS = {
    "dataset": "dataset",
    "source": "source",
    "data_preset": "preset",
    "split_seed": "seed",
    "max_users": "max_users",
}


def variant_overrides() -> dict[str, dict]:
    """Table 3's variants by their short name: 'base', 'I', 'II', 'III', 'IV' -> config overrides."""
    return {name.split()[0]: dict(v) for name, v in VARIANTS.items()}


@dataclass(frozen=True)
class ExploreSetting:
    """One explorer setting: the model (preset, beta, T, input scaling, variant), the data, the
    budget, and which test user to show (``user``: an original user id; None: a typical one)."""

    beta: float = knob(1e-4, "noise per step, 0 < beta < 1")
    T: int = knob(3, "diffusion steps, >= 1")
    preset: Preset = knob("paper", "CODIGEM preset")
    input_scaling: InputScaling | None = knob(None, "x in {-1, 1} or {0, 1}; the preset's")
    variant: str = knob("base", "Table 3 variant: base, I (annealing), II, III (skips), IV")
    dataset: str = knob("ml-100k", "registry name, 'csv' or 'synthetic'")
    source: str | None = knob(None, "local file, folder or archive to read")
    data_preset: str | None = knob(None, "preprocessing (default: the dataset's)")
    split_seed: int = 0
    seed: int = knob(0, "training seed")
    max_users: int | None = knob(None, "keep only this many users")
    epochs: int = knob(EPOCHS, "at most this many epochs")
    patience: int = PATIENCE
    batch_size: int = BATCH_SIZE
    user: int | None = knob(None, "test user id (default: a typical one)")

    def __post_init__(self) -> None:
        check_choice("variant", self.variant, tuple(variant_overrides()))
        for name in ("epochs", "patience", "batch_size"):
            check_int(name, getattr(self, name), 1)
        for name in ("seed", "split_seed"):
            check_int(name, getattr(self, name), 0)
        if self.max_users is not None:
            check_int("max_users", self.max_users, 1, "leave it out to keep every user")
        # the model's knobs become CODIGEM's typed params here, checked once (CODIGEMConfig)
        object.__setattr__(self, "params", CODIGEMParams.of(self.preset, self._given()))

    def _given(self) -> dict:
        """beta, T, the variant's overrides, the input scaling where not the preset's, fast path."""
        plain = [v.item() if isinstance(v, np.generic) else v for v in (self.beta, self.T)]
        params = dict(zip(("beta", "T"), plain))
        params.update(variant_overrides()[self.variant])
        own = self.preset in PRESETS and CODIGEMConfig.preset_value(self.preset, "input_scaling")
        if self.input_scaling is not None and self.input_scaling != own:
            params["input_scaling"] = self.input_scaling
        params.update(FAST_PATH_PARAMS)
        return params

    @property
    def scaling(self) -> str:
        """The input scaling this setting trains with."""
        return self.params.config.input_scaling

    def data(self) -> DataSpec:
        return DataSpec(**{spec: getattr(self, mine) for mine, spec in DATA_FIELDS.items()})

    def spec(self, model: str = "codigem", progress: bool = False) -> RunSpec:
        """The run behind this setting's ``model`` ('codigem', 'pop' or 'itemknn')."""
        if model == "codigem":
            train = TrainConfig(
                max_epochs=int(self.epochs),
                patience=int(self.patience),
                batch_size=int(self.batch_size),
                seed=self.seed,
                progress=progress,
            )
            return RunSpec(self.data(), "codigem", self.preset, self.params, train)
        if model in BASELINES:
            return RunSpec(
                self.data(), model, None, {}, TrainConfig(seed=self.seed, progress=False)
            )
        raise ConfigError(f"model must be one of {MODELS}; got {model!r}")

    def label(self) -> str:
        extra = "" if self.input_scaling is None else f", input {self.scaling}"
        var = "" if self.variant == "base" else f", variant {self.variant}"
        return f"beta = {self.beta:.3g}, T = {self.T}, {self.preset} preset{extra}{var}"


@dataclass
class TopItem:
    """One recommended item: original item id, title, whether it is one of the user's held-out items."""

    rank: int
    item: int
    title: str
    hit: bool


@dataclass
class ExploreResult:
    """Everything the explorer shows for one setting (plain data; see :func:`explore`)."""

    setting: ExploreSetting
    user: int
    n_fold_in: int
    targets: list[str]
    top: dict[str, list[TopItem]]  # model -> top 10 for the user
    metrics: dict[str, dict[str, float]]  # model -> test R@20, R@50 (means over test users)
    user_metrics: dict[str, dict[str, float]]  # model -> the user's own R@20, R@50
    history: pd.DataFrame  # epoch, R@50 (validation), loss
    baseline_valid: dict[str, float]  # model -> validation R@50 (lines on the training curve)
    alpha_bar_1: float
    alpha_bar_T: float
    epochs: int
    best_epoch: int
    trained: bool  # False when every run came from the cache
    seconds: float
    key: str
    user_choices: list[tuple[str, int]] = field(default_factory=list)
    synthetic: bool = False
    beyond: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> ARP, novelty...
    seen: list[str] = field(default_factory=list)  # the user's fold-in titles (their history)

    def to_json(self) -> dict:
        """The ``--json`` line of ``codigem-lab explore``."""
        s = self.setting
        out = {k: getattr(s, k) for k in ("dataset", "beta", "T", "preset")}
        out |= {"input_scaling": s.scaling, "variant": s.variant, "user": self.user}
        for model in MODELS:
            prefix = "" if model == "codigem" else f"{model}_"
            for k, v in {**self.metrics[model], **self.beyond.get(model, {})}.items():
                out[f"{prefix}{k}"] = v
        out["seen"] = self.seen
        out["top10"] = [dataclasses.asdict(t) for t in self.top["codigem"]]
        for model in BASELINES:
            out[f"{model}_top10"] = [dataclasses.asdict(t) for t in self.top[model]]
        out |= {k: getattr(self, k) for k in ("alpha_bar_1", "alpha_bar_T", "epochs", "best_epoch")}
        out["valid_R50_per_epoch"] = [round(float(v), 5) for v in self.history["R@50"]]
        out |= {"trained": self.trained, "seconds": round(self.seconds, 3), "key": self.key}
        return out


# ------------------------------------------------------------------------------------ users
def test_users(split) -> pd.DataFrame:
    """The split's test users: index original user id, columns ``row``, ``fold_in``, ``targets``."""
    es = split.test
    return pd.DataFrame(
        {
            "row": np.arange(es.n_users),
            "fold_in": np.diff(es.fold_in.indptr),
            "targets": np.diff(es.target.indptr),
        },
        index=pd.Index(es.users, name="user"),
    )


def typical_user(split, min_targets: int = MIN_TARGETS) -> int:
    """Of the test users with >= ``min_targets`` held-out items, the one whose number of fold-in
    items is nearest the median (ties: the smallest id)."""
    users = test_users(split)
    ok = users[users["targets"] >= min_targets]
    if not len(ok):
        ok = users[users["targets"] > 0]
    if not len(ok):
        raise ConfigError("the split's test set has no user with held-out items; use more data")
    dist = (ok["fold_in"] - ok["fold_in"].median()).abs()
    return int(dist.sort_values(kind="stable").index[0])


def user_choices(split, min_targets: int = MIN_TARGETS, limit: int = 60) -> list[tuple[str, int]]:
    """(label, user id) for the user picker: test users with >= ``min_targets`` held-out items,
    the typical one first, then by number of rated items."""
    users = test_users(split)
    ok = users[users["targets"] >= min_targets].sort_values("fold_in", kind="stable")
    first = typical_user(split, min_targets)
    ids = [first] + [int(u) for u in ok.index if int(u) != first][: limit - 1]
    return [
        (
            f"user {u}: {users.at[u, 'fold_in']} seen, {users.at[u, 'targets']} held out"
            + (" (typical)" if u == first else ""),
            u,
        )
        for u in ids
    ]


def _user_row(split, user: int | None) -> tuple[int, int]:
    users = test_users(split)
    if user is None:
        user = typical_user(split)
    if int(user) not in users.index:
        some = ", ".join(str(u) for u in users[users["targets"] >= MIN_TARGETS].index[:8])
        raise ConfigError(
            f"user {user} is not a test user of this split (only test users have held-out items "
            f"to mark); pick one of the {len(users)} test users, e.g. {some}, or leave it unset "
            "for a typical one"
        )
    return int(user), int(users.at[int(user), "row"])


# ------------------------------------------------------------------------------ top lists
def _scorer(spec: RunSpec, record: RunRecord, split):
    """A callable fold-in CSR -> scores for the run: from its kept checkpoint, or refitted."""
    rec = build_model(spec.model, spec.variant, spec.params, spec.train, None)
    if not isinstance(rec, NeuralRecommender):
        rec.fit(split, progress=False)  # Pop / Item-KNN: a fraction of a second, deterministic
        return rec.score
    best = record.path / "best.pt"
    if best.exists():
        return rec.load(split, best).score
    # cached by someone else without a checkpoint: train the same seeded run again, off the cache
    with tempfile.TemporaryDirectory(prefix="codigem-explore-") as tmp:
        out = run_training(spec, tmp)
    return out.recommender.score


def stored_top(spec: RunSpec, record: RunRecord, split) -> dict[int, list[int]]:
    """Each test user's top :data:`TOP_STORED` items for the run (user id -> item ids), computed
    once and kept in the run's cache folder; the run's checkpoints are deleted after."""
    path = record.path / TOP_FILE
    try:
        d = json.loads(path.read_text())
        if d.get("key") == spec.key() and d.get("n") == TOP_STORED:
            return {int(u): [int(i) for i in items] for u, items in d["top"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # missing or unreadable: recompute below
    es = split.test
    scores = torch.as_tensor(_scorer(spec, record, split)(es.fold_in)).cpu()
    top = split.items[
        top_items(scores, torch.from_numpy(es.mask.toarray() > 0), TOP_STORED).numpy()
    ]
    out = {int(u): [int(i) for i in row] for u, row in zip(es.users, top)}
    write_json(
        path, {"key": spec.key(), "n": TOP_STORED, "top": {str(u): v for u, v in out.items()}}
    )
    for f in ("best.pt", "last.pt"):
        (record.path / f).unlink(missing_ok=True)
    return out


def cached_run(cache: ResultCache, spec: RunSpec) -> tuple[RunRecord, bool]:
    """The run's record through the cache (trained now: True), waiting for another process."""
    deadline = time.monotonic() + WAIT_MAX_S
    while True:
        try:
            record = cache.run(spec, keep_checkpoints=spec.model == "codigem")
            return record, not record.from_cache
        except RunInProgress as exc:
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"{exc}; waited {WAIT_MAX_S:.0f} s for it. Try again when it has finished."
                ) from exc
            time.sleep(WAIT_POLL_S)


def beyond_accuracy(top: dict[int, list[int]], split, k: int = TOP_STORED) -> dict[str, float]:
    """ARP, novelty (means over the test users) and catalogue coverage of every test user's top
    ``k`` (``top``: user id -> item ids, as :func:`stored_top` keeps them), by the metrics' rules."""
    ids = np.array([top[int(u)][:k] for u in split.test.users])
    rows = pd.Index(split.items).get_indexer(ids.ravel()).reshape(ids.shape)
    lists = list_popularity(rows, item_popularity(split.train), split.train.shape[0])
    return {
        f"ARP@{k}": float(lists["ARP"].mean()),
        f"novelty@{k}": float(lists["novelty"].mean()),
        f"coverage@{k}": catalogue_coverage(rows, len(split.items)),
    }


# ---------------------------------------------------------------------------------- explore
@functools.cache
def _titles(dataset: str, source: str | None) -> pd.Series | None:
    return load_item_titles(dataset, source=source)


@functools.cache
def data_split(data: DataSpec):
    """``data.load()``, once per session (every setting of the panel shares its data)."""
    return data.load()


def data_fields(data: DataSpec | str) -> dict:
    """The :class:`ExploreSetting` fields of resolved data (or of a bare dataset name)."""
    if isinstance(data, str):
        return {"dataset": data}
    unsupported = {
        f.name: getattr(data, f.name)
        for f in dataclasses.fields(data)
        if f.name in ("protocol", "min_rating", "user_core", "item_core", "n_heldout")
        and getattr(data, f.name) != f.default
    }
    if unsupported:
        raise ConfigError(
            f"the explorer trains on the data's own preprocessing and the strong protocol; "
            f"{unsupported} cannot be set here (leave them at their defaults)"
        )
    return {mine: getattr(data, spec) for mine, spec in DATA_FIELDS.items()}


def explore(
    setting: ExploreSetting | None = None,
    cache: ResultCache | str | None = None,
    progress: bool = False,
) -> ExploreResult:
    """Train (or load) ``setting``'s CODIGEM, Pop and Item-KNN runs through ``cache`` (a
    :class:`ResultCache`, its folder or None: the default); what the panel shows for its user."""
    start = time.perf_counter()
    setting = setting or ExploreSetting()
    cache = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    split = data_split(setting.data())
    user, row = _user_row(split, setting.user)
    es = split.test
    targets = set(int(i) for i in split.items[es.target[row].indices])
    titles = _titles(setting.dataset, setting.source)
    top, metrics, user_metrics, records, beyond, trained = {}, {}, {}, {}, {}, False
    for model in MODELS:
        spec = setting.spec(model, progress=progress)
        rec, now = cached_run(cache, spec)
        trained |= now
        lists = stored_top(spec, rec, split)
        beyond[model] = beyond_accuracy(lists, split)
        items = lists[user][:TOP_N]
        top[model] = [
            TopItem(r, i, item_name(i, titles), i in targets) for r, i in enumerate(items, start=1)
        ]
        metrics[model] = {k: float(rec.test[k]) for k in ("R@20", "R@50")}
        per_user = rec.per_user()
        user_metrics[model] = (
            {k: float(per_user.at[user, k]) for k in ("R@20", "R@50")}
            if user in per_user.index
            else {}
        )
        records[model] = rec
    record = records["codigem"]
    history = record.history()  # CODIGEM is trained: its run folder always has history.csv
    keep = [c for c in ("epoch", "R@50", "loss") if c in history.columns]
    ab = setting.params.config.noise_schedule().alpha_bar  # the schedule the model diffuses with
    return ExploreResult(
        setting=setting,
        user=user,
        n_fold_in=int(es.fold_in[row].nnz),
        targets=[item_name(i, titles) for i in sorted(targets)],
        top=top,
        metrics=metrics,
        user_metrics=user_metrics,
        history=history[keep],
        baseline_valid={m: float(records[m].valid["R@50"]) for m in BASELINES},
        alpha_bar_1=float(ab[0]),
        alpha_bar_T=float(ab[-1]),
        epochs=int(record.summary.get("epochs", len(history))),
        best_epoch=int(record.summary.get("best_epoch", 0)),
        trained=trained,
        seconds=time.perf_counter() - start,
        key=record.path.name,  # the cache folder is named by the run's key
        user_choices=user_choices(split),
        synthetic=setting.dataset == "synthetic",
        beyond=beyond,
        seen=sorted(item_name(int(i), titles) for i in split.items[es.fold_in[row].indices]),
    )
