"""The console works without JavaScript (hidden ``_csrf_token`` field) and every page keeps the CONTRACT:
``<label>``ed inputs, buttons with visible text, Japanese UI."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import FakeBuild, Lib, answers, make_proc
from testsupport.chromium import CHROMIUM as CHROMIUM_PATH
from testsupport.chromium import CHROMIUM_FLAGS
from testsupport.servers import AppServer

CHROMIUM = Path(CHROMIUM_PATH)


class FormAudit(HTMLParser):
    """Collects controls, labels and buttons of a page to check the CONTRACT."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = ""
        self.controls: list[dict[str, str]] = []  # with "wrapped": "1" when inside a <label>
        self.label_for: set[str] = set()
        self.buttons: list[str] = []
        self._label_depth = 0
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({**a, "tag": tag, "wrapped": "1" if self._label_depth else ""})
        elif tag == "button":
            self._button = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1
        elif tag == "button" and self._button is not None:
            self.buttons.append("".join(self._button).strip())
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)


def check_contract(html: str) -> FormAudit:
    audit = FormAudit()
    audit.feed(html)
    assert audit.lang == "ja"
    for c in audit.controls:
        assert c["wrapped"] or c.get("id") in audit.label_for, f"unlabelled control: {c}"
    assert all(audit.buttons), f"button without visible text: {audit.buttons}"
    return audit


def hidden_token(html: str) -> str:
    m = re.search(r'name="_csrf_token" value="([^"]*)"', html)
    assert m, "form without the hidden _csrf_token field"
    return m.group(1)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp = tmp_path_factory.mktemp("nojs")
    s = AppServer.on_file(tmp / "c.db", library=Lib([make_proc()]), build_result=FakeBuild())
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


def submit(srv: AppServer) -> dict[str, Any]:
    r = srv.login("resident").post("/api/submissions", json={
        "id": str(uuid.uuid4()), "procedure_id": "test-proc", "procedure_version": "1.0.0", "answers": answers()})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def browser_client(srv: AppServer, role: str, **kw: Any) -> httpx.Client:
    """Like a browser without JS: cookies only, no X-CSRF-Token header."""
    c = srv.login(role, **kw)
    del c.headers["X-CSRF-Token"]
    return c


def test_every_console_page_keeps_the_contract(srv: AppServer) -> None:
    receipt = submit(srv)
    admin = srv.login("admin")
    pages = {
        "queue": admin.get("/console/"),
        "detail": admin.get(f"/console/submissions/{receipt['id']}"),
        "bind": admin.get("/console/bind", params={"q": "山田"}),
        "bind-error": admin.post("/console/bind", data={"account_id": "nobody", "resident_id": "R0001"}),
        "status-error": admin.post(f"/console/submissions/{receipt['id']}/status", data={"status": "completed"}),
    }
    for name, r in pages.items():
        assert r.headers["content-type"].startswith("text/html"), name
        audit = check_contract(r.text)
        if name in ("queue", "detail", "bind"):
            assert r.status_code == 200, name
            assert audit.buttons, name
        assert "<script>" not in r.text, name  # only the external console.js, never inline script
    assert pages["bind-error"].status_code == 404 and "そのアカウントはありません" in pages["bind-error"].text
    assert pages["status-error"].status_code == 409 and "変更できません" in pages["status-error"].text
    assert "追加情報を依頼して差し戻す" not in pages["detail"].text or "needs_info" in pages["detail"].text


def test_status_form_without_javascript(srv: AppServer) -> None:
    receipt = submit(srv)
    reviewer = browser_client(srv, "reviewer", department="shimin")
    page = reviewer.get(f"/console/submissions/{receipt['id']}")
    token = hidden_token(page.text)
    assert token == reviewer.cookies["madoguchi_csrf"]
    url = f"/console/submissions/{receipt['id']}/status"
    refused = reviewer.post(url, data={"status": "in_review"})
    assert refused.status_code == 403 and refused.json()["type"].endswith("/csrf")
    r = reviewer.post(url, data={"_csrf_token": token, "status": "in_review", "comment": "確認します"},
                      follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/console/submissions/{receipt['id']}"
    # Without a message the resident can read, no request for information (the form's hidden
    # visible_to_resident left out, as an unticked checkbox is): a Japanese error page, nothing written.
    r = reviewer.post(url, data={"_csrf_token": token, "status": "needs_info", "comment": "住所の書類をください"})
    assert r.status_code == 422 and "住民に表示するコメント" in r.text
    r = reviewer.post(url, data={"_csrf_token": token, "status": "needs_info", "comment": "住所の書類をください",
                                 "visible_to_resident": "on"}, follow_redirects=True)
    assert r.status_code == 200 and "追加情報待ち" in r.text
    mine = srv.db.read_sync(lambda c: c.execute("SELECT status FROM submissions WHERE id = ?",
                                                (receipt["id"],)).fetchone()[0])
    assert mine == "needs_info"


def test_bind_form_without_javascript(srv: AppServer) -> None:
    counter = browser_client(srv, "counter")
    resident = srv.login("resident")
    page = counter.get("/console/bind", params={"q": "NGUYEN"})
    assert "R0007" in page.text
    r = counter.post("/console/bind", data={"_csrf_token": hidden_token(page.text),
                                            "account_id": resident.account_id,  # type: ignore[attr-defined]
                                            "resident_id": "R0007", "id_document": "在留カード"})
    assert r.status_code == 200 and "紐づけました" in r.text
    assert resident.get("/api/me/profile").json()["verified"] is True


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_chromium_with_javascript_disabled_changes_status(srv: AppServer) -> None:
    """A real browser with JS off: the form posts the hidden token, Origin is checked, the page updates."""
    from playwright.sync_api import sync_playwright

    receipt = submit(srv)
    from testsupport.sessions import login_as

    creds = login_as(srv.db, "reviewer", department="shimin")
    base = f"http://localhost:{srv.port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(java_script_enabled=False, locale="ja-JP")
            # Only the session: the CSRF cookie is issued by the page itself, as for a real visitor.
            context.add_cookies([{"name": "madoguchi_session", "value": creds["cookies"]["madoguchi_session"],
                                  "url": base}])
            page = context.new_page()
            page.goto(f"{base}/console/?q={receipt['receipt_number']}")
            page.get_by_role("link", name=receipt["receipt_number"]).click()
            page.get_by_label("新しい状態").select_option("in_review")
            page.get_by_label("コメント", exact=True).fill("審査を始めます")
            page.get_by_role("button", name="変更する").click()
            page.wait_for_load_state()
            assert "審査を始めます" in page.content()
            page.get_by_label("不足している情報").fill("住所を確認できる書類を添付してください")
            page.get_by_role("button", name="追加情報を依頼して差し戻す").click()
            page.wait_for_load_state()
            assert "追加情報待ち" in page.locator("dl.meta").inner_text()
        finally:
            browser.close()
