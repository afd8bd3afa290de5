"""Finding a resident at the counter: the registry's stored search keys and the one search rule.

Every record has keys (``procedure_definitions.namefold``) in ``resident_search_keys``, written by
``SQLiteRegistry.upsert`` in the same transaction as the record: its family and given names, 「姓名」 together
and the same three of its kana reading (kind ``name``, ``search_key``), its address from each of its parts
onwards (``address``, ``address_key``, so 四丁目5番6号 is 4-5-6: 東京都千代田区外神田4-5-6, 千代田区外神田4-5-6,
外神田4-5-6, 4-5-6) and its id (``id``). A search term matches a key by prefix, through the index. Birth dates
match the ``residents.birth_date`` column (ISO; partial dates match a query of the same year or month). The
terms of a search narrow it (AND). Names are stored and shown byte for byte: the folded keys live in this
table only.

Migration component ``registry``; ``refresh_search_keys`` (at every start) rebuilds the keys when the fold's
rules or variant table changed since they were made (``FOLD_VERSION``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from procedure_definitions.japan import parse_wareki_partial
from procedure_definitions.namefold import address_key, search_key
from server.storage.migrations import Migration, refresh_if_fold_changed

__all__ = [
    "MAX_LENGTH",
    "MAX_TERMS",
    "REGISTRY_MIGRATIONS",
    "Condition",
    "SearchInputError",
    "matching_ids",
    "name_keys",
    "parse_search",
    "record_keys",
    "refresh_search_keys",
    "write_keys",
]

# At most this many terms in one search: each is one index range; more would only slow the answer.
MAX_TERMS = 8
MAX_LENGTH = 100  # characters of one parameter
_TOP = "\U0010ffff"  # above every character: [key, key + _TOP) is "starts with key" in BINARY order


def _address_parts(rec: Mapping[str, Any]) -> list[str]:
    return [str(rec[k]) for k in ("prefecture", "city", "town", "block", "building") if rec.get(k)]


def name_keys(rec: Mapping[str, Any]) -> set[str]:
    """The folded keys of a record's name (``family``, ``given``, ``family_kana``, ``given_kana`` of a mapping):
    each part and 「姓名」 together, of the name and of its kana reading. The registry's and the console
    queue's (``server.storage.submission_search``) name keys: one rule."""
    keys: set[str] = set()
    for family, given in ((rec.get("family"), rec.get("given")), (rec.get("family_kana"), rec.get("given_kana"))):
        for text in (family, given, f"{family or ''}{given or ''}"):
            if text:
                keys.add(search_key(str(text)))
    return keys - {""}


def record_keys(rec: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(kind, key) of a record (a ``ResidentRecord`` as a mapping): what a search term is compared with."""
    keys: set[tuple[str, str]] = {("name", k) for k in name_keys(rec)}
    parts = _address_parts(rec)
    for i in range(len(parts)):
        keys.add(("address", address_key("".join(parts[i:]))))
    keys.add(("id", search_key(str(rec["id"]))))
    return {(kind, key) for kind, key in keys if key}


def write_keys(conn: sqlite3.Connection, records: Iterable[Mapping[str, Any]]) -> None:
    """Replace the keys of ``records`` (inside the write job that stores them)."""
    for rec in records:
        conn.execute("DELETE FROM resident_search_keys WHERE resident_id = ?", (rec["id"],))
        conn.executemany("INSERT INTO resident_search_keys (resident_id, kind, key) VALUES (?, ?, ?)",
                         [(rec["id"], kind, key) for kind, key in sorted(record_keys(rec))])


def _rebuild(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM resident_search_keys")
    cur = conn.execute("SELECT id, record FROM residents")
    while batch := cur.fetchmany(1000):
        write_keys(conn, [{**msgspec.json.decode(r[1]), "id": r[0]} for r in batch])


def refresh_search_keys(conn: sqlite3.Connection) -> bool:
    """Rebuild every stored key when they were made by another fold (a city extended the variant table, a
    rule changed) or by none yet (the migration); call in a write job at start. True when it rebuilt."""
    return refresh_if_fold_changed(conn, "resident_search_meta", _rebuild)


_V1 = """
CREATE TABLE resident_search_keys (
    resident_id TEXT NOT NULL,
    kind TEXT NOT NULL,            -- name | address | id
    key TEXT NOT NULL,             -- procedure_definitions.namefold.search_key: never shown
    PRIMARY KEY (resident_id, kind, key)
) WITHOUT ROWID;
CREATE INDEX resident_search_keys_key ON resident_search_keys (key, kind, resident_id);
CREATE TABLE resident_search_meta (fold_version TEXT NOT NULL);
CREATE INDEX residents_birth_date ON residents (birth_date);
"""

# v1: the keys and the birth-date index; v2: the keys of the records already there (the start-up refresh).
REGISTRY_MIGRATIONS: list[Migration] = [(1, _V1), (2, refresh_search_keys)]


class SearchInputError(ValueError):
    """A search that cannot run: ``path`` names the parameter (``q``, ``name``, ``birth_date``, ``address``)."""

    def __init__(self, path: str, code: str, message: str) -> None:
        super().__init__(message)
        self.path, self.code = path, code


@dataclass(frozen=True)
class Condition:
    """One term: a resident matches when one of their keys starts with the key of its kind in ``keys``
    ((kind, key) pairs: a name's and an address's fold differ), or (``birth``, an ISO date, year-month or
    year) their birth date falls in it."""

    keys: tuple[tuple[str, str], ...]
    birth: str | None = None


def _keys(term: str, kinds: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = [(kind, address_key(term) if kind == "address" else search_key(term)) for kind in kinds]
    return tuple((kind, key) for kind, key in out if key)


def _birth(text: str) -> str | None:
    try:
        return parse_wareki_partial(text)
    except ValueError:
        return None


def parse_search(q: str | None = None, *, name: str | None = None, birth_date: str | None = None,
                 address: str | None = None) -> list[Condition]:
    """The conditions of a search (the API's and the console's one rule). ``q``: each term (split at spaces)
    is a name, kana, id or address prefix, or a birth date (``1980-04-12``, ``S55.4.12``, ``昭和55年4月12日``,
    a year or a month); ``name``: name, kana or id terms; ``birth_date``: one date; ``address``: address terms.
    SearchInputError when nothing is left to search, for a ``birth_date`` that is no date, a parameter over
    ``MAX_LENGTH`` characters, or more than ``MAX_TERMS`` terms."""
    for path, value in (("q", q), ("name", name), ("birth_date", birth_date), ("address", address)):
        if value is not None and len(value) > MAX_LENGTH:
            raise SearchInputError(path, "too_long", f"at most {MAX_LENGTH} characters")
    conds: list[Condition] = []
    for term in (q or "").split():
        keys, birth = _keys(term, ("name", "id", "address")), _birth(term)
        if keys or birth:
            conds.append(Condition(keys, birth))
    for text, kinds in ((name, ("name", "id")), (address, ("address",))):
        conds += [Condition(keys) for keys in (_keys(t, kinds) for t in (text or "").split()) if keys]
    if birth_date and birth_date.strip():
        birth = _birth(birth_date.strip())
        if birth is None:
            raise SearchInputError("birth_date", "invalid",
                                   "not a date: use 1980-04-12, S55.4.12 or 昭和55年4月12日 (a year or month too)")
        conds.append(Condition((), birth))
    if not conds:
        # An empty prefix matches everyone: the search is for finding one person, not listing the registry.
        raise SearchInputError("q", "empty", "empty search")
    if len(conds) > MAX_TERMS:
        raise SearchInputError("q", "too_many_terms", f"at most {MAX_TERMS} terms")
    return conds


def _condition_sql(c: Condition) -> tuple[str, list[Any]]:
    parts: list[str] = []
    args: list[Any] = []
    by_key: dict[str, list[str]] = {}
    for kind, key in c.keys:
        by_key.setdefault(key, []).append(kind)
    for key, kinds in by_key.items():  # one index range per distinct key
        parts.append("SELECT resident_id FROM resident_search_keys WHERE key >= ? AND key < ?"
                     f" AND kind IN ({', '.join('?' * len(kinds))})")
        args += [key, key + _TOP, *kinds]
    if c.birth is not None:
        # The date itself or within it (a year, a month); a record that knows only the year or month of a
        # full date asked for is a candidate too.
        year, month = c.birth[:4], c.birth[:7]
        parts.append("SELECT id FROM residents WHERE (birth_date >= ? AND birth_date < ?) OR birth_date IN (?, ?)")
        args += [c.birth, c.birth + _TOP, year, month]
    return " UNION ".join(parts), args


def matching_ids(conn: sqlite3.Connection, conds: Sequence[Condition], limit: int) -> list[str]:
    """The ids of the residents every condition matches, in id order, at most ``limit``."""
    selects = [_condition_sql(c) for c in conds]
    sql = " INTERSECT ".join(f"SELECT * FROM ({s})" for s, _ in selects)
    args = [a for _, arg in selects for a in arg]
    return [r[0] for r in conn.execute(f"SELECT id FROM residents WHERE id IN ({sql}) ORDER BY id LIMIT ?",
                                       [*args, limit])]
