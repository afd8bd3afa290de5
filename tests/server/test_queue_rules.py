"""The one queue's order (server/tickets/rules.py, pure): priority first, bookings due by their time, early
bookings wait, late bookings yield to walk-ins, a missed call waits then goes to the end, max_missed ends it,
the department filter, positions and the wait estimate."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Sequence
from functools import partial
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def _reference_positions(tickets: Sequence[QTicket], now: dt.datetime, cfg: Any,
                         stats: QueueStats) -> dict[str, tuple[int, int]]:
    """docs/queue.md's rule spelt out the straightforward way (each ticket counts the early bookings before it,
    O(waiting × early)): what ``rules.positions``' one pass must equal."""
    ahead_of_due = dt.timedelta(minutes=cfg.due_ahead_minutes)

    def keeps(t: QTicket) -> bool:
        return (t.kind == "booking" and t.due_at is not None and t.missed == 0
                and t.arrived_at <= t.due_at + dt.timedelta(minutes=cfg.lateness_minutes))

    def early(t: QTicket) -> bool:
        return t.priority <= 0 and keeps(t) and t.due_at is not None and t.due_at - ahead_of_due > now

    def key(t: QTicket) -> tuple[int, dt.datetime, int]:
        if t.priority > 0:
            return (0, t.queue_at, t.seq)
        if keeps(t):
            assert t.due_at is not None
            return (1, t.due_at, t.seq)
        return (2, t.queue_at, t.seq)

    waiting = [t for t in tickets if t.status == "waiting"]
    out = {}
    for t in waiting:
        before = sum(1 for o in waiting if key(o) < key(t) and not early(o))
        call_at = now + dt.timedelta(minutes=rules.estimate_minutes(before, stats))
        if early(t):
            assert t.due_at is not None
            call_at = max(call_at, t.due_at - ahead_of_due)
        ahead = before + sum(1 for o in waiting if early(o) and key(o) < key(t)
                             and o.due_at is not None and o.due_at - ahead_of_due <= call_at)
        minutes = rules.estimate_minutes(ahead, stats)
        if t.kind == "booking" and t.due_at is not None and t.due_at > now and t.missed == 0:
            minutes = max(minutes, math.ceil((t.due_at - now).total_seconds() / 60))
        out[t.id] = (ahead, minutes)
    return out


_ticket_st = st.tuples(
    st.sampled_from(["walkin", "booking"]),
    st.sampled_from(["waiting", "waiting", "waiting", "called", "done"]),
    st.integers(-120, 10),  # arrived (minutes from now)
    st.integers(-60, 180),  # due (bookings)
    st.integers(0, 1),  # priority
    st.integers(0, 1),  # missed
    st.integers(-5, 5),  # not_before (paused after a miss when > 0)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_ticket_st, max_size=120), service=st.floats(0.5, 20), booths=st.integers(1, 8))
def test_positions_in_one_pass_equal_the_straightforward_count(rows: list[tuple[Any, ...]], service: float,
                                                                booths: int) -> None:
    tickets = []
    for i, (kind, status, arrived, due, priority, missed, nb) in enumerate(rows):
        tickets.append(QTicket(
            id=f"t{i}", number=f"X-{i:03d}", kind=kind, status=status, arrived_at=_m(arrived),
            queue_at=_m(arrived + 3 * missed), seq=i + 1, priority=priority,
            due_at=_m(due) if kind == "booking" else None, missed=missed,
            not_before=_m(nb) if missed and nb > 0 else None))
    stats = QueueStats(service_minutes=service, active_booths=booths)
    assert rules.positions(tickets, NOW, CFG, stats) == _reference_positions(tickets, NOW, CFG, stats)


def test_positions_of_a_big_queue_equal_the_straightforward_count() -> None:
    """A morning's queue (1,500 waiting, most of them bookings checked in early) — the size the load bench meets."""
    rnd = random.Random(15)
    tickets = [QTicket(id=f"t{i}", number=f"X-{i:04d}", kind=kind, status="waiting", arrived_at=_m(a), queue_at=_m(a),
                       seq=i + 1, priority=int(rnd.random() < 0.02),
                       due_at=_m(rnd.randint(-30, 240)) if kind == "booking" else None)
               for i in range(1500)
               for kind, a in [(rnd.choice(["booking", "booking", "walkin"]), rnd.randint(-90, 0))]]
    stats = QueueStats(service_minutes=1.2, active_booths=20)
    got = rules.positions(tickets, NOW, CFG, stats)
    assert got == _reference_positions(tickets, NOW, CFG, stats)
    assert len({a for a, _ in got.values()}) > 100  # a real spread of places, not all zero
