"""Publish requests (``publish_requests``): a configurator asks for a draft revision to be published, another
one approves it in the console (``/console/procedures/requests/{id}``) when the city wants two people.

A request names the draft revision asked for: pushing the draft again leaves the request open but it can no
longer be approved (``draft-changed``: the approver would publish a text they have not seen). Approving is
publishing (``server.definitions.publishing.publish_draft(..., request_id=...)``, which closes the request);
withdrawing closes it without publishing. Writers run inside a write job of the one writer.
"""

from __future__ import annotations

import secrets
import sqlite3
from typing import Any

import msgspec

from server.definitions.live import now_utc

__all__ = ["PublishRequest", "create_request_in", "get_request", "list_requests", "withdraw_request_in"]

_COLUMNS = ("id, draft_id, draft_revision, requested_by, requested_at, live_from, closes_at, close_message, state,"
            " approved_by, approved_at, published_at")


class PublishRequest(msgspec.Struct):
    id: str
    draft_id: str
    draft_revision: int
    requested_by: str
    requested_at: str
    live_from: str | None
    closes_at: str | None
    close_message: dict[str, str] | None
    state: str  # 'open', 'published', 'withdrawn' or 'superseded'
    approved_by: str | None
    approved_at: str | None
    published_at: str | None


def _row(r: tuple[Any, ...]) -> PublishRequest:
    vals = list(r)
    vals[7] = msgspec.json.decode(vals[7]) if vals[7] else None
    return PublishRequest(*vals)


def get_request(conn: sqlite3.Connection, request_id: str) -> PublishRequest | None:
    r = conn.execute(f"SELECT {_COLUMNS} FROM publish_requests WHERE id = ?", (request_id,)).fetchone()
    return _row(r) if r else None


def list_requests(conn: sqlite3.Connection, *, draft_id: str | None = None, state: str | None = None,
                  limit: int = 500) -> list[PublishRequest]:
    """Newest first; ``draft_id`` / ``state``: only those."""
    where, args = [], []
    if draft_id is not None:
        where.append("draft_id = ?")
        args.append(draft_id)
    if state is not None:
        where.append("state = ?")
        args.append(state)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM publish_requests {clause} ORDER BY requested_at DESC, id LIMIT ?",
                        (*args, limit)).fetchall()
    return [_row(r) for r in rows]


def create_request_in(conn: sqlite3.Connection, *, draft_id: str, draft_revision: int, actor: str,
                      live_from: str | None, closes_at: str | None,
                      close_message: dict[str, str] | None) -> PublishRequest:
    """A new open request for this revision. An open request of the same draft is superseded by it: one
    open request per draft, the newest ask."""
    conn.execute("UPDATE publish_requests SET state = 'superseded' WHERE draft_id = ? AND state = 'open'",
                 (draft_id,))
    rid = "pub_" + secrets.token_urlsafe(12)
    conn.execute(
        "INSERT INTO publish_requests (id, draft_id, draft_revision, requested_by, requested_at, live_from,"
        " closes_at, close_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (rid, draft_id, draft_revision, actor, now_utc(), live_from, closes_at,
         msgspec.json.encode(close_message).decode() if close_message else None))
    found = get_request(conn, rid)
    assert found is not None
    return found


def withdraw_request_in(conn: sqlite3.Connection, request_id: str) -> PublishRequest | None:
    """Close an open request without publishing; None when there is no such request. A closed one is left
    as it is (the caller tells from its state)."""
    conn.execute("UPDATE publish_requests SET state = 'withdrawn' WHERE id = ? AND state = 'open'", (request_id,))
    return get_request(conn, request_id)
