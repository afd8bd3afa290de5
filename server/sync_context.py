"""What the sync routes (``server.sync_routes``, ``server.sync_blob_routes``) share: their configuration
(:class:`SyncConfig`, kept in ``app.state``), the per-request context built from it and the signed-in account
as a sync :class:`~sync.records.Principal`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.config.app import AppConfig

from server.authz import require_user
from server.blob_possession import Possession
from server.storage.db import Database
from server.storage.sync import SyncStore
from sync.records import Principal

__all__ = ["STATE_KEY", "Ctx", "KeyedLocks", "SyncConfig", "principal", "sync_context"]

STATE_KEY = "madoguchi_sync"


class KeyedLocks:
    """One asyncio lock per key, kept only while someone holds or waits for it: keys come from requests (a
    blob's sha256), so a table that kept every key ever asked for would grow without bound."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # key -> (lock, holders and waiters)

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass
class SyncConfig:
    """What the sync handlers need. Any field left ``None`` is taken from ``app.state.services``."""

    db: Database | None = None
    attachment_root: Path | None = None
    store: SyncStore | None = None
    blob_locks: KeyedLocks = field(default_factory=KeyedLocks)
    possession: Possession = field(default_factory=Possession)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        from server.sync_routes import sync_router  # the routes import this module

        app_config.state[STATE_KEY] = self
        if sync_router not in app_config.route_handlers:
            app_config.route_handlers.append(sync_router)
        return app_config


@dataclass
class Ctx:
    """What one request of the sync routes works with."""

    db: Database
    store: SyncStore
    root: Path
    locks: KeyedLocks
    possession: Possession


def sync_context(request: Request[Any, Any, Any]) -> Ctx:
    state = request.app.state
    cfg: SyncConfig | None = state.get(STATE_KEY)
    if cfg is None:
        cfg = SyncConfig()
        state[STATE_KEY] = cfg
    svc = state.get("services")
    db = cfg.db or (svc.db if svc is not None else None)
    if db is None:
        raise RuntimeError("sync: no database configured")
    if cfg.store is None:
        cfg.store = SyncStore()
    root = cfg.attachment_root or (svc.settings.attachment_root if svc is not None else Path(str(db.path) + ".attachments"))
    return Ctx(db, cfg.store, Path(root), cfg.blob_locks, cfg.possession)


def principal(request: Request[Any, Any, Any]) -> Principal:
    user = require_user(request)
    return Principal(id=user.id, role=user.role, department=user.department)
