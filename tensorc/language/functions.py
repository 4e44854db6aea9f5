"""Every elementwise function of the language, defined once as a sympy expression.

The definition is the single source of truth: derivatives are ``sympy.diff`` of it and
the code printers print it. ``numeric`` is an algebraically equal form that is stable in
floating point (tested equal to the definition); it is what runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import log1p

x, y, z = sp.symbols("x y z", real=True)


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[sp.Symbol, ...]
    definition: sp.Expr
    numeric: sp.Expr | None = None
    infix: str | None = None          # how the printer writes arithmetic
    precedence: int = 100

    @property
    def arity(self) -> int:
        return len(self.params)

    @property
    def evaluated(self) -> sp.Expr:
        return self.definition if self.numeric is None else self.numeric


def _indicator(condition) -> sp.Expr:
    return sp.Piecewise((1, condition), (0, True))


def _sigmoid(e):
    return 1 / (1 + sp.exp(-e))


def _stable_sigmoid(e):
    """exp(min(e, 0) - log(1 + exp(-|e|))): never overflows, keeps tail accuracy."""
    return sp.exp(sp.Min(e, 0) - log1p(sp.exp(-sp.Abs(e))))


_TABLE = [
    # arithmetic: infix operators of the language
    Function("add", (x, y), x + y, infix="+", precedence=10),
    Function("sub", (x, y), x - y, infix="-", precedence=10),
    Function("mul", (x, y), x * y, infix="*", precedence=20),
    Function("div", (x, y), x / y, infix="/", precedence=20),
    Function("neg", (x,), -x, infix="-", precedence=30),
    Function("pow", (x, y), x**y, infix="**", precedence=40),
    Function("eq", (x, y), _indicator(sp.Eq(x, y)), infix="==", precedence=5),
    Function("ne", (x, y), _indicator(sp.Ne(x, y)), infix="!=", precedence=5),
    Function("lt", (x, y), _indicator(x < y), infix="<", precedence=5),
    Function("le", (x, y), _indicator(x <= y), infix="<=", precedence=5),
    Function("gt", (x, y), _indicator(x > y), infix=">", precedence=5),
    Function("ge", (x, y), _indicator(x >= y), infix=">=", precedence=5),
    # named functions
    Function("exp", (x,), sp.exp(x)),
    Function("log", (x,), sp.log(x)),
    Function("sqrt", (x,), sp.sqrt(x)),
    Function("abs", (x,), sp.Abs(x)),
    Function("tanh", (x,), sp.tanh(x)),
    Function("sigmoid", (x,), _sigmoid(x), numeric=_stable_sigmoid(x)),
    Function("relu", (x,), sp.Max(x, 0)),
    Function("erf", (x,), sp.erf(x)),
    Function("sin", (x,), sp.sin(x)),
    Function("cos", (x,), sp.cos(x)),
    Function("softplus", (x,), sp.log(1 + sp.exp(x)),
             numeric=sp.Max(x, 0) + log1p(sp.exp(-sp.Abs(x)))),
    Function("silu", (x,), x * _sigmoid(x), numeric=x * _stable_sigmoid(x)),
    Function("gelu", (x,), x * (1 + sp.erf(x / sp.sqrt(2))) / 2),
    Function("leaky_relu", (x, y), sp.Max(x, y * x)),
    Function("select", (x, y, z), sp.Piecewise((y, sp.Ne(x, 0)), (z, True))),
    Function("min2", (x, y), sp.Min(x, y)),
    Function("max2", (x, y), sp.Max(x, y)),
]

FUNCTIONS: dict[str, Function] = {f.name: f for f in _TABLE}
OPERATORS: dict[str, str] = {f.infix: f.name for f in _TABLE if f.infix and f.arity == 2}
NAMED = tuple(f.name for f in _TABLE if not f.infix)
