"""The one queue over HTTP (docs/queue.md, docs/api.md "Bookings and the queue"): check-in of a booking, walk-in
tickets, a ticket's phone link (view, live events, Web Push, leaving), the lobby board, and the booths' steps.

Every route asks the one policy first: who issues a ticket (a paired kiosk of the place, the desk, a resident's
app) is ``server.authz.ticket_issuer``; the booths are ``QUEUE_ROLES``, and which tickets each may see and work is
``server.auth.roles.may_serve_ticket`` (a visit linked only by ``may_link_visit``); a ticket's secret link is its
own capability. The board is public and
holds numbers and booths only. The console's booth page (``server/console/queue_pages.py``) calls the same
functions (:func:`call_next`, :func:`ticket_step`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from litestar import Request, Response, Router, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from server import audit
from server.auth.middleware import parse_cookies
from server.auth.names import Name
from server.auth.roles import QUEUE_ROLES, may_link_visit, may_serve_ticket
from server.authz import AccountLike, TicketSource, current_user, require_roles, ticket_issuer, walkin_open
from server.booking import clock
from server.booking.config import BookingConfig, Place
from server.booking.store import place_of as booking_place
from server.console.readable import department_names
from server.counter_code import qr_path
from server.problems import Problem
from server.push import SubscriptionIn, checked_subscription, endpoint_to_forget
from server.services import Services, services
from server.tickets import store
from server.tickets.hub import QueueHub, Snapshot
from server.tickets.kiosk_auth import KIOSK_COOKIE, kiosk_place
from server.tickets.longpoll import Wait, long_poll
from server.tickets.store import TicketRefused, TicketRow
from server.tickets.views import (
    BoardView,
    StaffTicket,
    TicketIssued,
    TicketView,
    board_view,
    etag_of,
    staff_ticket,
    ticket_view,
)

__all__ = ["MAX_TICKET_PUSH", "PING_S", "call_next", "hub_of", "place_of", "queue_router", "staff_queue",
           "ticket_step", "ticket_url"]

T = TypeVar("T")
PING_S = 15.0  # a comment line this often keeps proxies from closing a quiet event stream
MAX_TICKET_PUSH = 5  # browsers subscribed to one ticket

_Dept = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
_Booth = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


class CheckinIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]  # with or without the dash, any case


class TicketIn(msgspec.Struct, forbid_unknown_fields=True):
    departments: Annotated[list[_Dept], msgspec.Meta(max_length=10)] = []
    # Stored and shown to staff as a name is: the one name rule (no control or bidi characters, one line).
    priority_reason: Name | None = None
    lang: Literal["ja", "en", "ja-easy"] | None = None


class CallIn(msgspec.Struct, forbid_unknown_fields=True):
    booth: _Booth


class ServeIn(msgspec.Struct, forbid_unknown_fields=True):
    visit_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class BoothState(msgspec.Struct):
    booth: str
    number: str | None  # the ticket called or served there now
    status: str | None


class QueueStatsOut(msgspec.Struct):
    waiting: int
    called_today: int
    service_minutes: float
    active_booths: int


class StaffQueue(msgspec.Struct):
    place: str
    place_name: dict[str, str]
    tickets: list[StaffTicket]  # waiting in queue order, then called and serving
    booths: list[BoothState]
    stats: QueueStatsOut
    version: int


# -- shared pieces ------------------------------------------------------------------------------------------------

def hub_of(request: Request[Any, Any, Any]) -> QueueHub:
    hub: QueueHub = request.app.state.queue_hub
    return hub


def place_of(cfg: BookingConfig, place_id: str) -> Place:
    """``server.booking.store.place_of``, or 404 ``unknown-place``."""
    place = booking_place(cfg, place_id)
    if place is None:
        raise Problem(404, "unknown-place", "No such place")
    return place


def _stub_place(place_id: str) -> Place:
    """A ticket of a place the configuration no longer has still shows (its id as its name)."""
    return Place(id=place_id, name={"ja": place_id}, booths=[], booking_booths=0)


async def _write(svc: Services, fn: Callable[[sqlite3.Connection], T]) -> T:
    try:
        return await svc.db.write(fn)
    except TicketRefused as exc:
        raise exc.problem() from None


def ticket_url(svc: Services, token: str) -> str:
    """A ticket's phone link as the API answers it: absolute (``{origin}/#/q/{token}``), for a new ticket and for
    the open one a 409 ``ticket-open`` names alike."""
    return f"{svc.settings.origin.rstrip('/')}/#/q/{token}"


def _issued(svc: Services, snap: Snapshot, t: TicketRow, token: str) -> TicketIssued:
    url = ticket_url(svc, token)
    return TicketIssued(**msgspec.structs.asdict(ticket_view(snap, t)), token=token, url=url,
                        qr=qr_path(url))


async def _fresh(hub: QueueHub, place: Place, cfg: BookingConfig, t: TicketRow) -> tuple[Snapshot, TicketRow]:
    """The snapshot after a write, and the ticket as it holds it. A ticket the write took out of the waiting line
    (called, served, done, left) has no position to show: the answer does not wait for the next rebuild (a booth's
    step answers at once while changes keep coming; the boards' and phones' views follow with it)."""
    snap = hub.latest(place, cfg) if t.status != "waiting" else None
    if snap is None:
        snap = await hub.snapshot(place, cfg)
    return snap, _newer(snap, t)


def _newer(snap: Snapshot, t: TicketRow) -> TicketRow:
    """The ticket as ``snap`` holds it, or ``t`` when that is newer or the snapshot has not got it (a ticket closed
    before the board's last calls: snapshots hold the open tickets only)."""
    held = snap.by_id.get(t.id)
    return t if held is None or held.updated_at < t.updated_at else held


async def _issuer(request: Request[Any, Any, Any], place: str, *,
                  residents: bool) -> tuple[TicketSource, AccountLike | None]:
    """``server.authz.ticket_issuer`` of this request (its account, its kiosk cookie)."""
    return ticket_issuer(current_user(request), await kiosk_place(request), place, residents=residents,
                         kiosk_cookie=bool(parse_cookies(request.scope).get(KIOSK_COOKIE)))


# -- tickets: issuing --------------------------------------------------------------------------------------------

@post("/api/queue/{place:str}/checkin", summary="Check a booking in: its ticket (kiosk or desk)", status_code=201,
      tags=["queue"])
async def checkin(request: Request[Any, Any, Any], place: FromPath[str],
                  data: JSONBody[CheckinIn]) -> Response[TicketIssued]:
    source, user = await _issuer(request, place, residents=False)
    svc, hub = services(request), hub_of(request)
    cfg = await hub.config()
    p = place_of(cfg, place)
    t, token, created = await _write(svc, lambda c: store.checkin_in(c, p.id, data.code, source=source,
                                                                     by=user.id if user else None))
    snap, t = await _fresh(hub, p, cfg, t)
    return Response(_issued(svc, snap, t, token), status_code=201 if created else 200)


@post("/api/queue/{place:str}/tickets", summary="Draw a walk-in ticket (kiosk, desk, or a resident's app)",
      status_code=201, tags=["queue"])
async def draw_ticket(request: Request[Any, Any, Any], place: FromPath[str],
                      data: JSONBody[TicketIn]) -> Response[TicketIssued]:
    source, user = await _issuer(request, place, residents=True)
    svc, hub = services(request), hub_of(request)
    cfg = await hub.config()
    p = place_of(cfg, place)
    walkin_open(cfg, p, source, clock.now())  # the app only while open; a kiosk or the desk on open days
    known = svc.catalog.of_library(department_names)
    unknown = [d for d in data.departments if d not in known]
    if unknown:
        raise Problem(422, "unknown-department", f"No such department: {unknown[0]}",
                      errors=[{"path": "departments", "code": "unknown", "message": d} for d in unknown])
    account = user.id if source == "app" and user is not None else None
    by = user.id if source == "staff" and user is not None else None
    try:
        t, token = await svc.db.write(lambda c: store.draw_ticket_in(
            c, p.id, departments=list(data.departments), priority_reason=data.priority_reason, source=source,
            account_id=account, lang=data.lang, by=by))
    except TicketRefused as exc:
        if exc.code == "ticket-open":  # the open ticket's link, as a new ticket's
            exc.extra["url"] = ticket_url(svc, str(exc.extra["token"]))
        raise exc.problem() from None
    snap, t = await _fresh(hub, p, cfg, t)
    return Response(_issued(svc, snap, t, token), status_code=201)


# -- a ticket by its link ------------------------------------------------------------------------------------------

async def _by_token(svc: Services, hub: QueueHub, token: str) -> tuple[Snapshot, TicketRow]:
    t = await svc.db.read(lambda c: store.ticket_by_token(c, token))
    if t is None:
        raise Problem(404, "not-found", "No such ticket")
    return await _ticket_snapshot(hub, t)


async def _ticket_snapshot(hub: QueueHub, t: TicketRow) -> tuple[Snapshot, TicketRow]:
    """The ticket's place now (under the current configuration; a place it no longer has still shows), and the
    ticket as that snapshot holds it."""
    cfg = await hub.config()
    snap = await hub.snapshot(booking_place(cfg, t.place) or _stub_place(t.place), cfg)
    held = _newer(snap, t)
    if held is t and t.status in store.OPEN_STATUSES and t.id not in snap.by_id:
        # Open when last seen, not among the snapshot's open tickets now: it was closed (done, left, no-show).
        again: TicketRow | None = await hub.db.read(lambda c: store.load_ticket(c, t.id))
        held = again or t
    return snap, held


@get("/api/tickets/{token:str}", summary="A ticket by its link: position, estimate, status (ETag; ?wait=N holds)",
     tags=["queue"])
async def get_ticket(request: Request[Any, Any, Any], token: FromPath[str],
                     wait: Wait = 0) -> Response[TicketView]:
    hub = hub_of(request)
    snap, t = await _by_token(services(request), hub, token)

    async def current() -> tuple[Snapshot, TicketView]:
        nonlocal t
        s, t = await _ticket_snapshot(hub, t)
        return s, ticket_view(s, t)

    return await long_poll(request, hub, t.place, (snap, ticket_view(snap, t)), current, wait)


@get("/api/tickets/{token:str}/events", summary="A ticket's live updates (server-sent events 'ticket')",
     tags=["queue"], media_type="text/event-stream")
async def ticket_events(request: Request[Any, Any, Any], token: FromPath[str]) -> ServerSentEvent:
    svc, hub = services(request), hub_of(request)
    snap, t = await _by_token(svc, hub, token)  # 404 before the stream starts

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        nonlocal snap, t
        last = ""
        while not hub.closed:
            view = ticket_view(snap, t)
            tag = etag_of(view)
            if tag != last:
                last = tag
                yield ServerSentEventMessage(event="ticket", data=msgspec.json.encode(view).decode())
            version = await hub.wait(t.place, snap.version, PING_S)
            if hub.closed:
                return
            if version == snap.version:
                yield ServerSentEventMessage(comment="ping")
            snap, t = await _ticket_snapshot(hub, t)  # the current configuration: one snapshot for every stream

    return ServerSentEvent(stream(), retry_duration=2000, headers={"Cache-Control": "no-cache",
                                                                   "X-Accel-Buffering": "no"})


@post("/api/tickets/{token:str}/push", summary="Notify this browser when the ticket's turn is near and when called",
      status_code=204, tags=["queue"])
async def ticket_push(request: Request[Any, Any, Any], token: FromPath[str], data: JSONBody[SubscriptionIn]) -> None:
    svc = services(request)
    sub = checked_subscription(data, svc.settings)  # the one check of server/push.py (422 invalid-subscription)

    def save(c: sqlite3.Connection) -> str:
        t = store.ticket_by_token(c, token)
        if t is None:
            raise TicketRefused(404, "not-found", "No such ticket")
        c.execute("INSERT INTO ticket_push (ticket_id, endpoint, p256dh, auth) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT (ticket_id, endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth",
                  (t.id, sub.endpoint, sub.p256dh, sub.auth))
        c.execute("DELETE FROM ticket_push WHERE ticket_id = ? AND rowid NOT IN (SELECT rowid FROM ticket_push"
                  " WHERE ticket_id = ? ORDER BY rowid DESC LIMIT ?)", (t.id, t.id, MAX_TICKET_PUSH))
        return t.place

    # A ticket already near (or called) gets its message now: the push check alone, not a change of the queue
    # (that would wake every board and phone of the place, as often as anyone holding the link liked).
    hub_of(request).check_pushes(await _write(svc, save))


@delete("/api/tickets/{token:str}/push", summary="Stop this browser's notifications of the ticket", status_code=204,
        tags=["queue"])
async def ticket_unpush(request: Request[Any, Any, Any], token: FromPath[str],
                        endpoint: Annotated[str, FromQuery]) -> None:
    svc = services(request)
    endpoint = endpoint_to_forget(endpoint)  # server/push.py's one rule: a too-long endpoint is cut, 204 as any

    def forget(c: sqlite3.Connection) -> None:
        t = store.ticket_by_token(c, token)
        if t is None:
            raise TicketRefused(404, "not-found", "No such ticket")
        c.execute("DELETE FROM ticket_push WHERE ticket_id = ? AND endpoint = ?", (t.id, endpoint))

    await _write(svc, forget)


@post("/api/tickets/{token:str}/leave", summary="Give up the ticket's place (順番待ちをやめる)", status_code=200,
      tags=["queue"])
async def leave(request: Request[Any, Any, Any], token: FromPath[str]) -> TicketView:
    svc, hub = services(request), hub_of(request)

    def job(c: sqlite3.Connection) -> TicketRow:
        t = store.ticket_by_token(c, token)
        if t is None:
            raise TicketRefused(404, "not-found", "No such ticket")
        return store.left_in(c, t.id, None)

    # The row the write returns is the answer: no second token lookup, and ``_fresh`` does not wait out the
    # rebuild interval for a ticket that left the line (as the booth steps).
    t = await _write(svc, job)
    cfg = await hub.config()
    snap, t = await _fresh(hub, booking_place(cfg, t.place) or _stub_place(t.place), cfg, t)
    return ticket_view(snap, t)


# -- the lobby board -------------------------------------------------------------------------------------------------

async def _board(hub: QueueHub, place: str) -> Snapshot:
    snap = await hub.place_snapshot(place)
    if snap is None:
        raise Problem(404, "unknown-place", "No such place")
    return snap


@get("/api/queue/{place:str}/board",
     summary="The lobby board: recent calls, waiting count (public; ETag; ?wait=N holds)", tags=["queue"])
async def get_board(request: Request[Any, Any, Any], place: FromPath[str],
                    wait: Wait = 0) -> Response[BoardView]:
    hub = hub_of(request)
    snap = await _board(hub, place)

    async def current() -> tuple[Snapshot, BoardView]:
        s = await _board(hub, place)
        return s, board_view(s)

    return await long_poll(request, hub, place, (snap, board_view(snap)), current, wait)


@get("/api/queue/{place:str}/board/events", summary="The lobby board's live updates (server-sent events 'board')",
     tags=["queue"], media_type="text/event-stream")
async def board_events(request: Request[Any, Any, Any], place: FromPath[str]) -> ServerSentEvent:
    hub = hub_of(request)
    snap = await _board(hub, place)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        nonlocal snap
        last = ""
        while not hub.closed:
            view = board_view(snap)
            tag = etag_of(view)
            if tag != last:
                last = tag
                yield ServerSentEventMessage(event="board", data=msgspec.json.encode(view).decode())
            version = await hub.wait(place, snap.version, PING_S)
            if hub.closed:
                return
            if version == snap.version:
                yield ServerSentEventMessage(comment="ping")
            try:  # the current configuration: one snapshot per change for every stream of the place
                snap = await _board(hub, place)
            except Problem:  # the place left the configuration: the stream ends
                return

    return ServerSentEvent(stream(), retry_duration=1000, headers={"Cache-Control": "no-cache",
                                                                   "X-Accel-Buffering": "no"})


# -- the booths ---------------------------------------------------------------------------------------------------------

async def _staff_views(svc: Services, hub: QueueHub, user: AccountLike, snap: Snapshot, tickets: list[TicketRow],
                       *, via: str) -> list[StaffTicket]:
    """The booths' view of ``tickets``: with the booking's name and procedures; one audited ``queue.read`` when a
    name is shown that this account has not been shown at this place today (``QueueHub.names_not_shown``)."""
    ids = sorted({t.booking_id for t in tickets if t.booking_id})

    def read(c: sqlite3.Connection) -> dict[str, tuple[str | None, list[str]]]:
        if not ids:
            return {}
        rows = c.execute(f"SELECT id, name, procedures FROM bookings WHERE id IN ({', '.join('?' * len(ids))})", ids)
        return {r[0]: (r[1], msgspec.json.decode(r[2] or "[]")) for r in rows}

    booked = await svc.db.read(read)
    out = [staff_ticket(snap, t, name=booked.get(t.booking_id or "", (None, []))[0],
                        procedures=booked.get(t.booking_id or "", (None, []))[1]) for t in tickets]
    day = store.day_of(snap.at)
    named = hub.names_not_shown(user.id, snap.place.id, day, [s.id for s in out if s.name])
    if named:
        await audit.record(svc.db, actor=user.id, action="queue.read", subject=f"queue:{snap.place.id}",
                           details={"via": via, **audit.many(named)})
        hub.names_shown(user.id, snap.place.id, day, named)
    return out


async def staff_queue(svc: Services, hub: QueueHub, user: AccountLike, place_id: str, *, via: str) -> StaffQueue:
    """The booths' list: waiting tickets in queue order, then those called and served. A department's reviewer sees
    the tickets of their department only (the department rule: the others' bookings and names are not theirs)."""
    cfg = await hub.config()
    snap = await hub.snapshot(place_of(cfg, place_id), cfg)
    mine = [t for t in snap.tickets if may_serve_ticket(user, t.departments)]
    order = sorted((t for t in mine if t.status == "waiting"), key=lambda t: snap.positions.get(t.id, (0, 0)))
    live = sorted((t for t in mine if t.status in ("called", "serving")), key=lambda t: t.called_at or "",
                  reverse=True)
    tickets = await _staff_views(svc, hub, user, snap, [*order, *live], via=via)
    booths = []
    for b in snap.place.booths:
        at = next((t for t in live if t.booth == b), None)
        booths.append(BoothState(booth=b, number=at.number if at else None, status=at.status if at else None))
    stats = QueueStatsOut(waiting=len(order), called_today=snap.called_today,
                          service_minutes=round(snap.stats.service_minutes, 1), active_booths=snap.stats.active_booths)
    return StaffQueue(place=snap.place.id, place_name=snap.place.name, tickets=tickets, booths=booths, stats=stats,
                      version=snap.version)


async def call_next(svc: Services, hub: QueueHub, user: AccountLike, place_id: str, booth: str, *,
                    via: str) -> StaffTicket:
    """次の方を呼ぶ: the next ticket ``user`` may serve, called to ``booth`` (404 ``queue-empty``)."""
    cfg = await hub.config()
    p = place_of(cfg, place_id)
    if booth not in p.booths:
        raise Problem(422, "unknown-booth", f"No booth {booth!r} at this place",
                      errors=[{"path": "booth", "code": "unknown", "message": "one of the place's booths"}])
    t = await _write(svc, lambda c: store.call_next_in(c, p.id, booth, cfg, partial(may_serve_ticket, user),
                                                         user.id))
    if t is None:
        raise Problem(404, "queue-empty", "Nobody is waiting for this booth", title="待っている方はいません")
    snap, t = await _fresh(hub, p, cfg, t)
    return (await _staff_views(svc, hub, user, snap, [t], via=via))[0]


Step = Literal["recall", "missed", "serve", "finish", "left"]


async def ticket_step(svc: Services, hub: QueueHub, user: AccountLike, ticket_id: str, step: Step, *,
                      visit_id: str | None = None, via: str) -> StaffTicket:
    """One booth step on a ticket of the day: 再呼出 / 不在 / 受付する / 完了 / left without service. A reviewer
    only on tickets of their department (404 otherwise, as for an absent ticket)."""
    if visit_id is not None and not may_link_visit(user):
        raise Problem(403, "forbidden", "Only the visit desk links a visit to a ticket")
    cfg = await hub.config()
    t0 = await svc.db.read(lambda c: store.load_ticket(c, ticket_id))
    if t0 is None or not may_serve_ticket(user, t0.departments):
        raise Problem(404, "not-found", "No such ticket")

    def job(c: sqlite3.Connection) -> TicketRow:
        if step == "recall":
            return store.recall_in(c, ticket_id, user.id)
        if step == "missed":
            return store.missed_in(c, ticket_id, cfg, user.id)
        if step == "serve":
            return store.serve_in(c, ticket_id, visit_id, user.id)
        if step == "finish":
            return store.finish_in(c, ticket_id, user.id)
        return store.left_in(c, ticket_id, user.id)

    t = await _write(svc, job)
    snap, t = await _fresh(hub, booking_place(cfg, t.place) or _stub_place(t.place), cfg, t)
    return (await _staff_views(svc, hub, user, snap, [t], via=via))[0]


@get("/api/queue/{place:str}", summary="A place's queue for the booths (names audited)", tags=["queue"])
async def get_queue(request: Request[Any, Any, Any], place: FromPath[str]) -> StaffQueue:
    user = require_roles(request, *QUEUE_ROLES)
    return await staff_queue(services(request), hub_of(request), user, place, via="api")


@post("/api/queue/{place:str}/call", summary="次の方を呼ぶ: call the next ticket to a booth", status_code=200,
      tags=["queue"])
async def call_route(request: Request[Any, Any, Any], place: FromPath[str], data: JSONBody[CallIn]) -> StaffTicket:
    user = require_roles(request, *QUEUE_ROLES)
    return await call_next(services(request), hub_of(request), user, place, data.booth, via="api")


async def _step(request: Request[Any, Any, Any], tid: str, step: Step, visit_id: str | None = None) -> StaffTicket:
    user = require_roles(request, *QUEUE_ROLES)
    return await ticket_step(services(request), hub_of(request), user, tid, step, visit_id=visit_id, via="api")


@post("/api/queue/tickets/{tid:str}/recall", summary="Call the ticket again (再呼出)", status_code=200, tags=["queue"])
async def recall_route(request: Request[Any, Any, Any], tid: FromPath[str]) -> StaffTicket:
    return await _step(request, tid, "recall")


@post("/api/queue/tickets/{tid:str}/missed", summary="Nobody came (不在): wait, then the end of the queue",
      status_code=200, tags=["queue"])
async def missed_route(request: Request[Any, Any, Any], tid: FromPath[str]) -> StaffTicket:
    return await _step(request, tid, "missed")


@post("/api/queue/tickets/{tid:str}/serve", summary="The resident is at the booth (受付する); links a visit",
      status_code=200, tags=["queue"])
async def serve_route(request: Request[Any, Any, Any], tid: FromPath[str],
                      data: JSONBody[ServeIn | None] = None) -> StaffTicket:
    return await _step(request, tid, "serve", data.visit_id if data is not None else None)


@post("/api/queue/tickets/{tid:str}/finish", summary="Done (完了)", status_code=200, tags=["queue"])
async def finish_route(request: Request[Any, Any, Any], tid: FromPath[str]) -> StaffTicket:
    return await _step(request, tid, "finish")


@post("/api/queue/tickets/{tid:str}/left", summary="Left without service", status_code=200, tags=["queue"])
async def left_route(request: Request[Any, Any, Any], tid: FromPath[str]) -> StaffTicket:
    return await _step(request, tid, "left")


queue_router = Router(path="/", route_handlers=[
    checkin, draw_ticket, get_ticket, ticket_events, ticket_push, ticket_unpush, leave, get_board, board_events,
    get_queue, call_route, recall_route, missed_route, serve_route, finish_route, left_route], tags=["queue"])
