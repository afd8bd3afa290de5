"""Who a session cookie belongs to, remembered between requests.

Every request asks; a resident's phone or a counter PC asks many times a minute. Reading the session row
(three tables) on each request cost as much as a tenth of a submission, so live sessions are kept in memory.
The cache is exact, not time-based: ``auth_epoch`` (auth migration v2) is a one-row counter that triggers
bump on every sign-out, deletion, expiry change, role change or identity binding, whichever process wrote
it. A hit is used only while that counter has not moved since the entry was read (one single-row read per
request instead of the join), and only while the session's own expiry times say it is live.
"""

from __future__ import annotations

import sqlite3
import threading

import msgspec

from server.auth import store
from server.auth.models import Account

__all__ = ["SessionCache"]

Found = tuple[Account, store.SessionInfo]


class SessionCache:
    """Token → (account, session) for live sessions, valid while ``auth_epoch`` stands still."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, tuple[int, Found]] = {}
        self._lock = threading.Lock()  # the event loop and worker threads may both look up sessions
        self.hits = 0
        self.misses = 0

    def lookup(self, conn: sqlite3.Connection, token: str, t: int) -> Found | None:
        """The live session of ``token`` at UNIX time ``t``, from memory when nothing changed, else from ``conn``."""
        epoch = store.auth_epoch(conn)
        entry = self._entries.get(token)
        if entry is not None and entry[0] == epoch and entry[1][1].live_at(t):
            self.hits += 1
            return entry[1]
        self.misses += 1
        # The epoch was read before the row: a change committed in between moves it past this entry's.
        found = store.session_account(conn, token)
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
