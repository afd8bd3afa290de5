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
from server.booking.config import BookingConfig, config_in
from server.console.kiosk_pages import place_names
from server.console.landing import configurator_landing
from server.console.readable import account_names, procedure_titles
from server.console.routes import refusal_page, render_page
from server.display import AnswerSection, answer_sections, form_values, life_event_sections, procedure_title
from server.problems import Problem
from server.services import Services, services

__all__ = ["STATUS_TEXT", "booking_pages_router", "code_text", "filled_count", "tomorrow_jst"]

STATUS_TEXT = {"booked": "予約済み", "checked_in": "受付済み", "cancelled": "取消", "no_show": "来庁なし"}
_SHOWN = tuple(STATUS_TEXT)
_DRAFT_RESERVED = ("procedure_id", "procedure_version", "event_id", "event_version", "madoguchi")  # pwa/js/sync.js
_MESSAGES = {"bad-day": "日付は 2026-12-08 のように入力してください。", "not-found": "その予約は見つかりません。",
             "unknown-place": "その窓口は設定にありません。"}
_refused = partial(refusal_page, messages=_MESSAGES)


def tomorrow_jst() -> str:
    return (clock.now().astimezone(JST).date() + dt.timedelta(days=1)).isoformat()


def code_text(code: str) -> str:
    """A booking code as shown and read out: ``XXXX-XXXX``."""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def _end(start: str, minutes: int) -> str:
    h, m = (int(x) for x in start.split(":"))
    total = h * 60 + m + minutes
    return f"{total // 60:02d}:{total % 60:02d}"


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
    answered = sum(1 for fid in asked if state.values.get(fid) not in (None, "", [], {}))
    return answered, len(asked)


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

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, self.status)


_COLUMNS = ("id, code, day, start, minutes, status, name, phone, party, people, event, procedures, account_id,"
            " booked_by, place")


async def _bookings(svc: Services, rows: list[tuple[Any, ...]]) -> list[DayBooking]:
    accounts = sorted({r[12] for r in rows if r[12]})
    drafts = await svc.db.read(lambda c: _drafts_in(c, accounts))
    names = await account_names(svc.db, [*accounts, *(r[13] for r in rows)])
    titles = svc.catalog.of_library(procedure_titles)
    events = svc.catalog.library.life_events
    out = []
    for (bid, code, day, start, minutes, status, name, phone, party, people, event, procedures, account,
         booked_by, place) in rows:
        mine = drafts.get(account, []) if account else []
        filled = []
        for pid in msgspec.json.decode(procedures):
            f = Filled(pid, procedure_title(titles, pid))
            d = next((x for x in mine if x.procedure == pid), None)  # the newest draft of the procedure
            proc = (await svc.catalog.get(pid, d.version))[0] if d is not None else None
            if d is not None and proc is not None:
                f.answered, f.asked = filled_count(proc, d.answers)
                f.draft, f.title = d, proc.title.ja
            filled.append(f)
        ev = None
        if event and events.get(event):
            from procedure_definitions.library import latest_version

            ev = events[event][latest_version(dict(events[event]))]
        out.append(DayBooking(
            id=bid, code=code_text(code), day=day, start=start, end=_end(start, minutes), minutes=minutes,
            status=status, name=name or (names.get(account, ("",))[0] if account else ""), phone=phone or "",
            party=party, people=msgspec.json.decode(people) if people else [], event=ev.title.ja if ev else "",
            event_id=event, account_id=account,
            booked_by=names.get(booked_by, ("",))[0] if booked_by else "", filled=filled, place=place))
    return out


def _day(value: str | None) -> str:
    if not value:
        return tomorrow_jst()
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise Problem(400, "bad-day", "day must be YYYY-MM-DD") from None


@get("/console/bookings", include_in_schema=False)
async def bookings_page(request: Request[Any, Any, Any], day: FromQuery[str | None] = None,
                        place: FromQuery[str | None] = None) -> Response[str]:
    user = require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)
    try:
        shown_day = _day(day)
    except Problem as exc:
        return _refused(request, exc, "/console/bookings")
    cfg: BookingConfig = await svc.db.read(config_in)
    places = place_names(cfg)
    shown_place = place if place in places else cfg.places[0].id
    marks = ", ".join("?" * len(_SHOWN))
    rows = await svc.db.read(lambda c: c.execute(
        f"SELECT {_COLUMNS} FROM bookings WHERE place = ? AND day = ? AND status IN ({marks})"
        " ORDER BY start, created_at", (shown_place, shown_day, *_SHOWN)).fetchall())
    bookings = await _bookings(svc, rows)
    # Names, phones and what each resident filled in: a read of personal data, audited (the ids shown).
    await audit.record(svc.db, actor=user.id, action="booking.day_read", subject=None,
                       details={"place": shown_place, "day": shown_day, "via": "console",
                                **audit.many([b.id for b in bookings])})
    d = dt.date.fromisoformat(shown_day)
    return render_page(request, "bookings.html", current="bookings", bookings=bookings, places=places,
                       place=shown_place, day=shown_day, day_label=_day_label(d),
                       prev_day=(d - dt.timedelta(days=1)).isoformat(), next_day=(d + dt.timedelta(days=1)).isoformat(),
                       counts={k: sum(1 for b in bookings if b.status == k) for k in _SHOWN})


_WEEKDAYS_JA = "月火水木金土日"


def _day_label(d: dt.date) -> str:
    """「12月8日（火）」"""
    return f"{d.month}月{d.day}日（{_WEEKDAYS_JA[d.weekday()]}）"


@dataclass
class PreentryPart:
    title: str
    filled: Filled
    sections: list[AnswerSection]


@get("/console/bookings/{bid:str}", include_in_schema=False)
async def booking_page(request: Request[Any, Any, Any], bid: FromPath[str]) -> Response[str]:
    """One booking and what its resident filled in, as labels (``server.display``); audited."""
    user = require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)
    rows = await svc.db.read(lambda c: c.execute(f"SELECT {_COLUMNS} FROM bookings WHERE id = ?"
                                                 " AND status <> 'held' AND status <> 'expired'", (bid,)).fetchall())
    if not rows:
        return _refused(request, Problem(404, "not-found", "No such booking"), "/console/bookings")
    b = (await _bookings(svc, rows))[0]
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
    if b.event_id and b.account_id:
        bundle = next((d for d in (await svc.db.read(lambda c: _drafts_in(c, [b.account_id or ""]))).get(
            b.account_id, []) if d.event == b.event_id), None)
        ev = await svc.catalog.life_event(b.event_id, bundle.version) if bundle is not None else None
        if ev is not None and bundle is not None:
            try:
                shared = life_event_sections(ev, bundle.questions, bundle.answers)
            except Exception:
                shared = []
    await audit.record(svc.db, actor=user.id, action="booking.preentry_read", subject=f"booking:{bid}",
                       details={"via": "console", "account_id": b.account_id,
                                "drafts": [p.filled.draft.id for p in parts if p.filled.draft is not None]})
    places = place_names(await svc.db.read(config_in))
    return render_page(request, "booking.html", current="bookings", b=b, parts=parts, shared=shared,
                       place_name=places.get(b.place, b.place),
                       day_label=_day_label(dt.date.fromisoformat(b.day)))


booking_pages_router = Router(path="/", route_handlers=[bookings_page, booking_page],
                              before_request=configurator_landing)
