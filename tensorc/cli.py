"""Command line: ``tensorc emit FILE.tc``, ``tensorc plan FILE.tc --shape X=2x3x32x32``,
``tensorc grad FILE.tc --of L --wrt W,B``, ``tensorc summary MODEL``,
``tensorc train MODEL DATASET``."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys

from .compiler import compile
from .errors import TensorcError


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tensorc`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="tensorc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    emit = commands.add_parser("emit", help="print the emitted module")
    emit.add_argument("file")
    emit.add_argument("--backend", default="numpy")
    plan = commands.add_parser("plan", help="print the execution plan for given shapes")
    plan.add_argument("file")
    plan.add_argument("--shape", action="append", default=[], metavar="NAME=AxBxC",
                      help="an input's shape, e.g. X=2x3x32x32 (repeat per input)")
    plan.add_argument("--backend", default="numpy")
    _summary_command(commands)
    _grad_command(commands)
    _train_command(commands)
    args = parser.parse_args(argv)
    if args.command in ("summary", "grad", "train"):
        return args.run(args)
    try:
        with open(args.file) as f:
            prog = compile(f.read(), backend=args.backend)
        if args.command == "emit":
            print(prog.source, end="")
        else:
            print(prog.plan_for(**_shapes(args.shape)))
    except (TensorcError, OSError) as err:
        print(f"tensorc: {err}", file=sys.stderr)
        return 1
    return 0


def _summary_command(commands) -> None:
    """``tensorc summary MODEL [--input-shape 3x32x32]``: a ready model's per-layer table."""
    def run(args) -> int:
        from .nn import models
        try:
            model = models.get(args.model)
            shape = tuple(int(d) for d in args.input_shape.split("x")) if args.input_shape else None
            print(model.summary(shape))
        except ValueError as err:
            print(f"tensorc: {err}", file=sys.stderr)
            return 1
        return 0

    cmd = commands.add_parser("summary", help="print a ready model's parameters and operations")
    cmd.add_argument("model", help="lenet5, two_conv_mnist, alexnet, vgg16, ... ")
    cmd.add_argument("--input-shape", metavar="CxHxW", help="input shape without the batch")
    cmd.set_defaults(run=run)


def _grad_command(commands) -> None:
    """``tensorc grad FILE.tc --of L --wrt W,B [--latex | --emit]``: the derived program."""
    def run(args) -> int:
        from .derive import grad
        try:
            with open(args.file) as f:
                prog = grad(f.read(), of=args.of, wrt=[w.strip() for w in args.wrt.split(",")],
                            backend=args.backend)
        except (TensorcError, OSError) as err:
            print(f"tensorc: {err}", file=sys.stderr)
            return 1
        print(prog.latex() if args.latex else prog.source if args.emit else prog.spec, end="")
        print() if args.latex else None
        return 0

    cmd = commands.add_parser("grad", help="print the derived gradient program")
    cmd.add_argument("file")
    cmd.add_argument("--of", required=True, help="the tensor to differentiate (a scalar, or "
                     "a tensor whose cotangent becomes an input d<name>)")
    cmd.add_argument("--wrt", required=True, help="comma-separated tensors, e.g. W,B")
    shown = cmd.add_mutually_exclusive_group()
    shown.add_argument("--latex", action="store_true", help="print LaTeX")
    shown.add_argument("--emit", action="store_true", help="print the emitted module")
    cmd.add_argument("--backend", default="numpy")
    cmd.set_defaults(run=run)


def _scheduler(address: str | None):
    """A distributed Client connected to ``address`` for the block, or nothing."""
    if address is None:
        return contextlib.nullcontext()
    from distributed import Client
    return Client(address)


def _train_command(commands) -> None:
    """``tensorc train MODEL DATASET [--epochs 5 --optimizer adam --lr 1e-3 ...]``: train,
    print the history and the test accuracy, optionally save a checkpoint and plots."""
    def run(args) -> int:
        from tqdm.auto import tqdm

        from .nn import checkpoint, optim, plots, train
        try:
            ds = train.load_dataset(args.dataset)
            model = train.build_model(args.model, ds.x_train.shape[1:])
        except (ValueError, ImportError) as err:
            print(f"tensorc: {err}", file=sys.stderr)
            return 1
        opt = {"sgd": optim.SGD, "momentum": optim.Momentum, "rmsprop": optim.RMSProp,
               "adam": optim.Adam}[args.optimizer](lr=args.lr, weight_decay=args.weight_decay)
        params, n = model.init(args.seed), args.limit or len(ds.x_train)
        with _scheduler(args.scheduler):
            hist = train.fit(model, params, opt, (ds.x_train[:n], ds.y_train[:n]), args.epochs,
                             args.batch_size, seed=args.seed, progress=args.progress,
                             val=(ds.x_val, ds.y_val), backend=args.backend,
                             batch_chunk=args.batch_chunk, callback=lambda e, h: tqdm.write(
                                 f"epoch {e + 1}: " + ", ".join(f"{k} {v[-1]:.4f}"
                                                                for k, v in h.items())))
        test = train.evaluate(model, params, ds.x_test, ds.y_test)
        print(f"test: loss {test['loss']:.4f}, acc {test['acc']:.4f}")
        if args.checkpoint:
            buffers = {f"buffer:{k}": v for k, v in model.state.items()}
            checkpoint.save(args.checkpoint, {**params, **buffers}, opt.state_dict(),
                            meta={**vars(args), "run": None, "history": hist, "test": test})
        if args.plot:
            os.makedirs(args.plot, exist_ok=True)
            plots.plot_history(hist, os.path.join(args.plot, "history.png"), title=args.model)
            first = params[model.param_names[0]]
            if first.ndim == 4:
                plots.plot_filters(first, os.path.join(args.plot, "filters.png"))
        return 0

    cmd = commands.add_parser("train", help="train a model on a bundled data set")
    cmd.add_argument("model", help="small_cnn, two_conv_mnist, lenet5, ... (tensorc.nn.models)")
    cmd.add_argument("dataset", choices=["digits", "mnist1d", "mnist"])
    cmd.add_argument("--epochs", type=int, default=5)
    cmd.add_argument("--batch-size", type=int, default=32)
    cmd.add_argument("--lr", type=float, default=1e-3)
    cmd.add_argument("--optimizer", choices=["sgd", "momentum", "rmsprop", "adam"],
                     default="adam")
    cmd.add_argument("--weight-decay", type=float, default=0.0)
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--limit", type=int, help="train on the first N training examples only")
    cmd.add_argument("--checkpoint", metavar="PATH.npz", help="save parameters, optimizer "
                     "state and history (running averages as buffer:NAME)")
    cmd.add_argument("--plot", metavar="DIR", help="write history.png (and filters.png)")
    cmd.add_argument("--no-progress", dest="progress", action="store_false")
    cmd.add_argument("--backend", choices=["numpy", "dask"], default="numpy",
                     help="dask: data-parallel gradient steps on the active dask scheduler")
    cmd.add_argument("--batch-chunk", type=int, help="examples per dask chunk of a batch")
    cmd.add_argument("--scheduler", metavar="ADDRESS", help="a dask.distributed scheduler "
                     "to run on (tcp://host:8786); default: dask's local threads")
    cmd.set_defaults(run=run)


def _shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for item in items:
        name, _, dims = item.partition("=")
        try:
            shapes[name.strip()] = tuple(int(d) for d in dims.split("x")) if dims else ()
        except ValueError:
            raise TensorcError(f"--shape {item!r}: write NAME=AxBxC, e.g. X=2x3x32x32") from None
    return shapes


if __name__ == "__main__":
    sys.exit(main())
