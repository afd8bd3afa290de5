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

import sqlite3
from typing import Final

from server.storage.keys import derived_token, installation_key, installation_key_in, key_table_sql
from server.storage.migrations import Migration

__all__ = ["MANAGE_LINK_MIGRATIONS", "manage_key_in", "manage_path", "manage_token", "manage_url_in"]

MANAGE_LINK_MIGRATIONS: list[Migration] = [(1, key_table_sql("manage_keys"))]

TOKEN_CHARS: Final = 22  # base64url characters kept: 132 bits


def manage_key_in(conn: sqlite3.Connection) -> bytes:
    """The installation's key of manage links, made on first call (call inside a write job)."""
    return installation_key_in(conn, "manage_keys")


def manage_token(key: bytes, booking_id: str) -> str:
    return derived_token(key, "manage:" + booking_id, TOKEN_CHARS)


def manage_path(booking_id: str, token: str) -> str:
    """The app's route of the manage link (the origin goes in front)."""
    return f"/#/v/m/{booking_id}/{token}"


def manage_url_in(conn: sqlite3.Connection, booking_id: str, origin: str) -> str | None:
    """The full manage link of ``booking_id`` when the server can make it again (its stored hash is that of the
    derived token), else None. Reads only: a read job is enough."""
    from server.booking.store import load_booking_in, manage_token_ok  # the store imports this module

    key = installation_key(conn, "manage_keys")
    record = load_booking_in(conn, booking_id)
    if key is None or record is None:
        return None
    token = manage_token(key, booking_id)
    if not manage_token_ok(record, token):  # the store's one check of a manage token
        return None
    return origin.rstrip("/") + manage_path(booking_id, token)
