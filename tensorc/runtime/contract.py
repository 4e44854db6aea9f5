"""Fast, BLAS-backed execution of einsum contractions, called by generated code at run time.

Every pairwise contraction runs as exactly one ``np.matmul`` (or, when nothing is summed, one
broadcasting ``np.multiply``).  The operands are reshaped to ``(batch..., M, K)`` and
``(batch..., K, N)``; the formulation (which letters are batch, the order of the letters inside
the M/K/N groups, the layout the matmul writes) is chosen by a small cost model that counts the
nanoseconds spent copying operands that cannot be viewed as BLAS matrices, running the GEMMs and
transposing the result.  Decisions are cached per (axes, shapes, strides, dtype), so repeated
calls from a training loop only pay for two dictionary look-ups.

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
_NS_PER_CALL = 300.0  # one BLAS call inside matmul's batch loop
_NS_PER_PACKED_BYTE = 0.05  # GEMM packing of both operands, paid on every call
_FLOPS_PER_NS_BYTE = 440.0  # peak GEMM flops/ns times itemsize (110 GF/s for float32)

_reshape_nocopy = {"copy": False} if np.lib.NumpyVersion(np.__version__) >= "2.1.0" else {}


class _Info(NamedTuple):
    """An operand as the planner sees it: axis letters, shape and byte strides."""

    letters: tuple[str, ...]
    shape: tuple[int, ...]
    strides: tuple[int, ...]


class _Op(NamedTuple):
    """How to present an operand to matmul: transpose, maybe copy, reshape, maybe swap."""

    perm: tuple[int, ...]
    copy: bool
    shape: tuple[int, ...]
    swap: bool


class _PairPlan(NamedTuple):
    """One pairwise formulation: operand recipes plus where the product is written."""

    cost: float
    mul: bool  # no contracted letters: one broadcasting np.multiply
    a: _Op
    b: _Op
    layout: tuple[str, ...]  # letter order of the buffer the product is written to
    view_perm: tuple[int, ...]  # layout -> (batch, M letters, N letters)
    view_shape: tuple[int, ...]  # (batch..., M, N)
    out_perm: tuple[int, ...] | None  # layout -> out order, None when layout is the output


class _Prep(NamedTuple):
    """Per-operand preparation: drop size-1 axes, sum letters used nowhere else."""

    a_take: tuple | None
    a_sum: tuple[int, ...]
    a_letters: tuple[str, ...]
    b_take: tuple | None
    b_sum: tuple[int, ...]
    b_letters: tuple[str, ...]
    out_letters: tuple[str, ...]  # out_axes without size-1 letters
    out_shape: tuple[int, ...]
    reduced_shape: tuple[int, ...]


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
    a, b, dtype = _as_common(a, b)
    prep = _prep_plan(a_axes, b_axes, out_axes, a.shape, b.shape)
    a = _apply_prep(a, prep.a_take, prep.a_sum)
    b = _apply_prep(b, prep.b_take, prep.b_sum)
    plan = _pair_plan(_Info(prep.a_letters, a.shape, a.strides),
                      _Info(prep.b_letters, b.shape, b.strides), prep.out_letters, dtype)
    out = np.empty(prep.out_shape, dtype)
    _execute(plan, a, b, out.reshape(prep.reduced_shape))
    return out


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
    for letters, x in zip(inputs, ops):
        _check_axes(letters, x.shape)
    if len(ops) == 1:
        return _reduce_single(ops[0], inputs[0], output)
    shapes = tuple(x.shape for x in ops)
    dtype = np.result_type(*ops)
    steps = _einsum_plan(eq, shapes, tuple(x.strides for x in ops), dtype)
    return _run_steps(steps, ops)


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


def _as_common(a, b):
    a, b = np.asarray(a), np.asarray(b)
    dtype = np.result_type(a, b)
    if a.dtype != dtype:
        a = a.astype(dtype)
    if b.dtype != dtype:
        b = b.astype(dtype)
    return a, b, dtype


def _apply_prep(x: np.ndarray, take, sum_axes) -> np.ndarray:
    if take is not None:
        x = x[take]
    if sum_axes:
        x = np.asarray(x.sum(axis=sum_axes, dtype=x.dtype))
    return x


def _present(x: np.ndarray, op: _Op) -> np.ndarray:
    x = x.transpose(op.perm)
    if op.copy:
        x = np.ascontiguousarray(x)
    x = x.reshape(op.shape)
    return x.swapaxes(-1, -2) if op.swap else x


def _execute(plan: _PairPlan, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Write the product of the prepared operands into ``out`` (reduced output shape)."""
    buf = out
    if plan.out_perm is not None:
        buf = np.empty(tuple(out.shape[i] for i in _inverse(plan.out_perm)), out.dtype)
    target = buf.transpose(plan.view_perm).reshape(plan.view_shape, **_reshape_nocopy)
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
def _prep_plan(a_axes: str, b_axes: str, out_axes: str, a_shape: tuple[int, ...],
               b_shape: tuple[int, ...]) -> _Prep:
    sizes = _letter_sizes([(a_axes, a_shape), (b_axes, b_shape)])
    if len(set(out_axes)) != len(out_axes) or not set(out_axes) <= set(sizes):
        raise SpecError(f"output axes {out_axes!r} repeat a letter or name an unknown one")
    a_red = [x for x, n in zip(a_axes, a_shape) if n != 1]
    b_red = [x for x, n in zip(b_axes, b_shape) if n != 1]
    a_sum = tuple(i for i, x in enumerate(a_red) if x not in b_red and x not in out_axes)
    b_sum = tuple(i for i, x in enumerate(b_red) if x not in a_red and x not in out_axes)
    return _Prep(
        _take(a_shape), a_sum, tuple(x for i, x in enumerate(a_red) if i not in a_sum),
        _take(b_shape), b_sum, tuple(x for i, x in enumerate(b_red) if i not in b_sum),
        tuple(x for x in out_axes if sizes[x] != 1),
        tuple(sizes[x] for x in out_axes),
        tuple(sizes[x] for x in out_axes if sizes[x] != 1),
    )


def _take(shape: tuple[int, ...]) -> tuple | None:
    if 1 not in shape:
        return None
    return tuple(0 if n == 1 else slice(None) for n in shape)


# --------------------------------------------------------------------------------------------
# cost model
# --------------------------------------------------------------------------------------------


def _copy_ns(nbytes: float, run_bytes: int) -> float:
    return nbytes * _NS_PER_BYTE + nbytes / max(run_bytes, 1) * _NS_PER_RUN


def _gemm_ns(batch: int, m: int, n: int, k: int, itemsize: int) -> float:
    if batch * m * n * k == 0:
        return batch * m * n * itemsize * _NS_PER_BYTE
    touched = (m * k + k * n + m * n) * itemsize * _NS_PER_BYTE
    small = min(m, n)
    if small == 1:
        return batch * (_NS_PER_CALL + touched)
    flops = 2.0 * m * n * k * itemsize / (_FLOPS_PER_NS_BYTE * small / (small + 16))
    packing = (m * k + k * n) * itemsize * _NS_PER_PACKED_BYTE
    return batch * (_NS_PER_CALL + max(flops, touched) + packing)


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


def _operand(info: _Info, batch, row, col, itemsize: int) -> tuple[float, _Op]:
    """Cost and recipe to present ``info`` as (batch..., rows, cols)."""
    size = dict(zip(info.letters, info.shape))
    stride = dict(zip(info.letters, info.strides))
    own = [x for x in batch if x in size]
    bshape = tuple(size.get(x, 1) for x in batch)
    rows, cols = _prod(size[x] for x in row), _prod(size[x] for x in col)
    pos = {x: i for i, x in enumerate(info.letters)}
    order = own + list(row) + list(col)
    plain = _Op(tuple(pos[x] for x in order), False, bshape + (rows, cols), False)
    s_rows, s_cols = _merged_stride(row, size, stride), _merged_stride(col, size, stride)
    empty = _prod(info.shape) == 0
    if empty or (s_rows is not None and s_cols is not None
                 and _blas_ok(rows, cols, s_rows, s_cols, itemsize)):
        return 0.0, plain
    nbytes = _prod(info.shape) * itemsize
    flipped = own + list(col) + list(row)
    cost = _copy_ns(nbytes, _run_bytes(order, size, stride, itemsize))
    cost_flipped = _copy_ns(nbytes, _run_bytes(flipped, size, stride, itemsize))
    if cost_flipped < cost:
        return cost_flipped, _Op(tuple(pos[x] for x in flipped), True, bshape + (cols, rows),
                                 True)
    return cost, plain._replace(copy=True)


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
    cost_a, op_a = _operand(a, batch, ga, k, itemsize)
    cost_b, op_b = _operand(b, batch, k, gb, itemsize)
    m, n = _prod(sizes[x] for x in ga), _prod(sizes[x] for x in gb)
    nbatch = _prod(sizes[x] for x in batch)
    cost = cost_a + cost_b + _gemm_ns(nbatch, m, n, _prod(sizes[x] for x in k), itemsize)
    lay_stride = dict(zip(layout, _c_strides([sizes[x] for x in layout], itemsize)))
    s_m, s_n = _merged_stride(ga, sizes, lay_stride), _merged_stride(gb, sizes, lay_stride)
    out_bytes = nbatch * m * n * itemsize
    if not _blas_ok(m, n, s_m, s_n, itemsize):
        cost += 2 * _copy_ns(out_bytes, itemsize)  # matmul writes through a buffer
    pos = {x: i for i, x in enumerate(layout)}
    out_perm = None
    if tuple(layout) != tuple(out):
        out_perm = tuple(pos[x] for x in out)
        cost += _copy_ns(out_bytes, _run_bytes(out, sizes, lay_stride, itemsize))
    view_perm = tuple(pos[x] for x in (*batch, *ga, *gb))
    view_shape = tuple(sizes[x] for x in batch) + (m, n)
    return _PairPlan(cost, False, op_a, op_b, tuple(layout), view_perm, view_shape, out_perm)


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
    itemsize = dtype.itemsize
    sizes = dict(zip(a.letters, a.shape)) | dict(zip(b.letters, b.shape))
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
        x = np.asarray(x.sum(axis=gone, dtype=x.dtype))
        axes = "".join(letter for letter in axes if letter in out)
    return np.transpose(x, [axes.index(letter) for letter in out])


@functools.lru_cache(maxsize=1024)
def _einsum_plan(eq: str, shapes, strides, dtype: np.dtype):
    """Steps ``(positions, input axes, out_axes)``; intermediate orders chosen by look-ahead."""
    inputs, output = _parse(eq)
    path = _path(eq, shapes)[0]
    ops = [_Info(tuple(x), s, st) for x, s, st in zip(inputs, shapes, strides)]
    steps = []
    for t, positions in enumerate(path):
        picked = [ops[i] for i in positions]
        for i in sorted(positions, reverse=True):
            ops.pop(i)
        if t == len(path) - 1:
            axes = output
        else:
            axes = _step_axes(picked, ops, path[t + 1], output, dtype)
        steps.append((positions, tuple("".join(p.letters) for p in picked), axes))
        ops.append(_intermediate(axes, picked, dtype.itemsize))
    return tuple(steps)


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
    """Simulate the size-1 drop and private sums of contract_pair on metadata only."""
    keep = [i for i, (x, n) in enumerate(zip(info.letters, info.shape))
            if n != 1 and (x in other.letters or x in need)]
    summed = any(n != 1 and i not in keep for i, n in enumerate(info.shape))
    letters = tuple(info.letters[i] for i in keep)
    shape = tuple(info.shape[i] for i in keep)
    strides = tuple(info.strides[i] for i in keep)
    if summed:  # np.sum lays its result out in the input's memory order
        by_mem = sorted(range(len(keep)), key=lambda j: (-abs(strides[j]), j))
        dense = _c_strides([shape[j] for j in by_mem], dtype.itemsize)
        new = [0] * len(keep)
        for rank, j in enumerate(by_mem):
            new[j] = dense[rank]
        strides = tuple(new)
    return _Info(letters, shape, strides)


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


def _run_steps(steps, ops: list) -> np.ndarray:
    for positions, axes, out_axes in steps:
        picked = [ops[i] for i in positions]
        for i in sorted(positions, reverse=True):
            ops.pop(i)
        if len(picked) == 1:
            ops.append(_reduce_single(picked[0], axes[0], out_axes))
            continue
        result, result_axes = picked[0], axes[0]
        for j in range(1, len(picked)):
            step_out = out_axes if j == len(picked) - 1 else _fold_axes(result_axes, axes[j],
                                                                         axes[j + 1:], out_axes)
            result = contract_pair(result, result_axes, picked[j], axes[j], step_out)
            result_axes = step_out
        ops.append(result)
    return ops[0]


def _fold_axes(left: str, right: str, later, out_axes: str) -> str:
    need = set(out_axes).union(*later)
    return "".join(x for x in dict.fromkeys(left + right) if x in need)
