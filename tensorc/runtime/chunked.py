"""The primitives generated Dask code calls: :mod:`kernels` lifted to chunked arrays.

Each block runs the NumPy kernel; what this module adds is which blocks a block needs.
A window read ``X[s*i + a]`` keeps ``X``'s chunks along the dimension: the output positions
``i`` whose windows start in a block are computed from that block plus a halo of the
window's reach from the next one (``dask.array.overlap``), so a convolution over a
spatially chunked image exchanges only the halos. Contractions follow opt_einsum's
pairwise order, each pair one blockwise task per output block; a sum over a chunked axis
(the batch, for parameter gradients) adds the blocks' partial results as a tree.
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import opt_einsum

from ..errors import TensorcError
from . import kernels
from .kernels import as_real, result_type  # noqa: F401  (result_type: for generated code)

try:
    import dask
    import dask.array as da
    from dask.array.utils import meta_from_array
except ImportError:         # the module imports; calling a program raises
    dask = da = meta_from_array = None


MANY_WRITES = 32    # slice updates of one scatter beyond which it runs as one task


class DaskUnavailableError(TensorcError, ImportError):
    """backend="dask" was called without dask installed."""


def require_dask() -> None:
    if da is None:
        raise DaskUnavailableError("backend='dask' needs dask: pip install 'tensorc[dask]'")


def as_input(value):
    """A program input as a dask array: dask arrays keep their chunks (and their NumPy or
    CuPy blocks); other arrays become dask arrays of the configured ``array.backend``."""
    require_dask()
    if isinstance(value, da.Array):
        return as_real(value)
    if hasattr(value, "__cuda_array_interface__"):          # a CuPy array
        return da.from_array(value, chunks=value.shape, asarray=False)
    chunked = da.asarray(as_real(np.asarray(value)))
    return chunked if dask.config.get("array.backend", "numpy") == "numpy" \
        else chunked.to_backend()


def array(x, dtype):
    """A copy: a new dask array object (a later ``+=`` into it leaves ``x`` alone)."""
    return da.asarray(x, dtype=dtype).copy()


def ascontiguousarray(x):
    """Each block copied into C order (a transposed block read by a window copies runs)."""
    return x.map_blocks(_contiguous, dtype=x.dtype)


def _contiguous(block):
    return block.copy(order="C")


def compute(outputs: tuple) -> tuple:
    """All outputs in one ``dask.compute`` (work they share runs once), scalars as 0-d
    arrays like the NumPy backend's."""
    return tuple(np.asarray(v) if isinstance(v, np.generic) else v
                 for v in dask.compute(*outputs))


# --- contractions ---------------------------------------------------------------------

def einsum(eq: str, *operands):
    """``eq`` over dask arrays: opt_einsum's pairwise order, each pair one blockwise
    contraction of NumPy blocks (:func:`contract_blocks`)."""
    inputs, output = eq.split("->")
    terms = inputs.split(",")
    if any(len(set(t)) != len(t) for t in terms):       # a diagonal: dask's own einsum
        return opt_einsum.contract(eq, *operands, backend="dask")
    if len(operands) <= 2:
        return contract_blocks(terms, output, operands)
    operands = list(operands)
    for positions, _, step, _, _ in _steps(eq, tuple(tuple(a.shape) for a in operands)):
        pair = [operands.pop(k) for k in positions]     # positions: highest first
        pair_terms, pair_output = step.split("->")
        operands.append(contract_blocks(pair_terms.split(","), pair_output, pair))
    return operands[0]


@functools.lru_cache(maxsize=1024)
def _steps(eq: str, shapes: tuple) -> list:
    return opt_einsum.contract_path(eq, *shapes, shapes=True, optimize="auto")[1] \
        .contraction_list


def contract_blocks(terms: list[str], output: str, operands):
    """One contraction, block by block: each task contracts its blocks with the NumPy
    runtime's einsum. Summed indices that are chunked stay as length-one axes of the
    partial results, summed afterwards as a tree; no sum step when none is chunked (an
    elementwise function of the result alone then fuses into the same task; dask keeps an
    operation with a second, broadcast operand such as a bias apart)."""
    chunked = "".join(dict.fromkeys(c for t, a in zip(terms, operands) for d, c in enumerate(t)
                                    if c not in output and a.numblocks[d] > 1))
    eq = f"{','.join(terms)}->{output}"
    pairs = [x for a, t in zip(operands, terms) for x in (a, t)]
    dtype = np.result_type(*(a.dtype for a in operands))
    out = da.blockwise(_contract_block, output + chunked, *pairs, dtype=dtype,
                       concatenate=True, adjust_chunks={c: 1 for c in chunked},
                       eq=eq, extra=len(chunked))
    if not chunked:
        return out
    return out.sum(axis=tuple(range(len(output), len(output) + len(chunked))))


def _contract_block(*blocks, eq: str, extra: int):
    result = _kernels(blocks[0]).einsum(eq, *blocks)
    return result.reshape(result.shape + (1,) * extra)


def gather_wins(*costs) -> bool:
    """A scatter that has a gather form always runs as the gather on chunks: a gather is
    one blockwise read per block, a scatter a chain of strided writes into the target."""
    return True


# --- window reads -------------------------------------------------------------------------

def view(x, start, steps, shape):
    """``out[v...] = x[start + sum_v v * steps[v]]`` (see :func:`kernels.view`), chunked.

    Along each dimension of ``x`` one axis of the view, its position axis (the longest one
    that moves forward through that dimension alone), inherits the dimension's chunks; the
    other axes reading the dimension (kernel offsets) are whole in every block. A dimension
    read any other way (a diagonal, a flip) is made one chunk first.
    """
    shape = tuple(int(s) for s in shape)
    if 0 in shape or x.size == 0:
        return da.zeros(shape, x.dtype)
    if not shape:
        return x[tuple(int(s) for s in start)]
    position = _position_axes(x.ndim, steps, shape)
    kept = [position[d] for d in sorted(position)]
    if kept != sorted(kept):        # map_blocks keeps the order of the dimensions it keeps
        position, kept = {}, []
    whole = {d: -1 for d in range(x.ndim) if d not in position and x.numblocks[d] > 1}
    if whole:
        x = x.rechunk(whole)
    reads = {d: _Read(start[d], steps[v][d], shape[v],
                      _reach(steps, shape, d, v), x.chunks[d]) for d, v in position.items()}
    x = x.rechunk({d: r.chunks for d, r in reads.items() if r.chunks != x.chunks[d]})
    depth = {d: (0, r.halo) for d, r in reads.items() if r.halo and x.numblocks[d] > 1}
    if depth:
        x = da.overlap.overlap(x, depth=depth, boundary="none")
    chunks = tuple(reads[d].out_chunks if (d := _dim_of(position, v)) is not None
                   else (shape[v],) for v in range(len(shape)))
    drop = [d for d in range(x.ndim) if d not in position]
    new = [v for v in range(len(shape)) if v not in kept]
    block = functools.partial(_view_block, start=tuple(int(s) for s in start), steps=steps,
                              shape=shape, reads=reads, position=position)
    return x.map_blocks(block, chunks=chunks, drop_axis=drop, new_axis=new, dtype=x.dtype,
                        meta=meta_from_array(x, ndim=len(shape)))


class _Read:
    """How one chunked dimension is read by its position axis: ``start + step * p +
    offsets``, offsets spanning ``reach`` = (lowest, highest)."""

    def __init__(self, start, step, count, reach, chunks):
        self.start, self.step, self.count = int(start), int(step), count
        self.low, self.halo = reach[0], reach[1] - reach[0]
        bounds = self._bounds(np.cumsum((0,) + chunks)[:-1].tolist(), sum(chunks))
        self.chunks = tuple(np.diff(bounds + [sum(chunks)]).tolist())
        self.origins = bounds
        self.firsts = [self._first(b) for b in bounds]
        self.out_chunks = tuple(np.diff(self.firsts + [count]).tolist())

    def _first(self, origin: int) -> int:
        """The first position whose window starts at or after ``origin``."""
        anchor0 = self.start + self.low
        return min(max(-(-(origin - anchor0) // self.step), 0), self.count)

    def _bounds(self, origins: list[int], end: int) -> list[int]:
        """Block starts, merging blocks that would hold no window start or be shorter
        than the halo (dask's overlap needs every block at least that long)."""
        kept = [0]
        for origin in origins[1:]:
            holds = self._first(origin) > self._first(kept[-1])
            rest = self._first(origin) < self.count and end - origin >= self.halo
            if holds and rest and origin - kept[-1] >= self.halo:
                kept.append(origin)
        return kept


def _position_axes(ndim: int, steps, shape) -> dict[int, int]:
    """Dimension -> the view axis that carries its chunks (see :func:`view`)."""
    found = {}
    for d in range(ndim):
        readers = [v for v in range(len(steps)) if steps[v][d]]
        alone = [v for v in readers if steps[v][d] > 0 and
                 not any(steps[v][e] for e in range(ndim) if e != d)]
        if not alone:
            continue
        v = max(alone, key=lambda v: (shape[v], steps[v][d]))
        found[d] = v
    return found


def _dim_of(position: dict[int, int], axis: int):
    return next((d for d, v in position.items() if v == axis), None)


def _reach(steps, shape, d: int, axis: int) -> tuple[int, int]:
    """Lowest and highest offset the other axes add along dimension ``d``."""
    low = high = 0
    for v, (step, size) in enumerate(zip(steps, shape)):
        if v != axis and step[d]:
            low += min(0, step[d] * (size - 1))
            high += max(0, step[d] * (size - 1))
    return low, high


def _view_block(block, start, steps, shape, reads, position, block_info=None):
    location = block_info[0]["chunk-location"]
    local_start, local_shape = list(start), list(shape)
    for d, read in reads.items():
        k = location[d]
        first = read.firsts[k]
        local_start[d] = start[d] + read.step * first - read.origins[k]
        local_shape[position[d]] = read.out_chunks[k]
    return _kernels(block).view(block, local_start, steps, local_shape)


def _kernels(block):
    """The kernels for a block's array type: NumPy's, or CuPy's for chunks on the GPU."""
    if type(block).__module__.split(".")[0] == "cupy":
        from . import gpu
        return gpu
    return kernels


def _reduce_block(block, axes, op):
    return _kernels(block).reduce(block, axes, op)


def _argmax_block(block, axes, op, positive=False):
    return _kernels(block).argmax_mask(block, axes, op, positive)


# --- boundaries, reductions, masks ---------------------------------------------------------

def pad(x, widths, modes):
    """:func:`kernels.pad` on chunks. ``da.pad`` pads wrap and reflect by at most one
    period (wider, it returns too few elements); wider ones gather by the boundary map."""
    widths = [(int(lo), int(hi)) for lo, hi in widths]
    for axis, ((lo, hi), mode) in enumerate(zip(widths, modes)):
        size = x.shape[axis]
        if mode in ("wrap", "reflect") and max(lo, hi) > size > 0:
            index = [kernels.read_position(k - lo, size, mode) for k in range(lo + size + hi)]
            x = da.take(x, np.array(index), axis=axis)
            widths[axis] = (0, 0)
    return kernels.pad(x, widths, modes, xp=da)


def fold(padded, widths, modes):
    """:func:`kernels.fold` on chunks: along each padded axis, the interior plus one
    gather per padded position that reads the same place (a slice update per padded
    position instead grows the graph of every later one: a 3-D fold of 8-wide wraps took
    90 s)."""
    x = padded
    for axis, ((lo, hi), mode) in enumerate(zip(widths, modes)):
        lo, hi = int(lo), int(hi)
        if lo or hi:
            x = _fold_axis(x, axis, lo, hi, mode)
    return x


def _fold_axis(x, axis: int, lo: int, hi: int, mode: str):
    length = x.shape[axis]
    size = length - lo - hi
    at = (slice(None),) * axis
    out = x[(*at, slice(lo, lo + size))]
    if mode == "zero" or size == 0:
        return out
    sources: list[list[int]] = [[] for _ in range(size)]
    for k in [*range(lo), *range(lo + size, length)]:
        sources[kernels.read_position(k - lo, size, mode)].append(k)
    with_zero = da.concatenate([x, da.zeros_like(x[(*at, slice(0, 1))])], axis=axis)
    for j in range(max(map(len, sources))):     # position ``length``: the zero row
        out = out + da.take(with_zero, [s[j] if j < len(s) else length for s in sources],
                            axis=axis)
    return out


def delta(steps, const, shape, dtype):
    return kernels.delta(steps, const, shape, dtype, xp=da)


def reduce(x, axes: tuple[int, ...], op: str):
    """max/min/sum/mean over ``axes``: per block when the axes are whole in every block
    (pooling windows), else dask's tree reduction."""
    if all(x.numblocks[a] == 1 for a in axes):
        return x.map_blocks(_reduce_block, axes, op, drop_axis=axes, dtype=x.dtype,
                            meta=meta_from_array(x, ndim=x.ndim - len(axes)))
    return getattr(da, op)(x, axis=axes)


def argmax_mask(x, axes: tuple[int, ...], op: str, positive: bool = False, value=None):
    """``kernels.argmax_mask`` per block (window axes made whole), times ``value``."""
    x = x.rechunk({a: -1 for a in axes})
    mask = x.map_blocks(_argmax_block, axes, op, positive, dtype=x.dtype, meta=x._meta)
    return mask if value is None else mask * da.expand_dims(as_input(value), axes)


def on_diagonal(value, axes, pairs, shape, dtype):
    """``value`` times one delta per pair of axes (see :func:`kernels.on_diagonal`), as a
    lazy product: blocks off the diagonal are zeros dask builds only when asked."""
    shape = tuple(int(s) for s in shape)
    order = sorted(range(len(axes)), key=lambda k: axes[k])
    expand = tuple(slice(None) if a in axes else None for a in range(len(shape)))
    out = da.transpose(value, order)[expand] if value.ndim else value
    for u, v in pairs:
        out = out * kernels.delta(tuple(1 if a == u else -1 if a == v else 0
                                        for a in range(len(shape))), 0,
                                  [shape[a] if a in (u, v) else 1 for a in range(len(shape))],
                                  dtype, xp=da)
    return da.broadcast_to(out, shape).astype(dtype)


# --- scatters -------------------------------------------------------------------------------

def scatter_contract(target, eq: str, operands, start, steps, loops) -> None:
    """``kernels.scatter_contract`` on dask arrays: the whole lazy product, then the slice
    updates."""
    scatter_add(target, einsum(eq, *operands), start, steps, loops)


def scatter_add(target, value, start, steps, loops) -> None:
    """``target[start + sum_v v*steps[v]] += value[v...]`` as strided slice updates of the
    (mutable) dask array ``target``: one per position of the axes that cannot be a slice."""
    kept, loops = _slice_axes(steps, value.shape, target.ndim)
    if math.prod(value.shape[a] for a in loops) > MANY_WRITES:
        # each slice update adds to the graph of every one before it (256 of them into
        # 343 chunks took four minutes): the scatter as one task on the whole arrays
        whole = dask.delayed(_scatter_whole)(target, value, start, steps, tuple(loops))
        target[...] = da.from_delayed(whole, target.shape, target.dtype).rechunk(target.chunks)
        return
    for offset in itertools.product(*(range(value.shape[a]) for a in loops)):
        origin = np.array(start, dtype=np.int64)
        for a, k in zip(loops, offset):
            origin += k * np.asarray(steps[a], dtype=np.int64)
        part = value[tuple(dict(zip(loops, offset)).get(a, slice(None))
                           for a in range(value.ndim))]
        index, order, flips = [], [], []
        for d in range(target.ndim):
            axis = next((a for a in kept if steps[a][d]), None)
            if axis is None:
                index.append(int(origin[d]))
                continue
            step, count, first = steps[axis][d], value.shape[axis], int(origin[d])
            if step < 0:        # dask slices forward only: write the reversed part forward
                first, step = first + step * (count - 1), -step
                flips.append(len(order))
            index.append(slice(first, first + step * (count - 1) + 1, step))
            order.append(kept.index(axis))
        part = da.transpose(part, order) if order else part
        if flips:
            part = part[tuple(slice(None, None, -1) if k in flips else slice(None)
                              for k in range(part.ndim))]
        target[tuple(index)] += part


def _scatter_whole(target: np.ndarray, value: np.ndarray, start, steps, loops) -> np.ndarray:
    target = target.copy()
    kernels.scatter_add(target, value, start, steps, loops)
    return target


def _slice_axes(steps, shape, ndim: int):
    """Axes of the value that become one strided slice each (each moves through exactly
    one dimension no other kept axis moves); the rest are looped over."""
    kept, taken = [], set()
    for a, step in enumerate(steps):
        dims = [d for d in range(ndim) if step[d]]
        if len(dims) == 1 and dims[0] not in taken:
            kept.append(a)
            taken.add(dims[0])
    return kept, [a for a in range(len(shape)) if a not in kept]
