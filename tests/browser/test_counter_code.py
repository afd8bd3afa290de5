"""Pre-entry from home to the counter, in real browsers: a resident (a real passkey on a virtual authenticator)
starts a 転居届 at home, answers a little, and from the draft's card opens 「窓口で続きをする」: a 6-character code
and its QR code carrying the draft's answers. The clerk (a second browser context) types the code on the visit
page with the keyboard, sees the pre-entry readably (titles and labels, never ids) and binds the resident's
account to the visit's registry record in one click. axe-core finds nothing on the new screens."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, go, new_phone, poll, shot, virtual_authenticator, wait_draft


def test_a_resident_brings_a_draft_to_the_counter(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    # The resident at home: a new passkey account (not yet bound to the registry).
    context, page, errors = new_phone(browser)
    virtual_authenticator(context, page)
    go(page, server.base, "#/signin")
    page.get_by_label("表示名（ニックネーム可）").fill("山田 太郎")
    page.locator("#register").click()
    page.wait_for_selector("#recovery-codes", timeout=20000)
    account_id = page.evaluate("fetch('/api/session').then((r) => r.json()).then((s) => s.account.id)")

    # A 転居届 started at home: the new household's head and the new postal code.
    go(page, server.base, "#/p/tenkyo")
    page.wait_for_selector("#form")
    head = page.locator("[data-field=new_head_name]")
    head.get_by_label("姓").fill("山田")
    head.get_by_label("名").fill("太郎")
    page.locator("#f-new_postal_code").fill("1010021")
    page.locator("#f-new_postal_code").blur()
    wait_draft(page, "d.procedure_id === 'tenkyo' && String(d.answers.new_postal_code || '').replace('-', '') === '1010021'"
                     " && d.answers.new_head_name && d.answers.new_head_name.given === '太郎'")

    # From the home page's draft card: 「窓口で続きをする」.
    go(page, server.base, "#/")
    expect(page.get_by_role("link", name="窓口で見せるコード")).to_be_visible()
    page.locator("[data-draft] a[href^='#/k/']").first.click()
    page.wait_for_selector("#counter-make")
    expect(page.locator("h1")).to_have_text("窓口で見せるコード")
    expect(page.locator("main .notice").first).to_contain_text("転居届")
    axe_check(page, "counter-code-before")
    page.locator("#counter-make").click()
    code_box = page.locator("#counter-code")
    expect(code_box).to_be_visible()
    shown = code_box.locator("[aria-hidden=true]").inner_text()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{3} [0-9A-HJKMNP-TV-Z]{3}", shown), shown
    code = shown.replace(" ", "")
    # Read aloud one character at a time; the QR code is an image with a name; the time is Japan time.
    expect(code_box.locator(".visually-hidden")).to_have_text("コード：" + " ".join(code))
    expect(page.get_by_role("img", name=re.compile("コード"))).to_be_visible()
    expect(page.locator("#counter-until")).to_contain_text("日本時間")
    axe_check(page, "counter-code-shown")
    shot(page, "counter-code")
    # Offline, the code made stays on screen (kept on the device); a new one needs the network, and says so.
    poll(page, "() => Boolean(navigator.serviceWorker && navigator.serviceWorker.controller)", timeout=30)
    context.set_offline(True)
    go(page, server.base, "#/k")
    expect(page.locator("#counter-code [aria-hidden=true]")).to_have_text(shown)
    expect(page.locator("#counter-error")).to_contain_text("インターネット接続が必要です")
    context.set_offline(False)

    # The counter: a visit for 山田 太郎 (R0001 in the demo registry) opened by the clerk.
    clerk = server.login_as("counter", display_name="窓口 職員")
    vid = str(uuid.uuid4())
    with httpx.Client(base_url=server.base, cookies=clerk["cookies"], headers=clerk["headers"]) as c:
        r = c.post("/api/visits", json={"id": vid, "resident_id": "R0001"})
        assert r.status_code == 201, r.text
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    add_session(desk, server.base, clerk)
    cpage = desk.new_page()
    cerrors: list[str] = []
    cpage.on("pageerror", lambda e: cerrors.append(str(e)))
    cpage.goto(f"{server.base}/console/visits/{vid}")
    axe_check(cpage, "visit-counter-code-form")
    # Keyboard only, as a USB scanner types it: focus the labelled input, type, Enter.
    cpage.get_by_role("textbox", name="窓口コード", exact=True).focus()
    cpage.keyboard.type(code.lower())
    cpage.keyboard.press("Enter")
    expect(cpage.locator("#preentry-title")).to_be_visible()
    panel = cpage.locator("section.preentry")
    expect(panel.locator("#preentry-answers")).to_have_text("事前入力：転居届")
    expect(panel).to_contain_text("新しい世帯の世帯主")
    expect(panel).to_contain_text("山田 太郎")
    expect(panel).to_contain_text("〒101-0021")
    assert "tenkyo" not in panel.inner_text() and "new_head_name" not in panel.inner_text()
    expect(panel).to_contain_text("まだ結び付いていません")
    bind = cpage.get_by_role("button", name="この住民の記録と結び付ける")
    expect(bind).to_have_attribute("aria-describedby", "bind-hint")
    expect(cpage.locator("#bind-hint")).to_contain_text("本人確認書類")
    axe_check(cpage, "visit-preentry")
    shot(cpage, "visit-preentry")
    bind.click()
    expect(panel).to_contain_text("この方の住民記録と結び付いています")
    expect(cpage.get_by_role("button", name="この住民の記録と結び付ける")).to_have_count(0)
    axe_check(cpage, "visit-preentry-bound")
    assert server.query("SELECT resident_id FROM identity_bindings WHERE account_id = ?", (account_id,)) == [("R0001",)]
    # The resident's app now knows them: their profile is verified.
    assert page.evaluate("fetch('/api/me/profile').then((r) => r.json()).then((p) => p.verified)") is True
    # A code made on #/k itself (no pre-entry): the code, its QR code and notes, nothing else (never 「null」).
    go(page, server.base, "#/k")
    expect(page.locator("#counter-code [aria-hidden=true]")).to_have_text(shown)
    page.locator("#counter-make").click()
    expect(page.locator("#counter-code [aria-hidden=true]")).not_to_have_text(shown)
    box = page.locator("#counter-code-box")
    expect(box.locator(".meta")).to_have_count(0)
    assert "null" not in box.inner_text() and "undefined" not in box.inner_text()
    assert box.inner_text().rstrip().endswith(page.locator("#counter-code-box .hint").inner_text())
    assert errors == [] and cerrors == []
    desk.close()
    context.close()
