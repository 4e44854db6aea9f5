"""The IR checker: invariants every pass must keep. Tests run it between passes."""
from __future__ import annotations

from ..language.functions import FUNCTIONS
from . import nodes as ir


class IRError(AssertionError):
    """A compiler bug: an IR invariant was broken."""


def verify(program: ir.Program) -> ir.Program:
    """Raise IRError if the program breaks an invariant; return it unchanged otherwise."""
    ranks: dict[str, int] = {}
    for stmt in program.stmts:
        _verify_stmt(stmt, ranks)
    missing = set(program.outputs) - {s.target for s in program.stmts}
    _require(not missing, f"outputs never assigned: {sorted(missing)}")
    return program


def _verify_stmt(stmt: ir.Stmt, ranks: dict[str, int]) -> None:
    lhs = {n for a in stmt.index for n in a.names()}
    if not stmt.accumulate:
        _require(all(a.plain() for a in stmt.index), f"{stmt.target}: '=' with affine left side")
    free = set(ir.free_names(stmt.expr))
    _require(free <= lhs, f"{stmt.target}: indices {sorted(free - lhs)} are never reduced")
    _rank(ranks, stmt.target, len(stmt.index))
    for node in ir.walk(stmt.expr):
        _verify_node(node, ranks)


def _verify_node(node: ir.Expr, ranks: dict[str, int]) -> None:
    if isinstance(node, ir.Call):
        fn = FUNCTIONS.get(node.fn)
        _require(fn is not None and fn.arity == len(node.args), f"bad call {node.fn}")
    elif isinstance(node, ir.Reduce):
        _require(node.op in ir.REDUCTIONS, f"bad reduction {node.op}")
        inner = set(ir.free_names(node.body))
        _require(set(node.over) <= inner, f"{node.op} over {node.over}: not all in its body")
    elif isinstance(node, ir.ArgMax):
        _require(node.op in ("max", "min"), f"bad arg{node.op}")
        _require(set(node.over) <= set(ir.free_names(node.body)), "argmax over unused indices")
    elif isinstance(node, ir.Access):
        _require(all(ix.mode in ir.BOUNDARY_MODES for ix in node.index), "bad boundary mode")
        _rank(ranks, node.tensor, len(node.index))


def _rank(ranks: dict[str, int], tensor: str, rank: int) -> None:
    _require(ranks.setdefault(tensor, rank) == rank, f"{tensor} used with two ranks")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise IRError(message)
