"""Losses as spec snippets that append to a model's program and produce a scalar ``L``.

>>> from tensorc.nn import layers as nnl
>>> model = nnl.Sequential(nnl.Linear(4, 3), input_shape=(4,))
>>> text = with_loss(model, "cross_entropy")      # one program: forward pass, then L
>>> text.splitlines()[-1]
'L = mean(loss_Lse[n] - T[n, c] * Y[n, c])'
"""
from __future__ import annotations

import numpy as np

from .layers import _acc, _check_name, _idx


def cross_entropy(logits: str = "Y", target: str = "T", loss: str = "L",
                  name: str = "loss") -> str:
    """Mean softmax cross-entropy of ``logits[n, c]`` against one-hot (or probability)
    targets ``target[n, c]``, with a stable log-sum-exp (the max subtracted).

    >>> print(cross_entropy())
    loss_M[n] = max(Y[n, c])
    loss_Lse[n] = log(sum(exp(Y[n, c] - loss_M[n]))) + loss_M[n]
    L = mean(loss_Lse[n] - T[n, c] * Y[n, c])
    """
    y, m, lse = (_check_name(v) for v in (logits, f"{name}_M", f"{name}_Lse"))
    return "\n".join([
        f"{m}[n] = max({y}[n, c])",
        f"{lse}[n] = log(sum(exp({y}[n, c] - {m}[n]))) + {m}[n]",
        f"{_check_name(loss)} = mean({lse}[n] - {_check_name(target)}[n, c] * {y}[n, c])",
    ])


def mse(prediction: str = "Y", target: str = "T", rank: int = 1, loss: str = "L") -> str:
    """Mean squared error over every element of tensors with ``rank`` dims after the batch.

    >>> print(mse(rank=3))
    L = mean((Y[n, c, i, j] - T[n, c, i, j])**2)
    """
    idx = _idx(rank)
    diff = f"{_acc(_check_name(prediction), idx)} - {_acc(_check_name(target), idx)}"
    return f"{_check_name(loss)} = mean(({diff})**2)"


LOSSES = {"cross_entropy": cross_entropy, "mse": mse}


def with_loss(model, kind: str = "cross_entropy", target: str = "T") -> str:
    """``model.spec`` followed by a loss of its output: the text a gradient program takes
    (``tc.grad(text, of="L", wrt=model.param_names)``).

    >>> from tensorc.nn import layers as nnl
    >>> print(with_loss(nnl.Sequential(nnl.Linear(2, 2), input_shape=(2,)), "mse"))
    # fc1: Linear(2, 2) -> 2
    Y[n, o] = X[n, i] * fc1_W[o, i] + fc1_B[o]
    L = mean((Y[n, c] - T[n, c])**2)
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; valid options are {', '.join(LOSSES)}")
    if not hasattr(model, "output_name"):
        raise TypeError(f"a loss needs a Sequential model, not {type(model).__name__}: "
                        "wrap the layer, Sequential(layer, input_shape=...)")
    shape = model.output_shape(model.input_shape)
    if kind == "cross_entropy" and len(shape) != 1:
        raise ValueError(f"cross-entropy needs one score per class and example; the model "
                         f"outputs {tuple(shape)} per example (add Flatten and Linear, or "
                         "use loss='mse')")
    if kind == "mse":
        loss = mse(model.output_name, target, rank=len(shape))
    else:
        loss = cross_entropy(model.output_name, target)
    return f"{model.spec}\n{loss}"


def one_hot(labels: np.ndarray, classes: int, dtype=np.float32) -> np.ndarray:
    """Integer labels (N,) -> one-hot targets (N, classes).

    >>> one_hot(np.array([2, 0]), 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    return np.eye(classes, dtype=dtype)[np.asarray(labels)]
