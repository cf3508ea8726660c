"""What the matrix-factorisation baselines (WMF, BPR, ENMF, NeuMF) share: sampled pairs, the implicit
ALS user solve, gradient fold-in, the user-factor scoring rule (docs/baselines.md)."""

from __future__ import annotations

import abc
import contextlib
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch

from codigem_lab.train import TrainableModule


def positive_pairs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices of the observed (non-zero) entries of a dense batch."""
    return torch.nonzero(x > 0, as_tuple=True)


def gather_rows(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``t[idx]`` along the first dimension, with a deterministic backward (advanced indexing
    accumulates repeated indices' gradients in a thread-dependent order on CPU)."""
    return torch.index_select(t, 0, idx)


def gather_entries(s: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``s[rows, cols]`` for a 2-D ``s``, with a deterministic backward (see :func:`gather_rows`)."""
    return torch.index_select(s.reshape(-1), 0, rows * s.shape[1] + cols)


def sample_negatives(
    x: torch.Tensor,
    rows: torch.Tensor,
    generator: torch.Generator | None = None,
    rounds: int = 10,
) -> torch.Tensor:
    """One uniformly drawn unobserved item for each entry of ``rows`` (row indices into ``x``);
    hits on observed items are redrawn ``rounds`` times (a rare positive left only adds noise)."""
    n_items = x.shape[1]
    flat = x.reshape(-1)
    cols = torch.randint(n_items, (len(rows),), generator=generator, device=x.device)
    pending = torch.arange(len(rows), device=x.device)
    for _ in range(rounds):
        hit = flat[rows[pending] * n_items + cols[pending]] > 0
        pending = pending[hit]
        if len(pending) == 0:
            break
        cols[pending] = torch.randint(
            n_items, (len(pending),), generator=generator, device=x.device
        )
    return cols


def _item_outer(q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-item outer products ``q_i q_i^T``, upper triangle only ([n_items, k(k+1)/2]), and each
    of the k*k entries' triangle column, to mirror it (exact: docs/baselines.md)."""
    k = q.shape[1]
    a, b = torch.triu_indices(k, k, device=q.device)
    where = torch.zeros(k, k, dtype=torch.long, device=q.device)
    where[a, b] = where[b, a] = torch.arange(len(a), device=q.device)
    return torch.index_select(q, 1, a) * torch.index_select(q, 1, b), where.reshape(-1)


def _as_sparse_csr(x: sp.spmatrix | torch.Tensor, device: torch.device) -> torch.Tensor:
    """A float32 torch CSR tensor of a scipy matrix or a dense tensor."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        if isinstance(x, torch.Tensor):
            return x.to(device=device, dtype=torch.float32).to_sparse_csr()
        m = sp.csr_matrix(x, dtype=np.float32)
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data),
            size=m.shape,
            device=device,
            check_invariants=False,
        )


def implicit_user_solve(
    x: sp.spmatrix | torch.Tensor,
    q: torch.Tensor,
    c_neg: float,
    c_pos: float,
    reg: float = 0.0,
    rel_reg: float = 0.0,
    block_elements: int = 2**24,
) -> torch.Tensor:
    """Rows ``p_u`` minimising ``sum_i c_ui (x_ui - p_u . q_i)^2 + reg |p_u|^2 (+ rel_reg term)``,
    Hu et al. 2008 eq. 4 for every row at once (derivation: docs/baselines.md)."""
    device = q.device
    q32 = q.detach().float()
    k = q32.shape[1]
    gram = c_neg * (q32.double().T @ q32.double())
    outer, full = _item_outer(q32)
    eye = torch.eye(k, dtype=torch.float64, device=device)
    n = x.shape[0]
    block = max(1, block_elements // (k * k))
    out = []
    for start in range(0, n, block):
        xb = _as_sparse_csr(x[start : start + block], device)
        s = torch.index_select(xb @ outer, 1, full).double().reshape(-1, k, k)
        m = s.mul_(c_pos - c_neg).add_(gram)  # gram + (c_pos - c_neg) * s, in place
        if rel_reg:
            m = m + rel_reg * torch.diag_embed(torch.diagonal(m, dim1=1, dim2=2))
        m.add_(reg * eye)
        b = c_pos * (xb @ q32).double()
        out.append(torch.linalg.solve(m, b.unsqueeze(-1)).squeeze(-1))
    if not out:
        return torch.zeros(0, k, dtype=q.dtype, device=device)
    return torch.cat(out).to(q.dtype)


def gradient_fold_in(
    n_rows: int,
    dims: dict[str, int],
    loss_fn: Callable[[dict[str, torch.Tensor], torch.Generator], torch.Tensor],
    steps: int,
    lr: float,
    seed: int,
    device: torch.device | str = "cpu",
) -> dict[str, torch.Tensor]:
    """Fit fresh user parameters (zeros, shapes ``[n_rows, dims[name]]``) by Adam on ``loss_fn``
    (items :func:`frozen` by the caller); sampling uses a local generator seeded with ``seed``."""
    gen = torch.Generator(device=device).manual_seed(seed)
    params = {
        name: torch.zeros(n_rows, d, device=device, requires_grad=True) for name, d in dims.items()
    }
    if n_rows and steps:
        with torch.enable_grad():
            opt = torch.optim.Adam(list(params.values()), lr=lr)
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(params, gen)
                loss.backward()
                opt.step()
    return {k: v.detach() for k, v in params.items()}


@contextlib.contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` on a module's parameters for the block (fold-in: items fixed)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class UserFactorModule(TrainableModule):
    """One learned row of user parameters per training user, used for ``train_rows`` (``ratio``);
    held-out users (``strong``) get :meth:`fold_in`."""

    @abc.abstractmethod
    def user_params(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Learned user parameters of the given training rows."""

    @abc.abstractmethod
    def fold_in(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """User parameters fitted to fold-in rows ``x`` (called with the module :func:`frozen`)."""

    @abc.abstractmethod
    def predict(self, users: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scores of every item for the given user parameters: [n, n_items]."""

    def scores(self, x: torch.Tensor, train_rows: np.ndarray | None = None) -> torch.Tensor:
        if train_rows is not None:
            rows = torch.as_tensor(np.asarray(train_rows), dtype=torch.long, device=x.device)
            users = self.user_params(rows)
        else:
            with frozen(self):
                users = self.fold_in(x)
        return self.predict(users)
