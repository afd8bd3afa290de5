"""What every handler of the queue starts from (``server.tickets.api`` for tickets and the board,
``server.tickets.booths`` for the booths, and the console pages that call them): the request's hub, a place of the
configuration or 404, a write whose refusal is problem+json, and the snapshot after a write."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from litestar import Request

from server.booking.config import BookingConfig, Place
from server.booking.store import place_of as booking_place
from server.problems import Problem
from server.services import Services
from server.tickets.hub import QueueHub, Snapshot
from server.tickets.store import TicketRefused, TicketRow

__all__ = ["fresh", "hub_of", "newer", "place_of", "ticket_place", "write"]

T = TypeVar("T")


def hub_of(request: Request[Any, Any, Any]) -> QueueHub:
    hub: QueueHub = request.app.state.queue_hub
    return hub


def place_of(cfg: BookingConfig, place_id: str) -> Place:
    """``server.booking.store.place_of``, or 404 ``unknown-place``."""
    place = booking_place(cfg, place_id)
    if place is None:
        raise Problem(404, "unknown-place", "No such place")
    return place


def ticket_place(cfg: BookingConfig, place_id: str) -> Place:
    """A ticket's place under ``cfg``; a place the configuration no longer has still shows (its id as its name)."""
    return booking_place(cfg, place_id) or Place(id=place_id, name={"ja": place_id}, booths=[], booking_booths=0)


async def write(svc: Services, fn: Callable[[sqlite3.Connection], T]) -> T:
    try:
        return await svc.db.write(fn)
    except TicketRefused as exc:
        raise exc.problem() from None


async def fresh(hub: QueueHub, place: Place, cfg: BookingConfig, t: TicketRow) -> tuple[Snapshot, TicketRow]:
    """The snapshot after a write, and the ticket as it holds it. A ticket the write took out of the waiting line
    (called, served, done, left) has no position to show: the answer does not wait for the next rebuild (a booth's
    step answers at once while changes keep coming; the boards' and phones' views follow with it)."""
    snap = hub.latest(place, cfg) if t.status != "waiting" else None
    if snap is None:
        snap = await hub.snapshot(place, cfg)
    return snap, newer(snap, t)


def newer(snap: Snapshot, t: TicketRow) -> TicketRow:
    """The ticket as ``snap`` holds it, or ``t`` when that is newer or the snapshot has not got it (a ticket closed
    before the board's last calls: snapshots hold the open tickets only)."""
    held = snap.by_id.get(t.id)
    return t if held is None or held.updated_at < t.updated_at else held

