"""Every worked example of ../shared/design/EXAMPLES.md, with its exact output."""
from __future__ import annotations

import numpy as np
import pytest

import tensorc as tc
from reference import BOUNDARY_TABLE


def run(spec, **arrays):
    return tc.compile(spec)(**{k: np.asarray(v, dtype=float) for k, v in arrays.items()})


def test_2d_correlation_valid():
    out = run("H[i, j] = X[i + a, j + b] * V[a, b]",
              X=[[0, 1, 2], [3, 4, 5], [6, 7, 8]], V=[[0, 1], [2, 3]])
    assert out["H"].tolist() == [[19, 25], [37, 43]]


def test_laplacian_filter():
    x = [[0, 0, 0, 0, 0, 0], [0, 1, 2, 2, 1, 0], [0, 2, 4, 4, 2, 0],
         [0, 1, 3, 3, 1, 0], [0, 1, 2, 3, 1, 0], [0, 0, 1, 1, 0, 0]]
    k = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    out = run("Y[i, j] = X[i + a, j + b] * K[a, b]", X=x, K=k)
    assert out["Y"].tolist() == [[0, -1, -1, 0], [-2, -5, -5, -2], [2, -2, -1, 2],
                                 [-1, 0, -5, 0]]


def test_bright_spot_1d():
    out = run("y[i] = x[i + a] * f[a]", x=[1, 1, -1, -1, -1, 1, -1, 1, 1, 1], f=[1, -1, 1])
    assert out["y"].tolist() == [-1, 1, -1, 1, -3, 3, -1, 1]


def test_cyclic_filter_as_long_as_signal():
    out = run("c[i] = a[wrap(i + j)] * b[j]      where i in 0:9",
              a=[1, 2, 3, 4, 5, 4, 3, 2, 1], b=[1, -1, 0, 0, 0, 0, 0, 0, 0])
    assert out["c"].tolist() == [-1, -1, -1, -1, 1, 1, 1, 1, 0]


TINY_NETWORK = """\
z1[i] = x[wrap(i + j)] * u[j]        where i in 0:10
z2[i] = z1[wrap(i + j)] * v[j]       where i in 0:10
z3[i] = relu(z2[i] - 1)
s = max(z3[i])
"""


def test_tiny_cyclic_network():
    prog = tc.compile(TINY_NETWORK)
    assert set(prog.outputs) == {"z1", "z2", "z3", "s"}
    assert set(prog.inputs) == {"x", "u", "v"}
    out = prog(x=np.array([0, 0, 0, 0, 0, 1, 1, 1, 0, 0], float),
               u=np.array([-1.0, 1]), v=np.array([1.0, 0, 0, -1]))
    assert out["z1"].tolist() == [0, 0, 0, 0, 1, 0, 0, -1, 0, 0]
    assert out["z2"].tolist() == [0, -1, 0, 0, 2, 0, 0, -1, 0, 0]
    assert out["z3"].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert np.shape(out["s"]) == ()
    assert float(out["s"]) == 1.0


def test_tiny_cyclic_network_integer_inputs():
    out = tc.compile(TINY_NETWORK)(x=[0, 0, 0, 0, 0, 1, 1, 1, 0, 0], u=[-1, 1], v=[1, 0, 0, -1])
    assert out["z2"].dtype == np.float64
    assert out["z2"].tolist() == [0, -1, 0, 0, 2, 0, 0, -1, 0, 0]
    assert float(out["s"]) == 1.0


@pytest.mark.parametrize("head, extent", [("", "9"), ("input a[N]\n", "N + 6")],
                         ids=["literal range", "size symbol"])
@pytest.mark.parametrize("access, np_mode, expected", BOUNDARY_TABLE,
                         ids=[row[1] for row in BOUNDARY_TABLE])
def test_boundary_mode_table(head, extent, access, np_mode, expected):
    # the range written with a literal (0:9) or a size symbol (0:N + 6)
    a = np.array([1.0, 2, 3])
    out = tc.compile(f"{head}y[i] = {access} where i in 0:{extent}")(a=a)
    assert out["y"].tolist() == expected
    assert np.pad(a, 3, mode=np_mode).tolist() == expected


# The derivatives the notes derive by hand, n = 7, r = 3.
X7 = np.array([0.5, -1.0, 2.0, 3.0, -4.0, 5.0, 1.5])
W3 = np.array([1.0, -2.0, 0.25])


def test_stride1_correlation_forward():
    out = tc.compile("a[i] = x[i + k] * w[k]")(x=X7, w=W3)
    assert out["a"].shape == (5,)
    ref = [sum(X7[i + k] * W3[k] for k in range(3)) for i in range(5)]
    np.testing.assert_allclose(out["a"], ref)
    np.testing.assert_allclose(out["a"], np.correlate(X7, W3, mode="valid"))


def test_stride2_correlation_forward():
    out = tc.compile("a[i] = x[2*i + k] * w[k]")(x=X7, w=W3)
    assert out["a"].shape == (3,)
    ref = [sum(X7[2 * i + k] * W3[k] for k in range(3)) for i in range(3)]
    np.testing.assert_allclose(out["a"], ref)


def test_weight_derivative_is_correlation_with_input():
    da = np.array([0.0, 0.0, 0.0, 1.0, 0.0])  # one-hot at i = 3
    out = tc.compile("dw[k] = da[i] * x[i + k]")(da=da, x=X7)
    assert out["dw"].tolist() == [X7[3], X7[4], X7[5]]


def test_weight_derivative_general():
    da = np.array([1.0, -2.0, 0.5, 3.0, 4.0])
    out = tc.compile("dw[k] = da[i] * x[i + k]   where k in 0:3")(da=da, x=X7)
    ref = [sum(da[i] * X7[i + k] for i in range(5)) for k in range(3)]
    np.testing.assert_allclose(out["dw"], ref)


def test_input_derivative_scatter_stride1():
    da = np.array([1.0, -2.0, 0.5, 3.0, 4.0])
    out = tc.compile("dx[i + k] += da[i] * w[k]")(da=da, w=W3)
    ref = np.zeros(7)
    for i in range(5):
        for k in range(3):
            ref[i + k] += da[i] * W3[k]
    assert out["dx"].shape == (7,)
    np.testing.assert_allclose(out["dx"], ref)
    # a transposed convolution: full correlation with the flipped kernel
    np.testing.assert_allclose(out["dx"], np.correlate(da, W3[::-1], mode="full"))


def test_input_derivative_scatter_stride2():
    da = np.array([1.0, -2.0, 0.5])
    out = tc.compile("dx[2*i + k] += da[i] * w[k]")(da=da, w=W3)
    ref = np.zeros(7)
    for i in range(3):
        for k in range(3):
            ref[2 * i + k] += da[i] * W3[k]
    assert out["dx"].shape == (7,)
    np.testing.assert_allclose(out["dx"], ref)


@pytest.mark.skipif(not hasattr(tc, "grad"), reason="tc.grad (LANGUAGE.md) not implemented yet")
def test_stride1_derivatives_via_grad():
    da = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    g = tc.grad("a[i] = x[i + k] * w[k]", of="a", wrt=["x", "w"])
    out = g(x=X7, w=W3, da=da)
    np.testing.assert_allclose(out["dw"], [X7[3], X7[4], X7[5]])
    ref = np.zeros(7)
    ref[3:6] = W3
    np.testing.assert_allclose(out["dx"], ref)
