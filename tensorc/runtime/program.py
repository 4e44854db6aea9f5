"""Program: a compiled spec you call with arrays; checks shapes, caches per shape set."""
from __future__ import annotations

from functools import cached_property

import numpy as np
import sympy as sp

from ..errors import InputError, ShapeError
from ..ir import nodes as ir
from ..ir.printer import print_program
from ..language.check import below_zero
from ..language.ranges import Analysis, dim_symbol, like_shape
from .kernels import as_real, result_type
from .memory import keep_freed_memory


class Program:
    """A compiled tensorc program.

    >>> import tensorc as tc
    >>> prog = tc.compile("Y[i] = A[i, k] * x[k]")
    >>> prog(A=np.eye(2), x=np.array([3.0, 4.0]))["Y"].tolist()
    [3.0, 4.0]
    """

    def __init__(self, program: ir.Program, analysis: Analysis, source: str, backend: str,
                 text: str = "", steps=(), accepts=(), choices=None):
        self.ir, self.analysis, self.backend = program, analysis, backend
        self.shown = program    # what .spec and .latex() print: this program, or (derived
        # programs) the same written as a person would, e.g. a gather for a scatter
        # statement -> (gather form, its ranges, its steps): chosen by cost at run time
        self.choices = choices or {}
        self.source = source
        self.text = text
        self.steps = list(steps)
        self.accepts = frozenset(accepts) - set(program.inputs)   # passed in, not needed
        namespace: dict = {}
        exec(compile(source, f"<tensorc:{backend}>", "exec"), namespace)  # noqa: S102
        self._run = namespace["program"]
        self.runtime = namespace["rt"]      # the backend's primitives (tensorc.runtime.*)
        self._as_input = getattr(self.runtime, "as_input", _as_array)   # may convert
        self._compute = getattr(self.runtime, "compute", tuple)         # and finish
        self._bound: dict[tuple, dict] = {}
        self._last_shapes: dict[str, tuple] | None = None
        self._last_dtypes: list = []

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.ir.outputs

    @cached_property
    def inputs(self) -> tuple[str, ...]:
        return self.ir.inputs

    @cached_property
    def spec(self) -> str:
        return print_program(self.shown)

    def latex(self) -> str:
        """The program's statements as LaTeX, one equation per line (sympy's printer)."""
        from ..ir.latex import latex_program
        return latex_program(self.shown)

    @property
    def plan(self):
        from ..plan.report import plan_report
        itemsize = result_type(*self._last_dtypes).itemsize    # float64 when none yet
        return plan_report(self, self._last_shapes, itemsize)

    def plan_for(self, **shapes):
        """The plan for given input shapes, without running: ``prog.plan_for(X=(2, 3))``
        (bytes counted for float32; ``prog.plan`` after a call uses that call's type)."""
        from ..plan.report import plan_report
        shapes = {k: tuple(v) for k, v in shapes.items()}
        missing = [n for n in self.inputs if n not in shapes]
        extra = [n for n in shapes if n not in self.inputs]
        if missing or extra:
            raise InputError(_input_message(self.inputs, missing, extra))
        self.bind(shapes)
        return plan_report(self, shapes)

    def __call__(self, /, *positional, **arrays) -> dict[str, np.ndarray]:
        if positional:
            raise InputError(f"pass the inputs by name, as in prog({self.inputs[0]}=...) "
                             f"(the program takes {', '.join(self.inputs)})"
                             if self.inputs else "the program takes no inputs")
        return dict(zip(self.outputs, self._compute(self._outputs(arrays))))

    def lazy(self, /, **arrays) -> dict:
        """The outputs before the backend computes them: lazy ``dask.array`` arrays for
        ``backend="dask"`` (the graph, to compute, persist or inspect), arrays otherwise."""
        return dict(zip(self.outputs, self._outputs(arrays)))

    def _outputs(self, arrays: dict) -> tuple:
        missing = [n for n in self.inputs if n not in arrays]
        extra = [n for n in arrays if n not in self.inputs and n not in self.accepts]
        if missing or extra:
            raise InputError(_input_message(self.inputs, missing, extra))
        values = [self._input(n, arrays[n]) for n in self.inputs]
        shapes = {n: v.shape for n, v in zip(self.inputs, values)}
        self.bind(shapes)
        self._last_shapes = shapes
        self._last_dtypes = [v.dtype for v in values]
        return self._run(*values)

    def _input(self, name: str, value):
        try:
            return self._as_input(value)
        except (TypeError, ValueError) as err:  # a ragged list, a dict, strings, complex
            raise InputError(f"input {name} is not an array of real numbers: {err}") from None

    def bind(self, shapes: dict[str, tuple]) -> dict:
        """Check input shapes against the spec; the sizes of every dimension, cached."""
        key = tuple(shapes[n] for n in self.inputs)
        if key not in self._bound:
            self._bound[key] = _bind(self.analysis, self.ir, shapes)
            keep_freed_memory()     # once per process: see tensorc/runtime/memory.py
        return self._bound[key]

    def __repr__(self) -> str:
        return f"<tensorc.Program {', '.join(self.outputs)} <- {', '.join(self.inputs)}>"


def _as_array(value) -> np.ndarray:
    if hasattr(value, "__cuda_array_interface__"):   # a CuPy array: the cupy backend takes it
        return value
    return as_real(np.asarray(value))


def _input_message(inputs, missing, extra) -> str:
    parts = []
    if missing:
        parts.append(f"missing input{'s' * (len(missing) > 1)} {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected input{'s' * (len(extra) > 1)} {', '.join(extra)}")
    return "; ".join(parts) + f" (the program takes {', '.join(inputs)})"


def _bind(analysis: Analysis, program: ir.Program, shapes: dict[str, tuple]) -> dict:
    values: dict[sp.Symbol, int] = {}
    for tensor, shape in shapes.items():
        expected = analysis.shapes[tensor]
        if len(shape) != len(expected):
            raise ShapeError(f"{tensor} has {len(shape)} dimension{'s' * (len(shape) != 1)} "
                             f"{tuple(shape)}, but the spec indexes it with {len(expected)}")
        values.update({dim_symbol(tensor, d): int(s) for d, s in enumerate(shape)})
    for name, use in analysis.bindings.items():
        values[sp.Symbol(name, integer=True, nonnegative=True)] = values[use.size]
    for use in analysis.literals:
        actual = values[dim_symbol(use.tensor, use.dim)]
        if actual != int(use.size):
            raise ShapeError(f"{use.tensor} dimension {use.dim} has size {actual}, but it is "
                             f"declared {int(use.size)}")
    for sym, formula in analysis.defs.items():     # assigned tensors' shapes, in order
        values[sym] = _value(formula, values)
    _check_declared_sizes(analysis, program, values)
    for tensor, model in analysis.likes.items():
        if tensor in shapes:
            _check_like(tensor, model, analysis, values)
    for check in analysis.checks:
        a, b = (_value(u.size, values) for u in (check.first, check.second))
        if a != b:
            raise ShapeError(f"index '{check.first.index}' (line {check.line}) has size {a} in "
                             f"{check.first.tensor} dimension {check.first.dim} but size {b} in "
                             f"{check.second.tensor} dimension {check.second.dim}")
    for stmt, info in zip(program.stmts, analysis.stmts):
        _check_writes(stmt, info, values)
        _check_wrapped(stmt, analysis.shapes, values)
        written = set() if stmt.accumulate else {a.plain() for a in stmt.index}
        for name, (lo, hi) in info.ranges.items():
            lo_v, hi_v = (_value(e, values) for e in (lo, hi))
            if lo_v < 0 and name in written:
                raise ShapeError(f"line {stmt.line}: {below_zero(stmt.target, name, lo_v)}")
            if hi_v < lo_v or (hi_v == lo_v and name in _max_min_indices(stmt)):
                raise ShapeError(f"index '{name}' (line {stmt.line}) has the empty range "
                                 f"{lo_v}:{hi_v}: the inputs are too small for this statement"
                                 " (max and min need at least one value)")
    return values


def _value(size, values: dict) -> int:
    """An integer size expression evaluated at the bound sizes (xreplace: no solving)."""
    size = sp.sympify(size)
    return int(size.xreplace({s: sp.Integer(values[s]) for s in size.free_symbols}))


def _check_like(tensor: str, models, analysis: Analysis, values) -> None:
    for d, size in enumerate(like_shape(models, analysis)):
        want, got = _value(size, values), values[dim_symbol(tensor, d)]
        if want != got:
            raise ShapeError(f"{tensor} dimension {d} has size {got}, but {tensor} is declared "
                             f"like {', '.join(models)}, which gives size {want}")


def _max_min_indices(stmt: ir.Stmt) -> set[str]:
    return {n for node in ir.walk(stmt.expr) if isinstance(node, ir.Reduce)
            and node.op in ("max", "min") for n in node.over}


def _check_wrapped(stmt: ir.Stmt, shapes: dict, values) -> None:
    """A boundary wrapper needs a value to wrap to: its dimension may not be empty."""
    for access in (*ir.accesses(stmt.expr), stmt.lhs()):
        for d, ix in enumerate(access.index):
            if ix.mode != "zero" and _value(shapes[access.tensor][d], values) == 0:
                raise ShapeError(f"line {stmt.line}: {access.tensor} dimension {d} is empty, "
                                 f"and {ix.mode}(...) needs at least one value to read")


def _check_writes(stmt: ir.Stmt, info, values) -> None:
    """A scatter must write inside its target: never out of bounds, never silently."""
    for d, (lo, hi) in enumerate(info.writes):
        first, last = (_value(e, values) for e in (lo, hi))
        size = _value(info.target_shape[d], values)
        if first < 0 or last >= size:
            raise ShapeError(f"line {stmt.line}: {stmt.target} += writes positions {first}..{last} "
                             f"of {stmt.target} dimension {d}, which has size {size}; a "
                             "scatter must stay inside its target")


def _check_declared_sizes(analysis: Analysis, program: ir.Program, values) -> None:
    """Every declared size, symbol or number, against the size the tensor has (an input's
    array, or what a computed tensor's statements give it)."""
    for decl in program.decls:
        if decl.tensor not in analysis.shapes:
            continue
        for d, dim in enumerate(decl.dims):
            actual = values.get(dim_symbol(decl.tensor, d))
            if actual is None:
                continue
            if dim.is_constant:
                if actual != dim.const:
                    raise ShapeError(f"{decl.tensor} dimension {d} has size {actual}, but it is "
                                     f"declared {dim.const}")
                continue
            name = dim.symbols[0][0]
            use = analysis.bindings[name]
            if actual != values[use.size]:
                raise ShapeError(f"size {name}: {decl.tensor} dimension {d} has size {actual} "
                                 f"but {use.tensor} dimension {use.dim} has size "
                                 f"{values[use.size]}")
