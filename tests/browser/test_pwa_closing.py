"""A procedure's scheduled close in the real app on a phone viewport (docs/configuring.md, "Scheduling"):
the versions' ``closes_at`` / ``close_message`` columns written in the server's database before it starts
(the live library reads them; the build ships them in the procedure file and the catalog). Past the close, the
procedure page shows the city's message and starts no application, and the finder marks it 受付終了; before
it, the first step says until when (Japan time); a draft started before the close is still offered and can be
continued after it (the phone's clock moved past the close); a life event lists it marked and leaves it out
of the combined form."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from testsupport.servers import ServerProcess

from .conftest import demo_server
from .helpers import axe_check, go, idb_all, new_phone, ready, wait_draft

pytestmark = pytest.mark.browser

OPEN = "juminhyo-copy"  # closes in two days
CLOSED = "inkan-shomei"  # closed yesterday
MESSAGE = {"ja": "令和8年度の受付は終了しました。来年度は4月1日から受け付けます。",
           "en": "Applications for this year have closed. They open again on 1 April.",
           "ja-easy": "ことしの うけつけは おわりました。4がつ 1にちから また うけつけます。"}
JST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CLOSES = (NOW + dt.timedelta(days=2)).replace(minute=0, second=0)
CLOSED_AT = NOW - dt.timedelta(days=1)


def utc(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("closing") / "madoguchi.db"
    server = demo_server(db)
    server.start()  # the first start imports the shipped library into procedure_versions
    server.stop()
    with sqlite3.connect(db) as c:
        c.execute("UPDATE procedure_versions SET closes_at = ? WHERE procedure_id = ?", (utc(CLOSES), OPEN))
        c.execute("UPDATE procedure_versions SET closes_at = ?, close_message = ? WHERE procedure_id = ?",
                  (utc(CLOSED_AT), json.dumps(MESSAGE, ensure_ascii=False), CLOSED))
    server.start()
    yield server
    server.stop()


def test_closed_procedure_shows_the_message_and_starts_nothing(browser: Any, scheduled: ServerProcess) -> None:
    server = scheduled
    # The server lists it still (with its schedule): only new applications stop, in the app.
    rows = {r["id"]: r for r in httpx.get(f"{server.base}/api/procedures").json()}
    assert rows[CLOSED]["closes_at"] and rows[CLOSED]["close_message"] == MESSAGE
    context, page, errors = new_phone(browser)
    go(page, server.base, f"#/p/{CLOSED}")
    assert page.url.endswith(f"#/p/{CLOSED}")  # not sent on to a draft's first step
    assert page.locator("#closed-title").inner_text() == "この手続きの受付は終了しました"
    assert page.locator("#close-message").inner_text() == MESSAGE["ja"]
    assert page.locator("#form").count() == 0
    assert page.get_by_role("button").filter(has_text="次へ").count() == 0
    assert idb_all(page, "drafts") == []  # no draft made on opening
    # No draft started: nothing but the notice and the way back (no stray "null" text nodes).
    assert "null" not in page.locator("main").inner_text()
    assert page.locator("#closed-drafts").count() == 0
    axe_check(page, "closed procedure")

    # In the person's language.
    page.select_option("#lang", "en")
    page.wait_for_function("() => document.getElementById('closed-title').textContent.startsWith('Applications')")
    assert page.locator("#closed-title").inner_text() == "Applications for this procedure have closed"
    assert page.locator("#close-message").inner_text() == MESSAGE["en"]
    page.select_option("#lang", "ja-easy")
    page.wait_for_function("() => document.getElementById('closed-title').textContent.startsWith('この てつづき')")
    assert page.locator("#close-message").inner_text() == MESSAGE["ja-easy"]
    page.select_option("#lang", "ja")

    # The finder marks it; the one still open is not marked.
    go(page, server.base, "#/find")
    card = page.locator("li.card", has=page.locator(f'a[href="#/p/{CLOSED}"]'))
    assert card.locator(".badge").inner_text() == "受付終了"
    assert page.locator("li.card", has=page.locator(f'a[href="#/p/{OPEN}"]')).locator(".badge").count() == 0
    axe_check(page, "finder with a closed procedure")
    assert errors == []
    context.close()


def test_deadline_in_japan_time_then_a_started_draft_goes_on(browser: Any, scheduled: ServerProcess) -> None:
    server = scheduled
    # The phone in another time zone: the line is still in Japan time.
    context, page, errors = new_phone(browser, timezone_id="America/New_York")
    go(page, server.base, f"#/p/{OPEN}")
    page.wait_for_selector("#form")
    local = CLOSES.astimezone(JST)
    year = f"{local.year}年" if local.year != NOW.astimezone(JST).year else ""
    line = page.locator("#closes-at")
    line.wait_for()
    assert line.inner_text() == f"受付は{year}{local.month}月{local.day}日{local.hour}時まで"
    axe_check(page, "first step with a deadline")
    page.get_by_label("自分（本人）").check()
    wait_draft(page, "d.procedure_id === 'juminhyo-copy' && d.answers.relation === 'self'")
    draft_hash = page.url.split("#", 1)[1]

    # The phone's clock passes the close: opening the procedure starts nothing new, and offers the draft.
    page.clock.set_system_time(CLOSES + dt.timedelta(hours=1))
    go(page, server.base, f"#/p/{OPEN}")
    assert page.locator("#closed-title").inner_text() == "この手続きの受付は終了しました"
    assert page.locator("#close-message").count() == 0  # no message was set: the heading alone
    started = page.locator("#closed-drafts a")
    assert started.count() == 1 and started.get_attribute("href") == f"#/d/{draft_hash.split('/')[2]}"
    axe_check(page, "closed procedure with a started draft")
    assert len(idb_all(page, "drafts")) == 1
    started.click()
    ready(page)
    page.wait_for_selector("#form")
    assert page.get_by_label("自分（本人）").is_checked()  # nothing typed is lost
    page.locator("#closes-at").wait_for()
    assert page.locator("#closes-at").inner_text() == "新しい受付は終了しました。入力中のこの申請は送信できます。"
    page.get_by_label("住民票の写し（世帯全員）").check()
    wait_draft(page, "d.procedure_id === 'juminhyo-copy' && d.answers.certificate_type")

    # A life event that includes it: listed, marked 受付終了, left out of the combined form.
    go(page, server.base, "#/e/moving-within")
    page.locator("#q-needs_certificate-0").check()
    page.wait_for_function("() => document.querySelectorAll('#event-result .card').length === 2")
    card = page.locator("#event-result li.card", has=page.locator(f'a[href="#/p/{OPEN}"]'))
    assert card.locator(".badge").inner_text() == "受付終了"
    assert page.locator("#event-result li.card", has=page.locator('a[href="#/p/tenkyo"]')).locator(".badge").count() == 0
    axe_check(page, "life event with a closed procedure")
    page.get_by_role("button", name="まとめて入力する").click()
    page.wait_for_url("**/#/b/*")
    ready(page)
    bundle = next(d for d in idb_all(page, "drafts") if d.get("kind") == "bundle")
    parts = [d["procedure_id"] for d in idb_all(page, "drafts") if d["id"] in bundle["drafts"]]
    assert parts == ["tenkyo"]
    assert errors == []
    context.close()
