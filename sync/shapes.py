"""The shape of each known field of a shared record (pure rules, one place for push and conflict resolution).

A shape is a function ``value -> problem | None``: ``None`` when the value fits, else a short English
description of what was expected (the caller names the field). ``null`` always fits: it clears the field.
Fields without a declared shape (drafts' answers, a record's extra fields) take any JSON value within the
request limits the HTTP layer already enforces (size, depth, number range).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "LONG_TEXT",
    "SHORT_TEXT",
    "Shape",
    "append_list",
    "element_problem",
    "id_string",
    "json_object",
    "month_or_date",
    "person_name",
    "set_list",
    "text",
]

Shape = Callable[[Any], "str | None"]

SHORT_TEXT = 200  # names, ids, phone numbers, relationships
LONG_TEXT = 10_000  # addresses' notes, an entry's text

_MONTH = re.compile(r"\d{4}-\d{2}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def text(limit: int) -> Shape:
    def check(v: Any) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str):
            return "a string"
        return None if len(v) <= limit else f"at most {limit} characters"
    return check


def id_string(v: Any) -> bool:
    """An element's or entry's ``id``: a non-empty string of at most 200 characters."""
    return isinstance(v, str) and 0 < len(v) <= SHORT_TEXT


def person_name(v: Any) -> str | None:
    """``{family, given}``: both strings (either may be empty), nothing else."""
    if v is None:
        return None
    if (not isinstance(v, dict) or not set(v) <= {"family", "given"}
            or not all(isinstance(x, str) and len(x) <= SHORT_TEXT for x in v.values())):
        return 'an object {"family": string, "given": string}'
    return None


def month_or_date(v: Any) -> str | None:
    """A date of birth: ``YYYY-MM-DD`` or, when the day is unknown, ``YYYY-MM`` (a real calendar date)."""
    if v is None:
        return None
    try:
        if isinstance(v, str) and _DAY.fullmatch(v):
            dt.date.fromisoformat(v)
            return None
        if isinstance(v, str) and _MONTH.fullmatch(v):
            dt.date.fromisoformat(v + "-01")
            return None
    except ValueError:
        pass
    return "a date YYYY-MM-DD or YYYY-MM"


def json_object(v: Any) -> str | None:
    """A JSON object (its members free)."""
    return None if v is None or isinstance(v, dict) else "an object"


def element_problem(e: Any) -> str | None:
    """A ``set`` element: an object with a string ``id``."""
    if not isinstance(e, dict) or not id_string(e.get("id")):
        return 'objects with a string "id"'
    return None


def set_list(v: Any) -> str | None:
    """A ``set`` field's whole value: a list of elements, each with a string id."""
    if v is None:
        return None
    if not isinstance(v, list):
        return 'a list of objects with a string "id"'
    for e in v:
        if (p := element_problem(e)) is not None:
            return "a list of " + p
    return None


def append_list(v: Any) -> str | None:
    """An ``append`` field: a list of entries, each an object with a string ``id`` or a scalar."""
    if v is None:
        return None
    if not isinstance(v, list):
        return 'a list of entries (objects with a string "id", or strings, numbers and booleans)'
    for e in v:
        if isinstance(e, dict):
            if not id_string(e.get("id")):
                return 'a list of entries: an object entry needs a string "id"'
        elif isinstance(e, str):
            if len(e) > LONG_TEXT:
                return f"a list of entries: a text entry has at most {LONG_TEXT} characters"
        elif e is None or isinstance(e, list):
            return 'a list of entries (objects with a string "id", or strings, numbers and booleans)'
    return None
