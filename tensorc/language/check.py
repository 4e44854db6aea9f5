"""Syntax tree -> IR: resolve names, check what cannot run, make every reduction explicit.

Reductions follow LANGUAGE.md: each index that is not on the left side is reduced once,
at its scope (the smallest of: the whole right side, an argument of a call, an operand
of + or -). Rule 1: a scope that is the argument of sum/max/min/mean reduces there.
Rule 2: an index occurring more than once is summed over its scope. Rule 3: otherwise
the nearest enclosing reduction call reduces it, else the top-level term holding it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SpecError
from ..ir import nodes as ir
from . import ast
from .functions import FUNCTIONS, NAMED, OPERATORS

WRAPPERS = {"wrap": "wrap", "reflect": "reflect", "clamp": "clamp"}
MASKS = {"argmax": "max", "argmin": "min"}
RESERVED_CALLS = (*ir.REDUCTIONS, "delta", "count", *MASKS, *WRAPPERS)


@dataclass
class _Context:
    source: str
    decls: dict[str, ir.Decl] = field(default_factory=dict)
    sizes: set[str] = field(default_factory=set)
    ranks: dict[str, int] = field(default_factory=dict)
    assigned: dict[str, int] = field(default_factory=dict)     # tensor -> line
    read: dict[str, ast.Node] = field(default_factory=dict)   # tensor -> first read

    def error(self, message: str, node: ast.Node) -> SpecError:
        span = node.span
        end = span.end_column if span.end_line == span.line else None
        return SpecError(message, self.source, span.line, span.column, end)


def check(module: ast.Module, source: str) -> ir.Program:
    """Check a parsed module and lower it to the IR.

    >>> from .parse import parse
    >>> text = "Y[i] = A[i, k] * x[k]"
    >>> check(parse(text), text).stmts[0].expr.op
    'sum'
    """
    ctx = _Context(source)
    decls = [node for node in module.statements if isinstance(node, ast.Decl)]
    for node in decls:
        _declare(ctx, node)
    stmts = tuple(_statement(ctx, node) for node in module.statements
                  if isinstance(node, ast.Assign))
    if not stmts:
        raise SpecError("the program assigns no tensor; write a statement like Y[i] = X[i]")
    for node in decls:
        _check_decl_use(ctx, node)
    outputs = tuple(dict.fromkeys(s.target for s in stmts))
    return ir.Program(tuple(ctx.decls.values()), stmts, outputs)


def _declare(ctx: _Context, node: ast.Decl) -> None:
    name = node.name.id
    if name in ctx.decls:
        raise ctx.error(f"'{name}' is declared twice", node.name)
    if node.like:
        ctx.decls[name] = ir.Decl(node.kind, name, (), tuple(m.id for m in node.like))
        return
    dims = []
    for dim in node.dims:
        if isinstance(dim, ast.Number):
            dims.append(ir.Affine.constant(dim.value))
        else:
            ctx.sizes.add(dim.id)
            dims.append(ir.Affine.symbol(dim.id))
    ctx.decls[name] = ir.Decl(node.kind, name, tuple(dims))
    ctx.ranks[name] = len(dims)


def _check_decl_use(ctx: _Context, node: ast.Decl) -> None:
    """``like`` names a tensor of the program with the same rank; outputs are assigned."""
    name = node.name.id
    if node.kind == "output" and name not in ctx.assigned:
        raise ctx.error(f"'{name}' is declared as an output but never assigned", node.name)
    for model in node.like:
        if model.id not in ctx.ranks:
            raise ctx.error(f"'{name}' is declared like '{model.id}', which the program never "
                            "uses", model)
    if not node.like:
        return
    rank = sum(ctx.ranks[m.id] for m in node.like)
    like = ", ".join(m.id for m in node.like)
    if name in ctx.ranks and ctx.ranks[name] != rank:
        raise ctx.error(f"'{name}' is declared like {like} ({rank} dimensions) but is used "
                        f"with {ctx.ranks[name]}", node.name)
    ctx.ranks.setdefault(name, rank)
    decl = ctx.decls[name]
    ranks = tuple(ctx.ranks[m] for m in decl.like)
    ctx.decls[name] = ir.Decl(decl.kind, name, (), decl.like, ranks)


def _statement(ctx: _Context, node: ast.Assign) -> ir.Stmt:
    target = node.target.id
    accumulate = node.op == "+="
    lhs_nodes = node.indices or ()
    index_vars = _index_vars(node) - ctx.sizes
    lhs_index = tuple(_index(ctx, e, index_vars) for e in lhs_nodes)
    lhs = tuple(ix.expr for ix in lhs_index)
    modes = tuple(ix.mode for ix in lhs_index)
    wrapped = next((e for ix, e in zip(lhs_index, lhs_nodes) if ix.mode != "zero"), None)
    if wrapped is not None and not accumulate:
        raise ctx.error("a boundary wrapper on the left side scatters; use += (not =)", wrapped)
    _check_target(ctx, node, lhs, accumulate)
    lhs_names = {n for a in lhs for n in a.names()}
    expr = _Lowering(ctx, index_vars, lhs_names, node.expr).lower()
    if target in ctx.read and target not in ctx.assigned:
        raise ctx.error(f"'{target}' is read in its own definition before it has a value; "
                        "assign it first (or name the input differently)", node.target)
    where = tuple(_constraint(ctx, c, index_vars) for c in node.where)
    _check_where(ctx, node, where, set() if accumulate else lhs_names)
    _note_rank(ctx, target, len(lhs), node.target)
    ctx.assigned.setdefault(target, node.span.line)
    return ir.Stmt(target, lhs, expr, accumulate, where, node.span.line,
                   modes if wrapped is not None else ())


def _index_vars(node: ast.Assign) -> set[str]:
    found = set()

    def visit(n, in_brackets):
        if isinstance(n, ast.Name) and in_brackets:
            found.add(n.id)
        elif isinstance(n, ast.Access):
            for e in n.indices:
                visit(e, True)
        elif isinstance(n, ast.Call):
            inner = in_brackets or n.fn.id in ("delta", "count")
            for k, a in enumerate(n.args):
                visit(a, inner or (k > 0 and n.fn.id in MASKS))
        elif isinstance(n, ast.BinOp):
            visit(n.left, in_brackets)
            visit(n.right, in_brackets)
        elif isinstance(n, ast.Neg):
            visit(n.operand, in_brackets)

    for e in node.indices or ():
        visit(e, True)
    visit(node.expr, False)
    return found


def _check_target(ctx: _Context, node: ast.Assign, lhs, accumulate: bool) -> None:
    target = node.target.id
    if target in ctx.decls and ctx.decls[target].kind == "input" or (
            target in ctx.read and target not in ctx.assigned):
        raise ctx.error(f"'{target}' is an input of the program and cannot be assigned",
                        node.target)
    if not accumulate:
        if target in ctx.assigned:
            raise ctx.error(f"'{target}' is already assigned on line {ctx.assigned[target]}; "
                            "use += to add to it", node.target)
        names = [a.plain() for a in lhs]
        for a, e in zip(names, node.indices or ()):
            if a is None:
                raise ctx.error("the left side of '=' takes plain index names; "
                                "use += to write through an index expression", e)
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ctx.error(f"index '{dup}' appears twice on the left side", node.target)


def _note_rank(ctx: _Context, tensor: str, rank: int, at: ast.Node) -> None:
    known = ctx.ranks.setdefault(tensor, rank)
    if known != rank:
        raise ctx.error(f"'{tensor}' is used with {rank} indices here but has {known} "
                        "dimensions elsewhere", at)


def _constraint(ctx: _Context, node: ast.Constraint, index_vars) -> ir.Range:
    name = node.index.id
    if name not in index_vars:
        raise ctx.error(f"where names index '{name}', which the statement does not use",
                        node.index)
    lo, hi = (_affine(ctx, e, set()) for e in (node.lo, node.hi))
    if lo.is_constant and hi.is_constant and hi.const < lo.const:
        raise ctx.error(f"empty range {lo.const}:{hi.const} for index '{name}' "
                        "(a range is lo:hi with lo <= hi)", node)
    return ir.Range(name, lo, hi)


def _check_where(ctx: _Context, node: ast.Assign, where, written: set[str]) -> None:
    """No index ranged twice; none that '=' writes through starts below position 0."""
    seen = set()
    for rng, c in zip(where, node.where):
        if rng.index in seen:
            raise ctx.error(f"index '{rng.index}' has two ranges in where", c)
        seen.add(rng.index)
        if rng.index in written and rng.lo.is_constant and rng.lo.const < 0:
            raise ctx.error(below_zero(node.target.id, rng.index, rng.lo.const), c)


def below_zero(target: str, index: str, lo: int) -> str:
    """The message for a left-side index of '=' whose range starts below 0."""
    return (f"index '{index}' starts at {lo}, but it is a position of {target}, and "
            "positions start at 0: shift its range to start at 0 and its reads with it")


def _affine(ctx: _Context, node: ast.Node, index_vars) -> ir.Affine:
    """An index expression: integer affine in index variables and size symbols."""
    if isinstance(node, ast.Number):
        if not isinstance(node.value, int):
            raise ctx.error(f"index expressions are integer; {node.value} is not", node)
        return ir.Affine.constant(node.value)
    if isinstance(node, ast.Name):
        if node.id in index_vars:
            return ir.Affine.of(node.id)
        if node.id in ctx.sizes:
            return ir.Affine.symbol(node.id)
        raise ctx.error(f"unknown name '{node.id}' (not an index of this statement and not a "
                        "declared size; declare sizes with 'input X[N, ...]')", node)
    if isinstance(node, ast.Neg):
        return _affine(ctx, node.operand, index_vars).scale(-1)
    if isinstance(node, ast.BinOp) and node.op in "+-":
        left, right = (_affine(ctx, e, index_vars) for e in (node.left, node.right))
        return left.plus(right) if node.op == "+" else left.minus(right)
    if isinstance(node, ast.BinOp) and node.op == "*":
        left, right = (_affine(ctx, e, index_vars) for e in (node.left, node.right))
        if left.is_constant:
            return right.scale(left.const)
        if right.is_constant:
            return left.scale(right.const)
    raise ctx.error("index expressions must be affine: sums of index names times integer "
                    "constants, like 2*i + a - 1", node)


def _index(ctx: _Context, node: ast.Node, index_vars) -> ir.Index:
    if isinstance(node, ast.Call) and node.fn.id in WRAPPERS:
        if len(node.args) != 1:
            raise ctx.error(f"{node.fn.id}() takes one index expression", node)
        return ir.Index(_affine(ctx, node.args[0], index_vars), WRAPPERS[node.fn.id])
    if isinstance(node, ast.Call):
        raise ctx.error(f"'{node.fn.id}' cannot be used in an index; the boundary wrappers are "
                        "wrap, reflect and clamp", node.fn)
    return ir.Index(_affine(ctx, node, index_vars))


class _Lowering:
    """Lower one right-hand side, placing every reduction at its scope."""

    def __init__(self, ctx: _Context, index_vars, lhs_names, root: ast.Node):
        self.ctx, self.index_vars, self.root = ctx, index_vars, root
        self.parent: dict[int, ast.Node] = {}
        self.occurrences: dict[str, list[ast.Node]] = {}
        self._scan(root, None)
        self.sums: dict[int, list[str]] = {}
        self.calls: dict[int, list[str]] = {}
        for name, where in self.occurrences.items():
            if name not in lhs_names:
                self._place(name, where)

    # --- analysis -------------------------------------------------------------
    def _scan(self, node: ast.Node, parent) -> None:
        self.parent[id(node)] = parent
        if isinstance(node, ast.Call) and node.fn.id == "count":
            return      # count(i) names the range of i; it is not a use of i
        if isinstance(node, ast.Call) and node.fn.id in MASKS and node.args:
            self._scan(node.args[0], node)
            return
        if isinstance(node, ast.Access) or (isinstance(node, ast.Call) and node.fn.id == "delta"):
            for name in _names_in(node.indices if isinstance(node, ast.Access) else node.args):
                if name in self.index_vars:
                    self.occurrences.setdefault(name, []).append(node)
            return
        for child in _children(node):
            self._scan(child, node)

    def _ancestors(self, node: ast.Node) -> list[ast.Node]:
        chain = [node]
        while self.parent[id(chain[-1])] is not None:
            chain.append(self.parent[id(chain[-1])])
        return chain

    def _is_scope(self, node: ast.Node) -> bool:
        parent = self.parent[id(node)]
        return parent is None or isinstance(parent, ast.Call) or (
            isinstance(parent, ast.BinOp) and parent.op in "+-")

    def _place(self, name: str, where: list[ast.Node]) -> None:
        chains = [self._ancestors(n)[::-1] for n in where]
        common = [a for a, *rest in zip(*chains) if all(r is a for r in rest)]
        scope = next(n for n in reversed(common) if self._is_scope(n))
        parent = self.parent[id(scope)]
        if _is_reduction(parent):
            self.calls.setdefault(id(parent), []).append(name)
        elif len(where) > 1:
            self.sums.setdefault(id(scope), []).append(name)
        else:
            enclosing = next((a for a in self._ancestors(scope)[1:] if _is_reduction(a)), None)
            if enclosing is not None:
                self.calls.setdefault(id(enclosing), []).append(name)
            else:
                self.sums.setdefault(id(self._top_term(scope)), []).append(name)

    def _top_term(self, node: ast.Node) -> ast.Node:
        chain = self._ancestors(node)[::-1]
        for outer, inner in zip(chain, chain[1:]):
            if not (isinstance(outer, ast.BinOp) and outer.op in "+-"):
                return outer
            if not (isinstance(inner, ast.BinOp) and inner.op in "+-"):
                return inner
        return chain[-1]

    # --- lowering --------------------------------------------------------------
    def lower(self) -> ir.Expr:
        return self._lower(self.root)

    def _lower(self, node: ast.Node) -> ir.Expr:
        expr = self._lower_node(node)
        summed = self.sums.get(id(node))
        return ir.Reduce("sum", tuple(summed), expr) if summed else expr

    def _lower_node(self, node: ast.Node) -> ir.Expr:
        ctx = self.ctx
        if isinstance(node, ast.Number):
            return ir.Const(float(node.value))
        if isinstance(node, ast.Name):
            return self._scalar(node)
        if isinstance(node, ast.Access):
            return self._access(node)
        if isinstance(node, ast.Neg):
            return ir.Call("neg", (self._lower(node.operand),))
        if isinstance(node, ast.BinOp):
            if node.op == "/" and isinstance(node.right, ast.Number) and node.right.value == 0:
                raise self.ctx.error("division by the constant 0", node.right)
            return ir.Call(OPERATORS[node.op], (self._lower(node.left), self._lower(node.right)))
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ctx.error("unsupported expression", node)  # pragma: no cover

    def _scalar(self, node: ast.Name) -> ir.Expr:
        if node.id in self.index_vars:
            raise self.ctx.error(f"index '{node.id}' cannot be used as a value; "
                                 "compare indices with delta(i, j)", node)
        if node.id in self.ctx.sizes:
            raise self.ctx.error(f"size '{node.id}' cannot be used as a value", node)
        return self._access(ast.Access(node.span, node, ()))

    def _access(self, node: ast.Access) -> ir.Access:
        name = node.name.id
        _note_rank(self.ctx, name, len(node.indices), node.name)
        if name not in self.ctx.assigned:
            self.ctx.read.setdefault(name, node)
        index = tuple(_index(self.ctx, e, self.index_vars) for e in node.indices)
        return ir.Access(name, index)

    def _call(self, node: ast.Call) -> ir.Expr:
        fn, args = node.fn.id, node.args
        if fn in ir.REDUCTIONS:
            if len(args) != 1:
                hint = f"; for the elementwise {fn} of two values use {fn}2(a, b)" \
                    if fn in ("max", "min") else ""
                raise self.ctx.error(f"{fn}() reduces one expression{hint}", node)
            body = self._lower(args[0])
            over = tuple(self.calls.get(id(node), ()))
            return ir.Reduce(fn, over, body) if over else body
        if fn == "delta":
            if len(args) != 2:
                raise self.ctx.error("delta() takes two index expressions", node)
            a, b = (_affine(self.ctx, e, self.index_vars) for e in args)
            return ir.Delta(a, b)
        if fn == "count":
            return ir.Count(self._index_names(node, args, 0))
        if fn in MASKS:
            if len(args) < 2:
                raise self.ctx.error(f"{fn}(e, i, ...) takes an expression and the indices it "
                                     "ranges over", node)
            return ir.ArgMax(MASKS[fn], self._index_names(node, args, 1),
                             self._lower(args[0]))
        if fn in WRAPPERS:
            raise self.ctx.error(f"{fn}() is a boundary wrapper and goes inside brackets, "
                                 f"as in X[{fn}(i + a)]", node.fn)
        if fn not in FUNCTIONS or fn not in NAMED:
            known = ", ".join(sorted(NAMED + RESERVED_CALLS))
            raise self.ctx.error(f"unknown function '{fn}'; known functions: {known}", node.fn)
        want = FUNCTIONS[fn].arity
        if len(args) != want:
            raise self.ctx.error(f"{fn}() takes {want} argument{'s' * (want > 1)}, "
                                 f"got {len(args)}", node)
        return ir.Call(fn, tuple(self._lower(a) for a in args))


    def _index_names(self, node: ast.Call, args, first: int) -> tuple[str, ...]:
        names = args[first:]
        bad = next((a for a in names if not isinstance(a, ast.Name)
                    or a.id not in self.index_vars), None)
        if bad is not None or not names:
            raise self.ctx.error(f"{node.fn.id}() names index variables of this statement "
                                 f"after its {'expression' if first else 'parenthesis'}",
                                 bad or node)
        return tuple(a.id for a in names)


def _is_reduction(node) -> bool:
    return isinstance(node, ast.Call) and node.fn.id in ir.REDUCTIONS


def _children(node: ast.Node) -> tuple:
    if isinstance(node, ast.BinOp):
        return (node.left, node.right)
    if isinstance(node, ast.Neg):
        return (node.operand,)
    if isinstance(node, ast.Call):
        return node.args
    return ()


def _names_in(nodes) -> list[str]:
    out = []
    for n in nodes:
        if isinstance(n, ast.Name):
            out.append(n.id)
        elif isinstance(n, ast.Access):
            out.extend(_names_in(n.indices))
        else:
            out.extend(_names_in(_children(n)))
    return out
