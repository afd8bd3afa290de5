"""The resident app end to end in Chromium against the real server: install, offline use, the outbox,
exactly-once delivery, an app update while items wait, accessibility (axe-core) and screenshots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from testsupport.servers import ServerProcess

from .helpers import axe_check, fill_juminhyo, go, ready, shot, virtual_authenticator, wait_draft

pytestmark = pytest.mark.browser


def sw_active(page: Any) -> None:
    page.wait_for_function(
        "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30000
    )


def sync_text(page: Any) -> str:
    return page.locator("#sync-status").inner_text()


def test_offline_first_flow(browser: Any, server: ServerProcess, library_copy: Path) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="ja-JP", service_workers="allow"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    virtual_authenticator(context, page)

    def check(name: str) -> None:
        axe_check(page, name)
        shot(page, name)

    # First visit: the service worker installs and takes control.
    go(page, server.base, "")
    sw_active(page)
    assert page.locator("#sync-status").get_attribute("role") == "status"
    check("home")

    # Sign in with a passkey (resident self-registration).
    go(page, server.base, "#/signin")
    check("signin")
    page.get_by_label("表示名（ニックネーム可）").fill("テスト 住民")
    page.locator("#register").click()
    page.wait_for_selector("#recovery-codes", timeout=20000)
    go(page, server.base, "")
    page.wait_for_function("() => document.getElementById('account-link').textContent.includes('テスト')")

    go(page, server.base, "#/find")
    page.get_by_label("手続きの名前やことば").fill("residence")
    page.wait_for_selector("text=住民票の写し等交付請求")
    check("finder")

    # Offline: close the page and open the app again; it and a procedure still work.
    context.set_offline(True)
    page.close()
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    resp = page.goto(server.base + "/")
    assert resp is not None and resp.from_service_worker
    ready(page)
    go(page, server.base, "#/p/juminhyo-copy")
    check("procedure")
    fill_juminhyo(page, check=check)
    check("review")
    submit = page.locator("#submit")
    assert submit.inner_text().strip() == "送信"
    submit.click()
    page.wait_for_function(
        "() => document.getElementById('sync-status').textContent.includes('1件 送信待ち')", timeout=10000
    )
    assert "1件 送信待ち" in sync_text(page)
    check("queued")
    submission_id = page.url.rsplit("/", 1)[-1]

    # Leave a second application half-filled as a draft.
    go(page, server.base, "#/p/juminhyo-copy")
    page.wait_for_selector("#form")
    page.get_by_label("自分（本人）").check()
    wait_draft(page, "d.answers && d.answers.relation === 'self'")  # autosave is asynchronous
    go(page, server.base, "")
    assert page.locator(".card", has_text="住民票の写し等交付請求").count() >= 1

    # English switch: lang attribute and the final button's text.
    page.select_option("#lang", "en")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert "1 waiting to send" in sync_text(page)
    page.select_option("#lang", "ja")
    page.wait_for_function("() => document.documentElement.lang === 'ja'")

    # App update while the item waits: a changed procedure, a new build, the server restarted on the same db.
    server.stop()
    proc = library_copy / "procedures" / "juminhyo-copy.yaml"
    text = proc.read_text(encoding="utf-8")
    new = re.sub(r"^version: 1\.1\.0$", "version: 1.1.1", text, flags=re.M)
    new = (
        new.replace("住民票の写しを請求します。", "住民票の写しを請求します（改訂）。")
        if "住民票の写しを請求します。" in new
        else new
    )
    proc.with_name("juminhyo-copy-1.1.1.yaml").write_text(new, encoding="utf-8")
    server.start()
    old_version = page.evaluate("document.documentElement.dataset.build")

    context.set_offline(False)
    page.reload()
    ready(page)
    page.wait_for_function(f"() => document.documentElement.dataset.build !== {old_version!r}", timeout=30000)
    ready(page)
    page.wait_for_function(
        "() => document.getElementById('sync-status').textContent.includes('すべて送信済み')", timeout=30000
    )
    assert page.locator(".card", has_text="住民票の写し等交付請求").count() >= 2  # the draft and the receipt

    # The server holds the offline submission exactly once.
    rows = [
        r for r in server.export() if r.get("id") == submission_id or r.get("submission_id") == submission_id
    ]
    assert len(rows) == 1, rows
    go(page, server.base, f"#/s/{submission_id}")
    page.wait_for_selector("#receipt-number")
    check("done")

    # The half-filled draft survived the update and still opens (old procedure version).
    go(page, server.base, "")
    page.locator("a.card-link", has_text="住民票の写し等交付請求").first.click()
    page.wait_for_selector("#form")
    assert page.get_by_label("自分（本人）").is_checked()
    # ...moved to the newly published version on the device (answers kept, nothing new to ask), and the
    # change of version reaches the server as an ordinary draft.patch.
    assert "1.1.0 → 1.1.1" in page.locator("#migration-notice").inner_text()
    draft_id = page.url.split("/d/")[1].split("/")[0]
    page.wait_for_function(
        "() => document.getElementById('sync-status').textContent.includes('すべて送信済み')", timeout=30000
    )
    for _ in range(40):
        rows = server.query("SELECT data FROM sync_records WHERE type = 'draft' AND id = ?", (draft_id,))
        if rows and '"procedure_version":"1.1.1"' in rows[0][0]:
            break
        page.wait_for_timeout(500)
    assert rows and '"relation":"self"' in rows[0][0] and '"procedure_version":"1.1.1"' in rows[0][0], rows
    assert not errors, errors
    context.close()
