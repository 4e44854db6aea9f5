"""Gradient programs across batch sizes: each nn training model's gradient program (forward,
loss and backward, no optimizer step) beside PyTorch eager's forward and backward of the
same model, at batch 1 to 256, one thread each. A ratio far from its neighbours points at
a plan chosen badly for that shape (this sweep found the 75 MB kernel-window gather at
batch 1 and the offsets-first product at batch 16).

Run: python benchmarks/bench_batch_sizes.py      (about 1 minute)
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_forward import best_ms  # noqa: E402
from bench_training import digits_cnn, mnist1d_cnn, torch_mirror  # noqa: E402
from tensorc.nn import models  # noqa: E402
from tensorc.nn.train import gradient_program  # noqa: E402

torch.set_num_threads(1)
BATCHES = (1, 4, 16, 64, 256)


def rows(name: str, model, shape: tuple[int, ...], rng) -> None:
    params = model.init(0)
    prog, net = gradient_program(model, "cross_entropy", "numpy"), torch_mirror(model, params)
    for batch in BATCHES:
        x = rng.standard_normal((batch,) + shape).astype(np.float32)
        y = rng.integers(0, 10, batch)
        args = dict(params, X=x, T=np.eye(10, dtype=np.float32)[y])
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def torch_step():
            net.zero_grad()
            torch.nn.functional.cross_entropy(net(xt), yt).backward()
        ours, ref = best_ms(lambda: prog(**args)), best_ms(torch_step)
        print(f"| {name} | {batch} | {ours:.3f} | {ref:.3f} | {ours / ref:.2f}x |", flush=True)


def main() -> None:
    print("| model | batch | tensorc gradient program ms | PyTorch forward + backward ms "
          "| ratio |\n|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    rows("MNIST-1D 1-D CNN", mnist1d_cnn(), (1, 40), rng)
    rows("digits 2-D CNN", digits_cnn(), (1, 8, 8), rng)
    rows("two-conv MNIST", models.two_conv(), (1, 28, 28), rng)
    print(f"\nload average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
