"""Layers written as spec text, composed into one spec program per model.

Every layer turns an input tensor name, an output tensor name, a name prefix and an
input shape (NCHW, without the batch) into spec statements; ``layer.spec`` shows them.
Parameters are named ``<prefix>_<local>`` (``conv1_W``, ``conv1_B``); intermediate
tensors ``<prefix>_<X>`` (``bn1_M``). Names and arguments follow PyTorch.

>>> from tensorc.nn import layers as L
>>> print(L.Conv2d(3, 8, 3, padding=1).spec_for((3, 8, 8), name="k"))
Y[n, o, i, j] = X[n, c, i + a - 1, j + b - 1] * k_W[o, c, a, b] + k_B[o]   where i in 0:8, j in 0:8

Counting conventions are in :mod:`tensorc.nn.summary`.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import init as _init
from .summary import Row, Summary, out_size

Shape = tuple[int, ...]
SPATIAL = ("i", "j", "l")
OFFSETS = ("a", "b", "e")
POOL_OFFSETS = ("p", "q", "r")
BOUNDARY = {"zero": "", "cyclic": "wrap", "reflect": "reflect", "hold": "clamp",
            "none": "", "wrap": "wrap", "clamp": "clamp"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*")

__all__ = [
    "Layer", "SpecLayer", "Sequential", "Residual", "Concat",
    "Linear", "Conv1d", "Conv2d", "Conv3d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
    "AvgPool2d", "SumPool1d", "SumPool2d", "GlobalAvgPool", "Maxout", "Flatten",
    "ReLU", "LeakyReLU", "SiLU", "GELU", "GLU", "Sigmoid", "Tanh", "ScaledTanh", "Softmax",
    "LayerNorm", "RMSNorm", "BatchNorm1d", "BatchNorm2d", "LocalResponseNorm", "Dropout",
]


# ------------------------------------------------------------------ text helpers

def _num(value: float) -> str:
    """A float as a spec literal: ``1e-05``, ``0.75``."""
    return repr(float(value))


def _idx(rank: int) -> list[str]:
    """Index names for a batched tensor of ``rank`` dims after the batch: n, c, i, j, l."""
    names = ["n", "c", *SPATIAL]
    if rank + 1 > len(names):
        raise ValueError(f"tensors of {rank} dimensions after the batch are not supported")
    return names[:rank + 1]


def _acc(tensor: str, idx: list[str]) -> str:
    return f"{tensor}[{', '.join(idx)}]"


def _lin(coef: int, var: str, offset: str = "") -> str:
    """``coef*var + offset`` without unit coefficients: ``_lin(2, 'i', 'a')`` is ``2*i + a``."""
    text = var if coef == 1 else f"{coef}*{var}"
    return f"{text} + {offset}" if offset else text


def _affine(stride: int, var: str, dilation: int, offset: str, pad: int) -> str:
    text = f"{_lin(stride, var)} + {_lin(dilation, offset)}"
    return f"{text} - {pad}" if pad else text


def _where(*clauses: str) -> str:
    clauses = tuple(c for c in clauses if c)
    return f"   where {', '.join(clauses)}" if clauses else ""


def _tuple(value: int | tuple[int, ...], d: int, what: str) -> tuple[int, ...]:
    out = (value,) * d if isinstance(value, int) else tuple(value)
    if len(out) != d or any(int(v) < 0 for v in out):
        raise ValueError(f"{what} must be an int or {d} non-negative ints, got {value!r}")
    return tuple(int(v) for v in out)


def _changed(**pairs: tuple[Any, Any]) -> str:
    """``, k=v`` for every keyword argument whose value differs from its default."""
    return "".join(f", {k}={v!r}" for k, (v, default) in pairs.items() if v != default)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"layer name {name!r} is not a spec identifier (letters, digits and "
                         "single inner underscores)")
    return name


# ------------------------------------------------------------------ base classes

class Layer:
    """Base class: spec statements for an input name, an output name, a prefix and a shape.

    Subclasses define :meth:`statements`, :meth:`output_shape`, and where they have
    parameters :meth:`param_shapes` (local name -> shape) and :meth:`ops`.

    >>> print(ReLU().build((4,)).spec)
    Y[n, c] = relu(X[n, c])
    """

    kind = "layer"
    training = True
    input_shape: Shape | None = None

    # --- what a layer defines
    def statements(self, x: str, y: str, name: str, shape: Shape) -> list[str]:
        """Spec lines computing ``y`` from ``x`` for an input of ``shape`` (no batch)."""
        raise NotImplementedError

    def output_shape(self, shape: Shape) -> Shape:
        """Output shape (no batch) for an input of ``shape`` (no batch)."""
        return tuple(shape)

    def param_shapes(self, shape: Shape) -> dict[str, Shape]:
        """Trainable parameters: local name -> shape."""
        return {}

    def ops(self, shape: Shape) -> int:
        """Operation count for one example (see :mod:`tensorc.nn.summary`)."""
        return 0

    def init_param(self, local: str, shape: Shape, rng: np.random.Generator,
                   dtype: Any) -> np.ndarray:
        """Initial value of one parameter: Glorot uniform for weights (``W``), ones for
        gains (``G``), zeros otherwise (biases)."""
        if local.startswith("W") and len(shape) >= 2:
            return _init.glorot_uniform(shape, rng=rng, dtype=dtype)
        fill = np.ones if local == "G" else np.zeros
        return fill(shape, dtype=dtype)

    def buffers(self, shape: Shape) -> dict[str, np.ndarray]:
        """Non-trainable inputs kept between calls (running averages): local -> default."""
        return {}

    def masks(self, shape: Shape) -> dict[str, tuple[float, Shape]]:
        """Random inputs drawn per call: local -> (keep probability, shape without batch)."""
        return {}

    # --- derived
    def walk(self, name: str, shape: Shape) -> Iterator[tuple[Layer, str, Shape]]:
        """Every leaf layer with its full name and input shape, in program order."""
        yield self, name, tuple(shape)

    def rows(self, name: str, shape: Shape, label: str | None = None) -> list[Row]:
        """Summary rows (one for a leaf layer)."""
        params = sum(math.prod(s) for s in self.param_shapes(shape).values())
        return [Row(label or name, type(self).__name__, self.output_shape(shape), params,
                    self.ops(shape))]

    def build(self, input_shape: Shape) -> Layer:
        """Fix the input shape (no batch) that :attr:`spec` uses; returns the layer."""
        self.output_shape(tuple(input_shape))  # validates
        self.input_shape = tuple(input_shape)
        return self

    def spec_for(self, input_shape: Shape, x: str = "X", y: str = "Y",
                 name: str | None = None) -> str:
        """The layer's spec text for one input shape (no batch).

        >>> print(Linear(4, 2).spec_for((4,), name="fc1"))
        Y[n, o] = X[n, i] * fc1_W[o, i] + fc1_B[o]
        """
        return "\n".join(self.statements(x, y, _check_name(name or self.kind),
                                         tuple(input_shape)))

    @property
    def spec(self) -> str:
        """The spec text for :attr:`input_shape` (set by :meth:`build` or a Sequential)."""
        if self.input_shape is None:
            raise ValueError(f"{self!r} has no input shape: call .build(input_shape) first, "
                             "or use .spec_for(input_shape)")
        return self.spec_for(self.input_shape)

    def set_training(self, mode: bool) -> None:
        """Switch training behaviour (batch statistics, dropout) on or off."""
        self.training = mode

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self, '_args', '')})"


class SpecLayer(Layer):
    """A user-defined layer: spec text with ``{x}``, ``{y}``, ``{name}`` and one
    ``{P}`` placeholder per parameter ``P``, plus shapes and initialisers.

    ``params`` maps a local name to ``(shape, init)``: shape a tuple or a function of the
    input shape, init ``"glorot"``, ``"zeros"``, ``"ones"`` or ``f(shape, rng)``.
    ``output_shape`` (tuple or function) defaults to running the spec on zeros.

    >>> sq = SpecLayer("{y}[n, c] = {x}[n, c] * {G}[c]", params={"G": (lambda s: s, "ones")})
    >>> print(sq.spec_for((3,), name="scale1"))
    Y[n, c] = X[n, c] * scale1_G[c]
    """

    kind = "custom"

    def __init__(self, text: str, params: dict[str, tuple] | None = None,
                 output_shape: Shape | Callable[[Shape], Shape] | None = None,
                 ops: int | Callable[[Shape], int] = 0, kind: str = "custom"):
        self.text, self.kind = text, _check_name(kind)
        self._params = dict(params or {})
        self._out, self._ops = output_shape, ops
        self._args = repr(text)

    def statements(self, x, y, name, shape):
        names = {k: f"{name}_{k}" for k in self._params}
        return self.text.format(x=x, y=y, name=name, **names).strip().splitlines()

    def param_shapes(self, shape):
        return {k: tuple(s(shape) if callable(s) else s) for k, (s, _) in self._params.items()}

    def init_param(self, local, shape, rng, dtype):
        how = self._params[local][1]
        if callable(how):
            return np.asarray(how(shape, rng), dtype=dtype)
        if how == "glorot":
            return _init.glorot_uniform(shape, rng=rng, dtype=dtype)
        return {"zeros": np.zeros, "ones": np.ones}[how](shape, dtype=dtype)

    def ops(self, shape):
        return int(self._ops(shape) if callable(self._ops) else self._ops)

    def output_shape(self, shape):
        if self._out is not None:
            return tuple(self._out(shape) if callable(self._out) else self._out)
        return self._run_zeros(tuple(shape))

    def _run_zeros(self, shape: Shape) -> Shape:
        from ..compiler import compile as tc_compile
        prog = tc_compile(self.spec_for(shape, name=self.kind))
        feed = {"X": np.zeros((1, *shape))}
        feed.update({f"{self.kind}_{k}": np.zeros(s)
                     for k, s in self.param_shapes(shape).items()})
        return tuple(prog(**{k: v for k, v in feed.items() if k in prog.inputs})["Y"].shape[1:])


# ------------------------------------------------------------------ dense and convolution

class Linear(Layer):
    """Dense layer ``Y = X W^T + B`` with ``W`` of shape (out, in), as torch.nn.Linear.

    >>> print(Linear(84, 10).spec_for((84,), name="fc3"))
    Y[n, o] = X[n, i] * fc3_W[o, i] + fc3_B[o]
    """

    kind = "fc"

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        self.in_features, self.out_features, self.bias = in_features, out_features, bias
        self._args = f"{in_features}, {out_features}" + ("" if bias else ", bias=False")

    def output_shape(self, shape):
        if tuple(shape) != (self.in_features,):
            raise ValueError(f"{self!r} needs input shape ({self.in_features},), got "
                             f"{tuple(shape)}; put a Flatten() before it")
        return (self.out_features,)

    def param_shapes(self, shape):
        out = {"W": (self.out_features, self.in_features)}
        return {**out, "B": (self.out_features,)} if self.bias else out

    def ops(self, shape):
        return (self.in_features + self.bias) * self.out_features

    def statements(self, x, y, name, shape):
        self.output_shape(shape)
        bias = f" + {name}_B[o]" if self.bias else ""
        return [f"{y}[n, o] = {x}[n, i] * {name}_W[o, i]{bias}"]


class _ConvNd(Layer):
    """Convolution (cross-correlation) over d spatial dims, NC[D]HW, as torch.nn.ConvNd."""

    kind = "conv"
    d = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple,
                 stride: int | tuple = 1, padding: int | tuple = 0,
                 dilation: int | tuple = 1, groups: int = 1, bias: bool = True,
                 boundary: str = "zero"):
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        if boundary not in BOUNDARY:
            raise ValueError(f"boundary {boundary!r}: valid options are zero, cyclic, "
                             "reflect, hold")
        d = self.d
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, d, "kernel_size")
        self.stride, self.padding = _tuple(stride, d, "stride"), _tuple(padding, d, "padding")
        self.dilation = _tuple(dilation, d, "dilation")
        self.bias, self.boundary = bias, boundary
        self._args = f"{in_channels}, {out_channels}, kernel_size={kernel_size}" + _changed(
            stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1),
            groups=(groups, 1), bias=(bias, True), boundary=(boundary, "zero"))

    def output_shape(self, shape):
        if len(shape) != self.d + 1 or shape[0] != self.in_channels:
            raise ValueError(f"{type(self).__name__} with in_channels={self.in_channels} "
                             f"needs an input shape (C={self.in_channels}, "
                             f"{self.d} spatial), got {tuple(shape)}")
        spatial = tuple(out_size(n, r, s, p, t) for n, r, s, p, t in zip(
            shape[1:], self.kernel_size, self.stride, self.padding, self.dilation))
        if min(spatial) < 1:
            raise ValueError(f"{self!r}: input {tuple(shape)} is smaller than the kernel")
        return (self.out_channels, *spatial)

    def param_shapes(self, shape):
        w = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        return {"W": w, "B": (self.out_channels,)} if self.bias else {"W": w}

    def ops(self, shape):
        per = math.prod(self.kernel_size) * self.in_channels // self.groups + self.bias
        return per * math.prod(self.output_shape(shape))

    def _reads(self) -> list[str]:
        wrap = BOUNDARY[self.boundary]
        reads = []
        for v, a, s, t, p in zip(SPATIAL, OFFSETS, self.stride, self.dilation, self.padding):
            e = _affine(s, v, t, a, p)
            reads.append(f"{wrap}({e})" if wrap and p else e)
        return reads

    def statements(self, x, y, name, shape):
        out = self.output_shape(shape)
        sp, ko = list(SPATIAL[:self.d]), ", ".join(OFFSETS[:self.d])
        ranges = [f"{v} in 0:{n}" for v, n in zip(sp, out[1:])]
        g, cg, og = self.groups, self.in_channels // self.groups, self.out_channels // self.groups
        if g == 1:
            cin, cout, wc, op, extra = "c", "o", "c", "=", []
        elif cg == 1 and og == 1:     # depthwise: one filter per channel
            cin, cout, wc, op, extra = "c", "c", "0", "=", []
        else:                         # groups: a scatter into each group's output channels
            cin, cout, wc, op = _lin(cg, "g", "c"), _lin(og, "g", "o"), "c", "+="
            extra = [f"g < {g}", f"o < {og}"]
        read = _acc(x, ["n", cin, *self._reads()])
        bias = f" + {name}_B[{cout}]" if self.bias else ""
        rhs = f"{read} * {name}_W[{cout}, {wc}, {ko}]{bias}"
        return [f"{_acc(y, ['n', cout, *sp])} {op} {rhs}{_where(*extra, *ranges)}"]


class Conv1d(_ConvNd):
    """1-D convolution, input (N, C, L), weight (O, C/groups, r).

    >>> print(Conv1d(2, 4, 3, stride=2).spec_for((2, 9), name="conv1"))
    Y[n, o, i] = X[n, c, 2*i + a] * conv1_W[o, c, a] + conv1_B[o]   where i in 0:4
    """

    d = 1


class Conv2d(_ConvNd):
    """2-D convolution, input (N, C, H, W), weight (O, C/groups, r, r); boundary in
    zero/cyclic/reflect/hold (spec wrappers none/wrap/reflect/clamp) applies to padding.

    >>> print(Conv2d(3, 3, 3, padding=1, groups=3, boundary="cyclic").spec_for((3, 4, 4)))
    Y[n, c, i, j] = X[n, c, wrap(i + a - 1), wrap(j + b - 1)] * conv_W[c, 0, a, b] + \
conv_B[c]   where i in 0:4, j in 0:4
    """

    d = 2


class Conv3d(_ConvNd):
    """3-D convolution, input (N, C, D, H, W), weight (O, C/groups, r, r, r).

    >>> Conv3d(1, 2, 3).output_shape((1, 5, 6, 7))
    (2, 3, 4, 5)
    """

    d = 3


# ------------------------------------------------------------------ pooling

class _PoolNd(Layer):
    """Window pooling over d spatial dims: ``max``, ``mean`` or ``sum``."""

    kind = "pool"
    d, reduce = 2, "max"

    def __init__(self, kernel_size: int | tuple, stride: int | tuple | None = None,
                 padding: int | tuple = 0):
        self.kernel_size = _tuple(kernel_size, self.d, "kernel_size")
        self.stride = _tuple(kernel_size if stride is None else stride, self.d, "stride")
        self.padding = _tuple(padding, self.d, "padding")
        self._args = str(kernel_size) + _changed(stride=(stride, None), padding=(padding, 0))

    def output_shape(self, shape):
        if len(shape) != self.d + 1:
            raise ValueError(f"{self!r} needs (C, {self.d} spatial), got {tuple(shape)}")
        spatial = tuple(out_size(n, r, s, p) for n, r, s, p in
                        zip(shape[1:], self.kernel_size, self.stride, self.padding))
        if min(spatial) < 1:
            raise ValueError(f"{self!r}: input {tuple(shape)} is smaller than the window")
        return (shape[0], *spatial)

    def ops(self, shape):
        return math.prod(self.kernel_size) * math.prod(self.output_shape(shape))

    def statements(self, x, y, name, shape):
        out = self.output_shape(shape)
        sp = list(SPATIAL[:self.d])
        # max pads by repeating the edge (never changes a max: torch's -inf padding);
        # mean and sum pad with zeros (torch's count_include_pad=True)
        wrap = "clamp" if self.reduce == "max" else ""
        reads = []
        for v, q, s, p in zip(sp, POOL_OFFSETS, self.stride, self.padding):
            e = _affine(s, v, 1, q, p)
            reads.append(f"{wrap}({e})" if wrap and p else e)
        ranges = [f"{q} < {r}" for q, r in zip(POOL_OFFSETS, self.kernel_size)]
        ranges += [f"{v} in 0:{n}" for v, n in zip(sp, out[1:])]
        read = _acc(x, ["n", "c", *reads])
        return [f"{_acc(y, ['n', 'c', *sp])} = {self.reduce}({read}){_where(*ranges)}"]


class MaxPool1d(_PoolNd):
    """1-D max pooling (stride defaults to the window), as torch.nn.MaxPool1d."""

    d, reduce = 1, "max"


class MaxPool2d(_PoolNd):
    """2-D max pooling, as torch.nn.MaxPool2d.

    >>> print(MaxPool2d(2).spec_for((6, 28, 28), name="pool1"))
    Y[n, c, i, j] = max(X[n, c, 2*i + p, 2*j + q])   where p < 2, q < 2, i in 0:14, j in 0:14
    """

    d, reduce = 2, "max"


class AvgPool1d(_PoolNd):
    """1-D average pooling (zero padding counted, as torch's default)."""

    d, reduce = 1, "mean"


class AvgPool2d(_PoolNd):
    """2-D average pooling (zero padding counted, as torch's default).

    >>> AvgPool2d(3, stride=2, padding=1).output_shape((4, 7, 7))
    (4, 4, 4)
    """

    d, reduce = 2, "mean"


class SumPool1d(_PoolNd):
    """1-D sum pooling: average pooling times the window size."""

    d, reduce = 1, "sum"


class SumPool2d(_PoolNd):
    """2-D sum pooling: average pooling times the window size.

    >>> SumPool2d(2).ops((3, 4, 4))
    48
    """

    d, reduce = 2, "sum"


class GlobalAvgPool(Layer):
    """Mean over all spatial positions: (C, H, W) -> (C,), as adaptive_avg_pool + flatten.

    >>> print(GlobalAvgPool().spec_for((10, 8, 8), name="gap"))
    Y[n, c] = mean(X[n, c, i, j])
    """

    kind = "gap"

    def output_shape(self, shape):
        return (shape[0],)

    def ops(self, shape):
        return math.prod(shape)

    def statements(self, x, y, name, shape):
        return [f"{y}[n, c] = mean({_acc(x, _idx(len(shape)))})"]


class Maxout(Layer):
    """Feature pooling: the max over groups of ``pool_size`` consecutive channels.

    >>> print(Maxout(2).spec_for((8,), name="maxout1"))
    Y[n, c] = max(X[n, 2*c + p])   where p < 2
    """

    kind = "maxout"

    def __init__(self, pool_size: int):
        self.pool_size = pool_size
        self._args = str(pool_size)

    def output_shape(self, shape):
        if shape[0] % self.pool_size:
            raise ValueError(f"{self!r}: {shape[0]} channels are not a multiple of "
                             f"{self.pool_size}")
        return (shape[0] // self.pool_size, *shape[1:])

    def ops(self, shape):
        return math.prod(shape)

    def statements(self, x, y, name, shape):
        idx = _idx(len(shape))
        read = _acc(x, ["n", _lin(self.pool_size, "c", "p"), *idx[2:]])
        return [f"{_acc(y, idx)} = max({read})   where p < {self.pool_size}"]


class Flatten(Layer):
    """(C, H, W) -> (C*H*W,) in row-major order, written as an affine scatter.

    >>> print(Flatten().spec_for((16, 5, 5), name="flat"))
    Y[n, 25*c + 5*i + j] += X[n, c, i, j]
    """

    kind = "flatten"

    def output_shape(self, shape):
        return (math.prod(shape),)

    def statements(self, x, y, name, shape):
        idx = _idx(len(shape))
        if len(shape) == 1:
            return [f"{_acc(y, idx)} = {_acc(x, idx)}"]
        strides = [math.prod(shape[k + 1:]) for k in range(len(shape))]
        flat = " + ".join(_lin(s, v) for s, v in zip(strides, idx[1:]))
        return [f"{y}[n, {flat}] += {_acc(x, idx)}"]


# ------------------------------------------------------------------ elementwise

class _Elementwise(Layer):
    """``Y = f(X)`` at every position; 0 operations."""

    def expr(self, v: str) -> str:
        raise NotImplementedError

    def statements(self, x, y, name, shape):
        idx = _idx(len(shape))
        return [f"{_acc(y, idx)} = {self.expr(_acc(x, idx))}"]


class ReLU(_Elementwise):
    """``max(0, x)``."""

    kind = "relu"

    def expr(self, v):
        return f"relu({v})"


class LeakyReLU(_Elementwise):
    """``max(a x, x)``, as torch.nn.LeakyReLU(negative_slope).

    >>> print(LeakyReLU(0.1).spec_for((3,), name="act"))
    Y[n, c] = leaky_relu(X[n, c], 0.1)
    """

    kind = "lrelu"

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = negative_slope
        self._args = str(negative_slope)

    def expr(self, v):
        return f"leaky_relu({v}, {_num(self.negative_slope)})"


class SiLU(_Elementwise):
    """Swish ``x sigmoid(x)``."""

    kind = "silu"

    def expr(self, v):
        return f"silu({v})"


class GELU(_Elementwise):
    """``x Phi(x)`` with the exact normal CDF (erf), torch's default."""

    kind = "gelu"

    def expr(self, v):
        return f"gelu({v})"


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``."""

    kind = "sigmoid"

    def expr(self, v):
        return f"sigmoid({v})"


class Tanh(_Elementwise):
    """``tanh(x)``."""

    kind = "tanh"

    def expr(self, v):
        return f"tanh({v})"


class ScaledTanh(_Elementwise):
    """LeNet's squashing function ``1.7159 tanh(2/3 x)``.

    >>> print(ScaledTanh().spec_for((2,), name="act"))
    Y[n, c] = 1.7159 * tanh(0.6666666666666666 * X[n, c])
    """

    kind = "stanh"

    def __init__(self, amplitude: float = 1.7159, slope: float = 2 / 3):
        self.amplitude, self.slope = amplitude, slope

    def expr(self, v):
        return f"{_num(self.amplitude)} * tanh({_num(self.slope)} * {v})"


class GLU(Layer):
    """Gated linear unit over ``dim``: first half times the sigmoid of the second half,
    as torch.nn.GLU. Preceded by a Linear(k, 2k') it is ``(U x + b) sigmoid(V x + c)``.

    >>> print(GLU().spec_for((6,), name="glu"))
    Y[n, c] = X[n, c] * sigmoid(X[n, c + 3])   where c in 0:3
    """

    kind = "glu"

    def __init__(self, dim: int = 1):
        if dim < 1:
            raise ValueError("GLU over the batch dimension is not supported")
        self.dim = dim
        self._args = f"dim={dim}"

    def output_shape(self, shape):
        if shape[self.dim - 1] % 2:
            raise ValueError(f"{self!r} needs an even size along dim {self.dim}, got {shape}")
        out = list(shape)
        out[self.dim - 1] //= 2
        return tuple(out)

    def statements(self, x, y, name, shape):
        idx, v = _idx(len(shape)), _idx(len(shape))[self.dim]
        half = shape[self.dim - 1] // 2
        gate = [f"{v} + {half}" if k == self.dim else u for k, u in enumerate(idx)]
        return [f"{_acc(y, idx)} = {_acc(x, idx)} * sigmoid({_acc(x, gate)})"
                f"   where {v} in 0:{half}"]


class Softmax(Layer):
    """Softmax over ``dim`` (1 = channels), computed stably by subtracting the max.

    >>> print(Softmax().spec_for((10,), name="prob"))
    prob_M[n] = max(X[n, c])
    prob_E[n, c] = exp(X[n, c] - prob_M[n])
    Y[n, c] = prob_E[n, c] / sum(prob_E[n, d])
    """

    kind = "softmax"

    def __init__(self, dim: int = 1):
        if dim < 1:
            raise ValueError("softmax over the batch dimension is not supported")
        self.dim = dim
        self._args = f"dim={dim}"

    def statements(self, x, y, name, shape):
        idx = _idx(len(shape))
        rest = [u for k, u in enumerate(idx) if k != self.dim]
        other = ["d" if k == self.dim else u for k, u in enumerate(idx)]
        m, e = _acc(f"{name}_M", rest), _acc(f"{name}_E", idx)
        return [f"{m} = max({_acc(x, idx)})",
                f"{e} = exp({_acc(x, idx)} - {m})",
                f"{_acc(y, idx)} = {e} / sum({_acc(f'{name}_E', other)})"]


class Dropout(Layer):
    """Inverted dropout: ``Y = X * mask / (1 - p)`` with the 0/1 mask an input
    ``<name>_mask`` (drawn by the model per call, keep probability 1 - p); the
    identity when not training.

    >>> print(Dropout(0.5).spec_for((4,), name="drop"))
    Y[n, c] = X[n, c] * drop_mask[n, c] * 2.0
    """

    kind = "drop"

    def __init__(self, p: float = 0.5):
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self._args = str(p)

    def masks(self, shape):
        return {"mask": (1 - self.p, tuple(shape))} if self.training and self.p else {}

    def statements(self, x, y, name, shape):
        idx = _idx(len(shape))
        if not (self.training and self.p):
            return [f"{_acc(y, idx)} = {_acc(x, idx)}"]
        scale = _num(1 / (1 - self.p))
        return [f"{_acc(y, idx)} = {_acc(x, idx)} * {_acc(f'{name}_mask', idx)} * {scale}"]


# ------------------------------------------------------------------ normalisation

class LayerNorm(Layer):
    """Normalise over the last ``len(normalized_shape)`` dims per example, then scale
    ``G`` and shift ``B`` (elementwise, of that shape), as torch.nn.LayerNorm.

    >>> print(LayerNorm(4).spec_for((4,), name="ln"))
    ln_M[n] = mean(X[n, c])
    ln_V[n] = mean((X[n, c] - ln_M[n])**2)
    Y[n, c] = (X[n, c] - ln_M[n]) / sqrt(ln_V[n] + 1e-05) * ln_G[c] + ln_B[c]
    """

    kind = "ln"

    def __init__(self, normalized_shape: int | tuple, eps: float = 1e-5,
                 elementwise_affine: bool = True):
        self.normalized_shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                                 else tuple(normalized_shape))
        self.eps, self.affine = eps, elementwise_affine
        self._args = f"{normalized_shape}, eps={eps}"

    def output_shape(self, shape):
        k = len(self.normalized_shape)
        if tuple(shape[len(shape) - k:]) != self.normalized_shape:
            raise ValueError(f"{self!r} does not match the input shape {tuple(shape)}")
        return tuple(shape)

    def param_shapes(self, shape):
        return {"G": self.normalized_shape, "B": self.normalized_shape} if self.affine else {}

    def _split(self, shape: Shape) -> tuple[list[str], list[str]]:
        self.output_shape(shape)
        idx = _idx(len(shape))
        k = len(idx) - len(self.normalized_shape)
        return idx, idx[k:]

    def _scale(self, name: str, inner: list[str]) -> str:
        return f" * {_acc(f'{name}_G', inner)} + {_acc(f'{name}_B', inner)}" if self.affine else ""

    def statements(self, x, y, name, shape):
        idx, inner = self._split(shape)
        outer = idx[:len(idx) - len(inner)]
        xa, m, v = _acc(x, idx), _acc(f"{name}_M", outer), _acc(f"{name}_V", outer)
        return [f"{m} = mean({xa})", f"{v} = mean(({xa} - {m})**2)",
                f"{_acc(y, idx)} = ({xa} - {m}) / sqrt({v} + {_num(self.eps)})"
                f"{self._scale(name, inner)}"]


class RMSNorm(LayerNorm):
    """``X / sqrt(mean(X^2) + eps) * G`` over the last dims (no mean subtracted), as
    torch.nn.RMSNorm with an explicit eps.

    >>> print(RMSNorm(4).spec_for((4,), name="rms"))
    rms_R[n] = sqrt(mean(X[n, c]**2) + 1e-06)
    Y[n, c] = X[n, c] / rms_R[n] * rms_G[c]
    """

    kind = "rms"

    def __init__(self, normalized_shape: int | tuple, eps: float = 1e-6,
                 elementwise_affine: bool = True):
        super().__init__(normalized_shape, eps, elementwise_affine)

    def param_shapes(self, shape):
        return {"G": self.normalized_shape} if self.affine else {}

    def statements(self, x, y, name, shape):
        idx, inner = self._split(shape)
        outer = idx[:len(idx) - len(inner)]
        xa, r = _acc(x, idx), _acc(f"{name}_R", outer)
        gain = f" * {_acc(f'{name}_G', inner)}" if self.affine else ""
        return [f"{r} = sqrt(mean({xa}**2) + {_num(self.eps)})",
                f"{_acc(y, idx)} = {xa} / {r}{gain}"]


class _BatchNorm(Layer):
    """Per-channel normalisation with batch statistics over batch and space (training)
    or the running averages ``<name>_mean``, ``<name>_var`` given as inputs (eval)."""

    kind = "bn"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True):
        self.num_features, self.eps, self.momentum, self.affine = (
            num_features, eps, momentum, affine)
        self._args = f"{num_features}, eps={eps}, momentum={momentum}"

    def output_shape(self, shape):
        if shape[0] != self.num_features:
            raise ValueError(f"{self!r} needs {self.num_features} channels, got {shape}")
        return tuple(shape)

    def param_shapes(self, shape):
        c = (self.num_features,)
        return {"G": c, "B": c} if self.affine else {}

    def buffers(self, shape):
        return {"mean": np.zeros(self.num_features), "var": np.ones(self.num_features)}

    def statements(self, x, y, name, shape):
        self.output_shape(shape)
        idx = _idx(len(shape))
        xa = _acc(x, idx)
        stats = "MV" if self.training else ("mean", "var")
        m, v = (f"{name}_{s}[c]" for s in stats)
        lines = [f"{m} = mean({xa})", f"{v} = mean(({xa} - {m})**2)"] if self.training else []
        scale = f" * {name}_G[c] + {name}_B[c]" if self.affine else ""
        return lines + [f"{_acc(y, idx)} = ({xa} - {m}) / sqrt({v} + {_num(self.eps)}){scale}"]

    def update(self, state: dict, outputs: dict, name: str, count: int) -> None:
        """Running averages after a training call, as torch (unbiased variance)."""
        mom = self.momentum
        batch_var = outputs[f"{name}_V"] * count / max(count - 1, 1)
        state[f"{name}_mean"] = (1 - mom) * state[f"{name}_mean"] + mom * outputs[f"{name}_M"]
        state[f"{name}_var"] = (1 - mom) * state[f"{name}_var"] + mom * batch_var


class BatchNorm1d(_BatchNorm):
    """Batch norm for (N, C) or (N, C, L) inputs, as torch.nn.BatchNorm1d.

    >>> print(BatchNorm1d(3).spec_for((3,), name="bn"))
    bn_M[c] = mean(X[n, c])
    bn_V[c] = mean((X[n, c] - bn_M[c])**2)
    Y[n, c] = (X[n, c] - bn_M[c]) / sqrt(bn_V[c] + 1e-05) * bn_G[c] + bn_B[c]
    """


class BatchNorm2d(_BatchNorm):
    """Batch norm for (N, C, H, W) inputs, as torch.nn.BatchNorm2d.

    >>> BatchNorm2d(8).param_shapes((8, 4, 4))
    {'G': (8,), 'B': (8,)}
    """


class LocalResponseNorm(Layer):
    """``X / (k + alpha/size * sum of X^2 over size neighbouring channels)^beta``, as
    torch.nn.LocalResponseNorm (channels beyond the edges read as zero).

    >>> print(LocalResponseNorm(5).spec_for((8, 4, 4), name="lrn"))
    lrn_S[n, c, i, j] = sum(X[n, c + d - 2, i, j]**2)   where d < 5, c in 0:8
    Y[n, c, i, j] = X[n, c, i, j] / (1.0 + 2e-05 * lrn_S[n, c, i, j])**0.75
    """

    kind = "lrn"

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k
        self._args = f"{size}, alpha={alpha}, beta={beta}, k={k}"

    def statements(self, x, y, name, shape):
        idx = _idx(len(shape))
        half = self.size // 2
        shifted = ["n", f"c + d - {half}" if half else "c + d", *idx[2:]]
        s = _acc(f"{name}_S", idx)
        return [f"{s} = sum({_acc(x, shifted)}**2)   where d < {self.size}, c in 0:{shape[0]}",
                f"{_acc(y, idx)} = {_acc(x, idx)} / ({_num(self.k)} + "
                f"{_num(self.alpha / self.size)} * {s})**{_num(self.beta)}"]


# ------------------------------------------------------------------ composition

class Sequential(Layer):
    """Layers applied in order; the whole model is one spec program.

    Layers are given positionally (named ``<kind><k>``: conv1, relu1, conv2, ...) or as
    ``(name, layer)`` pairs. ``input_shape`` (no batch) fixes :attr:`spec`; ``forward``
    builds the program for the shape of the array it gets.

    >>> m = Sequential(Linear(4, 3), ReLU(), Linear(3, 2), input_shape=(4,))
    >>> print(m.spec)
    # fc1: Linear(4, 3) -> 3
    fc1[n, o] = X[n, i] * fc1_W[o, i] + fc1_B[o]
    # relu1: ReLU() -> 3
    relu1[n, c] = relu(fc1[n, c])
    # fc2: Linear(3, 2) -> 2
    Y[n, o] = relu1[n, i] * fc2_W[o, i] + fc2_B[o]
    >>> m.param_names
    ['fc1_W', 'fc1_B', 'fc2_W', 'fc2_B']
    >>> params = m.init(0, dtype=np.float64)
    >>> m(params, np.ones((5, 4))).shape
    (5, 2)
    """

    kind = "seq"

    def __init__(self, *layers: Layer | tuple[str, Layer], input_shape: Shape | None = None,
                 input_name: str = "X", output_name: str = "Y"):
        self.layers: list[tuple[str, Layer]] = []
        counts: dict[str, int] = {}
        for item in layers:
            name, layer = item if isinstance(item, tuple) else (None, item)
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes layers, got {type(layer).__name__}")
            if name is None:
                counts[layer.kind] = counts.get(layer.kind, 0) + 1
                name = f"{layer.kind}{counts[layer.kind]}"
            if name in dict(self.layers):
                raise ValueError(f"two layers named {name!r}")
            self.layers.append((_check_name(name), layer))
        self.input_name, self.output_name = _check_name(input_name), _check_name(output_name)
        self.state: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng()
        if input_shape is not None:
            self.build(input_shape)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({n}): {layer!r}".replace("\n", "\n  ")
                           for n, layer in self.layers)
        return f"Sequential(\n{inner}\n)"

    def __getitem__(self, name: str | int) -> Layer:
        return self.layers[name][1] if isinstance(name, int) else dict(self.layers)[name]

    # --- shapes and text
    def _chain(self, prefix: str, shape: Shape,
               label: str = "") -> Iterator[tuple[str, str, Layer, Shape]]:
        """(full name, display name, layer, input shape) per child, in order."""
        for name, layer in self.layers:
            full = f"{prefix}_{name}" if prefix else name
            yield full, f"{label}.{name}" if label else name, layer, shape
            shape = layer.output_shape(shape)

    def output_shape(self, shape):
        shape = tuple(shape)
        for _, layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def build(self, input_shape):
        """Fix the input shape of the model and of every child; returns the model."""
        for _, _, layer, s in self._chain("", tuple(input_shape)):
            layer.build(s)
        self.input_shape = tuple(input_shape)
        return self

    def statements(self, x, y, name, shape):
        lines, current, last = [], x, len(self.layers) - 1
        for k, (full, _, layer, s) in enumerate(self._chain(name, tuple(shape))):
            out = y if k == last else full
            if not isinstance(layer, (Sequential, Residual, Concat)):
                lines.append(f"# {full}: {layer!r} -> "
                             + "x".join(map(str, layer.output_shape(s))))
            lines += layer.statements(current, out, full, s)
            current = out
        return lines

    def spec_for(self, input_shape, x=None, y=None, name=""):
        """The model's program for one input shape (no batch)."""
        return "\n".join(self.statements(x or self.input_name, y or self.output_name,
                                         name, tuple(input_shape)))

    @property
    def spec(self) -> str:
        """The whole model as one spec program (needs ``input_shape``)."""
        return self.spec_for(self._shape())

    def _shape(self, shape: Shape | None = None) -> Shape:
        shape = shape if shape is not None else self.input_shape
        if shape is None:
            raise ValueError("the model has no input shape: pass input_shape=... or call "
                             ".build(input_shape)")
        return tuple(shape)

    # --- leaves, parameters, rows
    def walk(self, name, shape):
        for full, _, layer, s in self._chain(name, tuple(shape)):
            yield from layer.walk(full, s)

    def rows(self, name, shape, label=None):
        rows = []
        for full, shown, layer, s in self._chain(name, tuple(shape), label or name):
            rows += layer.rows(full, s, shown)
        return rows

    def summary(self, input_shape: Shape | None = None) -> Summary:
        """Per-layer name, kind, output shape, parameters and operations.

        >>> print(Sequential(Linear(4, 3)).summary((4,)))
        layer  kind    output   params  ops
        -----  ------  -------  ------  ---
        fc1    Linear  3            15   15
        -----  ------  -------  ------  ---
        total          input 4      15   15
        """
        shape = self._shape(input_shape)
        return Summary(self.rows("", shape), shape)

    def param_shapes(self, shape=None):
        """Global parameter name -> shape, in program order."""
        shape = self._shape(shape)
        return {f"{full}_{k}": s for layer, full, s_in in self.walk("", shape)
                for k, s in layer.param_shapes(s_in).items()}

    @property
    def param_names(self) -> list[str]:
        """Names of the trainable parameters (inputs of the program), in order."""
        return list(self.param_shapes())

    def init(self, rng: Any = None, dtype: Any = np.float32) -> dict[str, np.ndarray]:
        """Initial parameters: Glorot uniform weights, zero biases, unit gains.

        >>> Sequential(Linear(3, 2), input_shape=(3,)).init(0)["fc1_B"].tolist()
        [0.0, 0.0]
        """
        rng, shape = _init.as_rng(rng), self._shape()
        return {f"{full}_{k}": layer.init_param(k, s, rng, dtype)
                for layer, full, s_in in self.walk("", shape)
                for k, s in layer.param_shapes(s_in).items()}

    def set_training(self, mode):
        self.training = mode
        for _, layer in self.layers:
            layer.set_training(mode)

    def train(self) -> Sequential:
        """Batch statistics and dropout on (the default); returns the model."""
        self.set_training(True)
        return self

    def eval(self) -> Sequential:
        """Running averages and no dropout; returns the model."""
        self.set_training(False)
        return self

    # --- running
    def feed(self, params: dict, x: np.ndarray, rng: Any = None) -> dict[str, np.ndarray]:
        """Every input of the program for a batch ``x``: x, parameters, running averages
        (from :attr:`state`) and freshly drawn dropout masks. A trainer passes this (plus
        its targets) to a gradient program of ``model.spec + loss``.

        >>> m = Sequential(Linear(2, 2), Dropout(0.5), input_shape=(2,))
        >>> sorted(m.feed(m.init(0), np.ones((3, 2)), rng=0))
        ['X', 'drop1_mask', 'fc1_B', 'fc1_W']
        """
        x = np.asarray(x)
        rng = self.rng if rng is None else _init.as_rng(rng)
        inputs = {self.input_name: x, **params}
        for layer, full, s in self.walk("", x.shape[1:]):
            for k, default in layer.buffers(s).items():
                self.state.setdefault(f"{full}_{k}", default.astype(x.dtype))
                if not layer.training:
                    inputs[f"{full}_{k}"] = self.state[f"{full}_{k}"]
            for k, (keep, shape) in layer.masks(s).items():
                mask = rng.random((x.shape[0], *shape)) < keep
                inputs[f"{full}_{k}"] = mask.astype(x.dtype)
        return inputs

    def update_state(self, outputs: dict[str, np.ndarray], x_shape: Shape) -> None:
        """Update running averages from a training call's outputs."""
        for layer, full, s in self.walk("", tuple(x_shape[1:])):
            if isinstance(layer, _BatchNorm) and layer.training:
                layer.update(self.state, outputs, full, x_shape[0] * math.prod(s[1:]))

    def forward(self, params: dict, x: np.ndarray, rng: Any = None,
                outputs: bool = False) -> np.ndarray | dict[str, np.ndarray]:
        """Run the compiled program on a batch; the output (or every tensor if ``outputs``).

        >>> m = Sequential(Linear(2, 1), input_shape=(2,))
        >>> p = {"fc1_W": np.array([[1.0, 2.0]]), "fc1_B": np.array([0.5])}
        >>> m.forward(p, np.array([[1.0, 1.0]])).tolist()
        [[3.5]]
        """
        from ..compiler import compile as tc_compile
        x = np.asarray(x)
        prog = tc_compile(self.spec_for(x.shape[1:]))
        feed = self.feed(params, x, rng)
        out = prog(**{k: v for k, v in feed.items() if k in prog.inputs})
        self.update_state(out, x.shape)
        return out if outputs else out[self.output_name]

    __call__ = forward


class Residual(Layer):
    """``f(x) + x``, or ``f(x) + shortcut(x)`` when the shapes differ (a projection).

    >>> r = Residual(Sequential(Linear(3, 3), ReLU()))
    >>> print(r.spec_for((3,), name="res1"))
    # res1_fc1: Linear(3, 3) -> 3
    res1_fc1[n, o] = X[n, i] * res1_fc1_W[o, i] + res1_fc1_B[o]
    # res1_relu1: ReLU() -> 3
    res1_F[n, c] = relu(res1_fc1[n, c])
    Y[n, c] = res1_F[n, c] + X[n, c]
    """

    kind = "res"

    def __init__(self, body: Layer, shortcut: Layer | None = None):
        self.body = body if isinstance(body, Sequential) else Sequential(body)
        self.shortcut = shortcut
        self._args = "..."

    def __repr__(self) -> str:
        return f"Residual({self.body!r}, shortcut={self.shortcut!r})"

    def output_shape(self, shape):
        out = self.body.output_shape(shape)
        short = self.shortcut.output_shape(shape) if self.shortcut else tuple(shape)
        if out != short:
            raise ValueError(f"residual branch gives {out} but the shortcut {short}; "
                             "pass a shortcut (e.g. a strided 1x1 Conv2d)")
        return out

    def statements(self, x, y, name, shape):
        out = self.output_shape(shape)
        idx = _idx(len(out))
        lines = self.body.statements(x, f"{name}_F", name, shape)
        short = x
        if self.shortcut is not None:
            short = f"{name}_S"
            lines += self.shortcut.statements(x, short, f"{name}_short", shape)
        return lines + [f"{_acc(y, idx)} = {_acc(f'{name}_F', idx)} + {_acc(short, idx)}"]

    def walk(self, name, shape):
        yield from self.body.walk(name, shape)
        if self.shortcut is not None:
            yield from self.shortcut.walk(f"{name}_short", shape)

    def rows(self, name, shape, label=None):
        label = label or name
        rows = self.body.rows(name, shape, label)
        if self.shortcut is not None:
            rows += self.shortcut.rows(f"{name}_short", shape, f"{label}.short")
        return rows + [Row(f"{label}.add", "Residual", self.output_shape(shape), 0, 0)]

    def set_training(self, mode):
        self.training = mode
        self.body.set_training(mode)
        if self.shortcut is not None:
            self.shortcut.set_training(mode)


class Concat(Layer):
    """Branches applied to the same input, concatenated along channels (inception).

    The concatenation is one statement of zero-padded reads:

    >>> c = Concat(Conv2d(4, 2, 1), Conv2d(4, 3, 1))
    >>> print(c.spec_for((4, 5, 5), name="inc").splitlines()[-1])
    Y[n, c, i, j] = inc_b1[n, c, i, j] + inc_b2[n, c - 2, i, j]   where c in 0:5
    """

    kind = "concat"

    def __init__(self, *branches: Layer):
        if not branches:
            raise ValueError("Concat needs at least one branch")
        self.branches = list(branches)

    def __repr__(self) -> str:
        return "Concat(" + ", ".join(map(repr, self.branches)) + ")"

    def _shapes(self, shape: Shape) -> list[Shape]:
        outs = [b.output_shape(shape) for b in self.branches]
        if len({o[1:] for o in outs}) != 1:
            raise ValueError(f"Concat branches disagree in spatial size: {outs}")
        return outs

    def output_shape(self, shape):
        outs = self._shapes(shape)
        return (sum(o[0] for o in outs), *outs[0][1:])

    def statements(self, x, y, name, shape):
        lines, terms, offset = [], [], 0
        for k, (branch, out) in enumerate(zip(self.branches, self._shapes(shape)), 1):
            b = f"{name}_b{k}"
            lines += branch.statements(x, b, b, shape)
            idx = _idx(len(out))
            idx[1] = f"c - {offset}" if offset else "c"
            terms.append(_acc(b, idx))
            offset += out[0]
        lhs = _acc(y, _idx(len(shape)))
        return lines + [f"{lhs} = {' + '.join(terms)}   where c in 0:{offset}"]

    def walk(self, name, shape):
        for k, branch in enumerate(self.branches, 1):
            yield from branch.walk(f"{name}_b{k}", shape)

    def rows(self, name, shape, label=None):
        label, rows = label or name, []
        for k, branch in enumerate(self.branches, 1):
            rows += branch.rows(f"{name}_b{k}", shape, f"{label}.b{k}")
        return rows + [Row(f"{label}.concat", "Concat", self.output_shape(shape), 0, 0)]

    def set_training(self, mode):
        self.training = mode
        for b in self.branches:
            b.set_training(mode)
