"""The sync protocol in the browser (docs/sync.md), against the real server: two outreach tablets edit the same
household offline, the clash appears on the console's conflict page with both values, a person decides it
(audited) and both tablets converge; a draft started on one device continues on another; an expired session
while offline keeps the outbox and asks to sign in; the outbox can be exported to a file."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import (
    add_session,
    axe_check,
    fill_applicant,
    fill_juminhyo,
    go,
    idb_all,
    new_phone,
    poll,
    shot,
    sw_active,
    wait_all_sent,
)

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}


def write(server: ServerProcess, sql: str, params: tuple[Any, ...] = ()) -> None:
    """A write to the server's database from the test (WAL: safe while the server runs)."""
    conn = sqlite3.connect(server.db, timeout=30)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def assign(server: ServerProcess, account_id: str, resident_id: str) -> None:
    write(server, "INSERT OR IGNORE INTO outreach_assignments (account_id, resident_id, assigned_at) VALUES (?, ?, ?)",
          (account_id, resident_id, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))


def another_session(server: ServerProcess, account_id: str) -> dict[str, str]:
    """A second sign-in of the same account (another device): session + CSRF cookies."""
    import secrets

    from server.auth import store

    token = server.write(lambda c: store.create_session(c, account_id, method="test", idle_seconds=86400,
                                                        absolute_seconds=86400))
    return {"madoguchi_session": token, "madoguchi_csrf": secrets.token_urlsafe(32)}


def tablet(browser: Any, base: str, session: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    context, page, errors = new_phone(browser)
    page.set_viewport_size(TABLET)
    add_session(context, base, session)
    return context, page, errors


def replica(page: Any, key: str) -> dict[str, Any] | None:
    for r in idb_all(page, "replica"):
        if r["key"] == key:
            return r
    return None


def resync(page: Any) -> None:
    """What coming back online does (the 'online' event): sync now."""
    page.evaluate("window.dispatchEvent(new Event('online'))")


def test_two_tablets_edit_one_household_offline_and_the_clash_is_reviewed(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    one = server.login_as("outreach", display_name="訪問 一号")
    two = server.login_as("outreach", display_name="訪問 二号")
    for acc in (one, two):
        assign(server, acc["account_id"], "R0005")  # 髙橋 健一: household H003 (with 幸子)
    ctx_a, a, errors_a = tablet(browser, server.base, one)
    ctx_b, b, errors_b = tablet(browser, server.base, two)

    def check(page: Any, name: str) -> None:
        axe_check(page, name)
        shot(page, name)

    # Online once: the assigned household arrives by pull and is kept on each tablet.
    for page in (a, b):
        go(page, server.base, "")
        sw_active(page)
        page.get_by_role("link", name="担当世帯の記録").click()
        expect(page.get_by_role("link", name="髙橋 健一 さんの世帯")).to_be_visible(timeout=20000)
    check(a, "households")

    # No signal at the house: both tablets change the same household.
    ctx_a.set_offline(True)
    ctx_b.set_offline(True)
    for page, phone, birth, note in ((a, "090-1111-1111", "1948-11-05", "一号：訪問、元気そう"),
                                     (b, "090-2222-2222", "1948-11-04", "二号：電話で安否確認")):
        page.get_by_role("link", name="髙橋 健一 さんの世帯").click()
        page.wait_for_selector("#household-form")
        member = page.locator("fieldset[data-resident=R0005]")
        member.get_by_label("電話番号").fill(phone)
        if page is a:  # a date of birth the server would refuse (docs/sync.md "Field shapes") is caught here
            member.get_by_label("生年月日").fill("1948-13-05")
            page.get_by_role("button", name="保存").click()
            expect(page.locator("#h-status")).to_contain_text("生年月日は 1948-11-03 の形で")
            expect(member.get_by_label("生年月日")).to_have_attribute("aria-invalid", "true")
            assert page.locator("#h-pending").count() == 0  # nothing queued
        member.get_by_label("生年月日").fill(birth)
        page.get_by_role("button", name="保存").click()
        page.wait_for_selector("#h-pending")
        page.get_by_label("新しい記録").fill(note)
        page.get_by_role("button", name="記録を追加").click()
        expect(page.locator("#contact-log")).to_contain_text(note)
        expect(page.locator("#sync-status")).to_have_text("2件 送信待ち")
    check(b, "household-offline")

    # Back online, A first then B: B's phone is applied in receipt order (auto, flagged), B's date of birth
    # stays A's until someone decides (review), both contact-log entries are kept (append).
    ctx_a.set_offline(False)
    resync(a)
    wait_all_sent(a)
    ctx_b.set_offline(False)
    resync(b)
    wait_all_sent(b)
    rows = server.query("SELECT field, policy, outcome, server, mine FROM sync_conflicts WHERE record_id = 'R0005'"
                        " AND status = 'open' ORDER BY field")
    assert rows == [("birth_date", "review", "server_kept", '"1948-11-05"', '"1948-11-04"'),
                    ("phone", "auto", "mine_applied", '"090-1111-1111"', '"090-2222-2222"')], rows
    log = json.loads(server.query("SELECT data FROM sync_records WHERE type = 'household' AND id = 'H003'")[0][0])
    assert sorted(e["text"] for e in log["contact_log"]) == ["一号：訪問、元気そう", "二号：電話で安否確認"]

    # Tablet B shows which of its changes wait for review.
    go(b, server.base, "")
    expect(b.locator("#review-items")).to_contain_text("あなたの入力「1948-11-04」")
    check(b, "review-waiting")
    go(b, server.base, "#/h/H003")
    expect(b.locator("fieldset[data-resident=R0005] .review-note")).to_contain_text("1948-11-04")

    # The clash on the console's review page, both values side by side.
    staff = server.login_as("counter", display_name="窓口 確認")
    ctx_c, c, errors_c = new_phone(browser)
    c.set_viewport_size({"width": 1280, "height": 900})
    add_session(ctx_c, server.base, staff)
    c.goto(server.base + "/console/conflicts")
    phone = c.locator("section.conflict[data-field=phone][data-record='resident:R0005']")
    birth = c.locator("section.conflict[data-field=birth_date][data-record='resident:R0005']")
    expect(phone.locator("h2")).to_contain_text("髙橋 健一")
    expect(phone.locator("h2")).to_contain_text("電話番号")
    expect(phone.locator("td.server")).to_have_text("090-1111-1111")
    expect(phone.locator("td.mine")).to_have_text("090-2222-2222")
    expect(birth.locator("td.server")).to_have_text("1948-11-05")
    expect(birth.locator("td.mine")).to_have_text("1948-11-04")
    check(c, "console-conflicts")

    # Decide: keep the phone that was overwritten (A's), take B's date of birth.
    phone.get_by_role("button", name="サーバーの値を残す").click()
    expect(phone.locator(".resolve-status")).to_contain_text("決定しました")
    birth.get_by_role("button", name="端末の値を残す").click()
    expect(birth.locator(".resolve-status")).to_contain_text("決定しました")
    audited = server.query("SELECT count(*) FROM audit_log WHERE action = 'sync.conflict.resolve' AND subject = ?"
                           " AND actor = ?", ("resident:R0005", staff["account_id"]))
    assert audited[0][0] == 2

    # Both tablets converge after a pull; B's review item is gone.
    for page in (a, b):
        resync(page)
        poll(page, """() => new Promise((resolve) => {
            const req = indexedDB.open('madoguchi');
            req.onsuccess = () => {
              const g = req.result.transaction('replica').objectStore('replica').get('resident/R0005');
              g.onsuccess = () => { req.result.close(); const d = g.result && g.result.data;
                resolve(Boolean(d) && d.phone === '090-1111-1111' && d.birth_date === '1948-11-04'); };
            };
          })""", timeout=30)
    assert replica(a, "resident/R0005")["data"] == replica(b, "resident/R0005")["data"]
    assert replica(a, "household/H003")["data"] == replica(b, "household/H003")["data"]
    poll(b, "() => new Promise((r) => { const q = indexedDB.open('madoguchi'); q.onsuccess = () => {"
            " const g = q.result.transaction('attention').objectStore('attention').getAll();"
            " g.onsuccess = () => { q.result.close(); r(g.result.length === 0); }; }; })", timeout=30)
    go(b, server.base, "")
    go(b, server.base, "#/h/H003")
    member = b.locator("fieldset[data-resident=R0005]")
    expect(member.get_by_label("電話番号")).to_have_value("090-1111-1111")
    expect(member.get_by_label("生年月日")).to_have_value("1948-11-04")
    expect(b.locator(".review-note")).to_have_count(0)
    assert not (errors_a + errors_b + errors_c), errors_a + errors_b + errors_c
    for ctx in (ctx_a, ctx_b, ctx_c):
        ctx.close()


def test_a_draft_started_on_a_phone_continues_on_a_tablet(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    phone_session = server.login_as("resident", display_name="続き 太郎")
    ctx_p, p, errors_p = new_phone(browser)
    add_session(ctx_p, server.base, phone_session)
    go(p, server.base, "#/p/juminhyo-copy")
    sw_active(p)
    p.wait_for_selector("#form")
    p.get_by_label("自分（本人）").check()
    p.get_by_label("住民票の写し（世帯全員）").check()
    p.get_by_label("通数").fill("2")
    p.locator("#f-purpose").select_option("employment")
    draft_id = p.url.split("/d/")[1].split("/")[0]
    # Saved on the phone and, a moment later, on the server (a draft.patch per pause in typing).
    deadline_rows: list[Any] = []
    for _ in range(60):
        deadline_rows = server.query("SELECT data FROM sync_records WHERE type = 'draft' AND id = ?", (draft_id,))
        if deadline_rows and '"copies":2' in deadline_rows[0][0] and "employment" in deadline_rows[0][0]:
            break
        p.wait_for_timeout(500)
    data = json.loads(deadline_rows[0][0])
    assert data["procedure_id"] == "juminhyo-copy" and data["relation"] == "self" and data["copies"] == 2
    submission_id = data["madoguchi"]["submission_id"]

    # The same person on a tablet (another sign-in of the same account): the draft is there.
    ctx_t, tab, errors_t = new_phone(browser)
    tab.set_viewport_size(TABLET)
    add_session(ctx_t, server.base, {"cookies": another_session(server, phone_session["account_id"])})
    go(tab, server.base, "")
    card = tab.locator(f"li[data-draft='{draft_id}'] a.card-link")
    expect(card).to_have_text("住民票の写し等交付請求", timeout=20000)
    shot(tab, "draft-on-tablet")
    card.click()
    tab.wait_for_selector("#form")
    expect(tab.get_by_label("自分（本人）")).to_be_checked()
    expect(tab.get_by_label("通数")).to_have_value("2")
    tab.get_by_role("button", name="次へ進む").click()
    tab.wait_for_selector("text=窓口に来る人（請求者）")
    fill_applicant(tab, family="続き", given="太郎", postal="1000001", address=("東京都", "千代田区", "千代田", "1-1"),
                   phone="090-0000-1111")
    tab.locator("#submit").click()
    tab.wait_for_selector("#receipt-number", timeout=20000)
    assert tab.url.endswith(f"#/s/{submission_id}"), "the id made with the draft on the phone"
    wait_all_sent(tab)
    rows = [r for r in server.export() if r["id"] == submission_id]
    assert len(rows) == 1 and rows[0]["answers"]["copies"] == 2
    assert rows[0]["answers"]["applicant_name"] == {"family": "続き", "given": "太郎"}

    # Back on the phone: the draft is gone (sent from the tablet), the application is listed.
    go(p, server.base, "")
    resync(p)
    expect(p.locator(f"li[data-draft='{draft_id}']")).to_have_count(0, timeout=20000)
    assert not (errors_p + errors_t), errors_p + errors_t
    ctx_p.close()
    ctx_t.close()


def test_expired_session_offline_keeps_the_outbox_and_asks_to_sign_in(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    session = server.login_as("resident", display_name="期限 花子")
    context, page, errors = new_phone(browser)
    add_session(context, server.base, session)
    go(page, server.base, "#/p/juminhyo-copy")
    sw_active(page)
    context.set_offline(True)
    fill_juminhyo(page)
    page.locator("#submit").click()
    expect(page.locator("#sync-status")).to_have_text("1件 送信待ち", timeout=10000)
    submission_id = page.url.rsplit("/", 1)[-1]
    # The session ends while the phone is offline (expiry, or signed out elsewhere).
    write(server, "DELETE FROM sessions WHERE account_id = ?", (session["account_id"],))
    context.set_offline(False)
    resync(page)
    expect(page.locator("#sync-status")).to_have_text("送信失敗: サインインが必要です", timeout=20000)
    outbox = [json.loads(e["body"]) for e in idb_all(page, "outbox") if e["kind"] == "submission.create"]
    assert [m["entity"]["id"] for m in outbox] == [submission_id], "kept, with the same id"
    assert not [r for r in server.export() if r["id"] == submission_id]
    go(page, server.base, f"#/s/{submission_id}")
    expect(page.get_by_role("link", name="サインイン").last).to_be_visible()
    shot(page, "needs-signin")

    # Last resort: the outbox as a file.
    go(page, server.base, "#/outbox")
    with page.expect_download() as info:
        page.get_by_role("button", name="送信待ちの内容をファイルに保存").click()
    doc = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert doc["format"] == "madoguchi-outbox" and doc["account_id"] == session["account_id"]
    assert any(e["mutation"]["entity"]["id"] == submission_id for e in doc["entries"])
    axe_check(page, "outbox")

    # Signing in again as the same account resumes from the oldest entry: sent once.
    context.add_cookies([{"name": k, "value": v, "url": server.base}
                         for k, v in another_session(server, session["account_id"]).items()])
    page.evaluate("fetch('/api/session')")
    resync(page)
    wait_all_sent(page)
    assert len([r for r in server.export() if r["id"] == submission_id]) == 1
    assert not errors, errors
    context.close()
