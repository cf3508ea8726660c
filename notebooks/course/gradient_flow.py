"""The gradient-flow audit of any trained recommender (notebook 06 audits DiffRec with it): its
loss as one term, and its scores; CODIGEM goes term by term through ``codigem_lab.audit``."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from codigem_lab.audit import (
    PROBE_BATCH,
    GradientFlowReport,
    audit_codigem,
    default_groups,
    gradient_flow,
    one_thread,
)
from codigem_lab.codigem import CODIGEMModule, CODIGEMRecommender
from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig
from codigem_lab.errors import ConfigError


def _batch(split, batch: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The first ``batch`` training users of ``split``, dense."""
    if not hasattr(split, "train"):
        raise ConfigError(
            f"a model is audited on a Split's training users; got {type(split).__name__}"
        )
    return torch.from_numpy(split.train[:batch].toarray()).to(dtype)


def _needs_rows(module: nn.Module) -> bool:
    """Whether ``module.loss`` needs the batch's user rows (models with user embeddings)."""
    param = inspect.signature(module.loss).parameters.get("rows")
    return param is not None and param.default is inspect.Parameter.empty


@one_thread
def audit_recommender(
    recommender_or_module,
    split,
    score_mode: str | None = None,
    *,
    seed: int = 0,
    batch: int = PROBE_BATCH,
    groups: Callable[[nn.Module], dict] | None = None,
) -> GradientFlowReport:
    """The gradient-flow report of any trainable recommender, module or CODIGEM on ``split`` (a
    CODIGEM term by term, via ``audit_codigem``); other modules expose one loss term, ``loss``."""
    obj = recommender_or_module
    if isinstance(obj, CODIGEMRecommender):
        cfg = CODIGEMConfig.preset(obj.variant, n_items=_batch(split, 1).shape[1], **obj.overrides)
        return audit_codigem(cfg, score_mode or obj.score_mode, seed=seed)
    if isinstance(obj, CODIGEMModule | CODIGEM):
        model = obj.model if isinstance(obj, CODIGEMModule) else obj
        mode = score_mode or getattr(obj, "score_mode", "decoder")
        return audit_codigem(model, mode, seed=seed, x=_batch(split, batch, model._dtype()))

    if hasattr(obj, "build") and not isinstance(obj, nn.Module):
        x = _batch(split, batch)
        torch.manual_seed(seed)
        module = obj.build(split)
        name = getattr(obj, "name", type(obj).__name__)
    elif isinstance(obj, nn.Module) and hasattr(obj, "loss") and hasattr(obj, "scores"):
        x, module, name = _batch(split, batch), obj, type(obj).__name__
    else:
        raise ConfigError(
            f"cannot audit {type(obj).__name__}: need a NeuralRecommender or a module with "
            "loss(x, step) and scores(x) (models without gradients have nothing to audit)"
        )
    grouped = (groups or default_groups)(module)
    was_training = module.training
    try:
        torch.manual_seed(seed)
        module.train()
        # the batch is the first training users, so their rows in split.train are 0..B-1;
        # user-embedding models are then scored as training users (the ratio protocol's case)
        rows = np.arange(len(x), dtype=np.int64)
        loss, _ = module.loss(x, 0, rows)
        module.eval()
        with torch.enable_grad():  # undecorated: autograd stays on
            scores = inspect.unwrap(type(module).scores)(
                module, x, rows if _needs_rows(module) else None
            )
        flow = gradient_flow({"loss": loss}, scores, grouped, seed)
    finally:
        module.train(was_training)
    return GradientFlowReport(
        model=str(name),
        score_mode=score_mode or "model's own",
        **flow,
    )
