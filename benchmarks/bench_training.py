"""Training benchmark: the same model, initial weights, optimizer and batch order trained by
tensorc (``tensorc.nn.fit``, one compiled gradient program) and by PyTorch CPU eager, their
epochs alternating (tensorc's epoch 1, PyTorch's epoch 1, tensorc's epoch 2, ...).

Run: python benchmarks/bench_training.py [--task mnist1d|digits|mnist ...] [--epochs N]
One thread for both (set before NumPy is imported). Prints per-epoch figures and a
markdown table; results are recorded in RESULTS.md.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tensorc.nn import data, fit, layers as L, models, optim  # noqa: E402
from tensorc.nn.train import batch_order, evaluate  # noqa: E402

torch.set_num_threads(1)


@dataclass
class Task:
    """One benchmark: data, model, optimizer settings and the accuracy target."""

    name: str
    model: L.Sequential
    data: data.Dataset
    epochs: int
    batch_size: int
    lr: float
    target: float
    decay_at: int | None = None  # epochs after which the learning rate is divided by 10


def mnist1d_cnn(c: int = 64) -> L.Sequential:
    """Three conv3 (first conv5) + ReLU + max-pool-2 blocks, then one dense layer."""
    return L.Sequential(
        L.Conv1d(1, c, 5, padding=2), L.ReLU(), L.MaxPool1d(2),
        L.Conv1d(c, c, 3, padding=1), L.ReLU(), L.MaxPool1d(2),
        L.Conv1d(c, c, 3, padding=1), L.ReLU(), L.MaxPool1d(2),
        L.Flatten(), L.Linear(c * 5, 10), input_shape=(1, 40))


def digits_cnn() -> L.Sequential:
    """conv3-16 (same), pool 2, conv3-32 (same), pool 2, dense 10, on 1x8x8 digits."""
    return L.Sequential(
        L.Conv2d(1, 16, 3, padding=1), L.ReLU(), L.MaxPool2d(2),
        L.Conv2d(16, 32, 3, padding=1), L.ReLU(), L.MaxPool2d(2),
        L.Flatten(), L.Linear(32 * 2 * 2, 10), input_shape=(1, 8, 8))


def tasks(epochs: int | None) -> dict[str, callable]:
    """Task builders by name (data is loaded only for the tasks that run)."""
    def digits() -> Task:
        x, y = data.load_digits()
        return Task("digits", digits_cnn(), data.split(x, y, (0.8, 0.0, 0.2), seed=0),
                    epochs or 30, 32, 1e-3, 0.98)

    def mnist1d() -> Task:
        return Task("mnist1d", mnist1d_cnn(), data.load_mnist1d(), epochs or 30, 100, 3e-3,
                    0.94)

    def mnist() -> Task:
        x, y = data.load_mnist_subset()
        return Task("mnist", models.two_conv(), data.split(x, y, (4000, 0, 1000), seed=0),
                    epochs or 8, 64, 1e-3, 0.96, decay_at=6)

    return {"mnist1d": mnist1d, "digits": digits, "mnist": mnist}


# ------------------------------------------------------------------ the PyTorch side

def torch_mirror(model: L.Sequential, params: dict) -> torch.nn.Sequential:
    """The same layers as torch modules, holding copies of ``params``."""
    mods = []
    for name, layer in model.layers:
        if isinstance(layer, (L.Conv1d, L.Conv2d)):
            cls = torch.nn.Conv1d if isinstance(layer, L.Conv1d) else torch.nn.Conv2d
            mod = cls(layer.in_channels, layer.out_channels, layer.kernel_size,
                      layer.stride, layer.padding, layer.dilation)
        elif isinstance(layer, L.Linear):
            mod = torch.nn.Linear(layer.in_features, layer.out_features)
        elif isinstance(layer, (L.MaxPool1d, L.MaxPool2d)):
            cls = torch.nn.MaxPool1d if isinstance(layer, L.MaxPool1d) else torch.nn.MaxPool2d
            mod = cls(layer.kernel_size, layer.stride)
        elif isinstance(layer, L.ReLU):
            mod = torch.nn.ReLU()
        elif isinstance(layer, L.Flatten):
            mod = torch.nn.Flatten()
        else:
            raise TypeError(f"no torch mirror for {layer!r}")
        with torch.no_grad():
            for local, p in mod.named_parameters():
                p.copy_(torch.from_numpy(params[f"{name}_{local[0].upper()}"]))
        mods.append(mod)
    return torch.nn.Sequential(*mods)


def torch_epochs(net, task: Task, seed: int = 0):
    """A function that runs the next PyTorch epoch: Adam steps over the same batches as
    ``fit`` (``batch_order`` from the same seed), the same learning-rate decay; and the
    history it fills."""
    opt = torch.optim.Adam(net.parameters(), lr=task.lr)
    x, y = torch.from_numpy(task.data.x_train), torch.from_numpy(task.data.y_train)
    rng, hist = np.random.default_rng(seed), {"epoch_time": [], "train_loss": [], "val_acc": []}

    def epoch(index: int) -> None:
        if index == task.decay_at:
            for group in opt.param_groups:
                group["lr"] *= 0.1
        start, total, seen = time.perf_counter(), 0.0, 0
        for idx in batch_order(len(x), task.batch_size, rng):
            idx = torch.from_numpy(idx)
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, seen = total + loss.item() * len(idx), seen + len(idx)
        hist["epoch_time"].append(time.perf_counter() - start)
        hist["train_loss"].append(total / seen)
        hist["val_acc"].append(torch_accuracy(net, task.data.x_test, task.data.y_test))
    return epoch, hist


def torch_accuracy(net, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((net(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


# ------------------------------------------------------------------ running and reporting

def run(task: Task) -> dict:
    """Train the task in tensorc then in torch from the same initial weights."""
    params = task.model.init(0)
    net = torch_mirror(task.model, params)
    ds, opt = task.data, optim.Adam(lr=task.lr)
    torch_epoch, ref = torch_epochs(net, task)

    def after(epoch: int, history: dict) -> None:
        """The learning-rate decay, then PyTorch's epoch of the same number: the two
        libraries' epochs alternate, so a change in the machine's speed reaches both."""
        if epoch + 1 == task.decay_at:
            opt.lr *= 0.1
        torch_epoch(epoch)

    ours = fit(task.model, params, opt, (ds.x_train, ds.y_train), task.epochs,
               task.batch_size, progress=False, val=(ds.x_test, ds.y_test), callback=after)
    for e in range(task.epochs):
        print(f"{task.name} epoch {e + 1}: tensorc loss {ours['train_loss'][e]:.4f} "
              f"test {ours['val_acc'][e]:.4f} {ours['epoch_time'][e]:.2f}s | torch loss "
              f"{ref['train_loss'][e]:.4f} test {ref['val_acc'][e]:.4f} "
              f"{ref['epoch_time'][e]:.2f}s", flush=True)
    final = evaluate(task.model, params, ds.x_test, ds.y_test)["acc"]
    return {"task": task, "ours": final, "ref": ref["val_acc"][-1],
            "ours_s": float(np.median(ours["epoch_time"])),
            "ref_s": float(np.median(ref["epoch_time"])), "ours_first": ours["epoch_time"][0]}


def row(r: dict) -> str:
    """One markdown row: accuracies against the target, median seconds per epoch."""
    t = r["task"]
    met = lambda acc: "met" if acc >= t.target else "**missed**"  # noqa: E731
    lr = f"{t.lr:g}" + (f" (/10 after {t.decay_at})" if t.decay_at else "")
    cells = [t.name, f"{t.data.sizes[0]}/{t.data.sizes[2]}", t.epochs, t.batch_size, lr,
             f"{t.target:.0%}", f"{r['ours']:.2%} ({met(r['ours'])})",
             f"{r['ref']:.2%} ({met(r['ref'])})", f"{r['ours_s']:.2f}", f"{r['ref_s']:.2f}",
             f"{r['ours_s'] / r['ref_s']:.2f}x", f"{r['ours_first']:.2f}"]
    return "| " + " | ".join(map(str, cells)) + " |"


def machine() -> str:
    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True,
                         text=True).stdout.strip()
    return (f"{cpu}; {os.cpu_count()} cores; Python {platform.python_version()}, "
            f"NumPy {np.__version__}, PyTorch {torch.__version__}, 1 thread; load average "
            + " ".join(f"{v:.2f}" for v in os.getloadavg()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", action="append", choices=["mnist1d", "digits", "mnist"])
    parser.add_argument("--epochs", type=int, help="override every task's epoch count")
    args = parser.parse_args()
    builders = tasks(args.epochs)
    print(machine(), flush=True)
    results = [run(builders[name]()) for name in args.task or list(builders)]
    print("\n| task | train/test | epochs | batch | lr | target | tensorc test acc | "
          "PyTorch test acc | tensorc s/epoch | PyTorch s/epoch | ratio | tensorc epoch 1 s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(row(r))
    print("\n" + machine())


if __name__ == "__main__":
    main()
