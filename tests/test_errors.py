"""Bad specs and bad arrays give clear errors; awkward names still compile."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorc as tc


def spec_error(text):
    with pytest.raises(tc.SpecError) as info:
        tc.compile(text)
    return info.value


def caret_column(message):
    """(quoted line, 1-based column of the first caret, caret width) from a SpecError."""
    lines = str(message).splitlines()
    carets = [ln for ln in lines if ln.strip() and set(ln.strip()) == {"^"}]
    assert len(carets) == 1, message
    caret = carets[0]
    quoted = lines[lines.index(caret) - 1]
    assert caret.startswith("  ") and quoted.startswith("  "), message
    return quoted[2:], len(caret) - len(caret.lstrip(" ")) - 2 + 1, caret.count("^")


def head_position(message):
    m = re.match(r"line (\d+), column (\d+): ", str(message))
    assert m, message
    return int(m.group(1)), int(m.group(2))


# ---------------------------------------------------------------- error classes

def test_error_hierarchy():
    assert issubclass(tc.SpecError, ValueError)
    assert issubclass(tc.ShapeError, ValueError)
    for cls in (tc.SpecError, tc.ShapeError, tc.InputError):
        assert issubclass(cls, tc.TensorcError)


# ---------------------------------------------------------------- SpecError

@pytest.mark.parametrize("text", ["Y[i] = X[i", "Y[i] = x[i] +", "Y[i] = = x[i]", "Y[i] x[i]",
                                  "Y[i] = x[i]]", "Y[i,] = x[i]", "= x[i]", "Y[i] = x[i] where"])
def test_syntax_error(text):
    with pytest.raises(tc.SpecError, match=r"^line 1, column \d+: "):
        tc.compile(text)


def test_syntax_error_on_a_later_line():
    with pytest.raises(tc.SpecError, match=r"^line 3, column \d+: "):
        tc.compile("A[i] = x[i]\n# a comment\nB[i] = A[i] * * 2\n")


def test_syntax_error_caret_points_at_the_bad_token():
    err = spec_error("Y[i] = = x[i]")
    assert head_position(err) == (1, 8)
    quoted, col, _ = caret_column(err)
    assert quoted == "Y[i] = = x[i]"
    assert col == 8 and quoted[col - 1] == "="


def test_unknown_function():
    with pytest.raises(tc.SpecError, match="unknown function 'foo'"):
        tc.compile("Y[i] = foo(X[i])")


def test_unknown_function_caret():
    err = spec_error("Y[i] = foo(X[i])")
    assert head_position(err) == (1, 8)
    quoted, col, width = caret_column(err)
    assert quoted == "Y[i] = foo(X[i])"
    assert quoted[col - 1:col - 1 + width] == "foo"


def test_unknown_function_on_second_line_caret():
    text = "A[i] = x[i]\n  Z[i] = 2 * bar(A[i])"
    err = spec_error(text)
    assert re.search(r"unknown function 'bar'", str(err))
    line, col = head_position(err)
    assert line == 2
    quoted, ccol, _width = caret_column(err)
    assert quoted == "  Z[i] = 2 * bar(A[i])"
    assert ccol == col
    assert quoted[col - 1:col - 1 + 3] == "bar"


def test_unknown_name_in_where():
    with pytest.raises(tc.SpecError, match="unknown name 'H'"):
        tc.compile("Y[i] = x[i] where i in 0:H")


def test_unknown_name_in_where_caret():
    text = "Y[i] = x[i] where i in 0:H"
    err = spec_error(text)
    quoted, col, _width = caret_column(err)
    assert head_position(err) == (1, text.index("H") + 1)
    assert quoted[col - 1] == "H"


def test_conflicting_declared_literal_sizes():
    with pytest.raises(tc.SpecError, match=r"index 'i'.*3.*X.*4.*W|index 'i'.*4.*W.*3.*X"):
        tc.compile("input X[3]\nparam W[4]\nY[i] = X[i] * W[i]")


def test_conflicting_declared_literal_sizes_has_position_and_caret():
    # LANGUAGE.md: a SpecError shows the line, the column and a caret
    err = spec_error("input X[3]\nparam W[4]\nY[i] = X[i] * W[i]")
    line, col = head_position(err)
    assert line == 3
    quoted, ccol, _ = caret_column(err)
    assert quoted == "Y[i] = X[i] * W[i]" and ccol == col


def test_a_declared_size_no_input_gives():
    err = spec_error("output P[N]\nP[i] = x[i]   where i < 5")
    assert "size 'N' of P is given by no input" in str(err)
    assert head_position(err) == (1, 10)
    quoted, ccol, _ = caret_column(err)
    assert quoted == "output P[N]" and ccol == 10


@pytest.mark.parametrize("spec, message", [
    ("output P[10]\nP[i] = x[2*i]   where i < 5",
     r"P dimension 0 has size 5, but it is declared 10"),
    ("input x[N]\noutput P[N]\nP[i] = x[2*i]   where i < 5",
     r"size N: P dimension 0 has size 5 but x dimension 0 has size 10")])
def test_a_computed_tensor_must_have_its_declared_size(spec, message):
    """A declared output size is checked like an input's: never silently another size."""
    with pytest.raises(tc.ShapeError, match=message):
        tc.compile(spec)(x=np.arange(10.0))


def test_declared_twice():
    with pytest.raises(tc.SpecError, match="'X' is declared twice"):
        tc.compile("input X[3]\ninput X[4]\nY[i] = X[i]")


def test_range_cannot_be_inferred():
    with pytest.raises(tc.SpecError, match=r"cannot infer the range of index 'j'.*where"):
        tc.compile("Y[i, j] = x[i]")


def test_range_cannot_be_inferred_caret():
    err = spec_error("Y[i, j] = x[i]")
    quoted, col, _width = caret_column(err)
    assert head_position(err) == (1, 6)
    assert quoted[col - 1] == "j"


def test_empty_range():
    with pytest.raises(tc.SpecError, match="empty range 5:2"):
        tc.compile("Y[i] = x[i] where i in 5:2")


def test_non_affine_index():
    with pytest.raises(tc.SpecError, match="affine"):
        tc.compile("Y[i, j] = X[i * j]  where i < 3, j < 3")


@pytest.mark.parametrize("index", ["i * j", "i * i", "i / 2", "X[i]", "(i + 1) * (i - 1)"])
def test_non_affine_index_variants(index):
    with pytest.raises(tc.SpecError, match="affine"):
        tc.compile(f"Y[i] = X[{index}] where i < 3")


def test_function_inside_index():
    with pytest.raises(tc.SpecError, match="'exp' cannot be used in an index"):
        tc.compile("Y[i] = X[exp(i)] where i < 3")


def test_max_with_two_args():
    with pytest.raises(tc.SpecError, match="max2"):
        tc.compile("Y[i] = max(x[i], y[i])")


def test_min_with_two_args():
    with pytest.raises(tc.SpecError, match="min2"):
        tc.compile("Y[i] = min(x[i], y[i])")


def test_wrong_arity_elementwise():
    with pytest.raises(tc.SpecError, match=r"relu.*1 argument"):
        tc.compile("Y[i] = relu(x[i], 2)")


def test_assigning_an_input():
    with pytest.raises(tc.SpecError, match="'x' is an input"):
        tc.compile("Y[i] = x[i]\nx[i] = z[i]")


def test_assign_twice():
    with pytest.raises(tc.SpecError, match=r"'x' is already assigned on line 1.*\+="):
        tc.compile("x[i] = y[i]\nx[i] = z[i]")


def test_assign_twice_caret():
    err = spec_error("x[i] = y[i]\nx[i] = z[i]")
    assert head_position(err) == (2, 1)
    quoted, col, _ = caret_column(err)
    assert quoted == "x[i] = z[i]" and col == 1


def test_affine_left_side_of_assignment():
    with pytest.raises(tc.SpecError, match=r"\+="):
        tc.compile("Y[2*i] = X[i]")


def test_where_names_unused_index():
    with pytest.raises(tc.SpecError, match="'j'"):
        tc.compile("Y[i] = x[i] * 2 where j < 3")


def test_spec_error_is_value_error():
    with pytest.raises(ValueError, match="unknown function"):
        tc.compile("Y[i] = foo(X[i])")


def test_compile_rejects_non_text():
    with pytest.raises(TypeError, match="str"):
        tc.compile(b"Y[i] = X[i]")


# ---------------------------------------------------------------- ShapeError

def test_mismatched_sizes():
    prog = tc.compile("Y[i] = A[i, k] * x[k]")
    with pytest.raises(tc.ShapeError) as info:
        prog(A=np.ones((3, 4)), x=np.ones(5))
    msg = str(info.value)
    assert re.search(r"\bA\b", msg) and re.search(r"\bx\b", msg), msg
    assert "dimension" in msg and "4" in msg and "5" in msg, msg


def test_mismatched_sizes_match():
    prog = tc.compile("Y[i] = A[i, k] * x[k]")
    with pytest.raises(tc.ShapeError, match=r"4 in A dimension 1.*5 in x dimension 0"):
        prog(A=np.ones((3, 4)), x=np.ones(5))


def test_mismatched_sizes_elementwise():
    prog = tc.compile("Y[i] = a[i] + b[i]")
    with pytest.raises(tc.ShapeError, match=r"3 in a dimension 0.*2 in b dimension 0"):
        prog(a=np.ones(3), b=np.ones(2))


def test_wrong_rank():
    prog = tc.compile("Y[i] = A[i, k] * x[k]")
    with pytest.raises(tc.ShapeError, match=r"A has 1 dimension.*2"):
        prog(A=np.ones(3), x=np.ones(4))


def test_declared_literal_size_mismatch():
    prog = tc.compile("param W[3, 2]\nY[i] = W[i, j] * x[j]")
    with pytest.raises(tc.ShapeError, match=r"W dimension 0 has size 4.*declared 3"):
        prog(W=np.ones((4, 2)), x=np.ones(2))


def test_declared_symbol_mismatch():
    prog = tc.compile("input X[N]\ninput Z[N]\nY[i] = X[i] where i in 0:N\nV[i] = Z[i]")
    with pytest.raises(tc.ShapeError, match=r"Z dimension 0 has size 4.*X dimension 0 has size 3"):
        prog(X=np.ones(3), Z=np.ones(4))


def test_inputs_too_small_for_valid_conv():
    prog = tc.compile("y[i] = x[i + a] * f[a]")
    with pytest.raises(tc.ShapeError, match="empty range"):
        prog(x=np.ones(2), f=np.ones(4))


@pytest.mark.parametrize("src", ["Y[i] = X[i]  where i in -1:3",
                                 "Y[i] = X[reflect(i - a - 1)] * K[a]   where i in -1:7"])
def test_left_side_range_below_zero(src):
    # found by fuzzing: it used to fail inside the generated code (a NumPy broadcast error)
    column = src.index("i in") + 1
    with pytest.raises(tc.SpecError, match=rf"line 1, column {column}: index 'i' starts at -1, "
                                           "but it is a position of Y, and positions start at 0"):
        tc.compile(src)


def test_left_side_range_below_zero_at_call():
    prog = tc.compile("input X[H]\nY[i] = X[i]  where i in H-6:H")
    np.testing.assert_array_equal(prog(X=np.ones(7))["Y"], [0, 1, 1, 1, 1, 1, 1])
    with pytest.raises(tc.ShapeError, match="line 2: index 'i' starts at -2, but it is a "
                                            "position of Y"):
        prog(X=np.ones(4))


def test_summed_index_may_start_below_zero():
    prog = tc.compile("s = sum(X[i])  where i in -1:3")     # reads X[-1] as zero padding
    assert prog(X=np.arange(1.0, 6.0))["s"] == 6.0


@pytest.mark.parametrize("divisor", ["0", "0.0"])
def test_division_by_constant_zero(divisor):
    with pytest.raises(tc.SpecError, match=r"line 1, column 15: division by the constant 0\n"
                                           r"  Y\[i\] = X\[i\] / " + divisor.replace(".", r"\.")
                       + r"\n {16}\^"):
        tc.compile(f"Y[i] = X[i] / {divisor}")


def test_derivative_that_divides_by_zero():
    # found by fuzzing: sympy's d/dx (x / (1 - 1)) is zoo, which crashed float()
    with pytest.raises(tc.SpecError, match=r"a derivative here divides by zero \(zoo\); "
                                           "is a divisor 0"):
        tc.grad("L = sum(X[i] / (1 - 1))", of="L", wrt="X")


@pytest.mark.parametrize("mode", ["wrap", "reflect", "clamp"])
def test_boundary_wrapper_over_an_empty_dimension(mode):
    # found by fuzzing: np.pad failed with "can't extend empty axis 0 using modes ..."
    prog = tc.compile(f"Z[i] = X[i + j] * U[j]   where i in 0:0\n"
                      f"Y[i] = Z[{mode}(i + j)] * V[j]   where i in 0:4")
    with pytest.raises(tc.ShapeError, match=rf"line 2: Z dimension 0 is empty, and "
                                            rf"{mode}\(\.\.\.\) needs at least one value"):
        prog(X=np.ones(3), U=np.ones(2), V=np.ones(2))
    with pytest.raises(tc.ShapeError, match=rf"line 1: X dimension 0 is empty, and {mode}"):
        tc.compile(f"Y[i] = X[{mode}(i)]   where i in 0:3")(X=np.ones(0))


# ---------------------------------------------------------------- InputError

def test_missing_input():
    prog = tc.compile("Y[i] = A[i, k] * x[k]")
    with pytest.raises(tc.InputError, match="missing input x"):
        prog(A=np.ones((3, 4)))


def test_unexpected_input():
    prog = tc.compile("Y[i] = A[i, k] * x[k]")
    with pytest.raises(tc.InputError, match="unexpected input z"):
        prog(A=np.ones((3, 4)), x=np.ones(4), z=np.ones(1))


@pytest.mark.parametrize("value, why", [
    (np.array([1 + 2j, 3j]), "dtype is complex128"),      # would drop the imaginary parts
    (np.array([None, 1.0], dtype=object), "dtype is object"),   # None would become NaN
    (["a", "b"], "dtype is <U1"),
    ({"a": 1}, "dtype is object"),
    ([[1.0, 2.0], [3.0]], "inhomogeneous shape"),
])
def test_input_that_is_not_real_numbers(value, why):
    prog = tc.compile("Y[i] = 2 * x[i]")
    with pytest.raises(tc.InputError, match=f"input x is not an array of real numbers: .*{why}"):
        prog(x=value)


def test_integer_and_boolean_inputs_compute_in_float64():
    prog = tc.compile("Y[i] = x[i] / 2")
    for value in (np.arange(3), np.array([True, False, True]), [1, 2, 3]):
        got = prog(x=value)["Y"]
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, np.asarray(value, np.float64) / 2)


def test_positional_inputs_are_refused():
    prog = tc.compile("Y[i] = A[i, k] * x[k]")
    with pytest.raises(tc.InputError, match=r"pass the inputs by name, as in prog\(A=\.\.\.\) "
                                            r"\(the program takes A, x\)"):
        prog(np.ones((3, 4)), np.ones(4))


# ---------------------------------------------------------------- awkward names

AWKWARD = ["lambda", "sum", "np", "cp", "out", "exec", "rt", "dt", "special", "program",
           "def", "None", "True", "import", "scipy", "tc", "tensorc", "shape", "self", "print",
           "where", "input", "param", "wrap", "max", "range", "len", "int"]


# `input` and `param` start declarations, so they cannot start a statement.
@pytest.mark.parametrize("name", [n for n in AWKWARD if n not in ("input", "param")])
def test_awkward_name_as_output_tensor(name):
    x = np.arange(1.0, 5.0)
    prog = tc.compile(f"{name}[i] = 2 * x[i]")
    assert prog.outputs == (name,)
    np.testing.assert_allclose(prog(x=x)[name], 2 * x)


@pytest.mark.parametrize("name", AWKWARD)
def test_awkward_name_as_input_tensor(name):
    a = np.arange(6.0).reshape(2, 3)
    prog = tc.compile(f"Y[i] = {name}[i, j] * v[j]")
    assert set(prog.inputs) == {name, "v"}
    v = np.array([1.0, -1.0, 2.0])
    np.testing.assert_allclose(prog(**{name: a, "v": v})["Y"], a @ v)


@pytest.mark.parametrize("name", [n for n in AWKWARD if n not in ("where",)])
def test_awkward_name_as_index(name):
    a = np.arange(6.0).reshape(2, 3)
    prog = tc.compile(f"Y[{name}] = A[{name}, j] * v[j]")
    v = np.array([1.0, -1.0, 2.0])
    np.testing.assert_allclose(prog(A=a, v=v)["Y"], a @ v)


def test_awkward_names_everywhere():
    spec = ("out[lambda, np] = exec[lambda, cp] * rt[cp, np] + dt[np]\n"
            "special[lambda] = max(out[lambda, np])\n"
            "sum[lambda] = special[lambda]\n")
    rng = np.random.default_rng(3)
    e, r, d = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    prog = tc.compile(spec)
    res = prog(exec=e, rt=r, dt=d)
    ref = e @ r + d
    np.testing.assert_allclose(res["out"], ref)
    np.testing.assert_allclose(res["special"], ref.max(axis=1))
    np.testing.assert_allclose(res["sum"], ref.max(axis=1))
    again = tc.compile(prog.spec)
    assert again.spec == prog.spec
    np.testing.assert_allclose(again(exec=e, rt=r, dt=d)["sum"], ref.max(axis=1))


def test_sum_as_tensor_and_reduction():
    x = np.arange(6.0).reshape(2, 3)
    res = tc.compile("sum[i] = sum(x[i, j])\nmax[i] = max(sum[i] * x[i, j])")(x=x)
    np.testing.assert_allclose(res["sum"], x.sum(axis=1))
    np.testing.assert_allclose(res["max"], (x.sum(axis=1)[:, None] * x).max(axis=1))


def test_awkward_scalar_names():
    x = np.arange(1.0, 4.0)
    res = tc.compile("lambda = sum(x[i])\nnp = lambda * 2\nspecial[i] = x[i] / np")(x=x)
    assert float(res["lambda"]) == 6.0
    assert float(res["np"]) == 12.0
    np.testing.assert_allclose(res["special"], x / 12.0)


def test_awkward_size_symbols():
    x = np.arange(4.0)
    res = tc.compile("input x[np]\ny[i] = x[wrap(i + 1)]   where i in 0:np")(x=x)
    np.testing.assert_allclose(res["y"], np.roll(x, -1))


BAD_SPECS = [
    "Y[i] = X[i",
    "Y[i] = x[i] +",
    "A[i] = x[i]\n\nB[i] = A[i] * * 2",
    "Y[i] = foo(X[i])",
    "A[i] = x[i]; B[i] = bar(A[i])",
    "Y[i] = x[i] where i in 0:H",
    "Y[i, j] = x[i]",
    "Y[i] = x[i] where i in 5:2",
    "Y[i, j] = X[i * j]  where i < 3, j < 3",
    "Y[i] = max(x[i], y[i])",
    "Y[i] = x[i]\nx[i] = z[i]",
    "x[i] = y[i]\n# comment\nx[i] = z[i]",
    "input X[3]\ninput X[4]\nY[i] = X[i]",
    "Y[2*i] = X[i]",
    "Y[i] = relu(x[i], 2)",
]


@pytest.mark.parametrize("text", BAD_SPECS)
def test_caret_under_the_reported_column(text):
    err = spec_error(text)
    line, col = head_position(err)
    source_lines = text.splitlines()
    assert 1 <= line <= len(source_lines)
    quoted, ccol, _width = caret_column(err)
    assert quoted == source_lines[line - 1]
    assert ccol == col
    assert 1 <= col <= len(quoted) + 1
    assert err.line == line and err.column == col
