"""Real passkeys in Chromium (virtual authenticator over CDP): staff enrollment page, sign-out, sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.auth import create_invite
from testsupport.chromium import CHROMIUM as CHROMIUM_PATH
from testsupport.chromium import CHROMIUM_FLAGS
from testsupport.servers import AppServer

CHROMIUM = Path(CHROMIUM_PATH)
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")]

ARGS = CHROMIUM_FLAGS

# What the PWA does: JSON options in, credential.toJSON() out, CSRF header from the cookie.
SIGN_IN_JS = """async () => {
  const csrf = document.cookie.match(/(?:^|;\\s*)madoguchi_csrf=([^;]+)/)[1];
  const post = (path, body) => fetch(path, {method: "POST", headers: {"Content-Type": "application/json",
    "X-CSRF-Token": csrf}, body: JSON.stringify(body)}).then(async r => ({status: r.status, body: await r.json()}));
  const opts = await post("/auth/login/options", {});
  const cred = await navigator.credentials.get({publicKey:
    PublicKeyCredential.parseRequestOptionsFromJSON(opts.body.publicKey)});
  return post("/auth/login/verify", {challenge_id: opts.body.challenge_id, credential: cred.toJSON()});
}"""


@pytest.fixture
def base(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    with AppServer.on_file(tmp_path / "b.db") as srv:
        yield srv.app, srv.url


def test_staff_enrolls_and_signs_in_with_chromium(base: tuple[Any, str]) -> None:
    from playwright.sync_api import sync_playwright

    app, base_url = base
    url = create_invite(app.state.db, "渡辺 五郎", "counter", None, base_url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable", {"enableUI": False})
            cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True}})
            page.goto(url)
            page.get_by_label("パスキーの名前").fill("窓口PC")
            page.get_by_role("button", name="パスキーを登録する").click()
            page.wait_for_url("**/console**", timeout=15_000)
            session = page.evaluate("() => fetch('/api/session').then(r => r.json())")
            assert session["signed_in"] and session["account"]["role"] == "counter"
            keys = page.evaluate("() => fetch('/api/me/passkeys').then(r => r.json())")
            assert [k["name"] for k in keys] == ["窓口PC"]

            page.goto(base_url + "/enroll/used")  # any same-origin page
            status = page.evaluate("""() => fetch('/auth/logout', {method: 'POST', headers: {'X-CSRF-Token':
                document.cookie.match(/madoguchi_csrf=([^;]+)/)[1]}}).then(r => r.status)""")
            assert status == 204
            result = page.evaluate(SIGN_IN_JS)
            assert result["status"] == 200, result
            assert result["body"]["account"]["display_name"] == "渡辺 五郎"
            assert page.goto(url).status == 410  # the invite is spent
        finally:
            browser.close()
