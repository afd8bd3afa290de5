"""Issue 13 point 5 in a real browser: the counter clerk reads an application in the console — the procedure's
title, the resident's name in the queue, answers in form order with labels and choice labels (no code, no
English sub-key), the address the Japanese way — moves it with the keyboard to 審査中 with an internal note
(the history names the clerk and marks the note 内部メモ) and is offered no decision (受理/却下). axe-core
reports zero violations on the queue and the submission page."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from procedure_definitions.library import load_library
from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, shot

pytestmark = pytest.mark.browser


def test_counter_reads_and_moves_an_application(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    proc = load_library().latest("juminhyo-copy")
    assert proc is not None
    answers = next(s for s in proc.scenarios if "代理人" in s.name).answers
    filer = server.login_as("counter")
    with httpx.Client(base_url=server.base, cookies=filer["cookies"], headers=filer["headers"]) as c:
        r = c.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": proc.id,
                                             "procedure_version": proc.version, "on_behalf_of": "R0005",
                                             "answers": dict(answers)})
        assert r.status_code == 201, r.text
        receipt = r.json()

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    add_session(context, server.base, server.login_as("counter", display_name="窓口 一郎"))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.base}/console/?q={receipt['receipt_number']}")
    row = page.locator("tbody tr").filter(has_text=receipt["receipt_number"])
    assert row.locator("td").nth(1).inner_text() == proc.title.ja and row.locator("td.resident").inner_text() == "髙橋 健一"
    axe_check(page, "console-queue")
    shot(page, "console-queue")

    # Keyboard only: focus the receipt link and press Enter.
    page.get_by_role("link", name=receipt["receipt_number"]).focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    main = page.locator("main").inner_text()
    assert proc.title.ja in page.locator("h1").inner_text()
    for code in ("proxy", "part_household", "head_relationship", "my_number", "pension", "family", "given",
                 "prefecture", proc.id):
        assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", main), code
    assert "〒100-0001 東京都千代田区千代田1-1" in main and "田中 一郎" in main
    sections = page.locator("section.answer-section h3").all_inner_texts()
    assert sections == [s.title.ja for s in proc.sections if s.title.ja in sections] and len(sections) >= 3
    axe_check(page, "console-submission-counter")
    shot(page, "console-submission-counter")

    # The counter's moves only: 審査中 now; never 受理/却下.
    options = page.get_by_label("新しい状態").locator("option").all_inner_texts()
    assert options == ["審査中"]
    page.get_by_label("新しい状態").focus()
    page.keyboard.press("Tab")
    page.keyboard.insert_text("本人確認書類を確認しました")
    assert page.get_by_label("コメント", exact=True).input_value() == "本人確認書類を確認しました"
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # untick 「申請者へ」: an internal note
    with page.expect_navigation():
        page.get_by_role("button", name="変更する").press("Enter")
    history = page.locator("ol.history").inner_text()
    assert "窓口 一郎（窓口）：受付 → 審査中" in history and "内部メモ 本人確認書類を確認しました" in history
    options = page.get_by_label("新しい状態").locator("option").all_inner_texts()
    assert options == ["追加情報待ち（追加情報を依頼して差し戻す）"]  # no 受理, no 却下: the department decides
    axe_check(page, "console-submission-counter-after")
    shot(page, "console-submission-counter-after")
    assert not errors
    context.close()
