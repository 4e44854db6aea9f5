"""Hypothesis-generated programs: every derived gradient equals central finite differences
of the forward program (float64), whatever the stride, dilation, padding, boundary mode,
reduction and function."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tests.reference import numeric_vjp

FUNCTIONS = ["tanh({})", "sigmoid({})", "silu({})", "softplus({})", "gelu({})", "sin({})",
             "{} * {}", "exp({} / 4)", "({}) / (1 + {} * {})", "erf({})", "leaky_relu({}, 0.2)"]
MODES = ["", "wrap", "reflect", "clamp"]


@st.composite
def conv_programs(draw):
    stride, dilation = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    taps, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    mode = draw(st.sampled_from(MODES))
    size = draw(st.integers(taps * dilation + 2, 9))
    out = (size + 2 * pad - (taps - 1) * dilation - 1) // stride + 1
    index = f"{stride}*i + {dilation}*a - {pad}"
    read = f"X[c, {mode}({index})]" if mode else f"X[c, {index}]"
    fn = draw(st.sampled_from(FUNCTIONS))
    first = f"Z[o, i] = {fn.format(*['(' + read + ' * K[o, c, a] + B[o])'] * fn.count('{}'))}"
    reduction = draw(st.sampled_from(["sum", "max", "min", "mean", "none"]))
    window = "Z[o, 2*i + p]" if out >= 2 else "Z[o, i + p]"
    second = (f"P[o, i] = {reduction}({window})   where p < 2" if reduction != "none" and out >= 2
              else "P[o, i] = Z[o, i] * Z[o, i]")
    where = f"   where i in 0:{out}"
    src = f"{first}{where}\n{second}\nL = sum(P[o, i] * C[o, i])"
    shapes = dict(X=(2, size), K=(3, 2, taps), B=(3,))
    return src, shapes


@settings(max_examples=40, deadline=None)
@given(conv_programs(), st.integers(0, 2**31 - 1))
def test_random_program_gradients_match_finite_differences(case, seed):
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) for k, s in shapes.items()}
    forward = tc.compile(src.replace("L = sum(P[o, i] * C[o, i])", "L = sum(P[o, i])"))
    p_shape = forward(**arrays)["P"].shape
    arrays["C"] = rng.standard_normal(p_shape)
    full = tc.compile(src)
    grads = tc.grad(src, of="L", wrt=["X", "K", "B"])(**arrays)
    for name in ("X", "K", "B"):
        expected = numeric_vjp(lambda a: full(**a)["L"], arrays, name, 1.0)
        np.testing.assert_allclose(grads[f"d{name}"], expected, rtol=2e-5, atol=2e-6,
                                   err_msg=src)


@st.composite
def einsum_programs(draw):
    """Random contractions (with repeated indices: diagonals) under a random function,
    followed by a second contraction into a scalar."""
    letters = "ijkl"
    sizes = {c: draw(st.integers(1, 3)) for c in letters}
    operands = [draw(st.lists(st.sampled_from(letters), min_size=1, max_size=3))
                for _ in range(draw(st.integers(1, 3)))]
    used = sorted({c for idx in operands for c in idx})
    out = draw(st.lists(st.sampled_from(used), unique=True, min_size=1, max_size=len(used)))
    fn = draw(st.sampled_from(FUNCTIONS))
    product = " * ".join(f"{'ABC'[k]}[{', '.join(idx)}]" for k, idx in enumerate(operands))
    inner = f"({product})"
    first = f"Y[{', '.join(out)}] = {fn.format(*[inner] * fn.count('{}'))}"
    second = f"L = sum(Y[{', '.join(out)}] * D[{', '.join(out)}])"
    shapes = {"ABC"[k]: tuple(sizes[c] for c in idx) for k, idx in enumerate(operands)}
    shapes["D"] = tuple(sizes[c] for c in out)
    return f"{first}\n{second}", shapes


@settings(max_examples=40, deadline=None)
@given(einsum_programs(), st.integers(0, 2**31 - 1))
def test_random_einsum_gradients_match_finite_differences(case, seed):
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) * 0.5 for k, s in shapes.items()}
    wrt = [k for k in shapes if k != "D"]
    forward = tc.compile(src)
    grads = tc.grad(src, of="L", wrt=wrt)(**arrays)
    for name in wrt:
        expected = numeric_vjp(lambda a: forward(**a)["L"], arrays, name, 1.0)
        np.testing.assert_allclose(grads[f"d{name}"], expected, rtol=2e-5, atol=2e-6,
                                   err_msg=src)


@settings(max_examples=25, deadline=None)
@given(einsum_programs(), st.integers(0, 2**31 - 1))
def test_random_hessians_match_differences_of_the_gradient(case, seed):
    """tc.hessian against central differences of tc.grad (diagonal reads included)."""
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) * 0.5 for k, s in shapes.items()}
    gradient = tc.grad(src, of="L", wrt=["A"])
    hessian = tc.hessian(src, of="L", wrt="A")(**arrays)["H"]
    n = arrays["A"].size
    expected = np.zeros((n, n))
    for col in range(n):
        unit = np.eye(n)[col].reshape(arrays["A"].shape)
        expected[:, col] = numeric_vjp(lambda a: gradient(**a)["dA"], arrays, "A", unit).ravel()
    np.testing.assert_allclose(hessian.reshape(n, n), expected, rtol=1e-4, atol=1e-5,
                               err_msg=src)
