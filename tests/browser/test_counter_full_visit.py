"""Issue 13 "Done when": one whole visit at the counter in a real browser, the clerk on the keyboard only.

来庁受付 (the resident found by a search written with another 異体字 than stored: 高橋 finds 髙橋) → the visit → a
death interview (おくやみ) whose procedures belong to two departments (死亡届: 市民課, 葬祭費: 保険年金課) → finishing
files both → each application's 申請書 PDF and the visit's 受付案内票 PDF read back with pdftotext → 市民課's reviewer
takes and completes its part, then 保険年金課's → the last part done closes the visit → the board shows it closed. The visit's
events, the parts' states and the applications are checked in the database, axe-core on every counter screen."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.server.test_printing_pdf import ARTIFACTS as PDF_ARTIFACTS
from tests.server.test_printing_pdf import needs_poppler, pdftotext
from testsupport.servers import ServerProcess

from .helpers import axe_check, console_desk, derived_titles, retype, shot

pytestmark = pytest.mark.browser


def _key(page: Any, selector: str, key: str = "Space") -> None:
    page.locator(selector).focus()
    page.keyboard.press(key)


def _date_keys(context: Any) -> Any:
    """How to type a date into a date input by keyboard. Its segments follow the browser's own UI language, not
    the page's (Debian's headless Chromium: 月/日/年 whatever ``locale``): the order is probed once on a blank page
    of the same browser, then each date is typed as its digits in that order (month and day move on when full; a
    year can take six digits, so year first moves on by ArrowRight)."""
    probe = context.new_page()
    probe.set_content('<input type="date" aria-label="d">')
    probe.locator("input").focus()
    probe.keyboard.type("12312026")
    month_first = probe.locator("input").input_value() == "2026-12-31"
    probe.close()

    def keys(page: Any, selector: str, year: str, month: str, day: str) -> None:
        page.locator(selector).focus()
        if month_first:
            page.keyboard.type(month + day + year)
        else:
            page.keyboard.type(year)
            page.keyboard.press("ArrowRight")
            page.keyboard.type(month + day)
        assert page.locator(selector).input_value() == f"{year}-{month}-{day}"

    return keys


def _pdf_text(page: Any, url: str, name: str) -> str:
    """The PDF at ``url`` through the page's own session (the clerk's cookies), saved as an artifact with a PNG of
    its first page, and its text layer (pdftotext)."""
    r = page.request.get(url)
    assert r.status == 200 and r.headers["content-type"] == "application/pdf", r.text()
    PDF_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = PDF_ARTIFACTS / f"{name}.pdf"
    pdf.write_bytes(r.body())
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf), str(PDF_ARTIFACTS / name)], check=True)
    return pdftotext(r.body())


@needs_poppler
def test_a_whole_visit_by_keyboard(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = console_desk(browser, server, "counter", display_name="窓口 職員")
    _date = _date_keys(context)

    page.goto(f"{server.base}/console/visits/new")
    expect(page.locator("#vn-q")).to_be_focused()  # autofocus lands before the clerk types
    page.keyboard.type("高橋 健一")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=検索結果")
    axe_check(page, "full-visit-new")
    shot(page, "full-visit-new")
    retype(page, "#vn-booth-1", "5番")
    _key(page, "text=髙橋 健一さんを受付する", "Enter")
    page.wait_for_url(re.compile(r"/console/visits/[0-9a-f-]{36}$"))
    visit_id = page.url.rsplit("/", 1)[1]
    axe_check(page, "full-visit-page")
    shot(page, "full-visit-page")

    # The life event: a new visit's next step has the focus (no Tab), the select moved by arrow keys (no mouse),
    # then Enter on 聞き取りを始める.
    assert page.evaluate("() => document.activeElement.id") == "interview-event"
    for _ in range(10):
        if page.locator("#interview-event").input_value() == "death":
            break
        page.keyboard.press("ArrowDown")
    assert page.locator("#interview-event").input_value() == "death"
    _key(page, "text=聞き取りを始める", "Enter")
    page.wait_for_url(re.compile(r"/interviews/[0-9a-f-]{36}$"))
    axe_check(page, "full-visit-interview")
    for q, v in (("death_registered", "no"), ("was_head", "no"), ("had_kokuho", "no"), ("had_kouki", "yes"),
                 ("was_teate_recipient", "no")):
        _key(page, f"input[name='q.{q}'][value='{v}']")
    # 死亡届 (市民課) and 葬祭費 (保険年金課): two departments, shown live as the questions are answered.
    page.locator("#derived li[data-procedure='sosaihi']").wait_for(state="visible")
    assert derived_titles(page) == ["死亡届", "葬祭費支給申請"]
    _key(page, "input[name='s.deceased_person'][value='R0006']")
    page.get_by_role("button", name="更新").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("[name='s.deceased_name.given']").input_value() == "幸子"  # from the registry
    for sel, text in (("s.deceased_honseki", "東京都千代田区外神田四丁目5番"), ("shibo.death_time", "14:30"),
                      ("shibo.death_place_address.postal_code", "1010021"),
                      ("shibo.death_place_address.prefecture", "東京都"), ("shibo.death_place_address.city", "千代田区"),
                      ("shibo.death_place_address.town", "外神田"), ("shibo.death_place_address.block", "1-1")):
        retype(page, f"[name='{sel}']", text)
    # The registry knows only the month of 幸子's birth: it stays visible as text (a date input would drop
    # 1950-03), and the clerk completes the day.
    assert page.locator("[name='s.deceased_birth_date']").input_value() == "1950-03"
    retype(page, "[name='s.deceased_birth_date']", "1950-03-15")
    for name in ("s.death_date", "sosaihi.funeral_date"):
        _date(page, f"[name='{name}']", "2026", "12", "01")
    # 「窓口で確認した書類」: 喪主名義の通帳 is offered live while the payment goes to a bank account only.
    bankbook = page.locator("#docs-sosaihi label:has(input[value='bankbook'])")
    assert bankbook.is_hidden()
    _key(page, "[name='sosaihi.payment_account'][value='bank']")
    bankbook.wait_for(state="visible")
    for sel in ("shibo.deceased_sex'][value='female", "shibo.death_place_type'][value='hospital",
                "shibo.spouse_living'][value='yes", "shibo.filer_qualification'][value='relative_cohabiting",
                "shibo.filer_relationship'][value='夫", "shibo.cremation_permit'][value='no",
                "sosaihi.insurance_type'][value='kouki", "sosaihi.mourner_relationship'][value='夫",
                "sosaihi.payment_account'][value='kokin"):
        _key(page, f"[name='{sel}']")
    page.locator("[name='shibo.household_occupation']").focus()
    page.keyboard.press("End")
    assert page.locator("[name='shibo.household_occupation']").input_value() == "unemployed"
    assert bankbook.is_hidden()  # 公金受取口座: no bankbook
    _key(page, "input[name='_docs.shibo'][value='death_certificate']")  # the clerk saw the 死亡届書
    axe_check(page, "full-visit-interview-filled")
    shot(page, "full-visit-interview-filled")
    # The finish button's shortcut, from the field the clerk is in (aria-keyshortcuts names it).
    assert page.get_by_role("button", name="聞き取りを終えて申請する").get_attribute("aria-keyshortcuts") == "Control+Enter"
    page.keyboard.press("Control+Enter")
    try:
        page.wait_for_url(f"**/console/visits/{visit_id}?filed=1", timeout=15000)
    except Exception:
        shot(page, "full-visit-debug")
        raise AssertionError(page.locator(".error-summary").inner_text()) from None
    main = page.locator("main").inner_text()
    assert "死亡届" in main and "葬祭費支給申請" in main and "担当します（保険年金課）" in main
    axe_check(page, "full-visit-filed")
    shot(page, "full-visit-filed")
    number = page.locator("h1").inner_text().split()[1]
    filed = {r["procedure_id"]: r for r in server.export() if r["on_behalf_of"] == "R0005"
             and r["procedure_id"] in ("shibo", "sosaihi")}
    attached = {sid: d for sid, d in server.query(
        "SELECT submission_id, department FROM visit_submissions WHERE visit_id = ?", (visit_id,))}
    assert attached == {filed["shibo"]["id"]: "shimin", filed["sosaihi"]["id"]: "hoken_nenkin"}
    assert server.query("SELECT submission_id, document_id FROM visit_documents WHERE visit_id = ?",
                        (visit_id,)) == [(filed["shibo"]["id"], "death_certificate")]

    # Every 申請書 at once from the visit page (one PDF, each form in turn), read back as text.
    href = page.get_by_role("link", name="申請書をまとめて印刷 (PDF)").get_attribute("href")
    both = _pdf_text(page, server.base + href, "full-visit-forms")
    assert "死亡届" in both and "葬祭費支給申請" in both and both.count("髙橋") >= 2
    # Each application's 申請書, from its page (the visit's link to it, then 申請書を印刷), read back as text.
    for procedure, title in (("shibo", "死亡届"), ("sosaihi", "葬祭費支給申請")):
        page.get_by_role("link", name=re.compile(f"^{title}（")).focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith(f"/console/submissions/{filed[procedure]['id']}")
        axe_check(page, f"full-visit-detail-{procedure}")
        shot(page, f"full-visit-detail-{procedure}")
        href = page.get_by_role("link", name="申請書を印刷 (PDF)").get_attribute("href")
        text = _pdf_text(page, server.base + href, f"full-visit-form-{procedure}")
        assert title in text and "髙橋" in text and filed[procedure]["receipt_number"] in text
        page.go_back()
    # The 受付案内票 of the whole visit: its number, both procedures, the name.
    href = page.get_by_role("link", name="受付案内票を印刷 (PDF)").get_attribute("href")
    text = _pdf_text(page, server.base + href, "full-visit-guide")
    assert number in text and "死亡届" in text and "葬祭費支給申請" in text and "髙橋" in text
    # Only what is still missing is asked for: the 死亡届書 the clerk ticked is named as seen.
    flat = re.sub(r"\s+", "", text)
    assert flat.count("死亡届書") == 1 and "確認済み：死亡届書" in flat and "届出に来る人の本人確認書類" in flat

    # The departments come to the booth: each reviewer in a browser of their own, by keyboard too.
    for department, name in (("shimin", "市民課"), ("hoken_nenkin", "保険年金課")):
        dctx, dpage, derrors = console_desk(browser, server, "reviewer", department=department,
                                            display_name=f"{name} 審査")
        dpage.goto(f"{server.base}/console/visits")
        assert f"{name}を待っている来庁" in dpage.locator("caption").inner_text()
        axe_check(dpage, f"full-visit-board-{department}")
        shot(dpage, f"full-visit-board-{department}")
        _key(dpage, f"a:text-is('{number}')", "Enter")
        dpage.wait_for_url(f"**/console/visits/{visit_id}")
        _key(dpage, f"button:text-is('担当します（{name}）')", "Enter")
        dpage.wait_for_selector(f"text=担当：{name} 審査（5番）")
        assert server.query("SELECT state, booth FROM visit_parts WHERE visit_id = ? AND department = ?",
                            (visit_id, department)) == [("in_progress", "5番")]
        axe_check(dpage, f"full-visit-taken-{department}")
        shot(dpage, f"full-visit-taken-{department}")
        if department == "shimin":  # the ID shown to the department's clerk: marked seen from the visit page
            _key(dpage, "button:text-is('確認済みにする（届出に来る人の本人確認書類）')", "Enter")
            dpage.wait_for_selector("text=届出に来る人の本人確認書類：確認済み")
            assert ("death_certificate",) in server.query(
                "SELECT document_id FROM visit_documents WHERE visit_id = ?", (visit_id,))
            assert len(server.query("SELECT document_id FROM visit_documents WHERE visit_id = ?", (visit_id,))) == 2
        _key(dpage, f"button:text-is('完了（{name}）')", "Enter")
        dpage.wait_for_selector(f"text=完了：{name} 審査")
        assert server.query("SELECT state FROM visit_parts WHERE visit_id = ? AND department = ?",
                            (visit_id, department)) == [("done",)]
        assert derrors == []
        dctx.close()

    # Back at the clerk's desk: the last part done closed the visit; the board's 終了 list shows it.
    page.reload()
    page.wait_for_selector("text=来庁を再開")
    assert "終了" in page.locator("h1").inner_text()
    axe_check(page, "full-visit-closed")
    shot(page, "full-visit-closed")
    _key(page, "a:text-is('来庁ボードへ')", "Enter")
    page.wait_for_url("**/console/visits")
    page.locator("#v-status").focus()
    for _ in range(3):
        if page.locator("#v-status").input_value() == "closed":
            break
        page.keyboard.press("ArrowDown")
    _key(page, "button:text-is('表示する')", "Enter")
    page.wait_for_url("**/console/visits?*status=closed*")
    row = page.locator("table.board tr", has=page.locator(f"a:text-is('{number}')"))
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "髙橋 健一" and cells[3] == "5番" and cells[-1] == "終了" and cells.count("完了") == 2
    axe_check(page, "full-visit-board-closed")
    shot(page, "full-visit-board-closed")

    # The visit's record, in order: each step timestamped by the one who took it.
    steps = server.query("SELECT department, step FROM visit_events WHERE visit_id = ? ORDER BY id", (visit_id,))
    attach = sorted(s for s in steps if s[1] == "attached")
    assert attach == [("hoken_nenkin", "attached"), ("shimin", "attached")]
    assert [s for s in steps if s[1] != "attached"] == [
        (None, "reception"), (None, "interview_started"), (None, "interview_finished"),
        ("shimin", "taken"), ("shimin", "completed"), ("hoken_nenkin", "taken"), ("hoken_nenkin", "completed"),
        (None, "closed")]
    assert server.query("SELECT status FROM visits WHERE id = ?", (visit_id,)) == [("closed",)]
    assert errors == []
    context.close()
