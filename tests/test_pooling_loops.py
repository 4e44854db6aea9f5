"""The compiled pooling loops (tensorc/runtime/pooling.py) against the NumPy slice passes
they replace, on random window views with ties and NaNs, and whole pooling programs
against torch with and without them."""
import sys
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tensorc as tc
from tensorc.runtime import kernels, pooling

from reference import as_torch, assert_close


def numpy_only(fn, *args, **kwargs):
    """``fn`` (kernels.reduce or argmax_mask) run on its NumPy slice passes."""
    with mock.patch.object(pooling, "loops", lambda: None):
        return fn(*args, **kwargs)


def test_numba_is_there_and_two_d_pooling_is_compiled():
    x = np.zeros((2, 3, 4, 2, 4, 2), np.float32)
    assert pooling.loops() is not None
    assert pooling.reduce(x, (3, 5), "max") is not None


def test_without_numba_pooling_warns_once_and_runs_on_numpy(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorc.runtime.pooling_loops", None)   # import fails
    pooling.loops.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="numba's compiled loops are unavailable"):
            assert pooling.loops() is None
        x = np.arange(8.0).reshape(4, 2)
        assert kernels.reduce(x, (1,), "max").tolist() == [1.0, 3.0, 5.0, 7.0]
    finally:
        monkeypatch.undo()
        pooling.loops.cache_clear()


def test_three_window_axes_that_do_not_fold_take_the_numpy_path():
    x = np.lib.stride_tricks.sliding_window_view(np.zeros((6, 6, 6)), (2, 2, 2))[::2, ::2, ::2]
    assert pooling.reduce(x, (3, 4, 5), "max") is None
    assert kernels.reduce(x, (3, 4, 5), "max").shape == (3, 3, 3)


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_dtypes_the_loops_are_not_compiled_for_take_the_numpy_path(dtype):
    x = np.arange(8).astype(dtype).reshape(4, 2)
    assert pooling.reduce(x, (1,), "max") is None
    assert kernels.reduce(x, (1,), "max").tolist() == [1, 3, 5, 7]
    got = kernels.argmax_mask(x, (1,), "max", value=np.ones(4, dtype))
    assert got.tolist() == [[0, 1]] * 4


@st.composite
def window_views(draw):
    """A pooling view (n, c, i, p, j, q) of a random array: random window, stride and
    dilation, values from a small set (ties) with NaNs sometimes; which axes pool; and
    whether the rows hold a whole number of strides (as pooling with no remainder)."""
    dims = draw(st.integers(1, 2))
    window = [draw(st.integers(1, 3)) for _ in range(dims)]
    stride = [draw(st.integers(1, 3)) for _ in range(dims)]
    dilation = [draw(st.integers(1, 2)) for _ in range(dims)]
    out = [draw(st.integers(1, 4)) for _ in range(dims)]
    reach = [s * (o - 1) + d * (w - 1) + 1 for s, o, d, w in zip(stride, out, dilation, window)]
    # rows a whole number of strides (folds into 4-D: runs compiled), or one element more
    exact = draw(st.booleans()) and all(s * o >= r for s, o, r in zip(stride, out, reach))
    size = [s * o if exact else r + 1 for s, o, r in zip(stride, out, reach)]
    lead = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    x = rng.integers(-2, 3, lead + tuple(size)).astype(dtype)
    if draw(st.booleans()):
        x.flat[rng.integers(0, x.size)] = np.nan
    strides, shape = list(x.strides[:2]), list(lead)
    for axis, (s, d, o, w) in enumerate(zip(stride, dilation, out, window)):
        step = x.strides[2 + axis]
        shape += [o, w]
        strides += [s * step, d * step]
    view = np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    axes = tuple(range(3, 2 + 2 * dims, 2))
    return view, axes, exact


@settings(max_examples=150, deadline=None)
@given(window_views(), st.sampled_from(["max", "min", "sum", "mean"]))
def test_compiled_reductions_equal_the_slice_passes(case, op):
    x, axes, exact = case
    assert not exact or pooling.reduce(x, axes, "max") is not None
    got = kernels.reduce(x, axes, op)
    want = numpy_only(kernels.reduce, x, axes, op)
    assert got.dtype == want.dtype == x.dtype
    np.testing.assert_array_equal(got, want)     # the same order of additions: equal


@settings(max_examples=150, deadline=None)
@given(window_views(), st.sampled_from(["max", "min"]), st.booleans())
def test_compiled_first_winners_equal_the_slice_passes(case, op, positive):
    x, axes, exact = case
    x = np.nan_to_num(x)    # a NaN window has no winner either way; its cotangent differs
    kept = tuple(n for a, n in enumerate(x.shape) if a not in axes)
    value = np.random.default_rng(0).standard_normal(kept).astype(x.dtype)
    best = kernels.reduce(x, axes, op)
    assert not exact or pooling.first_winners(x, axes, best, value, positive) is not None
    got = kernels.argmax_mask(x, axes, op, positive=positive, value=value)
    want = numpy_only(kernels.argmax_mask, x, axes, op, positive=positive, value=value)
    np.testing.assert_array_equal(got, want)
    assert (np.count_nonzero(got.reshape(-1)) <= value.size)


def test_ties_go_to_the_first_position_in_index_order():
    x = np.full((1, 1, 1, 2, 1, 2), 3.0, np.float32)      # one 2 x 2 window, all equal
    got = kernels.argmax_mask(x, (3, 5), "max", value=np.full((1, 1, 1, 1), 7.0, np.float32))
    assert got[0, 0, 0, :, 0, :].tolist() == [[7.0, 0.0], [0.0, 0.0]]


def test_a_nan_window_is_its_max_and_has_no_winner():
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 0.5]])
    assert np.isnan(kernels.reduce(x, (1,), "max")[0])
    got = kernels.argmax_mask(x, (1,), "max", value=np.array([5.0, 6.0]))
    assert got.tolist() == [[0.0, 0.0, 0.0], [0.0, 6.0, 0.0]]


POOL = """
Z[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b] + B[o]
P[n, o, i, j] = max(relu(Z[n, o, 2*i + p, 2*j + q]))   where p < 2, q < 2
L = sum(P[n, o, i, j] * P[n, o, i, j])
"""


@pytest.mark.parametrize("jit", ["1", "0"])
def test_a_conv_pool_gradient_equals_torch_with_and_without_the_loops(monkeypatch, jit):
    monkeypatch.setenv("TENSORC_JIT", jit)
    pooling.loops.cache_clear()
    try:
        rng = np.random.default_rng(3)
        x = rng.standard_normal((3, 2, 9, 9)).astype(np.float32)
        x[:, :, :4, :4] = 0             # blank corners: windows of equal values (ties)
        w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
        b = np.abs(rng.standard_normal(4)).astype(np.float32)
        got = tc.grad(POOL, of="L", wrt=["W", "B", "X"])(X=x, W=w, B=b)
        xt, wt, bt = (as_torch(a).requires_grad_() for a in (x, w, b))
        p = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(xt, wt, bt)), 2)
        (p * p).sum().backward()
        for name, t in (("dW", wt), ("dB", bt), ("dX", xt)):
            assert_close(got[name], t.grad, rtol=1e-4, atol=1e-4)
    finally:
        pooling.loops.cache_clear()
