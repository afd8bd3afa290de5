"""Outreach staff on a tablet: enroll the demo outreach account's passkey, pick an assigned resident from the
cached list while offline, fill an application on their behalf, and see it stored exactly once with
``on_behalf_of`` when the tablet is back online."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import (
    axe_check,
    fill_applicant,
    idb_all,
    ready,
    shot,
    start_juminhyo,
    sw_active,
    virtual_authenticator,
    wait_all_sent,
)

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}
PHONE = {"width": 390, "height": 844}


def test_outreach_offline_on_behalf(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context = browser.new_context(viewport=TABLET, locale="ja-JP", service_workers="allow")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    virtual_authenticator(context, page)

    def check(name: str) -> None:
        # Checked and captured at phone size (the artifacts' common size), then back to the tablet.
        page.set_viewport_size(PHONE)
        axe_check(page, name)
        shot(page, name)
        page.set_viewport_size(TABLET)

    # The demo outreach account: its one-time enrollment link creates the passkey and signs in.
    page.goto(server.enrollment_url("outreach"))
    page.get_by_label("パスキーの名前（例：窓口PC）").fill("訪問用タブレット")
    page.get_by_role("button", name="パスキーを登録する").click()
    page.wait_for_url("**/console/**", timeout=20000)

    page.goto(server.base + "/")
    ready(page)
    sw_active(page)
    expect(page.locator("#account-link")).to_contain_text("訪問 花子")
    picker = page.get_by_label("担当の住民を選ぶ")
    expect(picker.locator("option")).to_have_count(4)  # "for myself" + the three assigned residents
    check("outreach-home")
    cached = [m for m in idb_all(page, "meta") if m["key"] == "residents"]
    assert cached and {r["id"] for r in cached[0]["value"]} == {"R0005", "R0006", "R0010"}

    # No signal at the resident's home: the app and the assigned residents come from the device.
    context.set_offline(True)
    page.close()
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    resp = page.goto(server.base + "/")
    assert resp is not None and resp.from_service_worker
    ready(page)
    picker = page.get_by_label("担当の住民を選ぶ")
    expect(picker.locator("option")).to_have_count(4)
    picker.select_option("R0005")
    expect(page.locator(".notice", has_text="代理入力")).to_contain_text("髙橋 健一")

    page.goto(server.base + "/#/p/juminhyo-copy")
    ready(page)
    expect(page.locator(".notice", has_text="代理入力")).to_contain_text("髙橋 健一")
    start_juminhyo(page, purpose="pension")
    fill_applicant(page, family="髙橋", given="健一", postal="1010021", address=("東京都", "千代田区", "外神田", "4-5-6"),
                   phone="03-1234-5678", on_filled=lambda: check("outreach-form"))
    expect(page.locator(".notice", has_text="代理入力")).to_contain_text("髙橋 健一")
    page.locator("#submit").click()
    page.wait_for_function(
        "() => document.getElementById('sync-status').textContent.includes('1件 送信待ち')", timeout=10000
    )
    check("outreach-queued")
    submission_id = page.url.rsplit("/", 1)[-1]
    outbox = idb_all(page, "outbox")
    submissions = [json.loads(o["body"]) for o in outbox if o["kind"] == "submission.create"]
    assert [m["submission"]["on_behalf_of"] for m in submissions] == ["R0005"]
    assert [m["entity"]["id"] for m in submissions] == [submission_id]
    assert not [r for r in server.export() if r["id"] == submission_id]

    # Back online: sent without a reload (the 'online' event), stored once, filed on the resident's behalf.
    context.set_offline(False)
    wait_all_sent(page)
    rows = [r for r in server.export() if r["id"] == submission_id]
    assert len(rows) == 1, rows
    assert rows[0]["on_behalf_of"] == "R0005"
    assert rows[0]["answers"]["applicant_name"] == {"family": "髙橋", "given": "健一"}
    audited = server.query(
        "SELECT count(*) FROM audit_log WHERE action = 'submission.file_on_behalf' AND subject = ?",
        (f"submission:{submission_id}",),
    )
    assert audited[0][0] == 1
    page.wait_for_selector("#receipt-number", timeout=10000)
    check("outreach-done")
    assert not errors, errors
    context.close()
