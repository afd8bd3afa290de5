"""Booking rules for tests that draw walk-in tickets with the default place: open every day of the week (the
default hours, 08:30–17:15), no holidays or closing days. A kiosk's or the desk's walk-in ticket is refused on a
closed day (``server.authz.walkin_open``), so with the plain defaults such tests would fail on weekends, national
holidays and 年末年始. A resident's draw from the app also needs the hour: those tests open all day instead
(:data:`OPEN_ALL_DAY`, stored in a server's file before it starts by :func:`store_rules`)."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import msgspec

from server.booking.config import DEFAULT_CONFIG, WEEKDAYS, BookingConfig
from server.booking.store import put_config_in

__all__ = ["ALL_DAY", "OPEN_ALL_DAY", "OPEN_EVERY_DAY", "open_every_day", "store_rules"]

OPEN_EVERY_DAY: BookingConfig = msgspec.structs.replace(
    DEFAULT_CONFIG, holidays=False, closed=[],
    places=[msgspec.structs.replace(DEFAULT_CONFIG.places[0], hours={d: ["08:30", "17:15"] for d in WEEKDAYS})])

ALL_DAY: dict[str, list[str]] = {d: ["00:00", "24:00"] for d in WEEKDAYS}  # a place's hours: every day, all day

# Open every day, all day, no holidays or closing days, same-day bookings: whatever the JST date and hour the
# tests run at (a Saturday, 元日, 23:55), a walk-in may draw a ticket and today has free times.
OPEN_ALL_DAY: BookingConfig = msgspec.structs.replace(
    OPEN_EVERY_DAY, window=msgspec.structs.replace(DEFAULT_CONFIG.window, min_days=0),
    places=[msgspec.structs.replace(DEFAULT_CONFIG.places[0], hours=ALL_DAY)])


def open_every_day(db: Any) -> None:
    """Store :data:`OPEN_EVERY_DAY` in ``db`` (a ``server.storage.db.Database``)."""
    db.write_sync(lambda c: put_config_in(c, "# tests: open every day", OPEN_EVERY_DAY))


def store_rules(path: str | Path, config: BookingConfig = OPEN_ALL_DAY) -> None:
    """Store ``config`` in the SQLite file at ``path`` (created and migrated if new), as ``madoguchi booking set``
    does: for a server subprocess (testsupport.servers.ServerProcess) before it starts. On a thread of its own:
    the Database refuses blocking calls on a thread running an event loop (Playwright's, in browser tests)."""
    from server.storage.db import Database
    from server.storage.schema import migrate

    def store() -> None:
        db = Database.open(path)
        try:
            db.write_sync(migrate)
            db.write_sync(lambda c: put_config_in(c, "# tests: open all day every day", config))
        finally:
            db.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(store).result()
