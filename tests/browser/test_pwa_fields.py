"""Japanese field types in the real app (転入届): postal code -> address offline (a shard used once online,
and a shard only downloaded in the background), hiragana -> katakana on blur, 和暦 entry with 令和元年, and a
photo from the file chooser that is uploaded when the connection returns and referenced in the submission."""

from __future__ import annotations

import datetime as dt
import hashlib
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
    poll,
    ready,
    shot,
    sw_active,
    wait_all_sent,
    wait_draft,
)

pytestmark = pytest.mark.browser

JST = dt.timezone(dt.timedelta(hours=9))


def shard_cached(page: Any, prefix: str) -> bool:
    return bool(
        page.evaluate(
            """async (prefix) => {
                const index = await (await fetch(document.documentElement.dataset.index)).json();
                const cache = await caches.open('madoguchi-postal');
                return Boolean(await cache.match(`${index.postal}${prefix}.json`));
            }""",
            prefix,
        )
    )


def next_page(page: Any, title: str) -> None:
    page.get_by_role("button", name="次へ進む").click()
    page.wait_for_selector(f"h2:has-text('{title}')")


def test_postal_kana_wareki_attachment(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="転入 花子"))

    def check(name: str) -> None:
        axe_check(page, name)
        shot(page, name)

    go(page, server.base, "")
    sw_active(page)
    # A small real JPEG, as a phone camera would hand it over (Chromium encodes it).
    jpeg = page.screenshot(type="jpeg", quality=70, clip={"x": 0, "y": 0, "width": 48, "height": 32})
    assert jpeg[:3] == b"\xff\xd8\xff"

    go(page, server.base, "#/p/tennyu")
    page.wait_for_selector("#form")
    page.get_by_label("国内の他の市区町村").check()
    page.locator("fieldset[data-field=tokurei_tennyu]").get_by_label("いいえ").check()
    next_page(page, "引っ越しの内容")

    # Online: the lookup fetches shard 100 (and the service worker keeps it).
    page.locator("#f-new_postal_code").fill("１００－０００１")  # full-width, as typed on a phone
    page.locator("[data-field=new_postal_code]").get_by_role("button", name="郵便番号から住所を入力").click()
    new_address = page.locator("fieldset[data-field=new_address]")
    expect(new_address.get_by_label("町名")).to_have_value("千代田")
    expect(page.locator("#f-new_postal_code-postal-status")).to_have_text(
        "住所を入力しました：東京都千代田区千代田"
    )
    # The fields were redrawn; focus stays on the lookup button, and its live region announced the result.
    assert page.evaluate("document.activeElement.id") == "f-new_postal_code-postal-lookup"
    assert shard_cached(page, "100")
    # The background download brings the other shards (330 was never looked up).
    poll(
        page,
        """async () => {
            const index = await (await fetch(document.documentElement.dataset.index)).json();
            const cache = await caches.open('madoguchi-postal');
            return Boolean(await cache.match(`${index.postal}330.json`));
        }""",
        timeout=60,
        interval=0.5,
    )
    wait_draft(page, "d.answers && d.answers.new_address && d.answers.new_address.town === '千代田'")

    # Offline, in a page opened afresh (nothing in memory): both lookups are served from the cache.
    context.set_offline(True)
    page.close()
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    resp = page.goto(server.base + "/")
    assert resp is not None and resp.from_service_worker
    ready(page)
    page.locator("a.card-link", has_text="転入届").click()
    page.wait_for_selector("#form")
    next_page(page, "引っ越しの内容")
    new_address = page.locator("fieldset[data-field=new_address]")
    expect(new_address.get_by_label("町名")).to_have_value("千代田")
    # Another code of the same shard: autofilled parts follow the new code, typed parts stay.
    new_address.get_by_label("番地").fill("1-9-1")
    page.locator("#f-new_postal_code").fill("1000005")
    page.locator("[data-field=new_postal_code]").get_by_role("button", name="郵便番号から住所を入力").click()
    new_address = page.locator("fieldset[data-field=new_address]")
    expect(new_address.get_by_label("町名")).to_have_value("丸の内")
    expect(new_address.get_by_label("番地")).to_have_value("1-9-1")
    move = dt.datetime.now(JST).date() - dt.timedelta(days=2)
    page.locator("#f-move_date").fill(str(move.year))
    page.locator("#f-move_date-mo").fill(str(move.month))
    page.locator("#f-move_date-d").fill(str(move.day))
    head = page.locator("fieldset[data-field=new_head_name]")
    head.get_by_label("姓", exact=True).fill("山田")
    head.get_by_label("名", exact=True).fill("花子")
    # A shard that only the background download brought. 330-0000 is two wards: the user chooses.
    page.locator("#f-previous_postal_code").fill("3300000")
    page.locator("[data-field=previous_postal_code]").get_by_role("button", name="郵便番号から住所を入力").click()
    expect(page.locator("#f-previous_postal_code-postal-status")).to_have_text("候補が2件あります。選んでください。")
    page.get_by_role("button", name="埼玉県さいたま市浦和区").click()
    prev = page.locator("fieldset[data-field=previous_address]")
    expect(prev.get_by_label("市区町村")).to_have_value("さいたま市浦和区")
    assert page.evaluate("document.activeElement.id") == "f-previous_postal_code-postal-lookup"
    page.locator("#f-previous_postal_code").fill("330-0063")
    page.locator("[data-field=previous_postal_code]").get_by_role(
        "button", name="郵便番号から住所を入力"
    ).click()
    prev = page.locator("fieldset[data-field=previous_address]")
    expect(prev.get_by_label("市区町村")).to_have_value("さいたま市浦和区")
    expect(prev.get_by_label("町名")).to_have_value("高砂")
    prev.get_by_label("番地").fill("3丁目15-1")
    check("postal-offline")
    next_page(page, "引っ越した人")

    # Kana: hiragana typed, katakana shown and stored after blur. 和暦: 令和 + 元年.
    page.get_by_role("button", name="異動者を追加").click()
    mover = page.locator("fieldset.group-item").first
    mover.locator("fieldset[data-field=mover_name]").get_by_label("姓", exact=True).fill("山田")
    mover.locator("fieldset[data-field=mover_name]").get_by_label("名", exact=True).fill("はな")
    kana = mover.locator("fieldset[data-field=mover_kana]")
    kana.get_by_label("セイ").fill("やまだ")
    kana.get_by_label("メイ").fill("はな")
    kana.get_by_label("メイ").blur()
    expect(kana.get_by_label("セイ")).to_have_value("ヤマダ")
    expect(kana.get_by_label("メイ")).to_have_value("ハナ")
    birth = mover.locator("fieldset[data-field=mover_birth_date]")
    birth.get_by_label("暦").select_option("令和")
    birth.get_by_label("年", exact=True).fill("元")
    birth.get_by_label("月", exact=True).fill("5")
    birth.get_by_label("日", exact=True).fill("1")
    expect(birth).to_contain_text("和暦：令和元年5月1日")
    mover.get_by_label("女").check()
    mover.get_by_label("世帯主との続柄").fill("子")
    wait_draft(page, "d.answers && d.answers.movers && d.answers.movers[0].mover_birth_date === '2019-05-01'")
    drafts = [d for d in idb_all(page, "drafts") if d.get("procedure_id") == "tennyu"]
    assert drafts[0]["answers"]["movers"][0]["mover_kana"] == {"family": "ヤマダ", "given": "ハナ"}
    check("kana-wareki")
    next_page(page, "外国籍の方")

    # A photo from the file chooser (the camera on a phone), kept on the device while offline.
    page.locator("fieldset[data-field=is_foreign]").get_by_label("はい").check()
    page.get_by_label("国籍・地域").fill("ベトナム")
    page.get_by_label("在留資格").fill("技術・人文知識・国際業務")
    exp = page.locator("fieldset[data-field=residence_expiry]")
    exp.get_by_label("年", exact=True).fill("2029")
    exp.get_by_label("月", exact=True).fill("3")
    exp.get_by_label("日", exact=True).fill("19")
    page.get_by_label("在留カード番号").fill("AB12345678CD")
    page.locator("#f-residence_card_photo").set_input_files(
        files=[{"name": "zairyu-front.jpg", "mimeType": "image/jpeg", "buffer": jpeg}]
    )
    expect(page.locator("[data-field=residence_card_photo] .file-list")).to_contain_text("zairyu-front.jpg")
    blobs = idb_all(page, "blobs")
    sha = hashlib.sha256(jpeg).hexdigest()
    assert [b["sha256"] for b in blobs] == [sha]
    check("attachment")
    next_page(page, "届出人")  # 付記事項 and 届出人の関係 are the counter's
    filer = page.locator("fieldset[data-field=filer_name]")
    filer.get_by_label("姓", exact=True).fill("山田")
    filer.get_by_label("名", exact=True).fill("花子")
    page.get_by_label("日中の連絡先電話番号").fill("080-1111-2222")
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#submit")
    review = page.locator("main").inner_text()
    assert (
        "2019年5月1日（令和元年5月1日）" in review and "〒100-0005" in review and "zairyu-front.jpg" in review
    )
    check("fields-review")
    page.locator("#submit").click()
    page.wait_for_function(
        "() => document.getElementById('sync-status').textContent.includes('1件 送信待ち')", timeout=10000
    )
    submission_id = page.url.rsplit("/", 1)[-1]

    # Back online: the photo goes up first, then the submission that references it.
    context.set_offline(False)
    wait_all_sent(page)
    rows = [r for r in server.export() if r["id"] == submission_id]
    assert len(rows) == 1
    a = rows[0]["answers"]
    assert "incomplete_attachments" not in rows[0]["flags"]
    assert a["residence_card_photo"] == [
        {"sha256": sha, "name": "zairyu-front.jpg", "size": len(jpeg), "type": "image/jpeg"}
    ]
    assert a["new_postal_code"] == "1000005"
    assert a["new_address"] == {
        "postal_code": "1000005",
        "prefecture": "東京都",
        "city": "千代田区",
        "town": "丸の内",
        "block": "1-9-1",
    }
    assert a["previous_address"]["town"] == "高砂" and a["previous_address"]["postal_code"] == "3300063"
    assert a["movers"][0]["mover_kana"] == {"family": "ヤマダ", "given": "ハナ"}
    assert a["movers"][0]["mover_birth_date"] == "2019-05-01"
    stored = page.evaluate(
        """async (sha) => { const r = await fetch(`/api/attachments/${sha}`);
            return [r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength]; }""",
        sha,
    )
    assert stored[0] == 200 and stored[1].startswith("image/jpeg") and stored[2] == len(jpeg)
    assert not errors, errors
    context.close()


def test_a_filtered_select_follows_the_answers_it_reads(browser: Any, shared_server: ServerProcess) -> None:
    """出生届's 続き柄 (choice_filter on 性別 and 嫡出) offers the matching options as soon as they are answered."""
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="出生 花子"))
    go(page, server.base, "#/p/shussei")
    page.wait_for_selector("#form")
    order = page.locator("#f-child_order option")
    expect(order).to_have_count(1)  # only the prompt: nothing to filter by yet
    page.locator("fieldset[data-field=child_sex]").get_by_label("男", exact=True).check()
    page.locator("fieldset[data-field=legitimacy]").get_by_label("嫡出子（父母が婚姻している）").check()
    expect(page.locator("#f-child_order option", has_text="長男")).to_have_count(1)
    assert page.locator("#f-child_order option", has_text="長女").count() == 0
    page.locator("#f-child_order").select_option(label="長男")
    page.locator("fieldset[data-field=child_sex]").get_by_label("女", exact=True).check()
    expect(page.locator("#f-child_order option", has_text="長女")).to_have_count(1)
    assert page.locator("#f-child_order option", has_text="長男").count() == 0
    axe_check(page, "filtered-select")
    assert not errors, errors
    context.close()
