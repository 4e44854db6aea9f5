"""Convolutions, pooling and softmax written as specs, against torch.nn.functional."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from reference import as_torch as t, assert_close as close, boundary_index

RNG = np.random.default_rng(1234)


def rand(*shape):
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------- valid convolutions

CONV1D = "Y[n, o, i] = X[n, c, i + a] * W[o, c, a]"
CONV2D = "Y[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b]"
CONV3D = "Y[n, o, i, j, k] = X[n, c, i + a, j + b, k + d] * W[o, c, a, b, d]"


@pytest.mark.parametrize("n, c, o, length, ka", [(1, 1, 1, 5, 3), (2, 3, 4, 9, 3), (3, 2, 5, 6, 6),
                                                 (2, 4, 2, 7, 1)])
def test_conv1d_valid(n, c, o, length, ka):
    x, w = rand(n, c, length), rand(o, c, ka)
    close(tc.compile(CONV1D)(X=x, W=w)["Y"], F.conv1d(t(x), t(w)))


@pytest.mark.parametrize("n, c, o, h, w_, kh, kw", [(1, 1, 1, 4, 4, 2, 2), (2, 3, 4, 7, 6, 3, 3),
                                                    (2, 2, 3, 5, 8, 1, 4), (1, 3, 2, 6, 5, 5, 2)])
def test_conv2d_valid(n, c, o, h, w_, kh, kw):
    x, w = rand(n, c, h, w_), rand(o, c, kh, kw)
    close(tc.compile(CONV2D)(X=x, W=w)["Y"], F.conv2d(t(x), t(w)))


@pytest.mark.parametrize("n, c, o, size, k", [(1, 1, 2, (4, 5, 6), (2, 3, 2)),
                                              (2, 2, 3, (5, 5, 5), (3, 3, 3))])
def test_conv3d_valid(n, c, o, size, k):
    x, w = rand(n, c, *size), rand(o, c, *k)
    close(tc.compile(CONV3D)(X=x, W=w)["Y"], F.conv3d(t(x), t(w)))


def test_conv_program_reused_with_other_shapes():
    prog = tc.compile(CONV2D)
    for shape_x, shape_w in [((1, 2, 5, 5), (3, 2, 3, 3)), ((2, 1, 8, 4), (2, 1, 2, 2)),
                             ((1, 2, 5, 5), (3, 2, 3, 3))]:
        x, w = rand(*shape_x), rand(*shape_w)
        close(prog(X=x, W=w)["Y"], F.conv2d(t(x), t(w)))


# ---------------------------------------------------------------- stride and dilation

@pytest.mark.parametrize("length, ka", [(9, 3), (10, 3), (8, 2), (7, 4)])
def test_conv1d_stride2(length, ka):
    x, w = rand(2, 3, length), rand(4, 3, ka)
    out = tc.compile("Y[n, o, i] = X[n, c, 2*i + a] * W[o, c, a]")(X=x, W=w)
    close(out["Y"], F.conv1d(t(x), t(w), stride=2))


@pytest.mark.parametrize("h, w_, k", [(7, 7, 3), (8, 6, 3), (9, 10, 2)])
def test_conv2d_stride2(h, w_, k):
    x, w = rand(2, 2, h, w_), rand(3, 2, k, k)
    out = tc.compile("Y[n, o, i, j] = X[n, c, 2*i + a, 2*j + b] * W[o, c, a, b]")(X=x, W=w)
    close(out["Y"], F.conv2d(t(x), t(w), stride=2))


def test_conv2d_stride3_by_1():
    x, w = rand(1, 2, 11, 6), rand(3, 2, 3, 2)
    out = tc.compile("Y[n, o, i, j] = X[n, c, 3*i + a, j + b] * W[o, c, a, b]")(X=x, W=w)
    close(out["Y"], F.conv2d(t(x), t(w), stride=(3, 1)))


@pytest.mark.parametrize("length, ka", [(9, 3), (10, 2), (12, 4)])
def test_conv1d_dilation2(length, ka):
    x, w = rand(2, 3, length), rand(4, 3, ka)
    out = tc.compile("Y[n, o, i] = X[n, c, i + 2*a] * W[o, c, a]")(X=x, W=w)
    close(out["Y"], F.conv1d(t(x), t(w), dilation=2))


def test_conv2d_dilation2():
    x, w = rand(2, 2, 9, 8), rand(3, 2, 3, 2)
    out = tc.compile("Y[n, o, i, j] = X[n, c, i + 2*a, j + 2*b] * W[o, c, a, b]")(X=x, W=w)
    close(out["Y"], F.conv2d(t(x), t(w), dilation=2))


def test_conv2d_stride2_dilation2():
    x, w = rand(1, 2, 11, 10), rand(2, 2, 3, 3)
    out = tc.compile("Y[n, o, i, j] = X[n, c, 2*i + 2*a, 2*j + 2*b] * W[o, c, a, b]")(X=x, W=w)
    close(out["Y"], F.conv2d(t(x), t(w), stride=2, dilation=2))


# ---------------------------------------------------------------- zero padding

SAME_ZERO = """\
input X[N, C, H, W]
Y[n, o, i, j] = X[n, c, i + a - 1, j + b - 1] * K[o, c, a, b]   where i in 0:H, j in 0:W
"""


@pytest.mark.parametrize("shape", [(1, 1, 3, 3), (2, 3, 5, 4), (1, 2, 1, 6)])
def test_conv2d_same_zero_padding(shape):
    x, k = rand(*shape), rand(4, shape[1], 3, 3)
    out = tc.compile(SAME_ZERO)(X=x, K=k)
    close(out["Y"], F.conv2d(t(x), t(k), padding=1))


def test_conv1d_zero_padding_2():
    x, k = rand(2, 3, 6), rand(2, 3, 5)
    spec = "input X[N, C, L]\nY[n, o, i] = X[n, c, i + a - 2] * K[o, c, a]   where i in 0:L"
    close(tc.compile(spec)(X=x, K=k)["Y"], F.conv1d(t(x), t(k), padding=2))


def test_conv1d_full_padding():
    # "full" size: L + A - 1 outputs
    x, k = rand(1, 1, 6), rand(1, 1, 3)
    spec = "input X[N, C, L]\ninput K[O, C, A]\n" \
           "Y[n, o, i] = X[n, c, i + a - A + 1] * K[o, c, a]   where i in 0:L + A - 1"
    close(tc.compile(spec)(X=x, K=k)["Y"], F.conv1d(t(x), t(k), padding=2))


def test_conv2d_stride2_zero_padding():
    x, k = rand(2, 2, 7, 8), rand(3, 2, 3, 3)
    spec = ("input X[N, C, H, W]\n"
            "Y[n, o, i, j] = X[n, c, 2*i + a - 1, 2*j + b - 1] * K[o, c, a, b]"
            "   where i in 0:4, j in 0:4")
    close(tc.compile(spec)(X=x, K=k)["Y"], F.conv2d(t(x), t(k), stride=2, padding=1))


# ---------------------------------------------------------------- boundary modes



def loop_same_conv2d(x, k, mode):
    h, w = x.shape
    kh, kw = k.shape
    ph, pw = kh // 2, kw // 2
    y = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    ii = boundary_index(i + a - ph, h, mode)
                    jj = boundary_index(j + b - pw, w, mode)
                    if ii is not None and jj is not None:
                        y[i, j] += x[ii, jj] * k[a, b]
    return y


NP_MODE = {"zero": "constant", "wrap": "wrap", "reflect": "symmetric", "clamp": "edge"}


def _wrapped(mode, e):
    return e if mode == "zero" else f"{mode}({e})"


@pytest.mark.parametrize("mode", ["zero", "wrap", "reflect", "clamp"])
@pytest.mark.parametrize("hw, kk", [((5, 6), 3), ((4, 4), 5), ((2, 3), 5)])
def test_same_conv2d_boundary_modes(mode, hw, kk):
    h, w = hw
    x, k = rand(h, w), rand(kk, kk)
    p = kk // 2
    spec = (f"input X[H, W]\nY[i, j] = X[{_wrapped(mode, f'i + a - {p}')}, "
            f"{_wrapped(mode, f'j + b - {p}')}] * K[a, b]   where i in 0:H, j in 0:W")
    out = tc.compile(spec)(X=x, K=k)["Y"]
    padded = np.pad(x, p, mode=NP_MODE[mode])
    ref = F.conv2d(t(padded)[None, None], t(k)[None, None])[0, 0]
    close(out, ref)
    close(out, loop_same_conv2d(x, k, mode))


@pytest.mark.parametrize("mode", ["zero", "wrap", "reflect", "clamp"])
def test_padding_beyond_one_period(mode):
    a = np.array([1.0, 2.0, 3.0])
    spec = f"y[i] = a[{_wrapped(mode, 'i - 7')}]   where i in 0:17"
    out = tc.compile(spec)(a=a)["y"]
    close(out, np.pad(a, 7, mode=NP_MODE[mode]))


@pytest.mark.parametrize("mode", ["zero", "wrap", "reflect", "clamp"])
def test_boundary_modes_batched_channels(mode):
    x, k = rand(2, 3, 5, 4), rand(4, 3, 3, 3)
    spec = ("input X[N, C, H, W]\n"
            f"Y[n, o, i, j] = X[n, c, {_wrapped(mode, 'i + a - 1')}, {_wrapped(mode, 'j + b - 1')}]"
            " * K[o, c, a, b]   where i in 0:H, j in 0:W")
    out = tc.compile(spec)(X=x, K=k)["Y"]
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode=NP_MODE[mode])
    close(out, F.conv2d(t(padded), t(k)))


# ---------------------------------------------------------------- depthwise, pointwise, bias

def test_depthwise_conv2d():
    x, k = rand(2, 3, 6, 5), rand(3, 3, 2)
    out = tc.compile("Y[n, c, i, j] = X[n, c, i + a, j + b] * K[c, a, b]")(X=x, K=k)
    close(out["Y"], F.conv2d(t(x), t(k)[:, None], groups=3))


def test_pointwise_1x1_conv():
    x, w = rand(2, 3, 4, 5), rand(6, 3)
    out = tc.compile("Y[n, o, i, j] = X[n, c, i, j] * W[o, c]")(X=x, W=w)
    close(out["Y"], F.conv2d(t(x), t(w)[:, :, None, None]))
    close(out["Y"], np.einsum("ncij,oc->noij", x, w))


BIAS_RELU = """\
# a 2-D convolution, valid size, with bias and ReLU
Z[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b] + B[o]
Y[n, o, i, j] = relu(Z[n, o, i, j])
"""


def test_conv2d_bias_relu():
    x, w, b = rand(2, 3, 6, 7), rand(4, 3, 3, 2), rand(4)
    out = tc.compile(BIAS_RELU)(X=x, W=w, B=b)
    z = F.conv2d(t(x), t(w), t(b))
    close(out["Z"], z)
    close(out["Y"], F.relu(z))
    assert (out["Y"] >= 0).all() and (out["Y"] == 0).any()


def test_conv2d_bias_relu_one_statement():
    x, w, b = rand(2, 3, 6, 7), rand(4, 3, 3, 2), rand(4)
    out = tc.compile("Y[n, o, i, j] = relu(X[n, c, i + a, j + b] * W[o, c, a, b] + B[o])")(
        X=x, W=w, B=b)
    close(out["Y"], F.relu(F.conv2d(t(x), t(w), t(b))))


# ---------------------------------------------------------------- true convolution (flipped)

def test_true_convolution_1d_flipped_kernel():
    x, k = rand(9), rand(4)
    out = tc.compile("input K[A]\nY[i] = X[i + a] * K[A - 1 - a]")(X=x, K=k)
    close(out["Y"], np.convolve(x, k, mode="valid"))


def test_true_convolution_2d_flipped_kernel():
    x, k = rand(2, 3, 7, 6), rand(4, 3, 3, 2)
    spec = ("input W[O, C, KH, KW]\n"
            "Y[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, KH - 1 - a, KW - 1 - b]")
    out = tc.compile(spec)(X=x, W=k)
    close(out["Y"], F.conv2d(t(x), t(k).flip(-1).flip(-2)))


def test_true_convolution_full_1d():
    # full convolution y[i] = sum_a x[i - a] k[a], i in 0:L + A - 1
    x, k = rand(6), rand(3)
    spec = "input X[L]\ninput K[A]\nY[i] = X[i - a] * K[a]   where i in 0:L + A - 1"
    close(tc.compile(spec)(X=x, K=k)["Y"], np.convolve(x, k, mode="full"))


def test_true_convolution_3d_flipped():
    x, k = rand(1, 2, 5, 4, 6), rand(3, 2, 2, 3, 2)
    spec = ("input W[O, C, P, Q, R]\n"
            "Y[n, o, i, j, l] = X[n, c, i + a, j + b, l + d] * "
            "W[o, c, P - 1 - a, Q - 1 - b, R - 1 - d]")
    out = tc.compile(spec)(X=x, W=k)
    close(out["Y"], F.conv3d(t(x), t(k).flip(-1).flip(-2).flip(-3)))


# ---------------------------------------------------------------- pooling

MAXPOOL = "P[n, c, i, j] = max(Y[n, c, 2*i + p, 2*j + q])   where p < 2, q < 2"
AVGPOOL = "A[n, c, i, j] = mean(Y[n, c, 2*i + p, 2*j + q])  where p < 2, q < 2"


@pytest.mark.parametrize("shape", [(1, 1, 2, 2), (2, 3, 6, 8), (2, 2, 5, 7)])
def test_max_pool_2x2(shape):
    y = rand(*shape)
    close(tc.compile(MAXPOOL)(Y=y)["P"], F.max_pool2d(t(y), 2, 2))


@pytest.mark.parametrize("shape", [(1, 1, 2, 2), (2, 3, 6, 8), (2, 2, 5, 7)])
def test_avg_pool_2x2(shape):
    y = rand(*shape)
    close(tc.compile(AVGPOOL)(Y=y)["A"], F.avg_pool2d(t(y), 2, 2))


def test_max_pool_all_negative():
    y = -np.abs(rand(1, 2, 4, 4)) - 1.0
    close(tc.compile(MAXPOOL)(Y=y)["P"], F.max_pool2d(t(y), 2, 2))


def test_max_and_avg_pool_in_one_program():
    y = rand(2, 2, 6, 6)
    out = tc.compile(MAXPOOL + "\n" + AVGPOOL)(Y=y)
    close(out["P"], F.max_pool2d(t(y), 2, 2))
    close(out["A"], F.avg_pool2d(t(y), 2, 2))


def test_max_pool_3x3_stride2():
    y = rand(1, 2, 7, 9)
    out = tc.compile("P[n, c, i, j] = max(Y[n, c, 2*i + p, 2*j + q])   where p < 3, q < 3")(Y=y)
    close(out["P"], F.max_pool2d(t(y), 3, 2))


def test_conv_then_pool_pipeline():
    x, w, b = rand(2, 3, 10, 10), rand(4, 3, 3, 3), rand(4)
    out = tc.compile(BIAS_RELU + MAXPOOL)(X=x, W=w, B=b)
    close(out["P"], F.max_pool2d(F.relu(F.conv2d(t(x), t(w), t(b))), 2, 2))


def test_global_average_pooling():
    x = rand(2, 3, 5, 4)
    out = tc.compile("G[n, c] = mean(X[n, c, i, j])")(X=x)
    close(out["G"], F.adaptive_avg_pool2d(t(x), 1)[:, :, 0, 0])
    close(out["G"], x.mean(axis=(2, 3)))


def test_global_sum_pooling_implicit():
    x = rand(2, 3, 5, 4)
    close(tc.compile("G[n, c] = X[n, c, i, j]")(X=x)["G"], x.sum(axis=(2, 3)))


# ---------------------------------------------------------------- softmax

SOFTMAX = """\
M[n] = max(X[n, k])
E[n, k] = exp(X[n, k] - M[n])
S[n] = sum(E[n, k])
P[n, k] = E[n, k] / S[n]
"""


def test_softmax_stable_large_inputs():
    x = 1e4 + 50 * rand(3, 7)
    x[0, 0] = 1.2e4
    out = tc.compile(SOFTMAX)(X=x)
    p = out["P"]
    assert np.isfinite(p).all()
    close(p, torch.softmax(t(x), dim=1), rtol=1e-9, atol=1e-12)
    close(p.sum(axis=1), np.ones(3))


def test_softmax_one_statement():
    x = 1e4 + 10 * rand(4, 5)
    spec = "M[n] = max(X[n, k])\nP[n, k] = exp(X[n, k] - M[n]) / sum(exp(X[n, j] - M[n]))"
    p = tc.compile(spec)(X=x)["P"]
    assert np.isfinite(p).all()
    close(p, torch.softmax(t(x), dim=1), rtol=1e-9, atol=1e-12)


def test_log_sum_exp_large_inputs():
    x = -1e4 + 10 * rand(3, 6)
    spec = "M[n] = max(H[n, k])\nLse[n] = log(sum(exp(H[n, k] - M[n]))) + M[n]"
    out = tc.compile(spec)(H=x)
    assert np.isfinite(out["Lse"]).all()
    close(out["Lse"], torch.logsumexp(t(x), dim=1), rtol=1e-12, atol=1e-9)


def test_softmax_float32_large_inputs():
    x = (1e4 + 10 * rand(3, 6)).astype(np.float32)
    p = tc.compile(SOFTMAX)(X=x)["P"]
    assert p.dtype == np.float32
    assert np.isfinite(p).all()
    close(p, torch.softmax(t(x), dim=1), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- dtypes

def test_float32_in_float32_out():
    x, w = rand(2, 3, 6, 6).astype(np.float32), rand(4, 3, 3, 3).astype(np.float32)
    out = tc.compile(CONV2D)(X=x, W=w)["Y"]
    assert out.dtype == np.float32
    close(out, F.conv2d(t(x), t(w)), rtol=1e-4, atol=1e-5)


def test_float32_preserved_through_padding_and_pooling():
    x, k = rand(1, 2, 6, 6).astype(np.float32), rand(3, 2, 3, 3).astype(np.float32)
    spec = SAME_ZERO + "P[n, c, i, j] = max(Y[n, c, 2*i + p, 2*j + q])   where p < 2, q < 2\n" \
        + "G[n, c] = mean(P[n, c, i, j])\n"
    out = tc.compile(spec)(X=x, K=k)
    for name in ("Y", "P", "G"):
        assert out[name].dtype == np.float32, name
    ref = F.max_pool2d(F.conv2d(t(x), t(k), padding=1), 2, 2)
    close(out["P"], ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["wrap", "reflect", "clamp"])
def test_float32_boundary_modes(mode):
    x = rand(5).astype(np.float32)
    out = tc.compile(f"y[i] = x[{mode}(i - 2)]   where i in 0:9")(x=x)["y"]
    assert out.dtype == np.float32
    close(out, np.pad(x, 2, mode=NP_MODE[mode]))


def test_integer_inputs_become_float64():
    x = np.arange(12).reshape(1, 1, 3, 4)
    w = np.ones((1, 1, 2, 2), dtype=np.int64)
    out = tc.compile(CONV2D)(X=x, W=w)["Y"]
    assert out.dtype == np.float64
    close(out, F.conv2d(t(x.astype(float)), t(w.astype(float))))


# ---------------------------------------------------------------- generated 1-D / 2-D convs



def _affine(stride, dil, pad):
    text = f"{stride}*i" if stride != 1 else "i"
    text += f" + {dil}*a" if dil != 1 else " + a"
    if pad:
        text += f" - {pad}"
    return text


def loop_conv1d(x, k, stride, dil, pad, mode, n_out):
    y = np.zeros(n_out)
    for i in range(n_out):
        for a in range(len(k)):
            e = boundary_index(stride * i + dil * a - pad, len(x), mode)
            if e is not None:
                y[i] += x[e] * k[a]
    return y


@settings(max_examples=80, deadline=None)
@given(length=st.integers(1, 9), ksize=st.integers(1, 4), stride=st.integers(1, 3),
       dil=st.integers(1, 3), pad=st.integers(0, 3),
       mode=st.sampled_from(["zero", "wrap", "reflect", "clamp"]),
       seed=st.integers(0, 2**31))
def test_generated_conv1d(length, ksize, stride, dil, pad, mode, seed):
    n_out = (length + 2 * pad - dil * (ksize - 1) - 1) // stride + 1
    if n_out < 1:
        return
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal(length), rng.standard_normal(ksize)
    spec = f"Y[i] = X[{_wrapped(mode, _affine(stride, dil, pad))}] * K[a]   where i in 0:{n_out}"
    out = tc.compile(spec)(X=x, K=k)["Y"]
    close(out, loop_conv1d(x, k, stride, dil, pad, mode, n_out))
    if mode == "zero":
        close(out, F.conv1d(t(x)[None, None], t(k)[None, None], stride=stride, dilation=dil,
                            padding=pad)[0, 0])


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 9), ksize=st.integers(1, 4), stride=st.integers(1, 3),
       dil=st.integers(1, 3), seed=st.integers(0, 2**31))
def test_generated_valid_conv1d_inferred_range(length, ksize, stride, dil, seed):
    n_out = (length - dil * (ksize - 1) - 1) // stride + 1
    if n_out < 1:
        return
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((2, length)), rng.standard_normal(ksize)
    spec = f"Y[n, i] = X[n, {_affine(stride, dil, 0)}] * K[a]"
    out = tc.compile(spec)(X=x, K=k)["Y"]
    close(out, F.conv1d(t(x)[:, None], t(k)[None, None], stride=stride, dilation=dil)[:, 0])


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 6), w=st.integers(1, 6), kh=st.integers(1, 3), kw=st.integers(1, 3),
       sh=st.integers(1, 2), sw=st.integers(1, 2), ph=st.integers(0, 2), pw=st.integers(0, 2),
       seed=st.integers(0, 2**31))
def test_generated_conv2d_zero_padding(h, w, kh, kw, sh, sw, ph, pw, seed):
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if oh < 1 or ow < 1:
        return
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((1, 2, h, w)), rng.standard_normal((3, 2, kh, kw))
    ei = f"{sh}*i + a - {ph}"
    ej = f"{sw}*j + b - {pw}"
    spec = f"Y[n, o, i, j] = X[n, c, {ei}, {ej}] * K[o, c, a, b]   where i in 0:{oh}, j in 0:{ow}"
    out = tc.compile(spec)(X=x, K=k)["Y"]
    close(out, F.conv2d(t(x), t(k), stride=(sh, sw), padding=(ph, pw)))


# ---------------------------------------------------------------- pooling with padding

def test_avg_pool_zero_padding_counts_pad():
    y = rand(1, 2, 5, 5)
    spec = ("input Y[N, C, H, W]\n"
            "A[n, c, i, j] = mean(Y[n, c, 2*i + p - 1, 2*j + q - 1])"
            "   where p < 3, q < 3, i in 0:3, j in 0:3")
    out = tc.compile(spec)(Y=y)["A"]
    close(out, F.avg_pool2d(t(y), 3, 2, padding=1, count_include_pad=True))


def test_max_pool_clamp_padding():
    # clamp padding repeats the edge, so it never changes a max: equals torch's -inf padding
    y = rand(1, 2, 5, 6)
    spec = ("input Y[N, C, H, W]\n"
            "P[n, c, i, j] = max(Y[n, c, clamp(2*i + p - 1), clamp(2*j + q - 1)])"
            "   where p < 3, q < 3, i in 0:3, j in 0:3")
    out = tc.compile(spec)(Y=y)["P"]
    close(out, F.max_pool2d(t(y), 3, 2, padding=1))


def test_partial_sum_with_where():
    x = rand(3, 5)
    out = tc.compile("S[i] = sum(X[i, k])   where k < 2")(X=x)["S"]
    close(out, x[:, :2].sum(axis=1))


def test_mean_over_explicit_range():
    x = rand(3, 5)
    out = tc.compile("S[i] = mean(X[i, k])   where k in 0:8")(X=x)["S"]
    close(out, x.sum(axis=1) / 8)
