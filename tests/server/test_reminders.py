"""Reminders the day before a booking (issue 15 point 5) and the day's housekeeping (no-shows at closing time,
lapsed holds), on the REAL server: Web Push arriving decrypted at a local push service, the city's SMS adapter
played by testsupport's RecordingSender, once per booking and channel even across a restart."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from procedure_definitions.japan import JST
from server.booking.config import DEFAULT_CONFIG, WEEKDAYS
from server.booking.reminders import MAX_RETRIES, RETRY_AFTER_S
from server.booking.slots import closed_reason
from server.booking.store import cancel_booking_in, create_booking_in, create_hold_in, move_booking_in
from tests.server.conftest import start_server
from testsupport.push_service import LocalPushService
from testsupport.reminders import RecordingSender, run_round
from testsupport.servers import AppServer

PLACE = DEFAULT_CONFIG.places[0]


def _weekday_ahead(days: int) -> dt.date:
    """The first day the default place takes bookings (open, no holiday, not 年末年始), at least ``days`` days
    after today (JST)."""
    d = dt.datetime.now(JST).date() + dt.timedelta(days=days)
    while closed_reason(DEFAULT_CONFIG, PLACE, d) is not None:
        d += dt.timedelta(days=1)
    return d


def _jst(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), JST)


def _book(srv: AppServer, day: dt.date, start: str = "09:00", *, account_id: str | None = None,
          phone: str | None = None, lang: str = "ja", status: str = "booked", name: str | None = "窓口 花子",
          ) -> tuple[str, str | None]:
    """A booking made as the booking API makes it (a hold, then the booking: server/booking/store.py); its id
    and its manage token (none with an account)."""
    holder = f"account:{account_id}" if account_id else f"ip:test-{uuid.uuid4()}"

    def job(c: sqlite3.Connection) -> tuple[str, str | None]:
        hold = create_hold_in(c, DEFAULT_CONFIG, place=PLACE.id, day=day.isoformat(), start=start, minutes=30,
                              procedures=["tenkyo"], departments=["shimin"], event=None, party=1, holder=holder)
        if status == "held":
            return hold.id, None
        record, token, _again = create_booking_in(c, DEFAULT_CONFIG, hold_id=hold.id, holder=holder,
                                                  account_id=account_id, booked_by=None, name=name, phone=phone,
                                                  people=[], lang=lang)
        if status == "cancelled":
            cancel_booking_in(c, DEFAULT_CONFIG, record.id, by=None, staff=True)
        elif status == "checked_in":  # checking in (server/tickets) works on the day only: its outcome, written
            c.execute("UPDATE bookings SET status = 'checked_in' WHERE id = ?", (record.id,))
        return record.id, token
    return srv.db.write_sync(job)


def _status(srv: AppServer, bid: str) -> str:
    return str(srv.db.read_sync(lambda c: c.execute("SELECT status FROM bookings WHERE id = ?", (bid,)).fetchone()[0]))


def _events(srv: AppServer, bid: str) -> list[tuple[str, Any]]:
    """The steps after booking (the booking's own ``booked``/``cancelled`` are the store's)."""
    return srv.db.read_sync(lambda c: [tuple(r) for r in c.execute(
        "SELECT event, detail FROM queue_events WHERE booking_id = ? AND event NOT IN ('booked', 'cancelled')"
        " ORDER BY id", (bid,))])


def _reminder_rows(srv: AppServer, bid: str) -> dict[str, tuple[str, int]]:
    return srv.db.read_sync(lambda c: {r[0]: (r[1], r[2]) for r in c.execute(
        "SELECT channel, outcome, attempts FROM booking_reminders WHERE booking_id = ?", (bid,))})


@pytest.fixture(scope="module")
def push() -> Iterator[LocalPushService]:
    svc = LocalPushService()
    yield svc
    svc.close()


@pytest.fixture
def sms() -> RecordingSender:
    return RecordingSender("sms")


@pytest.fixture
def srv(tmp_path: Path, sms: RecordingSender) -> Iterator[AppServer]:
    s = start_server(tmp_path, push_hosts=("127.0.0.1",), push_allow_http=True, reminder_senders=(sms,),
                     reminder_interval_s=0)  # rounds run only when the test says, at the time it chooses
    yield s
    s.stop()


def test_the_day_before_from_the_reminder_hour_each_channel_once(srv: AppServer, push: LocalPushService,
                                                                 sms: RecordingSender) -> None:
    push.deliveries.clear()
    day = _weekday_ahead(3)
    resident = srv.login("resident")
    account = resident.account_id  # type: ignore[attr-defined]
    mine = push.subscription()
    assert resident.post("/api/push/subscriptions", json=mine).status_code == 201
    other = srv.login("resident")  # another resident's browser must hear nothing of this booking
    assert other.post("/api/push/subscriptions", json=push.subscription()).status_code == 201
    own, no_token = _book(srv, day, "09:30", account_id=account, name="秘密 太郎")
    by_phone, token = _book(srv, day, "14:00", phone="090-1234-5678", lang="en", name="電話 次郎")
    assert no_token is None and token
    _book(srv, day, "10:00", phone="090-0000-0000", status="cancelled")
    later, _ = _book(srv, _weekday_ahead((day - dt.datetime.now(JST).date()).days + 1), "10:00", phone="090-1111-1111")
    eve = day - dt.timedelta(days=1)
    hour = DEFAULT_CONFIG.reminder_hour

    before = run_round(srv.app, _jst(eve, hour - 1, 59))
    assert before.sent == 0 and sms.messages == [] and _reminder_rows(srv, own) == {}

    first = run_round(srv.app, _jst(eve, hour, 0))
    assert (first.sent, first.failed, first.nothing_to_send) == (2, 0, 0)
    (got,) = push.wait(1)
    assert not push.errors
    assert push.base + got.path == mine["endpoint"]  # the booking account's browser, nobody else's
    assert got.payload["url"] == f"/#/v/b/{own}" and got.payload["tag"] == f"booking-{own}"
    assert "明日" in got.payload["body"] and "9:30" in got.payload["body"]
    assert "秘密" not in str(got.payload) and "tenkyo" not in str(got.payload)

    (msg,) = sms.messages  # the phone booking only: not the cancelled one, not the day after's
    assert (msg.booking_id, msg.to, msg.lang, msg.day, msg.start) == (by_phone, "090-1234-5678", "en",
                                                                      day.isoformat(), "14:00")
    assert msg.place_name == PLACE.name["en"]
    assert PLACE.name["en"] in msg.text and "14:00" in msg.text and str(day.day) in msg.text
    assert day.strftime("%B") in msg.text and day.strftime("%a") in msg.text
    assert "電話" not in msg.text and "tenkyo" not in msg.text  # no name, no procedure
    # A booking without an account gets its manage link again (the one given at booking), and it works.
    assert msg.manage_url == f"{srv.settings.origin}/#/v/m/{by_phone}/{token}" and msg.text.endswith(msg.manage_url)
    r = srv.client().get(f"/api/bookings/{by_phone}", headers={"X-Booking-Token": token})
    assert r.status_code == 200 and r.json()["id"] == by_phone

    assert _reminder_rows(srv, own) == {"push": ("sent", 1)}
    assert _reminder_rows(srv, by_phone) == {"sms": ("sent", 1)}
    assert _reminder_rows(srv, later) == {}
    assert [e for e, _ in _events(srv, own)] == ["reminded"]
    assert _events(srv, by_phone) == [("reminded", '{"channel":"sms"}')]

    again = run_round(srv.app, _jst(eve, hour + 3, 0))  # later rounds the same evening: nothing twice
    assert again.sent == 0 and len(sms.messages) == 1
    assert len(push.wait(2, timeout=1)) == 1


def test_once_only_across_a_restart_on_the_same_file(tmp_path: Path) -> None:
    day = _weekday_ahead(4)
    eve = _jst(day - dt.timedelta(days=1), DEFAULT_CONFIG.reminder_hour, 5)
    first_sms = RecordingSender("sms")
    srv = start_server(tmp_path, reminder_senders=(first_sms,), reminder_interval_s=0)
    try:
        bid, _ = _book(srv, day, "11:15", phone="080-2222-3333")
        assert run_round(srv.app, eve).sent == 1
    finally:
        srv.stop()
    second_sms = RecordingSender("sms")
    srv = start_server(tmp_path, reminder_senders=(second_sms,), reminder_interval_s=0)
    try:
        assert run_round(srv.app, eve + dt.timedelta(minutes=30)).sent == 0
        assert [m.booking_id for m in first_sms.messages] == [bid] and second_sms.messages == []
        assert [e for e, _ in _events(srv, bid)] == ["reminded"]
    finally:
        srv.stop()


def test_a_refused_message_is_retried_a_few_times_then_left_failed(srv: AppServer, sms: RecordingSender) -> None:
    day = _weekday_ahead(5)
    bid, _ = _book(srv, day, "13:00", phone="070-4444-5555", lang="ja-easy")
    sms.accept = False
    t = _jst(day - dt.timedelta(days=1), DEFAULT_CONFIG.reminder_hour, 0)
    assert run_round(srv.app, t).failed == 1
    assert run_round(srv.app, t + dt.timedelta(seconds=RETRY_AFTER_S - 1)).failed == 0  # not before the wait
    for _ in range(MAX_RETRIES + 2):
        t += dt.timedelta(seconds=RETRY_AFTER_S)
        run_round(srv.app, t)
    assert sms.attempts == 1 + MAX_RETRIES
    assert _reminder_rows(srv, bid) == {"sms": ("failed", 1 + MAX_RETRIES)}
    assert _events(srv, bid) == []  # never reminded

    other, _ = _book(srv, day, "13:30", phone="070-6666-7777", lang="ja-easy")  # refused once, accepted on retry
    sms.accept = False
    t0 = _jst(day - dt.timedelta(days=1), DEFAULT_CONFIG.reminder_hour + 1, 0)
    run_round(srv.app, t0)
    sms.accept = True
    assert run_round(srv.app, t0 + dt.timedelta(seconds=RETRY_AFTER_S)).sent == 1
    assert _reminder_rows(srv, other) == {"sms": ("sent", 2)}
    (msg,) = sms.messages
    assert msg.booking_id == other and "あした" in msg.text and "13:30" in msg.text


def test_a_resident_without_a_push_subscription_is_noted_not_reminded(srv: AppServer, sms: RecordingSender) -> None:
    day = _weekday_ahead(6)
    resident = srv.login("resident")
    bid, _ = _book(srv, day, "09:00", account_id=resident.account_id)  # type: ignore[attr-defined]
    r = run_round(srv.app, _jst(day - dt.timedelta(days=1), 23, 0))
    assert (r.sent, r.nothing_to_send) == (0, 1)
    assert _reminder_rows(srv, bid) == {"push": ("none", 1)} and _events(srv, bid) == []


def test_no_show_at_closing_time_and_lapsed_holds_expire(srv: AppServer) -> None:
    day = _weekday_ahead(7)
    close_h, close_m = (int(x) for x in PLACE.hours[WEEKDAYS[day.weekday()]][1].split(":"))
    closing = _jst(day, close_h, close_m)
    missed, _ = _book(srv, day, "10:00", phone="090-9999-0000")
    came, _ = _book(srv, day, "10:30", status="checked_in")
    cancelled, _ = _book(srv, day, "11:00", status="cancelled")
    hold, _ = _book(srv, day, "09:00", status="held")  # held for 15 minutes from now: long lapsed by then

    r = run_round(srv.app, closing - dt.timedelta(minutes=1))
    assert (r.no_shows, r.holds_expired) == (0, 1)
    assert _status(srv, missed) == "booked" and _status(srv, hold) == "expired"
    r = run_round(srv.app, closing)
    assert r.no_shows == 1
    assert [_status(srv, b) for b in (missed, came, cancelled)] == ["no_show", "checked_in", "cancelled"]
    assert [e for e, _ in _events(srv, missed)] == ["no_show"]
    assert run_round(srv.app, closing + dt.timedelta(hours=1)).no_shows == 0  # once
    assert [e for e, _ in _events(srv, missed)] == ["no_show"]


def test_the_texts_name_place_day_and_time_in_the_bookings_language() -> None:
    from server.booking.reminders import day_label, push_payload, reminder_text

    day = _weekday_ahead(1)
    weekday_ja = "月火水木金土日"[day.weekday()]
    assert day_label(day.isoformat(), "ja") == f"{day.month}月{day.day}日（{weekday_ja}）"
    assert day_label(day.isoformat(), "en") == f"{day.strftime('%a')} {day.day} {day.strftime('%B')}"
    link = "http://localhost:8000/#/v/m/b1/t0k3n"
    ja = reminder_text("ja", place="本庁舎", day=day.isoformat(), start="08:45", manage_url=link)
    assert "本庁舎" in ja and day_label(day.isoformat(), "ja") in ja and "8:45" in ja and "08:45" not in ja
    assert ja.endswith(link)
    assert link not in reminder_text("ja", place="本庁舎", day=day.isoformat(), start="08:45", manage_url=None)
    assert reminder_text("xx", place="P", day=day.isoformat(), start="10:00", manage_url=None) == reminder_text(
        "ja", place="P", day=day.isoformat(), start="10:00", manage_url=None)  # unknown language: Japanese
    assert b"10:00" in push_payload("b1", "10:00", "en") and b"/#/v/b/b1" in push_payload("b1", "10:00", "en")


def test_serve_loads_the_citys_sender_by_class_path_or_refuses_to_start(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import httpx

    from server.booking.reminders import load_senders
    from testsupport.servers import ROOT, ServerProcess

    (sender,) = load_senders(["testsupport.reminders:RecordingSender"])
    assert isinstance(sender, RecordingSender) and sender.channel == "sms"
    for bad, says in (("testsupport.reminders", "module:Class"), ("no_such_module_x:Sender", "no_such_module_x"),
                      ("testsupport.reminders:Nope", "Nope"), ("testsupport.reminders:run_round", "run_round")):
        with pytest.raises(ValueError, match=says):
            load_senders([bad])
    with pytest.raises(ValueError, match="one sender per channel"):
        load_senders(["testsupport.reminders:RecordingSender"] * 2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "madoguchi.cli", "serve", "--db", str(tmp_path / "m.db"),
                        "--reminder-sender", "no_such_module_x:Sender"], capture_output=True, text=True, env=env,
                       timeout=120, cwd=ROOT)
    assert r.returncode == 2 and "error: --reminder-sender" in r.stderr and "Traceback" not in r.stderr
    # A class that loads: the server starts with it (the test double is on the path through PYTHONPATH).
    db = str(tmp_path / "ok.db")
    with ServerProcess(db, argv=[sys.executable, "-m", "madoguchi.cli", "serve", "--db", db, "--port", "{port}",
                                 "--reminder-sender", "testsupport.reminders:RecordingSender"], env=env) as srv:
        assert httpx.get(f"{srv.url}/healthz", timeout=10).json() == {"status": "ok"}


def test_a_booking_for_tomorrow_made_after_the_hour_wakes_the_job_at_once() -> None:
    from server.booking.reminders import ReminderJob

    eve = _jst(dt.date(2026, 12, 7), DEFAULT_CONFIG.reminder_hour, 30)
    job = ReminderJob(None, None, origin="http://localhost", interval_s=0, clock_fn=lambda: eve)
    job.booking_made(DEFAULT_CONFIG, "2026-12-09")  # the day after tomorrow: the usual round will do
    assert not job._wake.is_set()
    job.booking_made(DEFAULT_CONFIG, "2026-12-08")
    assert job._wake.is_set()
    early = ReminderJob(None, None, origin="http://localhost", interval_s=0,
                        clock_fn=lambda: eve - dt.timedelta(hours=1))
    early.booking_made(DEFAULT_CONFIG, "2026-12-08")  # before the hour: tonight's first round sends it
    assert not early._wake.is_set()


def _move(srv: AppServer, bid: str, day: dt.date) -> None:
    """Move booking ``bid`` to 15:00 on ``day`` through the store's writers (hold, then move), as the desk does."""
    holder = f"ip:test-{uuid.uuid4()}"

    def move(c: sqlite3.Connection) -> None:
        hold = create_hold_in(c, DEFAULT_CONFIG, place=PLACE.id, day=day.isoformat(), start="15:00", minutes=30,
                              procedures=["tenkyo"], departments=["shimin"], event=None, party=1, holder=holder)
        move_booking_in(c, DEFAULT_CONFIG, bid, hold_id=hold.id, holder=holder, by=None, staff=True)
    srv.db.write_sync(move)


def test_a_booking_moved_after_its_reminder_is_reminded_of_its_new_day(srv: AppServer, sms: RecordingSender) -> None:
    day = _weekday_ahead(8)
    bid, _ = _book(srv, day, "15:00", phone="090-3333-4444")
    assert run_round(srv.app, _jst(day - dt.timedelta(days=1), 19)).sent == 1
    new_day = _weekday_ahead((day - dt.datetime.now(JST).date()).days + 1)
    _move(srv, bid, new_day)
    assert run_round(srv.app, _jst(day - dt.timedelta(days=1), 20)).sent == 0  # the old eve: nothing again
    assert run_round(srv.app, _jst(new_day - dt.timedelta(days=1), 19)).sent == 1
    assert [m.day for m in sms.messages] == [day.isoformat(), new_day.isoformat()]
    assert _reminder_rows(srv, bid) == {"sms": ("sent", 1)}


def test_no_show_waits_for_the_bookings_end_past_closing_and_reads_hours_to_midnight() -> None:
    from server.booking.config import BookingConfig, Place
    from server.booking.reminders import housekeeping_in
    from server.storage.schema import migrate

    day = dt.date(2026, 12, 8)  # a Tuesday
    cfg = BookingConfig(places=[Place(id="late", name={"ja": "夜間窓口"}, booths=["1"], booking_booths=1,
                                      hours={"tue": ["17:00", "24:00"]}),
                                Place(id="early", name={"ja": "本庁"}, booths=["1"], booking_booths=1,
                                      hours={"tue": ["08:30", "17:15"]})])
    conn = sqlite3.connect(":memory:")
    migrate(conn)
    for bid, place, start in (("a", "late", "23:30"), ("b", "early", "18:00")):  # b: after hours (rules changed)
        conn.execute("INSERT INTO bookings (id, code, place, day, start, minutes, status, holder, procedures,"
                     " departments, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 30, 'booked', 'ip:x', '[]', '[]',"
                     " '', '')", (bid, bid.upper() * 8, place, day.isoformat(), start))
    assert housekeeping_in(conn, cfg, _jst(day, 18, 20)) == (0, 0)  # b ends 18:30, a's place closes at midnight
    assert housekeeping_in(conn, cfg, _jst(day, 18, 30)) == (0, 1)
    assert housekeeping_in(conn, cfg, _jst(day, 23, 59)) == (0, 0)
    assert housekeeping_in(conn, cfg, _jst(day + dt.timedelta(days=1), 0, 0)) == (0, 1)
    assert dict(conn.execute("SELECT id, status FROM bookings")) == {"a": "no_show", "b": "no_show"}


def test_a_booking_made_or_moved_to_tomorrow_after_the_hour_wakes_the_job_whoever_wrote_it(srv: AppServer) -> None:
    # The wake comes from the store's writes (the event log notes the day; the job reads it after the commit), so a
    # move through the API wakes it as a booking does (review15d #8: the API's move once forgot it).
    import asyncio

    job = srv.app.state.reminders
    day = _weekday_ahead(9)
    later = _weekday_ahead((day - dt.datetime.now(JST).date()).days + 1)
    eve = _jst(day - dt.timedelta(days=1), DEFAULT_CONFIG.reminder_hour, 30)
    run_round(srv.app, eve)  # the job has read the rules (the reminder hour)
    job.clock = lambda: eve

    def settled() -> bool:  # the after-commit hand-over runs on the app's loop: let it run, then look
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), job.loop).result(10)
        woken: bool = job._wake.is_set()
        job._wake.clear()
        return woken

    settled()
    bid, _ = _book(srv, later, "15:00", phone="090-5555-6666")
    assert not settled()  # the day after tomorrow: the usual round will do
    _move(srv, bid, day)
    assert settled()  # moved to tomorrow, after the hour: reminded at once
    _book(srv, day, "15:30", phone="090-7777-0000")
    assert settled()
