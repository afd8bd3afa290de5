"""Pulling: one page of the change log, filtered to what the principal may see."""

from __future__ import annotations

import sqlite3

from server.storage.sync.access import change_scope
from server.storage.sync.identity import check_pull
from server.storage.sync.records import decoder, high_water
from sync.messages import Change, PullPage
from sync.records import Principal

__all__ = ["pull"]


def pull(conn: sqlite3.Connection, p: Principal, cursor: int, limit: int, *, database_id: str | None = None) -> PullPage:
    """One page of changes after ``cursor`` that ``p`` may see, in seq order.

    Raises :class:`~server.storage.sync.identity.SyncReset` when ``cursor`` (or ``database_id``, the id the
    device's cursor came with) is not a position in this database's log."""
    limit = max(1, min(limit, 5000))
    conn.execute("BEGIN")  # one snapshot for the high-water mark and the page
    try:
        hwm = high_water(conn)
        current = check_pull(conn, cursor, hwm, database_id)
        where = change_scope(p)
        rows = conn.execute(
            "SELECT c.seq, r.type, r.id, r.version, r.deleted, r.data FROM sync_changes c"
            " JOIN sync_records r ON r.type = c.type AND r.id = c.id"
            f" WHERE c.seq > :cursor AND c.seq <= :hwm AND ({where}) ORDER BY c.seq LIMIT :lim",
            {"me": p.id, "dept": p.department, "cursor": cursor, "hwm": hwm, "lim": limit + 1}).fetchall()
    finally:
        conn.execute("COMMIT")
    has_more = len(rows) > limit
    rows = rows[:limit]
    changes = [Change(seq=r[0], type=r[1], id=r[2], version=r[3], deleted=bool(r[4]), data=decoder.decode(r[5]))
               for r in rows]
    new_cursor = changes[-1].seq if has_more else max(cursor, hwm)
    return PullPage(changes=changes, cursor=new_cursor, has_more=has_more, database_id=current)
