"""Memory safety for hand-made strided views.

``numpy.lib.stride_tricks.as_strided`` checks nothing: a view whose shape and strides
reach past its array reads other objects' memory, and a write through it (a scatter, a
compiled pooling loop) corrupts them, to crash much later somewhere else. Every such view
the runtime makes is checked here first.
"""
from __future__ import annotations

import numpy as np


def check_inside(x, base, shape, strides) -> None:
    """Refuse a view of ``base`` (``x`` or a view into it) with that shape and those byte
    strides if it would reach memory outside ``x``, as ``np.ndarray(buffer=x)`` does."""
    check_span(_address(base) - _address(x), shape, strides, x.shape, x.strides)


def check_span(offset: int, shape, strides, x_shape, x_strides) -> None:
    """:func:`check_inside` from the shapes alone: the view starts ``offset`` bytes after
    the array's first element."""
    if 0 in shape:
        return
    lo, hi = _span(strides, shape)
    x_lo, x_hi = _span(x_strides, x_shape)
    if offset + lo < x_lo or offset + hi > x_hi:
        raise ValueError(f"tensorc internal error: a view of shape {tuple(shape)} and "
                         f"strides {tuple(strides)} would reach outside its array "
                         f"{tuple(x_shape)}; please report the spec")


def _span(strides, shape) -> tuple[int, int]:
    """The lowest and highest byte offset (inclusive) a strided view reaches."""
    lo = sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
    hi = sum((n - 1) * s for n, s in zip(shape, strides) if s > 0)
    return lo, hi


def _address(x) -> int:
    return x.__array_interface__["data"][0] if isinstance(x, np.ndarray) else x.data.ptr
