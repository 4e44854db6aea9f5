"""`+=` scatter-adds with affine left sides, against Python loops and torch."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.runtime import kernels as rt
from reference import as_torch as t, assert_close as close, boundary_index

RNG = np.random.default_rng(99)


def rand(*shape):
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------- 1-D scatters

@pytest.mark.parametrize("n, r", [(1, 1), (4, 3), (5, 2), (3, 5)])
def test_strided_scatter_1d(n, r):
    x, w = rand(n), rand(r)
    out = tc.compile("T[2*i + a] += x[i] * w[a]")(x=x, w=w)["T"]
    ref = np.zeros(2 * (n - 1) + r)
    for i in range(n):
        for a in range(r):
            ref[2 * i + a] += x[i] * w[a]
    close(out, ref)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_scatter_1d_strides_vs_conv_transpose1d(stride):
    x, w = rand(2, 3, 5), rand(3, 4, 3)
    spec = f"Y[n, c, {stride}*i + a] += X[n, o, i] * W[o, c, a]"
    out = tc.compile(spec)(X=x, W=w)["Y"]
    close(out, F.conv_transpose1d(t(x), t(w), stride=stride))


def test_scatter_with_gaps_leaves_zeros():
    x = np.array([1.0, 2.0, 3.0])
    out = tc.compile("T[3*i] += x[i]")(x=x)["T"]
    close(out, [1, 0, 0, 2, 0, 0, 3])


def test_scatter_with_offset_starts_at_zero_index():
    # a tensor created by += is just large enough to hold every position written
    x = np.array([1.0, 2.0])
    out = tc.compile("T[i + 2] += x[i]")(x=x)["T"]
    close(out, [0, 0, 1, 2])


def test_scatter_dilated():
    x, w = rand(4), rand(3)
    out = tc.compile("T[i + 2*a] += x[i] * w[a]")(x=x, w=w)["T"]
    ref = np.zeros(4 + 2 * 2)
    for i, a in itertools.product(range(4), range(3)):
        ref[i + 2 * a] += x[i] * w[a]
    close(out, ref)


def test_scatter_diagonal():
    x = np.array([1.0, 2.0, 3.0])
    out = tc.compile("D[i, i] += x[i]")(x=x)["D"]
    close(out, np.diag(x))


# ---------------------------------------------------------------- transposed convolutions

TCONV2D = "dX[n, c, i + a, j + b] += dY[n, o, i, j] * W[o, c, a, b]"
TCONV2D_S2 = "dX[n, c, 2*i + a, 2*j + b] += dY[n, o, i, j] * W[o, c, a, b]"


def loop_tconv2d(dy, w, stride):
    n_, o_, h, wd = dy.shape
    _, c_, ka, kb = w.shape
    out = np.zeros((n_, c_, stride * (h - 1) + ka, stride * (wd - 1) + kb))
    for n, o, i, j in itertools.product(range(n_), range(o_), range(h), range(wd)):
        out[n, :, stride * i:stride * i + ka, stride * j:stride * j + kb] += dy[n, o, i, j] * w[o]
    return out


@pytest.mark.parametrize("dy_shape, w_shape", [((1, 1, 3, 3), (1, 1, 2, 2)),
                                               ((2, 3, 4, 5), (3, 2, 3, 3)),
                                               ((2, 2, 1, 4), (2, 4, 3, 2))])
def test_transposed_conv2d(dy_shape, w_shape):
    dy, w = rand(*dy_shape), rand(*w_shape)
    out = tc.compile(TCONV2D)(dY=dy, W=w)["dX"]
    close(out, F.conv_transpose2d(t(dy), t(w)))
    close(out, loop_tconv2d(dy, w, 1))


@pytest.mark.parametrize("dy_shape, w_shape", [((1, 1, 3, 3), (1, 1, 2, 2)),
                                               ((2, 3, 4, 5), (3, 2, 3, 3)),
                                               ((1, 2, 3, 2), (2, 3, 1, 4))])
def test_transposed_conv2d_stride2(dy_shape, w_shape):
    dy, w = rand(*dy_shape), rand(*w_shape)
    out = tc.compile(TCONV2D_S2)(dY=dy, W=w)["dX"]
    close(out, F.conv_transpose2d(t(dy), t(w), stride=2))
    close(out, loop_tconv2d(dy, w, 2))


def test_transposed_conv_is_input_gradient_of_conv():
    x, w = rand(2, 2, 7, 7), rand(3, 2, 3, 3)
    xt = t(x).requires_grad_()
    y = F.conv2d(xt, t(w), stride=2)
    dy = rand(*y.shape)
    y.backward(t(dy))
    out = tc.compile(TCONV2D_S2)(dY=dy, W=w)["dX"]
    close(out, xt.grad)


def test_transposed_conv3d():
    dy, w = rand(1, 2, 2, 3, 2), rand(2, 3, 2, 2, 3)
    spec = "dX[n, c, i + a, j + b, k + d] += dY[n, o, i, j, k] * W[o, c, a, b, d]"
    close(tc.compile(spec)(dY=dy, W=w)["dX"], F.conv_transpose3d(t(dy), t(w)))


# ---------------------------------------------------------------- flattening

def test_flattening_scatter():
    u = rand(2, 4, 3, 3)
    out = tc.compile("V[k, 9*o + 3*i + j] += U[k, o, i, j]")(U=u)["V"]
    close(out, u.reshape(2, 36))
    ref = np.zeros((2, 36))
    for k, o, i, j in itertools.product(range(2), range(4), range(3), range(3)):
        ref[k, 9 * o + 3 * i + j] += u[k, o, i, j]
    close(out, ref)


def test_a_flattening_scatter_of_a_contraction_is_one_add(monkeypatch):
    """A dense layer's weight gradient through a flatten, dV[k, 16*c + 4*i + j] +=
    dH[n, k] * P[n, c, i, j]: the index map is one-to-one, so one product is added in
    place, not one strided add per (i, j) offset."""
    from tensorc.runtime import kernels
    monkeypatch.setattr(kernels, "_add_pieces", None)      # the per-offset path would fail
    spec = "V[k, 16*c + 4*i + j] += D[n, k] * P[n, c, i, j]"
    prog = tc.compile(spec)
    assert "rt.scatter_contract(" in prog.source
    d, p = rand(3, 5), rand(3, 2, 4, 4)
    close(prog(D=d, P=p)["V"], d.T @ p.reshape(3, 32))


def test_flatten_then_dense():
    u, w = rand(2, 4, 3, 3), rand(5, 36)
    spec = "V[k, 9*o + 3*i + j] += U[k, o, i, j]\nZ[k, h] = W[h, f] * V[k, f]"
    out = tc.compile(spec)(U=u, W=w)
    close(out["Z"], u.reshape(2, 36) @ w.T)


# ---------------------------------------------------------------- multi-statement

def test_later_statement_reads_scatter_output():
    x, w = rand(5), rand(3)
    spec = "dx[i + k] += da[i] * w[k]\ny[i] = dx[i] * dx[i]\ns = sum(y[i])"
    out = tc.compile(spec)(da=x, w=w)
    dx = np.correlate(x, w[::-1], mode="full")
    close(out["dx"], dx)
    close(out["y"], dx ** 2)
    close(out["s"], np.sum(dx ** 2))


def test_scatter_reads_earlier_output():
    x, w, v = rand(6), rand(3), rand(2)
    spec = "a[i] = x[i + k] * w[k]\nb[2*i + k] += a[i] * v[k]"
    out = tc.compile(spec)(x=x, w=w, v=v)
    a = np.correlate(x, w, mode="valid")
    close(out["a"], a)
    ref = np.zeros(2 * (len(a) - 1) + 2)
    for i, k in itertools.product(range(len(a)), range(2)):
        ref[2 * i + k] += a[i] * v[k]
    close(out["b"], ref)


def test_accumulate_onto_tensor_created_by_assign():
    x, y = rand(4), rand(4)
    out = tc.compile("T[i] = x[i]\nT[i] += 2 * y[i]")(x=x, y=y)
    assert out == {"T": out["T"]}
    close(out["T"], x + 2 * y)


def test_affine_accumulate_onto_tensor_created_by_assign():
    x, y = rand(6), rand(3)
    out = tc.compile("T[i] = x[i]\nT[2*i] += y[i]")(x=x, y=y)
    ref = x.copy()
    ref[0::2] += y
    close(out["T"], ref)


def test_accumulate_twice():
    x, y = rand(3), rand(3)
    out = tc.compile("T[i] += x[i]\nT[i] += y[i]")(x=x, y=y)
    close(out["T"], x + y)


def test_accumulate_with_contraction():
    a, x, b = rand(3, 4), rand(4), rand(3)
    out = tc.compile("y[i] = b[i]\ny[i] += A[i, k] * x[k]")(A=a, x=x, b=b)
    close(out["y"], a @ x + b)


def test_overlapping_scatter_two_statements():
    # two scatters into the same tensor: both windows add up
    x, w = rand(3), rand(2)
    spec = "T[i + a] += x[i] * w[a]\nT[i + a] += x[i] * w[a]"
    out = tc.compile(spec)(x=x, w=w)["T"]
    close(out, 2 * np.convolve(x, w, mode="full"))


def test_scatter_float32_preserved():
    dy, w = rand(1, 2, 3, 3).astype(np.float32), rand(2, 3, 2, 2).astype(np.float32)
    out = tc.compile(TCONV2D_S2)(dY=dy, W=w)["dX"]
    assert out.dtype == np.float32
    close(out, F.conv_transpose2d(t(dy), t(w), stride=2), rtol=1e-4, atol=1e-5)


def test_scatter_round_trip_spec():
    prog = tc.compile(TCONV2D_S2)
    again = tc.compile(prog.spec)
    assert again.spec == prog.spec
    dy, w = rand(1, 2, 3, 3), rand(2, 3, 2, 2)
    close(again(dY=dy, W=w)["dX"], prog(dY=dy, W=w)["dX"])


# ---------------------------------------------------------------- generated scatters



@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 6), r=st.integers(1, 4), stride=st.integers(1, 3), dil=st.integers(1, 3),
       off=st.integers(0, 2), seed=st.integers(0, 2**31))
def test_generated_scatter_1d(n, r, stride, dil, off, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(r)
    lhs = f"{stride}*i + {dil}*a" + (f" + {off}" if off else "")
    out = tc.compile(f"T[{lhs}] += x[i] * w[a]")(x=x, w=w)["T"]
    ref = np.zeros(stride * (n - 1) + dil * (r - 1) + off + 1)
    for i, a in itertools.product(range(n), range(r)):
        ref[stride * i + dil * a + off] += x[i] * w[a]
    close(out, ref)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 4), w=st.integers(1, 4), ka=st.integers(1, 3), kb=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3), seed=st.integers(0, 2**31))
def test_generated_transposed_conv2d(h, w, ka, kb, sh, sw, seed):
    rng = np.random.default_rng(seed)
    dy, wt = rng.standard_normal((2, 2, h, w)), rng.standard_normal((2, 3, ka, kb))
    spec = f"dX[n, c, {sh}*i + a, {sw}*j + b] += dY[n, o, i, j] * W[o, c, a, b]"
    out = tc.compile(spec)(dY=dy, W=wt)["dX"]
    close(out, F.conv_transpose2d(t(dy), t(wt), stride=(sh, sw)))


# ---------------------------------------------------------------- positions below zero
# These run in a subprocess: a scatter that writes before the start of its target can
# corrupt memory (a crash would take the whole test session down).



def _run_isolated(spec, arrays_code):
    code = textwrap.dedent(f"""
        import json, numpy as np, tensorc as tc
        try:
            out = tc.compile({spec!r})({arrays_code})
            print(json.dumps({{k: np.asarray(v).tolist() for k, v in out.items()}}))
        except tc.TensorcError as e:
            print(json.dumps({{"error": type(e).__name__, "message": str(e)}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          timeout=60)
    assert proc.returncode == 0, f"crashed with {proc.returncode}: {proc.stderr[-500:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _drop_negative_loop(n, r, offset):
    x, w = np.arange(1.0, n + 1), np.arange(1.0, r + 1)
    top = (n - 1) + (r - 1) + offset
    ref = np.zeros(top + 1)
    for i, a in itertools.product(range(n), range(r)):
        if i + a + offset >= 0:
            ref[i + a + offset] += x[i] * w[a]
    return ref


def test_scatter_negative_offset_is_memory_safe():
    # positions -1..3: either a clear error, or the writes that fit (i narrowed to 1:5)
    res = _run_isolated("T[i - 1] += x[i]", "x=np.arange(1.0, 6.0)")
    if "error" not in res:
        assert res["T"] == [2.0, 3.0, 4.0, 5.0]


def test_scatter_negative_kernel_offset_is_memory_safe():
    res = _run_isolated("T[i - a] += x[i] * w[a]", "x=np.arange(1.0, 6.0), w=np.ones(3)")
    if "error" not in res:
        x = np.arange(1.0, 6.0)
        ref = np.zeros(5)
        for i, a in itertools.product(range(5), range(3)):
            if i - a >= 0:
                ref[i - a] += x[i]
        assert res["T"] == ref.tolist()


def test_same_padded_transposed_conv_is_memory_safe():
    # positions -1..5 with an explicit range: only 0..5 can be held
    res = _run_isolated("T[i + a - 1] += x[i] * w[a]   where i in 0:5",
                        "x=np.arange(1.0, 6.0), w=np.arange(1.0, 4.0)")
    if "error" not in res:
        assert res["T"] == _drop_negative_loop(5, 3, -1).tolist()


def test_views_of_non_contiguous_arrays_stay_inside_them():
    """``as_strided`` (the path for arrays that are not C-contiguous) checks nothing: the
    runtime refuses a view or a scatter reaching outside its array, and leaves the memory
    around it as it was."""
    whole = np.arange(40.0).reshape(5, 8)
    x = whole[1:4, ::2]                      # 3 x 4, not contiguous, inside `whole`
    np.testing.assert_array_equal(rt.view(x, (1, 1), ((1, 0), (0, 1)), (2, 3)), x[1:, 1:])
    np.testing.assert_array_equal(rt.view(x[::-1], (0, 0), ((1, 1),), (3,)),
                                  np.diagonal(x[::-1]))
    with pytest.raises(ValueError, match="would reach outside its array"):
        rt.view(x, (1, 0), ((1, 0), (0, 1)), (3, 4))
    before = whole.copy()
    with pytest.raises(ValueError, match="would reach outside its array"):
        rt.scatter_add(x, np.ones((2, 4)), (2, 0), ((1, 0), (0, 1)), ())
    np.testing.assert_array_equal(whole, before)


def test_scatter_with_where_offset_below_zero_narrowed():
    res = _run_isolated("T[i - 1] += x[i]   where i in 1:5", "x=np.arange(1.0, 6.0)")
    assert res == {"T": [2.0, 3.0, 4.0, 5.0]}


def test_second_scatter_extends_tensor_created_by_scatter():
    # LANGUAGE.md rule 4: a tensor created by += holds every position written
    # (contract reading: over all of its += statements)
    res = _run_isolated("T[i] += x[i]\nT[i + 3] += x[i]", "x=np.arange(1.0, 4.0)")
    assert res == {"T": [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]}


# ------------------------------------------------- contractions scattered per offset

@pytest.fixture(params=["per offset", "one product"])
def pieces(request, monkeypatch):
    """Run scatter_contract's per-offset path on small test shapes, or its fallback."""
    from tensorc.runtime import kernels
    small = request.param == "per offset"
    monkeypatch.setattr(kernels, "PIECE_SIZE", 0 if small else 1 << 60)
    monkeypatch.setattr(kernels, "PIECE_WIDTH", 0 if small else 1 << 60)


def test_transposed_conv_runs_one_contraction_per_kernel_offset(pieces):
    spec = "Y[n, c, 2*i + a, j + b] += X[n, o, i, j] * W[o, c, a, b]"
    prog = tc.compile(spec)
    assert "rt.scatter_contract(" in prog.source and "rt.scatter_add(" not in prog.source
    dy, w = rand(2, 3, 4, 5), rand(3, 2, 3, 2)
    close(prog(X=dy, W=w)["Y"], F.conv_transpose2d(t(dy), t(w), stride=(2, 1)))
    close(prog(X=dy.astype(np.float32), W=w.astype(np.float32))["Y"],
          F.conv_transpose2d(t(dy), t(w), stride=(2, 1)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("x_shape, w_shape, y_shape", [
    ((0, 3, 4, 5), (3, 2, 3, 2), (0, 2, 9, 6)), ((2, 3, 4, 5), (3, 0, 3, 2), (2, 0, 9, 6)),
    ((2, 3, 4, 5), (3, 2, 0, 2), (2, 2, 6, 6))])
def test_transposed_conv_with_an_empty_dimension(pieces, x_shape, w_shape, y_shape):
    prog = tc.compile("Y[n, c, 2*i + a, j + b] += X[n, o, i, j] * W[o, c, a, b]")
    out = prog(X=np.ones(x_shape), W=np.ones(w_shape))["Y"]
    assert out.shape == y_shape and not out.any()


@pytest.mark.parametrize("mode", ["zero", "wrap", "reflect", "clamp"])
def test_padded_conv_input_gradient_as_per_offset_scatter(monkeypatch, pieces, mode):
    """The scatter form (forced) of a padded convolution's input gradient: the pieces are
    added into a padded buffer and folded back through the boundary map."""
    from tensorc.runtime import kernels
    monkeypatch.setattr(kernels, "gather_wins", lambda *costs: False)
    wrap = "" if mode == "zero" else mode
    spec = ("input X[N, C, H, V]\n"
            f"Y[n, o, i, j] = X[n, c, {wrap}(i + a - 1), {wrap}(j + b - 1)] * W[o, c, a, b]"
            "   where i in 0:H, j in 0:V\nL = sum(Y[n, o, i, j] * Y[n, o, i, j])")
    grad = tc.grad(spec, of="L", wrt=["X"])
    assert "rt.scatter_contract(" in grad.source
    x, w = rand(2, 3, 5, 4), rand(2, 3, 3, 3)      # dX's scatter: dY * (Y > 0) * W
    xt = t(x).requires_grad_()
    if mode == "zero":
        padded = F.pad(xt, (1, 1, 1, 1))
    else:       # the boundary map as an index (torch's "reflect" skips the edge; ours not)
        rows = [boundary_index(e, 5, mode) for e in range(-1, 6)]
        cols = [boundary_index(e, 4, mode) for e in range(-1, 5)]
        padded = xt[:, :, rows][:, :, :, cols]
    y = F.conv2d(padded, t(w))
    (y * y).sum().backward()
    close(grad(X=x, W=w)["dX"], xt.grad)


def test_thin_pieces_are_laid_out_batch_innermost():
    """A thin conv input gradient (LeNet's 16 -> 6 channels) is one product laid out
    (a, b, c, i, j, n): each offset's block adds into the buffer in runs of j * n values
    (j runs of 10 in NCHW order were 2.4 ms of a 4 ms statement)."""
    from tensorc.runtime.kernels import _batch_inner
    steps = ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 1))
    assert _batch_inner(["noij", "ocab"], "ab", "ncij", "ncaibj", steps) == "cijn"
    dy, w = rand(3, 4, 5, 6), rand(4, 2, 3, 2)     # also right with the layout
    prog = tc.compile("Y[n, c, i + a, j + b] += X[n, o, i, j] * W[o, c, a, b]")
    close(prog(X=dy, W=w)["Y"], F.conv_transpose2d(t(dy), t(w)))


@pytest.mark.parametrize("batch, gathered", [(32, True), (128, True), (2048, False)])
@pytest.mark.parametrize("declared", [False, True])
def test_a_small_scatter_runs_as_its_gather(batch, gathered, declared):
    """Each kernel offset of a scatter is a strided add with its own call overhead: a
    small padded conv input gradient (sklearn digits' second conv) runs as the gather
    (one GEMM; at batch 128 2.7 against 3.2 ms in the digits CNN); at batch 2048 the
    scatter (0.56 of the work). Also
    when the input's sizes are declared numbers (it had no gather form then)."""
    first = "input X[N, 16, 4, 4]" if declared else "Z[n, c, i, j] = 2 * X[n, c, i, j]"
    scale = 1 if declared else 2
    spec = (f"{first}\nY[n, o, i, j] = {'X' if declared else 'Z'}[n, c, i + a - 1, "
            "j + b - 1] * W[o, c, a, b]   where i in 0:4, j in 0:4\n"
            "L = sum(Y[n, o, i, j] * Y[n, o, i, j])")
    grad = tc.grad(spec, of="L", wrt=["X"])
    x, w = rand(batch, 16, 4, 4), rand(32, 16, 3, 3)
    got = grad(X=x, W=w)
    rows = [r.detail for r in grad.plan.rows if r.step == "choice"]
    assert rows and ("runs as a gather" in rows[0]) == gathered
    xt = t(x).requires_grad_()
    (F.conv2d(scale * xt, t(w), padding=1) ** 2).sum().backward()
    close(got["dX"], xt.grad)


def test_a_gather_that_would_copy_windows_of_the_kernel_is_not_chosen_at_batch_1():
    """At batch 1 the gather form of a valid conv's input gradient reads the kernel through
    a window (W[o, c, a2 - i, b2 - j]): copying it (im2col) moved 75 MB for a 0.3 ms scatter
    in the two-conv network; its copy counts in the choice now."""
    spec = ("Y[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b]   where i in 0:8, j in 0:8\n"
            "L = sum(Y[n, o, i, j] * Y[n, o, i, j])")     # ranges written out, as nn layers do
    grad = tc.grad(spec, of="L", wrt=["X"])
    assert "W[o, c, a2 - i, b2 - j]" in grad.source      # its gather form windows the kernel
    x, w = rand(1, 32, 12, 12), rand(64, 32, 5, 5)
    got = grad(X=x, W=w)
    rows = [r.detail for r in grad.plan.rows if r.step == "choice"]
    assert rows == ["the scatter runs as strided adds (its gather form costs more)"]
    xt = t(x).requires_grad_()
    (F.conv2d(xt, t(w)) ** 2).sum().backward()
    close(got["dX"], xt.grad)


def test_a_transposed_conv_in_tiny_blocks_equals_torch(monkeypatch):
    """Blocked contractions whose block slices of the output are not contiguous (blocks of
    one image, a row range) write through a fresh product (a matrix view of such a slice
    raised ValueError). Tiny block sizes force the blocked paths on a small case."""
    from tensorc.runtime import contract
    for name, value in (("_BLOCK_BYTES", 64), ("_FIT_BYTES", 128), ("BIG_COPY_BYTES", 64),
                        ("_OUT_RATIO", 0)):
        monkeypatch.setattr(contract, name, value)
    contract._compile.cache_clear()
    rng = np.random.default_rng(0)
    dy, wt = rng.standard_normal((2, 2, 2, 4)), rng.standard_normal((2, 3, 2, 2))
    out = tc.compile("dX[n, c, i + a, j + b] += dY[n, o, i, j] * W[o, c, a, b]")(dY=dy, W=wt)
    close(out["dX"], F.conv_transpose2d(t(dy), t(wt)))
    contract._compile.cache_clear()


def _scatter_reference(X, K, index, width):
    """S[o, index(i, a)] += X[c, i] * K[o, c, a] one write at a time, dropping writes
    whose index is None (outside a declared shape)."""
    out = np.zeros((K.shape[0], width))
    for o, c, i, a in itertools.product(*(range(n) for n in (K.shape[0], K.shape[1],
                                                               X.shape[1], K.shape[2]))):
        j = index(i, a)
        if j is not None:
            out[o, j] += X[c, i] * K[o, c, a]
    return out


@pytest.mark.parametrize("mode", ["zero", "wrap", "reflect", "clamp"])
def test_scatter_into_a_declared_output_drops_each_write_outside(mode):
    """`output S[3, 4]` sizes a tensor its `+=` creates (as `like` does); a write outside
    is dropped by itself (before: the left side narrowed i, dropping every a of i = 0),
    and a boundary wrapper maps it back (before: a SpecError asking for the declaration
    the program had)."""
    where = f"{mode}(2*i + a - 1)" if mode != "zero" else "2*i + a - 1"
    prog = tc.compile(f"output S[3, 4]\nS[o, {where}] += X[c, i] * K[o, c, a]")
    X, K = np.random.default_rng(1).standard_normal((2, 3)), \
        np.random.default_rng(2).standard_normal((3, 2, 2))
    expected = _scatter_reference(
        X, K, lambda i, a: boundary_index(2 * i + a - 1, 4, mode), 4)
    close(prog(X=X, K=K)["S"], expected)


@pytest.mark.parametrize("mode", ["wrap", "reflect", "clamp"])
@pytest.mark.parametrize("first", ["output S[3]", "S[i] = 0 * T[i]"])
def test_wrapped_plain_index_on_the_left_side_folds_writes_back(mode, first):
    """`S[wrap(i)] += X[i]` with i longer than S: the wrapper maps each write back (before:
    a plain index under a wrapper on the left side was taken as S's size, a ShapeError)."""
    x = np.arange(1.0, 6.0)
    prog = tc.compile(f"{first}\nS[{mode}(i)] += X[i]")
    expected = np.zeros(3)
    for i in range(5):
        expected[boundary_index(i, 3, mode)] += x[i]
    close(prog(X=x, **({"T": np.ones(3)} if "T" in first else {}))["S"], expected)


def test_declared_scatter_size_symbol_and_mismatched_assign():
    prog = tc.compile("input X[C, N]\noutput S[3, N]\nS[o, i + a - 1] += X[c, i] * K[o, c, a]")
    X, K = np.ones((2, 5)), np.ones((3, 2, 3))
    expected = _scatter_reference(X, K, lambda i, a: boundary_index(i + a - 1, 5, "zero"), 5)
    close(prog(X=X, K=K)["S"], expected)
    with pytest.raises(tc.ShapeError, match="P dimension 0 has size 5, but it is declared 4"):
        tc.compile("output P[4]\nP[i] = X[i]")(X=np.ones(5))     # an `=` is checked


# ------------------------------------------- a mask applied inside the scatter it masks

POOLED_RELU = """
R[n, c, i, j] = relu(X[n, c, i, j])
P[n, c, i, j] = max(R[n, c, 2*i + p, 2*j + q])   where p < 2, q < 2
L = sum(P[n, c, i, j] * V[n, c, i, j])
"""


def _pooled_relu_reference(x, v):
    """torch's gradients of the same program: dX, and dR (the pooling's backward)."""
    xt = t(x).requires_grad_()
    r = xt.relu()
    r.retain_grad()
    (F.max_pool2d(r, 2) * t(v)).sum().backward()
    return xt.grad.numpy(), r.grad.numpy()


@pytest.mark.parametrize("size", [4, 5])
def test_a_relu_mask_on_a_pooling_backward_runs_inside_its_scatter(size):
    # ties (small integers) and zeros after the relu; size 5 leaves a row no window reads
    x = RNG.integers(-2, 3, (2, 3, size, size)).astype(np.float64)
    v = rand(2, 3, size // 2, size // 2)
    g = tc.grad(POOLED_RELU, of="L", wrt="X", intermediates=False)
    assert g.outputs == ("R", "P", "L", "dX")
    assert "dX[n, c, i, j] = dR[n, c, i, j] * (R[n, c, i, j] > 0)" in g.spec   # as derived
    (fused,) = [s for s in g.ir.stmts if s.target == "dX"]                    # as it runs
    assert fused.accumulate and "dR" not in {s.target for s in g.ir.stmts}
    dx, _ = _pooled_relu_reference(x, v)
    close(g(X=x, V=v)["dX"], dx)


def test_an_intermediate_adjoint_that_is_an_output_is_built():
    x, v = RNG.integers(-2, 3, (2, 3, 4, 4)).astype(np.float64), rand(2, 3, 2, 2)
    g = tc.grad(POOLED_RELU, of="L", wrt="X")
    assert "dR" in g.outputs and "dR" in {s.target for s in g.ir.stmts}
    dx, dr = _pooled_relu_reference(x, v)
    out = g(X=x, V=v)
    close(out["dX"], dx)
    close(out["dR"], dr)


# ------------------------------- a mean pool's backward through a function of its window

@pytest.mark.parametrize("stride, size, tiles", [(2, 8, True), (2, 9, True), (1, 6, False)])
def test_a_mean_pool_over_tanh_backward_matches_torch(stride, size, tiles):
    # LeNet's subsampling: each window's cotangent times tanh' of every position in it;
    # tiling windows (stride = window) are written one window column at a time
    spec = (f"S[n, c, i, j] = mean(tanh(C[n, c, {stride}*i + p, {stride}*j + q]))"
            "   where p < 2, q < 2\nL = sum(S[n, c, i, j] * V[n, c, i, j])")
    out = (size - 2) // stride + 1
    c, v = rand(2, 3, size, size), rand(2, 3, out, out)
    g = tc.grad(spec, of="L", wrt="C")
    ct = t(c).requires_grad_()
    (F.avg_pool2d(ct.tanh(), 2, stride) * t(v)).sum().backward()
    close(g(C=c, V=v)["dC"], ct.grad)
    assert ("rt.multiply_over(" in g.source) == tiles


def test_multiply_over_equals_broadcasting():
    a, b = rand(3, 4, 2, 5, 2), rand(3, 4, 1, 5, 1)
    from tensorc.runtime.kernels import multiply_over
    close(multiply_over(b, a, (4,)), a * b)
    close(multiply_over(a, b, (2, 4)), a * b)
    assert multiply_over(a.astype(np.float32), b.astype(np.float32), (4,)).dtype == np.float32


@pytest.mark.parametrize("gather", [True, False])
def test_scatter_of_a_term_that_is_not_zero_outside_the_kernel(monkeypatch, gather):
    """``dX[i + a] += dZ[i] * (W[a] + 1)`` as a gather would read W through zero padding,
    where ``W[a] + 1`` is 1, not 0: it is only gathered when the read is a factor (found by
    fuzzing derived gradients against finite differences; it was wrong in either form the
    run-time cost test picked, here forced both ways)."""
    from tensorc.runtime import kernels
    monkeypatch.setattr(kernels, "gather_wins", lambda *costs: gather)
    prog = tc.compile("input X[N]\noutput dX like X\ndX[i + a] += dZ[i] * (W[a] + 1)   "
                      "where i in 0:4")
    dz, w = np.array([1.0, -2.0, 3.0, 0.5]), np.array([2.0, -1.0])
    expected = np.zeros(4)
    for i, a in itertools.product(range(4), range(2)):
        if i + a < 4:
            expected[i + a] += dz[i] * (w[a] + 1)
    close(prog(dZ=dz, W=w, X=np.zeros(4))["dX"], expected)
