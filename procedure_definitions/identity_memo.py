"""A memo keyed by the identity of never-modified definition parts (compiled ASTs, field lists).

Compiled procedures live as long as the process and are never changed, so what is derived from one of their
parts can be kept by that part's ``id``. The entry holds the part itself, so its id cannot be reused by
another object while the entry exists; the size bound keeps ad-hoc parts (previews, tests) from growing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["IdentityMemo"]

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    def __init__(self, derive: Callable[[Any], V], max_entries: int) -> None:
        self._derive = derive
        self._max = max_entries
        self._entries: dict[int, tuple[Any, V]] = {}

    def __call__(self, key: Any) -> V:
        entry = self._entries.get(id(key))
        if entry is not None and entry[0] is key:
            return entry[1]
        value = self._derive(key)
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[id(key)] = (key, value)
        return value
