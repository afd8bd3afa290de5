"""The desk's bookings and the lobby kiosk in a real browser, by keyboard: the day's bookings with what a resident
filled in (a synced draft), one booking's pre-entry as labels, pairing this browser as a kiosk (the clerk's
session ends), the kiosk page, and revoking it from another desk. axe-core finds nothing on each screen."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from playwright.sync_api import expect

from procedure_definitions.japan import JST
from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, shot


def _tomorrow() -> str:
    return (dt.datetime.now(JST).date() + dt.timedelta(days=1)).isoformat()


def _desk(browser: Any, server: ServerProcess, role: str = "counter") -> tuple[Any, Any, list[str]]:
    clerk = server.login_as(role, display_name=f"窓口 {role}")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    add_session(context, server.base, clerk)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def test_the_days_bookings_and_a_pre_entry(browser: Any, open_shared_server: ServerProcess) -> None:
    server = open_shared_server
    resident = server.login_as("resident", display_name="予約 太郎")
    now = dt.datetime.now(dt.UTC).isoformat()
    bid, draft = str(uuid.uuid4()), str(uuid.uuid4())
    version = server.query("SELECT version FROM procedure_versions WHERE procedure_id = 'tenkyo'"
                           " ORDER BY published_at DESC LIMIT 1")
    tenkyo = str(version[0][0]) if version else "1.1.0"

    def seed(c: Any) -> None:
        c.execute("INSERT INTO sync_records (type, id, version, data, owner, created_at, updated_at)"
                  " VALUES ('draft', ?, 1, ?, ?, ?, ?)", (draft, json.dumps({
                      "procedure_id": "tenkyo", "procedure_version": tenkyo, "new_postal_code": "101-0021",
                      "new_head_name": {"family": "予約", "given": "太郎"}, "madoguchi": {"kind": "draft"}},
                      ensure_ascii=False), resident["account_id"], now, now))
        c.execute("INSERT INTO bookings (id, code, place, day, start, minutes, status, holder, account_id, party,"
                  " procedures, departments, created_at, updated_at) VALUES (?, 'K7M2Q9RX', 'honcho', ?, '10:30',"
                  " 30, 'booked', ?, ?, 1, '[\"tenkyo\"]', '[\"shimin\"]', ?, ?)",
                  (bid, _tomorrow(), f"account:{resident['account_id']}", resident["account_id"], now, now))

    server.write(seed)
    context, page, errors = _desk(browser, server)
    page.goto(f"{server.base}/console/")
    page.get_by_role("link", name="予約一覧").click()
    expect(page.locator("h1")).to_contain_text("予約一覧")
    row = page.get_by_role("row").filter(has_text="K7M2-Q9RX")
    expect(row).to_contain_text("予約 太郎")
    expect(row).to_contain_text("10:30")
    expect(row).to_contain_text("転居届：入力済み（2/")
    axe_check(page, "console-bookings")
    shot(page, "console-bookings")
    # By keyboard: the booking's link, Enter.
    page.get_by_role("link", name="K7M2-Q9RX").focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("予約 K7M2-Q9RX：予約 太郎")
    pre = page.get_by_role("region", name="転居届：入力済み", exact=False)
    expect(pre).to_contain_text("予約 太郎")
    expect(pre).to_contain_text("101-0021")
    assert "new_head_name" not in pre.inner_text()
    axe_check(page, "console-booking")
    assert server.query("SELECT count(*) FROM audit_log WHERE action = 'booking.preentry_read' AND subject = ?",
                        (f"booking:{bid}",)) == [(1,)]
    assert errors == []
    context.close()


def test_pairing_and_revoking_a_kiosk(browser: Any, open_shared_server: ServerProcess) -> None:
    server = open_shared_server
    context, page, errors = _desk(browser, server)
    page.goto(f"{server.base}/console/kiosks")
    axe_check(page, "console-kiosks")
    # Keyboard only: the place (one), the name, Enter on the button.
    page.get_by_label("受付機の名前（置き場所など）").focus()
    page.keyboard.type("1階ロビー入口")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="この端末を受付機にする")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.base}/kiosk")
    expect(page.locator("h1")).to_contain_text("受付")
    expect(page.locator("h1")).to_contain_text("本庁舎")
    expect(page.get_by_label("予約番号")).to_be_focused()  # the scanner types into it at once
    expect(page.get_by_role("button", name="番号札を取る")).to_be_visible()
    axe_check(page, "kiosk")
    shot(page, "kiosk")
    # The clerk's session ended on this device.
    assert page.evaluate("fetch('/api/session').then((r) => r.json()).then((s) => s.account)") is None

    # A booking of today checks in by its code, typed as a scanner types it (lower case, no dash) and Enter.
    now = dt.datetime.now(dt.UTC).isoformat()
    today = dt.datetime.now(JST).date().isoformat()
    server.write(lambda c: c.execute(
        "INSERT INTO bookings (id, code, place, day, start, minutes, status, holder, name, phone, party, procedures,"
        " departments, created_at, updated_at) VALUES (?, 'KQ3W8ZNP', 'honcho', ?, '23:45', 15, 'booked', 'ip:x',"
        " '受付 三郎', '090-1', 1, '[\"juminhyo-copy\"]', '[\"shimin\"]', ?, ?)", (str(uuid.uuid4()), today, now, now)))
    page.keyboard.type("kq3w8znp")
    page.keyboard.press("Enter")
    number = page.locator("#ticket-number")
    expect(number).to_have_text(re.compile(r"^R-\d{3}$"))
    expect(page.locator("#ticket-title")).to_be_focused()
    assert server.query("SELECT number, source FROM tickets WHERE kind = 'booking' AND day = ? ORDER BY seq DESC"
                        " LIMIT 1", (today,)) == [(number.inner_text(), "kiosk")]
    expect(page.get_by_role("img", name="順番を確かめるページの QR コード").locator("svg")).to_be_visible()
    expect(page.get_by_role("button", name="番号札を印刷する")).to_be_visible()
    axe_check(page, "kiosk-ticket")
    shot(page, "kiosk-ticket")
    # Printed: a ticket-sized slip with the number, the place and the QR code, without the kiosk's controls.
    page.emulate_media(media="print")
    expect(number).to_be_visible()
    expect(page.locator(".place-print").first).to_be_visible()
    expect(page.get_by_role("button", name="番号札を印刷する")).to_be_hidden()
    expect(page.get_by_role("link", name="English")).to_be_hidden()
    page.emulate_media(media="screen")
    page.get_by_role("button", name="最初の画面に戻る").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("予約番号")).to_be_focused()
    # A wrong code says so, in words.
    page.keyboard.type("ZZZZZZZZ")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("この予約番号は見つかりません")
    # A walk-in with priority, by keyboard.
    page.get_by_label("優先（妊娠中・障害のある方など）").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="番号札を取る").focus()
    page.keyboard.press("Enter")
    expect(number).to_have_text(re.compile(r"^A-\d{3}$"))
    assert server.query("SELECT priority, source FROM tickets WHERE number = ? AND day = ?",
                        (number.inner_text(), today)) == [(1, "kiosk")]
    page.get_by_role("button", name="最初の画面に戻る").click()
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Take a number")).to_be_visible()
    axe_check(page, "kiosk-en")

    admin_ctx, admin, admin_errors = _desk(browser, server, "admin")
    admin.goto(f"{server.base}/console/kiosks")
    row = admin.get_by_role("row").filter(has_text="1階ロビー入口")
    expect(row).to_contain_text("使用中")
    row.get_by_role("button", name=re.compile(r"^取り消す\s*：1階ロビー入口$")).click()
    expect(admin.get_by_role("row").filter(has_text="1階ロビー入口")).to_contain_text("取り消し済み")
    # The page still open: the next ticket is refused, and says so.
    page.get_by_role("button", name="Take a number").click()
    expect(page.get_by_role("alert")).to_contain_text("can no longer be used")
    page.goto(f"{server.base}/kiosk")
    expect(page.locator("main")).to_contain_text("この端末は受付機として登録されていません")
    axe_check(page, "kiosk-unpaired")
    assert errors == [] and admin_errors == []
    admin_ctx.close()
    context.close()


def test_booking_by_phone_by_keyboard(browser: Any, open_shared_server: ServerProcess) -> None:
    server = open_shared_server
    context, page, errors = _desk(browser, server)
    page.goto(f"{server.base}/console/bookings")
    page.get_by_role("link", name="電話で予約を受ける（代理予約）").focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("電話で予約を受ける（代理予約）")
    axe_check(page, "console-booking-new")
    page.get_by_label("住民票の写し等交付請求").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="空いている時間を表示する").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#when-title")).to_contain_text("所要")
    axe_check(page, "console-booking-new-slots")
    shot(page, "console-booking-new")
    page.get_by_label("氏名（名乗られたとおりに）").focus()
    page.keyboard.type("電話 花子")
    page.keyboard.press("Tab")
    page.keyboard.type("090-5555-6666")
    first = page.locator("button[name=slot]").first
    value = first.get_attribute("value") or ""
    name = first.evaluate("(b) => b.textContent")
    assert re.fullmatch(r"\d+月\d+日（.）\d\d:\d\d〜\d\d:\d\d", name), name
    first.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".notice")).to_contain_text("予約しました")
    code = page.locator(".notice strong").inner_text()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", code), code
    axe_check(page, "console-booking-booked")
    day, start = value.split(" ")
    assert server.query("SELECT name, phone, status FROM bookings WHERE code = ? AND day = ? AND start = ?",
                        (code.replace("-", ""), day, start)) == [("電話 花子", "090-5555-6666", "booked")]
    # Today's list at the desk: a walk-in's ticket, by keyboard, with priority.
    page.goto(f"{server.base}/console/bookings?day={dt.datetime.now(JST).date().isoformat()}")
    page.get_by_label("優先（窓口で確認：妊娠中・障害のある方など）").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="番号札を出す").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"番号札 A-\d{3} を出しました"))
    axe_check(page, "console-bookings-today")
    assert errors == []
    context.close()
