"""Windows read by several statements' contractions are copied once (the im2col of a
convolution's forward, read again by its weight gradient), and reused only when the copy
has the shape the later statement reads."""
import numpy as np
import pytest
import torch

import tensorc as tc
from tensorc.runtime import contract

from reference import as_torch, assert_close

TWO_READS = "Y[i] = x[i + a] * k[a]\nZ[i] = x[i + a] * m[a]"
CONV = "Y[n, o, i, j] = relu(X[n, c, i + a, j + b] * W[o, c, a, b])\n" \
       "L = sum(Y[n, o, i, j] * Y[n, o, i, j])"


def test_a_window_read_twice_is_copied_once_and_reused():
    prog = tc.compile(TWO_READS)
    assert prog.source.count("rt.windows(") == 1
    assert "_t2 = rt.windows(\"ab,b->a\", 0, _t1, k_)" in prog.source
    assert "if rt.is_kept(_t2, (_n_i, _n_a)):   # x[i + a]: the windows kept for Y" \
        in prog.source
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal(10), rng.standard_normal(3)
    out = prog(x=x, k=k, m=k[::-1].copy())
    np.testing.assert_allclose(out["Y"], np.correlate(x, k, "valid"), atol=1e-12)
    np.testing.assert_allclose(out["Z"], np.correlate(x, k[::-1], "valid"), atol=1e-12)
    prog(x=x, k=k, m=k)
    rows = [(r.step, r.detail) for r in prog.plan.rows]
    assert ("windows", "i a: copied once, kept") in rows
    assert ("view", "x[i + a]: the windows kept for Y") in rows


def test_a_later_read_of_another_shape_reads_its_own_windows():
    rng = np.random.default_rng(1)
    x, k, m = rng.standard_normal(12), rng.standard_normal(4), rng.standard_normal(2)
    out = tc.compile(TWO_READS)(x=x, k=k, m=m)
    np.testing.assert_allclose(out["Y"], np.correlate(x, k, "valid"), atol=1e-12)
    np.testing.assert_allclose(out["Z"], np.correlate(x, m, "valid"), atol=1e-12)


def test_the_weight_gradient_reads_the_forward_windows():
    grad = tc.grad(CONV, of="L", wrt=["W", "X"])
    assert grad.source.count("rt.windows(") == 1
    dw = grad.source.split("# dW[o, c, a, b] =")[1]
    assert "rt.is_kept(" in dw and "the windows kept for Y" in dw


@pytest.mark.parametrize("block_bytes", [None, 64])
def test_conv_gradients_equal_torch_whether_the_windows_are_copied_or_not(
        monkeypatch, block_bytes):
    """With a tiny block size the windows are too big to copy whole: they stay a view and
    each statement reads them its own way."""
    if block_bytes:
        monkeypatch.setattr(contract, "_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2))
    got = tc.grad(CONV, of="L", wrt=["W", "X"])(X=x, W=w)
    xt, wt = as_torch(x).requires_grad_(), as_torch(w).requires_grad_()
    (torch.relu(torch.nn.functional.conv2d(xt, wt)) ** 2).sum().backward()
    assert_close(got["dW"], wt.grad)
    assert_close(got["dX"], xt.grad)


@pytest.mark.parametrize("big_copy", [None, 64])
def test_conv_gradients_equal_torch_when_a_big_window_view_is_kept(monkeypatch, big_copy):
    """Windows so big that every contraction copies them in blocks are kept as a view: the
    weight gradient reads the forward's (cut along the summed images) instead of its own."""
    from tensorc.runtime import kernels
    monkeypatch.setattr(contract, "BIG_COPY_BYTES", big_copy or contract.BIG_COPY_BYTES)
    view = np.lib.stride_tricks.sliding_window_view(np.ones(40), 3)      # 38 x 3 doubles
    assert kernels.is_kept(view.copy(), view.shape) and not kernels.is_kept(view, (38, 2))
    assert kernels.is_kept(view, view.shape) == (big_copy is not None)
    test_conv_gradients_equal_torch_whether_the_windows_are_copied_or_not(monkeypatch, 64)


def test_dask_programs_do_not_keep_window_copies():
    pytest.importorskip("dask")
    assert "rt.windows(" not in tc.grad(CONV, of="L", wrt=["W"], backend="dask").source


def test_contractions_plan_by_memory_layout_not_letter_order():
    """A transposed view of the same data gets the plan of its layout (planning by letter
    order made a weight gradient 10x slower once)."""
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((3, 5, 7))
    bt = np.ascontiguousarray(b.transpose(1, 2, 0)).transpose(2, 0, 1)   # c fastest
    eq, perms = contract._memory_order("ab,cab->c", (a.strides, bt.strides))
    assert eq == "ab,abc->c" and perms == (None, (1, 2, 0))
    assert contract._memory_order("ab,cab->c", (a.strides, b.strides)) == ("ab,cab->c", None)
    for operand in (b, bt):
        np.testing.assert_allclose(contract.einsum("ab,cab->c", a, operand),
                                   np.einsum("ab,cab->c", a, b), atol=1e-12)
