"""Forward-pass benchmark: tensorc beside PyTorch CPU and a naive np.einsum, in one run.

Run: python benchmarks/bench_forward.py   (single thread; set THREADS=2 for two)
Prints a markdown table; results are recorded in BENCHMARKS.md.
"""
import os

THREADS = os.environ.get("THREADS", "1")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = THREADS

import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import opt_einsum  # noqa: E402
import torch  # noqa: E402

import tensorc as tc  # noqa: E402

torch.set_num_threads(int(THREADS))
CONV = tc.compile("Z[n, o, i, j] = X[n, c, i + a, j + b] * W[o, c, a, b]")
CHAIN = tc.compile("Y[i, m] = A[i, j] * B[j, k] * C[k, l] * D[l, m]")


def best_ms(fn, repeat=7):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def conv_row(name, n, c, h, o, k, naive=True):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h), dtype=np.float32)
    w = rng.standard_normal((o, c, k, k), dtype=np.float32)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    ours = best_ms(lambda: CONV(X=x, W=w))
    ref = best_ms(lambda: torch.nn.functional.conv2d(xt, wt))
    window = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
    slow = best_ms(lambda: np.einsum("ncijab,ocab->noij", window, w, optimize=False),
                   repeat=1) if naive else float("nan")
    got = CONV(X=x, W=w)["Z"]
    err = float(np.abs(got - torch.nn.functional.conv2d(xt, wt).numpy()).max())
    return f"| {name} | {ours:.1f} | {ref:.1f} | {ours / ref:.2f}x | {slow:.0f} | " \
           f"{slow / ours:.0f}x | {err:.1e} |"


def chain_row(sizes):
    rng = np.random.default_rng(0)
    a, b, c, d = (rng.standard_normal(s, dtype=np.float32) for s in sizes)
    ours = best_ms(lambda: CHAIN(A=a, B=b, C=c, D=d), repeat=20)
    oe = best_ms(lambda: opt_einsum.contract("ij,jk,kl,lm->im", a, b, c, d), repeat=20)
    plain = best_ms(lambda: a @ (b @ (c @ d)) if sizes[0][0] > sizes[3][1] else a @ b @ c @ d,
                    repeat=20)
    plan = CHAIN.plan_for(A=a.shape, B=b.shape, C=c.shape, D=d.shape)
    oe_flops = opt_einsum.contract_path("ij,jk,kl,lm->im", a, b, c, d)[1].opt_cost
    return f"| {sizes} | {ours:.3f} | {oe:.3f} | {plain:.3f} | {plan.flops:.3g} | {oe_flops:.3g} |"


def main():
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"threads={THREADS}, numpy {np.__version__}, torch {torch.__version__}\n")
    print("| convolution forward (float32, NCHW, valid) | tensorc ms | PyTorch ms | ratio | "
          "naive einsum ms | speed-up vs naive | max abs err |")
    print("|---|---|---|---|---|---|---|")
    print(conv_row("MNIST conv1 5x5 1→32, 28x28, batch 128", 128, 1, 28, 32, 5))
    print(conv_row("MNIST conv2 5x5 32→64, 12x12, batch 128", 128, 32, 12, 64, 5))
    print(conv_row("VGG 3x3 64→64, 56x56 (58 in), batch 8", 8, 64, 58, 64, 3, naive=False))
    print("\n| chain ij,jk,kl,lm->im sizes | tensorc ms | opt_einsum.contract ms | "
          "best plain matmul order ms | tensorc plan FLOPs | opt_einsum FLOPs |")
    print("|---|---|---|---|---|---|")
    for sizes in [((8, 512), (512, 8), (8, 512), (512, 64)),
                  ((64, 1000), (1000, 4), (4, 1000), (1000, 2)),
                  ((2, 300), (300, 300), (300, 300), (300, 300))]:
        print(chain_row(sizes))


if __name__ == "__main__":
    main()
