"""Derived gradients checked against finite differences and torch.autograd, and printed
in the spec language the way the notes write them."""
import numpy as np
import pytest
import torch

import tensorc as tc
from tensorc.ir.verify import verify
from tests.reference import boundary_index, numeric_vjp

RNG = np.random.default_rng(7)


def normal(*shape):
    return RNG.standard_normal(shape)


def check_against_differences(src, of, wrt, arrays, tol=1e-6):
    """tc.grad's outputs equal finite differences of the forward program."""
    forward = tc.compile(src)
    derived = tc.grad(src, of=of, wrt=wrt)
    verify(derived.ir)
    value = forward(**arrays)[of]
    cotangent = normal(*np.shape(value)) if np.ndim(value) else 1.0
    extra = {f"d{of}": cotangent} if np.ndim(value) else {}
    out = derived(**arrays, **extra)
    for name in wrt:
        expected = numeric_vjp(lambda a: forward(**a)[of], arrays, name, cotangent)
        np.testing.assert_allclose(out[f"d{name}"], expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(out[of], value)
    return derived


CASES = {
    "conv bias relu": (
        "Z[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b] + B[o]\n"
        "Y[n, o, i, j] = relu(Z[n, o, i, j])\nL = sum(Y[n, o, i, j] * Y[n, o, i, j])",
        "L", ["X", "W", "B"], dict(X=(2, 2, 5, 5), W=(3, 2, 3, 3), B=(3,))),
    "max pool": ("P[n, i] = max(X[n, 2*i + p])   where p < 2\nL = sum(P[n, i] * C[n, i])",
                 "L", ["X"], dict(X=(2, 8), C=(2, 4))),
    "tanh layer": ("Y[i] = tanh(W[i, j] * x[j])", "Y", ["W", "x"], dict(W=(3, 4), x=(4,))),
    "factorisation": ("L = mean((U[m, k] * V[n, k] - Y[m, n])**2)", "L", ["U", "V"],
                      dict(U=(3, 2), V=(4, 2), Y=(3, 4))),
    "log-sum-exp": ("M[n] = max(Z[n, k])\nLse[n] = log(sum(exp(Z[n, k] - M[n]))) + M[n]\n"
                    "L = mean(Lse[n] - T[n, k] * Z[n, k])", "L", ["Z"], dict(Z=(3, 5), T=(3, 5))),
    "wrap": ("Y[i] = X[wrap(i + a - 1)] * K[a]   where i in 0:7", "Y", ["X", "K"],
             dict(X=(7,), K=(3,))),
    "reflect stride": ("Y[i] = X[reflect(2*i + a - 2)] * K[a]   where i in 0:5", "Y", ["X", "K"],
                       dict(X=(9,), K=(3,))),
    "clamp dilation": ("Y[i] = X[clamp(i + 2*a - 2)] * K[a]   where i in 0:6", "Y", ["X", "K"],
                       dict(X=(6,), K=(3,))),
    "zero padding": ("Y[i] = X[i + a - 1] * K[a]   where i in 0:7", "Y", ["X", "K"],
                     dict(X=(7,), K=(3,))),
    "average pool": ("A[n, c, i, j] = mean(Y[n, c, 2*i + p, 2*j + q])  where p < 2, q < 2",
                     "A", ["Y"], dict(Y=(2, 2, 4, 4))),
    "difference": ("D[i] = X[i + 1] - X[i]", "D", ["X"], dict(X=(6,))),
    "scatter then read": ("T[2*i + a] += X[i] * K[a]\nL = sum(T[j] * T[j])", "L", ["X", "K"],
                          dict(X=(4,), K=(3,))),
    "linear": ("Y[i] = A[i, k] * x[k] + c[i]\nL = sum(Y[i] * Y[i]) / 2", "L", ["A", "x", "c"],
               dict(A=(3, 4), x=(4,), c=(3,))),
    "rule 3 sum": ("S[b] = E[b, k]", "S", ["E"], dict(E=(3, 4))),
    "cube": ("Y[i] = X[i] * X[i] * X[i]", "Y", ["X"], dict(X=(4,))),
    "strided 2-D": ("Y[i, j] = X[i + 2*a, j + 2*b] * K[a, b]", "Y", ["X", "K"],
                    dict(X=(7, 7), K=(2, 2))),
    "flip": ("Y[i] = X[6 - i]", "Y", ["X"], dict(X=(7,))),
    "flatten": ("Y[k, o] = V[k, 3*o + j]   where j < 3", "Y", ["V"], dict(V=(2, 9))),
    "delta and min": ("Y[i] = delta(i, j) * A[i, j] + min(A[i, j])", "Y", ["A"], dict(A=(3, 3))),
    "smooth functions": (
        "Y[i] = sigmoid(X[i]) / (1 + X[i]**2) + silu(X[i]) * gelu(X[i]) - softplus(X[i]) "
        "+ erf(X[i]) * sin(X[i]) + cos(X[i]) + tanh(X[i])**3", "Y", ["X"], dict(X=(6,))),
    "wrapped scatter": ("T[j] = C[j]\nT[wrap(i + a)] += X[i] * K[a]   where i in 0:5\n"
                        "L = sum(T[j] * C[j])",
                        "L", ["X", "K"], dict(X=(5,), K=(2,), C=(5,))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    src, of, wrt, shapes = CASES[name]
    check_against_differences(src, of, wrt, {k: normal(*s) for k, s in shapes.items()})


def test_functions_with_restricted_domains():
    src = ("Y[i] = sqrt(X[i]) + log(X[i]) * abs(X[i] - 1) + exp(X[i]) + leaky_relu(X[i] - 1, 0.1)"
           " + max2(X[i], 1) + select(X[i] > 1, X[i], 2 * X[i]) + X[i] / (X[i] + 1)")
    x = np.array([0.3, 0.7, 1.4, 1.9, 2.5])      # away from every kink
    check_against_differences(src, "Y", ["X"], {"X": x})


def test_two_conv_network_against_torch():
    src = """
    Z1[n, o, i, j] = X[n, c, i + a, j + b] * W1[o, c, a, b] + B1[o]
    P1[n, o, i, j] = max(relu(Z1[n, o, 2*i + p, 2*j + q]))   where p < 2, q < 2
    Z2[n, o, i, j] = P1[n, c, i + a, j + b] * W2[o, c, a, b] + B2[o]
    F[n, o] = mean(relu(Z2[n, o, i, j]))
    M[n] = max(F[n, k])
    Lse[n] = log(sum(exp(F[n, k] - M[n]))) + M[n]
    L = mean(Lse[n] - T[n, k] * F[n, k])
    """
    shapes = dict(X=(3, 2, 12, 12), W1=(4, 2, 3, 3), B1=(4,), W2=(5, 4, 3, 3), B2=(5,))
    arrays = {k: normal(*s) for k, s in shapes.items()}
    labels = np.array([0, 3, 4])
    arrays["T"] = np.eye(5)[labels]
    out = tc.grad(src, of="L", wrt=["W1", "B1", "W2", "B2", "X"])(**arrays)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items() if k != "T"}
    F = torch.nn.functional
    h = F.max_pool2d(F.relu(F.conv2d(t["X"], t["W1"], t["B1"])), 2)
    h = F.relu(F.conv2d(h, t["W2"], t["B2"])).mean(dim=(2, 3))
    loss = F.cross_entropy(h, torch.tensor(labels))
    loss.backward()
    assert out["L"] == pytest.approx(loss.item(), rel=1e-12)
    for name in ("W1", "B1", "W2", "B2", "X"):
        np.testing.assert_allclose(out[f"d{name}"], t[name].grad.numpy(), rtol=1e-9, atol=1e-12)


def test_max_pool_ties_go_to_the_first_winner_like_torch():
    x = np.array([[[[1.0, 1.0], [1.0, 0.0]]]])
    g = tc.grad("P[n, c, i, j] = max(X[n, c, 2*i + p, 2*j + q])   where p < 2, q < 2",
                of="P", wrt="X")
    out = g(X=x, dP=np.ones((1, 1, 1, 1)))["dX"]
    t = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(t, 2).sum().backward()
    np.testing.assert_array_equal(out, t.grad.numpy())
    assert out.sum() == 1.0


@pytest.mark.parametrize("op", ["max", "min"])
def test_pooled_relu_with_ties_and_all_negative_windows_matches_torch(op):
    """The winner of max(relu(x)) is picked on x (relu ties only where relu' = 0): windows
    that tie at relu's 0, tie among positives, or mix, give torch's gradients."""
    x = np.array([[[[-1.0, -2.0, 3.0, 3.0], [-3.0, -1.0, 1.0, 3.0],
                    [0.0, 2.0, -1.0, 0.0], [2.0, 0.0, 0.0, -5.0]]]])
    g = tc.grad(f"P[n, c, i, j] = {op}(relu(X[n, c, 2*i + p, 2*j + q]))   where p < 2, q < 2",
                of="P", wrt="X")
    assert f"arg{op}(X[n, c, 2*i + p, 2*j + q], p, q)" in g.spec
    # the winner's sign and dP, compared with the forward's pooled value P
    assert f'"{op}", positive=True, best=P_, value=dP_)' in g.source
    dp = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    t = torch.tensor(x, requires_grad=True)
    pooled = torch.nn.functional.max_pool2d if op == "max" else \
        (lambda v, k: -torch.nn.functional.max_pool2d(-v, k))
    (pooled(torch.relu(t), 2) * torch.tensor(dp)).sum().backward()
    np.testing.assert_array_equal(g(X=x, dP=dp)["dX"], t.grad.numpy())


@pytest.mark.parametrize("width", [4, 100])     # slice by slice, and one argmax call
def test_winner_masks_with_sign_and_value_equal_the_products(width):
    from tensorc.runtime import kernels
    x = np.random.default_rng(1).standard_normal((6, width)).round(1)
    x[0] = -1.0                                    # a window with no positive value
    x[1, :2] = x[1].max()                          # a tie
    value = np.arange(1.0, 7.0)
    for op in ("max", "min"):
        mask = kernels.argmax_mask(x, (1,), op)
        np.testing.assert_array_equal(kernels.argmax_mask(x, (1,), op, positive=True),
                                      mask * (x > 0))
        np.testing.assert_array_equal(kernels.argmax_mask(x, (1,), op, value=value),
                                      mask * value[:, None])
        np.testing.assert_array_equal(
            kernels.argmax_mask(x, (1,), op, positive=True, value=value),
            mask * (x > 0) * value[:, None])
        pooled = kernels.reduce(x, (1,), op)        # the forward's value, or its ReLU
        for best in (pooled, np.maximum(pooled, 0.0), np.zeros(7)):   # (last: wrong shape)
            np.testing.assert_array_equal(
                kernels.argmax_mask(x, (1,), op, positive=True, value=value, best=best),
                mask * (x > 0) * value[:, None])


def test_arg_max_reuses_only_a_pooled_value_computed_before_it():
    """A mask compares with the forward's pooled tensor when a statement before it holds
    the same window's max; one written after it, or over other indices, is not used."""
    after = tc.compile("A[i, p] = argmax(x[2*i + p], p)   where p < 2\n"
                       "P[i] = max(x[2*i + p])   where p < 2")
    assert "best=" not in after.source
    x = np.array([3.0, 3.0, -1.0, 2.0, 5.0, 1.0])
    np.testing.assert_array_equal(after(x=x)["A"], [[1, 0], [0, 1], [1, 0]])
    before = tc.compile("P[i] = max(x[2*i + p])   where p < 2\n"
                        "A[i, p] = argmax(x[2*i + p], p)   where p < 2")
    assert "best=P_" in before.source
    np.testing.assert_array_equal(before(x=x)["A"], [[1, 0], [0, 1], [1, 0]])
    shifted = tc.compile("P[i] = max(x[2*i + p])   where p < 2\n"
                         "A[i, p] = argmax(x[2*i + p + 1], p)   where p < 2")
    assert "best=" not in shifted.source


def test_float32_stays_float32():
    g = tc.grad("Y[i] = tanh(W[i, j] * x[j])", of="Y", wrt=["W"])
    out = g(W=np.ones((2, 3), np.float32), x=np.ones(3, np.float32), dY=np.ones(2, np.float32))
    assert out["dW"].dtype == np.float32


PRINTED = {
    "correlation": ("Y[i] = x[i + a] * k[a]", "Y", ["x", "k"],
                    ["dx[i + a] += dY[i] * k[a]", "dk[a] = dY[i] * x[i + a]"]),
    "strided": ("a[i] = x[2*i + k] * w[k]", "a", ["x"], ["dx[2*i + k] += da[i] * w[k]"]),
    "tanh": ("Y[i] = tanh(W[i, j] * x[j])", "Y", ["W"],
             ["dW[i, j] = dY[i] * x[j] * (1 - Y[i]**2)"]),
    "relu": ("Y[i] = relu(X[i])", "Y", ["X"], ["dX[i] = dY[i] * (Y[i] > 0)"]),
    "max pool": ("P[i] = max(Y[2*i + p])   where p < 2", "P", ["Y"],
                 ["dY[2*i + p] += dP[i] * argmax(Y[2*i + p], p)   where p in 0:2"]),
    "mean": ("L = mean(Y[n, k])", "L", ["Y"], ["dY[n, k] = 1 / count(n, k)"]),
    "cube": ("Y[i] = X[i] * X[i] * X[i]", "Y", ["X"], ["dX[i] = 3 * dY[i] * X[i]**2"]),
}


@pytest.mark.parametrize("name", sorted(PRINTED))
def test_derived_spec_prints_as_written_by_hand(name):
    src, of, wrt, lines = PRINTED[name]
    g = tc.grad(src, of=of, wrt=wrt)
    for line in lines:
        assert line in g.spec.splitlines(), g.spec
    again = tc.compile(g.spec)
    assert again.ir.stmts == g.ir.stmts


def test_notes_example_one_hot_cotangent_learns_the_pattern():
    x = np.arange(7.0) ** 2
    g = tc.grad("a[i] = x[i + k] * w[k]", of="a", wrt=["w"])
    out = g(x=x, w=np.ones(3), da=np.eye(5)[3])
    assert out["dw"].tolist() == [x[3], x[4], x[5]]


def test_gradient_of_unrelated_input_is_zero():
    g = tc.grad("Y[i] = A[i] * 2\nZ[i] = B[i] + 1\nL = sum(Y[i])", of="L", wrt=["B", "A"])
    out = g(A=np.ones(3), B=np.ones(4))
    assert out["dB"].tolist() == [0.0] * 4 and out["dA"].tolist() == [2.0] * 3


@pytest.mark.parametrize("of, wrt, message", [
    ("Q", ["A"], "of='Q' is not assigned by the program"),
    ("L", ["Q"], "wrt='Q' is not a tensor of the program"),
    ("L", ["A", "L"], "of='L' is also in wrt"),
])
def test_bad_requests_are_spec_errors(of, wrt, message):
    with pytest.raises(tc.SpecError, match=message):
        tc.grad("L = sum(A[i])", of=of, wrt=wrt)


def test_wrt_must_name_tensors():
    with pytest.raises(TypeError, match="wrt takes a tensor name or a list of tensor names"):
        tc.grad("L = sum(A[i])", of="L", wrt=3)


def test_gradient_with_respect_to_an_intermediate():
    src = "Z[i] = W[i, j] * x[j]\nY[i] = tanh(Z[i])\nL = sum(Y[i])"
    W, x = normal(3, 4), normal(4)
    out = tc.grad(src, of="L", wrt=["Z"])(W=W, x=x)
    np.testing.assert_allclose(out["dZ"], 1 - np.tanh(W @ x) ** 2)


def test_reading_a_partial_sum_cannot_be_differentiated():
    src = "T[i] = A[i]\nU[i] = T[i] * 2\nT[i] += A[i]\nL = sum(U[i] + T[i])"
    with pytest.raises(tc.SpecError, match="reads T before line 3 adds to it"):
        tc.grad(src, of="L", wrt=["A"])


def test_cotangent_shape_is_checked():
    g = tc.grad("Y[i] = x[i + a] * k[a]", of="Y", wrt=["k"])
    with pytest.raises(tc.ShapeError, match="dY dimension 0 has size 4, but dY is declared like Y"):
        g(x=np.ones(7), k=np.ones(3), dY=np.ones(4))


def tensors(arrays):
    return {k: torch.tensor(v) for k, v in arrays.items()}


def test_dense_layer_jacobian_prints_without_delta():
    J = tc.jacobian("Y[i] = tanh(W[i, j] * x[j])", of="Y", wrt="x")
    assert "J[i, j] = W[i, j] * (1 - Y[i]**2)" in J.spec.splitlines()
    assert "delta" not in J.spec
    W, x = normal(3, 4), normal(4)
    expected = torch.autograd.functional.jacobian(
        lambda v: torch.tanh(torch.tensor(W) @ v), torch.tensor(x))
    np.testing.assert_allclose(J(W=W, x=x)["J"], expected.numpy(), rtol=1e-12)
    assert J.outputs == ("J",)


@pytest.mark.parametrize("declared, size", [("", "X"), ("input X[N, C, H, W]\n", "")])
def test_convolution_input_jacobian_has_shifted_indices(declared, size):
    # printed as the gather a person writes (sizes named when the spec names none); it
    # runs as the scatter, which writes only the nonzeros
    src = declared + "Y[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b]"
    J = tc.jacobian(src, of="Y", wrt="X")
    h, w = (f"{size}2", f"{size}3") if size else ("H", "W")
    assert (f"J[n, o, i, j, n2, c, a2, b2] += delta(n, n2) * W[o, c, a2 - i, b2 - j]   "
            f"where a2 in 0:{h}, b2 in 0:{w}") in J.spec.splitlines()
    assert ("input X[X0, X1, X2, X3]" in J.spec) == (not declared)
    X, W = normal(2, 2, 5, 5), normal(3, 2, 3, 3)
    expected = torch.autograd.functional.jacobian(
        lambda v: torch.nn.functional.conv2d(v, torch.tensor(W)), torch.tensor(X))
    out = J(X=X, W=W)["J"]
    assert out.shape == (2, 3, 3, 3, 2, 2, 5, 5)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tc.compile(J.spec)(X=X, W=W)["J"], out, rtol=1e-12, atol=1e-14)
    assert "scatter" in str(J.plan_for(X=X.shape, W=W.shape))


def test_adjoint_identity_of_a_strided_padded_convolution():
    """<v, J u> = <J^T v, u>: the Jacobian and the derived vector-Jacobian product agree."""
    src = "Y[i] = X[reflect(2*i + a - 1)] * K[a] + X[i]   where i in 0:5"
    X, K = normal(9), normal(3)
    J = tc.jacobian(src, of="Y", wrt="X")(X=X, K=K)["J"]
    v, u = normal(5), normal(9)
    vjp = tc.grad(src, of="Y", wrt=["X"])(X=X, K=K, dY=v)["dX"]
    assert np.dot(v, J @ u) == pytest.approx(np.dot(vjp, u), rel=1e-12)


def test_matrix_factorisation_hessian_is_a_delta_times_v_vt():
    src = "L = sum((U[m, k] * V[n, k] - Y[m, n])**2)"
    H = tc.hessian(src, of="L", wrt="U")
    assert "H[m, k, m2, k2] = 2 * delta(m, m2) * V[n, k] * V[n, k2]" in H.spec.splitlines()
    arrays = dict(U=normal(3, 2), V=normal(4, 2), Y=normal(3, 4))
    t = tensors(arrays)
    expected = torch.autograd.functional.hessian(
        lambda u: ((u @ t["V"].T - t["Y"]) ** 2).sum(), t["U"])
    np.testing.assert_allclose(H(**arrays)["H"], expected.numpy(), rtol=1e-12)


def test_logistic_regression_hessian_is_x_diag_x():
    src = "Z[n] = X[n, d] * w[d]\nL = sum(softplus(Z[n]) - T[n] * Z[n])"
    H = tc.hessian(src, of="L", wrt="w")
    last = H.spec.splitlines()[-1]
    assert last == "H[d2, d] = X[n, d2] * sigmoid(Z[n]) * X[n, d] * (1 - sigmoid(Z[n]))"
    arrays = dict(X=normal(6, 3), w=normal(3))
    t = tensors(arrays)
    expected = torch.autograd.functional.hessian(
        lambda w: torch.nn.functional.softplus(t["X"] @ w).sum(), t["w"])
    np.testing.assert_allclose(H(**arrays, T=np.ones(6))["H"], expected.numpy(), rtol=1e-10)


@pytest.mark.parametrize("activation, torch_fn", [("tanh", torch.tanh),
                                                  ("sigmoid", torch.sigmoid),
                                                  ("softplus", torch.nn.functional.softplus)])
def test_two_layer_mlp_hessian_against_torch(activation, torch_fn):
    src = (f"Hd[h] = {activation}(W1[h, i] * x[i])\nY[o] = W2[o, h] * Hd[h]\n"
           "L = sum(Y[o] * Y[o])")
    H = tc.hessian(src, of="L", wrt="W1")
    arrays = dict(W1=normal(4, 3), W2=normal(2, 4), x=normal(3))
    t = tensors(arrays)
    expected = torch.autograd.functional.hessian(
        lambda w: ((t["W2"] @ torch_fn(w @ t["x"])) ** 2).sum(), t["W1"])
    np.testing.assert_allclose(H(**arrays)["H"], expected.numpy(), rtol=1e-9, atol=1e-12)


def test_dense_hessian_intermediate_leaves_out_the_layer_input():
    """JHd[h, i, h2] = x[i] * (...)[h, h2] is stored as h x h2; x[i] multiplies in where
    JHd is read: the Hessian is written once, in the hand-derived form."""
    src = "Hd[h] = tanh(W1[h, i] * x[i])\nY[o] = W2[o, h] * Hd[h]\nL = sum(Y[o] * Y[o])"
    lines = tc.hessian(src, of="L", wrt="W1").spec.splitlines()
    assert "output JHd like Hd, Hd" in lines
    assert "JHd[h2, h] += 2 * W2[o, h2] * W2[o, h] * (1 - Hd[h2]**2)" in lines
    assert lines[-1] == "H[h2, i2, h, i] = JHd[h2, h] * x[i2] * x[i] * (1 - Hd[h]**2)"
    batched = src.replace("Hd[h]", "Hd[n, h]").replace("x[i]", "X[n, i]").replace(
        "Y[o]", "Y[n, o]")   # X[n, i] shares n with the rest: nothing to take out
    lines = tc.hessian(batched, of="L", wrt="W1").spec.splitlines()
    assert "output JHd like W1, Hd" in lines
    assert lines[-1] == "H[h2, i2, h, i] = JHd[h2, i2, n, h] * X[n, i] * (1 - Hd[n, h]**2)"
    arrays = dict(W1=normal(4, 3), W2=normal(2, 4), X=normal(5, 3))
    t = tensors(arrays)
    expected = torch.autograd.functional.hessian(
        lambda w: ((torch.tanh(t["X"] @ w.T) @ t["W2"].T) ** 2).sum(), t["W1"])
    got = tc.hessian(batched, of="L", wrt="W1")(**arrays)["H"]
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-10, atol=1e-12)


def test_the_hessian_write_multiplies_the_outermost_factor_last():
    """H[h2, i2, h, i] = JHd[h2, h] * x[i2] * x[i] * (...)[h] writes the whole H: with
    x[i2] multiplied in last NumPy's inner loop runs over h * i contiguous elements (in
    runs of i alone the write took 1.2-1.9x as long)."""
    src = "Hd[h] = tanh(W1[h, i] * x[i])\nY[o] = W2[o, h] * Hd[h]\nL = sum(Y[o] * Y[o])"
    code = tc.hessian(src, of="L", wrt="W1").source.split("# H[h2, i2, h, i] =")[1]
    last = [line for line in code.splitlines() if " = " in line][-2]
    assert last.endswith("*(x_[None, :, None, None])"), last


@pytest.mark.parametrize("spec, eq", [
    ("H[a, b, c, d] = J[a, c] * x[b] * y[d] * s[c]", "ac,b,d,c->abcd"),
    ("H[a, b, c] = P[a, b, c] * q[a] * r[c]", "abc,a,c->abc"),
    ("H[a, b, c] = q[c] * P[b, a] * r[b] * s[a]", "c,ba,b,a->abc"),
    ("H[a, b] = x[a] * y[b] * 3", "a,b->ab"),
])
def test_broadcast_products_in_any_order_match_einsum(spec, eq):
    names = [part.split("[")[0].strip() for part in spec.split("=")[1].split("*")
             if "[" in part]
    letters = eq.split("->")[0].split(",")
    arrays = {n: normal(*({"a": 2, "b": 3, "c": 4, "d": 5}[x] for x in axes))
              for n, axes in zip(names, letters)}
    want = np.einsum(eq, *(arrays[n] for n in names)) * (3 if "* 3" in spec else 1)
    got = tc.compile(spec)(**arrays)["H"]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_three_layer_hessian_through_sin_keeps_bound_indices_apart():
    """sin'' re-reads the pre-activation sum; its bound index once took the name of a
    Jacobian index (a ShapeError at the first call)."""
    src = ("H1[h] = sigmoid(W1[h, i] * x[i])\nH2[h] = sigmoid(W2[h, i] * H1[i])\n"
           "H3[h] = sin(W3[h, i] * H2[i])\nY[o] = V[o, h] * H3[h]\nL = sum(Y[o] * Y[o])")
    arrays = dict(x=normal(1), W1=normal(1, 1), W2=normal(2, 1), W3=normal(1, 2), V=normal(1, 1))
    t = tensors(arrays)

    def loss(w):
        h = torch.sigmoid(torch.sigmoid(w @ t["x"]) @ t["W2"].T)
        return ((torch.sin(h @ t["W3"].T) @ t["V"].T) ** 2).sum()
    expected = torch.autograd.functional.hessian(loss, t["W1"])
    got = tc.hessian(src, of="L", wrt="W1")(**arrays)["H"]
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["wrap", "reflect", "clamp"])
def test_hessian_through_a_wrapped_read_against_torch(mode):
    """The Hessian seeds its Jacobian with the gradient's left side; a scatter written
    through a wrapper (dX[c, reflect(2*i + a - 1)] += ...) keeps the wrapper there (a
    delta of the raw index 2*i + a - 1 once sent the border terms to the wrong place)."""
    src = (f"Y[o, i] = tanh(X[c, {mode}(2*i + a - 1)] * K[o, c, a])   where i in 0:4\n"
           "L = sum(Y[o, i] * Y[o, i])")
    arrays = dict(X=normal(2, 7), K=normal(3, 2, 3))
    index = torch.tensor([[boundary_index(2 * i + a - 1, 7, mode) for a in range(3)]
                          for i in range(4)])
    t = tensors(arrays)

    def loss(x):
        y = torch.tanh(torch.einsum("cia,oca->oi", x[:, index], t["K"]))
        return (y * y).sum()
    expected = torch.autograd.functional.hessian(loss, t["X"])
    got = tc.hessian(src, of="L", wrt="X")(**arrays)["H"]
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-10, atol=1e-12)


def test_second_derivative_keeps_the_count_of_a_sum_it_no_longer_reads():
    """(X K + B)**2 summed over c, a (Einstein: c, a occur in both factors) has B**2 once
    per (c, a): its Hessian in B is 2 * count(c, a) * sum_i C, not 2 * sum_i C."""
    src = ("Z[o, i] = (X[c, i + a] * K[o, c, a] + B[o]) * (X[c, i + a] * K[o, c, a] + B[o])\n"
           "L = sum(Z[o, i] * C[o, i])")
    h = tc.hessian(src, of="L", wrt="B")
    assert "H[o, o2] = 2 * delta(o, o2) * sum(C[o2, i]) * count(c, a)   where c in 0:X0, " \
        "a in 0:K2" in h.spec.splitlines()
    arrays = dict(X=normal(2, 5), K=normal(3, 2, 2), B=normal(3), C=normal(3, 4))
    expected = np.diag(2 * 2 * 2 * arrays["C"].sum(axis=1))
    np.testing.assert_allclose(h(**arrays)["H"], expected, rtol=1e-12)
    np.testing.assert_allclose(tc.compile(h.spec)(**arrays)["H"], expected, rtol=1e-12)


def test_eliminated_delta_hands_its_range_to_the_index_that_replaces_it():
    """J = JZ[o2, i2, o, i] * ... summed over i (where i in 0:5) with JZ a delta(i, i2):
    i2 replaces i, and must keep the explicit range (zero padding at the borders) rather
    than be narrowed to the reads' valid range."""
    src = ("Z[o, i] = (X[c, i + a - 1] * K[o, c, a] + B[o]) * "
           "(X[c, i + a - 1] * K[o, c, a] + B[o])   where i in 0:5\nP[o, i] = Z[o, i] * Z[o, i]")
    j = tc.jacobian(src, of="P", wrt="K")
    assert j.spec.splitlines()[-1].endswith("where i2 in 0:5")
    arrays = dict(X=normal(2, 6), K=normal(3, 2, 3), B=normal(3))
    t = tensors(arrays)
    padded = torch.nn.functional.pad(t["X"], (1, 1))
    windows = torch.stack([padded[:, a:a + 5] for a in range(3)], -1)      # c, i, a

    def p(k):
        z = ((windows[None] * k[:, :, None, :] + t["B"][:, None, None, None]) ** 2).sum((1, 3))
        return z * z
    expected = torch.autograd.functional.jacobian(p, t["K"])
    np.testing.assert_allclose(j(**arrays)["J"], expected.numpy(), rtol=1e-10, atol=1e-10)


def test_derived_specs_read_back_sibling_sums_counted_terms_and_unread_models():
    """Three ways a derived program printed text that read back as another program."""
    arrays = dict(X=normal(2, 6), K=normal(3, 2, 3), B=normal(3))
    # sibling sums over the same names: each gets its own (c2, a2 ...)
    j = tc.jacobian("Z[o, i] = silu(X[c, wrap(i + a - 1)] * K[o, c, a] + B[o])   where i in 0:6",
                    of="Z", wrt="B")
    assert "sigmoid(X[c2, wrap(i + a2 - 1)] * K[o2, c2, a2] + B[o2])" in j.spec
    # a summed term that does not use the index: counted, not summed
    g = tc.grad("Z[o, i] = (X[c, i + a] * K[o, c, a] + B[o]) * (X[c, i + a] * K[o, c, a] + B[o])"
                "\nL = sum(Z[o, i])", of="L", wrt=["B"])
    assert g.spec.splitlines()[-1] == \
        "dB[o] = 2 * dZ[o, i] * (B[o] * count(c, a) + X[c, i + a] * K[o, c, a])"
    # a like model no statement reads: declared
    h = tc.hessian("L = sum((U[m, k] * V[n, k] - Y[m, n])**2)", of="L", wrt="U")
    assert h.spec.splitlines()[:2] == ["input U[U0, U1]", "output H like U, U"]
    mf = dict(U=normal(3, 2), V=normal(4, 2), Y=normal(3, 4))
    for prog, feed, name in ((j, arrays, "J"), (g, {**arrays, "X": normal(2, 8)}, "dB"),
                             (h, mf, "H")):
        again = tc.compile(prog.spec)
        np.testing.assert_allclose(again(**{k: v for k, v in feed.items() if k in again.inputs})
                                   [name], prog(**feed)[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("src, wrt, shapes", [
    ("Z[o, i] = (X[c, i + a] * K[o, c, a] + B[o]) * (X[c, i + a] * K[o, c, a] + B[o])   "
     "where i in 0:3\nP[o, i] = Z[o, i] * Z[o, i]\nL = sum(P[o, i] * C[o, i])", "B",
     dict(X=(2, 3), K=(3, 2, 1), B=(3,), C=(3, 3))),
    ("S[o, i + a] += X[c, i] * K[o, c, a]\nY[o, j] = erf(S[o, j])\nL = sum(Y[o, j] * C[o, j])",
     "X", dict(X=(2, 3), K=(3, 2, 2), C=(3, 4))),
])
def test_hessian_specs_read_back(src, wrt, shapes):
    """The forward statements print as written (tidying Z's square into a power once moved
    its sum inside); a printed gather whose range a computed tensor's size bounds stays a
    scatter (it once declared 'input S[S0, S1]' for the computed S)."""
    h = tc.hessian(src, of="L", wrt=wrt)
    arrays = {k: normal(*v) for k, v in shapes.items()}
    again = tc.compile(h.spec)
    np.testing.assert_allclose(again(**{k: v for k, v in arrays.items() if k in again.inputs})
                               ["H"], h(**arrays)["H"], rtol=1e-12, atol=1e-12)


def test_hessian_needs_a_scalar():
    with pytest.raises(tc.SpecError, match="the Hessian needs a scalar of; Y has indices"):
        tc.hessian("Y[i] = X[i] * X[i]", of="Y", wrt="X")


def test_cli_grad_prints_the_derived_spec_latex_and_code(tmp_path, capsys):
    from tensorc.cli import main
    spec = tmp_path / "layer.tc"
    spec.write_text("Y[i] = tanh(W[i, j] * x[j])\nL = sum(Y[i] * Y[i])\n")
    assert main(["grad", str(spec), "--of", "L", "--wrt", "W"]) == 0
    assert "dW[i, j] = dY[i] * x[j] * (1 - Y[i]**2)" in capsys.readouterr().out
    assert main(["grad", str(spec), "--of", "L", "--wrt", "W", "--latex"]) == 0
    assert r"{dW}_{i,j} = \left(1 - {Y}_{i}^{2}\right) {dY}_{i} {x}_{j}" in capsys.readouterr().out
    assert main(["grad", str(spec), "--of", "L", "--wrt", "W", "--emit"]) == 0
    assert "def program(" in capsys.readouterr().out
    assert main(["grad", str(spec), "--of", "Q", "--wrt", "W"]) == 1
    assert "of='Q' is not assigned" in capsys.readouterr().err


@pytest.mark.parametrize("size, batch, channels, form", [
    (32, 2, 3, "gather"), (8, 64, 32, "strided adds"), (8, 2, 3, "gather")])
def test_convolution_input_gradient_runs_as_the_cheaper_of_scatter_and_gather(
        size, batch, channels, form):
    """Large images: a gather (full correlation with the flipped kernel) wastes little on
    the zero padding; small ones: the scatter's strided adds do less work, unless there
    is so little work that one GEMM beats nine strided adds of call overhead."""
    g = tc.grad("Y[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b]", of="Y", wrt=["X"])
    assert "dX[n, c, i + a, j + b] += dY[n, o, i, j] * W[o, c, a, b]" in g.spec   # as written
    out, shapes = size - 2, ((batch, channels, size, size), (channels, channels, 3, 3))
    plan = str(g.plan_for(X=shapes[0], W=shapes[1], dY=(batch, channels, out, out)))
    assert f"the scatter runs as {'a gather' if form == 'gather' else form}" in plan
    assert ("dY[n, o, i2 - a, j2 - b]" in plan) == (form == "gather")
    X, W, dY = normal(*shapes[0]), normal(*shapes[1]), normal(batch, channels, out, out)
    expected = torch.nn.grad.conv2d_input(X.shape, torch.tensor(W), torch.tensor(dY))
    np.testing.assert_allclose(g(X=X, W=W, dY=dY)["dX"], expected.numpy(), rtol=1e-11,
                               atol=1e-12)     # sums of ~300 terms of size ~1: round-off


def test_factored_hessian_leaves_out_the_delta():
    src = "L = sum((U[m, k] * V[n, k] - Y[m, n])**2)"
    h = tc.hessian(src, of="L", wrt="U", factored=True)
    assert "H[k, k2] = 2 * V[n, k] * V[n, k2]" in h.spec.splitlines()
    assert h.expansion == "H[m, k, m2, k2] = delta(m, m2) * H[k, k2]"
    arrays = dict(U=normal(3, 2), V=normal(4, 2), Y=normal(3, 4))
    factor = h(**arrays)["H"]
    dense = tc.hessian(src, of="L", wrt="U")(**arrays)["H"]
    np.testing.assert_allclose(np.einsum("ac,bd->abcd", np.eye(3), factor), dense, rtol=1e-12)


def test_cotangent_that_no_derived_statement_reads():
    # found by fuzzing: d/dX (X - X) simplifies to 0, so no statement reads dY, and binding
    # its `like Y` shape failed with KeyError: 'dY'
    g = tc.grad("Y[i] = X[i] - X[i]", of="Y", wrt="X")
    assert g.inputs == ("dY", "X")
    np.testing.assert_array_equal(g(X=np.ones(3), dY=np.ones(3))["dX"], np.zeros(3))
    with pytest.raises(tc.ShapeError, match="dY dimension 0 has size 4, but dY is declared "
                                            "like Y, which gives size 3"):
        g(X=np.ones(3), dY=np.ones(4))


@pytest.mark.parametrize("src, shapes", [
    ("Z[i] = X[i + a] - W[a]", {"X": (5,), "W": (2,)}),
    ("Z[i] = X[i + a] - W[a]   where i in 0:4", {"X": (4,), "W": (2,)}),
    ("Z[i] = X[2*i + a] + W[a]   where i in 0:3", {"X": (4,), "W": (2,)}),
    ("Z[i] = tanh(X[i + a - 1]) - W[a]   where i in 0:4", {"X": (4,), "W": (3,)}),
    ("Z[i] = X[i + a] * W[a] + X[i + a]   where i in 0:4", {"X": (4,), "W": (2,)}),
    ("Z[n, o] = sum(X[n, c, i + a] * K[o, c, a] + B[o])", {"X": (2, 3, 5), "K": (4, 3, 2),
                                                           "B": (4,)}),
])
def test_index_sized_by_a_read_the_gradient_loses(src, shapes):
    """In ``Z[i] = X[i + a] - W[a]`` only ``W[a]`` says how far ``a`` runs; ``dX[i + a] +=
    dZ[i]`` keeps no such read, so it must say ``where a in 0:W0`` (it inferred a range from
    its left side instead: dX was 0, or partly wrong, with no error). Found by fuzzing."""
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal(s) for k, s in shapes.items()}
    forward = tc.compile(src)
    out = forward(**arrays)["Z"]
    cotangent = rng.standard_normal(out.shape)
    grads = tc.grad(src, of="Z", wrt=list(shapes))(**arrays, dZ=cotangent)
    for name in shapes:
        expected = numeric_vjp(lambda a: forward(**a)["Z"], arrays, name, cotangent)
        np.testing.assert_allclose(grads[f"d{name}"], expected, rtol=1e-6, atol=1e-8)
