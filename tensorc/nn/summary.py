"""Per-layer counts as the lecture notes tabulate them: parameters, operations, output volume.

Conventions (shared by every layer in :mod:`tensorc.nn.layers`):

- convolution: ``params = (r^d k/g + 1) k'`` and ``ops = params * (output positions)``: one
  operation per multiply-add and one for the bias, for every output element (``k`` input
  and ``k'`` output channels, ``g`` groups, ``r^d`` kernel positions; no ``+ 1`` without
  a bias);
- dense: ``ops = params = (k + 1) k'``;
- pooling (max, average, sum, maxout, global): one operation per input element read,
  i.e. window size times output volume (the input volume when windows tile the input);
- activations, normalisations, dropout, flatten, residual additions and concatenation:
  zero operations (their affine parameters are counted as parameters).

Output sizes follow ``floor((n + 2p - r_eff) / s) + 1`` with ``r_eff = r + (r - 1)(t - 1)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One layer of a summary: its name, kind, output shape (no batch), params and ops."""

    name: str
    kind: str
    shape: tuple[int, ...]
    params: int
    ops: int

    @property
    def volume(self) -> int:
        """Number of output elements per example."""
        return math.prod(self.shape)


class Summary:
    """The rows of a model in order; ``str(summary)`` is the table.

    >>> from tensorc.nn import layers as L
    >>> s = L.Sequential(L.Conv2d(1, 6, 5), L.ReLU()).summary((1, 32, 32))
    >>> [(r.name, r.params, r.ops, r.shape) for r in s]
    [('conv1', 156, 122304, (6, 28, 28)), ('relu1', 0, 0, (6, 28, 28))]
    """

    def __init__(self, rows: list[Row], input_shape: tuple[int, ...]):
        self.rows, self.input_shape = list(rows), tuple(input_shape)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int | str) -> Row:
        if isinstance(key, str):
            for row in self.rows:
                if row.name == key:
                    return row
            raise KeyError(key)
        return self.rows[key]

    @property
    def total_params(self) -> int:
        """Sum of the parameter counts of all rows."""
        return sum(r.params for r in self.rows)

    @property
    def total_ops(self) -> int:
        """Sum of the operation counts of all rows."""
        return sum(r.ops for r in self.rows)

    def __str__(self) -> str:
        head = ("layer", "kind", "output", "params", "ops")
        body = [(r.name, r.kind, _shape(r.shape), f"{r.params:,}", f"{r.ops:,}")
                for r in self.rows]
        foot = ("total", "", f"input {_shape(self.input_shape)}", f"{self.total_params:,}",
                f"{self.total_ops:,}")
        widths = [max(len(line[k]) for line in [head, *body, foot]) for k in range(5)]
        rule = "  ".join("-" * w for w in widths)
        lines = [_line(head, widths), rule, *(_line(b, widths) for b in body), rule,
                 _line(foot, widths)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Summary {len(self.rows)} rows, {self.total_params:,} params>"


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3])]
    right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:])]
    return "  ".join(left + right).rstrip()


def out_size(n: int, r: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a window of size r: ``floor((n + 2p - r_eff) / s) + 1``.

    >>> out_size(227, 11, stride=4), out_size(32, 3, padding=1), out_size(9, 3, dilation=2)
    (55, 32, 5)
    """
    r_eff = r + (r - 1) * (dilation - 1)
    return (n + 2 * padding - r_eff) // stride + 1
