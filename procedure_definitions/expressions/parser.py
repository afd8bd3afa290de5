"""Tokenizer and recursive-descent parser: expression source -> JSON AST (see docs/procedure-format.md)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, NamedTuple

from .errors import ExprSyntaxError
from .functions import FUNCTIONS

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "functions_used", "parse", "references"]

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
# Deeper ASTs are rejected so that neither the parser nor the (recursive) interpreters can overflow.
MAX_DEPTH = 100
MAX_SAFE_INTEGER = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER
_MAX_NESTING = 40
_CMP_OPS = {"=": "==", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TWO_CHAR = ("==", "!=", "<=", ">=")
_ONE_CHAR = "=<>+-*/%()[],."
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n"}
_SPACE = " \t\r\n"


class Token(NamedTuple):
    kind: str  # num, str, name, kw, op, eof
    value: Any
    start: int
    text: str


def _is_name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_name_char(c: str) -> bool:
    return _is_name_start(c) or ("0" <= c <= "9")


def _number(src: str, i: int) -> tuple[Token, int]:
    start = i
    n = len(src)
    while i < n and "0" <= src[i] <= "9":
        i += 1
    if i < n and src[i] == "." and i + 1 < n and "0" <= src[i + 1] <= "9":
        i += 1
        while i < n and "0" <= src[i] <= "9":
            i += 1
    # Interpreters work on IEEE doubles (float() also copes with thousands of digits, int() would not);
    # integral values stay Python ints where they are exact, so ASTs print as JSON 12, not 12.0.
    value: int | float = float(src[start:i])
    # Beyond 2**53 - 1 a double no longer holds every integer, and Python ints (exact) and JavaScript
    # numbers (rounded) would disagree: such literals are refused, as such answers are (forms.py).
    if value > MAX_SAFE_INTEGER:
        raise ExprSyntaxError(f"number is too large (the largest is {MAX_SAFE_INTEGER})", start)
    if "." not in src[start:i]:
        value = int(value)
    return Token("num", value, start, src[start:i]), i


def _string(src: str, i: int) -> tuple[Token, int]:
    start = i
    quote = src[i]
    i += 1
    out: list[str] = []
    n = len(src)
    while True:
        if i >= n:
            raise ExprSyntaxError("unterminated string", start)
        c = src[i]
        if c == quote:
            return Token("str", "".join(out), start, src[start : i + 1]), i + 1
        if c == "\\":
            if i + 1 >= n:
                raise ExprSyntaxError("unterminated string", start)
            esc = src[i + 1]
            if esc not in _ESCAPES:
                raise ExprSyntaxError(f"unknown escape '\\{esc}' (use \\\\ \\' \\\" or \\n)", i)
            out.append(_ESCAPES[esc])
            i += 2
            continue
        out.append(c)
        i += 1


def _tokens(src: str) -> Iterator[Token]:
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c in _SPACE:
            i += 1
        elif "0" <= c <= "9":
            tok, i = _number(src, i)
            yield tok
        elif c in "'\"":
            tok, i = _string(src, i)
            yield tok
        elif _is_name_start(c):
            start = i
            while i < n and _is_name_char(src[i]):
                i += 1
            word = src[start:i]
            yield Token("kw" if word in KEYWORDS else "name", word, start, word)
        elif src.startswith(_TWO_CHAR, i):
            yield Token("op", src[i : i + 2], i, src[i : i + 2])
            i += 2
        elif c in _ONE_CHAR:
            yield Token("op", c, i, c)
            i += 1
        else:
            hint = " (a full-width character outside quotes?)" if ord(c) > 0x7F else ""
            raise ExprSyntaxError(f"unexpected character '{c}'{hint}", i)
    yield Token("eof", None, n, "")


def _describe(tok: Token) -> str:
    return "end of expression" if tok.kind == "eof" else f"'{tok.text}'"


class _Parser:
    def __init__(self, src: str) -> None:
        self.toks = list(_tokens(src))
        self.pos = 0
        self.nesting = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.pos]

    def _next(self) -> Token:
        tok = self.toks[self.pos]
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def _is(self, kind: str, value: str) -> bool:
        tok = self.toks[self.pos]
        return tok.kind == kind and tok.value == value

    def _expect_op(self, value: str) -> Token:
        tok = self.tok
        if tok.kind == "op" and tok.value == value:
            return self._next()
        if tok.kind == "eof":
            raise ExprSyntaxError(f"unexpected end of expression: expected '{value}'", tok.start)
        raise ExprSyntaxError(f"expected '{value}', found {_describe(tok)}", tok.start)

    def _enter(self) -> None:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise ExprSyntaxError("expression is nested too deeply", self.tok.start)

    def parse(self) -> dict[str, Any]:
        if self.tok.kind == "eof":
            raise ExprSyntaxError("empty expression", 0)
        node = self.expr()
        tok = self.tok
        if tok.kind != "eof":
            raise ExprSyntaxError(f"unexpected {_describe(tok)} after a complete expression", tok.start)
        return node

    def expr(self) -> dict[str, Any]:
        self._enter()
        node = self.or_()
        self.nesting -= 1
        return node

    def or_(self) -> dict[str, Any]:
        node = self.and_()
        while self._is("kw", "or"):
            self._next()
            node = {"op": "or", "args": [node, self.and_()]}
        return node

    def and_(self) -> dict[str, Any]:
        node = self.not_()
        while self._is("kw", "and"):
            self._next()
            node = {"op": "and", "args": [node, self.not_()]}
        return node

    def not_(self) -> dict[str, Any]:
        if self._is("kw", "not"):
            self._next()
            self._enter()
            node = {"op": "not", "args": [self.not_()]}
            self.nesting -= 1
            return node
        return self.cmp()

    def _cmp_op(self) -> str | None:
        tok = self.tok
        if tok.kind == "op" and tok.value in _CMP_OPS:
            return _CMP_OPS[tok.value]
        if tok.kind == "kw" and tok.value == "in":
            return "in"
        if tok.kind == "kw" and tok.value == "not":
            following = self.toks[self.pos + 1]
            if following.kind == "kw" and following.value == "in":
                return "not in"
        return None

    def cmp(self) -> dict[str, Any]:
        node = self.add()
        op = self._cmp_op()
        if op is None:
            return node
        self._next()
        if op == "not in":
            self._next()
        right = self.add()
        if op == "not in":
            node = {"op": "not", "args": [{"op": "in", "args": [node, right]}]}
        else:
            node = {"op": op, "args": [node, right]}
        if self._cmp_op() is not None:
            raise ExprSyntaxError("comparisons do not chain; combine them with 'and'", self.tok.start)
        return node

    def add(self) -> dict[str, Any]:
        node = self.mul()
        while self.tok.kind == "op" and self.tok.value in ("+", "-"):
            op = self._next().value
            node = {"op": op, "args": [node, self.mul()]}
        return node

    def mul(self) -> dict[str, Any]:
        node = self.unary()
        while self.tok.kind == "op" and self.tok.value in ("*", "/", "%"):
            op = self._next().value
            node = {"op": op, "args": [node, self.unary()]}
        return node

    def unary(self) -> dict[str, Any]:
        if self._is("op", "-"):
            self._next()
            self._enter()
            node = {"op": "neg", "args": [self.unary()]}
            self.nesting -= 1
            return node
        return self.primary()

    def _arguments(self, close: str) -> list[dict[str, Any]]:
        args: list[dict[str, Any]] = []
        if self._is("op", close):
            self._next()
            return args
        while True:
            args.append(self.expr())
            if self._is("op", ","):
                self._next()
                continue
            self._expect_op(close)
            return args

    def primary(self) -> dict[str, Any]:
        tok = self.tok
        if tok.kind in ("num", "str"):
            self._next()
            return {"lit": tok.value}
        if tok.kind == "kw" and tok.value in ("true", "false", "null"):
            self._next()
            return {"lit": {"true": True, "false": False, "null": None}[tok.value]}
        if tok.kind == "op" and tok.value == "(":
            self._next()
            node = self.expr()
            self._expect_op(")")
            return node
        if tok.kind == "op" and tok.value == "[":
            self._next()
            return {"list": self._arguments("]")}
        if tok.kind == "name":
            self._next()
            if self._is("op", "("):
                return self._call(tok)
            path = [tok.value]
            while self._is("op", "."):
                self._next()
                seg = self.tok
                if seg.kind != "name":
                    raise ExprSyntaxError(
                        f"expected a field name after '.', found {_describe(seg)}", seg.start
                    )
                self._next()
                path.append(seg.value)
            return {"ref": path}
        if tok.kind == "eof":
            raise ExprSyntaxError("unexpected end of expression", tok.start)
        raise ExprSyntaxError(f"expected a value, found {_describe(tok)}", tok.start)

    def _call(self, name: Token) -> dict[str, Any]:
        if name.value not in FUNCTIONS:
            close = difflib.get_close_matches(name.value, FUNCTIONS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ExprSyntaxError(f"unknown function '{name.value}'{hint}", name.start)
        self._next()  # "("
        args = self._arguments(")")
        lo, hi = FUNCTIONS[name.value]
        if len(args) < lo or (hi is not None and len(args) > hi):
            raise ExprSyntaxError(f"{name.value}() {_arity_text(lo, hi)}, got {len(args)}", name.start)
        return {"call": name.value, "args": args}


def _arity_text(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"takes at least {lo} argument{'s' if lo != 1 else ''}"
    if lo == hi:
        return f"takes {lo} argument{'s' if lo != 1 else ''}"
    return f"takes {lo} to {hi} arguments"


def _depth(node: Any) -> int:
    """Depth of an AST, iteratively (the AST may be a long left-leaning chain)."""
    best = 0
    stack = [(node, 1)]
    while stack:
        n, d = stack.pop()
        best = max(best, d)
        if isinstance(n, dict):
            children = n.get("args") if "args" in n else n.get("list")
            if isinstance(children, list):
                stack.extend((c, d + 1) for c in children)
    return best


@lru_cache(maxsize=8192)
def parse(src: str) -> dict[str, Any]:
    """Parse ``src`` into the JSON AST. Cached: the returned dict is shared and must not be mutated."""
    if not isinstance(src, str):
        raise ExprSyntaxError("an expression must be a string", 0)
    node = _Parser(src).parse()
    if _depth(node) > MAX_DEPTH:
        raise ExprSyntaxError("expression is too long or nested too deeply", 0)
    return node


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        n = stack.pop()
        if not isinstance(n, dict):
            continue
        yield n
        children = n.get("args") if "args" in n else n.get("list")
        if isinstance(children, list):
            stack.extend(reversed(children))


def references(ast: dict[str, Any]) -> list[tuple[str, ...]]:
    """Every field path referenced, in source order, without duplicates."""
    seen: dict[tuple[str, ...], None] = {}
    for n in _walk(ast):
        if "ref" in n:
            seen.setdefault(tuple(n["ref"]), None)
    return list(seen)


def functions_used(ast: dict[str, Any]) -> set[str]:
    return {n["call"] for n in _walk(ast) if "call" in n}
