"""Who a session cookie belongs to, remembered between requests, without reading SQLite on the event loop.

Every request asks; a resident's phone or a counter PC asks many times a minute. Reading the session row
(three tables) on each request cost as much as a tenth of a submission, so live sessions are kept in memory.
The cache is exact, not time-based: ``auth_epoch`` (auth migration v2) is a one-row counter that triggers
bump on every sign-out, deletion, expiry change, role change or identity binding, whichever process wrote
it. An entry is used only while that counter has not moved since the entry was read, and only while the
session's own expiry times say it is live.

The counter itself is kept in memory too (:attr:`SessionCache.epoch`), so a hit touches no database:

* this server's own writes: the writer thread re-reads the counter after every commit, before the writer
  is answered (:meth:`Database.after_commit`), so a sign-out or role change made here applies to the very
  next request;
* another process's writes (the ``madoguchi staff`` CLI, ``sqlite3``): the counter is re-read through the
  reader pool when it was last confirmed more than ``confirm_every`` seconds ago (default 0.05 s), so such
  a change applies within that time. Under load that is one read per interval, not one per request.

A miss reads the session row through the reader pool (``await db.read``), never on the loop.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import TYPE_CHECKING

import msgspec

from server.auth import store
from server.auth.models import Account

if TYPE_CHECKING:
    from server.storage.db import Database

__all__ = ["SessionCache"]

Found = tuple[Account, store.SessionInfo]


class SessionCache:
    """Token → (account, session) for live sessions, valid while ``auth_epoch`` stands still."""

    def __init__(self, max_entries: int = 10_000, *, confirm_every: float = 0.05) -> None:
        self.max_entries = max_entries
        self.confirm_every = confirm_every
        self._entries: dict[str, tuple[int, Found]] = {}
        self._lock = threading.Lock()  # the event loop, the writer and the readers all touch it
        self.epoch: int | None = None  # the newest auth_epoch seen
        self._confirmed_at = float("-inf")  # time.monotonic() when a read of the counter last started
        self.hits = 0
        self.misses = 0

    def watch(self, db: Database) -> None:
        """Follow ``db``'s commits: the counter is re-read in its writer thread after each one."""
        def after_commit(conn: sqlite3.Connection) -> None:
            started = time.monotonic()
            try:
                epoch = store.auth_epoch(conn)
            except sqlite3.OperationalError:
                return  # the auth tables are not there yet (before the first migration)
            self._saw(epoch, started)

        db.after_commit(after_commit)

    def _saw(self, epoch: int, started: float) -> None:
        with self._lock:
            # The counter only grows; a slow read must not put an older value back.
            if self.epoch is None or epoch >= self.epoch:
                self.epoch = epoch
            self._confirmed_at = max(self._confirmed_at, started)

    async def lookup(self, db: Database, token: str, t: int) -> Found | None:
        """The live session of ``token`` at UNIX time ``t``: from memory when nothing changed, else read
        through ``db``'s reader pool."""
        started = time.monotonic()
        if self.epoch is None or started - self._confirmed_at > self.confirm_every:
            self._saw(await db.read(store.auth_epoch), started)
        entry = self._entries.get(token)
        if entry is not None and entry[0] == self.epoch and entry[1][1].live_at(t):
            self.hits += 1
            return entry[1]
        self.misses += 1
        return await db.read(lambda conn: self._load(conn, token))

    def _load(self, conn: sqlite3.Connection, token: str) -> Found | None:
        # The epoch is read before the row: a change committed in between moves it past this entry's.
        started = time.monotonic()
        epoch = store.auth_epoch(conn)
        found = store.session_account(conn, token)
        self._saw(epoch, started)
        with self._lock:
            if found is None:
                self._entries.pop(token, None)
            else:
                if len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))  # the oldest entry
                self._entries[token] = (epoch, found)
        return found

    def touched(self, token: str, info: store.SessionInfo, t: int) -> None:
        """The idle timer of ``token`` was reset to ``t`` (the touch does not move the epoch)."""
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None and entry[1][1].token_hash == info.token_hash:
                account, old = entry[1]
                self._entries[token] = (entry[0], (account, msgspec.structs.replace(old, last_seen_at=t)))
