"""The desk's bookings (予約一覧): a day's bookings of a place by time, with what each booked resident already filled
in from the app (their synced drafts), so the counter can prepare; one booking's pre-entry as labels.

Reads the ``bookings`` table and the account's ``sync_records`` drafts (drafts are their owner's: only a booking's
own account's drafts are read, of the procedures booked). Every read of names or answers is audited: the day's
list (``booking.day_read``, the ids shown) and one booking's pre-entry (``booking.preentry_read``). What is filled
is counted over the fields the resident's form shows with those answers (``evaluate_procedure``'s shown fields,
top level, without notices, calculations and staff-only fields): 「入力済み（12/15 項目）」.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import msgspec
from litestar import Request, Response, Router, get
from litestar.params import FromPath, FromQuery

from procedure_definitions.japan import JST
from procedure_definitions.model import NoticeField, Procedure
from server import audit
from server.auth.roles import QUEUE_DESK_ROLES
from server.authz import require_roles
from server.booking import clock
from server.booking.store import BookingRecord, day_bookings_in, display_code, load_booking_in, place_of
from server.console.booking_new import (
    DESK_PRIORITY,
    book_form,
    book_page,
    cancel_form,
    checkin_form,
    day_label,
    walkin_form,
)
from server.console.kiosk_pages import place_names
from server.console.landing import configurator_landing
from server.console.readable import account_names, department_names, procedure_titles
from server.console.routes import refusal_page, render_page
from server.display import AnswerSection, answer_sections, form_values, life_event_sections, procedure_title
from server.problems import Problem
from server.services import Services, services
from server.tickets.context import hub_of
from server.tickets.store import booking_tickets_in

__all__ = ["STATUS_TEXT", "booking_pages_router", "filled_count", "tomorrow_jst"]

STATUS_TEXT = {"booked": "予約済み", "checked_in": "受付済み", "cancelled": "取消", "no_show": "来庁なし"}
_DRAFT_RESERVED = ("procedure_id", "procedure_version", "event_id", "event_version", "madoguchi")  # pwa/js/sync.js
_MESSAGES = {"bad-day": "日付は 2026-12-08 のように入力してください。", "not-found": "その予約は見つかりません。",
             "unknown-place": "その窓口は設定にありません。"}
_refused = partial(refusal_page, messages=_MESSAGES)


def tomorrow_jst() -> str:
    return (clock.now().astimezone(JST).date() + dt.timedelta(days=1)).isoformat()


def filled_count(proc: Procedure, answers: dict[str, Any]) -> tuple[int, int]:
    """(answered, asked): the top-level fields the resident's form shows with ``answers`` (no notices,
    calculations or staff-only fields) and how many of them hold an answer."""
    from procedure_definitions.forms import evaluate_procedure, staff_only_ids

    try:
        state = evaluate_procedure(proc, answers)
    except Exception:  # a draft is unvalidated input: a form that cannot read it shows nothing filled
        return 0, 0
    shown, staff = set(state.shown), staff_only_ids(proc)
    asked = [f.id for s in proc.sections for f in s.fields
             if f.id in shown and not isinstance(f, NoticeField) and f.calculate is None and f.id not in staff]
    answered = sum(1 for fid in asked if not _blank(state.values.get(fid)))
    return answered, len(asked)


def _blank(v: Any) -> bool:
    """No answer (the form's rule for required): null, "", [], or an object whose parts are all blank (a name
    whose 姓 and 名 are both empty)."""
    if v is None or v == "" or v == []:
        return True
    return isinstance(v, dict) and all(x is None or x == "" for x in v.values())


@dataclass
class Draft:
    """A synced draft of one procedure (or a life event's shared answers: ``procedure`` None)."""

    id: str
    procedure: str | None
    version: str
    answers: dict[str, Any]
    updated_at: str
    event: str | None = None
    questions: dict[str, Any] = field(default_factory=dict)


def _drafts_in(c: sqlite3.Connection, accounts: list[str]) -> dict[str, list[Draft]]:
    """Each account's live drafts (newest first)."""
    if not accounts:
        return {}
    marks = ", ".join("?" * len(accounts))
    rows = c.execute(f"SELECT id, owner, data, updated_at FROM sync_records WHERE type = 'draft' AND deleted = 0"
                     f" AND owner IN ({marks}) ORDER BY updated_at DESC", accounts).fetchall()
    out: dict[str, list[Draft]] = {}
    for rid, owner, data, updated in rows:
        try:
            d = msgspec.json.decode(data)
        except msgspec.DecodeError:
            continue
        if not isinstance(d, dict):
            continue
        found = d.get("madoguchi")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        answers = {k: v for k, v in d.items() if k not in _DRAFT_RESERVED}
        if meta.get("kind") == "bundle":
            out.setdefault(owner, []).append(Draft(rid, None, str(d.get("event_version") or ""), answers, updated,
                                                   event=str(d.get("event_id") or ""),
                                                   questions=meta.get("questions") or {}))
        elif isinstance(d.get("procedure_id"), str):
            out.setdefault(owner, []).append(Draft(rid, d["procedure_id"], str(d.get("procedure_version") or ""),
                                                   answers, updated))
    return out


@dataclass
class Filled:
    procedure: str
    title: str
    answered: int = 0
    asked: int = 0
    draft: Draft | None = None

    @property
    def text(self) -> str:
        return f"入力済み（{self.answered}/{self.asked} 項目）" if self.draft is not None and self.answered else "未入力"


@dataclass
class DayBooking:
    id: str
    code: str
    day: str
    start: str
    end: str
    minutes: int
    status: str
    name: str
    phone: str
    party: int
    people: list[str]
    event: str  # the life event's title, "" without one
    event_id: str | None
    account_id: str | None
    booked_by: str  # the clerk's name when booked on a resident's behalf
    filled: list[Filled]
    place: str
    ticket: str = ""  # the queue number once checked in
    drafts: list[Draft] = field(default_factory=list)  # the booking account's drafts, newest first (read once)

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, self.status)


async def _bookings(svc: Services, records: list[BookingRecord]) -> list[DayBooking]:
    accounts = sorted({r.account_id for r in records if r.account_id})
    drafts = await svc.db.read(lambda c: _drafts_in(c, accounts))
    names = await account_names(svc.db, [*accounts, *(r.booked_by for r in records)])
    titles = svc.catalog.of_library(procedure_titles)
    tickets = await svc.db.read(lambda c: booking_tickets_in(c, [r.id for r in records]))
    out = []
    for r in records:
        mine = drafts.get(r.account_id, []) if r.account_id else []
        filled = []
        for pid in r.procedures:
            f = Filled(pid, procedure_title(titles, pid))
            d = next((x for x in mine if x.procedure == pid), None)  # the newest draft of the procedure
            proc = (await svc.catalog.get(pid, d.version))[0] if d is not None else None
            if d is not None and proc is not None:
                f.answered, f.asked = filled_count(proc, d.answers)
                f.draft, f.title = d, proc.title.ja
            filled.append(f)
        ev = svc.catalog.library.latest_event(r.event) if r.event else None
        out.append(DayBooking(
            id=r.id, code=display_code(r.code), day=r.day, start=r.start, end=r.end, minutes=r.minutes,
            status=r.status, name=r.name or (names.get(r.account_id, ("",))[0] if r.account_id else ""),
            phone=r.phone or "", party=r.party, people=r.people, event=ev.title.ja if ev else "", event_id=r.event,
            account_id=r.account_id, booked_by=names.get(r.booked_by, ("",))[0] if r.booked_by else "",
            filled=filled, place=r.place, ticket=tickets.get(r.id, ("", ""))[1], drafts=mine))
    return out


def _day(value: str | None) -> str:
    if not value:
        return tomorrow_jst()
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise Problem(400, "bad-day", "day must be YYYY-MM-DD") from None
    if not 2000 <= day.year <= 9000:  # the page links the days either side: the ends of the calendar overflow
        raise Problem(400, "bad-day", "day must be a date between the years 2000 and 9000")
    return day.isoformat()


@get("/console/bookings", include_in_schema=False)
async def bookings_page(request: Request[Any, Any, Any], day: FromQuery[str | None] = None,
                        place: FromQuery[str | None] = None, ticket: FromQuery[str | None] = None) -> Response[str]:
    user = require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)
    try:
        shown_day = _day(day)
    except Problem as exc:
        return _refused(request, exc, "/console/bookings")
    cfg = await hub_of(request).config()
    places = place_names(cfg)
    shown_place = place if place in places else cfg.places[0].id
    bookings = await _bookings(svc, await svc.db.read(lambda c: day_bookings_in(c, shown_place, shown_day)))
    # Names, phones and what each resident filled in: a read of personal data, audited (the ids shown).
    await audit.record(svc.db, actor=user.id, action="booking.day_read", subject=None,
                       details={"place": shown_place, "day": shown_day, "via": "console",
                                **audit.many([b.id for b in bookings])})
    d = dt.date.fromisoformat(shown_day)
    today = clock.now().astimezone(JST).date() == d
    names = svc.catalog.of_library(department_names)
    where = place_of(cfg, shown_place) or cfg.places[0]
    departments = [(x, names.get(x, x)) for x in (list(where.departments) or sorted(names))] if today else []
    return render_page(request, "bookings.html", current="bookings", bookings=bookings, places=places,
                       place=shown_place, day=shown_day, day_label=day_label(d), today=today,
                       departments=departments, drawn=(ticket or "")[:10], priority_text=DESK_PRIORITY,
                       prev_day=(d - dt.timedelta(days=1)).isoformat(), next_day=(d + dt.timedelta(days=1)).isoformat(),
                       counts={k: sum(1 for b in bookings if b.status == k) for k in STATUS_TEXT})


@dataclass
class PreentryPart:
    title: str
    filled: Filled
    sections: list[AnswerSection]


@get("/console/bookings/{bid:str}", include_in_schema=False)
async def booking_page(request: Request[Any, Any, Any], bid: FromPath[str],
                       done: FromQuery[str | None] = None) -> Response[str]:
    """One booking and what its resident filled in, as labels (``server.display``); audited."""
    user = require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)
    record = await svc.db.read(lambda c: load_booking_in(c, bid))
    if record is None or record.status in ("held", "expired"):
        return _refused(request, Problem(404, "not-found", "No such booking"), "/console/bookings")
    b = (await _bookings(svc, [record]))[0]
    parts: list[PreentryPart] = []
    for f in b.filled:
        sections: list[AnswerSection] = []
        if f.draft is not None:
            proc = (await svc.catalog.get(f.procedure, f.draft.version))[0]
            if proc is not None:
                try:
                    sections = answer_sections(proc, form_values(proc, f.draft.answers))
                except Exception:  # unvalidated input, as in filled_count: what the form cannot read is left out
                    sections = []
        parts.append(PreentryPart(f.title, f, sections))
    shared: list[AnswerSection] = []
    shown = [p.filled.draft.id for p in parts if p.filled.draft is not None]
    if b.event_id and b.account_id:
        bundle = next((d for d in b.drafts if d.event == b.event_id), None)
        ev = await svc.catalog.life_event(b.event_id, bundle.version) if bundle is not None else None
        if ev is not None and bundle is not None:
            try:
                shared = life_event_sections(ev, bundle.questions, bundle.answers)
            except Exception:
                shared = []
            if shared:  # the life event's shared answers are shown: their draft is read as well
                shown.append(bundle.id)
    await audit.record(svc.db, actor=user.id, action="booking.preentry_read", subject=f"booking:{bid}",
                       details={"via": "console", "account_id": b.account_id,
                                "drafts": shown})
    places = place_names(await hub_of(request).config())
    return render_page(request, "booking.html", current="bookings", b=b, parts=parts, shared=shared,
                       place_name=places.get(b.place, b.place), done=_DONE.get(done or "", ""),
                       today=clock.now().astimezone(JST).date().isoformat() == b.day,
                       day_label=day_label(dt.date.fromisoformat(b.day)))


_DONE = {"booked": "予約しました。予約番号を電話の相手に伝えてください。", "moved": "予約の日時を変えました。",
         "cancelled": "予約を取り消しました。", "checked_in": "受付しました。番号札の番号を伝えてください。"}


booking_pages_router = Router(path="/", route_handlers=[bookings_page, booking_page, book_page, book_form,
                                                       cancel_form, checkin_form, walkin_form],
                              before_request=configurator_landing)
