"""Reverse mode over whole statements: the derived program is the forward program plus,
in reverse order, one statement per contribution of each read of an active tensor.

A contribution of the read ``X[g]`` inside ``T[lhs] = e`` with factor ``f`` becomes

    dX[g] += dT[lhs] * f        (summed over every index not on the left)

which is a gather when ``g`` is plain and an affine scatter otherwise; boundary wrappers
on ``g`` make the scatter fold back through the same map. Jacobians run the same pass
with the indices of ``of`` in front of every adjoint (``prefix``), seeded by deltas.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import sympy as sp

from ..errors import SpecError
from ..ir import nodes as ir
from ..language.ranges import Analysis, analyse
from ..plan.graph import dataflow
from . import simplify as alg
from .inline import canonical_size
from .rules import Context, adjoint


@dataclass
class Request:
    of: str
    wrt: tuple[str, ...]
    names: dict[str, str]                 # tensor -> its adjoint's name
    jacobian: bool = False                # prefix every adjoint with the indices of ``of``


@dataclass
class _Derived:
    stmts: list[ir.Stmt] = field(default_factory=list)
    decls: dict[str, ir.Decl] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)


def reverse(program: ir.Program, request: Request) -> ir.Program:
    """The program followed by the statements of its reverse pass."""
    active = _active(program, request)
    forward = analyse(program)
    ranks = program.ranks()
    out = _Derived()
    of_names = _of_names(program, request.of, ranks[request.of])
    for k in reversed(range(len(program.stmts))):
        stmt = program.stmts[k]
        if stmt.target != request.of and request.names[stmt.target] not in out.written:
            continue        # not on a path to ``of``, or its adjoint is zero
        sweeps = lambda tensor, index, k=k: _covers(forward, k, tensor, index)  # noqa: E731
        for target, lhs, body, where, whole in _contributions(stmt, active, request, of_names,
                                                               sweeps, _ranges(forward, k)):
            _emit(out, program, k, request, target, (lhs, body, where), whole, ranks)
    for name in request.wrt:
        if request.names[name] not in out.written:     # no path: the gradient is zero
            _emit_zero(out, program, request, name, ranks)
    decls = list(program.decls)
    if not request.jacobian and ranks[request.of]:
        decls.append(ir.Decl("input", request.names[request.of], (), (request.of,),
                             (ranks[request.of],)))
    decls += out.decls.values()
    stmts = (*program.stmts, *out.stmts)
    outputs = tuple(dict.fromkeys(s.target for s in stmts))
    return ir.Program(tuple(decls), stmts, outputs)


# --- which tensors need adjoints -------------------------------------------------
def _active(program: ir.Program, request: Request) -> frozenset[str]:
    graph = dataflow(program)
    assigned = {s.target for s in program.stmts}
    tensors = {n[1] for n in graph if n[0] == "tensor"}
    if request.of not in assigned:
        raise SpecError(f"of={request.of!r} is not assigned by the program; it assigns "
                        f"{', '.join(sorted(assigned))}")
    if request.of in request.wrt:
        raise SpecError(f"of={request.of!r} is also in wrt; the derivative of a tensor by "
                        "itself is the identity (leave it out of wrt)")
    for name in request.wrt:
        if name not in tensors:
            raise SpecError(f"wrt={name!r} is not a tensor of the program; it has "
                            f"{', '.join(sorted(tensors))}")
    upstream = nx.ancestors(graph, ("tensor", request.of)) | {("tensor", request.of)}
    active = set()
    for name in request.wrt:
        node = ("tensor", name)
        active |= {n[1] for n in (nx.descendants(graph, node) | {node}) & upstream
                   if n[0] == "tensor"}
    _check_order(program, active)
    return frozenset(active)


def _check_order(program: ir.Program, active: set[str]) -> None:
    """A tensor must be complete before it is read: reads after its last write."""
    last_write = {s.target: k for k, s in enumerate(program.stmts)}
    for k, stmt in enumerate(program.stmts):
        for acc in ir.accesses(stmt.expr):
            if acc.tensor in active and last_write.get(acc.tensor, -1) >= k:
                raise SpecError(f"cannot differentiate: line {stmt.line} reads {acc.tensor} "
                                f"before line {program.stmts[last_write[acc.tensor]].line} "
                                "adds to it; give the partial sum its own name")


def _of_names(program: ir.Program, of: str, rank: int) -> tuple[str, ...]:
    """Index names for ``of``: those of its first plain write, else o, o2, ..."""
    for stmt in program.stmts:
        plain = [a.plain() for a in stmt.index]
        if stmt.target == of and all(plain) and len(set(plain)) == len(plain):
            return tuple(plain)
    return tuple("o" if d == 0 else f"o{d + 1}" for d in range(rank))


# --- contributions of one statement ----------------------------------------------
def _contributions(stmt: ir.Stmt, active, request: Request, of_names: tuple[str, ...],
                   sweeps, info):
    """(adjoint tensor, left side, right side, where, whole) for each read of an active
    tensor; ``whole``: the read sweeps all of the tensor with plain indices."""
    names = _statement_names(stmt)
    output = ir.Access(stmt.target, tuple(ir.Index(a) for a in stmt.index)) \
        if not stmt.accumulate else None
    seeding = stmt.target == request.of
    prefix = () if not request.jacobian else _prefix(stmt, of_names, names, seeding)
    seed = _seed(stmt, request, prefix, seeding)
    found: dict[tuple, list[ir.Expr]] = {}
    whole: dict[tuple, bool] = {}
    for leaf, factor in adjoint(stmt.expr, seed, Context(active, output)):
        index, factor = leaf.index, factor
        covers = sweeps(leaf.tensor, index)
        front = tuple(ir.Index(ir.Affine.of(p)) for p in prefix)
        if request.jacobian and seeding:
            front, index, factor = _seed_deltas(stmt, leaf, factor, prefix, names)
        key = (leaf.tensor, front + index)
        found.setdefault(key, []).append(alg.tidy(factor))
        whole[key] = covers
    for (tensor, lhs), factors in found.items():
        body = alg.ZERO
        for free, group in _by_summed(factors, lhs).items():
            total = alg.ZERO
            for factor in group:
                total = alg.add(total, factor)
            body = alg.add(body, _summed(alg.tidy(total), free, lhs, names))
        if body != alg.ZERO:
            yield tensor, lhs, body, _where(stmt, body, lhs, info), whole[tensor, lhs]


def _statement_names(stmt: ir.Stmt) -> set[str]:
    return {n for a in stmt.index for n in a.names()} | set(ir.index_names(stmt.expr))


def _prefix(stmt: ir.Stmt, bases: tuple[str, ...], taken: set[str],
            seeding: bool) -> tuple[str, ...]:
    """Names for the indices of ``of`` in front of every Jacobian adjoint: the names the
    statement writing ``of`` uses, made distinct from this statement's own."""
    plain = [a.plain() for a in stmt.index]
    if seeding and all(plain) and len(set(plain)) == len(plain):
        return tuple(plain)
    used, names = set(taken), []
    for base in bases:
        names.append(base if base not in used else ir.fresh_name(base, used))
        used.add(names[-1])
    return tuple(names)


def _seed(stmt: ir.Stmt, request: Request, prefix, seeding: bool) -> ir.Expr:
    if seeding and (request.jacobian or not stmt.index):
        return alg.ONE
    index = tuple(ir.Index(ir.Affine.of(p)) for p in prefix) + stmt.lhs().index
    return ir.Access(request.names[stmt.target], index)


def _seed_deltas(stmt: ir.Stmt, leaf: ir.Access, factor: ir.Expr, prefix, names: set[str]):
    """Seed ``d of[o] / d of[lhs] = delta(o, lhs)``: where ``o`` is the left side's own
    index the delta is the identity, unless the read uses that index alone too (then the
    read's copy is renamed and the delta kept: ``delta(n, n2)``). A left-side position
    under a boundary wrapper (``of[c, reflect(2*i + a)] += ...``) is no delta: it goes to
    the Jacobian's left side as written (the wrapped scatter). Returns the Jacobian's
    left-side positions for ``of``, the read's index and the factor."""
    index = leaf.index
    plain_in_leaf = {ix.expr.plain() for ix in index} - {None}
    renames: dict[str, ir.Affine] = {}
    deltas = []
    front = []
    for o, lhs in zip(prefix, stmt.lhs().index):
        front.append(lhs if lhs.mode != "zero" else ir.Index(ir.Affine.of(o)))
        if lhs.mode != "zero" or lhs.expr.plain() == o and o not in plain_in_leaf:
            continue
        if lhs.expr.plain() == o:
            renames[o] = ir.Affine.of(
                ir.fresh_name(o, names | {r.plain() for r in renames.values()}))
            deltas.append(ir.Delta(ir.Affine.of(o), renames[o]))
        else:
            deltas.append(ir.Delta(ir.Affine.of(o), lhs.expr))
    index = tuple(ir.Index(alg.affine(ix.expr, renames), ix.mode) for ix in index)
    factor = alg.substitute(factor, renames)
    on_left = {n for ix in index for n in ix.expr.names()}
    deltas, solved = _solve_seed_deltas(deltas, on_left, set(prefix))
    index = tuple(ir.Index(alg.affine(ix.expr, solved), ix.mode) for ix in index)
    factor = alg.substitute(factor, solved)
    for delta in reversed(deltas):
        factor = alg.mul(delta, factor)
    front = tuple(ir.Index(alg.affine(ix.expr, solved), ix.mode) for ix in front)
    return front, index, factor


def _solve_seed_deltas(deltas, on_left: set, prefix: set):
    """``delta(o, v)`` with ``v`` a summed index (not on the new left side): ``v := o``.
    (``v`` ranges like ``o``: both sweep the same dimension of ``of``.) A diagonal write
    ``of[i, i]`` leaves ``delta(o2, o)``."""
    solved: dict[str, ir.Affine] = {}
    kept = []
    for delta in deltas:
        v = delta.b.plain()
        if v is None or v in on_left or v in prefix:
            kept.append(delta)
        elif v in solved:
            kept.append(ir.Delta(delta.a, solved[v]))
        else:
            solved[v] = delta.a
    return [ir.Delta(d.a, alg.affine(d.b, solved)) for d in kept], solved


def _by_summed(factors, lhs) -> dict[tuple, list[ir.Expr]]:
    """Factors grouped by the indices they are summed over (those not on the left)."""
    kept = {n for ix in lhs for n in ix.expr.names()}
    groups: dict[tuple, list[ir.Expr]] = {}
    for factor in factors:
        free = tuple(sorted(n for n in ir.free_names(factor) if n not in kept))
        groups.setdefault(free, []).append(factor)
    return groups


def _summed(factor: ir.Expr, free, lhs: tuple[ir.Index, ...], names: set[str]) -> ir.Expr:
    """Sum the factor over ``free``: every index that is not on the left side."""
    kept = {n for ix in lhs for n in ix.expr.names()}
    free = tuple(n for n in ir.free_names(factor) if n in free)
    taken = set(ir.free_names(factor)) | kept
    used = set(names) | taken | set(ir.index_names(factor))
    factor = alg.rename_bound(factor, taken, lambda n: ir.fresh_name(n, used))
    return ir.Reduce("sum", free, factor) if free else factor


def _where(stmt: ir.Stmt, body: ir.Expr, lhs, info) -> tuple[ir.Range, ...]:
    """The statement's ranges the derived one uses, and an explicit range for each index
    only a ``count`` names (its range was inferred from reads the derivative lost), for
    each index of a scatter's compound left side (the derived reads of that pattern must
    not narrow it: the scatter dropped its writes outside one by one), for each index
    that sweeps part of a dimension it indexes plainly (``H[i] = X[i - a] * V[a]`` leaves
    ``H[0]`` zero, and ``dH[0]`` must reach no ``dX``), and for each index
    no plain read sizes any more (``Z[i] = X[i + a] - W[a]`` gives ``dX[i + a] += dZ[i]``:
    nothing left says that ``a`` spans ``W``). A forward range text cannot write (a
    minimum or a floor of sizes that stays one with every size at least 1) is left to be
    inferred."""
    used = set(ir.index_names(body)) | {n for ix in lhs for n in ix.expr.names()}
    where = [r for r in stmt.where if r.index in used]
    placed = {r.index for r in where} | {n for ix in lhs for n in ix.expr.names()} | {
        n for node in ir.walk(body) if isinstance(node, (ir.Access, ir.Delta))
        for n in (node.names() if isinstance(node, ir.Access) else
                  node.a.names() + node.b.names())}
    counted = [n for node in ir.walk(body) if isinstance(node, ir.Count) for n in node.over
               if n not in placed]
    for name in dict.fromkeys(counted):
        if info.written(name) is None:
            raise SpecError(f"line {stmt.line}: cannot derive: the derived statement needs "
                            f"the range of '{name}' written out, and it is not affine in the "
                            f"inputs' sizes; give it with `where {name} in ...`")
        where.append(info.written(name))
    sized = {ix.expr.plain() for node in ir.walk(body) if isinstance(node, ir.Access)
             for ix in node.index if ix.mode == "zero"} | {ix.expr.plain() for ix in lhs}
    unsized = [n for n in sorted(used - sized) if n in info.ranges]
    partial = [ix.expr.plain() for acc in (stmt.lhs(), *ir.accesses(stmt.expr))
               for ix, size in zip(acc.index, info.forward.shapes.get(acc.tensor, ()))
               if ix.mode == "zero" and ix.expr.plain() in used
               and not info.covers(ix.expr.plain(), size)]
    for name in dict.fromkeys([*(n for a in stmt.index if info.scatter and not a.plain()
                                 for n in a.names() if n in used), *unsized, *partial]):
        written = info.written(name) if all(r.index != name for r in where) else None
        if written is not None:
            where.append(written)
    return tuple(where)


@dataclass(frozen=True)
class _ForwardRanges:
    """A forward statement's index ranges, as the derived statements may write them."""

    ranges: dict
    scatter: bool       # a += into a declared shape (writes outside dropped one by one)
    forward: Analysis

    def written(self, name: str) -> ir.Range | None:
        """``where name in lo:hi`` with the bounds affine in the inputs' sizes (assigned
        tensors' sizes replaced by their formulas), or None."""
        lo, hi = (_affine_size(self._in_inputs(b)) for b in self.ranges[name])
        return None if lo is None or hi is None else ir.Range(name, lo, hi)

    def covers(self, name: str, size) -> bool:
        """Whether index ``name`` ranges over all of a dimension of that size."""
        lo, hi = self.ranges[name]
        return all(sp.expand(_at_least_one(canonical_size(gap, self.forward))) == 0
                   for gap in (lo, hi - size))

    def _in_inputs(self, size) -> sp.Expr:
        """``size`` in the inputs' sizes, simplified as if every size were at least 1
        (``Max(0, K - 1)`` is ``K - 1``): an empty dimension makes the sum it ranges
        empty, whatever range the derived statement writes."""
        size = sp.sympify(size)
        for _ in range(len(self.forward.defs) + 1):
            again = size.xreplace(self.forward.defs)
            if again == size:
                break
            size = again
        return _at_least_one(size)


def _at_least_one(size: sp.Expr) -> sp.Expr:
    """``size`` simplified knowing each size symbol is at least 1, in the same symbols."""
    positive = {s: sp.Symbol(s.name, integer=True, positive=True) for s in size.free_symbols}
    return size.xreplace(positive).xreplace({v: k for k, v in positive.items()})


def _ranges(forward: Analysis, k: int) -> _ForwardRanges:
    info = forward.stmts[k]
    return _ForwardRanges(info.ranges, bool(info.lhs_pads), forward)


def _affine_size(value) -> ir.Affine | None:
    """A range bound (sympy, affine in size symbols) as an Affine, or None."""
    const, symbols = 0, []
    for term, coef in sp.expand(sp.sympify(value)).as_coefficients_dict().items():
        if not coef.is_integer:
            return None
        if term == 1:
            const = int(coef)
        elif isinstance(term, sp.Symbol):
            symbols.append((term.name, int(coef)))
        else:
            return None
    return ir.Affine((), tuple(symbols), const)


# --- writing the derived statements ----------------------------------------------
def _emit(out: _Derived, program: ir.Program, k: int, request: Request, target: str,
          statement, whole: bool, ranks) -> None:
    lhs, body, where = statement
    name = request.names[target]
    if name not in out.decls:
        like = (request.of, target) if request.jacobian else (target,)
        models = _shape_of(program, like)
        out.decls[name] = ir.Decl("output", name, (), models, tuple(ranks[m] for m in models))
    first = name not in out.written
    out.written.add(name)
    plain = [ix.expr.plain() if ix.mode == "zero" else None for ix in lhs]
    assign = first and whole and all(plain) and len(set(plain)) == len(plain)
    modes = tuple(ix.mode for ix in lhs)
    out.stmts.append(ir.Stmt(name, tuple(ix.expr for ix in lhs), body, not assign, where,
                             program.stmts[k].line,
                             modes if any(m != "zero" for m in modes) else (), einstein=True))


def _covers(forward: Analysis, k: int, tensor: str, index) -> bool:
    """Do the plain indices of a read sweep the whole of ``tensor`` in statement k?"""
    info, shape = forward.stmts[k], forward.shapes.get(tensor, ())
    if any(ix.mode != "zero" or ix.expr.plain() is None for ix in index):
        return False
    for ix, size in zip(index, shape):
        lo, hi = info.ranges.get(ix.expr.plain(), (None, None))
        if lo != 0 or sp.expand(sp.sympify(hi).xreplace(forward.same) -
                                sp.sympify(size).xreplace(forward.same)) != 0:
            return False
    return True


def _shape_of(program: ir.Program, models) -> tuple[str, ...]:
    """Models of a ``like`` declaration, each replaced by what it is itself declared like
    (so a Hessian is sized by the parameter, not by the gradient it is derived from)."""
    likes = {d.tensor: d.like for d in program.decls if d.like}
    out: list[str] = []
    for model in models:
        out.extend(_shape_of(program, likes[model]) if model in likes else (model,))
    return tuple(out)


def _emit_zero(out: _Derived, program, request: Request, name: str, ranks) -> None:
    """A wrt that ``of`` does not depend on: its adjoint is zero."""
    grad = request.names[name]
    like = _shape_of(program, (request.of, name) if request.jacobian else (name,))
    out.decls[grad] = ir.Decl("output", grad, (), like, tuple(ranks[m] for m in like))
    rank = sum(ranks[m] for m in like)
    index = tuple(ir.Affine.of(f"z{d}") for d in range(rank))
    out.stmts.append(ir.Stmt(grad, index, alg.ZERO, False, (), 0))
    out.written.add(grad)
