"""What the queue's API answers (docs/queue.md "Tickets", docs/api.md): a ticket as its phone sees it, the lobby
board (numbers and booths only: no personal data), a ticket as the booths see it. Built from a hub snapshot
(``server.tickets.hub.Snapshot``), so a thousand phones' views cost one read per change."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import msgspec

from server.counter_code import QrOut
from server.tickets.hub import BOARD_CALLS, BOARD_KEEP, Snapshot
from server.tickets.store import TicketRow

__all__ = [
    "BOARD_CALLS",
    "BoardCall",
    "BoardServing",
    "BoardView",
    "StaffTicket",
    "TicketIssued",
    "TicketView",
    "board_view",
    "etag_of",
    "staff_ticket",
    "ticket_view",
]

_ON_BOARD = ("called", "serving", "done")  # a call missed (waiting again) or given up leaves the board


class TicketView(msgspec.Struct, kw_only=True):
    number: str
    kind: str  # 'booking' | 'walkin'
    status: str  # 'waiting' | 'called' | 'serving' | 'done' | 'left' | 'no_show'
    place: str
    place_name: dict[str, str]
    ahead: int
    estimate_minutes: int
    booth: str | None  # when called or serving
    called_at: str | None
    due_at: str | None
    departments: list[str]
    updated_at: str
    near: bool  # ahead <= near_positions: the phone shows 「まもなく」
    version: int
    poll_after_s: int = 3  # a phone that polls: this long first, doubling to 30 s while nothing changes
    # A call missed (不在): how many times, and (waiting again) not called before this UTC instant, so the phone
    # says the call was missed and when it comes again instead of a plain 「次にお呼びします」.
    missed: int = 0
    not_before: str | None = None


class TicketIssued(TicketView, kw_only=True):
    token: str  # the phone link's secret (GET /api/tickets/{token})
    url: str  # {origin}/#/q/{token}
    qr: QrOut  # of url, for the kiosk's paper ticket: one SVG path (server.counter_code.qr_path), no markup


class StaffTicket(TicketView, kw_only=True):
    id: str
    name: str | None  # the booking's name (an audited read: queue.read)
    procedures: list[str]
    booking_id: str | None
    visit_id: str | None
    priority: bool
    arrived_at: str
    calls: int


class BoardCall(msgspec.Struct):
    number: str
    booth: str
    at: str


class BoardServing(msgspec.Struct):
    number: str
    booth: str


class BoardView(msgspec.Struct, kw_only=True):
    place: str
    place_name: dict[str, str]
    called: list[BoardCall]  # newest first: the last BOARD_CALLS calls, and the open ones of the last BOARD_KEEP
    waiting: int
    serving: list[BoardServing]
    version: int
    updated_at: str
    poll_after_s: int = 1  # a board that cannot hold an event stream polls this often (a call shows within 2 s)


def ticket_view(snap: Snapshot, t: TicketRow) -> TicketView:
    ahead, minutes = snap.positions.get(t.id, (0, 0))
    live = t.status in ("called", "serving")
    return TicketView(
        number=t.number, kind=t.kind, status=t.status, place=t.place, place_name=snap.place.name, ahead=ahead,
        estimate_minutes=minutes, booth=t.booth if live else None, called_at=t.called_at, due_at=t.due_at,
        departments=t.departments, updated_at=t.updated_at,
        near=t.status == "waiting" and ahead <= snap.cfg.near_positions, version=snap.version, missed=t.missed,
        not_before=t.not_before if t.status == "waiting" else None)


def staff_ticket(snap: Snapshot, t: TicketRow, *, name: str | None, procedures: list[str]) -> StaffTicket:
    v = ticket_view(snap, t)
    return StaffTicket(**msgspec.structs.asdict(v), id=t.id, name=name, procedures=procedures,
                       booking_id=t.booking_id, visit_id=t.visit_id, priority=t.priority > 0,
                       arrived_at=t.arrived_at, calls=t.calls)


def board_view(snap: Snapshot) -> BoardView:
    calls = sorted((t for t in snap.tickets if t.called_at and t.booth and t.status in _ON_BOARD),
                   key=lambda t: (t.called_at or "", t.seq), reverse=True)
    # The last BOARD_CALLS calls, and every call of the last BOARD_KEEP whose person has not finished: however many
    # booths call at once (20 opening together), no call is pushed off before a board has shown it.
    since = snap.at - BOARD_KEEP
    shown = [t for i, t in enumerate(calls) if i < BOARD_CALLS or (
        t.status in ("called", "serving") and dt.datetime.fromisoformat(t.called_at or "") >= since)]
    recent = [BoardCall(number=t.number, booth=t.booth or "", at=t.called_at or "") for t in shown]
    serving = [BoardServing(number=t.number, booth=t.booth or "") for t in snap.tickets
               if t.status == "serving" and t.booth]
    waiting = sum(1 for t in snap.tickets if t.status == "waiting")
    updated = snap.updated_at or snap.at.isoformat()
    return BoardView(place=snap.place.id, place_name={k: v for k, v in snap.place.name.items() if k in ("ja", "en")},
                     called=recent, waiting=waiting, serving=serving, version=snap.version, updated_at=updated)


def etag_of(view: Any) -> str:
    """A strong ETag of what a view says, its ``version`` aside (a change elsewhere in the place's queue that
    leaves this view as it was answers 304)."""
    data = msgspec.structs.asdict(view)
    data.pop("version", None)
    return '"' + hashlib.sha256(msgspec.json.encode(data, order="sorted")).hexdigest()[:32] + '"'
