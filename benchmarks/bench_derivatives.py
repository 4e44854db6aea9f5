"""Derivative benchmark (issue 3): tc.grad / tc.jacobian / tc.hessian beside PyTorch CPU,
hand-written NumPy and JAX CPU, all in one process, one thread each.

Run: python benchmarks/bench_derivatives.py          (about 5 minutes on 2 cores)
     python benchmarks/bench_derivatives.py 1 4      (only cases 1 and 4)

Every case first checks that tensorc's numbers agree with the anchor, then times the
implementations round-robin (one call of each per round, so a busy neighbour on a shared
machine slows all of them alike) and reports the median of the rounds after one warm-up
call. Prints markdown tables; the results are recorded in BENCHMARKS.md.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_cpu_multi_thread_eigen=false").strip()

import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

import tensorc as tc
import tensorc.compiler
import tensorc.derive

torch.set_num_threads(1)
try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - reported in the output
    jax = jnp = None

F32 = np.float32
LR = 0.01
RESULTS = []           # (case, what, ms or None, note)
TABLES = []            # lines of the markdown tables, printed after the checks


# ----------------------------------------------------------------------------- helpers
def bench(fns, rounds, warmup=1, slow=(), slow_rounds=2):
    """Median milliseconds per function, timed round-robin after ``warmup`` calls each;
    the functions named in ``slow`` (already warmed up by their check) take part in only
    the first ``slow_rounds`` rounds."""
    for name, fn in fns.items():
        for _ in range(0 if name in slow else warmup):
            fn()
    times = {name: [] for name in fns}
    for r in range(rounds):
        for name, fn in fns.items():
            if name in slow and r >= slow_rounds:
                continue
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def rel_err(got, want):
    """max |got - want| / max |want|."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def check(label, got, want, tol):
    err = rel_err(got, want)
    status = "ok" if err <= tol else "MISMATCH"
    print(f"  check {label}: max rel err {err:.1e} (tol {tol:g}) {status}")
    if err > tol:
        raise AssertionError(f"{label}: max rel err {err:.1e} > {tol:g}")
    return err


def spec_lines(prog, *starts):
    lines = [ln for ln in prog.spec.splitlines() if ln.startswith(starts)]
    for ln in lines:
        print("  spec:", ln)
    return lines


def jit_block(fn):
    compiled = jax.jit(fn)
    return lambda *a: compiled(*a).block_until_ready()


def row(cells):
    TABLES.append("| " + " | ".join(cells) + " |")


def ratio(a, b):
    return f"{a / b:.2f}x"


def header(title, columns):
    print(f"\n{title}")
    TABLES.extend(["", f"### {title}", ""])
    row(columns)
    row(["---"] * len(columns))


# ------------------------------------------------------------------- case 1: training
TWO_CONV = """
Z1[n, o, i, j] = X[n, c, i + a, j + b] * W1[o, c, a, b] + B1[o]
P1[n, o, i, j] = max(relu(Z1[n, o, 2*i + p, 2*j + q]))   where p < 2, q < 2
Z2[n, o, i, j] = P1[n, c, i + a, j + b] * W2[o, c, a, b] + B2[o]
P2[n, o, i, j] = max(relu(Z2[n, o, 2*i + p, 2*j + q]))   where p < 2, q < 2
H3[n, h] = relu(P2[n, c, i, j] * W3[h, c, i, j] + B3[h])
F[n, k] = H3[n, h] * W4[k, h] + B4[k]
M[n] = max(F[n, k])
Lse[n] = log(sum(exp(F[n, k] - M[n]))) + M[n]
L = mean(Lse[n] - T[n, k] * F[n, k])
"""
TWO_CONV_WRT = ["W1", "B1", "W2", "B2", "W3", "B3", "W4", "B4"]
TWO_CONV_SHAPES = {"W1": (32, 1, 5, 5), "B1": (32,), "W2": (64, 32, 5, 5), "B2": (64,),
                   "W3": (100, 64, 4, 4), "B3": (100,), "W4": (10, 100), "B4": (10,)}

LENET = """
C1[n, o, i, j] = X[n, c, i + a, j + b] * W1[o, c, a, b] + B1[o]
S2[n, c, i, j] = mean(1.7159 * tanh(2 / 3 * C1[n, c, 2*i + p, 2*j + q]))   where p < 2, q < 2
C3[n, o, i, j] = S2[n, c, i + a, j + b] * W3[o, c, a, b] + B3[o]
S4[n, c, i, j] = mean(1.7159 * tanh(2 / 3 * C3[n, c, 2*i + p, 2*j + q]))   where p < 2, q < 2
C5[n, o] = 1.7159 * tanh(2 / 3 * (S4[n, c, a, b] * W5[o, c, a, b] + B5[o]))
F6[n, o] = 1.7159 * tanh(2 / 3 * (C5[n, i] * W6[o, i] + B6[o]))
F[n, k] = F6[n, h] * W7[k, h] + B7[k]
M[n] = max(F[n, k])
Lse[n] = log(sum(exp(F[n, k] - M[n]))) + M[n]
L = mean(Lse[n] - T[n, k] * F[n, k])
"""
LENET_WRT = ["W1", "B1", "W3", "B3", "W5", "B5", "W6", "B6", "W7", "B7"]


def init(shapes, rng):
    """He-style normal weights, small biases, float32."""
    params = {}
    for name, shape in shapes.items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 10
        scale = np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.1
        params[name] = (rng.standard_normal(shape) * scale).astype(F32)
    return params


def torch_two_conv(t, x, labels):
    fn = torch.nn.functional
    h = fn.max_pool2d(fn.relu(fn.conv2d(x, t["W1"], t["B1"])), 2)
    h = fn.max_pool2d(fn.relu(fn.conv2d(h, t["W2"], t["B2"])), 2)
    h = fn.relu(fn.linear(h.flatten(1), t["W3"].flatten(1), t["B3"]))
    return fn.cross_entropy(fn.linear(h, t["W4"], t["B4"]), labels)


def torch_lenet(t, x, labels):
    fn = torch.nn.functional

    def act(v):
        return 1.7159 * torch.tanh(2 / 3 * v)

    h = fn.avg_pool2d(act(fn.conv2d(x, t["W1"], t["B1"])), 2)
    h = fn.avg_pool2d(act(fn.conv2d(h, t["W3"], t["B3"])), 2)
    h = act(fn.conv2d(h, t["W5"], t["B5"])).flatten(1)
    h = act(fn.linear(h, t["W6"], t["B6"]))
    return fn.cross_entropy(fn.linear(h, t["W7"], t["B7"]), labels)


def windows(x, k):
    """NHWC input -> (N*OH*OW, k*k*C) im2col matrix, columns ordered (a, b, c)."""
    n, h, w, c = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # n i j c a b
    oh, ow = h - k + 1, w - k + 1
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, k * k * c), (n, oh, ow)


def pool_forward(r):
    """2x2 max-pool of NHWC ``r``; the mask marks the winners."""
    n, h, w, c = r.shape
    v = r.reshape(n, h // 2, 2, w // 2, 2, c)
    p = v.max(axis=(2, 4))
    return p, v == p[:, :, None, :, None, :]


def numpy_two_conv(params, x_nchw, onehot):
    """Hand-written forward and backward of the two-conv network: NHWC, im2col + BLAS
    matmul, max-pool by reshape, col2im by 25 strided adds. Returns (loss, grads)."""
    w1, b1, w2, b2 = params["W1"], params["B1"], params["W2"], params["B2"]
    w3, b3, w4, b4 = params["W3"], params["B3"], params["W4"], params["B4"]
    x = x_nchw.transpose(0, 2, 3, 1)
    cols1, (n, h1, v1) = windows(x, 5)
    m1 = w1.transpose(2, 3, 1, 0).reshape(-1, w1.shape[0])
    z1 = (cols1 @ m1 + b1).reshape(n, h1, v1, -1)
    p1, mask1 = pool_forward(np.maximum(z1, 0))
    cols2, (_, h2, v2) = windows(p1, 5)
    m2 = w2.transpose(2, 3, 1, 0).reshape(-1, w2.shape[0])
    z2 = (cols2 @ m2 + b2).reshape(n, h2, v2, -1)
    p2, mask2 = pool_forward(np.maximum(z2, 0))
    flat = p2.reshape(n, -1)                                       # (i, j, c) order
    m3 = w3.transpose(2, 3, 1, 0).reshape(-1, w3.shape[0])
    a3 = flat @ m3 + b3
    h3 = np.maximum(a3, 0)
    f = h3 @ w4.T + b4
    e = np.exp(f - f.max(axis=1, keepdims=True))
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0]) + f.max(axis=1) - (onehot * f).sum(axis=1)))
    df = (e / s - onehot) / n
    g = {"W4": df.T @ h3, "B4": df.sum(axis=0)}
    da3 = (df @ w4) * (a3 > 0)
    g["W3"] = (flat.T @ da3).reshape(p2.shape[1], p2.shape[2], p2.shape[3], -1).transpose(3, 2, 0, 1)
    g["B3"] = da3.sum(axis=0)
    dp2 = (da3 @ m3.T).reshape(p2.shape)
    dz2 = (mask2 * dp2[:, :, None, :, None, :]).reshape(z2.shape) * (z2 > 0)
    dz2m = dz2.reshape(-1, dz2.shape[-1])
    g["W2"] = (cols2.T @ dz2m).reshape(5, 5, w2.shape[1], -1).transpose(3, 2, 0, 1)
    g["B2"] = dz2m.sum(axis=0)
    dcols = (dz2m @ m2.T).reshape(n, h2, v2, 5, 5, -1)
    dp1 = np.zeros(p1.shape, F32)
    for a in range(5):
        for b in range(5):
            dp1[:, a:a + h2, b:b + v2, :] += dcols[:, :, :, a, b, :]
    dz1 = (mask1 * dp1[:, :, None, :, None, :]).reshape(z1.shape) * (z1 > 0)
    dz1m = dz1.reshape(-1, dz1.shape[-1])
    g["W1"] = (cols1.T @ dz1m).reshape(5, 5, w1.shape[1], -1).transpose(3, 2, 0, 1)
    g["B1"] = dz1m.sum(axis=0)
    return loss, g


def training_row(name, src, wrt, shapes, torch_fn, x_shape, numpy_fn, rng, rounds):
    x = rng.standard_normal(x_shape).astype(F32)
    labels = rng.integers(0, 10, x_shape[0])
    onehot = np.eye(10, dtype=F32)[labels]
    start = time.perf_counter()
    derived = tc.grad(src, of="L", wrt=wrt)
    derive_s = time.perf_counter() - start
    params = init(shapes, rng)
    start = time.perf_counter()
    out = derived(X=x, T=onehot, **params)
    first_s = time.perf_counter() - start
    print(f"  {name}: tc.grad {derive_s:.2f} s, first call {first_s:.2f} s (cold process)")
    spec_lines(derived, "dW1[", "dZ1[", "dP1[", "dC1[", "dS2[")

    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt, lt = torch.from_numpy(x), torch.from_numpy(labels)
    loss = torch_fn(tparams, xt, lt)
    loss.backward()
    check(f"{name} loss vs torch", out["L"], loss.item(), 1e-4)
    worst = max(check(f"{name} d{k} vs torch", out[f"d{k}"], tparams[k].grad.numpy(), 1e-3)
                for k in wrt)
    if numpy_fn is not None:
        _, ngrads = numpy_fn(params, x, onehot)
        for k in wrt:
            check(f"{name} numpy d{k} vs torch", ngrads[k], tparams[k].grad.numpy(), 1e-3)

    tc_params = {k: v.copy() for k, v in params.items()}
    np_params = {k: v.copy() for k, v in params.items()}

    def tc_step():
        grads = derived(X=x, T=onehot, **tc_params)
        for k in wrt:
            tc_params[k] -= LR * grads[f"d{k}"]

    def torch_step():
        for p in tparams.values():
            p.grad = None
        torch_fn(tparams, xt, lt).backward()
        with torch.no_grad():
            for p in tparams.values():
                p.add_(p.grad, alpha=-LR)

    def numpy_step():
        _, grads = numpy_fn(np_params, x, onehot)
        for k in wrt:
            np_params[k] -= LR * grads[k]

    fns = {"tensorc": tc_step, "torch": torch_step}
    if numpy_fn is not None:
        fns["numpy"] = numpy_step
    ms = bench(fns, rounds)
    np_ms = ms.get("numpy")
    row([name, f"{ms['tensorc']:.1f}", f"{ms['torch']:.1f}", ratio(ms["tensorc"], ms["torch"]),
         f"{np_ms:.1f}" if np_ms else "-", ratio(ms["tensorc"], np_ms) if np_ms else "-",
         f"{worst:.0e}"])
    return ms, derive_s + first_s


def case_training(rng):
    header("1. Training step (forward + backward + SGD), float32, batch 128",
           ["network", "tensorc ms", "PyTorch eager ms", "tensorc/PyTorch",
            "hand NumPy ms", "tensorc/NumPy", "grad max rel err vs torch"])
    lenet = {"W1": (6, 1, 5, 5), "B1": (6,), "W3": (16, 6, 5, 5), "B3": (16,),
             "W5": (120, 16, 5, 5), "B5": (120,), "W6": (84, 120), "B6": (84,),
             "W7": (10, 84), "B7": (10,)}
    ms2, cold = training_row("two-conv MNIST (1x28x28)", TWO_CONV, TWO_CONV_WRT, TWO_CONV_SHAPES,
                             torch_two_conv, (128, 1, 28, 28), numpy_two_conv, rng, 15)
    ms5, _ = training_row("LeNet-5 (1x32x32)", LENET, LENET_WRT, lenet, torch_lenet,
                          (128, 1, 32, 32), None, rng, 15)
    RESULTS.append(("1", "two-conv step tensorc/PyTorch", ms2["tensorc"] / ms2["torch"],
                    "target <= 1.0"))
    RESULTS.append(("1", "LeNet-5 step tensorc/PyTorch", ms5["tensorc"] / ms5["torch"],
                    "target <= 1.1"))
    return cold


# ------------------------------------------------------- case 2: dense-layer Jacobian
def case_dense_jacobian(rng):
    header("2. Jacobian of Y[i] = tanh(W[i, j] * x[j]) wrt x, float32",
           ["n", "tensorc ms", "NumPy closed form ms", "tensorc/NumPy", "JAX jacrev (jit) ms",
            "tensorc/JAX"])
    J = tc.jacobian("Y[i] = tanh(W[i, j] * x[j])", of="Y", wrt="x")
    spec_lines(J, "J[")
    jac = jit_block(jax.jacrev(lambda w, v: jnp.tanh(w @ v), argnums=1)) if jax else None
    for n in (2000, 4000):
        W = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(F32)
        x = rng.standard_normal(n).astype(F32)

        def closed(W=W, x=x):
            y = np.tanh(W @ x)
            return (1 - y ** 2)[:, None] * W

        want = closed()
        check(f"n={n} tensorc vs closed form", J(W=W, x=x)["J"], want, 1e-5)
        fns = {"tensorc": lambda W=W, x=x: J(W=W, x=x), "numpy": closed}
        if jac:
            check(f"n={n} JAX vs closed form", np.asarray(jac(W, x)), want, 1e-5)
            fns["jax"] = lambda W=W, x=x: jac(W, x)
        ms = bench(fns, 21 if n == 2000 else 11, slow={"jax"}, slow_rounds=3)
        row([str(n), f"{ms['tensorc']:.1f}", f"{ms['numpy']:.1f}",
             ratio(ms["tensorc"], ms["numpy"]),
             f"{ms['jax']:.1f}" if jac else "-", ratio(ms["tensorc"], ms["jax"]) if jac else "-"])
        RESULTS.append(("2", f"dense Jacobian n={n} tensorc/NumPy",
                        ms["tensorc"] / ms["numpy"], "target <= 1.2"))


# -------------------------------------------------- case 3: matrix-factorisation Hessian
def case_mf_hessian(rng):
    header("3. Hessian in U of L = sum((U[m, k] * V[n, k] - Y[m, n])**2), m = n = 400, "
           "k = 20, float32 (H is 400x20x400x20, 256 MB)",
           ["tensorc ms", "NumPy einsum('ab,nk,nl->akbl') ms", "tensorc/einsum",
            "NumPy zeros + diagonal blocks ms", "tensorc/blocks", "JAX hessian (jit) ms",
            "tensorc/JAX"])
    src = "L = sum((U[m, k] * V[n, k] - Y[m, n])**2)"
    H = tc.hessian(src, of="L", wrt="U")
    spec_lines(H, "H[")
    m, k = 400, 20
    U = rng.standard_normal((m, k)).astype(F32)
    V = rng.standard_normal((m, k)).astype(F32)
    Y = rng.standard_normal((m, m)).astype(F32)
    eye = np.eye(m, dtype=F32)

    def einsum():
        return 2 * np.einsum("ab,nk,nl->akbl", eye, V, V, optimize=True)

    def blocks():
        out = np.zeros((m, k, m, k), F32)
        idx = np.arange(m)
        out[idx, :, idx, :] = 2 * (V.T @ V)
        return out

    want = blocks()
    check("tensorc vs NumPy", H(U=U, V=V, Y=Y)["H"], want, 1e-5)
    check("einsum vs blocks", einsum(), want, 1e-5)
    fns = {"tensorc": lambda: H(U=U, V=V, Y=Y), "einsum": einsum, "blocks": blocks}
    if jax:
        hess = jit_block(jax.hessian(lambda u, v, y: jnp.sum((u @ v.T - y) ** 2)))
        check("JAX vs NumPy", np.asarray(hess(U, V, Y)), want, 1e-4)
        fns["jax"] = lambda: hess(U, V, Y)
    ms = bench(fns, 9, slow={"jax"}, slow_rounds=2)
    jx = ms.get("jax")
    row([f"{ms['tensorc']:.1f}", f"{ms['einsum']:.1f}", ratio(ms["tensorc"], ms["einsum"]),
         f"{ms['blocks']:.1f}", ratio(ms["tensorc"], ms["blocks"]),
         f"{jx:.1f}" if jx else "-", ratio(ms["tensorc"], jx) if jx else "-"])
    RESULTS.append(("3", "MF Hessian tensorc/NumPy einsum", ms["tensorc"] / ms["einsum"], ""))
    RESULTS.append(("3", "MF Hessian tensorc/NumPy blocks", ms["tensorc"] / ms["blocks"], ""))
    factored = tc.hessian(src, of="L", wrt="U", factored=True)
    spec_lines(factored, "H[")
    print(f"  expansion: {factored.expansion}")
    check("factored vs NumPy", factored(U=U, V=V, Y=Y)["H"], 2 * (V.T @ V), 1e-5)
    fast = bench({"factored": lambda: factored(U=U, V=V, Y=Y)}, 51)["factored"]
    print(f"  factored form: {fast:.3f} ms")
    RESULTS.append(("3", "MF Hessian factored ms", fast, "target < 1"))


# ------------------------------------------------------- case 4: convolution Jacobian
def case_conv_jacobian(rng):
    header("4. Input Jacobian of a valid 3x3 convolution, C = 8, 32x32, O = 16, batch 1, "
           "float32 (J is 1x16x30x30x1x8x32x32, 472 MB)",
           ["tensorc ms", "JAX jacfwd (jit) ms", "JAX/tensorc",
            "torch jacobian (vectorize=True) ms", "torch/tensorc"])
    src = "Y[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b]"
    J = tc.jacobian(src, of="Y", wrt="X")
    spec_lines(J, "J[")
    X = rng.standard_normal((1, 8, 32, 32)).astype(F32)
    W = rng.standard_normal((16, 8, 3, 3)).astype(F32)
    Wt = torch.from_numpy(W)

    def torch_jac():
        return torch.autograd.functional.jacobian(
            lambda v: torch.nn.functional.conv2d(v, Wt), torch.from_numpy(X), vectorize=True)

    got = J(X=X, W=W)["J"]
    want = torch_jac().numpy()
    check("tensorc vs torch", got, want, 1e-6)
    del want
    fns = {"tensorc": lambda: J(X=X, W=W), "torch": torch_jac}
    if jax:
        def conv(v, w):
            return jax.lax.conv_general_dilated(v, w, (1, 1), "VALID")
        jac = jit_block(jax.jacfwd(conv))
        check("JAX vs tensorc", np.asarray(jac(X, W)), got, 1e-5)
        fns["jax"] = lambda: jac(X, W)
    del got
    ms = bench(fns, 5, slow={"jax", "torch"}, slow_rounds=3)
    jx = ms.get("jax")
    row([f"{ms['tensorc']:.1f}", f"{jx:.1f}" if jx else "-",
         ratio(jx, ms["tensorc"]) if jx else "-", f"{ms['torch']:.1f}",
         ratio(ms["torch"], ms["tensorc"])])
    if jx:
        RESULTS.append(("4", "conv Jacobian speed-up over JAX jacfwd", jx / ms["tensorc"],
                        "target >= 5"))


# ------------------------------------------------------------ case 5: MLP Hessian
def case_mlp_hessian(rng):
    h, i, o = 40, 25, 10
    header(f"5. Hessian in W1 of a 2-layer tanh MLP, W1 {h}x{i} (n = {h * i} parameters, "
           f"H {h * i}x{h * i}), W2 {o}x{h}, float32",
           ["tensorc ms", "hand-derived NumPy ms", "tensorc/NumPy", "JAX hessian (jit) ms",
            "tensorc/JAX"])
    src = "Hd[h] = tanh(W1[h, i] * x[i])\nY[o] = W2[o, h] * Hd[h]\nL = sum(Y[o] * Y[o])"
    H = tc.hessian(src, of="L", wrt="W1")
    spec_lines(H, "dHd[", "JHd[", "H[")
    W1 = (rng.standard_normal((h, i)) / np.sqrt(i)).astype(F32)
    W2 = (rng.standard_normal((o, h)) / np.sqrt(h)).astype(F32)
    x = rng.standard_normal(i).astype(F32)

    def by_hand():
        # H[h,i,h2,i2] = x_i x_i2 (2 (W2^T W2)[h,h2] s_h s_h2 - 2 delta(h,h2) g_h t_h s_h),
        # t = tanh(W1 x), s = 1 - t^2, g = 2 W2^T y
        t = np.tanh(W1 @ x)
        s = 1 - t * t
        g = 2 * (W2.T @ (W2 @ t))
        A = 2 * (W2.T @ W2) * np.outer(s, s)
        A[np.diag_indices(h)] -= 2 * g * t * s
        return (A[:, None, :, None] * np.outer(x, x)[None, :, None, :]).reshape(h * i, h * i)

    want = by_hand()
    check("tensorc vs hand-derived", H(W1=W1, W2=W2, x=x)["H"].reshape(h * i, h * i), want, 1e-4)
    fns = {"tensorc": lambda: H(W1=W1, W2=W2, x=x), "numpy": by_hand}
    if jax:
        def loss(w1, w2, v):
            return jnp.sum((w2 @ jnp.tanh(w1 @ v)) ** 2)
        hess = jit_block(jax.hessian(loss))
        check("JAX vs hand-derived", np.asarray(hess(W1, W2, x)).reshape(
            h * i, h * i), want, 1e-4)
        fns["jax"] = lambda: hess(W1, W2, x)
    ms = bench(fns, 101)
    jx = ms.get("jax")
    row([f"{ms['tensorc']:.2f}", f"{ms['numpy']:.2f}", ratio(ms["tensorc"], ms["numpy"]),
         f"{jx:.2f}" if jx else "-", ratio(ms["tensorc"], jx) if jx else "-"])
    # the same two without JAX's calls in between (they leave the caches cold for both)
    alone = bench({"tensorc": fns["tensorc"], "numpy": fns["numpy"]}, 301)
    row([f"{alone['tensorc']:.2f} (no JAX between)", f"{alone['numpy']:.2f}",
         ratio(alone["tensorc"], alone["numpy"]), "-", "-"])
    RESULTS.append(("5", "MLP Hessian tensorc/NumPy", ms["tensorc"] / ms["numpy"],
                    "target <= 1.1"))
    RESULTS.append(("5", "MLP Hessian tensorc/NumPy, no JAX between",
                    alone["tensorc"] / alone["numpy"], "target <= 1.1"))


# ------------------------------------------------- case 6: logistic-regression Hessian
def case_logistic_hessian(rng):
    header("6. Hessian in w of logistic regression, X 4000 x 2000, float32",
           ["tensorc ms", "NumPy X.T @ (s(1-s)[:, None] * X) ms", "tensorc/NumPy",
            "JAX hessian (jit) ms", "tensorc/JAX"])
    src = "Z[n] = X[n, d] * w[d]\nL = sum(softplus(Z[n]) - T[n] * Z[n])"
    H = tc.hessian(src, of="L", wrt="w")
    spec_lines(H, "H[")
    X = (rng.standard_normal((4000, 2000)) / np.sqrt(2000)).astype(F32)
    w = rng.standard_normal(2000).astype(F32)
    T = (rng.random(4000) < 0.5).astype(F32)

    def closed():
        s = 1 / (1 + np.exp(-(X @ w)))
        return X.T @ ((s * (1 - s))[:, None] * X)

    want = closed()
    check("tensorc vs closed form", H(X=X, w=w, T=T)["H"], want, 1e-4)
    fns = {"tensorc": lambda: H(X=X, w=w, T=T), "numpy": closed}
    if jax:
        def loss(v, x, t):
            z = x @ v
            return jnp.sum(jax.nn.softplus(z) - t * z)
        hess = jit_block(jax.hessian(loss))
        check("JAX vs closed form", np.asarray(hess(w, X, T)), want, 1e-4)
        fns["jax"] = lambda: hess(w, X, T)
    ms = bench(fns, 7, slow={"jax"}, slow_rounds=3)
    jx = ms.get("jax")
    row([f"{ms['tensorc']:.0f}", f"{ms['numpy']:.0f}", ratio(ms["tensorc"], ms["numpy"]),
         f"{jx:.0f}" if jx else "-", ratio(ms["tensorc"], jx) if jx else "-"])
    RESULTS.append(("6", "logistic Hessian tensorc/NumPy", ms["tensorc"] / ms["numpy"],
                    "target <= 1.0"))


# --------------------------------------------------------------- case 7: compile latency
def mlp_source(layers):
    lines = ["H1[h] = tanh(W1[h, i] * x[i])"]
    for k in range(2, layers):
        lines.append(f"H{k}[h] = tanh(W{k}[h, i] * H{k - 1}[i])")
    lines.append(f"Y[o] = W{layers}[o, h] * H{layers - 1}[h]")
    lines.append("L = sum(Y[o] * Y[o])")
    return "\n".join(lines)


def clear_caches(everything=False):
    tensorc.derive._grad.cache_clear()
    tensorc.derive._hessian.cache_clear()
    tensorc.derive._jacobian.cache_clear()
    tensorc.compiler._compile.cache_clear()
    if everything:   # also the runtime's contraction plans and the symbolic-derivative tables
        from tensorc.derive import calculus
        from tensorc.runtime import contract
        for mod in (contract, calculus):
            for value in vars(mod).values():
                if hasattr(value, "cache_clear"):
                    value.cache_clear()


def case_compile(rng, cold_two_conv):
    header("7. Compile latency (derive + emit + first call that binds shapes), seconds",
           ["program", "derive/compile caches cleared (median of 5)",
            "all tensorc caches cleared (median of 5)", "first time in the process", "target"])
    x = rng.standard_normal((128, 1, 28, 28)).astype(F32)
    onehot = np.eye(10, dtype=F32)[rng.integers(0, 10, 128)]
    params = init(TWO_CONV_SHAPES, rng)

    def two_conv():
        derived = tc.grad(TWO_CONV, of="L", wrt=TWO_CONV_WRT)
        derived(X=x, T=onehot, **params)

    src = mlp_source(8)
    width = 16
    mlp = {f"W{k}": (rng.standard_normal((width, width)) / 4).astype(F32) for k in range(1, 9)}
    mlp["x"] = rng.standard_normal(width).astype(F32)
    mlp_first = {}

    def mlp_derive():
        return tc.hessian(src, of="L", wrt="W1")

    def mlp_with_call():
        mlp_derive()(**mlp)

    def timed(fn, everything):
        times = []
        for _ in range(5):
            clear_caches(everything)
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    start = time.perf_counter()
    H = mlp_derive()
    mlp_first["derive"] = time.perf_counter() - start
    start = time.perf_counter()
    H(**mlp)
    mlp_first["call"] = time.perf_counter() - start
    import torch.autograd.functional as taf
    tm = {k: torch.from_numpy(v) for k, v in mlp.items()}

    def torch_loss(w1):
        h = torch.tanh(w1 @ tm["x"])
        for k in range(2, 8):
            h = torch.tanh(tm[f"W{k}"] @ h)
        return ((tm["W8"] @ h) ** 2).sum()

    check("8-layer MLP Hessian vs torch", H(**mlp)["H"],
          taf.hessian(torch_loss, tm["W1"]).numpy(), 1e-3)
    print(f"  8-layer MLP Hessian program: {len(H.spec.splitlines())} lines")
    t2 = (timed(two_conv, False), timed(two_conv, True))
    td = (timed(mlp_derive, False), timed(mlp_derive, True))
    tw = (timed(mlp_with_call, False), timed(mlp_with_call, True))
    row(["two-conv training program (tc.grad + first call, batch 128)", f"{t2[0]:.2f}",
         f"{t2[1]:.2f}", f"{cold_two_conv:.2f}", "< 0.5 s"])
    row(["8-layer tanh MLP Hessian in W1 (tc.hessian alone)", f"{td[0] * 1e3:.0f} ms",
         f"{td[1] * 1e3:.0f} ms", f"{mlp_first['derive'] * 1e3:.0f} ms", "< 150 ms"])
    row([f"same + first call (width {width}, H {width * width}x{width * width})",
         f"{tw[0] * 1e3:.0f} ms", f"{tw[1] * 1e3:.0f} ms",
         f"{(mlp_first['derive'] + mlp_first['call']) * 1e3:.0f} ms", ""])
    RESULTS.append(("7", "two-conv compile s (derive/compile caches cleared)", t2[0], "target < 0.5"))
    RESULTS.append(("7", "8-layer MLP Hessian derive+compile ms", td[0] * 1e3, "target < 150"))


# ------------------------------------------------------------------------------- main
def machine():
    try:
        model = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(ln.split(":", 1)[1].strip() for ln in model.splitlines()
                     if ln.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    jx = f"jax {jax.__version__} (CPU)" if jax else "JAX not installed"
    return (f"machine: {model}, {os.cpu_count()} cores, no GPU used; one thread per library; "
            f"Python {platform.python_version()}, numpy {np.__version__}, "
            f"torch {torch.__version__}, {jx}")


def main(which):
    print(machine())
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print("command: python benchmarks/bench_derivatives.py " + " ".join(which))
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    cold = float("nan")
    cases = {"1": case_training, "2": case_dense_jacobian, "3": case_mf_hessian,
             "4": case_conv_jacobian, "5": case_mlp_hessian, "6": case_logistic_hessian}
    for key, fn in cases.items():
        if not which or key in which:
            try:
                value = fn(rng)
                if key == "1":
                    cold = value
            except Exception as exc:  # noqa: BLE001 - report it and go on to the next case
                print(f"\nfailed: case {key}: {type(exc).__name__}: {exc}")
                TABLES.append(f"\nfailed: case {key}: {type(exc).__name__}: {exc}")
                RESULTS.append((key, "failed", None, f"{type(exc).__name__}: {exc}"))
    if not which or "7" in which:
        case_compile(rng, cold)
    header("Summary", ["case", "measure", "value", "target", "met"])
    for case, what, value, target in RESULTS:
        met = ""
        if value is not None and target.startswith("target"):
            op, bound = target.split()[1], float(target.split()[2])
            met = "yes" if (value <= bound if op in ("<=", "<") else value >= bound) else "no"
        row([case, what, f"{value:.3g}" if value is not None else "-", target, met])
    print("\n".join(TABLES))
    print("\nload average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
