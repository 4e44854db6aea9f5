"""The IR checker on real programs, and the reduction-scope table of LANGUAGE.md."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import tensorc as tc
from tensorc.ir import nodes as ir
from tensorc.ir.verify import IRError, verify

PROGRAMS = [
    # worked examples
    "H[i, j] = X[i + a, j + b] * V[a, b]",
    "y[i] = x[i + a] * f[a]",
    "c[i] = a[wrap(i + j)] * b[j]      where i in 0:9",
    ("z1[i] = x[wrap(i + j)] * u[j]        where i in 0:10\n"
    "z2[i] = z1[wrap(i + j)] * v[j]       where i in 0:10\n"
    "z3[i] = relu(z2[i] - 1)\n"
    "s = max(z3[i])\n"),
    "y[i] = a[i - 3] where i in 0:9",
    "y[i] = a[wrap(i - 3)] where i in 0:9",
    "y[i] = a[reflect(i - 3)] where i in 0:9",
    "y[i] = a[clamp(i - 3)] where i in 0:9",
    "a[i] = x[i + k] * w[k]",
    "a[i] = x[2*i + k] * w[k]",
    "dx[i + k] += da[i] * w[k]",
    "dx[2*i + k] += da[i] * w[k]",
    # conv family
    "Y[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b]",
    "Y[n, o, i, j, k] = X[n, c, i + a, j + b, k + d] * W[o, c, a, b, d]",
    "Y[n, o, i, j] = X[n, c, 2*i + a, 2*j + b] * W[o, c, a, b]",
    "Y[n, o, i] = X[n, c, i + 2*a] * W[o, c, a]",
    ("input X[N, C, H, W]\n"
    "Y[n, o, i, j] = X[n, c, i + a - 1, j + b - 1] * K[o, c, a, b]   where i in 0:H, j in 0:W"),
    ("input X[H, W]\nY[i, j] = X[reflect(i + a - 1), clamp(j + b - 1)] * K[a, b] "
    "  where i in 0:H, j in 0:W"),
    "Y[n, c, i, j] = X[n, c, i + a, j + b] * K[c, a, b]",
    "Y[n, o, i, j] = X[n, c, i, j] * W[o, c]",
    "Z[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b] + B[o]\n"
    "Y[n, o, i, j] = relu(Z[n, o, i, j])",
    "input K[A]\nY[i] = X[i + a] * K[A - 1 - a]",
    "P[n, c, i, j] = max(Y[n, c, 2*i + p, 2*j + q])   where p < 2, q < 2",
    "A[n, c, i, j] = mean(Y[n, c, 2*i + p, 2*j + q])  where p < 2, q < 2",
    "G[n, c] = mean(X[n, c, i, j])",
    "M[n] = max(X[n, k])\nE[n, k] = exp(X[n, k] - M[n])\nS[n] = sum(E[n, k])\n"
    "P[n, k] = E[n, k] / S[n]",
    # einsum
    "Y[i, k] = A[i, j] * B[j, k]",
    "L = A[i, j] * B[j, i]",
    "Y[i] = A[i, i]",
    # scatter
    "T[2*i + a] += x[i] * w[a]",
    "dX[n, c, i + a, j + b] += dY[n, o, i, j] * W[o, c, a, b]",
    "dX[n, c, 2*i + a, 2*j + b] += dY[n, o, i, j] * W[o, c, a, b]",
    "V[k, 9*o + 3*i + j] += U[k, o, i, j]",
    "T[i] = x[i]\nT[i] += 2 * y[i]",
    "y[i] = b[i]\ny[i] += A[i, k] * x[k]",
    # expressions
    ("Y[i] = select(x[i] > 0, x[i], 0.1 * x[i]) + leaky_relu(x[i], 0.2) + min2(x[i], 1) "
    "+ max2(x[i], -1) + delta(i, 2)"),
    ("Y[i] = exp(x[i]) + log(abs(x[i]) + 1) + sqrt(abs(x[i])) + tanh(x[i]) + sigmoid(x[i]) "
    "+ erf(x[i]) + sin(x[i]) + cos(x[i]) + softplus(x[i]) + silu(x[i]) + gelu(x[i])"),
    ("Y[i] = -x[i] ** 2 / (1 + x[i] * x[i]) + (x[i] == 0) + (x[i] != 0) + (x[i] <= 0) "
    "+ (x[i] >= 0) + (x[i] < 0)"),
    "D[i] = X[i + 1] - X[i]",
    "L = mean(A[i] * B[i])",
]


@pytest.mark.parametrize("spec", PROGRAMS)
def test_verify_passes(spec):
    prog = tc.compile(spec)
    assert isinstance(prog.ir, ir.Program)
    assert verify(prog.ir) is prog.ir


@pytest.mark.parametrize("spec", PROGRAMS)
def test_verify_passes_on_reprinted_program(spec):
    prog = tc.compile(spec)
    again = tc.compile(prog.spec)
    verify(again.ir)
    assert again.spec == prog.spec
    assert again.outputs == prog.outputs
    assert set(again.inputs) == set(prog.inputs)


def test_verify_rejects_broken_program():
    prog = tc.compile("Y[i] = A[i, k] * x[k]")
    broken = ir.Program(**{**prog.ir.__dict__, "outputs": prog.ir.outputs + ("Nope",)})
    with pytest.raises(IRError, match="never assigned"):
        verify(broken)


# ---------------------------------------------------------------- reduction scopes

RNG = np.random.default_rng(7)


def rand(*shape):
    return RNG.standard_normal(shape)


A34, X4, C3 = rand(3, 4), rand(4), rand(3)
E25 = rand(2, 5)
H36, M3 = rand(3, 6), rand(3)
U24, V34, Y23 = rand(2, 4), rand(3, 4), rand(2, 3)
A5, B5 = rand(5), rand(5)

SCOPE_TABLE = [
    ("Y[i] = A[i, k] * x[k] + c[i]", {"A": A34, "x": X4, "c": C3}, "Y", A34 @ X4 + C3),
    ("Y[i] = tanh(W[i, j] * x[j])", {"W": A34, "x": X4}, "Y", np.tanh(A34 @ X4)),
    ("S[b] = E[b, k]", {"E": E25}, "S", E25.sum(axis=1)),
    ("Lse[n] = log(sum(exp(H[n, k] - M[n]))) + M[n]", {"H": H36, "M": M3}, "Lse",
     np.log(np.exp(H36 - M3[:, None]).sum(axis=1)) + M3),
    ("L = sum((U[m, k] * V[n, k] - Y[m, n])**2)", {"U": U24, "V": V34, "Y": Y23}, "L",
     np.sum((U24 @ V34.T - Y23) ** 2)),
    ("L = mean(A[i] * B[i])", {"A": A5, "B": B5}, "L", np.mean(A5 * B5)),
]


@pytest.mark.parametrize("spec, arrays, name, expected", SCOPE_TABLE,
                         ids=[row[0] for row in SCOPE_TABLE])
def test_reduction_scope_table(spec, arrays, name, expected):
    prog, again = check_scope(spec, arrays, name, expected)
    assert again.spec == prog.spec


def check_scope(spec: str, arrays: dict, name: str, expected):
    """The spec computes ``expected``, its IR verifies, and the printed spec (every
    reduction written: "when in doubt, write the reduction; the printer always does")
    computes it too. Returns both programs."""
    prog = tc.compile(spec)
    out = prog(**arrays)[name]
    assert np.shape(out) == np.shape(expected)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    verify(prog.ir)
    again = tc.compile(prog.spec)
    np.testing.assert_allclose(again(**arrays)[name], expected, rtol=1e-12, atol=1e-12)
    return prog, again


@pytest.mark.parametrize("spec", [row[0] for row in SCOPE_TABLE])
def test_printer_writes_every_reduction(spec):
    printed = tc.compile(spec).spec
    assert any(f"{op}(" in printed for op in ("sum", "mean", "max", "min")), printed


def test_printed_reduction_of_implicit_sum():
    printed = tc.compile("S[b] = E[b, k]").spec.strip()
    assert printed == "S[b] = sum(E[b, k])"


W23, XX3, B2 = rand(2, 3), rand(3), rand(2)
E34 = rand(3, 4)
F3 = rand(3)

MORE_SCOPES = [
    # rule 2: a contraction inside relu, summed over its scope (an operand of +)
    ("Y[h] = relu(W[h, i] * x[i] + b[h])", {"W": W23, "x": XX3, "b": B2},
     np.maximum(W23 @ XX3 + B2, 0)),
    # rule 3: one occurrence, no reduction call: summed over its top-level term
    ("Y[b] = E[b, k] + F[b]", {"E": E34, "F": F3}, E34.sum(axis=1) + F3),
    ("Y[b] = F[b] - 2 * E[b, k]", {"E": E34, "F": F3}, F3 - 2 * E34.sum(axis=1)),
    ("Y[b] = exp(E[b, k])", {"E": E34}, np.exp(E34).sum(axis=1)),
    ("Y[b] = exp(E[b, k]) + F[b]", {"E": E34, "F": F3}, np.exp(E34).sum(axis=1) + F3),
    # rule 3: the nearest enclosing reduction call reduces it
    ("Y[b] = max(exp(E[b, k]))", {"E": E34}, np.exp(E34).max(axis=1)),
    ("Y[b] = min(E[b, k] * 2)", {"E": E34}, (2 * E34).min(axis=1)),
    ("Y[b] = mean(tanh(E[b, k]))", {"E": E34}, np.tanh(E34).mean(axis=1)),
    # rule 1: the scope is the argument of the reduction call
    ("Y[i] = max(A[i, k] * x[k])", {"A": A34, "x": X4}, (A34 * X4).max(axis=1)),
    ("Y[i] = mean(A[i, k] * x[k])", {"A": A34, "x": X4}, (A34 * X4).mean(axis=1)),
    # the scope of a contraction is the smallest operand of + that holds it
    ("Y[i] = A[i, k] * x[k] * c[i] + c[i]", {"A": A34, "x": X4, "c": C3}, (A34 @ X4) * C3 + C3),
    ("Y[i] = (A[i, k] + 1) * x[k]", {"A": A34, "x": X4}, (A34 + 1) @ X4),
    # two separate contractions over the same name in two operands of +
    ("Y[i] = A[i, k] * x[k] + A[i, k] * A[i, k]", {"A": A34, "x": X4},
     A34 @ X4 + (A34 ** 2).sum(axis=1)),
    ("L = log(sum(exp(x[k])))", {"x": X4}, np.log(np.exp(X4).sum())),
    # k occurs twice: its scope is the whole right side, so it is ONE index, summed there
    ("L = sum(x[k]) * sum(x[k])", {"x": X4}, (X4 ** 2).sum()),
    ("L = sum(x[k]) * sum(x[j])", {"x": X4}, X4.sum() ** 2),
    ("L = mean(A[i, k])", {"A": A34}, A34.mean()),
    ("Y[i] = sigmoid(A[i, k] * x[k]) * erf(c[i])", {"A": A34, "x": X4, "c": C3},
     special.expit(A34 @ X4) * special.erf(C3)),
]


@pytest.mark.parametrize("spec, arrays, expected", MORE_SCOPES, ids=[r[0] for r in MORE_SCOPES])
def test_more_reduction_scopes(spec, arrays, expected):
    check_scope(spec, arrays, tc.compile(spec).outputs[0], expected)


def test_language_ranges_examples():
    # Z[i] = X[i + a] * K[a] over X of size 7 and K of size 3 gives i in 0:5
    x, k = rand(7), rand(3)
    z = tc.compile("Z[i] = X[i + a] * K[a]")(X=x, K=k)["Z"]
    np.testing.assert_allclose(z, np.correlate(x, k, mode="valid"))
    # D[i] = X[i + 1] - X[i] gives i in 0:N-1
    d = tc.compile("D[i] = X[i + 1] - X[i]")(X=x)["D"]
    np.testing.assert_allclose(d, np.diff(x))


def test_where_explicit_range_reads_zero_outside():
    x = np.array([1.0, 2.0, 3.0])
    y = tc.compile("D[i] = X[i + 1] - X[i]  where i in 0:3")(X=x)["D"]
    np.testing.assert_allclose(y, [1.0, 1.0, -3.0])


def test_where_lt_and_le():
    x = np.arange(6.0)
    assert tc.compile("Y[i] = X[i]  where i < 4")(X=x)["Y"].tolist() == [0, 1, 2, 3]
    assert tc.compile("Y[i] = X[i]  where i <= 4")(X=x)["Y"].tolist() == [0, 1, 2, 3, 4]


def test_size_symbol_flip():
    x = rand(5)
    y = tc.compile("input X[H]\nY[i] = X[H - 1 - i]")(X=x)["Y"]
    np.testing.assert_allclose(y, x[::-1])


def test_delta():
    out = tc.compile("D[i, j] = delta(i, j + 1)  where i < 3, j < 3")()["D"]
    np.testing.assert_allclose(out, np.eye(3, k=-1))


def test_elementwise_functions():
    x = np.linspace(-2, 2, 9)
    spec = ("Y[i] = select(x[i] > 0, x[i], 0.1 * x[i])\n"
            "L[i] = leaky_relu(x[i], 0.1)\n"
            "G[i] = gelu(x[i])\nS[i] = silu(x[i])\nP[i] = softplus(x[i])\n"
            "Mn[i] = min2(x[i], 0.5)\nMx[i] = max2(x[i], 0.5)\n")
    out = tc.compile(spec)(x=x)
    np.testing.assert_allclose(out["Y"], np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(out["L"], np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(out["G"], 0.5 * x * (1 + special.erf(x / np.sqrt(2))), rtol=1e-12)
    np.testing.assert_allclose(out["S"], x * special.expit(x), rtol=1e-12)
    np.testing.assert_allclose(out["P"], np.log1p(np.exp(x)), rtol=1e-12)
    np.testing.assert_allclose(out["Mn"], np.minimum(x, 0.5))
    np.testing.assert_allclose(out["Mx"], np.maximum(x, 0.5))


def test_substitute_renames_an_argmax_window_index_in_its_body_too():
    """An arg-max's window indices are free (they index the mask): renaming p renames it
    in the body as well; a reduction's bound indices are left alone."""
    window = ir.Access("Z", (ir.Index(ir.Affine.of("i", 2).plus(ir.Affine.of("p"))),))
    mask = ir.substitute(ir.ArgMax("max", ("p",), window), {"p": ir.Affine.of("q")})
    assert mask.over == ("q",) and mask.body.index[0].expr.names() == ("i", "q")
    total = ir.substitute(ir.Reduce("sum", ("p",), window), {"p": ir.Affine.of("q")})
    assert total.body == window
