"""Time tensorc.runtime.contract against torch / opt_einsum / numpy on one core.

Run: ``python benchmarks/bench_contract_runtime.py`` (sets OMP_NUM_THREADS=1 itself).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time

import numpy as np
import opt_einsum
import torch
from numpy.lib.stride_tricks import sliding_window_view

from tensorc.runtime import contract as rc
from tensorc.runtime.contract import contract_pair, einsum

torch.set_num_threads(1)


def best_ms(rows, repeat: int = 25, number: int = 3):
    """Best time of each (name, fn) in ms; the candidates are interleaved so that load from
    other processes on the machine hits all of them alike."""
    for _, fn in rows:
        fn()
    best = [float("inf")] * len(rows)
    for _ in range(repeat):
        for i, (_, fn) in enumerate(rows):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / number)
    return [(name, 1e3 * t) for (name, _), t in zip(rows, best)]


def describe(a, a_axes, b, b_axes, out) -> str:
    """The formulation contract_pair picked: matmul batch/M/N/K and the copies it makes."""
    step = rc._compile(a_axes, b_axes, out, a.shape, a.strides, b.shape, b.strides, a.dtype)
    plan = step.plan
    order = [plan.layout[i] for i in (plan.view_perm or range(len(plan.layout)))]
    sizes = dict(zip(a_axes, a.shape)) | dict(zip(b_axes, b.shape))
    dims = [sizes[x] for x in order]
    shape = plan.view_shape or tuple(dims)
    copies = [name for name, op in (("a", plan.a), ("b", plan.b)) if op.copy]
    return (f"{a_axes},{b_axes}->{out}: matmul out {shape} over letters {''.join(order)} "
            f"(batch..., M, N), copies {copies or 'none'}, "
            f"output transpose {'yes' if plan.out_perm else 'no'}")


def conv_rows(n, c, o, h, k):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h), dtype=np.float32)
    w = rng.standard_normal((o, c, k, k), dtype=np.float32)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    nchw = sliding_window_view(x, (k, k), axis=(2, 3))  # n c i j a b

    def nhwc_view():
        xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        return sliding_window_view(xh, (k, k), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)

    pre = nhwc_view()  # n i j a b c, input already NHWC
    ref = torch.nn.functional.conv2d(xt, wt).numpy()
    checks = {
        "b": contract_pair(nchw, "ncijab", w, "ocab", "noij"),
        "c": contract_pair(pre, "nijabc", w, "ocab", "noij"),
    }
    for key, got in checks.items():
        np.testing.assert_allclose(got, ref, rtol=2e-3, atol=2e-3, err_msg=key)
    rows = [
        ("(a) torch conv2d", lambda: torch.nn.functional.conv2d(xt, wt)),
        ("(b) contract_pair NCHW window", lambda: contract_pair(nchw, "ncijab", w, "ocab", "noij")),
        ("(c) contract_pair NHWC window (input already NHWC)",
         lambda: contract_pair(pre, "nijabc", w, "ocab", "noij")),
        ("(c') NCHW->NHWC transpose + contract_pair",
         lambda: contract_pair(nhwc_view(), "nijabc", w, "ocab", "noij")),
        ("(d) opt_einsum.contract NCHW window",
         lambda: opt_einsum.contract("ncijab,ocab->noij", nchw, w)),
        ("(e) np.tensordot NCHW window + transpose",
         lambda: np.ascontiguousarray(
             np.tensordot(nchw, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2))),
    ]
    print("  plan (b):", describe(nchw, "ncijab", w, "ocab", "noij"))
    print("  plan (c):", describe(pre, "nijabc", w, "ocab", "noij"))
    return best_ms(rows)


def chain_rows():
    rng = np.random.default_rng(0)
    shapes = [(8, 512), (512, 8), (8, 512), (512, 64)]
    ops = [rng.standard_normal(s) for s in shapes]
    eq = "ij,jk,kl,lm->im"
    np.testing.assert_allclose(einsum(eq, *ops), ops[0] @ ops[1] @ ops[2] @ ops[3], rtol=1e-9)
    expr = opt_einsum.contract_expression(eq, *shapes)
    return best_ms([
        ("tensorc einsum", lambda: einsum(eq, *ops)),
        ("opt_einsum.contract", lambda: opt_einsum.contract(eq, *ops)),
        ("opt_einsum contract_expression", lambda: expr(*ops)),
        ("a@b@c@d", lambda: ops[0] @ ops[1] @ ops[2] @ ops[3]),
        ("(a@b)@(c@d)", lambda: (ops[0] @ ops[1]) @ (ops[2] @ ops[3])),
        ("np.einsum(optimize=True)", lambda: np.einsum(eq, *ops, optimize=True)),
    ], number=200)


def show(rows) -> None:
    base = rows[0][1]
    for name, ms in rows:
        value, unit = (ms * 1e3, "us") if ms < 0.1 else (ms, "ms")
        print(f"  {name:<52s} {value:9.3f} {unit}   x{ms / base:5.2f}")


if __name__ == "__main__":
    print("conv 5x5 32->64, 12x12, N=128, float32 (ratios to torch)")
    show(conv_rows(128, 32, 64, 12, 5))
    print("conv 5x5 1->32, 28x28, N=128, float32 (ratios to torch)")
    show(conv_rows(128, 1, 32, 28, 5))
    print("chain ij,jk,kl,lm->im (8,512),(512,8),(8,512),(512,64) float64 (ratios to tensorc)")
    show(chain_rows())
