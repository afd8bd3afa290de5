"""Free slots (docs/booking.md "Slots"): which days a place is open, its grid of cells, and which starts a
booking of m minutes can take. Pure: bookings and holds come in as :class:`Taken`, "now" as an argument.

* A day is closed on a national holiday (``holidays.Japan()``, 振替休日 included, when ``cfg.holidays``), on the
  city's closing days (``cfg.closed``: ``MM-DD`` every year, ``YYYY-MM-DD`` once: 年末年始), and on a weekday
  absent from ``place.hours``.
* The grid runs from opening to closing every ``cfg.slot_minutes`` (JST). A booking of m minutes occupies the
  cells [start, start + m) and must end by closing time.
* Capacity per cell: at most ``place.booking_booths`` bookings at once, and at most ``place.departments[d]``
  bookings needing department d at once. Booked and checked-in bookings occupy their cells, and so do holds
  until their ``held_until``.
* Bookable days: ``today + window.min_days`` … ``today + window.max_days`` (JST). A start already past is not
  offered at all (not a slot "full": today's morning is over, not taken), and holding one is 422 ``time-past``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Final

import holidays
import msgspec

from procedure_definitions.japan import JST
from server.booking.config import WEEKDAYS, BookingConfig, Place

__all__ = ["OCCUPYING", "Slot", "Taken", "closed_reason", "day_slots", "day_state", "hhmm", "holiday_name",
           "minutes_of", "next_opening", "open_hours", "slot_free", "start_at", "today", "window_days"]

# The booking statuses that occupy their cells (a ``held`` one only until its ``held_until``).
OCCUPYING: Final[frozenset[str]] = frozenset({"booked", "checked_in", "held"})


class Slot(msgspec.Struct, frozen=True):
    start: str  # HH:MM JST
    end: str
    free: bool


class Taken(msgspec.Struct, frozen=True):
    """A booking or hold of the day, as the capacity rule sees it."""

    start: str  # HH:MM JST
    minutes: int
    departments: tuple[str, ...] = ()
    status: str = "booked"
    held_until: str | None = None  # UTC ISO: a hold lapses then

    def occupies(self, now: dt.datetime) -> bool:
        if self.status not in OCCUPYING:
            return False
        if self.status == "held":
            return self.held_until is not None and dt.datetime.fromisoformat(self.held_until) > now
        return True


def minutes_of(hhmm_: str) -> int:
    """``"09:30"`` → 570 (ValueError for anything but HH:MM from 00:00 to 24:00)."""
    if len(hhmm_) != 5 or hhmm_[2] != ":" or not (hhmm_[:2] + hhmm_[3:]).isascii() \
            or not (hhmm_[:2] + hhmm_[3:]).isdigit():
        raise ValueError(f"not a time HH:MM: {hhmm_!r}")
    h, m = int(hhmm_[:2]), int(hhmm_[3:])
    if h > 24 or m > 59 or (h == 24 and m):
        raise ValueError(f"not a time of day: {hhmm_!r}")
    return h * 60 + m


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@functools.lru_cache(maxsize=4)
def _japan(lang: str) -> holidays.HolidayBase:
    # The calendar is built per year as days are asked for; one object per language keeps what it built.
    return holidays.Japan(language=lang)


def holiday_name(day: dt.date, lang: str = "ja") -> str | None:
    """The national holiday's name on ``day`` (成人の日, 振替休日; ``lang`` "en": Coming of Age Day), or None."""
    name = _japan("en_US" if lang == "en" else "ja").get(day)
    return str(name) if name else None


def closed_reason(cfg: BookingConfig, place: Place, day: dt.date) -> str | None:
    """Why ``place`` takes no bookings on ``day``: ``"holiday"``, ``"closed"`` (the city's closing days),
    ``"no_hours"`` (no opening hours that weekday), else None."""
    if cfg.holidays and holiday_name(day) is not None:
        return "holiday"
    if day.strftime("%m-%d") in cfg.closed or day.isoformat() in cfg.closed:
        return "closed"
    if WEEKDAYS[day.weekday()] not in place.hours:
        return "no_hours"
    return None


def today(now: dt.datetime) -> dt.date:
    """The JST date of ``now``."""
    return now.astimezone(JST).date()


def window_days(cfg: BookingConfig, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first and last bookable day."""
    t = today(now)
    return t + dt.timedelta(days=cfg.window.min_days), t + dt.timedelta(days=cfg.window.max_days)


def day_state(cfg: BookingConfig, place: Place, day: dt.date, now: dt.datetime) -> str | None:
    """:func:`closed_reason`, or ``"outside_window"`` for an open day that cannot be booked (yet or any more)."""
    why = closed_reason(cfg, place, day)
    if why is not None:
        return why
    first, last = window_days(cfg, now)
    return None if first <= day <= last else "outside_window"


def start_at(day: dt.date, start: str) -> dt.datetime:
    """The aware datetime of ``start`` (HH:MM JST) on ``day``."""
    m = minutes_of(start)
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=JST) + dt.timedelta(minutes=m)


def open_hours(cfg: BookingConfig, place: Place, day: dt.date) -> tuple[str, str] | None:
    """The place's opening and closing time on ``day`` (HH:MM JST), or None when it is closed that day
    (:func:`closed_reason`). The one reading of "the place's hours on that day": the slots' grid, the walk-in
    rule (``server.authz.walkin_open``) and the no-show time (``server.booking.reminders``)."""
    if closed_reason(cfg, place, day) is not None:
        return None
    span = place.hours.get(WEEKDAYS[day.weekday()])
    return (span[0], span[1]) if span and len(span) == 2 else None


def next_opening(cfg: BookingConfig, place: Place, now: dt.datetime) -> tuple[dt.date, str] | None:
    """When ``place`` opens next after ``now`` (aware): today's opening time when it is still to come, else the
    next open day's (JST); None when no day within a year opens."""
    day = today(now)
    jst = now.astimezone(JST)
    span = open_hours(cfg, place, day)
    if span is not None and jst.hour * 60 + jst.minute < minutes_of(span[0]):
        return day, span[0]
    for n in range(1, 367):
        later = day + dt.timedelta(days=n)
        span = open_hours(cfg, place, later)
        if span is not None:
            return later, span[0]
    return None


def _load(cfg: BookingConfig, taken: Iterable[Taken], now: dt.datetime, open_: int
          ) -> tuple[dict[int, int], dict[tuple[int, str], int]]:
    """How many bookings occupy each cell, in all and per department."""
    step = cfg.slot_minutes
    total: dict[int, int] = {}
    by_dept: dict[tuple[int, str], int] = {}
    for t in taken:
        if not t.occupies(now):
            continue
        begin = minutes_of(t.start)
        # Cells are aligned on the grid from opening: a booking made under another grid still counts in every
        # cell it overlaps.
        first = open_ + (begin - open_) // step * step
        cell = first
        while cell < begin + t.minutes:
            total[cell] = total.get(cell, 0) + 1
            for d in t.departments:
                by_dept[(cell, d)] = by_dept.get((cell, d), 0) + 1
            cell += step
    return total, by_dept


def _fits(place: Place, cells: Sequence[int], departments: Sequence[str], total: dict[int, int],
          by_dept: dict[tuple[int, str], int]) -> bool:
    for cell in cells:
        if total.get(cell, 0) >= place.booking_booths:
            return False
        for d in departments:
            cap = place.departments.get(d)
            if cap is not None and by_dept.get((cell, d), 0) >= cap:
                return False
    return True


def day_slots(cfg: BookingConfig, place: Place, day: dt.date, minutes: int, departments: Sequence[str],
              taken: Iterable[Taken], now: dt.datetime) -> list[Slot]:
    """Every start of the day's grid not yet past where a booking of ``minutes`` ends by closing time, with whether
    it is free (capacity left in each of its cells, the day bookable). A closed day: []."""
    span = open_hours(cfg, place, day)
    if span is None:
        return []
    open_, close = minutes_of(span[0]), minutes_of(span[1])
    step = cfg.slot_minutes
    bookable = day_state(cfg, place, day, now) is None
    total, by_dept = _load(cfg, taken, now, open_)
    out: list[Slot] = []
    start = open_
    while start + minutes <= close:
        if start_at(day, hhmm(start)) > now:  # a time already past is no slot (a screen reader would hear "full")
            cells = range(start, start + minutes, step)
            free = bookable and _fits(place, cells, departments, total, by_dept)
            out.append(Slot(start=hhmm(start), end=hhmm(start + minutes), free=free))
        start += step
    return out


def slot_free(cfg: BookingConfig, place: Place, day: dt.date, start: str, minutes: int,
              departments: Sequence[str], taken: Iterable[Taken], now: dt.datetime) -> bool:
    """Whether a booking of ``minutes`` may start at ``start`` (one of the day's grid starts, free)."""
    return any(s.start == start and s.free
               for s in day_slots(cfg, place, day, minutes, departments, taken, now))
