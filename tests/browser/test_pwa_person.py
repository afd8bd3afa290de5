"""A person picked from the household into plain fields (``type: person``) in the real app: a bound resident
files 子ども医療費 and picks the child with one tap (the filer is not offered: ``pick_self: false``); the
child's values appear as one line, 「ここにない人」 gives the typed fields, and the stored submission holds the
registry's values byte for byte with the picked member's code, never shown as a label."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from server.demo import DEMO_RESIDENTS
from testsupport.servers import ServerProcess

from .helpers import (
    add_session,
    axe_check,
    go,
    idb_all,
    new_phone,
    shot,
    sw_active,
    wait_all_sent,
    wait_draft,
)

pytestmark = pytest.mark.browser


def _record(rid: str) -> Any:
    return next(r for r in DEMO_RESIDENTS if r.id == rid)


def test_bound_resident_picks_the_child_with_one_tap(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="山田 太郎", resident_id="R0001"))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/p/kodomo-iryohi")
    page.wait_for_selector("#form")
    page.locator("fieldset[data-field=guardian_relationship]").get_by_label("父", exact=True).check()
    my_number = page.locator("#f-guardian_my_number")
    if not my_number.input_value():
        my_number.fill("123456789018")

    # The child is on the same step as the guardian (「保護者と子ども」).
    person = page.locator("fieldset[data-field=child_person]")
    person.wait_for()
    # One fieldset whose legend is the label, one labelled radio per person offered and 「ここにない人」.
    assert person.locator(":scope > legend").inner_text().startswith("対象の子ども")
    radios = person.get_by_role("radio")
    expect(radios).to_have_count(3)
    expect(person.get_by_label("山田 太郎（世帯主）")).to_have_count(0)  # the filer is not offered
    child = person.get_by_label("山田 一郎（子）")
    not_listed = person.get_by_label("ここにない人（入力する）")
    axe_check(page, "person-picker")
    # 「ここにない人」: the fields are typed as usual, shown one by one.
    not_listed.check()
    name = page.locator("fieldset[data-field=child_name]")
    expect(name).to_be_visible()
    expect(name.locator(".parts input").first).to_have_value("")
    expect(page.locator("details.member-values")).to_have_count(0)
    # One tap: the child's values fill the fields and fold into one line that says where they came from.
    child.check()
    summary = page.locator(".person > .person-values > details.member-values > summary")
    expect(summary).to_have_text("山田 一郎（子）・登録情報から入力（開いて確認・訂正）")
    expect(name).to_be_hidden()  # folded under the line
    summary.click()
    expect(name.locator(".parts input").first).to_have_value("山田")
    assert "登録情報から入力" in str(name.locator(":scope > legend").text_content())
    axe_check(page, "person-picked")
    shot(page, "person-picked")
    # Another choice clears what was filled (and only that).
    not_listed.check()
    expect(name.locator(".parts input").first).to_have_value("")
    child.check()
    expect(summary).to_be_visible()
    page.get_by_role("button", name="次へ進む").click()
    # The insurance, the refund account and the consent: one step.
    page.locator("fieldset[data-field=insurance_type]").get_by_label("手続き中（生まれたばかりなど）").check()
    page.locator("fieldset[data-field=payment_account]").get_by_label("公金受取口座（マイナポータルで登録済み）").check()
    page.locator("fieldset[data-field=consent_checks]").get_by_label("はい").check()
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#submit")
    review = page.locator("main").inner_text()
    assert "対象の子ども" in review and "山田 一郎" in review and "R0003" not in review
    page.locator("#submit").click()
    page.wait_for_url("**/#/s/*")
    wait_all_sent(page)
    submission_id = page.url.rsplit("/", 1)[-1]
    row = next(r for r in server.export() if r["id"] == submission_id)
    rec = _record("R0003")
    answers = row["answers"]
    assert answers["child_person"] == "R0003"
    assert answers["child_name"] == {"family": rec.family, "given": rec.given}
    assert answers["child_kana"] == {"family": rec.family_kana, "given": rec.given_kana}
    assert (answers["child_birth_date"], answers["child_sex"]) == (rec.birth_date, rec.sex)
    assert "prefill_corrected" not in row["flags"]
    assert answers["moved_in_this_year"] is False  # from the registry's 住民となった年月日 (2014)
    assert not errors, errors
    context.close()


def test_the_deceased_is_picked_offline_from_the_cached_profile(browser: Any, shared_server: ServerProcess) -> None:
    """葬祭費 opened offline: the household comes from the profile kept on the device, as for the group picker;
    with pick_self false the filer is not offered: the two others and 「ここにない人」."""
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="山田 花子", resident_id="R0002"))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/p/kodomo-iryohi")  # online once: the profile is kept on the device
    page.wait_for_selector("#form")
    context.set_offline(True)
    page.evaluate("location.hash = '#/p/sosaihi'")
    person = page.locator("fieldset[data-field=deceased_person]")
    person.wait_for()
    expect(person.locator(":scope > .choices input[type=radio]")).to_have_count(3)
    expect(person.get_by_label("山田 花子（妻）")).to_have_count(0)
    person.get_by_label("山田 太郎（世帯主）").check()
    summary = page.locator(".person > .person-values > details.member-values > summary")
    expect(summary).to_have_text("山田 太郎（世帯主）・登録情報から入力（開いて確認・訂正）")
    rec = _record("R0001")
    wait_draft(page, "d.procedure_id === 'sosaihi' && d.answers.deceased_person === 'R0001'")  # autosave is async
    drafts = [d for d in idb_all(page, "drafts") if d.get("procedure_id") == "sosaihi"]
    assert len(drafts) == 1
    answers = drafts[0]["answers"]
    assert answers["deceased_person"] == "R0001"
    assert answers["deceased_name"] == {"family": rec.family, "given": rec.given}
    assert answers["deceased_birth_date"] == rec.birth_date
    axe_check(page, "person-offline")
    assert not [e for e in errors if "net::" not in e], errors
    context.close()


def test_the_death_life_event_picks_the_deceased_once(browser: Any, shared_server: ServerProcess) -> None:
    """おくやみ: the shared fields start with the deceased picked from the household (one tap, the filer not
    offered); the name and birth date fold into one line; 死亡届 receives the choice and the registry's values
    byte for byte (its own person field is not asked again). The rest is filled by the scripted resident."""
    import datetime as dt

    from bench.resident_driver import Counts, Driver, Values
    from procedure_definitions.library import load_library

    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="山田 一郎", resident_id="R0003"))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/e/death")
    for q in ("death_registered", "was_head", "had_kokuho", "had_kouki", "was_teate_recipient"):
        page.locator(f"#q-{q}-1").check()
    page.get_by_role("button", name="まとめて入力する").click()
    person = page.locator("fieldset[data-field=deceased_person]")
    person.wait_for()
    expect(person.locator(":scope > .choices input[type=radio]")).to_have_count(3)
    expect(person.get_by_label("山田 一郎（子）")).to_have_count(0)  # the filer
    person.get_by_label("山田 太郎（世帯主）").check()
    summary = page.locator(".person > .person-values > details.member-values > summary")
    expect(summary).to_have_text("山田 太郎（世帯主）・登録情報から入力（開いて確認・訂正）")
    axe_check(page, "death-shared-person")
    before = {r["id"] for r in server.export()}
    lib = load_library()
    ev = lib.life_events["death"][max(lib.life_events["death"])]
    procs = [p for x in ev.procedures if (p := lib.latest(x.procedure)) is not None]
    jst = dt.timezone(dt.timedelta(hours=9))
    assert Driver(page, Values(procs, dt.datetime.now(jst).date(), ev), procs[0].id, Counts()).run() == "receipt"
    wait_all_sent(page)
    new = {r["procedure_id"]: r for r in server.export() if r["id"] not in before}
    assert set(new) == {"shibo"}, sorted(new)
    answers = new["shibo"]["answers"]
    rec = _record("R0001")
    assert answers["deceased_person"] == "R0001"
    assert answers["deceased_name"] == {"family": rec.family, "given": rec.given}
    assert answers["deceased_birth_date"] == rec.birth_date
    # The 本籍 and 筆頭者 of his 住民票 come with the tap (the filer's own household: 住基法第12条).
    assert (answers["deceased_honseki"], answers["honseki_head_name"]) == (rec.honseki, rec.honseki_head)
    # And what 死亡届's own person field fills besides (its 性別, 夫または妻 いる with her birth date): the same tap.
    assert answers["deceased_sex"] == rec.sex and answers["spouse_living"] is True
    assert answers["spouse_birth_date"] == _record("R0002").birth_date
    assert "prefill_corrected" not in new["shibo"]["flags"]
    assert not errors, errors
    context.close()


def test_shibo_picks_the_deceased_with_honseki_and_spouse(browser: Any, shared_server: ServerProcess) -> None:
    """死亡届 opened alone: the tap on the deceased fills the 本籍, the 筆頭者 and 夫または妻 いる (he is the head and
    his 妻 is listed); the filled values fold into his line, nothing of them is asked."""
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="山田 一郎", resident_id="R0003"))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/p/shibo")
    person = page.locator("fieldset[data-field=deceased_person]")
    person.wait_for()
    expect(page.locator("fieldset[data-field=spouse_living]")).to_be_visible()  # asked until someone is picked
    person.get_by_label("山田 太郎（世帯主）").check()
    summary = page.locator(".person > .person-values > details.member-values > summary")
    expect(summary).to_have_text("山田 太郎（世帯主）・登録情報から入力（開いて確認・訂正）")
    expect(page.locator("#f-deceased_honseki")).to_be_hidden()  # folded under his line
    expect(page.locator("fieldset[data-field=spouse_living]")).to_be_hidden()
    expect(page.locator("fieldset[data-field=spouse_none_reason]")).to_be_hidden()
    axe_check(page, "shibo-person")
    rec = _record("R0001")
    draft = next(d for d in idb_all(page, "drafts") if d.get("procedure_id") == "shibo")
    answers = draft["answers"]
    assert answers["deceased_honseki"] == rec.honseki and answers["honseki_head_name"] == rec.honseki_head
    assert answers["spouse_living"] is True and answers["spouse_birth_date"] == _record("R0002").birth_date
    # Someone not listed: what the tap filled is cleared and asked.
    person.get_by_label("ここにない人（入力する）").check()
    expect(page.locator("#f-deceased_honseki")).to_have_value("")
    expect(page.locator("fieldset[data-field=spouse_living]")).to_be_visible()
    assert not errors, errors
    context.close()
