"""Short steps in Chromium against the real server: before starting, the estimate (「約N秒」) and what to have
at hand; one section per screen with 「n / total」 and a progress bar, focus on the step heading; 戻る and 次へ
keep every answer, offline too; a section with nothing to answer (here a notices-only opening section added
to juminhyo-copy) is no step and its notice shows in the review; axe-core on a step and the review."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testsupport.servers import ServerProcess

from .conftest import demo_server
from .helpers import axe_check, fill_applicant, go, ready, start_juminhyo, wait_draft

pytestmark = pytest.mark.browser

INTRO = """\
  - id: intro
    title: {ja: はじめに, en: Before you start, ja-easy: はじめに}
    fields:
      - id: intro_notice
        type: notice
        label: {ja: 本人確認書類をお手元にご用意ください, en: Have your ID at hand, ja-easy: みぶんしょうを よういして ください}
        text: {ja: 窓口で確認します。, en: It is checked at the counter., ja-easy: まどぐちで みます。}
"""


@pytest.fixture
def steps_server(tmp_path: Path, library_copy: Path) -> Iterator[ServerProcess]:
    path = library_copy / "procedures" / "juminhyo-copy.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("sections:\n", "sections:\n" + INTRO, 1), encoding="utf-8")
    s = demo_server(tmp_path / "madoguchi.db", library_copy)
    s.start()
    yield s
    s.stop()


def heading(page: Any) -> str:
    return str(page.locator("#form h2#page-title").inner_text())


def test_steps_back_and_forth_offline(browser: Any, steps_server: ServerProcess) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP", service_workers="allow")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    go(page, steps_server.base, "")
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30000)

    # The finder's card says roughly how long and what to have at hand, before opening.
    go(page, steps_server.base, "#/find")
    card = page.locator("li.card", has=page.get_by_role("link", name="住民票の写し等交付請求")).locator(".estimate")
    assert re.fullmatch(r"かかる時間の目安：約\d+(秒|分)・手元に用意するもの：.*本人確認書類.*", card.inner_text())
    axe_check(page, "finder with estimates")

    # Opening the procedure lands on its first step (the overview folds): the notices-only opening section is
    # no step either, so it is 請求の内容, step 1, focused, under the one-line header.
    go(page, steps_server.base, "#/p/juminhyo-copy")

    def on_first_step() -> None:
        assert re.fullmatch(r"かかる時間の目安：約\d+(秒|分)・手元に用意するもの：.*本人確認書類.*", page.locator("#estimate").inner_text())
        assert heading(page).startswith("1 / "), heading(page)
        assert "請求の内容" in heading(page)
        assert page.evaluate("document.activeElement && document.activeElement.id") == "page-title"
        assert not page.locator("#about").evaluate("d => d.open")  # the description, deadline: folded
        page.locator("#about summary").click()
        assert "期限" in page.locator("#about").inner_text() or "担当" in page.locator("#about").inner_text()
        bar = page.locator("progress.step-progress")
        assert bar.get_attribute("value") == "1" and bar.get_attribute("aria-label")
        axe_check(page, "step 1")

    start_juminhyo(page, copies="2", on_open=on_first_step)
    ready(page)
    assert heading(page).startswith("2 / ") and "窓口に来る人" in heading(page)
    assert page.evaluate("document.activeElement && document.activeElement.id") == "page-title"

    # Offline from here: typing, 戻る, 次へ keep every answer.
    context.set_offline(True)
    name = page.locator("fieldset[data-field=applicant_name]")
    name.get_by_label("姓", exact=True).fill("山田")
    wait_draft(page, "d.answers && d.answers.applicant_name && d.answers.applicant_name.family === '山田'")
    page.get_by_role("link", name="戻る").click()
    page.wait_for_function("() => (document.querySelector('#form h2') || {}).textContent?.startsWith('1 / ')")
    ready(page)
    assert page.get_by_label("通数").input_value() == "2"
    assert page.get_by_label("住民票の写し（世帯全員）").is_checked()
    page.get_by_role("button", name="次へ進む").click()
    page.wait_for_function("() => (document.querySelector('#form h2') || {}).textContent?.startsWith('2 / ')")
    ready(page)
    assert name.get_by_label("姓", exact=True).input_value() == "山田"

    def before_review() -> None:
        axe_check(page, "step 2 filled")

    fill_applicant(page, family="山田", given="花子", postal="1000001", address=("東京都", "千代田区", "千代田", "1-1"),
                   phone="0312345678", on_filled=before_review)
    # The review: the folded section's notice, then 送信.
    main = page.locator("main").inner_text()
    assert "お知らせ" in main and "本人確認書類をお手元にご用意ください" in main
    assert page.locator("#submit").inner_text() == "送信"
    axe_check(page, "review")
    # 戻る from the review: the last step, answers intact.
    page.locator("main .actions").get_by_role("link", name="戻る").click()
    page.wait_for_function("() => (document.querySelector('#form h2') || {}).textContent?.includes('窓口に来る人')")
    assert page.locator("#f-applicant_postal_code").input_value() == "1000001"
    context.set_offline(False)
    assert not errors, errors
    context.close()
