"""Small-window reductions (pooling) and their adjoint as compiled loops.

NumPy runs a pooling window as one pass per window position over strided slices; the
adjoint of a max (the cotangent put on each window's first winner) takes four passes per
position. A compiled loop reads each window once: on the two-conv MNIST training step
(batch 128, 2 x 2 pools) the two pooling statements and their adjoints went from about
12 ms to about 6 ms (BENCHMARKS.md). The loops are compiled by numba (a dependency) the
first time a program pools, then cached on disk.

A view runs compiled when its kept axes fold into at most two strided dimensions and its
window axes into at most two (1-D and 2-D pooling, any stride or dilation), in float32 or
float64; anything else returns None and :mod:`tensorc.runtime.kernels` takes its NumPy
path. ``TENSORC_JIT=0`` in the environment turns the compiled loops off.
"""
from __future__ import annotations

import functools
import importlib
import os
import warnings
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .strided import check_span

OPS = {"max": 0, "min": 1, "sum": 2}
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))     # what the loops are compiled for


@functools.lru_cache(maxsize=1)
def loops():
    """The compiled loops module, or None: turned off, or numba missing or unable to set
    up its loops (said once, as a warning: only speed is lost)."""
    if os.environ.get("TENSORC_JIT", "1") == "0":
        return None
    try:
        compiled = importlib.import_module(f"{__package__}.pooling_loops")
    except Exception as error:     # ImportError, or numba's own (no cache directory, ...)
        warnings.warn(f"tensorc: pooling runs as NumPy slice passes, numba's compiled loops "
                      f"are unavailable ({type(error).__name__}: {error})", RuntimeWarning,
                      stacklevel=2)
        return None
    return compiled


def reduce(x: np.ndarray, axes: tuple[int, ...], op: str) -> np.ndarray | None:
    """The max, min or sum of each window of ``x`` over ``axes``; None where not compiled.

    >>> x = np.arange(12.0).reshape(3, 4)
    >>> out = reduce(x, (1,), "max"); out is None or out.tolist() == [3.0, 7.0, 11.0]
    True
    """
    code = loops()
    if code is None or op not in OPS or x.dtype not in DTYPES or x.size == 0:
        return None
    layout = _layout(x.shape, x.strides, tuple(axes))
    if layout is None:
        return None
    rows = _rows(x, layout)
    out = np.empty([x.shape[a] for a in layout.kept], x.dtype)
    code.reduce_windows(rows, out.reshape(rows.shape[:2]), *_sizes(rows), OPS[op])
    return out


def first_winners(x: np.ndarray, axes: tuple[int, ...], best: np.ndarray, value,
                  positive: bool) -> np.ndarray | None:
    """``value`` at each window's first position equal to ``best`` (only where ``best > 0``
    with ``positive``), 0 elsewhere, laid out like ``x``; None where not compiled.

    >>> x = np.array([[1.0, 3, 3], [2, 0, 2]])
    >>> out = first_winners(x, (1,), np.array([3.0, 2]), np.array([5.0, 7]), False)
    >>> out is None or out.tolist() == [[0.0, 5.0, 0.0], [7.0, 0.0, 0.0]]
    True
    """
    code = loops()
    if code is None or x.dtype not in DTYPES or x.size == 0 or \
            np.result_type(x, best, value) != x.dtype:
        return None
    axes = tuple(axes)
    layout, found = _layout(x.shape, x.strides, axes), np.empty_like(x)
    into = layout if found.strides == x.strides else _layout(found.shape, found.strides, axes)
    if layout is None or into is None or into.covered != layout.covered:
        return None
    rows = _rows(x, layout)
    shape, windows = tuple(x.shape[a] for a in layout.kept), rows.shape[:2]
    best, value = (np.ascontiguousarray(a if np.shape(a) == shape else np.broadcast_to(a, shape),
                                        x.dtype).reshape(windows) for a in (best, value))
    code.first_winners(rows, best, value, _rows(found, into), *_sizes(rows), positive)
    return found


def _sizes(rows: np.ndarray) -> tuple[tuple, tuple]:
    """The window's two sizes as tuples of those lengths (compile-time sizes for numba)."""
    return (0,) * rows.shape[2], (0,) * rows.shape[3]


class Layout(NamedTuple):
    """A view as 4-D (R, D, P, Q): its kept axes, the sizes and byte strides of the four
    dimensions, and the axes each dimension covers."""

    kept: tuple[int, ...]
    sizes: tuple[int, ...]
    strides: tuple[int, ...]
    covered: tuple[tuple[int, ...], ...]


def _rows(x: np.ndarray, layout: Layout) -> np.ndarray:
    return as_strided(x, layout.sizes, layout.strides, writeable=x.flags.writeable)


@functools.lru_cache(maxsize=1024)
def _layout(shape, strides, window) -> Layout | None:
    """Kept axes folded into two dimensions and window axes into two; None when either
    needs more (computed once per shape, strides and window)."""
    kept = tuple(a for a in range(len(shape)) if a not in window)
    runs = _fold(shape, strides, kept), _fold(shape, strides, window)
    if None in runs:
        return None
    dims = [d for run in runs for d in [(1, 0, ())] * (2 - len(run)) + run]
    sizes, steps, covered = zip(*dims)
    check_span(0, sizes, steps, shape, strides)     # (the compiled loops check nothing)
    return Layout(kept, sizes, steps, covered)


def _fold(shape, strides, axes) -> list[tuple[int, int, tuple]] | None:
    """(size, stride, axes) of at most two dimensions covering ``axes`` in order, each
    axis merged into the one before it when the strides line up; None when it takes three."""
    runs: list[tuple[int, int, tuple]] = []
    for a in axes:
        size, stride = shape[a], strides[a]
        if size == 1:
            continue
        if runs and runs[-1][1] == stride * size:
            runs[-1] = (runs[-1][0] * size, stride, runs[-1][2] + (a,))
        else:
            runs.append((size, stride, (a,)))
    return runs if len(runs) <= 2 else None
