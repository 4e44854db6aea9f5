"""Parameter initialisers: Glorot/Xavier uniform, small Gaussian, zeros.

Every initialiser takes the shape first and returns a new array (float32 unless another
``dtype`` is asked for). Randomness comes from a :class:`numpy.random.Generator`; an int
seed or ``None`` is accepted too and passed to :func:`numpy.random.default_rng`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RngLike = np.random.Generator | int | None
Shape = int | Sequence[int]


def as_rng(rng: RngLike) -> np.random.Generator:
    """Return ``rng`` if it is a Generator, else a new Generator seeded with it.

    >>> bool(as_rng(0).integers(1000) == as_rng(0).integers(1000))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _shape(shape: Shape) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(int(d) < 0 for d in dims):
        raise ValueError(f"shape {dims} has a negative dimension")
    return tuple(int(d) for d in dims)


def fans(shape: Shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight, computed as PyTorch does.

    Dimension 0 is the output, dimension 1 the input, and any further dimensions the
    receptive field: a convolution weight ``(O, C, kh, kw)`` has ``fan_in = C*kh*kw`` and
    ``fan_out = O*kh*kw``; a dense weight ``(out, in)`` has ``fan_in = in``.

    >>> fans((8, 3, 5, 5))
    (75, 200)
    >>> fans((10, 84))
    (84, 10)
    """
    dims = _shape(shape)
    if len(dims) < 2:
        raise ValueError(f"fan in and fan out need a weight of 2 or more dimensions, got {dims}")
    receptive = math.prod(dims[2:])
    return dims[1] * receptive, dims[0] * receptive


def glorot_uniform(
    shape: Shape,
    fan_in: int | None = None,
    fan_out: int | None = None,
    rng: RngLike = None,
    gain: float = 1.0,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Glorot/Xavier uniform: ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    The variance is ``a**2 / 3 = gain**2 * 2 / (fan_in + fan_out)``. Fans left out are
    computed from the shape with :func:`fans`.

    >>> w = glorot_uniform((8, 3, 5, 5), rng=0)          # fans (75, 200)
    >>> bool(abs(w).max() <= (6 / 275) ** 0.5)
    True
    """
    dims = _shape(shape)
    if fan_in is None or fan_out is None:
        auto_in, auto_out = fans(dims)
        fan_in = auto_in if fan_in is None else fan_in
        fan_out = auto_out if fan_out is None else fan_out
    if fan_in + fan_out <= 0:
        raise ValueError(f"fan_in + fan_out must be positive, got {fan_in} + {fan_out}")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return as_rng(rng).uniform(-bound, bound, size=dims).astype(dtype, copy=False)


def gaussian(
    shape: Shape,
    sigma: float = 0.01,
    rng: RngLike = None,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Small Gaussian: independent ``N(0, sigma**2)`` entries.

    >>> gaussian((2, 3), sigma=0.01, rng=0).shape
    (2, 3)
    """
    if sigma < 0:
        raise ValueError(f"sigma must be non-negative, got {sigma}")
    return as_rng(rng).normal(0.0, sigma, size=_shape(shape)).astype(dtype, copy=False)


def zeros(shape: Shape, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """An array of zeros, for biases.

    >>> zeros(3)
    array([0., 0., 0.], dtype=float32)
    """
    return np.zeros(_shape(shape), dtype=dtype)
