"""The function table shared by the parser, the interpreters and the type checker."""

from __future__ import annotations

__all__ = ["FUNCTIONS"]

# name -> (minimum, maximum) number of arguments; None = unbounded. Keep in step with pwa/js/expr.js.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "today": (0, 0),
    "age": (1, 2),
    "year": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "days_between": (2, 2),
    "add_days": (2, 2),
    "wareki": (1, 1),
    "count": (1, 1),
    "len": (1, 1),
    "sum": (1, 1),
    "min": (1, None),
    "max": (1, None),
    "round": (1, 2),
    "matches": (2, 2),
    "contains": (2, 2),
    "starts_with": (2, 2),
    "concat": (1, None),
    "if": (3, 3),
    "coalesce": (1, None),
    "number": (1, 1),
    "is_empty": (1, 1),
}
