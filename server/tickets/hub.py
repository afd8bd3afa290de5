"""Live updates of the one queue (docs/queue.md "Live updates"): one :class:`QueueHub` per app (``app.state.queue_hub``).

* Every write that changes a place's queue marks the place (``server.tickets.store.touch``); after the commit the
  database's hook hands the places to the hub, which bumps each place's version and wakes its waiters. So every
  writer counts — the API, a visit's close, a daily job — with no polling and no write of its own.
* The boards' and phones' server-sent events wait on :meth:`QueueHub.wait`; :meth:`QueueHub.snapshot` computes a
  place's tickets, positions and day figures once per version for all of them (200 phones: one read, not 200),
  from the open tickets and the board's last calls only (not the day's thousands of closed ones), and at most
  once per ``REBUILD_INTERVAL`` while changes keep coming: a busy morning's 40 changes a second cost five
  rebuilds, and a call still reaches the boards within ~0.2 s (docs/queue.md "Load").
* Web Push of a ticket: after a change, tickets whose ``ahead`` dropped to ``near_positions`` or fewer get ONE
  "まもなく順番です" message and a called ticket ONE "番号 A-034 の方、3番窓口へお越しください" (``ticket_push``
  ``sent_near`` / ``sent_called`` make them once-only), through ``Notifier.push``. Never a name.
* :meth:`QueueHub.close` (shutdown) ends every stream, so the server stops while phones are still connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Final

import msgspec

from server.booking import clock
from server.booking.config import BookingConfig, Place, config_in
from server.booking.store import place_of
from server.push import Notifier, Subscription, SubscriptionLoader
from server.storage.db import Database
from server.tickets import rules
from server.tickets.store import (
    DayEvents,
    TicketRow,
    day_figures_in,
    day_of,
    qticket,
    queue_tickets,
    stats_in,
    ticket_key_in,
    ticket_token,
    touched_places,
)

__all__ = ["BOARD_CALLS", "BOARD_KEEP", "CONFIG_MAX_AGE", "REBUILD_INTERVAL", "SNAPSHOT_MAX_AGE", "QueueHub", "Snapshot", "booth_label"]

log = logging.getLogger("madoguchi.queue")

# Positions also move with time alone (an early booking comes due, a recall pause ends): a snapshot is at most
# this old even when nothing was written.
SNAPSHOT_MAX_AGE: Final[dt.timedelta] = dt.timedelta(seconds=15)
CONFIG_MAX_AGE: Final[dt.timedelta] = dt.timedelta(seconds=5)
# Rebuilds of one place's snapshot start at least this far apart (wall time, not the feature's clock: the load bench
# runs the day at 60×). Whoever asks meanwhile waits for the next one, which holds every change made until it starts.
REBUILD_INTERVAL: Final[float] = 0.2
BOARD_CALLS: Final[int] = 8  # the board lists at least this many recent calls (server.tickets.views)
# ... and every call of this long ago or later, however many (the feature's clock: a call is the queue's time).
BOARD_KEEP: Final[dt.timedelta] = dt.timedelta(minutes=1)


def booth_label(booth: str, lang: str = "ja") -> str:
    """How a booth is shown: "3" → 「3番窓口」 / "Counter 3"; a named booth ("こども課") as it is. Twin of
    ``boothLabel`` in server/tickets/static/board.js."""
    if lang == "en":
        return f"Counter {booth}" if booth.isdigit() else booth
    return f"{booth}番窓口" if booth.isdigit() else booth


@dataclass(frozen=True)
class Snapshot:
    """A place's queue at one version: its open tickets today and the last ``BOARD_CALLS`` done ones (the board's
    recent calls), each waiting one's (ahead, minutes), the day's figures. A ticket closed earlier is not in
    ``tickets``: read it by its id."""

    place: Place
    cfg: BookingConfig
    version: int
    at: dt.datetime
    tickets: list[TicketRow]
    positions: dict[str, tuple[int, int]]
    stats: rules.QueueStats
    called_today: int = 0  # the day's tickets called at least once (closed ones too)
    updated_at: str | None = None  # the latest change of any of the day's tickets
    by_id: dict[str, TicketRow] = field(default_factory=dict)  # ``tickets`` by id (each stream looks up its own)


class _Place:
    __slots__ = ("built", "changed", "events", "lock", "snapshot", "version")

    def __init__(self) -> None:
        self.version = 1
        self.changed = asyncio.Event()
        self.lock = asyncio.Lock()
        self.snapshot: Snapshot | None = None
        self.built = 0.0  # loop time the last rebuild started
        self.events: DayEvents | None = None  # the day's event log read so far (stats_in reads only newer rows)


class QueueHub:
    """Versions per place, the waiters of the live streams, the near/called pushes."""

    def __init__(self, db: Database, notifier: Notifier | None) -> None:
        self.db = db
        self.notifier = notifier
        self._places: dict[str, _Place] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = asyncio.Event()
        self._pushing: dict[str, asyncio.Task[None]] = {}
        self._push_again: set[str] = set()
        self._cfg: tuple[BookingConfig, dt.datetime] | None = None
        # The tickets whose booking name each staff account has been shown (and audited) per place, today only.
        self._shown: dict[tuple[str, str], tuple[str, set[str]]] = {}
        db.after_commit(self._after_commit)

    # -- names shown to staff (audited once each) ------------------------------------------------------------------

    def names_not_shown(self, actor: str, place: str, day: str, ticket_ids: list[str]) -> list[str]:
        """Of ``ticket_ids`` (tickets shown with their booking's name), those whose name ``actor`` has not been
        shown at ``place`` on ``day`` yet: what the next ``queue.read`` entry must list. Every open booth page
        refreshes on each change of the place; auditing the same names again each time would write tens of
        thousands of identical entries a day. Kept in memory: after a restart the names are audited once more."""
        seen = self._shown.get((actor, place))
        if seen is None or seen[0] != day:
            return list(ticket_ids)
        return [t for t in ticket_ids if t not in seen[1]]

    def names_shown(self, actor: str, place: str, day: str, ticket_ids: list[str]) -> None:
        """Record that ``actor`` was shown (and the audit log holds) these tickets' names today (after the write)."""
        seen = self._shown.get((actor, place))
        if seen is None or seen[0] != day:  # a new day: yesterday's tickets are gone from the lists
            seen = self._shown[(actor, place)] = (day, set())
        seen[1].update(ticket_ids)

    # -- versions and waiting ------------------------------------------------------------------------------------

    def _place(self, place: str) -> _Place:
        p = self._places.get(place)
        if p is None:
            p = self._places[place] = _Place()
        return p

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _after_commit(self, conn: sqlite3.Connection) -> None:
        # The writer thread: hand the places over to the loop (nothing here may block).
        places = touched_places(conn)
        if places and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is stopping
                self._loop.call_soon_threadsafe(self.bump, *places)

    def bump(self, *places: str) -> None:
        """The places' queues changed: new versions, waiters woken, pushes checked (on the loop)."""
        for place in places:
            p = self._place(place)
            p.version += 1  # the snapshot stays: a newer one is built when asked for (at most every REBUILD_INTERVAL)
            p.changed.set()
            p.changed = asyncio.Event()
            self.check_pushes(place)

    async def wait(self, place: str, since: int, timeout: float) -> int:
        """The place's version once it is newer than ``since``, or after ``timeout`` seconds, or at close."""
        p = self._place(place)
        if p.version > since or self.closed:
            return p.version
        changed = asyncio.ensure_future(p.changed.wait())
        closing = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({changed, closing}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            closing.cancel()
        return p.version

    async def config(self) -> BookingConfig:
        """The booking configuration, read at most every few seconds (``madoguchi booking set`` writes it)."""
        # Wall time, not the feature's clock: the file changes in the real world (the load bench runs the day at 60×).
        now = dt.datetime.now(dt.UTC)
        if self._cfg is None or now - self._cfg[1] > CONFIG_MAX_AGE or now < self._cfg[1]:
            read = await self.db.read(config_in)
            # The same object while the configuration is unchanged: snapshots are shared per (version, cfg), so a
            # new but equal object would make streams that connected at different times recompute for each other.
            self._cfg = (self._cfg[0] if self._cfg is not None and self._cfg[0] == read else read, now)
        return self._cfg[0]

    async def place_snapshot(self, place_id: str) -> Snapshot | None:
        """:meth:`snapshot` of ``place_id`` under the current configuration; None when it has no such place."""
        cfg = await self.config()
        place = place_of(cfg, place_id)
        return None if place is None else await self.snapshot(place, cfg)

    # -- snapshots -----------------------------------------------------------------------------------------------

    def latest(self, place: Place, cfg: BookingConfig) -> Snapshot | None:
        """The place's last snapshot as it is, without waiting for a rebuild (None when there is none under
        ``cfg``, or it is too old): what a booth's step answers with when its ticket has no position to show."""
        snap = self._place(place.id).snapshot
        if snap is None or snap.cfg is not cfg or not dt.timedelta(0) <= clock.now() - snap.at < SNAPSHOT_MAX_AGE:
            return None
        return snap

    async def snapshot(self, place: Place, cfg: BookingConfig) -> Snapshot:
        """The place's queue as of now: computed once per version (and at most SNAPSHOT_MAX_AGE old), rebuilt at
        most every REBUILD_INTERVAL; it holds at least every change committed before this call."""
        p = self._place(place.id)
        wanted = p.version

        def fits(snap: Snapshot | None) -> bool:
            return (snap is not None and snap.version >= wanted and snap.cfg is cfg
                    and dt.timedelta(0) <= clock.now() - snap.at < SNAPSHOT_MAX_AGE)

        if fits(p.snapshot):
            assert p.snapshot is not None
            return p.snapshot
        async with p.lock:
            if fits(p.snapshot):  # built while this one waited for the lock: it holds the changes asked for
                assert p.snapshot is not None
                return p.snapshot
            loop = asyncio.get_running_loop()
            pause = p.built + REBUILD_INTERVAL - loop.time()
            if pause > 0 and not self.closed:  # coalesce: the changes that come meanwhile share the next rebuild
                await asyncio.sleep(pause)
            p.built = loop.time()
            version = p.version
            now = clock.now()

            def read(c: sqlite3.Connection) -> tuple[list[TicketRow], rules.QueueStats, tuple[int, str | None]]:
                day = day_of(now)
                if p.events is None or p.events.day != day:
                    p.events = DayEvents(day)
                return (queue_tickets(c, place.id, day, BOARD_CALLS), stats_in(c, place, day, now, cfg, p.events),
                        day_figures_in(c, place.id, day))

            tickets, stats, (called_today, updated_at) = await self.db.read(read)
            positions = rules.positions([qticket(t) for t in tickets if t.status == "waiting"], now, cfg, stats)
            snap = Snapshot(place=place, cfg=cfg, version=version, at=now, tickets=tickets, positions=positions,
                            stats=stats, called_today=called_today, updated_at=updated_at,
                            by_id={t.id: t for t in tickets})
            if p.snapshot is None or p.snapshot.version <= version:
                p.snapshot = snap
            return snap

    # -- Web Push of tickets -------------------------------------------------------------------------------------

    def check_pushes(self, place: str) -> None:
        """Send the near/called messages due at ``place`` (after a change; a new subscription of a ticket already
        near or called gets its message at once, without waking the place's streams)."""
        if self.notifier is None or self._loop is None:
            return
        task = self._pushing.get(place)
        if task is not None and not task.done():
            self._push_again.add(place)  # one check at a time per place; one more after it
            return
        self._pushing[place] = self._loop.create_task(self._pushes(place))

    async def _pushes(self, place: str) -> None:
        try:
            while True:
                self._push_again.discard(place)
                await self._push_once(place)
                if place not in self._push_again or self.closed:
                    return
        except Exception:  # a failed check must not end the hub; the next change checks again
            log.exception("ticket push check failed")

    async def _push_once(self, place_id: str) -> None:
        now = clock.now()

        # Only what deciding needs: ``mark`` reads number and booth of the few that are due, as they are then.
        def due(c: sqlite3.Connection) -> list[tuple[str, str, int, int]]:
            rows = c.execute(
                "SELECT DISTINCT t.id, t.status, p.sent_near, p.sent_called"
                " FROM ticket_push p JOIN tickets t ON t.id = p.ticket_id WHERE t.place = ? AND t.day = ?"
                " AND t.status IN ('waiting', 'called') AND (p.sent_near = 0 OR p.sent_called = 0)",
                (place_id, day_of(now))).fetchall()
            return [tuple(r) for r in rows]

        candidates = await self.db.read(due)
        if not candidates:
            return
        snap = await self.place_snapshot(place_id)
        if snap is None:
            return
        cfg = snap.cfg
        near: list[str] = []
        called: list[str] = []
        for tid, status, sent_near, sent_called in candidates:
            if status == "called" and not sent_called:
                called.append(tid)
            elif status == "waiting" and not sent_near and snap.positions.get(tid, (99999, 0))[0] <= cfg.near_positions:
                near.append(tid)

        def mark(c: sqlite3.Connection
                 ) -> tuple[bytes, list[tuple[str, str, str | None, str, list[Subscription]]]]:
            out = []
            for kind, ids in (("called", called), ("near", near)):
                col = "sent_called" if kind == "called" else "sent_near"
                for tid in ids:
                    # Once only per browser, even when two checks race or a second browser subscribes later: only
                    # the rows whose flag this write flips get the message (the others had theirs).
                    flipped = [Subscription(*r) for r in c.execute(
                        f"UPDATE ticket_push SET {col} = 1 WHERE ticket_id = ? AND {col} = 0"
                        " RETURNING endpoint, p256dh, auth", (tid,)).fetchall()]
                    if flipped:
                        r = c.execute("SELECT number, booth FROM tickets WHERE id = ?", (tid,)).fetchone()
                        out.append((tid, r[0], r[1], kind, flipped))
                if kind == "called" and ids:  # called: the near message is moot from now on
                    c.executemany("UPDATE ticket_push SET sent_near = 1 WHERE ticket_id = ?", [(t,) for t in ids])
            return ticket_key_in(c), out

        if not called and not near:
            return
        key, messages = await self.db.write(mark)
        if self.notifier is None:
            return
        for tid, number, booth, kind, subs in messages:
            token = ticket_token(key, tid)
            ahead = snap.positions.get(tid, (0, 0))[0]
            if kind == "called":
                title, body = f"番号 {number} の方、{booth_label(booth or '')}へお越しください", f"受付番号 {number}"
            else:
                title, body = "まもなく順番です", f"受付番号 {number}（あなたの前に {ahead} 人）"
            payload = msgspec.json.encode({"title": title, "body": body, "url": f"/#/q/{token}",
                                           "tag": f"ticket-{number}", "number": number, "kind": kind})
            self.notifier.push(payload, _these(subs), forget=_forget_ticket_push)

    # -- life cycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closed.clear()

    def close(self) -> None:
        """End every live stream now (shutdown: streams must not hold the server open)."""
        self._closed.set()

    def close_threadsafe(self) -> None:
        """:meth:`close` from another thread (a test harness stopping the server)."""
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.close)

    async def stop(self) -> None:
        self.close()
        for task in list(self._pushing.values()):
            task.cancel()
        self._pushing.clear()


def _these(subs: list[Subscription]) -> SubscriptionLoader:
    """The browsers one message goes to: the rows whose flag was flipped (read in that write already)."""
    return lambda _conn: subs


def _forget_ticket_push(endpoint: str, conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM ticket_push WHERE endpoint = ?", (endpoint,))
