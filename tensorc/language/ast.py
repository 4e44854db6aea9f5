"""The syntax tree the parser builds: every node keeps where it stands in the text."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class Node:
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class Number(Node):
    value: float | int = 0


@dataclass(frozen=True)
class Name(Node):
    id: str = ""


@dataclass(frozen=True)
class Access(Node):
    name: Name = None
    indices: tuple = ()


@dataclass(frozen=True)
class Call(Node):
    fn: Name = None
    args: tuple = ()


@dataclass(frozen=True)
class BinOp(Node):
    op: str = ""
    left: Node = None
    right: Node = None


@dataclass(frozen=True)
class Neg(Node):
    operand: Node = None


@dataclass(frozen=True)
class Constraint(Node):
    index: Name = None
    lo: Node = None
    hi: Node = None


@dataclass(frozen=True)
class Decl(Node):
    kind: str = ""
    name: Name = None
    dims: tuple = ()          # Name or Number per dimension
    like: tuple = ()          # ``input dY like Y``; ``output J like Y, X``: shapes joined


@dataclass(frozen=True)
class Assign(Node):
    target: Name = None
    indices: tuple | None = None   # None: a scalar target
    op: str = "="
    expr: Node = None
    where: tuple = ()


@dataclass(frozen=True)
class Module(Node):
    statements: tuple = ()
