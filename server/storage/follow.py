"""Following an application after 送信: the resident's replies to a request for more information and the
Web Push subscriptions that tell them a status changed (docs/api.md "Following an application").

Its own migration component (``follow``), so its versions never collide with the core's. The reply writer
(:func:`write_response_in`) runs inside a write job for both paths that answer a request for information
(``POST /api/submissions/{id}/respond`` and ``submission.respond`` over sync); what it writes is decided
before, by the one respond policy (``server.responding.check_response``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from server.storage.migrations import Migration
from server.storage.submissions import (
    IdempotencyConflict,
    InvalidTransition,
    NotFound,
    SubmissionRecord,
    load_submission,
    move_status,
)
from server.storage.sync.blobs import files_pending
from server.storage.sync.records import utc_now

__all__ = ["FOLLOW_MIGRATIONS", "ResponseWrite", "write_response_in"]

_V1 = """
CREATE TABLE submission_responses (
    id TEXT PRIMARY KEY,             -- client-generated UUID: a reply is stored once, whichever path brings it
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    account_id TEXT NOT NULL,
    body_hash TEXT NOT NULL,         -- a reused id with another body is refused
    event_id INTEGER NOT NULL,       -- the submission_events row of the reply (needs_info -> in_review)
    files TEXT NOT NULL DEFAULT '[]',  -- [{sha256, size, name, type}] attached to the reply
    at TEXT NOT NULL
);
CREATE INDEX submission_responses_by_event ON submission_responses (event_id);

CREATE TABLE push_subscriptions (
    endpoint TEXT PRIMARY KEY,       -- the push service's URL for one browser: one account at a time
    account_id TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX push_subscriptions_by_account ON push_subscriptions (account_id);

CREATE TABLE push_vapid (
    id INTEGER PRIMARY KEY CHECK (id = 1),  -- one key pair per installation, made on first start
    private_pem TEXT NOT NULL,
    public_key TEXT NOT NULL,        -- base64url of the uncompressed P-256 point (applicationServerKey)
    created_at TEXT NOT NULL
);
"""

FOLLOW_MIGRATIONS: list[Migration] = [(1, _V1)]

_enc = msgspec.json.Encoder(order="sorted")


class ResponseWrite(msgspec.Struct, kw_only=True):
    """A reply the respond policy accepted: what the writer stores."""

    id: str
    submission_id: str
    account_id: str
    answers: dict[str, Any]  # the submission's answers after the reply (merged, validated)
    comment: str | None
    files: list[dict[str, Any]]  # [{sha256, size, name, type}] shown on the timeline
    attachments: list[str]  # every sha256 to link to the submission (reply files + files the answers name)
    body_hash: str


def write_response_in(conn: sqlite3.Connection, w: ResponseWrite) -> tuple[SubmissionRecord, bool]:
    """Inside a write job: store the reply once; ``(record, created)``.

    The same id with the same body and account is a retry (``created`` False, nothing written); with another
    body or account an :class:`IdempotencyConflict`. A submission that is not the account's is
    :class:`NotFound` (the same as an absent one); one not waiting for information an
    :class:`InvalidTransition`. The files are linked as when filing: flagged ``incomplete_attachments`` while
    the filer does not hold one of them.
    """
    prev = conn.execute("SELECT submission_id, account_id, body_hash FROM submission_responses WHERE id = ?",
                        (w.id,)).fetchone()
    if prev is not None:
        if tuple(prev) != (w.submission_id, w.account_id, w.body_hash):
            raise IdempotencyConflict(w.id)
        rec = load_submission(conn, w.submission_id)
        assert rec is not None
        return rec, False
    rec = load_submission(conn, w.submission_id, history=False)
    if rec is None or rec.account_id != w.account_id:
        raise NotFound(w.submission_id)
    if rec.status != "needs_info":
        raise InvalidTransition(rec.status, "in_review")
    now = utc_now()
    flags = rec.flags
    if w.attachments:
        conn.executemany("INSERT OR IGNORE INTO sync_submission_files (submission_id, sha256) VALUES (?, ?)",
                         [(w.submission_id, sha) for sha in w.attachments])
        flags = [f for f in flags if f != "incomplete_attachments"]
        if files_pending(conn, w.submission_id):
            flags.append("incomplete_attachments")
    event = move_status(conn, w.submission_id, "needs_info", "in_review", actor=w.account_id, comment=w.comment,
                        answers=(rec, w.answers), flags=flags)
    conn.execute("INSERT INTO submission_responses (id, submission_id, account_id, body_hash, event_id, files, at)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?)", (w.id, w.submission_id, w.account_id, w.body_hash, event,
                                                   _enc.encode(w.files).decode(), now))
    out = load_submission(conn, w.submission_id)
    assert out is not None
    return out, True
