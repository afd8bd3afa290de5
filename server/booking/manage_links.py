"""The secret manage link of a booking without an account (``/#/v/m/{id}/{token}``), made so that the server can
give it again: in the reminder SMS the day before (docs/booking.md "Reminders").

The token is base64url(HMAC-SHA256(installation key, "manage:" + booking id)), 128 bits kept (22 characters);
the ``bookings`` row still stores only its sha256 (``manage_hash``) and the check stays the store's
``manage_token_ok`` (constant time). The key is one random 32-byte secret per installation in ``manage_keys``
(migration component ``manage_links``), made on first use. Whoever holds the database can make every link — as
they can read and change every booking anyway (docs/security.md "Reminders"). Deleting the key row voids every
link given so far (a new key is made on the next booking): :func:`manage_url_in` then gives none, since it only
returns a token whose sha256 matches the stored one (bookings made before this rule too).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
from typing import Final

from server.booking import clock
from server.storage.migrations import Migration

__all__ = ["MANAGE_LINK_MIGRATIONS", "manage_key_in", "manage_path", "manage_token", "manage_url_in"]

MANAGE_LINK_MIGRATIONS: list[Migration] = [(1, """
CREATE TABLE manage_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),  -- one key per installation
    secret TEXT NOT NULL,                   -- 32 random bytes, hex
    created_at TEXT NOT NULL
);
""")]

TOKEN_CHARS: Final = 22  # base64url characters kept: 132 bits


def manage_key_in(conn: sqlite3.Connection) -> bytes:
    """The installation's key of manage links, made on first call (call inside a write job)."""
    row = conn.execute("SELECT secret FROM manage_keys WHERE id = 1").fetchone()
    if row is None:
        conn.execute("INSERT INTO manage_keys (id, secret, created_at) VALUES (1, ?, ?)",
                     (secrets.token_hex(32), clock.now_iso()))
        row = conn.execute("SELECT secret FROM manage_keys WHERE id = 1").fetchone()
    return bytes.fromhex(str(row[0]))


def manage_token(key: bytes, booking_id: str) -> str:
    digest = hmac.new(key, b"manage:" + booking_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:TOKEN_CHARS]


def manage_path(booking_id: str, token: str) -> str:
    """The app's route of the manage link (the origin goes in front)."""
    return f"/#/v/m/{booking_id}/{token}"


def manage_url_in(conn: sqlite3.Connection, booking_id: str, origin: str) -> str | None:
    """The full manage link of ``booking_id`` when the server can make it again (its stored hash is that of the
    derived token), else None. Reads only: a read job is enough."""
    row = conn.execute("SELECT secret FROM manage_keys WHERE id = 1").fetchone()
    stored = conn.execute("SELECT manage_hash FROM bookings WHERE id = ?", (booking_id,)).fetchone()
    if row is None or stored is None or stored[0] is None:
        return None
    token = manage_token(bytes.fromhex(str(row[0])), booking_id)
    if not hmac.compare_digest(hashlib.sha256(token.encode()).hexdigest(), str(stored[0])):
        return None
    return origin.rstrip("/") + manage_path(booking_id, token)
