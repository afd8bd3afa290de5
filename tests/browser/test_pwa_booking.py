"""Booking a visit in the resident app (issue 15 points 1 and 2), on a phone viewport against the real server: a
signed-in resident books by keyboard only (what for → place → the calendar opening on the first day with a free
slot → a time button named with its full date and time → confirm → the done page with its QR and the pre-entry
invitation) and cancels; a person without an account books with a name and a phone number and the manage link
works in a fresh browser. axe-core finds nothing on the calendar and the done page, in Japanese and English."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from procedure_definitions.japan import JST
from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, go, new_phone, shot

pytestmark = pytest.mark.browser

WEEKDAYS = "月火水木金土日"  # date.weekday() order


def day_name(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.month}月{d.day}日（{WEEKDAYS[d.weekday()]}）"


def hm(t: str) -> str:
    return t[1:] if t.startswith("0") else t


def slots(base: str, procedures: str, **q: Any) -> dict[str, Any]:
    r = httpx.get(f"{base}/api/booking/slots", params={"place": "honcho", "procedures": procedures, "party": 1, **q})
    assert r.status_code == 200, r.text
    return dict(r.json())


def changeable_day(cal: dict[str, Any]) -> dict[str, Any]:
    """A day with a free slot far enough ahead to cancel (the change cut-off is a day before the visit)."""
    later = (dt.datetime.now(JST).date() + dt.timedelta(days=2)).isoformat()
    return next(d for d in cal["days"] if d["date"] >= later and not d["closed"] and any(s["free"] for s in d["slots"]))


def tab_to(page: Any, selector: str, limit: int = 150) -> None:
    """Press Tab until the element ``selector`` has the focus (keyboard only: no click, no focus())."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}: at {page.evaluate('document.activeElement.outerHTML')[:200]}")


def focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def test_a_resident_books_by_keyboard_then_cancels(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    session = server.login_as("resident", display_name="予約 一郎")
    me = httpx.Client(base_url=server.base, cookies=session["cookies"], headers=session["headers"], timeout=30)
    context, page, errors = new_phone(browser)
    add_session(context, server.base, session)
    go(page, server.base, "#/")
    # The home page's way in.
    visit = page.locator("#visit")
    expect(visit.get_by_role("link", name="来庁を予約する")).to_be_visible(timeout=10000)
    tab_to(page, "#visit a[href='#/v']")
    page.keyboard.press("Enter")
    page.wait_for_selector("#bk-what")
    expect(page.locator("h1")).to_have_text("来庁の予約")
    axe_check(page, "booking-what")

    # What for: 住民票の写し (Space ticks it), then 次へ.
    tab_to(page, "input[name=bk-proc][value=juminhyo-copy]")
    page.keyboard.press("Space")
    tab_to(page, "#what-next")
    page.keyboard.press("Enter")
    # The place: focus is on the step's heading; the one place is chosen already.
    expect(page.locator("#step-title")).to_have_text("場所を選ぶ")
    assert focused_id(page) == "step-title"
    tab_to(page, "#place-next")
    page.keyboard.press("Enter")

    # The calendar opens on the first day with a free slot (as the server counts them).
    expect(page.locator("#step-title")).to_have_text("日時を選ぶ")
    cal = slots(server.base, "juminhyo-copy")
    first = cal["first_free_day"]
    assert first is not None
    pressed = page.locator("#cal-days button[aria-pressed=true]")
    expect(pressed).to_have_text(day_name(first), timeout=10000)
    expect(page.locator("#times-title")).to_have_text(f"{day_name(first)}の空いている時間")
    free = next(s for s in next(d for d in cal["days"] if d["date"] == first)["slots"] if s["free"])
    expect(page.get_by_role("button", name=f"{day_name(first)}{hm(free['start'])}〜{hm(free['end'])} 予約できます",
                               exact=True)).to_be_visible()
    # Closed days say why and are not buttons.
    closed = [d for d in cal["days"] if d["closed"] == "no_hours"]
    if closed:
        expect(page.locator("#cal-days")).to_contain_text(f"{day_name(closed[0]['date'])}　休み")
        assert page.locator(f"#cal-days button[data-date='{closed[0]['date']}']").count() == 0
    axe_check(page, "booking-calendar")
    shot(page, "booking-calendar")

    # A day far enough ahead to cancel later: its button, then its first free time (named with date and time).
    day = changeable_day(cal)
    tab_to(page, f"#cal-days button[data-date='{day['date']}']")
    page.keyboard.press("Enter")
    expect(page.locator("#times-title")).to_have_text(f"{day_name(day['date'])}の空いている時間")
    slot = next(s for s in day["slots"] if s["free"])
    tab_to(page, f"#cal-times button[data-start='{slot['start']}']")
    name = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert name == f"{day_name(day['date'])}{hm(slot['start'])}〜{hm(slot['end'])} 予約できます"
    assert page.evaluate("document.activeElement.textContent") == f"{hm(slot['start'])}〜{hm(slot['end'])}"
    page.keyboard.press("Enter")

    # Held while confirming; the signed-in account books (no name or phone asked).
    expect(page.locator("#hold-left")).to_have_text(re.compile(r"この時間を押さえています（あと 1[45] 分）"), timeout=10000)
    assert page.locator("#bk-name").count() == 0
    tab_to(page, "#bk-confirm")
    page.keyboard.press("Enter")
    expect(page.locator("#step-title")).to_have_text("予約しました", timeout=10000)
    assert focused_id(page) == "step-title"
    mine = me.get("/api/bookings").json()["bookings"]
    booked = next(b for b in mine if b["day"] == day["date"] and b["start"] == slot["start"])
    assert booked["status"] == "booked" and [p["id"] for p in booked["procedures"]] == ["juminhyo-copy"]
    expect(page.locator("#bk-code")).to_have_text(booked["code"])
    expect(page.locator("#bk-when")).to_have_text(f"{day_name(day['date'])} {hm(slot['start'])}〜{hm(slot['end'])}")
    expect(page.get_by_role("img", name=f"受付用のQRコード（予約番号 {booked['code']}）")).to_be_visible()
    invite = page.locator("#preentry")
    expect(invite).to_contain_text("来庁前に入力しておくと、窓口が早く終わります")
    assert invite.get_by_role("link").first.get_attribute("href") == "#/p/juminhyo-copy"
    assert page.locator("#manage-link").count() == 0  # an account's booking needs no secret link
    axe_check(page, "booking-done")
    shot(page, "booking-done")

    # Offline at the counter: the booking as last seen, its QR still there; nothing can be changed from it.
    context.set_offline(True)
    go(page, server.base, f"#/v/b/{booked['id']}")
    expect(page.locator("#bk-offline")).to_be_visible(timeout=10000)
    expect(page.get_by_role("img", name=f"受付用のQRコード（予約番号 {booked['code']}）")).to_be_visible()
    assert page.locator("#bk-cancel").count() == 0
    context.set_offline(False)
    go(page, server.base, f"#/v/b/{booked['id']}")
    expect(page.locator("#bk-code")).to_have_text(booked["code"], timeout=10000)
    assert page.locator("#bk-offline").count() == 0

    # Cancel: a second, explicit press; the booking says 取消 and the server agrees.
    tab_to(page, "#bk-cancel")
    page.keyboard.press("Enter")
    assert focused_id(page) == "bk-cancel-yes"
    page.keyboard.press("Enter")
    expect(page.locator("#step-title")).to_have_text("予約を取り消しました", timeout=10000)
    expect(page.locator("#bk-status")).to_have_text("取消")
    assert me.get(f"/api/bookings/{booked['id']}").json()["status"] == "cancelled"
    assert not errors, errors
    context.close()


def test_a_booking_without_an_account_and_its_manage_link(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    go(page, server.base, "#/v")
    page.wait_for_selector("#bk-what")
    page.get_by_label(re.compile(r"^転居届")).check()
    page.get_by_label("来庁する人数").select_option("2")  # a family booking: two people, twice the minutes
    page.locator("#what-next").click()
    page.locator("#place-next").click()
    cal = slots(server.base, "tenkyo", party=2)
    expect(page.locator("#cal-minutes")).to_have_text(f"窓口の所要時間：約{cal['minutes']}分")
    day = changeable_day(cal)
    page.locator(f"#cal-days button[data-date='{day['date']}']").click()
    slot = next(s for s in day["slots"] if s["free"])
    page.locator(f"#cal-times button[data-start='{slot['start']}']").click()
    # Without an account: a name and a phone number, both needed.
    page.locator("#bk-confirm").click()
    expect(page.locator("#confirm-error")).to_have_text("お名前と電話番号を入力してください。")
    page.get_by_label("お名前").fill("髙橋 花子")  # as typed: 髙 stays
    page.get_by_label("電話番号").fill("090-1111-2222")
    page.get_by_role("group", name="一緒に来る方のお名前（任意）").get_by_label("2人目").fill("髙橋 一郎")
    page.locator("#bk-confirm").click()
    expect(page.locator("#step-title")).to_have_text("予約しました", timeout=10000)
    link = page.locator("#manage-url")
    href = link.get_attribute("href")
    assert href and re.fullmatch(r"#/v/m/[^/]+/[^/]+", href)
    assert link.inner_text() == f"{server.base}/{href}"
    code = page.locator("#bk-code").inner_text()
    # The device remembers it: the home page shows it.
    go(page, server.base, "#/")
    expect(page.locator("#visit")).to_contain_text(f"予約：{day_name(day['date'])} {hm(slot['start'])}", timeout=10000)
    context.close()

    # A fresh browser with only the link: the booking, with the name as typed; a wrong token shows nothing.
    context, page, errors2 = new_phone(browser)
    go(page, server.base, href)
    expect(page.locator("#bk-code")).to_have_text(code, timeout=10000)
    expect(page.locator("#booking")).to_contain_text("髙橋 花子")
    expect(page.locator("#bk-people-list")).to_have_text("髙橋 一郎")
    expect(page.get_by_role("button", name="予約を取り消す")).to_be_visible()
    axe_check(page, "booking-manage")
    # 日時を変える: the same calendar, another time, then the booking at its new time (same number).
    page.get_by_role("button", name="日時を変える").click()
    expect(page.locator("#step-title")).to_have_text("日時を選ぶ", timeout=10000)
    other = next(s for s in slots(server.base, "tenkyo", party=2, **{"from": day["date"], "days": 1})["days"][0]["slots"]
                 if s["free"] and s["start"] != slot["start"])
    page.locator(f"#cal-days button[data-date='{day['date']}']").click()
    page.locator(f"#cal-times button[data-start='{other['start']}']").click()
    assert page.locator("#bk-name").count() == 0  # a move asks nothing again
    page.get_by_role("button", name="この日時に変える").click()
    expect(page.locator("#step-title")).to_have_text("日時を変えました", timeout=10000)
    expect(page.locator("#bk-when")).to_have_text(f"{day_name(day['date'])} {hm(other['start'])}〜{hm(other['end'])}")
    expect(page.locator("#bk-code")).to_have_text(code)
    bid = href.split("/")[3]
    moved = httpx.get(f"{server.base}/api/bookings/{bid}", headers={"X-Booking-Token": href.rsplit("/", 1)[1]}).json()
    assert (moved["day"], moved["start"], moved["status"]) == (day["date"], other["start"], "booked")
    assert (moved["party"], moved["people"]) == (2, ["髙橋 一郎"])
    bad = href.rsplit("/", 1)[0] + "/AAAAAAAAAAAAAAAAAAAAAA"
    go(page, server.base, bad)
    expect(page.locator("main")).to_contain_text("この予約は見つかりません", timeout=10000)
    assert "髙橋" not in page.locator("main").inner_text()
    assert not errors and not errors2, errors + errors2
    context.close()


def test_booking_screens_in_english_pass_axe(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    go(page, server.base, "#/v")
    page.locator("#lang").select_option("en")
    expect(page.locator("h1")).to_have_text("Book a visit", timeout=10000)
    page.wait_for_selector("#bk-what")
    axe_check(page, "booking-what-en")
    page.locator("input[name=bk-proc][value=juminhyo-copy]").check()
    page.locator("#what-next").click()
    page.locator("#place-next").click()
    cal = slots(server.base, "juminhyo-copy")
    first = cal["first_free_day"]
    d = dt.date.fromisoformat(first)
    english = f"{d.strftime('%a')} {d.day} {d.strftime('%b')}"
    expect(page.locator("#cal-days button[aria-pressed=true]")).to_have_text(english, timeout=10000)
    free = next(s for s in next(x for x in cal["days"] if x["date"] == first)["slots"] if s["free"])
    button = page.get_by_role("button", name=f"{english} {hm(free['start'])}–{hm(free['end'])} available", exact=True)
    expect(button).to_be_visible()
    axe_check(page, "booking-calendar-en")
    button.click()
    page.get_by_label("Your name").fill("Alex Smith")
    page.get_by_label("Phone number").fill("+81 90 3333 4444")
    page.locator("#bk-confirm").click()
    expect(page.locator("#step-title")).to_have_text("Booked", timeout=10000)
    expect(page.locator("#preentry")).to_contain_text("Fill in before your visit")
    axe_check(page, "booking-done-en")
    assert not errors, errors
    context.close()
