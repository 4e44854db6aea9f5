"""Train a small 2-D CNN on scikit-learn's 8x8 digits with tensorc's gradients.

The model (conv3-16, pool, conv3-32, pool, dense) is one spec program; ``fit`` derives
its gradient with the cross-entropy loss once and runs Adam over shuffled minibatches.
Prints the program, the per-epoch history and the test accuracy, saves a checkpoint and,
when matplotlib is installed, the loss/accuracy curves and the first-layer filters.

Run: python examples/train_digits.py [--epochs 20] [--out DIR (default: a temp folder)]
"""
import argparse
import os
import tempfile

import numpy as np

from tensorc.nn import checkpoint, evaluate, fit, optim
from tensorc.nn.train import load_dataset, small_cnn


def save_plots(history: dict, filters: np.ndarray, out: str) -> None:
    """history.png and filters.png in ``out``, or a note when matplotlib is missing."""
    try:
        from tensorc.nn import plots
        plots.plot_history(history, os.path.join(out, "history.png"), title="digits")
        plots.plot_filters(filters, os.path.join(out, "filters.png"))
        print(f"plots written to {out}/history.png and {out}/filters.png")
    except ImportError as err:
        print(f"no plots: {err}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "train_digits"))
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args()

    ds = load_dataset("digits")                       # 70/10/20 % train/val/test
    model = small_cnn(ds.x_train.shape[1:])
    print(model.spec, "\n")
    params, opt = model.init(0), optim.Adam(lr=2e-3)
    hist = fit(model, params, opt, ds, epochs=args.epochs, batch_size=32,
               progress=args.progress)
    for e in range(args.epochs):
        print(f"epoch {e + 1:2d}: " + "  ".join(f"{k} {v[e]:.4f}" for k, v in hist.items()))
    test = evaluate(model, params, ds.x_test, ds.y_test)
    print(f"test accuracy {test['acc']:.4f} ({len(ds.x_test)} images), loss {test['loss']:.4f}")

    os.makedirs(args.out, exist_ok=True)
    path = checkpoint.save(os.path.join(args.out, "digits.npz"), params, opt.state_dict(),
                           meta={"history": hist, "test": test})
    print(f"checkpoint written to {path}")
    save_plots(hist, params["conv1_W"], args.out)


if __name__ == "__main__":
    main()
