"""Hypothesis-generated programs: every derived gradient equals central finite differences
of the forward program (float64), whatever the stride, dilation, padding, boundary mode,
reduction and function."""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tests.programs import (conv2d_programs, conv_programs, einsum_programs, mlp_programs,
                            scatter_programs)
from tests.reference import numeric_jacobian, numeric_vjp


def assert_gradients_match_differences(src: str, arrays: dict, wrt: list[str]):
    """tc.grad of the scalar L equals central finite differences of the program's L."""
    forward = tc.compile(src)
    grads = tc.grad(src, of="L", wrt=wrt)(**arrays)
    for name in wrt:
        expected = numeric_vjp(lambda a: forward(**a)["L"], arrays, name, 1.0)
        np.testing.assert_allclose(grads[f"d{name}"], expected, rtol=2e-5, atol=2e-6,
                                   err_msg=src)


def assert_near_differences(got, expected, src: str) -> None:
    """``got`` equals central differences ``expected`` (reshaped to them), to 1e-4
    relative and 1e-5 of the largest entry."""
    scale = max(1.0, np.abs(expected).max())
    np.testing.assert_allclose(np.reshape(got, expected.shape), expected, rtol=1e-4,
                               atol=1e-5 * scale, err_msg=src)


def hessian_by_differences(src: str, arrays: dict, wrt: str) -> np.ndarray:
    """The (n, n) Hessian of L in ``wrt`` as central differences of tc.grad's gradient."""
    gradient = tc.grad(src, of="L", wrt=[wrt])
    n = arrays[wrt].size
    expected = np.zeros((n, n))
    for col in range(n):
        unit = np.eye(n)[col].reshape(arrays[wrt].shape)
        expected[:, col] = numeric_vjp(lambda a: gradient(**a)[f"d{wrt}"], arrays, wrt,
                                       unit).ravel()
    return expected


@settings(max_examples=40, deadline=None)
@given(conv_programs(), st.integers(0, 2**31 - 1))
def test_random_program_gradients_match_finite_differences(case, seed):
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) for k, s in shapes.items()}
    forward = tc.compile(src.replace("L = sum(P[o, i] * C[o, i])", "L = sum(P[o, i])"))
    p_shape = forward(**arrays)["P"].shape
    arrays["C"] = rng.standard_normal(p_shape)
    assert_gradients_match_differences(src, arrays, ["X", "K", "B"])


@settings(max_examples=40, deadline=None)
@given(einsum_programs(), st.integers(0, 2**31 - 1))
def test_random_einsum_gradients_match_finite_differences(case, seed):
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) * 0.5 for k, s in shapes.items()}
    assert_gradients_match_differences(src, arrays, [k for k in shapes if k != "D"])


@settings(max_examples=25, deadline=None)
@given(einsum_programs(), st.integers(0, 2**31 - 1))
def test_random_hessians_match_differences_of_the_gradient(case, seed):
    """tc.hessian against central differences of tc.grad (diagonal reads included)."""
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) * 0.5 for k, s in shapes.items()}
    hessian = tc.hessian(src, of="L", wrt="A")(**arrays)["H"]
    expected = hessian_by_differences(src, arrays, "A")
    np.testing.assert_allclose(hessian.reshape(expected.shape), expected, rtol=1e-4,
                               atol=1e-5, err_msg=src)


@settings(max_examples=30, deadline=None)
@given(mlp_programs(), st.data())
def test_random_mlp_hessians_match_torch(case, data):
    """Hessians of dense networks, where derived intermediates carry separable factors
    (the layer's input) that tensorc takes out, against torch.autograd.functional."""
    src, shapes, loss = case
    wrt = data.draw(st.sampled_from(sorted(k for k in shapes if k != "x")))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    arrays = {k: rng.standard_normal(s) * 0.7 for k, s in shapes.items()}
    got = tc.hessian(src, of="L", wrt=wrt)(**arrays)["H"]
    fixed = {k: torch.tensor(v) for k, v in arrays.items() if k != wrt}

    def objective(w):
        return eval(loss, {"torch": torch, **fixed, wrt: w})
    expected = torch.autograd.functional.hessian(objective, torch.tensor(arrays[wrt]))
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-9, atol=1e-12, err_msg=src)


@settings(max_examples=30, deadline=None)
@given(conv_programs(), st.integers(0, 2**31 - 1), st.sampled_from(["K", "B", "X"]))
def test_random_conv_hessians_match_differences_of_the_gradient(case, seed, wrt):
    """Hessians of strided, dilated, padded and wrapped convolutions with pooling, in the
    kernel, the bias or the input, against central differences of tc.grad. (This found
    wrapped scatters seeded with the raw index, and sums whose count a second derivative
    dropped.)"""
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) for k, s in shapes.items()}
    forward = tc.compile(src.replace("L = sum(P[o, i] * C[o, i])", "L = sum(P[o, i])"))
    arrays["C"] = rng.standard_normal(forward(**arrays)["P"].shape)
    hessian = tc.hessian(src, of="L", wrt=wrt)(**arrays)["H"]
    expected = hessian_by_differences(src, arrays, wrt)
    assert_near_differences(hessian, expected, src)


@settings(max_examples=30, deadline=None)
@given(conv_programs(), st.integers(0, 2**31 - 1), st.sampled_from(["K", "B", "X"]),
       st.sampled_from(["Z", "P"]))
def test_random_conv_jacobians_match_differences(case, seed, wrt, of):
    """Jacobians of the random convolution (Z) and pooling (P) statements against central
    differences of the forward program. (This found an eliminated delta that left its
    index's explicit range behind.)"""
    src, shapes = case
    src = src.split("\nL = ")[0]
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) for k, s in shapes.items()}
    forward = tc.compile(src)
    jacobian = tc.jacobian(src, of=of, wrt=wrt)(**arrays)["J"]
    expected = numeric_jacobian(lambda a: forward(**a)[of], arrays, wrt)
    assert_near_differences(jacobian, expected, src)


@settings(max_examples=30, deadline=None)
@given(scatter_programs(), st.integers(0, 2**31 - 1), st.sampled_from(["K", "X"]),
       st.sampled_from(["gradient", "jacobian", "hessian"]))
def test_random_scatter_derivatives_match_differences(case, seed, wrt, kind):
    """Gradients, Jacobians and Hessians of `+=` scatters into created, declared and
    wrapped tensors against central differences. (This found derived statements that
    narrowed the scatter's indices their own way: their ranges are now written out.)"""
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) * 0.7 for k, s in shapes.items()}
    forward = tc.compile(src)
    if kind == "gradient":
        got = tc.grad(src, of="L", wrt=[wrt])(**arrays)[f"d{wrt}"].ravel()
        expected = numeric_vjp(lambda a: forward(**a)["L"], arrays, wrt, 1.0).ravel()
    elif kind == "jacobian":
        got = tc.jacobian(src, of="Y", wrt=wrt)(**arrays)["J"]
        expected = numeric_jacobian(lambda a: forward(**a)["Y"], arrays, wrt)
    else:
        got = tc.hessian(src, of="L", wrt=wrt)(**arrays)["H"]
        expected = hessian_by_differences(src, arrays, wrt)
    assert_near_differences(got, expected, src)


@settings(max_examples=25, deadline=None)
@given(conv2d_programs(), st.integers(0, 2**31 - 1), st.sampled_from(["W", "B", "X"]))
def test_random_conv2d_gradients_and_hessians_match_differences(case, seed, wrt):
    """2-D convolutions and 2 x 2 pooling: the gradient in W, B or X against central
    differences of L, the Hessian in W or B against central differences of the gradient."""
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) * 0.5 for k, s in shapes.items()}
    forward = tc.compile(src)
    got = tc.grad(src, of="L", wrt=[wrt])(**arrays)[f"d{wrt}"]
    expected = numeric_vjp(lambda a: forward(**a)["L"], arrays, wrt, 1.0)
    assert_near_differences(got, expected, src)
    if wrt != "X":
        hessian = tc.hessian(src, of="L", wrt=wrt)(**arrays)["H"]
        assert_near_differences(hessian, hessian_by_differences(src, arrays, wrt), src)


@settings(max_examples=30, deadline=None)
@given(st.one_of(conv_programs(), conv2d_programs(), scatter_programs()),
       st.integers(0, 2**31 - 1), st.data())
def test_random_derived_specs_read_back_as_the_same_program(case, seed, data):
    """tc.compile(derived.spec) computes what the derived program computes: gradients,
    Hessians and Jacobians of random convolution, pooling and scatter programs. (This
    found sibling sums printed with one index name, sums whose terms did not all use the
    summed index, and like models the printed program never declared.)"""
    src, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s) * 0.6 for k, s in shapes.items()}
    if "C[" in src and "C" not in arrays:
        forward = tc.compile(src.split("\nL = ")[0])
        arrays["C"] = rng.standard_normal(forward(**arrays)["P"].shape)
    wrt = data.draw(st.sampled_from(sorted(k for k in shapes if k != "C")))
    kind = data.draw(st.sampled_from(["gradient", "hessian", "jacobian"]))
    if kind == "gradient":
        derived, name = tc.grad(src, of="L", wrt=[wrt]), f"d{wrt}"
    elif kind == "hessian":
        derived, name = tc.hessian(src, of="L", wrt=wrt), "H"
    else:
        derived, name = tc.jacobian(src, of="Z" if "Z[" in src else "S", wrt=wrt), "J"
    again = tc.compile(derived.spec)
    expected = derived(**arrays)[name]
    np.testing.assert_allclose(again(**{k: v for k, v in arrays.items() if k in again.inputs})
                               [name], expected, rtol=1e-12, atol=1e-12, err_msg=derived.spec)
