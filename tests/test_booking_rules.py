"""The pure booking rules (server/booking/length.py, slots.py): length from the procedures, closed days
(national holidays, 年末年始, weekdays without hours), the grid and capacity per booth and per department, the
booking window, same-day past times and holds lapsing. "Now" is an argument: fixed days are fine here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from procedure_definitions.japan import JST
from procedure_definitions.model import LifeEvent, Procedure
from server.booking.config import DEFAULT_CONFIG, BookingConfig, Place, Window
from server.booking.length import UnknownChoice, booking_minutes, resolve
from server.booking.slots import (
    Taken,
    closed_reason,
    day_slots,
    day_state,
    holiday_name,
    next_opening,
    open_hours,
    slot_free,
    window_days,
)
from server.booking.store import BookingRecord


def proc(pid: str, dept: str, minutes: int | None) -> Procedure:
    raw: dict[str, Any] = {"kind": "procedure", "id": pid, "version": "1.0.0", "title": {"ja": pid},
           "department": {"id": dept, "name": {"ja": dept}},
           "sections": [{"id": "s", "title": {"ja": "s"}, "fields": [
               {"id": "a", "type": "text", "label": {"ja": "a"}}]}]}
    if minutes is not None:
        raw["counter_minutes"] = minutes
    return msgspec.convert(raw, Procedure)


def event(eid: str, procs: list[tuple[str, str | None]], minutes: int | None = None) -> LifeEvent:
    raw: dict[str, Any] = {"kind": "life_event", "id": eid, "version": "1.0.0", "title": {"ja": eid},
           "questions": [{"id": "q", "label": {"ja": "q"}}],
           "procedures": [{"procedure": p, **({"include_if": c} if c else {})} for p, c in procs]}
    if minutes is not None:
        raw["counter_minutes"] = minutes
    return msgspec.convert(raw, LifeEvent)


class Lib:
    def __init__(self, procs: list[Procedure], events: list[LifeEvent]) -> None:
        self.procedures = {p.id: {p.version: p} for p in procs}
        self.life_events = {e.id: {e.version: e} for e in events}

    def latest(self, id: str) -> Procedure | None:  # one version each here
        return next(iter(self.procedures.get(id, {}).values()), None)

    def latest_event(self, id: str) -> LifeEvent | None:
        return next(iter(self.life_events.get(id, {}).values()), None)


LIB = Lib([proc("tenkyo", "shimin", 20), proc("tennyu", "shimin", 30), proc("copy", "shimin", 5),
           proc("kokuho", "hoken", 15), proc("plain", "zeimu", None)],
          [event("moving", [("tenkyo", None), ("kokuho", "q"), ("copy", None)]),
           event("fixed", [("tenkyo", None)], minutes=50)])
CFG = BookingConfig(places=[], slot_minutes=15, default_counter_minutes=10, max_booking_minutes=90)


@pytest.mark.parametrize(("procedures", "ev", "party", "minutes"), [
    (["copy"], None, 1, 15),                    # 5 rounded up to the grid
    (["tenkyo", "copy"], None, 1, 30),          # 25 → 30
    (["tennyu"], None, 2, 60),                  # 30 × 2 people
    (["plain"], None, 1, 15),                   # no counter_minutes: the city's default (10) → 15
    (["tennyu", "kokuho"], None, 3, 90),        # 135 capped at 90
    ([], "moving", 1, 30),                      # tenkyo 20 + copy 5 (kokuho depends on an answer) → 30
    ([], "fixed", 1, 60),                       # the event's own 50 → 60
])
def test_booking_minutes(procedures: list[str], ev: str | None, party: int, minutes: int) -> None:
    assert booking_minutes(CFG, LIB, procedures, ev, party) == minutes


def test_departments_and_unknowns() -> None:
    assert resolve(CFG, LIB, ["tenkyo", "kokuho", "tenkyo"], None).departments == ["shimin", "hoken"]
    assert resolve(CFG, LIB, [], "moving").procedures == ["tenkyo", "copy"]
    with pytest.raises(UnknownChoice):
        resolve(CFG, LIB, ["nope"], None)
    with pytest.raises(UnknownChoice):
        resolve(CFG, LIB, [], "nope")
    with pytest.raises(ValueError, match="choose"):
        resolve(CFG, LIB, [], None)


PLACE = Place(id="p", name={"ja": "本庁舎"}, booths=["1", "2", "3"], booking_booths=2,
              departments={"hoken": 1},
              hours={"mon": ["09:00", "12:00"], "tue": ["09:00", "12:00"], "wed": ["09:00", "12:00"],
                     "thu": ["09:00", "12:00"], "fri": ["09:00", "12:00"], "sat": ["09:00", "10:00"]})
PCFG = BookingConfig(places=[PLACE], slot_minutes=30, window=Window(min_days=1, max_days=10))


def jst(day: str, hm: str = "10:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hm}:00").replace(tzinfo=JST).astimezone(dt.UTC)


def test_closed_days() -> None:
    assert closed_reason(PCFG, PLACE, dt.date(2027, 1, 11)) == "holiday"      # 成人の日 (second Monday)
    assert holiday_name(dt.date(2027, 1, 11)) == "成人の日"
    assert holiday_name(dt.date(2027, 1, 11), "en") == "Coming of Age Day"
    assert closed_reason(PCFG, PLACE, dt.date(2026, 5, 6)) == "holiday"        # 振替休日
    for d in ("2026-12-29", "2026-12-30", "2026-12-31", "2027-01-02", "2027-01-03"):
        assert closed_reason(PCFG, PLACE, dt.date.fromisoformat(d)) == "closed", d
    assert closed_reason(PCFG, PLACE, dt.date(2027, 1, 1)) == "holiday"        # 元日 is both: the holiday first
    assert closed_reason(PCFG, PLACE, dt.date(2027, 1, 4)) is None             # the first working day
    assert closed_reason(PCFG, PLACE, dt.date(2026, 12, 28)) is None
    assert closed_reason(PCFG, PLACE, dt.date(2026, 12, 13)) == "no_hours"     # a Sunday
    # Holidays off: the city opens on 成人の日; a one-off closing day.
    cfg = BookingConfig(places=[PLACE], holidays=False, closed=["2027-01-12"])
    assert closed_reason(cfg, PLACE, dt.date(2027, 1, 11)) is None
    assert closed_reason(cfg, PLACE, dt.date(2027, 1, 12)) == "closed"
    assert closed_reason(cfg, PLACE, dt.date(2026, 12, 30)) is None


def test_open_hours_and_the_next_opening() -> None:
    # One reading of a day's hours: None on a closed day even when the weekday has hours (成人の日, a Monday).
    assert open_hours(PCFG, PLACE, dt.date(2027, 1, 11)) is None
    assert open_hours(PCFG, PLACE, dt.date(2026, 12, 12)) == ("09:00", "10:00")  # Saturday
    assert open_hours(PCFG, PLACE, dt.date(2026, 12, 13)) is None                # Sunday: no hours
    assert next_opening(PCFG, PLACE, jst("2026-12-07", "08:00")) == (dt.date(2026, 12, 7), "09:00")  # later today
    assert next_opening(PCFG, PLACE, jst("2026-12-07", "09:00")) == (dt.date(2026, 12, 8), "09:00")  # opened
    assert next_opening(PCFG, PLACE, jst("2026-12-12", "11:00")) == (dt.date(2026, 12, 14), "09:00")  # past Sunday
    # 年末年始 and 元日, then 1/4 the first working day; a place without hours never opens.
    assert next_opening(PCFG, PLACE, jst("2026-12-28", "13:00")) == (dt.date(2027, 1, 4), "09:00")
    assert next_opening(PCFG, Place(id="x", name={"ja": "x"}, booths=["1"], booking_booths=1, hours={}), jst("2026-12-07")) is None


def test_grid_hours_and_window() -> None:
    now = jst("2026-12-07")  # a Monday
    slots = day_slots(PCFG, PLACE, dt.date(2026, 12, 8), 60, ["shimin"], [], now)
    assert [(s.start, s.end) for s in slots] == [("09:00", "10:00"), ("09:30", "10:30"), ("10:00", "11:00"),
                                                 ("10:30", "11:30"), ("11:00", "12:00")]
    assert all(s.free for s in slots)
    # Saturday has one hour: a 60-minute booking fits once; a 90-minute one not at all.
    assert [s.start for s in day_slots(PCFG, PLACE, dt.date(2026, 12, 12), 60, [], [], now)] == ["09:00"]
    assert day_slots(PCFG, PLACE, dt.date(2026, 12, 12), 90, [], [], now) == []
    assert day_slots(PCFG, PLACE, dt.date(2026, 12, 13), 30, [], [], now) == []  # Sunday: no hours
    # The window: tomorrow … today + 10; today and day 11 are listed but not bookable.
    assert window_days(PCFG, now) == (dt.date(2026, 12, 8), dt.date(2026, 12, 17))
    assert day_state(PCFG, PLACE, dt.date(2026, 12, 7), now) == "outside_window"
    assert day_state(PCFG, PLACE, dt.date(2026, 12, 18), now) == "outside_window"
    assert not any(s.free for s in day_slots(PCFG, PLACE, dt.date(2026, 12, 18), 30, [], [], now))
    # "Today" is the JST date: 23:30 UTC on the 6th is already the 7th in Japan.
    assert window_days(PCFG, dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC))[0] == dt.date(2026, 12, 8)


def test_same_day_past_times() -> None:
    cfg = BookingConfig(places=[PLACE], slot_minutes=30, window=Window(min_days=0, max_days=10))
    slots = day_slots(cfg, PLACE, dt.date(2026, 12, 7), 30, [], [], jst("2026-12-07", "10:15"))
    # Times already past are not offered at all (not listed as taken: a screen reader would say 「満員」).
    assert [(s.start, s.free) for s in slots] == [("10:30", True), ("11:00", True), ("11:30", True)]
    assert day_slots(cfg, PLACE, dt.date(2026, 12, 7), 30, [], [], jst("2026-12-07", "11:30")) == []


def test_capacity_per_booth_and_department() -> None:
    now = jst("2026-12-07")
    day = dt.date(2026, 12, 8)
    taken = [Taken(start="09:00", minutes=60, departments=("shimin",)),
             Taken(start="09:30", minutes=30, departments=("shimin",))]
    free = {s.start: s.free for s in day_slots(PCFG, PLACE, day, 30, ["shimin"], taken, now)}
    # Two booking booths: 09:30 has both taken; 09:00 and 10:00 have one left.
    assert free == {"09:00": True, "09:30": False, "10:00": True, "10:30": True, "11:00": True, "11:30": True}
    # A 60-minute booking starting 09:00 needs 09:30 too.
    assert not slot_free(PCFG, PLACE, day, "09:00", 60, ["shimin"], taken, now)
    assert slot_free(PCFG, PLACE, day, "10:00", 60, ["shimin"], taken, now)
    # 保険 may run one booking at a time: a second one overlapping is refused though a booth is free.
    hoken = [Taken(start="10:00", minutes=30, departments=("hoken",))]
    assert not slot_free(PCFG, PLACE, day, "10:00", 30, ["shimin", "hoken"], hoken, now)
    assert slot_free(PCFG, PLACE, day, "10:00", 30, ["shimin"], hoken, now)
    assert slot_free(PCFG, PLACE, day, "10:30", 30, ["hoken"], hoken, now)
    # Cancelled and no-show bookings occupy nothing.
    gone = [Taken(start="10:00", minutes=30, departments=("hoken",), status=s) for s in ("cancelled", "no_show")]
    assert slot_free(PCFG, PLACE, day, "10:00", 30, ["hoken"], gone, now)


def test_holds_lapse() -> None:
    now = jst("2026-12-07")
    day = dt.date(2026, 12, 8)
    held = [Taken(start="11:00", minutes=30, status="held",
                  held_until=(now + dt.timedelta(minutes=s)).isoformat()) for s in (10, 20)]
    assert not slot_free(PCFG, PLACE, day, "11:00", 30, [], held, now)
    # 15 minutes on: the first hold lapsed, one booth is free again; 25 minutes on, both.
    later = now + dt.timedelta(minutes=15)
    assert slot_free(PCFG, PLACE, day, "11:00", 30, [], held, later)
    assert slot_free(PCFG, PLACE, day, "11:00", 30, [], [*held, Taken(start="11:00", minutes=30)],
                     now + dt.timedelta(minutes=25))
    assert not slot_free(PCFG, PLACE, day, "11:00", 30, [], [*held, Taken(start="11:00", minutes=30)], later)


def test_default_config_books_out_of_the_box() -> None:
    place = DEFAULT_CONFIG.places[0]
    now = jst("2026-12-07")
    slots = day_slots(DEFAULT_CONFIG, place, dt.date(2026, 12, 8), 30, ["shimin"], [], now)
    assert slots[0].start == "08:30" and slots[-1].end == "17:15" and all(s.free for s in slots)


def test_the_defaults_leave_every_new_booking_changeable_for_a_while() -> None:
    """probe15c #2: with the default window (min_days 1) and cut-off, a booking made at 23:59 JST for the first
    bookable day's first slot must still be changeable when it is made; the old default cut-off (24 hours) made
    every booking for tomorrow fixed at once. The same change_until the booking and the hold answer use."""
    from server.booking.store import change_until

    place = DEFAULT_CONFIG.places[0]
    for offset in range(14):  # every weekday twice, holidays and 年末年始 included or not
        now = dt.datetime(2026, 12, 20, 23, 59, tzinfo=JST) + dt.timedelta(days=offset)
        first, _ = window_days(DEFAULT_CONFIG, now)
        slots = day_slots(DEFAULT_CONFIG, place, first, 15, ["shimin"], [], now)
        if not slots:
            continue
        hold = msgspec.convert({"id": "h", "code": "X", "manage_hash": None, "place": place.id,
                                "day": first.isoformat(), "start": slots[0].start, "minutes": 15, "status": "held",
                                "held_until": None, "holder": "x", "account_id": None, "booked_by": None,
                                "name": None, "phone": None, "party": 1, "people": [], "event": None,
                                "procedures": [], "departments": [], "lang": None, "created_at": "",
                                "updated_at": ""}, BookingRecord)
        assert change_until(DEFAULT_CONFIG, hold) > now, (now, first, slots[0].start)
