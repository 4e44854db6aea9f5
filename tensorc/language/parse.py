"""Spec text -> syntax tree, through the lark grammar in grammar/tensorc.lark."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import lark
from lark import Transformer, v_args

from ..errors import SpecError
from . import ast

_TOKEN_WORDS = {
    "_NL": "end of line", "$END": "end of input", "NAME": "a name", "NUMBER": "a number",
    "INT": "an integer", "LSQB": "'['", "RSQB": "']'", "LPAR": "'('", "RPAR": "')'",
    "COMMA": "','", "ASSIGN_OP": "'=' or '+='", "COMP_OP": "a comparison", "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*' or '/'", "COLON": "':'", "SEMICOLON": "';'", "MINUS": "'-'", "PLUS": "'+'",
    "WHERE": "'where'", "IN": "'in'", "LESSTHAN": "'<'", "__ANON_0": "'<='",
    "DECL_KIND": "a declaration", "LIKE": "'like'",
    "POW": "'**'",
}


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    text = resources.files("tensorc.grammar").joinpath("tensorc.lark").read_text()
    return lark.Lark(text, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(source: str) -> ast.Module:
    """Parse spec text into a syntax tree.

    >>> parse("Y[i] = X[i] * 2").statements[0].target.id
    'Y'
    """
    try:
        tree = _parser().parse(source)
    except lark.exceptions.UnexpectedInput as err:
        raise _syntax_error(err, source) from None
    try:
        return _ToAst(source).transform(tree)
    except lark.exceptions.VisitError as err:
        if isinstance(err.orig_exc, SpecError):
            raise err.orig_exc from None
        raise


def _syntax_error(err, source: str) -> SpecError:
    token = getattr(err, "token", None)
    if token is not None and token.type == "$END":
        found = "end of input"
    elif token is not None:
        found = "end of line" if token.type == "_NL" else f"'{token}'"
    else:
        found = f"'{source[err.pos_in_stream]}'" if err.pos_in_stream < len(source) else "?"
    expected = sorted({_TOKEN_WORDS.get(t, t) for t in getattr(err, "expected", ()) or ()})
    message = f"unexpected {found}"
    if expected:
        message += "; expected " + ", ".join(expected)
    width = len(str(token)) if token is not None and token.type not in ("_NL", "$END") else 1
    return SpecError(message, source, err.line, err.column, err.column + width)


def _span(meta) -> ast.Span:
    return ast.Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _token_span(tok) -> ast.Span:
    return ast.Span(tok.line, tok.column, tok.end_line, tok.end_column)


def _name(tok) -> ast.Name:
    return ast.Name(_token_span(tok), str(tok))


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def start(self, meta, stmts):
        return ast.Module(_span(meta) if not meta.empty else ast.Span(1, 1, 1, 1), tuple(stmts))

    def decl(self, meta, items):
        kind, name, *dims = items
        return ast.Decl(_span(meta), str(kind), _name(name), tuple(dims))

    def decl_like(self, meta, items):
        kind, name, _, *models = items
        return ast.Decl(_span(meta), str(kind), _name(name), (), tuple(map(_name, models)))

    def dim(self, meta, items):
        (tok,) = items
        if tok.type == "INT":
            return ast.Number(_token_span(tok), int(tok))
        return _name(tok)

    def assign(self, meta, items):
        name, brackets, op, expr, where = items
        return ast.Assign(_span(meta), _name(name), brackets, str(op), expr, where or ())

    def brackets(self, meta, items):
        return tuple(i for i in items if i is not None)

    def where(self, meta, items):
        return tuple(items)

    def range_in(self, meta, items):
        name, lo, hi = items
        return ast.Constraint(_span(meta), _name(name), lo, hi)

    def range_lt(self, meta, items):
        name, hi = items
        return ast.Constraint(_span(meta), _name(name), ast.Number(hi.span, 0), hi)

    def range_le(self, meta, items):
        name, hi = items
        one = ast.Number(hi.span, 1)
        return ast.Constraint(_span(meta), _name(name), ast.Number(hi.span, 0),
                              ast.BinOp(hi.span, "+", hi, one))

    def compare(self, meta, items):
        left, op, right = items
        return ast.BinOp(_span(meta), str(op), left, right)

    def binop(self, meta, items):
        left, op, right = items
        return ast.BinOp(_span(meta), str(op), left, right)

    def pow(self, meta, items):
        left, right = items
        return ast.BinOp(_span(meta), "**", left, right)

    def neg(self, meta, items):
        return ast.Neg(_span(meta), items[0])

    def number(self, meta, items):
        text = str(items[0])
        value = int(text) if text.isdigit() else float(text)
        if value != value or abs(value) == float("inf"):
            raise SpecError(f"the number {text} is too large for a float", self.source,
                            meta.line, meta.column, meta.end_column)
        return ast.Number(_span(meta), value)

    def access(self, meta, items):
        name, brackets = items
        return ast.Access(_span(meta), _name(name), brackets)

    def call(self, meta, items):
        name, *args = items
        return ast.Call(_span(meta), _name(name), tuple(a for a in args if a is not None))

    def name(self, meta, items):
        return _name(items[0])
