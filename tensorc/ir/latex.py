"""IR -> LaTeX through sympy's LaTeX printer: each statement as an equation."""
from __future__ import annotations

import sympy as sp

from ..language.functions import FUNCTIONS
from . import nodes as ir

_NATIVE = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh, "erf": sp.erf,
           "sin": sp.sin, "cos": sp.cos, "abs": sp.Abs}


def latex_program(program: ir.Program) -> str:
    r"""Every statement as one line of LaTeX.

    >>> from tensorc.language.check import check
    >>> from tensorc.language.parse import parse
    >>> text = "Y[i] = A[i, k] * x[k]"
    >>> latex_program(check(parse(text), text))
    '{Y}_{i} = \\sum_{k}{\\left({A}_{i,k} {x}_{k} \\right)}'
    """
    return "\n".join(latex_stmt(s) for s in program.stmts)


def latex_stmt(s: ir.Stmt) -> str:
    lhs = sp.latex(_access(s.lhs()))
    op = r"\mathrel{+}=" if s.accumulate else "="
    return f"{lhs} {op} {sp.latex(to_sympy(s.expr))}"


def to_sympy(e: ir.Expr) -> sp.Expr:
    if isinstance(e, ir.Const):
        return sp.Integer(int(e.value)) if float(e.value).is_integer() else sp.Float(e.value, 6)
    if isinstance(e, ir.Access):
        return _access(e)
    if isinstance(e, ir.Delta):
        return sp.KroneckerDelta(_affine(e.a), _affine(e.b))
    if isinstance(e, ir.Count):
        return sp.Function("count")(*map(sp.Symbol, e.over))
    if isinstance(e, ir.ArgMax):
        return sp.Function(rf"\operatorname{{arg{e.op}}}_{{{','.join(e.over)}}}")(
            to_sympy(e.body))
    if isinstance(e, ir.Reduce):
        name = {"sum": r"\sum", "max": r"\max", "min": r"\min", "mean": r"\operatorname{mean}"}
        return sp.Function(f"{name[e.op]}_{{{','.join(e.over)}}}")(to_sympy(e.body))
    return _call(e)


def _call(e: ir.Call) -> sp.Expr:
    fn = FUNCTIONS[e.fn]
    args = [to_sympy(a) for a in e.args]
    if fn.infix is not None:
        value = fn.definition.xreplace(dict(zip(fn.params, args)))
        return value
    if e.fn in _NATIVE:
        return _NATIVE[e.fn](*args)
    return sp.Function(rf"\operatorname{{{e.fn}}}")(*args)


def _access(a: ir.Access) -> sp.Expr:
    if not a.index:
        return sp.Symbol(a.tensor)
    index = [_affine(ix.expr) if ix.mode == "zero" else
             sp.Function(rf"\operatorname{{{ix.mode}}}")(_affine(ix.expr)) for ix in a.index]
    return sp.Indexed(sp.IndexedBase(a.tensor), *index)


def _affine(a: ir.Affine) -> sp.Expr:
    value = sp.Integer(a.const)
    for name, coef in (*a.terms, *a.symbols):
        value += coef * sp.Symbol(name)
    return value
