"""Jacobians and Hessians without dense intermediates: substitute each intermediate
adjoint into its one reader, then eliminate the deltas the substitution exposes.

``JZ[o, n] = delta(o, n) * s[n]`` read once as ``H[o, d] = JZ[o, n] * X[n, d]`` becomes
``H[n, d] = s[n] * X[n, d]``: the (o, n) tensor is never built.
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from ..errors import SpecError
from ..ir import nodes as ir
from ..language.ranges import analyse
from . import simplify as alg


def inline(program: ir.Program) -> ir.Program:
    """Substitute single-use derived intermediates (not outputs) into their reader."""
    stmts = list(program.stmts)
    progress = True
    while progress:
        progress = False
        for k, stmt in enumerate(stmts):
            j = _reader(stmt, k, stmts, program.outputs)
            if j is not None:
                stmts[j] = _substitute(stmts[j], stmt)
                del stmts[k]
                progress = True
                break
    decls = tuple(d for d in program.decls if d.kind != "output" or
                  any(s.target == d.tensor for s in stmts))
    program = ir.Program(decls, tuple(stmts), program.outputs)
    return _eliminate_deltas(program)


def _reader(stmt: ir.Stmt, k: int, stmts, outputs) -> int | None:
    """The index of the one statement that may absorb ``stmt``, if any."""
    names = [a.plain() for a in stmt.index]
    if stmt.accumulate or not stmt.einstein or stmt.where or stmt.target in outputs \
            or not all(names) or len(set(names)) != len(names) \
            or any(isinstance(n, (ir.Count, ir.ArgMax)) for n in ir.walk(stmt.expr)):
        return None
    if sum(s.target == stmt.target for s in stmts) != 1:
        return None
    readers = [j for j, s in enumerate(stmts) if j != k and
               any(a.tensor == stmt.target for a in ir.accesses(s.expr))]
    if len(readers) != 1 or readers[0] < k:
        return None
    reads = [a for a in ir.accesses(stmts[readers[0]].expr) if a.tensor == stmt.target]
    if len(reads) != 1 or not alg.is_factor(stmts[readers[0]].expr, reads[0]):
        return None
    plain = [ix.expr.plain() if ix.mode == "zero" else None for ix in reads[0].index]
    return readers[0] if all(plain) and len(set(plain)) == len(plain) else None


def _substitute(reader: ir.Stmt, stmt: ir.Stmt) -> ir.Stmt:
    read = next(a for a in ir.accesses(reader.expr) if a.tensor == stmt.target)
    names = {a.plain(): ix.expr for a, ix in zip(stmt.index, read.index)}
    taken = set(ir.index_names(reader.expr)) | {n for a in reader.index for n in a.names()}
    used = taken | set(ir.index_names(stmt.expr)) | set(names)
    renamed = alg.rename_bound(stmt.expr, taken, lambda n: ir.fresh_name(n, used))
    body = alg.substitute(renamed, names)
    expr = _replace(reader.expr, read, body)
    return dataclasses.replace(reader, expr=alg.tidy(_flatten_sums(expr)))


def _replace(e: ir.Expr, old: ir.Expr, new: ir.Expr) -> ir.Expr:
    return new if e == old else e.map(lambda child: _replace(child, old, new))


def _flatten_sums(e: ir.Expr) -> ir.Expr:
    """Pull sums out of products: sum_a(x * sum_b(y)) = sum_{a,b}(x * y), so that deltas
    and factors meet in one contraction."""
    if isinstance(e, ir.Reduce) and e.op == "sum":
        inner = _flatten_sums(e.body)
        if isinstance(inner, ir.Reduce) and inner.op == "sum":
            return ir.Reduce("sum", e.over + inner.over, inner.body)
        return ir.Reduce("sum", e.over, inner)
    if isinstance(e, ir.Call) and e.fn == "mul":
        args = [_flatten_sums(a) for a in e.args]
        over: tuple[str, ...] = ()
        bodies = []
        for a in args:
            if isinstance(a, ir.Reduce) and a.op == "sum":
                over += a.over
                bodies.append(a.body)
            else:
                bodies.append(a)
        product = ir.Call("mul", tuple(bodies))
        return ir.Reduce("sum", over, product) if over else product
    return e


def _eliminate_deltas(program: ir.Program) -> ir.Program:
    """``sum_v delta(v, u) f(v)`` -> ``f(u)`` where ``v`` and ``u`` range alike."""
    analysis = analyse(program)
    stmts = []
    for stmt, info in zip(program.stmts, analysis.stmts):
        expr, where = stmt.expr, stmt.where
        while isinstance(expr, ir.Reduce) and expr.op == "sum":
            found = _removable(expr, info, analysis)
            if found is None:
                break
            delta, v, u = found
            body = alg.substitute(alg.drop_factor(expr.body, delta), {v: ir.Affine.of(u)})
            over = tuple(n for n in expr.over if n != v)
            expr = ir.Reduce("sum", over, body) if over else body
            where = _range_moved(where, v, u)
        if expr is not stmt.expr:     # (a statement left as it was prints as it was)
            stmt = dataclasses.replace(stmt, expr=alg.tidy(expr), where=where)
        stmts.append(stmt)
    return ir.Program(program.decls, tuple(stmts), program.outputs)


def _range_moved(where: tuple[ir.Range, ...], v: str, u: str) -> tuple[ir.Range, ...]:
    """``v``'s explicit range, now that ``u`` replaces it (the two range alike): ``u``'s,
    unless ``u`` has one (its range may extend past the reads: zero padding)."""
    if any(r.index == u for r in where):
        return tuple(r for r in where if r.index != v)
    return tuple(dataclasses.replace(r, index=u) if r.index == v else r for r in where)


def _removable(expr: ir.Reduce, info, analysis):
    for factor in ir.factors(expr.body):
        if not isinstance(factor, ir.Delta):
            continue
        a, b = factor.a.plain(), factor.b.plain()
        for v, u in ((a, b), (b, a)):
            if v in expr.over and u is not None and u != v and \
                    _same_range(info, v, u, analysis):
                return factor, v, u
    return None


def _same_range(info, v: str, u: str, analysis) -> bool:
    (lo1, hi1), (lo2, hi2) = info.ranges[v], info.ranges[u]
    return all(sp.simplify(canonical_size(x, analysis) - canonical_size(y, analysis)) == 0
               for x, y in ((lo1, lo2), (hi1, hi2)))


def canonical_size(size, analysis) -> sp.Expr:
    """A size with every symbol replaced by one representative of the sizes known equal
    (checked equal at run time, or an assigned shape equal to its formula)."""
    parent: dict = {}

    def root(s):
        while s in parent:
            s = parent[s]
        return s
    for a, b in [*analysis.same.items(), *analysis.defs.items()]:
        b = sp.sympify(b)
        if isinstance(b, sp.Symbol) and root(a) != root(b):
            parent[root(a)] = root(b)
    size = sp.sympify(size)
    for _ in range(len(analysis.defs) + 1):
        again = size.xreplace({s: root(s) for s in size.free_symbols})
        again = again.xreplace({k: v for k, v in analysis.defs.items()
                                if not isinstance(sp.sympify(v), sp.Symbol)})
        if again == size:
            break
        size = again
    return size


def factor_deltas(program: ir.Program, name: str) -> tuple[ir.Program, str]:
    """The output without its delta factors and the indices it is constant along, and
    the spec line that expands it: ``H[m, k, m2, k2] = delta(m, m2) * H[k, k2]``."""
    [k] = [k for k, s in enumerate(program.stmts) if s.target == name] or [None]
    stmt = program.stmts[k] if k is not None else None
    if stmt is None or stmt.accumulate or not all(a.plain() for a in stmt.index):
        raise SpecError(f"{name} is not written by one '=' statement; no factored form")
    lhs = [a.plain() for a in stmt.index]
    over, body = (stmt.expr.over, stmt.expr.body) if isinstance(stmt.expr, ir.Reduce) \
        and stmt.expr.op == "sum" else ((), stmt.expr)
    deltas = [f for f in ir.factors(body) if isinstance(f, ir.Delta) and f.a.plain() in lhs
              and f.b.plain() in lhs]
    for delta in deltas:
        body = alg.substitute(alg.drop_factor(body, delta), {delta.b.plain(): delta.a})
    expr = ir.Reduce("sum", over, body) if over else body
    used = set(ir.free_names(expr))
    kept = [n for n in lhs if n in used and n not in {d.b.plain() for d in deltas}]
    factors = " * ".join(f"delta({d.a.plain()}, {d.b.plain()})" for d in deltas)
    expansion = (f"{name}[{', '.join(lhs)}] = {factors + ' * ' if factors else ''}"
                 f"{name}[{', '.join(kept)}]")
    new = dataclasses.replace(stmt, index=tuple(ir.Affine.of(n) for n in kept), expr=expr)
    stmts = tuple(new if j == k else s for j, s in enumerate(program.stmts))
    decls = tuple(d for d in program.decls if d.tensor != name)
    return ir.Program(decls, stmts, program.outputs), expansion
