"""Booking rules for tests that draw walk-in tickets with the default place: open every day of the week (the
default hours, 08:30–17:15), no holidays or closing days. A kiosk's or the desk's walk-in ticket is refused on a
closed day (``server.authz.walkin_open``), so with the plain defaults such tests would fail on weekends, national
holidays and 年末年始. A resident's draw from the app also needs the hour: those tests open all day instead."""

from __future__ import annotations

from typing import Any

import msgspec

from server.booking.config import DEFAULT_CONFIG, WEEKDAYS, BookingConfig
from server.booking.store import put_config_in

__all__ = ["OPEN_EVERY_DAY", "open_every_day"]

OPEN_EVERY_DAY: BookingConfig = msgspec.structs.replace(
    DEFAULT_CONFIG, holidays=False, closed=[],
    places=[msgspec.structs.replace(DEFAULT_CONFIG.places[0], hours={d: ["08:30", "17:15"] for d in WEEKDAYS})])


def open_every_day(db: Any) -> None:
    """Store :data:`OPEN_EVERY_DAY` in ``db`` (a ``server.storage.db.Database``)."""
    db.write_sync(lambda c: put_config_in(c, "# tests: open every day", OPEN_EVERY_DAY))
