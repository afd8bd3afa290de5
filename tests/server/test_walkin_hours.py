"""Walk-in tickets and opening hours (server.authz.walkin_open, pure; probe15c #1): the app (a resident anywhere,
perhaps at home) draws only while the place is open — an open day and between opening and closing time, JST —;
a kiosk or the desk on any open day, at any hour (a lobby queue forms before opening). A refusal is 409
``place-closed`` naming the next opening. "Now" is an argument: fixed days are fine here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from procedure_definitions.japan import JST
from server.authz import TicketSource, walkin_open
from server.booking.config import DEFAULT_CONFIG, Place
from server.problems import Problem

HONCHO = DEFAULT_CONFIG.places[0]  # mon–fri 08:30–17:15; holidays and 年末年始 closed


def at(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=JST).astimezone(dt.UTC)


def refusal(source: TicketSource, now: dt.datetime, place: Place = HONCHO) -> dict[str, Any] | None:
    try:
        walkin_open(DEFAULT_CONFIG, place, source, now)
    except Problem as e:
        assert (e.status_code, e.slug) == (409, "place-closed")
        return dict(e.extensions)
    return None


@pytest.mark.parametrize(("day", "time", "app", "desk"), [
    # Monday 2026-12-07: open 08:30–17:15
    ("2026-12-07", "08:29", {"day": "2026-12-07", "start": "08:30"}, None),
    ("2026-12-07", "08:30", None, None),
    ("2026-12-07", "17:14", None, None),
    ("2026-12-07", "17:15", {"day": "2026-12-08", "start": "08:30"}, None),
    ("2026-12-07", "17:27", {"day": "2026-12-08", "start": "08:30"}, None),  # probe15c's A-001 at home
    # Friday evening: next Monday; Saturday: closed for all, next Monday
    ("2026-12-11", "20:00", {"day": "2026-12-14", "start": "08:30"}, None),
    ("2026-12-12", "10:00", {"day": "2026-12-14", "start": "08:30"}, {"day": "2026-12-14", "start": "08:30"}),
    # 勤労感謝の日 (a Monday): closed; 年末年始 through 01-03, then Monday 2027-01-04
    ("2026-11-23", "10:00", {"day": "2026-11-24", "start": "08:30"}, {"day": "2026-11-24", "start": "08:30"}),
    ("2026-12-29", "09:00", {"day": "2027-01-04", "start": "08:30"}, {"day": "2027-01-04", "start": "08:30"}),
    ("2027-01-03", "23:59", {"day": "2027-01-04", "start": "08:30"}, {"day": "2027-01-04", "start": "08:30"}),
])
def test_the_app_only_while_open_the_kiosk_and_desk_on_open_days(day: str, time: str, app: dict[str, str] | None,
                                                                  desk: dict[str, str] | None) -> None:
    now = at(day, time)
    assert refusal("app", now) == (None if app is None else {"opens": app})
    assert refusal("kiosk", now) == (None if desk is None else {"opens": desk})
    assert refusal("staff", now) == (None if desk is None else {"opens": desk})


def test_a_place_never_open_names_no_next_opening() -> None:
    never = Place(id="x", name={"ja": "閉鎖中"}, booths=["1"], booking_booths=1, hours={})
    assert refusal("kiosk", at("2026-12-07", "10:00"), never) == {"opens": None}
