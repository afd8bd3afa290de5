"""The server's periodic housekeeping: on start and every ``Settings.maintenance_interval_s`` (default 60 s).

Each tick (:func:`tick`, one write job) deletes unfinished uploads idle for longer than the expiry
(``server/uploads.py``), drops expired counter codes' pre-entries (``server.storage.counter_codes``) and
records the sync database's identity and high-water mark next to the file (``server.storage.sync.identity.py``: how a restored older copy is recognised at the next start).
:class:`Maintenance` runs it on the app's event loop; start and stop are Litestar startup/shutdown hooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from server.storage.counter_codes import expire_codes_in
from server.storage.db import Database
from server.storage.sync.identity import check_restored, write_mark
from server.uploads import expire_uploads

__all__ = ["Maintenance", "at_start", "stop_task", "tick"]

log = logging.getLogger("madoguchi.maintenance")


def at_start(conn: sqlite3.Connection, db_path: str | Path) -> bool:
    """Before serving: a restored older copy of the database gets a new sync identity; the mark is written."""
    changed = check_restored(conn, db_path)
    write_mark(conn, db_path)
    return changed


def tick(conn: sqlite3.Connection, *, root: Path, db_path: str | Path, now: float, expiry_s: int) -> list[str]:
    """One round of housekeeping; returns the sha256 of the expired uploads it deleted."""
    gone = expire_uploads(conn, root, now=now, expiry_s=expiry_s)
    expire_codes_in(conn, dt.datetime.fromtimestamp(now, dt.UTC))  # counter codes: their pre-entries, then them
    write_mark(conn, db_path)
    return gone



async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a server-lifetime background task and wait for it to end (maintenance, the push sender)."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

class Maintenance:
    """The periodic task: ``start`` (on startup) runs a tick at once and then every ``interval_s``."""

    def __init__(self, db: Database, *, root: Path, expiry_s: int, interval_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.root = root
        self.expiry_s = expiry_s
        self.interval_s = interval_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> list[str]:
        gone: list[str] = await self.db.write(lambda c: tick(c, root=self.root, db_path=self.db.path,
                                                             now=self.clock(), expiry_s=self.expiry_s))
        if gone:
            log.info("expired %d unfinished upload(s)", len(gone))
        return gone

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a failed round must not end housekeeping; the next one tries again
                log.exception("maintenance round failed")
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        # The last mark: a copy taken before this moment is recognised as older at the next start.
        with contextlib.suppress(Exception):
            await self.db.write(lambda c: write_mark(c, self.db.path))
