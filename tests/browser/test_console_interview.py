"""The counter interview in a real browser, keyboard first: 来庁受付 of a registry resident (山田 太郎) → 聞き取りを始める
(転居) → the derived list changes as the question is answered (the live list: pwa/js/lifeevent.js + expr.js) →
Enter in a field submits nothing → finishing with a field missing points to it, nothing lost → finishing files both
applications, attached to the visit's 市民課 part. axe-core finds nothing on each screen."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess, end_open_visits

from .helpers import add_session, axe_check, derived_titles, retype, shot


@pytest.fixture(autouse=True)
def _no_open_visits(shared_server: ServerProcess) -> None:
    """Each test receives its resident afresh: the tests share a server, and a registry resident has one open
    visit at a time (the earlier test's visit of 山田 太郎 would be 来庁中)."""
    shared_server.write(end_open_visits)


def _counter_page(browser: Any, server: ServerProcess) -> tuple[Any, Any, list[str]]:
    """A clerk's context and page, and the page errors it collects."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    add_session(context, server.base, server.login_as("counter", display_name="窓口 職員"))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def _start_interview(page: Any, event: str) -> None:
    """From the visit page: 聞き取りを始める for ``event`` (its title), by keyboard."""
    page.wait_for_url(re.compile(r"/console/visits/[0-9a-f-]{36}$"))
    page.get_by_label("ライフイベント").select_option(label=event)
    page.get_by_role("button", name="聞き取りを始める").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/interviews/[0-9a-f-]{36}$"))


def _receive(page: Any, server: ServerProcess, name: str, event: str) -> None:
    """来庁受付 of a registry resident found by ``name``, then the interview of ``event``."""
    page.goto(f"{server.base}/console/visits/new")
    expect(page.locator("#vn-q")).to_be_focused()  # autofocus lands before the clerk types
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=検索結果")
    page.get_by_role("button", name=f"{name}さんを受付する").focus()
    page.keyboard.press("Enter")
    _start_interview(page, event)


def test_moving_within_interview_by_keyboard(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    add_session(context, server.base, server.login_as("counter", display_name="窓口 職員"))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Every module the live list imports loads (pwa/js/lifeevent.js and what it imports).
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and "/static/" in r.url
            else None)

    page.goto(f"{server.base}/console/visits/new")
    expect(page.locator("#vn-q")).to_be_focused()  # autofocus lands before the clerk types
    page.keyboard.type("山田 太郎")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=検索結果")
    page.get_by_role("button", name="山田 太郎さんを受付する").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/visits/[0-9a-f-]{36}$"))
    visit_id = page.url.rsplit("/", 1)[1]
    axe_check(page, "interview-visit")
    page.get_by_label("ライフイベント").select_option(label="市内で引っ越した（転居）")
    page.get_by_role("button", name="聞き取りを始める").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/interviews/[0-9a-f-]{36}$"))
    assert "住民記録より：山田 太郎" in page.locator("main").inner_text()
    assert derived_titles(page) == ["転居届"]
    # The keyboard starts at the first question not answered (not <body>, before the menu links).
    expect(page.locator("input[name='q.needs_certificate'][value='yes']")).to_be_focused()
    axe_check(page, "interview")
    shot(page, "interview")

    # The question answered by keyboard: the list follows at once (no round trip).
    page.locator("input[name='q.needs_certificate'][value='yes']").focus()
    page.keyboard.press("Space")
    page.locator("#derived li[data-procedure='juminhyo-copy']").wait_for(state="visible")
    assert derived_titles(page) == ["転居届", "住民票の写し等交付請求"]
    assert page.locator("section.procedure[data-procedure='juminhyo-copy']").is_visible()
    # 手で外す offers it now, 手で加える no longer does.
    assert page.locator("#remove-procedure option[value='juminhyo-copy']").is_enabled()
    assert page.locator("#add-procedure option[value='juminhyo-copy']").is_disabled()
    page.locator("input[name='q.needs_certificate'][value='no']").focus()
    page.keyboard.press("Space")
    page.locator("#derived li[data-procedure='juminhyo-copy']").wait_for(state="hidden")
    page.locator("input[name='q.needs_certificate'][value='yes']").focus()
    page.keyboard.press("Space")

    # Enter in a field never submits the interview.
    retype(page, "#i-tenkyo-move_date", "2026")
    page.locator("#i-tenkyo-move_date").fill("2026-12-01")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert "/interviews/" in page.url and "直す項目" not in page.locator("main").inner_text()

    # Finishing with the new address missing: 422, the error at its field, what was typed is still there.
    page.get_by_role("button", name="聞き取りを終えて申請する").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=直す項目")
    assert "転居届：新しい住所" in page.locator(".error-summary").inner_text()
    assert page.locator("#i-tenkyo-move_date").input_value() == "2026-12-01"
    # The keyboard lands on the summary (what to fix), the title says エラー, and Tab once reaches the first link.
    expect(page.locator(".error-summary")).to_be_focused()
    assert page.title().startswith("エラー：聞き取り")
    page.keyboard.press("Tab")
    first = page.locator(".error-summary a").first
    expect(first).to_be_focused()
    page.keyboard.press("Enter")  # to the field: its first input, not only its fieldset (GOV.UK's summary)
    assert page.url.endswith(str(first.get_attribute("href")))
    expect(page.locator(str(first.get_attribute("href")))).to_be_focused()
    # A link to a fieldset (the address) lands on its first input, not the fieldset (one Tab less).
    page.locator(".error-summary a[href='#i-s-new_address']").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("input[name='s.new_address.postal_code']")).to_be_focused()
    assert page.url.endswith("#i-s-new_address")
    axe_check(page, "interview-errors")
    shot(page, "interview-errors")

    for sel, text in (("[name='s.new_postal_code']", "3300055"), ("[name='s.new_address.postal_code']", "3300055"),
                      ("[name='s.new_address.prefecture']", "埼玉県"), ("[name='s.new_address.city']", "さいたま市浦和区"),
                      ("[name='s.new_address.town']", "東高砂町"), ("[name='s.new_address.block']", "8-8"),
                      ("[name='s.new_address.building']", ""), ("[name='juminhyo-copy.copies']", "1")):
        retype(page, sel, text)
    for sel in ("input[name='tenkyo.movers'][value='0']", "input[name='tenkyo.movers'][value='1']",
                "input[name='tenkyo.filer_relation'][value='self']", "input[name='juminhyo-copy.relation'][value='self']",
                "input[name='juminhyo-copy.certificate_type'][value='all_household']"):
        page.locator(sel).focus()
        page.keyboard.press("Space")
    # A field shown on a condition follows the answer at once: 「その他」 asks what for (on the page re-rendered
    # with the errors too: the live list runs again there).
    detail = page.locator(".field[data-field='juminhyo-copy.purpose_detail']")
    assert detail.is_hidden()
    page.locator("[name='juminhyo-copy.purpose']").select_option("other")
    detail.wait_for(state="visible")
    page.locator("[name='juminhyo-copy.purpose']").select_option("employment")
    detail.wait_for(state="hidden")
    page.get_by_role("button", name="聞き取りを終えて申請する").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/visits/{visit_id}?filed=1")
    main = page.locator("main").inner_text()
    assert "聞き取りの申請を送りました" in main
    assert "転居届" in main and "住民票の写し等交付請求" in main and "担当します（市民課）" in main
    assert "聞き取り開始" in main and "聞き取り終了" in main and "申請済み" in main
    axe_check(page, "interview-filed-visit")
    shot(page, "interview-filed-visit")
    steps = server.query("SELECT step FROM visit_events WHERE visit_id = ? ORDER BY id", (visit_id,))
    assert [s[0] for s in steps] == ["reception", "interview_started", "attached", "interview_finished"]
    assert errors == []
    context.close()


def test_death_interview_picks_the_deceased_from_the_household_by_keyboard(browser: Any,
                                                                           shared_server: ServerProcess) -> None:
    """A person field (亡くなった方): the household offered as radios (not the filer) + 「ここにない人」; picking one
    and 「更新」 fills the name and birth date from the registry."""
    server = shared_server
    context, page, errors = _counter_page(browser, server)
    _receive(page, server, "髙橋 健一", "家族が亡くなった（おくやみ）")
    group = page.get_by_role("group", name="亡くなった方")
    assert group.get_by_role("radio", name="髙橋 幸子（妻）").count() == 1
    assert group.get_by_role("radio", name="ここにない人（入力する）").count() == 1
    assert group.get_by_role("radio", name=re.compile("健一")).count() == 0  # the filer is not offered
    axe_check(page, "interview-person")
    group.get_by_role("radio", name="髙橋 幸子（妻）").focus()
    page.keyboard.press("Space")
    # Filled at once (the PWA's pickPerson).
    expect(page.locator("[name='s.deceased_name.given']")).to_have_value("幸子")
    assert page.locator("[name='s.deceased_name.family']").input_value() == "髙橋"
    page.get_by_role("button", name="更新").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    page.locator("[name='s.deceased_name.given']").wait_for()
    expect(page.locator("[name='s.deceased_name.given'][value='幸子']")).to_have_count(1)  # the re-rendered page
    assert page.get_by_role("group", name="亡くなった方").get_by_role("radio", name="髙橋 幸子（妻）").is_checked()
    assert page.locator("[name='s.deceased_name.family']").input_value() == "髙橋"
    axe_check(page, "interview-person-picked")
    shot(page, "interview-person-picked")
    assert errors == []
    context.close()


def test_birth_interview_rows_and_a_persons_conditional_field_by_keyboard(browser: Any,
                                                                          shared_server: ServerProcess) -> None:
    """A group typed row by row (児童手当's 兄姉): 「行を追加」, labelled inputs per cell, 「この行を削除」; a ticked
    person's field shown on a condition of the person's item (the newborn's address when 同居 is いいえ) appears
    at once."""
    server = shared_server
    context, page, errors = _counter_page(browser, server)
    _receive(page, server, "鈴木 大輔", "子どもが生まれた（出生）")
    for q in ("already_receiving_teate", "is_public_servant"):
        page.locator(f"input[name='q.{q}'][value='no']").focus()
        page.keyboard.press("Space")
    retype(page, "[name='s.child_name.given']", "陽太")
    page.get_by_role("button", name="更新").focus()
    page.keyboard.press("Enter")
    children = page.locator("#i-jido-teate-children")
    expect(children.get_by_role("checkbox", name=re.compile("陽太"))).to_have_count(1)
    children.get_by_role("checkbox", name=re.compile("陽太")).focus()
    page.keyboard.press("Space")
    # The ticked child's own fields show at once (no 「更新」); the unticked people's stay hidden.
    lives = page.locator(".person-item:not([hidden]) input[name$=child_lives_with][value=no]")
    expect(lives).to_have_count(1)
    address = page.locator(".person-item:not([hidden]) .field[data-field$='.child_address']")
    expect(address).to_be_hidden()
    lives.focus()
    page.keyboard.press("Space")
    expect(address).to_be_visible()  # live: no round trip

    page.get_by_role("button", name=re.compile("^行を追加（大学生年代の兄姉")).focus()
    page.keyboard.press("Enter")
    row = page.get_by_role("group", name="兄姉 1")
    expect(row).to_have_count(1)
    row.get_by_label("名").focus()
    page.keyboard.type("一子")
    axe_check(page, "interview-rows")
    shot(page, "interview-rows")
    page.get_by_role("button", name="更新").focus()
    page.keyboard.press("Enter")
    # The re-rendered page has it in the value attribute (typing changes only the live value): no race with
    # the page still on screen.
    expect(page.locator("[name='jido-teate.older_siblings.0.sibling_name.given'][value='一子']")).to_have_count(1)
    expect(page.get_by_role("group", name="兄姉 1").get_by_label("名")).to_have_value("一子")
    page.get_by_role("button", name="この行を削除（兄姉 1）").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("group", name="兄姉 1")).to_have_count(0)
    assert errors == []
    context.close()


def test_a_new_person_is_interviewed_from_their_transfer_data_by_keyboard(browser: Any,
                                                                          shared_server: ServerProcess) -> None:
    """A person not in the registry, received as typed (吉乃, a 和暦 birth date): the 転入 interview is prefilled
    from the demo's 転出証明書情報 (𠮷乃, matched by the one name fold and the birth date)."""
    server = shared_server
    context, page, errors = _counter_page(browser, server)
    page.goto(f"{server.base}/console/visits/new")
    expect(page.locator("#vn-q")).to_be_focused()  # autofocus lands before the clerk types
    for label, text in (("氏", "鈴木"), ("名", "吉乃"), ("生年月日（書かれたとおりに）", "令和元年10月2日")):
        page.get_by_label(label, exact=True).focus()
        page.keyboard.type(text)
    page.get_by_role("button", name="新しい方として受付する").focus()
    page.keyboard.press("Enter")
    _start_interview(page, "引っ越してきた（転入）")
    movers = page.locator("#i-tennyu-movers")
    expect(movers.get_by_role("checkbox", name=re.compile("鈴木 𠮷乃"))).to_be_checked()
    expect(movers.get_by_role("checkbox", name=re.compile("鈴木 大輔"))).to_be_checked()
    assert "転出証明書情報より：" in page.locator("main").inner_text()
    axe_check(page, "interview-new-person")
    shot(page, "interview-new-person")
    assert errors == []
    context.close()


def test_prefilled_values_fold_into_one_tab_stop_opened_to_correct(browser: Any, shared_server: ServerProcess) -> None:
    """The records' complete values of a screen part fold into 「記録から入力済み（確認・訂正）」: closed, their
    inputs are out of the tab order (one stop, the summary); Enter opens it and the labelled inputs hold the
    values. A value the records give in part (the newborn's 姓 without a 名) stays a field to answer."""
    server = shared_server
    context, page, errors = _counter_page(browser, server)
    _receive(page, server, "鈴木 大輔", "子どもが生まれた（出生）")
    fold = page.locator("details.fold").first
    summary = fold.locator("summary")
    expect(summary).to_contain_text("記録から入力済み（確認・訂正）：")
    expect(summary).to_contain_text("住民記録より：")
    inputs = fold.locator("input[type=text]")
    assert inputs.count() > 0 and not inputs.first.is_visible()
    # The partly known name is outside every fold, visible, with its 姓 filled and its 名 to type.
    given = page.locator("[name='s.child_name.given']")
    expect(given).to_be_visible()
    assert given.evaluate("(e) => e.closest('details.fold') === null") and given.input_value() == ""
    summary.focus()
    page.keyboard.press("Enter")
    expect(inputs.first).to_be_visible()
    assert inputs.first.input_value() != ""
    axe_check(page, "interview-fold-open")
    # Tab from the summary goes into the opened fold (its first control), not past it.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('details.fold') !== null")
    assert errors == []
    context.close()


def test_a_question_the_records_answer_is_marked_until_changed(browser: Any, shared_server: ServerProcess) -> None:
    """転入 for 山田 太郎 (一郎, born 2015, in the household): 「高校生年代までの子どもを育てていますか」 starts はい,
    marked 「記録から推定（確認してください）：山田 一郎」, 児童手当 and 子ども医療費 in the list; the clerk's いいえ (by
    keyboard) hides the mark and takes them out at once (interview.js)."""
    server = shared_server
    context, page, errors = _counter_page(browser, server)
    _receive(page, server, "山田 太郎", "引っ越してきた（転入）")
    mark = page.locator("#q-has_children-pre")
    expect(mark).to_have_text("記録から推定（確認してください）：山田 一郎")
    expect(page.locator("input[name='q.has_children'][value='yes']")).to_be_checked()
    derived = page.locator("#derived")
    expect(derived.get_by_role("listitem", name="児童手当認定請求")).to_be_visible()
    expect(derived.get_by_role("listitem", name="子ども医療費助成の申請（受給資格認定）")).to_be_visible()
    basis = page.locator("#why-kodomo-iryohi [data-basis='has_children']")
    expect(basis).to_have_text("。記録から推定（確認してください）：山田 一郎")
    axe_check(page, "interview-known-answer")
    shot(page, "interview-known-answer")
    page.locator("input[name='q.has_children'][value='yes']").focus()
    page.keyboard.press("ArrowDown")  # いいえ
    expect(mark).to_be_hidden()
    expect(basis).to_be_hidden()
    expect(derived.get_by_role("listitem", name="子ども医療費助成の申請（受給資格認定）")).to_be_hidden()
    page.keyboard.press("ArrowUp")  # back to the records' answer: marked again
    expect(mark).to_be_visible()
    assert errors == []
    context.close()


def test_shared_markers_follow_the_procedures_live_and_back_reopens_the_interview(
        browser: Any, shared_server: ServerProcess) -> None:
    """転入: 「手続きをする親の個人番号」 feeds only 児童手当 and 子ども医療費: （必須） while the child question is はい
    (the records' answer for 山田 太郎), not after いいえ (filing refuses it only then), live; the browser's Back and 聞き取りを始める again open the same
    interview (one per life event per visit)."""
    context, page, errors = _counter_page(browser, shared_server)
    _receive(page, shared_server, "山田 太郎", "引っ越してきた（転入）")
    url = page.url
    # (The value is the registry's, folded into 「記録から入力済み」: the marker's own hidden flag is what counts.)
    marker = page.locator(".field[data-field='s.parent_my_number'] .req")
    assert marker.count() == 1
    expect(marker).to_have_js_property("hidden", False)
    page.locator("input[name='q.has_children'][value='no']").focus()
    page.keyboard.press("Space")
    expect(marker).to_have_js_property("hidden", True)
    page.locator("input[name='q.has_children'][value='yes']").focus()
    page.keyboard.press("Space")
    expect(marker).to_have_js_property("hidden", False)
    # A shared field filing requires through an included procedure is marked although its own flag is not.
    expect(page.locator(".field[data-field='s.new_postal_code'] .req")).to_have_js_property("hidden", False)

    page.go_back()
    page.wait_for_url(re.compile(r"/console/visits/[0-9a-f-]{36}$"))
    page.get_by_label("ライフイベント").select_option("moving-in")
    page.get_by_role("button", name="聞き取りを始める").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(url)
    assert errors == []
    context.close()


def test_the_interview_opens_at_the_first_thing_to_answer(browser: Any, shared_server: ServerProcess) -> None:
    """Loaded afresh, the focus is on the first question not answered; once every question is answered, on the
    first field filing requires that is still empty (past the values folded from the records); a procedure filed
    in this visit already stays out of the live list as the questions change (data-filed)."""
    context, page, errors = _counter_page(browser, shared_server)
    _receive(page, shared_server, "山田 太郎", "市内で引っ越した（転居）")
    expect(page.locator("input[name='q.needs_certificate'][value='yes']")).to_be_focused()
    page.keyboard.press("Space")  # はい
    url = page.url
    page.get_by_role("button", name="更新").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    page.wait_for_function("document.activeElement && document.activeElement !== document.body")
    # 手続きをする人の氏名 and the phone are folded (from the records): the new address's postal code is first.
    expect(page.locator("#i-s-new_postal_code")).to_be_focused()
    assert page.url == url
    # The live list honours data-filed: marked so, 住民票の写し stays out whatever the question says.
    page.evaluate("document.querySelector(\"#derived li[data-procedure='juminhyo-copy']\").dataset.filed = '2026-000001'")
    page.locator("input[name='q.needs_certificate'][value='no']").focus()
    page.keyboard.press("Space")
    page.locator("input[name='q.needs_certificate'][value='yes']").focus()
    page.keyboard.press("Space")
    page.wait_for_timeout(200)
    assert derived_titles(page) == ["転居届"]
    assert page.locator("#derived-out li[data-procedure='juminhyo-copy']").is_visible()
    assert errors == []
    context.close()
