"""Smaller corners of LANGUAGE.md: separators, comments, scalars, symbols, mixed dtypes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from reference import boundary_index

RNG = np.random.default_rng(5)


def rand(*shape):
    return RNG.standard_normal(shape)


def test_semicolons_comments_and_blank_lines():
    spec = "\n# header\n\nA[i] = x[i] * 2; B[i] = A[i] + 1   # trailing comment\n\n"
    x = rand(4)
    out = tc.compile(spec)(x=x)
    assert tuple(out) == ("A", "B")
    np.testing.assert_allclose(out["B"], 2 * x + 1)


def test_outputs_in_order():
    prog = tc.compile("B[i] = x[i]\nA[i] = B[i]\nC = sum(A[i])")
    assert prog.outputs == ("B", "A", "C")
    assert prog.inputs == ("x",)


def test_scalar_input():
    x = rand(4)
    out = tc.compile("Y[i] = s * x[i] + s")(x=x, s=2.5)
    np.testing.assert_allclose(out["Y"], 2.5 * x + 2.5)


def test_scalar_output_shape():
    out = tc.compile("L = mean(Y[n, k])")(Y=rand(3, 4))
    assert np.shape(out["L"]) == ()


def test_constant_program_without_inputs():
    prog = tc.compile("c = 3 * 2 + 1")
    assert prog.inputs == ()
    assert float(prog()["c"]) == 7.0


def test_numeric_literals():
    out = tc.compile("Y[i] = x[i] * 1.5e1 + .5 - 2.")(x=np.ones(2))
    np.testing.assert_allclose(out["Y"], [13.5, 13.5])


def test_power_and_unary_minus():
    x = np.array([1.0, 2.0, 3.0])
    out = tc.compile("Y[i] = -x[i] ** 2\nZ[i] = 2 ** -x[i]\nW[i] = x[i] ** 2 ** 2")(x=x)
    np.testing.assert_allclose(out["Y"], -(x ** 2))
    np.testing.assert_allclose(out["Z"], 2.0 ** -x)
    np.testing.assert_allclose(out["W"], x ** 4)


def test_division_and_precedence():
    x, y = np.array([1.0, 2.0]), np.array([4.0, 8.0])
    out = tc.compile("Y[i] = x[i] - y[i] / 2 * 3 - 1")(x=x, y=y)
    np.testing.assert_allclose(out["Y"], x - y / 2 * 3 - 1)


def test_comparisons_give_one_or_zero():
    x = np.array([-1.0, 0.0, 1.0])
    spec = ("A[i] = x[i] < 0\nB[i] = x[i] <= 0\nC[i] = x[i] > 0\nD[i] = x[i] >= 0\n"
            "E[i] = x[i] == 0\nF[i] = x[i] != 0")
    out = tc.compile(spec)(x=x)
    assert out["A"].tolist() == [1, 0, 0]
    assert out["B"].tolist() == [1, 1, 0]
    assert out["C"].tolist() == [0, 0, 1]
    assert out["D"].tolist() == [0, 1, 1]
    assert out["E"].tolist() == [0, 1, 0]
    assert out["F"].tolist() == [1, 0, 1]


def test_mixed_float32_float64_promotes():
    out = tc.compile("Y[i] = a[i] * b[i]")(a=np.ones(3, np.float32), b=np.ones(3))
    assert out["Y"].dtype == np.float64


def test_float32_every_function():
    x = np.linspace(-2, 2, 7).astype(np.float32)
    fns = ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "erf", "sin", "cos",
           "softplus", "silu", "gelu"]
    spec = "\n".join(f"{f.capitalize()}[i] = {f}(abs(x[i]) + 0.5)" for f in fns)
    out = tc.compile(spec)(x=x)
    for f in fns:
        assert out[f.capitalize()].dtype == np.float32, f


def test_same_input_read_with_two_strides():
    x = rand(8)
    out = tc.compile("Y[i] = X[2*i] * X[2*i + 1]")(X=x)
    np.testing.assert_allclose(out["Y"], x[0::2] * x[1::2])


def test_range_intersection_of_several_accesses():
    # i in 0:min(size of Z, size of X - 2)
    x, z = rand(7), rand(3)
    np.testing.assert_allclose(tc.compile("Y[i] = X[i + 2] * Z[i]")(X=x, Z=z)["Y"], x[2:5] * z)


def test_size_symbol_in_index_expression():
    x = rand(6)
    out = tc.compile("input X[N]\nY[i] = X[i + N - 3]   where i < 3")(X=x)
    np.testing.assert_allclose(out["Y"], x[3:])


def test_wrapped_access_next_to_plain_use():
    x = rand(5)
    out = tc.compile("Y[i] = X[i] + X[wrap(i + 1)] + X[clamp(i - 1)]")(X=x)
    np.testing.assert_allclose(out["Y"], x + np.roll(x, -1) + np.concatenate([x[:1], x[:-1]]))


def test_wrapped_access_does_not_narrow():
    x = rand(5)
    out = tc.compile("Y[i] = X[i] * X[reflect(i + 3)]")(X=x)
    padded = np.pad(x, 5, mode="symmetric")
    np.testing.assert_allclose(out["Y"], x * padded[5 + 3:5 + 3 + 5])


def test_line_continuation():
    x = rand(3)
    out = tc.compile("Y[i] = x[i] + \\\n    x[i]")(x=x)
    np.testing.assert_allclose(out["Y"], 2 * x)


def test_program_is_reusable_and_caches():
    prog = tc.compile("Y[i] = A[i, k] * x[k]")
    for m, n in [(2, 3), (4, 1), (2, 3)]:
        a, x = rand(m, n), rand(n)
        np.testing.assert_allclose(prog(A=a, x=x)["Y"], a @ x)


def test_inputs_not_modified():
    x = rand(4)
    keep = x.copy()
    tc.compile("x2[i] = x[i]\nx2[i] += 1")(x=x)
    np.testing.assert_array_equal(x, keep)


def test_output_does_not_alias_input():
    x = rand(4)
    out = tc.compile("Y[i] = x[i]")(x=x)["Y"]
    out[0] = 123.0
    assert x[0] != 123.0


def test_accepts_lists_and_non_contiguous_arrays():
    a = rand(4, 6)[:, ::2]
    out = tc.compile("Y[j, i] = A[i, j]")(A=a)
    np.testing.assert_allclose(out["Y"], a.T)
    out = tc.compile("Y[i] = A[i, k] * x[k]")(A=[[1, 2], [3, 4]], x=[1, 1])
    np.testing.assert_allclose(out["Y"], [3.0, 7.0])


def test_source_and_spec_are_text():
    prog = tc.compile("Y[i] = A[i, k] * x[k] + c[i]")
    assert isinstance(prog.source, str) and "def " in prog.source
    assert isinstance(prog.spec, str)
    assert "sum(" in prog.spec


# ---------------------------------------------------------------- generated affine reads





@settings(max_examples=100, deadline=None)
@given(size=st.integers(1, 6), coef=st.integers(-3, 3).filter(bool), const=st.integers(-8, 8),
       n=st.integers(1, 10), mode=st.sampled_from(["zero", "wrap", "reflect", "clamp"]))
def test_generated_affine_read_with_boundary(size, coef, const, n, mode):
    x = np.arange(1.0, size + 1)
    e = f"{coef}*i + {const}" if const >= 0 else f"{coef}*i - {-const}"
    access = e if mode == "zero" else f"{mode}({e})"
    y = tc.compile(f"Y[i] = X[{access}]   where i < {n}")(X=x)["Y"]
    ref = []
    for i in range(n):
        k = boundary_index(coef * i + const, size, mode)
        ref.append(0.0 if k is None else x[k])
    assert y.tolist() == ref


def test_negative_coefficient_reads():
    x = np.arange(1.0, 6.0)
    assert tc.compile("Y[i] = X[3 - i]")(X=x)["Y"].tolist() == [4, 3, 2, 1]
    assert tc.compile("Y[i] = X[3 - i] * Z[i]")(X=x, Z=np.ones(5))["Y"].tolist() == [4, 3, 2, 1]
    assert tc.compile("Y[i] = X[-2*i + 7]   where i < 9")(X=x)["Y"].tolist() == \
        [0, 0, 4, 2, 0, 0, 0, 0, 0]


def test_diagonal_and_strided_diagonal_reads():
    x = np.arange(1.0, 10.0).reshape(3, 3)
    assert tc.compile("Y[i] = X[i, i]")(X=x)["Y"].tolist() == [1, 5, 9]
    assert tc.compile("Y[i] = X[i, 2*i]")(X=x)["Y"].tolist() == [1, 6]
    assert tc.compile("Y[i, j] = X[i, i + j]   where j < 2")(X=x)["Y"].tolist() == \
        [[1, 2], [5, 6], [9, 0]]


def test_diagonal_of_non_square_is_shape_error():
    with pytest.raises(tc.ShapeError, match=r"index 'i'.*2 in X dimension 0.*3 in X dimension 1"):
        tc.compile("Y[i] = X[i, i]")(X=np.ones((2, 3)))


# ---------------------------------------------------------------- constant indices

X23 = np.arange(1.0, 7.0).reshape(2, 3)


@pytest.mark.parametrize("spec, expected", [
    ("Y[i] = X[i, 0]", X23[:, 0]),
    ("Y[j] = X[1, j]", X23[1]),
    ("Y[i] = X[i, 0] * X[i, 2]", X23[:, 0] * X23[:, 2]),
    ("c = X[1, 2]", X23[1, 2]),
    ("Y[i] = X[i, 5]   where i < 2", np.zeros(2)),
    ("Y[i] = X[i, wrap(4)]", X23[:, 1]),
    ("Y[i] = X[i, clamp(-3)] + X[i, reflect(3)]", X23[:, 0] + X23[:, 2]),
    ("Y[i] = X[i, 2 - 1]", X23[:, 1]),
])
def test_constant_indices(spec, expected):
    out = tc.compile(spec)(X=X23)
    np.testing.assert_allclose(out[tc.compile(spec).outputs[0]], expected)


@pytest.mark.parametrize("spec, expected", [
    ("Y[i] = X[0]   where i < 3", [1.0, 1.0, 1.0]),
    ("Y[i] = X[wrap(7)]   where i < 2", [3.0, 3.0]),
    ("Y[i] = X[7]   where i < 2", [0.0, 0.0]),
    ("Y[i] = x[2] * x[i]", [3.0, 6.0, 9.0]),
])
def test_constant_index_of_a_vector(spec, expected):
    prog = tc.compile(spec)
    name = prog.inputs[0]
    out = prog(**{name: np.arange(1.0, 6.0) if name == "X" else np.arange(1.0, 4.0)})
    np.testing.assert_allclose(out["Y"], expected)


# ---------------------------------------------------------------- self reference, literals

def test_reading_a_tensor_in_its_own_definition_is_an_error():
    # Y is assigned, so it is not an input (LANGUAGE.md), and it has no value yet
    with pytest.raises(tc.SpecError, match="'Y'"):
        tc.compile("Y[i] = Y[i] + 1")


def test_accumulate_never_modifies_the_callers_array():
    # whatever `Y[i] += Y[i] + 1` means, the caller's array must not change
    try:
        prog = tc.compile("Y[i] += Y[i] + 1")
    except tc.SpecError:
        return
    y = np.arange(3.0)
    prog(**{name: y for name in prog.inputs})
    np.testing.assert_array_equal(y, np.arange(3.0))


def test_huge_literal_does_not_crash():
    # 1e400 is inf in float64; a clear SpecError would be fine too, a NameError is not
    try:
        prog = tc.compile("Y[i] = 1e400 * x[i]")
    except tc.SpecError:
        return
    out = prog(x=np.array([1.0, 2.0]))["Y"]
    assert np.isinf(out).all()


def test_max_over_an_empty_range_is_a_clear_error():
    # never a crash from inside the compiler: a ValueError from numpy's reduction is not one
    with pytest.raises(tc.TensorcError, match="empty"):
        tc.compile("Y[i] = max(x[i + k])   where k < 0")(x=np.arange(3.0))


@pytest.mark.parametrize("spec, reference", [
    # v (h2) used by no other factor: the rest is written where h == h2
    ("J[h, i, h2] = -(2 * delta(h, h2) * a[h] * x[i])   where h2 < 4",
     lambda a, x, b: -2 * np.einsum("hk,h,i->hik", np.eye(len(a)), a, x)),
    # the free index first: delta(h, h2) turned round
    ("J[h, i, h2] = delta(h, h2) * a[h2] * x[i] * 3   where h < 4",
     lambda a, x, b: 3 * np.einsum("hk,k,i->hik", np.eye(len(a)), a, x)),
    # summed, both ends of the delta kept
    ("J[h, h2] = delta(h, h2) * b[h, i] * x[i]   where h2 < 4",
     lambda a, x, b: np.diag(b @ x)),
    # both indices used elsewhere: a real mask, built densely
    ("J[h, h2] = delta(h, h2) * a[h] * a[h2]",
     lambda a, x, b: np.diag(a * a)),
])
def test_products_with_a_delta_are_written_on_the_diagonal(spec, reference):
    prog = tc.compile(spec)
    rng = np.random.default_rng(0)
    a, x, b = rng.standard_normal(4), rng.standard_normal(3), rng.standard_normal((4, 3))
    arrays = {k: v for k, v in dict(a=a, x=x, b=b).items() if k in prog.inputs}
    np.testing.assert_allclose(prog(**arrays)["J"], reference(a, x, b), atol=1e-14)
    dense = "a[h] * a[h2]" in spec
    assert ("rt.delta(" in prog.source) == dense
    assert ("rt.on_diagonal(" in prog.source) != dense


@pytest.mark.parametrize("op", ["max", "min"])
def test_pooled_relu_reduces_first_then_applies_relu(op):
    """max(relu(x)) == relu(max(x)) exactly (relu is monotone): computed on the pooled
    values; all-negative windows give 0, NaN still propagates."""
    prog = tc.compile(f"P[i, j] = {op}(relu(Z[2*i + p, 2*j + q]))   where p < 2, q < 2")
    assert prog.source.index("rt.reduce(") < prog.source.index("np.maximum(0,")
    z = np.array([[-1.0, -2.0, 3.0, 0.5], [-3.0, -1.0, 1.0, 3.0],
                  [np.nan, 2.0, -1.0, -4.0], [2.0, 0.0, -2.0, -5.0]])
    windows = np.maximum(0, z).reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)
    want = getattr(np, op)(windows, axis=-1)
    np.testing.assert_array_equal(prog(Z=z)["P"], want)


def test_a_bias_is_added_into_the_contraction_it_follows():
    """``sum(...) + B[o]``: the contraction's new array takes the bias in place, unless
    the sum needs a wider dtype."""
    rng = np.random.default_rng(4)
    x, w, b = (rng.standard_normal(s) for s in ((3, 4), (5, 4), (5,)))
    prog = tc.compile("Z[n, o] = sum(X[n, c] * W[o, c]) + B[o]")
    assert "rt.add_into(" in prog.source
    np.testing.assert_allclose(prog(X=x, W=w, B=b)["Z"], x @ w.T + b, rtol=1e-12)
    f32 = prog(X=x.astype(np.float32), W=w.astype(np.float32), B=b)["Z"]
    assert f32.dtype == np.float64          # as x @ w.T (float32) + b (float64)
    np.testing.assert_allclose(f32, x.astype(np.float32) @ w.T.astype(np.float32) + b)


@pytest.mark.parametrize("sizes", [(5, 3), (3, 5), (4, 4)])
def test_a_delta_between_indices_of_different_ranges_stays_inside_its_tensor(sizes):
    """The diagonal written in place of delta(i, j) ends with the shorter of i and j (it
    ran past the end of T's memory when i was the longer: a heap corruption that crashed
    the test process later, somewhere else)."""
    rng = np.random.default_rng(0)
    y, x = rng.standard_normal(sizes[0]), rng.standard_normal(sizes[1])
    got = tc.compile("T[i, j] = delta(i, j) * X[j] * Y[i]")(X=x, Y=y)["T"]
    want = np.zeros(sizes)
    for i in range(min(sizes)):
        want[i, i] = x[i] * y[i]
    np.testing.assert_array_equal(got, want)
