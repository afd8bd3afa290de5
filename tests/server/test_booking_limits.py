"""Seats cannot be hoarded (docs/security.md "Visit bookings"), against the real server on a real SQLite file: the
``booking`` rate-limit family's own strict per-address rate, taken by holds AND bookings without an account; the
caps of open future bookings per account, per phone number (however written) and per address; the desk is not
capped. And a slots request's work is bounded (``from`` from today to one page past the window)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from server.auth.ratelimit import AuthLimits, Rate
from server.booking.config import BookingConfig, Place, Window
from server.booking.store import open_bookings_in, put_config_in
from tests.server.conftest import FakeBuild
from tests.server.test_booking_api import EVERY_DAY, _library, anonymous, day, hold, problem, resident
from testsupport.servers import AppServer

CONFIG = BookingConfig(
    places=[Place(id="honcho", name={"ja": "本庁舎"}, booths=["1", "2", "3"], booking_booths=3, hours=EVERY_DAY)],
    slot_minutes=15, default_counter_minutes=10, window=Window(min_days=1, max_days=20), holidays=False, closed=[],
    change_cutoff_hours=48, max_holds=3, max_open_bookings=2, max_open_bookings_per_address=3)


def _server(tmp_path_factory: pytest.TempPathFactory, name: str, booking: Rate) -> AppServer:
    s = AppServer.on_file(tmp_path_factory.mktemp(name) / "m.db", library=_library(), build_result=FakeBuild(),
                          auth_limits=AuthLimits(per_ip_family={"booking": booking}))
    s.db.write_sync(lambda c: put_config_in(c, "# test", CONFIG))
    return s


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = _server(tmp_path_factory, "booking-caps", Rate(1000, 1.0))
    yield s
    s.stop()


def book(c: httpx.Client, d: str, start: str, phone: str | None = None) -> httpx.Response:
    h = hold(c, d, start)
    assert h.status_code == 201, h.text
    body = {"hold_id": h.json()["hold_id"]} | ({"name": "予約 太郎", "phone": phone} if phone else {})
    return c.post("/api/bookings", json=body)


def test_anonymous_holds_and_bookings_share_a_strict_rate(tmp_path_factory: pytest.TempPathFactory) -> None:
    s = _server(tmp_path_factory, "booking-rate", Rate(3, 3600.0))
    try:
        anon = anonymous(s)
        assert book(anon, day(3), "09:00", "090-0000-0001").status_code == 201  # a hold and a booking: 2 tokens
        h = hold(anon, day(3), "09:15")
        assert h.status_code == 201  # the third
        r = anon.post("/api/bookings", json={"hold_id": h.json()["hold_id"], "name": "予約 太郎", "phone": "0901"})
        problem(r, 429, "rate-limited")
        assert int(r.headers["retry-after"]) > 0
        problem(hold(anon, day(3), "09:30"), 429, "rate-limited")
        # A signed-in resident is not in the anonymous family's bucket (their account caps them instead).
        assert book(resident(s), day(3), "09:30").status_code == 201
    finally:
        s.stop()


def test_open_bookings_capped_per_phone_address_and_account(srv: AppServer) -> None:
    anon = anonymous(srv)
    assert book(anon, day(4), "09:00", "090-1111-2222").status_code == 201
    assert book(anon, day(4), "09:15", "09011112222").status_code == 201
    # The same number written otherwise is the same number: its third open booking is refused (full-width as a
    # Japanese keyboard types it, too: one phone rule, server/booking/phone.py).
    problem(book(anon, day(4), "09:30", "090 1111 2222"), 409, "too-many-bookings")
    assert srv.db.read_sync(lambda c: open_bookings_in(c, since=day(0), phone="０９０－１１１１－２２２２")) == 2
    assert book(anon, day(4), "09:30", "080-3333-4444").status_code == 201
    # Three open bookings from this address (people without an account): the fourth is refused, any number.
    body = problem(book(anon, day(4), "09:45", "070-5555-6666"), 409, "too-many-bookings")
    assert "3" in body["detail"]
    # A resident: two open bookings per account.
    me = resident(srv)
    first = book(me, day(5), "09:00").json()
    assert book(me, day(5), "09:15").status_code == 201
    problem(book(me, day(5), "09:30"), 409, "too-many-bookings")
    # Cancelled bookings are not open: one cancelled, one more may be booked.
    assert me.post(f"/api/bookings/{first['id']}/cancel").status_code == 200
    assert book(me, day(5), "09:30").status_code == 201
    # Past bookings are not open either (the cap counts from today).
    srv.db.write_sync(lambda c: c.execute("UPDATE bookings SET day = ? WHERE phone = '080-3333-4444'",
                                          ((dt.date.fromisoformat(day(0)) - dt.timedelta(days=1)).isoformat(),)))
    assert book(anon, day(4), "09:45", "070-5555-6666").status_code == 201
    # The desk books on residents' behalf without a cap (audited): a third booking for the capped number.
    desk = srv.login("counter")
    assert book(desk, day(6), "09:00", "090-1111-2222").status_code == 201


def test_slots_from_is_bounded(srv: AppServer) -> None:
    c = srv.client()
    params: dict[str, str | int] = {"place": "honcho", "procedures": "test-proc", "days": 1}
    yesterday = (dt.date.fromisoformat(day(0)) - dt.timedelta(days=1)).isoformat()
    for bad in (yesterday, "2000-01-01", day(20 + 63)):
        body = problem(c.get("/api/booking/slots", params={**params, "from": bad}), 400, "bad-date")
        assert body["errors"][0]["path"] == "from"
    for good in (day(0), day(20 + 62)):
        r = c.get("/api/booking/slots", params={**params, "from": good})
        assert r.status_code == 200, r.text
    # Past the window: listed as such, and no free day ahead.
    assert r.json()["days"][0]["closed"] == "outside_window" and r.json()["first_free_day"] is None
