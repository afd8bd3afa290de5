"""The one queue's SQL (component ``tickets``): issuing tickets (check-in of a booking, walk-ins), the booths'
steps (call, recall, missed, serve, finish, left), the ticket→visit link and the day's figures.

Every writer here runs inside a write job (``await db.write(...)``) and records its step in ``queue_events``
(``server.booking.events.record_event_in``) in the same transaction. Each marks its place changed
(:func:`touch`): the live hub (``server.tickets.hub``) wakes the boards and phones after the commit,
whoever wrote — the API, a visit's close (:func:`ticket_visit_closed_in`) or a daily job.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec

from procedure_definitions.japan import JST
from server.audit import append_audit
from server.auth.store import hash_secret
from server.booking import clock
from server.booking.config import BookingConfig, Place
from server.booking.events import record_event_in
from server.booking.store import booking_by_code_in, display_code
from server.problems import Problem
from server.storage.keys import derived_token, installation_key, installation_key_in
from server.tickets import rules

__all__ = [
    "OPEN_STATUSES",
    "DayEvents",
    "TicketRefused",
    "TicketRow",
    "booking_tickets_in",
    "call_next_in",
    "checkin_in",
    "day_figures_in",
    "day_of",
    "draw_ticket_in",
    "finish_in",
    "left_in",
    "load_ticket",
    "missed_in",
    "qticket",
    "queue_tickets",
    "recall_in",
    "serve_in",
    "stats_in",
    "ticket_by_token",
    "ticket_key_in",
    "ticket_links_in",
    "ticket_token",
    "ticket_visit_closed_in",
    "touch",
    "touched_places",
    "visit_queue_refs_in",
]

OPEN_STATUSES: Final[tuple[str, ...]] = ("waiting", "called", "serving")
_PREFIX: Final[dict[str, str]] = {"walkin": "A", "booking": "R"}


class TicketRefused(Exception):
    """A refusal the API answers as a problem (status, slug, detail, extension members)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra

    def problem(self) -> Problem:
        """The refusal as the API and the console answer it (problem+json with its extension members)."""
        return Problem(self.status, self.code, self.detail, **self.extra)


class TicketRow(msgspec.Struct, kw_only=True):
    id: str
    place: str
    day: str
    seq: int
    number: str
    kind: str
    booking_id: str | None
    account_id: str | None
    priority: int
    priority_reason: str | None
    departments: list[str]
    status: str
    due_at: str | None
    arrived_at: str
    queue_at: str
    not_before: str | None
    missed: int
    calls: int
    called_at: str | None
    booth: str | None
    called_by: str | None
    visit_id: str | None
    source: str
    lang: str | None
    updated_at: str



_COLUMNS = ("id, place, day, seq, number, kind, booking_id, account_id, priority, priority_reason, departments, status,"
            " due_at, arrived_at, queue_at, not_before, missed, calls, called_at, booth, called_by, visit_id, source,"
            " lang, updated_at")


_NAMES: Final[tuple[str, ...]] = tuple(c.strip() for c in _COLUMNS.split(","))


def _row(r: sqlite3.Row | tuple[Any, ...]) -> TicketRow:
    d = dict(zip(_NAMES, tuple(r), strict=True))
    d["departments"] = msgspec.json.decode(d["departments"]) if d["departments"] else []
    return TicketRow(**d)


# -- marking places changed (read by the hub after each commit) -------------------------------------------------

_touched: dict[int, set[str]] = {}
_touched_lock = threading.Lock()


def touch(conn: sqlite3.Connection, place: str) -> None:
    with _touched_lock:
        _touched.setdefault(id(conn), set()).add(place)


def touched_places(conn: sqlite3.Connection) -> set[str]:
    """The places whose queue the writes on ``conn`` changed since the last call (the hub's after-commit hook)."""
    with _touched_lock:
        return _touched.pop(id(conn), set())


# -- time, tokens ----------------------------------------------------------------------------------------------

def day_of(at: dt.datetime) -> str:
    """The JST day (``YYYY-MM-DD``) of an aware time: tickets are numbered per place and JST day."""
    return at.astimezone(JST).date().isoformat()


def _ts(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def ticket_key_in(conn: sqlite3.Connection) -> bytes:
    """The installation's key of ticket links, made on first call (call inside a write job)."""
    return installation_key_in(conn, "ticket_keys")


def ticket_token(key: bytes, ticket_id: str) -> str:
    """The phone link's secret: base64url(HMAC-SHA256(key, ticket id)); the same for every check-in of a booking."""
    return derived_token(key, ticket_id)


# -- reads -----------------------------------------------------------------------------------------------------

def load_ticket(conn: sqlite3.Connection, ticket_id: str) -> TicketRow | None:
    r = conn.execute(f"SELECT {_COLUMNS} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    return None if r is None else _row(r)


def ticket_by_token(conn: sqlite3.Connection, token: str) -> TicketRow | None:
    if not token or len(token) > 100:
        return None
    r = conn.execute(f"SELECT {_COLUMNS} FROM tickets WHERE token_hash = ?", (hash_secret(token).hex(),)).fetchone()
    return None if r is None else _row(r)


def booking_tickets_in(conn: sqlite3.Connection, booking_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The tickets of these bookings (those checked in): booking id → (ticket id, number)."""
    if not booking_ids:
        return {}
    marks = ", ".join("?" * len(booking_ids))
    return {b: (t, n) for b, t, n in conn.execute(
        f"SELECT booking_id, id, number FROM tickets WHERE booking_id IN ({marks})", list(booking_ids))}


def ticket_links_in(conn: sqlite3.Connection, booking_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The phone links of these bookings' tickets (for their owner): booking id → (number, token). A read: where a
    ticket exists, so does the key its link is derived from."""
    rows = booking_tickets_in(conn, booking_ids)
    key = installation_key(conn, "ticket_keys") if rows else None
    return {b: (n, ticket_token(key, t)) for b, (t, n) in rows.items()} if key else {}


def visit_queue_refs_in(conn: sqlite3.Connection,
                        visits: Sequence[tuple[str, str | None]]) -> dict[str, tuple[str | None, str | None]]:
    """What the counter shows next to a visit's own number, for (visit id, ``booking_ref``) pairs: visit id →
    (the number of the queue ticket it came from (「整理券 A-007」), the booking as staff and residents know it).
    A ``booking_ref`` naming a booking is shown as that booking's code (``XXXX-XXXX``), never its id; one typed at
    来庁受付 stays as typed. Visits with neither are left out."""
    if not visits:
        return {}
    ids = [v for v, _ in visits]
    refs = sorted({r for _, r in visits if r})
    tickets = dict(conn.execute(
        f"SELECT visit_id, number FROM tickets WHERE visit_id IN ({', '.join('?' * len(ids))})", ids).fetchall())
    codes = dict(conn.execute(
        f"SELECT id, code FROM bookings WHERE id IN ({', '.join('?' * len(refs))})", refs).fetchall()) if refs else {}
    out: dict[str, tuple[str | None, str | None]] = {}
    for vid, ref in visits:
        booking = (display_code(codes[ref]) if ref in codes else ref) if ref else None
        if vid in tickets or booking:
            out[vid] = (tickets.get(vid), booking)
    return out


def queue_tickets(conn: sqlite3.Connection, place: str, day: str, recent_done: int) -> list[TicketRow]:
    """What a place's queue shows today: its open tickets (waiting, called, serving) and the ``recent_done`` last
    called of those done (the board's last calls), in issue order. Not the day's closed tickets: by noon they are
    thousands, and the hub reads this on every change (index ``tickets_calls``)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM tickets WHERE place = ? AND day = ? AND status IN ('waiting', 'called', 'serving')",
        (place, day)).fetchall()
    rows += conn.execute(
        f"SELECT {_COLUMNS} FROM tickets WHERE place = ? AND day = ? AND status = 'done' AND called_at IS NOT NULL"
        " AND booth IS NOT NULL ORDER BY called_at DESC LIMIT ?", (place, day, recent_done)).fetchall()
    return sorted((_row(r) for r in rows), key=lambda t: t.seq)


def day_figures_in(conn: sqlite3.Connection, place: str, day: str) -> tuple[int, str | None]:
    """Of all a place's tickets today: how many were called, and the latest ``updated_at`` (one aggregate: the
    closed tickets are counted in SQL, never read into Python; the index ``tickets_day_figures`` covers it, so
    the rows themselves are not read)."""
    called, updated = conn.execute(
        "SELECT COALESCE(SUM(calls > 0), 0), MAX(updated_at) FROM tickets WHERE place = ? AND day = ?",
        (place, day)).fetchone()
    return int(called), updated


def qticket(t: TicketRow) -> rules.QTicket:
    """The rules' view of a stored ticket."""
    arrived = _ts(t.arrived_at)
    queue_at = _ts(t.queue_at)
    assert arrived is not None and queue_at is not None
    return rules.QTicket(id=t.id, number=t.number, kind=t.kind, status=t.status, arrived_at=arrived,
                         queue_at=queue_at, seq=t.seq, priority=t.priority, departments=tuple(t.departments),
                         due_at=_ts(t.due_at), not_before=_ts(t.not_before), missed=t.missed, booth=t.booth,
                         called_at=_ts(t.called_at))


class DayEvents:
    """What :func:`stats_in` has read of a place's event log so far today, so the next call reads only the newer
    rows (the hub rebuilds a place's snapshot several times a second; by noon the day holds thousands of events)."""

    __slots__ = ("calls", "day", "last_id", "lock", "served", "services")

    def __init__(self, day: str) -> None:
        # Held through each read: a rebuild whose asker went away (a stream cancelled) leaves its read running on
        # a reader thread while the next rebuild reads; both must not add the same rows.
        self.lock = threading.Lock()
        self.day = day
        self.last_id = 0
        self.served: dict[str, dt.datetime] = {}
        self.services: list[float] = []
        self.calls: list[tuple[str, dt.datetime]] = []


def stats_in(conn: sqlite3.Connection, place: Place, day: str, now: dt.datetime,
             cfg: BookingConfig, seen: DayEvents | None = None) -> rules.QueueStats:
    """The day's service figures (``rules.day_stats``) from the event log of ``place`` since the JST day began.
    ``seen`` (of this place and day; the caller keeps it) carries what earlier calls read: only newer rows are read."""
    if seen is None or seen.day != day:
        seen = DayEvents(day)
    with seen.lock:
        return _stats_in(conn, place, day, now, cfg, seen)


def _stats_in(conn: sqlite3.Connection, place: Place, day: str, now: dt.datetime, cfg: BookingConfig,
              seen: DayEvents) -> rules.QueueStats:
    start = dt.datetime.fromisoformat(day).replace(tzinfo=JST).astimezone(dt.UTC).isoformat()
    for event_id, event, ticket_id, booth, at in conn.execute(
            "SELECT id, event, ticket_id, booth, at FROM queue_events WHERE place = ? AND at >= ? AND id > ?"
            " AND event IN ('called', 'served', 'finished') ORDER BY id", (place.id, start, seen.last_id)):
        seen.last_id = event_id
        when = dt.datetime.fromisoformat(at)
        if event == "called" and booth is not None:
            seen.calls.append((booth, when))
        elif event == "served" and ticket_id is not None:
            seen.served[ticket_id] = when
        elif event == "finished" and ticket_id in seen.served:
            seen.services.append((when - seen.served.pop(ticket_id)).total_seconds() / 60)
    gaps: list[float] = []
    last: dict[str, dt.datetime] = {}
    for booth, at in seen.calls:
        if booth in last:
            gaps.append((at - last[booth]).total_seconds() / 60)
        last[booth] = at
    return rules.day_stats(seen.services, gaps, seen.calls, now, cfg, len(place.booths))


# -- issuing ---------------------------------------------------------------------------------------------------

def _next_seq(conn: sqlite3.Connection, place: str, day: str, kind: str) -> tuple[int, str]:
    seq, of_kind = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) + 1, SUM(kind = ?) FROM tickets WHERE place = ? AND day = ?",
        (kind, place, day)).fetchone()
    return int(seq), f"{_PREFIX[kind]}-{int(of_kind or 0) + 1:03d}"


def _insert(conn: sqlite3.Connection, key: bytes, *, place: str, kind: str, departments: list[str],
            source: str, now: dt.datetime, booking_id: str | None = None, account_id: str | None = None,
            priority_reason: str | None = None, due_at: str | None = None, lang: str | None = None,
            by: str | None = None) -> tuple[TicketRow, str]:
    day = day_of(now)
    seq, number = _next_seq(conn, place, day, kind)
    ticket_id = str(uuid.uuid4())
    token = ticket_token(key, ticket_id)
    at = now.isoformat()
    conn.execute(
        "INSERT INTO tickets (id, token_hash, place, day, seq, number, kind, booking_id, account_id, priority,"
        " priority_reason, departments, status, due_at, arrived_at, queue_at, source, lang, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?, ?, ?)",
        (ticket_id, hash_secret(token).hex(), place, day, seq, number, kind, booking_id, account_id,
         1 if priority_reason else 0, priority_reason, msgspec.json.encode(sorted(set(departments))).decode(),
         due_at, at, at, source, lang, at))
    record_event_in(conn, "ticket", place=place, booking_id=booking_id, ticket_id=ticket_id, kind=kind, by=by,
                    at=at, detail={"priority": True} if priority_reason else None)
    touch(conn, place)
    row = load_ticket(conn, ticket_id)
    assert row is not None
    return row, token


def checkin_in(conn: sqlite3.Connection, place: str, code: str, *, source: str,
               by: str | None) -> tuple[TicketRow, str, bool]:
    """The ticket of the booking ``code`` arriving at ``place`` today: (ticket, token, created). A booking that
    checked in already gets its ticket again (same token). The booking becomes ``checked_in`` in the same write."""
    now = clock.now()
    key = ticket_key_in(conn)
    b = booking_by_code_in(conn, code)  # the booking store's one lookup (with or without the dash, any case)
    if b is None:
        raise TicketRefused(404, "unknown-code", "No booking has this code")
    if b.status == "cancelled":
        raise TicketRefused(409, "cancelled", "This booking was cancelled")
    if b.place != place:
        raise TicketRefused(409, "wrong-place", f"This booking is for another place ({b.place})", place=b.place)
    today = day_of(now)
    if b.day != today:
        raise TicketRefused(409, "wrong-day", f"This booking is for {b.day} (JST), not today ({today})",
                            day=b.day, start=b.start)
    r = conn.execute(f"SELECT {_COLUMNS} FROM tickets WHERE booking_id = ?", (b.id,)).fetchone()
    if r is not None:
        existing = _row(r)
        return existing, ticket_token(key, existing.id), False
    if b.status != "booked":  # no_show: marked after closing time (the day is over)
        raise TicketRefused(409, "not-booked", f"This booking cannot be checked in (status {b.status})")
    due = dt.datetime.fromisoformat(f"{b.day}T{b.start}:00").replace(tzinfo=JST).astimezone(dt.UTC)
    conn.execute("UPDATE bookings SET status = 'checked_in', updated_at = ? WHERE id = ?", (now.isoformat(), b.id))
    record_event_in(conn, "checked_in", place=place, booking_id=b.id, kind="booking", by=by, at=now.isoformat(),
                    detail={"due": due.isoformat(), "early_min": round((due - now).total_seconds() / 60)})
    row, token = _insert(conn, key, place=place, kind="booking", departments=b.departments, source=source, now=now,
                         booking_id=b.id, account_id=b.account_id, due_at=due.isoformat(), lang=b.lang, by=by)
    return row, token, True


def draw_ticket_in(conn: sqlite3.Connection, place: str, *, departments: list[str], priority_reason: str | None,
                   source: str, account_id: str | None, lang: str | None, by: str | None) -> tuple[TicketRow, str]:
    """A walk-in ticket (``A-nnn``). A resident drawing one in the app has one open ticket a day (any place):
    409 ``ticket-open`` names the open one (its link)."""
    now = clock.now()
    key = ticket_key_in(conn)
    if account_id is not None:
        r = conn.execute(
            f"SELECT {_COLUMNS} FROM tickets WHERE account_id = ? AND day = ? AND status IN ('waiting', 'called',"
            " 'serving') ORDER BY seq LIMIT 1", (account_id, day_of(now))).fetchone()
        if r is not None:
            open_ = _row(r)
            token = ticket_token(key, open_.id)
            # Its link's url is the API's to make (absolute, as a new ticket's: server.tickets.api.ticket_url).
            raise TicketRefused(409, "ticket-open", "You already have an open ticket today", number=open_.number,
                                place=open_.place, token=token)
    return _insert(conn, key, place=place, kind="walkin", departments=departments, source=source, now=now,
                   account_id=account_id, priority_reason=priority_reason, lang=lang, by=by)


# -- the booths' steps -----------------------------------------------------------------------------------------

def _set(conn: sqlite3.Connection, t: TicketRow, **values: Any) -> TicketRow:
    values["updated_at"] = clock.now_iso()
    cols = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE tickets SET {cols} WHERE id = ?", (*values.values(), t.id))
    touch(conn, t.place)
    row = load_ticket(conn, t.id)
    assert row is not None
    return row


def _open_ticket(conn: sqlite3.Connection, ticket_id: str, allowed: tuple[str, ...]) -> TicketRow:
    t = load_ticket(conn, ticket_id)
    if t is None:
        raise TicketRefused(404, "not-found", "No such ticket")
    if t.status not in allowed:
        raise TicketRefused(409, "ticket-state", f"The ticket is {t.status}", ticket_status=t.status)
    return t


def call_next_in(conn: sqlite3.Connection, place: str, booth: str, cfg: BookingConfig,
                 may_serve: Callable[[Sequence[str]], bool], by: str) -> TicketRow | None:
    """Call the first ticket of the order (``rules.next_ticket``) the caller ``may_serve`` (its departments;
    ``roles.may_serve_ticket``) to ``booth``."""
    now = clock.now()
    waiting = {r[0]: _row(r) for r in conn.execute(
        f"SELECT {_COLUMNS} FROM tickets WHERE place = ? AND day = ? AND status = 'waiting'", (place, day_of(now)))}
    nxt = rules.next_ticket([qticket(t) for t in waiting.values()], now, cfg, may_serve)
    if nxt is None:
        return None
    t = waiting[nxt.id]
    row = _set(conn, t, status="called", calls=t.calls + 1, called_at=now.isoformat(), booth=booth, called_by=by,
               not_before=None)
    record_event_in(conn, "called", place=place, booking_id=t.booking_id, ticket_id=t.id, kind=t.kind, booth=booth,
                    by=by, at=now.isoformat(), detail={"waited_min": round((now - qticket(t).arrived_at)
                                                                           .total_seconds() / 60, 1)})
    return row


def recall_in(conn: sqlite3.Connection, ticket_id: str, by: str) -> TicketRow:
    """Call the called ticket again at its booth (呼び出し直し)."""
    t = _open_ticket(conn, ticket_id, ("called",))
    now = clock.now_iso()
    row = _set(conn, t, calls=t.calls + 1, called_at=now, called_by=by)
    record_event_in(conn, "recalled", place=t.place, booking_id=t.booking_id, ticket_id=t.id, kind=t.kind,
                    booth=t.booth, by=by, at=now)
    return row


def missed_in(conn: sqlite3.Connection, ticket_id: str, cfg: BookingConfig, by: str) -> TicketRow:
    """Nobody came (不在): ``rules.miss``."""
    t = _open_ticket(conn, ticket_id, ("called",))
    now = clock.now()
    out = rules.miss(qticket(t), now, cfg)
    row = _set(conn, t, status=out.status, missed=out.missed, queue_at=out.queue_at.isoformat(),
               not_before=out.not_before.isoformat() if out.not_before else None,
               booth=None if out.status == "waiting" else t.booth)
    record_event_in(conn, out.event, place=t.place, booking_id=t.booking_id, ticket_id=t.id, kind=t.kind,
                    booth=t.booth, by=by, at=now.isoformat(), detail={"missed": out.missed})
    if out.status == "no_show" and t.booking_id is not None:
        conn.execute("UPDATE bookings SET status = 'no_show', updated_at = ? WHERE id = ? AND status = 'checked_in'",
                     (now.isoformat(), t.booking_id))
    return row


def serve_in(conn: sqlite3.Connection, ticket_id: str, visit_id: str | None, by: str) -> TicketRow:
    """The resident came to the booth (受付する): ``serving``; ``visit_id`` links the counter visit it became (the
    visit must exist and be open; its ``booking_ref`` becomes the ticket's booking when it has none; audited
    ``queue.visit_link``). Who may link a visit is the caller's decision (``roles.may_link_visit``)."""
    t = _open_ticket(conn, ticket_id, ("called", "serving"))
    if visit_id is not None:
        visit = conn.execute("SELECT status FROM visits WHERE id = ?", (visit_id,)).fetchone()
        if visit is None:
            raise TicketRefused(422, "unknown-visit", "No such visit",
                                errors=[{"path": "visit_id", "code": "unknown", "message": "no such visit"}])
        if visit[0] != "open":  # a closed visit's close would never finish the ticket; linking it changes its record
            raise TicketRefused(409, "visit-not-open", "The visit is closed", visit_status=visit[0])
        if t.booking_id is not None:
            conn.execute("UPDATE visits SET booking_ref = ? WHERE id = ? AND booking_ref IS NULL",
                         (t.booking_id, visit_id))
        append_audit(conn, actor=by, action="queue.visit_link", subject=f"visit:{visit_id}",
                     details={"ticket": t.id, "booking": t.booking_id})
    if t.status == "serving":
        return _set(conn, t, visit_id=visit_id or t.visit_id) if visit_id else t
    now = clock.now_iso()
    row = _set(conn, t, status="serving", visit_id=visit_id)
    record_event_in(conn, "served", place=t.place, booking_id=t.booking_id, ticket_id=t.id, kind=t.kind,
                    booth=t.booth, by=by, at=now, detail={"visit": True} if visit_id else None)
    return row


def finish_in(conn: sqlite3.Connection, ticket_id: str, by: str | None) -> TicketRow:
    """Done (完了)."""
    t = _open_ticket(conn, ticket_id, ("called", "serving"))
    now = clock.now_iso()
    row = _set(conn, t, status="done")
    record_event_in(conn, "finished", place=t.place, booking_id=t.booking_id, ticket_id=t.id, kind=t.kind,
                    booth=t.booth, by=by, at=now)
    return row


def left_in(conn: sqlite3.Connection, ticket_id: str, by: str | None) -> TicketRow:
    """Left without service: staff saw them go, or the resident gave up their place on the phone (by None)."""
    t = _open_ticket(conn, ticket_id, ("waiting", "called"))
    now = clock.now_iso()
    row = _set(conn, t, status="left", not_before=None)
    record_event_in(conn, "left", place=t.place, booking_id=t.booking_id, ticket_id=t.id, kind=t.kind,
                    booth=t.booth, by=by, at=now)
    return row


def ticket_visit_closed_in(conn: sqlite3.Connection, visit_id: str, by: str | None) -> list[str]:
    """The visit a ticket became was closed by ``by``: its ticket is done (event ``finished`` by that clerk).
    Called by ``server.storage.visits`` in the close's write job; the ids of the tickets finished."""
    done = []
    for r in conn.execute(f"SELECT {_COLUMNS} FROM tickets WHERE visit_id = ? AND status IN ('called', 'serving')",
                          (visit_id,)).fetchall():
        done.append(finish_in(conn, _row(r).id, by).id)
    return done
