"""Symbolic derivatives: gradients, vector-Jacobian products, Jacobians and Hessians,
each a new program in the spec language (``.spec`` prints it)."""
from __future__ import annotations

from functools import lru_cache

from ..errors import SpecError
from ..ir import nodes as ir
from ..language.check import check
from ..language.parse import parse
from .reverse import Request, reverse


def grad(source: str, of: str, wrt, backend: str = "numpy"):
    """The gradient of ``of`` (or, for a tensor ``of``, the vector-Jacobian product with
    the cotangent input ``d<of>``) with respect to each of ``wrt``: outputs ``d<name>``
    and the forward outputs.

    >>> import numpy as np, tensorc as tc
    >>> g = tc.grad("L = sum(w[i] * x[i])", of="L", wrt="w")
    >>> print(g.spec.splitlines()[-1])
    dw[i] = x[i]
    >>> g(w=np.ones(2), x=np.array([3.0, 4.0]))["dw"].tolist()
    [3.0, 4.0]
    """
    return _grad(_text(source), of, _names(wrt), backend)


@lru_cache(maxsize=128)
def _grad(source: str, of: str, wrt: tuple[str, ...], backend: str):
    program = _program(source)
    names = _adjoint_names(program, "d", of, wrt)
    derived = reverse(program, Request(of, wrt, names))
    return _build(derived, backend)


def _text(source) -> str:
    if isinstance(source, str):
        return source
    spec = getattr(source, "spec", None)
    if isinstance(spec, str):
        return spec
    raise TypeError(f"expected spec text or a tensorc.Program, not {type(source).__name__}")


def _names(wrt) -> tuple[str, ...]:
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
    if not names or not all(isinstance(n, str) for n in names):
        raise TypeError("wrt takes a tensor name or a list of tensor names")
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


def _build(program: ir.Program, backend: str):
    from ..compiler import build
    from ..ir.printer import print_program
    return build(program, backend, print_program(program))
