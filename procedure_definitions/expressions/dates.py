"""Calendar arithmetic on ISO date strings, in integer math only (mirrored exactly in pwa/js/expr.js)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from .errors import EvalError

__all__ = [
    "ERAS",
    "add_days",
    "age",
    "civil_from_days",
    "days_from_civil",
    "format_date",
    "japan_today",
    "parse_date",
    "wareki",
]

_ISO = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)

# (first day as (y, m, d), name); the Meiji era is counted from its proclamation in the Gregorian calendar.
ERAS: tuple[tuple[tuple[int, int, int], str], ...] = (
    ((2019, 5, 1), "令和"),
    ((1989, 1, 8), "平成"),
    ((1926, 12, 25), "昭和"),
    ((1912, 7, 30), "大正"),
    ((1868, 10, 23), "明治"),
)


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _month_days(y: int, m: int) -> int:
    if m == 2:
        return 29 if _leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def parse_date(value: object, fn: str) -> tuple[int, int | None, int | None] | None:
    """(year, month|None, day|None) of an ISO date or partial date; None for null.

    Raises EvalError('type') for non-strings and EvalError('bad_date') for malformed or impossible dates.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise EvalError("type", f"{fn}() expects a date string, got {type_name(value)}")
    m = _ISO.fullmatch(value)
    if not m:
        raise EvalError("bad_date", f"{fn}(): '{value}' is not an ISO date (YYYY-MM-DD)")
    y = int(m.group(1))
    mo = int(m.group(2)) if m.group(2) else None
    d = int(m.group(3)) if m.group(3) else None
    if (
        y < 1
        or (mo is not None and not 1 <= mo <= 12)
        or (d is not None and mo is not None and not 1 <= d <= _month_days(y, mo))
    ):
        raise EvalError("bad_date", f"{fn}(): '{value}' is not a valid date")
    return y, mo, d


def type_name(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    return "object"


def full_date(value: object, fn: str) -> tuple[int, int, int] | None:
    """A complete date, or None for null and partial dates."""
    parts = parse_date(value, fn)
    if parts is None or parts[1] is None or parts[2] is None:
        return None
    return parts[0], parts[1], parts[2]


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def format_date(y: int, m: int, d: int) -> str:
    return f"{y:04d}-{m:02d}-{d:02d}"


def add_days(date: tuple[int, int, int], n: int) -> str:
    y, m, d = civil_from_days(days_from_civil(*date) + n)
    if not 1 <= y <= 9999:
        raise EvalError("bad_date", "add_days(): the result is outside the years 1-9999")
    return format_date(y, m, d)


def age(born: tuple[int, int, int], on: tuple[int, int, int]) -> int:
    """Completed years; someone born on 29 February has a birthday on 1 March in common years."""
    years = on[0] - born[0]
    if (on[1], on[2]) < (born[1], born[2]):
        years -= 1
    return years


def wareki(date: tuple[int, int, int]) -> str | None:
    """令和元年5月1日 style; None before the Meiji era."""
    for start, name in ERAS:
        if date >= start:
            n = date[0] - start[0] + 1
            year = "元" if n == 1 else str(n)
            return f"{name}{year}年{date[1]}月{date[2]}日"
    return None


_JST = 9 * 3600
_today: tuple[float, float, str] = (0.0, 0.0, "")  # [start, end) of the cached Japanese day, in UNIX time


def japan_today() -> str:
    """Today's date in Japan (UTC+9, no daylight saving), independent of the machine's time zone.

    Asked once per form evaluation (every submission the server validates): the answer is kept until the
    Japanese day ends."""
    global _today
    t = time.time()
    start, end, day = _today
    if start <= t < end:
        return day
    now = datetime.fromtimestamp(t, UTC) + timedelta(hours=9)
    start = (t + _JST) // 86400 * 86400 - _JST
    _today = (start, start + 86400, format_date(now.year, now.month, now.day))
    return _today[2]
