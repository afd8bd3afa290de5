"""Visit bookings over HTTP against the real server on a real SQLite file: places, options, slots; hold → book →
read → move → cancel; the cut-off; two people taking the last seat at once; people without an account and their
manage token; residents see only their own; the desk books on a resident's behalf (audited reads); holds capped
and lapsing; every refusal problem+json. Residents sign in with a passkey (the software authenticator)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from procedure_definitions.japan import JST
from procedure_definitions.model import LifeEvent
from server.booking.config import BookingConfig, Place, Window
from server.booking.store import booking_by_code_in, expire_holds_in, put_config_in
from server.counter_code import qr_path
from tests.server.conftest import FakeBuild, Lib, make_proc
from testsupport.servers import AppServer
from testsupport.webauthn import install_csrf, register_resident

EVERY_DAY = {d: ["09:00", "12:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
# Open every day, no holidays or closing days: the tests pick days relative to today and must always find them
# open. One booking booth at 本庁舎 (the last-seat race), two at 支所.
CONFIG = BookingConfig(
    places=[Place(id="honcho", name={"ja": "本庁舎", "en": "City Hall"}, booths=["1", "2"], booking_booths=1,
                  hours=EVERY_DAY),
            Place(id="shisho", name={"ja": "支所"}, booths=["1", "2", "3"], booking_booths=2,
                  departments={"hoken": 1}, hours=EVERY_DAY)],
    slot_minutes=15, default_counter_minutes=10, window=Window(min_days=1, max_days=20), holidays=False,
    closed=[], change_cutoff_hours=48, max_holds=3)


def _library() -> Lib:
    lib = Lib([make_proc(counter_minutes=20),
               make_proc(id="kokuho", title={"ja": "国保加入"}, department={"id": "hoken", "name": {"ja": "保険課"}},
                         counter_minutes=15)])
    lib.life_events = {"moving": {"1.0.0": msgspec.convert(
        {"kind": "life_event", "id": "moving", "version": "1.0.0", "title": {"ja": "引っ越し"},
         "questions": [{"id": "q", "label": {"ja": "国保ですか"}}],
         "procedures": [{"procedure": "test-proc"}, {"procedure": "kokuho", "include_if": "q"}]}, LifeEvent)}}
    return lib


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = AppServer.on_file(tmp_path_factory.mktemp("booking") / "m.db", library=_library(), build_result=FakeBuild())
    s.db.write_sync(lambda c: put_config_in(c, "# test", CONFIG))
    yield s
    s.stop()


def day(n: int) -> str:
    return (dt.datetime.now(JST).date() + dt.timedelta(days=n)).isoformat()


def resident(srv: AppServer, name: str = "窓口 花子") -> httpx.Client:
    c = httpx.Client(base_url=srv.url, timeout=30)
    register_resident(c, srv.url, name)
    return c


def anonymous(srv: AppServer) -> httpx.Client:
    c = httpx.Client(base_url=srv.url, timeout=30)
    install_csrf(c)
    return c


def problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["type"].endswith("/" + slug), body
    return body


def hold(c: httpx.Client, d: str, start: str, place: str = "honcho", **more: Any) -> httpx.Response:
    return c.post("/api/bookings/holds", json={"place": place, "day": d, "start": start,
                                               "procedures": more.pop("procedures", ["test-proc"]), **more})


def events(srv: AppServer, booking_id: str) -> list[str]:
    return [r[0] for r in srv.db.read_sync(lambda c: c.execute(
        "SELECT event FROM queue_events WHERE booking_id = ? ORDER BY id", (booking_id,)).fetchall())]


def test_places_options_and_slots(srv: AppServer) -> None:
    c = srv.client()
    places = c.get("/api/booking/places").json()
    assert [p["id"] for p in places["places"]] == ["honcho", "shisho"]
    assert places["places"][0] == {"id": "honcho", "name": {"ja": "本庁舎", "en": "City Hall"}, "address": None,
                                   "booths": 2}
    assert places["window"] == {"min_days": 1, "max_days": 20} and places["hold_minutes"] == 15
    options = c.get("/api/booking/options").json()
    assert options["procedures"] == [
        {"id": "kokuho", "title": {"ja": "国保加入"}, "department": "hoken", "minutes": 15},
        {"id": "test-proc", "title": {"ja": "テスト申請"}, "department": "shimin", "minutes": 30}]
    # The event books what it always includes (test-proc; 国保 only when the answer says so).
    assert options["events"] == [{"id": "moving", "title": {"ja": "引っ越し"}, "minutes": 30,
                                  "procedures": ["test-proc"]}]
    r = c.get("/api/booking/slots", params={"place": "honcho", "procedures": "test-proc,kokuho", "party": 2,
                                            "days": 3})
    body = r.json()
    assert r.status_code == 200, body
    # (20 + 15) × 2 = 70 → 75 minutes on the 15-minute grid; from 09:00 to 12:00 the last start is 10:45.
    assert body["minutes"] == 75 and body["departments"] == ["shimin", "hoken"]
    assert [d["date"] for d in body["days"]] == [day(1), day(2), day(3)]
    first = body["days"][0]
    assert first["closed"] is None and first["weekday"] == dt.date.fromisoformat(day(1)).weekday()
    assert first["slots"][0] == {"start": "09:00", "end": "10:15", "free": True}
    assert first["slots"][-1]["start"] == "10:45" and len(first["slots"]) == 8
    assert body["first_free_day"] == day(1)
    # Today and past the window: listed, not bookable.
    edge = c.get("/api/booking/slots", params={"place": "honcho", "event": "moving", "from": day(0),
                                               "days": 1}).json()
    assert edge["days"][0]["closed"] == "outside_window" and edge["days"][0]["slots"] == []
    assert edge["first_free_day"] == day(1)
    late = c.get("/api/booking/slots", params={"place": "honcho", "event": "moving", "from": day(21),
                                               "days": 2}).json()
    assert [d["closed"] for d in late["days"]] == ["outside_window", "outside_window"]
    assert late["first_free_day"] is None
    for params, slug in (({"place": "nowhere", "procedures": "test-proc"}, "unknown-place"),
                         ({"place": "honcho", "procedures": "nope"}, "unknown-procedure"),
                         ({"place": "honcho", "event": "nope"}, "unknown-life-event"),
                         ({"place": "honcho"}, "nothing-chosen"),
                         ({"place": "honcho", "procedures": "test-proc", "from": "2026-13-01"}, "bad-date"),
                         ({"place": "honcho", "procedures": "test-proc", "from": "tomorrow"}, "bad-date"),
                         ({"place": "honcho", "procedures": "test-proc", "days": 63}, "bad-days"),
                         ({"place": "honcho", "procedures": "test-proc", "party": 5}, "bad-party")):
        problem(c.get("/api/booking/slots", params=params), 400, slug)  # type: ignore[arg-type]


def test_hold_book_read_move_cancel(srv: AppServer) -> None:
    me = resident(srv)
    h = hold(me, day(5), "09:00", party=2)
    assert h.status_code == 201, h.text
    held = h.json()
    assert (held["day"], held["start"], held["end"], held["minutes"]) == (day(5), "09:00", "09:45", 45)
    left = dt.datetime.fromisoformat(held["held_until"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=14) < left <= dt.timedelta(minutes=15)
    # Held: the slot is taken for everyone else (one booking booth).
    other = resident(srv, "別の 人")
    problem(hold(other, day(5), "09:30"), 409, "slot-taken")
    slots = srv.client().get("/api/booking/slots", params={"place": "honcho", "procedures": "test-proc",
                                                           "from": day(5), "days": 1}).json()["days"][0]["slots"]
    assert [s["start"] for s in slots if not s["free"]] == ["09:00", "09:15", "09:30"]
    r = me.post("/api/bookings", json={"hold_id": held["hold_id"], "people": ["窓口 太郎"]})
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["id"] == held["hold_id"] and b["status"] == "booked" and b["party"] == 2
    assert b["people"] == ["窓口 太郎"] and b["name"] == "窓口 花子" and b["manage_token"] is None
    assert b["procedures"] == [{"id": "test-proc", "title": {"ja": "テスト申請"}}]
    assert b["place_name"]["ja"] == "本庁舎" and b["may_change"] is True and b["ticket"] is None
    code = b["code"]
    assert len(code) == 9 and code[4] == "-" and set(code.replace("-", "")) <= set("23456789ABCDEFGHJKLMNPQRSTUVWXYZ")
    # The check-in QR encodes the bare code, sent as the counter code's is (one SVG path the app draws as is).
    assert b["qr"] == msgspec.to_builtins(qr_path(code.replace("-", ""))) and b["qr"]["size"] >= 21
    assert me.get(f"/api/bookings/{b['id']}").json() == {**b, "manage_token": None, "manage_url": None}
    # The list makes no QR codes (only the single booking shows one).
    assert [(x["id"], x["qr"]) for x in me.get("/api/bookings").json()["bookings"]] == [(b["id"], None)]
    # Move: hold the new time (the old one stays booked meanwhile), then move onto it. A hold for fewer people
    # than the booking names is refused.
    small = hold(me, day(6), "09:00").json()
    problem(me.post(f"/api/bookings/{b['id']}/move", json={"hold_id": small["hold_id"]}), 422, "too-many-people")
    h2 = hold(me, day(6), "10:00", party=2, procedures=["test-proc", "kokuho"]).json()
    moved = me.post(f"/api/bookings/{b['id']}/move", json={"hold_id": h2["hold_id"]})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["day"], moved.json()["start"], moved.json()["code"]) == (day(6), "10:00", code)
    assert moved.json()["departments"] == ["shimin", "hoken"] and moved.json()["minutes"] == 75
    assert srv.db.read_sync(lambda c: c.execute("SELECT count(*) FROM bookings WHERE id = ?",
                                                (h2["hold_id"],)).fetchone()[0]) == 0
    # The old cells are free again: the other resident takes 09:00 on day 5.
    assert hold(other, day(5), "09:00").status_code == 201
    problem(me.post(f"/api/bookings/{b['id']}/move", json={"hold_id": h2["hold_id"]}), 410, "hold-expired")
    cancelled = me.post(f"/api/bookings/{b['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["may_change"] is False and cancelled.json()["qr"] is None
    problem(me.post(f"/api/bookings/{b['id']}/cancel"), 409, "not-changeable")
    assert events(srv, b["id"]) == ["booked", "moved", "cancelled"]
    detail = json.loads(srv.db.read_sync(lambda c: c.execute(
        "SELECT detail FROM queue_events WHERE booking_id = ? AND event = 'moved'", (b["id"],)).fetchone()[0]))
    assert detail["from"]["day"] == day(5) and detail["to"] == {"place": "honcho", "day": day(6), "start": "10:00"}


def test_cutoff(srv: AppServer) -> None:
    me = resident(srv)
    held = hold(me, day(1), "11:00").json()
    # The hold already says so, for the confirm step's warning before 予約する (probe15c #2)
    assert held["may_change"] is False
    assert dt.datetime.fromisoformat(held["change_until"]) == dt.datetime.fromisoformat(
        f"{day(1)}T11:00+09:00") - dt.timedelta(hours=48)
    later = hold(me, day(15), "10:00").json()
    assert later["may_change"] is True and dt.datetime.fromisoformat(later["change_until"]) > dt.datetime.now(dt.UTC)
    b = me.post("/api/bookings", json={"hold_id": held["hold_id"]}).json()
    assert b["change_until"] == held["change_until"]
    # Tomorrow is always within the 48-hour cut-off: the resident may not change it any more.
    assert b["may_change"] is False
    assert dt.datetime.fromisoformat(b["change_until"]) < dt.datetime.now(dt.UTC)
    problem(me.post(f"/api/bookings/{b['id']}/cancel"), 409, "change-cutoff")
    h = hold(me, day(7), "11:00").json()
    problem(me.post(f"/api/bookings/{b['id']}/move", json={"hold_id": h["hold_id"]}), 409, "change-cutoff")
    # The desk still may (the resident phoned).
    desk = srv.login("counter")
    r = desk.post(f"/api/bookings/{b['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    by = srv.db.read_sync(lambda c: c.execute(
        "SELECT by FROM queue_events WHERE booking_id = ? AND event = 'cancelled'", (b["id"],)).fetchone()[0])
    assert by == desk.account_id  # type: ignore[attr-defined]
    assert [tuple(r) for r in srv.db.read_sync(lambda c: c.execute(
        "SELECT actor, action FROM audit_log WHERE subject = ?", (f"booking:{b['id']}",)).fetchall())] == [
        (desk.account_id, "booking.cancel")]  # type: ignore[attr-defined]
    # The resident's own cancel (above, refused) and booking are no staff changes: nothing else audited.


def test_last_seat_race(srv: AppServer) -> None:
    people = [resident(srv, f"競争 {i}") for i in range(6)]

    def take(c: httpx.Client) -> int:
        return hold(c, day(8), "09:30").status_code

    with concurrent.futures.ThreadPoolExecutor(len(people)) as pool:
        codes = sorted(pool.map(take, people))
    assert codes == [201, 409, 409, 409, 409, 409], codes
    assert srv.db.read_sync(lambda c: c.execute(
        "SELECT count(*) FROM bookings WHERE place = 'honcho' AND day = ? AND status = 'held'",
        (day(8),)).fetchone()[0]) == 1
    # At 支所 two booking booths but 保険 one at a time: two 国保 holds race for one.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(lambda c: hold(c, day(8), "09:30", place="shisho", procedures=["kokuho"]).status_code,
                                people[:2]))
    assert codes == [201, 409]


def test_anonymous_with_manage_token(srv: AppServer) -> None:
    anon = anonymous(srv)
    h = hold(anon, day(9), "09:00")
    assert h.status_code == 201, h.text
    hid = h.json()["hold_id"]
    body = problem(anon.post("/api/bookings", json={"hold_id": hid}), 422, "name-and-phone-required")
    assert [e["path"] for e in body["errors"]] == ["name", "phone"]
    problem(anon.post("/api/bookings", json={"hold_id": hid, "name": "a\u202eb", "phone": "090"}), 400, "bad-request")
    # The one phone rule (server/booking/phone.py): said as bad-phone on the field, whatever the length typed.
    for bad in ("090-1234-ABCD", "0" * 21, "090 1234 5678 9012 3456 78"):
        body = problem(anon.post("/api/bookings", json={"hold_id": hid, "name": "山田", "phone": bad}), 422, "bad-phone")
        assert [e["path"] for e in body["errors"]] == ["phone"]
    problem(anon.post("/api/bookings", json={"hold_id": hid, "name": "山田", "phone": "0" * 31}), 400, "bad-request")
    # Someone else (a resident) cannot confirm this hold.
    problem(resident(srv).post("/api/bookings", json={"hold_id": hid}), 409, "hold-not-yours")
    name = "渡邊\U000e0102 一郎"  # an MJ variant with its ideographic variation selector: kept byte for byte
    r = anon.post("/api/bookings", json={"hold_id": hid, "name": name, "phone": "＋８１ ９０－１２３４－５６７８",
                                         "lang": "en"})
    assert r.status_code == 201, r.text
    b = r.json()
    token = b["manage_token"]
    assert len(token) >= 22 and b["manage_url"] == f"/#/v/m/{b['id']}/{token}" and b["name"] == name
    stored = srv.db.read_sync(lambda c: c.execute("SELECT name, phone, manage_hash, lang FROM bookings WHERE id = ?",
                                                  (b["id"],)).fetchone())
    assert stored[0] == name and stored[1] == "＋８１ ９０－１２３４－５６７８" and stored[3] == "en"  # as typed
    assert token not in stored[2] and len(stored[2]) == 64  # only the sha256
    other = srv.client()
    problem(other.get(f"/api/bookings/{b['id']}"), 404, "not-found")
    problem(other.get(f"/api/bookings/{b['id']}", headers={"X-Booking-Token": token[:-1] + "x"}), 404, "not-found")
    got = other.get(f"/api/bookings/{b['id']}", headers={"X-Booking-Token": token})
    assert got.status_code == 200 and got.json()["manage_token"] is None and got.json()["name"] == name
    problem(anon.post(f"/api/bookings/{b['id']}/cancel"), 404, "not-found")
    r = anon.post(f"/api/bookings/{b['id']}/cancel", headers={"X-Booking-Token": token})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    # Anonymous callers are refused GET /api/bookings (a resident's list).
    problem(anon.get("/api/bookings"), 401, "unauthorized")


def test_resident_isolation(srv: AppServer) -> None:
    a, b = resident(srv, "甲"), resident(srv, "乙")
    mine = a.post("/api/bookings", json={"hold_id": hold(a, day(10), "09:00").json()["hold_id"]}).json()
    for r in (b.get(f"/api/bookings/{mine['id']}"), b.post(f"/api/bookings/{mine['id']}/cancel"),
              b.get("/api/bookings/no-such-booking")):
        problem(r, 404, "not-found")
    assert b.get("/api/bookings").json() == {"bookings": []}
    assert [x["id"] for x in a.get("/api/bookings").json()["bookings"]] == [mine["id"]]
    # Other staff roles neither read nor book.
    reviewer = srv.login("reviewer", department="shimin")
    problem(reviewer.get(f"/api/bookings/{mine['id']}"), 404, "not-found")
    problem(hold(reviewer, day(10), "10:00"), 403, "forbidden")
    problem(reviewer.get("/api/bookings"), 403, "forbidden")


def test_staff_books_on_behalf(srv: AppServer) -> None:
    desk = srv.login("counter")
    h = hold(desk, day(11), "09:00", event="moving", procedures=[])
    assert h.status_code == 201, h.text
    problem(desk.post("/api/bookings", json={"hold_id": h.json()["hold_id"], "name": "電話 太郎"}), 422,
            "name-and-phone-required")
    r = desk.post("/api/bookings", json={"hold_id": h.json()["hold_id"], "name": "電話 太郎", "phone": "0312345678"})
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["event"] == "moving" and b["manage_token"] is not None
    row = srv.db.read_sync(lambda c: tuple(c.execute("SELECT booked_by, account_id FROM bookings WHERE id = ?",
                                                     (b["id"],)).fetchone()))
    assert row == (desk.account_id, None)  # type: ignore[attr-defined]
    other_desk = srv.login("admin")
    assert other_desk.get(f"/api/bookings/{b['id']}").json()["name"] == "電話 太郎"
    audited = srv.db.read_sync(lambda c: c.execute(
        "SELECT actor, details FROM audit_log WHERE action = 'booking.read' AND subject = ?",
        (f"booking:{b['id']}",)).fetchall())
    assert [(a, json.loads(d)["via"]) for a, d in audited] == [(other_desk.account_id, "api")]  # type: ignore[attr-defined]
    made = srv.db.read_sync(lambda c: c.execute(
        "SELECT actor, details FROM audit_log WHERE action = 'booking.book_on_behalf' AND subject = ?",
        (f"booking:{b['id']}",)).fetchone())
    assert made[0] == desk.account_id and json.loads(made[1]) == {"via": "api", "day": day(11), "start": "09:00"}  # type: ignore[attr-defined]
    detail = json.loads(srv.db.read_sync(lambda c: c.execute(
        "SELECT detail FROM queue_events WHERE booking_id = ? AND event = 'booked'", (b["id"],)).fetchone()[0]))
    assert detail["channel"] == "staff" and "電話" not in json.dumps(detail, ensure_ascii=False)


def test_holds_capped_and_lapsing(srv: AppServer) -> None:
    me = resident(srv)
    ids = [hold(me, day(12), f"{9 + i:02d}:00").json()["hold_id"] for i in range(3)]
    problem(hold(me, day(12), "09:30"), 429, "too-many-holds")
    # A hold lapses: it occupies nothing and cannot be confirmed (410); the cap counts open holds only.
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    srv.db.write_sync(lambda c: c.execute("UPDATE bookings SET held_until = ? WHERE id = ?", (past, ids[0])))
    problem(me.post("/api/bookings", json={"hold_id": ids[0]}), 410, "hold-expired")
    assert srv.db.write_sync(expire_holds_in) >= 1  # housekeeping marks it
    assert srv.db.read_sync(lambda c: c.execute("SELECT status FROM bookings WHERE id = ?",
                                                (ids[0],)).fetchone()[0]) == "expired"
    problem(me.post("/api/bookings", json={"hold_id": ids[0]}), 410, "hold-expired")
    assert hold(resident(srv), day(12), "09:00").status_code == 201  # the lapsed hold's slot is free again
    assert hold(me, day(12), "09:30").status_code == 201
    body = problem(me.post("/api/bookings", json={"hold_id": "no-such-hold"}), 410, "hold-expired")
    assert body["title"] == "The time held has lapsed"  # says what happened, not "Error"


def test_a_repeated_confirm_answers_the_booking_made(srv: AppServer) -> None:
    """A double tap or a retry after a lost answer: 200 and the same booking (manage token too), not 410
    hold-expired, which would send the resident to book a second time; nobody else gets it."""
    anon = anonymous(srv)
    hid = hold(anon, day(13), "09:00").json()["hold_id"]
    body = {"hold_id": hid, "name": "二度 押子", "phone": "090-2222-3333"}
    first = anon.post("/api/bookings", json=body)
    assert first.status_code == 201, first.text
    again = anon.post("/api/bookings", json=body)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert events(srv, hid) == ["booked"]  # booked once
    problem(resident(srv).post("/api/bookings", json={"hold_id": hid}), 410, "hold-expired")
    me = resident(srv)
    mine = hold(me, day(14), "10:00").json()["hold_id"]
    made = me.post("/api/bookings", json={"hold_id": mine})
    assert made.status_code == 201 and me.post("/api/bookings", json={"hold_id": mine}).json() == made.json()
    assert me.post(f"/api/bookings/{mine}/cancel").status_code == 200
    problem(me.post("/api/bookings", json={"hold_id": mine}), 410, "hold-expired")  # cancelled: not booked again


def test_bad_requests_are_problems(srv: AppServer) -> None:
    me = resident(srv)
    problem(me.post("/api/bookings/holds", json={"place": "honcho", "day": day(13), "start": "09:00",
                                                 "procedures": ["test-proc"], "extra": 1}), 400, "bad-request")
    problem(me.post("/api/bookings/holds", content=b"not json", headers={"Content-Type": "application/json"}),
            400, "bad-request")
    problem(hold(me, day(13), "9:00"), 400, "bad-request")
    problem(hold(me, day(13), "09:07"), 422, "not-a-slot")
    problem(hold(me, day(13), "11:45", party=2), 422, "not-a-slot")  # 60 minutes do not end by 12:00
    problem(hold(me, day(0), "11:45"), 422, "day-not-bookable")
    problem(hold(me, day(21), "09:00"), 422, "day-not-bookable")
    problem(hold(me, "2026-02-30", "09:00"), 400, "bad-date")
    problem(hold(me, day(13), "09:00", place="nowhere"), 400, "unknown-place")
    problem(hold(me, day(13), "09:00", procedures=["nope"]), 400, "unknown-procedure")
    problem(me.post("/api/bookings", json={"hold_id": "x", "lang": "fr"}), 400, "bad-request")


def test_a_checked_in_booking_shows_its_ticket(srv: AppServer) -> None:
    me = resident(srv)
    b = me.post("/api/bookings", json={"hold_id": hold(me, day(14), "09:00").json()["hold_id"]}).json()
    assert b["ticket"] is None
    # Today's booking (moved to today in the file: the window starts tomorrow) checked in at the desk.
    srv.db.write_sync(lambda c: c.execute("UPDATE bookings SET day = ? WHERE id = ?", (day(0), b["id"])))
    desk = srv.login("counter")
    # One code lookup (server.booking.store.booking_by_code_in) for the store and the queue's check-in: a code typed
    # in lower case with an ideographic space (a Japanese keyboard's) for the dash is the same code.
    typed = b["code"].lower().replace("-", "\u3000")
    assert srv.db.read_sync(lambda c: booking_by_code_in(c, typed)).id == b["id"]
    assert srv.db.read_sync(lambda c: booking_by_code_in(c, typed + "X")) is None
    r = desk.post("/api/queue/honcho/checkin", json={"code": typed})
    assert r.status_code == 201, r.text
    mine = me.get(f"/api/bookings/{b['id']}").json()
    assert mine["status"] == "checked_in" and mine["ticket"]["number"] == r.json()["number"]
    token = mine["ticket"]["token"]
    assert token and r.json()["url"].endswith(f"/#/q/{token}")
    # The phone link opens the ticket; the list shows it too; the desk sees the number, not the owner's link.
    assert srv.client().get(f"/api/tickets/{token}").json()["number"] == mine["ticket"]["number"]
    assert me.get("/api/bookings").json()["bookings"][0]["ticket"] == mine["ticket"]
    assert desk.get(f"/api/bookings/{b['id']}").json()["ticket"] == {"number": mine["ticket"]["number"],
                                                                     "token": None}


def test_the_desk_with_a_manage_token_is_still_the_desk(srv: AppServer) -> None:
    # The desk's own on-behalf booking answers its manage token; sent back in X-Booking-Token it must not make the
    # clerk the owner: the read is audited and the phone link's ticket token stays the resident's (review15d #1).
    desk = srv.login("counter")
    h = hold(desk, day(18), "10:00", event="moving", procedures=[]).json()
    b = desk.post("/api/bookings", json={"hold_id": h["hold_id"], "name": "電話 次郎", "phone": "0312345679"}).json()
    token = b["manage_token"]
    srv.db.write_sync(lambda c: c.execute("UPDATE bookings SET day = ? WHERE id = ?", (day(0), b["id"])))
    assert desk.post("/api/queue/honcho/checkin", json={"code": b["code"]}).status_code == 201
    seen = desk.get(f"/api/bookings/{b['id']}", headers={"X-Booking-Token": token}).json()
    assert seen["status"] == "checked_in" and seen["ticket"]["number"] and seen["ticket"]["token"] is None
    audited = srv.db.read_sync(lambda c: c.execute(
        "SELECT actor FROM audit_log WHERE action = 'booking.read' AND subject = ?", (f"booking:{b['id']}",)).fetchall())
    assert [a for (a,) in audited] == [desk.account_id]  # type: ignore[attr-defined]
    # The person holding the link (no account) is the owner: their ticket link, no audit entry.
    anon = anonymous(srv)
    assert anon.get(f"/api/bookings/{b['id']}", headers={"X-Booking-Token": token}).json()["ticket"]["token"]
    assert len(srv.db.read_sync(lambda c: c.execute(
        "SELECT 1 FROM audit_log WHERE action = 'booking.read' AND subject = ?", (f"booking:{b['id']}",)).fetchall())) == 1


@pytest.mark.parametrize(("role", "own", "token_ok", "access"), [
    (None, False, False, None), (None, False, True, "owner"), ("resident", True, False, "owner"),
    ("resident", False, False, None), ("resident", False, True, "owner"), ("counter", False, False, "desk"),
    ("admin", False, False, "desk"), ("reviewer", False, False, None), ("configurator", False, False, None)])
def test_booking_access_is_one_policy(role: str | None, own: bool, token_ok: bool, access: str | None) -> None:
    """server.authz decides who books and who reads, cancels or moves a booking (the API only calls it)."""
    from types import SimpleNamespace

    from server.authz import booking_access, may_book

    user = None if role is None else SimpleNamespace(id="a1", role=role, department=None, display_name="x",
                                                     resident_id=None)
    assert booking_access(user, account_id="a1" if own else "a2", token_ok=token_ok) == access
    assert booking_access(user, account_id=None, token_ok=False) == (access if access == "desk" else None)
    assert may_book(user) == (role in (None, "resident", "counter", "admin"))


def test_move_into_its_own_freed_time(srv: AppServer) -> None:
    """A full period: moving a booking to a time that overlaps only itself succeeds (its own cells are freed by the
    move), when the hold says which booking it moves (``moves``); such a hold moves that booking only."""
    me, other = resident(srv), resident(srv, "隣の 人")
    mine = me.post("/api/bookings", json={"hold_id": hold(me, day(16), "09:00", party=2).json()["hold_id"]}).json()
    assert (mine["start"], mine["end"]) == ("09:00", "09:45")
    theirs = other.post("/api/bookings", json={"hold_id": hold(other, day(16), "09:45").json()["hold_id"]}).json()
    assert theirs["status"] == "booked"
    params: dict[str, str | int] = {"place": "honcho", "procedures": "test-proc", "from": day(16), "days": 1}

    def free(c: httpx.Client, **more: str) -> list[str]:
        r = c.get("/api/booking/slots", params={**params, **more})
        assert r.status_code == 200, r.text
        return [s["start"] for s in r.json()["days"][0]["slots"] if s["free"]]

    assert "09:15" not in free(me)  # as anyone sees it: full
    assert free(me, moves=mine["id"])[:2] == ["09:00", "09:15"]  # for its move: its own time is free
    problem(other.get("/api/booking/slots", params={**params, "moves": mine["id"]}), 404, "not-found")
    problem(hold(me, day(16), "09:15"), 409, "slot-taken")
    problem(hold(other, day(16), "09:15", moves=mine["id"]), 404, "not-found")  # not theirs to move
    h = hold(me, day(16), "09:15", moves=mine["id"])
    assert h.status_code == 201, h.text
    # Held to move: it cannot become a booking of its own (that would overbook), nor move another booking.
    problem(me.post("/api/bookings", json={"hold_id": h.json()["hold_id"]}), 409, "hold-for-move")
    second = me.post("/api/bookings", json={"hold_id": hold(me, day(17), "09:00").json()["hold_id"]}).json()
    problem(me.post(f"/api/bookings/{second['id']}/move", json={"hold_id": h.json()["hold_id"]}), 409,
            "hold-for-move")
    moved = me.post(f"/api/bookings/{mine['id']}/move", json={"hold_id": h.json()["hold_id"]})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["start"], moved.json()["end"], moved.json()["party"]) == ("09:15", "09:45", 1)
    assert "09:00" not in free(other)  # 09:00 alone is free now, but a 30-minute booking would run into 09:15
    taken = srv.db.read_sync(lambda c: c.execute(
        "SELECT start, minutes FROM bookings WHERE place = 'honcho' AND day = ? AND status = 'booked' ORDER BY start",
        (day(16),)).fetchall())
    assert [tuple(t) for t in taken] == [("09:15", 30), ("09:45", 30)]  # never more than the one booth
