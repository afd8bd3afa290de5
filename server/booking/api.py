"""Visit bookings over HTTP (docs/booking.md "API", docs/api.md "Bookings and the queue"): places, what may be
booked, free slots, holds, bookings, cancel and move. Thin handlers over the pure rules (``length``, ``slots``)
and the store (``server.booking.store``), which the console's booking on a resident's behalf calls too.

Who: anyone reads places, options and slots. Holds and bookings: a signed-in resident for themselves, anyone
without an account (name and phone; managed by the secret link's token), or the desk (``QUEUE_DESK_ROLES``)
on a resident's behalf; other staff roles are refused (403). Anonymous holds and bookings take a token of the
``booking`` rate-limit family per address (its own strict rate), every holder has at most ``cfg.max_holds`` open
holds, and open bookings are capped per account, phone number and address (``store.create_booking_in``). A booking is read,
cancelled or moved by its account, by the holder of its manage token (header ``X-Booking-Token``), or by the
desk (audited ``booking.read``); anyone else gets 404, so ids reveal nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from server import audit
from server.auth.http import ip, limit
from server.auth.names import Name
from server.auth.ratelimit import limit_key
from server.auth.roles import BOOKING_ROLES
from server.authz import AccountLike, booking_access, current_user, may_book, require_roles
from server.booking import clock
from server.booking.config import BookingConfig, Place
from server.booking.length import (
    LibraryLike,
    UnknownChoice,
    choice_length,
    length_of,
    procedure_minutes,
    resolve,
)
from server.booking.phone import PHONE_MAX
from server.booking.slots import day_slots, day_state, holiday_name, today, window_days
from server.booking.store import (
    BookingRecord,
    BookingRefused,
    account_bookings_in,
    cancel_booking_in,
    change_until,
    create_booking_in,
    create_hold_in,
    display_code,
    load_booking_in,
    manage_token_ok,
    move_booking_in,
    place_of,
    taken_in,
)
from server.counter_code import QrOut, qr_path
from server.problems import Problem
from server.services import Services, services
from server.tickets.context import hub_of
from server.tickets.store import booking_tickets_in, ticket_links_in

__all__ = [
    "MAX_DAYS",
    "BookIn",
    "BookingView",
    "HoldIn",
    "HoldOut",
    "booking_router",
    "booking_view",
    "holder_of",
    "refused",
]

MAX_DAYS = 62  # the longest stretch of days one slots request lists
TOKEN_HEADER = "x-booking-token"
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
_Day = Annotated[str, msgspec.Meta(pattern=r"\A\d{4}-\d{2}-\d{2}\Z")]
_Time = Annotated[str, msgspec.Meta(pattern=r"\A\d{2}:\d{2}\Z")]
# A phone number as typed (stored so); whether it is one is server/booking/phone.py's rule (422 bad-phone).
Phone = Annotated[str, msgspec.Meta(min_length=1, max_length=PHONE_MAX)]
Lang = Literal["ja", "en", "ja-easy"]


# -- bodies and views -------------------------------------------------------------------------------------------

class PlaceOut(msgspec.Struct):
    id: str
    name: dict[str, str]
    address: str | None
    booths: int


class WindowOut(msgspec.Struct):
    min_days: int
    max_days: int


class PlacesOut(msgspec.Struct):
    places: list[PlaceOut]
    window: WindowOut
    hold_minutes: int
    change_cutoff_hours: int
    max_party: int


class EventOption(msgspec.Struct):
    id: str
    title: dict[str, str]
    minutes: int
    procedures: list[str]


class ProcedureOption(msgspec.Struct):
    id: str
    title: dict[str, str]
    department: str
    minutes: int


class OptionsOut(msgspec.Struct):
    events: list[EventOption]
    procedures: list[ProcedureOption]


class SlotOut(msgspec.Struct):
    start: str
    end: str
    free: bool


class DayOut(msgspec.Struct):
    date: str
    weekday: int  # 0 Monday … 6 Sunday
    closed: str | None  # "holiday", "closed", "no_hours", "outside_window"
    holiday_name: dict[str, str] | None
    slots: list[SlotOut]


class SlotsOut(msgspec.Struct):
    place: str
    minutes: int
    departments: list[str]
    first_free_day: str | None
    days: list[DayOut]


class HoldIn(msgspec.Struct, forbid_unknown_fields=True):
    place: _Id
    day: _Day
    start: _Time
    procedures: Annotated[list[_Id], msgspec.Meta(max_length=30)] = []
    event: _Id | None = None
    party: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1
    # The booking this hold is to move (the caller may change it: 404 otherwise): its own cells count as free, so it
    # can move within a full period into its own freed time; the hold can then only move that booking.
    moves: _Id | None = None


class HoldOut(msgspec.Struct):
    hold_id: str
    held_until: str
    minutes: int
    day: str
    start: str
    end: str
    # until when the booking made from this hold may be cancelled or moved by the resident (UTC ISO), and whether
    # that is still ahead now: the confirm step warns before 予約する when it is not (probe15c #2)
    change_until: str
    may_change: bool


class BookIn(msgspec.Struct, forbid_unknown_fields=True):
    hold_id: _Id
    name: Name | None = None
    phone: Phone | None = None
    people: Annotated[list[Name], msgspec.Meta(max_length=19)] = []
    lang: Lang = "ja"


class MoveIn(msgspec.Struct, forbid_unknown_fields=True):
    hold_id: _Id


class TicketRef(msgspec.Struct):
    number: str
    token: str | None = None


class ProcedureRef(msgspec.Struct):
    id: str
    title: dict[str, str]


class BookingView(msgspec.Struct, kw_only=True):
    id: str
    code: str  # XXXX-XXXX
    place: str
    place_name: dict[str, str]
    day: str
    start: str
    end: str
    minutes: int
    status: str
    party: int
    people: list[str]
    event: str | None
    procedures: list[ProcedureRef]
    departments: list[str]
    name: str | None
    phone: str | None
    created_at: str
    qr: QrOut | None  # the check-in QR of a booked visit, in a single booking's view (not in lists)
    may_change: bool
    change_until: str
    ticket: TicketRef | None
    manage_token: str | None = None  # once, when the booking is made without an account
    manage_url: str | None = None  # the secret link (/#/v/m/{id}/{manage_token}), with the token


class BookingsOut(msgspec.Struct):
    bookings: list[BookingView]


# -- shared by the API and the console ----------------------------------------------------------------------------

# Titles that name what happened where the status's own would not ("Gone" says nothing to a resident's app).
_TITLES = {"hold-expired": "The time held has lapsed", "too-many-bookings": "Too many upcoming bookings"}


def refused(e: BookingRefused) -> Problem:
    """The store's refusal as the API's problem (on its input's path when it names one)."""
    if e.field is not None:
        return Problem(e.status, e.slug, e.detail, title=_TITLES.get(e.slug),
                       errors=[{"path": e.field, "code": e.slug, "message": e.detail}])
    return Problem(e.status, e.slug, e.detail, title=_TITLES.get(e.slug))


def holder_of(request: Request[Any, Any, Any], user: AccountLike | None) -> str:
    """Who holds: ``account:<id>``, or ``ip:<address>`` (an IPv6 client by its /64, as the auth limits count)."""
    return f"account:{user.id}" if user is not None else f"ip:{limit_key(ip(request))}"


def _text(t: Any) -> dict[str, str]:
    if t is None:
        return {}
    return {k: v for k, v in msgspec.to_builtins(t).items() if v}


def booking_view(cfg: BookingConfig, library: LibraryLike, record: BookingRecord, *, ticket: TicketRef | None,
                 now: dt.datetime, token: str | None = None, qr: bool = True) -> BookingView:
    """What the owner (or the desk) sees of a booking; ``ticket``: its ticket once checked in (the phone link's
    token for the owner); ``token``: the manage token, given once; ``qr``: with the check-in QR code (the bare
    code, what a kiosk's scanner types; as the counter code's, ``server.counter_code.qr_path``) when it is
    ``booked`` — lists leave it out (a QR code is made per booking: only the single booking shows it)."""
    place = place_of(cfg, record.place)
    until = change_until(cfg, record)
    procs = []
    for pid in record.procedures:
        proc = library.latest(pid)
        procs.append(ProcedureRef(id=pid, title=_text(proc.title) if proc else {"ja": pid}))
    return BookingView(
        id=record.id, code=display_code(record.code), place=record.place,
        place_name=dict(place.name) if place else {"ja": record.place}, day=record.day, start=record.start,
        end=record.end, minutes=record.minutes, status=record.status, party=record.party, people=record.people,
        event=record.event, procedures=procs, departments=record.departments, name=record.name,
        phone=record.phone, created_at=record.created_at, qr=qr_path(record.code) if qr and record.status == "booked" else None,
        may_change=record.status == "booked" and now < until, change_until=until.astimezone(dt.UTC).isoformat(),
        ticket=ticket, manage_token=token, manage_url=f"/#/v/m/{record.id}/{token}" if token else None)


def _tickets(conn: Any, ids: list[str], *, links: bool) -> dict[str, TicketRef]:
    """The tickets of these bookings (checked in); ``links``: with the phone link's token (the owner's)."""
    if links:
        return {b: TicketRef(number=n, token=token) for b, (n, token) in ticket_links_in(conn, ids).items()}
    return {b: TicketRef(number=n, token=None) for b, (_t, n) in booking_tickets_in(conn, ids).items()}


async def _views(svc: Services, cfg: BookingConfig, records: list[BookingRecord], *, staff: bool = False,
                 qr: bool = True) -> list[BookingView]:
    tickets = await svc.db.read(lambda c: _tickets(c, [r.id for r in records], links=not staff))
    now = clock.now()
    return [booking_view(cfg, svc.catalog.library, r, ticket=tickets.get(r.id), now=now, qr=qr) for r in records]


async def _config(request: Request[Any, Any, Any]) -> BookingConfig:
    """The booking rules as the queue reads them (``QueueHub.config``: one read every few seconds, not one per
    request; ``madoguchi booking set`` takes effect within ``CONFIG_MAX_AGE``)."""
    return await hub_of(request).config()


def _place(cfg: BookingConfig, place_id: str) -> Place:
    place = place_of(cfg, place_id)
    if place is None:
        raise Problem(400, "unknown-place", f"no place {place_id!r}",
                      errors=[{"path": "place", "code": "unknown", "message": place_id}])
    return place


def _day(value: str, key: str) -> dt.date:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise Problem(400, "bad-date", f"{key} must be a date YYYY-MM-DD",
                  errors=[{"path": key, "code": "invalid", "message": value[:40]}])


def _booker(request: Request[Any, Any, Any]) -> AccountLike | None:
    """The caller of a hold or a booking (``server.authz.may_book``); other staff roles: 403."""
    user = current_user(request)
    if not may_book(user):
        raise Problem(403, "forbidden", "Your role may not book visits")
    return user


async def _accessible(request: Request[Any, Any, Any], svc: Services, booking_id: str
                      ) -> tuple[BookingRecord, AccountLike | None, bool]:
    """The booking if the caller may see it: (record, user, as staff). 404 for everyone else."""
    record = await svc.db.read(lambda c: load_booking_in(c, booking_id))
    user = current_user(request)
    if record is not None and record.status not in ("held", "expired"):
        access = booking_access(user, account_id=record.account_id,
                                token_ok=manage_token_ok(record, request.headers.get(TOKEN_HEADER)))
        if access is not None:
            return record, user, access == "desk"
    raise Problem(404, "not-found", "No such booking")


# -- routes -------------------------------------------------------------------------------------------------------

@get("/api/booking/places", summary="The places a visit can be booked at, the window, holds and cut-off")
async def places_route(request: Request[Any, Any, Any]) -> PlacesOut:
    cfg = await _config(request)
    return PlacesOut(places=[PlaceOut(id=p.id, name=dict(p.name), address=p.address, booths=len(p.booths))
                             for p in cfg.places],
                     window=WindowOut(cfg.window.min_days, cfg.window.max_days), hold_minutes=cfg.hold_minutes,
                     change_cutoff_hours=cfg.change_cutoff_hours, max_party=cfg.max_party)


@get("/api/booking/options", summary="What may be booked: life events and procedures, with their minutes")
async def options_route(request: Request[Any, Any, Any]) -> OptionsOut:
    svc = services(request)
    cfg = await _config(request)
    lib = svc.catalog.library
    events = []
    for eid in sorted(lib.life_events):
        ev = lib.latest_event(eid)
        if ev is None:
            continue
        try:
            booked = resolve(cfg, lib, [], eid)
        except (UnknownChoice, ValueError):
            continue
        events.append(EventOption(id=eid, title=_text(ev.title), minutes=length_of(cfg, booked.minutes_each, 1),
                                  procedures=booked.procedures))
    procs = []
    for pid in sorted(lib.procedures):
        proc = lib.latest(pid)
        if proc is None:
            continue
        procs.append(ProcedureOption(id=pid, title=_text(proc.title), department=proc.department.id,
                                     minutes=length_of(cfg, procedure_minutes(cfg, proc), 1)))
    return OptionsOut(events=events, procedures=procs)


@get("/api/booking/slots", summary="Free slots of a place for a booking of the chosen procedures or life event")
async def slots_route(
    request: Request[Any, Any, Any], place: Annotated[str, QueryParameter(max_length=100)],
    procedures: Annotated[str | None, QueryParameter(max_length=3000)] = None,
    event: Annotated[str | None, QueryParameter(max_length=100)] = None, party: FromQuery[int] = 1,
    from_: Annotated[str | None, QueryParameter(name="from", max_length=40)] = None, days: FromQuery[int] = 14,
    moves: Annotated[str | None, QueryParameter(max_length=100)] = None,
) -> SlotsOut:
    svc = services(request)
    if moves:  # the slots for moving that booking, its own cells free: only for who may move it (else 404)
        await _accessible(request, svc, moves)
    cfg = await _config(request)
    where = _place(cfg, place)
    chosen = [p for p in (procedures or "").split(",") if p][:30]
    minutes, _, departments = choice_length(cfg, svc.catalog.library, chosen, event or None, party)
    if not 1 <= days <= MAX_DAYS:
        raise Problem(400, "bad-days", f"days must be 1 to {MAX_DAYS}",
                      errors=[{"path": "days", "code": "invalid", "message": str(days)}])
    now = clock.now()
    first, last = window_days(cfg, now)
    begin = _day(from_, "from") if from_ else first
    # Bounded work for an anonymous request: from today to one page past the window's last day.
    if not today(now) <= begin <= last + dt.timedelta(days=MAX_DAYS):
        raise Problem(400, "bad-date", f"from must be from today to {MAX_DAYS} days after the window's last day",
                      errors=[{"path": "from", "code": "out-of-range", "message": begin.isoformat()}])
    listed = [begin + dt.timedelta(days=i) for i in range(days)]
    # The first day with a free slot is looked for over the window from ``begin``, not only the days listed (days
    # before the window's first are never free).
    ahead = max(begin, first)
    scan = sorted({*listed, *(ahead + dt.timedelta(days=i) for i in range((last - ahead).days + 1))})
    taken = await svc.db.read(lambda c: taken_in(c, where.id, [d.isoformat() for d in scan], exclude=moves or None))
    out: list[DayOut] = []
    first_free: str | None = None
    for d in scan:
        state = day_state(cfg, where, d, now)
        slots = day_slots(cfg, where, d, minutes, departments, taken[d.isoformat()], now) if state is None else []
        if first_free is None and any(s.free for s in slots):
            first_free = d.isoformat()
        if d in listed:
            ja = holiday_name(d, "ja") if state == "holiday" else None
            out.append(DayOut(date=d.isoformat(), weekday=d.weekday(), closed=state,
                              holiday_name={"ja": ja, "en": holiday_name(d, "en") or ja} if ja else None,
                              slots=[SlotOut(s.start, s.end, s.free) for s in slots]))
    return SlotsOut(place=where.id, minutes=minutes, departments=departments, first_free_day=first_free, days=out)


@post("/api/bookings/holds", status_code=201,
      summary="Hold a slot while booking (rate limited; at most max_holds open holds per account or address)")
async def hold_route(request: Request[Any, Any, Any], data: JSONBody[HoldIn]) -> HoldOut:
    user = _booker(request)
    if user is None:
        limit(request, "booking")
    svc = services(request)
    if data.moves is not None:
        await _accessible(request, svc, data.moves)
    cfg = await _config(request)
    where = _place(cfg, data.place)
    minutes, procs, departments = choice_length(cfg, svc.catalog.library, data.procedures, data.event, data.party)
    holder = holder_of(request, user)
    try:
        hold = await svc.db.write(lambda c: create_hold_in(
            c, cfg, place=where.id, day=data.day, start=data.start, minutes=minutes, procedures=procs,
            departments=departments, event=data.event, party=data.party, holder=holder, moves=data.moves))
    except BookingRefused as e:
        raise refused(e) from None
    assert hold.held_until is not None
    until = change_until(cfg, hold)
    return HoldOut(hold_id=hold.id, held_until=hold.held_until, minutes=hold.minutes, day=hold.day,
                   start=hold.start, end=hold.end, change_until=until.astimezone(dt.UTC).isoformat(),
                   may_change=clock.now() < until)


@post("/api/bookings", status_code=201,
      summary="Confirm a held slot as a booking (resident, person without an account, or the desk on behalf)")
async def book_route(request: Request[Any, Any, Any], data: JSONBody[BookIn]) -> Response[BookingView]:
    user = _booker(request)
    if user is None:
        limit(request, "booking")
    svc = services(request)
    cfg = await _config(request)
    resident = user is not None and user.role in BOOKING_ROLES
    if not resident and (data.name is None or data.phone is None):
        missing = [k for k in ("name", "phone") if getattr(data, k) is None]
        raise Problem(422, "name-and-phone-required", "Give the name and a phone number of the person booking",
                      errors=[{"path": k, "code": "required", "message": "required"} for k in missing])
    holder = holder_of(request, user)

    def write(c: Any) -> tuple[BookingRecord, str | None, bool]:
        # The store decides: a repeat by whoever confirmed it (a double tap, a retry after a lost answer: that
        # booking, 200), the phone (bad-phone), the people's count (too-many-people), the desk's audit
        # (booking.book_on_behalf).
        return create_booking_in(
            c, cfg, hold_id=data.hold_id, holder=holder, account_id=user.id if resident and user else None,
            booked_by=user.id if user is not None and not resident else None,
            name=data.name if data.name is not None or not resident or user is None else user.display_name,
            phone=data.phone, people=data.people, lang=data.lang)

    try:
        record, token, repeated = await svc.db.write(write)
    except BookingRefused as e:
        raise refused(e) from None
    view = booking_view(cfg, svc.catalog.library, record, ticket=None, now=clock.now(), token=token)
    return Response(view, status_code=200 if repeated else 201)


@get("/api/bookings", summary="My bookings (residents): upcoming first, then past")
async def my_bookings_route(request: Request[Any, Any, Any]) -> BookingsOut:
    user = require_roles(request, *BOOKING_ROLES)
    svc = services(request)
    cfg = await _config(request)
    day = today(clock.now()).isoformat()
    records = await svc.db.read(lambda c: account_bookings_in(c, user.id, day))
    return BookingsOut(bookings=await _views(svc, cfg, records, qr=False))


async def _staff_read(svc: Services, user: AccountLike | None, record: BookingRecord, staff: bool, via: str) -> None:
    if staff and user is not None:
        await audit.record(svc.db, actor=user.id, action="booking.read", subject=f"booking:{record.id}",
                           details={"via": via})


@get("/api/bookings/{booking_id:str}",
     summary="One booking (its account, the manage token in X-Booking-Token, or the desk: audited)")
async def booking_route(request: Request[Any, Any, Any], booking_id: FromPath[str]) -> BookingView:
    svc = services(request)
    record, user, staff = await _accessible(request, svc, booking_id)
    await _staff_read(svc, user, record, staff, "api")
    return (await _views(svc, await _config(request), [record], staff=staff))[0]


@post("/api/bookings/{booking_id:str}/cancel", status_code=200,
      summary="Cancel a booking (until the cut-off; the desk at any time before check-in)")
async def cancel_route(request: Request[Any, Any, Any], booking_id: FromPath[str]) -> BookingView:
    svc = services(request)
    record, user, staff = await _accessible(request, svc, booking_id)
    cfg = await _config(request)
    try:
        done = await svc.db.write(lambda c: cancel_booking_in(c, cfg, record.id, by=user.id if user else None,
                                                              staff=staff))
    except BookingRefused as e:
        raise refused(e) from None
    return (await _views(svc, cfg, [done], staff=staff))[0]


@post("/api/bookings/{booking_id:str}/move", status_code=200,
      summary="Move a booking to a newly held slot (until the cut-off; the desk at any time before check-in)")
async def move_route(request: Request[Any, Any, Any], booking_id: FromPath[str], data: JSONBody[MoveIn]
                     ) -> BookingView:
    svc = services(request)
    record, user, staff = await _accessible(request, svc, booking_id)
    cfg = await _config(request)
    holder = holder_of(request, user)
    try:
        done = await svc.db.write(lambda c: move_booking_in(c, cfg, record.id, hold_id=data.hold_id, holder=holder,
                                                            by=user.id if user else None, staff=staff))
    except BookingRefused as e:
        raise refused(e) from None
    return (await _views(svc, cfg, [done], staff=staff))[0]


booking_router = Router(path="/", route_handlers=[places_route, options_route, slots_route, hold_route, book_route,
                                                   my_bookings_route, booking_route, cancel_route, move_route],
                        tags=["booking"])
