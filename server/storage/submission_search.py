"""What the console queue's search box compares: a submission's ``search_text``, with the name fold.

``search_text`` holds the receipt number and every answer value as stored (a search for part of a phone
number or an address still finds it), then a line of folded keys (``procedure_definitions.namefold``, the one
fold of every search of people): each text value's key and, for a name or kana object, the key of its parts
run together. So 「たかはし けんいち」 finds 髙橋 健一 and 「高橋」 finds 髙橋, while the answers themselves stay
byte for byte. The queue matches the raw text or the folded key of what was typed (``queue_condition``).

Migration component ``submission_search``: the fold version the stored keys were made with; at every start
``refresh_submission_search`` rebuilds them when the fold changed (a city extended ``name_variants.txt``),
as ``server.registry_search`` does for the registry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from procedure_definitions.namefold import search_key
from server.storage.migrations import Migration, refresh_if_fold_changed

__all__ = ["SUBMISSION_SEARCH_MIGRATIONS", "queue_condition", "refresh_submission_search", "search_text"]

_NAME_PARTS = ("family", "given")


def _leaves(v: Any) -> Iterator[str]:
    if isinstance(v, dict):
        for x in v.values():
            yield from _leaves(x)
    elif isinstance(v, list):
        for x in v:
            yield from _leaves(x)
    elif v is not None and not isinstance(v, bool):
        yield str(v)


def _folded(v: Any) -> Iterator[str]:
    if isinstance(v, Mapping):
        if all(isinstance(v.get(k), str) for k in _NAME_PARTS):  # 「姓 名」 typed as one: 山田太郎
            yield search_key(v["family"] + v["given"])
        for x in v.values():
            yield from _folded(x)
    elif isinstance(v, list):
        for x in v:
            yield from _folded(x)
    elif isinstance(v, str):
        yield search_key(v)


def search_text(receipt_number: str, answers: dict[str, Any]) -> str:
    """Values only (no keys, so a search for "name" does not match every row), then the folded keys. A key
    has no spaces (the fold drops them), so a folded search never spans two values."""
    raw = " ".join([receipt_number, *_leaves(answers)])
    keys = dict.fromkeys(k for k in _folded(answers) if k)
    return raw + "\n" + " ".join(keys)


def queue_condition(search: str) -> tuple[str, list[Any]]:
    """The queue's ``AND ...`` clause for what was typed: the raw text or its folded key."""
    key = search_key(search)
    if not key or key == search:
        return " AND instr(search_text, ?) > 0", [search]
    return " AND (instr(search_text, ?) > 0 OR instr(search_text, ?) > 0)", [search, key]


def _rebuild(conn: sqlite3.Connection) -> None:
    cur = conn.execute("SELECT id, receipt_number, answers FROM submissions")
    while batch := cur.fetchmany(1000):
        conn.executemany("UPDATE submissions SET search_text = ? WHERE id = ?",
                         [(search_text(r[1], msgspec.json.decode(r[2])), r[0]) for r in batch])


def refresh_submission_search(conn: sqlite3.Connection) -> bool:
    """Rebuild every submission's ``search_text`` when it was made by another fold or by none yet (the
    migration); call in a write job at start. True when it rebuilt."""
    return refresh_if_fold_changed(conn, "submission_search_meta", _rebuild)


# v1: the fold version of the stored keys; v2: the keys of the submissions already there (the start-up refresh).
SUBMISSION_SEARCH_MIGRATIONS: list[Migration] = [
    (1, "CREATE TABLE submission_search_meta (fold_version TEXT NOT NULL);"),
    (2, refresh_submission_search),
]
