"""The installation's random keys, one per purpose, each made on first use and kept in the database (a restart
keeps every link signed with it working; deleting a key's row voids those links at once, a new key is made on
the next use): preview links (``preview_keys``, migration component ``preview`` below; ``server.preview``),
a booking's manage link (``manage_keys``, component ``manage_links``: ``server.booking.manage_links``) and a
queue ticket's phone link (``ticket_keys``, component ``tickets``: ``server.tickets.store``).

The three tables keep their names, shapes and rows (existing databases keep working): one row ``id = 1``, the
secret as 32 random bytes in hex, ``created_at``. :func:`installation_key_in` is the one way to read-or-make a key,
:func:`installation_key` the one way to only read it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import sqlite3
from typing import Literal

from server.storage.migrations import Migration

__all__ = ["PREVIEW_MIGRATIONS", "KeyTable", "derived_token", "installation_key", "installation_key_in", "key_table_sql",
           "preview_secret"]

# The key tables (a closed set: the name goes into the SQL text).
KeyTable = Literal["preview_keys", "manage_keys", "ticket_keys"]
_TABLES: frozenset[str] = frozenset(KeyTable.__args__)  # type: ignore[attr-defined]


def key_table_sql(table: KeyTable) -> str:
    """The migration step that makes a key table (each table's component owns its step)."""
    return f"""
CREATE TABLE {table} (
    id INTEGER PRIMARY KEY CHECK (id = 1),  -- one key per installation
    secret TEXT NOT NULL,                   -- 32 random bytes, hex
    created_at TEXT NOT NULL
);
"""


PREVIEW_MIGRATIONS: list[Migration] = [(1, key_table_sql("preview_keys"))]


def installation_key(conn: sqlite3.Connection, table: KeyTable) -> bytes | None:
    """The key kept in ``table``, None before its first use (reads only: a read job is enough)."""
    if table not in _TABLES:
        raise ValueError(f"not a key table: {table!r}")
    row = conn.execute(f"SELECT secret FROM {table} WHERE id = 1").fetchone()
    return None if row is None else bytes.fromhex(str(row[0]))


def installation_key_in(conn: sqlite3.Connection, table: KeyTable) -> bytes:
    """The key kept in ``table``, made on first call (call inside a write job)."""
    key = installation_key(conn, table)
    if key is None:
        conn.execute(f"INSERT INTO {table} (id, secret, created_at) VALUES (1, ?, ?)",
                     (secrets.token_hex(32), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        key = installation_key(conn, table)
        assert key is not None
    return key


def preview_secret(conn: sqlite3.Connection) -> bytes:
    """The preview key, made on first call (call inside a write job)."""
    return installation_key_in(conn, "preview_keys")


def derived_token(key: bytes, message: str, chars: int | None = None) -> str:
    """A link's secret the server can make again instead of storing it: base64url(HMAC-SHA256(key, message)),
    cut to ``chars`` characters when given (only its sha256 is stored where it is checked)."""
    token = base64.urlsafe_b64encode(hmac.new(key, message.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    return token if chars is None else token[:chars]
