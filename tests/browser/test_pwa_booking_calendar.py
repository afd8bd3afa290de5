"""Where the booking calendar opens and stays (issue 15: "opening on the first day with free slots"), against a
real server whose rules (stored by ``madoguchi booking set``) close the first three weeks of the window: the
calendar opens on the API's ``first_free_day`` although it lies beyond the first 14 days, saying which day that
is; after 「埋まりました」 (the time was held by someone else meanwhile) it stays on the day the resident chose, so
the next time picked is on that day. The confirm step's phone number: what is not one is said on the field (the
server's one phone rule, 422 bad-phone), and a number typed with a Japanese keyboard's full-width digits books."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from procedure_definitions.japan import JST
from server.booking.config import WEEKDAYS
from testsupport.servers import ServerProcess

from .conftest import ROOT
from .helpers import go, new_phone

pytestmark = pytest.mark.browser

WD = "月火水木金土日"
CLOSED_DAYS = 21  # the window's first three weeks: more than one page (14 days) of the calendar


def day_name(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.month}月{d.day}日（{WD[d.weekday()]}）"


def _today() -> dt.date:
    return dt.datetime.now(JST).date()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("calendar")
    rules = {
        "places": [{"id": "honcho", "name": {"ja": "本庁舎 市民課窓口", "en": "City Hall"}, "booths": ["1", "2"],
                    "booking_booths": 1, "hours": {d: ["09:00", "17:00"] for d in WEEKDAYS}}],
        "window": {"min_days": 1, "max_days": 45},
        "holidays": False,
        "closed": [(_today() + dt.timedelta(days=n)).isoformat() for n in range(1, CLOSED_DAYS + 1)],
        # the first free day (CLOSED_DAYS + 1 ahead) is past the residents' cut-off from the start, the days two
        # later are not: the confirm step warns before 予約する on the one, not the other
        "change_cutoff_hours": 24 * (CLOSED_DAYS + 2),
        "max_holds": 10,
    }
    (tmp / "booking.yaml").write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "madoguchi.cli", "booking", "set", str(tmp / "booking.yaml"),
                           "--db", str(tmp / "m.db")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    s = ServerProcess(tmp / "m.db", demo=True, url_host="localhost")
    s.start()
    yield s
    s.stop()


def _to_calendar(page: Any, base: str) -> None:
    go(page, base, "#/v")
    page.wait_for_selector("#bk-what")
    page.get_by_label(re.compile(r"^住民票の写し")).check()
    page.locator("#what-next").click()
    page.locator("#place-next").click()


def test_the_calendar_opens_on_the_first_free_day_beyond_two_weeks(browser: Any, server: ServerProcess) -> None:
    first = (_today() + dt.timedelta(days=CLOSED_DAYS + 1)).isoformat()
    api = httpx.get(f"{server.base}/api/booking/slots", params={"place": "honcho", "procedures": "juminhyo-copy"})
    assert api.json()["first_free_day"] == first  # beyond the 14 days the calendar fetches first
    context, page, errors = new_phone(browser)
    _to_calendar(page, server.base)
    chosen = page.locator(f"#cal-days button[data-date='{first}']")
    expect(chosen).to_have_attribute("aria-pressed", "true", timeout=10000)
    expect(page.locator("#cal-status")).to_have_text(f"空いている時間がある最初の日は{day_name(first)}です。")
    expect(page.locator("#times-title")).to_have_text(f"{day_name(first)}の空いている時間")
    expect(page.locator("#cal-times button.slot").first).to_have_attribute(
        "aria-label", f"{day_name(first)}9:00〜9:15 予約できます")
    # The first weeks are still there to look at: 最初の2週間に戻る shows them, closed, without jumping again.
    page.get_by_role("button", name="最初の2週間に戻る").click()
    expect(page.locator("#cal-days")).to_contain_text(f"{day_name((_today() + dt.timedelta(days=1)).isoformat())}")
    assert page.locator("#cal-days button").count() == 0
    assert not errors, errors
    context.close()


def test_after_slot_taken_the_calendar_stays_on_the_chosen_day(browser: Any, server: ServerProcess) -> None:
    day = (_today() + dt.timedelta(days=CLOSED_DAYS + 3)).isoformat()  # not the day the calendar opens on
    context, page, errors = new_phone(browser)
    _to_calendar(page, server.base)
    page.locator(f"#cal-days button[data-date='{day}']").click()
    slot = page.locator("#cal-times button[data-start='10:00']")
    expect(slot).to_be_visible()
    # Meanwhile someone else holds that time (one booking booth: the cell is full).
    with httpx.Client(base_url=server.base, timeout=10) as other:
        other.get("/api/session")  # the CSRF cookie, sent back as its header as the app does
        taken = other.post("/api/bookings/holds", headers={"X-CSRF-Token": other.cookies.get("madoguchi_csrf") or ""},
                           json={"place": "honcho", "day": day, "start": "10:00", "procedures": ["juminhyo-copy"],
                                 "party": 1})
    assert taken.status_code == 201, taken.text
    slot.click()
    expect(page.locator("#cal-status")).to_have_text("この時間は、ほかの方の予約で埋まりました。別の時間を選んでください。", timeout=10000)
    expect(page.locator(f"#cal-days button[data-date='{day}']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#times-title")).to_have_text(f"{day_name(day)}の空いている時間")
    assert page.locator("#cal-times button[data-start='10:00']").count() == 0  # now full: not a button
    page.locator("#cal-times button[data-start='10:15']").click()
    expect(page.locator("#bk-when")).to_have_text(f"{day_name(day)} 10:15〜10:30", timeout=10000)
    assert not errors, errors
    context.close()


def test_the_phone_number_as_typed_on_a_japanese_keyboard(browser: Any, server: ServerProcess) -> None:
    context, page, errors = new_phone(browser)
    _to_calendar(page, server.base)
    page.locator("#cal-times button.slot").nth(2).click()
    page.get_by_label("お名前").fill("電話 花子")
    phone = page.get_by_label("電話番号")
    phone.fill("090-1234-ABCD")
    page.locator("#bk-confirm").click()
    expect(page.locator("#bk-phone-error")).to_have_text("電話番号を数字で入力してください（例：090-1234-5678）。",
                                                          timeout=10000)
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    expect(page.locator("#confirm-error")).to_have_text("")  # not 「うまくいきませんでした」
    phone.fill("（０９０）１２３４－５６７８")
    page.locator("#bk-confirm").click()
    expect(page.locator("#step-title")).to_have_text("予約しました", timeout=10000)
    href = page.locator("#manage-url").get_attribute("href") or ""
    bid, token = href.split("/")[3], href.rsplit("/", 1)[1]
    stored = server.query("SELECT phone, phone_key FROM bookings WHERE id = ?", (bid,))
    assert stored == [("（０９０）１２３４－５６７８", "09012345678")] and token
    assert not errors, errors
    context.close()


def test_the_confirm_step_warns_when_the_booking_could_not_be_changed(browser: Any, server: ServerProcess) -> None:
    """probe15c #2: a booking already past the cut-off when made said so only after 予約する."""
    context, page, errors = new_phone(browser)
    _to_calendar(page, server.base)
    page.locator("#cal-times button[data-start='11:00']").click()  # the first free day: past the cut-off
    warning = page.locator("#bk-no-change")
    expect(warning).to_have_text("この予約は、予約した後に取り消し・変更ができません。変えたいときは、市役所にお電話ください。",
                                 timeout=10000)
    expect(page.locator("#bk-confirm")).to_have_attribute("aria-describedby", "bk-no-change")
    from .test_axe_default_rules import axe_defaults

    axe_defaults(page, "booking-confirm-fixed")
    page.get_by_role("button", name="別の時間を選ぶ").click()
    later = (_today() + dt.timedelta(days=CLOSED_DAYS + 3)).isoformat()
    page.locator(f"#cal-days button[data-date='{later}']").click()
    page.locator("#cal-times button[data-start='11:00']").click()
    expect(page.locator("#bk-when")).to_have_text(f"{day_name(later)} 11:00〜11:15", timeout=10000)
    assert page.locator("#bk-no-change").count() == 0
    assert not errors, errors
    context.close()
