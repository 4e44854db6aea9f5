"""Plan-time rewrites: the program that runs may differ from the one that prints.

A scatter into a tensor of declared shape, ``dX[n, c, i + a, j + b] += dZ[n, o, i, j] *
W[o, c, a, b]``, runs faster as the gather it equals: for each position ``h = i + a`` of
``dX``, ``sum_a dZ[h - a] W[a]`` with ``dZ`` read through zero padding (a full correlation
with the flipped kernel). It then runs like a forward convolution: one padded window
view and one BLAS contraction, instead of one strided add per kernel offset.
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from ..derive import simplify as alg
from ..ir import nodes as ir
from ..language.ranges import Analysis


def gather_scatters(program: ir.Program, analysis: Analysis,
                    reindexing_only: bool = False) -> ir.Program | None:
    """The program with every invertible scatter as a gather; None if there is none.

    ``reindexing_only``: only the scatters whose gather sums nothing, such as a Jacobian's
    ``J[..., i + a] += delta * W[a]``, which is ``J[..., p] += delta * W[p - i]``.
    """
    stmts, changed = [], False
    for stmt in program.stmts:
        gathered = _as_gather(stmt, analysis, reindexing_only)
        changed |= gathered is not None
        stmts.append(gathered or stmt)
    return dataclasses.replace(program, stmts=tuple(stmts)) if changed else None


def _as_gather(stmt: ir.Stmt, analysis: Analysis, reindexing_only: bool) -> ir.Stmt | None:
    if not stmt.accumulate or stmt.modes or stmt.target not in analysis.likes:
        return None
    shape = analysis.shapes[stmt.target]
    taken = set(ir.index_names(stmt.expr)) | {n for a in stmt.index for n in a.names()}
    fixed = {r.index for r in stmt.where}
    names: dict[str, ir.Affine] = {}
    index, where = [], list(stmt.where)
    for d, a in enumerate(stmt.index):
        if a.plain() is not None:
            index.append(a)
            continue
        pair = _invertible(a, stmt, fixed)
        size = sp.sympify(shape[d])
        if pair is None or not isinstance(size, (sp.Symbol, sp.Integer)):
            return None
        out, kernel = pair
        h = ir.fresh_name(out, taken)
        names[out] = ir.Affine.of(h).minus(ir.Affine.of(kernel)).shift(-a.const)
        index.append(ir.Affine.of(h))
        hi = ir.Affine.symbol(size.name) if isinstance(size, sp.Symbol) else \
            ir.Affine(const=int(size))      # a declared number: input X[N, 16, 4, 4]
        where.append(ir.Range(h, ir.Affine(), hi))
    if not names:
        return None
    expr = alg.substitute(stmt.expr, names)
    kept = {n for a in index for n in a.names()}
    summed = tuple(n for n in ir.free_names(expr) if n not in kept)   # the kernel offsets
    if summed and reindexing_only:
        return None
    if isinstance(expr, ir.Reduce) and expr.op == "sum":
        expr = ir.Reduce("sum", expr.over + summed, expr.body)
    elif summed:
        expr = ir.Reduce("sum", summed, expr)
    return dataclasses.replace(stmt, index=tuple(index), expr=expr, where=tuple(where))


def _invertible(a: ir.Affine, stmt: ir.Stmt, fixed: set[str]):
    """For ``i + a + c`` on the left: (i, a) where ``i`` is written only there, read once,
    plainly, by a factor of the product (the gather reads it through zero padding: the
    term must then be 0, as with ``(W[i] + 1)`` it is not), and can be solved for
    (``i = h - a - c``), while ``a`` keeps a range of its own (a where, a plain position
    on the left or a plain read); None otherwise."""
    if a.symbols or len(a.terms) != 2 or any(c != 1 for _, c in a.terms):
        return None
    lhs_uses = [n for b in stmt.index for n in b.names()]
    sized = fixed | {b.plain() for b in stmt.index} | {
        ix.expr.plain() for x in ir.accesses(stmt.expr) for ix in x.index if ix.mode == "zero"}
    for out, kernel in (a.names(), a.names()[::-1]):
        if out in fixed or lhs_uses.count(out) != 1 or kernel not in sized:
            continue
        if _read_once_plainly(stmt.expr, out) and alg.is_factor(stmt.expr, next(
                x for x in ir.accesses(stmt.expr) if out in x.names())):
            return out, kernel
    return None


def _read_once_plainly(expr: ir.Expr, name: str) -> bool:
    uses = 0
    for node in ir.walk(expr):
        if isinstance(node, ir.Access):
            for ix in node.index:
                if name in ix.expr.names():
                    if ix.expr.plain() != name or ix.mode != "zero":
                        return False
                    uses += 1
        elif isinstance(node, (ir.Delta, ir.Count, ir.ArgMax, ir.Reduce)):
            names = node.over if not isinstance(node, ir.Delta) else \
                node.a.names() + node.b.names()
            if name in names:
                return False
    return uses == 1


COMPARISONS = ("gt", "ge", "lt", "le", "eq", "ne")


def masks_into_scatters(program: ir.Program) -> ir.Program:
    """A mask applied to a scattered intermediate, applied inside the scatter instead.

    ``drelu[n, c, 2*i + p, 2*j + q] += dP[n, c, i, j] * argmax(relu[...], p, q)`` read only
    by ``dZ[n, c, i, j] = drelu[n, c, i, j] * (relu[n, c, i, j] > 0)`` runs as
    ``dZ[n, c, 2*i + p, 2*j + q] += dP[n, c, i, j] * argmax(relu[...], p, q) *
    (relu[n, c, 2*i + p, 2*j + q] > 0)``: one statement (the mask is tested once per
    window, by the winner) and no ``drelu`` array. Positions the scatter leaves at zero
    stay zero either way: a comparison is 0 or 1, never inf or NaN.
    """
    stmts = list(program.stmts)
    k = 0
    while k < len(stmts):
        found = _masked_scatter(k, stmts, program)
        if found is None:
            k += 1
            continue
        j, fused = found
        stmts[k] = fused
        del stmts[j]
    if len(stmts) == len(program.stmts):
        return program
    written = {s.target for s in stmts} | {a.tensor for s in stmts for a in ir.accesses(s.expr)}
    decls = tuple(d for d in program.decls if d.kind != "output" or d.tensor in written)
    return ir.Program(decls, tuple(stmts), program.outputs)


def _masked_scatter(k: int, stmts: list, program: ir.Program):
    """(the index of the scatter, the fused statement) if statement ``k`` is
    ``U[idx] = T[idx] * masks`` over a ``T`` that one earlier scatter writes and only
    statement ``k`` reads; None otherwise."""
    stmt = stmts[k]
    names = tuple(a.plain() for a in stmt.index)
    if stmt.accumulate or stmt.where or not all(names) or len(set(names)) != len(names) \
            or any(s.target == stmt.target for s in stmts[:k]) \
            or not any(d.tensor == stmt.target for d in program.decls):
        return None
    factors = ir.factors(stmt.expr)
    for read in factors:
        if not isinstance(read, ir.Access) or read.names() != names or \
                any(ix.mode != "zero" or ix.expr.plain() is None for ix in read.index):
            continue
        writers = [j for j, s in enumerate(stmts) if s.target == read.tensor]
        readers = [a for s in stmts for a in ir.accesses(s.expr) if a.tensor == read.tensor]
        if len(writers) != 1 or writers[0] > k or len(readers) != 1 or \
                read.tensor in program.outputs:
            continue
        scatter = stmts[writers[0]]
        masks = [f for f in factors if f is not read]
        model = next((d.like for d in program.decls if d.tensor == read.tensor), ())
        if not scatter.accumulate or scatter.modes or not masks or len(model) != 1 or \
                not all(_is_mask(f, model[0], names) for f in masks):
            continue
        at = dict(zip(names, scatter.index))
        expr = scatter.expr
        for mask in masks:
            expr = ir.Call("mul", (expr, ir.substitute(mask, at)))
        return writers[0], dataclasses.replace(scatter, target=stmt.target, expr=expr)
    return None


def _is_mask(e: ir.Expr, model: str, names: tuple[str, ...]) -> bool:
    """A comparison of constants and ``model[names]`` (the masked tensor's shape exactly)."""
    return isinstance(e, ir.Call) and e.fn in COMPARISONS and all(
        isinstance(n, ir.Const) or isinstance(n, ir.Call) or
        (isinstance(n, ir.Access) and n.tensor == model and n.names() == names and
         all(ix.mode == "zero" and ix.expr.plain() for ix in n.index))
        for n in ir.walk(e))


def choice_costs(stmt: ir.Stmt, info, gather: ir.Stmt, gather_info) -> tuple[sp.Expr, ...]:
    """What ``rt.gather_wins`` weighs, as size expressions: the scatter's and the gather's
    work (the product of their index extents), the size of the scatter's temporary, its
    number of strided adds (kernel offsets) and the elements of the gather's window copy."""
    work = [sp.Mul(*(hi - lo for lo, hi in i.ranges.values())) for i in (info, gather_info)]
    names = dict.fromkeys(n for a in stmt.index for n in a.names())
    return (work[0], work[1], sp.Mul(*(info.extent(n) for n in names)),
            sp.Mul(*(info.extent(n) for n in scatter_loops(stmt.index))),
            window_elements(gather, gather_info))


def window_elements(stmt: ir.Stmt, info) -> sp.Expr:
    """Elements of the largest window read of ``stmt`` (a dimension that two or more
    indices share, as ``dY[n, o, i2 - a, j2 - b]``): what its contraction copies (im2col)."""
    sizes = [sp.Mul(*(info.extent(n) for n in a.names())) for a in ir.accesses(stmt.expr)
             if any(len(ix.expr.names()) > 1 for ix in a.index)]
    return sp.Max(*sizes) if sizes else sp.Integer(0)


def scatter_loops(index: tuple[ir.Affine, ...]) -> list[str]:
    """Indices a scatter loops over so that the others write distinct positions.

    Keep at most one index per dimension, largest step first (the output position, not
    the kernel offset); loop over the rest: a few kernel offsets, each a strided add.
    """
    names = list(dict.fromkeys(n for a in index for n in a.names()))
    step = {n: max(abs(a.coef(n)) for a in index) for n in names}
    kept: list[str] = []
    for n in sorted(names, key=lambda n: (-step[n], names.index(n))):
        if all(not a.coef(n) or not any(a.coef(m) for m in kept) for a in index):
            kept.append(n)
    return [n for n in names if n not in kept]
