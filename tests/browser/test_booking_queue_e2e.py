"""Issue 15's "Done when", end to end on ONE ``madoguchi serve`` that is never restarted: a resident registers a
passkey on a phone, books a visit for today by keyboard, checks in at a lobby kiosk by the booking's code, follows
the ticket on the phone, is called from the console's booth page with 次の方を呼ぶ, and the lobby board shows the
call within 2 s (the issue's contract; measured and printed). axe-core finds nothing on the booking calendar, the
ticket page and the board.

Real parts only: the server in a process on a SQLite file (the real PWA build), the city's booking rules stored
with ``madoguchi booking set`` before the start, Chromium with a virtual authenticator (a real WebAuthn ceremony on
``localhost``), a phone viewport (390x844, touch), a kiosk paired from the console, a booth clerk and the board in
their own browser contexts. Staff sign in with sessions made in the database (their passkeys are another test's).

Today must be bookable whatever the date and time of the run, so the rules are chosen from the real JST now
(:func:`booking_rules`): the window starts today (``min_days: 0``); a checked-in booking may be called up to 30
minutes before its time (``due_ahead_minutes``: the first free time is at most one grid step away); and when
today is closed (a weekend, a national holiday, 年末年始) or its regular hours leave no time for the run, today
gets all-day hours. A run started in the last minutes before midnight JST waits for the new day, since booking,
check-in and calls must fall on one JST day.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from procedure_definitions.japan import JST
from server.booking.config import NEW_YEAR_CLOSED, WEEKDAYS
from server.booking.slots import holiday_name
from testsupport.servers import ROOT, ServerProcess

from .helpers import add_session, axe_check, go, ready, shot, sw_active, virtual_authenticator
from .test_pwa_booking import day_name, hm, tab_to

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "ja-JP",
         "service_workers": "allow"}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP"}
LOBBY = {"viewport": {"width": 1600, "height": 900}, "locale": "ja-JP"}
REGULAR = ("08:30", "17:15")  # the default place's weekday hours (docs/booking.md)
RESIDENT = "待田 来子"
BOOTH = "3"
BOARD_CONTRACT_S = 2.0  # issue 15: "the board shows the called number within 2 s"
# Waits that are no contract, generous for a loaded 2-core machine: a phone following its ticket's stream (the
# seconds are printed), and a fresh browser loading the app for the first time.
LIVE_MS = 10_000
COLD_MS = 20_000
# Booking, check-in and both calls fall on one JST day: a run this close to midnight waits for the next day.
LAST_START = dt.time(23, 40)


def _minutes(t: dt.time | str) -> int:
    if isinstance(t, str):
        h, m = t.split(":")
        return int(h) * 60 + int(m)
    return t.hour * 60 + t.minute


def booking_rules(now: dt.datetime) -> str:
    """The city's booking rules as YAML (docs/booking.md "Configuration"), chosen so that a free time of today
    (JST) starts within ``due_ahead_minutes`` of ``now`` and the whole run ends before closing."""
    now = now.astimezone(JST)
    today, weekday = now.date(), WEEKDAYS[now.weekday()]
    hours = {d: list(REGULAR) for d in WEEKDAYS[:5]}
    closed = list(NEW_YEAR_CLOSED)
    holiday = holiday_name(today) is not None
    open_today = weekday in hours and not holiday and today.strftime("%m-%d") not in closed
    # A 15-minute grid: the next start is at most 15 minutes away and its booking ends 15 minutes later; 15 more
    # for the run itself.
    in_hours = _minutes(REGULAR[0]) <= _minutes(now.time()) <= _minutes(REGULAR[1]) - 45
    if not (open_today and in_hours):
        hours[weekday] = ["00:00", "24:00"]
        closed = [d for d in closed if d != today.strftime("%m-%d")]
    rules = {
        "places": [{"id": "honcho", "name": {"ja": "本庁舎 市民課窓口", "en": "City Hall, Residents' Counter"},
                    "booths": [str(n) for n in range(1, 7)], "booking_booths": 4, "hours": hours}],
        "slot_minutes": 15,
        "window": {"min_days": 0, "max_days": 45},  # same-day bookings
        "closed": closed,
        "holidays": not holiday,
        "due_ahead_minutes": 30,
    }
    return json.dumps(rules, ensure_ascii=False, indent=1)  # JSON is YAML (the times stay quoted strings)


@pytest.mark.parametrize("now", [
    "2026-12-07T16:37", "2026-12-07T07:00", "2026-12-07T16:31", "2026-12-05T10:00",  # Mon in/before/late; Sat
    "2026-11-23T12:00", "2026-12-30T09:00", "2027-01-01T00:10", "2026-12-08T23:39",  # 勤労感謝の日, 年末年始, late
])
def test_the_rules_make_today_bookable_now(now: str) -> None:
    """Whatever the JST date and time (before :data:`LAST_START`), the rules chosen pass ``madoguchi booking set``'s
    checks and give today a free time starting 2 to 17 minutes from now — so a booking checked in at once is
    callable (``due_ahead_minutes``) — and the place stays open (and the JST day lasts) 15 minutes more for the run."""
    from server.booking.config_file import read_config
    from server.booking.slots import day_slots, start_at

    at = dt.datetime.fromisoformat(now).replace(tzinfo=JST)
    cfg, problems = read_config(booking_rules(at), "booking.yaml")
    assert cfg is not None, [p.format() for p in problems]
    place = cfg.places[0]
    slots = day_slots(cfg, place, at.date(), 15, ["shimin"], [], at)
    soon = (at + dt.timedelta(minutes=2)).strftime("%H:%M")
    first = next(s for s in slots if s.free and s.start > soon)
    due = start_at(at.date(), first.start)
    assert due - dt.timedelta(minutes=cfg.due_ahead_minutes) <= at < due
    close = place.hours[WEEKDAYS[at.weekday()]][1]
    assert _minutes(at.time()) + 15 <= _minutes(close), (now, close)  # the run's check-in and calls: open, today


def _wait_for_a_whole_day() -> None:
    now = dt.datetime.now(JST)
    if now.time() >= LAST_START:
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(0, 0, 5), tzinfo=JST)
        print(f"\n{now:%H:%M} JST: waiting {(midnight - now).total_seconds():.0f} s for the next day")
        time.sleep((midnight - now).total_seconds())


def _cli(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "madoguchi.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A plain ``madoguchi serve`` on a fresh SQLite file at http://localhost:PORT, with today's booking rules
    stored beforehand by ``madoguchi booking set``."""
    _wait_for_a_whole_day()
    db = tmp_path / "madoguchi.db"
    rules = tmp_path / "booking.yaml"
    rules.write_text(booking_rules(dt.datetime.now(JST)), encoding="utf-8")
    assert "booking rules stored: 1 place(s) (honcho)" in _cli("booking", "set", str(rules), "--db", str(db))
    s = ServerProcess(db, url_host="localhost")
    s.start()
    yield s
    s.stop()


def _context(browser: Any, errors: list[str], options: dict[str, Any]) -> tuple[Any, Any]:
    context = browser.new_context(**options)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page


def _api(page: Any, path: str) -> Any:
    """A GET from the page itself (its cookies: what that browser may see)."""
    return page.evaluate("(p) => fetch(p, {headers: {Accept: 'application/json'}}).then((r) => r.json())", path)


def _scan(page: Any, image: Any) -> str:
    """What a QR code shown on a screen holds, as a scanner reads it: the pixels around the element (with a margin:
    the quiet zone), decoded; exactly one code."""
    image.scroll_into_view_if_needed()
    box = image.bounding_box()  # in the viewport, as the clip below
    assert box, "the QR code is not on screen"
    clip = {"x": max(0, box["x"] - 24), "y": max(0, box["y"] - 24), "width": box["width"] + 48,
            "height": box["height"] + 48}
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(page.screenshot(clip=clip))))]
    assert len(found) == 1, found
    return str(found[0])


def _call_and_time(clerk: Any, board: Any, number: str) -> float:
    """Press 次の方を呼ぶ (keyboard) and the seconds until the board shows ``number`` as the latest call."""
    button = clerk.get_by_role("button", name="次の方を呼ぶ", exact=True)
    button.focus()
    start = time.monotonic()
    clerk.keyboard.press("Enter")
    expect(board.locator("#latest-number")).to_have_text(number, timeout=BOARD_CONTRACT_S * 1000 + 3000)
    return time.monotonic() - start


@pytest.mark.browser
@pytest.mark.slow
def test_book_check_in_follow_the_ticket_get_called_and_see_the_board(browser: Any, server: ServerProcess) -> None:
    base = server.base
    errors: list[str] = []
    today = dt.datetime.now(JST).date().isoformat()

    # 1. The resident's phone: a passkey, then 来庁を予約する from the home page, by keyboard.
    phone_ctx, phone = _context(browser, errors, PHONE)
    virtual_authenticator(phone_ctx, phone)
    go(phone, base, "")
    sw_active(phone)
    go(phone, base, "#/signin")
    phone.get_by_label("表示名（ニックネーム可）").fill(RESIDENT)
    phone.locator("#register").click()
    phone.wait_for_selector("#recovery-codes", timeout=20000)
    session = _api(phone, "/api/session")
    assert session["signed_in"] and "booking" in session["account"]["can"], session
    phone.get_by_role("link", name="ホームへ戻る").click()
    ready(phone)
    expect(phone.locator("#visit").get_by_role("link", name="来庁を予約する")).to_be_visible(timeout=10000)
    tab_to(phone, "#visit a[href='#/v']")
    phone.keyboard.press("Enter")
    phone.wait_for_selector("#bk-what")
    tab_to(phone, "input[name=bk-proc][value=juminhyo-copy]")
    phone.keyboard.press("Space")
    tab_to(phone, "#what-next")
    phone.keyboard.press("Enter")
    expect(phone.locator("#step-title")).to_have_text("場所を選ぶ")
    tab_to(phone, "#place-next")
    phone.keyboard.press("Enter")

    # The calendar opens on the first day with a free time: today (the window starts today), and that day's
    # first free time is a button named with the whole date and time.
    expect(phone.locator("#step-title")).to_have_text("日時を選ぶ")
    cal = _api(phone, "/api/booking/slots?place=honcho&procedures=juminhyo-copy&party=1")
    assert cal["first_free_day"] == today, cal["first_free_day"]
    expect(phone.locator("#cal-days button[aria-pressed=true]")).to_have_text(day_name(today), timeout=10000)
    # Its first free time, unless that starts within two minutes (it could pass before the hold is taken).
    soon = (dt.datetime.now(JST) + dt.timedelta(minutes=2)).strftime("%H:%M")
    slot = next(s for s in next(d for d in cal["days"] if d["date"] == today)["slots"]
                if s["free"] and s["start"] > soon)
    label = f"{day_name(today)}{hm(slot['start'])}〜{hm(slot['end'])} 予約できます"
    expect(phone.get_by_role("button", name=label, exact=True)).to_be_visible()
    axe_check(phone, "e2e-booking-calendar")
    shot(phone, "e2e-booking-calendar")
    tab_to(phone, f"#cal-times button[data-start='{slot['start']}']")
    assert phone.evaluate("document.activeElement.getAttribute('aria-label')") == label
    phone.keyboard.press("Enter")
    expect(phone.locator("#hold-left")).to_contain_text("この時間を押さえています", timeout=10000)
    tab_to(phone, "#bk-confirm")
    phone.keyboard.press("Enter")

    # Done: the booking number, its check-in QR and the pre-entry invitation.
    expect(phone.locator("#step-title")).to_have_text("予約しました", timeout=10000)
    booking = next(b for b in _api(phone, "/api/bookings")["bookings"] if b["day"] == today)
    assert (booking["start"], booking["status"], booking["name"]) == (slot["start"], "booked", RESIDENT)
    expect(phone.locator("#bk-code")).to_have_text(booking["code"])
    qr = phone.get_by_role("img", name=f"受付用のQRコード（予約番号 {booking['code']}）")
    expect(qr).to_be_visible()
    # What the kiosk's scanner will read: the QR code as the phone's screen shows it, decoded.
    scanned = _scan(phone, qr)
    assert scanned == booking["code"].replace("-", ""), scanned
    expect(phone.locator("#preentry")).to_contain_text("来庁前に入力しておくと、窓口が早く終わります")
    assert phone.locator("#preentry").get_by_role("link").first.get_attribute("href") == "#/p/juminhyo-copy"
    axe_check(phone, "e2e-booking-done")
    shot(phone, "e2e-booking-done")

    # 2. The lobby kiosk: a clerk pairs a browser (受付機), which then takes the booking's QR code as a scanner
    # types it (what it decoded, then Enter) into the box focused on arrival.
    kiosk_ctx, kiosk = _context(browser, errors, DESKTOP)
    add_session(kiosk_ctx, base, server.login_as("counter", display_name="受付 職員"))
    kiosk.goto(f"{base}/console/")
    kiosk.get_by_role("link", name="受付機").click()
    kiosk.get_by_label("受付機の名前（置き場所など）").fill("1階ロビー入口")
    kiosk.get_by_role("button", name="この端末を受付機にする").click()
    kiosk.wait_for_url(f"{base}/kiosk")
    code_box = kiosk.get_by_label("予約番号")
    expect(code_box).to_be_focused()
    kiosk.keyboard.type(scanned)
    kiosk.keyboard.press("Enter")
    kiosk_number = kiosk.locator("#ticket-number")
    expect(kiosk_number).to_have_text(re.compile(r"^R-\d{3}$"), timeout=10000)
    number = kiosk_number.inner_text()
    shot(kiosk, "e2e-kiosk-ticket")
    kiosk.get_by_role("button", name="最初の画面に戻る").click()  # (it would by itself after 30 s)
    expect(code_box).to_be_focused()

    # 3. The phone: the booking now says 受付済み and links to its ticket, which shows the place in the queue.
    go(phone, base, "#/v")
    phone.locator("#my-bookings").get_by_role("link", name=re.compile(re.escape(day_name(today)))).click()
    expect(phone.locator("#bk-status")).to_have_text("受付済み", timeout=10000)
    phone.get_by_role("link", name=f"番号札 {number} を見る").click()
    phone.wait_for_url("**/#/q/*")
    token = phone.url.rsplit("/", 1)[1]
    expect(phone.locator("#ticket-number")).to_have_text(f"受付番号{number}", timeout=10000)
    expect(phone.locator("#ticket-ahead")).to_have_text("次にお呼びします")
    expect(phone.locator("#ticket-estimate")).to_contain_text(f"予約の時間（{hm(slot['start'])}）に合わせてお呼びします")

    # A walk-in with priority draws a number at the kiosk: served first, so the phone shows one ahead, live.
    kiosk.get_by_label("優先（妊娠中・障害のある方など）").check()
    kiosk.get_by_role("button", name="番号札を取る").click()
    expect(kiosk_number).to_have_text(re.compile(r"^A-\d{3}$"), timeout=10000)
    walkin = kiosk_number.inner_text()
    expect(phone.locator("#ticket-ahead")).to_have_text("あなたの前に 1 人", timeout=LIVE_MS)
    # The walk-in follows their number on their own phone (no account): the kiosk's QR code opens the ticket page.
    link = _scan(kiosk, kiosk.get_by_role("img", name="順番を確かめるページの QR コード").locator("svg"))
    assert link.startswith(f"{base}/#/q/"), link
    walkin_ctx, walkin_phone = _context(browser, errors, PHONE)
    walkin_phone.goto(link)
    expect(walkin_phone.locator("#ticket-number")).to_have_text(f"受付番号{walkin}", timeout=COLD_MS)
    expect(walkin_phone.locator("#ticket-ahead")).to_have_text("次にお呼びします")
    view = _api(phone, f"/api/tickets/{token}")
    assert (view["number"], view["status"], view["ahead"]) == (number, "waiting", 1), view
    shown = phone.locator("#ticket-estimate").inner_text()
    estimate = re.search(r"目安 (\d+) 分", shown)
    assert estimate and abs(int(estimate.group(1)) - view["estimate_minutes"]) <= 1, (shown, view)
    assert "まもなく順番です" in shown  # one ahead: near
    axe_check(phone, "e2e-ticket")
    shot(phone, "e2e-ticket-waiting")

    # 4. The lobby board, public: nobody called yet, two waiting.
    lobby_ctx, board = _context(browser, errors, LOBBY)
    board.goto(f"{base}/board")
    expect(board.locator("#none")).to_be_visible()
    expect(board.locator("#waiting")).to_have_text("2")
    axe_check(board, "e2e-board")

    # 5. The booth: a clerk chooses booth 3 by keyboard; the queue lists the priority walk-in, then the booking.
    desk_ctx, clerk = _context(browser, errors, DESKTOP)
    add_session(desk_ctx, base, server.login_as("counter", display_name="窓口 三番"))
    clerk.goto(f"{base}/console/")
    clerk.get_by_role("link", name="窓口の呼び出し").click()
    expect(clerk.locator("h1")).to_have_text("窓口の呼び出し")
    clerk.get_by_label("窓口番号", exact=True).focus()
    clerk.get_by_label("窓口番号", exact=True).select_option(BOOTH)
    clerk.get_by_role("button", name="この窓口にする").focus()
    clerk.keyboard.press("Enter")
    expect(clerk.get_by_role("heading", name=f"{BOOTH}番窓口")).to_be_visible()
    rows = clerk.get_by_role("table").first.get_by_role("row")
    expect(rows.nth(1)).to_contain_text(walkin)
    expect(rows.nth(2)).to_contain_text(number)
    expect(rows.nth(2)).to_contain_text(RESIDENT)

    # 次の方を呼ぶ: the walk-in first; the board within 2 s, and the phone moves up (no reload).
    first_s = _call_and_time(clerk, board, walkin)
    expect(board.locator("#latest-booth")).to_have_text(f"{BOOTH}番窓口")
    expect(phone.locator("#ticket-ahead")).to_have_text("次にお呼びします", timeout=LIVE_MS)
    expect(walkin_phone.locator("#ticket-call")).to_have_text(f"{BOOTH}番窓口へお越しください", timeout=LIVE_MS)
    expect(clerk.get_by_role("heading", name=f"呼出中：{walkin}")).to_be_visible()
    clerk.get_by_role("button", name="完了").click()
    expect(clerk.locator("#queue-status")).to_contain_text("完了にしました")

    # 6. Again: the resident's booking. The board shows it within 2 s and announces it; the phone names the booth.
    second_s = _call_and_time(clerk, board, number)
    phone_start = time.monotonic()
    expect(phone.locator("#ticket-call")).to_have_text(f"{BOOTH}番窓口へお越しください", timeout=LIVE_MS)
    phone_s = second_s + time.monotonic() - phone_start
    expect(board.locator("#latest-booth")).to_have_text(f"{BOOTH}番窓口")
    expect(board.locator("#announce")).to_have_text(
        f"受付番号 {number} の方、{BOOTH}番窓口へお越しください。 Number {number}, please come to counter {BOOTH}.")
    expect(board.locator("#recent")).to_contain_text(walkin)
    expect(board.locator("#waiting")).to_have_text("0")
    print(f"\ncall → board: {first_s:.2f} s and {second_s:.2f} s; call → phone (at most): {phone_s:.2f} s")
    assert first_s <= BOARD_CONTRACT_S and second_s <= BOARD_CONTRACT_S, (first_s, second_s)
    # Numbers and booths only: no name, no booking code on the public board.
    content = board.content()
    assert RESIDENT not in content and booking["code"] not in content and booking["code"].replace("-", "") not in content
    called = _api(phone, f"/api/tickets/{token}")
    assert (called["status"], called["booth"]) == ("called", BOOTH), called
    axe_check(board, "e2e-board-called")
    shot(board, "e2e-board-called")
    axe_check(phone, "e2e-ticket-called")
    shot(phone, "e2e-ticket-called")

    # The event log has the booking's whole day, in order.
    events = [str(e) for (e,) in server.query(
        "SELECT event FROM queue_events WHERE booking_id = ? ORDER BY id", (booking["id"],))]
    assert events[0] == "booked" and sorted(events[1:-1]) == ["checked_in", "ticket"] and events[-1] == "called", events
    assert not errors, errors
    for ctx in (desk_ctx, lobby_ctx, walkin_ctx, kiosk_ctx, phone_ctx):
        ctx.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_late_booking_is_not_promised_its_time(browser: Any, server: ServerProcess) -> None:
    """Checked in after its time, a booking queues by its arrival (docs/queue.md "Order"): neither the kiosk nor
    the phone tells it 「予約の時間が近づくとお呼びします」 / 「予約の時間（…）に合わせてお呼びします」."""
    now = dt.datetime.now(JST)
    start = max(now - dt.timedelta(minutes=20), now.replace(hour=0, minute=0, second=0, microsecond=0))
    assert start < now
    code = "LATE2345"
    stamp = dt.datetime.now(dt.UTC).isoformat()
    server.write(lambda c: c.execute(
        "INSERT INTO bookings (id, code, place, day, start, minutes, status, holder, name, phone, party, procedures,"
        " departments, created_at, updated_at) VALUES ('late-1', ?, 'honcho', ?, ?, 15, 'booked', 'ip:127.0.0.1',"
        " '遅刻 一郎', '090-1', 1, '[\"juminhyo-copy\"]', '[\"shimin\"]', ?, ?)",
        (code, now.date().isoformat(), start.strftime("%H:%M"), stamp, stamp)))
    errors: list[str] = []
    kiosk_ctx, kiosk = _context(browser, errors, DESKTOP)
    add_session(kiosk_ctx, server.base, server.login_as("counter", display_name="受付 職員"))
    kiosk.goto(f"{server.base}/console/kiosks")
    kiosk.get_by_label("受付機の名前（置き場所など）").fill("ロビー")
    kiosk.get_by_role("button", name="この端末を受付機にする").click()
    kiosk.wait_for_url(f"{server.base}/kiosk")
    expect(kiosk.get_by_label("予約番号")).to_be_focused()
    kiosk.keyboard.type(code)
    kiosk.keyboard.press("Enter")
    expect(kiosk.locator("#ticket-number")).to_have_text(re.compile(r"^R-\d{3}$"), timeout=10000)
    expect(kiosk.locator("#ticket-wait")).to_contain_text("目安")
    assert "予約の時間" not in kiosk.locator("#ticket-wait").inner_text()
    link = _scan(kiosk, kiosk.get_by_role("img", name="順番を確かめるページの QR コード").locator("svg"))
    phone_ctx, phone = _context(browser, errors, PHONE)
    phone.goto(link)
    expect(phone.locator("#ticket-ahead")).to_have_text("次にお呼びします", timeout=COLD_MS)
    assert "予約の時間" not in phone.locator("#ticket-status").inner_text()
    assert not errors, errors
    phone_ctx.close()
    kiosk_ctx.close()
