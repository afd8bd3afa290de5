"""Number helpers that must agree bit for bit with JavaScript (pwa/js/expr.js)."""

from __future__ import annotations

import math

__all__ = ["decimal_parts", "format_number", "is_number", "normalize_number", "round_half_away"]

_SAFE = 2**53


def is_number(v: object) -> bool:
    """JSON numbers only: Python bools are booleans, never numbers."""
    t = type(v)
    if t is int or t is float:  # what decoded JSON holds: answered without the isinstance walk
        return True
    return t is not bool and isinstance(v, int | float)


def normalize_number(x: float) -> int | float | None:
    """Doubles as the interpreters return them: non-finite -> None, integral -> int (so JSON shows 3, not 3.0)."""
    if isinstance(x, int):
        x = float(x)
    if math.isnan(x) or math.isinf(x):
        return None
    if x.is_integer() and abs(x) <= _SAFE:
        return int(x)
    return x


def decimal_parts(x: float) -> tuple[str, int]:
    """The shortest round-trip decimal digits of abs(x) and the point position n: abs(x) = 0.DIGITS * 10**n.

    This is ECMAScript's Number::toString decomposition (digits s, exponent n), zero -> ("0", 1).
    """
    x = abs(float(x))
    if x == 0:
        return "0", 1
    mantissa, _, exp = repr(x).partition("e")
    intpart, _, frac = mantissa.partition(".")
    raw = intpart + frac
    stripped = raw.lstrip("0")
    n = len(intpart) + int(exp or 0) - (len(raw) - len(stripped))
    return stripped.rstrip("0"), n


def format_number(x: float) -> str:
    """ECMAScript Number::toString(x): 3.0 -> '3', 0.1 -> '0.1', 1e21 -> '1e+21', 1e-7 -> '1e-7'."""
    if isinstance(x, int) and abs(x) <= _SAFE:
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    s, n = decimal_parts(x)
    k = len(s)
    if k <= n <= 21:
        body = s + "0" * (n - k)
    elif 0 < n <= 21:
        body = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + s
    else:
        e = n - 1
        exp = f"e{'+' if e >= 0 else '-'}{abs(e)}"
        body = (s + exp) if k == 1 else (s[0] + "." + s[1:] + exp)
    return sign + body


def round_half_away(x: float, digits: int = 0) -> float:
    """Round to ``digits`` decimal places, half away from zero, on the shortest decimal form of x.

    Working on the decimal digits (not on x * 10**digits) makes round(2.675, 2) = 2.68 as a person
    expects, and is reproducible exactly in JavaScript.
    """
    if x == 0 or math.isinf(x) or math.isnan(x):
        return x
    s, n = decimal_parts(x)
    keep = n + digits  # number of leading digits kept
    if keep >= len(s):
        return x
    if keep < 0:
        return 0.0
    kept = int(s[:keep] or "0")
    if s[keep] >= "5":
        kept += 1
    result = float(f"{kept}e{-digits}")
    return -result if x < 0 else result
