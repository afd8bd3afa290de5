"""The city's booking and queue rules (docs/booking.md "Configuration"): places, booths, opening hours, closing
days, capacity, the booking window, cut-offs, holds and the queue's recall and lateness rules.

One immutable :class:`BookingConfig`, stored in the ``booking_config`` table (``madoguchi booking set FILE``) and
read by every path; :data:`DEFAULT_CONFIG` when nothing was set (one place, 本庁舎, so ``madoguchi serve --demo``
books out of the box). Pure: no I/O but :func:`config_in`, which reads the stored row.
"""

from __future__ import annotations

import sqlite3
from typing import Final

import msgspec

__all__ = ["DEFAULT_CONFIG", "NEW_YEAR_CLOSED", "WEEKDAYS", "BookingConfig", "Place", "Window", "config_in",
           "place_label"]

# 年末年始: closed every year (msgspec wants a factory for a non-empty list default).
NEW_YEAR_CLOSED: Final[tuple[str, ...]] = ("12-29", "12-30", "12-31", "01-01", "01-02", "01-03")

# The keys of ``Place.hours``, Monday first (``date.weekday()`` indexes this tuple).
WEEKDAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Place(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A counter a resident can book and queue at (本庁舎の市民課窓口, a 支所)."""

    id: str
    name: dict[str, str]  # {ja, en?, ja-easy?}
    booths: list[str]  # the booths' names as called and shown on the board ("1", "2", ... or "3番")
    booking_booths: int  # at most this many bookings run at the same time; the other booths serve walk-ins
    # department id -> at most this many bookings needing that department at the same time (absent: no cap)
    departments: dict[str, int] = {}
    # weekday key (WEEKDAYS) -> ["HH:MM", "HH:MM"] open and close in JST; an absent weekday is closed
    hours: dict[str, list[str]] = {}
    address: str | None = None


def place_label(place: Place, lang: str) -> str:
    """The place's name in ``lang``, else its Japanese name, else its id (a city may leave a name empty): the
    one rule for every page, board, kiosk and reminder that names a place."""
    return place.name.get(lang) or place.name.get("ja") or place.id


class Window(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    min_days: int = 1  # the earliest bookable day: today + min_days (JST)
    max_days: int = 45  # the latest: today + max_days


class BookingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    places: list[Place]
    slot_minutes: int = 15  # the calendar's grid; a booking's length is rounded up to it
    default_counter_minutes: int = 15  # a procedure that declares no counter_minutes
    max_booking_minutes: int = 120
    hold_minutes: int = 15  # a slot chosen is held this long while the resident confirms
    window: Window = Window()
    # cancel or move until this many hours before the booked time; 3, not 24: with min_days 1 a booking for
    # tomorrow morning must stay changeable when it is made (probe15c #2: 24 made every one fixed at once)
    change_cutoff_hours: int = 3
    # Closed every year ("MM-DD": 年末年始) or once ("YYYY-MM-DD"), on top of the national holidays.
    closed: list[str] = msgspec.field(default_factory=lambda: list(NEW_YEAR_CLOSED))
    holidays: bool = True  # closed on Japanese public holidays (振替休日 included)
    max_party: int = 4  # family bookings: people served in one booking
    reminder_hour: int = 18  # the day before, at this hour JST
    lateness_minutes: int = 5  # a booking later than this yields to walk-ins
    recall_minutes: int = 3  # a missed call waits this long, then goes to the end of the queue
    max_missed: int = 2  # missed this many times: left without service (no-show for a booking)
    near_positions: int = 3  # notify the phone when this many or fewer are ahead
    due_ahead_minutes: int = 2  # a checked-in booking joins the front this long before its time
    service_minutes: int = 10  # the wait estimate's service time until the day has its own average
    max_holds: int = 3  # open holds per account or address
    # Seats cannot be hoarded: open future bookings (booked, from today) per account and per phone number ...
    max_open_bookings: int = 5
    # ... and per address for people without an account (higher: a city hall's Wi-Fi or a carrier's NAT is shared)
    max_open_bookings_per_address: int = 20


def _weekdays(open_: str, close: str) -> dict[str, list[str]]:
    return {d: [open_, close] for d in WEEKDAYS[:5]}


DEFAULT_CONFIG: Final[BookingConfig] = BookingConfig(places=[Place(
    id="honcho", name={"ja": "本庁舎 市民課窓口", "en": "City Hall, Residents' Counter",
                       "ja-easy": "市役所（しやくしょ）の 窓口（まどぐち）"},
    booths=[str(n) for n in range(1, 7)], booking_booths=4, hours=_weekdays("08:30", "17:15"))])


def config_in(conn: sqlite3.Connection) -> BookingConfig:
    """The configuration stored by ``madoguchi booking set``, or :data:`DEFAULT_CONFIG`."""
    row = conn.execute("SELECT config FROM booking_config WHERE id = 1").fetchone()
    return DEFAULT_CONFIG if row is None else msgspec.json.decode(row[0], type=BookingConfig)
