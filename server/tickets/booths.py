"""The booths over HTTP (docs/queue.md "The booth's page", docs/api.md "Bookings and the queue"): the booths' list
(``GET /api/queue/{place}``), 次の方を呼ぶ and the steps on a called ticket (再呼出, 不在, 受付する, 完了, left).

Who may is ``QUEUE_ROLES``; which tickets each may see and work is ``server.auth.roles.may_serve_ticket`` (a visit
linked only by ``may_link_visit``). The console's booth page (``server/console/queue_pages.py``) and the visit page
call the same functions (:func:`staff_queue`, :func:`call_next`, :func:`ticket_step`): one rule for every path.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Router, get, post
from litestar.params import FromPath, JSONBody

from server import audit
from server.auth.roles import QUEUE_ROLES, may_link_visit, may_serve_ticket
from server.authz import AccountLike, require_roles
from server.problems import Problem
from server.services import Services, services
from server.tickets import store
from server.tickets.context import fresh, hub_of, place_of, ticket_place, write
from server.tickets.hub import QueueHub, Snapshot
from server.tickets.store import TicketRow
from server.tickets.views import StaffTicket, staff_ticket

__all__ = ["Step", "booths_router", "call_next", "staff_queue", "ticket_step"]

_Booth = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


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
    t = await write(svc, lambda c: store.call_next_in(c, p.id, booth, cfg, partial(may_serve_ticket, user),
                                                         user.id))
    if t is None:
        raise Problem(404, "queue-empty", "Nobody is waiting for this booth", title="待っている方はいません")
    snap, t = await fresh(hub, p, cfg, t)
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

    t = await write(svc, job)
    snap, t = await fresh(hub, ticket_place(cfg, t.place), cfg, t)
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


booths_router = Router(path="/", route_handlers=[
    get_queue, call_route, recall_route, missed_route, serve_route, finish_route, left_route], tags=["queue"])
