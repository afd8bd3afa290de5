"""A queue ticket in the resident app (issue 15 point 4), on a phone viewport against the real server: the ticket
page follows the queue live as staff call others (no reload), says 「3番窓口へお越しください」 when called (an
assertive live region), and a Web Push reaches the local push service (decrypted there) when the turn is near and
when called; leaving the queue from the page. axe-core finds nothing on the ticket page, in Japanese and English."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from playwright.sync_api import expect

from procedure_definitions.japan import JST
from server.booking.config import DEFAULT_CONFIG, WEEKDAYS, BookingConfig, Place
from server.booking.store import put_config_in
from testsupport.booking_rules import ALL_DAY
from testsupport.push_service import LocalPushService
from testsupport.servers import AppServer

from .helpers import axe_check, go, new_phone, shot, sw_active

pytestmark = pytest.mark.browser


# A resident draws from the app only while the place is open (server.authz.walkin_open): 本庁舎 open all day every day
# (the tests run at any time); 夜間窓口 open on one weekday only, three days after the one this module is imported
# on, so the app refuses it now even when the suite runs past noon or midnight after collecting this module.
_NIGHT_DAY = WEEKDAYS[(dt.datetime.now(JST).weekday() + 3) % 7]
_NIGHT_HOURS = ["20:00", "22:00"]
CONFIG = BookingConfig(places=[
    msgspec.structs.replace(DEFAULT_CONFIG.places[0], hours=ALL_DAY),
    Place(id="yoru", name={"ja": "夜間窓口", "en": "Night Counter"}, booths=["1"], booking_booths=1,
          hours={_NIGHT_DAY: list(_NIGHT_HOURS)})], holidays=False, closed=[])


@pytest.fixture(scope="module")
def push_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The real app on localhost that may deliver Web Push to the local push service (http on 127.0.0.1)."""
    from procedure_definitions.library import load_library

    db = tmp_path_factory.mktemp("ticket") / "m.db"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's loop runs on the test's thread
        srv = pool.submit(lambda: AppServer.on_file(db, library=load_library(), push_hosts=("127.0.0.1",),
                                                   push_allow_http=True)).result()
        pool.submit(lambda: srv.db.write_sync(lambda c: put_config_in(c, "# test", CONFIG))).result()
    yield srv
    srv.stop()


def _login(srv: AppServer, role: str) -> dict[str, Any]:
    from testsupport.sessions import login_as

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return dict(pool.submit(lambda: login_as(srv.db, role, display_name=f"テスト{role}")).result())


def _client(srv: AppServer, session: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=srv.url, cookies=session["cookies"], headers=session["headers"], timeout=30)


def test_the_ticket_follows_the_queue_live_and_pushes_when_near(browser: Any, push_server: AppServer) -> None:
    srv = push_server
    staff = _client(srv, _login(srv, "counter"))
    others = []
    for _ in range(4):
        r = staff.post("/api/queue/honcho/tickets", json={})
        assert r.status_code == 201, r.text
        others.append(r.json())
    mine = staff.post("/api/queue/honcho/tickets", json={}).json()
    token = mine["token"]
    assert mine["url"].endswith(f"/#/q/{token}")

    local = LocalPushService()
    sub = local.subscription()
    context, page, errors = new_phone(browser)
    context.grant_permissions(["notifications"], origin=srv.url)
    # Headless Chromium has no push service: the browser's PushManager answers with the local one's subscription.
    context.add_init_script("window.__sub = " + json.dumps(sub) + ";")
    context.add_init_script("""(() => {
      PushManager.prototype.getSubscription = async () => null;
      PushManager.prototype.subscribe = async function () { return { endpoint: window.__sub.endpoint, toJSON: () => window.__sub }; };
    })();""")
    go(page, srv.url, f"#/q/{token}")
    sw_active(page)
    expect(page.locator("#ticket-number")).to_have_text(f"受付番号{mine['number']}", timeout=10000)
    expect(page.locator("#ticket-ahead")).to_have_text("あなたの前に 4 人")
    expect(page.locator("#ticket-estimate")).to_contain_text("目安")
    axe_check(page, "ticket")
    shot(page, "ticket-waiting")
    page.get_by_role("button", name="順番が近づいたら通知する").click()
    expect(page.locator("#ticket-msg")).to_have_text("順番が近づいたら、この端末に通知します。", timeout=10000)

    # Staff call the others: the page follows without a reload; near → one push, decrypted by the local service.
    for n, booth in enumerate(("1", "2", "4", "5"), start=1):
        called = staff.post("/api/queue/honcho/call", json={"booth": booth})
        assert called.status_code == 200, called.text
        assert called.json()["number"] == others[n - 1]["number"]
        ahead = 4 - n
        expect(page.locator("#ticket-ahead")).to_have_text(
            f"あなたの前に {ahead} 人" if ahead else "次にお呼びします", timeout=5000)
        if n == 1:
            got = local.wait(1, timeout=10)
            assert got and got[0].payload["url"] == f"/#/q/{token}", (got, local.errors)
            assert "まもなく" in got[0].payload["title"]
            assert "テスト" not in json.dumps(got[0].payload, ensure_ascii=False)  # never a name
    expect(page.locator("#ticket-status")).to_contain_text("まもなく順番です")

    # Called at booth 3: said at once (an assertive region), and a second push.
    assert staff.post("/api/queue/honcho/call", json={"booth": "3"}).json()["number"] == mine["number"]
    call = page.locator("#ticket-called")
    expect(call).to_contain_text("3番窓口へお越しください", timeout=5000)
    assert call.get_attribute("role") == "alert"
    got = local.wait(2, timeout=10)
    assert len(got) == 2 and got[1].payload.get("kind") == "called", (got, local.errors)
    assert not local.errors, local.errors
    axe_check(page, "ticket-called")
    shot(page, "ticket-called")

    # In English.
    page.locator("#lang").select_option("en")
    expect(page.locator("#ticket-call")).to_have_text("Please come to counter 3", timeout=10000)
    axe_check(page, "ticket-called-en")
    local.close()
    assert not errors, errors
    context.close()


def test_without_event_streams_the_page_polls_with_etags(browser: Any, push_server: AppServer) -> None:
    """A browser without EventSource (or a stream that fails) long-polls: one request with the ETag and wait=25,
    held by the server while nothing changes (not a loop of requests), answered as soon as staff call."""
    srv = push_server
    staff = _client(srv, _login(srv, "counter"))
    while staff.post("/api/queue/honcho/call", json={"booth": "1"}).status_code == 200:
        pass  # an empty queue: the numbers ahead are the ones drawn here
    first = staff.post("/api/queue/honcho/tickets", json={}).json()
    mine = staff.post("/api/queue/honcho/tickets", json={}).json()
    context, page, errors = new_phone(browser)
    context.add_init_script("delete window.EventSource;")
    polls: list[int] = []
    held: list[tuple[str, str | None]] = []
    page.on("response", lambda r: polls.append(r.status) if f"/api/tickets/{mine['token']}" in r.url else None)
    page.on("request", lambda r: held.append((r.url, r.headers.get("if-none-match")))
            if f"/api/tickets/{mine['token']}?wait=" in r.url else None)
    go(page, srv.url, f"#/q/{mine['token']}")
    expect(page.locator("#ticket-ahead")).to_have_text("あなたの前に 1 人", timeout=10000)
    page.wait_for_timeout(3500)
    assert polls == [200], polls  # the first answer; the next request is still held: nothing changed
    assert len(held) == 1 and held[0][0].endswith("?wait=25") and held[0][1], held  # with the ETag
    start = time.monotonic()
    assert staff.post("/api/queue/honcho/call", json={"booth": "2"}).json()["number"] == first["number"]
    expect(page.locator("#ticket-ahead")).to_have_text("次にお呼びします", timeout=5000)
    assert time.monotonic() - start < 2, time.monotonic() - start  # the held request answered at once
    assert not errors, errors
    context.close()


def test_leaving_the_queue_from_the_ticket_page(browser: Any, push_server: AppServer) -> None:
    srv = push_server
    staff = _client(srv, _login(srv, "counter"))
    mine = staff.post("/api/queue/honcho/tickets", json={}).json()
    context, page, errors = new_phone(browser)
    go(page, srv.url, f"#/q/{mine['token']}")
    expect(page.locator("#ticket-ahead")).to_be_visible(timeout=10000)
    # The home page shows the open ticket.
    go(page, srv.url, "#/")
    expect(page.locator("#visit")).to_contain_text(f"番号札 {mine['number']}", timeout=10000)
    page.locator("#visit").get_by_role("link", name=f"番号札 {mine['number']}").click()
    expect(page.locator("#ticket-ahead")).to_be_visible(timeout=10000)
    page.locator("#lang").select_option("en")
    expect(page.locator("h1")).to_have_text("Your ticket", timeout=10000)
    axe_check(page, "ticket-en")
    page.get_by_role("button", name="Leave the queue").click()
    page.get_by_role("button", name="Leave", exact=True).click()
    expect(page.locator("#ticket-status")).to_contain_text("You left the queue.", timeout=10000)
    assert httpx.get(f"{srv.url}/api/tickets/{mine['token']}").json()["status"] == "left"
    assert not errors, errors
    context.close()


def test_a_missed_call_says_so_and_when_it_comes_again(browser: Any, push_server: AppServer) -> None:
    """Called, then 不在: the page does not go back to a plain 「次にお呼びします」 — it says the call was missed and
    from when it will be called again (the view's not_before, JST), in ja, en and やさしい日本語; axe's default rules
    find nothing there."""
    from .test_axe_default_rules import axe_defaults

    srv = push_server
    staff = _client(srv, _login(srv, "counter"))
    while staff.post("/api/queue/honcho/call", json={"booth": "1"}).status_code == 200:
        pass  # an empty queue: the next call is this ticket
    mine = staff.post("/api/queue/honcho/tickets", json={}).json()
    context, page, errors = new_phone(browser)
    go(page, srv.url, f"#/q/{mine['token']}")
    expect(page.locator("#ticket-ahead")).to_have_text("次にお呼びします", timeout=10000)
    called = staff.post("/api/queue/honcho/call", json={"booth": "3"}).json()
    assert called["number"] == mine["number"]
    expect(page.locator("#ticket-call")).to_have_text("3番窓口へお越しください", timeout=5000)
    assert staff.post(f"/api/queue/tickets/{called['id']}/missed").json()["missed"] == 1
    view = httpx.get(f"{srv.url}/api/tickets/{mine['token']}").json()
    at = dt.datetime.fromisoformat(view["not_before"]).astimezone(JST)
    again = f"{at.hour}:{at.minute:02d}"
    expect(page.locator("#ticket-ahead")).to_have_text("お呼びしたときに、いらっしゃいませんでした。", timeout=5000)
    expect(page.locator("#ticket-estimate")).to_contain_text(f"{again} 以降に、もう一度お呼びします。")
    expect(page.locator("#ticket-called")).to_be_empty()
    axe_defaults(page, "ticket-missed")
    page.locator("#lang").select_option("en")
    expect(page.locator("#ticket-ahead")).to_have_text("You were called, but you were not at the counter.",
                                                       timeout=10000)
    expect(page.locator("#ticket-estimate")).to_contain_text(f"We will call you again after {again}.")
    page.locator("#lang").select_option("ja-easy")
    expect(page.locator("#ticket-estimate")).to_contain_text(f"{again} より あと に、もう いちど よびます。",
                                                             timeout=10000)
    assert not errors, errors
    context.close()


def test_a_resident_takes_a_number_in_the_app_once_a_day(browser: Any, push_server: AppServer) -> None:
    srv = push_server
    session = _login(srv, "resident")
    context, page, errors = new_phone(browser)
    context.add_cookies([{"name": k, "value": v, "url": srv.url} for k, v in session["cookies"].items()])
    go(page, srv.url, "#/v")
    page.get_by_role("button", name="番号札を取る").click()
    page.wait_for_url("**/#/q/*")
    expect(page.locator("#ticket-number")).to_have_text(re.compile(r"^受付番号A-\d{3}$"), timeout=10000)
    first = page.url
    number = page.locator("#ticket-number").text_content()
    # A second press the same day opens the same ticket, not a new one.
    go(page, srv.url, "#/v")
    page.get_by_role("button", name="番号札を取る").click()
    page.wait_for_url("**/#/q/*")
    expect(page.locator("#ticket-number")).to_have_text(number, timeout=10000)
    assert page.url == first
    tickets = _client(srv, session).get("/api/queue/honcho")  # a resident may not read the staff queue
    assert tickets.status_code == 403
    # A place closed now: a sentence naming when it opens (JST), no ticket (probe15c #1)
    go(page, srv.url, "#/v")
    page.get_by_label("場所").select_option("yoru")
    page.get_by_role("button", name="番号札を取る").click()
    now = dt.datetime.now(JST)
    opens = next(day for day in (now.date() + dt.timedelta(days=n) for n in range(8))
                 if WEEKDAYS[day.weekday()] == _NIGHT_DAY and (day > now.date() or now.time() < dt.time(20)))
    expect(page.locator("#walkin-error")).to_have_text(
        f"今は受付の時間外です。番号札は、{opens.month}月{opens.day}日（{'月火水木金土日'[opens.weekday()]}）"
        f" {int(_NIGHT_HOURS[0][:2])}:00から取れます。", timeout=10000)
    assert "#/q/" not in page.url
    from .test_axe_default_rules import axe_defaults

    axe_defaults(page, "walkin-closed")
    assert not errors, errors
    context.close()


def test_a_booking_checked_in_opens_its_ticket_from_the_app(browser: Any, push_server: AppServer) -> None:
    """Booked, checked in at the desk by its code: the booking in the app links to its live ticket, which the
    booth then calls."""
    srv = push_server
    session = _login(srv, "resident")
    staff = _client(srv, _login(srv, "counter"))
    bid = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC).isoformat()
    start = (dt.datetime.now(JST) + dt.timedelta(minutes=1)).strftime("%H:%M")  # due now: called first

    def book(c: Any) -> None:
        c.execute("INSERT INTO bookings (id, code, place, day, start, minutes, status, holder, account_id, party,"
                  " procedures, departments, created_at, updated_at) VALUES (?, 'T4KE7N2Q', 'honcho', ?, ?, 15,"
                  " 'booked', ?, ?, 1, '[\"juminhyo-copy\"]', '[\"shimin\"]', ?, ?)",
                  (bid, dt.datetime.now(JST).date().isoformat(), start, f"account:{session['account_id']}",
                   session["account_id"], now, now))

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: srv.db.write_sync(book)).result()
    checked = staff.post("/api/queue/honcho/checkin", json={"code": "t4ke-7n2q"})
    assert checked.status_code == 201, checked.text
    number = checked.json()["number"]
    mine = _client(srv, session).get(f"/api/bookings/{bid}").json()
    assert mine["status"] == "checked_in" and mine["ticket"] == {"number": number, "token": checked.json()["token"]}

    context, page, errors = new_phone(browser)
    context.add_cookies([{"name": k, "value": v, "url": srv.url} for k, v in session["cookies"].items()])
    go(page, srv.url, f"#/v/b/{bid}")
    expect(page.locator("#bk-status")).to_have_text("受付済み", timeout=10000)
    page.get_by_role("link", name=f"番号札 {number} を見る").click()
    expect(page.locator("#ticket-number")).to_have_text(f"受付番号{number}", timeout=10000)
    while True:  # the booths call until this booking's turn (walk-ins of other tests may wait before it)
        called = staff.post("/api/queue/honcho/call", json={"booth": "3"}).json()
        if called["number"] == number:
            break
    expect(page.locator("#ticket-call")).to_have_text("3番窓口へお越しください", timeout=5000)
    assert not errors, errors
    context.close()
