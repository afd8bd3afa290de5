"""The installation's key for preview links (migration component ``preview``; ``server.preview`` signs with it).

One random HMAC-SHA256 key, made on first use and kept in the database: a restart keeps every live preview
link working. Deleting the row voids every link at once (a new key is made on the next use).
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3

from server.storage.migrations import Migration

__all__ = ["PREVIEW_MIGRATIONS", "preview_secret"]

PREVIEW_MIGRATIONS: list[Migration] = [(1, """
CREATE TABLE preview_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),  -- one key per installation
    secret TEXT NOT NULL,                   -- 32 random bytes, hex
    created_at TEXT NOT NULL
);
""")]


def preview_secret(conn: sqlite3.Connection) -> bytes:
    """The preview key, made on first call (call inside a write job)."""
    row = conn.execute("SELECT secret FROM preview_keys WHERE id = 1").fetchone()
    if row is None:
        conn.execute("INSERT INTO preview_keys (id, secret, created_at) VALUES (1, ?, ?)",
                     (secrets.token_hex(32), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        row = conn.execute("SELECT secret FROM preview_keys WHERE id = 1").fetchone()
    return bytes.fromhex(str(row[0]))
