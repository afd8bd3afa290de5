"""「パスキーをなくした方」 in Chromium against the real server: a resident registers with a passkey and notes a
recovery code; on a new phone (a new browser context with a fresh virtual authenticator) the code alone makes a
new passkey and signs in; the code then no longer works. Every screen passes axe-core."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import axe_check, go, new_phone, shot, virtual_authenticator

pytestmark = pytest.mark.browser


def test_recovery_code_alone_makes_a_new_passkey(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    # The first phone: register, note the codes shown once.
    context, page, errors = new_phone(browser)
    virtual_authenticator(context, page)
    go(page, server.base, "#/signin")
    page.get_by_label("表示名（ニックネーム可）").fill("高橋 一郎")
    page.locator("#register").click()
    page.wait_for_selector("#recovery-codes", timeout=20000)
    codes = page.locator("#recovery-codes code").all_inner_texts()
    account_id = page.evaluate("fetch('/api/session').then((r) => r.json()).then((s) => s.account.id)")
    # Named after the device and browser, never the user-agent string.
    first = server.query("SELECT name FROM credentials WHERE account_id = ?", (account_id,))
    assert first == [("Linux の Chrome",)], first
    context.close()
    assert not errors, errors

    # The phone is lost. A new one, with an authenticator that has never seen this account.
    context, page, errors = new_phone(browser)
    virtual_authenticator(context, page)
    go(page, server.base, "#/signin")
    page.get_by_role("link", name="パスキーをなくした方").click()
    page.wait_for_selector("#recover-form")
    expect(page.locator("h1")).to_have_text("パスキーをなくした方")
    axe_check(page, "recover")
    shot(page, "recover")

    # A typo first: said plainly, nothing spent.
    page.get_by_label("回復コード").fill("ABCD-EFGH-JKMN-PQRS-TVWX")
    page.get_by_role("button", name="新しいパスキーを作ってサインイン").click()
    expect(page.locator("#recover-status")).to_contain_text("回復コードが正しくないか")
    axe_check(page, "recover-wrong")
    # The connection drops: the message says what to do (the code was not spent).
    page.route("**/auth/recovery/options", lambda route: route.abort())
    page.get_by_role("button", name="新しいパスキーを作ってサインイン").click()
    expect(page.locator("#recover-status")).to_contain_text("インターネットにつながっていることを確かめて、もう一度押してください")
    page.unroute("**/auth/recovery/options")

    # The code as typed from paper on a phone: lower case, spaces instead of dashes.
    page.get_by_label("回復コード").fill(codes[4].lower().replace("-", " "))
    page.get_by_role("button", name="新しいパスキーを作ってサインイン").click()
    page.wait_for_selector("#recovered", timeout=20000)
    expect(page.locator("#account-link")).to_have_text("高橋 一郎 さん")
    expect(page.locator("#passkeys li")).to_have_count(2)
    axe_check(page, "recovered")
    shot(page, "recovered")
    assert server.query("SELECT count(*) FROM credentials WHERE account_id = ?", (account_id,))[0][0] == 2
    assert server.query("SELECT count(*) FROM recovery_codes WHERE account_id = ? AND used_at IS NOT NULL",
                        (account_id,))[0][0] == 1
    assert [r for r in server.query("SELECT details FROM audit_log WHERE action = 'auth.recover' AND subject = ?",
                                    (account_id,))]

    # The lost phone's passkey can go at once (the new passkey's registration was the passkey check).
    # Both are 「Linux の Chrome」 here: the new one is marked, the lost one is the other.
    expect(page.locator("#passkeys li[data-fresh=true]")).to_contain_text("この端末（いま登録）")
    lost = page.locator("#passkeys li:not([data-fresh])")
    lost.get_by_role("button", name="このパスキーを削除").click()
    expect(page.locator("#account-status")).to_have_text("パスキーを削除しました。", timeout=20000)
    expect(page.locator("#passkeys li")).to_have_count(1)

    # Signed out, the used code no longer works; the new passkey signs in.
    page.get_by_role("button", name="サインアウト", exact=True).click()
    page.wait_for_function("() => location.hash === '#/'")
    go(page, server.base, "#/recover")
    page.get_by_label("回復コード").fill(codes[4])
    page.get_by_role("button", name="新しいパスキーを作ってサインイン").click()
    expect(page.locator("#recover-status")).to_contain_text("すでに使われています")
    go(page, server.base, "#/signin")
    page.get_by_role("button", name="パスキーでサインイン").click()
    page.wait_for_function("() => location.hash === '#/'", timeout=20000)
    expect(page.locator("#account-link")).to_have_text("高橋 一郎 さん")
    assert not errors, errors
    context.close()

