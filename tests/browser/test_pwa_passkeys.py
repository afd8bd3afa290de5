"""The account page in Chromium against the real server: a resident names a passkey, moves to a new
device (adds its passkey, removes the old one after a fresh passkey check), makes new recovery codes and
signs out everywhere."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import axe_check, go, new_phone, shot

pytestmark = pytest.mark.browser


def age_passkey_check(server: ServerProcess, account_id: str) -> None:
    """Ten minutes pass since the account's last passkey check (a write only the clock could make)."""
    conn = sqlite3.connect(server.db, timeout=30)
    try:
        with conn:
            conn.execute("UPDATE sessions SET verified_at = verified_at - 600 WHERE account_id = ?", (account_id,))
    finally:
        conn.close()


def test_manage_passkeys_recovery_codes_and_sign_out_everywhere(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]

    go(page, server.base, "#/signin")
    page.get_by_label("表示名（ニックネーム可）").fill("佐藤 花子")
    page.locator("#register").click()
    page.wait_for_selector("#recovery-codes", timeout=20000)
    first_codes = page.locator("#recovery-codes code").all_inner_texts()
    account_id = page.evaluate("fetch('/api/session').then((r) => r.json()).then((s) => s.account.id)")

    # The account page lists the one passkey; the resident names it.
    go(page, server.base, "#/signin")
    expect(page.locator("#passkeys li")).to_have_count(1)
    page.get_by_label("パスキーの名前").fill("古いスマートフォン")
    page.get_by_role("button", name="名前を保存").click()
    expect(page.locator("#account-status")).to_have_text("名前を保存しました。")
    axe_check(page, "account")
    shot(page, "account")
    # Its dates are Japan days: registered at 20:28 UTC is the next day in JST (the UTC day was shown).
    with sqlite3.connect(server.db, timeout=30) as conn:
        conn.execute("UPDATE credentials SET created_at = '2026-12-06T20:28:00+00:00',"
                     " last_used_at = '2026-12-07T14:59:00+00:00' WHERE account_id = ?", (account_id,))
    conn.close()
    go(page, server.base, "#/signin")
    expect(page.locator("#passkeys li .hint")).to_have_text("登録：2026/12/07　最終使用：2026/12/07")

    # A new phone: the authenticator forgets the old credential and makes a new passkey here.
    old = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(old) == 1
    cdp.send("WebAuthn.removeCredential", {"authenticatorId": authenticator, "credentialId": old[0]["credentialId"]})
    page.get_by_role("button", name="この端末のパスキーを追加").click()
    expect(page.locator("#account-status")).to_have_text("パスキーを追加しました。", timeout=20000)
    expect(page.locator("#passkeys li")).to_have_count(2)

    # Minutes later the session's passkey check is no longer fresh: removing a passkey first asks for one
    # (one more tap, with the new device's passkey), then goes through.
    age_passkey_check(server, account_id)
    old_item = page.locator("#passkeys li").filter(has=page.locator("input[value='古いスマートフォン']"))
    old_item.get_by_role("button", name="このパスキーを削除").click()
    expect(page.locator("#reauth")).to_contain_text("もう一度本人確認")
    expect(page.locator("#passkeys li")).to_have_count(2)
    axe_check(page, "account-reauth")
    shot(page, "account-reauth")
    page.get_by_role("button", name="パスキーで本人確認して続ける").click()
    expect(page.locator("#account-status")).to_have_text("パスキーを削除しました。", timeout=20000)
    expect(page.locator("#reauth")).to_be_hidden()
    expect(page.locator("#passkeys li")).to_have_count(1)
    page.get_by_role("button", name="このパスキーを削除").click()
    expect(page.locator("#account-status")).to_contain_text("できませんでした")
    expect(page.locator("#passkeys li")).to_have_count(1)

    # New recovery codes: two steps, and the old codes stop working.
    page.get_by_role("button", name="新しい回復コードを作る").click()
    expect(page.get_by_text("これまでの回復コードはすべて使えなくなります。")).to_be_visible()
    page.get_by_role("button", name="古いコードを無効にして作る").click()
    page.wait_for_selector("#recovery-codes", timeout=20000)
    new_codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(new_codes) == 10 and not set(new_codes) & set(first_codes)
    assert server.query("SELECT count(*) FROM recovery_codes WHERE account_id = ?", (account_id,))[0][0] == 10

    # Sign out everywhere: every session of the account ends, this one included.
    page.get_by_role("button", name="すべての端末でサインアウト").click()
    page.wait_for_function("() => location.hash === '#/'", timeout=20000)
    expect(page.locator("#account-link")).to_have_text("サインイン")
    assert server.query("SELECT count(*) FROM sessions WHERE account_id = ?", (account_id,))[0][0] == 0
    actions = {r[0] for r in server.query("SELECT action FROM audit_log WHERE subject = ?", (account_id,))}
    assert {"passkey.add", "passkey.remove", "auth.reauth", "auth.recovery_codes", "auth.logout_all"} <= actions

    # The new device's passkey still signs in.
    go(page, server.base, "#/signin")
    page.get_by_role("button", name="パスキーでサインイン").click()
    page.wait_for_function("() => location.hash === '#/'", timeout=20000)
    expect(page.locator("#account-link")).to_have_text("佐藤 花子 さん")
    assert not errors, errors
    context.close()
