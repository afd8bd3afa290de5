"""Issue 12 point 1 in the real app: a bound resident moves (転居) with their household without typing a
member — one tap per person on the household picker — and the stored submission holds the registry's
names byte for byte (an IVS name included); staff filing for an assigned resident get the same picker."""

from __future__ import annotations

import datetime as dt
import unicodedata
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
    review_and_send,
    shot,
    sw_active,
    wait_all_sent,
)

pytestmark = pytest.mark.browser

JST = dt.timezone(dt.timedelta(hours=9))


def _record(rid: str) -> Any:
    return next(r for r in DEMO_RESIDENTS if r.id == rid)


def _expected_item(rid: str) -> dict[str, Any]:
    r = _record(rid)
    return {"mover_name": {"family": r.family, "given": r.given},
            "mover_kana": {"family": r.family_kana, "given": r.given_kana},
            "mover_birth_date": r.birth_date, "mover_sex": r.sex, "mover_relationship": r.relationship_to_head}


def _fill_move(page: Any, postal: str = "1000001", town: str = "千代田", block: str = "1-1") -> None:
    move = dt.datetime.now(JST).date() - dt.timedelta(days=2)
    page.locator("#f-move_date").fill(str(move.year))
    page.locator("#f-move_date-mo").fill(str(move.month))
    page.locator("#f-move_date-d").fill(str(move.day))
    page.locator("#f-new_postal_code").fill(postal)
    page.locator("[data-field=new_postal_code]").get_by_role("button", name="郵便番号から住所を入力").click()
    new_address = page.locator("fieldset[data-field=new_address]")
    expect(new_address.get_by_label("町名")).to_have_value(town)
    new_address.get_by_label("番地").fill(block)


def test_bound_resident_moves_with_the_household_by_ticking(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="葛城 美咲", resident_id="R0004"))
    go(page, server.base, "")
    sw_active(page)

    go(page, server.base, "#/p/tenkyo")  # opening the procedure lands on its first step
    page.wait_for_selector("#form")
    _fill_move(page)
    # The head of household and the previous address come from the registry.
    head = page.locator("fieldset[data-field=new_head_name]")
    expect(head.get_by_label("姓", exact=True)).to_have_value("葛\U000e0100城")
    page.get_by_role("button", name="次へ進む").click()
    page.wait_for_selector("fieldset[data-field=movers]")

    movers = page.locator("fieldset[data-field=movers]")
    # One fieldset whose legend is the group's label, one labelled checkbox per household member.
    assert movers.locator(":scope > legend").inner_text().startswith("異動者（引っ越した人全員）")
    boxes = movers.get_by_role("checkbox")
    expect(boxes).to_have_count(2)
    me = movers.get_by_label("葛\U000e0100城 美咲（世帯主）")
    child = movers.get_by_label("葛\U000e0100城 陽菜（子）")
    box = child.bounding_box()
    assert box is not None and box["height"] >= 24 and box["width"] >= 24  # thumb-sized targets
    axe_check(page, "household-picker")
    me.check()
    child.check()
    # Ticking added one item per person, each value marked with where it came from.
    expect(movers.locator(".group-item")).to_have_count(2)
    item2 = movers.locator(".group-item").nth(1)
    expect(item2.locator("fieldset[data-field=mover_name] .parts input").first).to_have_value("葛\U000e0100城")
    # Each picked member is one line saying where the values came from; they are folded under it.
    assert "登録情報から入力" in item2.locator("details.member-values > summary").inner_text()
    assert "登録情報から入力" in str(item2.locator("fieldset[data-field=mover_name] > legend").text_content())
    # Someone not in the household can still be added by hand.
    expect(movers.get_by_role("button", name="一覧にない異動者を追加")).to_be_visible()
    # Unticking removes that person's item only; ticking again brings it back.
    child.uncheck()
    expect(movers.locator(".group-item")).to_have_count(1)
    child.check()
    expect(movers.locator(".group-item")).to_have_count(2)
    axe_check(page, "household-picked")
    shot(page, "household-picked")
    page.get_by_role("button", name="次へ進む").click()
    # 届出人の関係 is the counter's (staff-only): the resident is asked nothing about it.
    expect(page.get_by_label("本人（異動者のひとり）")).to_have_count(0)
    page.locator("#f-filer_phone").fill("090-1111-2222")
    row = review_and_send(page, server)
    assert row["answers"]["movers"] == [_expected_item("R0004"), _expected_item("R0013")]
    family = row["answers"]["movers"][1]["mover_name"]["family"]
    assert family.encode() == "葛\U000e0100城".encode() and unicodedata.normalize("NFC", family) == family
    assert "prefill_corrected" not in row["flags"]
    assert not errors, errors
    context.close()


def test_tennyu_prefilled_from_the_transfer_certificate(browser: Any, shared_server: ServerProcess) -> None:
    """R0011's family moves in from Osaka: the 転出証明書情報 the demo imported fills the previous address
    and offers the movers to tick, each marked as coming from the certificate."""
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="鈴木 大輔", resident_id="R0011"))
    go(page, server.base, "#/p/tennyu")
    page.wait_for_selector("#form")
    page.get_by_label("国内の他の市区町村").check()
    page.locator("fieldset[data-field=tokurei_tennyu]").get_by_label("いいえ").check()
    page.get_by_role("button", name="次へ進む").click()
    prev = page.locator("fieldset[data-field=previous_address]")
    expect(prev.get_by_label("市区町村")).to_have_value("大阪市北区")
    # The step's prefilled values are one line (from the registry and the certificate: the neutral
    # 「入力済みの項目」, not 「登録情報から」); opened, each says where it came from.
    fold = page.locator("details.prefill-values")
    assert fold.locator("summary").inner_text() == "入力済みの項目（開いて確認・訂正）"
    fold.locator("summary").click()
    assert "転出証明書情報から入力" in prev.locator(":scope > legend").inner_text()
    expect(page.locator("#f-previous_postal_code")).to_have_value("5300001")
    _fill_move(page, "1010051", "神田神保町", "1-5")
    head = page.locator("fieldset[data-field=new_head_name]")
    head.get_by_label("姓", exact=True).fill("鈴木")
    head.get_by_label("名", exact=True).fill("大輔")
    page.get_by_role("button", name="次へ進む").click()
    movers = page.locator("fieldset[data-field=movers]")
    movers.wait_for()
    assert "転出証明書情報" in movers.locator(".hint").first.inner_text()
    movers.get_by_label("鈴木 𠮷乃（子）").check()
    item = movers.locator(".group-item").first
    # The registry id is no 住民票コード: that field stays for the resident to type (or staff).
    expect(item.locator("#f-movers-0--mover_resident_code")).to_have_value("")
    assert "転出証明書情報から入力" in item.locator("details.member-values > summary").inner_text()
    assert "転出証明書情報から入力" in str(item.locator("fieldset[data-field=mover_name] > legend").text_content())
    axe_check(page, "transfer-picker")
    assert not errors, errors
    context.close()


def test_outreach_worker_filing_for_an_assigned_resident_gets_the_household(browser: Any,
                                                                           shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    session = server.login_as("outreach", display_name="訪問 テスト")
    server.write(lambda c: c.execute("INSERT OR IGNORE INTO outreach_assignments (account_id, resident_id, assigned_at)"
                                     " VALUES (?, 'R0005', '2026-01-01T00:00:00+00:00')", (session["account_id"],)))
    add_session(context, server.base, session)
    go(page, server.base, "")
    sw_active(page)
    page.locator("#acting-for").select_option("R0005")
    # Choosing the resident reads their profile while online; the home visit itself may be offline.
    for _ in range(50):
        if any(str(m.get("key", "")).endswith(":R0005") for m in idb_all(page, "meta")):
            break
        page.wait_for_timeout(200)
    context.set_offline(True)
    page.evaluate("location.hash = '#/p/tenkyo'")  # opening the procedure makes the draft, offline
    page.wait_for_selector("#form")
    # The resident's own record fills the form (the worker's account has none), offline too.
    prev = page.locator("fieldset[data-field=previous_address]")
    expect(prev.get_by_label("町名")).to_have_value("外神田")
    expect(page.locator("details.prefill-values")).to_have_count(1)  # folded into one line here too
    move = dt.datetime.now(JST).date() - dt.timedelta(days=2)
    page.locator("#f-move_date").fill(str(move.year))
    page.locator("#f-move_date-mo").fill(str(move.month))
    page.locator("#f-move_date-d").fill(str(move.day))
    page.locator("#f-new_postal_code").fill("1010021")
    new_address = page.locator("fieldset[data-field=new_address]")
    for part, value in (("都道府県", "東京都"), ("市区町村", "千代田区"), ("町名", "外神田"), ("番地", "5-5")):
        new_address.get_by_label(part).fill(value)
    page.get_by_role("button", name="次へ進む").click()
    movers = page.locator("fieldset[data-field=movers]")
    movers.wait_for()
    movers.get_by_label("髙橋 健一（世帯主）").check()
    movers.get_by_label("髙橋 幸子（妻）").check()
    expect(movers.locator(".group-item")).to_have_count(2)
    movers.locator(".group-item").nth(1).locator("details.member-values > summary").click()  # open to correct
    name2 = movers.locator(".group-item").nth(1).locator("fieldset[data-field=mover_name]")
    expect(name2.locator(".parts input").nth(1)).to_have_value("幸子")
    # A corrected value says so at once (and the server flags the submission for staff).
    name2.locator(".parts input").nth(1).fill("幸")
    name2.locator(".parts input").nth(1).blur()
    expect(name2.locator(":scope > legend .prefilled")).to_have_text("登録情報から修正（職員が確認します）")
    name2.locator(".parts input").nth(1).fill("幸子")
    name2.locator(".parts input").nth(1).blur()
    expect(name2.locator(":scope > legend .prefilled")).to_have_text("登録情報から入力")
    assert not errors, errors
    rows = server.write(lambda c: c.execute(
        "SELECT subject, details FROM audit_log WHERE actor = ? AND action = 'registry.profile_read'",
        (session["account_id"],)).fetchall())
    assert len(rows) == 1 and rows[0][0] == "resident:R0005" and '"R0006"' in rows[0][1]
    context.close()


def test_moving_within_life_event_with_the_household(browser: Any, shared_server: ServerProcess) -> None:
    """The 転居 life event for a household of two: the members are ticked, never typed."""
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="葛城 美咲", resident_id="R0004"))
    go(page, server.base, "#/find")
    page.get_by_role("link", name="市内で引っ越した（転居）").click()
    page.locator("#q-needs_certificate-1").check()
    page.get_by_role("button", name="まとめて入力する").click()
    page.wait_for_selector("#form")
    # Step by step: the shared part first, then 転居届's own screens; the household is one of them.
    page.locator("#shared-applicant_phone").fill("090-1111-2222")
    page.locator("#shared-new_postal_code").fill("1000001")
    page.get_by_role("button", name="郵便番号から住所を入力").first.click()
    new_address = page.locator("fieldset[data-field=new_address]")
    expect(new_address.get_by_label("町名")).to_have_value("千代田")
    new_address.get_by_label("番地").fill("1-1")
    move = dt.datetime.now(JST).date() - dt.timedelta(days=2)
    movers = page.locator("fieldset[data-field=movers]")
    for _ in range(6):
        if page.locator("#p-tenkyo-move_date").is_visible():
            page.locator("#p-tenkyo-move_date").fill(str(move.year))
            page.locator("#p-tenkyo-move_date-mo").fill(str(move.month))
            page.locator("#p-tenkyo-move_date-d").fill(str(move.day))
        if movers.is_visible():
            movers.get_by_label("葛\U000e0100城 美咲（世帯主）").check()
            movers.get_by_label("葛\U000e0100城 陽菜（子）").check()
            expect(movers.locator(".group-item")).to_have_count(2)
            axe_check(page, "household-life-event")
        review = page.get_by_role("button", name="入力内容を確認する")
        if review.is_visible():
            review.click()
            break
        page.get_by_role("button", name="次へ進む").click()
        page.wait_for_timeout(300)
    page.wait_for_selector("#submit", timeout=10000)
    page.locator("#submit").click()
    page.wait_for_url("**/#/s/*")
    wait_all_sent(page)
    rows = [r for r in server.export() if r["procedure_id"] == "tenkyo" and r["answers"]["new_address"]["block"] == "1-1"
            and r["answers"]["filer_phone"] == "090-1111-2222" and r["answers"]["move_date"] == move.isoformat()]
    assert rows and rows[-1]["answers"]["movers"] == [_expected_item("R0004"), _expected_item("R0013")]
    assert not errors, errors
    context.close()


def test_registry_birth_date_with_unknown_day_is_accepted_as_is(browser: Any, shared_server: ServerProcess) -> None:
    """髙橋 幸子 (R0006)'s registry birth date is 「1950年3月（日不詳）」: picked, it is accepted without typing,
    shown with the day left empty and said so, and stored byte for byte — not flagged as a correction."""
    server = shared_server
    assert _record("R0006").birth_date == "1950-03"
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="髙橋 健一", resident_id="R0005"))
    go(page, server.base, "#/p/tenkyo")
    page.wait_for_selector("#form")
    _fill_move(page)
    page.get_by_role("button", name="次へ進む").click()
    movers = page.locator("fieldset[data-field=movers]")
    movers.get_by_label("髙橋 健一（世帯主）").check()
    movers.get_by_label("髙橋 幸子（妻）").check()
    expect(movers.locator(".group-item")).to_have_count(2)
    wife = movers.locator(".group-item").nth(1).locator("fieldset[data-field=mover_birth_date]")
    inputs = wife.locator(".parts input")
    assert [inputs.nth(i).input_value() for i in range(3)] == ["1950", "3", ""]
    assert "1950年3月（日不詳）" in str(wife.text_content())
    axe_check(page, "household-partial-date")
    # His phone is in the registry: the 届出人 screen has nothing to answer and folds into the review.
    row = review_and_send(page, server)
    assert row["answers"]["movers"] == [_expected_item("R0005"), _expected_item("R0006")]
    assert row["answers"]["movers"][1]["mover_birth_date"] == "1950-03"
    assert "prefill_corrected" not in row["flags"]
    assert not errors, errors
    context.close()
