"""What every backend's printer shares: names, temporaries, size expressions, dispatch.

A printer turns one planned statement after another into lines of Python. Dispatch
follows sympy's printers: ``_emit_<NodeClass>`` per IR node, so a backend overrides only
the nodes it prints differently.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter


def tensor_name(name: str) -> str:
    """User names end in '_' in generated code; generated names start with '_' and never do.

    The grammar forbids leading, trailing and doubled underscores in user names, so no
    user name can become a keyword, a builtin, a module alias or a generated name.

    >>> tensor_name("lambda"), tensor_name("np")
    ('lambda_', 'np_')
    """
    return f"{name}_"


def size_name(name: str) -> str:
    return f"_s_{name}"


def extent_name(index: str) -> str:
    return f"_n_{index}"


@dataclass(frozen=True)
class Val:
    """An emitted array: Python code and the index variable of each of its axes."""

    code: str
    axes: tuple[str, ...]
    fresh: bool = True          # a new array nobody else holds (safe to return or mutate)


@dataclass(frozen=True)
class Step:
    """One execution choice, recorded for ``prog.plan``.

    ``axes`` are the index names the step iterates over (for a contraction: the axes of
    each operand), ``output`` a contraction's kept axes.
    """

    kind: str
    detail: str
    axes: tuple = ()
    output: tuple = ()
    bytes_of: str | None = None


class SizePrinter(PythonCodePrinter):
    """Integer size expressions as Python: floor and ceiling stay in integers."""

    def __init__(self, names: dict[sp.Symbol, str]):
        super().__init__({"fully_qualified_modules": False})
        self.names = names

    def _print_Symbol(self, expr):
        return self.names.get(expr, expr.name)

    def _print_floor(self, expr):
        num, den = sp.together(expr.args[0]).as_numer_denom()
        return f"({self._print(num)})//{self._print(den)}" if den != 1 else self._print(num)

    def _print_ceiling(self, expr):
        num, den = sp.together(expr.args[0]).as_numer_denom()
        return f"-((-({self._print(num)}))//{self._print(den)})" if den != 1 else self._print(num)

    def _print_Max(self, expr):
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr):
        return f"min({', '.join(self._print(a) for a in expr.args)})"


class Writer:
    """Lines of Python with indentation and fresh temporaries."""

    def __init__(self):
        self.lines: list[str] = []
        self.count = 0
        self.indent = 0

    def line(self, text: str = "") -> None:
        self.lines.append(("    " * self.indent + text) if text else "")

    def temp(self) -> str:
        self.count += 1
        return f"_t{self.count}"

    def bind(self, code: str, comment: str = "") -> str:
        name = self.temp()
        self.line(f"{name} = {code}" + (f"  # {comment}" if comment else ""))
        return name

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class Printer:
    """Dispatch on IR node class: ``_emit_Access``, ``_emit_Call`` and so on."""

    def emit(self, node):
        method = getattr(self, f"_emit_{type(node).__name__}", None)
        if method is None:
            raise NotImplementedError(f"{type(self).__name__} cannot print {type(node).__name__}")
        return method(node)
