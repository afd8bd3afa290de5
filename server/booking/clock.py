"""The one clock of bookings and the queue: ``now()`` (aware UTC). The load bench replays a city morning at 60×
by ``set_clock``; nothing else swaps it (tests use real time and pick days relative to today)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

__all__ = ["now", "now_iso", "set_clock"]

_clock: Callable[[], dt.datetime] | None = None


def now() -> dt.datetime:
    return _clock() if _clock is not None else dt.datetime.now(dt.UTC)


def now_iso() -> str:
    """``now()`` as stored: UTC ISO 8601."""
    return now().isoformat()


def set_clock(fn: Callable[[], dt.datetime] | None) -> None:
    """Replace the clock (``None``: the real one again). For the load bench only."""
    global _clock
    _clock = fn
