"""IR -> spec text. ``compile(print_program(p))`` gives the same program back."""
from __future__ import annotations

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


def print_expr(e: ir.Expr) -> str:
    return _expr(e)[0]


def _expr(e: ir.Expr) -> tuple[str, int]:
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
        return f"{e.op}({print_expr(e.body)})", _ATOM
    if isinstance(e, ir.Count):
        return f"count({', '.join(e.over)})", _ATOM
    if isinstance(e, ir.ArgMax):
        return f"arg{e.op}({print_expr(e.body)}, {', '.join(e.over)})", _ATOM
    if isinstance(e, ir.Call):
        return _call(e)
    raise TypeError(f"not an IR expression: {e!r}")  # pragma: no cover


def _call(e: ir.Call) -> tuple[str, int]:
    fn = FUNCTIONS[e.fn]
    if fn.infix is None:
        return f"{e.fn}({', '.join(print_expr(a) for a in e.args)})", _ATOM
    prec = fn.precedence
    if fn.arity == 1:
        text, p = _expr(e.args[0])
        return f"-{text if p > prec or p == _ATOM else f'({text})'}", prec
    (left, lp), (right, rp) = _expr(e.args[0]), _expr(e.args[1])
    right_assoc = fn.infix == "**"
    if lp < prec or (lp == prec and (right_assoc or prec == 5)):
        left = f"({left})"
    if rp < prec or (rp == prec and (not right_assoc or prec == 5)
                     and fn.infix not in ("+", "*")):
        right = f"({right})"
    space = "" if fn.infix == "**" else " "
    return f"{left}{space}{fn.infix}{space}{right}", prec


def print_stmt(s: ir.Stmt) -> str:
    lhs = print_expr(s.lhs())
    text = f"{lhs} {'+=' if s.accumulate else '='} {print_expr(s.expr)}"
    if s.where:
        ranges = ", ".join(f"{r.index} in {print_affine(r.lo)}:{print_affine(r.hi)}"
                           for r in s.where)
        text += f"   where {ranges}"
    return text


def print_program(p: ir.Program) -> str:
    """The whole program as spec text, declarations first."""
    lines = [print_decl(d) for d in p.decls]
    lines += [print_stmt(s) for s in p.stmts]
    return "\n".join(lines) + "\n"


def print_decl(d: ir.Decl) -> str:
    if d.like is not None:
        return f"{d.kind} {d.tensor} like {d.like}"
    return f"{d.kind} {d.tensor}[{', '.join(map(print_affine, d.dims))}]"


def print_access(a: ir.Access) -> str:
    return print_expr(a)
