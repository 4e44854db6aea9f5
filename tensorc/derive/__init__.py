"""Symbolic derivatives: gradients, vector-Jacobian products, Jacobians and Hessians,
each a new program in the spec language (``.spec`` prints it)."""
from __future__ import annotations

import dataclasses
from functools import lru_cache

from ..errors import SpecError
from ..ir import nodes as ir
from ..language.check import check
from ..language.parse import parse
from ..language.ranges import analyse
from ..plan.graph import prune
from .inline import factor_deltas, inline
from .reverse import Request, reverse
from .separate import separate
from .simplify import scoped


def grad(source: str, of: str, wrt, backend: str = "numpy", *, intermediates: bool = True):
    """The gradient of ``of`` (or, for a tensor ``of``, the vector-Jacobian product with
    the cotangent input ``d<of>``) with respect to each of ``wrt``: outputs ``d<name>``
    and the forward outputs. The adjoints of intermediate tensors are outputs too unless
    ``intermediates=False`` (then the plan need not build them: a training step).

    >>> import numpy as np, tensorc as tc
    >>> g = tc.grad("L = sum(w[i] * x[i])", of="L", wrt="w")
    >>> print(g.spec.splitlines()[-1])
    dw[i] = x[i]
    >>> g(w=np.ones(2), x=np.array([3.0, 4.0]))["dw"].tolist()
    [3.0, 4.0]
    """
    return _grad(_text(source), of, _names(wrt), backend, intermediates)


@lru_cache(maxsize=128)
def _grad(source: str, of: str, wrt: tuple[str, ...], backend: str, intermediates: bool):
    program = _program(source)
    names = _adjoint_names(program, "d", of, wrt)
    derived = reverse(program, Request(of, wrt, names))
    if not intermediates:
        kept = (*program.outputs, *(names[w] for w in wrt))
        derived = ir.Program(derived.decls, derived.stmts,
                             tuple(o for o in derived.outputs if o in kept))
    return _build(_readable(derived), backend, program.inputs)


def jacobian(source: str, of: str, wrt: str, backend: str = "numpy", factored: bool = False):
    """The Jacobian of ``of`` with respect to ``wrt``: output ``J`` alone, of shape
    ``of.shape + wrt.shape``, derived with deltas that are eliminated where they can be.

    ``factored=True`` leaves out the deltas of the result and the indices it is constant
    along: ``prog.expansion`` then says how the dense ``J`` is built from the output.

    >>> import tensorc as tc
    >>> print(tc.jacobian("Y[i] = tanh(W[i, j] * x[j])", of="Y", wrt="x").spec.splitlines()[-1])
    J[i, j] = W[i, j] * (1 - Y[i]**2)
    """
    return _jacobian(_text(source), of, wrt, backend, factored)


@lru_cache(maxsize=128)
def _jacobian(source: str, of: str, wrt: str, backend: str, factored: bool):
    program = _program(source)
    return _finish(_jacobian_program(program, of, wrt, "J"), backend, program.inputs, factored)


def _finish(program: ir.Program, backend: str, accepts, factored: bool):
    if not factored:
        program = _readable(program)
        built = _build(program, backend, accepts)
        built.shown = _reindexed(program)
        return built
    program, expansion = factor_deltas(program, program.outputs[0])
    program = _readable(program)
    built = _build(program, backend, accepts)
    built.expansion = expansion
    return built


def _reindexed(program: ir.Program) -> ir.Program:
    """The program as it prints: scatters that only re-index written as gathers,
    ``J[..., p] += delta * W[p - i]``, the way a person writes a convolution's input
    Jacobian. It runs as the scatter, which writes only the nonzeros (or as this gather
    when that costs less: ``prog.plan`` says which)."""
    from ..plan.lower import gather_scatters        # plan imports derive.simplify
    gathered = gather_scatters(program, analyse(program), reindexing_only=True)
    if gathered is None or _sized_by(gathered) & {s.target for s in gathered.stmts}:
        return program      # (a range bounded by a computed tensor's size has no name)
    return _with_size_names(gathered)


def _sized_by(program: ir.Program) -> set[str]:
    """The tensors whose sizes (``X.shape[2]``) bound a range of the program."""
    return {name.split(".")[0] for name in ir.range_sizes(program.stmts) if "." in name}


def _readable(program: ir.Program) -> ir.Program:
    """The derived program as text says it: sums at their smallest scope (simplify.scoped)
    and the declarations its ranges and ``like`` models need (_with_size_names)."""
    stmts = tuple(dataclasses.replace(s, expr=scoped(s.expr)) for s in program.stmts)
    return _with_size_names(ir.Program(program.decls, stmts, program.outputs))


def _with_size_names(program: ir.Program) -> ir.Program:
    """Declarations that let the program print as text that reads back: a range bounded by
    an input's size (``X.shape[2]``) needs a size name (``input X[X0, X1, X2, X3]``, or the
    one its declaration gives), and a ``like`` model no statement reads needs declaring."""
    read = {a.tensor for s in program.stmts for a in ir.accesses(s.expr)}
    rank = program.ranks()
    decls = {d.tensor: d for d in program.decls}
    written = {s.target for s in program.stmts}
    unread = [m for d in program.decls for m in d.like
              if m not in read and m not in decls and m not in written]
    tensors = dict.fromkeys([*sorted(_sized_by(program) - written), *unread])
    taken = {n for s in program.stmts for n in ir.index_names(s.expr)} | \
        {n for s in program.stmts for a in s.index for n in a.names()} | \
        written | set(program.inputs)
    names: dict[str, ir.Affine] = {}
    new = []
    for t in tensors:
        if t in decls:
            names.update({f"{t}.shape[{d}]": dim for d, dim in enumerate(decls[t].dims)})
            continue
        dims = []
        for d in range(rank[t]):
            name = f"{t}{d}" if f"{t}{d}" not in taken else ir.fresh_name(f"{t}{d}_", taken)
            taken.add(name)
            names[f"{t}.shape[{d}]"] = ir.Affine.symbol(name)
            dims.append(ir.Affine.symbol(name))
        new.append(ir.Decl("input", t, tuple(dims)))
    if not new and not names:
        return program

    def renamed(a: ir.Affine) -> ir.Affine:
        out = ir.Affine(a.terms, (), a.const)
        for n, c in a.symbols:
            out = out.plus(names[n].scale(c) if n in names else ir.Affine((), ((n, c),)))
        return out

    stmts = tuple(dataclasses.replace(s, where=tuple(
        dataclasses.replace(r, lo=renamed(r.lo), hi=renamed(r.hi)) for r in s.where))
        for s in program.stmts)
    return ir.Program(tuple(new) + program.decls, stmts, program.outputs)


def _jacobian_program(program: ir.Program, of: str, wrt: str, name: str) -> ir.Program:
    if not isinstance(wrt, str):
        raise TypeError("jacobian takes one tensor name as wrt")
    names = _adjoint_names(program, "J", of, (wrt,))
    tensors = set(names) | set(names.values())
    if name in tensors - {names[wrt]}:
        raise SpecError(f"the program already uses the name {name}; rename that tensor")
    names[wrt] = name
    derived = reverse(program, Request(of, (wrt,), names, jacobian=True))
    return separate(inline(prune(ir.Program(derived.decls, derived.stmts, (name,)))))


def hessian(source: str, of: str, wrt: str, backend: str = "numpy", factored: bool = False):
    """The Hessian of a scalar ``of`` in ``wrt``: output ``H`` of shape
    ``wrt.shape + wrt.shape``, the Jacobian of the derived gradient (``factored``: as for
    :func:`jacobian`).

    >>> import numpy as np, tensorc as tc
    >>> h = tc.hessian("L = sum(x[i] * x[i] * x[i])", of="L", wrt="x")
    >>> h(x=np.array([1.0, 2.0]))["H"].tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return _hessian(_text(source), of, wrt, backend, factored)


@lru_cache(maxsize=128)
def _hessian(source: str, of: str, wrt: str, backend: str, factored: bool = False):
    program = _program(source)
    if not isinstance(wrt, str):
        raise TypeError("hessian takes one tensor name as wrt")
    if any(s.target == of and s.index for s in program.stmts):
        raise SpecError(f"the Hessian needs a scalar of; {of} has indices (use tc.jacobian "
                        "of its gradient)")
    names = _adjoint_names(program, "d", of, (wrt,))
    gradient = reverse(program, Request(of, (wrt,), names))
    hessian_program = _jacobian_program(gradient, names[wrt], wrt, "H")
    return _finish(hessian_program, backend, program.inputs, factored)


def _text(source) -> str:
    if isinstance(source, str):
        return source
    spec = getattr(source, "spec", None)
    if isinstance(spec, str):
        return spec
    raise TypeError(f"expected spec text or a tensorc.Program, not {type(source).__name__}")


def _names(wrt) -> tuple[str, ...]:
    try:
        names = (wrt,) if isinstance(wrt, str) else tuple(dict.fromkeys(wrt))
    except TypeError:
        names = ()
    if not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"wrt takes a tensor name or a list of tensor names, not {wrt!r}")
    return names


def _program(source: str) -> ir.Program:
    return check(parse(source), source)


def _adjoint_names(program: ir.Program, prefix: str, of: str, wrt) -> dict[str, str]:
    """``d`` + name for every tensor; a name the program already uses is an error."""
    tensors = {s.target for s in program.stmts} | set(program.inputs)
    names = {}
    for tensor in sorted(tensors):
        name = prefix + tensor
        if name in tensors and (tensor in wrt or tensor == of):
            raise SpecError(f"the adjoint of {tensor} would be named {name}, which the "
                            "program already uses; rename that tensor")
        while name in tensors:
            name = prefix + name
        names[tensor] = name
    return names


def _build(program: ir.Program, backend: str, accepts=()):
    from ..compiler import build
    return build(program, backend, "", accepts)   # derived: no user text to point into
