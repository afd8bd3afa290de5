"""How counter codes (窓口で見せるコード) and the pre-entries loaded into visits are stored.

Its own migration component (``counter_codes``). A resident's account has at most one live code (the primary
key): making a new one replaces the old. Only the sha256 digest of the code is stored (``code_hash``, found
through its unique index by the digest); the pre-entry snapshot (the answers of one draft
or life event, JSON, bounded by ``server.counter_code``) travels with the code until a clerk loads it into a
visit, then lives on the visit (``visit_preentries``) and the code is gone (one use).

Every writer runs inside a write job of the one writer (``Database.write``); who may ask is decided before, in
``server.counter_code`` (``server.auth.roles``: ``COUNTER_CODE_ROLES``, ``PREENTRY_LOAD_ROLES``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import msgspec

from server.audit import append_audit
from server.storage.migrations import Migration

__all__ = [
    "COUNTER_CODE_MIGRATIONS",
    "EXPIRED_KEPT",
    "CodeRefused",
    "LoadedPreentry",
    "expire_codes_in",
    "load_code_in",
    "loaded_preentry",
    "put_code_in",
    "revoke_code_in",
]

_V1 = """
CREATE TABLE counter_codes (
    account_id TEXT PRIMARY KEY,     -- one live code per resident account: a new one replaces it
    code_hash TEXT NOT NULL UNIQUE,  -- sha256 of the normalized code (hex); the code itself is never stored
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,        -- UTC ISO; an expired code answers 410 until replaced or revoked
    preentry TEXT                    -- JSON snapshot of one draft or life event's answers, or NULL
);

CREATE TABLE visit_preentries (
    visit_id TEXT PRIMARY KEY,       -- visits.id (the visits component): one loaded account per visit
    account_id TEXT NOT NULL,        -- the resident account that showed the code
    preentry TEXT,                   -- the snapshot as uploaded (JSON), or NULL: the code carried none
    loaded_by TEXT NOT NULL,
    loaded_at TEXT NOT NULL
);
"""

COUNTER_CODE_MIGRATIONS: list[Migration] = [(1, _V1)]


class CodeRefused(Exception):
    """A load the code or the visit refuses: ``status`` (404/409/410) and the problem slug."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


class LoadedPreentry(msgspec.Struct, kw_only=True):
    visit_id: str
    visit_resident: str | None  # the visit's registry resident (read with the rest: whether the account is bound to them)
    account_id: str
    preentry: dict[str, Any] | None
    loaded_by: str
    loaded_at: str


def put_code_in(conn: sqlite3.Connection, *, account_id: str, code_hash: str, created_at: str, expires_at: str,
                preentry: bytes | None, summary: dict[str, Any]) -> None:
    """Make ``account_id``'s code (replacing any other of theirs)."""
    conn.execute("INSERT INTO counter_codes (account_id, code_hash, created_at, expires_at, preentry)"
                 " VALUES (?, ?, ?, ?, ?) ON CONFLICT(account_id) DO UPDATE SET code_hash = excluded.code_hash,"
                 " created_at = excluded.created_at, expires_at = excluded.expires_at, preentry = excluded.preentry",
                 (account_id, code_hash, created_at, expires_at, preentry.decode() if preentry else None))
    append_audit(conn, actor=account_id, action="counter_code.create", subject=f"account:{account_id}",
                 details={"expires_at": expires_at, **summary})


# An expired code still answers 410 (not 404) for a day, so the resident learns to make a new one; its
# pre-entry is dropped at once (nobody can load it any more).
EXPIRED_KEPT = dt.timedelta(days=1)


def expire_codes_in(conn: sqlite3.Connection, now: dt.datetime) -> int:
    """Housekeeping (``server.maintenance.tick``): the pre-entries of expired codes are deleted, the expired codes
    themselves after ``EXPIRED_KEPT``; the number of codes deleted."""
    at = now.isoformat(timespec="seconds")
    conn.execute("UPDATE counter_codes SET preentry = NULL WHERE expires_at <= ? AND preentry IS NOT NULL", (at,))
    old = (now - EXPIRED_KEPT).isoformat(timespec="seconds")
    return conn.execute("DELETE FROM counter_codes WHERE expires_at <= ?", (old,)).rowcount


def revoke_code_in(conn: sqlite3.Connection, account_id: str) -> bool:
    """Revoke the account's code; False when there was none (a repeat)."""
    gone = conn.execute("DELETE FROM counter_codes WHERE account_id = ?", (account_id,)).rowcount > 0
    if gone:
        append_audit(conn, actor=account_id, action="counter_code.revoke", subject=f"account:{account_id}",
                     details={})
    return gone


def load_code_in(conn: sqlite3.Connection, *, visit_id: str, code_hash: str, now: str, actor: str) -> LoadedPreentry:
    """Load the code whose digest is ``code_hash`` into the open visit ``visit_id``: the account and its
    pre-entry go onto the visit (replacing one loaded before), the code is spent. :class:`CodeRefused`:
    ``not-found`` (no such visit: 404), ``visit-closed`` (409), ``code-not-found`` (404: wrong, spent or
    revoked), ``code-expired`` (410)."""
    visit = conn.execute("SELECT status, resident_id FROM visits WHERE id = ?", (visit_id,)).fetchone()
    if visit is None:
        raise CodeRefused(404, "not-found")
    if visit[0] != "open":
        raise CodeRefused(409, "visit-closed")
    # Found by the digest through the unique index: a guess is hashed first, so the lookup's timing says
    # nothing about how close the guess was to a live code.
    row = conn.execute("SELECT account_id, expires_at, preentry FROM counter_codes WHERE code_hash = ?",
                       (code_hash,)).fetchone()
    if row is None:
        raise CodeRefused(404, "code-not-found")
    if str(row[1]) <= now:
        raise CodeRefused(410, "code-expired")
    account_id, snapshot = str(row[0]), row[2]
    conn.execute("DELETE FROM counter_codes WHERE account_id = ?", (account_id,))
    conn.execute("INSERT INTO visit_preentries (visit_id, account_id, preentry, loaded_by, loaded_at)"
                 " VALUES (?, ?, ?, ?, ?) ON CONFLICT(visit_id) DO UPDATE SET account_id = excluded.account_id,"
                 " preentry = excluded.preentry, loaded_by = excluded.loaded_by, loaded_at = excluded.loaded_at",
                 (visit_id, account_id, snapshot, actor, now))
    pre = msgspec.json.decode(snapshot) if snapshot else None
    append_audit(conn, actor=actor, action="visit.counter_code_load", subject=f"visit:{visit_id}",
                 details={"account_id": account_id,
                          "preentry": {"kind": pre["kind"], "id": pre["id"]} if pre else None})
    return LoadedPreentry(visit_id=visit_id, visit_resident=visit[1], account_id=account_id, preentry=pre,
                          loaded_by=actor, loaded_at=now)


def loaded_preentry(conn: sqlite3.Connection, visit_id: str) -> LoadedPreentry | None:
    """What was loaded into the visit, or None."""
    row = conn.execute("SELECT p.account_id, p.preentry, p.loaded_by, p.loaded_at, v.resident_id FROM visit_preentries p"
                       " JOIN visits v ON v.id = p.visit_id WHERE p.visit_id = ?", (visit_id,)).fetchone()
    if row is None:
        return None
    return LoadedPreentry(visit_id=visit_id, visit_resident=row[4], account_id=row[0],
                          preentry=msgspec.json.decode(row[1]) if row[1] else None, loaded_by=row[2], loaded_at=row[3])
