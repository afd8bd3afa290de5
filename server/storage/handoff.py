"""The hand-off outbox (transactional outbox) and the departments' webhook targets, in the database.

* ``handoff_targets``: one row per department that hands applications to a core system: the URL, the
  shared secret (never shown back, never logged: ``madoguchi handoff status`` says only whether one is set),
  and the status at which an application is handed off (``on_status``, default ``accepted``).
* ``handoff_outbox``: one row per (application, event). :func:`enqueue` is called by the two writers of a
  status (``server.storage.submissions.create_many`` and ``move_status``) INSIDE their transaction, so a
  status change and its hand-off row commit or roll back together, with the application as it is then
  (``application``: the submission's row as JSON, the shape of ``SubmissionRecord``): what the core system
  gets is the application as of the event, whatever changes later. The sender (``server/handoff.py``) reads
  due rows, makes the body from that copy and stores it on the first attempt (the export's columns need the
  mapping files the server loaded: no writer transaction has them; a retry sends the same bytes), and marks each row
  ``delivered`` on a 2xx, or schedules the next attempt; a row older than the maximum age becomes
  ``failed`` (``madoguchi handoff retry ID`` makes it pending again). Nothing is ever deleted.

Times are ISO-8601 UTC text as ``utc_now`` writes them: they order as the times they name.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from server.audit import append_audit
from server.storage.migrations import Migration
from server.storage.sync.records import utc_now

__all__ = [
    "DEFAULT_ON_STATUS",
    "HANDOFF_MIGRATIONS",
    "OUTBOX_STATES",
    "Due",
    "OutboxRow",
    "Target",
    "claim_body",
    "department_counts",
    "due_rows",
    "enqueue",
    "get_target",
    "iso",
    "list_outbox",
    "list_targets",
    "mark_attempt",
    "remove_target",
    "retry_row",
    "set_target",
]

# What a core system needs is the decided application: 受理 (``accepted``) is when the department's 審査 is
# done and the answers can no longer change (needs_info → reply changes them). A department whose core system
# does the 審査 itself (takes the application in as soon as it is filed) sets ``received``.
DEFAULT_ON_STATUS = "accepted"
OUTBOX_STATES = ("pending", "delivered", "failed")

_V1 = """
CREATE TABLE handoff_targets (
    department TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,              -- the HMAC key as given to the core-system team (whsec_...)
    on_status TEXT NOT NULL DEFAULT 'accepted',
    updated_at TEXT NOT NULL
);
CREATE TABLE handoff_outbox (
    id INTEGER PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    event TEXT NOT NULL,               -- the status the application reached
    department TEXT NOT NULL,
    created_at TEXT NOT NULL,          -- when the status changed (same transaction)
    window_from TEXT NOT NULL,         -- the maximum age counts from here (created_at; a retry resets it)
    state TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_attempt_at TEXT,
    last_status INTEGER,               -- the core system's HTTP status (0: not reached)
    last_error TEXT,                   -- no secret, no response body: a status line or an error class
    delivered_at TEXT,
    body BLOB,                         -- made at the first attempt; every retry sends these bytes
    UNIQUE (submission_id, event)
);
CREATE INDEX handoff_outbox_due ON handoff_outbox (state, next_attempt_at);
"""

# The application as of the event, written with the row (enqueue). Rows enqueued before this version have
# none: the sender reads the application as it is at their first attempt, as it did then.
_V2 = "ALTER TABLE handoff_outbox ADD COLUMN application TEXT"

HANDOFF_MIGRATIONS: list[Migration] = [(1, _V1), (2, _V2)]

# The submission's row as JSON in the shape of ``server.storage.submissions.SubmissionRecord`` (its fields,
# history left out): SQLite's json_object in the INSERT itself, so the copy costs no read of its own.
_APPLICATION = (
    "json_object('id', s.id, 'receipt_number', s.receipt_number, 'procedure_id', s.procedure_id,"
    " 'procedure_version', s.procedure_version, 'status', s.status, 'received_at', s.received_at,"
    " 'flags', json(s.flags), 'department', s.department, 'answers', json(s.answers), 'account_id', s.account_id,"
    " 'on_behalf_of', s.on_behalf_of, 'updated_at', s.updated_at, 'corrected', json(coalesce(s.corrected, '[]')))"
)


def iso(t: dt.datetime) -> str:
    """The stored form of a time: as ``utc_now`` writes it."""
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def enqueue(conn: sqlite3.Connection, submission_ids: Sequence[str]) -> int:
    """Inside the writer transaction that set these submissions' status: one outbox row for each whose
    department has a target handing off at the status it now has, holding the application as it is now. One
    statement; a second arrival at the same status (there is none in the status model) would add nothing.
    Returns the rows written."""
    if not submission_ids:
        return 0
    now = utc_now()
    return conn.execute(
        "INSERT OR IGNORE INTO handoff_outbox (submission_id, event, department, created_at, window_from,"
        f" next_attempt_at, application) SELECT s.id, s.status, s.department, ?, ?, ?, {_APPLICATION}"
        " FROM submissions s JOIN handoff_targets t"
        f" ON t.department = s.department AND t.on_status = s.status WHERE s.id IN ({', '.join('?' * len(submission_ids))})",
        (now, now, now, *submission_ids)).rowcount


@dataclass(frozen=True)
class Target:
    department: str
    url: str
    secret: str = field(default="", repr=False)  # never printed, never logged: not even in a stray repr
    on_status: str = DEFAULT_ON_STATUS
    updated_at: str = ""


def set_target(conn: sqlite3.Connection, department: str, url: str, secret: str, on_status: str) -> None:
    conn.execute("INSERT INTO handoff_targets (department, url, secret, on_status, updated_at) VALUES (?, ?, ?, ?, ?)"
                 " ON CONFLICT(department) DO UPDATE SET url = excluded.url, secret = excluded.secret,"
                 " on_status = excluded.on_status, updated_at = excluded.updated_at",
                 (department, url, secret, on_status, utc_now()))


def remove_target(conn: sqlite3.Connection, department: str) -> bool:
    return conn.execute("DELETE FROM handoff_targets WHERE department = ?", (department,)).rowcount > 0


def _target(row: Any) -> Target:
    return Target(department=row[0], url=row[1], secret=row[2], on_status=row[3], updated_at=row[4])


def get_target(conn: sqlite3.Connection, department: str) -> Target | None:
    row = conn.execute("SELECT department, url, secret, on_status, updated_at FROM handoff_targets"
                       " WHERE department = ?", (department,)).fetchone()
    return _target(row) if row else None


def list_targets(conn: sqlite3.Connection) -> list[Target]:
    return [_target(r) for r in conn.execute(
        "SELECT department, url, secret, on_status, updated_at FROM handoff_targets ORDER BY department")]


class OutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    """What an admin sees of a row (no body: it holds personal data)."""

    id: int
    submission_id: str
    event: str
    department: str
    state: str
    attempts: int
    created_at: str
    next_attempt_at: str
    last_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    receipt_number: str | None  # what staff look an application up by


_ROW = ("id, submission_id, event, department, state, attempts, created_at, next_attempt_at, last_attempt_at,"
        " last_status, last_error, delivered_at")
_ROW_SQL = ", ".join(f"o.{c}" for c in _ROW.split(", ")) + ", s.receipt_number"


def list_outbox(conn: sqlite3.Connection, *, states: Sequence[str] = ("pending", "failed"),
                department: str | None = None, limit: int = 200) -> list[OutboxRow]:
    sql = (f"SELECT {_ROW_SQL} FROM handoff_outbox o LEFT JOIN submissions s ON s.id = o.submission_id"
           f" WHERE o.state IN ({', '.join('?' * len(states))})")
    args: list[Any] = list(states)
    if department is not None:
        sql += " AND o.department = ?"
        args.append(department)
    rows = conn.execute(sql + " ORDER BY o.id LIMIT ?", [*args, limit]).fetchall()
    return [OutboxRow(**dict(zip([*_ROW.split(", "), "receipt_number"], r, strict=True))) for r in rows]


def department_counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """``{department: {pending, delivered, failed}}`` over every department with a target or a row."""
    out: dict[str, dict[str, int]] = {t.department: dict.fromkeys(OUTBOX_STATES, 0) for t in list_targets(conn)}
    for dept, state, n in conn.execute("SELECT department, state, count(*) FROM handoff_outbox"
                                       " GROUP BY department, state"):
        out.setdefault(dept, dict.fromkeys(OUTBOX_STATES, 0))[state] = n
    return dict(sorted(out.items()))


class Due(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    submission_id: str
    event: str
    department: str
    created_at: str
    window_from: str
    attempts: int
    body: bytes | None
    application: str | None = None  # the application as of the event (JSON); None: enqueued before v2


def due_rows(conn: sqlite3.Connection, now: str, limit: int = 50) -> list[Due]:
    return [Due(id=r[0], submission_id=r[1], event=r[2], department=r[3], created_at=r[4], window_from=r[5],
                attempts=r[6], body=r[7], application=r[8]) for r in conn.execute(
        "SELECT id, submission_id, event, department, created_at, window_from, attempts, body, application"
        " FROM handoff_outbox"
        " WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?", (now, limit))]


def claim_body(conn: sqlite3.Connection, row_id: int, body: bytes) -> bytes:
    """Store the body of a row's first attempt; the stored one when a body is there already."""
    conn.execute("UPDATE handoff_outbox SET body = ? WHERE id = ? AND body IS NULL", (body, row_id))
    return bytes(conn.execute("SELECT body FROM handoff_outbox WHERE id = ?", (row_id,)).fetchone()[0])


def mark_attempt(conn: sqlite3.Connection, row_id: int, *, status: int, error: str | None, now: str,
                 next_attempt_at: str | None, failed: bool) -> None:
    """Record one attempt: delivered (2xx), failed for good (``failed``: past its maximum age) or pending
    again at ``next_attempt_at``. A row no longer pending (an admin's retry raced it) is left alone."""
    delivered = 200 <= status < 300
    state = "delivered" if delivered else "failed" if failed else "pending"
    conn.execute("UPDATE handoff_outbox SET state = ?, attempts = attempts + 1, last_attempt_at = ?,"
                 " last_status = ?, last_error = ?, delivered_at = ?, next_attempt_at = coalesce(?, next_attempt_at)"
                 " WHERE id = ? AND state = 'pending'",
                 (state, now, status, None if delivered else error, now if delivered else None, next_attempt_at,
                  row_id))


def retry_row(conn: sqlite3.Connection, row_id: int, *, actor: str, via: str) -> str | None:
    """A failed (or pending) row is due now with a fresh maximum age, audited (``handoff.retry``); returns its
    former state, or None when there is no such row. A delivered row stays delivered (the core system
    acknowledged it). The one retry of the CLI and the console."""
    row = conn.execute("SELECT state FROM handoff_outbox WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        return None
    if row[0] != "delivered":
        now = utc_now()
        conn.execute("UPDATE handoff_outbox SET state = 'pending', next_attempt_at = ?, window_from = ?"
                     " WHERE id = ?", (now, now, row_id))
        append_audit(conn, actor=actor, action="handoff.retry", subject=f"handoff:{row_id}",
                     details={"was": row[0], "via": via})
    return str(row[0])
