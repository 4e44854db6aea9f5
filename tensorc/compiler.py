"""The pipeline, top to bottom: parse -> check -> IR -> ranges -> plan -> emit -> load."""
from __future__ import annotations

from functools import lru_cache

from .errors import SpecError
from .ir import nodes as ir
from .language.check import check
from .language.parse import parse
from .language.ranges import analyse
from .plan.graph import prune
from .plan.lower import gather_scatters, masks_into_scatters
from .runtime.program import Program

BACKENDS = ("numpy", "cupy", "dask")


def compile(source: str, backend: str = "numpy") -> Program:  # noqa: A001
    """Compile spec text into a callable Program.

    >>> import numpy as np, tensorc as tc
    >>> prog = tc.compile("H[i, j] = X[i + a, j + b] * V[a, b]")
    >>> x, v = np.arange(9.0).reshape(3, 3), np.array([[0.0, 1], [2, 3]])
    >>> prog(X=x, V=v)["H"].tolist()
    [[19.0, 25.0], [37.0, 43.0]]
    """
    if not isinstance(source, str):
        raise TypeError(f"tc.compile takes spec text (str), not {type(source).__name__}")
    return _compile(source, backend)


@lru_cache(maxsize=256)
def _compile(source: str, backend: str) -> Program:
    program = check(parse(source), source)
    return build(program, backend, source)


def build(program: ir.Program, backend: str = "numpy", source: str = "",
          accepts: tuple[str, ...] = ()) -> Program:
    """IR -> Program: the back half of the pipeline, shared with derived programs.

    ``accepts`` names inputs the caller may pass that the program does not need (a
    derived program takes every input of the program it was derived from).
    """
    if backend not in BACKENDS:
        raise SpecError(f"unknown backend {backend!r}; valid options are {', '.join(BACKENDS)}")
    shown = prune(program)
    program = masks_into_scatters(shown)     # runs as one statement; prints as written
    analysis = analyse(program, source)
    alternatives = _gather_forms(program, analysis, source)
    module, steps, branches = _emitter(backend)(program, analysis, alternatives)
    choices = {k: (*alternatives[k], branches[k]) for k in alternatives}
    built = Program(program, analysis, module, backend, source, steps, accepts, choices)
    built.shown = shown
    return built


def _gather_forms(program: ir.Program, analysis, source: str) -> dict:
    """Statement index -> (gather form, its ranges) for scatters that can run as gathers."""
    lowered = gather_scatters(program, analysis)
    if lowered is None:
        return {}
    info = analyse(lowered, source).stmts
    return {k: (s, info[k]) for k, (s, old) in enumerate(zip(lowered.stmts, program.stmts))
            if s is not old}


def _emitter(backend: str):
    if backend == "cupy":
        from .backends.cupy import emit_module as emit_cupy
        return emit_cupy
    if backend == "dask":
        from .backends.dask import emit_module as emit_dask
        return emit_dask
    from .backends.numpy import emit_module  # the top-level backends/ installs here
    return emit_module
