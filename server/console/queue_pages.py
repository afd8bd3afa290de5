"""The booth's queue page (窓口の呼び出し, ``/console/queue``; docs/counter.md 「窓口で番号を呼ぶ」): choose the place
and the booth (remembered in this browser), 「次の方を呼ぶ」, the called ticket's 再呼出 / 不在 / 受付する / 完了, and
the queue in order. Plain forms that POST (it works without JavaScript); ``/console/static/queue.js`` sends the
same forms without reloading the page and follows the place's live events.

Every action is the queue API's own function (``server.tickets.booths.call_next`` / ``ticket_step``), so the rules
and the audit (``queue.read`` when names are shown, ``via: console``) are the API's. 受付する opens the counter's
visit flow (``server/console/visit_pages.py``): a booking whose account is bound to a registry resident opens (or
reuses) that resident's visit, linked to the ticket; otherwise reception's search opens with the ticket, and the
visit opened there is linked to it.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from functools import partial
from typing import Any, Final
from urllib.parse import quote, urlencode

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from server.auth.roles import QUEUE_ROLES, may_link_visit
from server.authz import AccountLike, require_roles
from server.booking import clock
from server.booking.config import place_label
from server.booking.store import place_of
from server.console.landing import configurator_landing
from server.console.readable import department_names
from server.console.routes import refusal_page, render_page
from server.problems import Problem
from server.services import services
from server.tickets.booths import call_next, staff_queue, ticket_step
from server.tickets.context import hub_of
from server.tickets.hub import booth_label
from server.visits import VisitIn, open_visit

__all__ = ["BOOTH_COOKIE", "KIND_LABELS", "STATUS_LABELS", "queue_pages_router"]

BOOTH_COOKIE: Final[str] = "madoguchi_booth"  # "place|booth": this browser's booth, remembered a year
KIND_LABELS: Final[dict[str, str]] = {"booking": "予約", "walkin": "当日"}
STATUS_LABELS: Final[dict[str, str]] = {"waiting": "お待ち", "called": "呼出中", "serving": "対応中", "done": "完了",
                                        "left": "お帰り", "no_show": "来られず"}
_ACTIONS: Final[frozenset[str]] = frozenset({"recall", "missed", "serve", "finish", "left"})
_MESSAGES = {
    "queue-empty": "待っている方はいません。",
    "unknown-place": "その窓口は設定にありません。",
    "unknown-booth": "その窓口番号は設定にありません。",
    "ticket-state": "この番号は、もうその操作ができません（画面を更新してください）。",
    "not-found": "その番号は見つかりません。",
    "unknown-visit": "その来庁は見つかりません。",
}
_refused = partial(refusal_page, messages=_MESSAGES)
_DONE_TEXT: Final[dict[str, str]] = {"recall": "もう一度お呼びしました", "missed": "不在にしました",
                                     "serve": "受付しました", "finish": "完了にしました", "left": "お帰りになったことにしました"}


def _back(place: str, booth: str, **extra: str) -> str:
    return "/console/queue?" + urlencode({"place": place, "booth": booth, **extra})


def _remembered(request: Request[Any, Any, Any]) -> tuple[str, str]:
    place, _, booth = (request.cookies.get(BOOTH_COOKIE) or "").partition("|")
    return place, booth


def _minutes_since(at: str, now: dt.datetime) -> int:
    return max(0, math.floor((now - dt.datetime.fromisoformat(at)).total_seconds() / 60))


@get("/console/queue", include_in_schema=False)
async def queue_page(request: Request[Any, Any, Any], place: FromQuery[str | None] = None,
                     booth: FromQuery[str | None] = None, msg: FromQuery[str | None] = None,
                     called: FromQuery[str | None] = None) -> Response[str]:
    user = require_roles(request, *QUEUE_ROLES)
    svc, hub = services(request), hub_of(request)
    cfg = await hub.config()
    if place is None and booth is None:
        place, booth = _remembered(request)
    chosen = place_of(cfg, place or "") or cfg.places[0]
    booth = booth if booth in chosen.booths else ""
    ctx: dict[str, Any] = {"places": [(p.id, place_label(p, "ja")) for p in cfg.places], "place": chosen.id,
                           "place_name": place_label(chosen, "ja"), "booths": chosen.booths, "booth": booth,
                           "booth_label": booth_label, "kind_labels": KIND_LABELS, "ticket_labels": STATUS_LABELS,
                           "message": _message(msg, called), "current": "queue"}
    mine = None
    rows: list[dict[str, Any]] = []
    queue = await staff_queue(svc, hub, user, chosen.id, via="console")
    names = svc.catalog.of_library(department_names)
    now = clock.now()
    for t in queue.tickets:
        row = {"t": t, "departments": "、".join(names.get(d, d) for d in t.departments) or "指定なし",
               "waited": _minutes_since(t.arrived_at, now)}
        if booth and t.booth == booth and t.status in ("called", "serving") and mine is None:
            mine = row
        rows.append(row)
    ctx.update(queue=queue, rows=[r for r in rows if r["t"].status == "waiting"],
               live=[r for r in rows if r["t"].status != "waiting"], mine=mine)
    page = render_page(request, "booth_queue.html", **ctx)
    if booth:  # this browser's booth, for the next time the page opens without one
        page.cookies.append(Cookie(key=BOOTH_COOKIE, value=f"{chosen.id}|{booth}", path="/console", max_age=365 * 86400,
                                   httponly=True, samesite="strict", secure=svc.settings.origin.startswith("https://")))
    return page


def _message(msg: str | None, called: str | None) -> str:
    if msg == "empty":
        return "待っている方はいません。"
    if msg == "called" and called:
        return f"{called} の方をお呼びしました。"
    if msg in _DONE_TEXT and called:
        return f"{called}：{_DONE_TEXT[msg]}。"
    return ""


def _form_text(form: Any, name: str, limit: int = 100) -> str:
    return str(form.get(name) or "").strip()[:limit]


@post("/console/queue/call", include_in_schema=False)
async def call_form(request: Request[Any, Any, Any]) -> Response[Any]:
    user = require_roles(request, *QUEUE_ROLES)
    form = await request.form()
    place, booth = _form_text(form, "place"), _form_text(form, "booth", 20)
    try:
        t = await call_next(services(request), hub_of(request), user, place, booth, via="console")
    except Problem as exc:
        if exc.slug == "queue-empty":
            return Redirect(_back(place, booth, msg="empty"), status_code=303)
        return _refused(request, exc, _back(place, booth))
    return Redirect(_back(place, booth, msg="called", called=t.number), status_code=303)


async def _visit_of(request: Request[Any, Any, Any], user: AccountLike, ticket_id: str,
                    booth: str) -> str | None:
    """受付する: the visit of a booking's resident when its account is bound to a registry record (opened, or the
    resident's open one), else None (reception's search opens with the ticket)."""
    svc = services(request)

    def read(c: Any) -> tuple[str | None, str | None]:
        r = c.execute("SELECT t.booking_id, b.resident_id FROM tickets t LEFT JOIN identity_bindings b ON"
                      " b.account_id = t.account_id WHERE t.id = ?", (ticket_id,)).fetchone()
        return (r[0], r[1]) if r else (None, None)

    booking_id, resident_id = await svc.db.read(read)
    if resident_id is None:
        return None
    view, _ = await open_visit(svc, user, VisitIn(id=uuid.uuid4(), resident_id=resident_id, booking_ref=booking_id,
                                                  booth=booth or None))
    return view.id


@post("/console/queue/tickets/{tid:str}/{action:str}", include_in_schema=False)
async def ticket_form(request: Request[Any, Any, Any], tid: FromPath[str], action: FromPath[str]) -> Response[Any]:
    user = require_roles(request, *QUEUE_ROLES)
    form = await request.form()
    place, booth = _form_text(form, "place"), _form_text(form, "booth", 20)
    back = _back(place, booth)
    if action not in _ACTIONS:
        return _refused(request, Problem(404, "not-found"), back)
    svc, hub = services(request), hub_of(request)
    try:
        if action == "serve" and may_link_visit(user):
            # The ticket first: a stale page (a ticket served elsewhere, left or finished) is refused before any
            # visit is opened for the resident; then the visit, linked by a second serve (serving already).
            t = await ticket_step(svc, hub, user, tid, "serve", via="console")
            visit_id = await _visit_of(request, user, tid, booth)
            if visit_id is not None:
                await ticket_step(svc, hub, user, tid, "serve", visit_id=visit_id, via="console")
                return Redirect(f"/console/visits/{quote(visit_id)}", status_code=303)
            return Redirect("/console/visits/new?" + urlencode({"ticket": tid, "booth": booth}), status_code=303)
        t = await ticket_step(svc, hub, user, tid, action, via="console")  # type: ignore[arg-type]
    except Problem as exc:
        return _refused(request, exc, back)
    return Redirect(_back(place, booth, msg=action, called=t.number), status_code=303)


queue_pages_router = Router(path="/", route_handlers=[queue_page, call_form, ticket_form],
                            before_request=configurator_landing)
