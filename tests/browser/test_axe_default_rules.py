"""axe-core with its DEFAULT rule set (best practices such as ``region`` and ``heading-order`` too, not only the
WCAG tags the other browser tests run) finds nothing on issue 15's screens: the resident app's booking flow (what
for, place, calendar, confirm, done), a booking's manage link, the ticket and the home page; the lobby board, the
kiosk, the console's booth page, the day's bookings and the phone booking."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .conftest import AXE
from .helpers import add_session, go, new_phone

pytestmark = pytest.mark.browser


def axe_defaults(page: Any, name: str) -> None:
    """Zero violations of axe's default rules (``axe.run(document)`` as it comes) on the current screen."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")  # an inline script would meet the CSP
    result = page.evaluate("() => axe.run(document)")
    bad = [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
           for v in result["violations"]]
    assert not bad, f"axe (default rules) on {name}: {json.dumps(bad, ensure_ascii=False, indent=1)}"


def _free_slot(base: str) -> tuple[str, str]:
    cal = httpx.get(f"{base}/api/booking/slots", params={"place": "honcho", "procedures": "juminhyo-copy"}).json()
    day = next(d for d in cal["days"][2:] if not d["closed"] and any(s["free"] for s in d["slots"]))
    return day["date"], next(s["start"] for s in day["slots"] if s["free"])


def test_the_resident_screens_pass_axe_default_rules(browser: Any, open_shared_server: ServerProcess) -> None:
    server = open_shared_server
    context, page, errors = new_phone(browser)
    go(page, server.base, "#/")
    page.wait_for_selector("main[data-ready=true]", timeout=15000)
    axe_defaults(page, "home")
    go(page, server.base, "#/v")
    page.wait_for_selector("#bk-what")
    axe_defaults(page, "booking-what")
    page.get_by_label(re.compile(r"^住民票の写し")).check()
    page.locator("#what-next").click()
    axe_defaults(page, "booking-place")
    page.locator("#place-next").click()
    # 日時を選ぶ as it opens (the probe's state: no day pressed yet), then with a day chosen.
    expect(page.locator("#cal-days button").first).to_be_visible(timeout=10000)
    axe_defaults(page, "booking-calendar-opened")
    day, start = _free_slot(server.base)
    page.locator(f"#cal-days button[data-date='{day}']").click()
    axe_defaults(page, "booking-calendar")
    page.locator(f"#cal-times button[data-start='{start}']").click()
    expect(page.locator("#bk-confirm")).to_be_visible(timeout=10000)
    axe_defaults(page, "booking-confirm")
    page.get_by_label("お名前").fill("軸 検査")
    page.get_by_label("電話番号").fill("090-3333-4444")
    page.locator("#bk-confirm").click()
    expect(page.locator("#step-title")).to_have_text("予約しました", timeout=10000)
    axe_defaults(page, "booking-done")
    href = page.locator("#manage-url").get_attribute("href")
    assert href
    go(page, server.base, href)
    expect(page.locator("#bk-code")).to_be_visible(timeout=10000)
    axe_defaults(page, "booking-manage")

    clerk = server.login_as("counter", display_name="窓口 軸")
    with httpx.Client(base_url=server.base, headers=clerk["headers"], cookies=clerk["cookies"], timeout=10) as api:
        r = api.post("/api/queue/honcho/tickets", json={})
        assert r.status_code == 201, r.text
    go(page, server.base, f"#/q/{r.json()['token']}")
    expect(page.locator("#ticket-number")).to_contain_text(r.json()["number"], timeout=10000)
    axe_defaults(page, "ticket")
    assert not errors, errors
    context.close()


def test_the_lobby_and_console_screens_pass_axe_default_rules(browser: Any, open_shared_server: ServerProcess) -> None:
    server = open_shared_server
    lobby = browser.new_context(viewport={"width": 1600, "height": 900}, locale="ja-JP")
    board = lobby.new_page()
    board.goto(f"{server.base}/board")
    expect(board.locator("h1")).to_be_visible()
    axe_defaults(board, "board")
    board.goto(f"{server.base}/kiosk")
    expect(board.locator("h1")).to_be_visible()
    axe_defaults(board, "kiosk-unpaired")
    lobby.close()

    clerk = server.login_as("counter", display_name="窓口 軸")
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    add_session(desk, server.base, clerk)
    page = desk.new_page()
    for path in ("/console/queue", "/console/bookings", "/console/bookings/new", "/console/kiosks",
                 "/console/bookings/new?procedures=juminhyo-copy&party=1&place=honcho"):
        page.goto(f"{server.base}{path}")
        expect(page.locator("h1")).to_be_visible()
        axe_defaults(page, path)
    # The phone booking refused (not a phone number): the form again with what was typed and the message.
    page.get_by_label("氏名（名乗られたとおりに）").fill("軸 電話")
    page.get_by_label("電話番号").fill("abc")
    page.locator("button[name=slot]").first.click()
    expect(page.locator("#book-error")).to_be_visible()
    expect(page.get_by_label("電話番号")).to_have_value("abc")
    axe_defaults(page, "/console/bookings/new refused")
    page.goto(f"{server.base}/console/kiosks")
    # The kiosk itself, paired by this desk (the clerk's session ends on it).
    page.get_by_label("受付機の名前（置き場所など）").fill("軸の受付機")
    page.get_by_role("button", name="この端末を受付機にする").click()
    page.wait_for_url(f"{server.base}/kiosk")
    expect(page.get_by_label("予約番号")).to_be_visible()
    axe_defaults(page, "kiosk")
    desk.close()
