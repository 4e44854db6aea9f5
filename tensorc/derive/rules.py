"""The adjoint rules: one entry per IR construct, each sending a cotangent (``seed``) down
to the tensor reads below it. A read of an active tensor yields a *contribution*: the read
itself and the factor that multiplies into its adjoint.

"Sharing in forward is adding in backward": indices a node does not reduce stay free in
the factor and are summed when the contribution is written (see ``reverse``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..ir import nodes as ir
from ..language.functions import FUNCTIONS
from . import simplify as alg
from .calculus import OUTPUT, partial, partial_in_output, to_ir

Contribution = tuple[ir.Access, ir.Expr]


@dataclass(frozen=True)
class Context:
    active: frozenset[str]          # tensors whose adjoints are wanted
    output: ir.Access | None = None  # the statement's value, if its root is this expression


def adjoint(e: ir.Expr, seed: ir.Expr, ctx: Context) -> Iterator[Contribution]:
    """Every contribution of ``e`` to an active tensor, given the cotangent ``seed``."""
    if seed == alg.ZERO or not any(a.tensor in ctx.active for a in ir.accesses(e)):
        return iter(())
    return RULES[type(e)](e, seed, ctx)


def _access(e: ir.Access, seed, ctx) -> Iterator[Contribution]:
    yield e, seed


def _call(e: ir.Call, seed, ctx) -> Iterator[Contribution]:
    for k, arg in enumerate(e.args):
        local = derivative(e, k, ctx.output)
        yield from adjoint(arg, alg.mul(seed, local), Context(ctx.active))


def _reduce(e: ir.Reduce, seed, ctx) -> Iterator[Contribution]:
    inner = Context(ctx.active)
    if e.op in ("sum", "mean"):
        return _counted(e, adjoint(e.body, seed, inner))
    # max and min: the whole cotangent goes to one winner per window, the first in index
    # order (as PyTorch's max-pooling does). Of relu(x) the winner is picked on x: relu ties
    # only values where relu' = 0, so the gradient is the same, one pass cheaper
    picked = e.body.args[0] if isinstance(e.body, ir.Call) and e.body.fn == "relu" else e.body
    return adjoint(e.body, alg.mul(seed, ir.ArgMax(e.op, e.over, picked)), inner)


def _counted(e: ir.Reduce, contributions) -> Iterator[Contribution]:
    """Of a sum, a contribution that neither its read nor its factor indexes by a summed
    index is added once per value of it: times ``count(c)`` (a second derivative of
    ``sum_c (X[c] * K[o, c] + B[o])**2`` in ``B`` is ``2 * count(c)``). Of a mean, those
    counts cancel against the mean's: divided by the count of the indices it uses."""
    for leaf, factor in contributions:
        factor = alg.tidy(factor)       # an index that cancels (X[k] - X[k]) is unused
        used = set(leaf.names()) | set(ir.free_names(factor))
        unused = tuple(n for n in e.over if n not in used)
        if e.op == "mean":
            kept = tuple(n for n in e.over if n in used)
            yield leaf, alg.div(factor, ir.Count(kept)) if kept else factor
        else:
            yield leaf, alg.mul(factor, ir.Count(unused)) if unused else factor


def _constant(e, seed, ctx) -> Iterator[Contribution]:
    return iter(())     # constants, deltas, counts and arg-max masks carry no gradient


RULES: dict[type, Callable[..., Iterator[Contribution]]] = {
    ir.Access: _access,
    ir.Call: _call,
    ir.Reduce: _reduce,
    ir.Const: _constant,
    ir.Delta: _constant,
    ir.Count: _constant,
    ir.ArgMax: _constant,
}


def derivative(e: ir.Call, k: int, output: ir.Access | None = None) -> ir.Expr:
    """d e / d (argument k) as IR, through ``sympy.diff`` of the function's definition.

    >>> x = ir.Access("x")
    >>> derivative(ir.Call("pow", (x, ir.Const(2.0))), 0)
    Call(fn='mul', args=(Const(value=2.0), Access(tensor='x', index=())))
    """
    fn = FUNCTIONS[e.fn]
    constants = tuple((j, a.value) for j, a in enumerate(e.args) if isinstance(a, ir.Const))
    if isinstance(e.args[k], ir.Const):
        return alg.ZERO
    in_output = partial_in_output(e.fn) if output is not None else None
    if in_output is not None:
        return alg.fold(to_ir(in_output, {OUTPUT: output}))
    env = {p: a for p, a in zip(fn.params, e.args) if not isinstance(a, ir.Const)}
    return alg.fold(to_ir(partial(e.fn, k, constants), env))
