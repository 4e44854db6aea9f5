"""``prog.plan``: how each statement runs, with FLOPs and bytes moved for a shape set."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import sympy as sp

from ..backends.base import Step
from ..ir.printer import print_stmt
from .lower import choice_costs
from ..runtime.contract import contraction_cost


@dataclass
class PlanRow:
    line: int
    statement: str
    step: str
    detail: str
    flops: int | None
    bytes: int | None


class Plan:
    """A table: one row per execution step, grouped by statement.

    ``str(plan)`` prints it; ``plan.rows`` holds the rows; ``plan.flops`` and
    ``plan.bytes`` are the totals and ``plan.peak`` the peak memory estimate (all None
    without shapes).
    """

    def __init__(self, rows: list[PlanRow], shapes: dict | None, itemsize: int):
        self.rows, self.shapes, self.itemsize = rows, shapes, itemsize

    @property
    def flops(self) -> int | None:
        return None if self.shapes is None else sum(r.flops or 0 for r in self.rows)

    @property
    def bytes(self) -> int | None:
        return None if self.shapes is None else sum(r.bytes or 0 for r in self.rows)

    @property
    def peak(self) -> int | None:
        """Peak memory, estimated: the inputs, every tensor written so far (all assigned
        tensors are outputs, so they stay alive) and all of one statement's temporaries
        at once, at the statement where that is largest. Copies inside a BLAS
        contraction (im2col blocks of at most ~1 MB) are not counted."""
        if self.shapes is None:
            return None
        inputs = sum(self.itemsize * math.prod(s) for s in self.shapes.values())
        written: dict[str, int] = {}
        peak = inputs
        for _, rows in itertools.groupby(self.rows, key=lambda r: (r.line, r.statement)):
            temporaries = 0
            for r in rows:
                if r.step == "write":
                    name = r.detail.removeprefix("+= ")
                    written[name] = max(written.get(name, 0), r.bytes or 0)
                else:
                    temporaries += r.bytes or 0
            peak = max(peak, inputs + sum(written.values()) + temporaries)
        return peak

    def __str__(self) -> str:
        head = ("plan for " + ", ".join(f"{k}{list(v)}" for k, v in self.shapes.items())
                if self.shapes else "plan (no shapes yet: call the program or plan_for(...))")
        table = [("stmt", "step", "detail", "FLOPs", "bytes")]
        last = None
        for r in self.rows:
            label = f"{r.line}: {r.statement}" if r.statement != last else ""
            last = r.statement
            table.append((label, r.step, r.detail, _num(r.flops), _num(r.bytes)))
        widths = [min(60, max(len(row[k]) for row in table)) for k in range(5)]
        lines = [head]
        for row in table:
            cells = [c if len(c) <= w else c[:w - 1] + "…" for c, w in zip(row, widths)]
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        if self.shapes:
            lines.append(f"total: {_num(self.flops)} FLOPs, {_num(self.bytes)} bytes moved, "
                         f"peak memory about {_num(self.peak)} bytes")
        return "\n".join(lines)

    __repr__ = __str__


def plan_report(program, shapes: dict | None, itemsize: int = 4) -> Plan:
    values = program.bind(shapes) if shapes else None
    rows = []
    for k, (stmt, info, steps) in enumerate(zip(program.ir.stmts, program.analysis.stmts,
                                                program.steps)):
        if k in program.choices and values is not None:
            stmt, info, steps = _chosen(stmt, info, steps, program.choices[k], values,
                                          program.runtime.gather_wins)
        text = print_stmt(stmt)
        extent = _extents(info, values)
        for step in steps:
            flops, moved = _cost(step, extent, program, values, itemsize)
            rows.append(PlanRow(stmt.line, text, step.kind, _detail(step), flops, moved))
        written = _size(info.target_shape, values)
        moved = None if written is None else written * itemsize
        label = f"{'+= ' if stmt.accumulate else ''}{stmt.target}"
        rows.append(PlanRow(stmt.line, text, "write", label, None, moved))
    return Plan(rows, shapes, itemsize)


def _chosen(stmt, info, steps, choice, values, gather_wins):
    """The form of a scatter that runs at these shapes, as the generated code decides."""
    gather, gather_info, gather_steps = choice
    costs = (int(sp.sympify(c).subs(values))
             for c in choice_costs(stmt, info, gather, gather_info))
    if gather_wins(*costs):
        note = Step("choice", "the scatter runs as a gather (full correlation, flipped kernel)")
        return gather, gather_info, [note, *gather_steps]
    note = Step("choice", "the scatter runs as strided adds (its gather form costs more)")
    return stmt, info, [note, *steps]


def _detail(step) -> str:
    if step.kind == "contract":
        return f"{step.detail} (opt_einsum path, BLAS pairs)"
    return step.detail


def _extents(info, values):
    if values is None:
        return None
    return {n: int(sp.sympify(hi - lo).subs(values)) for n, (lo, hi) in info.ranges.items()}


def _size(shape, values) -> int | None:
    if values is None:
        return None
    return math.prod(int(sp.sympify(s).subs(values)) for s in shape)


def _cost(step, extent, program, values, itemsize):
    if extent is None:
        return None, None
    if step.kind == "contract":
        shapes = [tuple(extent[n] for n in axes) for axes in step.axes]
        cost = contraction_cost(step.detail, shapes)
        return int(cost["flops"]), itemsize * math.prod(extent[n] for n in step.output)
    volume = math.prod(extent[n] for n in step.axes)
    if step.kind in ("view", "choice"):
        return 0, 0
    if step.kind == "windows":
        return 0, itemsize * volume
    if step.kind in ("pad", "layout"):     # copies of a whole tensor (a pad's is a bit more)
        return 0, itemsize * _size(program.analysis.shapes[step.bytes_of], values)
    return volume, itemsize * volume


def _num(value) -> str:
    if value is None:
        return "?"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return str(value)
