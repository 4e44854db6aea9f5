"""The Dask backend (`backend="dask"`) against the NumPy backend, on a two-process
`distributed.LocalCluster`.

Every result of a dask program is compared with the same spec compiled for NumPy (float64,
rtol = atol = 1e-10). Inputs are `dask.array`s with chunks that cut the batch, the
channels, contracted dimensions and, for the convolution family, the spatial dimensions
into pieces smaller than and not a multiple of the kernels and strides, so every halo at
a chunk edge (zero padding, wrap, reflect, clamp, stride, dilation, pooling windows) has
to be right.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import tensorc as tc  # noqa: E402  (after the importorskips)
from tensorc.nn import models, optim  # noqa: E402
from tensorc.nn.losses import one_hot, with_loss  # noqa: E402
from reference import BOUNDARY_TABLE, gpu_missing  # noqa: E402
from programs import conv_programs, einsum_programs  # noqa: E402

RTOL = ATOL = 1e-10
MODES = ["zero", "wrap", "reflect", "clamp"]


@pytest.fixture(scope="module")
def client():
    """One two-worker, one-thread-per-worker process cluster for the whole module, its
    client the default scheduler while the tests run."""
    with warnings.catch_warnings():
        # with the dashboard off the scheduler still serves HTTP, by default on port 8787,
        # and warns when another cluster holds that port
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None)
    c = distributed.Client(cluster, set_as_default=True)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def rng(seed: int = 0):
    return np.random.default_rng(seed)


@functools.cache
def numpy_prog(src: str):
    return tc.compile(src)


@functools.cache
def dask_prog(src: str):
    return tc.compile(src, backend="dask")


def chunked(arrays: dict, chunks: dict) -> dict:
    """``arrays`` with those named in ``chunks`` as dask arrays of those chunks (the rest
    stay NumPy, which the backend wraps itself)."""
    return {k: da.from_array(v, chunks=chunks[k]) if k in chunks else v
            for k, v in arrays.items()}


def assert_same(actual: dict, expected: dict, rtol=RTOL, atol=ATOL):
    """Both programs gave the same outputs: same names, NumPy values, shapes, dtypes."""
    assert set(actual) == set(expected)
    for name, want in expected.items():
        got = actual[name]
        assert not isinstance(got, da.Array), f"{name} was returned lazy"
        assert isinstance(got, (np.ndarray, np.generic)), (name, type(got))
        assert np.shape(got) == np.shape(want), (name, np.shape(got), np.shape(want))
        assert np.asarray(got).dtype == np.asarray(want).dtype, name
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)


def check(src: str, arrays: dict, chunks: dict) -> dict:
    """Run ``src`` on NumPy and on Dask with ``chunks``; assert the results agree."""
    expected = numpy_prog(src)(**arrays)
    actual = dask_prog(src)(**chunked(arrays, chunks))
    assert_same(actual, expected)
    return actual


# ---------------------------------------------------------------- forward suite

FORWARD = {
    "matmul": (
        "C[i, k] = A[i, j] * B[j, k]",
        {"A": (7, 5), "B": (5, 6)}, {"A": (3, 2), "B": (2, 4)}),
    "batched three operands": (
        "Y[b, i, l] = A[b, i, j] * B[b, j, k] * C[k, l] * D[l]",
        {"A": (4, 3, 5), "B": (4, 5, 6), "C": (6, 7), "D": (7,)},
        {"A": (2, 3, 2), "B": (2, 2, 3), "C": (3, 4), "D": (4,)}),
    "elementwise chain": (
        ("Y[i, j] = relu(X[i, j]) * tanh(X[i, j] + B[j]) + exp(-X[i, j]**2) * sigmoid(2 * X[i, j])"
         " - select(X[i, j] > 0.25, X[i, j], 3 * X[i, j])"),
        {"X": (9, 7), "B": (7,)}, {"X": (4, 3)}),
    "softmax": (
        "M[n] = max(Z[n, k])\nE[n, k] = exp(Z[n, k] - M[n])\nS[n, k] = E[n, k] / sum(E[n, c])",
        {"Z": (6, 11)}, {"Z": (4, 3)}),
    "log-sum-exp loss": (
        ("M[n] = max(Z[n, k])\nLse[n] = log(sum(exp(Z[n, k] - M[n]))) + M[n]\n"
         "L = mean(Lse[n] - T[n, k] * Z[n, k])"),
        {"Z": (7, 5), "T": (7, 5)}, {"Z": (3, 2), "T": (3, 5)}),
    "mean and scalar outputs": (
        "A[i] = mean(X[i, j])\nG = mean(X[i, j] * X[i, j])\nS = sum(X[i, j])\nN = max(X[i, j])",
        {"X": (10, 6)}, {"X": (3, 4)}),
    "rule 3 sum": ("S[b] = E[b, k]", {"E": (5, 9)}, {"E": (2, 4)}),
    "min and delta": ("Y[i] = delta(i, j) * A[i, j] + min(A[i, j])",
                      {"A": (5, 5)}, {"A": (2, 3)}),
    "multi-statement linear": (
        ("H[n, h] = tanh(X[n, i] * W1[h, i] + B1[h])\nY[n, o] = H[n, h] * W2[o, h] + B2[o]\n"
         "L = sum((Y[n, o] - T[n, o])**2) / 2"),
        {"X": (8, 5), "W1": (6, 5), "B1": (6,), "W2": (3, 6), "B2": (3,), "T": (8, 3)},
        {"X": (3, 2), "W1": (4, 5), "T": (3, 3)}),
    "strided scatter": ("T[2*i + a] += X[i] * K[a]", {"X": (9,), "K": (3,)}, {"X": (4,)}),
    "scatter into earlier output": (
        "T[j] = C[j]\nT[i + a] += X[i] * K[a]\nL = sum(T[j] * C[j])",
        {"X": (8,), "K": (3,), "C": (10,)}, {"X": (3,), "C": (4,)}),
    "flattening scatter": (
        "V[k, 9*o + 3*i + j] += U[k, o, i, j]\nZ[k, h] = W[h, f] * V[k, f]",
        {"U": (4, 2, 3, 3), "W": (5, 18)}, {"U": (2, 1, 2, 3), "W": (3, 7)}),
    "flattening read": (
        "Y[k, o, i, j] = V[k, 9*o + 3*i + j]   where i < 3, j < 3",
        {"V": (3, 27)}, {"V": (2, 5)}),
    "flip": ("Y[i] = X[6 - i]", {"X": (7,)}, {"X": (3,)}),
    "flip with size symbol": ("input X[N, M]\nY[i, j] = X[N - 1 - i, j] * X[i, M - 1 - j]",
                              {"X": (7, 5)}, {"X": (3, 2)}),
    "difference": ("D[i] = X[i + 1] - X[i]", {"X": (11,)}, {"X": (4,)}),
    "smooth functions": (
        ("Y[i] = sigmoid(X[i]) / (1 + X[i]**2) + silu(X[i]) * gelu(X[i]) - softplus(X[i]) "
         "+ erf(X[i]) * sin(X[i]) + cos(X[i]) + tanh(X[i])**3 + leaky_relu(X[i], 0.1)"),
        {"X": (13,)}, {"X": (5,)}),
}


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_matches_numpy(client, name):
    src, shapes, chunks = FORWARD[name]
    r = rng(1)
    check(src, {k: r.standard_normal(s) for k, s in shapes.items()}, chunks)


@pytest.mark.parametrize("access, np_mode, expected", BOUNDARY_TABLE, ids=MODES)
def test_boundary_table_with_chunked_input(client, access, np_mode, expected):
    # padding wider than the whole array, read from two chunks of sizes 2 and 1
    out = check(f"y[i] = {access} where i in 0:9", {"a": np.array([1.0, 2, 3])},
                {"a": (2,)})
    assert out["y"].tolist() == expected


# dask.array.pad(x, 7, mode="wrap" or "symmetric") on an axis of 5 returns 12 elements, not 19:
# the runtime gathers such wide paddings by the boundary map instead (tests below)
@pytest.mark.parametrize("mode", MODES)
def test_padding_beyond_one_period_chunked(client, mode):
    e = "i - 7" if mode == "zero" else f"{mode}(i - 7)"
    check(f"y[i] = a[{e}]   where i in 0:19", {"a": rng(2).standard_normal(5)}, {"a": (2,)})


def test_numpy_inputs_are_accepted_unchunked(client):
    r = rng(3)
    x, w = r.standard_normal((2, 3, 9, 8)), r.standard_normal((4, 3, 3, 3))
    check(CONV2D, {"X": x, "W": w}, {})


def test_float32_stays_float32(client):
    r = rng(4)
    x = r.standard_normal((2, 3, 9, 8)).astype(np.float32)
    w = r.standard_normal((4, 3, 3, 3)).astype(np.float32)
    out = dask_prog(CONV2D)(X=da.from_array(x, chunks=(1, 3, 4, 3)), W=w)["Y"]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, numpy_prog(CONV2D)(X=x, W=w)["Y"], rtol=1e-5, atol=1e-5)


def test_errors_as_numpy_backend(client):
    src = "C[i, k] = A[i, j] * B[j, k]"
    a, b = da.ones((2, 3), chunks=(1, 2)), da.ones((4, 2), chunks=(2, 1))
    with pytest.raises(tc.ShapeError, match=r"index 'j'.*size 3 in A.*size 4 in B"):
        dask_prog(src)(A=a, B=b)
    with pytest.raises(tc.InputError, match="missing input B"):
        dask_prog(src)(A=a)
    with pytest.raises(tc.InputError, match="unexpected input Q"):
        dask_prog(src)(A=a, B=da.ones((3, 2)), Q=a)
    with pytest.raises(tc.InputError, match="input A is not an array of real numbers: "
                                            "its dtype is complex128"):
        dask_prog(src)(A=da.ones((2, 3), dtype=complex), B=b)


def test_unknown_backend_still_rejected():
    with pytest.raises(tc.SpecError, match="unknown backend 'dusk'"):
        tc.compile("Y[i] = X[i]", backend="dusk")


# ---------------------------------------------------------------- convolution family

CONV1D = "Y[n, o, i] = X[n, c, i + a] * W[o, c, a]"
CONV2D = "Y[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b]"

# X (2, 3, 17, 13) cut into (1, 3, 5, 4) chunks: spatial chunks 5+5+5+2 and 4+4+4+1
CONV = {
    "valid 3x3": CONV2D,
    "bias relu": ("Z[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b] + B[o]\n"
                  "Y[n, o, i, j] = relu(Z[n, o, i, j])"),
    "stride 2": "Y[n, o, i, j] = X[n, c, 2*i + a, 2*j + b] * W[o, c, a, b]",
    "stride 3 by 1": "Y[n, o, i, j] = X[n, c, 3*i + a, j + b] * W[o, c, a, b]",
    "dilation 2": "Y[n, o, i, j] = X[n, c, i + 2*a, j + 2*b] * W[o, c, a, b]",
    "stride 2 dilation 2": "Y[n, o, i, j] = X[n, c, 2*i + 2*a, 2*j + 2*b] * W[o, c, a, b]",
    "flipped kernel": ("input W[O, C, KH, KW]\n"
                       "Y[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, KH - 1 - a, KW - 1 - b]"),
    "stride 2 zero padding": ("input X[N, C, H, W]\n"
                              "Y[n, o, i, j] = X[n, c, 2*i + a - 1, 2*j + b - 1] * W[o, c, a, b]"
                              "   where i in 0:9, j in 0:7"),
    "full padding": ("input X[N, C, H, V]\ninput W[O, C, KA, KB]\n"
                     "Y[n, o, i, j] = X[n, c, i + a - KA + 1, j + b - KB + 1] * W[o, c, a, b]"
                     "   where i in 0:H + KA - 1, j in 0:V + KB - 1"),
    "depthwise": "Y[n, c, i, j] = X[n, c, i + a, j + b] * W[c, a, b]",
}
CONV_WEIGHTS = {"depthwise": (3, 3, 3)}


@pytest.mark.parametrize("name", sorted(CONV))
def test_conv2d_chunked_spatial(client, name):
    r = rng(5)
    arrays = {"X": r.standard_normal((2, 3, 17, 13)),
                  "W": r.standard_normal(CONV_WEIGHTS.get(name, (4, 3, 3, 3)))}
    if "B[o]" in CONV[name]:
        arrays["B"] = r.standard_normal(4)
    check(CONV[name], arrays, {"X": (1, 3, 5, 4)})


@pytest.mark.filterwarnings("ignore::dask.array.core.PerformanceWarning")   # chunks on purpose
def test_conv2d_chunked_weights_and_channels(client):
    # every input chunked, the kernel's own dimensions and the contracted channels included
    r = rng(23)
    arrays = {"X": r.standard_normal((2, 4, 8, 7)), "W": r.standard_normal((3, 4, 3, 3)),
                  "B": r.standard_normal(3)}
    check(CONV["bias relu"], arrays, {"X": (1, 2, 5, 4), "W": (2, 3, 2, 2), "B": (2,)})


def _wrapped(mode: str, e: str) -> str:
    return e if mode == "zero" else f"{mode}({e})"


def same_conv(mode: str, pad: int) -> str:
    return ("input X[N, C, H, W]\n"
            f"Y[n, o, i, j] = X[n, c, {_wrapped(mode, f'i + a - {pad}')}, "
            f"{_wrapped(mode, f'j + b - {pad}')}] * K[o, c, a, b]   where i in 0:H, j in 0:W")


SAME_CONVS = {     # padding, X shape, K shape, X chunks
    "3x3 over chunks (1, 3, 5, 4)": (1, (2, 3, 17, 13), (4, 3, 3, 3), (1, 3, 5, 4)),
    # a 5x5 kernel (halo 2 on each side) over spatial chunks of 2 and 3 (and a last one of 1)
    "5x5 over chunks of 2 and 3": (2, (1, 2, 11, 10), (3, 2, 5, 5), (1, 1, 2, 3)),
    # a same-size 5x5 convolution of one-row images: the padding (2) is wider than H (1)
    "padding wider than the image": (2, (2, 2, 1, 7), (3, 2, 5, 5), (1, 2, 1, 3)),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", SAME_CONVS)
def test_same_conv_boundary_modes_chunked(client, case, mode):
    pad, x_shape, k_shape, chunks = SAME_CONVS[case]
    r = rng(6)
    arrays = {"X": r.standard_normal(x_shape), "K": r.standard_normal(k_shape)}
    check(same_conv(mode, pad), arrays, {"X": chunks})


@pytest.mark.parametrize("mode", MODES)
def test_strided_dilated_boundary_modes_chunked(client, mode):
    r = rng(8)
    spec = ("input X[N, C, H, W]\n"
            f"Y[n, o, i, j] = X[n, c, {_wrapped(mode, '2*i + 2*a - 2')}, "
            f"{_wrapped(mode, 'j + 2*b - 2')}] * K[o, c, a, b]   where i in 0:9, j in 0:13")
    arrays = {"X": r.standard_normal((2, 2, 17, 13)), "K": r.standard_normal((3, 2, 3, 3))}
    check(spec, arrays, {"X": (1, 2, 5, 4)})


POOL = {
    "max 2x2 stride 2": "P[n, o, i, j] = max(Z[n, o, 2*i + p, 2*j + q])   where p < 2, q < 2",
    "max 3x3 stride 2": "P[n, o, i, j] = max(Z[n, o, 2*i + p, 2*j + q])   where p < 3, q < 3",
    "min 2x2 stride 2": "P[n, o, i, j] = min(Z[n, o, 2*i + p, 2*j + q])   where p < 2, q < 2",
    "max relu pool": "P[n, o, i, j] = max(relu(Z[n, o, 2*i + p, 2*j + q]))   where p < 2, q < 2",
    "avg 2x2 stride 2": "A[n, c, i, j] = mean(Z[n, c, 2*i + p, 2*j + q])  where p < 2, q < 2",
    "avg 3x3 stride 1": "A[n, c, i, j] = mean(Z[n, c, i + p, j + q])  where p < 3, q < 3",
    "global average": "G[n, c] = mean(Z[n, c, i, j])",
}


@pytest.mark.parametrize("name", sorted(POOL))
def test_pooling_chunked_spatial(client, name):
    z = rng(9).standard_normal((2, 4, 17, 13))
    check(POOL[name], {"Z": z}, {"Z": (1, 4, 5, 4)})


def test_conv_pool_network_chunked(client):
    src = ("Z[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b] + B[o]\n"
           "P[n, o, i, j] = max(relu(Z[n, o, 2*i + p, 2*j + q]))   where p < 2, q < 2\n"
           "Z2[n, o, i, j] = P[n, c, i + a, j + b] * W2[o, c, a, b]\n"
           "A[n, o, i, j] = mean(Z2[n, o, 2*i + p, 2*j + q])   where p < 2, q < 2")
    r = rng(10)
    arrays = {"X": r.standard_normal((3, 2, 19, 18)), "W": r.standard_normal((3, 2, 3, 3)),
                  "B": r.standard_normal(3), "W2": r.standard_normal((4, 3, 2, 2))}
    check(src, arrays, {"X": (2, 2, 7, 5)})


@pytest.mark.parametrize("spec", [
    CONV1D,
    "Y[n, o, i] = X[n, c, 2*i + a] * W[o, c, a]",
    "Y[n, o, i] = X[n, c, i + 3*a] * W[o, c, a]",
    "input X[N, C, L]\nY[n, o, i] = X[n, c, i + a - 2] * W[o, c, a]   where i in 0:L",
    "input X[N, C, L]\nY[n, o, i] = X[n, c, wrap(i + a - 2)] * W[o, c, a]   where i in 0:L",
    "input X[N, C, L]\nY[n, o, i] = X[n, c, reflect(2*i + a - 2)] * W[o, c, a]   where i in 0:12",
    "input X[N, C, L]\nY[n, o, i] = X[n, c, clamp(i + a - 4)] * W[o, c, a]   where i in 0:L + 4",
], ids=["valid", "stride 2", "dilation 3", "zero pad", "wrap", "reflect stride", "clamp full"])
def test_conv1d_chunked(client, spec):
    r = rng(11)
    arrays = {"X": r.standard_normal((2, 3, 23)), "W": r.standard_normal((4, 3, 5))}
    check(spec, arrays, {"X": (1, 2, 6)})


def test_transposed_conv_scatter_chunked(client):
    src = "dX[n, c, 2*i + a, 2*j + b] += dY[n, o, i, j] * W[o, c, a, b]"
    r = rng(12)
    arrays = {"dY": r.standard_normal((2, 4, 7, 6)), "W": r.standard_normal((4, 3, 3, 3))}
    check(src, arrays, {"dY": (1, 4, 3, 4)})


# ---------------------------------------------------------------- derived programs

CONV_NET = """\
Z[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b] + B[o]
P[n, o, i, j] = max(relu(Z[n, o, 2*i + p, 2*j + q]))   where p < 2, q < 2
L = mean(P[n, o, i, j] * C[n, o, i, j])
"""


def grad_check(src, of, wrt, arrays, chunks):
    expected = tc.grad(src, of=of, wrt=wrt)(**arrays)
    derived = tc.grad(src, of=of, wrt=wrt, backend="dask")
    actual = derived(**chunked(arrays, chunks))
    assert_same(actual, expected)
    for name in wrt:      # a gradient that is all zeros would make the comparison vacuous
        assert np.abs(expected[f"d{name}"]).max() > 1e-3, name
    return actual


def test_grad_conv_relu_maxpool_mean(client):
    r = rng(13)
    arrays = {"X": r.standard_normal((4, 2, 13, 11)), "W": r.standard_normal((3, 2, 3, 3)),
                  "B": r.standard_normal(3), "C": r.standard_normal((4, 3, 5, 4))}
    out = grad_check(CONV_NET, "L", ("W", "B", "X"), arrays,
                     {"X": (2, 2, 5, 4), "C": (2, 3, 2, 3)})
    assert out["dX"].shape == (4, 2, 13, 11)


@pytest.mark.parametrize("mode", MODES)
def test_grad_boundary_conv_chunked(client, mode):
    src = ("input X[N, C, H, W]\n"
           f"Y[n, o, i, j] = X[n, c, {_wrapped(mode, '2*i + a - 1')}, "
           f"{_wrapped(mode, 'j + 2*b - 1')}] * K[o, c, a, b]   where i in 0:6, j in 0:9\n"
           "L = mean(tanh(Y[n, o, i, j]))")
    r = rng(14)
    arrays = {"X": r.standard_normal((2, 2, 11, 9)), "K": r.standard_normal((3, 2, 3, 2))}
    grad_check(src, "L", ("X", "K"), arrays, {"X": (2, 2, 4, 3)})


def test_vjp_of_tensor_output_chunked_cotangent(client):
    src = "Y[n, o, i, j] = X[n, c, 2*i + a, j + 2*b] * W[o, c, a, b]"
    r = rng(15)
    arrays = {"X": r.standard_normal((2, 3, 12, 11)), "W": r.standard_normal((4, 3, 3, 2)),
                  "dY": r.standard_normal((2, 4, 5, 9))}
    # the cotangent chunked along the batch, the input along its spatial dimensions
    grad_check(src, "Y", ("X", "W"), arrays, {"X": (2, 3, 5, 4), "dY": (1, 4, 3, 9)})


def test_jacobian_chunked(client):
    src = "Y[i] = tanh(W[i, j] * x[j])"
    r = rng(16)
    arrays = {"W": r.standard_normal((5, 4)), "x": r.standard_normal(4)}
    expected = tc.jacobian(src, of="Y", wrt="x")(**arrays)
    actual = tc.jacobian(src, of="Y", wrt="x", backend="dask")(
        **chunked(arrays, {"W": (2, 3), "x": (3,)}))
    assert_same(actual, expected)
    assert actual["J"].shape == (5, 4)


@pytest.mark.parametrize("x_chunks", [(4, 1, 28, 28), (4, 1, 10, 28)],
                         ids=["batch chunks", "batch and row chunks"])
def test_two_conv_mnist_sgd_step(client, x_chunks):
    model = models.two_conv()
    src = with_loss(model)
    params = {k: v.astype(np.float64) for k, v in model.init(0).items()}
    r = rng(17)
    x = r.standard_normal((8, 1, 28, 28))
    t = one_hot(r.integers(0, 10, 8), 10, dtype=np.float64)
    feed = {**model.feed(params, x), "T": t}
    expected = tc.grad(src, of="L", wrt=model.param_names)(**feed)
    derived = tc.grad(src, of="L", wrt=model.param_names, backend="dask")
    actual = derived(**chunked(feed, {"X": x_chunks, "T": (4, 10)}))
    np.testing.assert_allclose(actual["L"], expected["L"], rtol=RTOL, atol=ATOL)
    after = {}
    for name, out in (("numpy", expected), ("dask", actual)):
        p = {k: v.copy() for k, v in params.items()}
        optim.SGD(lr=0.1).step(p, {k: out[f"d{k}"] for k in model.param_names})
        after[name] = p
    for k in model.param_names:
        np.testing.assert_allclose(actual[f"d{k}"], expected[f"d{k}"], rtol=1e-9, atol=1e-12,
                                   err_msg=k)
        np.testing.assert_allclose(after["dask"][k], after["numpy"][k], rtol=RTOL, atol=ATOL,
                                   err_msg=k)
        assert not np.array_equal(after["numpy"][k], params[k]), f"{k} did not move"


def test_parameter_gradient_over_many_batch_chunks_is_a_tree_reduction():
    # 40 batch chunks: dask sums the per-chunk partial gradients in levels (sum-partial
    # layers), not all 40 into one task
    src = "Z[n, o] = relu(X[n, c] * W[o, c])\nL = mean(Z[n, o]**2)"
    r = rng(31)
    arrays = {"X": r.standard_normal((400, 3)), "W": r.standard_normal((2, 3))}
    derived = tc.grad(src, of="L", wrt="W", backend="dask")
    lazy = derived.lazy(**chunked(arrays, {"X": (10, 3)}))["dW"]
    levels = [name for name in lazy.__dask_graph__().layers if name.startswith("sum-partial")]
    assert len(levels) >= 1
    expected = tc.grad(src, of="L", wrt="W")(**arrays)["dW"]
    np.testing.assert_allclose(lazy.compute(scheduler="sync"), expected, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- laziness, chunks, scheduler

def test_lazy_returns_uncomputed_dask_arrays(client):
    def boom():
        raise RuntimeError("lazy-probe: the input was computed")

    src = "Y[n, o, i, j] = relu(X[n, c, i + a, j + b] * W[o, c, a, b])\nS = sum(Y[n, o, i, j])"
    w = rng(18).standard_normal((4, 3, 3, 3))
    bomb = da.from_delayed(dask.delayed(boom)(), shape=(2, 3, 9, 8), dtype=np.float64)
    before = set(client.futures)
    out = dask_prog(src).lazy(X=bomb, W=w)         # building the graph computes nothing
    assert set(client.futures) <= before           # nor submits (persists) anything
    assert set(out) == {"Y", "S"}
    assert all(isinstance(v, da.Array) for v in out.values())
    assert out["Y"].shape == (2, 4, 7, 6) and out["S"].shape == ()
    with pytest.raises(RuntimeError, match="lazy-probe"):
        out["S"].compute()


def test_lazy_results_compute_to_numpy_results(client):
    r = rng(19)
    arrays = {"X": r.standard_normal((2, 3, 17, 13)), "K": r.standard_normal((4, 3, 3, 3))}
    src = same_conv("reflect", 1)
    lazy = dask_prog(src).lazy(**chunked(arrays, {"X": (1, 3, 9, 7)}))
    assert isinstance(lazy["Y"], da.Array)
    (y,) = dask.compute(lazy["Y"])
    np.testing.assert_allclose(y, numpy_prog(src)(**arrays)["Y"], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("src, shapes, chunks", [
    ("Y[n, c] = tanh(X[n, c]) * 2 + B[c]", {"X": (10, 6), "B": (6,)}, (3, 4)),
    (CONV2D, {"X": (10, 3, 9, 8), "W": (4, 3, 3, 3)}, (3, 3, 4, 4)),
    (("Y[n, c, i, j] = X[n, c, reflect(i + a - 1), reflect(j + b - 1)] * K[a, b]"
      "   where i in 0:9, j in 0:8"), {"X": (10, 3, 9, 8), "K": (3, 3)}, (3, 3, 5, 8)),
    ("P[n, o, i, j] = max(X[n, o, 2*i + p, 2*j + q])   where p < 2, q < 2",
     {"X": (10, 3, 9, 8)}, (3, 3, 5, 3)),
], ids=["elementwise", "conv", "reflect conv", "max pool"])
def test_batch_chunks_survive(client, src, shapes, chunks):
    r = rng(20)
    arrays = {k: r.standard_normal(s) for k, s in shapes.items()}
    x = da.from_array(arrays["X"], chunks=chunks)
    out = dask_prog(src).lazy(**{**arrays, "X": x})
    (name,) = out
    assert x.chunks[0] == (3, 3, 3, 1)
    assert out[name].chunks[0] == x.chunks[0]
    np.testing.assert_allclose(out[name].compute(), numpy_prog(src)(**arrays)[name],
                               rtol=RTOL, atol=ATOL)


def _tasks(arr) -> int:
    (opt,) = dask.optimize(arr)
    return len(opt.__dask_graph__())


@pytest.mark.parametrize("src", [
    "Y[i, j] = tanh(exp(X[i, j]) * 2 + 1)",
    "A[i, j] = exp(X[i, j])\nY[i, j] = tanh(sigmoid(A[i, j]) * 2 + relu(X[i, j] - 1))",
])
def test_elementwise_chain_is_fused_per_chunk(client, src):
    x = da.from_array(rng(21).standard_normal((16, 6)), chunks=(4, 3))
    assert x.npartitions == 8
    y = dask_prog(src).lazy(X=x)["Y"]
    assert y.chunks == x.chunks
    # after dask's optimizer, the whole chain is one task per chunk on top of the input's
    # tasks (unfused, every operation of the chain would add a task per chunk)
    assert _tasks(y) - _tasks(x) <= x.npartitions, (_tasks(y), _tasks(x))
    np.testing.assert_allclose(y.compute(), numpy_prog(src)(X=x.compute())["Y"],
                               rtol=RTOL, atol=ATOL)


def test_calls_run_on_the_active_distributed_scheduler(client):
    r = rng(22)
    arrays = {"X": r.standard_normal((2, 3, 9, 8)), "W": r.standard_normal((4, 3, 3, 3))}
    with distributed.get_task_stream(client) as ts:
        dask_prog(CONV2D)(**chunked(arrays, {"X": (1, 3, 4, 4)}))
    assert len(ts.data) >= 2           # at least one task per batch chunk ran on the workers
    workers = {t["worker"] for t in ts.data}
    assert workers <= set(client.scheduler_info()["workers"])
    # another active scheduler is used instead: nothing runs on the cluster
    with distributed.get_task_stream(client) as ts, dask.config.set(scheduler="sync"):
        out = dask_prog(CONV2D)(**chunked(arrays, {"X": (1, 3, 4, 4)}))
    assert ts.data == []
    assert_same(out, numpy_prog(CONV2D)(**arrays))


# ---------------------------------------------------------------- CuPy chunks (a GPU)

CONV_POOL_LOSS = """\
Z[n, o, i, j] = relu(X[n, c, i + a - 1, j + b - 1] * W[o, c, a, b] + B[o])
P[n, o, i, j] = max(Z[n, o, 2*i + p, 2*j + q])   where p < 2, q < 2
L = mean(P[n, o, i, j]**2)
"""


@pytest.mark.gpu
@pytest.mark.skipif(gpu_missing() is not None, reason="no GPU (CuPy with a device)")
def test_cupy_chunks_forward_and_gradient_equal_numpy():
    import cupy
    r = rng(41)
    arrays = {"X": r.standard_normal((4, 3, 13, 11)), "W": r.standard_normal((5, 3, 3, 3)),
              "B": r.standard_normal(5)}
    on_device = {"X": da.from_array(cupy.asarray(arrays["X"]), chunks=(2, 3, 5, 4),
                                    asarray=False),
                 "W": cupy.asarray(arrays["W"]), "B": cupy.asarray(arrays["B"])}
    with dask.config.set({"array.backend": "cupy", "scheduler": "sync"}):
        lazy = dask_prog(CONV_POOL_LOSS).lazy(**on_device)["P"]
        assert isinstance(lazy._meta, cupy.ndarray)         # blocks stay on the device
        grads = tc.grad(CONV_POOL_LOSS, of="L", wrt=("W", "B", "X"),
                        backend="dask")(**on_device)
    expected = tc.grad(CONV_POOL_LOSS, of="L", wrt=("W", "B", "X"))(**arrays)
    for name, want in expected.items():
        got = grads[name]
        np.testing.assert_allclose(got.get() if hasattr(got, "get") else got, want,
                                   rtol=1e-9, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------- random programs

@settings(max_examples=25, deadline=None)
@given(conv_programs(), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_random_conv_programs_and_gradients_equal_numpy(case, chunk, seed):
    # strides, dilations, padding, boundary modes, functions and pooling at random, the
    # input's spatial dimension in random chunks; on dask's synchronous scheduler
    src, shapes = case
    r = np.random.default_rng(seed)
    arrays = {k: r.standard_normal(s) for k, s in shapes.items()}
    arrays["C"] = r.standard_normal(numpy_prog(src.split("\nL =")[0])(**arrays)["P"].shape)
    chunks = {"X": (1, min(chunk, shapes["X"][1]))}
    with dask.config.set(scheduler="sync"):
        assert_same(dask_prog(src)(**chunked(arrays, chunks)), numpy_prog(src)(**arrays))
        derived = tc.grad(src, of="L", wrt=["X", "K", "B"], backend="dask")
        assert_same(derived(**chunked(arrays, chunks)),
                    tc.grad(src, of="L", wrt=["X", "K", "B"])(**arrays))


@settings(max_examples=25, deadline=None)
@given(einsum_programs(), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_random_einsum_programs_and_gradients_equal_numpy(case, chunk, seed):
    src, shapes = case
    r = np.random.default_rng(seed)
    arrays = {k: r.standard_normal(s) * 0.5 for k, s in shapes.items()}
    chunks = {k: tuple(min(chunk, n) for n in s) for k, s in shapes.items()}
    wrt = [k for k in shapes if k != "D"]
    with dask.config.set(scheduler="sync"):
        assert_same(dask_prog(src)(**chunked(arrays, chunks)), numpy_prog(src)(**arrays))
        assert_same(tc.grad(src, of="L", wrt=wrt, backend="dask")(**chunked(arrays, chunks)),
                    tc.grad(src, of="L", wrt=wrt)(**arrays))


def test_a_mean_pool_backward_through_tanh_equals_numpy():
    # the NumPy backend multiplies the window's cotangent in one window column at a time
    # (rt.multiply_over); the dask backend broadcasts it per block
    spec = ("S[n, c, i, j] = mean(tanh(C[n, c, 2*i + p, 2*j + q]))   where p < 2, q < 2\n"
            "L = sum(S[n, c, i, j] * V[n, c, i, j])")
    rng = np.random.default_rng(3)
    c, v = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((2, 3, 4, 4))
    want = tc.grad(spec, of="L", wrt="C")(C=c, V=v)["dC"]
    got = tc.grad(spec, of="L", wrt="C", backend="dask")(C=da.from_array(c, chunks=(1, 3, 4, 4)),
                                                          V=v)["dC"]
    np.testing.assert_allclose(got, want, rtol=1e-12)
