"""Tests for tensorc.runtime.contract: BLAS-backed einsum execution."""
from __future__ import annotations

from unittest import mock

import numpy as np
import opt_einsum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from tensorc.errors import ShapeError, SpecError
from tensorc.runtime import contract as rc
from tensorc.runtime.contract import contract_pair, contraction_cost, einsum

LETTERS = "abcdefgh"
RTOL, ATOL = 1e-10, 1e-12
CHECKS = settings(max_examples=300, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------


@st.composite
def equations(draw, min_ops=1, max_ops=4):
    """A random explicit einsum equation with letter sizes 1-5."""
    n_ops = draw(st.integers(min_ops, max_ops))
    pool = LETTERS[:draw(st.integers(1, len(LETTERS)))]
    inputs = ["".join(draw(st.permutations(pool))[:draw(st.integers(0, 4))])
              for _ in range(n_ops)]
    used = sorted(set("".join(inputs)))
    out = draw(st.permutations(used))[:draw(st.integers(0, len(used)))]
    sizes = {x: draw(st.integers(1, 5)) for x in used}
    return inputs, "".join(out), sizes


@st.composite
def strided_views(draw, shape):
    """A float64 array of ``shape`` that is a non-contiguous view (steps, flips, transposes)."""
    ndim = len(shape)
    perm = draw(st.permutations(range(ndim)))
    steps = [draw(st.sampled_from([1, 2, -1, -2])) for _ in range(ndim)]
    base_shape = [shape[p] * abs(steps[p]) for p in perm]
    seed = draw(st.integers(0, 2**32 - 1))
    base = np.random.default_rng(seed).uniform(-1, 1, base_shape)
    view = base[tuple(slice(None, None, steps[p]) for p in perm)]
    view = view.transpose(np.argsort(perm))
    if ndim and draw(st.booleans()):  # broadcast one size-1 axis with stride 0
        axis = draw(st.integers(0, ndim - 1))
        small = view[tuple(slice(0, 1) if i == axis else slice(None) for i in range(ndim))]
        view = np.broadcast_to(small, shape)
    assert view.shape == tuple(shape)
    return view


def _arrays(inputs, sizes, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, [sizes[x] for x in axes]).astype(dtype) for axes in inputs]


# --------------------------------------------------------------------------------------------
# property tests
# --------------------------------------------------------------------------------------------


@CHECKS
@given(equations())
def test_einsum_matches_numpy(spec):
    inputs, out, sizes = spec
    eq = f"{','.join(inputs)}->{out}"
    ops = _arrays(inputs, sizes)
    got = einsum(eq, *ops)
    want = np.einsum(eq, *ops)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@CHECKS
@given(equations(min_ops=2, max_ops=2), st.data())
def test_contract_pair_strided_views(spec, data):
    (a_axes, b_axes), out, sizes = spec
    a = data.draw(strided_views([sizes[x] for x in a_axes]))
    b = data.draw(strided_views([sizes[x] for x in b_axes]))
    got = contract_pair(a, a_axes, b, b_axes, out)
    want = np.einsum(f"{a_axes},{b_axes}->{out}", a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(equations(min_ops=2, max_ops=4), st.data())
def test_einsum_strided_operands(spec, data):
    inputs, out, sizes = spec
    eq = f"{','.join(inputs)}->{out}"
    ops = [data.draw(strided_views([sizes[x] for x in axes])) for axes in inputs]
    np.testing.assert_allclose(einsum(eq, *ops), np.einsum(eq, *ops), rtol=RTOL, atol=ATOL)


@settings(max_examples=60, deadline=None)
@given(equations(min_ops=2, max_ops=3))
def test_float32_dtype_preserved(spec):
    inputs, out, sizes = spec
    eq = f"{','.join(inputs)}->{out}"
    ops = _arrays(inputs, sizes, dtype=np.float32)
    got = einsum(eq, *ops)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.einsum(eq, *ops), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------
# explicit cases
# --------------------------------------------------------------------------------------------


def test_matrix_chain_mismatched_sizes():
    ops = _arrays(["ij", "jk", "kl", "lm"], {"i": 7, "j": 33, "k": 2, "l": 41, "m": 5})
    got = einsum("ij,jk,kl,lm->im", *ops)
    np.testing.assert_allclose(got, ops[0] @ ops[1] @ ops[2] @ ops[3], rtol=RTOL)
    got_t = einsum("ij,jk,kl,lm->mi", *ops)
    np.testing.assert_allclose(got_t, (ops[0] @ ops[1] @ ops[2] @ ops[3]).T, rtol=RTOL)


def _conv_inputs(dtype=np.float64, layout="nchw"):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 10, 10)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    if layout == "nchw":
        return x, w, sliding_window_view(x, (3, 3), axis=(2, 3)), "ncijab"
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return x, w, sliding_window_view(xh, (3, 3), axis=(1, 2)), "nijcab"


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("out", ["noij", "nijo", "onij", "ijno"])
def test_conv_window_contraction(layout, out):
    torch = pytest.importorskip("torch")
    x, w, view, v_axes = _conv_inputs(layout=layout)
    got = contract_pair(view, v_axes, w, "ocab", out)
    np.testing.assert_allclose(got, np.einsum(f"{v_axes},ocab->{out}", view, w), rtol=RTOL)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    np.testing.assert_allclose(got, np.einsum(f"noij->{out}", ref), rtol=1e-9, atol=1e-10)


def test_conv_window_float32_and_einsum_entry():
    _, w, view, v_axes = _conv_inputs(np.float32)
    got = einsum(f"{v_axes},ocab->noij", view, w)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.einsum(f"{v_axes},ocab->noij", view, w), rtol=1e-4,
                               atol=1e-4)


def test_conv_with_bias_three_operands():
    _, w, view, v_axes = _conv_inputs()
    scale = np.linspace(0.5, 1.5, 5)
    got = einsum(f"{v_axes},ocab,o->noij", view, w, scale)
    want = np.einsum(f"{v_axes},ocab,o->noij", view, w, scale)
    np.testing.assert_allclose(got, want, rtol=RTOL)


def test_negative_stride_views():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((6, 7, 8))[::-1, :, ::-2]
    b = rng.standard_normal((8, 4))[::-2, ::-1]
    for out in ["ik", "ki", "kij", "jik"]:
        want = np.einsum(f"ijc,ck->{out}", a, b)
        np.testing.assert_allclose(contract_pair(a, "ijc", b, "ck", out), want, rtol=RTOL)
    flipped = np.flip(np.arange(25.0).reshape(5, 5))
    np.testing.assert_allclose(contract_pair(flipped, "ij", flipped, "jk", "ik"),
                               flipped @ flipped, rtol=RTOL)


def test_stride_zero_broadcast_views():
    rng = np.random.default_rng(3)
    a = np.broadcast_to(rng.standard_normal((1, 6)), (5, 6))
    b = np.broadcast_to(rng.standard_normal((6, 1)), (6, 4))
    np.testing.assert_allclose(contract_pair(a, "ij", b, "jk", "ik"), a @ b, rtol=RTOL)
    c = as_strided(rng.standard_normal(3), shape=(3, 4, 5), strides=(8, 0, 0))
    np.testing.assert_allclose(contract_pair(c, "ijk", b[:5], "kl", "lji"),
                               np.einsum("ijk,kl->lji", c, b[:5]), rtol=RTOL)


def test_scalars():
    s, t = np.float64(2.5), np.array(4.0)
    v = np.arange(3.0)
    assert contract_pair(s, "", t, "", "").shape == ()
    assert contract_pair(s, "", t, "", "") == 10.0
    np.testing.assert_allclose(contract_pair(s, "", v, "i", "i"), 2.5 * v)
    np.testing.assert_allclose(contract_pair(v, "i", v, "i", ""), v @ v)
    np.testing.assert_allclose(einsum("i,i,->", v, v, s), 2.5 * (v @ v))
    assert isinstance(contract_pair(v, "i", v, "i", ""), np.ndarray)


def test_size_zero_dims():
    a, b = np.ones((3, 0)), np.ones((0, 4))
    np.testing.assert_array_equal(contract_pair(a, "ij", b, "jk", "ik"), np.zeros((3, 4)))
    assert contract_pair(a, "ij", np.ones((0, 2)), "jk", "ki").shape == (2, 3)
    assert contract_pair(np.ones((0, 5)), "ij", np.ones((5, 2)), "jk", "ik").shape == (0, 2)
    np.testing.assert_array_equal(einsum("ij,jk,kl->il", a, b, np.ones((4, 2))),
                                  np.zeros((3, 2)))
    assert einsum("ij->j", np.ones((0, 3))).tolist() == [0.0, 0.0, 0.0]


def test_outer_products_and_elementwise():
    rng = np.random.default_rng(4)
    u, v = rng.standard_normal(5), rng.standard_normal(7)
    np.testing.assert_allclose(contract_pair(u, "i", v, "j", "ji"), np.outer(v, u))
    m, n = rng.standard_normal((5, 7)), rng.standard_normal((7, 5)).T
    np.testing.assert_allclose(contract_pair(m, "ij", n, "ij", "ij"), m * n)
    np.testing.assert_allclose(contract_pair(m, "ij", n, "ij", "ji"), (m * n).T)
    np.testing.assert_allclose(contract_pair(m, "ij", u, "k", "jki"),
                               np.einsum("ij,k->jki", m, u))


def test_size_one_and_private_letters():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, 1, 6, 3))
    b = rng.standard_normal((6, 1, 2, 5))
    for eq in ["icjp,jcku->ik", "icjp,jcku->kci", "icjp,jcku->cu", "icjp,jcku->"]:
        a_axes, rest = eq.split(",")
        b_axes, out = rest.split("->")
        np.testing.assert_allclose(contract_pair(a, a_axes, b, b_axes, out),
                                   np.einsum(eq, a, b), rtol=RTOL)
    # size-1 axes broadcast against larger ones, as in np.einsum
    np.testing.assert_allclose(contract_pair(np.ones((2, 1)), "ij", np.ones((3, 4)), "jk", "ik"),
                               np.einsum("ij,jk->ik", np.ones((2, 1)), np.ones((3, 4))))


def test_mixed_dtypes_promote():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(12, dtype=np.float64).reshape(3, 4)
    got = contract_pair(a, "ij", b, "jk", "ik")
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, a @ b)
    ints = np.arange(6).reshape(2, 3)
    assert contract_pair(ints, "ij", ints, "kj", "ik").tolist() == (ints @ ints.T).tolist()


def test_single_operand_is_sum_and_transpose():
    x = np.arange(24.0).reshape(2, 3, 4)
    view = einsum("ijk->kji", x)
    assert np.shares_memory(view, x)
    np.testing.assert_array_equal(view, x.transpose(2, 1, 0))
    np.testing.assert_allclose(einsum("ijk->ki", x), x.sum(1).T)
    np.testing.assert_allclose(einsum("ijk->", x), x.sum())


def test_errors():
    a = np.ones((2, 3))
    with pytest.raises(ShapeError):
        contract_pair(a, "ij", np.ones((4, 5)), "jk", "ik")
    with pytest.raises(ShapeError):
        contract_pair(a, "i", a, "ij", "ij")
    with pytest.raises(SpecError):
        contract_pair(a, "ij", a, "ij", "iz")
    with pytest.raises(SpecError):
        einsum("ij,jk", a, a)
    with pytest.raises(SpecError):
        einsum("ii->i", np.ones((2, 2)))
    with pytest.raises(SpecError):
        einsum("ij,jk->ik", a)


# --------------------------------------------------------------------------------------------
# formulation choices
# --------------------------------------------------------------------------------------------


def _plan_for(a, a_axes, b, b_axes, out):
    return rc._pair_plan(rc._Info(tuple(a_axes), a.shape, a.strides),
                         rc._Info(tuple(b_axes), b.shape, b.strides), tuple(out), a.dtype)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_conv_noij_needs_no_output_transpose(layout):
    x = np.empty((128, 32, 12, 12), np.float32)
    w = np.empty((64, 32, 5, 5), np.float32)
    if layout == "nchw":
        view, axes = sliding_window_view(x, (5, 5), axis=(2, 3)), "ncijab"
    else:
        xh = np.empty((128, 12, 12, 32), np.float32)
        view, axes = sliding_window_view(xh, (5, 5), axis=(1, 2)), "nijcab"
    plan = _plan_for(view, axes, w, "ocab", "noij")
    assert plan.out_perm is None  # the matmul writes the (n, o, i, j) output directly
    assert plan.a.copy  # one im2col copy of the window ...
    assert plan.b.copy == (layout == "nhwc")  # ... and the weights only when reordered


def test_plain_matmul_does_not_copy():
    a, b = np.ones((30, 40)), np.ones((50, 40))
    plan = _plan_for(a, "ij", b, "kj", "ik")
    assert not plan.a.copy and not plan.b.copy and plan.out_perm is None
    assert plan.a.perm is None and plan.view_perm is None  # no transposes at all


def test_batched_matmul_keeps_batch_leading():
    a, b = np.ones((3, 30, 40)), np.ones((3, 40, 20))
    plan = _plan_for(a, "bij", b, "bjk", "bik")
    assert plan.view_shape in (None, (3, 30, 20)) and plan.out_perm is None
    assert not plan.a.copy and not plan.b.copy


def test_path_computed_once_per_shapes(monkeypatch):
    calls = []
    real = opt_einsum.contract_path

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(opt_einsum, "contract_path", counting)
    ops = _arrays(["ij", "jk", "kl"], {"i": 3, "j": 17, "k": 19, "l": 2}, seed=7)
    for _ in range(5):
        einsum("ij,jk,kl->li", *ops)
    contraction_cost("ij,jk,kl->li", [o.shape for o in ops])
    assert len(calls) == 1
    einsum("ij,jk,kl->li", *_arrays(["ij", "jk", "kl"], {"i": 3, "j": 17, "k": 19, "l": 3}))
    assert len(calls) == 2


def test_pair_plan_cached_per_strides():
    a, b = np.ones((6, 7)), np.ones((7, 8))
    contract_pair(a, "ij", b, "jk", "ik")
    before = rc._compile.cache_info()
    for _ in range(3):
        contract_pair(a, "ij", b, "jk", "ik")
    after = rc._compile.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 3
    contract_pair(np.asfortranarray(a), "ij", b, "jk", "ik")  # new strides: new plan
    assert rc._compile.cache_info().misses == after.misses + 1


def test_chain_intermediates_need_no_copies():
    ops = _arrays(["ij", "jk", "kl", "lm"], {"i": 8, "j": 512, "k": 8, "l": 512, "m": 64})
    steps = rc._einsum_plan("ij,jk,kl,lm->im", tuple(o.shape for o in ops),
                            tuple(o.strides for o in ops), ops[0].dtype)
    plans = [compiled.plan for step in steps for compiled in step.pairs]
    assert len(plans) == 3
    assert not any(p.a.copy or p.b.copy or p.out_perm for p in plans)


def test_batched_chain_intermediate_order_feeds_next_step():
    ops = _arrays(["bij", "bjk", "bkl"], {"b": 4, "i": 30, "j": 40, "k": 50, "l": 20}, seed=9)
    got = einsum("bij,bjk,bkl->bil", *ops)
    np.testing.assert_allclose(got, ops[0] @ ops[1] @ ops[2], rtol=RTOL)
    steps = rc._einsum_plan("bij,bjk,bkl->bil", tuple(o.shape for o in ops),
                            tuple(o.strides for o in ops), ops[0].dtype)
    plans = [compiled.plan for step in steps for compiled in step.pairs]
    assert not any(p.a.copy or p.b.copy or p.out_perm for p in plans)


def test_contraction_cost_report():
    info = contraction_cost("ij,jk,kl,lm->im", [(8, 512), (512, 8), (8, 512), (512, 64)])
    assert set(info) == {"path", "flops", "naive_flops", "largest_intermediate"}
    assert len(info["path"]) == 3 and all(len(p) == 2 for p in info["path"])
    assert 0 < info["flops"] <= info["naive_flops"]
    assert info["largest_intermediate"] >= 8 * 64


@pytest.mark.parametrize("eq, shapes, outermost", [
    ("abcdef,gfce->agbd", [(3, 5, 2, 6, 3, 4), (7, 4, 2, 3)], "f"),  # conv: window x kernel
    ("abcd,ecfdga->befg", [(3, 7, 5, 6), (4, 5, 2, 6, 3, 3)], "e"),  # weight gradient
])
@pytest.mark.parametrize("rule", ["big slices", "big copy"])
def test_blocked_im2col_matches_numpy(monkeypatch, eq, shapes, outermost, rule):
    """Copies bigger than the block size run in blocks (forced here with tiny blocks):
    cut along kept letters whose slices are big, or along the copy's outermost letter
    when the whole copy is big (a summed letter: the blocks' products are added)."""
    from tensorc.runtime import contract
    monkeypatch.setattr(contract, "_BLOCK_BYTES", 16)
    monkeypatch.setattr(contract, "_FIT_BYTES", 64 if rule == "big slices" else 1 << 60)
    monkeypatch.setattr(contract, "BIG_COPY_BYTES", 1 << 60 if rule == "big slices" else 64)
    monkeypatch.setattr(contract, "_OUT_RATIO", 0)
    contract._compile.cache_clear()
    rng = np.random.default_rng(3)
    # Fortran order: the first operand cannot be viewed as a matrix, so it is copied
    ops = [np.asfortranarray(rng.standard_normal(shapes[0])), rng.standard_normal(shapes[1])]
    lhs, rhs, out = eq.replace("->", ",").split(",")
    step = contract._compile(lhs, rhs, out, ops[0].shape, ops[0].strides,
                             ops[1].shape, ops[1].strides, ops[0].dtype)
    assert step.blocks, "the test must exercise the blocked path"
    if rule == "big copy":      # the copy's outermost letter; f is summed: blocks added
        assert [x for x, _ in step.blocks] == [outermost]
    np.testing.assert_allclose(contract.einsum(eq, *ops), np.einsum(eq, *ops), rtol=1e-12)
    contract._compile.cache_clear()


def test_a_big_window_copy_runs_in_blocks_written_into_the_output():
    """The two-conv network's conv2 (a 26 MB im2col): cut along the images, each block's
    GEMM written straight into its slice of the (n, o, i, j) output; its weight gradient
    cut along the same (summed) images, the blocks' products added."""
    window = sliding_window_view(np.empty((128, 12, 12, 32), np.float32), (5, 5), axis=(1, 2))
    w, dy = np.empty((64, 32, 5, 5), np.float32), np.empty((128, 64, 8, 8), np.float32)
    forward = rc._compile("nijcab", "ocab", "noij", window.shape, window.strides,
                          w.shape, w.strides, np.dtype(np.float32))
    assert [x for x, _ in forward.blocks] == ["n"] and forward.axes[2] == "noij"
    weights = rc._compile("noij", "nijcab", "ocab", dy.shape, dy.strides, window.shape,
                          window.strides, np.dtype(np.float32))
    assert [x for x, _ in weights.blocks] == ["n"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_long_sum_over_the_outer_letter_runs_as_a_batch_then_added(dtype):
    """A weight gradient with few outputs: (o x n*p) @ (n*p x a) is slow for tiny o, a;
    it runs as n batched products (n outermost in both operands) added after."""
    rng = np.random.default_rng(5)
    dy = rng.standard_normal((64, 6, 300)).astype(dtype)        # n o p
    cols = rng.standard_normal((64, 25, 300)).astype(dtype)     # n a p
    step = rc._compile("nop", "nap", "oa", dy.shape, dy.strides, cols.shape, cols.strides,
                       np.dtype(dtype))
    assert step.summed_after == 64
    want = np.einsum("nop,nap->oa", dy.astype(np.float64), cols.astype(np.float64))
    tol = 1e-10 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(einsum("nop,nap->oa", dy, cols), want, rtol=tol, atol=tol)
    # the letter must be outermost in both: here it is not in the second
    moved = np.ascontiguousarray(cols.transpose(1, 0, 2)).transpose(1, 0, 2)
    assert rc._compile("nop", "nap", "oa", dy.shape, dy.strides, moved.shape, moved.strides,
                       np.dtype(dtype)).summed_after == 0
    np.testing.assert_allclose(einsum("nop,nap->oa", dy, moved), want, rtol=tol, atol=tol)


def test_few_output_rows_avoid_a_transposed_big_gemm():
    """LeNet's second convolution: (n*i*j = 12800, 150) @ (150, 16). Written as the
    transposed (16, 12800) product BLAS reads the big window matrix transposed: 1.6 vs
    0.8 ms measured. The plan writes (n, o, i, j) without that."""
    window = sliding_window_view(np.empty((128, 14, 14, 6), np.float32), (5, 5), axis=(1, 2))
    window = np.ascontiguousarray(window.transpose(0, 1, 2, 4, 5, 3))    # n i j a b c
    plan = _plan_for(window, "nijabc", np.empty((16, 6, 5, 5), np.float32), "ocab", "noij")
    assert plan.out_perm is None
    slow = rc._gemm_ns(1, 12800, 16, 150, 1, 1, 4, True, 16)
    assert slow > 1.5 * rc._gemm_ns(1, 12800, 16, 150, 1, 1, 4, False, 12800)


@pytest.mark.parametrize("eq, shapes", [
    ("nd,ne->de", [(7, 9)]),                     # X^T X
    ("nd,n,ne->ed", [(7, 9), (7,)]),             # X^T diag(w) X, output transposed
    ("nd,n,ne,n->de", [(7, 9), (7,), (7,)]),     # the logistic Hessian's two weights
    ("dn,en->de", [(9, 7)]),                     # X X^T
    ("dn,,en->de", [(9, 7), ()]),                # a scalar weight
])
def test_a_matrix_read_twice_gives_its_symmetric_gram_product(monkeypatch, eq, shapes):
    """out[d, e] = sum_n X[n, d] w[n] X[n, e] is symmetric: computed by upper blocks,
    each lower block the transpose of its mirror (forced on small sizes here)."""
    monkeypatch.setattr(rc, "_GRAM_MIN", 4)
    rng = np.random.default_rng(7)
    x, *weights = (rng.standard_normal(s) for s in shapes)
    inputs = eq.split("->")[0].split(",")
    ops = [x if len(axes) == 2 else weights.pop(0) for axes in inputs]
    calls = []
    monkeypatch.setattr(rc, "_gram", lambda *a, _g=rc._gram: calls.append(1) or _g(*a))
    np.testing.assert_allclose(einsum(eq, *ops), np.einsum(eq, *ops), rtol=1e-12, atol=1e-12)
    assert calls == [1]
    copy = [op.copy() if op is x else op for op in ops]     # same values, another array:
    copy[[len(a) for a in inputs].index(2)] = x             # not known to be one matrix
    np.testing.assert_allclose(einsum(eq, *copy), np.einsum(eq, *copy), rtol=1e-12, atol=1e-12)
    assert calls == [1]


def test_runtime_docstring_examples_hold():
    import doctest
    from tensorc.runtime import kernels
    for module in (rc, kernels):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_a_big_copy_summed_to_a_scalar_runs_in_blocks(monkeypatch):
    """A full contraction (scalar output, no letters to lay out) of a copied operand:
    cut along its outermost letter, the blocks' products added (it raised IndexError)."""
    monkeypatch.setattr(rc, "_BLOCK_BYTES", 64)
    monkeypatch.setattr(rc, "BIG_COPY_BYTES", 64)
    rc._compile.cache_clear()
    rng = np.random.default_rng(8)
    a = rng.standard_normal((6, 5, 4)).transpose(2, 0, 1)      # strided: copied
    b = rng.standard_normal((4, 6, 5))
    step = rc._compile("abc", "abc", "", a.shape, a.strides, b.shape, b.strides, a.dtype)
    assert step.blocks
    np.testing.assert_allclose(einsum("abc,abc->", a, b), np.einsum("abc,abc->", a, b),
                               rtol=1e-12)
    rc._compile.cache_clear()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=5), st.data(),
       st.sampled_from([np.float32, np.float64]))
def test_sum_axes_equals_numpy_sum(shape, data, dtype):
    """Outer and inner summed axes run as products with ones (here at any size): the same
    sums as NumPy's."""
    gone = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(dtype)
    with mock.patch.object(rc, "_SUM_MIN", 1):
        got = rc.sum_axes(x, gone)
    assert got.dtype == dtype and got.shape == np.sum(x, axis=gone).shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, x.astype(np.float64).sum(axis=gone), rtol=tol, atol=tol)


def test_a_bias_gradient_sums_its_positions_by_one_product(monkeypatch):
    calls, ones = [], np.ones
    monkeypatch.setattr(np, "ones", lambda *a: calls.append(a) or ones(*a))
    dz = np.random.default_rng(0).standard_normal((8, 3, 16, 16)).astype(np.float32)
    got = einsum("nohw->o", dz)
    assert calls == [(8, np.float32), (256, np.float32)]
    np.testing.assert_allclose(got, dz.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-5)
