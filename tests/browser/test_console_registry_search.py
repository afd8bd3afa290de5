"""Issue 13 point 1: the counter finds the resident in the console's registry search, by keyboard only.

The real server (``madoguchi serve --demo``) in Debian's Chromium: 高橋 finds 髙橋 and the reverse, by kana too;
the names are shown byte for byte (an IVS name included), birth dates in 和暦; Enter on a result fills the bind
form; axe-core reports zero violations on every state of the page.
"""

from __future__ import annotations

from typing import Any

import pytest

from server.registry import ResidentRecord, SQLiteRegistry
from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, shot

pytestmark = pytest.mark.browser

TAKAHASHI = ResidentRecord(id="X0001", household_id="HX1", family="高橋", given="一郎", family_kana="タカハシ",
                           given_kana="イチロウ", birth_date="1955-01-02", postal_code="1010021", prefecture="東京都",
                           city="千代田区", town="外神田", block="1-1")


def _search(page: Any, *, name: str = "", birth: str = "", address: str = "") -> list[str]:
    """Fill the boxes by keyboard (Tab between them) and press Enter: the result links' texts."""
    page.get_by_label("氏名またはよみ").focus()
    for i, value in enumerate((name, birth, address)):
        if i:
            page.keyboard.press("Tab")
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        if value:
            page.keyboard.insert_text(value)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return page.locator("ul.found a").all_inner_texts()


def test_counter_finds_takahashi_in_any_writing_by_keyboard(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    server.write(lambda c: SQLiteRegistry.upsert(c, [TAKAHASHI]))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    add_session(context, server.base, server.login_as("counter"))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.base + "/console/bind")
    assert page.evaluate("document.activeElement.id") == "b-name"  # the name box has the focus at once
    axe_check(page, "console-bind-empty")

    kanji = _search(page, name="高橋")
    assert [t.split()[:2] for t in kanji] == [["髙橋", "健一"], ["髙橋", "幸子"], ["高橋", "一郎"]]
    assert "タカハシ ケンイチ" in kanji[0] and "昭和23年11月3日生" in kanji[0] and "〒101-0021 東京都千代田区外神田4-5-6" in kanji[0]
    assert "昭和25年3月生" in kanji[1]  # the registry knows only the month of 幸子's birth
    axe_check(page, "console-bind-results")
    shot(page, "console-bind-results")
    assert _search(page, name="髙橋") == kanji  # the reverse
    assert _search(page, name="たかはし") == kanji and _search(page, name="ﾀｶﾊｼ") == kanji  # by kana
    (one,) = _search(page, name="たかはし", birth="S23.11.3")
    assert one.startswith("髙橋 健一")
    assert [t.split()[:2] for t in _search(page, name="高橋", address="外神田1")] == [["高橋", "一郎"]]
    # An IVS name comes back as stored, selector included.
    katsuragi = _search(page, name="かつらぎ みさき")
    assert len(katsuragi) == 1 and katsuragi[0].startswith("葛\U000e0100城 美咲")

    # Keyboard first: the first result has the focus; Enter picks it into the bind form.
    _search(page, name="たかはし けんいち")
    assert page.evaluate("document.activeElement.textContent").startswith("髙橋 健一")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_label("住民番号").input_value() == "R0005"
    assert page.evaluate("document.activeElement.id") == "b-account"
    axe_check(page, "console-bind-picked")

    # A birth date that is no date: a message, no search, still accessible.
    assert _search(page, birth="昭和99年") == []
    assert "生年月日は" in page.get_by_role("alert").inner_text()
    axe_check(page, "console-bind-bad-date")
    assert _search(page, name="いない人") == [] and page.get_by_text("見つかりませんでした").count() == 1
    axe_check(page, "console-bind-none")
    assert errors == []
    context.close()
