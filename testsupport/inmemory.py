"""The in-memory test double of the sync server: the server's storage logic on one SQLite connection, no HTTP.

:class:`InMemoryServer` runs :class:`~server.storage.sync.SyncStore` with a lock standing in for the
writer thread; :meth:`InMemoryServer.transport` gives a :class:`~sync.client.Transport` for one account, so
a :class:`~sync.client.Device` syncs against it exactly as over HTTP (messages round-trip through JSON).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from sync.client import KeyReuseError, OffsetMismatch, ResetRequired
from sync.messages import BlobInfo, Mutation, PullPage, Receipt

__all__ = ["InMemoryServer", "InMemoryTransport"]

_enc = msgspec.json.Encoder()


class InMemoryServer:
    """The server's :class:`~server.storage.sync.SyncStore` on one SQLite connection, with a lock
    standing in for the writer thread. Blobs are kept in memory."""

    def __init__(self, path: str = ":memory:") -> None:
        from server.storage.migrations import apply_migrations
        from server.storage.schema import CORE_MIGRATIONS
        from server.storage.sync import MIGRATIONS, SyncStore

        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.lock = threading.Lock()
        self.store = SyncStore()
        self.blobs: dict[str, tuple[int, bytearray, bool]] = {}
        self._write(lambda c: apply_migrations(c, [("core", CORE_MIGRATIONS), ("sync", MIGRATIONS)]))

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self.conn)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return out

    def transport(self, account_id: str, role: str = "resident", department: str | None = None) -> InMemoryTransport:
        return InMemoryTransport(self, account_id, role, department)


class InMemoryTransport:
    def __init__(self, server: InMemoryServer, account_id: str, role: str, department: str | None) -> None:
        from sync.records import Principal

        self.server = server
        self.principal = Principal(account_id, role, department)

    def push(self, mutations: list[Mutation]) -> list[Receipt]:
        from server.storage.sync import KeyReuse

        # Round-trip through JSON like the wire does, so nothing is shared by reference.
        wire = msgspec.json.decode(_enc.encode(mutations), type=list[Mutation])
        try:
            receipts: list[Receipt] = self.server._write(lambda c: self.server.store.push_in(c, self.principal, wire))
        except KeyReuse as exc:
            raise KeyReuseError(exc.mutation_ids) from None
        return msgspec.json.decode(_enc.encode(receipts), type=list[Receipt])

    def pull(self, cursor: int, limit: int, database_id: str | None = None) -> PullPage:
        from server.storage.sync import SyncReset

        try:
            with self.server.lock:
                page = self.server.store.pull(self.server.conn, self.principal, cursor, limit,
                                              database_id=database_id)
        except SyncReset as exc:
            raise ResetRequired(exc.reason, exc.database_id) from None
        return msgspec.json.decode(_enc.encode(page), type=PullPage)

    def create_blob(self, sha256: str, size: int) -> BlobInfo:
        size0, data, done = self.server.blobs.setdefault(sha256, (size, bytearray(), False))
        return BlobInfo(sha256=sha256, size=size0, offset=len(data), complete=done)

    def blob_offset(self, sha256: str) -> int | None:
        b = self.server.blobs.get(sha256)
        return None if b is None else len(b[1])

    def patch_blob(self, sha256: str, offset: int, chunk: bytes) -> int:
        size, data, done = self.server.blobs[sha256]
        if done:
            return size
        if offset != len(data):
            raise OffsetMismatch(len(data))
        data += chunk
        if len(data) == size:
            if hashlib.sha256(data).hexdigest() != sha256:
                self.server.blobs[sha256] = (size, bytearray(), False)
                raise OffsetMismatch(0)
            self.server.blobs[sha256] = (size, data, True)
        return len(data)
