"""Honest markers and staff-only fields in Chromium against the real server (the shipped juminhyo-copy):
※必須 / ※任意 switch live as answers make a field required (必要な人, the purpose details) and match what
validation then refuses; a resident never sees the staff-only 窓口記入欄 (no step, nothing in the review),
counter staff get it as a step of their own and fill it; axe-core on every screen touched."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, fill_applicant, go, new_phone, ready

pytestmark = pytest.mark.browser


def marker(page: Any, field: str) -> str:
    """The visible marker in a field's label area (its <label> or <legend>)."""
    return str(page.locator(f"[data-field={field}] > :is(label, legend) > :is(.req, .opt)").inner_text())


def test_markers_switch_live_and_match_validation(browser: Any, shared_server: ServerProcess) -> None:
    context, page, errors = new_phone(browser)
    go(page, shared_server.base, "#/p/juminhyo-copy")
    page.wait_for_selector("#form")  # opening a procedure lands on its first step
    ready(page)
    assert marker(page, "certificate_type") == "※必須"
    assert marker(page, "include_items") == "※任意"
    expect(page.locator("[data-field=target_people]")).to_be_hidden()

    # 必要な人: shown and ※必須 as soon as 世帯の一部 is chosen, and refused exactly then.
    page.get_by_label("自分（本人）").check()
    page.get_by_label("住民票の写し（世帯の一部）").check()
    group = page.locator("fieldset[data-field=target_people]")
    expect(group).to_be_visible()
    expect(group.locator(":scope > legend > .req")).to_have_text("※必須")
    page.get_by_label("通数").fill("1")
    page.locator("#f-purpose").select_option("employment")
    page.get_by_role("button", name="次へ進む").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("必要な人")
    axe_check(page, "markers: required group refused")
    # Back to the whole household: hidden, ※任意 again, nothing refused.
    page.get_by_label("住民票の写し（世帯全員）").check()
    expect(group).to_be_hidden()
    assert marker(page, "target_people") == "※任意"

    # The purpose details: ※任意 while hidden, ※必須 when その他 makes them required.
    page.locator("#f-purpose").select_option("other")
    detail = page.locator("[data-field=purpose_detail]")
    expect(detail).to_be_visible()
    expect(detail.locator(":scope > label > .req")).to_have_text("※必須")
    page.locator("#f-purpose").select_option("employment")
    expect(detail).to_be_hidden()
    assert marker(page, "purpose_detail") == "※任意"
    page.get_by_role("button", name="次へ進む").click()
    page.wait_for_selector("text=窓口に来る人（請求者）")
    ready(page)
    # The linked postal code of a required address is marked ※必須 (validation asks for it).
    assert marker(page, "applicant_postal_code") == "※必須"
    assert marker(page, "applicant_address") == "※必須"
    axe_check(page, "markers: applicant step")
    assert page.locator("[data-field=counter_memo]").count() == 0  # the staff-only section is no step

    fill_applicant(page, family="山田", given="花子", postal="1000001", address=("東京都", "千代田区", "千代田", "1-1"),
                   phone="0312345678")
    main = page.locator("main").inner_text()
    assert "窓口メモ" not in main and "本人確認書類の確認" not in main and "窓口記入欄" not in main
    assert not errors, errors
    context.close()


def test_counter_staff_fill_the_staff_only_section(browser: Any, shared_server: ServerProcess) -> None:
    context, page, errors = new_phone(browser)
    add_session(context, shared_server.base, shared_server.login_as("counter", display_name="窓口 一郎"))
    go(page, shared_server.base, "#/p/juminhyo-copy")
    page.wait_for_selector("#form")  # opening a procedure lands on its first step
    ready(page)
    page.get_by_label("自分（本人）").check()
    page.get_by_label("住民票の写し（世帯全員）").check()
    page.get_by_label("通数").fill("1")
    page.locator("#f-purpose").select_option("employment")
    page.get_by_role("button", name="次へ進む").click()
    page.wait_for_selector("text=窓口に来る人（請求者）")
    name = page.locator("fieldset[data-field=applicant_name]")
    name.get_by_label("姓", exact=True).fill("山田")
    name.get_by_label("名", exact=True).fill("花子")
    page.locator("#f-applicant_postal_code").fill("1000001")
    addr = page.locator("fieldset[data-field=applicant_address]")
    for label, value in zip(("都道府県", "市区町村", "町名", "番地"), ("東京都", "千代田区", "千代田", "1-1"), strict=True):
        addr.get_by_label(label, exact=label in ("町名", "番地")).fill(value)
    page.get_by_label("電話番号").fill("0312345678")
    page.get_by_role("button", name="次へ進む").click()
    # The counter's own step: 窓口記入欄 with its checks and memo, each ※任意.
    page.wait_for_selector("text=窓口記入欄（職員用）")
    ready(page)
    assert marker(page, "counter_memo") == "※任意" and marker(page, "id_checked") == "※任意"
    page.get_by_label("運転免許証").check()
    page.get_by_label("窓口メモ").fill("勤務先提出用")
    axe_check(page, "staff-only step")
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#submit")
    main = page.locator("main").inner_text()
    assert "勤務先提出用" in main and "運転免許証" in main
    axe_check(page, "staff review with the counter record")
    assert not errors, errors
    context.close()
