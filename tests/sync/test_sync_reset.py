"""A device pointed at another database, or at a restored older copy of its own, starts its replica over
(docs/sync.md, "Database identity") instead of silently skipping changes. Real server processes, real files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import httpx

from server.storage.sync.identity import mark_path
from sync.client import Device, HTTPTransport
from testsupport.servers import ServerProcess
from testsupport.sessions import login, prepare_db


def _db(tmp: Path, name: str) -> str:
    path = str(tmp / name)
    prepare_db(path)
    return path


def _device(server: ServerProcess, db: str) -> Device:
    _, session = login(db, "counter")
    return Device(HTTPTransport(server.url, session=session))


def _point(dev: Device, server: ServerProcess, db: str) -> None:
    """The same device, now talking to ``server`` (signed in there)."""
    _, session = login(db, "counter")
    dev.transport = HTTPTransport(server.url, session=session)


def _keys(dev: Device) -> set[str]:
    return {rid for (_, rid), rec in dev.replica.items() if not rec.deleted}


def _database_id(db: str) -> str:
    with sqlite3.connect(db) as c:
        return str(c.execute("SELECT value FROM sync_meta WHERE key = 'database_id'").fetchone()[0])


def test_a_replaced_database_resets_the_device_and_keeps_its_outbox(tmp_path: Path) -> None:
    a_db, b_db = _db(tmp_path, "a.db"), _db(tmp_path, "b.db")
    assert _database_id(a_db) != _database_id(b_db)
    with ServerProcess(a_db) as a:
        dev = _device(a, a_db)
        dev.patch("household", "h-a", {"address": "札幌"})
        assert dev.sync()
        assert _keys(dev) == {"h-a"} and dev.database_id == _database_id(a_db)
        # Acknowledged by A, not yet seen in a pull: still in the outbox.
        dev.patch("household", "h-late", {"address": "函館"})
        assert dev.push_once() == 1 and dev.outbox[0].state == "sent"
    with ServerProcess(b_db) as b:
        other = _device(b, b_db)
        other.patch("household", "h-b", {"address": "仙台"})
        assert other.sync()
        _point(dev, b, b_db)
        # The pull names A's id: B answers sync-reset instead of a page.
        r = httpx.get(b.url + "/sync/pull", params={"cursor": dev.cursor, "db": dev.database_id},
                      cookies=dev.transport.cookies)  # type: ignore[attr-defined]
        assert r.status_code == 409 and r.json()["type"].endswith("/sync-reset")
        assert r.json()["reason"] == "database-changed" and r.json()["database_id"] == _database_id(b_db)
        assert dev.sync()
        assert dev.resets == 1
        assert _keys(dev) == {"h-b", "h-late"}, "A's records are gone; the outbox entry A acknowledged reached B"
        assert dev.database_id == _database_id(b_db)


def _backup(src: str, dst: str) -> None:
    with sqlite3.connect(src) as s, sqlite3.connect(dst) as d:
        s.backup(d)


def _restore(backup: str, db: str) -> None:
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    os.replace(backup, db)


def _backed_up_then_changed(tmp_path: Path) -> tuple[str, ServerProcess, Device]:
    """A database with h1, backed up to ``backup.db``, then h2 on top; the device has seen both."""
    db = _db(tmp_path, "live.db")
    server = ServerProcess(db, mode="standalone")  # the standalone sync server: its start runs the same check
    with server:
        dev = _device(server, db)
        dev.patch("household", "h1", {"address": "札幌"})
        assert dev.sync()
        _backup(db, str(tmp_path / "backup.db"))
        dev.patch("household", "h2", {"address": "小樽"})
        assert dev.sync()
    return db, server, dev


def test_a_restored_older_copy_gets_a_new_identity_and_devices_reset(tmp_path: Path) -> None:
    db, server, dev = _backed_up_then_changed(tmp_path)
    cursor, old_id = dev.cursor, dev.database_id
    _restore(str(tmp_path / "backup.db"), db)
    with server:
        assert _database_id(db) != old_id, "the older copy was recognised from the mark and got a new id"
        # Someone writes before the device comes back: in the restored log this change takes the seq the
        # device's cursor already covers. Without the new id the device would skip it.
        other = _device(server, db)
        other.patch("household", "h3", {"address": "旭川"})
        assert other.sync() and other.cursor <= cursor
        _point(dev, server, db)
        assert dev.sync()
        assert dev.resets == 1
        assert _keys(dev) == {"h1", "h3"}


def test_a_cursor_ahead_of_the_database_is_refused_not_echoed(tmp_path: Path) -> None:
    db, server, dev = _backed_up_then_changed(tmp_path)
    # Restored without the mark (e.g. onto another machine): same id, lower high-water mark.
    _restore(str(tmp_path / "backup.db"), db)
    mark_path(db).unlink()
    with server:
        _point(dev, server, db)
        r = httpx.get(server.url + "/sync/pull", params={"cursor": dev.cursor},
                      cookies=dev.transport.cookies)  # type: ignore[attr-defined]
        assert r.status_code == 409 and r.json()["reason"] == "cursor-ahead", r.text
        assert dev.sync()
        assert dev.resets == 1 and _keys(dev) == {"h1"} and dev.cursor < 2
