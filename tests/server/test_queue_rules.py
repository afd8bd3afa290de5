"""The one queue's order (server/tickets/rules.py, pure): priority first, bookings due by their time, early
bookings wait, late bookings yield to walk-ins, a missed call waits then goes to the end, max_missed ends it,
the department filter, positions and the wait estimate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import partial
from types import SimpleNamespace
from typing import Any

from server.auth.roles import may_serve_ticket
from server.booking.config import DEFAULT_CONFIG
from server.tickets import rules
from server.tickets.rules import QTicket, QueueStats

CFG = DEFAULT_CONFIG  # lateness 5, recall 3, max_missed 2, due_ahead 2, service 10, near 3
NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)  # 10:00 JST


def _m(minutes: float) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


_seq = iter(range(1, 10_000))


def walkin(arrived: float, **kw: object) -> QTicket:
    n = next(_seq)
    return QTicket(id=f"w{n}", number=f"A-{n:03d}", kind="walkin", status="waiting", arrived_at=_m(arrived),
                   queue_at=_m(arrived), seq=n, **kw)  # type: ignore[arg-type]


def booking(due: float, arrived: float, **kw: object) -> QTicket:
    n = next(_seq)
    return QTicket(id=f"b{n}", number=f"R-{n:03d}", kind="booking", status="waiting", arrived_at=_m(arrived),
                   queue_at=_m(arrived), seq=n, due_at=_m(due), **kw)  # type: ignore[arg-type]


def numbers(tickets: list[QTicket]) -> list[str]:
    return [t.number for t in tickets]


def test_priority_first_then_due_bookings_by_time_then_walkins_by_arrival() -> None:
    w1, w2 = walkin(-30), walkin(-20)
    p = walkin(-1, priority=1)
    b_late_time, b_early_time = booking(due=1, arrived=-10), booking(due=-1, arrived=-15)
    order = rules.queue_order([w1, w2, p, b_late_time, b_early_time], NOW, CFG)
    assert numbers(order) == [p.number, b_early_time.number, b_late_time.number, w1.number, w2.number]


def test_a_booking_checked_in_early_waits_until_its_time_comes_near() -> None:
    w = walkin(-5)
    early = booking(due=30, arrived=-20)  # 30 minutes before its time: not callable
    assert numbers(rules.queue_order([w, early], NOW, CFG)) == [w.number]
    assert rules.next_ticket([early], NOW, CFG, _serves("counter")) is None
    # due_ahead_minutes (2) before its time it joins the front, ahead of the walk-in who came first
    at = _m(30 - CFG.due_ahead_minutes)
    assert numbers(rules.queue_order([w, early], at, CFG)) == [early.number, w.number]


def test_a_late_booking_yields_to_walkins_who_arrived_before_it() -> None:
    w_before = walkin(-3)
    late = booking(due=-20, arrived=-2)  # arrived 18 minutes after its time (> lateness 5)
    w_after = walkin(-1)
    assert numbers(rules.queue_order([w_after, late, w_before], NOW, CFG)) == [
        w_before.number, late.number, w_after.number]
    on_time = booking(due=-20, arrived=-20 + CFG.lateness_minutes)  # exactly at the limit: keeps its time
    assert numbers(rules.queue_order([w_before, on_time], NOW, CFG)) == [on_time.number, w_before.number]


def test_a_missed_call_waits_recall_minutes_then_goes_to_the_end() -> None:
    called = booking(due=-5, arrived=-10)
    out = rules.miss(called, NOW, CFG)
    assert (out.status, out.missed, out.event) == ("waiting", 1, "missed")
    assert out.queue_at == NOW and out.not_before == _m(CFG.recall_minutes)
    back = QTicket(**{**called.__dict__, "missed": 1, "queue_at": out.queue_at, "not_before": out.not_before})
    w_earlier, w_later = walkin(-8), walkin(1)
    assert numbers(rules.queue_order([back, w_earlier], NOW, CFG)) == [w_earlier.number]  # paused
    later = _m(CFG.recall_minutes)
    # callable again, and no longer in the booking class: after the walk-in who came before the miss, before
    # the one who came after it
    assert numbers(rules.queue_order([w_later, back, w_earlier], later, CFG)) == [
        w_earlier.number, back.number, w_later.number]


def test_max_missed_misses_end_the_ticket_as_no_show() -> None:
    t = walkin(-10, missed=CFG.max_missed - 1)
    out = rules.miss(t, NOW, CFG)
    assert (out.status, out.event, out.missed) == ("no_show", "no_show", CFG.max_missed)
    assert out.not_before is None


def test_call_next_takes_the_first_ticket_of_the_callers_departments() -> None:
    a = walkin(-20, departments=("kodomo",))
    b = walkin(-10, departments=("shimin",))
    c = walkin(-5, departments=("kodomo", "shimin"))
    assert rules.next_ticket([a, b, c], NOW, CFG, _serves("counter")) == a  # counter staff: every department
    assert rules.next_ticket([a, b, c], NOW, CFG, _serves("reviewer", "shimin")) == b
    assert rules.next_ticket([a, c], NOW, CFG, _serves("reviewer", "koseki")) is None
    called = QTicket(**{**a.__dict__, "status": "called"})
    assert rules.next_ticket([called, c], NOW, CFG, _serves("reviewer", "kodomo")) == c
    # a ticket naming no department is the counter's; roles without a booth serve none
    blank = walkin(-30)
    assert rules.next_ticket([blank, b], NOW, CFG, _serves("reviewer", "shimin")) == b
    assert rules.next_ticket([blank, b], NOW, CFG, _serves("admin")) == blank
    assert rules.next_ticket([blank, b], NOW, CFG, _serves("resident")) is None
    assert rules.next_ticket([blank, b], NOW, CFG, _serves("outreach")) is None


def _serves(role: str, department: str | None = None) -> Callable[[Sequence[str]], bool]:
    """The caller's ``may_serve`` as the API gives it (``roles.may_serve_ticket`` of the signed-in account)."""
    return partial(may_serve_ticket, SimpleNamespace(role=role, department=department))


def test_position_counts_those_ahead_and_estimates_by_service_time_and_booths() -> None:
    ws = [walkin(-30 + i) for i in range(5)]
    paused = QTicket(**{**walkin(-40).__dict__, "not_before": _m(2)})  # paused after a miss: still ahead
    stats = QueueStats(service_minutes=6, active_booths=2)
    tickets = [*ws, paused]
    assert rules.position(tickets, ws[0], NOW, CFG, stats) == (1, 3)  # the paused one; ceil(1×6÷2)
    assert rules.position(tickets, ws[4], NOW, CFG, stats) == (5, 15)
    everyone = rules.positions(tickets, NOW, CFG, stats)
    assert everyone[ws[4].id] == (5, 15) and everyone[paused.id] == (0, 0)
    done = QTicket(**{**ws[1].__dict__, "status": "done"})
    assert rules.position([done, ws[2]], ws[2], NOW, CFG, stats) == (0, 0)  # finished tickets are not ahead


def test_an_early_booking_counts_at_its_time_and_waits_at_least_until_it() -> None:
    w = walkin(-10)
    early = booking(due=40, arrived=-1)
    soon = booking(due=12, arrived=-3)
    stats = QueueStats(service_minutes=10, active_booths=1)
    # The walk-in is called now, long before either booking's time: neither is ahead of it yet.
    assert rules.position([w, early, soon], w, NOW, CFG, stats) == (0, 0)
    w2 = walkin(-9)
    # The second walk-in's call (in 10 minutes) comes after the 12:00 booking's joining time (12 − 2): it is ahead.
    assert rules.position([w, w2, early, soon], w2, NOW, CFG, stats) == (2, 20)
    assert rules.position([w, w2, early, soon], early, NOW, CFG, stats) == (1, 40)  # max(due − now, estimate)
    assert rules.position([w, early, soon], soon, NOW, CFG, stats) == (0, 12)


def test_day_stats_mean_service_active_booths_and_fallback() -> None:
    calls = [("1", _m(-5)), ("2", _m(-50)), ("3", _m(-10))]
    s = rules.day_stats([4.0, 8.0], [30.0], calls, NOW, CFG, 6)
    assert s.service_minutes == 6.0 and s.active_booths == 2  # booth 2 called 50 minutes ago: not active
    g = rules.day_stats([], [3.0, 5.0], [], NOW, CFG, 6)
    assert g.service_minutes == 4.0 and g.active_booths == 1
    f = rules.day_stats([], [], [("1", NOW), ("2", NOW), ("3", NOW)], NOW, CFG, 2)
    assert f.service_minutes == CFG.service_minutes and f.active_booths == 2  # never more than the place has
    assert rules.estimate_minutes(3, QueueStats(service_minutes=7, active_booths=2)) == 11


def test_booth_labels_are_the_boards() -> None:
    """The same cases as tests/js/board.test.mjs: the board's script names booths as the server does."""
    from server.tickets.hub import booth_label

    assert booth_label("3") == "3番窓口" and booth_label("12", "en") == "Counter 12"
    assert booth_label("こども課") == "こども課" and booth_label("Desk A", "en") == "Desk A"


def test_who_issues_a_ticket_and_who_serves_it_is_one_policy() -> None:
    """server.authz.ticket_issuer (kiosk / desk / the resident's app) and roles.may_serve_ticket /
    may_link_visit: the decisions every path (API, console pages, call-next) asks."""
    import pytest

    from server.auth.roles import may_link_visit
    from server.authz import ticket_issuer
    from server.problems import Problem

    def acct(role: str, department: str | None = None) -> Any:
        return SimpleNamespace(id=f"{role}-1", role=role, department=department, display_name=role, resident_id=None)

    counter, resident = acct("counter"), acct("resident")
    assert ticket_issuer(counter, None, "honcho", residents=False) == ("staff", counter)
    assert ticket_issuer(resident, None, "honcho", residents=True) == ("app", resident)
    assert ticket_issuer(None, "honcho", "honcho", residents=False, kiosk_cookie=True) == ("kiosk", None)
    refusals = [
        (resident, None, False, 403),  # a resident checks nobody in
        (None, "shisho", True, 403),  # another place's kiosk: refused, not "sign in"
        (None, None, True, 403),  # a revoked kiosk
        (None, None, False, 401),
        (acct("reviewer", "shimin"), None, False, 403),  # staff outside the desk
    ]
    for user, kiosk, cookie, status in refusals:
        with pytest.raises(Problem) as e:
            ticket_issuer(user, kiosk, "honcho", residents=False, kiosk_cookie=cookie)
        assert e.value.status_code == status, (user, kiosk)
    assert [r for r in ("counter", "admin", "reviewer", "outreach", "resident") if may_link_visit(acct(r))] == [
        "counter", "admin"]
    assert may_serve_ticket(acct("reviewer", "kodomo"), ["kodomo", "shimin"])
    assert not may_serve_ticket(acct("reviewer", "kodomo"), [])
    assert not may_serve_ticket(acct("configurator"), ["kodomo"])
