"""Which database a device's replica and pull cursor belong to (``docs/sync.md``, "Database identity").

A cursor is a position in ONE database's change log. A device pointed at another database (replaced), or at
an older copy of the same one (a restored backup, which hands out the seq numbers after its backup point a
second time), must start its replica over instead of silently skipping changes. So:

- ``database_id``: random, made when the sync tables are created (``sync_meta``); every pull carries it and
  a device sends it back (``db=``). Another id → :class:`SyncReset` ``database-changed``.
- A cursor beyond the high-water mark → :class:`SyncReset` ``cursor-ahead`` (never echoed back).
- Restores: the id travels with a backup copy, so the server also keeps a *mark* next to the database file
  (``<db>.sync-mark``: the id and the high-water mark, written at start, by the maintenance task and at
  shutdown). A database whose id matches the mark but whose high-water mark is below it is an older copy:
  it gets a new id at start (:func:`check_restored`), and every device resets on its next pull.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path

from server.storage.sync.records import high_water

__all__ = [
    "META_SQL",
    "SyncReset",
    "check_pull",
    "check_restored",
    "database_id",
    "mark_path",
    "new_database_id",
    "write_mark",
]

log = logging.getLogger("madoguchi.sync")

# Sync migration 2 (listed in the store's MIGRATIONS).
META_SQL = """
CREATE TABLE sync_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO sync_meta (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
"""


class SyncReset(Exception):
    """The device must drop its replica and cursor and pull from 0 (``reason``: database-changed, cursor-ahead)."""

    def __init__(self, reason: str, database_id: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.database_id = database_id


def database_id(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM sync_meta WHERE key = 'database_id'").fetchone()
    return str(row[0]) if row else ""


def check_pull(conn: sqlite3.Connection, cursor: int, hwm: int, claimed: str | None) -> str:
    """The database id for a pull page, or :class:`SyncReset` when the device's position is not in this log."""
    current = database_id(conn)
    if claimed and claimed != current:
        raise SyncReset("database-changed", current)
    if cursor > hwm:
        raise SyncReset("cursor-ahead", current)
    return current


def new_database_id(conn: sqlite3.Connection) -> str:
    """Give the database a new identity (every device resets on its next pull)."""
    conn.execute("INSERT INTO sync_meta (key, value) VALUES ('database_id', lower(hex(randomblob(16))))"
                 " ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    return database_id(conn)


def mark_path(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".sync-mark")


def _read_mark(db_path: str | Path) -> dict[str, object]:
    try:
        out = json.loads(mark_path(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def check_restored(conn: sqlite3.Connection, db_path: str | Path) -> bool:
    """At start (in a write transaction): a new id when this file is an older copy of the database last
    served here. True when the id changed."""
    mark = _read_mark(db_path)
    current = database_id(conn)
    seen = mark.get("high_water")
    if mark.get("database_id") != current or not isinstance(seen, int):
        return False
    hwm = high_water(conn)
    if hwm >= seen:
        return False
    new = new_database_id(conn)
    log.warning("sync: the database is older than the one last served here (change log at %d, was %d):"
                " restored from a backup? New database id %s: every device re-pulls from scratch", hwm, seen, new)
    return True


def write_mark(conn: sqlite3.Connection, db_path: str | Path) -> None:
    """Record the id and high-water mark next to the database file (atomically: a torn mark is no mark)."""
    path = mark_path(db_path)
    if str(db_path) == ":memory:" or not path.parent.is_dir():
        return
    mark = _read_mark(db_path)
    current, hwm = database_id(conn), high_water(conn)
    if mark.get("database_id") == current and mark.get("high_water") == hwm:
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps({"database_id": current, "high_water": hwm}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # e.g. a read-only directory: serving goes on, only restore detection is lost
        log.warning("sync: cannot write %s (%s): a restored older copy would not be recognised", path, exc)
