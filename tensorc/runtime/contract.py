"""Fast, BLAS-backed execution of einsum contractions, called by generated code at run time.

Every pairwise contraction runs as exactly one ``np.matmul`` (or, when nothing is summed, one
broadcasting ``np.multiply``).  The operands are reshaped to ``(batch..., M, K)`` and
``(batch..., K, N)``; the formulation (which letters are batch, the order of the letters inside
the M/K/N groups, the layout the matmul writes) is chosen by a small cost model that counts the
nanoseconds spent copying operands that cannot be viewed as BLAS matrices, running the GEMMs and
transposing the result.  Decisions are cached per (axes, shapes, strides, dtype), so repeated
calls from a training loop pay for one cache look-up and the kernel.

Measured on one core (OpenBLAS): small GEMMs (M*N*K below ~1e6) run ~25% faster than one big
packed GEMM, so for a convolution over a channels-last window the planner batches over
(n, output row) and writes the (n, o, i, j) output directly; channels-first windows cost a
slower im2col copy (runs of one output row instead of kw*C values).

Multi-operand contractions (:func:`einsum`) get their pairwise order from ``opt_einsum`` once per
(equation, shapes) and choose each intermediate's axis order so that the next step needs as few
copies as possible.
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import numpy as np
import opt_einsum

from ..errors import ShapeError, SpecError

__all__ = ["contract_pair", "contraction_cost", "einsum"]

# Cost model, in nanoseconds (calibrated on one core of the development machine).
_NS_PER_BYTE = 0.067  # streaming copy / memory-bound kernel
_NS_PER_RUN = 3.0  # extra cost per contiguous run moved by a strided copy
_NS_PER_ITEM = 0.8  # ... per element when every run is one element (a transposing copy)
_NS_PER_FAR_RUN = 20.0  # ... when consecutive runs are a page or more apart (TLB misses)
_PAGE_BYTES = 4096
_NS_PER_CALL = 100.0  # one BLAS call inside matmul's batch loop
_FLOPS_PER_NS_BYTE = 440.0  # peak GEMM flops/ns times itemsize (110 GF/s for float32)
_SMALL_SIDE_EFF = {1: 0.4, 2: 0.6, 3: 0.8}  # GEMM efficiency when min(M, N) is tiny
_SMALL_GEMM_MNK = 1_000_000  # BLAS "small matrix" kernels skip packing below this M*N*K
_BIG_GEMM_EFF = 0.75  # packed GEMMs above it ran ~25% slower (OpenBLAS, 1 core)
_SMALL_TRANS_EFF = 0.6  # small kernels lose ~40% on a transposed right-hand matrix...
_SMALL_TRANS_K = 256
_SMALL_TRANS_EFF_LONG_K = 0.9  # ... but only ~10% once K is long
_BIG_TRANS_ROWS = 12.0  # a big GEMM with few output rows and a transposed right-hand matrix
# ran 1 + this / rows times slower (rows = 16: 1.4-2.0x, 64: 1.13-1.36x, 256: 1.05x)
_CACHE_BYTES = 1 << 20  # a broadcast matrix up to this size stays cached across calls
_GRAM_MIN = 1024  # X^T D X with at least this many columns: upper blocks only, mirrored
_GRAM_BLOCKS = 4
_SUM_MIN = 4096  # sum_axes: arrays this big sum their outer and inner axes by BLAS products
_SUM_LENGTH = 1 << 14   # ... each of at most this many values
_BLOCK_BYTES = 1 << 20  # an operand copy (im2col) above 2x this runs in blocks of about this
_FIT_BYTES = 4 << 20  # ... when one slice of its outermost kept letter is at least this big
BIG_COPY_BYTES = 8 << 20  # ... or the whole copy is at least this big and _OUT_RATIO times
_OUT_RATIO = 4  # the product's size (blocks cut along its outermost letter; a summed one adds
# the blocks' products): the two-conv network's conv2 (26 MB im2col, 2 MB out) forward
# 10.0 -> 8.7 ms, weight gradient 10.8 -> 9.6 ms; its conv1 (7.4 MB, 9.4 MB out) 1.2x slower

_reshape_nocopy = {"copy": False} if np.lib.NumpyVersion(np.__version__) >= "2.1.0" else {}


class _Info(NamedTuple):
    """An operand as the planner sees it: axis letters, shape and byte strides."""

    letters: tuple[str, ...]
    shape: tuple[int, ...]
    strides: tuple[int, ...]


class _Op(NamedTuple):
    """How to present an operand to matmul: transpose, maybe copy, reshape, maybe swap.

    ``perm`` and ``shape`` are None in a final plan when they would change nothing.
    """

    perm: tuple[int, ...] | None
    copy: bool
    shape: tuple[int, ...] | None
    swap: bool


class _PairPlan(NamedTuple):
    """One pairwise formulation: operand recipes plus where the product is written."""

    cost: float
    mul: bool  # no contracted letters: one broadcasting np.multiply
    a: _Op
    b: _Op
    layout: tuple[str, ...]  # letter order of the buffer the product is written to
    view_perm: tuple[int, ...] | None  # layout -> (batch, M letters, N letters)
    view_shape: tuple[int, ...] | None  # (batch..., M, N)
    out_perm: tuple[int, ...] | None  # layout -> out order, None when layout is the output


class _Reduce(NamedTuple):
    """Preparation of one operand: drop its size-1 axes, then sum letters used nowhere else."""

    take: tuple | None  # index that drops the size-1 axes
    axes: tuple[int, ...]  # axes summed after the take
    shape: tuple[int, ...]  # shape of the (C-contiguous) sum


class _Compiled(NamedTuple):
    """Everything contract_pair needs for one (axes, shapes, strides, dtype) key."""

    a: _Reduce | None
    b: _Reduce | None
    plan: _PairPlan
    out_shape: tuple[int, ...]
    reduced_shape: tuple[int, ...] | None  # out_shape without size-1 axes, if any
    a_op: _Op | None  # plan.a / plan.b, None when the operand goes to the kernel as it is
    b_op: _Op | None
    kernel: np.ufunc  # np.matmul, or np.multiply when nothing is contracted
    plain_out: bool  # the kernel writes straight into the new output array
    blocks: tuple = ()  # (letter, block) cuts, to run in cached blocks
    axes: tuple = ()  # the (a, b, part) letters, to compile each block
    order: tuple = ()  # part axis k is output axis order[k] (a buffer unless the identity)
    summed_after: int = 0  # > 0: the product keeps this many of a summed letter, added after


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def contract_pair(a, a_axes: str, b, b_axes: str, out_axes: str) -> np.ndarray:
    """Contract two arrays like ``np.einsum(f"{a_axes},{b_axes}->{out_axes}", a, b)``.

    Each axes string names the operand's axes with distinct single letters.  The result is a
    new C-contiguous array of dtype ``np.result_type(a, b)``, computed with one ``np.matmul``.

    >>> a, b = np.ones((2, 3)), np.ones((3, 4))
    >>> contract_pair(a, "ij", b, "jk", "ki").shape
    (4, 2)
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype:
        a, b = _promote(a, b)
    step = _compile(a_axes, b_axes, out_axes, a.shape, a.strides, b.shape, b.strides, a.dtype)
    return _run_compiled(step, a, b)


def einsum(eq: str, *operands) -> np.ndarray:
    """Evaluate an explicit-output einsum ``eq`` pairwise along an ``opt_einsum`` path.

    The path is planned once per (eq, shapes); each step runs through :func:`contract_pair`.

    >>> a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))
    >>> einsum("ij,jk,kl->il", a, b, c)[0, 0]
    np.float64(12.0)
    """
    inputs, output = _parse(eq)
    if len(inputs) != len(operands):
        raise SpecError(f"{eq!r} names {len(inputs)} operands, got {len(operands)}")
    ops = [np.asarray(x) for x in operands]
    if len(ops) == 1:
        _check_axes(inputs[0], ops[0].shape)
        return _reduce_single(ops[0], inputs[0], output)
    dtype = ops[0].dtype
    if len({x.dtype for x in ops}) > 1:
        dtype = np.result_type(*ops)
        ops = [x.astype(dtype, copy=False) for x in ops]
    gram = _gram_form(inputs, output, ops)
    if gram is not None:
        return _gram(*gram)
    eq, ops, _ = _in_memory_order(eq, ops)
    shapes, strides = tuple([x.shape for x in ops]), tuple([x.strides for x in ops])
    return _run_steps(_einsum_plan(eq, shapes, strides, dtype), ops)


def _gram_form(inputs, output: str, ops):
    """(matrix, its free axis, weights) when ``out[b, c] = sum_a X[a, b] X[a, c] w[a]...``:
    one big matrix read twice (a Gauss-Newton or logistic Hessian, X^T D X), so the
    product is symmetric: half of it is the other half transposed. None otherwise."""
    if len(output) != 2:
        return None
    for i, j in itertools.combinations(range(len(ops)), 2):
        a, b = inputs[i], inputs[j]
        if len(a) != 2 or len(b) != 2 or not _same_array(ops[i], ops[j]):
            continue
        free = [k for k in range(2) if a[k] != b[k]]
        if len(free) != 1 or {a[free[0]], b[free[0]]} != set(output):
            continue
        summed = a[1 - free[0]]
        rest = [k for k in range(len(ops)) if k not in (i, j)]
        if ops[i].shape[free[0]] < _GRAM_MIN or any(set(inputs[k]) - {summed} for k in rest):
            return None
        return ops[i], free[0], [(inputs[k], ops[k]) for k in rest]
    return None


def _same_array(x: np.ndarray, y: np.ndarray) -> bool:
    return x is y or (x.shape == y.shape and x.strides == y.strides and
                      x.__array_interface__["data"][0] == y.__array_interface__["data"][0])


def _gram(x: np.ndarray, free: int, weights) -> np.ndarray:
    """``X^T diag(w) X`` (``free``: the axis of X that stays) by blocks of the upper
    triangle, each lower block the transpose of its mirror: 5/8 of the GEMM work with
    four blocks (logistic Hessian, 4000 x 2000: 1.6x faster than the full product)."""
    x = x if free == 1 else x.T
    scaled = x
    for axes, w in weights:
        scaled = scaled * (w[:, None] if axes else w)
    size = x.shape[1]
    edges = [size * k // _GRAM_BLOCKS for k in range(_GRAM_BLOCKS + 1)]
    out = np.empty((size, size), np.result_type(x, scaled))
    for k, (lo, hi) in enumerate(itertools.pairwise(edges)):
        for lo2, hi2 in itertools.pairwise(edges[k:]):
            np.matmul(scaled[:, lo:hi].T, x[:, lo2:hi2], out=out[lo:hi, lo2:hi2])
            if lo2 != lo:
                out[lo2:hi2, lo:hi] = out[lo:hi, lo2:hi2].T
    return out


def _in_memory_order(eq: str, ops: list) -> tuple[str, list, tuple]:
    """``eq`` and its operands transposed into memory order, and each one's transpose
    (None where it is already in order)."""
    eq, perms = _memory_order(eq, tuple([x.strides for x in ops]))
    if perms is None:
        return eq, ops, (None,) * len(ops)
    return eq, [x if p is None else x.transpose(p) for x, p in zip(ops, perms)], perms


@functools.lru_cache(maxsize=4096)
def _memory_order(eq: str, strides) -> tuple[str, tuple | None]:
    """``eq`` with each operand's letters in memory order (decreasing stride), and the
    transposes that put them there: the plan then depends on the layout of the data, not
    on the order the letters happen to be written in (a transposed view of the same data
    planned 10x slower before)."""
    inputs, output = _parse(eq)
    perms, letters = [], []
    for axes, st in zip(inputs, strides):
        perm = tuple(sorted(range(len(axes)), key=lambda d: -abs(st[d])))
        moved = perm != tuple(range(len(axes)))
        perms.append(perm if moved else None)
        letters.append("".join(axes[d] for d in perm))
    if not any(perms):
        return eq, None
    return ",".join(letters) + "->" + output, tuple(perms)


def contraction_cost(eq: str, shapes) -> dict:
    """Summarise the ``opt_einsum`` plan :func:`einsum` uses for ``eq`` on ``shapes``.

    Returns ``path`` (pairs of positions), ``flops``, ``naive_flops`` and
    ``largest_intermediate`` (elements).

    >>> contraction_cost("ij,jk->ik", [(2, 3), (3, 4)])["path"]
    [(0, 1)]
    """
    path, flops, naive, largest = _path(eq, tuple(tuple(int(n) for n in s) for s in shapes))
    return {"path": list(path), "flops": flops, "naive_flops": naive,
            "largest_intermediate": largest}


# --------------------------------------------------------------------------------------------
# pairwise execution
# --------------------------------------------------------------------------------------------


def _promote(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dtype = np.result_type(a, b)
    return a.astype(dtype, copy=False), b.astype(dtype, copy=False)


def _run_compiled(step: _Compiled, a: np.ndarray, b: np.ndarray, out=None) -> np.ndarray:
    out = np.empty(step.out_shape, a.dtype) if out is None else out
    if step.blocks:
        return _run_blocks(step, a, b, out)
    if step.a is not None:
        a = _reduce(a, step.a)
    if step.b is not None:
        b = _reduce(b, step.b)
    if step.plain_out:  # the common case, kept free of helper calls
        step.kernel(a if step.a_op is None else _present(a, step.a_op),
                    b if step.b_op is None else _present(b, step.b_op), out=out)
        return out
    target = out if step.reduced_shape is None else out.reshape(step.reduced_shape)
    if step.summed_after:
        parts = np.empty((step.summed_after,) + target.shape, target.dtype)
        _execute(step.plan, a, b, parts)
        np.sum(parts, axis=0, out=target)
    else:
        _execute(step.plan, a, b, target)
    return out


def _run_blocks(step: _Compiled, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The contraction in blocks along letters of the copied operand: each block's copy
    (the im2col of a window view) stays in cache for its GEMM. A block cut along a summed
    letter adds its product. Blocks that are contiguous slices of the output are written
    into it; others into a buffer in the GEMM's natural layout, put in order by one copy."""
    a_axes, b_axes, part_axes = step.axes
    cut_letters = {letter for letter, _ in step.blocks}
    ops = [x if set(axes) & cut_letters or not op.copy else copied_in_order(x, op.perm)
           for x, axes, op in ((a, a_axes, step.plan.a), (b, b_axes, step.plan.b))]  # once
    direct = step.order == tuple(range(len(step.order)))
    buffer = out if direct else np.empty(tuple(out.shape[k] for k in step.order), out.dtype)
    size = dict(zip(a_axes, a.shape)) | dict(zip(b_axes, b.shape))
    starts = itertools.product(*(range(0, size[x], block) for x, block in step.blocks))
    for start in starts:
        cut = {x: slice(s, s + block) for (x, block), s in zip(step.blocks, start)}
        part_a, part_b = (x[tuple(cut.get(letter, slice(None)) for letter in axes)]
                          for x, axes in zip(ops, (a_axes, b_axes)))
        index = tuple(cut.get(letter, slice(None)) for letter in part_axes)
        part = buffer[index] if index else buffer       # (a 0-d array indexed is a copy)
        plan = _compile(a_axes, b_axes, part_axes, part_a.shape, part_a.strides,
                        part_b.shape, part_b.strides, a.dtype, False)
        if any(s and x not in part_axes for (x, _), s in zip(step.blocks, start)):
            part += _run_compiled(plan, part_a, part_b)     # a later block of a sum
        elif part.flags.c_contiguous:
            _run_compiled(plan, part_a, part_b, part)
        else:       # the block's plan may view its output as matrices: only a contiguous one
            part[...] = _run_compiled(plan, part_a, part_b)
    if not direct:
        np.copyto(out, buffer.transpose(_inverse(step.order)))
    return out


def copied_in_order(x: np.ndarray, layout) -> np.ndarray:
    """``x`` copied with its memory in ``layout`` order of its axes (the axes themselves
    keep their order, so a later plan reads it without a copy); ``x`` itself when
    ``layout`` is None.

    >>> copied_in_order(np.ones((2, 3)), (1, 0)).strides
    (8, 16)
    """
    if layout is None:
        return x
    return np.ascontiguousarray(x.transpose(layout)).transpose(_inverse(layout))


def copy_layout(eq: str, which: int, *operands) -> tuple[int, ...] | None:
    """The axis order in which :func:`einsum` copies operand ``which`` whole (an im2col of
    a window view) for a two-operand ``eq``, as a permutation of that operand's axes; None
    when it reads the operand as it is, copies it block by block, or ``eq`` is not a pair.

    >>> x = np.lib.stride_tricks.sliding_window_view(np.arange(4.0), 2)    # x[i + a]
    >>> copy_layout("ia,a->i", 0, x, np.ones(2)), copy_layout("ia,a->i", 1, x, np.ones(2))
    ((1, 0), None)
    """
    inputs, output = _parse(eq)
    if len(inputs) != 2 or len(operands) != 2:
        return None
    ops = [np.asarray(x) for x in operands]
    dtype = np.result_type(*ops)
    canonical, ops, perms = _in_memory_order(eq, ops)
    (lhs, rhs), out = _parse(canonical)
    step = _compile(lhs, rhs, out, ops[0].shape, ops[0].strides, ops[1].shape,
                    ops[1].strides, dtype)
    op, recipe = (step.plan.a, step.plan.b)[which], (step.a, step.b)[which]
    if step.blocks or not op.copy or (recipe is not None and recipe.axes):
        return None
    shape = ops[which].shape
    kept = [i for i, n in enumerate(shape) if n != 1 or recipe is None]   # size 1: dropped
    inner = [kept[k] for k in (op.perm or range(len(kept)))]
    order = perms[which] or tuple(range(len(shape)))
    return tuple(order[k] for k in [i for i in range(len(shape)) if i not in kept] + inner)


def natural_order(eq: str, *operands) -> str:
    """The output letters of ``eq`` in the order cheapest to produce (for two operands the
    matmul's own layout, no transpose after it); ``eq``'s output order otherwise.

    >>> natural_order("ik,kj->ji", np.ones((4, 3)), np.ones((3, 5)))
    'ij'
    """
    inputs, output = _parse(eq)
    if len(inputs) != 2:
        return output
    dtype = np.result_type(*operands)
    infos = [_Info(tuple(x), op.shape, op.strides) for x, op in zip(inputs, operands)]
    need = frozenset(output)
    a, b = _prepared(infos[0], infos[1], need, dtype), _prepared(infos[1], infos[0], need, dtype)
    order = "".join(_free_order(a, b, frozenset(x for x in output if x in a.letters + b.letters),
                                dtype)[1])
    return order + "".join(x for x in output if x not in order)


def _blocks(a: _Info, b: _Info, out_axes: str, plan: _PairPlan, itemsize: int):
    """(((letter, block) cuts, the letters of each block's product) for a big copied
    operand, or None."""
    copied = [(k, info) for k, (info, op) in enumerate(((a, plan.a), (b, plan.b))) if op.copy]
    if not copied:
        return None
    which, info = max(copied, key=lambda c: _prod(c[1].shape))
    other = (b, a)[which]
    total = _prod(info.shape) * itemsize
    if total <= 2 * _BLOCK_BYTES:
        return None
    size = dict(zip(a.letters, a.shape)) | dict(zip(b.letters, b.shape))
    out_bytes = _prod(size[x] for x in out_axes) * itemsize
    own = [x for x in out_axes if x in info.letters and x not in other.letters]
    if own and total / size[own[0]] >= _FIT_BYTES:
        letters = own               # a big slice per image: cut images, then rows
    elif total >= max(BIG_COPY_BYTES, _OUT_RATIO * out_bytes):
        letters = _mem_order(info, info.letters)[:1]
    else:
        return None     # the copy fits: the unblocked batched plan is faster
    cuts, remaining = [], total
    for letter in letters:
        per = remaining / size[letter]
        block = 1 if per >= _BLOCK_BYTES else max(1, int(_BLOCK_BYTES // per))
        if block < size[letter]:
            cuts.append((letter, block))
        if per < _BLOCK_BYTES:
            break
        remaining = per
    if not cuts:
        return None
    kept = [x for x, _ in cuts if x in out_axes]
    layout = "".join(plan.layout)
    if sorted(layout) == sorted(out_axes) and (not kept or kept == [layout[0]]):
        return tuple(cuts), layout      # the whole product's layout: blocks are slices of it
    return tuple(cuts), "".join([x for x in info.letters if x in out_axes] +
                                [x for x in out_axes if x not in info.letters])


def _reduce(x: np.ndarray, recipe: _Reduce) -> np.ndarray:
    if recipe.take is not None:
        x = x[recipe.take]
    if recipe.axes:
        x = np.sum(x, axis=recipe.axes, dtype=x.dtype, out=np.empty(recipe.shape, x.dtype))
    return x


def _present(x: np.ndarray, op: _Op) -> np.ndarray:
    if op.perm is not None:
        x = x.transpose(op.perm)
    if op.copy:
        x = np.ascontiguousarray(x)
    if op.shape is not None:
        x = x.reshape(op.shape)
    return x.swapaxes(-1, -2) if op.swap else x


def _execute(plan: _PairPlan, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Write the product of the prepared operands into ``out`` (reduced output shape)."""
    buf = out
    if plan.out_perm is not None:
        buf = np.empty(tuple(out.shape[i] for i in _inverse(plan.out_perm)), out.dtype)
    target = buf if plan.view_perm is None else buf.transpose(plan.view_perm)
    if plan.view_shape is not None:
        target = target.reshape(plan.view_shape, **_reshape_nocopy)
    kernel = np.multiply if plan.mul else np.matmul
    kernel(_present(a, plan.a), _present(b, plan.b), out=target)
    if plan.out_perm is not None:
        np.copyto(out, buf.transpose(plan.out_perm))


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


# --------------------------------------------------------------------------------------------
# validation and preparation
# --------------------------------------------------------------------------------------------


def _check_axes(axes: str, shape: tuple[int, ...]) -> None:
    if len(set(axes)) != len(axes):
        raise SpecError(f"axes {axes!r} repeat a letter")
    if len(axes) != len(shape):
        raise ShapeError(f"axes {axes!r} name {len(axes)} axes, array has shape {shape}")


def _letter_sizes(pairs) -> dict[str, int]:
    """Size of every letter over (axes, shape) pairs; size-1 axes broadcast like np.einsum."""
    sizes: dict[str, int] = {}
    for axes, shape in pairs:
        _check_axes(axes, shape)
        for letter, n in zip(axes, shape):
            old = sizes.get(letter)
            if old is None or old == 1:
                sizes[letter] = n
            elif n not in (1, old):
                raise ShapeError(f"letter {letter!r} has sizes {old} and {n}")
    return sizes


@functools.lru_cache(maxsize=4096)
def _compile(a_axes: str, b_axes: str, out_axes: str, a_shape, a_strides, b_shape, b_strides,
             dtype: np.dtype, blocked: bool = True) -> _Compiled:
    """Validate one pairwise call and plan it; cached, so this runs once per key."""
    sizes = _letter_sizes([(a_axes, a_shape), (b_axes, b_shape)])
    if len(set(out_axes)) != len(out_axes) or not set(out_axes) <= set(sizes):
        raise SpecError(f"output axes {out_axes!r} repeat a letter or name an unknown one")
    a = _Info(tuple(a_axes), a_shape, a_strides)
    b = _Info(tuple(b_axes), b_shape, b_strides)
    a_recipe, a_info = _reduce_operand(a, b, out_axes, dtype.itemsize)
    b_recipe, b_info = _reduce_operand(b, a, out_axes, dtype.itemsize)
    out_letters = tuple(x for x in out_axes if sizes[x] != 1)
    out_shape = tuple(sizes[x] for x in out_axes)
    reduced = None if len(out_letters) == len(out_axes) else tuple(sizes[x] for x in out_letters)
    plan = _pair_plan(a_info, b_info, out_letters, dtype)
    summed = _summed_after(a_info, b_info, out_letters, dtype, plan.cost)
    if summed is not None:
        plan, letter = summed
        return _Compiled(a_recipe, b_recipe, plan, out_shape, reduced or out_shape, None, None,
                         np.matmul, False, summed_after=sizes[letter])
    plain_out = reduced is None and plan.out_perm is plan.view_perm is plan.view_shape is None
    found = _blocks(a, b, out_axes, plan, dtype.itemsize) \
        if blocked and a_recipe is b_recipe is None and reduced is None else None
    blocks, inner = found or ((), out_axes)
    return _Compiled(a_recipe, b_recipe, plan, out_shape, reduced, _needed_op(plan.a),
                     _needed_op(plan.b), np.multiply if plan.mul else np.matmul, plain_out,
                     blocks, (a_axes, b_axes, inner), tuple(out_axes.index(x) for x in inner))


def _summed_after(a: _Info, b: _Info, out: tuple[str, ...], dtype: np.dtype, cost: float):
    """(plan, letter) when keeping the summed letter outermost in both operands as a batch
    and adding the products after is cheaper than one long product: a weight gradient's
    (6 x N*784) @ (N*784 x 25) ran at 14 GFLOP/s, N (6 x 784) @ (784 x 25) plus a sum 5x
    faster. None otherwise."""
    summed = (set(a.letters) & set(b.letters)) - set(out)
    if len(summed) < 2:
        return None
    letter = _mem_order(a, a.letters)[0]
    if letter not in summed or letter != _mem_order(b, b.letters)[0]:
        return None
    sizes = dict(zip(a.letters, a.shape)) | dict(zip(b.letters, b.shape))
    plan = _pair_plan(a, b, (letter, *out), dtype)
    kept = _prod(sizes[x] for x in out)
    total = plan.cost + 2 * _copy_ns(sizes[letter] * kept * dtype.itemsize, dtype.itemsize)
    return (plan, letter) if total < cost else None


def _needed_op(op: _Op) -> _Op | None:
    return None if op == _Op(None, False, None, False) else op


def _reduce_operand(info: _Info, other: _Info, keep, itemsize: int):
    """(recipe or None, metadata after it) for dropping size-1 axes and private letters."""
    others = {x for x, n in zip(other.letters, other.shape) if n != 1}
    kept = [i for i, n in enumerate(info.shape) if n != 1]
    summed = tuple(j for j, i in enumerate(kept)
                   if info.letters[i] not in others and info.letters[i] not in keep)
    if len(kept) == len(info.shape) and not summed:
        return None, info
    take = None if len(kept) == len(info.shape) else tuple(
        slice(None) if n != 1 else 0 for n in info.shape)
    left = [i for j, i in enumerate(kept) if j not in summed]
    shape = tuple(info.shape[i] for i in left)
    strides = _c_strides(shape, itemsize) if summed else tuple(info.strides[i] for i in left)
    return (_Reduce(take, summed, shape),
            _Info(tuple(info.letters[i] for i in left), shape, strides))


# --------------------------------------------------------------------------------------------
# cost model
# --------------------------------------------------------------------------------------------


def _copy_ns(nbytes: float, run_bytes: int) -> float:
    return nbytes * _NS_PER_BYTE + nbytes / max(run_bytes, 1) * _NS_PER_RUN


def _transpose_ns(nbytes: float, run_bytes: int, itemsize: int) -> float:
    """A product's copy into the output order: one element at a time when no two are
    adjacent in both orders, NumPy's strided loop at about _NS_PER_ITEM each (0.3-1.0 ns
    measured; a run each, as _copy_ns counts, was 3-10x too dear)."""
    if run_bytes > itemsize:
        return _copy_ns(nbytes, run_bytes)
    return nbytes * _NS_PER_BYTE + nbytes / itemsize * _NS_PER_ITEM


def _gemm_ns(calls: int, m: int, n: int, k: int, a_calls: int, b_calls: int, itemsize: int,
             right_transposed: bool = False, rows: int = 0) -> float:
    """Time of ``calls`` (m, k) @ (k, n) products; ``a_calls`` distinct left matrices etc.;
    ``rows``: the rows of the matrix BLAS writes (n when matmul writes the transpose)."""
    if calls * m * n * k == 0:
        return calls * m * n * itemsize * _NS_PER_BYTE
    eff = _SMALL_SIDE_EFF.get(min(m, n), 1.0)
    if m * n * k > _SMALL_GEMM_MNK:
        eff *= _BIG_GEMM_EFF
        if right_transposed and rows:
            eff /= 1 + _BIG_TRANS_ROWS / rows
    elif right_transposed and min(m, n) > 1:
        eff *= _SMALL_TRANS_EFF if k < _SMALL_TRANS_K else _SMALL_TRANS_EFF_LONG_K
    flop_ns = 2.0 * calls * m * n * k * itemsize / (_FLOPS_PER_NS_BYTE * eff)
    reads = _read_bytes(m * k * itemsize, a_calls, calls) + _read_bytes(k * n * itemsize,
                                                                         b_calls, calls)
    mem_ns = (reads + calls * m * n * itemsize) * _NS_PER_BYTE
    return calls * _NS_PER_CALL + max(flop_ns, mem_ns)


def _read_bytes(matrix_bytes: int, distinct: int, calls: int) -> int:
    """Bytes an operand streams from memory; a broadcast one is re-read unless it is cached."""
    if distinct < calls and matrix_bytes > _CACHE_BYTES:
        return calls * matrix_bytes
    return distinct * matrix_bytes


def _run_bytes(order, size: dict, stride: dict, itemsize: int) -> int:
    """Bytes moved per contiguous run when copying into C order ``order``."""
    run = itemsize
    for letter in reversed(order):
        if stride[letter] != run:
            break
        run *= size[letter]
    return run


def _merged_stride(group, size: dict, stride: dict) -> int | None:
    """Stride of ``group`` merged into one axis, or None if that needs a copy."""
    for outer, inner in itertools.pairwise(group):
        if stride[outer] != stride[inner] * size[inner]:
            return None
    return stride[group[-1]] if group else 0


def _scatter_ns(m: int, n: int, s_m: int, s_n: int, itemsize: int) -> float:
    """Per-call cost of the separate contiguous runs a (m, n) output matrix is written in."""
    if m * n <= 1:
        return _NS_PER_RUN
    if n == 1 or s_n == itemsize:
        runs, gap = (1, 0) if m == 1 or s_m == n * itemsize else (m, s_m)
    elif m == 1 or s_m == itemsize:
        runs, gap = n, s_n
    else:
        runs, gap = m * n, max(s_m, s_n)
    return runs * (_NS_PER_FAR_RUN if gap >= _PAGE_BYTES else _NS_PER_RUN)


def _blas_ok(rows: int, cols: int, s_rows: int, s_cols: int, itemsize: int) -> bool:
    """Whether np.matmul hands a (rows, cols) matrix with these strides straight to BLAS."""
    if rows == 0 or cols == 0 or (rows == 1 and cols == 1):
        return True
    if rows == 1 or cols == 1:
        step = s_cols if rows == 1 else s_rows
        return step > 0 and step % itemsize == 0
    if s_cols == itemsize and s_rows % itemsize == 0 and s_rows >= cols * itemsize:
        return True
    return s_rows == itemsize and s_cols % itemsize == 0 and s_cols >= rows * itemsize


def _operand(info: _Info, batch, row, col, itemsize: int) -> list[tuple[float, bool, _Op]]:
    """Ways to present ``info`` as (batch..., rows, cols): (cost, column-major?, recipe)."""
    size = dict(zip(info.letters, info.shape))
    stride = dict(zip(info.letters, info.strides))
    own = [x for x in batch if x in size]
    bshape = tuple(size.get(x, 1) for x in batch)
    rows, cols = _prod(size[x] for x in row), _prod(size[x] for x in col)
    pos = {x: i for i, x in enumerate(info.letters)}
    order, flipped = own + list(row) + list(col), own + list(col) + list(row)
    plain = _Op(tuple(pos[x] for x in order), False, bshape + (rows, cols), False)
    if _prod(info.shape) == 0:
        return [(0.0, False, plain)]
    options = []
    s_rows, s_cols = _merged_stride(row, size, stride), _merged_stride(col, size, stride)
    if s_rows is not None and s_cols is not None and _blas_ok(rows, cols, s_rows, s_cols,
                                                              itemsize):
        options.append((0.0, s_cols != itemsize and rows > 1 and cols > 1, plain))
    nbytes = _prod(info.shape) * itemsize
    options.append((_copy_ns(nbytes, _run_bytes(order, size, stride, itemsize)), False,
                    plain._replace(copy=True)))
    if rows > 1 and cols > 1:
        options.append((_copy_ns(nbytes, _run_bytes(flipped, size, stride, itemsize)), True,
                        _Op(tuple(pos[x] for x in flipped), True, bshape + (cols, rows), True)))
    return options


def _prod(values) -> int:
    return math.prod(values)


# --------------------------------------------------------------------------------------------
# planning one pair
# --------------------------------------------------------------------------------------------


def _mem_order(info: _Info, letters) -> tuple[str, ...]:
    """``letters`` of ``info`` sorted by decreasing absolute stride (stable)."""
    stride = dict(zip(info.letters, info.strides))
    pos = {x: i for i, x in enumerate(info.letters)}
    return tuple(sorted(letters, key=lambda x: (-abs(stride[x]), pos[x])))


def _c_strides(shape, itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _classify(a: _Info, b: _Info, out):
    sa, sb, so = set(a.letters), set(b.letters), set(out)
    batch = sa & sb & so
    return batch, (sa & so) - sb, (sb & so) - sa, (sa & sb) - so


def _formulation(a: _Info, b: _Info, sizes: dict, batch, ga, k, gb, layout, out,
                 itemsize: int) -> _PairPlan:
    """Cost and recipe for: a -> (batch, ga, k), b -> (batch, k, gb), product in ``layout``."""
    m, n, depth = (_prod(sizes[x] for x in group) for group in (ga, gb, k))
    nbatch = _prod(sizes[x] for x in batch)
    lay_stride = dict(zip(layout, _c_strides([sizes[x] for x in layout], itemsize)))
    s_m, s_n = _merged_stride(ga, sizes, lay_stride), _merged_stride(gb, sizes, lay_stride)
    out_f = m > 1 and n > 1 and s_n != itemsize
    gemm = functools.partial(_gemm_ns, nbatch, m, n, depth,
                             _prod(sizes[x] for x in batch if x in a.letters),
                             _prod(sizes[x] for x in batch if x in b.letters), itemsize)
    cost, op_a, op_b = min(
        ((cost_a + cost_b + gemm(_right_transposed(a_f, b_f, out_f), n if out_f else m),
          op_a, op_b)
         for cost_a, a_f, op_a in _operand(a, batch, ga, k, itemsize)
         for cost_b, b_f, op_b in _operand(b, batch, k, gb, itemsize)),
        key=lambda option: option[0])
    out_bytes = nbatch * m * n * itemsize
    cost += nbatch * _scatter_ns(m, n, s_m, s_n, itemsize)
    if not _blas_ok(m, n, s_m, s_n, itemsize):
        cost += 2 * _copy_ns(out_bytes, itemsize)  # matmul writes through a buffer
    pos = {x: i for i, x in enumerate(layout)}
    out_perm = None
    if tuple(layout) != tuple(out):
        out_perm = tuple(pos[x] for x in out)
        cost += _transpose_ns(out_bytes, _run_bytes(out, sizes, lay_stride, itemsize), itemsize)
    view_perm = tuple(pos[x] for x in (*batch, *ga, *gb))
    view_shape = tuple(sizes[x] for x in batch) + (m, n)
    return _PairPlan(cost, False, op_a, op_b, tuple(layout), view_perm, view_shape, out_perm)


def _right_transposed(a_f: bool, b_f: bool, out_f: bool) -> bool:
    """Whether BLAS gets its right operand transposed (matmul flips operands for F outputs)."""
    return (not a_f) if out_f else b_f


def _runs(order, allowed):
    """Every contiguous run of ``order`` made of ``allowed`` letters, the empty run first."""
    yield ()
    for i in range(len(order)):
        for j in range(i + 1, len(order) + 1):
            if order[j - 1] not in allowed:
                break
            yield tuple(order[i:j])


def _direct_candidates(out, a_kept, b_kept):
    """(batch, ga, gb) splits whose product is written straight into the output order."""
    for ga in _runs(out, a_kept):
        for gb in _runs(out, b_kept):
            if ga and gb and out[-1] not in (ga[-1], gb[-1]):
                continue  # matrix-matrix output needs its inner group last
            batch = tuple(x for x in out if x not in ga and x not in gb)
            yield batch, ga, gb


def _transposed_candidates(a: _Info, b: _Info, out, batch, a_kept, b_kept):
    """(batch, ga, gb, layout) choices for a product written in another order."""
    pick = [tuple(x for x in out if x in batch), _mem_order(a, batch), _mem_order(b, batch)]
    for bt in dict.fromkeys(pick):
        for ga in dict.fromkeys([_mem_order(a, a_kept), tuple(x for x in out if x in a_kept)]):
            for gb in dict.fromkeys([_mem_order(b, b_kept),
                                     tuple(x for x in out if x in b_kept)]):
                yield bt, ga, gb, bt + ga + gb
                yield bt, ga, gb, bt + gb + ga


def _mul_plan(a: _Info, b: _Info, out, sizes: dict, itemsize: int) -> _PairPlan:
    """No contracted letters: one broadcasting multiply written in ``out`` order."""
    def recipe(info: _Info) -> _Op:
        pos = {x: i for i, x in enumerate(info.letters)}
        perm = tuple(pos[x] for x in out if x in pos)
        return _Op(perm, False, tuple(sizes[x] if x in pos else 1 for x in out), False)

    cost = _prod(sizes[x] for x in out) * itemsize * _NS_PER_BYTE
    ident = tuple(range(len(out)))
    return _PairPlan(cost, True, recipe(a), recipe(b), tuple(out), ident,
                     tuple(sizes[x] for x in out), None)


@functools.lru_cache(maxsize=4096)
def _pair_plan(a: _Info, b: _Info, out: tuple[str, ...], dtype: np.dtype) -> _PairPlan:
    """Cheapest formulation for prepared operands (no size-1 or private summed letters)."""
    sizes = dict(zip(a.letters, a.shape)) | dict(zip(b.letters, b.shape))
    plan = _best_plan(a, b, out, sizes, dtype.itemsize)
    layout_shape = tuple(sizes[x] for x in plan.layout)
    view_perm, view_shape = _streamline(plan.view_perm, plan.view_shape, layout_shape)
    return plan._replace(a=_streamline_op(plan.a, a.shape), b=_streamline_op(plan.b, b.shape),
                         view_perm=view_perm, view_shape=view_shape)


def _streamline(perm, shape, source_shape):
    """(perm, shape) with None for a no-op transpose and a no-op reshape."""
    moved = tuple(source_shape[i] for i in perm)
    return (None if perm == tuple(range(len(perm))) else perm,
            None if shape == moved else shape)


def _streamline_op(op: _Op, source_shape) -> _Op:
    perm, shape = _streamline(op.perm, op.shape, source_shape)
    return op._replace(perm=perm, shape=op.shape if op.swap else shape)


def _best_plan(a: _Info, b: _Info, out, sizes: dict, itemsize: int) -> _PairPlan:
    batch, a_kept, b_kept, con = _classify(a, b, out)
    if not con:
        return _mul_plan(a, b, out, sizes, itemsize)
    k_orders = list(dict.fromkeys([_mem_order(a, con), _mem_order(b, con)]))
    best = None
    for bt, ga, gb in _direct_candidates(out, a_kept, b_kept):
        for k in k_orders:
            plan = _formulation(a, b, sizes, bt, ga, k, gb, out, out, itemsize)
            best = plan if best is None or plan.cost < best.cost else best
    for bt, ga, gb, layout in _transposed_candidates(a, b, out, batch, a_kept, b_kept):
        for k in k_orders:
            plan = _formulation(a, b, sizes, bt, ga, k, gb, layout, out, itemsize)
            best = plan if plan.cost < best.cost else best
    return best


@functools.lru_cache(maxsize=4096)
def _free_order(a: _Info, b: _Info, keep: frozenset, dtype: np.dtype) -> tuple[float, tuple]:
    """Cheapest (cost, letter order) for a product whose axis order is ours to choose."""
    batch, a_kept, b_kept, con = _classify(a, b, keep)
    if not con:
        order = _mem_order(a, batch | a_kept) + _mem_order(b, b_kept)
        return _pair_plan(a, b, order, dtype).cost, order
    best = None
    for order in _natural_orders(a, b, batch, a_kept, b_kept):
        cost = _pair_plan(a, b, order, dtype).cost
        if best is None or cost < best[0]:
            best = (cost, order)
    return best


def _natural_orders(a: _Info, b: _Info, batch, a_kept, b_kept):
    ga, gb = _mem_order(a, a_kept), _mem_order(b, b_kept)
    orders = []
    for bt in (_mem_order(a, batch), _mem_order(b, batch)):
        orders += [bt + ga + gb, bt + gb + ga]
    return list(dict.fromkeys(orders))


# --------------------------------------------------------------------------------------------
# multi-operand einsum
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _parse(eq: str) -> tuple[tuple[str, ...], str]:
    text = eq.replace(" ", "")
    if "->" not in text or "." in text:
        raise SpecError(f"einsum {eq!r} needs an explicit '->' output and no ellipsis")
    lhs, output = text.split("->")
    inputs = tuple(lhs.split(","))
    for axes in (*inputs, output):
        if len(set(axes)) != len(axes):
            raise SpecError(f"einsum {eq!r}: {axes!r} repeats a letter")
    if not set(output) <= set("".join(inputs)):
        raise SpecError(f"einsum {eq!r}: output names a letter no input has")
    return inputs, output


@functools.lru_cache(maxsize=1024)
def _path(eq: str, shapes: tuple[tuple[int, ...], ...]):
    """(path, flops, naive_flops, largest_intermediate), planned once per (eq, shapes)."""
    inputs, output = _parse(eq)
    _letter_sizes(zip(inputs, shapes))
    path, info = opt_einsum.contract_path(f"{','.join(inputs)}->{output}", *shapes,
                                          shapes=True, optimize="auto")
    return (tuple(tuple(step) for step in path), int(info.opt_cost), int(info.naive_cost),
            int(info.largest_intermediate))


def _reduce_single(x: np.ndarray, axes: str, out: str) -> np.ndarray:
    gone = tuple(i for i, letter in enumerate(axes) if letter not in out)
    if gone:
        x = sum_axes(x, gone)
        axes = "".join(letter for letter in axes if letter in out)
    return np.transpose(x, [axes.index(letter) for letter in out])


def sum_axes(x: np.ndarray, gone: tuple[int, ...]) -> np.ndarray:
    """``x.sum(axis=gone)``, its leading and trailing summed axes as BLAS products with
    ones: NumPy's sum over several axes is 5-40x slower on a bias gradient
    (``dB[o] = sum(dZ[n, o, i])``: 0.15 -> 0.02 ms at 100 x 64 x 40, float32). Each such
    product sums at most ``_SUM_LENGTH`` values (a longer one sums pairwise in NumPy).

    >>> sum_axes(np.arange(24.0).reshape(2, 3, 4), (0, 2)).tolist()
    [60.0, 92.0, 124.0]
    """
    shape = x.shape
    lead = next((k for k in range(x.ndim) if k not in gone), x.ndim)
    trail = next((k for k in range(x.ndim) if x.ndim - 1 - k not in gone), x.ndim)
    trail = min(trail, x.ndim - lead)
    m, w = _prod(shape[:lead]), _prod(shape[x.ndim - trail:])
    if x.dtype.kind != "f" or not x.flags.c_contiguous or x.size < _SUM_MIN or \
            max(m, w) > _SUM_LENGTH:
        return np.asarray(x.sum(axis=gone, dtype=x.dtype))
    if lead:
        x = np.ones(m, x.dtype) @ x.reshape(m, -1)
    if trail:
        x = x.reshape(-1, w) @ np.ones(w, x.dtype)
    middle = tuple(a - lead for a in gone if lead <= a < len(shape) - trail)
    x = x.reshape(shape[lead:len(shape) - trail])
    return np.asarray(x.sum(axis=middle, dtype=x.dtype)) if middle else x


class _Step(NamedTuple):
    """One path step of a compiled einsum."""

    positions: tuple[int, ...]  # operands it consumes (opt_einsum convention)
    pops: tuple[int, ...]  # the same, descending, for removal
    pairs: tuple[_Compiled, ...]  # pairwise contractions folded left to right
    letters: str  # single-operand step: input letters ...
    axes: str  # ... and output letters


@functools.lru_cache(maxsize=1024)
def _einsum_plan(eq: str, shapes, strides, dtype: np.dtype) -> tuple[_Step, ...]:
    """Compiled steps; intermediate axis orders are chosen by one step of look-ahead."""
    inputs, output = _parse(eq)
    path = _path(eq, shapes)[0]
    ops = [_Info(tuple(x), s, st) for x, s, st in zip(inputs, shapes, strides)]
    steps = []
    for t, positions in enumerate(path):
        picked = [ops[i] for i in positions]
        for i in sorted(positions, reverse=True):
            ops.pop(i)
        last = t == len(path) - 1
        axes = output if last else _step_axes(picked, ops, path[t + 1], output, dtype)
        pairs = _compile_fold(picked, axes, dtype)
        steps.append(_Step(positions, tuple(sorted(positions, reverse=True)), pairs,
                           "".join(picked[0].letters), axes))
        ops.append(_intermediate(axes, picked, dtype.itemsize))
    return tuple(steps)


def _compile_fold(picked, axes: str, dtype: np.dtype) -> tuple[_Compiled, ...]:
    """Compile the pairwise contractions of one path step (usually exactly one)."""
    compiled, left = [], picked[0]
    for j, right in enumerate(picked[1:], 1):
        later = ["".join(p.letters) for p in picked[j + 1:]]
        out = axes if j == len(picked) - 1 else _fold_axes(
            "".join(left.letters), "".join(right.letters), later, axes)
        compiled.append(_compile("".join(left.letters), "".join(right.letters), out,
                                 left.shape, left.strides, right.shape, right.strides, dtype))
        left = _intermediate(out, [left, right], dtype.itemsize)
    return tuple(compiled)


def _intermediate(axes, picked, itemsize: int) -> _Info:
    """Metadata of a freshly computed (C-contiguous) intermediate with letters ``axes``."""
    sizes = _letter_sizes(("".join(p.letters), p.shape) for p in picked)
    shape = tuple(sizes[x] for x in axes)
    return _Info(tuple(axes), shape, _c_strides(shape, itemsize))


def _needed(rest, output) -> set:
    return set(output).union(*(o.letters for o in rest))


def _step_axes(picked, rest, later, output, dtype) -> str:
    """Axis order of an intermediate: cheapest for this step plus the next one."""
    need = _needed(rest, output)
    sizes = _letter_sizes(("".join(p.letters), p.shape) for p in picked)
    letters = [x for x in dict.fromkeys("".join("".join(p.letters) for p in picked))
               if x in need]
    if len(picked) != 2:
        return "".join(letters)
    ones = "".join(x for x in letters if sizes[x] == 1)
    a, b = _prepared(picked[0], picked[1], need, dtype), _prepared(picked[1], picked[0],
                                                                  need, dtype)
    keep = frozenset(x for x in letters if sizes[x] != 1)
    batch, a_kept, b_kept, con = _classify(a, b, keep)
    orders = [_free_order(a, b, keep, dtype)[1]]
    if con:
        orders += _natural_orders(a, b, batch, a_kept, b_kept)

    def total(order) -> float:
        axes = order + tuple(ones)
        nxt = _intermediate(axes, picked, dtype.itemsize)
        return _pair_plan(a, b, order, dtype).cost + _lookahead(nxt, rest, later, output, dtype)

    return "".join(min(dict.fromkeys(orders), key=total)) + ones


def _prepared(info: _Info, other: _Info, need, dtype: np.dtype) -> _Info:
    """Metadata of ``info`` after contract_pair's size-1 drop and private sums."""
    return _reduce_operand(info, other, need, dtype.itemsize)[1]


def _lookahead(made: _Info, rest, later, output, dtype) -> float:
    """Cost of the next path step when it consumes the intermediate ``made``."""
    ops = [*rest, made]
    if len(later) != 2 or len(ops) - 1 not in later:
        return 0.0
    a, b = ops[later[0]], ops[later[1]]
    remaining = [o for i, o in enumerate(ops) if i not in later]
    need = _needed(remaining, output)
    a, b = _prepared(a, b, need, dtype), _prepared(b, a, need, dtype)
    sizes = dict(zip(a.letters, a.shape)) | dict(zip(b.letters, b.shape))
    if not remaining:
        out = tuple(x for x in output if x in sizes)
        return _pair_plan(a, b, out, dtype).cost
    keep = frozenset(x for x in sizes if x in need)
    return _free_order(a, b, keep, dtype)[0]


def _run_steps(steps: tuple[_Step, ...], ops: list) -> np.ndarray:
    for step in steps:
        picked = [ops[i] for i in step.positions]
        for i in step.pops:
            del ops[i]
        if step.pairs:
            result = picked[0]
            for compiled, right in zip(step.pairs, picked[1:]):
                result = _run_compiled(compiled, result, right)
        else:
            result = _reduce_single(picked[0], step.letters, step.axes)
            if not result.flags.c_contiguous:  # (np.ascontiguousarray would make 0-d 1-d)
                result = result.copy()
        ops.append(result)
    return ops[0]


def _fold_axes(left: str, right: str, later, out_axes: str) -> str:
    need = set(out_axes).union(*later)
    return "".join(x for x in dict.fromkeys(left + right) if x in need)
