"""The desk's actions on bookings: booking on a resident's behalf (電話予約, ``/console/bookings/new``), moving and
cancelling a booking, checking an arrived booking in and drawing a walk-in's ticket at the desk (受付・番号札).

The page of ``server/console/booking_pages.py``'s router. Every rule is the booking API's (``server.booking``): the
length from the procedures (``length.resolve``/``length_of``), the free slots (``slots.day_slots`` over
``store.taken_in``), the hold and the booking in one write (``store.create_hold_in`` then ``create_booking_in``
with ``booked_by``: the clerk; the hold is the clerk's, ``api.holder_of``), a move (``store.move_booking_in``) and a
cancel (``store.cancel_booking_in``) as the desk (``staff=True``: the residents' cut-off does not bind the desk).
Check-in and walk-in tickets are the queue's own writes (``server.tickets.store.checkin_in``/``draw_ticket_in`` as
``source="staff"``): the queue's hub sees every write after its commit, so the board and the phones move as for a
kiosk. Works without JavaScript: the choice is a GET form, each free time a submit button of the POST form.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import partial
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from server.auth.names import MAX_NAME, check_name
from server.auth.roles import QUEUE_DESK_ROLES
from server.authz import require_roles, walkin_open
from server.booking import clock
from server.booking.api import holder_of
from server.booking.config import BookingConfig, Place, place_label
from server.booking.length import choice_length
from server.booking.phone import PHONE_MAX
from server.booking.slots import Slot, day_slots, day_state, holiday_name, today, window_days
from server.booking.store import (
    BookingRecord,
    BookingRefused,
    cancel_booking_in,
    create_booking_in,
    create_hold_in,
    load_booking_in,
    move_booking_in,
    place_of,
    taken_in,
)
from server.console.readable import department_names, procedure_titles
from server.console.routes import refusal_page, render_page
from server.problems import Problem
from server.services import Services, services
from server.tickets.context import hub_of
from server.tickets.store import TicketRefused, checkin_in, draw_ticket_in

__all__ = ["DAYS_SHOWN", "DESK_PRIORITY", "book_form", "book_page", "cancel_form", "checkin_form", "day_label",
           "walkin_form"]

DAYS_SHOWN = 7  # days listed at once (「次の7日」 for more)
NAME_MAX = MAX_NAME  # the one name rule's (server.auth.names)
_WEEKDAYS_JA = "月火水木金土日"
_CLOSED = {"holiday": "祝日", "closed": "休み（年末年始など）", "no_hours": "休み", "outside_window": "予約できない日"}
_MESSAGES = {
    "slot-taken": "その時間は先に埋まりました。別の時間を選んでください。",
    "time-past": "その時間は過ぎています。これより後の時間を選んでください。",
    "day-not-bookable": "その日は予約できません。別の日を選んでください。",
    "not-a-slot": "その時刻からは予約できません。表示されている時間から選んでください。",
    "too-many-holds": "押さえている時間が多すぎます。少し待ってからもう一度お試しください。",
    "unknown-place": "その窓口は設定にありません。",
    "unknown-procedure": "選んだ手続きが見つかりません。", "unknown-life-event": "選んだライフイベントが見つかりません。",
    "nothing-chosen": "ライフイベントか手続きを一つ以上選んでください。",
    "bad-party": "人数を選び直してください。",
    "name-and-phone-required": "氏名と電話番号を入力してください。",
    "bad-name": "氏名は100文字までで、制御文字・書式文字は使えません。入力し直してください。",
    "too-many-people": "一緒に来る方の名前は、人数から1を引いた人数までです。人数か名前を直してください。",
    "bad-date": "日付が正しくありません。表示されている時間から選んでください。",
    "bad-phone": "電話番号は6〜15けたの数字で入力してください（例：090-1234-5678）。",
    "not-changeable": "この予約は変更・取り消しできない状態です（受付済み・取り消し済みなど）。",
    "change-cutoff": "変更の期限を過ぎています。",
    "not-found": "その予約は見つかりません。",
    "hold-expired": "時間の押さえが切れました。もう一度時間を選んでください。",
    "wrong-day": "この予約は今日の予約ではありません。予約の日に受け付けてください。",
    "cancelled": "この予約は取り消されています。", "not-booked": "この予約は受け付けできない状態です（来庁なしなど）。",
    "wrong-place": "この予約は別の窓口の予約です。", "unknown-code": "その予約は見つかりません。",
    "unknown-department": "選んだ用件（課）が見つかりません。",
    "place-closed": "今日は閉庁日です（祝日・年末年始・受付のない曜日）。番号札は出せません。",
}
DESK_PRIORITY = "優先（窓口で確認：妊娠中・障害のある方など）"  # the reason stored for a priority ticket drawn here
_refused = partial(refusal_page, messages=_MESSAGES)


def day_label(d: dt.date) -> str:
    """「12月8日（火）」"""
    return f"{d.month}月{d.day}日（{_WEEKDAYS_JA[d.weekday()]}）"


@dataclass
class Choice:
    """What is being booked, read from the query or the form (the same names in both)."""

    event: str | None
    procedures: list[str]
    party: int
    place: str
    move: str | None = None  # the booking being moved

    def query(self) -> list[tuple[str, str]]:
        out = [("event", self.event)] if self.event else []
        out += [("procedures", p) for p in self.procedures] + [("party", str(self.party)), ("place", self.place)]
        return out + ([("move", self.move)] if self.move else [])


def _choice(values: Any, cfg: BookingConfig) -> Choice:
    def many(key: str) -> list[str]:
        got = values.getall(key, []) if hasattr(values, "getall") else values.get(key) or []
        return [str(v) for v in (got if isinstance(got, list) else [got]) if v][:30]

    try:
        party = int(str(values.get("party") or 1))
    except ValueError:
        party = 0
    place = str(values.get("place") or cfg.places[0].id)
    return Choice(event=str(values.get("event") or "") or None, procedures=many("procedures"), party=party,
                  place=place, move=str(values.get("move") or "") or None)


def _resolved(svc: Services, cfg: BookingConfig, c: Choice) -> tuple[Place, int, list[str], list[str]]:
    """(place, minutes, procedures, departments) of a choice: the API's rule; Problem as the API refuses."""
    place = place_of(cfg, c.place)
    if place is None:
        raise Problem(400, "unknown-place", "No such place")
    minutes, procedures, departments = choice_length(cfg, svc.catalog.library, c.procedures, c.event, c.party)
    return place, minutes, procedures, departments


def _names_ok(names: list[str]) -> bool:
    try:
        for n in names:
            check_name(n)
    except ValueError:
        return False
    return True


@dataclass
class DaySlots:
    date: str
    label: str
    closed: str  # why the day cannot be booked, "" when it can
    slots: list[Slot]


async def _listed(svc: Services, cfg: BookingConfig, place: Place, minutes: int, departments: list[str],
                  begin: dt.date | None, moves: str | None = None) -> tuple[list[DaySlots], dt.date]:
    """The days shown and the first of them: from ``begin``, or the window's first day with a free time;
    ``moves``: the booking being moved (its own cells are free for it)."""
    now = clock.now()
    first, last = window_days(cfg, now)
    # A typed ``from`` is held to the window (a far date would scan years of days, or overflow): its page only.
    start = first if begin is None else max(first, min(begin, last))
    shown = DAYS_SHOWN if begin is not None else max(DAYS_SHOWN, (last - start).days + 1)
    span = [start + dt.timedelta(days=i) for i in range(shown)]
    taken = await svc.db.read(lambda c: taken_in(c, place.id, [d.isoformat() for d in span], exclude=moves))

    def of(d: dt.date) -> DaySlots:
        state = day_state(cfg, place, d, now)
        slots = day_slots(cfg, place, d, minutes, departments, taken[d.isoformat()], now) if state is None else []
        why = (f"祝日：{holiday_name(d, 'ja')}" if state == "holiday" else _CLOSED.get(state or "", "")) if state else ""
        # Times already past are no slots (server.booking.slots): today without any left is over, not full.
        none = "空きがありません" if slots or d != today(now) else "予約できる時間は終わりました"
        return DaySlots(d.isoformat(), day_label(d), why or ("" if any(s.free for s in slots) else none),
                        [s for s in slots if s.free])

    if begin is None:  # open on the first day with a free time (the calendar rule)
        start = next((d for d in span if d <= last and of(d).slots), first)
    return [of(start + dt.timedelta(days=i)) for i in range(DAYS_SHOWN)], start


@get("/console/bookings/new", include_in_schema=False)
async def book_page(request: Request[Any, Any, Any]) -> Response[str]:
    require_roles(request, *QUEUE_DESK_ROLES)
    cfg = await hub_of(request).config()
    return await _book_page(request, cfg, _choice(request.query_params, cfg), request.query_params.get("from"))


@dataclass
class Typed:
    """What the clerk typed about the caller, shown again with the refusal when the booking could not be made (a
    lost race for the time: the caller is still on the line)."""

    name: str = ""
    phone: str = ""
    people: str = ""
    error: str = ""
    field: str = ""  # the input the error is about ("phone"), marked aria-invalid


async def _book_page(request: Request[Any, Any, Any], cfg: BookingConfig, c: Choice, raw_from: str | None,
                     typed: Typed | None = None, status: int = 200) -> Response[str]:
    svc = services(request)
    moving: BookingRecord | None = None
    if c.move:
        moving = await svc.db.read(lambda conn: load_booking_in(conn, c.move or ""))
        if moving is None or moving.status != "booked":
            return _refused(request, Problem(404, "not-found", "No such booking"), "/console/bookings")
        if not (c.event or c.procedures):  # the move starts from what the booking is for
            c = Choice(moving.event, [] if moving.event else list(moving.procedures), moving.party, moving.place,
                       moving.id)
    days: list[DaySlots] = []
    minutes, begin = 0, None
    chosen = bool(c.event or c.procedures)
    if chosen:
        try:
            place, minutes, _, departments = _resolved(svc, cfg, c)
            begin = dt.date.fromisoformat(raw_from) if raw_from else None
            days, begin = await _listed(svc, cfg, place, minutes, departments, begin, c.move or None)
        except ValueError:
            return _refused(request, Problem(400, "bad-day", "from must be YYYY-MM-DD"), "/console/bookings/new")
        except Problem as exc:
            return _refused(request, exc, "/console/bookings/new")
    titles = svc.catalog.of_library(procedure_titles)
    events = [(eid, ev.title.ja) for eid in sorted(svc.catalog.library.life_events)
              if (ev := svc.catalog.library.latest_event(eid)) is not None]
    first, last = window_days(cfg, clock.now())
    nav = {}
    if begin is not None:
        if begin > first:
            nav["prev"] = max(first, begin - dt.timedelta(days=DAYS_SHOWN)).isoformat()
        if begin + dt.timedelta(days=DAYS_SHOWN) <= last:
            nav["next"] = (begin + dt.timedelta(days=DAYS_SHOWN)).isoformat()
    return render_page(request, "booking_new.html", http_status=status, current="bookings", c=c, chosen=chosen,
                       minutes=minutes, typed=typed or Typed(), phone_max=PHONE_MAX, name_max=NAME_MAX,
                       days=days, nav=nav, query=c.query(), places={p.id: place_label(p, "ja") for p in cfg.places},
                       procedures=sorted(titles.items(), key=lambda kv: (kv[1], kv[0])), events=events,
                       max_party=cfg.max_party, moving=moving, titles=titles,
                       moving_label=day_label(dt.date.fromisoformat(moving.day)) if moving else "")


@post("/console/bookings/new", include_in_schema=False)
async def book_form(request: Request[Any, Any, Any]) -> Response[Any]:
    """Hold the time pressed and book it for the caller (or move ``move`` to it), in one write job."""
    user = require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)
    cfg = await hub_of(request).config()
    form = await request.form()
    c = _choice(form, cfg)
    back = "/console/bookings/new"
    name, phone = str(form.get("name") or "").strip(), str(form.get("phone") or "").strip()
    people = [p.strip() for p in str(form.get("people") or "").splitlines() if p.strip()]
    day, _, start = str(form.get("slot") or "").partition(" ")
    async def again(slug: str, status: int, field: str = "") -> Response[str]:
        # The same page, the caller's name and number as typed, the days from the one pressed, and what happened.
        typed = Typed(name=name, phone=phone, people="\n".join(people), error=_MESSAGES.get(slug, ""), field=field)
        return await _book_page(request, cfg, c, day if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) else None, typed, status)

    try:
        place, minutes, procedures, departments = _resolved(svc, cfg, c)
        if not c.move and (not name or not phone):
            return await again("name-and-phone-required", 422, "phone" if name else "name")
        # The API's rules (BookIn's Name): the one name rule (server.auth.names) for the caller and the family. The
        # one phone rule (server/booking/phone.py) is the store's: create_booking_in's 422 bad-phone, shown below
        # with this form again.
        if not c.move and not _names_ok([name]):
            return await again("bad-name", 422, "name")
        if not c.move and not _names_ok(people):
            return await again("bad-name", 422, "people")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) or not re.fullmatch(r"\d{2}:\d{2}", start):
            raise Problem(422, "not-a-slot", "Choose one of the times shown")
    except Problem as exc:
        return _refused(request, exc, back)
    holder = holder_of(request, user)

    def write(conn: Any) -> BookingRecord:
        hold = create_hold_in(conn, cfg, place=place.id, day=day, start=start, minutes=minutes,
                              procedures=procedures, departments=departments, event=c.event, party=c.party,
                              holder=holder, moves=c.move or None)
        if c.move:  # audited booking.move by the store (the desk: staff)
            return move_booking_in(conn, cfg, c.move, hold_id=hold.id, holder=holder, by=user.id, staff=True,
                                   via="console")
        # The manage link's token is not shown: the caller manages the booking by phone, through the desk (the
        # reminder SMS the day before carries it: server/booking/manage_links.py). Audited by the store.
        record, _token, _again = create_booking_in(conn, cfg, hold_id=hold.id, holder=holder, account_id=None,
                                                   booked_by=user.id, name=name, phone=phone, people=people,
                                                   lang="ja", via="console")
        return record

    try:
        record = await svc.db.write(write)
    except BookingRefused as e:
        if e.slug in _MESSAGES and e.status in (409, 410, 422):  # e.g. slot-taken: choose another time, same caller
            return await again(e.slug, e.status, e.field or "")
        return _refused(request, Problem(e.status, e.slug, e.detail), back)
    return Redirect(f"/console/bookings/{record.id}?done={'moved' if c.move else 'booked'}", status_code=303)


@post("/console/bookings/{bid:str}/cancel", include_in_schema=False)
async def cancel_form(request: Request[Any, Any, Any], bid: FromPath[str]) -> Response[Any]:
    """The desk cancels a booking (a phone call: 「予約を取り消したい」), past the residents' cut-off too."""
    user = require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)
    cfg = await hub_of(request).config()

    try:  # audited booking.cancel by the store (the desk: staff)
        await svc.db.write(lambda conn: cancel_booking_in(conn, cfg, bid, by=user.id, staff=True, via="console"))
    except BookingRefused as e:
        return _refused(request, Problem(e.status, e.slug, e.detail), f"/console/bookings/{bid}")
    return Redirect(f"/console/bookings/{bid}?done=cancelled", status_code=303)


@post("/console/bookings/{bid:str}/checkin", include_in_schema=False)
async def checkin_form(request: Request[Any, Any, Any], bid: FromPath[str]) -> Response[Any]:
    """受付する: the booked resident is here; their ticket (``R-nnn``), as a kiosk would give it."""
    user = require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)
    back = f"/console/bookings/{bid}"
    record = await svc.db.read(lambda conn: load_booking_in(conn, bid))
    if record is None or record.status in ("held", "expired"):
        return _refused(request, Problem(404, "not-found", "No such booking"), "/console/bookings")
    try:
        await svc.db.write(lambda conn: checkin_in(conn, record.place, record.code, source="staff", by=user.id))
    except TicketRefused as e:
        return _refused(request, e.problem(), back)
    return Redirect(f"{back}?done=checked_in", status_code=303)


@post("/console/bookings/walkin", include_in_schema=False)
async def walkin_form(request: Request[Any, Any, Any]) -> Response[Any]:
    """番号札を出す: a walk-in's ticket (``A-nnn``) drawn at the desk, optionally with priority."""
    user = require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)
    cfg = await hub_of(request).config()
    form = await request.form()
    place = place_of(cfg, str(form.get("place") or ""))
    back = "/console/bookings"
    got = form.getall("departments", []) if hasattr(form, "getall") else []
    departments = [str(d) for d in got if d][:10]
    try:
        if place is None:
            raise Problem(400, "unknown-place", "No such place")
        known = svc.catalog.of_library(department_names)
        if any(d not in known for d in departments):
            raise Problem(422, "unknown-department", "No such department")
        walkin_open(cfg, place, "staff", clock.now())  # the one rule of the API's walk-in tickets: open days
        ticket, _token = await svc.db.write(lambda conn: draw_ticket_in(
            conn, place.id, departments=departments, priority_reason=DESK_PRIORITY if form.get("priority") else None,
            source="staff", account_id=None, lang="ja", by=user.id))
    except TicketRefused as e:
        return _refused(request, e.problem(), back)
    except Problem as exc:
        return _refused(request, exc, back)
    return Redirect(f"{back}?day={ticket.day}&place={place.id}&ticket={ticket.number}", status_code=303)
