"""The IR: small frozen node types, hashable so equal subtrees are one value.

A program is declarations plus statements. A statement writes one tensor from an
expression tree whose leaves are tensor accesses (affine index maps, each with a
boundary mode), constants and Kronecker deltas; every reduction is explicit.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterator

BOUNDARY_MODES = ("zero", "wrap", "reflect", "clamp")
REDUCTIONS = ("sum", "max", "min", "mean")


@dataclass(frozen=True)
class Affine:
    """An integer affine expression over index variables and size symbols.

    ``terms`` holds index variables, ``symbols`` size symbols (bound from shapes),
    each as (name, coefficient) in order of appearance.

    >>> Affine.of("i", 2).plus(Affine.of("a")).shift(-1)
    Affine(terms=(('i', 2), ('a', 1)), symbols=(), const=-1)
    """

    terms: tuple[tuple[str, int], ...] = ()
    symbols: tuple[tuple[str, int], ...] = ()
    const: int = 0

    @staticmethod
    def of(name: str, coef: int = 1) -> "Affine":
        return Affine(((name, coef),)) if coef else Affine()

    @staticmethod
    def symbol(name: str) -> "Affine":
        return Affine((), ((name, 1),))

    @staticmethod
    def constant(value: int) -> "Affine":
        return Affine((), (), int(value))

    def coef(self, name: str) -> int:
        return dict(self.terms).get(name, 0)

    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.terms)

    def plus(self, other: "Affine") -> "Affine":
        return Affine(_merge(self.terms, other.terms), _merge(self.symbols, other.symbols),
                      self.const + other.const)

    def scale(self, k: int) -> "Affine":
        return Affine(_merge(self.terms, (), k), _merge(self.symbols, (), k), self.const * k)

    def shift(self, k: int) -> "Affine":
        return Affine(self.terms, self.symbols, self.const + k)

    def minus(self, other: "Affine") -> "Affine":
        return self.plus(other.scale(-1))

    def plain(self) -> str | None:
        """The index name if this is exactly one index with coefficient 1."""
        if not self.const and not self.symbols and len(self.terms) == 1 and self.terms[0][1] == 1:
            return self.terms[0][0]
        return None

    @property
    def is_constant(self) -> bool:
        return not self.terms and not self.symbols


def _merge(a, b, k: int = 1):
    merged = {n: c * k for n, c in a}
    for name, coef in b:
        merged[name] = merged.get(name, 0) + coef
    return tuple((n, c) for n, c in merged.items() if c)


class Expr:
    """Base of expression nodes."""

    def children(self) -> tuple["Expr", ...]:
        return ()

    def map(self, f) -> "Expr":
        """This node with ``f`` applied to each child expression (a leaf: itself)."""
        return self


@dataclass(frozen=True)
class Const(Expr):
    value: float


@dataclass(frozen=True)
class Index:
    expr: Affine
    mode: str = "zero"


@dataclass(frozen=True)
class Access(Expr):
    tensor: str
    index: tuple[Index, ...] = ()

    def names(self) -> tuple[str, ...]:
        seen = dict.fromkeys(n for ix in self.index for n in ix.expr.names())
        return tuple(seen)


@dataclass(frozen=True)
class Call(Expr):
    """An elementwise function (arithmetic included) from the function table."""

    fn: str
    args: tuple[Expr, ...]

    def children(self):
        return self.args

    def map(self, f):
        return Call(self.fn, tuple(f(a) for a in self.args))


@dataclass(frozen=True)
class _Across(Expr):
    """An operation ``op`` of ``body`` across the indices ``over``."""

    op: str
    over: tuple[str, ...]
    body: Expr

    def children(self):
        return (self.body,)

    def map(self, f):
        return dataclasses.replace(self, body=f(self.body))


@dataclass(frozen=True)
class Reduce(_Across):
    """sum, max, min or mean of ``body`` over the indices ``over`` (which it binds)."""


@dataclass(frozen=True)
class Delta(Expr):
    a: Affine
    b: Affine


@dataclass(frozen=True)
class Count(Expr):
    """The number of values the indices take in this statement (product of extents)."""

    over: tuple[str, ...]


@dataclass(frozen=True)
class ArgMax(_Across):
    """One-hot mask of the first largest (``op="max"``) or smallest value of ``body``
    over the indices ``over``, in index order: the derivative of max/min reductions."""


@dataclass(frozen=True)
class Range:
    index: str
    lo: Affine
    hi: Affine


@dataclass(frozen=True)
class Stmt:
    target: str
    index: tuple[Affine, ...]
    expr: Expr
    accumulate: bool = False
    where: tuple[Range, ...] = ()
    line: int = field(default=0, compare=False)
    modes: tuple[str, ...] = ()   # boundary mode per left-side position (+= only); () = zero
    einstein: bool = field(default=False, compare=False)  # print contractions implicitly

    def lhs(self) -> Access:
        """The left side as an access (with its boundary modes)."""
        modes = self.modes or ("zero",) * len(self.index)
        return Access(self.target, tuple(Index(a, m) for a, m in zip(self.index, modes)))


@dataclass(frozen=True)
class Decl:
    kind: str                     # "input", "param" or "output"
    tensor: str
    dims: tuple[Affine, ...]      # a size symbol or a literal each
    like: tuple[str, ...] = ()    # ``input dY like Y``: another tensor's shape (or several, joined)
    like_ranks: tuple[int, ...] = field(default=(), compare=False)   # rank of each model


@dataclass(frozen=True)
class Program:
    decls: tuple[Decl, ...]
    stmts: tuple[Stmt, ...]
    outputs: tuple[str, ...]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Tensors read before (or without) being written, in order of first use."""
        written, found = set(), {}
        for stmt in self.stmts:
            for acc in accesses(stmt.expr):
                if acc.tensor not in written:
                    found.setdefault(acc.tensor, None)
            written.add(stmt.target)
        declared = [d.tensor for d in self.decls if d.tensor not in written
                    and d.kind != "output"]
        shapes = [m for d in self.decls for m in d.like if m not in written]  # sizes only
        return tuple(dict.fromkeys([*declared, *found, *shapes]))

    def ranks(self) -> dict[str, int]:
        """The number of dimensions of every tensor the program names."""
        ranks = {m: r for d in self.decls for m, r in zip(d.like, d.like_ranks)}
        ranks.update({d.tensor: len(d.dims) for d in self.decls if not d.like})
        for stmt in self.stmts:
            ranks[stmt.target] = len(stmt.index)
            ranks.update({a.tensor: len(a.index) for a in accesses(stmt.expr)})
        return ranks


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of an expression tree, parents before children."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))


def accesses(expr: Expr) -> Iterator[Access]:
    return (node for node in walk(expr) if isinstance(node, Access))


def index_names(expr: Expr) -> tuple[str, ...]:
    """Index variables that occur in an expression (bound or free), in order."""
    found: dict[str, None] = {}
    for node in walk(expr):
        if isinstance(node, Access):
            found.update(dict.fromkeys(node.names()))
        elif isinstance(node, Delta):
            found.update(dict.fromkeys(node.a.names() + node.b.names()))
        elif isinstance(node, (Reduce, ArgMax, Count)):
            found.update(dict.fromkeys(node.over))
    return tuple(found)


def free_names(expr: Expr) -> tuple[str, ...]:
    """Index variables not bound by a reduction inside the expression."""
    if isinstance(expr, Access):
        return expr.names()
    if isinstance(expr, Delta):
        return tuple(dict.fromkeys(expr.a.names() + expr.b.names()))
    if isinstance(expr, Reduce):
        return tuple(n for n in free_names(expr.body) if n not in expr.over)
    if isinstance(expr, Count):
        return ()
    found: dict[str, None] = {}
    for child in expr.children():
        found.update(dict.fromkeys(free_names(child)))
    return tuple(found)


def factors(expr: Expr) -> list[Expr]:
    """The factors of a product (nested ``mul`` calls flattened), in order."""
    if isinstance(expr, Call) and expr.fn == "mul":
        return factors(expr.args[0]) + factors(expr.args[1])
    return [expr]


def range_sizes(stmts) -> set[str]:
    """The size symbols the statements' ``where`` ranges are bounded by."""
    return {name for s in stmts for r in s.where for name, _ in r.lo.symbols + r.hi.symbols}


def substitute(e: Expr, names: dict[str, Affine]) -> Expr:
    """Replace index variables by affine expressions (bound variables are left alone)."""
    if not names:
        return e
    if isinstance(e, Access):
        return Access(e.tensor, tuple(Index(substitute_affine(ix.expr, names), ix.mode)
                                      for ix in e.index))
    if isinstance(e, Delta):
        return Delta(substitute_affine(e.a, names), substitute_affine(e.b, names))
    if isinstance(e, Count):
        return Count(tuple(names[n].plain() or n if n in names else n for n in e.over))
    if isinstance(e, Reduce):       # binds its indices
        return Reduce(e.op, e.over, substitute(e.body, {k: v for k, v in names.items()
                                                        if k not in e.over}))
    if isinstance(e, ArgMax):       # its window indices are free: renamed in the body too
        renamed = {k: v for k, v in names.items() if k not in e.over or v.plain()}
        return ArgMax(e.op, tuple(renamed[n].plain() if n in renamed else n for n in e.over),
                      substitute(e.body, renamed))
    return e.map(lambda child: substitute(child, names))


def substitute_affine(a: Affine, names: dict[str, Affine]) -> Affine:
    out = Affine((), a.symbols, a.const)
    for name, coef in a.terms:
        out = out.plus(names[name].scale(coef) if name in names else Affine.of(name, coef))
    return out


def fresh_name(base: str, taken: set[str]) -> str:
    """``base2``, ``base3``, ...: the first not in ``taken``, which it joins."""
    k = 2
    while f"{base}{k}" in taken:
        k += 1
    taken.add(f"{base}{k}")
    return f"{base}{k}"
