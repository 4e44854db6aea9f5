"""Time tensorc.runtime.contract against torch / opt_einsum / numpy on one core.

Run: ``python benchmarks/bench_contract_runtime.py`` (sets OMP_NUM_THREADS=1 itself).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402
import opt_einsum  # noqa: E402
import torch  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from tensorc.runtime.contract import contract_pair, einsum  # noqa: E402

torch.set_num_threads(1)


def best_ms(fn, repeat: int = 15, number: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return 1e3 * min(times)


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
    return [(name, best_ms(fn)) for name, fn in rows]


def chain_rows():
    rng = np.random.default_rng(0)
    shapes = [(8, 512), (512, 8), (8, 512), (512, 64)]
    ops = [rng.standard_normal(s) for s in shapes]
    eq = "ij,jk,kl,lm->im"
    np.testing.assert_allclose(einsum(eq, *ops), ops[0] @ ops[1] @ ops[2] @ ops[3], rtol=1e-9)
    expr = opt_einsum.contract_expression(eq, *shapes)
    return [
        ("tensorc einsum", best_ms(lambda: einsum(eq, *ops), number=200)),
        ("opt_einsum.contract", best_ms(lambda: opt_einsum.contract(eq, *ops), number=200)),
        ("opt_einsum contract_expression", best_ms(lambda: expr(*ops), number=200)),
        ("a@b@c@d", best_ms(lambda: ops[0] @ ops[1] @ ops[2] @ ops[3], number=200)),
        ("np.einsum(optimize=True)", best_ms(lambda: np.einsum(eq, *ops, optimize=True),
                                             number=50)),
    ]


def show(title, rows, ref=None):
    print(f"\n{title}")
    base = rows[0][1] if ref is None else ref
    for name, ms in rows:
        print(f"  {name:<55s} {ms * 1e3 if ms < 0.1 else ms:9.3f} {'us' if ms < 0.1 else 'ms'}"
              f"   x{ms / base:5.2f}")


if __name__ == "__main__":
    show("conv 5x5 32->64, 12x12, N=128, float32", conv_rows(128, 32, 64, 12, 5))
    show("conv 5x5 1->32, 28x28, N=128, float32", conv_rows(128, 1, 32, 28, 5))
    show("matrix chain ij,jk,kl,lm->im (8,512),(512,8),(8,512),(512,64) float64", chain_rows())
