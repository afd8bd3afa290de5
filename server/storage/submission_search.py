"""What the console queue's search box compares: a submission's ``search_text``, with the name fold.

``search_text`` holds the receipt number and every answer value as stored (a search for part of a phone
number or an address still finds it), then a line of folded keys (``procedure_definitions.namefold``, the one
fold of every search of people): each text value's key and, for a name or kana object, the key of its parts
run together. So 「たかはし けんいち」 finds 髙橋 健一 and 「高橋」 finds 髙橋, while the answers themselves stay
byte for byte. The keys also hold the registry name of the resident the submission is for (the one staff
filed it ``on_behalf_of``, else the record the filer's account is bound to; ``server.registry_search.name_keys``:
the name and its kana reading), so 「たかはし」 finds every application of 髙橋 健一, a 住民票の写し whose
answers hold no kana too. They are computed where the text is, in the write that stores the submission (one
indexed read of the records: ``filed_for``), and again when what they depend on changes: the answers (a
resident's reply), the filer's binding (``rekey_submissions``: ``server.identity``, a role change), a record's
name or kana (``SQLiteRegistry.upsert``). The queue matches the raw text or the folded key of what was typed
(``queue_condition``).

Migration component ``submission_search``: the fold version the stored keys were made with; at every start
``refresh_submission_search`` rebuilds them when the fold changed (a city extended ``name_variants.txt``),
as ``server.registry_search`` does for the registry; v3 rebuilt the keys of the stored submissions once with
their resident's name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import msgspec

from procedure_definitions.namefold import search_key
from server.registry_search import name_keys
from server.storage.migrations import Migration, refresh_if_fold_changed

__all__ = ["SUBMISSION_SEARCH_MIGRATIONS", "filed_for", "queue_condition", "refresh_submission_search",
           "rekey_submissions", "search_text"]

Names = Mapping[str, Any]  # family, given, family_kana, given_kana of a registry record
_CHUNK = 400  # ids per IN (...): under SQLite's oldest limit of 999 parameters with both halves

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


def search_text(receipt_number: str, answers: dict[str, Any], resident: Names | None = None) -> str:
    """Values only (no keys, so a search for "name" does not match every row), then the folded keys, with
    those of ``resident``'s name (``filed_for``). A key has no spaces (the fold drops them), so a folded
    search never spans two values."""
    raw = " ".join([receipt_number, *_leaves(answers)])
    keys = dict.fromkeys(k for k in _folded(answers) if k)
    if resident is not None:
        keys.update(dict.fromkeys(sorted(name_keys(resident))))
    return raw + "\n" + " ".join(keys)


def filed_for(conn: sqlite3.Connection, subs: Sequence[tuple[str | None, str | None]]) -> list[Names | None]:
    """The registry names each submission ``(on_behalf_of, account_id)`` is for: the record staff filed it
    for, else the record the filer's account is bound to (as ``server.console.readable.resident_names``
    shows it), else None. One statement of primary-key lookups for the whole batch (the filing's hot path)."""
    ids = sorted({b for b, _ in subs if b})
    accounts = sorted({a for b, a in subs if not b and a})
    if not ids and not accounts:
        return [None] * len(subs)
    cols = "r.id, r.family, r.given, json_extract(r.record, '$.family_kana'), json_extract(r.record, '$.given_kana')"
    by_id: dict[str, Names] = {}
    bound: dict[str, str] = {}
    for i in range(0, max(len(ids), len(accounts)), _CHUNK):
        some_ids, some_accounts = ids[i:i + _CHUNK], accounts[i:i + _CHUNK]
        rows = conn.execute(
            f"SELECT NULL, {cols} FROM residents r WHERE r.id IN ({', '.join('?' * len(some_ids))})"
            f" UNION ALL SELECT b.account_id, {cols} FROM identity_bindings b JOIN residents r ON r.id = b.resident_id"
            f" WHERE b.account_id IN ({', '.join('?' * len(some_accounts))})", [*some_ids, *some_accounts])
        for account, rid, *names in rows:
            by_id[rid] = dict(zip(("family", "given", "family_kana", "given_kana"), names, strict=True))
            if account is not None:
                bound[account] = rid
    return [by_id.get(b or bound.get(a or "", "")) for b, a in subs]


def _rekey(conn: sqlite3.Connection, rows: list[Any]) -> None:
    """Rewrite the ``search_text`` of rows ``(id, receipt_number, answers, on_behalf_of, account_id)``."""
    names = filed_for(conn, [(r[3], r[4]) for r in rows])
    conn.executemany("UPDATE submissions SET search_text = ? WHERE id = ?",
                     [(search_text(r[1], msgspec.json.decode(r[2]), n), r[0]) for r, n in zip(rows, names, strict=True)])


def rekey_submissions(conn: sqlite3.Connection, *, account_id: str | None = None,
                      resident_ids: Sequence[str] = ()) -> None:
    """Inside the write job that changed what the keys hold: rewrite the keys of the submissions filed by
    ``account_id`` (its binding changed) and of those for ``resident_ids`` (their name or kana changed), on
    behalf or by a bound account. Indexed (``submissions_account``, ``submissions_on_behalf``)."""
    select = "SELECT id, receipt_number, answers, on_behalf_of, account_id FROM submissions"
    if account_id is not None:
        _rekey(conn, conn.execute(f"{select} WHERE account_id = ?", (account_id,)).fetchall())
    for i in range(0, len(resident_ids), _CHUNK):
        some = list(resident_ids[i:i + _CHUNK])
        marks = ", ".join("?" * len(some))
        _rekey(conn, conn.execute(
            f"{select} WHERE on_behalf_of IN ({marks}) UNION {select} WHERE account_id IN"
            f" (SELECT account_id FROM identity_bindings WHERE resident_id IN ({marks}))", [*some, *some]).fetchall())


def queue_condition(search: str) -> tuple[str, list[Any]]:
    """The queue's ``AND ...`` clause for what was typed: the raw text or its folded key."""
    key = search_key(search)
    if not key or key == search:
        return " AND instr(search_text, ?) > 0", [search]
    return " AND (instr(search_text, ?) > 0 OR instr(search_text, ?) > 0)", [search, key]


def _rebuild(conn: sqlite3.Connection) -> None:
    cur = conn.execute("SELECT id, receipt_number, answers, on_behalf_of, account_id FROM submissions")
    while batch := cur.fetchmany(_CHUNK):
        _rekey(conn, batch)


def refresh_submission_search(conn: sqlite3.Connection) -> bool:
    """Rebuild every submission's ``search_text`` when it was made by another fold or by none yet (the
    migration); call in a write job at start. True when it rebuilt."""
    return refresh_if_fold_changed(conn, "submission_search_meta", _rebuild)


# v1: the fold version of the stored keys; v2: the keys of the submissions already there (the start-up refresh);
# v3: the keys of the submissions already there again, now with their resident's registry name.
SUBMISSION_SEARCH_MIGRATIONS: list[Migration] = [
    (1, "CREATE TABLE submission_search_meta (fold_version TEXT NOT NULL);"),
    (2, refresh_submission_search),
    (3, _rebuild),
]
