"""Every SQL statement of bookings and holds (the ``bookings`` table). Writers are ``*_in(conn, ...)`` functions
run as ONE write job each (``svc.db.write``): the capacity is checked again inside the write, so of two people
taking the last seat one gets it and the other a :class:`BookingRefused` ``slot-taken`` (409). Every change
writes its step to the event log (``server.booking.events.record_event_in``) in the same job.

A hold is a ``bookings`` row with status ``held`` until ``held_until``: confirming it (``create_booking_in``)
turns the same row into the booking, so the hold id is the booking id. A lapsed hold occupies nothing (the slot
rule reads ``held_until``) and is marked ``expired`` by :func:`expire_holds_in` (housekeeping).

Functions other parts use: :func:`load_booking_in`, :func:`booking_by_code_in`, :func:`day_bookings_in`,
:func:`create_hold_in` and :func:`create_booking_in` (the console's booking on a resident's behalf),
:func:`cancel_booking_in`, :func:`move_booking_in`, :func:`expire_holds_in`, :func:`normalize_code`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import re
import secrets
import sqlite3
import unicodedata
import uuid
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from server.audit import append_audit
from server.auth.store import hash_secret
from server.booking import clock
from server.booking.config import BookingConfig, Place
from server.booking.events import record_event_in
from server.booking.manage_links import manage_key_in, manage_token
from server.booking.phone import phone_digits
from server.booking.slots import Taken, day_slots, day_state, start_at, today

__all__ = [
    "CODE_ALPHABET",
    "BookingRecord",
    "BookingRefused",
    "account_bookings_in",
    "booking_by_code_in",
    "cancel_booking_in",
    "change_until",
    "create_booking_in",
    "create_hold_in",
    "day_bookings_in",
    "display_code",
    "expire_holds_in",
    "load_booking_in",
    "manage_token_ok",
    "move_booking_in",
    "normalize_code",
    "open_bookings_in",
    "open_holds_in",
    "phone_key",
    "place_of",
    "put_config_in",
    "taken_in",
]

# The check-in code: 8 characters without 0/O/1/I (read aloud and typed from paper), 40 bits.
CODE_ALPHABET: Final[str] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH: Final[int] = 8
_COLUMNS = ("id, code, manage_hash, place, day, start, minutes, status, held_until, holder, account_id, booked_by,"
            " name, phone, party, people, event, procedures, departments, lang, created_at, updated_at, moves")


class BookingRefused(Exception):
    """Why a write was refused: the HTTP status and problem slug the API answers with; ``field`` the input it is
    about (the API's ``errors[].path``, the console's field to mark), None when it is about no one input."""

    def __init__(self, status: int, slug: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.field = status, slug, detail, field


class BookingRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    code: str
    manage_hash: str | None
    place: str
    day: str
    start: str
    minutes: int
    status: str
    held_until: str | None
    holder: str
    account_id: str | None
    booked_by: str | None
    name: str | None
    phone: str | None
    party: int
    people: list[str]
    event: str | None
    procedures: list[str]
    departments: list[str]
    lang: str | None
    created_at: str
    updated_at: str
    moves: str | None = None  # a hold made to move this booking (its cells not counted): it may only move that one

    @property
    def end(self) -> str:
        from server.booking.slots import hhmm, minutes_of

        return hhmm(minutes_of(self.start) + self.minutes)

    def starts_at(self) -> dt.datetime:
        return start_at(dt.date.fromisoformat(self.day), self.start)

    def taken(self) -> Taken:
        return Taken(start=self.start, minutes=self.minutes, departments=tuple(self.departments),
                     status=self.status, held_until=self.held_until)


def _record(row: Sequence[Any]) -> BookingRecord:
    (bid, code, manage_hash, place, day, start, minutes, status, held_until, holder, account_id, booked_by, name,
     phone, party, people, event, procedures, departments, lang, created_at, updated_at, moves) = row
    return BookingRecord(
        id=bid, code=code, manage_hash=manage_hash, place=place, day=day, start=start, minutes=minutes,
        status=status, held_until=held_until, holder=holder, account_id=account_id, booked_by=booked_by,
        name=name, phone=phone, party=party, people=msgspec.json.decode(people) if people else [],
        event=event, procedures=msgspec.json.decode(procedures), departments=msgspec.json.decode(departments),
        lang=lang, created_at=created_at, updated_at=updated_at, moves=moves)


def normalize_code(code: str) -> str:
    """A check-in code as stored: NFKC (full-width letters and digits typed with a Japanese IME at the kiosk, the
    ideographic space), without dashes, spaces and tabs, upper case (the kiosk's scanner types the bare code, a
    person may type ``abcd-efgh``). Not ``server.auth.codes.normalize_code``: that one reads L as 1, and this
    alphabet has an L."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", code).upper() if ch not in "- \t")


def display_code(code: str) -> str:
    """``XXXX-XXXX``: how the code is shown and read aloud."""
    return f"{code[:4]}-{code[4:]}"


def manage_token_ok(record: BookingRecord, token: str | None) -> bool:
    """Whether ``token`` is the booking's secret manage token (sha256 compared in constant time)."""
    if not token or record.manage_hash is None or len(token) > 200:
        return False
    return hmac.compare_digest(hash_secret(token).hex(), record.manage_hash)


def change_until(cfg: BookingConfig, record: BookingRecord) -> dt.datetime:
    """Until when the resident may cancel or move: the booked time minus ``change_cutoff_hours``."""
    return record.starts_at() - dt.timedelta(hours=cfg.change_cutoff_hours)


def place_of(cfg: BookingConfig, place_id: str) -> Place | None:
    return next((p for p in cfg.places if p.id == place_id), None)


# -- reads ------------------------------------------------------------------------------------------------------

def load_booking_in(conn: sqlite3.Connection, booking_id: str) -> BookingRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM bookings WHERE id = ?", (booking_id,)).fetchone()
    return _record(row) if row else None


def booking_by_code_in(conn: sqlite3.Connection, code: str) -> BookingRecord | None:
    """The booking (not a hold) of a check-in code, typed with or without the dash, in any case (what the kiosk
    and the desk check in with: ``server.tickets.store.checkin_in``)."""
    norm = normalize_code(code)
    if len(norm) != CODE_LENGTH or not set(norm) <= set(CODE_ALPHABET):
        return None
    row = conn.execute(f"SELECT {_COLUMNS} FROM bookings WHERE code = ? AND status NOT IN ('held', 'expired')",
                       (norm,)).fetchone()
    return _record(row) if row else None


def day_bookings_in(conn: sqlite3.Connection, place: str, day: str) -> list[BookingRecord]:
    """The day's bookings at ``place`` (booked, checked in, cancelled, no-show; not holds), by time."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM bookings WHERE place = ? AND day = ?"
                        " AND status NOT IN ('held', 'expired') ORDER BY start, created_at", (place, day))
    return [_record(r) for r in rows]


def account_bookings_in(conn: sqlite3.Connection, account_id: str, today: str, limit: int = 50
                        ) -> list[BookingRecord]:
    """An account's bookings: upcoming (from ``today``) first by time, then past ones newest first."""
    upcoming = conn.execute(
        f"SELECT {_COLUMNS} FROM bookings WHERE account_id = ? AND day >= ? AND status NOT IN ('held', 'expired')"
        " ORDER BY day, start LIMIT ?", (account_id, today, limit)).fetchall()
    past = conn.execute(
        f"SELECT {_COLUMNS} FROM bookings WHERE account_id = ? AND day < ? AND status NOT IN ('held', 'expired')"
        " ORDER BY day DESC, start DESC LIMIT ?", (account_id, today, max(0, limit - len(upcoming)))).fetchall()
    return [_record(r) for r in [*upcoming, *past]]


def taken_in(conn: sqlite3.Connection, place: str, days: Sequence[str], *, exclude: str | None = None
             ) -> dict[str, list[Taken]]:
    """What occupies cells on each of ``days`` at ``place`` (bookings and holds; the rule drops lapsed holds);
    ``exclude``: a booking being moved, whose own cells are free for its new time."""
    if not days:
        return {}
    marks = ",".join("?" * len(days))
    out: dict[str, list[Taken]] = {d: [] for d in days}
    for day, start, minutes, departments, status, held_until in conn.execute(
            f"SELECT day, start, minutes, departments, status, held_until FROM bookings WHERE place = ?"
            f" AND day IN ({marks}) AND status IN ('booked', 'checked_in', 'held') AND id IS NOT ?",
            (place, *days, exclude)):
        out[day].append(Taken(start=start, minutes=minutes, departments=tuple(msgspec.json.decode(departments)),
                              status=status, held_until=held_until))
    return out


def open_holds_in(conn: sqlite3.Connection, holder: str, now: str) -> int:
    return int(conn.execute("SELECT count(*) FROM bookings WHERE holder = ? AND status = 'held' AND held_until > ?",
                            (holder, now)).fetchone()[0])


def phone_key(phone: str) -> str:
    """One number however written (full-width, hyphens, brackets): its digits (``server.booking.phone``), stored in
    ``bookings.phone_key`` (schema v4, indexed for open bookings) and counted by :func:`open_bookings_in`."""
    return phone_digits(phone) or phone


def open_bookings_in(conn: sqlite3.Connection, *, since: str, account_id: str | None = None,
                     holder: str | None = None, phone: str | None = None) -> int:
    """Open bookings (``booked``) from the day ``since`` on, of an account, of a holder, or of a phone number."""
    if account_id is not None:
        where, arg = "account_id = ?", account_id
    elif holder is not None:
        where, arg = "holder = ?", holder
    elif phone is not None:
        where, arg = "phone_key = ?", phone_key(phone)
    else:
        raise ValueError("whose bookings?")
    return int(conn.execute(f"SELECT count(*) FROM bookings WHERE {where} AND status = 'booked' AND day >= ?",
                            (arg, since)).fetchone()[0])


def _not_hoarding(conn: sqlite3.Connection, cfg: BookingConfig, now: dt.datetime, *, holder: str,
                  account_id: str | None, phone: str | None) -> None:
    """Seats cannot be hoarded: 409 ``too-many-bookings`` beyond ``max_open_bookings`` open bookings per account
    and per phone number, or ``max_open_bookings_per_address`` per address for people without an account."""
    since = today(now).isoformat()
    caps: list[tuple[int, int, str]] = []
    if account_id is not None:
        caps.append((open_bookings_in(conn, since=since, account_id=account_id), cfg.max_open_bookings,
                     "for one account"))
    else:
        caps.append((open_bookings_in(conn, since=since, holder=holder), cfg.max_open_bookings_per_address,
                     "from one address without an account"))
    if phone:
        caps.append((open_bookings_in(conn, since=since, phone=phone), cfg.max_open_bookings,
                     "for one phone number"))
    for count, cap, whose in caps:
        if count >= cap:
            raise BookingRefused(409, "too-many-bookings", f"at most {cap} upcoming bookings {whose}: cancel one"
                                 " first, or call the counter")


# -- writes -----------------------------------------------------------------------------------------------------

def _new_code(conn: sqlite3.Connection) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if conn.execute("SELECT 1 FROM bookings WHERE code = ?", (code,)).fetchone() is None:
            return code


def _check_slot(conn: sqlite3.Connection, cfg: BookingConfig, place: Place, day: dt.date, start: str, minutes: int,
                departments: Sequence[str], now: dt.datetime, *, exclude: str | None = None) -> None:
    why = day_state(cfg, place, day, now)
    if why is not None:
        raise BookingRefused(422, "day-not-bookable", f"{day.isoformat()} cannot be booked ({why})")
    with contextlib.suppress(ValueError):  # no HH:MM: not-a-slot below
        if start_at(day, start) <= now:  # over: nobody took it, so not slot-taken (409); choose a later time
            raise BookingRefused(422, "time-past", f"{day.isoformat()} {start} has passed: choose a later time")
    taken = taken_in(conn, place.id, [day.isoformat()], exclude=exclude)[day.isoformat()]
    slots = day_slots(cfg, place, day, minutes, departments, taken, now)
    if not any(s.start == start for s in slots):
        raise BookingRefused(422, "not-a-slot", f"{start} is not a start time of the calendar that day"
                             f" (every {cfg.slot_minutes} minutes, ending by closing time)")
    if not any(s.start == start and s.free for s in slots):
        raise BookingRefused(409, "slot-taken", f"{day.isoformat()} {start} is no longer free: choose another time")


def _date(day: str) -> dt.date:
    """``day`` as a date: ``YYYY-MM-DD`` only (``fromisoformat`` alone also reads ``20261208``), else 400."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day, re.ASCII):
            return dt.date.fromisoformat(day)
    except ValueError:
        pass
    raise BookingRefused(400, "bad-date", f"day must be a date YYYY-MM-DD, not {day[:40]!r}")


def _desk_audit(conn: sqlite3.Connection, by: str, action: str, record: BookingRecord, via: str, *,
                when: bool = False) -> None:
    """The desk's change of a booking, audited in its own write (``booking.book_on_behalf``/``.cancel``/``.move``):
    decided here, where the writer knows it is the desk, so no caller can forget it."""
    details: dict[str, Any] = {"via": via}
    if when:
        details |= {"day": record.day, "start": record.start}
    append_audit(conn, actor=by, action=action, subject=f"booking:{record.id}", details=details)


def create_hold_in(conn: sqlite3.Connection, cfg: BookingConfig, *, place: str, day: str, start: str,
                   minutes: int, procedures: Sequence[str], departments: Sequence[str], event: str | None,
                   party: int, holder: str, moves: str | None = None) -> BookingRecord:
    """Hold ``start`` on ``day`` for ``cfg.hold_minutes`` for ``holder`` (``account:<id>`` or ``ip:<address>``):
    at most ``cfg.max_holds`` open holds each (429 ``too-many-holds``); 400 ``bad-date`` (``day`` is no
    ``YYYY-MM-DD`` date: the API's and the desk's one check), 422 ``day-not-bookable``, 409 ``slot-taken``. The slot
    is checked here, in the write. ``moves``: the booking this hold is to move (the
    caller may change it): its own cells count as free, and the hold can then only move it
    (:func:`move_booking_in`); 409 ``not-changeable`` unless it is ``booked``."""
    now = clock.now()
    date = _date(day)
    where = place_of(cfg, place)
    if where is None:
        raise BookingRefused(400, "unknown-place", f"no place {place!r}")
    if open_holds_in(conn, holder, now.isoformat()) >= cfg.max_holds:
        raise BookingRefused(429, "too-many-holds",
                             f"at most {cfg.max_holds} times may be held at once: confirm or let one lapse")
    if moves is not None:
        moving = load_booking_in(conn, moves)
        if moving is None or moving.status != "booked":
            raise BookingRefused(409, "not-changeable", "only a booked visit can be moved")
    _check_slot(conn, cfg, where, date, start, minutes, departments, now, exclude=moves)
    stamp = now.isoformat()
    bid = str(uuid.uuid4())
    held_until = (now + dt.timedelta(minutes=cfg.hold_minutes)).isoformat()
    conn.execute(
        "INSERT INTO bookings (id, code, place, day, start, minutes, status, held_until, holder, party, event,"
        " procedures, departments, created_at, updated_at, moves)"
        " VALUES (?, ?, ?, ?, ?, ?, 'held', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (bid, _new_code(conn), place, day, start, minutes, held_until, holder, party, event,
         msgspec.json.encode(list(procedures)).decode(), msgspec.json.encode(list(departments)).decode(), stamp,
         stamp, moves))
    found = load_booking_in(conn, bid)
    assert found is not None
    return found


def _live_hold(conn: sqlite3.Connection, hold_id: str, holder: str, now: dt.datetime) -> BookingRecord:
    hold = load_booking_in(conn, hold_id)
    if hold is None or hold.status not in ("held", "expired"):
        raise BookingRefused(410, "hold-expired", "the time held is gone: choose a time again")
    if not hmac.compare_digest(hold.holder, holder):
        raise BookingRefused(409, "hold-not-yours", "this time is held by someone else")
    if hold.status == "expired" or hold.held_until is None or dt.datetime.fromisoformat(hold.held_until) <= now:
        # Nothing written: the refusal rolls the job back; a lapsed hold occupies nothing anyway.
        raise BookingRefused(410, "hold-expired",
                             "the time was held for a limited time only and was released: choose a time again")
    return hold


def _confirmed_before(conn: sqlite3.Connection, hold_id: str, holder: str, account_id: str | None,
                      booked_by: str | None) -> tuple[BookingRecord, str | None] | None:
    """A confirm repeated by whoever made it (a double tap, a retry after a lost answer): the booking it made and its
    manage token (derived, so the same), not 410 ``hold-expired`` — which would send the resident to book again."""
    made = load_booking_in(conn, hold_id)
    if (made is None or made.status != "booked" or not hmac.compare_digest(made.holder, holder)
            or made.account_id != account_id or made.booked_by != booked_by):
        return None
    return made, None if account_id is not None else manage_token(manage_key_in(conn), made.id)


def create_booking_in(conn: sqlite3.Connection, cfg: BookingConfig, *, hold_id: str, holder: str,
                      account_id: str | None, booked_by: str | None, name: str | None, phone: str | None,
                      people: Sequence[str], lang: str | None, via: str = "api"
                      ) -> tuple[BookingRecord, str | None, bool]:
    """Confirm ``holder``'s hold as a booking: for the signed-in resident ``account_id``, or for a person
    without an account (``name``, ``phone``; ``booked_by``: the staff who booked on their behalf, audited
    ``booking.book_on_behalf`` with ``via`` here). Returns the
    booking, when there is no account the secret manage token (given once; only its sha256 is kept), and whether
    the confirm was a repeat (:func:`_confirmed_before`: the booking made before, nothing written; the API
    answers 200, not 201).
    422 ``bad-phone`` (``phone`` given but no phone number by the one rule, ``server.booking.phone``: every caller
    alike, so no number the per-number cap cannot key is stored), 410 ``hold-expired``, 409 ``hold-not-yours``, 409 ``hold-for-move`` (a hold made to move a booking), 422
    ``too-many-people`` (more other people named than the hold's party − 1), 409
    ``too-many-bookings`` (the caps of :func:`_not_hoarding`;
    the desk, ``booked_by``, is not capped: its bookings are audited). Event ``booked``."""
    if phone is not None and phone_digits(phone) is None:
        raise BookingRefused(422, "bad-phone", "a phone number is 6 to 15 digits (full-width too), with spaces,"
                             " hyphens or brackets between them", field="phone")
    now = clock.now()
    again = _confirmed_before(conn, hold_id, holder, account_id, booked_by)
    if again is not None:
        return again[0], again[1], True
    hold = _live_hold(conn, hold_id, holder, now)
    if hold.moves is not None:  # checked without the moved booking's cells: booking it too would overbook
        raise BookingRefused(409, "hold-for-move", "this time was held to move a booking: move it, or choose a"
                             " time again")
    _party_names(people, hold.party)
    if booked_by is None:
        _not_hoarding(conn, cfg, now, holder=holder, account_id=account_id, phone=phone)
    # Derived from the installation's key (server/booking/manage_links.py) so the reminder SMS can carry the link.
    token = None if account_id is not None else manage_token(manage_key_in(conn), hold.id)
    manage_hash = hash_secret(token).hex() if token else None
    conn.execute(
        "UPDATE bookings SET status = 'booked', held_until = NULL, manage_hash = ?, account_id = ?, booked_by = ?,"
        " name = ?, phone = ?, phone_key = ?, people = ?, lang = ?, updated_at = ? WHERE id = ?",
        (manage_hash, account_id, booked_by, name, phone, phone_key(phone) if phone else None,
         msgspec.json.encode(list(people)).decode(), lang, now.isoformat(), hold.id))
    record_event_in(conn, "booked", place=hold.place, booking_id=hold.id, by=booked_by,
                    detail={"day": hold.day, "start": hold.start, "minutes": hold.minutes, "party": hold.party,
                            "departments": hold.departments, "channel": "staff" if booked_by else
                            "account" if account_id else "anonymous"})
    found = load_booking_in(conn, hold.id)
    assert found is not None
    if booked_by is not None:
        _desk_audit(conn, booked_by, "booking.book_on_behalf", found, via, when=True)
    return found, token, False


def _party_names(people: Sequence[str], party: int) -> None:
    """The one rule of a booking's other people: at most ``party − 1`` names (booking and moving), else 422."""
    if len(people) > max(0, party - 1):
        raise BookingRefused(422, "too-many-people", f"the booking is for {party} people: name at most"
                             f" {max(0, party - 1)} others", field="people")


def _changeable(cfg: BookingConfig, record: BookingRecord, now: dt.datetime, staff: bool) -> None:
    if record.status != "booked":
        raise BookingRefused(409, "not-changeable", f"the booking is {record.status}: it cannot be changed")
    if not staff and now >= change_until(cfg, record):
        raise BookingRefused(409, "change-cutoff", f"bookings can be changed until {cfg.change_cutoff_hours} hours"
                             " before the time: please call the counter")


def cancel_booking_in(conn: sqlite3.Connection, cfg: BookingConfig, booking_id: str, *, by: str | None,
                      staff: bool, via: str = "api") -> BookingRecord:
    """Cancel a booking: the resident until the cut-off (409 ``change-cutoff``), staff (``by``) at any time
    before it is checked in (audited ``booking.cancel`` with ``via``). Event ``cancelled``."""
    now = clock.now()
    record = load_booking_in(conn, booking_id)
    if record is None:
        raise BookingRefused(404, "not-found", "no such booking")
    _changeable(cfg, record, now, staff)
    conn.execute("UPDATE bookings SET status = 'cancelled', updated_at = ? WHERE id = ?", (now.isoformat(), record.id))
    record_event_in(conn, "cancelled", place=record.place, booking_id=record.id, by=by if staff else None,
                    detail={"day": record.day, "start": record.start})
    found = load_booking_in(conn, record.id)
    assert found is not None
    if staff and by is not None:
        _desk_audit(conn, by, "booking.cancel", found, via)
    return found


def move_booking_in(conn: sqlite3.Connection, cfg: BookingConfig, booking_id: str, *, hold_id: str, holder: str,
                    by: str | None, staff: bool, via: str = "api") -> BookingRecord:
    """Move a booking to the time its holder holds (``hold_id``): the hold is consumed, the old cells freed in
    the same write; the booking takes the hold's time, length, procedures, party and departments (what capacity
    was checked for). The cut-off as for cancelling (the desk audited ``booking.move`` with ``via``); 422
    ``too-many-people`` when the hold's party is smaller than the people the booking names. Event ``moved``."""
    now = clock.now()
    record = load_booking_in(conn, booking_id)
    if record is None:
        raise BookingRefused(404, "not-found", "no such booking")
    _changeable(cfg, record, now, staff)
    hold = _live_hold(conn, hold_id, holder, now)
    if hold.id == record.id:
        raise BookingRefused(409, "hold-not-yours", "hold a new time first")
    if hold.moves is not None and hold.moves != record.id:
        raise BookingRefused(409, "hold-for-move", "this time was held to move another booking")
    _party_names(record.people, hold.party)
    # What the hold was checked for is what the booking becomes: its time and length, and the procedures, party and
    # departments the capacity was counted with (a move may also change what is booked).
    conn.execute("DELETE FROM bookings WHERE id = ?", (hold.id,))
    conn.execute("UPDATE bookings SET place = ?, day = ?, start = ?, minutes = ?, party = ?, event = ?, procedures = ?,"
                 " departments = ?, updated_at = ? WHERE id = ?",
                 (hold.place, hold.day, hold.start, hold.minutes, hold.party, hold.event,
                  msgspec.json.encode(hold.procedures).decode(), msgspec.json.encode(hold.departments).decode(),
                  now.isoformat(), record.id))
    record_event_in(conn, "moved", place=hold.place, booking_id=record.id, by=by if staff else None,
                    detail={"from": {"place": record.place, "day": record.day, "start": record.start},
                            "to": {"place": hold.place, "day": hold.day, "start": hold.start},
                            "minutes": hold.minutes})
    found = load_booking_in(conn, record.id)
    assert found is not None
    if staff and by is not None:
        _desk_audit(conn, by, "booking.move", found, via, when=True)
    return found


def put_config_in(conn: sqlite3.Connection, source: str, cfg: BookingConfig, set_by: str | None = None) -> None:
    """Store the city's booking rules (``madoguchi booking set``): the YAML as written and the checked config."""
    conn.execute(
        "INSERT INTO booking_config (id, source, config, set_at, set_by) VALUES (1, ?, ?, ?, ?) ON CONFLICT (id)"
        " DO UPDATE SET source = excluded.source, config = excluded.config, set_at = excluded.set_at,"
        " set_by = excluded.set_by", (source, msgspec.json.encode(cfg).decode(), clock.now_iso(), set_by))


def expire_holds_in(conn: sqlite3.Connection, now: dt.datetime | None = None) -> int:
    """Mark lapsed holds ``expired`` (they already occupy nothing); the number marked."""
    stamp = (now or clock.now()).isoformat()
    return conn.execute("UPDATE bookings SET status = 'expired', updated_at = ? WHERE status = 'held'"
                        " AND held_until <= ?", (stamp, stamp)).rowcount
