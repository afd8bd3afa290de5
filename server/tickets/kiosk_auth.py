"""Which place a lobby kiosk (受付機) serves: the ``madoguchi_kiosk`` cookie a paired kiosk carries.

Part of the one queue's authorization (docs/queue.md "Kiosk", docs/security.md "Kiosks"): the console pairs a
kiosk (``server/console/kiosk_pages.py`` makes the ``kiosks`` row and sets the cookie); the queue's routes ask
:func:`kiosk_place` here and nowhere else. The cookie is a random secret; only its sha256 is stored
(``server.auth.store.hash_secret``, hex), so a copy of the database does not make a kiosk. A revoked kiosk is no kiosk.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from litestar.connection import ASGIConnection

from server.auth.middleware import parse_cookies
from server.auth.store import hash_secret

__all__ = ["KIOSK_COOKIE", "kiosk_place", "kiosk_place_in"]

KIOSK_COOKIE: Final[str] = "madoguchi_kiosk"
_MAX_TOKEN = 200  # longer than any token we make: not looked up at all


def kiosk_place_in(conn: sqlite3.Connection, token: str) -> str | None:
    """The place of the kiosk whose cookie is ``token``, None when unknown or revoked."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    row = conn.execute("SELECT place FROM kiosks WHERE token_hash = ? AND revoked_at IS NULL",
                       (hash_secret(token).hex(),)).fetchone()
    return None if row is None else str(row[0])


async def kiosk_place(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The place of the paired kiosk making ``request`` (its ``madoguchi_kiosk`` cookie), or None. Async: it
    reads the ``kiosks`` table through the app's database (``await kiosk_place(request)``)."""
    token = parse_cookies(request.scope).get(KIOSK_COOKIE)
    if not token:
        return None
    db = request.app.state.services.db
    place: str | None = await db.read(lambda c: kiosk_place_in(c, token))
    return place
