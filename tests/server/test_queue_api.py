"""The one queue over HTTP against the real server and a real SQLite file (staff and residents signed in with
real passkey ceremonies): check-in by booking code, walk-in tickets from a kiosk, the desk and the app (one open
ticket per resident), the booths' steps, ETags, the board's live events, and a ticket's Web Push messages
decrypted by a local push service."""

from __future__ import annotations

import datetime as dt
import json
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from procedure_definitions.japan import JST
from server.auth.store import hash_secret
from server.booking.config import DEFAULT_CONFIG, BookingConfig, Place
from tests.server.conftest import FakeBuild, Lib, make_proc
from testsupport.booking_rules import ALL_DAY
from testsupport.push_service import LocalPushService
from testsupport.servers import AppServer
from testsupport.webauthn import assert_problem, enroll_staff, install_csrf, register_resident

KODOMO = {"id": "kodomo", "name": {"ja": "こども課"}}
SHISHO = Place(id="shisho", name={"ja": "北支所", "en": "North Branch"}, booths=["1", "2"], booking_booths=1)
# Residents draw from the app only while a place is open (server.authz.walkin_open): 本庁舎 is open all day every
# day here, no holidays or closing days, so the tests run at any time; 夜間窓口 is open now's other half of the day
# (a resident's draw is refused, a kiosk's not); 休業中 is never open (even a kiosk's draw is refused).
_NOW = dt.datetime.now(JST)
_OTHER_HALF = ["20:00", "24:00"] if _NOW.hour < 12 else ["00:00", "04:00"]
YORU = Place(id="yoru", name={"ja": "夜間窓口"}, booths=["1"], booking_booths=1,
             hours={d: list(_OTHER_HALF) for d in ALL_DAY})
KYUGYO = Place(id="kyugyo", name={"ja": "休業中"}, booths=["1"], booking_booths=1, hours={})
CONFIG = BookingConfig(places=[msgspec.structs.replace(DEFAULT_CONFIG.places[0], hours=ALL_DAY), SHISHO, YORU, KYUGYO],
                       holidays=False, closed=[])
NAME = "予約 太郎"


@pytest.fixture(scope="module")
def push() -> Iterator[LocalPushService]:
    svc = LocalPushService()
    yield svc
    svc.close()


class World:
    def __init__(self, srv: AppServer) -> None:
        self.srv = srv
        self.clients: list[httpx.Client] = []

    def client(self, **kw: Any) -> httpx.Client:
        c = httpx.Client(base_url=self.srv.url, timeout=10, **kw)
        self.clients.append(c)
        install_csrf(c)
        return c

    def staff(self, role: str, department: str | None = None) -> httpx.Client:
        from server.auth import create_invite

        c = self.client()
        url = create_invite(self.srv.db, f"{role} 職員", role, department, self.srv.url)
        account, _ = enroll_staff(c, url)
        c.account_id = account["id"]  # type: ignore[attr-defined]
        return c

    def resident(self) -> httpx.Client:
        c = self.client()
        account, _ = register_resident(c, self.srv.url)
        c.account_id = account["id"]  # type: ignore[attr-defined]
        return c

    def kiosk(self, place: str = "honcho") -> httpx.Client:
        token = secrets.token_urlsafe(32)
        self.srv.db.write_sync(lambda c: c.execute(
            "INSERT INTO kiosks (id, token_hash, place, name, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (str(uuid.uuid4()), hash_secret(token).hex(), place, "ロビー1", "test", "2026-01-01T00:00:00+00:00")))
        return self.client(cookies={"madoguchi_kiosk": token})

    def book(self, *, day: dt.date | None = None, start: str | None = None, place: str = "honcho",
             status: str = "booked", departments: tuple[str, ...] = ("shimin",), account: str | None = None) -> str:
        """A booking row as part A's booking writes it (a direct INSERT: the queue only reads it)."""
        now = dt.datetime.now(JST)
        day = day or now.date()
        start = start or (now + dt.timedelta(minutes=1)).strftime("%H:%M")
        code = "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))
        self.srv.db.write_sync(lambda c: c.execute(
            "INSERT INTO bookings (id, code, place, day, start, minutes, status, holder, account_id, name, phone,"
            " party, procedures, departments, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 15, ?, ?, ?, ?, ?, 1, ?,"
            " ?, ?, ?)", (str(uuid.uuid4()), code, place, day.isoformat(), start, status, "ip:127.0.0.1", account,
                          NAME, "090-0000-0000", '["test-proc"]', msgspec.json.encode(list(departments)).decode(),
                          "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00")))
        return code

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        return self.srv.db.read_sync(lambda c: [tuple(r) for r in c.execute(query, args)])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, push: LocalPushService) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("queue")
    lib = Lib([make_proc(), make_proc(id="kodomo-proc", title={"ja": "児童手当"}, department=KODOMO)])
    with AppServer.on_file(tmp / "q.db", library=lib, build_result=FakeBuild(), push_hosts=("127.0.0.1",),
                           push_allow_http=True) as srv:
        srv.db.write_sync(lambda c: c.execute(
            "INSERT INTO booking_config (id, source, config, set_at) VALUES (1, '', ?, '2026-01-01T00:00:00Z')",
            (msgspec.json.encode(CONFIG).decode(),)))
        w = World(srv)
        yield w
        for c in w.clients:
            c.close()


@pytest.fixture(autouse=True)
def empty_queue(world: World) -> None:
    """Each test starts from an empty queue (tickets are numbered per day: each test's numbers start at 001)."""
    def job(c: Any) -> None:
        c.execute("DELETE FROM ticket_push")
        c.execute("DELETE FROM tickets")
        c.execute("DELETE FROM bookings")
    world.srv.db.write_sync(job)


@pytest.fixture(scope="module")
def counter(world: World) -> httpx.Client:
    return world.staff("counter")


@pytest.fixture(scope="module")
def kiosk(world: World) -> httpx.Client:
    return world.kiosk()


def test_checkin_by_code_gives_the_bookings_ticket_once(world: World, kiosk: httpx.Client) -> None:
    code = world.book()
    typed = f"{code[:4].lower()}-{code[4:].lower()}"  # as a person types it
    r = kiosk.post("/api/queue/honcho/checkin", json={"code": typed})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["kind"] == "booking" and t["number"] == "R-001" and t["status"] == "waiting"
    assert t["due_at"] and t["url"].endswith(f"/#/q/{t['token']}") and t["qr"]["size"] > 20 and t["qr"]["path"].startswith("M")
    assert NAME not in r.text
    assert world.sql("SELECT status FROM bookings WHERE code = ?", code) == [("checked_in",)]
    events = [e for (e,) in world.sql("SELECT event FROM queue_events WHERE booking_id = (SELECT id FROM bookings"
                                      " WHERE code = ?) ORDER BY id", code)]
    assert events == ["checked_in", "ticket"]
    again = kiosk.post("/api/queue/honcho/checkin", json={"code": code})
    assert again.status_code == 200 and again.json()["token"] == t["token"] and again.json()["number"] == "R-001"
    # Typed with a Japanese IME: full-width letters, digits and dash (NFKC), the same booking.
    wide = "".join(chr(ord(ch) + 0xFEE0) for ch in f"{code[:4]}-{code[4:].lower()}")
    by_ime = kiosk.post("/api/queue/honcho/checkin", json={"code": wide})
    assert by_ime.status_code == 200 and by_ime.json()["number"] == "R-001", by_ime.text
    assert world.srv.client().get(f"/api/tickets/{t['token']}").json()["number"] == "R-001"


def test_checkin_refusals(world: World, kiosk: httpx.Client, counter: httpx.Client) -> None:
    tomorrow = dt.datetime.now(JST).date() + dt.timedelta(days=1)
    body = assert_problem(kiosk.post("/api/queue/honcho/checkin", json={"code": world.book(day=tomorrow)}), 409,
                          "wrong-day")
    assert tomorrow.isoformat() in body["detail"]
    assert_problem(kiosk.post("/api/queue/honcho/checkin", json={"code": world.book(status="cancelled")}), 409,
                   "cancelled")
    assert_problem(kiosk.post("/api/queue/honcho/checkin", json={"code": world.book(place="shisho")}), 409,
                   "wrong-place")
    assert_problem(kiosk.post("/api/queue/honcho/checkin", json={"code": "ZZZZ-ZZZZ"}), 404, "unknown-code")
    assert_problem(kiosk.post("/api/queue/honcho/checkin", json={"code": "0O1I"}), 404, "unknown-code")
    assert_problem(kiosk.post("/api/queue/honcho/checkin", json={"code": 5}), 400)
    # a kiosk of another place (403: no sign-in makes it one), nobody signed in, a resident: not the desk
    other = world.kiosk("shisho")
    assert_problem(other.post("/api/queue/honcho/checkin", json={"code": world.book()}), 403)
    assert_problem(world.client().post("/api/queue/honcho/checkin", json={"code": world.book()}), 401)
    assert_problem(world.resident().post("/api/queue/honcho/checkin", json={"code": world.book()}), 403)
    # the desk checks in for the resident
    assert counter.post("/api/queue/honcho/checkin", json={"code": world.book()}).status_code == 201
    assert_problem(counter.post("/api/queue/nowhere/checkin", json={"code": world.book()}), 404, "unknown-place")


def test_walkin_tickets_from_kiosk_desk_and_app_one_open_per_resident(world: World, kiosk: httpx.Client,
                                                                      counter: httpx.Client) -> None:
    a = kiosk.post("/api/queue/honcho/tickets", json={"departments": ["kodomo"]})
    assert a.status_code == 201, a.text
    assert a.json()["number"] == "A-001" and a.json()["kind"] == "walkin" and a.json()["departments"] == ["kodomo"]
    b = counter.post("/api/queue/honcho/tickets", json={"priority_reason": "妊娠中"})
    assert b.status_code == 201 and b.json()["number"] == "A-002"
    resident = world.resident()
    c = resident.post("/api/queue/honcho/tickets", json={"lang": "ja"})
    assert c.status_code == 201 and c.json()["number"] == "A-003"
    # the priority ticket is first, then the kiosk's, then the app's
    assert [world.srv.client().get(f"/api/tickets/{x.json()['token']}").json()["ahead"] for x in (a, b, c)] == [1, 0, 2]
    dup = assert_problem(resident.post("/api/queue/honcho/tickets", json={}), 409, "ticket-open")
    assert dup["token"] == c.json()["token"] and dup["number"] == "A-003"
    assert dup["url"] == c.json()["url"] and dup["url"].startswith("http")  # absolute, as the new ticket's
    sources = world.sql("SELECT number, source, account_id IS NOT NULL FROM tickets ORDER BY seq")
    assert sources == [("A-001", "kiosk", 0), ("A-002", "staff", 0), ("A-003", "app", 1)]
    # once the ticket is over, the resident may draw another
    assert resident.post(f"/api/tickets/{c.json()['token']}/leave").json()["status"] == "left"
    assert resident.post("/api/queue/honcho/tickets", json={}).status_code == 201
    assert_problem(kiosk.post("/api/queue/honcho/tickets", json={"departments": ["nowhere"]}), 422,
                   "unknown-department")
    assert_problem(kiosk.post("/api/queue/honcho/tickets", json={"extra": 1}), 400)
    # a priority reason is stored and shown as a name is: the one name rule refuses control and bidi characters
    for bad in ("a\u0007b", "a\u0000c", "車いす\n<script>", "妊娠中\u202e", "\u2066x", " ", "x" * 101):
        assert_problem(kiosk.post("/api/queue/honcho/tickets", json={"priority_reason": bad}), 400)
    assert world.sql("SELECT count(*) FROM tickets WHERE priority_reason NOT IN ('妊娠中')") == [(0,)]
    assert_problem(world.client().post("/api/queue/honcho/tickets", json={}), 401)
    assert_problem(world.staff("reviewer", "shimin").post("/api/queue/honcho/tickets", json={}), 403)


def test_the_booths_call_recall_miss_serve_finish_and_leave(world: World, kiosk: httpx.Client,
                                                            counter: httpx.Client) -> None:
    empty = assert_problem(counter.post("/api/queue/honcho/call", json={"booth": "3"}), 404, "queue-empty")
    assert empty["title"] == "待っている方はいません"
    code = world.book()
    tickets = [kiosk.post("/api/queue/honcho/tickets", json={}).json() for _ in range(3)]
    kiosk.post("/api/queue/honcho/checkin", json={"code": code})
    first = counter.post("/api/queue/honcho/call", json={"booth": "3"})
    assert first.status_code == 200, first.text
    called = first.json()
    # the booking, due now, goes before the walk-ins who came earlier; the booth sees the booking's name (audited)
    assert (called["number"], called["status"], called["booth"], called["name"]) == ("R-001", "called", "3", NAME)
    assert world.sql("SELECT count(*) FROM audit_log WHERE action = 'queue.read' AND actor = ?",
                     counter.account_id)[0][0] >= 1  # type: ignore[attr-defined]
    assert counter.post(f"/api/queue/tickets/{called['id']}/recall").json()["calls"] == 2
    missed = counter.post(f"/api/queue/tickets/{called['id']}/missed").json()
    assert (missed["status"], missed["missed"]) == ("waiting", 1)
    # paused for recall_minutes: the next call is the first walk-in
    nxt = counter.post("/api/queue/honcho/call", json={"booth": "2"}).json()
    assert nxt["number"] == tickets[0]["number"]
    assert counter.post(f"/api/queue/tickets/{nxt['id']}/serve", json={}).json()["status"] == "serving"
    assert counter.post(f"/api/queue/tickets/{nxt['id']}/finish").json()["status"] == "done"
    assert_problem(counter.post(f"/api/queue/tickets/{nxt['id']}/finish"), 409, "ticket-state")
    third = counter.post("/api/queue/honcho/call", json={"booth": "2"}).json()
    assert counter.post(f"/api/queue/tickets/{third['id']}/left").json()["status"] == "left"
    assert_problem(counter.post("/api/queue/honcho/call", json={"booth": "99"}), 422, "unknown-booth")
    assert_problem(counter.post(f"/api/queue/tickets/{uuid.uuid4()}/recall"), 404)
    assert_problem(world.resident().post("/api/queue/honcho/call", json={"booth": "1"}), 403)
    # a second miss ends the booking's ticket: no-show
    world.srv.db.write_sync(lambda c: c.execute("UPDATE tickets SET not_before = NULL WHERE id = ?", (called["id"],)))
    again = counter.post("/api/queue/honcho/call", json={"booth": "3"}).json()
    assert again["number"] == tickets[2]["number"]  # the miss put the booking at the end, after the last walk-in
    counter.post(f"/api/queue/tickets/{again['id']}/finish")
    last = counter.post("/api/queue/honcho/call", json={"booth": "3"}).json()
    assert last["number"] == "R-001"
    assert counter.post(f"/api/queue/tickets/{last['id']}/missed").json()["status"] == "no_show"
    assert world.sql("SELECT status FROM bookings WHERE code = ?", code) == [("no_show",)]
    events = [e for (e,) in world.sql("SELECT event FROM queue_events WHERE ticket_id = ? ORDER BY id", called["id"])]
    assert events == ["ticket", "called", "recalled", "missed", "called", "no_show"]


def test_a_resident_may_leave_a_called_ticket_but_not_one_being_served(world: World, kiosk: httpx.Client,
                                                                       counter: httpx.Client) -> None:
    """Someone called may have given up and gone: 順番待ちをやめる still works (the call leaves the board and the
    booth), as docs/api.md and docs/queue.md say; once the booth serves them (or it is over) it is 409."""
    a, b = (kiosk.post("/api/queue/honcho/tickets", json={}).json() for _ in range(2))
    phone = world.client()
    called = counter.post("/api/queue/honcho/call", json={"booth": "2"}).json()
    assert called["number"] == a["number"]
    left = phone.post(f"/api/tickets/{a['token']}/leave")
    assert (left.status_code, left.json()["status"]) == (200, "left")
    board = phone.get("/api/queue/honcho/board").json()
    assert a["number"] not in [c["number"] for c in board["called"]]
    assert world.sql("SELECT event, booth, by FROM queue_events WHERE ticket_id = ? ORDER BY id DESC LIMIT 1",
                     called["id"]) == [("left", "2", None)]
    assert_problem(counter.post(f"/api/queue/tickets/{called['id']}/missed"), 409, "ticket-state")
    served = counter.post("/api/queue/honcho/call", json={"booth": "2"}).json()
    assert counter.post(f"/api/queue/tickets/{served['id']}/serve", json={}).json()["status"] == "serving"
    assert_problem(phone.post(f"/api/tickets/{b['token']}/leave"), 409, "ticket-state")
    assert_problem(phone.post(f"/api/tickets/{a['token']}/leave"), 409, "ticket-state")  # over already
    docs = Path(__file__).resolve().parents[2] / "docs"
    row = next(line for line in (docs / "api.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| POST `/api/tickets/{token}/leave`"))
    assert "once `called`" in row and "409 `ticket-state` once `serving`" in row


def test_a_missed_call_is_in_the_phones_view_with_when_it_comes_again(world: World, kiosk: httpx.Client,
                                                                     counter: httpx.Client) -> None:
    """After 不在 the phone's view says the call was missed (``missed``) and not before when it is called again
    (``not_before``: the miss + ``recall_minutes``), so the ticket page can say so (probe15b #8)."""
    mine = kiosk.post("/api/queue/honcho/tickets", json={}).json()
    phone = world.client()
    fresh = phone.get(f"/api/tickets/{mine['token']}").json()
    assert (fresh["missed"], fresh["not_before"]) == (0, None)
    called = counter.post("/api/queue/honcho/call", json={"booth": "1"}).json()
    before = dt.datetime.now(dt.UTC)
    counter.post(f"/api/queue/tickets/{called['id']}/missed")
    view = phone.get(f"/api/tickets/{mine['token']}").json()
    assert (view["status"], view["missed"], view["booth"]) == ("waiting", 1, None)
    again = dt.datetime.fromisoformat(view["not_before"])
    assert dt.timedelta(minutes=CONFIG.recall_minutes) - dt.timedelta(seconds=5) \
        <= again - before <= dt.timedelta(minutes=CONFIG.recall_minutes, seconds=5)
    # Called again: no longer paused (the page says the call, not the miss's wait).
    world.srv.db.write_sync(lambda c: c.execute("UPDATE tickets SET not_before = NULL WHERE id = ?", (called["id"],)))
    assert counter.post("/api/queue/honcho/call", json={"booth": "1"}).json()["number"] == mine["number"]
    view = phone.get(f"/api/tickets/{mine['token']}").json()
    assert (view["status"], view["missed"], view["not_before"]) == ("called", 1, None)


def test_a_reviewer_calls_only_tickets_of_their_department(world: World, kiosk: httpx.Client) -> None:
    kiosk.post("/api/queue/honcho/tickets", json={"departments": ["shimin"]})
    kodomo = kiosk.post("/api/queue/honcho/tickets", json={"departments": ["kodomo"]}).json()
    reviewer = world.staff("reviewer", "kodomo")
    listed = reviewer.get("/api/queue/honcho").json()["tickets"]
    assert [t["number"] for t in listed] == [kodomo["number"]]  # the other department's ticket is not theirs
    assert reviewer.post("/api/queue/honcho/call", json={"booth": "5"}).json()["number"] == kodomo["number"]
    assert_problem(reviewer.post("/api/queue/honcho/call", json={"booth": "5"}), 404, "queue-empty")
    shimin_id = world.sql("SELECT id FROM tickets WHERE number = 'A-001'")[0][0]
    assert_problem(reviewer.post(f"/api/queue/tickets/{shimin_id}/left"), 404)  # not theirs: as if absent


def test_serving_links_the_visit_and_closing_the_visit_finishes_the_ticket(world: World, kiosk: httpx.Client,
                                                                          counter: httpx.Client) -> None:
    code = world.book()
    kiosk.post("/api/queue/honcho/checkin", json={"code": code})
    t = counter.post("/api/queue/honcho/call", json={"booth": "1"}).json()
    assert_problem(counter.post(f"/api/queue/tickets/{t['id']}/serve", json={"visit_id": "nope"}), 422,
                   "unknown-visit")
    v = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "person": {"family": "予約", "given": "太郎"}})
    assert v.status_code == 201, v.text
    # a department's reviewer works the ticket but links no visit (only the visit desk opens visits)
    reviewer = world.staff("reviewer", "shimin")
    assert_problem(reviewer.post(f"/api/queue/tickets/{t['id']}/serve", json={"visit_id": v.json()["id"]}), 403)
    # a closed visit is not linked (its close is over: the ticket would never finish with it)
    closed = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "person": {"family": "別", "given": "人"}})
    assert counter.post(f"/api/visits/{closed.json()['id']}/close").status_code == 200
    assert_problem(counter.post(f"/api/queue/tickets/{t['id']}/serve", json={"visit_id": closed.json()["id"]}), 409,
                   "visit-not-open")
    assert world.sql("SELECT booking_ref FROM visits WHERE id = ?", closed.json()["id"]) == [(None,)]
    assert world.sql("SELECT status, visit_id FROM tickets WHERE id = ?", t["id"]) == [("called", None)]
    served = counter.post(f"/api/queue/tickets/{t['id']}/serve", json={"visit_id": v.json()["id"]}).json()
    assert served["status"] == "serving" and served["visit_id"] == v.json()["id"]
    booking_id = world.sql("SELECT id FROM bookings WHERE code = ?", code)[0][0]
    assert world.sql("SELECT booking_ref FROM visits WHERE id = ?", v.json()["id"]) == [(booking_id,)]
    links = world.sql("SELECT actor, details FROM audit_log WHERE action = 'queue.visit_link' AND subject = ?",
                      f"visit:{v.json()['id']}")
    assert [(a, msgspec.json.decode(d)["ticket"]) for a, d in links] == [
        (counter.account_id, t["id"])]  # type: ignore[attr-defined]
    assert counter.post(f"/api/visits/{v.json()['id']}/close").status_code == 200
    assert world.sql("SELECT status FROM tickets WHERE id = ?", t["id"]) == [("done",)]
    # the clerk who closed the visit finished the ticket (queue_events.by)
    assert world.sql("SELECT event, by FROM queue_events WHERE ticket_id = ? ORDER BY id DESC LIMIT 1", t["id"]) == [
        ("finished", counter.account_id)]  # type: ignore[attr-defined]


def test_etags_answer_304_until_the_view_changes_and_the_board_holds_no_names(world: World, kiosk: httpx.Client,
                                                                              counter: httpx.Client) -> None:
    code = world.book()
    t = kiosk.post("/api/queue/honcho/checkin", json={"code": code}).json()
    anyone = world.srv.client()
    first = anyone.get(f"/api/tickets/{t['token']}")
    tag = first.headers["etag"]
    assert anyone.get(f"/api/tickets/{t['token']}", headers={"If-None-Match": tag}).status_code == 304
    board = anyone.get("/api/queue/honcho/board")
    btag = board.headers["etag"]
    assert board.json()["waiting"] == 1 and board.json()["called"] == []
    assert anyone.get("/api/queue/honcho/board", headers={"If-None-Match": btag}).status_code == 304
    counter.post("/api/queue/honcho/call", json={"booth": "4"})
    now = anyone.get(f"/api/tickets/{t['token']}", headers={"If-None-Match": tag})
    assert now.status_code == 200 and now.json()["status"] == "called" and now.json()["booth"] == "4"
    b2 = anyone.get("/api/queue/honcho/board", headers={"If-None-Match": btag})
    assert b2.status_code == 200
    assert b2.json()["called"][0]["number"] == t["number"] and b2.json()["called"][0]["booth"] == "4"
    assert NAME not in b2.text and "予約" not in b2.text and "090" not in b2.text
    assert_problem(anyone.get("/api/tickets/not-a-token"), 404)
    assert_problem(anyone.get("/api/queue/nowhere/board"), 404, "unknown-place")


def test_more_calls_at_once_than_the_board_lists_all_stay_on_it(world: World, kiosk: httpx.Client,
                                                                counter: httpx.Client) -> None:
    """The board lists the last 8 calls and every other call of the last minute still open: booths calling more
    than 8 times at once push none of them off before a board showed it (the minute's bound: test_board_view.py)."""
    for _ in range(12):
        kiosk.post("/api/queue/honcho/tickets", json={})

    def call(booth: str) -> dict[str, Any]:
        r = counter.post("/api/queue/honcho/call", json={"booth": booth})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    y, z, x = call("3"), call("3"), call("2")  # booth 3 calls again without 受付する: Y is still called
    done = []
    for _ in range(8):
        t = call("1")
        assert counter.post(f"/api/queue/tickets/{t['id']}/finish").json()["status"] == "done"
        done.append(t["number"])
    board = world.srv.client().get("/api/queue/honcho/board").json()
    assert [c["number"] for c in board["called"]] == [*reversed(done), x["number"], z["number"], y["number"]]
    counter.post(f"/api/queue/tickets/{x['id']}/serve", json={})  # at the booth: still open, still listed
    counter.post(f"/api/queue/tickets/{z['id']}/finish")  # finished, and not among the last 8: off the board
    board = world.srv.client().get("/api/queue/honcho/board").json()
    assert [c["number"] for c in board["called"]] == [*reversed(done), x["number"], y["number"]]


def _sse(url: str, out: queue.Queue[tuple[str, dict[str, Any]]], stop: threading.Event) -> None:
    with httpx.Client(timeout=httpx.Timeout(30, read=30)) as c, c.stream("GET", url) as r:
        event = ""
        for line in r.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                out.put((event, msgspec.json.decode(line.split(":", 1)[1].strip())))


def test_server_sent_events_deliver_a_call_to_the_board_and_the_phone(world: World, kiosk: httpx.Client,
                                                                       counter: httpx.Client) -> None:
    t = kiosk.post("/api/queue/honcho/tickets", json={}).json()
    got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    stop = threading.Event()
    threads = [threading.Thread(target=_sse, args=(world.srv.url + path, got, stop), daemon=True)
               for path in ("/api/queue/honcho/board/events", f"/api/tickets/{t['token']}/events")]
    for th in threads:
        th.start()
    first = {got.get(timeout=5)[0], got.get(timeout=5)[0]}
    assert first == {"board", "ticket"}  # each stream starts with the current view
    start = time.monotonic()
    counter.post("/api/queue/honcho/call", json={"booth": "6"})
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < 2:
        event, data = got.get(timeout=2)
        seen[event] = data
    assert time.monotonic() - start < 2
    assert seen["board"]["called"][0] == {"number": t["number"], "booth": "6", "at": seen["board"]["called"][0]["at"]}
    assert seen["ticket"]["status"] == "called" and seen["ticket"]["booth"] == "6"
    stop.set()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The places whose snapshot the hub rebuilt (one read of a place's tickets each), in order."""
    import server.tickets.hub as hub_module

    seen: list[str] = []
    real = hub_module.queue_tickets

    def counted(c: Any, place: str, day: str, recent_done: int) -> Any:
        seen.append(place)
        return real(c, place, day, recent_done)

    monkeypatch.setattr(hub_module, "queue_tickets", counted)
    return seen


def test_one_snapshot_per_change_for_streams_connected_at_different_times(
        world: World, kiosk: httpx.Client, counter: httpx.Client, push: LocalPushService,
        monkeypatch: pytest.MonkeyPatch, reads: list[str]) -> None:
    """A board and a phone connected at different times (the configuration read again in between, as every few
    seconds) share one read of the place per change; subscribing a browser to a ticket's pushes is no change of
    the queue (no stream wakes, nothing is read again) and still sends the message due at once."""
    import server.tickets.hub as hub_module

    monkeypatch.setattr(hub_module, "CONFIG_MAX_AGE", dt.timedelta(0))  # every request reads the configuration
    t = kiosk.post("/api/queue/honcho/tickets", json={}).json()
    got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    stop = threading.Event()
    for path in ("/api/queue/honcho/board/events", f"/api/tickets/{t['token']}/events"):
        threading.Thread(target=_sse, args=(world.srv.url + path, got, stop), daemon=True).start()
        got.get(timeout=5)  # connected: its first view
        time.sleep(0.05)
    reads.clear()
    called = counter.post("/api/queue/honcho/call", json={"booth": "6"}).json()
    assert {got.get(timeout=2)[0], got.get(timeout=2)[0]} == {"board", "ticket"}
    time.sleep(0.3)
    assert reads == ["honcho"]  # the call's answer, the board and the phone: one read
    version = world.srv.client().get("/api/queue/honcho/board").json()["version"]
    reads.clear()
    push.deliveries.clear()
    push.answer = 201
    assert world.client().post(f"/api/tickets/{t['token']}/push", json=push.subscription()).status_code == 204
    (message,) = push.wait(1)  # called already: told at once
    assert message.payload["title"] == f"番号 {called['number']} の方、6番窓口へお越しください"
    time.sleep(0.3)
    assert reads == [] and got.empty()
    assert world.srv.client().get("/api/queue/honcho/board").json()["version"] == version
    stop.set()


def test_a_burst_of_changes_shares_rebuilds_and_every_answer_holds_its_own_write(
        world: World, kiosk: httpx.Client, counter: httpx.Client, monkeypatch: pytest.MonkeyPatch,
        reads: list[str]) -> None:
    """Snapshots are rebuilt at most every REBUILD_INTERVAL while changes keep coming (docs/queue.md "Load"):
    tickets drawn at once share rebuilds, yet each answer counts the tickets before it; a phone's stream still
    sees its ticket end (a closed ticket is no longer among the snapshot's open ones)."""
    import server.tickets.hub as hub_module

    monkeypatch.setattr(hub_module, "REBUILD_INTERVAL", 1.0)
    kiosk.post("/api/queue/honcho/tickets", json={})  # a rebuild just now: the burst waits for the next one
    reads.clear()
    issued: queue.Queue[dict[str, Any]] = queue.Queue()
    kiosks = [world.kiosk() for _ in range(6)]
    burst = [threading.Thread(target=lambda k=k: issued.put(k.post("/api/queue/honcho/tickets", json={}).json()))
             for k in kiosks]
    for th in burst:
        th.start()
    for th in burst:
        th.join(10)
    tickets = sorted((issued.get_nowait() for _ in range(6)), key=lambda t: t["number"])
    assert len(reads) <= 3, reads  # six writes, not six rebuilds
    aheads = [t["ahead"] for t in tickets]
    assert aheads == sorted(set(aheads)), aheads  # each answer's snapshot held its own ticket and those before it
    board = world.client().get("/api/queue/honcho/board").json()
    assert board["waiting"] == world.sql("SELECT COUNT(*) FROM tickets WHERE place = 'honcho'"
                                         " AND status = 'waiting'")[0][0]

    monkeypatch.setattr(hub_module, "REBUILD_INTERVAL", 0.2)
    mine = tickets[-1]
    got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    stop = threading.Event()
    threading.Thread(target=_sse, args=(world.srv.url + f"/api/tickets/{mine['token']}/events", got, stop),
                     daemon=True).start()
    assert got.get(timeout=5)[1]["status"] == "waiting"
    world.srv.db.write_sync(lambda c: c.execute(  # first in the order (no change of the queue: no stream wakes)
        "UPDATE tickets SET priority = 1 WHERE token_hash = ?", (hash_secret(mine["token"]).hex(),)))
    t = counter.post("/api/queue/honcho/call", json={"booth": "2"}).json()
    assert t["number"] == mine["number"]
    for _ in range(20):  # called: more than one view may come (a rebuild per change)
        if got.get(timeout=5)[1]["status"] == "called":
            break
    assert counter.post(f"/api/queue/tickets/{t['id']}/finish").json()["status"] == "done"
    for _ in range(20):
        view = got.get(timeout=5)[1]
        if view["status"] != "called":
            break
    assert view["status"] == "done"
    stop.set()


def test_day_stats_read_incrementally_equal_a_full_read(world: World, kiosk: httpx.Client,
                                                        counter: httpx.Client) -> None:
    """The hub reads only the event log's newer rows on each rebuild (store.DayEvents): the figures equal those
    of reading the whole day again."""
    from server.booking import clock
    from server.booking.config import config_in
    from server.tickets.store import DayEvents, day_of, stats_in

    cfg = world.srv.db.read_sync(config_in)
    (place,) = [p for p in cfg.places if p.id == "honcho"]
    seen = DayEvents(day_of(clock.now()))

    def both() -> tuple[Any, Any]:
        now = clock.now()
        return world.srv.db.read_sync(lambda c: (stats_in(c, place, day_of(now), now, cfg, seen),
                                                 stats_in(c, place, day_of(now), now, cfg)))

    before = both()
    assert before[0] == before[1]
    for booth in ("3", "4"):
        kiosk.post("/api/queue/honcho/tickets", json={})
        t = counter.post("/api/queue/honcho/call", json={"booth": booth}).json()
        counter.post(f"/api/queue/tickets/{t['id']}/serve", json={})
        time.sleep(0.05)
        counter.post(f"/api/queue/tickets/{t['id']}/finish")
    incremental, full = both()
    assert incremental == full and seen.calls and seen.last_id > 0
    assert incremental != before[0] or len(seen.services) > 0  # the new calls and services were read


def test_the_days_figures_come_from_a_covering_index_and_count_every_ticket(world: World, kiosk: httpx.Client,
                                                                            counter: httpx.Client) -> None:
    """``day_figures_in`` runs on every snapshot rebuild: SQLite answers it from ``tickets_day_figures`` (component
    ``tickets`` v4) without reading the rows, and its figures are those of the day's rows read one by one."""
    from server.booking import clock
    from server.tickets.store import day_figures_in, day_of

    kiosk.post("/api/queue/honcho/tickets", json={})
    t = counter.post("/api/queue/honcho/call", json={"booth": "2"}).json()
    counter.post(f"/api/queue/tickets/{t['id']}/finish")
    day = day_of(clock.now())
    plan = world.sql("EXPLAIN QUERY PLAN SELECT COALESCE(SUM(calls > 0), 0), MAX(updated_at) FROM tickets"
                     " WHERE place = ? AND day = ?", "honcho", day)
    assert any("COVERING INDEX tickets_day_figures" in str(r[-1]) for r in plan), plan
    rows = world.sql("SELECT calls, updated_at FROM tickets WHERE place = ? AND day = ?", "honcho", day)
    figures = world.srv.db.read_sync(lambda c: day_figures_in(c, "honcho", day))
    assert figures == (sum(1 for calls, _ in rows if calls > 0), max(u for _, u in rows)) and figures[0] >= 1


def test_a_too_long_endpoint_is_cut_and_204_when_a_ticket_unsubscribes(world: World, kiosk: httpx.Client,
                                                                        push: LocalPushService) -> None:
    """The account's DELETE rule (``push.endpoint_to_forget``) on the ticket's too: an endpoint longer than
    MAX_ENDPOINT is cut to it and deleted as any other, 204 (docs/api.md), never 422."""
    from server.push import MAX_ENDPOINT

    mine = kiosk.post("/api/queue/honcho/tickets", json={}).json()
    phone = world.client()
    sub = push.subscription(endpoint_length=MAX_ENDPOINT)  # the longest endpoint that can be stored
    assert len(sub["endpoint"]) == MAX_ENDPOINT
    push.deliveries.clear()
    push.answer = 201
    assert phone.post(f"/api/tickets/{mine['token']}/push", json=sub).status_code == 204
    assert world.sql("SELECT count(*) FROM ticket_push WHERE endpoint = ?", sub["endpoint"]) == [(1,)]
    # Nobody ahead: its near message goes out at once. Waited for here, so it never lands in the next test.
    assert push.wait(1)[0].payload["number"] == mine["number"]
    gone = phone.delete(f"/api/tickets/{mine['token']}/push", params={"endpoint": sub["endpoint"] + "y" * 50})
    assert gone.status_code == 204, gone.text
    assert world.sql("SELECT count(*) FROM ticket_push WHERE endpoint = ?", sub["endpoint"]) == [(0,)]


def test_ticket_push_near_once_and_called_once_decrypted(world: World, kiosk: httpx.Client, counter: httpx.Client,
                                                         push: LocalPushService) -> None:
    push.deliveries.clear()
    push.answer = 201
    ahead = [kiosk.post("/api/queue/honcho/tickets", json={}).json() for _ in range(5)]
    mine = kiosk.post("/api/queue/honcho/tickets", json={}).json()
    phone = world.client()
    assert_problem(phone.post(f"/api/tickets/{mine['token']}/push", json={
        "endpoint": "https://evil.example/x", "keys": push.subscription()["keys"]}), 422, "invalid-subscription")
    assert phone.post(f"/api/tickets/{mine['token']}/push", json=push.subscription()).status_code == 204
    time.sleep(0.3)
    assert push.deliveries == []  # five ahead: not near yet (near_positions 3)
    for _ in range(2):
        t = counter.post("/api/queue/honcho/call", json={"booth": "1"}).json()
        counter.post(f"/api/queue/tickets/{t['id']}/finish")
    (near,) = push.wait(1)
    assert not push.errors
    assert near.payload["title"] == "まもなく順番です" and near.payload["url"] == f"/#/q/{mine['token']}"
    assert near.payload["tag"] == f"ticket-{mine['number']}"
    t = counter.post("/api/queue/honcho/call", json={"booth": "1"}).json()  # 2 ahead now: no second near message
    counter.post(f"/api/queue/tickets/{t['id']}/finish")
    for _ in range(2):
        t = counter.post("/api/queue/honcho/call", json={"booth": "1"}).json()
        counter.post(f"/api/queue/tickets/{t['id']}/finish")
    me = counter.post("/api/queue/honcho/call", json={"booth": "3"}).json()
    assert me["number"] == mine["number"]
    got = push.wait(2)
    assert len(got) == 2, [d.payload for d in got]
    assert got[1].payload["title"] == f"番号 {mine['number']} の方、3番窓口へお越しください"
    counter.post(f"/api/queue/tickets/{me['id']}/recall")
    time.sleep(0.5)
    assert len(push.deliveries) == 2  # one message per kind, whatever happens next
    # A second browser subscribing now gets the called message once; the first browser is not told again.
    first_path = got[0].path
    second = push.subscription()
    assert phone.post(f"/api/tickets/{mine['token']}/push", json=second).status_code == 204
    later = push.wait(3)
    time.sleep(0.5)
    assert len(push.deliveries) == 3, [(d.path, d.payload["kind"]) for d in push.deliveries]
    assert later[2].path == second["endpoint"].removeprefix(push.base) != first_path
    assert later[2].payload["kind"] == "called"
    del push.deliveries[2:]
    assert all(NAME not in str(d.payload) for d in push.deliveries)
    assert len(ahead) == 5
    assert phone.delete(f"/api/tickets/{mine['token']}/push",
                        params={"endpoint": "http://127.0.0.1/none"}).status_code == 204


def test_the_booths_list_is_in_queue_order_with_names_audited(world: World, kiosk: httpx.Client,
                                                              counter: httpx.Client) -> None:
    kiosk.post("/api/queue/honcho/tickets", json={})
    kiosk.post("/api/queue/honcho/checkin", json={"code": world.book()})
    kiosk.post("/api/queue/honcho/tickets", json={"priority_reason": "車いす"})
    before = world.sql("SELECT count(*) FROM audit_log WHERE action = 'queue.read'")[0][0]
    q = counter.get("/api/queue/honcho")
    assert q.status_code == 200, q.text
    body = q.json()
    assert [t["number"] for t in body["tickets"]] == ["A-002", "R-001", "A-001"]
    assert body["tickets"][1]["name"] == NAME and body["tickets"][0]["priority"] is True
    assert [b["booth"] for b in body["booths"]] == DEFAULT_CONFIG.places[0].booths
    assert world.sql("SELECT count(*) FROM audit_log WHERE action = 'queue.read'")[0][0] == before + 1
    # Shown again (every open booth page refreshes on each change): names already audited today write nothing ...
    for _ in range(3):
        assert counter.get("/api/queue/honcho").status_code == 200
        assert counter.get("/console/queue", params={"place": "honcho"}).status_code == 200
    assert world.sql("SELECT count(*) FROM audit_log WHERE action = 'queue.read'")[0][0] == before + 1
    # ... a newly shown name is audited, listing only the new ticket; another clerk's first look is theirs.
    new = kiosk.post("/api/queue/honcho/checkin", json={"code": world.book()}).json()
    assert counter.get("/console/queue", params={"place": "honcho"}).status_code == 200
    rows = world.sql("SELECT actor, details FROM audit_log WHERE action = 'queue.read' ORDER BY id")
    assert len(rows) == before + 2
    newest = json.loads(rows[-1][1])
    new_id = world.sql("SELECT id FROM tickets WHERE number = ? AND place = 'honcho' ORDER BY rowid DESC LIMIT 1",
                       new["number"])[0][0]
    assert newest["via"] == "console" and newest["ids"] == [new_id], newest
    other = world.srv.login("counter")
    assert other.get("/api/queue/honcho").status_code == 200
    assert world.sql("SELECT count(*) FROM audit_log WHERE action = 'queue.read' AND actor = ?",
                     other.account_id)[0][0] == 1  # type: ignore[attr-defined]
    assert_problem(world.resident().get("/api/queue/honcho"), 403)
    assert_problem(world.client().get("/api/queue/honcho"), 401)


def _stream_until_closed(url: str, opened: threading.Event, ended: threading.Event) -> None:
    try:
        with httpx.Client(timeout=httpx.Timeout(60, read=60)) as c, c.stream("GET", url) as r:
            for line in r.iter_lines():
                if line.startswith("event:"):
                    opened.set()
    except httpx.HTTPError:
        pass  # the server went away: the stream ended
    ended.set()


def test_open_event_streams_do_not_hold_the_server_open(tmp_path: Path) -> None:
    """Boards and phones keep streams open for hours: stopping the server ends them at once, for the test
    harness (AppServer.stop) and for `madoguchi serve` on SIGTERM (its uvicorn waits for open responses)."""
    from testsupport.servers import ServerProcess

    srv = AppServer.on_file(tmp_path / "a.db", library=Lib([make_proc()]), build_result=FakeBuild())
    opened, ended = threading.Event(), threading.Event()
    threading.Thread(target=_stream_until_closed, args=(srv.url + "/api/queue/honcho/board/events", opened, ended),
                     daemon=True).start()
    assert opened.wait(10)
    start = time.monotonic()
    srv.stop()
    assert not srv.thread.is_alive() and ended.wait(5)
    assert time.monotonic() - start < 5

    proc = ServerProcess(tmp_path / "b.db")
    proc.start()
    try:
        opened, ended = threading.Event(), threading.Event()
        threading.Thread(target=_stream_until_closed, args=(proc.url + "/api/queue/honcho/board/events", opened,
                                                            ended), daemon=True).start()
        assert opened.wait(10)
        start = time.monotonic()
        assert proc.proc is not None
        proc.proc.terminate()
        # uvicorn re-raises the signal once it has shut down (-15); without the hub's close it would wait for the
        # stream until its graceful-shutdown limit (10 s)
        assert proc.proc.wait(5) in (0, -15)
        assert time.monotonic() - start < 5 and ended.wait(5)
        assert "Cancel" not in proc.log.read_text(errors="replace")  # no task cancelled at the limit
    finally:
        proc.stop()


# -- long polling (docs/queue.md "Live updates": phones and boards without an event stream) -------------------------

def _held(n: int) -> None:
    """Until ``n`` requests are held by the server (it runs in this process: AppServer's thread)."""
    from server.tickets import longpoll

    deadline = time.monotonic() + 5
    while longpoll.held_count() < n:
        assert time.monotonic() < deadline, f"{longpoll.held_count()} requests held, not {n}"
        time.sleep(0.02)


def _poll(url: str, tag: str, wait: int, out: queue.Queue[tuple[str, httpx.Response, float]]) -> None:
    with httpx.Client(timeout=40) as c:
        r = c.get(url, params={"wait": wait}, headers={"If-None-Match": tag})
        out.put((url, r, time.monotonic()))


def test_a_held_request_answers_within_a_second_of_the_call(world: World, kiosk: httpx.Client,
                                                             counter: httpx.Client) -> None:
    t = kiosk.post("/api/queue/honcho/tickets", json={}).json()
    anyone = world.srv.client()
    urls = [world.srv.url + f"/api/tickets/{t['token']}", world.srv.url + "/api/queue/honcho/board"]
    tags = [anyone.get(u).headers["etag"] for u in urls]
    got: queue.Queue[tuple[str, httpx.Response, float]] = queue.Queue()
    for u, tag in zip(urls, tags, strict=True):
        threading.Thread(target=_poll, args=(u, tag, 25, got), daemon=True).start()
    _held(2)
    time.sleep(0.3)
    assert got.empty()  # held while nothing changes
    called = time.monotonic()
    assert counter.post("/api/queue/honcho/call", json={"booth": "6"}).status_code == 200
    answers = {}
    for _ in urls:
        u, r, at = got.get(timeout=5)
        assert r.status_code == 200 and at - called < 1, (r.status_code, at - called)
        assert r.headers["etag"] != tags[urls.index(u)]
        answers[u] = r.json()
    assert answers[urls[0]]["status"] == "called" and answers[urls[0]]["booth"] == "6"
    assert answers[urls[1]]["called"][0]["number"] == t["number"]


def test_a_held_request_answers_304_after_its_wait_and_at_once_without_it(world: World, kiosk: httpx.Client) -> None:
    t = kiosk.post("/api/queue/honcho/tickets", json={}).json()
    anyone = world.srv.client()
    url = f"/api/tickets/{t['token']}"
    tag = anyone.get(url).headers["etag"]
    start = time.monotonic()
    r = anyone.get(url, params={"wait": 1}, headers={"If-None-Match": tag})
    took = time.monotonic() - start
    assert r.status_code == 304 and r.headers["etag"] == tag and 0.9 < took < 3, took
    # without wait, or with an ETag that no longer matches: at once, as before
    start = time.monotonic()
    assert anyone.get(url, headers={"If-None-Match": tag}).status_code == 304
    stale = anyone.get(url, params={"wait": 25}, headers={"If-None-Match": '"old"'})
    assert stale.status_code == 200 and stale.headers["etag"] == tag
    assert time.monotonic() - start < 1
    board = anyone.get("/api/queue/honcho/board")
    r = anyone.get("/api/queue/honcho/board", params={"wait": 1}, headers={"If-None-Match": board.headers["etag"]})
    assert r.status_code == 304
    assert_problem(anyone.get(url, params={"wait": 26}), 400)
    assert_problem(anyone.get("/api/queue/honcho/board", params={"wait": -1}), 400)
    assert_problem(anyone.get("/api/queue/nowhere/board", params={"wait": 5}), 404, "unknown-place")


def test_held_requests_are_capped(world: World, kiosk: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.tickets import longpoll

    t = kiosk.post("/api/queue/honcho/tickets", json={}).json()
    anyone = world.srv.client()
    url = f"/api/tickets/{t['token']}"
    tag = anyone.get(url).headers["etag"]
    monkeypatch.setattr(longpoll, "MAX_HELD", 1)
    got: queue.Queue[tuple[str, httpx.Response, float]] = queue.Queue()
    threading.Thread(target=_poll, args=(world.srv.url + url, tag, 3, got), daemon=True).start()
    _held(1)
    start = time.monotonic()
    r = anyone.get(url, params={"wait": 25}, headers={"If-None-Match": tag})
    assert r.status_code == 304 and time.monotonic() - start < 1
    assert r.headers["retry-after"] == str(longpoll.BUSY_RETRY_S)  # not again in a tight loop
    assert got.get(timeout=6)[1].status_code == 304  # the held one still ends at its wait


def test_held_requests_do_not_hold_the_server_open(tmp_path: Path) -> None:
    """Like the event streams: stopping the server answers held requests at once (the hub's close)."""
    from testsupport.servers import ServerProcess

    srv = AppServer.on_file(tmp_path / "a.db", library=Lib([make_proc()]), build_result=FakeBuild())
    board = srv.url + "/api/queue/honcho/board"
    got: queue.Queue[tuple[str, httpx.Response, float]] = queue.Queue()
    threading.Thread(target=_poll, args=(board, httpx.get(board).headers["etag"], 25, got), daemon=True).start()
    _held(1)
    start = time.monotonic()
    srv.stop()
    assert not srv.thread.is_alive() and time.monotonic() - start < 5
    assert got.get(timeout=5)[1].status_code == 304

    proc = ServerProcess(tmp_path / "b.db")
    proc.start()
    try:
        board = proc.url + "/api/queue/honcho/board"
        threading.Thread(target=_poll, args=(board, httpx.get(board).headers["etag"], 25, got), daemon=True).start()
        time.sleep(1)  # held (in the other process)
        assert got.empty()
        start = time.monotonic()
        assert proc.proc is not None
        proc.proc.terminate()
        assert proc.proc.wait(5) in (0, -15)
        assert time.monotonic() - start < 5
        assert got.get(timeout=5)[1].status_code == 304
    finally:
        proc.stop()
def test_a_resident_draws_only_while_the_place_is_open_a_kiosk_on_open_days(world: World, kiosk: httpx.Client,
                                                                           counter: httpx.Client) -> None:
    """probe15c #1: a resident at home drew A-001 after closing and was told "You are next"."""
    resident = world.resident()
    body = assert_problem(resident.post("/api/queue/yoru/tickets", json={"lang": "en"}), 409, "place-closed")
    today = dt.datetime.now(JST).date()
    opens_day = today if _OTHER_HALF[0] == "20:00" else today + dt.timedelta(days=1)
    assert body["opens"] == {"day": opens_day.isoformat(), "start": _OTHER_HALF[0]}
    yoru_kiosk = world.kiosk("yoru")
    assert yoru_kiosk.post("/api/queue/yoru/tickets", json={}).status_code == 201  # the lobby queue before opening
    assert counter.post("/api/queue/yoru/tickets", json={}).status_code == 201
    for who in (world.kiosk("kyugyo"), counter, resident):
        assert assert_problem(who.post("/api/queue/kyugyo/tickets", json={}), 409, "place-closed")["opens"] is None
    assert resident.post("/api/queue/honcho/tickets", json={}).status_code == 201  # open: drawn
    assert world.sql("SELECT place, source FROM tickets ORDER BY place, source") == [
        ("honcho", "app"), ("yoru", "kiosk"), ("yoru", "staff")]
    # the desk's console form follows the same rule
    form = counter.post("/console/bookings/walkin", data={"_csrf_token": counter.cookies["madoguchi_csrf"],
                                                           "place": "kyugyo"}, follow_redirects=False)
    assert form.status_code in (303, 409) and world.sql("SELECT count(*) FROM tickets WHERE place = 'kyugyo'") == [(0,)]


def test_a_held_request_whose_client_went_away_is_let_go(world: World, kiosk: httpx.Client) -> None:
    """The app aborts its held request when the page is left: the server lets it go at once (its place under the
    cap is free again) instead of holding it for the rest of its wait."""
    from server.tickets import longpoll

    t = kiosk.post("/api/queue/honcho/tickets", json={}).json()
    url = f"/api/tickets/{t['token']}"
    tag = world.srv.client().get(url).headers["etag"]
    before = longpoll.held_count()
    c = httpx.Client(base_url=world.srv.url, timeout=httpx.Timeout(30, read=0.5))
    with pytest.raises(httpx.ReadTimeout):  # the client gives up after 0.5 s and closes its connection
        c.get(url, params={"wait": 25}, headers={"If-None-Match": tag})
    c.close()
    deadline = time.monotonic() + 3
    while longpoll.held_count() > before:
        assert time.monotonic() < deadline, "the held request outlived its client"
        time.sleep(0.05)
