"""Today's times already past (probe15b #7), over HTTP against the real server: the calendar does not offer them
(a screen reader heard 「満員」 for a morning that was simply over), and holding one is 422 ``time-past`` — nobody
took it, so not 409 ``slot-taken``. Real time: the place is open all day every day and books from today."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from procedure_definitions.japan import JST
from server.booking.config import BookingConfig, Place, Window
from server.booking.store import put_config_in
from tests.server.conftest import FakeBuild, Lib, make_proc
from testsupport.booking_rules import ALL_DAY
from testsupport.servers import AppServer
from testsupport.webauthn import install_csrf

CONFIG = BookingConfig(
    places=[Place(id="honcho", name={"ja": "本庁舎"}, booths=["1"], booking_booths=1, hours=ALL_DAY)],
    slot_minutes=15, default_counter_minutes=15, window=Window(min_days=0, max_days=5), holidays=False, closed=[])


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with AppServer.on_file(tmp_path_factory.mktemp("past") / "p.db", library=Lib([make_proc()]),
                           build_result=FakeBuild()) as s:
        s.db.write_sync(lambda c: put_config_in(c, "# test", CONFIG))
        yield s


def test_past_times_today_are_not_offered_and_holding_one_is_422(srv: AppServer) -> None:
    c = srv.client()
    install_csrf(c)
    before = dt.datetime.now(JST)
    today = before.date().isoformat()
    cal = c.get("/api/booking/slots", params={"place": "honcho", "procedures": "test-proc", "from": today,
                                              "days": 2}).json()
    first = cal["days"][0]
    assert first["date"] == today and first["closed"] is None
    # No start at or before now is listed (not even as taken); the ones listed are the free later ones.
    assert all(s["start"] > before.strftime("%H:%M") for s in first["slots"]), first["slots"][:3]
    assert all(s["free"] for s in first["slots"])
    assert len(cal["days"][1]["slots"]) == 96  # tomorrow: the whole day, every 15 minutes
    r = c.post("/api/bookings/holds", json={"place": "honcho", "day": today, "start": "00:00",
                                            "procedures": ["test-proc"]})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/time-past")
    # A time that is no start of the grid is still not-a-slot; a past day still day-not-bookable.
    yesterday = (before.date() - dt.timedelta(days=1)).isoformat()
    r = c.post("/api/bookings/holds", json={"place": "honcho", "day": yesterday, "start": "12:00",
                                            "procedures": ["test-proc"]})
    assert r.status_code == 422 and r.json()["type"].endswith("/day-not-bookable")
    r = c.post("/api/bookings/holds", json={"place": "honcho", "day": today, "start": "25:00",
                                            "procedures": ["test-proc"]})
    assert r.status_code == 422 and r.json()["type"].endswith("/not-a-slot")
