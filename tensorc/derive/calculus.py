"""Derivatives of the elementwise functions: ``sympy.diff`` of each definition, turned back
into IR. Nothing here is a hand-written table of derivatives.

Two conventions, both documented in the README: at a kink the derivative is taken from
the strict comparison (``relu'(0) = 0``, as PyTorch does: sympy's ``Heaviside(x)`` becomes
``x > 0``), and a derivative that can be written in the function's own output (``tanh``:
``1 - y**2``) is written so, when that is no longer than the form in the argument.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from ..errors import SpecError
from ..ir import nodes as ir
from ..language.functions import FUNCTIONS

OUTPUT = sp.Symbol("OUTPUT", real=True)
_sigmoid = sp.Function("sigmoid")


@lru_cache(maxsize=None)
def partial(fn: str, k: int, constants: tuple = ()) -> sp.Expr:
    """d fn / d (argument k), in the function's parameters; ``constants`` holds
    (argument, value) pairs known before differentiating (``x**2``, not ``x**y``).

    >>> partial("tanh", 0), partial("pow", 0, ((1, 2.0),))
    (1 - tanh(x)**2, 2*x)
    """
    f = FUNCTIONS[fn]
    definition = f.definition.xreplace({f.params[j]: _number(v) for j, v in constants})
    derivative = sp.diff(definition, f.params[k])
    derivative = derivative.replace(sp.Heaviside, lambda a, *_: _step(a))
    derivative = derivative.replace(sp.sign, lambda a: _step(a) - _step(-a))
    return _with_sigmoid(derivative)


def _number(value: float) -> sp.Expr:
    return sp.Integer(int(value)) if float(value).is_integer() else sp.Float(value)


@lru_cache(maxsize=None)
def partial_in_output(fn: str) -> sp.Expr | None:
    """The derivative of a one-argument function in its output ``OUTPUT``, if as short.

    >>> partial_in_output("tanh"), partial_in_output("sigmoid")
    (1 - OUTPUT**2, OUTPUT*(1 - OUTPUT))
    """
    f = FUNCTIONS[fn]
    if f.arity != 1 or f.infix:
        return None
    x, d = f.params[0], partial(fn, 0)
    value = _with_sigmoid(f.definition)
    candidates = [d.subs(value, OUTPUT), d.xreplace({x: OUTPUT})]
    for candidate in candidates:
        if x not in candidate.free_symbols and sp.count_ops(candidate) <= sp.count_ops(d) \
                and _agree(candidate.xreplace({OUTPUT: value}), d, x):
            return candidate
    return None


def _step(a: sp.Expr) -> sp.Expr:
    return sp.Piecewise((1, a > 0), (0, True))


def _with_sigmoid(e: sp.Expr) -> sp.Expr:
    """Write ``1/(1 + exp(-u))`` as ``sigmoid(u)``: stable, and how people write it."""
    def visit(node):
        if node.is_Pow and node.exp.is_Integer and node.exp < 0 and node.base.is_Add \
                and len(node.base.args) == 2:
            one, other = sorted(node.base.args, key=lambda a: a != 1)
            if one == 1 and isinstance(other, sp.exp):
                return _sigmoid(-other.args[0]) ** -node.exp
        return node
    out = sp.bottom_up(e, visit)
    for s in out.atoms(_sigmoid):       # exp(-u) * sigmoid(u)**2 = sigmoid(u) * (1 - sigmoid(u))
        u = s.args[0]
        out = sp.simplify(out.subs(sp.exp(-u), (1 - s) / s)) if out.has(sp.exp(-u)) else out
    return out.replace(lambda n: isinstance(n, _sigmoid) and n.args[0].could_extract_minus_sign(),
                       lambda n: 1 - _sigmoid(-n.args[0]))    # sigmoid(-u) = 1 - sigmoid(u)


def _agree(a: sp.Expr, b: sp.Expr, x: sp.Symbol) -> bool:
    """Equal at sample points on both sides of 0 (the functions here are real and smooth
    away from their kinks); a cheap and exact-enough check for a rewrite we then keep."""
    points = np.array([-2.7, -1.3, -0.4, 0.3, 0.9, 1.7, 3.1])
    modules = [{"sigmoid": lambda v: 1 / (1 + np.exp(-v))}, "scipy", "numpy"]
    fa, fb = (sp.lambdify(x, e, modules=modules) for e in (a, b))
    with np.errstate(all="ignore"):
        va, vb = (np.broadcast_to(np.asarray(f(points), dtype=float), points.shape)
                  for f in (fa, fb))
    usable = np.isfinite(va) & np.isfinite(vb)
    return usable.sum() >= 3 and np.allclose(va[usable], vb[usable], rtol=1e-9, atol=1e-12)


# --- sympy -> IR ------------------------------------------------------------------
_NAMED = {sp.exp: "exp", sp.log: "log", sp.tanh: "tanh", sp.erf: "erf", sp.sin: "sin",
          sp.cos: "cos", sp.Abs: "abs", _sigmoid: "sigmoid"}
_RELATIONS = {sp.StrictGreaterThan: "gt", sp.StrictLessThan: "lt", sp.GreaterThan: "ge",
              sp.LessThan: "le", sp.Equality: "eq", sp.Unequality: "ne"}


def to_ir(e: sp.Expr, env: dict[sp.Symbol, ir.Expr]) -> ir.Expr:
    """A sympy expression over ``env``'s symbols as an IR expression.

    >>> from ..ir.printer import print_expr
    >>> print_expr(to_ir(1 - OUTPUT**2, {OUTPUT: ir.Access("Y")}))
    '1 - Y**2'
    """
    if e in env:
        return env[e]
    if e.is_number:
        if not e.is_extended_real:      # sympy's zoo: a constant divisor that is 0
            raise SpecError(f"a derivative here divides by zero ({e}); is a divisor 0?")
        return ir.Const(float(e))
    if e.is_Add:
        return _sum(e, env)
    if e.is_Mul:
        return _product(e, env)
    if e.is_Pow:
        return _power(e, env)
    if type(e) in _NAMED or e.func in _NAMED:
        return ir.Call(_NAMED[e.func], (to_ir(e.args[0], env),))
    if isinstance(e, (sp.Max, sp.Min)):
        return _extremum(e, env)
    if isinstance(e, sp.Piecewise):
        return _piecewise(e, env)
    if type(e) in _RELATIONS:
        return ir.Call(_RELATIONS[type(e)], (to_ir(e.lhs, env), to_ir(e.rhs, env)))
    raise NotImplementedError(f"no IR form for {e}")  # pragma: no cover (a new function)


def _sum(e: sp.Add, env) -> ir.Expr:
    terms = sorted(e.args, key=lambda t: (_negative(t), t.is_Number))
    out = to_ir(terms[0], env)
    for t in terms[1:]:
        out = ir.Call("sub", (out, to_ir(-t, env))) if _negative(t) else \
            ir.Call("add", (out, to_ir(t, env)))
    return out


def _negative(t: sp.Expr) -> bool:
    return t.could_extract_minus_sign()


def _product(e: sp.Mul, env) -> ir.Expr:
    if _negative(e):
        return ir.Call("neg", (to_ir(-e, env),))
    num, den = [], []
    for f in e.args:
        (den if f.is_Pow and f.exp.is_negative else num).append(f)
    top = _chain("mul", [to_ir(f, env) for f in num]) if num else ir.Const(1.0)
    if not den:
        return top
    return ir.Call("div", (top, _chain("mul", [to_ir(1 / f, env) for f in den])))


def _chain(fn: str, items: list[ir.Expr]) -> ir.Expr:
    out = items[0]
    for item in items[1:]:
        out = ir.Call(fn, (out, item))
    return out


def _power(e: sp.Pow, env) -> ir.Expr:
    base = to_ir(e.base, env)
    if e.exp == sp.Rational(1, 2):
        return ir.Call("sqrt", (base,))
    if e.exp.is_negative:
        return ir.Call("div", (ir.Const(1.0), to_ir(1 / e, env)))
    return ir.Call("pow", (base, to_ir(e.exp, env)))


def _extremum(e, env) -> ir.Expr:
    fn = "max2" if isinstance(e, sp.Max) else "min2"
    args = [to_ir(a, env) for a in e.args]
    if fn == "max2" and len(args) == 2 and ir.Const(0.0) in args:
        return ir.Call("relu", (next(a for a in args if a != ir.Const(0.0)),))
    return _chain(fn, args)


def _piecewise(e: sp.Piecewise, env) -> ir.Expr:
    (then, cond), *rest = e.args
    other = sp.Piecewise(*rest) if len(rest) > 1 else rest[0][0]
    test = to_ir(cond, env)
    if then == 1 and other == 0:
        return test
    if then == 0 and other == 1:
        return to_ir(cond.negated, env)
    return ir.Call("select", (test, to_ir(then, env), to_ir(other, env)))
