"""The portable regular-expression subset of matches(), translated to Python ``re``.

The reference semantics are JavaScript's with the ``u`` flag (what the PWA runs). Patterns outside the
subset (lookbehind, named groups, backreferences, inline flags, Unicode properties, lone braces...) are
rejected with EvalError('bad_regex') by both interpreters, so a pattern never means two different things.
pwa/js/expr.js implements the same validation walk.

Refused as well, because the engines read them differently or because they can take exponential time in a
backtracking engine: ``\\B`` (Python's never matches an empty text), a class escape (``\\s \\d \\w``...) as
a range end, repeat counts above MAX_REPEAT, groups nested deeper than MAX_GROUP_DEPTH, patterns longer
than MAX_PATTERN, and a repeated group that itself holds an unbounded repetition (``(a+)+``, ``(?:a*b?)*``).
The text given to matches() is limited to MAX_TEXT code points.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

from .errors import EvalError

__all__ = ["MAX_GROUP_DEPTH", "MAX_PATTERN", "MAX_REPEAT", "MAX_TEXT", "compile_pattern", "full_match"]

# ECMAScript WhiteSpace + LineTerminator, i.e. what \s matches in JavaScript.
_JS_SPACE = r"\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_HEX = "0123456789abcdefABCDEF"
_SYNTAX = "^$\\.*+?()[]{}|/"
_QUANT = re.compile(r"\{(\d+)(,(\d*))?\}", re.ASCII)
_CLASS_ESCAPES = "dDwWsS"
MAX_REPEAT = 100  # the largest count of {n}, {n,} and {n,m}
MAX_GROUP_DEPTH = 20
MAX_PATTERN = 1000  # characters of a pattern
MAX_TEXT = 1000  # code points of the text matches() reads


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
    # JavaScript (u flag) refuses a class escape as either end of a range; Python reads it as characters.
    start_set: bool | None = None  # an atom that may start a range was just read: is it a class escape?
    in_range = False  # "X-" was read: the next atom ends a range
    while i < len(p):
        c = p[i]
        if c == "]":
            out.append("]")
            return "".join(out), i + 1
        if c == "-" and start_set is not None and not in_range and p[i + 1 : i + 2] not in ("]", ""):
            out.append("-")
            in_range = True
            i += 1
            continue
        is_set = c == "\\" and p[i + 1 : i + 2] in tuple(_CLASS_ESCAPES)
        if in_range and (start_set or is_set):
            raise _bad("a class escape (\\d, \\s, \\w...) cannot be the end of a range (escape the '-')")
        if c == "\\":
            text, i = _escape(p, i, True)
            out.append(text)
        else:
            out.append("\\" + c if c in "[&~|" else c)
            i += 1
        start_set = None if in_range else is_set
        in_range = False
    raise _bad("unterminated character class")


def _quantifier(p: str, i: int) -> tuple[str, int, bool]:
    """The quantifier at p[i] ('*', '+', '?' or '{'): (its text, next index, may it repeat without bound?)."""
    c = p[i]
    if c != "{":
        return c, i + 1, c != "?"
    m = _QUANT.match(p, i)
    if not m:
        raise _bad("a '{' must start a quantifier {n}, {n,} or {n,m} (write \\{)")
    low, comma, high = m.group(1), m.group(2), m.group(3)
    if int(low) > MAX_REPEAT or (high and int(high) > MAX_REPEAT):
        raise _bad(f"repeat counts above {MAX_REPEAT} are not supported")
    return m.group(0), m.end(), bool(comma) and not high


def _translate(p: str) -> str:
    if len(p) > MAX_PATTERN:
        raise _bad(f"the pattern is longer than {MAX_PATTERN} characters")
    out: list[str] = []
    i = 0
    atom = False  # may a quantifier follow?
    quantified = False  # did a quantifier just end (a '?' then makes it lazy)?
    # Open groups: [is it a lookahead (not quantifiable in JS), does it hold an unbounded repetition].
    groups: list[list[bool]] = []
    holds_unbounded = False  # the atom just read is a group holding an unbounded repetition
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
            text, i, unbounded = _quantifier(p, i)
            if holds_unbounded and text not in ("?", "{0,1}", "{1}", "{0}", "{1,1}", "{0,0}"):
                raise _bad("a repeated group must not hold a repetition without bound, e.g. (a+)+: "
                           "it can take exponential time")
            if unbounded and groups:
                groups[-1][1] = True
            out.append(text)
            atom, quantified, holds_unbounded = False, True, False
            continue
        quantified = False
        holds_unbounded = False
        if c == "\\":
            if p[i + 1 : i + 2] == "B":
                raise _bad("\\B is not supported (Python and JavaScript disagree on it)")
            assertion = p[i + 1 : i + 2] == "b"
            text, i = _escape(p, i, False)
            out.append(text)
            atom = not assertion
        elif c == "[":
            text, i = _class(p, i)
            out.append(text)
            atom = True
        elif c == "(":
            if len(groups) >= MAX_GROUP_DEPTH:
                raise _bad(f"groups nested deeper than {MAX_GROUP_DEPTH}")
            if p.startswith("(?", i):
                if p[i : i + 3] not in ("(?:", "(?=", "(?!"):
                    raise _bad("only (?:...), (?=...) and (?!...) groups are supported")
                out.append(p[i : i + 3])
                groups.append([p[i + 2] != ":", False])
                i += 3
            else:
                out.append("(")
                groups.append([False, False])
                i += 1
            atom = False
        elif c == ")":
            if not groups:
                raise _bad("unbalanced ')'")
            out.append(")")
            i += 1
            lookahead, unbounded_inside = groups.pop()
            atom = not lookahead
            holds_unbounded = unbounded_inside
            if unbounded_inside and groups:
                groups[-1][1] = True
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
    if groups:
        raise _bad("unbalanced '('")
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
    compiled = compile_pattern(pattern)
    if len(s) > MAX_TEXT:  # code points, as len() counts them
        raise _bad(f"the text is longer than {MAX_TEXT} characters")
    try:
        return compiled.fullmatch(s) is not None
    except RecursionError:
        raise _bad("the pattern is too complex") from None
