"""The speed work keeps the maths: the scalar-variance and prior densities (no [B, D] zeros or
log-variance tensors) match the textbook diagonal Gaussian, dense batches scattered into a reused
buffer match scipy's rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from codigem_lab.diffusion.model import LOG_2PI, log_normal_iso, log_normal_std
from codigem_lab.train import DenseBatches


def dense_batch(m: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """scipy's dense rows, the reference the scattered batches must equal."""
    return torch.from_numpy(m[rows].toarray()).to(device)


def _reference(x, mean, logvar):
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar)).sum(-1)


def _inputs(shape=(5, 7), seed=0):
    g = torch.Generator().manual_seed(seed)
    kw = dict(dtype=torch.float64, generator=g)
    return [torch.randn(shape, **kw).requires_grad_() for _ in range(3)]


def test_scalar_variance_and_standard_normal_densities():
    x, mean, _ = _inputs()
    var = 0.37
    lv = torch.full_like(x, math.log(var))
    torch.testing.assert_close(log_normal_iso(x, mean, var), _reference(x, mean, lv))
    ga = torch.autograd.grad(log_normal_iso(x, mean, var).sum(), mean)[0]
    gb = torch.autograd.grad(_reference(x, mean, lv).sum(), mean)[0]
    torch.testing.assert_close(ga, gb)
    z = torch.zeros_like(x)
    torch.testing.assert_close(log_normal_std(x), _reference(x, z, z))
    assert torch.autograd.gradcheck(lambda m: log_normal_iso(x.detach(), m, var), (mean,))


@pytest.mark.parametrize("rows", [[0, 3, 1], [2], list(range(9)), [4, 4, 5]])
def test_dense_batches_equal_scipy(rows):
    rng = np.random.default_rng(0)
    m = sp.random(9, 13, density=0.3, format="csr", random_state=1, dtype=np.float32)
    m.data[:] = rng.integers(1, 3, m.nnz)
    m = m.tolil()
    m[5] = 0  # an empty row
    m = m.tocsr()
    m.eliminate_zeros()
    batches = DenseBatches(m, batch_size=4, device=torch.device("cpu"))
    got = batches(np.array(rows))
    want = dense_batch(m, np.array(rows), torch.device("cpu"))
    assert got.dtype == torch.float32 and torch.equal(got, want)
    again = batches(np.array(rows[:1]))  # the buffer is reused and fully overwritten
    assert torch.equal(again, dense_batch(m, np.array(rows[:1]), torch.device("cpu")))
