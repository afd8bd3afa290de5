"""The one queue over HTTP (docs/queue.md, docs/api.md "Bookings and the queue"): check-in of a booking, walk-in
tickets, a ticket's phone link (view, live events, Web Push, leaving), the lobby board; the booths' list and steps
are ``server.tickets.booths`` (its router is part of :data:`queue_router`).

Every route asks the one policy first: who issues a ticket (a paired kiosk of the place, the desk, a resident's
app) is ``server.authz.ticket_issuer``; a ticket's secret link is its own capability. The board is public and holds
numbers and booths only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import ServerSentEvent

from server.auth.middleware import parse_cookies
from server.auth.names import Name
from server.authz import AccountLike, TicketSource, current_user, ticket_issuer, walkin_open
from server.booking import clock
from server.console.readable import department_names
from server.counter_code import qr_path
from server.problems import Problem
from server.push import SubscriptionIn, checked_subscription, endpoint_to_forget
from server.services import Services, services
from server.tickets import store
from server.tickets.booths import booths_router
from server.tickets.context import fresh, hub_of, newer, place_of, ticket_place, write
from server.tickets.hub import QueueHub, Snapshot
from server.tickets.kiosk_auth import KIOSK_COOKIE, kiosk_place
from server.tickets.longpoll import Wait, long_poll
from server.tickets.store import TicketRefused, TicketRow
from server.tickets.streams import event_stream
from server.tickets.views import (
    BoardView,
    TicketIssued,
    TicketView,
    board_view,
    ticket_view,
)

__all__ = ["MAX_TICKET_PUSH", "queue_router", "ticket_url"]

MAX_TICKET_PUSH = 5  # browsers subscribed to one ticket

_Dept = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class CheckinIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]  # with or without the dash, any case


class TicketIn(msgspec.Struct, forbid_unknown_fields=True):
    departments: Annotated[list[_Dept], msgspec.Meta(max_length=10)] = []
    # Stored and shown to staff as a name is: the one name rule (no control or bidi characters, one line).
    priority_reason: Name | None = None
    lang: Literal["ja", "en", "ja-easy"] | None = None


# -- shared pieces ------------------------------------------------------------------------------------------------

def ticket_url(svc: Services, token: str) -> str:
    """A ticket's phone link as the API answers it: absolute (``{origin}/#/q/{token}``), for a new ticket and for
    the open one a 409 ``ticket-open`` names alike."""
    return f"{svc.settings.origin.rstrip('/')}/#/q/{token}"


def _issued(svc: Services, snap: Snapshot, t: TicketRow, token: str) -> TicketIssued:
    url = ticket_url(svc, token)
    return TicketIssued(**msgspec.structs.asdict(ticket_view(snap, t)), token=token, url=url,
                        qr=qr_path(url))


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
    t, token, created = await write(svc, lambda c: store.checkin_in(c, p.id, data.code, source=source,
                                                                     by=user.id if user else None))
    snap, t = await fresh(hub, p, cfg, t)
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
    snap, t = await fresh(hub, p, cfg, t)
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
    snap = await hub.snapshot(ticket_place(cfg, t.place), cfg)
    held = newer(snap, t)
    if held is t and t.status in store.OPEN_STATUSES and t.id not in snap.by_id and t.day == store.day_of(snap.at):
        # Open when last seen, not among the snapshot's open tickets now: it was closed (done, left, no-show). (A
        # link of an earlier day is never in today's snapshot: it is not read again on every change of the place.)
        again: TicketRow | None = await hub.db.read(lambda c: store.load_ticket(c, t.id))
        held = again or t
    return snap, held


def _ticket_current(hub: QueueHub, t: TicketRow) -> Callable[[], Awaitable[tuple[Snapshot, TicketView]]]:
    """The ticket's snapshot and view now, each time it is called (after a change of its place)."""
    async def current() -> tuple[Snapshot, TicketView]:
        nonlocal t
        s, t = await _ticket_snapshot(hub, t)
        return s, ticket_view(s, t)

    return current


@get("/api/tickets/{token:str}", summary="A ticket by its link: position, estimate, status (ETag; ?wait=N holds)",
     tags=["queue"])
async def get_ticket(request: Request[Any, Any, Any], token: FromPath[str],
                     wait: Wait = 0) -> Response[TicketView]:
    hub = hub_of(request)
    snap, t = await _by_token(services(request), hub, token)
    return await long_poll(request, hub, t.place, (snap, ticket_view(snap, t)), _ticket_current(hub, t), wait)


@get("/api/tickets/{token:str}/events", summary="A ticket's live updates (server-sent events 'ticket')",
     tags=["queue"], media_type="text/event-stream")
async def ticket_events(request: Request[Any, Any, Any], token: FromPath[str]) -> ServerSentEvent:
    hub = hub_of(request)
    snap, t = await _by_token(services(request), hub, token)  # 404 before the stream starts
    return event_stream(hub, t.place, (snap, ticket_view(snap, t)), _ticket_current(hub, t), "ticket", 2000)


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
    hub_of(request).check_pushes(await write(svc, save))


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

    await write(svc, forget)


@post("/api/tickets/{token:str}/leave", summary="Give up the ticket's place (順番待ちをやめる)", status_code=200,
      tags=["queue"])
async def leave(request: Request[Any, Any, Any], token: FromPath[str]) -> TicketView:
    svc, hub = services(request), hub_of(request)

    def job(c: sqlite3.Connection) -> TicketRow:
        t = store.ticket_by_token(c, token)
        if t is None:
            raise TicketRefused(404, "not-found", "No such ticket")
        return store.left_in(c, t.id, None)

    # The row the write returns is the answer: no second token lookup, and ``fresh`` does not wait out the
    # rebuild interval for a ticket that left the line (as the booth steps).
    t = await write(svc, job)
    cfg = await hub.config()
    snap, t = await fresh(hub, ticket_place(cfg, t.place), cfg, t)
    return ticket_view(snap, t)


# -- the lobby board -------------------------------------------------------------------------------------------------

async def _board(hub: QueueHub, place: str) -> Snapshot:
    snap = await hub.place_snapshot(place)
    if snap is None:
        raise Problem(404, "unknown-place", "No such place")
    return snap


async def _board_now(hub: QueueHub, place: str) -> tuple[Snapshot, BoardView] | None:
    """The board's snapshot and view now; None once the place has left the configuration."""
    snap = await hub.place_snapshot(place)
    return None if snap is None else (snap, board_view(snap))


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
    snap = await _board(hub, place)  # 404 before the stream starts
    return event_stream(hub, place, (snap, board_view(snap)), lambda: _board_now(hub, place), "board", 1000)


queue_router = Router(path="/", route_handlers=[
    checkin, draw_ticket, get_ticket, ticket_events, ticket_push, ticket_unpush, leave, get_board, board_events,
    booths_router], tags=["queue"])
