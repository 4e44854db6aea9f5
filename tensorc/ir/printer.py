"""IR -> spec text. ``compile(print_program(p))`` gives the same program back."""
from __future__ import annotations

import dataclasses

from ..language.functions import FUNCTIONS
from . import nodes as ir

_ATOM = 100


def print_affine(a: ir.Affine) -> str:
    """Print an index expression the way a person writes it.

    >>> print_affine(ir.Affine.of("i", 2).plus(ir.Affine.of("a")).shift(-1))
    '2*i + a - 1'
    """
    parts = [(c, n) for n, c in a.terms] + [(c, n) for n, c in a.symbols]
    if a.const or not parts:
        parts.append((a.const, ""))
    text = ""
    for k, (coef, name) in enumerate(parts):
        mag = abs(coef)
        body = name if mag == 1 and name else (f"{mag}*{name}" if name else str(mag))
        sign = "-" if coef < 0 else "+"
        text += (("-" if sign == "-" else "") + body) if k == 0 else f" {sign} {body}"
    return text


def print_index(ix: ir.Index) -> str:
    text = print_affine(ix.expr)
    return text if ix.mode == "zero" else f"{ix.mode}({text})"


def print_expr(e: ir.Expr, implicit=frozenset()) -> str:
    """Spec text of an expression; sums in ``implicit`` are left to the Einstein rules."""
    return _expr(e, implicit)[0]


def _expr(e: ir.Expr, implicit=frozenset()) -> tuple[str, int]:
    if isinstance(e, ir.Const):
        value = e.value
        text = str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)
        return text, (_ATOM if value >= 0 else 30)
    if isinstance(e, ir.Access):
        if not e.index:
            return e.tensor, _ATOM
        return f"{e.tensor}[{', '.join(print_index(ix) for ix in e.index)}]", _ATOM
    if isinstance(e, ir.Delta):
        return f"delta({print_affine(e.a)}, {print_affine(e.b)})", _ATOM
    if isinstance(e, ir.Reduce):
        if e in implicit:
            return _expr(e.body, implicit)
        return f"{e.op}({print_expr(e.body, implicit)})", _ATOM
    if isinstance(e, ir.Count):
        return f"count({', '.join(e.over)})", _ATOM
    if isinstance(e, ir.ArgMax):
        return f"arg{e.op}({print_expr(e.body, implicit)}, {', '.join(e.over)})", _ATOM
    if isinstance(e, ir.Call):
        return _call(e, implicit)
    raise TypeError(f"not an IR expression: {e!r}")  # pragma: no cover


def _call(e: ir.Call, implicit) -> tuple[str, int]:
    fn = FUNCTIONS[e.fn]
    if fn.infix is None:
        return f"{e.fn}({', '.join(print_expr(a, implicit) for a in e.args)})", _ATOM
    prec = fn.precedence
    if fn.arity == 1:
        text, p = _expr(e.args[0], implicit)
        return f"-{text if p > prec or p == _ATOM else f'({text})'}", prec
    (left, lp), (right, rp) = _expr(e.args[0], implicit), _expr(e.args[1], implicit)
    right_assoc = fn.infix == "**"
    if lp < prec or (lp == prec and (right_assoc or prec == 5)):
        left = f"({left})"
    if rp < prec or (rp == prec and (not right_assoc or prec == 5)
                     and fn.infix not in ("+", "*")):
        right = f"({right})"
    space = "" if fn.infix == "**" else " "
    return f"{left}{space}{fn.infix}{space}{right}", prec


def print_stmt(s: ir.Stmt, implicit=frozenset()) -> str:
    lhs = print_expr(s.lhs())
    text = f"{lhs} {'+=' if s.accumulate else '='} {print_expr(s.expr, implicit)}"
    if s.where:
        ranges = ", ".join(f"{r.index} in {print_affine(r.lo)}:{print_affine(r.hi)}"
                           for r in s.where)
        text += f"   where {ranges}"
    return text


def print_program(p: ir.Program) -> str:
    """The whole program as spec text, declarations first (a scalar's says nothing)."""
    lines = [print_decl(d) for d in p.decls if d.dims or d.like]
    for s in map(distinct_bound, p.stmts):
        lines.append(print_stmt(s, _implicit_sums(s, p.decls) if s.einstein else frozenset()))
    return "\n".join(lines) + "\n"


def distinct_bound(s: ir.Stmt) -> ir.Stmt:
    """The statement with every reduction's indices named apart from each other and from
    the free ones. In the IR two sibling ``sum``s may both bind ``c``; in the text an
    index is reduced once, at the smallest subexpression holding all its occurrences, so
    ``sigmoid(sum(X[c] * K[o, c])) * sum(X[c] * K[o, c])`` would read back as one sum.
    A renamed index keeps its ``where`` range under the new name."""
    seen = {n for a in s.index for n in a.names()} | set(ir.free_names(s.expr))
    ranges = {r.index: r for r in s.where}
    added: list[ir.Range] = []

    def visit(e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.Reduce):
            clash = {n: ir.Affine.of(ir.fresh_name(n, seen)) for n in e.over if n in seen}
            seen.update(n for n in e.over if n not in clash)
            added.extend(ir.Range(new.plain(), ranges[n].lo, ranges[n].hi)
                         for n, new in clash.items() if n in ranges)
            over = tuple(clash[n].plain() if n in clash else n for n in e.over)
            return ir.Reduce(e.op, over, visit(ir.substitute(e.body, clash)))
        return e.map(visit)
    expr = visit(s.expr)
    if expr == s.expr:
        return s
    return dataclasses.replace(s, expr=expr, where=s.where + tuple(added))


def _implicit_sums(s: ir.Stmt, decls) -> frozenset:
    """Contractions the Einstein rules of LANGUAGE.md place by themselves (every index
    used at least twice): written without ``sum(...)`` when reading the text back gives
    the same statement. Derived statements print this way, as the notes write them."""
    from ..errors import SpecError
    from ..language.check import check
    from ..language.parse import parse
    context = [print_decl(d) for d in decls if not d.like and d.kind != "output"]
    implicit: frozenset = frozenset()
    for node in ir.walk(s.expr):
        if not isinstance(node, ir.Reduce) or node.op != "sum" or not s.index or \
                not all(_uses(node.body, n) > 1 for n in node.over):
            continue
        trial = implicit | {node}
        text = "\n".join([*context, print_stmt(s, trial)])
        try:
            again = check(parse(text), text).stmts[0]
        except SpecError:
            continue
        if again.expr == s.expr:
            implicit = trial
    return implicit


def _uses(e: ir.Expr, name: str) -> int:
    count = 0
    for node in ir.walk(e):
        if isinstance(node, ir.Access):
            count += sum(name in ix.expr.names() for ix in node.index)
        elif isinstance(node, ir.Delta):
            count += (name in node.a.names()) + (name in node.b.names())
    return count


def print_decl(d: ir.Decl) -> str:
    if d.like:
        return f"{d.kind} {d.tensor} like {', '.join(d.like)}"
    return f"{d.kind} {d.tensor}[{', '.join(map(print_affine, d.dims))}]"


def print_access(a: ir.Access) -> str:
    return print_expr(a)
