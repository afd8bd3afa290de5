"""The event log of bookings and tickets (``queue_events``): one writer for both halves, so every step is
written the same way and analytics reads one table (docs/analytics.md "Queue")."""

from __future__ import annotations

import sqlite3
from typing import Any, Final

import msgspec

from server.booking import clock

__all__ = ["EVENTS", "record_event_in"]

EVENTS: Final[tuple[str, ...]] = (
    "booked", "moved", "cancelled", "reminded", "checked_in", "ticket", "called", "recalled", "missed", "served",
    "finished", "left", "no_show")


def record_event_in(conn: sqlite3.Connection, event: str, *, place: str, booking_id: str | None = None,
                    ticket_id: str | None = None, kind: str | None = None, booth: str | None = None,
                    by: str | None = None, detail: dict[str, Any] | None = None, at: str | None = None) -> None:
    """Append one step; call inside the write job that made it (it commits with the change)."""
    if event not in EVENTS:
        raise ValueError(f"unknown queue event {event!r}")
    conn.execute(
        "INSERT INTO queue_events (at, place, event, booking_id, ticket_id, kind, booth, by, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (at or clock.now_iso(), place, event, booking_id, ticket_id, kind, booth, by,
         msgspec.json.encode(detail).decode() if detail else None))
