"""One error root for everything tensorc raises on purpose."""
from __future__ import annotations


class TensorcError(Exception):
    """Root of every error tensorc raises about a user's program or arrays."""


class SpecError(TensorcError, ValueError):
    """Spec text that does not parse or does not check.

    The message quotes the offending line with a caret under the span::

        line 1, column 12: unknown function 'foo'
          Y[i] = foo(X[i])
                 ^^^
    """

    def __init__(self, message: str, source: str | None = None, line: int | None = None,
                 column: int | None = None, end_column: int | None = None):
        self.reason, self.line, self.column = message, line, column
        super().__init__(_with_caret(message, source, line, column, end_column))


class ShapeError(TensorcError, ValueError):
    """Arrays whose shapes disagree with the spec: names tensor, dimension and sizes."""


class InputError(TensorcError, TypeError):
    """A program called with missing or unexpected arrays."""


def _with_caret(message, source, line, column, end_column) -> str:
    if line is None or column is None:
        return message
    head = f"line {line}, column {column}: {message}"
    lines = (source or "").splitlines()
    if not 1 <= line <= len(lines):
        return head
    text = lines[line - 1]
    width = max(1, (end_column or column + 1) - column)
    return f"{head}\n  {text}\n  {' ' * (column - 1)}{'^' * width}"
