"""The append-only, hash-chained audit log.

Each entry stores ``seq`` (1, 2, 3, ... with no gaps), ``prev_hash`` and ``hash`` =
sha256(prev_hash + canonical JSON of {seq, at, actor, action, subject, details}). Editing an entry breaks
its hash; removing or reordering entries breaks the sequence or the link to the previous hash; removing
the newest entries is caught by ``audit_head``, which the same transaction moves forward. Someone with
write access to the file can still rebuild the whole chain: export the head hash elsewhere (e.g. the
daily backup report) to anchor it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from typing import Any

import msgspec

__all__ = [
    "GENESIS", "MAX_IDS", "VerifyResult", "append_audit", "count_recent", "entry_hash",
    "many", "record", "verify_chain",
]

GENESIS = "0" * 64

_encoder = msgspec.json.Encoder(order="sorted")


class VerifyResult(msgspec.Struct, frozen=True):
    ok: bool
    first_bad_id: int | None = None
    reason: str | None = None
    entries: int = 0


def _canonical(seq: int, at: str, actor: str | None, action: str, subject: str | None, details: Any) -> bytes:
    # Sorted keys, no whitespace, UTF-8 as is: the same entry always hashes the same.
    return _encoder.encode(
        {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "details": details}
    )


def entry_hash(prev_hash: str, seq: int, at: str, actor: str | None, action: str, subject: str | None,
               details: Any) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + _canonical(seq, at, actor, action, subject, details)).hexdigest()


def _stamp(t: dt.datetime) -> str:
    """How entries record their time (UTC, microseconds): the text orders like the time."""
    return t.isoformat(timespec="microseconds")


MAX_IDS = 1000  # ids listed in one entry about many records (the count is always whole)


def many(ids: list[str]) -> dict[str, Any]:
    """Details of one entry about many records read at once: ``{"count", "ids"}`` (the first ``MAX_IDS``).
    One entry per read, not one per record: a page of 5,000 records costs one append."""
    return {"count": len(ids), "ids": ids[:MAX_IDS]}


def count_recent(conn: sqlite3.Connection, *, subject: str, action: str, seconds: int, method: str) -> int:
    """Entries of ``action`` about ``subject`` in the last ``seconds`` whose details name ``method``."""
    since = _stamp(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds))
    return int(conn.execute(
        "SELECT count(*) FROM audit_log WHERE subject = ? AND action = ? AND at >= ?"
        " AND json_extract(details, '$.method') = ?", (subject, action, since, method)).fetchone()[0])


def append_audit(
    conn: sqlite3.Connection,
    *,
    actor: str | None,
    action: str,
    subject: str | None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one entry; call inside a write job (the writer transaction serializes the chain)."""
    details = details or {}
    head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    prev_seq, prev_hash = (head[0], head[1]) if head else (0, GENESIS)
    seq = prev_seq + 1
    at = _stamp(dt.datetime.now(dt.UTC))
    h = entry_hash(prev_hash, seq, at, actor, action, subject, details)
    cur = conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, subject, _encoder.encode(details).decode(), prev_hash, h),
    )
    conn.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        (seq, h),
    )
    return int(cur.lastrowid or 0)


def verify_chain(conn: sqlite3.Connection) -> VerifyResult:
    """Walk the log in storage order and report the first entry that does not fit."""
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    last_id: int | None = None
    for row in conn.execute(
        "SELECT id, seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY id"
    ):
        count += 1
        rid = row[0]
        last_id = rid
        if row[1] != expected_seq:
            return VerifyResult(False, rid, f"sequence {row[1]!r} where {expected_seq} was expected "
                                "(entry removed or reordered)", count)
        if row[7] != prev_hash:
            return VerifyResult(False, rid, "previous-hash link broken (entry removed or reordered)", count)
        try:
            details = msgspec.json.decode(row[6])
        except (msgspec.DecodeError, TypeError):
            return VerifyResult(False, rid, "details are not valid JSON (entry edited)", count)
        if entry_hash(prev_hash, row[1], row[2], row[3], row[4], row[5], details) != row[8]:
            return VerifyResult(False, rid, "hash mismatch (entry edited)", count)
        prev_hash = row[8]
        expected_seq += 1
    head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    if head is None:
        if count:
            return VerifyResult(False, last_id, "audit head missing", count)
        return VerifyResult(True, None, None, 0)
    if head[0] != expected_seq - 1 or head[1] != prev_hash:
        return VerifyResult(False, last_id, f"log ends at entry {expected_seq - 1} but the head records "
                            f"entry {head[0]} (newest entries removed)", count)
    return VerifyResult(True, None, None, count)


async def record(db: Any, *, actor: str | None, action: str, subject: str | None,
                 details: dict[str, Any] | None = None) -> int:
    """Append one entry through the writer queue (for handlers that have no write job of their own)."""
    return int(await db.write(lambda c: append_audit(c, actor=actor, action=action, subject=subject,
                                                     details=details)))
