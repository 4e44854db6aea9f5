"""The few array primitives that generated NumPy code calls; everything else is plain NumPy."""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import contract, pooling
from .contract import copied_in_order, copy_layout, einsum, natural_order
from .strided import check_inside

PIECE_WIDTH = 16   # scatter_contract: per-offset pieces narrower than this, or smaller than
PIECE_SIZE = 1 << 16    # this many elements while all offsets' pieces stay under
PRODUCT_SIZE = 1 << 19  # this many (2 MB of float32), run as one product and strided adds;
# bigger, the product's offsets-first layout costs more than a product per offset (two-conv
# conv2 input gradient at batch 16, 25 pieces of 32 K: 3.5 -> 1.9 ms; MNIST-1D conv2 at
# batch 100, 3 pieces of 128 K: 0.98 -> 0.76 ms)
OFFSET_WORK = 1 << 19  # gather_wins: the cost of one strided add of a scatter, in work units
COPY_WORK = 16      # ... and of one element of the gather's window copy (im2col)
GATHER_SLACK = 1.6  # ... and how much more work than the scatter's a gather may do
PAD_MODES = {"zero": "constant", "wrap": "wrap", "reflect": "symmetric", "clamp": "edge"}


def as_real(array):
    """``array`` (NumPy or dask) as floating point: floats as they are, integers and booleans
    converted to float64; a TypeError for anything else (complex values would lose their
    imaginary parts, an object array's None would become NaN)."""
    kind = array.dtype.kind     # (np.issubdtype costs more than the rest of a call)
    if kind == "f":
        return array
    if kind not in "biu":
        raise TypeError(f"its dtype is {array.dtype}; tensorc computes with real numbers")
    return array.astype(np.float64)


def result_type(*arrays) -> np.dtype:
    """The floating dtype a program computes in: float32 stays float32.

    >>> result_type(np.ones(2, np.float32), 2.0)
    dtype('float32')
    """
    dtype = np.result_type(*arrays) if arrays else np.dtype(np.float64)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def add_into(total: np.ndarray, term) -> np.ndarray:
    """``total + term``, written into ``total`` when it can hold the result (its shape and
    dtype; a float64 term keeps a float32 total's sum float64, in a new array).

    >>> t = np.zeros((2, 2), np.float32); add_into(t, np.ones(2)).dtype, float(t.sum())
    (dtype('float64'), 0.0)
    >>> add_into(t, np.ones(2, np.float32)) is t, float(t.sum())
    (True, 4.0)
    """
    if np.result_type(total, term) == total.dtype and \
            np.broadcast_shapes(total.shape, np.shape(term)) == total.shape:
        return np.add(total, term, out=total)
    return total + term


def view(x: np.ndarray, start, steps, shape, xp=np) -> np.ndarray:
    """A zero-copy affine view: ``out[v...] = x[start + sum_v v * steps[v]]``.

    ``steps`` holds, for each axis of the view, how far one step along it moves in each
    dimension of ``x`` (stride, dilation, flips and diagonals are all just steps).

    >>> view(np.arange(6.0), (1,), ((2,), (1,)), (2, 2)).tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    >>> x = np.ones((2, 3)); view(x, (0, 0), ((1, 0), (0, 1)), (2, 3)) is x
    True
    """
    shape = tuple(int(s) for s in shape)
    if 0 in shape or x.size == 0:
        return xp.zeros(shape, x.dtype)
    strides = _strides(x.strides, tuple(steps))
    if shape == x.shape and strides == x.strides and not any(start):
        return x                # the whole array as it is
    return _strided(x, tuple(start), shape, strides, False, xp)


@functools.lru_cache(maxsize=4096)
def _strides(strides, steps) -> tuple[int, ...]:
    """Byte strides of a view's axes: ``steps`` through the array's ``strides``."""
    return tuple(sum(int(k) * s for k, s in zip(step, strides)) for step in steps)


def _strided(x, start, shape, strides, writeable: bool, xp=np):
    """The view of ``x`` with ``shape`` and byte ``strides`` from index ``start``."""
    if xp is np and x.flags.c_contiguous:   # on the buffer itself: 5x less overhead
        offset = sum(int(k) * s for k, s in zip(start, x.strides))
        out = np.ndarray(shape, x.dtype, buffer=x, offset=offset, strides=strides)
        out.flags.writeable = writeable and x.flags.writeable
        return out
    base = x[tuple(slice(int(s), None) for s in start)] if x.ndim else x[...]
    check_inside(x, base, shape, strides)
    if xp is not np:        # CuPy's as_strided has no writeable flag
        return xp.lib.stride_tricks.as_strided(base, shape, strides)
    return as_strided(base, shape, strides, writeable=writeable)


def windows(eq: str, which: int, *operands) -> np.ndarray:
    """Operand ``which`` of the contraction ``eq`` (a window view that a later statement
    contracts again: the im2col of a convolution's forward and of its weight gradient),
    copied once in the layout the contraction copies it in, its axes in their order. A
    copy the contraction would make block by block in cache (big), or not at all, is not
    made: the view comes back (see :func:`is_kept`).

    >>> x = view(np.arange(4.0), (0,), ((1,), (1,)), (3, 2))
    >>> kept = windows("ia,a->i", 0, x, np.ones(2)); kept.tolist(), kept.flags.writeable
    ([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]], True)
    """
    return copied_in_order(operands[which], copy_layout(eq, which, *operands))


def is_kept(x, shape) -> bool:
    """May a later statement read the windows :func:`windows` returned, at this shape? A
    copy, yes (copies are writeable, window views read-only); a view, when it is so big
    that every contraction copies it block by block in cache (its weight gradient cut
    along the images: 12.3 -> 9.2 ms for the two-conv network's conv2, against reading
    the windows of an images-last copy of its own); other views are read in each
    statement's own layout."""
    return x.shape == tuple(int(s) for s in shape) and (
        x.flags.writeable or x.nbytes >= contract.BIG_COPY_BYTES)


def pad(x: np.ndarray, widths, modes, xp=np) -> np.ndarray:
    """Pad each dimension with its boundary mode: zero, wrap, reflect or clamp."""
    widths = [(int(lo), int(hi)) for lo, hi in widths]
    for mode in dict.fromkeys(modes):
        these = [w if m == mode else (0, 0) for w, m in zip(widths, modes)]
        if any(lo or hi for lo, hi in these):
            x = _zero_pad(x, these, xp) if mode == "zero" else \
                xp.pad(x, these, mode=PAD_MODES[mode])
    return x


def _zero_pad(x, widths, xp=np):
    """``np.pad`` in constant mode, without its per-call overhead (5x on small arrays)."""
    out = xp.zeros(tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, widths)), x.dtype)
    out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, widths))] = x
    return out


def delta(steps, const: int, shape, dtype, xp=np) -> np.ndarray:
    """Kronecker delta of an affine expression: 1 where ``const + sum v*steps[v] == 0``."""
    value = xp.full((1,) * len(shape), const, dtype=xp.int64)
    for axis, (step, size) in enumerate(zip(steps, shape)):
        grid = xp.arange(int(size)).reshape([-1 if a == axis else 1 for a in range(len(shape))])
        value = value + step * grid
    return (value == 0).astype(dtype)


def scatter_add(target: np.ndarray, value: np.ndarray, start, steps, loops) -> None:
    """``target[start + sum_v v*steps[v]] += value[v...]``, vectorized per loop offset.

    Axes listed in ``loops`` are iterated in Python (kernel offsets: a handful); the other
    axes map to distinct positions, so each iteration is one strided in-place add.
    """
    every = _strides(target.strides, tuple(steps))
    if value.size and injective(every, value.shape):    # e.g. pooling windows that tile
        _strided(target, tuple(start), value.shape, every, True)[...] += value
        return
    kept = [a for a in range(value.ndim) if a not in loops]
    shape, strides = tuple(value.shape[a] for a in kept), tuple(every[a] for a in kept)
    for offset in itertools.product(*(range(value.shape[a]) for a in loops)):
        index = [slice(None)] * value.ndim
        for a, k in zip(loops, offset):
            index[a] = k
        part = value[tuple(index)]
        if part.size:
            window = _strided(target, _origin(start, steps, loops, offset), shape, strides, True)
            window += part


def multiply_over(a: np.ndarray, b: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``a * b`` (broadcast), made one position of ``axes`` at a time: one factor is
    constant along those few innermost axes (a pooling window's), and NumPy's inner loop
    then runs along the next axis instead of over the window's positions.

    >>> multiply_over(np.arange(6.0).reshape(3, 2), np.array([[1.0], [10], [100]]), (1,))
    array([[  0.,   1.],
           [ 20.,  30.],
           [400., 500.]])
    """
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), np.result_type(a, b))
    for offset in itertools.product(*(range(out.shape[x]) for x in axes)):
        at = dict(zip(axes, offset))
        np.multiply(a[_position(a, at)], b[_position(b, at)], out=out[_position(out, at)])
    return out


def _position(x: np.ndarray, at: dict) -> tuple:
    """The index of ``x`` at positions ``at`` (axis -> position; 0 where ``x`` has size 1
    there, a broadcast axis)."""
    return tuple(slice(None) if d not in at else at[d] if x.shape[d] > 1 else 0
                 for d in range(x.ndim))


def _origin(start, steps, loops, offset) -> list[int]:
    """Where a scatter's writes for one offset of its ``loops`` axes begin."""
    return [int(s) + sum(k * int(steps[a][d]) for a, k in zip(loops, offset))
            for d, s in enumerate(start)]


def scatter_contract(target: np.ndarray, eq: str, operands, start, steps, loops) -> None:
    """``scatter_add(target, einsum(eq, *operands), start, steps, loops)``, with the
    contraction made one loop offset at a time: each offset's piece (a convolution input
    gradient's ``dY @ W[a, b]``) is added while it is still in cache, into a buffer laid
    out as the pieces come out of the matmul (NHWC for NCHW data), added to ``target`` once.

    >>> t = np.zeros(4); scatter_contract(t, "i,a->ia", (np.ones(3), np.array([1.0, 2])),
    ...                                   (0,), ((1,), (1,)), (1,)); t.tolist()
    [1.0, 3.0, 3.0, 2.0]
    """
    inputs, output = eq.split("->")
    inputs = inputs.split(",")
    looped = "".join(output[a] for a in loops)
    kept = "".join(x for x in output if x not in looped)
    size = {x: n for axes, op in zip(inputs, operands) for x, n in zip(axes, op.shape)}
    if not all(size[x] for x in looped):
        return          # no offsets: nothing is added
    if injective(_strides(target.strides, tuple(steps)), tuple(size[x] for x in output)):
        # one-to-one (a flatten, V[k, 16*c + 4*i + j]): scatter_add adds it in one pass
        scatter_add(target, einsum(eq, *operands), start, steps, loops)
        return
    inputs, operands = _merge_unlooped(inputs, list(operands), looped, output)
    width = math.prod(size[x] for axes in inputs if set(axes) & set(looped)
                      for x in axes if x in kept)
    if width < PIECE_WIDTH or (math.prod(size[x] for x in kept) < PIECE_SIZE and
                               math.prod(size[x] for x in output) < PRODUCT_SIZE):
        # thin or small pieces: one product, each offset's block contiguous
        order = _batch_inner(inputs, looped, kept, output, steps)
        value = einsum(",".join(inputs) + "->" + looped + order, *operands)
        piece = value.__getitem__
    else:
        order, piece = _offset_pieces(inputs, operands, looped, kept)
    _add_pieces(target, piece, order, output, loops, size, start, steps)


def _batch_inner(inputs, looped: str, kept: str, output: str, steps) -> str:
    """The kept letters of a product made whole: the looped operands' first (the matmul's
    layout), then the others', those no loop letter shifts (the batch) innermost, so that
    each offset's block adds into the buffer in long contiguous runs."""
    shifted = {d for x in looped for d, step in enumerate(steps[output.index(x)]) if step}
    near = [x for x in kept if any(x in axes and set(axes) & set(looped) for axes in inputs)]
    far = [x for x in kept if x not in near]
    return "".join(near + sorted(far, key=lambda x: not any(
        steps[output.index(x)][d] for d in shifted)))


def _offset_pieces(inputs, operands, looped: str, kept: str):
    """The letters of each offset's own contraction, in the matmul's layout, and a function
    from an offset to its piece; operands no loop letter reaches are laid out once."""
    pieces = ",".join("".join(x for x in axes if x not in looped) for axes in inputs) + "->"
    first = [op[tuple(0 if x in looped else slice(None) for x in axes)]
             for axes, op in zip(inputs, operands)]
    operands = [op if set(axes) & set(looped) else
                copied_in_order(op, copy_layout(pieces + kept, k, *first))   # once, not per offset
                for k, (axes, op) in enumerate(zip(inputs, operands))]
    order = natural_order(pieces + kept, *first)

    def piece(offset):
        at = dict(zip(looped, offset))
        return einsum(pieces + order, *(op[tuple(at.get(x, slice(None)) for x in axes)]
                                        for axes, op in zip(inputs, operands)))
    return order, piece


def _add_pieces(target, piece, order: str, output: str, loops, size, start, steps):
    """Add each loop offset's ``piece`` (letters ``order``) while it is still in cache, into
    a buffer laid out like the pieces, the buffer added to ``target`` at the end."""
    looped = "".join(output[a] for a in loops)
    dims = _buffer_dims(order, steps, output, target.ndim)
    buffer = np.zeros(tuple(target.shape[d] for d in dims), target.dtype)
    every = _strides(tuple(buffer.strides[dims.index(d)] for d in range(target.ndim)),
                     tuple(steps))
    shape, strides = tuple(size[x] for x in order), tuple(every[output.index(x)] for x in order)
    for offset in itertools.product(*(range(size[x]) for x in looped)):
        origin = _origin(start, steps, loops, offset)
        window = _strided(buffer, [origin[d] for d in dims], shape, strides, True)
        window += piece(offset)
    target += buffer.transpose(np.argsort(dims))


def _merge_unlooped(inputs: list[str], operands: list, looped, output: str):
    """The operands no loop index reaches, contracted into one first (a cotangent times a
    ReLU mask), so that each offset's contraction has two operands."""
    free = [k for k, axes in enumerate(inputs) if not set(axes) & set(looped)]
    if len(free) < 2:
        return inputs, operands
    need = set(output).union(*(inputs[k] for k in range(len(inputs)) if k not in free))
    letters = "".join(dict.fromkeys(x for k in free for x in inputs[k] if x in need))
    merged = einsum(",".join(inputs[k] for k in free) + "->" + letters,
                    *(operands[k] for k in free))
    rest = [k for k in range(len(inputs)) if k not in free]
    return [inputs[k] for k in rest] + [letters], [operands[k] for k in rest] + [merged]


def _buffer_dims(order: str, steps, letters, ndim: int) -> list[int]:
    """The target's dimensions in the order their first piece letter comes in ``order``
    (dimensions only loop letters reach go first)."""
    def rank(d: int) -> int:
        return min((order.index(x) for x, step in zip(letters, steps)
                    if step[d] and x in order), default=-1)
    return sorted(range(ndim), key=rank)


def injective(strides, shape) -> bool:
    """Do these strides send every index to a different place? (Each stride, in
    increasing order, steps past everything the smaller ones can reach.)"""
    reach = 0
    for stride, size in sorted((abs(s), n) for s, n in zip(strides, shape) if n > 1):
        if stride <= reach:
            return False
        reach += stride * (size - 1)
    return True


def gather_wins(scatter_flops: int, gather_flops: int, scatter_temporary: int,
                offsets: int = 0, gather_copy: int = 0) -> bool:
    """Run a scatter as its gather form? When the gather's extra work over the zero
    padding is small, or the scatter's per-offset temporary would be large. Each strided
    add of the scatter (a kernel offset) also costs about OFFSET_WORK multiply-adds of
    calls and passes: a small scatter (sklearn digits' 3x3 conv, 32 x 32 x 16 x 4 x 4)
    ran 0.48 ms as 9 adds, 0.22 ms as its gather of 1.8x the work. Each element of the
    gather's window copy costs COPY_WORK: at batch 1 the two-conv network's conv2 input
    gradient as a gather windows the kernel (75 MB copied; 9.5 ms against 0.3 ms). The
    gather may do GATHER_SLACK times the scatter's work: its one product runs faster than
    the scatter's thin per-offset ones (the digits CNN's conv2 input gradient, 1.5 times
    the work counted this way, ran 2.7 ms as the gather, 3.2 ms as the scatter at batch
    128; 5.0 against 5.5 ms at 256).

    >>> gather_wins(100, 110, 10), gather_wins(100, 225, 10), gather_wins(100, 225, 2**25)
    (True, False, True)
    >>> gather_wins(2**22, 2**23, 2**16, 9), gather_wins(2**26, 2**27, 2**16, 9)
    (True, False)
    >>> gather_wins(2**22, 2**23, 2**16, 9, gather_copy=2**23)
    False
    """
    scatter = scatter_flops + offsets * OFFSET_WORK
    gather = gather_flops + gather_copy * COPY_WORK
    return gather <= GATHER_SLACK * scatter or scatter_temporary > 2**24


def fold(padded: np.ndarray, widths, modes, xp=np) -> np.ndarray:
    """The adjoint of :func:`pad`: add each padded position back where it was read from.

    Zero padding drops what fell outside; wrap, reflect and clamp add it to the position
    their map reads (so gradients flow back through the same boundary map).

    >>> fold(np.array([1.0, 2, 3, 4, 5, 6]), [(2, 1)], ("wrap",)).tolist()
    [9.0, 5.0, 7.0]
    """
    x = padded
    for axis, ((lo, hi), mode) in enumerate(zip(widths, modes)):
        lo, hi = int(lo), int(hi)
        if lo or hi:
            x = _fold_axis(xp.moveaxis(x, axis, 0), lo, hi, mode)
            x = xp.moveaxis(x, 0, axis)
    return x


def _fold_axis(x: np.ndarray, lo: int, hi: int, mode: str) -> np.ndarray:
    size = x.shape[0] - lo - hi
    out = x[lo:lo + size].copy()
    if mode == "zero" or size == 0:
        return out
    for k in [*range(lo), *range(lo + size, x.shape[0])]:
        out[read_position(k - lo, size, mode)] += x[k]
    return out


def read_position(position: int, size: int, mode: str) -> int:
    """Which position of a dimension of ``size`` a padded ``position`` reads."""
    if mode == "wrap":
        return position % size
    if mode == "clamp":
        return min(max(position, 0), size - 1)
    period = position % (2 * size)         # reflect: ... 3 2 1 | 1 2 3 | 3 2 1 ...
    return period if period < size else 2 * size - 1 - period


SMALL_WINDOW = 64      # reduce windows up to this many positions slice by slice

_ELEMENTWISE = {"max": np.maximum, "min": np.minimum, "sum": np.add, "mean": np.add}


def reduce(x: np.ndarray, axes: tuple[int, ...], op: str) -> np.ndarray:
    """max, min, sum or mean over ``axes``.

    A small window (pooling) is reduced as the elementwise maximum of its strided
    sub-grids, one slice per window position: NumPy's reductions over short trailing
    axes of a strided view are 10-30x slower.

    >>> reduce(np.arange(8.0).reshape(2, 4), (1,), "max").tolist()
    [3.0, 7.0]
    """
    positions = _window(x, axes)
    if positions is None:
        fn = {"max": np.max, "min": np.min, "sum": np.sum, "mean": np.mean}[op]
        return fn(x, axis=axes)
    out = pooling.reduce(x, axes, "sum" if op == "mean" else op)
    if out is not None:
        return out / len(positions) if op == "mean" else out
    out = np.array(x[positions[0]], dtype=x.dtype)
    combine = _ELEMENTWISE[op]
    for index in positions[1:]:
        combine(out, x[index], out=out)
    if op == "mean":
        out /= len(positions)
    return out


def _window(x: np.ndarray, axes: tuple[int, ...]):
    """Index tuples of every position of a small window over ``axes``, or None."""
    return _positions(x.ndim, tuple(axes), tuple(x.shape[a] for a in axes))


@functools.lru_cache(maxsize=1024)
def _positions(ndim: int, axes: tuple[int, ...], sizes: tuple[int, ...]):
    count = int(np.prod(sizes)) if sizes else 1
    if not axes or count > SMALL_WINDOW or count == 0:
        return None
    positions = []
    for offset in itertools.product(*(range(s) for s in sizes)):
        index: list = [slice(None)] * ndim
        for a, k in zip(axes, offset):
            index[a] = k
        positions.append(tuple(index))
    return tuple(positions)


def argmax_mask(x: np.ndarray, axes: tuple[int, ...], op: str, positive: bool = False,
                value=None, best=None) -> np.ndarray:
    """One-hot along ``axes`` at the first largest (or smallest) value, in index order;
    with ``positive``, only in windows whose winner is > 0 (``argmax(x) * (x > 0)``); with
    ``value`` (shaped like ``x`` without ``axes``), the winner holds it instead of 1.
    ``best``: the windows' max (min) already computed (the forward's pooling; with
    ``positive`` its ReLU will do), used when it has the windows' shape.

    >>> argmax_mask(np.array([[1.0, 3, 3], [2, 0, 2]]), (1,), "max").tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    >>> argmax_mask(np.array([[1.0, 3, 3], [-2, -5, -2]]), (1,), "max", positive=True).tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    >>> argmax_mask(np.array([[1.0, 3, 3], [2, 0, 2]]), (1,), "max", value=np.array([5.0, 7])
    ...             ).tolist()
    [[0.0, 5.0, 0.0], [7.0, 0.0, 0.0]]
    """
    positions = _window(x, axes)
    if positions is None:
        mask = _argmax_whole(x, axes, op, positive)
        return mask if value is None else mask * np.expand_dims(value, axes)
    kept = tuple(n for a, n in enumerate(x.shape) if a not in axes)
    if best is None or best.shape != kept:
        best = reduce(x, axes, op)
    found = None if value is None else pooling.first_winners(x, axes, best, value, positive)
    if found is not None:
        return found
    # In x's memory order, so that products with x's other views stay aligned; as bool
    # first: a strided bool-to-float write per position costs more than one conversion
    found = np.empty_like(x, dtype=bool if value is None else np.result_type(x, value))
    open_ = best > 0 if positive else np.ones(best.shape, bool)   # no winner found yet
    hit = np.empty(best.shape, bool)
    for index in positions:
        np.equal(x[index], best, out=hit)
        np.logical_and(hit, open_, out=hit)
        if value is None:
            found[index] = hit
        else:                   # the winner takes the value: no mask, no product after
            np.multiply(value, hit, out=found[index])
        np.not_equal(open_, hit, out=open_)
    return found.astype(x.dtype) if value is None else found


def _argmax_whole(x: np.ndarray, axes: tuple[int, ...], op: str, positive: bool):
    """argmax_mask for big windows: one argmax call over the flattened window."""
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = np.moveaxis(x, [*kept, *axes], range(x.ndim))
    flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
    pick = (np.argmax if op == "max" else np.argmin)(flat, axis=-1)
    onehot = np.arange(flat.shape[-1]) == pick[..., None]
    if positive:
        onehot &= np.take_along_axis(flat, pick[..., None], -1) > 0
    onehot = onehot.reshape(moved.shape).astype(x.dtype)
    return np.moveaxis(onehot, range(x.ndim), [*kept, *axes])


def on_diagonal(value: np.ndarray, axes, pairs, shape, dtype, xp=np) -> np.ndarray:
    """A zero tensor of ``shape`` holding ``value`` where each pair of axes is equal:
    ``out[..., u, ..., v, ...] = delta(u, v) * value`` without building the delta.

    ``axes`` are the positions in the output of ``value``'s axes; ``pairs`` the (u, v)
    positions of each delta.

    >>> on_diagonal(np.array([1.0, 2.0]), (1,), ((0, 2),), (2, 2, 2), float)[:, 1, :].tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """
    shape = tuple(int(s) for s in shape)
    out = xp.zeros(shape, dtype)
    drop = {v for _, v in pairs}
    strides, lengths = list(out.strides), list(shape)
    for u, v in pairs:      # the diagonal ends where the shorter of its two axes does
        strides[u] += out.strides[v]
        lengths[u] = min(lengths[u], shape[v])
    keep = [a for a in range(len(shape)) if a not in drop]
    lengths, strides = [lengths[a] for a in keep], [strides[a] for a in keep]
    check_inside(out, out, lengths, strides)
    diagonal = xp.lib.stride_tricks.as_strided(out, lengths, strides)
    if not value.ndim:
        diagonal[...] = value
        return out
    index = tuple(slice(None) if a in axes else None for a in keep)
    order = sorted(range(len(axes)), key=lambda k: axes[k])
    value = xp.transpose(value, order)[index]
    diagonal[...] = value[tuple(slice(0, n) for n in lengths)]
    return out
