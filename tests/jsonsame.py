"""Strict JSON equality for conformance tests: booleans are not numbers, 1 == 1.0.

Kept apart from the interpreters' own ``deep_equal`` so the tests do not judge the code with itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["same"]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
