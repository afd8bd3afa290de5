"""The event log of bookings and tickets (``queue_events``): one writer for both halves, so every step is
written the same way and analytics reads one table (docs/analytics.md "Queue").

Since every booking made or moved passes here (the store's ``create_booking_in`` and ``move_booking_in``, whoever
calls them: the API, the console), this is also where the day it is now booked for is noted for the reminder job
(``booked_days``, read by ``server.booking.reminders.ReminderJob`` after each commit): a booking made or moved to
tomorrow after the reminder hour is reminded at once, from one place."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any, Final

import msgspec

from server.booking import clock

__all__ = ["EVENTS", "booked_days", "record_event_in"]

EVENTS: Final[tuple[str, ...]] = (
    "booked", "moved", "cancelled", "reminded", "checked_in", "ticket", "called", "recalled", "missed", "served",
    "finished", "left", "no_show")


def record_event_in(conn: sqlite3.Connection, event: str, *, place: str, booking_id: str | None = None,
                    ticket_id: str | None = None, kind: str | None = None, booth: str | None = None,
                    by: str | None = None, detail: dict[str, Any] | None = None, at: str | None = None) -> None:
    """Append one step; call inside the write job that made it (it commits with the change)."""
    if event not in EVENTS:
        raise ValueError(f"unknown queue event {event!r}")
    if event == "booked" and detail:
        _note_day(conn, detail.get("day"))
    elif event == "moved" and detail:
        _note_day(conn, (detail.get("to") or {}).get("day"))
    conn.execute(
        "INSERT INTO queue_events (at, place, event, booking_id, ticket_id, kind, booth, by, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (at or clock.now_iso(), place, event, booking_id, ticket_id, kind, booth, by,
         msgspec.json.encode(detail).decode() if detail else None))


# -- the days booked for, per connection (read after each commit) ---------------------------------------------

_days: dict[int, set[str]] = {}
_days_lock = threading.Lock()


def _note_day(conn: sqlite3.Connection, day: Any) -> None:
    if isinstance(day, str):
        with _days_lock:
            _days.setdefault(id(conn), set()).add(day)


def booked_days(conn: sqlite3.Connection) -> set[str]:
    """The days bookings were made or moved to by the writes on ``conn`` since the last call (an after-commit
    hook's: a write rolled back may leave one, which only wakes the reminder job for nothing)."""
    with _days_lock:
        return _days.pop(id(conn), set())
