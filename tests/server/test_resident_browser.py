"""Issue 3's "Done when": in Chromium with a virtual authenticator, a resident registers a passkey, signs
out, signs in again with that passkey, and sees the resident home page — the real PWA build served by
``madoguchi serve --demo`` on ``localhost``.

tests/browser/test_pwa_offline.py registers as part of its long offline flow but never signs in with the
passkey after signing out; this test does only the sign-in round trip (and uses the PWA team's fixtures).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import ARGS, CHROMIUM, demo_server
from tests.browser.helpers import go, ready, virtual_authenticator
from testsupport.servers import ServerProcess

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = demo_server(tmp_path / "resident.db")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_resident_registers_signs_in_with_passkey_and_sees_home(served: ServerProcess) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            virtual_authenticator(context, page)

            # Register: the passkey is created in the virtual authenticator.
            go(page, served.base, "#/signin")
            page.get_by_label("表示名（ニックネーム可）").fill("ブラウザ 花子")
            page.get_by_role("button", name="はじめての方：パスキーを作成").click()
            page.wait_for_selector("#recovery-codes", timeout=20000)
            session = page.evaluate("() => fetch('/api/session').then(r => r.json())")
            assert session["signed_in"] and session["account"]["role"] == "resident"
            account_id = session["account"]["id"]
            page.get_by_role("link", name="ホームへ戻る").click()  # from the recovery codes to home
            ready(page)

            # Sign out.
            go(page, served.base, "#/signin")
            page.get_by_role("button", name="サインアウト", exact=True).click()
            page.wait_for_function("() => !document.getElementById('account-link').textContent.includes('ブラウザ')")
            assert page.evaluate("() => fetch('/api/session').then(r => r.json())")["signed_in"] is False

            # Sign in with the same passkey (discoverable credential: no user name typed).
            go(page, served.base, "#/signin")
            page.get_by_role("button", name="パスキーでサインイン").click()
            page.wait_for_function(
                "() => document.getElementById('account-link').textContent.includes('ブラウザ 花子')", timeout=20000)
            session = page.evaluate("() => fetch('/api/session').then(r => r.json())")
            assert session["signed_in"] and session["account"]["id"] == account_id

            # The resident's home page, signed in.
            go(page, served.base, "")
            ready(page)
            assert "ブラウザ 花子" in page.locator("#account-link").inner_text()
            assert page.locator("html").get_attribute("lang") == "ja"
            assert page.locator("main h1, main h2").count() >= 1
            assert not errors, errors
        finally:
            browser.close()

    # The sign-in left its trace: one passkey sign-in for this account in the audit chain.
    rows = served.query("SELECT action, details FROM audit_log WHERE actor = ? OR subject LIKE ?",
                        (account_id, f"%{account_id}%"))
    actions = [r[0] for r in rows]
    assert "auth.register" in actions and "auth.login" in actions, actions
