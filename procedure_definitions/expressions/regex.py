"""The portable regular-expression subset of matches(), translated to Python ``re``.

The reference semantics are JavaScript's with the ``u`` flag (what the PWA runs). Patterns outside the
subset (lookbehind, named groups, backreferences, inline flags, Unicode properties, lone braces...) are
rejected with EvalError('bad_regex') by both interpreters, so a pattern never means two different things.
pwa/js/expr.js implements the same validation walk.

Refused as well, because the engines read them differently: ``\\B`` (Python's never matches an empty
text), a class escape (``\\s \\d \\w``...) as a range end, repeat counts above MAX_REPEAT, groups nested
deeper than MAX_GROUP_DEPTH, patterns longer than MAX_PATTERN. The text given to matches() is limited to
MAX_TEXT code points.

Refused because a backtracking engine can take exponential or high-polynomial time on them (both rules in
docs/procedure-format.md): a part repeated without bound must match one fixed sequence (no '|', no
variable quantifier inside: ``(a|a)*``, ``(?:a?b)+``, ``(a+)+``), and the pattern may match a MAX_TEXT text
in at most MAX_WAYS ways (``.*.*.*=``, ``(?:a|a){20}``).
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

from .errors import EvalError

__all__ = ["MAX_GROUP_DEPTH", "MAX_PATTERN", "MAX_REPEAT", "MAX_TEXT", "MAX_WAYS", "compile_pattern", "full_match"]

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
MAX_WAYS = 1_000_000  # ways a pattern may match a MAX_TEXT text (see _ways)


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


def _quantifier(p: str, i: int) -> tuple[int, int | None, int]:
    """The quantifier at p[i] ('*', '+', '?' or '{'): (least count, greatest count or None, next index)."""
    c = p[i]
    if c != "{":
        return (0 if c in "*?" else 1), (1 if c == "?" else None), i + 1
    m = _QUANT.match(p, i)
    if not m:
        raise _bad("a '{' must start a quantifier {n}, {n,} or {n,m} (write \\{)")
    low, comma, high = m.group(1), m.group(2), m.group(3)
    if int(low) > MAX_REPEAT or (high and int(high) > MAX_REPEAT):
        raise _bad(f"repeat counts above {MAX_REPEAT} are not supported")
    return int(low), (int(high) if high else None if comma else int(low)), m.end()


# The backtracking bound (docs/procedure-format.md, "regular-expression subset"). A part of the pattern is
# summarised as a list c where c[k] counts its ways to match that go through k repeats without bound, each
# with a fixed body that only chooses how many times it runs: on a text of MAX_TEXT code points it can then
# match in at most sum(c[k] * C(MAX_TEXT + k, k)) ways (the k counts add up to at most MAX_TEXT).
# pwa/js/expr.js does the same float arithmetic in the same order.
_Cost = list[float]
_ONE: _Cost = [1.0]


def _plus(a: _Cost, b: _Cost) -> _Cost:
    out = [0.0] * max(len(a), len(b))
    for k, x in enumerate(a):
        out[k] += x
    for k, x in enumerate(b):
        out[k] += x
    return out


def _times(a: _Cost, b: _Cost) -> _Cost:
    out = [0.0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


class _Frame:
    """An open group (or the whole pattern) while the walk reads it."""

    __slots__ = ("alts", "flexible", "lookahead", "seq")

    def __init__(self, lookahead: bool) -> None:
        self.lookahead = lookahead
        self.alts: _Cost = [0.0]  # the alternatives already closed by '|', summed
        self.seq: _Cost = _ONE  # the current alternative so far (without the pending atom)
        self.flexible = False  # holds '|' or a quantifier other than {n}: cannot be repeated without bound

    def close_alternative(self) -> None:
        self.alts = _plus(self.alts, self.seq)
        self.seq = _ONE


def _repeat(atom: _Cost, rigid: bool, low: int, high: int | None) -> _Cost:
    """The cost of an atom repeated low..high times (high None: without bound)."""
    if high is None:
        if not rigid:
            raise _bad("a part repeated without bound (*, + or {n,}) must match one fixed sequence: no '|' and "
                       "no ?, *, + or {m,n} inside it, e.g. not (a|b)* or (?:a?b)+ (it can take exponential time)")
        return [0.0, 1.0]
    if len(atom) > 1:
        if high > 1:
            raise _bad("a part repeated more than once must not hold a repetition without bound, e.g. (a+){2}")
        return _plus(atom, _ONE) if low == 0 else atom
    total, power = 0.0, 1.0
    for j in range(high + 1):
        if j >= low:
            total += power
        power *= atom[0]
    return [total]


def _ways(cost: _Cost) -> float:
    ways, binom = 0.0, 1.0
    for k, c in enumerate(cost):
        if k:
            binom = binom * (MAX_TEXT + k) / k
        ways += c * binom
    return ways


def _translate(p: str) -> str:
    if len(p) > MAX_PATTERN:
        raise _bad(f"the pattern is longer than {MAX_PATTERN} characters")
    out: list[str] = []
    i = 0
    atom = False  # may a quantifier follow?
    quantified = False  # did a quantifier just end (a '?' then makes it lazy)?
    frames = [_Frame(False)]
    pending: _Cost = _ONE  # the cost of the atom just read (folded into the frame when the next part starts)
    pending_rigid = True
    while i < len(p):
        c = p[i]
        frame = frames[-1]
        if c in "*+?{":
            if c == "?" and quantified:
                out.append("?")
                i += 1
                quantified = False
                continue
            if not atom:
                raise _bad(f"nothing to repeat at '{c}'")
            low, high, nxt = _quantifier(p, i)
            pending = _repeat(pending, pending_rigid, low, high)
            if high != low:
                frame.flexible = True
            out.append(p[i:nxt])
            i = nxt
            atom, quantified = False, True
            continue
        quantified = False
        frame.seq = _times(frame.seq, pending)
        pending, pending_rigid = _ONE, True
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
            if len(frames) > MAX_GROUP_DEPTH:
                raise _bad(f"groups nested deeper than {MAX_GROUP_DEPTH}")
            if p.startswith("(?", i):
                if p[i : i + 3] not in ("(?:", "(?=", "(?!"):
                    raise _bad("only (?:...), (?=...) and (?!...) groups are supported")
                out.append(p[i : i + 3])
                frames.append(_Frame(p[i + 2] != ":"))
                i += 3
            else:
                out.append("(")
                frames.append(_Frame(False))
                i += 1
            atom = False
        elif c == ")":
            if len(frames) == 1:
                raise _bad("unbalanced ')'")
            out.append(")")
            i += 1
            frames.pop()
            frame.close_alternative()
            # A lookahead is atomic, but it runs again each time the engine reaches it: it counts as the
            # text it reads, and a '|' or quantifier inside it makes the enclosing repeat body flexible.
            pending, pending_rigid = frame.alts, not frame.flexible
            frames[-1].flexible = frames[-1].flexible or frame.flexible
            atom = not frame.lookahead
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
        elif c == "|":
            out.append(c)
            i += 1
            frame.close_alternative()
            frame.flexible = True
            atom = False
        elif c == "^":
            out.append(c)
            i += 1
            atom = False
        else:
            out.append(c)
            i += 1
            atom = True
    if len(frames) > 1:
        raise _bad("unbalanced '('")
    top = frames[0]
    top.seq = _times(top.seq, pending)
    top.close_alternative()
    if _ways(top.alts) > MAX_WAYS:
        raise _bad(f"the pattern can match a {MAX_TEXT}-character text in more than {MAX_WAYS} ways, which a "
                   "backtracking engine may all try: use fewer repeats without bound, fewer '|' and ? in "
                   "repeated parts, or {m,n} with smaller counts")
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
