"""The one queue's order (待たない; docs/queue.md "Order"): pure, no I/O.

Learnt from ZMS (Berlin/Munich, counter-anchors §2.2): booked people are called at their time, walk-ins by
arrival; priority (pregnant, disability) before both; a booking more than ``lateness_minutes`` late yields to
walk-ins (it queues by its arrival); a missed call (不在) waits ``recall_minutes`` and goes to the end of the
queue, and ``max_missed`` misses end the ticket (no-show). Every caller (the API's call-next, the positions on
phones and the board's waiting count, the load bench) asks these functions.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from server.booking.config import BookingConfig

__all__ = [
    "ACTIVE_BOOTH_WINDOW",
    "MissOutcome",
    "QTicket",
    "QueueStats",
    "callable_now",
    "day_stats",
    "estimate_minutes",
    "miss",
    "next_ticket",
    "position",
    "positions",
    "queue_order",
    "sort_key",
]

ACTIVE_BOOTH_WINDOW = dt.timedelta(minutes=30)  # a booth that called within this is counted as serving

# The classes of the order: priority, bookings due, everything else callable.
_PRIORITY, _DUE, _REST = 0, 1, 2


@dataclass(frozen=True)
class QTicket:
    """What the rules need of a ticket (``server.tickets.store`` reads it from the ``tickets`` row)."""

    id: str
    number: str
    kind: str  # 'booking' | 'walkin'
    status: str  # 'waiting' | 'called' | 'serving' | 'done' | 'left' | 'no_show'
    arrived_at: dt.datetime
    queue_at: dt.datetime
    seq: int = 0
    priority: int = 0
    departments: tuple[str, ...] = ()
    due_at: dt.datetime | None = None
    not_before: dt.datetime | None = None
    missed: int = 0
    booth: str | None = None
    called_at: dt.datetime | None = None


@dataclass(frozen=True)
class QueueStats:
    """The day's service figures the estimate uses (:func:`day_stats`)."""

    service_minutes: float
    active_booths: int = 1


@dataclass(frozen=True)
class MissOutcome:
    """What a missed call (不在) does to a ticket (:func:`miss`)."""

    status: str  # 'waiting' or 'no_show'
    missed: int
    queue_at: dt.datetime
    not_before: dt.datetime | None
    event: str  # 'missed' or 'no_show' (queue_events)


def _minutes(n: int) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def _keeps_booking_class(t: QTicket, cfg: BookingConfig) -> bool:
    """A booking ticket that arrived in time and never missed a call keeps its booked time."""
    return (t.kind == "booking" and t.due_at is not None and t.missed == 0
            and t.arrived_at <= t.due_at + _minutes(cfg.lateness_minutes))


def _early(t: QTicket, now: dt.datetime, cfg: BookingConfig) -> bool:
    """A booking checked in before its time waits (not callable) until ``due_at - due_ahead_minutes``."""
    return (t.priority <= 0 and _keeps_booking_class(t, cfg) and t.due_at is not None
            and t.due_at - _minutes(cfg.due_ahead_minutes) > now)


def sort_key(t: QTicket, cfg: BookingConfig) -> tuple[int, dt.datetime, int]:
    """The ticket's place in the order, as if it were callable (an early booking at its due time)."""
    if t.priority > 0:
        return (_PRIORITY, t.queue_at, t.seq)
    if _keeps_booking_class(t, cfg):
        assert t.due_at is not None
        return (_DUE, t.due_at, t.seq)
    return (_REST, t.queue_at, t.seq)


def callable_now(t: QTicket, now: dt.datetime, cfg: BookingConfig) -> bool:
    """Waiting, past its recall pause (``not_before``) and not a booking checked in early."""
    return (t.status == "waiting" and (t.not_before is None or t.not_before <= now)
            and not _early(t, now, cfg))


def queue_order(tickets: Iterable[QTicket], now: dt.datetime, cfg: BookingConfig) -> list[QTicket]:
    """The callable tickets in the order they are called."""
    return sorted((t for t in tickets if callable_now(t, now, cfg)), key=lambda t: sort_key(t, cfg))


def next_ticket(tickets: Iterable[QTicket], now: dt.datetime, cfg: BookingConfig,
                may_serve: Callable[[Sequence[str]], bool]) -> QTicket | None:
    """The first callable ticket the caller may serve: ``may_serve(its departments)`` (the department rule is
    ``server.auth.roles.may_serve_ticket``'s, not this module's)."""
    return next((t for t in queue_order(tickets, now, cfg) if may_serve(t.departments)), None)


def miss(t: QTicket, now: dt.datetime, cfg: BookingConfig) -> MissOutcome:
    """A call nobody answered: the ``max_missed``-th miss ends the ticket (no-show), any earlier one puts it at the
    end of the queue (``queue_at`` now) after a pause of ``recall_minutes``; it loses its booking class."""
    missed = t.missed + 1
    if missed >= cfg.max_missed:
        return MissOutcome(status="no_show", missed=missed, queue_at=t.queue_at, not_before=None, event="no_show")
    return MissOutcome(status="waiting", missed=missed, queue_at=now, not_before=now + _minutes(cfg.recall_minutes),
                       event="missed")


def day_stats(services: Iterable[float], gaps: Iterable[float], calls: Iterable[tuple[str, dt.datetime]],
              now: dt.datetime, cfg: BookingConfig, booths: int) -> QueueStats:
    """The estimate's figures from the day so far: the mean of ``services`` (minutes from served to finished);
    without any, the mean of ``gaps`` (minutes from a call to the next call at that booth); without either,
    ``cfg.service_minutes``. Active booths: those with a call (booth, at) in the last 30 minutes, at least 1 and
    at most ``booths``."""
    durations = [s for s in services if s >= 0] or [g for g in gaps if g >= 0]
    mean = sum(durations) / len(durations) if durations else float(cfg.service_minutes)
    active = {b for b, at in calls if now - at <= ACTIVE_BOOTH_WINDOW}
    return QueueStats(service_minutes=mean, active_booths=max(1, min(len(active), max(1, booths))))


def estimate_minutes(ahead: int, stats: QueueStats) -> int:
    """ceil(ahead × mean service minutes ÷ active booths) (ZMS's estimate)."""
    return math.ceil(ahead * stats.service_minutes / max(1, stats.active_booths))


def _result(t: QTicket, ahead: int, now: dt.datetime, stats: QueueStats) -> tuple[int, int]:
    minutes = estimate_minutes(ahead, stats)
    if t.kind == "booking" and t.due_at is not None and t.due_at > now and t.missed == 0:
        minutes = max(minutes, math.ceil((t.due_at - now).total_seconds() / 60))
    return ahead, minutes


def positions(tickets: Sequence[QTicket], now: dt.datetime, cfg: BookingConfig,
              stats: QueueStats) -> dict[str, tuple[int, int]]:
    """(ahead, estimated minutes) of every waiting ticket. Ahead: the waiting tickets ordered before it (paused
    ones after a miss included), and the bookings checked in early that come due before its estimated call —
    an early booking counts at its due time. A booking not yet due waits at least until its time.

    One sort and one walk (O(n log n): thousands wait at a city's busy morning). The early bookings all keep their
    booking class, so they sort by ``due_at`` and their due times rise along the order: "early ones before me in
    the order" and "early ones due by my call" are both prefixes of that list, and their intersection is the
    shorter prefix — a count and a bisection instead of a scan per ticket."""
    ahead_of_due = _minutes(cfg.due_ahead_minutes)
    keyed = sorted(((sort_key(t, cfg), t) for t in tickets if t.status == "waiting"), key=lambda kt: kt[0])
    is_early = [_early(t, now, cfg) for _, t in keyed]
    dues = [t.due_at - ahead_of_due for (_, t), e in zip(keyed, is_early, strict=True) if e and t.due_at is not None]
    out: dict[str, tuple[int, int]] = {}
    before = 0  # the tickets before this one in the order that are not early bookings
    early_before = 0  # the early bookings before this one in the order (keys are unique: seq breaks ties)
    for (_, t), early in zip(keyed, is_early, strict=True):
        call_at = now + dt.timedelta(minutes=estimate_minutes(before, stats))
        if early and t.due_at is not None:  # called at its own time at the earliest
            call_at = max(call_at, t.due_at - ahead_of_due)
        ahead = before + min(early_before, bisect.bisect_right(dues, call_at))
        out[t.id] = _result(t, ahead, now, stats)
        if early:
            early_before += 1
        else:
            before += 1
    return out


def position(tickets: Sequence[QTicket], ticket: QTicket, now: dt.datetime, cfg: BookingConfig,
             stats: QueueStats) -> tuple[int, int]:
    """:func:`positions` of one ticket; (0, 0) for a ticket no longer waiting."""
    if ticket.status != "waiting":
        return 0, 0
    return positions([*(t for t in tickets if t.id != ticket.id), ticket], now, cfg, stats)[ticket.id]
