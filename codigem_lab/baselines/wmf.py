"""WMF (Hu, Koren & Volinsky, ICDM 2008): implicit-feedback matrix factorisation by alternating
least squares (eqs. 3-5); defaults and their sources in docs/baselines.md."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from codigem_lab.baselines.factors import implicit_user_solve
from codigem_lab.metrics import Evaluator
from codigem_lab.neural import resolve_config
from codigem_lab.recommender import Recommender
from codigem_lab.validate import check_range


@dataclass(frozen=True)
class WMFConfig:
    """WMF hyper-parameters: ``alpha`` and ``lam`` weight the observed pairs and the L2 penalty;
    at most ``iterations`` ALS sweeps, stopping after ``patience`` without a better R@50."""

    factors: int = 64
    alpha: float = 3.0
    lam: float = 30.0
    iterations: int = 15
    patience: int = 10
    init_std: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        check_range("factors", self.factors, 1)
        check_range("alpha", self.alpha, 0.0)
        check_range("lam", self.lam, 0.0, open_low=True)
        check_range("iterations", self.iterations, 1)
        check_range("patience", self.patience, 1)
        check_range("init_std", self.init_std, 0.0, open_low=True)


class WMF(Recommender):
    """Implicit ALS, each step one batched least-squares solve; fold-in is the exact user step
    (eq. 4); ``history`` holds the per-sweep validation metrics."""

    name = "wmf"
    config_class = WMFConfig
    #: Quick mode (tests, notebooks): 5 ALS sweeps instead of 15.
    quick_params = {"iterations": 5}

    def __init__(self, config: WMFConfig | None = None) -> None:
        self.config = resolve_config(self.name, WMFConfig, config)
        self.user_factors: torch.Tensor | None = None
        self.item_factors: torch.Tensor | None = None
        self.history: pd.DataFrame | None = None
        self.best_iteration: int = 0

    def _solve(self, x: sp.csr_matrix, fixed: torch.Tensor) -> torch.Tensor:
        c = self.config
        return implicit_user_solve(x, fixed, c_neg=1.0, c_pos=1.0 + c.alpha, reg=c.lam)

    def fit(self, split, progress: bool = True) -> WMF:
        c = self.config
        gen = torch.Generator().manual_seed(c.seed)
        x = split.train.astype(np.float32).tocsr()
        xt = x.T.tocsr()
        self.item_factors = torch.randn(split.n_items, c.factors, generator=gen) * c.init_std
        evaluator = Evaluator(split)
        rows, best, best_state, bad = [], -math.inf, None, 0
        for it in tqdm(range(1, c.iterations + 1), desc="wmf", disable=not progress):
            t0 = time.perf_counter()
            self.user_factors = self._solve(x, self.item_factors)
            self.item_factors = self._solve(xt, self.user_factors)
            train_s = time.perf_counter() - t0
            valid = evaluator.evaluate(self, "valid")
            rows.append({"epoch": it, **valid.metrics, "train_s": train_s, "eval_s": valid.seconds})
            if best_state is None or valid.metrics["R@50"] > best:  # NaN: no validation users
                best, bad, self.best_iteration = valid.metrics["R@50"], 0, it
                best_state = (self.user_factors, self.item_factors)
            else:
                bad += 1
                if bad >= c.patience:
                    break
        self.user_factors, self.item_factors = best_state
        self.history = pd.DataFrame(rows)
        return self

    def score(self, fold_in: sp.csr_matrix, train_rows=None) -> torch.Tensor:
        self._fitted(self.item_factors)
        if train_rows is not None:
            users = self.user_factors[torch.as_tensor(np.asarray(train_rows), dtype=torch.long)]
        else:
            users = self._solve(fold_in, self.item_factors)
        return users @ self.item_factors.T
