"""A whole visit in the console, in a real browser: 来庁受付 → attach two applications of two departments →
市民課 takes and completes its part, 保険年金課 takes and completes its part → the visit closes. axe-core finds
nothing on each screen (来庁受付, the visit page, the board, a department's own view)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import axe_check, console_desk, shot


def _file(server: ServerProcess, session: dict[str, Any], department: str) -> tuple[str, str]:
    """File an application of ``department`` for 髙橋 健一 (R0005) at the counter: the first valid scenario of the
    library's procedures of that department whose answers alone pass (some scenarios rely on a prefilled
    profile). ``(submission id, procedure title)``."""
    from procedure_definitions.library import load_library

    refused = []
    with httpx.Client(base_url=server.base, cookies=session["cookies"], headers=session["headers"]) as c:
        for pid, versions in sorted(load_library().procedures.items()):
            for version, proc in versions.items():
                if proc.department.id != department or proc.parties:
                    continue
                for scenario in (s for s in proc.scenarios if s.expect.valid):
                    r = c.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": pid,
                                                         "procedure_version": version, "on_behalf_of": "R0005",
                                                         "answers": dict(scenario.answers)})
                    if r.status_code == 201:
                        return str(r.json()["id"]), proc.title.ja
                    refused.append(r.text)
    raise AssertionError(refused)


def test_a_visit_two_departments_come_to_the_booth(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    # Two applications for 髙橋 健一 filed at the counter earlier, one of 市民課, one of 保険年金課.
    filer = server.login_as("counter")
    (juminhyo, _), (kokuho, kokuho_title) = _file(server, filer, "shimin"), _file(server, filer, "hoken_nenkin")

    ctx, page, errors = console_desk(browser, server, "counter")
    page.goto(f"{server.base}/console/visits/new")
    expect(page.locator("#vn-q")).to_be_focused()  # autofocus lands before the clerk types
    # Keyboard first: the search box has the focus; type the name and press Enter.
    assert page.evaluate("document.activeElement.id") == "vn-q"
    page.keyboard.type("髙橋")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=検索結果")
    axe_check(page, "visit-new")
    shot(page, "visit-new")
    page.locator("#vn-booth-1").fill("3番")
    page.get_by_role("button", name="髙橋 健一さんを受付する").click()
    page.wait_for_url(re.compile(r"/console/visits/[0-9a-f-]{36}$"))
    visit_id = page.url.rsplit("/", 1)[1]
    assert "髙橋 健一" in page.locator("main").inner_text()
    # Searched again, the resident is 来庁中: the button opens this visit, not a second one.
    page.goto(f"{server.base}/console/visits/new?q=髙橋")
    here = page.get_by_role("button", name=re.compile(r"^髙橋 健一さんの来庁（A-\d{3}）を開く$"))
    assert "来庁中（A-" in page.locator("main").inner_text() and here.count() == 1
    assert page.get_by_role("button", name="髙橋 健一さんを受付する").count() == 0
    axe_check(page, "visit-new-already-here")
    here.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/console/visits/{visit_id}\??$"))
    # No application yet: the reception may be cancelled (a visit with no part closes).
    expect(page.get_by_role("button", name="受付を取り消す（来庁を終了）")).to_be_visible()
    axe_check(page, "visit-no-parts")
    # Both applications are offered; tick them with the keyboard (Tab to each checkbox, Space).
    for sid in (juminhyo, kokuho):
        page.locator(f"input[value='{sid}']").focus()
        page.keyboard.press("Space")
    page.get_by_role("button", name="選んだ申請を追加する").click()
    page.wait_for_selector("text=担当します（保険年金課）")
    assert kokuho_title in page.locator("main").inner_text()  # procedure titles, not ids
    axe_check(page, "visit-page")
    shot(page, "visit-page")
    # The 受付案内票 for the resident: a link with visible text, the PDF through the clerk's own session.
    guide = page.get_by_role("link", name="受付案内票を印刷 (PDF)")
    assert guide.get_attribute("href") == f"/console/visits/{visit_id}/guide.pdf"
    pdf = page.request.get(f"{server.base}/console/visits/{visit_id}/guide.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF-")
    number = page.locator("h1").inner_text().split()[1]
    page.goto(f"{server.base}/console/visits")
    board = page.locator("table.board").inner_text()
    assert number in board and "髙橋 健一" in board and board.count("待ち") >= 2
    axe_check(page, "visit-board")
    shot(page, "visit-board")

    # 市民課 comes to the visit's booth (the input's value as reception typed it); 保険年金課 works elsewhere: the
    # clerk types another booth by keyboard and Enter takes the part there.
    for department, name, booth in (("shimin", "市民課", None), ("hoken_nenkin", "保険年金課", "相談室B")):
        dctx, dpage, derrors = console_desk(browser, server, "reviewer", department=department)
        # The department's own view: the visits waiting for it.
        dpage.goto(f"{server.base}/console/visits")
        assert f"{name}を待っている来庁" in dpage.locator("caption").inner_text()
        axe_check(dpage, f"visit-board-{department}")
        dpage.get_by_role("link", name=number).click()
        dpage.wait_for_url(f"**/console/visits/{visit_id}")
        booth_input = dpage.get_by_label(f"ブース（{name}・任意）")
        expect(booth_input).to_have_value("3番")
        if booth is None:
            dpage.get_by_role("button", name=re.compile("^担当します")).click()
        else:
            booth_input.focus()
            dpage.keyboard.press("Control+A")
            dpage.keyboard.type(booth)
            dpage.keyboard.press("Enter")
        dpage.wait_for_selector(f"text=担当：{department} 職員（{booth or '3番'}）")
        axe_check(dpage, f"visit-taken-{department}")
        dpage.get_by_role("button", name=re.compile("^完了")).focus()
        dpage.keyboard.press("Enter")
        dpage.wait_for_selector(f"text=完了：{department} 職員")
        assert derrors == []
        dctx.close()

    # The last department done closed the visit: the counter sees it closed (and may reopen it).
    page.goto(f"{server.base}/console/visits/{visit_id}")
    page.wait_for_selector("text=来庁を再開")
    assert "終了" in page.locator("h1").inner_text()
    text = page.locator("main").inner_text()
    for step in ("受付", "手続きを追加", "担当", "完了", "来庁終了"):
        assert step in text, step
    axe_check(page, "visit-closed")
    shot(page, "visit-closed")
    steps = server.query("SELECT department, step FROM visit_events WHERE visit_id = ? ORDER BY id", (visit_id,))
    assert [s[1] for s in steps] == ["reception", "attached", "attached", "taken", "completed", "taken", "completed",
                                     "closed"]
    assert errors == []
    ctx.close()
