"""The speed work keeps the maths: fused log-densities match autograd, dense batches match scipy.

``log_normal`` has a hand-written backward; these tests compare its value and every gradient
with the textbook expression differentiated by autograd (float64, gradcheck), including
broadcast and mixed-dtype inputs, so a wrong sign or factor in the backward fails here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from codigem_lab.diffusion.model import LOG_2PI, log_normal, log_normal_iso, log_normal_std
from codigem_lab.train import DenseBatches, dense_batch


def _reference(x, mean, logvar):
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar)).sum(-1)


def _inputs(shape=(5, 7), seed=0):
    g = torch.Generator().manual_seed(seed)
    kw = dict(dtype=torch.float64, generator=g)
    return [torch.randn(shape, **kw).requires_grad_() for _ in range(3)]


def test_log_normal_value_and_gradients_match_autograd():
    x, mean, logvar = _inputs()
    w = torch.linspace(-1.0, 2.0, 5, dtype=torch.float64)  # a non-uniform upstream gradient
    got = log_normal(x, mean, logvar)
    want = _reference(x, mean, logvar)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    g_got = torch.autograd.grad((got * w).sum(), (x, mean, logvar))
    g_want = torch.autograd.grad((want * w).sum(), (x, mean, logvar))
    for a, b, name in zip(g_got, g_want, ("x", "mean", "logvar"), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=name)
    assert torch.autograd.gradcheck(log_normal, _inputs((3, 4), seed=1))


def test_log_normal_broadcast_partial_grads_and_dtypes():
    x, mean, _ = _inputs((4, 6))
    logvar = torch.randn(6, dtype=torch.float64, requires_grad=True)  # broadcast over rows
    assert torch.autograd.gradcheck(log_normal, (x.detach(), mean, logvar))
    got, want = log_normal(x, mean, logvar), _reference(x, mean, logvar)
    torch.testing.assert_close(got, want)
    ga = torch.autograd.grad(got.sum(), logvar)[0]
    gb = torch.autograd.grad(want.sum(), logvar)[0]
    torch.testing.assert_close(ga, gb)
    # bf16 mean/logvar (autocast's Linear outputs) with a float32 value: grads keep input dtypes
    xf = torch.randn(4, 6)
    mb = torch.randn(4, 6).bfloat16().requires_grad_()
    lb = (0.1 * torch.randn(4, 6)).bfloat16().requires_grad_()
    out = log_normal(xf, mb, lb)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert mb.grad.dtype == torch.bfloat16 and lb.grad.dtype == torch.bfloat16
    ref = _reference(xf, mb.detach().float(), lb.detach().float())
    torch.testing.assert_close(out.detach(), ref, rtol=2e-2, atol=0.5)


def test_scalar_variance_and_standard_normal_densities():
    x, mean, _ = _inputs()
    var = 0.37
    lv = torch.full_like(x, math.log(var))
    torch.testing.assert_close(log_normal_iso(x, mean, var), _reference(x, mean, lv))
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
