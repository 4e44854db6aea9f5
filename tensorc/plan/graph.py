"""The program as a networkx DAG of statements and tensors."""
from __future__ import annotations

import networkx as nx

from ..ir import nodes as ir


def dataflow(program: ir.Program) -> nx.DiGraph:
    """Nodes ("stmt", k) and ("tensor", name); edges follow the data.

    A statement reads the tensor versions written before it; ``+=`` also reads its target.
    A tensor declared ``like`` another needs that tensor's shape, so depends on it.
    """
    graph = nx.DiGraph()
    for decl in program.decls:
        for model in decl.like:
            graph.add_edge(("tensor", model), ("tensor", decl.tensor))
    for k, stmt in enumerate(program.stmts):
        node = ("stmt", k)
        graph.add_node(node, stmt=stmt)
        reads = {a.tensor for a in ir.accesses(stmt.expr)}
        if stmt.accumulate:
            reads.add(stmt.target)
        for tensor in reads:
            graph.add_edge(("tensor", tensor), node)
        graph.add_edge(node, ("tensor", stmt.target))
    return graph


def prune(program: ir.Program) -> ir.Program:
    """Dead-code elimination: keep the statements the outputs depend on."""
    graph = dataflow(program)
    live: set = set()
    for name in program.outputs:
        node = ("tensor", name)
        live |= nx.ancestors(graph, node) | {node}
    stmts = tuple(s for k, s in enumerate(program.stmts) if ("stmt", k) in live)
    if len(stmts) == len(program.stmts):
        return program
    kept = {s.target for s in stmts} | {a.tensor for s in stmts for a in ir.accesses(s.expr)}
    sizes = ir.range_sizes(stmts)
    decls = tuple(d for d in program.decls if d.tensor in kept or d.kind == "param"
                  or any(name in sizes for dim in d.dims for name, _ in dim.symbols))
    return ir.Program(decls, stmts, program.outputs)
