"""The CuPy backend: the NumPy emitter with array ops on the GPU and fused CUDA kernels.

What differs from :mod:`backends.numpy`, and only that, is overridden here:

- the module imports ``cupy as cp`` (lazily: it loads without CuPy and fails at call
  time) and ``tensorc.runtime.gpu as rt``, whose helpers mirror ``kernels.py``; the
  NumPy emitter's own array calls (``np.zeros``, ``np.ascontiguousarray`` ...) have CuPy
  twins of the same name, so the writer maps the ``np.`` alias to ``cp.``;
- each maximal tree of elementwise operations becomes ONE ``ElementwiseKernel`` whose
  CUDA C body is printed from the functions' sympy definitions (their stable ``numeric``
  form) by sympy's C99 printer; a sub-expression read twice becomes one local;
- a max/min/mean reduction, or a sum of a single elementwise factor, with an elementwise
  body becomes one ``ReductionKernel`` with that body as its map (prologue) expression;
- contractions go through ``cupy.einsum`` (``rt.einsum``), affine reads through
  ``as_strided`` views, boundary modes through ``cupy.pad``, scatters and arg-max masks
  through raw kernels (``tensorc.runtime.gpu``).
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import sympy as sp
from sympy.printing.c import C99CodePrinter

from tensorc.ir import nodes as ir

from .base import Val, Writer, extent_name
from .numpy import NumpyEmitter, printed_template


class CudaFunctionPrinter(C99CodePrinter):
    """C99 for a function body on the element type ``T``: numbers are ``T(...)`` (so that
    ``fmax(T(0), x)`` picks the float overload), Piecewise one conditional expression."""

    def _print_Integer(self, expr):
        return f"T({int(expr)})"

    def _print_Float(self, expr):
        return f"T({super()._print_Float(expr)})"

    def _print_Rational(self, expr):
        return f"(T({expr.p})/T({expr.q}))"

    def _print_Piecewise(self, expr):
        (then, cond), (other, _) = expr.args
        return f"(({self._print(cond)}) ? {self._print(then)} : {self._print(other)})"


@lru_cache(maxsize=None)
def c_template(name: str) -> str:
    """The CUDA C of a function, with {0}, {1}... for its arguments.

    >>> c_template("relu"), c_template("gt")
    ('fmax(T(0), {0})', '(({0} > {1}) ? T(1) : T(0))')
    """
    return printed_template(name, CudaFunctionPrinter())


def _bare_slots(template: str) -> set[int]:
    """Slots that only ever stand as a whole function argument: no parentheses needed."""
    slots = {int(k) for k in re.findall(r"\{(\d)\}", template)}
    return {k for k in slots if len(re.findall(rf"\{{{k}\}}", template))
            == len(re.findall(rf"(?:\(|, )\{{{k}\}}(?=[,)])", template))}


class Fused:
    """An elementwise expression not computed yet: ``fn`` applied to ``args`` (Fused
    nodes, leaf arrays as :class:`Val`, or C literals as str). Hashed by identity.

    It has ``code``/``axes``/``fresh`` like a Val, but ``code`` is empty: every consumer
    materializes it into one kernel call first.
    """

    __slots__ = ("fn", "args", "axes", "code", "fresh")

    def __init__(self, fn: str, args: tuple, axes: tuple[str, ...]):
        self.fn, self.args, self.axes = fn, args, axes
        self.code, self.fresh = "", True

    def nodes(self) -> list[Fused]:
        """Every Fused node below and including this one, children first, each once."""
        seen: dict[int, Fused] = {}

        def visit(node):
            if id(node) in seen:
                return
            for a in node.args:
                if isinstance(a, Fused):
                    visit(a)
            seen[id(node)] = node
        visit(self)
        return list(seen.values())

    def leaves(self) -> list[Val]:
        """The arrays it reads, in reading order (left to right), each once."""
        found: dict[Val, None] = {}
        seen: set[int] = set()

        def visit(node):
            seen.add(id(node))
            for a in node.args:
                if isinstance(a, Val):
                    found.setdefault(a)
                elif isinstance(a, Fused) and id(a) not in seen:
                    visit(a)
        visit(self)
        return list(found)

    def functions(self) -> list[str]:
        return list(dict.fromkeys(n.fn for n in self.nodes() if n.fn != "const"))


class CudaBody:
    """Prints a Fused tree as CUDA C: leaves are x0, x1...; nodes read twice are locals.

    >>> # relu(X + B):  CudaBody(tree).statements("y") == "y = fmax(T(0), x0 + x1)"
    """

    def __init__(self, root: Fused, share: bool = True):
        self.root = root
        self.params = {leaf: f"x{k}" for k, leaf in enumerate(root.leaves())}
        refs = Counter(id(a) for n in root.nodes() for a in n.args if isinstance(a, Fused))
        self.local = {id(n) for n in root.nodes() if share and refs[id(n)] > 1}
        self.lines: list[str] = []
        self.names: dict[int, str] = {}

    def expr(self, node) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, Val):
            return self.params[node]
        if id(node) in self.names:
            return self.names[id(node)]
        if node.fn == "const":
            return node.args[0]
        template = c_template(node.fn)
        bare = _bare_slots(template)
        args = [self.expr(a) for a in node.args]
        code = template.format(*(a if k in bare or _atomic(a) else f"({a})"
                                 for k, a in enumerate(args)))
        if id(node) in self.local:
            name = f"v{len(self.names)}"
            self.lines.append(f"T {name} = {code};")
            self.names[id(node)] = code = name
        return code

    def statements(self, out: str = "y") -> str:
        """The kernel's operation: locals, then ``out = ...``."""
        final = self.expr(self.root)
        return " ".join(self.lines + [f"{out} = {final}"])

    def expression(self) -> str:
        """One C expression (a reduction's map expression: no statements allowed)."""
        assert not self.local, "a map expression cannot hold locals"
        return self.expr(self.root)


class DeviceWriter(Writer):
    """The NumPy emitter's lines with the array module alias ``np.`` written ``cp.``.

    Safe: user names end in '_' and generated ones start with '_', so ``np.`` is only ever
    the module alias.
    """

    def line(self, text: str = "") -> None:
        super().line(re.sub(r"\bnp\.", "cp.", text))


REDUCE = {"sum": ("a + b", "0"), "mean": ("a + b", "0"),
          "max": ("fmax(a, b)", "-TC_INF"), "min": ("fmin(a, b)", "TC_INF")}


class CupyEmitter(NumpyEmitter):
    """Emit a module whose ``program`` runs on the GPU through CuPy."""

    imports = ("from tensorc.runtime import gpu as rt",
               "try:",
               "    import cupy as cp",
               "except ImportError:      # the module loads; calling program raises "
               "rt.GpuUnavailableError",
               "    cp = None")
    reuse_pooled = False    # the arg-max kernel finds each window's winner in one pass

    def __init__(self, program: ir.Program, analysis, alternatives=None):
        super().__init__(program, analysis, alternatives)
        self.w = DeviceWriter()
        self.kernels: dict[tuple, str] = {}      # (class, arguments) -> module-level name
        self.definitions: list[str] = []

    def module(self) -> str:
        text = super().module()
        head, sep, body = text.partition("\ndef program(")
        kernels = "".join(d + "\n" for d in self.definitions)
        return f"{head}{kernels}{chr(10) * bool(kernels)}\n@rt.on_device{sep}{body}"

    def statement(self, stmt: ir.Stmt, info) -> None:
        self.done: dict[int, Val] = {}
        super().statement(stmt, info)

    # --- consumers materialize fused expressions ----------------------------------
    def assign(self, stmt, info, value) -> None:
        super().assign(stmt, info, self.materialize(value))

    def accumulate(self, stmt, info, value) -> None:
        super().accumulate(stmt, info, self.materialize(value))

    def align(self, val, axes: tuple[str, ...]) -> str:
        return super().align(self.materialize(val), axes)

    def _emit_ArgMax(self, node: ir.ArgMax, positive: bool = False, scale=()) -> Val:
        self.memo[node.body] = self.materialize(self.emit(node.body))
        return super()._emit_ArgMax(node, positive, scale)

    def scattered_contraction(self, stmt) -> None:
        """No per-offset pieces on the GPU: one product, then the scatter kernel."""
        return None

    # --- elementwise: build the tree, print it once -------------------------------
    def _emit_Const(self, node: ir.Const) -> Fused:
        return Fused("const", (CudaFunctionPrinter().doprint(sp.Float(node.value, 17)),), ())

    def _emit_Count(self, node: ir.Count) -> Val:
        count = " * ".join(extent_name(n) for n in node.over)
        return Val(self.w.bind(f"cp.asarray(float({count}), dt)"), (), fresh=False)

    def _emit_Call(self, node: ir.Call) -> Fused:
        args = tuple(self.leaf(self.emit(a)) for a in node.args)
        return Fused(node.fn, args, self.union(a.axes for a in args))

    def leaf(self, val):
        """A kernel operand: a Fused node as is, any other value as a named array."""
        if isinstance(val, Fused) or val.code.isidentifier():
            return val
        return Val(self.w.bind(val.code), val.axes, val.fresh)

    def materialize(self, val):
        """A Fused tree -> one ElementwiseKernel call; any other value unchanged."""
        if not isinstance(val, Fused):
            return val
        if id(val) not in self.done:
            if not val.leaves():        # constants only: give the kernel a shape and a type
                val = Fused("add", (val, Val(self.w.bind("cp.zeros((), dt)"), ())), val.axes)
            body = CudaBody(val)
            kernel = self.kernel("ElementwiseKernel", self.in_params(body), '"T y"',
                                 _c_string(body.statements()))
            self.step("elementwise", f"{', '.join(val.functions())}: one ElementwiseKernel",
                      val.axes)
            call = f"{kernel}({self.operands(body, val.axes)})"
            self.done[id(val)] = Val(self.w.bind(call), val.axes)
        return self.done[id(val)]

    def in_params(self, body: CudaBody) -> str:
        return '"' + ", ".join(f"T {p}" for p in body.params.values()) + '"'

    def operands(self, body: CudaBody, axes: tuple[str, ...]) -> str:
        return ", ".join(NumpyEmitter.align(self, leaf, axes) for leaf in body.params)

    def kernel(self, cls: str, *args: str) -> str:
        """The module-level name of a generated kernel (identical kernels shared)."""
        key = (cls, args)
        if key not in self.kernels:
            name = f"_k{len(self.kernels) + 1}"
            self.kernels[key] = name
            lines = ",\n    ".join(args + (f'"tensorc{name}"',))
            self.definitions.append(f"{name} = rt.{cls}(\n    {lines})")
        return self.kernels[key]

    # --- reductions with an elementwise prologue ----------------------------------
    def _emit_Reduce(self, node: ir.Reduce) -> Val:
        if node.op == "sum":
            return self.contraction(node)
        body = self.emit(node.body)
        if not isinstance(body, Fused):
            return super()._emit_Reduce(node)
        return self.reduction(node.op, body, node.over)

    def contraction(self, node: ir.Reduce) -> Val:
        factors = [f for f in ir.factors(node.body) if not isinstance(f, ir.Const)]
        self.summing = set(node.over)
        values = {f: self.emit(f) for f in factors if isinstance(f, ir.Call)}
        self.summing = set()
        if len(factors) == 1 and factors[0] in values:
            return self.reduction("sum", self.emit(node.body), node.over)
        for f, value in values.items():
            self.memo[f] = self.materialize(value)
        return super().contraction(node)

    def reduction(self, op: str, body: Fused, over: tuple[str, ...]) -> Val:
        """One ReductionKernel: the fused body as map expression, reduced over ``over``."""
        axis = tuple(body.axes.index(n) for n in over)
        kept = tuple(n for n in body.axes if n not in over)
        printer = CudaBody(body, share=False)
        reduce_expr, identity = REDUCE[op]
        kernel = self.kernel("ReductionKernel", self.in_params(printer), '"T y"',
                             _c_string(printer.expression()), f'"{reduce_expr}"',
                             '"y = a"', f'"{identity}"')
        self.step("reduce", f"{op} over {', '.join(over)} of {', '.join(body.functions())}: "
                  "one ReductionKernel", body.axes)
        call = f"{kernel}({self.operands(printer, body.axes)}, axis={axis})"
        if op == "mean":
            call += f" / float({' * '.join(extent_name(n) for n in over)})"
        return Val(self.w.bind(call, f"{op} over {', '.join(over)}"), kept)


def _atomic(code: str) -> bool:
    """A name, or one call ``f(...)`` spanning the whole text: safe without parentheses.

    >>> _atomic("x0"), _atomic("T(1.0)"), _atomic("exp(x0) - x1")
    (True, True, False)
    """
    if code.isidentifier():
        return True
    head = re.match(r"\w+\(", code)
    if not head or not code.endswith(")"):
        return False
    depth = 0
    for k, ch in enumerate(code[head.end() - 1:], head.end() - 1):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return k == len(code) - 1
    return False


def _c_string(code: str) -> str:
    return '"' + code.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emit_module(program: ir.Program, analysis, alternatives=None) -> tuple[str, list, dict]:
    """The CuPy module for a program (its function is ``program``) and its plan steps.

    >>> import tensorc as tc
    >>> "rt.ElementwiseKernel(" in tc.compile("Y[i] = exp(X[i])", backend="cupy").source
    True
    """
    emitter = CupyEmitter(program, analysis, alternatives)
    return emitter.module(), emitter.steps, emitter.branch_steps

