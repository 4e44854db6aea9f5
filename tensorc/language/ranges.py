"""Index ranges and tensor shapes, inferred symbolically from the sizes of the inputs.

Sizes are sympy integer symbols: a declared size (``input X[N, C]`` gives ``N``) or the
dimension itself (``X.shape[2]``). Ranges follow LANGUAGE.md: ``where`` first, then
plain uses, then compound uses solved for their one unknown index, then the valid rule
narrows ranges so that every unwrapped access stays in bounds. Reads that a ``where``
range takes out of bounds are padded (zero, or the wrapper's mode).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from ..errors import SpecError
from ..ir import nodes as ir

Interval = tuple[sp.Expr, sp.Expr]      # [lo, hi): hi exclusive


@dataclass(frozen=True)
class Use:
    """One place that fixes a size: dimension ``dim`` of ``tensor``, read with ``index``."""

    tensor: str
    dim: int
    size: sp.Expr
    index: str | None = None


@dataclass(frozen=True)
class Check:
    """Two sizes that must be equal at run time."""

    first: Use
    second: Use
    line: int


@dataclass
class StmtRanges:
    ranges: dict[str, Interval]
    pads: dict[ir.Access, tuple[Interval, ...]]     # per access: (lo, hi) pad per dim
    target_shape: tuple[sp.Expr, ...]
    creates: bool                                   # this statement sizes the target
    guarded: set = field(default_factory=set)       # (access, dim) kept in bounds by ranges
    writes: tuple = ()                              # += : first and last position per dim
    first: bool = False                             # first write of the target
    lhs_pads: tuple[Interval, ...] = ()             # += into a declared shape: pad to fold

    def extent(self, name: str) -> sp.Expr:
        lo, hi = self.ranges[name]
        return hi - lo


@dataclass
class Analysis:
    shapes: dict[str, tuple[sp.Expr, ...]]
    stmts: list[StmtRanges]
    checks: list[Check] = field(default_factory=list)
    literals: list[Use] = field(default_factory=list)   # declared literal sizes
    bindings: dict[str, Use] = field(default_factory=dict)   # size symbol -> where read
    same: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)  # sizes checked equal
    defs: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)  # assigned dims: formulas
    likes: dict[str, tuple] = field(default_factory=dict)   # ``T like M, ...``: T -> models
    declared: dict[str, tuple] = field(default_factory=dict)   # ``output T[3, N]``: sizes
    written: set[str] = field(default_factory=set)


def size_symbol(name: str) -> sp.Symbol:
    return sp.Symbol(name, integer=True, nonnegative=True)


def dim_symbol(tensor: str, dim: int) -> sp.Symbol:
    return size_symbol(f"{tensor}.shape[{dim}]")


def analyse(program: ir.Program, source: str = "") -> Analysis:
    """Infer every range and shape of a checked program (symbolically).

    A tensor created by ``+=`` holds every position any of its ``+=`` statements writes:
    a first pass finds them all, a second sizes the tensor by all of them.
    """
    first = _analyse(program, source, {})
    grown = _scatter_extents(program, first)
    return _analyse(program, source, grown) if grown else first


def _analyse(program: ir.Program, source: str, grown: dict) -> Analysis:
    analysis = Analysis({}, [])
    _input_shapes(program, analysis)
    _require_bound_sizes(program, analysis, source)
    for stmt in program.stmts:
        analysis.stmts.append(_statement(stmt, analysis, source, grown.get(stmt.target)))
    for tensor in program.inputs:   # a `like` input no statement reads (a cotangent whose
        _resolve_like(tensor, analysis, 0)      # gradient simplified to 0) still has a shape
    return analysis


def _scatter_extents(program: ir.Program, analysis: Analysis) -> dict:
    """Sizes of tensors created by += that later += statements write past."""
    grown: dict[str, list] = {}
    later: set[str] = set()
    for stmt, info in zip(program.stmts, analysis.stmts):
        if info.creates and stmt.accumulate:
            grown[stmt.target] = [sp.sympify(s) for s in info.target_shape]
        elif stmt.target in grown and info.writes:
            later.add(stmt.target)
            grown[stmt.target] = [sp.Max(size, last + 1) for size, (_, last)
                                  in zip(grown[stmt.target], info.writes)]
    return {t: tuple(grown[t]) for t in later}


def _input_shapes(program: ir.Program, analysis: Analysis) -> None:
    decls = {d.tensor: d for d in program.decls}
    analysis.likes.update({d.tensor: d.like for d in program.decls if d.like})
    analysis.declared.update({d.tensor: tuple(to_sympy(dim) for dim in d.dims)
                              for d in program.decls if d.kind == "output" and d.dims})
    ranks = program.ranks()
    for tensor in program.inputs:
        decl = decls.get(tensor)
        if decl is not None and decl.like:
            continue        # sized when the tensor it is like has a shape
        if decl is None:
            analysis.shapes[tensor] = tuple(dim_symbol(tensor, d) for d in range(ranks[tensor]))
            continue
        shape = []
        for d, dim in enumerate(decl.dims):
            actual = Use(tensor, d, dim_symbol(tensor, d))
            if dim.is_constant:
                analysis.literals.append(Use(tensor, d, sp.Integer(dim.const)))
                shape.append(sp.Integer(dim.const))
            else:
                name = dim.symbols[0][0]
                analysis.bindings.setdefault(name, actual)
                shape.append(size_symbol(name))
        analysis.shapes[tensor] = tuple(shape)


def _require_bound_sizes(program: ir.Program, analysis: Analysis, source: str) -> None:
    """A size symbol declared on a tensor the program computes must also size an input:
    its value comes from the arrays passed in."""
    for decl in program.decls:
        for dim in decl.dims:
            name = dim.symbols[0][0] if dim.symbols else None
            if name is not None and name not in analysis.bindings:
                line = next((k for k, text in enumerate(source.splitlines(), 1) if re.match(
                    rf"\s*{decl.kind}\s+{re.escape(decl.tensor)}\b", text)), 0)
                raise _error_at(f"size '{name}' of {decl.tensor} is given by no input: "
                                f"declare it on an input (input X[{name}, ...]) or write a "
                                "number", source, line, name)


def to_sympy(a: ir.Affine) -> sp.Expr:
    value = sp.Integer(a.const)
    for name, coef in a.symbols:
        value += coef * size_symbol(name)
    return value


def bounds(a: ir.Affine, ranges: dict[str, Interval]) -> Interval:
    """Smallest and largest value (both inclusive) of an index expression."""
    lo = hi = to_sympy(a)
    for name, coef in a.terms:
        first, last = ranges[name][0], ranges[name][1] - 1
        lo += coef * (first if coef > 0 else last)
        hi += coef * (last if coef > 0 else first)
    return lo, hi


def _statement(stmt: ir.Stmt, analysis: Analysis, source: str, size=None) -> StmtRanges:
    ranges: dict[str, Interval] = {r.index: (to_sympy(r.lo), to_sympy(r.hi)) for r in stmt.where}
    fixed = set(ranges)
    declared = _resolve_like(stmt.target, analysis, stmt.line) or \
        stmt.accumulate and _resolve_declared(stmt.target, analysis)
    reads = _reads(stmt, analysis)
    _plain_uses(stmt, reads, ranges, analysis, source)
    wrapped = any(m != "zero" for m in stmt.modes)
    if wrapped and stmt.target not in analysis.shapes:
        raise _error_at(f"'{stmt.target}' is first written here through a boundary wrapper, "
                        "which needs its size; assign it first or declare it "
                        f"(output {stmt.target}[...])", source, stmt.line, stmt.target)
    scatter = stmt.accumulate and (declared or wrapped)
    if scatter or declared:  # a known shape sizes left-side indices nothing else does
        lhs = (stmt.lhs(), analysis.shapes[stmt.target])
        _plain_uses(stmt, [lhs], ranges, analysis, source, fill_only=True)
    if scatter:     # and sizes indices only it holds, like a read; writes outside are
        reads.append(lhs)       # dropped one by one (it narrows no range)
    reads = _canonical(reads, analysis)
    ranges.update({n: (lo, hi.xreplace(analysis.same)) for n, (lo, hi) in ranges.items()})
    guarded: set = set()
    _solve(reads, ranges, guarded)
    _require_ranges(stmt, ranges, source)
    for _ in range(2):
        _narrow(stmt, reads[:-1] if scatter else reads, ranges, fixed, guarded)
    pads = {acc: tuple(_pad(ix, size, ranges, fixed, (acc, d) in guarded)
                       for d, (ix, size) in enumerate(zip(acc.index, shape)))
            for acc, shape in reads if acc.tensor != stmt.target or not stmt.accumulate}
    lhs_pads = ()
    if scatter:
        acc, shape = reads[-1]
        lhs_pads = tuple(_pad(ix, size, ranges, fixed if ix.expr.plain() else
                              set(ix.expr.names()), (acc, d) in guarded)
                         for d, (ix, size) in enumerate(zip(acc.index, shape)))
    first = stmt.target not in analysis.written
    analysis.written.add(stmt.target)
    creates = stmt.target not in analysis.shapes
    target_shape = size if creates and size else _target_shape(stmt, ranges, analysis, creates)
    if creates:
        dims = tuple(dim_symbol(stmt.target, d) for d in range(len(target_shape)))
        analysis.defs.update(zip(dims, target_shape))
        analysis.shapes[stmt.target] = dims
    writes = tuple(bounds(a, ranges) for a in stmt.index) if stmt.accumulate and not scatter \
        else ()
    return StmtRanges(ranges, pads, target_shape, creates, guarded, writes, first, lhs_pads)


def _resolve_like(tensor: str, analysis: Analysis, line: int) -> bool:
    """Give a ``like`` tensor its model's shape; True if ``tensor`` has a declared shape."""
    models = analysis.likes.get(tensor)
    if models is None:
        return False
    if tensor not in analysis.shapes:
        missing = next((m for m in models if m not in analysis.shapes), None)
        if missing is not None:
            raise SpecError(f"line {line}: '{tensor}' is declared like '{missing}', which has "
                            "no shape yet here; assign or read it earlier")
        analysis.shapes[tensor] = like_shape(models, analysis)
    return True


def _resolve_declared(tensor: str, analysis: Analysis) -> bool:
    """A tensor declared ``output T[...]`` that a ``+=`` writes has the declared shape (as
    a ``like`` one: writes outside are dropped), unless an ``=`` created it first."""
    sizes = analysis.declared.get(tensor)
    if sizes is None or tensor in analysis.written and analysis.shapes.get(tensor) != sizes:
        return False
    analysis.shapes[tensor] = sizes
    return True


def like_shape(models, analysis: Analysis) -> tuple:
    return tuple(size for m in models for size in analysis.shapes[m])


def _reads(stmt: ir.Stmt, analysis: Analysis) -> list[tuple[ir.Access, tuple]]:
    reads = []
    for acc in dict.fromkeys(ir.accesses(stmt.expr)):
        _resolve_like(acc.tensor, analysis, stmt.line)
        if acc.tensor not in analysis.shapes:
            raise SpecError(f"line {stmt.line}: '{acc.tensor}' is read before it is assigned")
        reads.append((acc, analysis.shapes[acc.tensor]))
    if stmt.accumulate and not stmt.modes and stmt.target in analysis.shapes \
            and all(a.plain() for a in stmt.index) and stmt.target not in analysis.likes:
        lhs = ir.Access(stmt.target, tuple(ir.Index(a) for a in stmt.index))
        reads.append((lhs, analysis.shapes[stmt.target]))
    return reads


def _canonical(reads, analysis: Analysis):
    """Replace sizes already checked equal by one representative."""
    return [(acc, tuple(sp.sympify(s).xreplace(analysis.same) for s in shape))
            for acc, shape in reads]


def _plain_uses(stmt, reads, ranges, analysis: Analysis, source: str,
                fill_only: bool = False) -> None:
    first: dict[str, Use] = {}
    for acc, shape in reads:
        for d, (ix, size) in enumerate(zip(acc.index, shape)):
            name = ix.expr.plain()
            if ix.mode != "zero" or name is None or name in ranges and (
                    fill_only or name not in first):
                continue
            use = Use(acc.tensor, d, size, name)
            if name not in first:
                first[name] = use
                ranges[name] = (sp.Integer(0), size)
            elif first[name].size != size:
                _agree(first[name], use, stmt.line, analysis, source)


def _agree(a: Use, b: Use, line: int, analysis: Analysis, source: str) -> None:
    if a.size.is_number and b.size.is_number:
        raise _error_at(f"index '{a.index}' has size {a.size} in {a.tensor} dimension {a.dim} "
                        f"but size {b.size} in {b.tensor} dimension {b.dim}", source, line,
                        b.tensor)
    analysis.checks.append(Check(a, b, line))
    if isinstance(b.size, sp.Symbol):
        analysis.same[b.size] = a.size


def _solve(reads, ranges, guarded) -> None:
    progress = True
    while progress:
        progress = False
        for acc, shape in reads:
            for d, (ix, size) in enumerate(zip(acc.index, shape)):
                unknown = [n for n in ix.expr.names() if n not in ranges]
                if ix.mode == "zero" and len(unknown) == 1:
                    ranges[unknown[0]] = _solve_for(unknown[0], ix.expr, size, ranges)
                    guarded.add((acc, d))
                    progress = True


def _solve_for(name: str, a: ir.Affine, size: sp.Expr, ranges) -> Interval:
    """The values of ``name`` that keep ``a`` inside 0:size for every value of the rest."""
    coef = a.coef(name)
    rest = ir.Affine(tuple((n, c) for n, c in a.terms if n != name), a.symbols, a.const)
    rmin, rmax = bounds(rest, ranges)
    if coef > 0:
        lo, last = sp.ceiling(-rmin / coef), sp.floor((size - 1 - rmax) / coef)
    else:
        lo, last = sp.ceiling((rmax - size + 1) / -coef), sp.floor(rmin / -coef)
    return sp.Max(0, lo), last + 1


def _narrow(stmt: ir.Stmt, reads, ranges, fixed, guarded) -> None:
    lhs = [n for a in stmt.index for n in a.names()]
    for acc, shape in reads:
        for d, (ix, size) in enumerate(zip(acc.index, shape)):
            free = [n for n in ix.expr.names() if n not in fixed]
            if ix.mode != "zero" or not free or len(free) < len(ix.expr.names()) \
                    or ix.expr.plain() or (acc, d) in guarded:
                continue
            guarded.add((acc, d))
            name = next((n for n in lhs if n in free), free[0])
            lo, hi = ranges[name]
            new_lo, new_hi = _solve_for(name, ix.expr, size, ranges)
            ranges[name] = (sp.Max(lo, new_lo), sp.Min(hi, new_hi))


def _require_ranges(stmt: ir.Stmt, ranges, source: str) -> None:
    names = [n for a in stmt.index for n in a.names()] + list(ir.index_names(stmt.expr))
    missing = next((n for n in names if n not in ranges), None)
    if missing is None:
        return
    message = (f"cannot infer the range of index '{missing}': it is never used alone in a "
               f"dimension; give it one with `where {missing} in 0:N` (or `where {missing} < N`)")
    raise _error_at(message, source, stmt.line, missing)


def _error_at(message: str, source: str, line: int, word: str) -> SpecError:
    """A SpecError with a caret under the first ``word`` on the statement's line."""
    lines = source.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    found = re.search(rf"\b{re.escape(word)}\b", text)
    if not found:
        return SpecError(f"line {line}: {message}")
    column = found.start() + 1
    return SpecError(message, source, line, column, column + len(word))


def _pad(ix: ir.Index, size: sp.Expr, ranges, fixed, guarded: bool) -> Interval:
    """Padding a read needs; only wrapped reads and ``where`` ranges can leave bounds."""
    names = set(ix.expr.names())
    if ix.mode == "zero" and names and (guarded or not names & fixed):
        return sp.Integer(0), sp.Integer(0)
    lo, hi = bounds(ix.expr, ranges)
    return sp.Max(0, -lo), sp.Max(0, hi - size + 1)


def _target_shape(stmt: ir.Stmt, ranges, analysis: Analysis, creates: bool):
    if not creates:
        return analysis.shapes[stmt.target]
    if not stmt.accumulate:
        return tuple(ranges[a.plain()][1] for a in stmt.index)
    return tuple(sp.Max(0, bounds(a, ranges)[1] + 1) for a in stmt.index)
