"""出生届 in the real app for a bound resident: the child's 氏 is the filer's (``prefill_part: family``), noted
「届出人の氏から入力」 and editable; the 名 box is empty and is the field's own (its id); only the 名 and its
reading are typed; the step is never folded; the submission carries the full name, not flagged as a correction;
axe-core finds nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import (
    add_session,
    axe_check,
    go,
    idb_all,
    new_phone,
    review_and_send,
    shot,
    sw_active,
    wait_all_sent,
    wait_draft,
)

pytestmark = pytest.mark.browser

JST = dt.timezone(dt.timedelta(hours=9))


def test_only_the_childs_given_name_is_typed(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="山田 太郎", resident_id="R0001"))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/p/shussei")
    page.wait_for_selector("#form")

    name = page.locator("fieldset[data-field=child_name]")
    kana = page.locator("fieldset[data-field=child_kana]")
    expect(name.locator(":scope > legend")).to_contain_text("届出人の氏から入力")
    expect(kana.locator(":scope > legend")).to_contain_text("届出人の氏から入力")
    expect(name.get_by_label("姓", exact=True)).to_have_value("山田")
    assert name.get_by_label("姓", exact=True).is_editable()
    expect(kana.get_by_label("セイ")).to_have_value("ヤマダ")
    given = page.locator("#f-child_name")  # the field's own box (label and error links) is the 名
    expect(given).to_have_value("")
    assert given.get_attribute("name") == "child_name.given"
    expect(page.locator("details.prefill-values [data-field=child_name]")).to_have_count(0)
    axe_check(page, "shussei-family-prefilled")
    shot(page, "shussei-family-prefilled")
    wait_draft(page, "d.procedure_id === 'shussei'")
    draft = next(d for d in idb_all(page, "drafts") if d.get("procedure_id") == "shussei")
    assert draft["answers"]["child_name"] == {"family": "山田"} and "child_name" in draft["prefilled"]

    given.fill("陽葵")
    kana.get_by_label("メイ").fill("ひまり")
    kana.get_by_label("メイ").blur()
    expect(kana.get_by_label("メイ")).to_have_value("ヒマリ")
    page.locator("fieldset[data-field=child_sex]").get_by_label("女", exact=True).check()
    # Married on the registry: the child born in the marriage is 嫡出子 (prefill_values), a guess marked to
    # confirm, editable and in sight.
    legitimacy = page.locator("fieldset[data-field=legitimacy]")
    expect(legitimacy.get_by_label("嫡出子（父母が婚姻している）")).to_be_checked()
    expect(legitimacy.locator(":scope > legend")).to_contain_text("登録情報から推定（確認してください）")
    expect(page.locator("details.prefill-values fieldset[data-field=legitimacy]")).to_have_count(0)
    page.locator("#f-child_order").select_option(label="長女")
    born = dt.datetime.now(JST).date() - dt.timedelta(days=2)
    birth = page.locator("fieldset[data-field=birth_date]")
    birth.get_by_label("暦").select_option("令和")
    birth.get_by_label("年", exact=True).fill(str(born.year - 2018))
    birth.get_by_label("月", exact=True).fill(str(born.month))
    birth.get_by_label("日", exact=True).fill(str(born.day))
    # Typed in full, the name is still a field to answer here, never folded into the line of prefilled values.
    expect(page.locator("details.prefill-values [data-field=child_name]")).to_have_count(0)
    axe_check(page, "shussei-given-typed")

    page.get_by_role("button", name="次へ進む").click()
    # The filer is the head: the child is 子 (derived by prefill_values): a guess in sight, not folded away.
    page.locator("[data-field=household_occupation]").wait_for()
    expect(page.locator("details.prefill-values fieldset[data-field=head_relationship]")).to_have_count(0)
    relationship = page.locator("fieldset[data-field=head_relationship]")
    expect(relationship.get_by_label("子", exact=True)).to_be_checked()
    expect(relationship.locator(":scope > legend")).to_contain_text("登録情報から推定（確認してください）")
    page.locator("[data-field=household_occupation]").get_by_label("自営業").check()
    page.get_by_role("button", name="次へ進む").click()
    page.locator("[data-field=cohabitation_start]").wait_for()
    page.get_by_role("button", name="次へ進む").click()
    page.locator("fieldset[data-field=filer_qualification]").wait_for()
    page.locator("fieldset[data-field=filer_qualification]").get_by_label("父", exact=True).check()
    row = review_and_send(page, server)
    assert row["answers"]["child_name"] == {"family": "山田", "given": "陽葵"}
    assert row["answers"]["child_kana"] == {"family": "ヤマダ", "given": "ヒマリ"}
    assert (row["answers"]["legitimacy"], row["answers"]["head_relationship"]) == ("marital", "子")
    assert "prefill_corrected" not in row["flags"]  # the typed 名 is not a correction of the registry
    assert not errors, errors
    context.close()


def test_the_birth_event_asks_the_babys_given_name_once(browser: Any, shared_server: ServerProcess) -> None:
    """The birth life event's shared 子の氏名 and よみかた take the parent's 氏 the same way, and 手続きをする親は
    (父/母) the registry's sex; the scripted resident (bench/resident_driver.py: prefilled values left alone, empty
    boxes typed) types only the 名, and 出生届 and 子ども医療費 are filed with the full name and 父, the 出生届 not
    flagged as a correction."""
    from bench.resident_driver import Counts, Driver, Values
    from procedure_definitions.library import load_library

    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="山田 太郎", resident_id="R0001"))
    go(page, server.base, "")
    sw_active(page)
    lib = load_library()
    ev = lib.life_events["birth"][max(lib.life_events["birth"])]
    procs = [p for x in ev.procedures if (p := lib.latest(x.procedure)) is not None]
    before = {r["id"] for r in server.export()}
    go(page, server.base, "#/e/birth")
    page.locator("input[name^='q-']").first.wait_for()
    driver = Driver(page, Values(procs, dt.datetime.now(JST).date(), ev), procs[0].id, Counts())
    driver.answer_questions()
    page.locator("#event-result button").click()
    # The shared step: the parent's 氏 in the baby's name and reading, the 名 boxes empty.
    name = page.locator("fieldset[data-field=child_name]")
    expect(name.get_by_label("姓", exact=True)).to_have_value("山田")
    expect(name.locator(":scope > legend")).to_contain_text("届出人の氏から入力")
    expect(page.locator("#shared-child_name")).to_have_value("")
    expect(page.locator("fieldset[data-field=child_kana]").get_by_label("セイ")).to_have_value("ヤマダ")
    # The parent filing is the father by the registry's sex (the shared field's own prefill): a guess, in sight.
    role = page.locator("fieldset[data-field=parent_role]")
    expect(role.get_by_label("父", exact=True)).to_be_checked()
    expect(role.locator(":scope > legend")).to_contain_text("登録情報から推定（確認してください）")
    expect(page.locator("details.prefill-values fieldset[data-field=parent_role]")).to_have_count(0)
    axe_check(page, "birth-shared-family-prefilled")
    assert driver.run() == "receipt"
    wait_all_sent(page)
    new = {r["procedure_id"]: r for r in server.export() if r["id"] not in before}
    given = new["shussei"]["answers"]["child_name"]["given"]
    assert given and new["shussei"]["answers"]["child_name"] == {"family": "山田", "given": given}
    assert new["shussei"]["answers"]["child_kana"]["family"] == "ヤマダ"
    assert new["kodomo-iryohi"]["answers"]["child_name"] == new["shussei"]["answers"]["child_name"]
    assert new["shussei"]["answers"]["filer_qualification"] == "father"
    assert new["kodomo-iryohi"]["answers"]["guardian_relationship"] == "father"
    assert "prefill_corrected" not in new["shussei"]["flags"]
    assert not errors, errors
    context.close()
