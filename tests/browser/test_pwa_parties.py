"""婚姻届 by two residents in Chromium against the real server (issue 12 point 5): two phones, each with its
own virtual authenticator and passkey, each bound to its own registry record. The first files their part (the
partner's section is not on their form), makes an invitation code on the application page and gives it; the
partner enters it, sees the shared application, finds their part prefilled from their own record, answers
the rest and sends: the application is filed once and the first phone sees it received. axe-core on every new
screen."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from procedure_definitions.library import load_library
from procedure_definitions.parties import part_field_ids
from testsupport.servers import ServerProcess

from .helpers import axe_check, go, idb_all, new_phone, shot, virtual_authenticator

pytestmark = pytest.mark.browser


def _register_and_bind(browser: Any, server: ServerProcess, name: str, resident_id: str) -> tuple[Any, Any, list[str]]:
    context, page, errors = new_phone(browser)
    virtual_authenticator(context, page)
    go(page, server.base, "#/signin")
    page.get_by_label("表示名（ニックネーム可）").fill(name)
    page.locator("#register").click()
    page.wait_for_selector("#recovery-codes", timeout=20000)
    account = page.evaluate("fetch('/api/session').then((r) => r.json()).then((s) => s.account.id)")
    # What counter staff do after checking ID (tests/server cover the binding itself).
    server.write(lambda c: c.execute(
        "INSERT INTO identity_bindings (account_id, resident_id, bound_by, bound_at) VALUES (?, ?, 'test',"
        " '2026-01-01T00:00:00+00:00')", (account, resident_id)))
    return context, page, errors


def test_two_residents_file_a_marriage(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    konin = load_library().latest("konin")
    assert konin is not None
    theirs = part_field_ids(konin, "partner")
    first_part = {k: v for k, v in konin.scenarios[0].answers.items() if k not in theirs}

    taro_ctx, taro, taro_errors = _register_and_bind(browser, server, "山田 太郎", "R0001")
    misaki_ctx, misaki, misaki_errors = _register_and_bind(browser, server, "葛城 美咲", "R0004")

    # The first resident's form has no partner section; the first step's header says who confirms it.
    go(taro, server.base, "#/p/konin")
    taro.wait_for_selector("#form input")
    expect(taro.locator("#parties-note")).to_contain_text("結婚する相手の方")
    assert taro.locator("[id^='f-partner_']").count() == 0
    # Their part is sent like any submission (its form pages are covered elsewhere).
    sid = str(uuid.uuid4())
    status = taro.evaluate(
        """async ([sid, answers]) => {
            const csrf = (document.cookie.match(/madoguchi_csrf=([^;]+)/) || [])[1] || '';
            const r = await fetch('/api/submissions', {method: 'POST', headers: {'Content-Type': 'application/json',
              'X-CSRF-Token': decodeURIComponent(csrf)}, body: JSON.stringify({id: sid, procedure_id: 'konin',
              procedure_version: '2.0.0', answers})});
            return [r.status, (await r.json()).status];
        }""", [sid, first_part])
    assert status == [201, "awaiting_partner"], status
    go(taro, server.base, "#/")  # the home page stores the account's submissions on the device

    # The application page: waiting for the partner, an invitation code (shown once, expiry in JST).
    go(taro, server.base, f"#/s/{sid}")
    expect(taro.locator("h1")).to_have_text("相手の方の確認待ち")
    expect(taro.locator("#parties")).to_contain_text("招待コードを作って")
    taro.get_by_role("button", name="招待コードを作る").click()
    code = taro.locator("#party-code-value")
    expect(code).to_have_text(re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$"))
    expect(taro.locator("#party-code-box")).to_contain_text("日本時間")
    axe_check(taro, "party-invite")
    shot(taro, "party-invite")
    the_code = code.inner_text()

    # The partner: home shows where to enter a code; a wrong code is said plainly.
    go(misaki, server.base, "#/")
    misaki.get_by_role("link", name="招待コードを入力する").click()
    misaki.wait_for_selector("#party-code")
    axe_check(misaki, "party-code")
    misaki.get_by_label("招待コード").fill("ZZZZ-ZZZZ-ZZZZ")
    misaki.get_by_role("button", name="開く").click()
    expect(misaki.locator("#party-code-error")).to_contain_text("招待コードが違うか")
    misaki.get_by_label("招待コード").fill(the_code.lower().replace("-", " "))
    misaki.get_by_role("button", name="開く").click()
    misaki.wait_for_selector("#form")
    # Claimed: the home page lists it as waiting for my confirmation, until I send it.
    go(misaki, server.base, "#/")
    expect(misaki.locator("#party-pending li")).to_have_count(1)
    axe_check(misaki, "party-home")
    misaki.locator("#party-pending a").click()
    misaki.wait_for_selector("#form")
    # The shared application (no 個人番号 of the other), their own part prefilled from THEIR record.
    expect(misaki.locator("main")).to_contain_text("申請の内容")
    expect(misaki.locator("input[name='partner_name.family']")).to_have_value("葛\U000e0100城")  # never normalized
    expect(misaki.locator("input[name='partner_name.given']")).to_have_value("美咲")
    expect(misaki.locator("main")).not_to_contain_text("123456789018")
    axe_check(misaki, "party-confirm")
    shot(misaki, "party-confirm")
    # Sending with a required field missing says what to do; then the rest of their part.
    misaki.get_by_role("button", name="送信").click()
    expect(misaki.locator("#error-summary")).to_be_visible()
    misaki.locator("#c-partner_honseki").fill("東京都千代田区麹町三丁目2番")
    misaki.locator("#c-partner_honseki").blur()
    # What they typed stays on the device until it goes through (a reload, a lost connection).
    deadline = time.monotonic() + 10
    while not any(m["key"] == f"confirm:{sid}" and (m["value"] or {}).get("answers", {}).get("partner_honseki")
                  for m in idb_all(misaki, "meta")):
        assert time.monotonic() < deadline, "the partner's answers were not kept on the device"
        misaki.wait_for_timeout(100)
    misaki.reload()
    misaki.wait_for_selector("#form")
    expect(misaki.locator("#c-partner_honseki")).to_have_value("東京都千代田区麹町三丁目2番")
    misaki.get_by_label("長女", exact=True).check()
    misaki.get_by_label("初婚", exact=True).check()
    misaki.get_by_role("button", name="送信").click()
    expect(misaki.locator("#party-state")).to_have_text("あなたの確認は済みました。", timeout=20000)
    axe_check(misaki, "party-confirmed")

    # Filed once, with both parts; the first phone sees it received.
    rows = server.query("SELECT status, answers FROM submissions WHERE id = ?", (sid,))
    assert rows[0][0] == "received"
    assert '"partner_honseki":"東京都千代田区麹町三丁目2番"' in str(rows[0][1])
    assert server.query("SELECT count(*) FROM audit_log WHERE action = 'submission.file_parts' AND subject = ?",
                        (f"submission:{sid}",))[0][0] == 1
    got = taro.evaluate("(sid) => fetch(`/api/submissions/${sid}`).then((r) => r.json()).then((s) => s.status)", sid)
    assert got == "received"
    assert not taro_errors and not misaki_errors, (taro_errors, misaki_errors)
    taro_ctx.close()
    misaki_ctx.close()
