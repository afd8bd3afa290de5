"""The desk's console for bookings and kiosks against the real server and a real SQLite file: the day's bookings
with what each resident filled in from their synced drafts (counted, then shown as labels, both reads audited),
pairing a lobby kiosk (cookie, hash, the staff session ended), revoking it, and the roles refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from procedure_definitions.japan import JST
from testsupport.booking_rules import open_every_day
from testsupport.servers import AppServer


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with AppServer.on_file(tmp_path_factory.mktemp("console-bookings") / "m.db") as s:
        open_every_day(s.db)  # walk-in tickets are refused on closed days: the tests run any day
        yield s


def _day(offset: int) -> str:
    return (dt.datetime.now(JST).date() + dt.timedelta(days=offset)).isoformat()


def _booking(srv: AppServer, *, day: str, start: str, procedures: list[str], account_id: str | None = None,
             name: str | None = None, phone: str | None = None, status: str = "booked", event: str | None = None,
             code: str | None = None) -> tuple[str, str]:
    bid, code = str(uuid.uuid4()), code or uuid.uuid4().hex[:8].upper()
    now = dt.datetime.now(dt.UTC).isoformat()
    srv.db.write_sync(lambda c: c.execute(
        "INSERT INTO bookings (id, code, place, day, start, minutes, status, holder, account_id, name, phone, party,"
        " event, procedures, departments, created_at, updated_at) VALUES (?, ?, 'honcho', ?, ?, 30, ?, ?, ?, ?, ?,"
        " 1, ?, ?, '[\"shimin\"]', ?, ?)",
        (bid, code, day, start, status, f"account:{account_id}" if account_id else "ip:127.0.0.1", account_id, name,
         phone, event, json.dumps(procedures), now, now)))
    return bid, code


def _draft(srv: AppServer, owner: str, data: dict[str, Any]) -> str:
    rid = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC).isoformat()
    srv.db.write_sync(lambda c: c.execute(
        "INSERT INTO sync_records (type, id, version, data, owner, created_at, updated_at)"
        " VALUES ('draft', ?, 1, ?, ?, ?, ?)", (rid, json.dumps(data, ensure_ascii=False), owner, now, now)))
    return rid


def _audit(srv: AppServer, action: str) -> list[tuple[Any, ...]]:
    return list(srv.db.read_sync(lambda c: c.execute(
        "SELECT actor, subject, details FROM audit_log WHERE action = ? ORDER BY id", (action,)).fetchall()))


def test_the_days_bookings_show_what_was_filled(srv: AppServer) -> None:
    resident, counter = srv.login("resident"), srv.login("counter")
    day = _day(1)
    tenkyo_version = srv.app.state.services.catalog.library.procedures["tenkyo"]
    version = max(tenkyo_version)
    _draft(srv, resident.account_id, {  # type: ignore[attr-defined]
        "procedure_id": "tenkyo", "procedure_version": version, "new_postal_code": "101-0021",
        "new_head_name": {"family": "山田", "given": "太郎"}, "madoguchi": {"kind": "draft", "title": "転居届"}})
    # Someone else's draft of the same procedure is not this booking's.
    other = srv.login("resident")
    _draft(srv, other.account_id, {"procedure_id": "juminhyo-copy", "procedure_version": "1.0.0",  # type: ignore[attr-defined]
                                   "copies": 3, "madoguchi": {"kind": "draft"}})
    with_draft, _ = _booking(srv, day=day, start="10:00", procedures=["tenkyo", "juminhyo-copy"],
                             account_id=resident.account_id)  # type: ignore[attr-defined]
    by_phone, code = _booking(srv, day=day, start="09:15", procedures=["inkan-toroku"], name="電話 花子",
                              phone="090-1111-2222")
    _booking(srv, day=_day(2), start="09:00", procedures=["tenkyo"], name="別の日 次郎", phone="090-3333-4444")

    page = counter.get("/console/bookings")  # tomorrow (JST) by default
    assert page.status_code == 200, page.text
    html = page.text
    assert "電話 花子" in html and "別の日 次郎" not in html
    assert html.index("09:15") < html.index("10:00")  # by time
    assert f"{code[:4]}-{code[4:]}" in html
    from server.console.booking_pages import filled_count

    proc = srv.app.state.services.catalog.library.procedures["tenkyo"][version]
    answered, asked = filled_count(proc, {"new_postal_code": "101-0021",
                                          "new_head_name": {"family": "山田", "given": "太郎"}})
    assert answered == 2 and asked > 2
    assert f"転居届：<span class=\"done\">入力済み（2/{asked} 項目）</span>" in html
    assert "住民票の写し" in html and "未入力" in html  # the other booked procedure, nothing filled
    assert "tenkyo" not in re.sub(r"<[^>]+>", "", html)  # titles, never ids
    listed = [json.loads(d) for _, s, d in _audit(srv, "booking.day_read")]
    assert listed[-1]["day"] == day and set(listed[-1]["ids"]) == {with_draft, by_phone}

    detail = counter.get(f"/console/bookings/{with_draft}")
    assert detail.status_code == 200, detail.text
    text = re.sub(r"<[^>]+>", " ", detail.text)
    assert "新しい世帯主の氏名" in text or "世帯主" in text
    assert "山田 太郎" in text and "101-0021" in text
    actor, subject, details = _audit(srv, "booking.preentry_read")[-1]
    assert subject == f"booking:{with_draft}" and actor == counter.account_id  # type: ignore[attr-defined]
    assert json.loads(details)["account_id"] == resident.account_id  # type: ignore[attr-defined]

    # Another day by the form, a bad date refused with the console's page (400), an unknown booking 404.
    assert "別の日 次郎" in counter.get("/console/bookings", params={"day": _day(2)}).text
    assert counter.get("/console/bookings", params={"day": "12/8"}).status_code == 400
    assert counter.get(f"/console/bookings/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("role", ["reviewer", "outreach", "resident"])
def test_roles_without_the_desk_are_refused(srv: AppServer, role: str) -> None:
    client = srv.login(role, department="koseki" if role == "reviewer" else None)
    for path in ("/console/bookings", "/console/kiosks"):
        r = client.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/console/kiosks", data={"place": "honcho", "name": "ロビー"})
    assert r.status_code == 403


def test_pairing_a_kiosk_and_revoking_it(srv: AppServer) -> None:
    desk = srv.login("counter")
    page = desk.get("/console/kiosks")
    assert page.status_code == 200 and "この端末を受付機にする" in page.text
    r = desk.post("/console/kiosks", data={"place": "honcho", "name": "1階ロビー入口"})
    assert r.status_code == 303 and r.headers["location"] == "/kiosk"
    cookies = r.headers.get_list("set-cookie")
    kiosk_cookie = next(c for c in cookies if c.startswith("madoguchi_kiosk="))
    assert "HttpOnly" in kiosk_cookie and "samesite=strict" in kiosk_cookie.lower() and "Path=/" in kiosk_cookie
    token = kiosk_cookie.split(";")[0].split("=", 1)[1]
    rows = srv.db.read_sync(lambda c: c.execute("SELECT id, token_hash, place, name, revoked_at FROM kiosks").fetchall())
    kid, token_hash, place, name, revoked = rows[-1]
    assert token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in token_hash
    assert (place, name, revoked) == ("honcho", "1階ロビー入口", None)
    # The clerk's session on this device ended with the pairing.
    assert any(c.startswith("madoguchi_session=;") or "madoguchi_session=\"\"" in c for c in cookies)
    assert desk.get("/api/session").json()["account"] is None

    with httpx.Client(base_url=srv.url, cookies={"madoguchi_kiosk": token}) as kiosk:
        shown = kiosk.get("/kiosk")
        assert shown.status_code == 200 and 'data-place="honcho"' in shown.text and "本庁舎" in shown.text
        assert "受付する" in shown.text and "番号札を取る" in shown.text
        assert 'lang="en"' in kiosk.get("/kiosk", params={"lang": "en"}).text
        other = srv.login("admin")
        listed = other.get("/console/kiosks").text
        assert "1階ロビー入口" in listed and "使用中" in listed
        assert other.post(f"/console/kiosks/{kid}/revoke").status_code == 303
        assert "この端末は受付機として登録されていません" in kiosk.get("/kiosk").text
        assert other.post(f"/console/kiosks/{kid}/revoke").status_code == 404  # once
    actions = [a for a, in srv.db.read_sync(lambda c: c.execute(
        "SELECT action FROM audit_log WHERE subject = ?", (f"kiosk:{kid}",)).fetchall())]
    assert actions == ["kiosk.pair", "kiosk.revoke"]


def test_pairing_refuses_a_bad_place_or_name(srv: AppServer) -> None:
    desk = srv.login("counter")
    assert desk.post("/console/kiosks", data={"place": "nowhere", "name": "x"}).status_code == 422
    assert desk.post("/console/kiosks", data={"place": "honcho", "name": "x" * 41}).status_code == 422
    assert desk.get("/api/session").json()["account"] is not None  # a refused pairing signs no one out


def _first_slots(html: str) -> list[str]:
    return re.findall(r'name="slot" value="(\d{4}-\d{2}-\d{2} \d{2}:\d{2})"', html)


def test_booking_on_a_residents_behalf_uses_the_booking_rules(srv: AppServer) -> None:
    desk = srv.login("counter")
    choice = {"procedures": "juminhyo-copy", "party": "1", "place": "honcho"}
    page = desk.get("/console/bookings/new", params=choice)
    assert page.status_code == 200, page.text
    slots = _first_slots(page.text)
    assert slots, page.text
    slot = slots[0]
    day, start = slot.split(" ")
    # The slot's accessible name carries the whole date (a screen reader hears 「12月8日（火）9:00〜9:15」).
    assert re.search(r'visually-hidden">\d+月\d+日（.）</span>' + start, page.text)
    booth_cap = srv.app.state.services.db.read_sync(
        lambda c: __import__("server.booking.config", fromlist=["config_in"]).config_in(c)).places[0].booking_booths
    made = []
    for n in range(booth_cap):
        r = desk.post("/console/bookings/new", data={**choice, "slot": slot, "name": f"電話 {n}郎",
                                                     "phone": "03-1234-5678"})
        assert r.status_code == 303, r.text
        assert re.fullmatch(r"/console/bookings/[0-9a-f-]+\?done=booked", r.headers["location"])
        made.append(r.headers["location"].split("/")[-1].split("?")[0])
    # The place's booking booths are full at that time: the API's one capacity rule refuses the next.
    full = desk.post("/console/bookings/new", data={**choice, "slot": slot, "name": "満員 太郎", "phone": "0312345678"})
    assert full.status_code == 409 and "先に埋まりました" in full.text
    # The caller is still on the line: the same form, the name and number as typed, the days from the one pressed.
    assert 'value="満員 太郎"' in full.text and 'value="0312345678"' in full.text and 'role="alert"' in full.text
    assert day in _first_slots(full.text)[0]
    assert slot not in _first_slots(desk.get("/console/bookings/new", params={**choice, "from": day}).text)
    rows = srv.db.read_sync(lambda c: tuple(c.execute(
        "SELECT status, name, phone, account_id, booked_by, day, start FROM bookings WHERE id = ?",
        (made[0],)).fetchone()))
    assert rows == ("booked", "電話 0郎", "03-1234-5678", None, desk.account_id, day, start)  # type: ignore[attr-defined]
    events = srv.db.read_sync(lambda c: [tuple(e) for e in c.execute(
        "SELECT event, by FROM queue_events WHERE booking_id = ?", (made[0],))])
    assert events == [("booked", desk.account_id)]  # type: ignore[attr-defined]
    assert any(s == f"booking:{made[0]}" for _, s, _ in _audit(srv, "booking.book_on_behalf"))
    shown = desk.get(f"/console/bookings/{made[0]}", params={"done": "booked"}).text
    code = srv.db.read_sync(lambda c: c.execute("SELECT code FROM bookings WHERE id = ?", (made[0],)).fetchone()[0])
    assert "予約しました" in shown and f"{code[:4]}-{code[4:]}" in shown

    # Name and phone are required; a phone is digits.
    assert desk.post("/console/bookings/new", data={**choice, "slot": slot, "name": "", "phone": "03"}).status_code == 422
    # (The phone rule is the store's, decided after the time is held: a free time, slots[1], else slot-taken first.)
    bad = desk.post("/console/bookings/new", data={**choice, "slot": slots[1], "name": "x", "phone": "abc"})
    assert bad.status_code == 422 and 'value="abc" aria-invalid="true"' in bad.text and 'value="x"' in bad.text
    # The API's phone rule: more digits than a phone number has is refused here too (the console once took it).
    assert desk.post("/console/bookings/new", data={**choice, "slot": slots[1], "name": "x",
                                                    "phone": "090 1234 5678 9012 3456 78"}).status_code == 422
    # The API's name rule (server.auth.names) for the caller and the family: no bidirectional or control characters.
    spoof = desk.post("/console/bookings/new", data={**choice, "slot": slot, "name": "山田\u202e太郎",
                                                     "phone": "0312345678"})
    assert spoof.status_code == 422 and 'id="n-name"' in spoof.text and "制御文字" in spoof.text
    family = {**choice, "party": "2", "slot": slot, "name": "山田 太郎", "phone": "0312345678"}
    bad_family = desk.post("/console/bookings/new", data={**family, "people": "山田\x07花子"})
    assert bad_family.status_code == 422 and "制御文字" in bad_family.text
    # More family names than the party has: refused by the store's one rule (no longer cut silently).
    many = desk.post("/console/bookings/new", data={**choice, "slot": slots[1], "name": "山田 太郎",
                                                    "phone": "0312345678", "people": "山田 花子\n山田 次郎"})
    assert many.status_code == 422 and "一緒に来る方" in many.text
    # A date that is none (the console's shape check passes it): the store's one check, a 400 page, not a 500.
    broken = desk.post("/console/bookings/new", data={**choice, "slot": "2026-13-45 10:00", "name": "x",
                                                      "phone": "0312345678"})
    assert broken.status_code == 400 and "日付が正しくありません" in broken.text, broken.status_code

    # Move the first to another time, then cancel it: the desk, past any cut-off.
    moving = desk.get("/console/bookings/new", params={"move": made[0]})
    other = next(s for s in _first_slots(moving.text) if s != slot)
    r = desk.post("/console/bookings/new", data={"move": made[0], "procedures": "juminhyo-copy", "party": "1",
                                                 "place": "honcho", "slot": other})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/console/bookings/{made[0]}?done=moved"
    assert srv.db.read_sync(lambda c: c.execute("SELECT day || ' ' || start FROM bookings WHERE id = ?",
                                                (made[0],)).fetchone()[0]) == other
    assert desk.post(f"/console/bookings/{made[0]}/cancel").status_code == 303
    assert srv.db.read_sync(lambda c: c.execute("SELECT status FROM bookings WHERE id = ?",
                                                (made[0],)).fetchone()[0]) == "cancelled"
    assert desk.post(f"/console/bookings/{made[0]}/cancel").status_code == 409  # once
    # The freed time is bookable again.
    again = desk.post("/console/bookings/new", data={**choice, "slot": slot, "name": "空き 次郎", "phone": "0312345678"})
    assert again.status_code == 303


def test_far_or_broken_dates_are_400_pages_and_a_typed_from_is_held_to_the_window(srv: AppServer) -> None:
    """The ends of the calendar (the page links the days either side), a date that is none, and a typed ``from``
    years away: a 400 page, or the window's own days, never a 500 or a scan of thousands of days."""
    from server.booking.config import DEFAULT_CONFIG
    from server.booking.slots import window_days

    desk = srv.login("counter")
    for day in ("0001-01-01", "9999-12-31", "1999-12-31", "2026-13-01"):
        r = desk.get("/console/bookings", params={"day": day})
        assert r.status_code == 400 and "日付は" in r.text, (day, r.status_code)
    first, last = window_days(DEFAULT_CONFIG, dt.datetime.now(dt.UTC))
    choice = {"procedures": "juminhyo-copy", "party": "1", "place": "honcho"}
    for far, start in (("9999-12-30", last), ("1900-01-01", first)):
        r = desk.get("/console/bookings/new", params={**choice, "from": far})
        assert r.status_code == 200, (far, r.status_code)
        listed = [dt.date.fromisoformat(d) for d in re.findall(r'<h3 id="day-(\d{4}-\d{2}-\d{2})"', r.text)]
        assert listed == [start + dt.timedelta(days=i) for i in range(7)], (far, listed)  # one page of days
        assert all(first <= dt.date.fromisoformat(s.split(" ")[0]) <= last for s in _first_slots(r.text))
    assert desk.get("/console/bookings/new", params={**choice, "from": "12/08"}).status_code == 400


def test_booking_on_behalf_is_the_desks(srv: AppServer) -> None:
    reviewer = srv.login("reviewer", department="koseki")
    assert reviewer.get("/console/bookings/new").status_code == 403
    r = reviewer.post("/console/bookings/new", data={"procedures": "juminhyo-copy", "slot": "2030-01-01 09:00",
                                                      "name": "x", "phone": "0312345678"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")


def _paired(srv: AppServer, name: str) -> tuple[str, str]:
    """A kiosk paired by a clerk of the desk: (its cookie, its id)."""
    desk = srv.login("counter")
    r = desk.post("/console/kiosks", data={"place": "honcho", "name": name})
    assert r.status_code == 303
    token = next(c for c in r.headers.get_list("set-cookie") if c.startswith("madoguchi_kiosk=")).split(";")[0]
    kid = srv.db.read_sync(lambda c: c.execute("SELECT id FROM kiosks WHERE name = ?", (name,)).fetchone()[0])
    return token.split("=", 1)[1], kid


def test_a_kiosk_checks_in_and_draws_tickets_for_its_place_only(srv: AppServer) -> None:
    token, kid = _paired(srv, "受付機A")
    _bid, code = _booking(srv, day=_day(0), start="23:45", procedures=["tenkyo"], name="来庁 一郎",
                          phone="090-0000-1111", code="KSK2ABCD")
    csrf = "c" * 32
    with httpx.Client(base_url=srv.url, cookies={"madoguchi_kiosk": token, "madoguchi_csrf": csrf},
                      headers={"X-CSRF-Token": csrf}) as kiosk:
        r = kiosk.post("/api/queue/honcho/checkin", json={"code": "ksk2-abcd"})
        assert r.status_code == 201, r.text
        issued = r.json()
        assert issued["kind"] == "booking" and issued["number"].startswith("R-") and issued["qr"]["path"].startswith("M")
        assert srv.db.read_sync(lambda c: c.execute("SELECT source FROM tickets WHERE booking_id = ?",
                                                    (_bid,)).fetchone()[0]) == "kiosk"
        walk = kiosk.post("/api/queue/honcho/tickets", json={"priority_reason": "優先（妊娠中・障害のある方など）",
                                                            "lang": "ja"})
        assert walk.status_code == 201, walk.text
        assert walk.json()["number"].startswith("A-")
        prio = srv.db.read_sync(lambda c: tuple(c.execute(
            "SELECT priority, source FROM tickets WHERE number = ? AND day = ?", (walk.json()["number"], _day(0))
        ).fetchone()))
        assert prio == (1, "kiosk")
        # The kiosk's POSTs are CSRF-checked like any cookie-carrying request.
        bare = kiosk.post("/api/queue/honcho/tickets", json={}, headers={"X-CSRF-Token": ""})
        assert bare.status_code == 403 and bare.json()["type"].endswith("/csrf")
        # The cookie is no session: it reads nothing.
        assert kiosk.get("/api/queue/honcho").status_code == 401
        assert kiosk.get("/console/bookings").status_code == 401
        # Revoked: refused at once, 403 problem+json.
        srv.login("admin").post(f"/console/kiosks/{kid}/revoke")
        gone = kiosk.post("/api/queue/honcho/tickets", json={})
        assert gone.status_code == 403, gone.text
        assert gone.headers["content-type"].startswith("application/problem+json")
        assert kiosk.post("/api/queue/honcho/checkin", json={"code": code}).status_code == 403


def test_a_life_event_bookings_pre_entry_shows_the_shared_answers(srv: AppServer) -> None:
    resident, desk = srv.login("resident"), srv.login("counter")
    lib = srv.app.state.services.catalog.library
    ev_version = max(lib.life_events["moving-within"])
    tenkyo = max(lib.procedures["tenkyo"])
    bundle = _draft(srv, resident.account_id, {  # type: ignore[attr-defined]
        "event_id": "moving-within", "event_version": ev_version, "applicant_phone": "080-2222-3333",
        "madoguchi": {"kind": "bundle", "drafts": [], "questions": {"needs_certificate": True}}})
    tenkyo_draft = _draft(srv, resident.account_id, {  # type: ignore[attr-defined]
        "procedure_id": "tenkyo", "procedure_version": tenkyo, "move_date": "2026-12-01",
        "madoguchi": {"kind": "draft", "bundle_id": bundle}})
    bid, _ = _booking(srv, day=_day(3), start="11:00", procedures=["tenkyo"], event="moving-within",
                      account_id=resident.account_id)  # type: ignore[attr-defined]
    listed = desk.get("/console/bookings", params={"day": _day(3)}).text
    assert "市内で引っ越した" in listed or "引っ越" in listed  # the life event by its title
    assert "転居届：<span class=\"done\">入力済み（1/" in listed
    text = re.sub(r"<[^>]+>", " ", desk.get(f"/console/bookings/{bid}").text)
    assert "質問への回答" in text and "新しい住所の住民票の写しが必要ですか" in text and "はい" in text
    assert "共通の入力" in text and "日中の連絡先電話番号" in text and "080-2222-3333" in text
    assert "needs_certificate" not in text and "applicant_phone" not in text
    # The audit entry names every draft the page showed: the life event's shared answers too (review15d #2).
    actor, subject, details = _audit(srv, "booking.preentry_read")[-1]
    assert subject == f"booking:{bid}" and actor == desk.account_id  # type: ignore[attr-defined]
    assert sorted(json.loads(details)["drafts"]) == sorted([tenkyo_draft, bundle])


def test_the_desk_checks_a_booking_in_and_draws_a_walkin_ticket(srv: AppServer) -> None:
    desk = srv.login("counter")
    today = _day(0)
    bid, _code = _booking(srv, day=today, start="23:30", procedures=["juminhyo-copy"], name="窓口 受付",
                          phone="090-7777-8888", code="DSK2WXYZ")
    listed = desk.get("/console/bookings", params={"day": today}).text
    assert f'action="/console/bookings/{bid}/checkin"' in listed and "予約のない方に番号札を出す" in listed
    assert "予約のない方に番号札を出す" not in desk.get("/console/bookings").text  # tomorrow: no tickets yet
    r = desk.post(f"/console/bookings/{bid}/checkin")
    assert r.status_code == 303 and r.headers["location"] == f"/console/bookings/{bid}?done=checked_in"
    number, source, by = srv.db.read_sync(lambda c: tuple(c.execute(
        "SELECT t.number, t.source, e.by FROM tickets t JOIN queue_events e ON e.ticket_id = t.id"
        " AND e.event = 'ticket' WHERE t.booking_id = ?", (bid,)).fetchone()))
    assert number.startswith("R-") and source == "staff" and by == desk.account_id  # type: ignore[attr-defined]
    page = desk.get(f"/console/bookings/{bid}", params={"done": "checked_in"}).text
    assert "受付しました" in page and number in page and "受付済み" in page
    # Again: the same ticket (no second one); a booking of another day is refused as the API refuses it.
    assert desk.post(f"/console/bookings/{bid}/checkin").status_code == 303
    assert srv.db.read_sync(lambda c: c.execute("SELECT count(*) FROM tickets WHERE booking_id = ?",
                                                (bid,)).fetchone()[0]) == 1
    later, _ = _booking(srv, day=_day(1), start="09:00", procedures=["tenkyo"], name="明日 来る", phone="0312345678",
                        code="TMRW2345")
    refused = desk.post(f"/console/bookings/{later}/checkin")
    assert refused.status_code == 409 and "今日の予約ではありません" in refused.text

    r = desk.post("/console/bookings/walkin", data={"place": "honcho", "departments": "shimin", "priority": "1"})
    assert r.status_code == 303
    drawn = r.headers["location"].rsplit("ticket=", 1)[1]
    assert drawn.startswith("A-")
    row = srv.db.read_sync(lambda c: tuple(c.execute(
        "SELECT kind, priority, source, departments FROM tickets WHERE number = ? AND day = ?",
        (drawn, today)).fetchone()))
    assert row == ("walkin", 1, "staff", '["shimin"]')
    assert f"番号札 <strong>{drawn}</strong> を出しました" in desk.get(r.headers["location"]).text
    assert desk.post("/console/bookings/walkin", data={"place": "honcho", "departments": "nope"}).status_code == 422


def test_filled_count_counts_what_the_form_shows_and_holds_an_answer(srv: AppServer) -> None:
    from server.console.booking_pages import filled_count

    lib = srv.app.state.services.catalog.library
    proc = lib.procedures["tenkyo"][max(lib.procedures["tenkyo"])]
    _, asked = filled_count(proc, {})
    assert filled_count(proc, {"new_head_name": {"family": "", "given": ""}}) == (0, asked)  # blank parts: none
    assert filled_count(proc, {"new_head_name": {"family": "山田", "given": ""}, "move_date": "2026-12-01"}) == (2, asked)
    assert filled_count(proc, {"no_such_field": "x"}) == (0, asked)  # answers the form does not have: not counted
