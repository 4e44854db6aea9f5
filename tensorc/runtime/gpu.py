"""What emitted CuPy code calls: the GPU twins of ``kernels.py`` and lazy kernel wrappers.

The emitted module imports this file and tries ``import cupy``; nothing here imports
CuPy until a program is called, so a module emitted for the GPU loads (and prints) on a
machine without CuPy or a GPU and fails at call time with :class:`GpuUnavailableError`.

Kernels the emitter generates are :class:`ElementwiseKernel` and :class:`ReductionKernel`
(same arguments as CuPy's, built on first call); scatters and arg-max masks are
``cupy.RawKernel`` sources kept here. Every kernel can print an equivalent standalone
``extern "C" __global__`` function (``cuda_source``) so that the CUDA C compiles with
``nvcc`` on a machine without a GPU.
"""
from __future__ import annotations

import functools
import inspect
import re

import numpy as np

from ..errors import TensorcError
from . import kernels
from .kernels import gather_wins, is_kept  # noqa: F401  (re-exported for generated code)

THREADS = 256
MAX_BLOCKS = 4096

# Identities of max/min reductions: +infinity as a bit pattern, valid for float and double.
PREAMBLE = "#ifndef TC_INF\n#define TC_INF __int_as_float(0x7f800000)\n#endif\n"


class GpuUnavailableError(TensorcError, ImportError):
    """A program emitted for the CuPy backend was called where CuPy or a GPU is missing."""


@functools.lru_cache(maxsize=None)
def require():
    """The ``cupy`` module, once a GPU is known to be there; else GpuUnavailableError.

    >>> try:
    ...     cp = require()
    ... except GpuUnavailableError as err:
    ...     print("unavailable")        # doctest: +SKIP
    """
    try:
        import cupy
    except ImportError as err:
        raise GpuUnavailableError(
            "the cupy backend needs CuPy and a CUDA GPU: CuPy is not installed "
            "(pip install 'tensorc[gpu]', or use backend='numpy')") from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:            # CUDARuntimeError without a driver
        raise GpuUnavailableError(f"the cupy backend needs a CUDA GPU: {err}") from err
    if count == 0:
        raise GpuUnavailableError("the cupy backend needs a CUDA GPU: none is visible")
    return cupy


def on_device(program):
    """Wrap an emitted ``program``: inputs go to the GPU once in one float dtype.

    NumPy arrays are copied to the device, CuPy arrays used where they are (converted
    only when their dtype differs); the outputs stay on the device.

    >>> run = on_device(lambda x: (x,))       # calling run needs CuPy and a GPU
    """
    @functools.wraps(program)
    def run(*arrays):
        cp = require()
        dtype = result_type(*arrays)
        return program(*(cp.asarray(a, dtype=dtype) for a in arrays))
    return run


def result_type(*arrays) -> np.dtype:
    """The floating dtype a program computes in (float32 stays float32), from dtypes only.

    >>> result_type(np.ones(2, np.float32), np.ones(1, np.float32))
    dtype('float32')
    """
    dtype = np.result_type(*(np.asarray(a).dtype if not hasattr(a, "dtype") else a.dtype
                             for a in arrays)) if arrays else np.dtype(np.float64)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


# --- views, pads, deltas, contractions, reductions -----------------------------------

def view(x, start, steps, shape):
    """A zero-copy affine view (``cupy.lib.stride_tricks.as_strided``), as ``kernels.view``.

    >>> view(np.arange(6.0), (1,), ((2,), (1,)), (2, 2)).tolist()   # doctest: +SKIP
    [[1.0, 2.0], [3.0, 4.0]]
    """
    return kernels.view(x, start, steps, shape, xp=require())


def windows(eq: str, which: int, *operands):
    """Operand ``which`` of ``eq`` (windows several contractions read), copied once on the
    device (``cupy``'s contractions copy strided operands whole: no blocks to keep)."""
    return require().ascontiguousarray(operands[which])


def on_diagonal(value, axes, pairs, shape, dtype):
    """``kernels.on_diagonal`` on the device: ``value`` written where each pair is equal."""
    return kernels.on_diagonal(value, axes, pairs, shape, dtype, xp=require())


def pad(x, widths, modes):
    """Pad each dimension with its boundary mode through ``cupy.pad``, as ``kernels.pad``."""
    return kernels.pad(x, widths, modes, xp=require())


def delta(steps, const: int, shape, dtype):
    """Kronecker delta of an affine expression on the device, as ``kernels.delta``."""
    return kernels.delta(steps, const, shape, dtype, xp=require())


def einsum(eq: str, *operands):
    """A contraction on the device: ``cupy.einsum`` (tensordot/matmul underneath) for one
    or two operands, an opt_einsum order computed once per shape set for more.

    >>> einsum("ij,jk->ik", a, b)      # doctest: +SKIP
    """
    cp = require()
    if len(operands) <= 2:
        return cp.einsum(eq, *operands)
    shapes = tuple(tuple(o.shape) for o in operands)
    return _expression(eq, shapes)(*operands, backend=cp.__name__)


@functools.lru_cache(maxsize=1024)
def _expression(eq: str, shapes):
    import opt_einsum
    return opt_einsum.contract_expression(eq, *shapes, optimize="optimal"
                                          if len(shapes) <= 4 else "greedy")


def reduce(x, axes: tuple[int, ...], op: str):
    """max, min, sum or mean over ``axes`` with CuPy's reductions (no prologue to fuse)."""
    cp = require()
    fn = {"max": cp.max, "min": cp.min, "sum": cp.sum, "mean": cp.mean}[op]
    return fn(x, axis=axes)


def fold(padded, widths, modes):
    """The adjoint of :func:`pad` on the device, as ``kernels.fold``."""
    return kernels.fold(padded, widths, modes, xp=require())


# --- raw kernels: scatter-add and arg-max masks ----------------------------------------

SCATTER_SOURCE = r"""
extern "C" __global__ void tensorc_scatter_add(
        T* target, const T* value, long long size, int ndim,
        const long long* shape, const long long* step, long long origin) {
    // value is C-contiguous; value[v...] goes to target[origin + sum_d v_d * step[d]]
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < size;
         k += (long long)blockDim.x * gridDim.x) {
        long long rest = k, at = origin;
        for (int d = ndim - 1; d >= 0; --d) {
            at += (rest % shape[d]) * step[d];
            rest /= shape[d];
        }
        TC_ADD(&target[at], value[k]);
    }
}
"""

ARGMAX_SOURCE = r"""
extern "C" __global__ void tensorc_argmax_mask(
        const T* x, T* mask, long long rows, long long width, int find_max) {
    // one thread per window (a row of width positions): one-hot at the first extreme
    for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rows;
         r += (long long)blockDim.x * gridDim.x) {
        const T* row = x + r * width;
        long long best = 0;
        for (long long j = 1; j < width; ++j) {
            bool better = find_max ? row[j] > row[best] : row[j] < row[best];
            if (better) best = j;
        }
        for (long long j = 0; j < width; ++j) mask[r * width + j] = T(j == best);
    }
}
"""

CTYPES = {"float32": "float", "float64": "double"}


def raw_source(source: str, ctype: str, atomic: bool = False) -> str:
    """A raw kernel's full CUDA C for one element type.

    >>> "atomicAdd" in raw_source(SCATTER_SOURCE, "float", atomic=True)
    True
    """
    add = "atomicAdd(p, v)" if atomic else "(*(p) += (v))"
    return f"typedef {ctype} T;\n#define TC_ADD(p, v) {add}\n{source}"


@functools.lru_cache(maxsize=None)
def _raw_kernel(source: str, name: str, dtype: str, atomic: bool = False):
    return require().RawKernel(raw_source(source, CTYPES[dtype], atomic), name)


def _launch(kernel, count: int, args) -> None:
    blocks = max(1, min(MAX_BLOCKS, (count + THREADS - 1) // THREADS))
    kernel((blocks,), (THREADS,), args)


def scatter_contract(target, eq: str, operands, start, steps, loops) -> None:
    """``kernels.scatter_contract`` on the device: the whole product, then one scatter kernel."""
    scatter_add(target, einsum(eq, *operands), start, steps, loops)


def scatter_add(target, value, start, steps, loops) -> None:
    """``target[start + sum_v v*steps[v]] += value[v...]`` in one raw kernel.

    Positions collide exactly when ``loops`` is non-empty (the NumPy backend loops over
    those axes): only then the kernel adds with ``atomicAdd``; otherwise plain adds.
    """
    cp = require()
    value = cp.ascontiguousarray(value, dtype=target.dtype)
    if value.size == 0:
        return
    strides = [s // target.itemsize for s in target.strides]
    step = [int(np.dot(s, strides)) for s in steps]
    origin = int(np.dot(start, strides)) if len(start) else 0
    kernel = _raw_kernel(SCATTER_SOURCE, "tensorc_scatter_add", target.dtype.name, bool(loops))
    _launch(kernel, value.size, (target, value, np.int64(value.size), np.int32(value.ndim),
                                 cp.asarray(value.shape, cp.int64), cp.asarray(step, cp.int64),
                                 np.int64(origin)))


def argmax_mask(x, axes: tuple[int, ...], op: str, positive: bool = False, value=None):
    """One-hot along ``axes`` at the first largest (smallest) value, one thread per window
    (with ``positive``: times ``x > 0``, the winner's own comparison; with ``value``: times
    it, broadcast over the window)."""
    cp = require()
    if positive or value is not None:
        mask = argmax_mask(x, axes, op)
        mask = mask * (x > 0) if positive else mask
        return mask if value is None else mask * cp.expand_dims(value, axes)
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = cp.ascontiguousarray(cp.moveaxis(x, [*kept, *axes], range(x.ndim)))
    width = int(np.prod([x.shape[a] for a in axes]))
    mask = cp.zeros_like(moved)
    rows = moved.size // width if width else 0
    if rows:
        kernel = _raw_kernel(ARGMAX_SOURCE, "tensorc_argmax_mask", x.dtype.name)
        _launch(kernel, rows, (moved, mask, np.int64(rows), np.int64(width),
                               np.int32(op == "max")))
    return cp.moveaxis(mask, range(x.ndim), [*kept, *axes])


# --- generated kernels, built on first call ----------------------------------------------

def _names(params: str) -> list[str]:
    return [p.split()[-1] for p in params.split(",") if p.strip()]


class ElementwiseKernel:
    """``cupy.ElementwiseKernel(in_params, out_params, operation, name)``, built lazily.

    >>> k = ElementwiseKernel("T x0", "T y", "y = fmax(T(0), x0)", "tensorc_k1")
    >>> "__global__ void tensorc_k1" in k.cuda_source("float")
    True
    """

    def __init__(self, in_params: str, out_params: str, operation: str, name: str):
        self.in_params, self.out_params = in_params, out_params
        self.operation, self.name = operation, name
        self._kernel = None

    def __call__(self, *args):
        if self._kernel is None:
            self._kernel = require().ElementwiseKernel(
                self.in_params, self.out_params, self.operation, self.name)
        return self._kernel(*args)

    def cuda_source(self, ctype: str = "float") -> str:
        """A standalone ``extern "C" __global__`` equivalent for T = ``ctype``: the same
        parameter declarations and operation, on contiguous pre-broadcast arrays."""
        ins, outs = _names(self.in_params), _names(self.out_params)
        params = [f"const T* _raw_{n}" for n in ins] + [f"T* _raw_{n}" for n in outs]
        loads = [f"const T {n} = _raw_{n}[i];" for n in ins] + [f"T &{n} = _raw_{n}[i];"
                                                                for n in outs]
        return _wrap(ctype, "", self.name, params + ["long long _n"], "_n", "i",
                     loads + [self.operation.rstrip(";") + ";"])


class ReductionKernel:
    """``cupy.ReductionKernel`` (map, reduce, post-map, identity), built lazily.

    The map expression is the fused elementwise prologue; ``TC_INF`` (the identity of
    max and min) is defined in the preamble.

    >>> k = ReductionKernel("T x0", "T y", "exp(x0)", "a + b", "y = a", "0", "tensorc_k2")
    >>> "REDUCE" in k.cuda_source("double")
    True
    """

    def __init__(self, in_params: str, out_params: str, map_expr: str, reduce_expr: str,
                 post_map_expr: str, identity: str, name: str):
        self.in_params, self.out_params = in_params, out_params
        self.map_expr, self.reduce_expr, self.post_map_expr = map_expr, reduce_expr, post_map_expr
        self.identity, self.name = identity, name
        self._kernel = None

    def __call__(self, *args, axis):
        if self._kernel is None:
            self._kernel = require().ReductionKernel(
                self.in_params, self.out_params, self.map_expr, self.reduce_expr,
                self.post_map_expr, self.identity, self.name, preamble=PREAMBLE)
        return self._kernel(*args, axis=axis)

    def cuda_source(self, ctype: str = "float") -> str:
        """A standalone equivalent: one thread per output, inputs laid out (out, reduced)."""
        ins, outs = _names(self.in_params), _names(self.out_params)
        params = ([f"const T* _raw_{n}" for n in ins] + [f"T* _raw_{n}" for n in outs]
                  + ["long long _n_out", "long long _n_red"])
        loads = [f"const T {n} = _raw_{n}[o * _n_red + j];" for n in ins]
        body = [f"_type_reduce _s = _type_reduce({self.identity});",
                "for (long long j = 0; j < _n_red; ++j) {",
                *(f"    {line}" for line in loads),
                f"    _type_reduce _a = static_cast<_type_reduce>({self.map_expr});",
                "    _s = REDUCE(_s, _a);",
                "}",
                *(f"T &{n} = _raw_{n}[o];" for n in outs),
                "POST_MAP(_s);"]
        head = (f"{PREAMBLE}typedef T _type_reduce;\n#define REDUCE(a, b) ({self.reduce_expr})\n"
                f"#define POST_MAP(a) ({self.post_map_expr})\n")
        return _wrap(ctype, head, self.name, params, "_n_out", "o", body)


def _wrap(ctype, head, name, params, count, var, body) -> str:
    lines = [f"typedef {ctype} T;", head.rstrip("\n"),
             f'extern "C" __global__ void {name}({", ".join(params)}) {{',
             f"    for (long long {var} = blockIdx.x * (long long)blockDim.x + threadIdx.x; "
             f"{var} < {count};",
             f"         {var} += (long long)blockDim.x * gridDim.x) {{",
             *(f"        {line}" for line in body), "    }", "}", ""]
    return "\n".join(line for line in lines if line)


def kernel_sources(program, ctype: str = "float") -> dict[str, str]:
    """Every CUDA C kernel a compiled CuPy-backend program can launch, as standalone source.

    The generated Elementwise/Reduction kernels of its module, plus the raw scatter and
    arg-max kernels when the module calls them (both atomic and plain scatter variants).

    >>> import tensorc as tc
    >>> prog = tc.compile("Y[i] = relu(X[i] + 1)", backend="cupy")
    >>> list(kernel_sources(prog))
    ['tensorc_k1']
    """
    namespace = inspect.unwrap(program._run).__globals__
    sources = {k.name: k.cuda_source(ctype) for k in namespace.values()
               if isinstance(k, (ElementwiseKernel, ReductionKernel))}
    if re.search(r"\brt\.scatter_add\(", program.source):
        sources["tensorc_scatter_add_atomic"] = raw_source(SCATTER_SOURCE, ctype, True)
        sources["tensorc_scatter_add"] = raw_source(SCATTER_SOURCE, ctype, False)
    if re.search(r"\brt\.argmax_mask\(", program.source):
        sources["tensorc_argmax_mask"] = raw_source(ARGMAX_SOURCE, ctype)
    return sources
