"""Hypothesis strategies for whole programs, shared by the test modules that check
derived programs (against finite differences) and backends (against the NumPy backend)."""
from hypothesis import strategies as st

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


ACTIVATIONS = {"tanh": "tanh", "sigmoid": "sigmoid", "softplus": "nn.functional.softplus",
               "sin": "sin"}


@st.composite
def mlp_programs(draw):
    """Random dense networks (1-3 layers, random activations, optional biases and batch),
    their weights the tensors to differentiate: (spec, shapes, torch expression of L)."""
    depth, batched = draw(st.integers(1, 3)), draw(st.booleans())
    sizes = [draw(st.integers(1, 4)) for _ in range(depth + 2)]
    n = "n, " if batched else ""
    lines, torch_h, shapes = [], "x", {"x": ((2,) if batched else ()) + (sizes[0],)}
    previous = "x"
    for k in range(1, depth + 1):
        fn = draw(st.sampled_from(sorted(ACTIVATIONS)))
        bias = draw(st.booleans())
        shapes[f"W{k}"] = (sizes[k], sizes[k - 1])
        lines.append(f"H{k}[{n}h] = {fn}(W{k}[h, i] * {previous}[{n}i]"
                     + (f" + B{k}[h])" if bias else ")"))
        torch_h = f"torch.{ACTIVATIONS[fn]}(({torch_h}) @ W{k}.T" + (f" + B{k})" if bias else ")")
        if bias:
            shapes[f"B{k}"] = (sizes[k],)
        previous = f"H{k}"
    shapes["V"] = (sizes[-1], sizes[-2])
    lines.append(f"Y[{n}o] = V[o, h] * {previous}[{n}h]")
    lines.append(f"L = sum(Y[{n}o] * Y[{n}o])")
    return "\n".join(lines), shapes, f"((({torch_h}) @ V.T) ** 2).sum()"


@st.composite
def scatter_programs(draw):
    """A transposed convolution written as a `+=` scatter (stride, taps, shift), into a
    tensor it creates or a declared one (plain, or through a boundary wrapper), under a
    random function: (spec of L, shapes)."""
    stride, taps, size = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 5))
    shift, mode = draw(st.integers(0, 2)), draw(st.sampled_from(MODES + ["declared"]))
    fn = draw(st.sampled_from(FUNCTIONS))
    out = (size - 1) * stride + taps
    index = f"{stride}*i + a - {shift}"
    lines = []
    if mode:
        lines.append(f"output S[3, {out}]")
        index = index if mode == "declared" else f"{mode}({index})"
    else:
        index = f"{stride}*i + a"     # created by +=: just large enough, from 0
    lines += [f"S[o, {index}] += X[c, i] * K[o, c, a]",
              f"Y[o, j] = {fn.format(*['S[o, j]'] * fn.count('{}'))}",
              "L = sum(Y[o, j] * C[o, j])"]
    return "\n".join(lines), dict(X=(2, size), K=(3, 2, taps), C=(3, out))


@st.composite
def conv2d_programs(draw):
    """2-D convolutions (stride, dilation, padding and boundary mode per axis) under a
    random function, then 2 x 2 pooling (max, min, mean, sum) or a square, into L."""
    axes = [tuple(draw(st.integers(*r)) for r in ((1, 2), (1, 2), (1, 3), (0, 1)))
            for _ in range(2)]                          # stride, dilation, taps, padding
    modes = [draw(st.sampled_from(MODES)) for _ in range(2)]
    sizes = [draw(st.integers(taps * dil + 1, 7)) for _, dil, taps, _ in axes]
    outs = [(n + 2 * pad - (taps - 1) * dil - 1) // s + 1
            for n, (s, dil, taps, pad) in zip(sizes, axes)]
    index = [f"{s}*{i} + {dil}*{a} - {pad}" for (s, dil, _, pad), i, a in zip(axes, "ij", "ab")]
    index = [f"{m}({e})" if m else e for m, e in zip(modes, index)]
    body = f"(X[n, c, {index[0]}, {index[1]}] * W[o, c, a, b] + B[o])"
    fn = draw(st.sampled_from(FUNCTIONS))
    lines = [f"Z[n, o, i, j] = {fn.format(*[body] * fn.count('{}'))}   "
             f"where i in 0:{outs[0]}, j in 0:{outs[1]}"]
    reduction = draw(st.sampled_from(["max", "min", "mean", "sum", "none"]))
    if reduction != "none" and min(outs) >= 2:
        lines.append(f"P[n, o, i, j] = {reduction}(Z[n, o, 2*i + p, 2*j + q])   "
                     "where p < 2, q < 2")
    else:
        lines.append("P[n, o, i, j] = Z[n, o, i, j] * Z[n, o, i, j]")
    lines.append("L = sum(P[n, o, i, j] * P[n, o, i, j])")
    shapes = dict(X=(2, 2, *sizes), W=(2, 2, axes[0][2], axes[1][2]), B=(2,))
    return "\n".join(lines), shapes
