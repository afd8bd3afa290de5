"""The life-event navigator end to end: questions -> procedures and documents -> one combined form where the
shared fields are entered once -> one submission per procedure on the server, shared values mapped in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, go, new_phone, shot, sw_active, wait_all_sent, wait_draft

pytestmark = pytest.mark.browser

JST = dt.timezone(dt.timedelta(hours=9))


def answer(page: Any, question: str, yes: bool) -> None:
    page.locator(f"#q-{question}-{0 if yes else 1}").check()



def _event_estimate(page: Any, key: str) -> int:
    """The build's estimate (madoguchi/build.py) of moving-in for exactly the procedures ``key`` ("a,b")."""
    return int(page.evaluate("""async (key) => {
      const index = await (await fetch(document.documentElement.dataset.index)).json();
      const e = index.life_events['moving-in'];
      return (await (await fetch(e.versions[e.latest])).json()).estimate_seconds[key];
    }""", key))


def _about(seconds: int) -> str:
    """pwa/js/steps.js aboutTime in Japanese: tens of seconds under 55 s, else whole minutes."""
    if seconds < 55:
        return f"約{max(10, int(seconds / 10 + 0.5) * 10)}秒"
    return f"約{max(1, int(seconds / 60 + 0.5))}分"

def test_moving_in_combined_form(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="転入 太郎"))

    def check(name: str) -> None:
        axe_check(page, name)
        shot(page, name)

    go(page, server.base, "")
    sw_active(page)

    # Browse by life event from the finder.
    go(page, server.base, "#/find")
    page.get_by_role("link", name="引っ越してきた（転入）").click()
    page.wait_for_selector("#event-result .card")
    # Before any answer only the procedure everyone needs applies.
    result = page.locator("#event-result")
    page.wait_for_function("() => document.querySelectorAll('#event-result .card').length === 1")
    assert "転入届" in result.inner_text()
    # Before starting: the build's estimate for the procedures that apply, for exactly that set.
    alone = page.locator("#estimate").inner_text()
    assert alone == f"かかる時間の目安：{_about(_event_estimate(page, 'tennyu'))}", alone

    answer(page, "no_employee_insurance", False)
    answer(page, "pension_category1", False)
    answer(page, "has_children", True)
    # A follow-up question appears only after "yes".
    page.wait_for_selector("#q-is_public_servant-0")
    answer(page, "is_public_servant", True)
    answer(page, "has_children", False)
    page.wait_for_selector("#q-is_public_servant-0", state="detached")
    answer(page, "wants_seal", False)
    answer(page, "needs_certificate", True)
    page.wait_for_function(
        "() => document.getElementById('event-result').textContent.includes('住民票の写し等交付請求')"
    )
    text = result.inner_text()
    assert "転入届" in text and "住民票の写し等交付請求" in text
    with_copy = page.locator("#estimate").inner_text()
    # The build's estimate for exactly the new set (a larger one; the minutes shown may round to the same).
    both = _event_estimate(page, "tennyu,juminhyo-copy")
    assert both > _event_estimate(page, "tennyu")
    assert with_copy == f"かかる時間の目安：{_about(both)}", with_copy
    for absent in ("国民健康保険", "児童手当", "印鑑登録"):
        assert absent not in text.split("持ち物")[0], absent
    # What to bring: the unconditional documents of both procedures, each listed once.
    docs = text.split("持ち物", 1)[1]
    assert "届出人の本人確認書類" in docs and "窓口に来る人の本人確認書類" in docs
    check("life-event")
    # The same screen in やさしい日本語 (the answers are kept).
    page.select_option("#lang", "ja-easy")
    page.wait_for_function(
        "() => document.querySelector('#event-result h2').textContent.includes('ひつよう')"
    )
    assert page.locator("#q-needs_certificate-0").is_checked()
    check("life-event-easy")
    page.select_option("#lang", "ja")
    page.wait_for_function("() => document.querySelector('#event-result h2').textContent === '必要な手続き'")

    page.get_by_role("button", name="まとめて入力する").click()
    page.wait_for_selector("#form")

    def heading() -> str:
        return str(page.locator("#form h2#page-title").inner_text())

    def step_to(part: str) -> None:
        """次へ (or, on the last step, 入力内容を確認する) and wait for the step whose heading has ``part``."""
        page.locator("#form button[type=submit]").click()
        page.wait_for_function(
            "(part) => (document.querySelector('#form h2#page-title') || {}).textContent?.includes(part)", arg=part
        )
        assert page.evaluate("document.activeElement && document.activeElement.id") == "page-title"

    # Step 1: the shared fields, asked once; the procedures' own copies of them are not asked.
    assert heading().startswith("1 / ") and "共通の項目" in heading(), heading()
    assert page.locator("progress.step-progress").get_attribute("value") == "1"
    assert page.locator("#shared-applicant_name").count() == 1
    assert page.locator("#p-juminhyo-copy-applicant_name").count() == 0
    assert page.locator("#p-tennyu-filer_name").count() == 0
    assert page.locator("#p-tennyu-new_address").count() == 0
    check("bundle-form")

    # Continue with nothing filled: this step's error summary.
    page.get_by_role("button", name="次へ進む").click()
    page.wait_for_selector("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    summary = page.locator("#error-summary").inner_text()
    # Each entry names its field, with the same words as the message under the field.
    assert "手続きをする人の氏名：入力してください。" in summary
    assert (
        "＊手続きをする人の氏名：入力してください。"
        in page.locator("#shared-applicant_name-error").inner_text()
    )
    check("bundle-errors")
    # Honest markers: every shared field refused here is marked ※必須, the new address's postal code included
    # (a shared field is refused through the procedure it fills: 転入届 requires it).
    refused = page.evaluate("""() => [...document.querySelectorAll('#form [data-path]')]
      .filter((n) => !n.hidden && n.querySelector(':scope > .error-text:not([hidden])'))
      .map((n) => [n.dataset.path, (n.querySelector(':scope > :is(label, legend) > :is(.req, .opt)') || {}).textContent])""")
    assert refused and all(m == "※必須" for _, m in refused), refused
    assert ["new_postal_code", "※必須"] in refused, refused
    # An error link moves focus to its field.
    page.locator("#error-summary a").first.click()
    assert page.evaluate("document.activeElement.closest('[data-path]') !== null")

    shared = page.locator("#form")
    today = dt.datetime.now(JST).date()
    move = today - dt.timedelta(days=3)
    page.locator("#shared-move_date").fill(str(move.year))
    page.locator("#shared-move_date-mo").fill(str(move.month))
    page.locator("#shared-move_date-d").fill(str(move.day))
    page.locator("#shared-new_postal_code").fill("330-0063")
    shared.get_by_role("button", name="郵便番号から住所を入力").first.click()
    new_address = page.locator("fieldset[data-field=new_address]")
    expect(new_address.get_by_label("都道府県")).to_have_value("埼玉県")
    expect(new_address.get_by_label("市区町村")).to_have_value("さいたま市浦和区")
    new_address.get_by_label("番地").fill("3丁目15-1")
    new_address.get_by_label("建物名・部屋番号").fill("高砂ハイツ201")
    prev = page.locator("fieldset[data-field=previous_address]")
    prev.get_by_label("郵便番号").fill("1600022")
    prev.get_by_role("button", name="郵便番号から住所を入力").click()
    expect(prev.get_by_label("市区町村")).to_have_value("新宿区")
    prev.get_by_label("番地").fill("2丁目8-1")
    page.locator("#shared-head_name").fill("転入")
    page.locator("#shared-head_name-given").fill("太郎")
    page.locator("#shared-applicant_name").fill("転入")
    page.locator("#shared-applicant_name-given").fill("太郎")
    page.locator("#shared-applicant_phone").fill("０９０－１２３４－５６７８")
    wait_draft(page, "d.kind === 'bundle' && d.shared.applicant_phone")

    # 転入届's own steps, one topic per screen.
    step_to("転入届：はじめに")
    assert heading().startswith("2 / ")
    page.get_by_label("国内の他の市区町村").check()
    page.locator("fieldset[data-field=tokurei_tennyu]").get_by_label("はい").check()
    wait_draft(page, "d.procedure_id === 'tennyu' && d.answers.moved_from === 'domestic'")
    # 戻る and 次へ, offline: nothing is lost.
    context.set_offline(True)
    page.get_by_role("link", name="戻る").click()
    page.wait_for_function("() => (document.querySelector('#form h2') || {}).textContent?.includes('共通の項目')")
    expect(page.locator("#shared-applicant_phone")).to_have_value("090-1234-5678")
    expect(page.locator("fieldset[data-field=new_address]").get_by_label("番地")).to_have_value("3丁目15-1")
    step_to("転入届：はじめに")
    expect(page.get_by_label("国内の他の市区町村")).to_be_checked()
    context.set_offline(False)
    step_to("転入届：引っ越しの内容")
    step_to("転入届：引っ越した人")
    page.get_by_role("button", name="異動者を追加").click()
    mover = page.locator("fieldset.group-item").first
    mover.locator("fieldset[data-field=mover_name]").get_by_label("姓", exact=True).fill("転入")
    mover.locator("fieldset[data-field=mover_name]").get_by_label("名", exact=True).fill("太郎")
    mover.locator("fieldset[data-field=mover_kana]").get_by_label("セイ").fill("テンニュウ")
    mover.locator("fieldset[data-field=mover_kana]").get_by_label("メイ").fill("タロウ")
    birth = mover.locator("fieldset[data-field=mover_birth_date]")
    birth.get_by_label("年", exact=True).fill("1990")
    birth.get_by_label("月", exact=True).fill("5")
    birth.get_by_label("日", exact=True).fill("12")
    mover.get_by_label("男").check()
    mover.get_by_label("世帯主との続柄").fill("世帯主")
    step_to("転入届：外国籍の方")
    page.locator("fieldset[data-field=is_foreign]").get_by_label("いいえ").check()
    # 転入届's 付記事項 and 届出人 are not steps: the counter's (staff-only) but for the shared name and phone.
    # 住民票: the applicant section is all shared (no step); a section that an answer adds (代理人 -> 必要な人)
    # becomes a step, and goes away again with the answer.
    step_to("住民票の写し等交付請求：請求の内容")
    check("bundle-step")
    page.get_by_label("頼まれた人（代理人）").check()
    page.get_by_label("住民票の写し（世帯全員）").check()
    page.get_by_label("通数").fill("1")
    page.locator("#p-juminhyo-copy-purpose").select_option("employment")
    step_to("住民票の写し等交付請求：必要な人")
    page.get_by_role("link", name="戻る").click()
    page.wait_for_function("() => (document.querySelector('#form h2') || {}).textContent?.includes('請求の内容')")
    page.get_by_label("自分（本人）").check()
    expect(page.get_by_label("通数")).to_have_value("1")
    wait_draft(page, "d.procedure_id === 'juminhyo-copy' && d.answers.relation === 'self'")
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#submit", timeout=10000)
    review = page.locator("main").inner_text()
    assert review.count("3丁目15-1") == 1  # the shared address is shown once, not per procedure
    check("bundle-review")
    page.locator("#submit").click()
    page.wait_for_function("() => location.hash === '#/'")
    wait_all_sent(page)
    check("bundle-sent")

    rows = {r["procedure_id"]: r for r in server.export() if r["procedure_id"] in ("tennyu", "juminhyo-copy")}
    assert set(rows) == {"tennyu", "juminhyo-copy"}, rows
    t, j = rows["tennyu"]["answers"], rows["juminhyo-copy"]["answers"]
    address = {
        "postal_code": "3300063",
        "prefecture": "埼玉県",
        "city": "さいたま市浦和区",
        "town": "高砂",
        "block": "3丁目15-1",
        "building": "高砂ハイツ201",
    }
    assert t["new_address"] == address and j["applicant_address"] == address
    assert t["new_postal_code"] == j["applicant_postal_code"] == "3300063"
    assert t["filer_name"] == j["applicant_name"] == {"family": "転入", "given": "太郎"}
    assert t["filer_phone"] == j["applicant_phone"] == "090-1234-5678"
    assert t["new_head_name"] == {"family": "転入", "given": "太郎"}
    assert t["move_date"] == move.isoformat()
    assert t["previous_address"]["city"] == "新宿区" and t["previous_address"]["postal_code"] == "1600022"
    assert t["movers"][0]["mover_kana"] == {"family": "テンニュウ", "given": "タロウ"}
    assert j["relation"] == "self" and "subject_name" not in j
    # Exactly one submission each, and the combined draft is gone.
    assert sum(1 for r in server.export() if r["procedure_id"] in ("tennyu", "juminhyo-copy")) == 2
    # Telemetry per procedure: shared fields typed once count as typed in each procedure they feed
    # (住民票: name, postal code, address, phone from the shared part + its own 4 answers).
    tel = server.query("SELECT procedure_id, fields_typed, fields_prefilled FROM telemetry ORDER BY procedure_id")
    assert [row[0] for row in tel] == ["juminhyo-copy", "tennyu"], tel
    assert tel[0][1:] == (8, 0), tel
    assert isinstance(tel[1][1], int) and tel[1][1] >= 11, tel  # 転入届: 届出人の関係 and 付記 are the counter's, not typed
    go(page, server.base, "")
    assert page.locator(".card", has_text="引っ越してきた").count() == 0
    assert not errors, errors
    context.close()


def test_event_page_has_no_stray_text_and_lists_each_document_once(browser: Any, shared_server: ServerProcess) -> None:
    """Every life-event page's result is elements only (a null part once showed as the text "null" under
    まとめて入力する), and a document two included procedures ask for is listed once."""
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="転入 花子"))
    for event in ("moving-within", "birth", "moving-in"):
        go(page, server.base, f"#/e/{event}")
        page.wait_for_selector("#event-result .card")
        stray = page.evaluate("""() => [...document.querySelectorAll('main, main *')].flatMap((n) => [...n.childNodes])
          .filter((c) => c.nodeType === Node.TEXT_NODE && /^(null|undefined|false)$/.test(c.textContent.trim()))
          .map((c) => c.textContent)""")
        assert stray == [], (event, stray)
    # 転入 with 国保: both 転入届 and the 国保 加入届 ask for the filer's ID (worded differently in やさしい日本語).
    answer(page, "no_employee_insurance", True)
    page.wait_for_function("() => document.querySelectorAll('#event-result .card').length === 2")
    for lang, label in (("ja", "届出人の本人確認書類"), ("ja-easy", "来る 人の 顔写真が ある カード")):
        if lang != "ja":
            page.select_option("#lang", lang)
            page.wait_for_function("(s) => document.getElementById('event-result').textContent.includes(s)", arg=label)
        items = page.locator("#event-result ul:not(.cards) > li").all_inner_texts()
        assert len([x for x in items if label in x]) == 1, (lang, items)
        assert len(items) == len(set(items)), items
    assert not errors, errors


# Records, across reloads, every field of a procedure of the bundle that a step showed (scope p-{procedure}).
_SEEN_FIELDS_JS = """(() => {
  const note = () => {
    const seen = new Set(JSON.parse(sessionStorage.getItem('qmap-seen') || '[]'));
    for (const n of document.querySelectorAll('#form [data-path]')) {
      const c = n.querySelector('input, select, textarea');
      if (c && c.id && c.id.startsWith('p-') && n.checkVisibility()) seen.add(`${c.id.split('-').slice(0, -1).join('-')}|${n.dataset.path}`);
    }
    sessionStorage.setItem('qmap-seen', JSON.stringify([...seen]));
  };
  new MutationObserver(note).observe(document, { childList: true, subtree: true });
})();"""


def test_birth_asks_whether_a_public_servant_once(browser: Any, shared_server: ServerProcess) -> None:
    """Issue 12 point 4: 「収入が多い方の親は公務員ですか」 is asked once, as the birth event's question. The
    question's maps_to fills 児童手当's own 公務員か, so its step does not ask it, and the filed 児童手当 carries
    the answer (いいえ: else 児童手当 would not be included). The scripted resident (bench/resident_driver.py)
    answers every question いいえ and fills what each step marks ※必須, to the receipt."""
    from bench.resident_driver import Counts, Driver, Values
    from procedure_definitions.library import load_library

    server = shared_server
    context, page, errors = new_phone(browser)
    context.add_init_script(_SEEN_FIELDS_JS)
    add_session(context, server.base, server.login_as("resident", display_name="出生 太郎"))
    go(page, server.base, "")
    sw_active(page)
    lib = load_library()
    ev = lib.life_events["birth"][max(lib.life_events["birth"])]
    procs = [p for x in ev.procedures if (p := lib.latest(x.procedure)) is not None]
    before = {r["id"] for r in server.export()}
    go(page, server.base, "#/e/birth")
    assert Driver(page, Values(procs, dt.datetime.now(JST).date(), ev), procs[0].id, Counts()).run() == "receipt"
    wait_all_sent(page)
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('qmap-seen') || '[]')")
    jido = {s.split("|")[1] for s in seen if s.startswith("p-jido-teate|")}
    assert "pension_type" in jido, seen  # 児童手当's first step was shown (公務員か is its first field)
    assert "is_public_servant" not in jido, jido
    new = {r["procedure_id"]: r for r in server.export() if r["id"] not in before}
    assert set(new) == {"shussei", "jido-teate", "kodomo-iryohi"}, sorted(new)
    assert new["jido-teate"]["answers"]["is_public_servant"] is False
    assert not errors, errors
    context.close()
