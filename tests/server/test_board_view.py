"""The lobby board's list of calls (``server.tickets.views.board_view``, docs/queue.md "Board"): the last 8 calls,
and every other call of the last minute whose ticket is still open, however many booths call at once."""

from __future__ import annotations

import datetime as dt

from server.booking.config import DEFAULT_CONFIG
from server.tickets.hub import BOARD_CALLS, BOARD_KEEP, Snapshot
from server.tickets.store import TicketRow
from server.tickets.views import board_view

NOW = dt.datetime(2026, 12, 7, 0, 30, tzinfo=dt.UTC)


def ticket(seq: int, status: str, booth: str, ago: dt.timedelta) -> TicketRow:
    return TicketRow(id=f"t{seq}", place="honcho", day="2026-12-07", seq=seq, number=f"A-{seq:03d}", kind="walkin",
                     booking_id=None, account_id=None, priority=0, priority_reason=None, departments=[],
                     status=status, due_at=None, arrived_at="2026-12-07T00:00:00+00:00",
                     queue_at="2026-12-07T00:00:00+00:00", not_before=None, missed=0, calls=1,
                     called_at=(NOW - ago).isoformat(), booth=booth, called_by=None, visit_id=None, source="kiosk",
                     lang=None, updated_at=(NOW - ago).isoformat())


def shown(tickets: list[TicketRow]) -> list[str]:
    snap = Snapshot(place=DEFAULT_CONFIG.places[0], cfg=DEFAULT_CONFIG, version=1, at=NOW, tickets=tickets,
                    positions={}, stats=None)  # type: ignore[arg-type]
    return [c.number for c in board_view(snap).called]


def test_twenty_booths_calling_at_once_are_all_listed_newest_first() -> None:
    calls = [ticket(n, "called", str(n), dt.timedelta(milliseconds=100 * (20 - n))) for n in range(1, 21)]
    assert shown(calls) == [f"A-{n:03d}" for n in range(20, 0, -1)]


def test_past_the_minute_only_the_last_eight_stay() -> None:
    old = BOARD_KEEP + dt.timedelta(seconds=1)
    calls = [ticket(n, "called", str(n), old + dt.timedelta(seconds=20 - n)) for n in range(1, 21)]
    assert shown(calls) == [f"A-{n:03d}" for n in range(20, 20 - BOARD_CALLS, -1)]


def test_a_finished_call_of_the_minute_past_the_last_eight_leaves() -> None:
    recent = [ticket(n, "done", "1", dt.timedelta(seconds=30 - n)) for n in range(1, 10)]  # 9 done, A-001 oldest
    serving = ticket(10, "serving", "2", dt.timedelta(seconds=40))  # older than all, but at the booth now
    assert shown([*recent, serving]) == [*(f"A-{n:03d}" for n in range(9, 1, -1)), "A-010"]


def test_the_same_instant_lists_the_later_ticket_first() -> None:
    same = dt.timedelta(seconds=5)
    assert shown([ticket(1, "called", "1", same), ticket(2, "called", "2", same)]) == ["A-002", "A-001"]
