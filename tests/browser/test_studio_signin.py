"""A configurator signs a notebook in, in a real browser with a (virtual) passkey: the notebook client's
``connect(flow="loopback")`` opens the sign-in page, the person signs in, reads the consent page, presses 許可する
(the page asks for the passkey again: the session's check was stale) and the browser lands on the client's
loopback listener. Then a device code is approved on /console/device (typed with the keyboard) and a personal
token made on /console/tokens (shown once, then revoked). axe-core finds nothing on any of these pages."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import httpx

from madoguchi.studio import connect
from testsupport.servers import ServerProcess

from .helpers import axe_check, shot, virtual_authenticator

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _stale(server: ServerProcess) -> None:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE sessions SET verified_at = verified_at - 1000 WHERE verified_at IS NOT NULL")

    server.write(job)


def test_a_notebook_signs_in_and_a_device_is_approved(browser: Any, shared_server: ServerProcess,
                                                       monkeypatch: Any) -> None:
    monkeypatch.delenv("MADOGUCHI_TOKEN", raising=False)
    server = shared_server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    virtual_authenticator(context, page)
    page.goto(server.enrollment_url("configurator"))
    page.get_by_role("button", name="パスキーを登録する").click()
    page.wait_for_url("**/console/**", timeout=20000)
    page.evaluate("""() => fetch('/auth/logout', {method: 'POST', credentials: 'same-origin',
        headers: {'X-CSRF-Token': (document.cookie.match(/madoguchi_csrf=([^;]+)/) || [])[1] || ''}})""")

    def system_browser(url: str) -> None:
        page.goto(url)
        assert page.get_by_role("heading", level=1).inner_text() == "サインイン"
        axe_check(page, "studio-signin")
        page.get_by_role("button", name="パスキーでサインイン").click()
        page.get_by_role("button", name="許可する").wait_for(timeout=15000)
        text = page.locator("main").inner_text()
        assert "このコンピューター上で" in text and "手続の下書き" in text and "公開" in text
        axe_check(page, "studio-consent")
        shot(page, "studio-consent")
        _stale(server)  # the sign-in's passkey check is now old: 許可する asks again
        page.get_by_role("button", name="許可する").click()
        page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/callback\?"), timeout=20000)
        assert "サインインしました" in page.locator("body").inner_text()

    studio = connect(server.base, flow="loopback", open_browser=system_browser, say=lambda s: None)
    try:
        assert studio.account["role"] == "configurator"
    finally:
        studio.close()

    # The device flow: a kernel elsewhere asks; the person types the code and approves it.
    d = httpx.post(server.base + "/oauth/device_authorization",
                   data={"client_id": "madoguchi-studio", "scope": "drafts", "client_host": "hub-kernel-12"}).json()
    page.goto(server.base + "/console/device")
    axe_check(page, "studio-device-entry")
    page.get_by_label("表示されたコード（8文字）").fill(d["user_code"].lower())
    page.keyboard.press("Enter")
    page.get_by_role("button", name="許可する").wait_for()
    text = page.locator("main").inner_text()
    assert "hub-kernel-12" in text and "自分で始めた" in text
    axe_check(page, "studio-device-approve")
    shot(page, "studio-device-approve")
    page.get_by_role("button", name="許可する").click()
    page.wait_for_url("**/console/device?done=approved")
    got = httpx.post(server.base + "/oauth/token", data={"grant_type": DEVICE_GRANT, "device_code": d["device_code"],
                                                         "client_id": "madoguchi-studio"})
    assert got.status_code == 200, got.text

    # A personal token for CI: shown once, listed without its secret, revoked.
    page.goto(server.base + "/console/tokens")
    axe_check(page, "studio-tokens")
    page.get_by_label("名前（用途）").fill("夜間チェック")
    page.get_by_label("有効日数（最長 90 日）").fill("14")
    page.get_by_role("button", name="作成する").click()
    secret = page.locator("#studio-secret code")
    secret.wait_for()
    value = secret.inner_text()
    assert value.startswith("mdg_")
    assert httpx.get(server.base + "/api/me/token", headers={"Authorization": f"Bearer {value}"}).status_code == 200
    page.reload()
    assert value not in page.content() and "夜間チェック" in page.locator("table").inner_text()
    axe_check(page, "studio-tokens-list")
    page.get_by_role("button", name="取り消す: 夜間チェック").click()
    page.wait_for_load_state()
    assert "夜間チェック" not in page.locator("main").inner_text()
    assert httpx.get(server.base + "/api/me/token", headers={"Authorization": f"Bearer {value}"}).status_code == 401
    assert not errors, errors
    context.close()
