"""The objects a request handler needs, built once per app and kept in ``app.state.services``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection

from server.catalog import Catalog
from server.export import Column
from server.handoff import HandoffSender
from server.push import Notifier
from server.pwa import Bundle
from server.registry import SQLiteRegistry
from server.settings import Settings
from server.storage.db import Database
from server.storage.submissions import SubmissionStore
from server.validation import ValidationPool

__all__ = ["Services", "services"]


@dataclass
class Services:
    settings: Settings
    db: Database
    catalog: Catalog
    submissions: SubmissionStore
    registry: SQLiteRegistry
    pwa: Bundle  # the PWA files served, rebuilt on publish (server/pwa.py)
    export_mappings: dict[str, list[Column]] = field(default_factory=dict)
    validator: ValidationPool = field(default_factory=lambda: ValidationPool(0))
    notifier: Notifier | None = None  # Web Push of status changes (server/push.py); None: nothing is sent
    handoff: HandoffSender | None = None  # the outbox's sender to the core systems (server/handoff.py)

    @property
    def pwa_files(self) -> dict[str, bytes]:
        return self.pwa.files


def services(connection: ASGIConnection[Any, Any, Any, Any]) -> Services:
    return connection.app.state.services
