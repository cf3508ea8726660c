"""The explorer's runs (explorer notebook, 07): the panel's callable (one setting), a grid trained
ahead, the settings already cached (the panel's scatter points), and CODIGEM at the paper's budget
beside Item-KNN and Pop (why Item-KNN can beat the explorer's CODIGEM)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import pandas as pd
from tqdm.auto import tqdm

from codigem_lab.diffusion.types import PRESETS
from codigem_lab.errors import ConfigError
from codigem_lab.experiments.aggregate import compare
from codigem_lab.experiments.cache import ResultCache
from codigem_lab.experiments.explore import (
    FAST_PATH_PARAMS,
    ExploreResult,
    ExploreSetting,
    cached_run,
    data_fields,
    data_split,
    explore,
    stored_top,
    variant_overrides,
)
from codigem_lab.runs import DataSpec
from codigem_lab.train import TrainConfig

#: The paper's training budget (Sec. 3.1, TrainConfig's defaults).
PAPER_BUDGET = {
    "epochs": TrainConfig.max_epochs,
    "patience": TrainConfig.patience,
    "batch_size": TrainConfig.batch_size,
}


class Explorer:
    """``explore`` with the data, budget and cache fixed, called with the panel's widget values:
    ``Explorer(data)(beta=..., T=...)`` (``course.explorer.ExplorerPanel`` takes it)."""

    def __init__(
        self,
        data: DataSpec | str = "ml-100k",
        cache: ResultCache | str | None = None,
        progress: bool = False,
        **fixed,
    ) -> None:
        """``data``: resolved data (``resolve_data``'s :class:`DataSpec`) or a dataset name."""
        self.base = ExploreSetting(**{**data_fields(data), **fixed})
        self.cache = cache if isinstance(cache, ResultCache) else ResultCache(cache)
        self.progress = progress

    @property
    def banner(self) -> str | None:
        """The synthetic-data warning the panel shows above everything; None for real data."""
        return self.base.data().banner

    def setting(self, **values) -> ExploreSetting:
        return dataclasses.replace(self.base, **values)

    def __call__(self, **values) -> ExploreResult:
        return explore(self.setting(**values), self.cache, self.progress)


def budget_comparison(setting: ExploreSetting, cache: ResultCache | str | None = None):
    """One row per run (the budget, epochs run, test R@50) and CODIGEM's paired difference from
    Item-KNN over the test users (mean, ``low``/``high``: its 95% t-interval; one seed)."""
    cache = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    split = data_split(setting.data())
    paper = dataclasses.replace(setting, **PAPER_BUDGET)
    runs = {}
    for label, s, model in (
        ("CODIGEM, the explorer's budget", setting, "codigem"),
        ("CODIGEM, the paper's budget", paper, "codigem"),
        ("Item-KNN", setting, "itemknn"),
        ("Pop", setting, "pop"),
    ):
        spec = s.spec(model)
        runs[label] = cached_run(cache, spec)[0]
        if model == "codigem":
            stored_top(spec, runs[label], split)  # the panel's lists; deletes the checkpoints
    rows = []
    for label, rec in runs.items():
        t, neural = rec.spec.train, rec.spec.model == "codigem"
        cmp = compare([rec], [runs["Item-KNN"]]) if neural else None
        rows.append(
            {
                "run": label,
                "budget": f"<= {t.max_epochs} epochs, patience {t.patience}, batches of "
                f"{t.batch_size}"
                if neural
                else "closed form",
                "epochs": int(rec.summary.get("epochs", 0)) if neural else None,
                "R@50": float(rec.test["R@50"]),
                "vs Item-KNN": cmp.effect if cmp else None,
                "low": cmp.ci_low if cmp else None,  # the 95% interval of "vs Item-KNN"
                "high": cmp.ci_high if cmp else None,
                "test users": int(cmp.users[0]) if cmp else None,
            }
        )
    return pd.DataFrame(rows).set_index("run").astype({"epochs": "Int64", "test users": "Int64"})


def budget_in_cache(setting: ExploreSetting, cache: ResultCache) -> bool:
    """Whether :func:`budget_comparison`'s one slow run (the paper's budget) is stored already."""
    return cache.get(dataclasses.replace(setting, **PAPER_BUDGET).spec("codigem")) is not None


def grid(betas: Iterable[float], Ts: Iterable[int], **fixed) -> list[ExploreSetting]:
    """The settings of a beta x T grid (other fields from ``fixed``)."""
    Ts = tuple(Ts)
    return [ExploreSetting(beta=b, T=t, **fixed) for b in betas for t in Ts]


def fill_grid(
    settings: Sequence[ExploreSetting],
    progress: bool = True,
    cache: ResultCache | str | None = None,
) -> list[ExploreResult]:
    """Train every setting ahead (cached ones are loaded), with a progress bar; the results."""
    cache = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    out = []
    bar = tqdm(settings, desc="explorer grid", unit="setting", disable=not progress)
    for s in bar:
        bar.set_postfix_str(f"beta={s.beta:.3g} T={s.T} {s.preset}")
        out.append(explore(s, cache))
    bar.close()
    return out


def cached_points(explorer: object) -> list[dict]:
    """Every setting of an :class:`Explorer`'s data and budget already in its cache, as the points
    of the panel's Fig. 2 / Fig. 3 scatters (keys: key, beta, T, preset, scaling, variant, R@50);
    none for another callable. A run counts when the setting rebuilt from its parameters has its
    key."""
    if not isinstance(explorer, Explorer):
        return []
    overrides = variant_overrides()
    out = []
    for rec in explorer.cache.records():
        s = rec.spec  # data, budget and seed: the key comparison below checks them
        if s.model != "codigem" or s.variant not in PRESETS:
            continue
        p = dict(s.params)
        beta, T = p.pop("beta", None), p.pop("T", None)
        scaling = p.pop("input_scaling", None)
        for k in FAST_PATH_PARAMS:
            p.pop(k, None)
        variant = next((name for name, ov in overrides.items() if ov == p), None)
        if beta is None or T is None or variant is None:
            continue
        try:
            setting = explorer.setting(
                beta=beta, T=T, preset=s.variant, input_scaling=scaling, variant=variant
            )
            if setting.spec().key() != rec.path.name:
                continue
        except ConfigError:
            continue
        point = {"key": rec.path.name, "beta": float(beta), "T": int(T)}
        point.update(preset=s.variant, scaling=setting.scaling, variant=variant)
        out.append({**point, "R@50": float(rec.test["R@50"])})
    return out
