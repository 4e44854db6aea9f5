"""The Dask runtime's primitives against references on random inputs and random chunks.

``chunked.view`` keeps a dimension's chunks along its position axis and reads a halo from
the next block; hypothesis draws strides, dilations, offsets, flips, several axes per
dimension and chunk sizes smaller than the halo, and every result must equal
``kernels.view`` exactly. Scatters are checked against adding one write at a time, pads and
folds against the NumPy kernels, contractions against ``numpy.einsum``.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

da = pytest.importorskip("dask.array")

from tensorc.runtime import chunked, kernels  # noqa: E402  (after the importorskip)


def placed(draw, steps, shape, ndim: int, spare: int, shift: bool):
    """An array holding every position the axes reach, with up to ``spare`` more per
    dimension, random chunks, and a start (moved into the spare room when ``shift``):
    (array shape, chunks, start, steps, axis extents)."""
    low = [sum(min(0, s[e] * (n - 1)) for s, n in zip(steps, shape)) for e in range(ndim)]
    high = [sum(max(0, s[e] * (n - 1)) for s, n in zip(steps, shape)) for e in range(ndim)]
    room = [draw(st.integers(0, spare)) for _ in range(ndim)]
    base = tuple(h - lo + 1 + k for h, lo, k in zip(high, low, room))
    start = tuple(-lo + (draw(st.integers(0, k)) if shift else 0) for lo, k in zip(low, room))
    chunks = tuple(draw(st.integers(1, n)) for n in base)
    return base, chunks, start, tuple(steps), tuple(shape)


@st.composite
def window_reads(draw):
    """A base array shape, its chunks, and a valid affine read (start, steps, shape)."""
    ndim = draw(st.integers(1, 3))
    axes = []                               # (dimension, step, extent) per view axis
    for d in range(ndim):
        for _ in range(draw(st.integers(1, 3))):
            step = draw(st.sampled_from([1, 1, 2, 3, -1]))
            axes.append((d, step, draw(st.integers(1, 5))))
    if draw(st.booleans()) and ndim > 1:    # a diagonal: one axis moving two dimensions
        axes.append((None, 1, draw(st.integers(1, 3))))
    steps, shape = [], []
    for d, step, extent in axes:
        steps.append(tuple((step if d in (None, e) else 0) for e in range(ndim)))
        shape.append(extent)
    return placed(draw, steps, shape, ndim, spare=3, shift=True)


@settings(max_examples=150, deadline=None)
@given(window_reads(), st.integers(0, 2**16))
def test_chunked_view_equals_the_numpy_view(read, seed):
    base, chunks, start, steps, shape = read
    x = np.random.default_rng(seed).standard_normal(base)
    expected = kernels.view(x, start, steps, shape)
    lazy = chunked.view(da.from_array(x, chunks=chunks), start, steps, shape)
    actual = lazy.compute(scheduler="sync")
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)
    assert sum(lazy.chunks[0]) == shape[0]


@st.composite
def scatters(draw):
    """A target shape, a value shape and an affine write (start, steps) inside the target;
    writes may collide (a flattening, or two axes moving one dimension)."""
    ndim = draw(st.integers(1, 3))
    steps, shape = [], []
    for _ in range(draw(st.integers(1, 4))):
        moved = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=2, unique=True))
        step = [0] * ndim
        for d in moved:
            step[d] = draw(st.sampled_from([1, 2, 3, -1]))
        steps.append(tuple(step))
        shape.append(draw(st.integers(1, 4)))
    return placed(draw, steps, shape, ndim, spare=2, shift=False)


@settings(max_examples=60, deadline=None)
@given(scatters(), st.integers(0, 2**16))
def test_chunked_scatter_add_equals_adding_each_write(write, seed):
    target, chunks, start, steps, shape = write
    rng = np.random.default_rng(seed)
    value, base = rng.standard_normal(shape), rng.standard_normal(target)
    expected = base.copy()
    for v in np.ndindex(*shape):            # one write at a time: collisions add up
        position = tuple(s + sum(k * step[d] for k, step in zip(v, steps))
                         for d, s in enumerate(start))
        expected[position] += value[v]
    actual = da.from_array(base, chunks=chunks)
    chunked.scatter_add(actual, da.from_array(value), start, steps, ())
    np.testing.assert_allclose(actual.compute(scheduler="sync"), expected, rtol=1e-12,
                               atol=1e-12)


def test_a_scatter_of_many_slice_updates_runs_as_one_task():
    # 256 writes that each move two dimensions: one slice update each took four minutes
    steps, shape, start = ((1, 1, 0), (0, 1, 1), (1, 0, 1), (2, 0, 1)), (4, 4, 4, 4), (0, 0, 0)
    rng = np.random.default_rng(5)
    base, value = rng.standard_normal((20, 20, 20)), rng.standard_normal(shape)
    expected = base.copy()
    kernels.scatter_add(expected, value, start, steps, (0, 1, 2, 3))
    actual = da.from_array(base, chunks=3)
    chunked.scatter_add(actual, da.from_array(value), start, steps, ())
    assert len(actual.dask.layers) < 10
    np.testing.assert_allclose(actual.compute(scheduler="sync"), expected, rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(0, 8), st.integers(0, 8),
                          st.sampled_from(["zero", "wrap", "reflect", "clamp"]),
                          st.integers(1, 5)), min_size=1, max_size=3),
       st.integers(0, 2**16))
def test_chunked_pad_and_fold_equal_numpy(dims, seed):
    # widths up to several times the size: wrap and reflect then repeat the map
    shape = tuple(n for n, *_ in dims)
    widths = tuple((lo, hi) for _, lo, hi, _, _ in dims)
    modes = tuple(m for *_, m, _ in dims)
    chunks = tuple(min(c, n) for n, *_, c in dims)
    x = np.random.default_rng(seed).standard_normal(shape)
    padded = kernels.pad(x, widths, modes)
    actual = chunked.pad(da.from_array(x, chunks=chunks), widths, modes)
    np.testing.assert_array_equal(actual.compute(scheduler="sync"), padded)
    folded = chunked.fold(da.from_array(padded, chunks=3), widths, modes)
    np.testing.assert_allclose(folded.compute(scheduler="sync"),
                               kernels.fold(padded, widths, modes), rtol=1e-12, atol=1e-12)


@st.composite
def contractions(draw):
    """An einsum equation over 1-3 operands (no repeated index within one), its operand
    shapes and chunks: any index may be chunked, summed or kept."""
    letters = "abcde"[:draw(st.integers(1, 5))]
    sizes = {c: draw(st.integers(1, 6)) for c in letters}
    terms = [draw(st.lists(st.sampled_from(letters), min_size=1, max_size=3, unique=True))
             for _ in range(draw(st.integers(1, 3)))]
    used = sorted({c for t in terms for c in t})
    output = draw(st.lists(st.sampled_from(used), max_size=len(used), unique=True))
    eq = ",".join("".join(t) for t in terms) + "->" + "".join(output)
    shapes = [tuple(sizes[c] for c in t) for t in terms]
    chunks = [tuple(draw(st.integers(1, n)) for n in s) for s in shapes]
    return eq, shapes, chunks


@settings(max_examples=120, deadline=None)
@given(contractions(), st.integers(0, 2**16))
def test_chunked_einsum_equals_numpy_einsum(case, seed):
    eq, shapes, chunks = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    expected = np.einsum(eq, *arrays)
    lazy = chunked.einsum(eq, *(da.from_array(a, chunks=c) for a, c in zip(arrays, chunks)))
    np.testing.assert_allclose(lazy.compute(scheduler="sync"), expected, rtol=1e-10,
                               atol=1e-10)


def test_a_dask_program_without_dask_says_what_to_install(monkeypatch):
    import tensorc as tc
    prog = tc.compile("Y[i] = X[i + a] * K[a]", backend="dask")
    monkeypatch.setattr(chunked, "da", None)
    with pytest.raises(chunked.DaskUnavailableError, match=r"pip install 'tensorc\[dask\]'"):
        prog(X=np.ones(5), K=np.ones(2))
    assert issubclass(chunked.DaskUnavailableError, tc.TensorcError)
