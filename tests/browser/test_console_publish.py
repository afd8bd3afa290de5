"""The configurator's console in a real browser with a (virtual) passkey: a configurator enrolls and lands on
/console/procedures, opens a pushed draft, reads the diff with its breaking change, presses 公開する, passes
the passkey check the page asks for (the session's check is stale), and lands on the procedure's history with
the new version live; a resident's phone then gets that version in the app, with no restart. A publish request
is opened and withdrawn on its page. axe-core finds nothing on any page."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any

import httpx
import yaml
from playwright.sync_api import expect

from procedure_definitions.library import DEFAULT_LIBRARY
from testsupport.servers import ServerProcess

from .helpers import axe_check, go, new_phone, shot, virtual_authenticator

PID = "juminhyo-copy"
NEW_LABEL = "使いみち（新しい版で確認）"


def _new_version(version: str) -> str:
    """The shipped 住民票の写し with a new label for 使いみち and the 住宅・不動産 choice removed (breaking)."""
    d = yaml.safe_load((DEFAULT_LIBRARY / "procedures" / f"{PID}.yaml").read_text(encoding="utf-8"))
    for f in d["sections"][0]["fields"]:
        if f["id"] == "purpose":
            f["label"]["ja"] = NEW_LABEL
            f["choices"] = [c for c in f["choices"] if c["value"] != "housing"]
    d["version"] = version
    return yaml.safe_dump(d, allow_unicode=True, sort_keys=False)


def _stale(server: ServerProcess) -> None:
    def job(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE sessions SET verified_at = verified_at - 100000 WHERE verified_at IS NOT NULL")

    server.write(job)


def _bundle_has(server: ServerProcess, version: str) -> bool:
    """Whether the PWA bundle being served lists ``version`` of the procedure."""
    html = httpx.get(f"{server.base}/", timeout=30).text
    m = re.search(r'data-index="([^"]+)"', html)
    if not m:
        return False
    index = httpx.get(f"{server.base}/{m.group(1).lstrip('/')}", timeout=30).json()
    return f'"{version}"' in json.dumps(index.get("procedures", {}).get(PID))


def test_a_configurator_publishes_with_a_passkey_and_the_phone_gets_it(browser: Any, shared_server: ServerProcess
                                                                      ) -> None:
    server = shared_server
    # A notebook (another configurator's session) pushed the draft; a second one is asked to be published.
    session = server.login_as("configurator", display_name="ノート 太郎")
    notebook = httpx.Client(base_url=server.base, timeout=60, headers=session["headers"], cookies=session["cookies"])
    draft = notebook.post("/api/drafts", json={"filename": "juminhyo.yaml", "source": _new_version("1.5.0")}).json()
    assert draft["ok"], draft["lines"]
    other = yaml.safe_load((DEFAULT_LIBRARY / "procedures" / "tenkyo.yaml").read_text(encoding="utf-8"))
    other["version"] = "9.0.0"
    d2 = notebook.post("/api/drafts", json={"filename": "tenkyo.yaml",
                                            "source": yaml.safe_dump(other, allow_unicode=True)}).json()
    r = notebook.post(f"/api/drafts/{d2['id']}/publish-request")
    assert r.status_code == 202, r.text
    asked = r.json()

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    virtual_authenticator(context, page)
    page.goto(server.enrollment_url("configurator"))
    page.get_by_role("button", name="パスキーを登録する").click()
    # The configurator's role lands on its own page, never on a refusal.
    page.wait_for_url("**/console/procedures", timeout=20000)
    expect(page.get_by_role("heading", level=1)).to_have_text("手続きの設定")
    expect(page.get_by_role("link", name="手続きの設定")).to_have_attribute("aria-current", "page")
    axe_check(page, "console-procedures")
    shot(page, "console-procedures")

    # The pushed draft, from the list: check results, the diff and what it means for drafts on phones.
    page.get_by_role("link", name="1.5.0").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("下書き")
    expect(page.locator("#check-ok")).to_have_text("エラーはありません。")
    diff = page.locator("#diff")
    expect(diff.locator("tr.breaking")).to_have_count(1)
    expect(diff.locator("tr.breaking")).to_contain_text("住宅・不動産")
    expect(diff.locator("tr.breaking")).to_contain_text("送信は受け付けられません")
    expect(diff).to_contain_text(NEW_LABEL)
    page.get_by_role("button", name="プレビューのリンクと QR コードを作る").click()
    expect(page.locator("#preview-qr")).to_be_visible()
    axe_check(page, "console-draft")
    shot(page, "console-draft")

    # 公開する: the session's passkey check is old, so the page runs the ceremony, then publishes.
    _stale(server)
    assert "1.5.0" not in {r["version"] for r in httpx.get(f"{server.base}/api/procedures").json() if r["id"] == PID}
    page.get_by_label("受付終了日時（日本時間・任意）").focus()  # keyboard: the form is reachable and labelled
    page.get_by_role("button", name="公開する").click()
    page.wait_for_url(f"**/console/procedures/{PID}", timeout=30000)
    published = time.monotonic()
    live_row = page.locator("#versions tr.live")
    expect(live_row.locator("th")).to_have_text("1.5.0")
    expect(live_row).to_contain_text("公開中")
    expect(live_row).to_contain_text("コンソール")
    rows = {r["version"]: r for r in httpx.get(f"{server.base}/api/procedures").json() if r["id"] == PID}
    assert rows["1.5.0"]["retired"] is False and rows["1.5.0"]["origin"] == "console"
    # 廃止する's confirmation names the version residents would get back.
    live_row.locator("summary").click()
    expect(page.locator("#versions tr.live .confirm")).to_contain_text("住民には版 1.1.0 が表示されます")
    axe_check(page, "console-procedure")
    shot(page, "console-procedure")

    # A publish request: its page, then 取り下げる.
    page.goto(asked["approval_url"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("公開申請")
    expect(page.locator("#request-state")).to_have_text("承認待ち")
    axe_check(page, "console-request")
    page.get_by_role("button", name="取り下げる").click()
    expect(page.locator("#request-state")).to_have_text("取り下げ", timeout=15000)

    # The resident's phone: the app offers the new version (the bundle was rebuilt in place, no restart).
    deadline = time.monotonic() + 90
    while not _bundle_has(server, "1.5.0"):
        assert time.monotonic() < deadline, "the PWA bundle never listed 1.5.0"
        time.sleep(0.2)
    print(f"\npublish -> PWA bundle lists it: {time.monotonic() - published:.1f} s")
    phone, ppage, perrors = new_phone(browser, is_mobile=True, has_touch=True)
    go(ppage, server.base, f"#/p/{PID}")
    ppage.wait_for_selector("#form")
    expect(ppage.get_by_text(NEW_LABEL).first).to_be_visible()
    expect(ppage.locator("#f-purpose option[value=housing]")).to_have_count(0)
    axe_check(ppage, "resident-new-version")
    shot(ppage, "resident-new-version")
    for ctx in (context, phone):
        ctx.close()
    notebook.close()
    assert not errors and not perrors, errors + perrors
