"""The Dask backend: the NumPy emitter's module over chunked ``dask.array`` arrays.

The generated code is the NumPy backend's, statement for statement; what differs:

- it imports ``tensorc.runtime.chunked as rt``, whose primitives run the NumPy kernels per
  block: window reads keep the input's chunks and read a halo of the window's reach from
  the next block (``dask.array.overlap``), pooling reduces per block, contractions follow
  opt_einsum's order over ``dask.array.tensordot``, scatters that have a gather form run
  as the gather;
- array constructors (``np.zeros`` ...) are written ``da.``: everything else (ufuncs,
  ``scipy.special``) dispatches to dask through NumPy's array protocols, and dask's graph
  optimizer fuses each elementwise chain into one task per block;
- the program returns lazy dask arrays; ``Program.__call__`` computes them all in one
  ``dask.compute`` (on whatever scheduler is active: a ``distributed.Client`` included),
  ``Program.lazy`` hands them back uncomputed.
"""
from __future__ import annotations

import re

import sympy as sp

from .base import Writer, extent_name, tensor_name
from .numpy import NumpyEmitter

# NumPy constructors and their dask twins (a NumPy constructor would build a whole array
# in memory, and np.asarray of a dask array would compute it). np.array copies: rt.array
# too, as a new dask array object, since += on part of a dask array mutates the object.
CONSTRUCTORS = {"zeros": "da.zeros", "ones": "da.ones", "array": "rt.array",
                "asarray": "da.asarray", "ascontiguousarray": "rt.ascontiguousarray",
                "broadcast_to": "da.broadcast_to", "where": "da.where"}


class ChunkedWriter(Writer):
    """Lines with NumPy's array constructors written as dask's.

    Safe: user names end in '_' and generated ones start with '_', so ``np.`` is only ever
    the module alias.
    """

    def line(self, text: str = "") -> None:
        super().line(re.sub(r"\bnp\.(\w+)\(",
                            lambda m: f"{CONSTRUCTORS[m[1]]}(" if m[1] in CONSTRUCTORS
                            else m[0], text))


class DaskEmitter(NumpyEmitter):
    """Emit a module whose ``program`` builds lazy dask arrays."""

    imports = ("import numpy as np", "from scipy import special",
               "from tensorc.runtime import chunked as rt",
               "try:",
               "    import dask.array as da",
               "except ImportError:      # the module loads; calling program raises "
               "rt.DaskUnavailableError",
               "    da = None")
    view_note = "per block, with a halo of the window's reach (dask overlap)"
    pad_note = "da.pad"
    share_windows = False   # a kept window copy would hold a whole im2col: blocks read their own
    reuse_pooled = False    # masks per block of the window (chunks of the pooled value differ)
    add_in_place = False    # lazy arrays: nothing to reuse
    spread_multiply = False  # (NumPy's inner-loop layout is each block's own business)

    def __init__(self, program, analysis, alternatives=None):
        super().__init__(program, analysis, alternatives)
        self.w = ChunkedWriter()

    def assign(self, stmt, info, value) -> None:
        """A value filling part of its target is zero-padded to the target's shape (its
        chunks carry over; a write into zeros would take the zeros' chunks)."""
        lhs = tuple(a.plain() for a in stmt.index)
        same = self.analysis.same
        widths = [(sp.sympify(lo), sp.sympify(size - hi).xreplace(same)) for (lo, hi), size
                  in ((info.ranges[n], s) for n, s in zip(lhs, info.target_shape))]
        if all(lo == 0 and hi == 0 for lo, hi in widths):
            return super().assign(stmt, info, value)
        widths = ", ".join(f"({self.size(lo)}, {self.size(hi)})" for lo, hi in widths)
        full = self.align(value, lhs)
        if set(value.axes) != set(lhs):
            full = f"np.broadcast_to({full}, ({', '.join(map(extent_name, lhs))},))"
        self.w.line(f"{tensor_name(stmt.target)} = "
                    f"rt.pad({full}, ({widths},), {('zero',) * len(lhs)})")


def emit_module(program, analysis, alternatives=None) -> tuple[str, list, dict]:
    """The Dask module for a program (its function is ``program``) and its plan steps.

    >>> import tensorc as tc
    >>> "rt.view(" in tc.compile("Y[i] = X[i + a] * K[a]", backend="dask").source
    True
    """
    emitter = DaskEmitter(program, analysis, alternatives)
    return emitter.module(), emitter.steps, emitter.branch_steps
