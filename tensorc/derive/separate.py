"""Separable factors of derived intermediates: a tensor every statement of which
multiplies by the same read ``x[i]``, where ``i`` is a left-side index used nowhere else,
is an outer product; store it without ``i`` and multiply ``x[i]`` in where it is read.

The Hessian of a dense layer ``tanh(W1[h, i] * x[i])`` in ``W1`` derives
``JHd[h, i, h2] = x[i] * (...)[h, h2]``; separated, ``JHd`` is ``h x h2`` and the
Hessian is written once as ``JHd[h2, h] * x[i2] * x[i] * ...``, the hand-derived form.
"""
from __future__ import annotations

import dataclasses

from ..errors import SpecError
from ..ir import nodes as ir
from ..language.ranges import analyse
from . import simplify as alg
from .inline import canonical_size


def separate(program: ir.Program) -> ir.Program:
    """Take separable factors out of every intermediate that has one, one at a time.
    Sizes come from one range analysis of the program as derived (a separation only
    drops dimensions); the result is analysed once more, and kept only if it checks."""
    if not any(next(_candidates(s), None) for s in program.stmts):
        return program
    analysis = analyse(program)
    shapes = {t: [canonical_size(s, analysis) for s in shape]
              for t, shape in analysis.shapes.items()}
    separated = program
    progress = True
    while progress:
        progress = False
        for tensor in dict.fromkeys(s.target for s in separated.stmts):
            rewritten = _separated(separated, shapes, tensor)
            if rewritten is not None:
                separated, progress = rewritten, True
                break
    if separated is program:
        return program
    try:
        analyse(separated)
    except SpecError:
        return program
    return separated


def _separated(program: ir.Program, shapes: dict, tensor: str) -> ir.Program | None:
    """The program with one separable factor of ``tensor`` taken out, or None."""
    writers = [k for k, s in enumerate(program.stmts) if s.target == tensor]
    if tensor in program.outputs or any(_reads(program.stmts[k], tensor) for k in writers):
        return None
    common = None
    for k in writers:
        found = set(_candidates(program.stmts[k]))
        common = found if common is None else common & found
    for factor, positions in sorted(common or ()):
        if not _sizes_agree(shapes, tensor, factor, positions) or \
                _written_from(program, factor, writers[0]):
            continue
        decls = _declarations(program, shapes, tensor, positions, writers[0])
        if decls is not None:
            shapes[tensor] = [s for p, s in enumerate(shapes[tensor]) if p not in positions]
            return _rewrite(program, decls, tensor, factor, positions)
    return None


def _reads(stmt: ir.Stmt, tensor: str) -> bool:
    return any(a.tensor == tensor for a in ir.accesses(stmt.expr))


def _top_factors(e: ir.Expr) -> list[ir.Expr]:
    """Factors of the product under a leading negation and sum."""
    if isinstance(e, ir.Call) and e.fn == "neg":
        return _top_factors(e.args[0])
    if isinstance(e, ir.Reduce) and e.op == "sum":
        return _top_factors(e.body)
    return ir.factors(e)


def _candidates(stmt: ir.Stmt):
    """(tensor, left-side position of each of its indices) for each separable factor:
    a read of plain left-side indices that no other factor and no ``where`` uses."""
    lhs = [a.plain() for a in stmt.index]
    if not all(lhs) or len(set(lhs)) != len(lhs) or stmt.modes and set(stmt.modes) != {"zero"}:
        return
    bound = {r.index for r in stmt.where}
    factors = _top_factors(stmt.expr)
    for j, f in enumerate(factors):
        if not isinstance(f, ir.Access) or not f.index:
            continue
        names = [ix.expr.plain() if ix.mode == "zero" else None for ix in f.index]
        if not all(n in lhs for n in names) or len(set(names)) != len(names) or bound & set(names):
            continue
        others = {n for i, g in enumerate(factors) if i != j for n in ir.index_names(g)}
        if not others & set(names):
            yield f.tensor, tuple(lhs.index(n) for n in names)


def _sizes_agree(shapes: dict, tensor: str, factor: str, positions) -> bool:
    """Every separated dimension of ``tensor`` is the factor's dimension, size for size."""
    shape, sizes = shapes.get(tensor), shapes.get(factor)
    return shape is not None and sizes is not None and \
        all(shape[p] == s for p, s in zip(positions, sizes))


def _written_from(program: ir.Program, name: str, k: int) -> bool:
    return any(s.target == name for s in program.stmts[k:])


def _declarations(program: ir.Program, shapes: dict, tensor: str, positions, first: int):
    """The declarations with ``tensor``'s redeclared without the separated dimensions
    (``like`` tensors whose shapes give the rest), or None if no such models exist."""
    decl = next((d for d in program.decls if d.tensor == tensor), None)
    if decl is None:
        return program.decls
    if not decl.like:
        return None
    wanted = [s for p, s in enumerate(shapes[tensor]) if p not in positions]
    known = [*decl.like, *program.inputs, *(s.target for s in program.stmts[:first])]
    models = _cover(wanted, {m: shapes[m] for m in dict.fromkeys(known) if m in shapes})
    if models is None:
        return None
    new = dataclasses.replace(decl, like=models,
                              like_ranks=tuple(len(shapes[m]) for m in models))
    return tuple(new if d is decl else d for d in program.decls)


def _cover(wanted: list, shapes: dict) -> tuple[str, ...] | None:
    """Tensors whose shapes, joined, are ``wanted`` (the first such, depth first)."""
    if not wanted:
        return ()
    for model, sizes in shapes.items():
        if sizes and sizes == wanted[:len(sizes)]:
            rest = _cover(wanted[len(sizes):], shapes)
            if rest is not None:
                return (model, *rest)
    return None


def _rewrite(program: ir.Program, decls, tensor: str, factor: str, positions):
    stmts = []
    for stmt in program.stmts:
        if stmt.target == tensor:
            read = ir.Access(factor, tuple(ir.Index(stmt.index[p]) for p in positions))
            index = tuple(a for p, a in enumerate(stmt.index) if p not in positions)
            stmt = dataclasses.replace(stmt, index=index,
                                       expr=_without(stmt.expr, read))
        elif _reads(stmt, tensor):
            stmt = dataclasses.replace(
                stmt, expr=_times_factor(stmt.expr, tensor, factor, positions))
        stmts.append(stmt)
    return ir.Program(decls, tuple(stmts), program.outputs)


def _without(e: ir.Expr, factor: ir.Access) -> ir.Expr:
    if isinstance(e, ir.Call) and e.fn == "neg":
        return alg.neg(_without(e.args[0], factor))
    if isinstance(e, ir.Reduce) and e.op == "sum":
        return ir.Reduce("sum", e.over, _without(e.body, factor))
    return alg.drop_factor(e, factor)


def _times_factor(e: ir.Expr, tensor: str, factor: str, positions) -> ir.Expr:
    """Every read ``T[..., e_p, ...]`` -> ``T[...] * factor[e_p]``."""
    if isinstance(e, ir.Access) and e.tensor == tensor:
        kept = tuple(ix for p, ix in enumerate(e.index) if p not in positions)
        return alg.mul(ir.Access(tensor, kept),
                       ir.Access(factor, tuple(e.index[p] for p in positions)))
    return e.map(lambda child: _times_factor(child, tensor, factor, positions))
