"""A step's prefilled values fold into one line (issue 12): a bound resident's 転居 first step shows the
registry's values under 「登録情報から入力（開いて確認・訂正）」 where the first of them is; opened, each value is
the usual labelled field; a corrected one keeps the line open on the way back and the submission is flagged
``prefill_corrected``; axe-core finds nothing, closed or open."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, go, new_phone, review_and_send, shot
from .test_pwa_household import _fill_move

pytestmark = pytest.mark.browser

FOLD = "details.prefill-values"


def _siblings(page: Any) -> list[str | None]:
    return list(page.evaluate(f"""() => {{ const d = document.querySelector('{FOLD}');
        return [d.previousElementSibling, d.nextElementSibling].map((n) => n && n.getAttribute('data-field')); }}"""))


def test_a_steps_prefilled_values_are_one_line(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="髙橋 健一", resident_id="R0005"))
    go(page, server.base, "#/p/tenkyo")
    page.wait_for_selector("#form")

    # One line, closed, in the place of the first prefilled field (after 異動日, before the new postal code);
    # the fields to answer are shown as usual.
    fold = page.locator(FOLD)
    expect(fold).to_have_count(1)
    assert fold.locator("summary").inner_text() == "登録情報から入力（開いて確認・訂正）"
    assert fold.get_attribute("open") is None
    assert _siblings(page) == ["move_date", "new_postal_code"]
    prev = page.locator("fieldset[data-field=previous_address]")
    expect(prev).to_be_hidden()
    expect(page.locator("#f-move_date")).to_be_visible()
    assert fold.locator("[data-field]").evaluate_all("(ns) => ns.map((n) => n.dataset.field)") == [
        "previous_postal_code", "previous_address", "new_head_name"]
    axe_check(page, "fold-closed")

    # Opened: every value is its labelled field, marked with where it came from and ※必須/※任意, editable.
    fold.locator("summary").click()
    expect(prev).to_be_visible()
    legend = prev.locator(":scope > legend")
    expect(legend).to_contain_text("登録情報から入力")
    expect(legend.locator(".req")).to_have_text("※必須")
    expect(prev.get_by_label("町名")).to_have_value("外神田")
    assert prev.get_by_label("番地").is_editable()
    axe_check(page, "fold-open")
    shot(page, "fold-open")

    # A correction stays inside: going on and coming back, the line is open with the corrected value.
    prev.get_by_label("番地").fill("9-9")
    prev.get_by_label("番地").blur()
    _fill_move(page)
    page.get_by_role("button", name="次へ進む").click()
    movers = page.locator("fieldset[data-field=movers]")
    movers.wait_for()
    page.get_by_role("link", name="戻る").click()
    page.wait_for_selector(f"{FOLD}[open]")
    expect(page.locator(FOLD)).to_have_count(1)
    expect(prev.get_by_label("番地")).to_have_value("9-9")
    axe_check(page, "fold-corrected")

    page.get_by_role("button", name="次へ進む").click()
    movers.wait_for()
    movers.get_by_label("髙橋 健一（世帯主）").check()
    row = review_and_send(page, server)
    assert row["answers"]["previous_address"]["block"] == "9-9"
    assert "prefill_corrected" in row["flags"]  # staff see the correction, as for any prefilled value
    assert not errors, errors
    context.close()
