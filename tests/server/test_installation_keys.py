"""The installation's keys (server/storage/keys.py): one read-or-make for the three key tables (preview links,
bookings' manage links, tickets' phone links) on a real migrated SQLite file. A key kept by an older installation
stays the key (links given before keep working); each table has its own key; only the three tables are keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.booking.manage_links import manage_key_in
from server.storage.keys import installation_key, installation_key_in, preview_secret
from server.storage.schema import migrate
from server.tickets.store import ticket_key_in


def test_a_key_stored_before_stays_and_each_purpose_has_its_own(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "keys.db")
    migrate(conn)
    # As an installation made before the shared helper stored them: rows written by hand.
    old = {t: bytes([i]) * 32 for i, t in enumerate(("preview_keys", "manage_keys", "ticket_keys"), 1)}
    for table, key in old.items():
        conn.execute(f"INSERT INTO {table} (id, secret, created_at) VALUES (1, ?, '2026-01-01T00:00:00+00:00')",
                     (key.hex(),))
    assert (preview_secret(conn), manage_key_in(conn), ticket_key_in(conn)) == tuple(old.values())
    assert all(installation_key(conn, t) == k for t, k in old.items())  # type: ignore[arg-type]

    fresh = sqlite3.connect(tmp_path / "fresh.db")
    migrate(fresh)
    assert installation_key(fresh, "ticket_keys") is None  # a read makes nothing
    made = {t: installation_key_in(fresh, t) for t in ("preview_keys", "manage_keys", "ticket_keys")}
    assert len(set(made.values())) == 3 and all(len(k) == 32 for k in made.values())
    assert installation_key_in(fresh, "manage_keys") == made["manage_keys"]  # made once, then kept
    assert fresh.execute("SELECT count(*) FROM manage_keys").fetchone()[0] == 1
    with pytest.raises(ValueError):
        installation_key(fresh, "accounts")  # type: ignore[arg-type]
