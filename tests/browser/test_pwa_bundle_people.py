"""A person entered once serves every procedure of a life event (issue 12 point 4): an unbound resident types
a mover in 転入届, ticks them in 国保 (「この申請で入力した人」), a correction in 転入届 follows, and both
submissions carry the same person byte for byte (an IVS name included)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, go, new_phone, shot, sw_active, wait_all_sent, wait_draft

pytestmark = pytest.mark.browser

JST = dt.timezone(dt.timedelta(hours=9))
IVS_FAMILY = "葛\U000E0100城"  # 葛 + VS17: kept as typed, never normalized


def test_a_mover_typed_once_is_ticked_in_kokuho(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="葛城 大"))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/e/moving-in")
    page.wait_for_selector("#event-result .card")
    for q, yes in (("no_employee_insurance", True), ("pension_category1", False), ("has_children", False),
                   ("wants_seal", False), ("needs_certificate", False)):
        page.locator(f"#q-{q}-{0 if yes else 1}").check()
    page.wait_for_function("() => document.getElementById('event-result').textContent.includes('国民健康保険の加入届')")
    page.get_by_role("button", name="まとめて入力する").click()
    page.wait_for_selector("#form")

    def step_to(part: str) -> None:
        page.locator("#form button[type=submit]").click()
        page.wait_for_function(
            "(part) => (document.querySelector('#form h2#page-title') || {}).textContent?.includes(part)", arg=part)

    move = dt.datetime.now(JST).date() - dt.timedelta(days=3)
    page.locator("#shared-move_date").fill(str(move.year))
    page.locator("#shared-move_date-mo").fill(str(move.month))
    page.locator("#shared-move_date-d").fill(str(move.day))
    page.locator("#shared-new_postal_code").fill("330-0063")
    page.locator("#form").get_by_role("button", name="郵便番号から住所を入力").first.click()
    new_address = page.locator("fieldset[data-field=new_address]")
    expect(new_address.get_by_label("市区町村")).to_have_value("さいたま市浦和区")
    new_address.get_by_label("番地").fill("3丁目15-1")
    prev = page.locator("fieldset[data-field=previous_address]")
    prev.get_by_label("郵便番号").fill("1600022")
    prev.get_by_role("button", name="郵便番号から住所を入力").click()
    expect(prev.get_by_label("市区町村")).to_have_value("新宿区")
    prev.get_by_label("番地").fill("2丁目8-1")
    page.locator("#shared-head_name").fill("葛城")
    page.locator("#shared-head_name-given").fill("大")
    page.locator("#shared-applicant_name").fill("葛城")
    page.locator("#shared-applicant_name-given").fill("大")
    page.locator("#shared-applicant_phone").fill("090-1234-5678")
    wait_draft(page, "d.kind === 'bundle' && d.shared.applicant_phone")

    step_to("転入届：はじめに")
    page.get_by_label("国内の他の市区町村").check()
    page.locator("fieldset[data-field=tokurei_tennyu]").get_by_label("はい").check()
    step_to("転入届：引っ越しの内容")
    step_to("転入届：引っ越した人")
    mover_step = page.evaluate("location.hash")
    # The resident filing, named once in the shared fields (the life event's people), is offered here too.
    expect(page.locator("fieldset[data-field=movers]").get_by_label("葛城 大")).not_to_be_checked()
    page.get_by_role("button", name="異動者を追加").click()
    mover = page.locator("fieldset.group-item").first
    mover.locator("fieldset[data-field=mover_name]").get_by_label("姓", exact=True).fill(IVS_FAMILY)
    mover.locator("fieldset[data-field=mover_name]").get_by_label("名", exact=True).fill("陽菜")
    mover.locator("fieldset[data-field=mover_kana]").get_by_label("セイ").fill("カツラギ")
    mover.locator("fieldset[data-field=mover_kana]").get_by_label("メイ").fill("ヒナ")
    birth = mover.locator("fieldset[data-field=mover_birth_date]")
    birth.get_by_label("年", exact=True).fill("1990")
    birth.get_by_label("月", exact=True).fill("5")
    birth.get_by_label("日", exact=True).fill("12")
    mover.get_by_label("女").check()
    mover.get_by_label("世帯主との続柄").fill("妻")
    wait_draft(page, "d.procedure_id === 'tennyu' && d.answers.movers && d.answers.movers[0].mover_relationship === '妻'")
    step_to("転入届：外国籍の方")
    page.locator("fieldset[data-field=is_foreign]").get_by_label("いいえ").check()
    # 転入届's 付記事項 and 届出人 are not steps: the counter's (staff-only) but for the shared name and phone.
    step_to("国民健康保険の加入届（資格取得届）：加入する理由")
    page.get_by_label("他の市区町村から転入した").check()
    # 世帯主: all prefilled (the 個人番号 and the 国保 record are the counter's): the step folds into the review.
    step_to("国民健康保険の加入届（資格取得届）：加入する人")

    # The mover typed in 転入届 is offered in 国保's picker: one tap, nobody typed twice.
    members = page.locator("fieldset[data-field=members]")
    expect(members.locator(".picker-entered")).to_have_text("この申請で入力した人")
    box = members.get_by_label("葛\U000E0100城 陽菜（妻）")
    expect(box).not_to_be_checked()
    box.check()
    item = members.locator("fieldset.group-item").first
    expect(item.locator("fieldset[data-field=member_kana]").get_by_label("メイ")).to_have_value("ヒナ")
    assert "この申請で入力済み" in item.locator("details.member-values > summary").inner_text()  # one line per member
    assert "この申請で入力済み" in str(item.locator("fieldset[data-field=member_name] legend").text_content())
    # A picked member's 個人番号 is the counter's (staff-only): the city holds it for a registry member.
    expect(item.get_by_label("個人番号")).to_have_count(0)
    wait_draft(page, "d.procedure_id === 'kokuho-kanyu' && d.answers.members && d.answers.members[0].member_name")
    axe_check(page, "bundle-people-picker")
    shot(page, "bundle-people-picker")
    kokuho_step = page.evaluate("location.hash")

    # A correction where the mover was entered follows into 国保's item (still as taken there).
    go(page, server.base, mover_step)
    page.locator("fieldset.group-item").first.locator("fieldset[data-field=mover_kana]").get_by_label("メイ").fill("ハルナ")
    page.locator("#form h2#page-title").click()  # leave the input: its change event
    wait_draft(page, "d.procedure_id === 'kokuho-kanyu' && d.answers.members && d.answers.members[0].member_kana.given === 'ハルナ'")
    go(page, server.base, kokuho_step)
    members = page.locator("fieldset[data-field=members]")
    expect(members.get_by_label("葛\U000E0100城 陽菜（妻）")).to_be_checked()
    # Unticking removes them again (国保 only for those who need it); ticked again for the submission.
    members.get_by_label("葛\U000E0100城 陽菜（妻）").uncheck()
    expect(members.locator("fieldset.group-item")).to_have_count(0)
    members.get_by_label("葛\U000E0100城 陽菜（妻）").check()
    wait_draft(page, "d.procedure_id === 'kokuho-kanyu' && d.answers.members && d.answers.members[0].member_name")

    step_to("国民健康保険の加入届（資格取得届）：保険税の納め方")
    page.locator("fieldset[data-field=direct_debit]").get_by_label("いいえ").check()
    # 届出人: the shared name, nothing else to answer (the relation is the counter's): it folds into the review.
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#submit", timeout=10000)
    page.locator("#submit").click()
    page.wait_for_function("() => location.hash === '#/'")
    wait_all_sent(page)

    rows = {r["procedure_id"]: r for r in server.export() if r["procedure_id"] in ("tennyu", "kokuho-kanyu")
            and r["answers"].get("filer_phone", r["answers"].get("head_phone")) == "090-1234-5678"}
    assert set(rows) == {"tennyu", "kokuho-kanyu"}, rows
    t, k = rows["tennyu"]["answers"]["movers"][0], rows["kokuho-kanyu"]["answers"]["members"][0]
    for a, b in (("mover_name", "member_name"), ("mover_kana", "member_kana"), ("mover_birth_date", "member_birth_date"),
                 ("mover_sex", "member_sex"), ("mover_relationship", "member_relationship")):
        assert t[a] == k[b], (a, t[a], k[b])
    assert t["mover_name"]["family"].encode() == IVS_FAMILY.encode() == k["member_name"]["family"].encode()
    assert k["member_kana"] == {"family": "カツラギ", "given": "ハルナ"}
    assert "mover_resident_code" not in t and "member_my_number" not in k
    assert not errors, errors
    context.close()
