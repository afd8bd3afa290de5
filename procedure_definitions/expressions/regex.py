"""The portable regular-expression subset of matches(), translated to Python ``re``.

The reference semantics are JavaScript's with the ``u`` flag (what the PWA runs). Patterns outside the
subset (lookbehind, named groups, backreferences, inline flags, Unicode properties, lone braces...) are
rejected with EvalError('bad_regex') by both interpreters, so a pattern never means two different things.
pwa/js/expr.js implements the same validation walk.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

from .errors import EvalError

__all__ = ["compile_pattern", "full_match"]

# ECMAScript WhiteSpace + LineTerminator, i.e. what \s matches in JavaScript.
_JS_SPACE = r"\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_HEX = "0123456789abcdefABCDEF"
_SYNTAX = "^$\\.*+?()[]{}|/"
_QUANT = re.compile(r"\{\d+(,\d*)?\}", re.ASCII)


def _bad(message: str) -> EvalError:
    return EvalError("bad_regex", f"matches(): {message}")


def _escape(p: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape starting at p[i] == '\\'; return (python text, next index)."""
    if i + 1 >= len(p):
        raise _bad("the pattern ends with a backslash")
    c = p[i + 1]
    if c in "dwDW" or c in "nrtfv":
        return "\\" + c, i + 2
    if c == "s":
        return (_JS_SPACE if in_class else f"[{_JS_SPACE}]"), i + 2
    if c == "S" and not in_class:
        return f"[^{_JS_SPACE}]", i + 2
    if c == "b":
        return "\\b", i + 2  # a word boundary outside a class, backspace inside (as in JS)
    if c == "B" and not in_class:
        return "\\B", i + 2
    if c == "x":
        hx = p[i + 2 : i + 4]
        if len(hx) == 2 and all(h in _HEX for h in hx):
            return "\\x" + hx, i + 4
        raise _bad("\\x needs two hex digits")
    if c == "u":
        hx = p[i + 2 : i + 6]
        if len(hx) == 4 and all(h in _HEX for h in hx) and not 0xD800 <= int(hx, 16) <= 0xDFFF:
            return "\\u" + hx, i + 6
        raise _bad("\\u needs four hex digits (not a surrogate)")
    if c in _SYNTAX or (in_class and c == "-"):
        return "\\" + c, i + 2
    raise _bad(f"unsupported escape '\\{c}'")


def _class(p: str, i: int) -> tuple[str, int]:
    """Translate the character class starting at p[i] == '['."""
    out = ["["]
    i += 1
    if i < len(p) and p[i] == "^":
        out.append("^")
        i += 1
    if i < len(p) and p[i] == "]":
        raise _bad("empty character class or unescaped ']' (write \\])")
    while i < len(p):
        c = p[i]
        if c == "]":
            out.append("]")
            return "".join(out), i + 1
        if c == "\\":
            text, i = _escape(p, i, True)
            out.append(text)
            continue
        out.append("\\" + c if c in "[&~|" else c)
        i += 1
    raise _bad("unterminated character class")


def _translate(p: str) -> str:
    out: list[str] = []
    i = 0
    atom = False  # may a quantifier follow?
    quantified = False  # did a quantifier just end (a '?' then makes it lazy)?
    lookahead: list[bool] = []  # open groups: is it a lookahead (not quantifiable in JS)?
    while i < len(p):
        c = p[i]
        if c in "*+?{":
            if c == "?" and quantified:
                out.append("?")
                i += 1
                quantified = False
                continue
            if not atom:
                raise _bad(f"nothing to repeat at '{c}'")
            if c == "{":
                m = _QUANT.match(p, i)
                if not m:
                    raise _bad("a '{' must start a quantifier {n}, {n,} or {n,m} (write \\{)")
                out.append(m.group(0))
                i = m.end()
            else:
                out.append(c)
                i += 1
            atom, quantified = False, True
            continue
        quantified = False
        if c == "\\":
            assertion = p[i + 1 : i + 2] in ("b", "B")
            text, i = _escape(p, i, False)
            out.append(text)
            atom = not assertion
        elif c == "[":
            text, i = _class(p, i)
            out.append(text)
            atom = True
        elif c == "(":
            if p.startswith("(?", i):
                if p[i : i + 3] not in ("(?:", "(?=", "(?!"):
                    raise _bad("only (?:...), (?=...) and (?!...) groups are supported")
                out.append(p[i : i + 3])
                lookahead.append(p[i + 2] != ":")
                i += 3
            else:
                out.append("(")
                lookahead.append(False)
                i += 1
            atom = False
        elif c == ")":
            if not lookahead:
                raise _bad("unbalanced ')'")
            out.append(")")
            i += 1
            atom = not lookahead.pop()
        elif c in "}]":
            raise _bad(f"unescaped '{c}'")
        elif c == ".":
            out.append("[^\\n\\r\\u2028\\u2029]")
            i += 1
            atom = True
        elif c == "$":
            out.append("\\Z")
            i += 1
            atom = False
        elif c in "^|":
            out.append(c)
            i += 1
            atom = False
        else:
            out.append(c)
            i += 1
            atom = True
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    text = _translate(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(text, re.ASCII)
    except (re.error, OverflowError, RecursionError) as e:
        raise _bad(f"invalid pattern: {e}") from None


def full_match(s: str, pattern: str) -> bool:
    try:
        return compile_pattern(pattern).fullmatch(s) is not None
    except RecursionError:
        raise _bad("the pattern is too complex") from None
