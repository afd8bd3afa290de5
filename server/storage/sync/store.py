"""The sync store: one object holding the configuration (procedure lookup, clock, drift limit, audit) that
routes and the in-memory test server call. Methods ending in ``_in`` take the writer connection and must run
inside a write job; the others take any (reader) connection. The work is done by the modules of
:mod:`server.storage.sync`; nothing about a request or batch is kept here."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from server.storage.sync import blobs, conflicts, registry_projection
from server.storage.sync.conflicts import ConflictPage, ConflictRow
from server.storage.sync.errors import Decision
from server.storage.sync.pull import pull
from server.storage.sync.push import PushSettings, push_in
from sync.hlc import DEFAULT_MAX_DRIFT_MS
from sync.messages import Mutation, PullPage, Receipt
from sync.records import Principal

__all__ = ["SyncStore"]


class SyncStore:
    """All sync storage operations, configured once."""

    def __init__(self, *, max_drift_ms: int = DEFAULT_MAX_DRIFT_MS, clock_ms: Callable[[], int] | None = None,
                 audit: bool = True) -> None:
        self.settings = PushSettings(
            max_drift_ms=max_drift_ms,
            clock_ms=clock_ms or (lambda: int(dt.datetime.now(dt.UTC).timestamp() * 1000)),
            audit=audit)

    def push_in(self, conn: sqlite3.Connection, principal: Principal, mutations: Sequence[Mutation], *,
                verdicts: dict[str, Decision] | None = None) -> list[Receipt]:
        """See :func:`server.storage.sync.push.push_in`."""
        return push_in(conn, self.settings, principal, mutations, verdicts=verdicts)

    @staticmethod
    def pull(conn: sqlite3.Connection, p: Principal, cursor: int, limit: int, *,
             database_id: str | None = None) -> PullPage:
        return pull(conn, p, cursor, limit, database_id=database_id)

    @staticmethod
    def missing_assigned(conn: sqlite3.Connection, p: Principal) -> bool:
        return registry_projection.missing_assigned(conn, p)

    def materialize_assigned_in(self, conn: sqlite3.Connection, p: Principal) -> int:
        return registry_projection.materialize_assigned_in(conn, p, audit=self.settings.audit)

    @staticmethod
    def list_conflicts(conn: sqlite3.Connection, p: Principal, *, status: str | None = "open",
                       mine_only: bool = False, cursor: int | None = None, limit: int = 200) -> ConflictPage:
        return conflicts.list_conflicts(conn, p, status=status, mine_only=mine_only, cursor=cursor, limit=limit)

    @staticmethod
    def get_conflict(conn: sqlite3.Connection, p: Principal, cid: int) -> ConflictRow:
        return conflicts.get_conflict(conn, p, cid)

    @staticmethod
    def resolve_in(conn: sqlite3.Connection, p: Principal, cid: int, choice: str, value: Any = None) -> ConflictRow:
        return conflicts.resolve_in(conn, p, cid, choice, value)

    @staticmethod
    def stored_size(conn: sqlite3.Connection, sha: str) -> int | None:
        return blobs.stored_size(conn, sha)

    @staticmethod
    def upload_size(conn: sqlite3.Connection, sha: str, account: str) -> int | None:
        return blobs.upload_size(conn, sha, account)

    @staticmethod
    def create_upload_in(conn: sqlite3.Connection, p: Principal, sha: str, size: int) -> None:
        blobs.create_upload_in(conn, p, sha, size)

    @staticmethod
    def drop_upload_in(conn: sqlite3.Connection, sha: str, account: str) -> bool:
        return blobs.drop_upload_in(conn, sha, account)

    @staticmethod
    def complete_blob_in(conn: sqlite3.Connection, p: Principal, sha: str, size: int, mime: str) -> list[str]:
        return blobs.complete_blob_in(conn, p, sha, size, mime)
