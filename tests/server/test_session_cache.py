"""The in-memory session cache answers exactly as the database would, whichever connection changed it, and
a known session costs no SQLite read (so nothing blocks the event loop)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.auth import store
from server.auth.session_cache import SessionCache
from server.storage.db import Database
from server.storage.schema import migrate
from testsupport.sessions import login_as


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(str(tmp_path / "cache.db"))
    database.write_sync(migrate)
    yield database
    database.close()


def other_connection(db: Database, sql: str, *params: object) -> None:
    """A change made outside the server process (CLI, an administrator with sqlite3)."""
    conn = sqlite3.connect(db.path, isolation_level=None)
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


def lookup(db: Database, cache: SessionCache, token: str) -> tuple[object, store.SessionInfo] | None:
    return asyncio.run(cache.lookup(db, token, store.now()))


def test_second_lookup_is_served_from_memory(db: Database) -> None:
    token = login_as(db, "resident")["cookies"]["madoguchi_session"]
    cache = SessionCache()
    first, second = lookup(db, cache, token), lookup(db, cache, token)
    assert first is not None and first == second
    assert (cache.misses, cache.hits) == (1, 1)
    assert lookup(db, cache, "not-a-session") is None


@pytest.mark.parametrize("change", [
    "DELETE FROM sessions",
    "UPDATE sessions SET expires_at = 1",
    "UPDATE sessions SET last_seen_at = last_seen_at - idle_seconds",
    "UPDATE accounts SET disabled_at = '2026-01-01'",
])
def test_a_session_ended_elsewhere_is_refused_once_the_counter_is_read(db: Database, change: str) -> None:
    token = login_as(db, "resident")["cookies"]["madoguchi_session"]
    cache = SessionCache(confirm_every=0)
    assert lookup(db, cache, token) is not None
    other_connection(db, change)
    assert lookup(db, cache, token) is None


def test_role_change_and_binding_are_seen_at_once(db: Database) -> None:
    session = login_as(db, "resident")
    token, account_id = session["cookies"]["madoguchi_session"], session["account_id"]
    cache = SessionCache(confirm_every=0)
    found = lookup(db, cache, token)
    assert found is not None and found[0].resident_id is None  # type: ignore[attr-defined]
    other_connection(db, "INSERT INTO residents (id, record, family, given, birth_date, updated_at)"
                         " VALUES ('R1', '{}', '山田', '太郎', '1980-01-01', '2026-01-01')")
    other_connection(db, "INSERT INTO identity_bindings (account_id, resident_id, bound_by, bound_at)"
                         " VALUES (?, 'R1', 'test', '2026-01-01')", account_id)
    found = lookup(db, cache, token)
    assert found is not None and found[0].resident_id == "R1"  # type: ignore[attr-defined]
    other_connection(db, "UPDATE accounts SET role = 'counter' WHERE id = ?", account_id)
    found = lookup(db, cache, token)
    assert found is not None and found[0].role == "counter"  # type: ignore[attr-defined]


def test_idle_touch_keeps_the_entry(db: Database) -> None:
    token = login_as(db, "resident")["cookies"]["madoguchi_session"]
    cache = SessionCache()
    found = lookup(db, cache, token)
    assert found is not None
    db.write_sync(lambda c: store.touch_session(c, found[1].token_hash))
    cache.touched(token, found[1], store.now())
    assert lookup(db, cache, token) is not None
    assert cache.hits == 1, "moving last_seen_at forward does not invalidate"


def test_size_is_bounded(db: Database) -> None:
    tokens = [login_as(db, "resident")["cookies"]["madoguchi_session"] for _ in range(5)]
    cache = SessionCache(max_entries=3)
    for token in tokens:
        assert lookup(db, cache, token) is not None
    assert len(cache._entries) == 3


def test_a_change_by_this_server_applies_to_the_very_next_request(db: Database) -> None:
    token = login_as(db, "resident")["cookies"]["madoguchi_session"]
    cache = SessionCache(confirm_every=3600)  # never re-read on its own: only the writer's hook can tell
    cache.watch(db)
    assert lookup(db, cache, token) is not None
    db.write_sync(lambda c: c.execute("DELETE FROM sessions"))
    assert lookup(db, cache, token) is None


def test_a_change_by_another_process_applies_within_confirm_every(db: Database) -> None:
    token = login_as(db, "resident")["cookies"]["madoguchi_session"]
    cache = SessionCache(confirm_every=0.2)
    assert lookup(db, cache, token) is not None
    other_connection(db, "UPDATE accounts SET disabled_at = '2026-01-01'")
    time.sleep(0.25)
    assert lookup(db, cache, token) is None


def test_a_hit_reads_nothing(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    token = login_as(db, "resident")["cookies"]["madoguchi_session"]
    cache = SessionCache(confirm_every=3600)
    assert lookup(db, cache, token) is not None
    reads: list[object] = []
    real_read = db.read

    async def counted(fn: object) -> object:
        reads.append(fn)
        return await real_read(fn)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "read", counted)
    for _ in range(3):
        assert lookup(db, cache, token) is not None
    assert reads == [] and cache.hits == 3
