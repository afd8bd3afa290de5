"""The life-event navigator answers what the records know (a question's ``prefill``): a resident bound to a
household with a child of 高校生年代 opens 転入 with 「高校生年代までの子どもを育てていますか」 answered はい, marked
「登録情報から推定（確認してください）」, 児童手当 and 子ども医療費 listed; answering it removes the mark. A household
without children leaves it unanswered."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, go, new_phone, sw_active

pytestmark = pytest.mark.browser

MARK = "登録情報から推定（確認してください）"


def _open(browser: Any, server: ServerProcess, name: str, rid: str) -> tuple[Any, Any, list[str]]:
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name=name, resident_id=rid))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/e/moving-in")
    page.wait_for_selector("#event-result .card")
    return context, page, errors


def test_a_household_with_a_child_starts_answered(browser: Any, shared_server: ServerProcess) -> None:
    context, page, errors = _open(browser, shared_server, "山田 太郎", "R0001")  # 一郎 (2015) in the household
    question = page.locator("fieldset", has=page.locator("#q-has_children-0"))
    expect(page.locator("#q-has_children-0")).to_be_checked()
    expect(question).to_contain_text(MARK)
    result = page.locator("#event-result")
    expect(result).to_contain_text("児童手当認定請求")  # 公務員か still unanswered: not excluded
    expect(result).to_contain_text("子ども医療費助成の申請（受給資格認定）")
    axe_check(page, "event-known-answer")
    page.locator("#q-has_children-1").check()  # the resident says いいえ: their answer, no mark
    page.wait_for_selector("#q-is_public_servant-0", state="detached")
    expect(page.locator("main")).not_to_contain_text(MARK)
    expect(result).not_to_contain_text("児童手当認定請求")
    assert not errors, errors
    context.close()


def test_a_household_without_children_is_asked(browser: Any, shared_server: ServerProcess) -> None:
    context, page, errors = _open(browser, shared_server, "小林 直樹", "R0014")
    expect(page.locator("#q-has_children-0")).not_to_be_checked()
    expect(page.locator("#q-has_children-1")).not_to_be_checked()
    expect(page.locator("main")).not_to_contain_text(MARK)
    assert not errors, errors
    context.close()
