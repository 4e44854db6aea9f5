"""Algebra on IR expressions that keeps derived statements the size a person writes:
products and sums with 0 and 1 folded, index substitution and renaming."""
from __future__ import annotations

from ..ir import nodes as ir

ZERO, ONE = ir.Const(0.0), ir.Const(1.0)


def mul(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    """``a * b`` with 0 and 1 folded (and -1 as a negation).

    >>> mul(ONE, ir.Access("x"))
    Access(tensor='x', index=())
    """
    if ZERO in (a, b):
        return ZERO
    if a == ONE:
        return b
    if b == ONE:
        return a
    if isinstance(a, ir.Const) and isinstance(b, ir.Const):
        return ir.Const(a.value * b.value)
    if a == ir.Const(-1.0):
        return neg(b)
    if b == ir.Const(-1.0):
        return neg(a)
    if _is_neg(b):
        return neg(mul(a, b.args[0]))
    if _is_neg(a):
        return neg(mul(a.args[0], b))
    return ir.Call("mul", (a, b))


def div(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    if a == ZERO:
        return ZERO
    if b == ONE:
        return a
    return ir.Call("div", (a, b))


def neg(a: ir.Expr) -> ir.Expr:
    if isinstance(a, ir.Const):
        return ir.Const(-a.value)
    if _is_neg(a):
        return a.args[0]
    return ir.Call("neg", (a,))


def add(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    if a == ZERO:
        return b
    if b == ZERO:
        return a
    if _is_neg(b):
        return ir.Call("sub", (a, b.args[0]))
    return ir.Call("add", (a, b))


def _is_neg(e: ir.Expr) -> bool:
    return isinstance(e, ir.Call) and e.fn == "neg"


def fold(e: ir.Expr) -> ir.Expr:
    """Fold 0 and 1 through a whole expression, bottom up."""
    if isinstance(e, ir.Call):
        args = tuple(fold(a) for a in e.args)
        if e.fn == "mul":
            return mul(*args)
        if e.fn == "div":
            return div(*args)
        if e.fn == "neg":
            return neg(*args)
        if e.fn == "add":
            return add(*args)
        if e.fn == "sub":
            return add(args[0], neg(args[1])) if args[0] != ZERO else neg(args[1])
        return ir.Call(e.fn, args)
    if isinstance(e, ir.Reduce):
        body = fold(e.body)
        return ZERO if body == ZERO and e.op in ("sum", "mean") else ir.Reduce(e.op, e.over, body)
    return e


substitute, affine = ir.substitute, ir.substitute_affine   # (IR transforms; here for derive)


def is_factor(e: ir.Expr, access: ir.Access) -> bool:
    """Is ``access`` a factor of the product at the top of ``e`` (under sums and signs)?
    Then ``e`` is 0 wherever ``access`` reads 0."""
    if e == access:
        return True
    if isinstance(e, ir.Reduce) and e.op == "sum":
        return is_factor(e.body, access)
    if isinstance(e, ir.Call) and e.fn in ("mul", "neg"):
        return any(is_factor(a, access) for a in e.args)
    return False


def drop_factor(e: ir.Expr, factor: ir.Expr) -> ir.Expr:
    """The product ``e`` without one occurrence of ``factor`` (``e`` itself if it has none)."""
    if e == factor:
        return ONE
    if isinstance(e, ir.Call) and e.fn == "mul":
        left = drop_factor(e.args[0], factor)
        if left != e.args[0]:
            return mul(left, e.args[1])
        return mul(e.args[0], drop_factor(e.args[1], factor))
    return e


def rename_bound(e: ir.Expr, taken: set[str], fresh) -> ir.Expr:
    """Give every reduction whose variable is also used outside it a fresh name."""
    if isinstance(e, ir.Reduce):
        clash = {n: ir.Affine.of(fresh(n)) for n in e.over if n in taken}
        body = substitute(e.body, clash) if clash else e.body
        over = tuple(clash[n].plain() if n in clash else n for n in e.over)
        return ir.Reduce(e.op, over, rename_bound(body, taken | set(over), fresh))
    return e.map(lambda child: rename_bound(child, taken, fresh))


def scoped(e: ir.Expr) -> ir.Expr:
    """Every ``sum`` at its smallest scope, as the spec language reads one back: pushed
    into the one factor that uses an index, split over the terms of a sum, and a term
    that does not use an index counted instead of summed:
    ``sum_c(f * (b + x[c]))`` -> ``f * (b * count(c) + sum_c x[c])``. (Text cannot say
    the left side: ``c`` would be summed over ``x[c]`` alone.)"""
    if isinstance(e, ir.Reduce) and e.op == "sum":
        return _scoped_sum(e.over, scoped(e.body))
    return e.map(scoped)


def _scoped_sum(over: tuple[str, ...], e: ir.Expr) -> ir.Expr:
    used = set(ir.free_names(e))
    unused = tuple(n for n in over if n not in used)
    over = tuple(n for n in over if n in used)
    if unused:
        e = mul(e, ir.Count(unused))
    if not over:
        return e
    if isinstance(e, ir.Call) and e.fn == "neg":
        return neg(_scoped_sum(over, e.args[0]))
    if isinstance(e, ir.Call) and e.fn in ("add", "sub"):
        return ir.Call(e.fn, tuple(_scoped_sum(over, a) for a in e.args))
    if isinstance(e, ir.Call) and e.fn == "mul":
        factors = ir.factors(e)
        users = {n: [k for k, f in enumerate(factors) if n in ir.free_names(f)] for n in over}
        inner = {k: tuple(n for n in over if users[n] == [k]) for k in range(len(factors))}
        if any(inner.values()):
            kept = tuple(n for n in over if len(users[n]) > 1)
            product = ONE
            for k, f in enumerate(factors):
                product = mul(product, _scoped_sum(inner[k], f) if inner[k] else f)
            return ir.Reduce("sum", kept, product) if kept else product
    return ir.Reduce("sum", over, e)


# --- like terms: arithmetic through sympy, everything else kept whole ---------------
_ARITHMETIC = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
               "div": lambda a, b: a / b, "neg": lambda a: -a, "pow": lambda a, b: a**b}


def tidy(e: ir.Expr) -> ir.Expr:
    """Collect like terms and factors (``x*x + x*x`` -> ``2*x**2``) by letting sympy
    canonicalise the arithmetic; functions, reads and reductions stay as they are.

    >>> x = ir.Access("x")
    >>> from ..ir.printer import print_expr
    >>> print_expr(tidy(ir.Call("add", (ir.Call("mul", (x, x)), ir.Call("mul", (x, x))))))
    '2 * x**2'
    """
    import sympy as sp
    from .calculus import to_ir
    atoms: dict[ir.Expr, sp.Symbol] = {}

    def lift(node: ir.Expr):
        if isinstance(node, ir.Const):
            value = node.value
            return sp.Integer(int(value)) if float(value).is_integer() else sp.Float(value)
        if isinstance(node, ir.Call) and node.fn in _ARITHMETIC:
            return _ARITHMETIC[node.fn](*(lift(a) for a in node.args))
        if isinstance(node, ir.Call):
            node = ir.Call(node.fn, tuple(tidy(a) for a in node.args))
        elif isinstance(node, ir.Reduce):
            node = ir.Reduce(node.op, node.over, tidy(node.body))
        if node not in atoms:
            atoms[node] = sp.Symbol(f"t{len(atoms):04d}", real=True)
        return atoms[node]

    value = lift(e)
    value = sp.factor_terms(value) if value.has(sp.Add) else value
    value = value.xreplace({f: sp.Integer(int(f)) for f in value.atoms(sp.Float)
                            if float(f).is_integer()})
    return to_ir(value, {s: node for node, s in atoms.items()})
