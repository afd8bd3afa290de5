"""Drop-off telemetry per field in the real app on a phone viewport (pwa/js/field-telemetry.js → POST
/api/telemetry/sessions → form_sessions): a resident opens juminhyo-copy, presses 次へ with nothing answered
(errors shown), answers a few fields and leaves for another page → a row 'left' with the fields shown (not
the ones the form's rules hide), the field last focused and the errors; back to the same draft, on to the
review and 送信 → the same session 'submitted'. In a preview (<html data-preview>) nothing is sent."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import pytest

from testsupport.servers import ServerProcess

from .helpers import add_session, fill_applicant, go, new_phone, ready, sw_active

pytestmark = pytest.mark.browser

# juminhyo-copy's first step as a resident sees it with nothing answered: its fields in order, less
# target_people (show_if part_household), my_number_mail_notice (proxy) and purpose_detail (other purpose).
FIRST_STEP = ["relation", "certificate_type", "include_items", "copies", "total_fee", "purpose"]
APPLICANT = ["applicant_name", "applicant_postal_code", "applicant_address", "applicant_phone"]


def rows(server: ServerProcess) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as c:
        c.row_factory = sqlite3.Row
        return [dict(r) for r in c.execute("SELECT * FROM form_sessions ORDER BY id")]


def wait_row(server: ServerProcess, ok: Any, timeout: float = 15.0) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        found = [r for r in rows(server) if ok(r)]
        if found:
            return found[-1]
        if time.monotonic() > end:
            raise AssertionError(f"no such form_sessions row: {rows(server)}")
        time.sleep(0.2)


def test_left_then_back_and_submitted(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    go(page, server.base, "#/p/juminhyo-copy")
    page.wait_for_selector("#form")
    draft_hash = page.url.split("#", 1)[1]
    # 次へ with nothing answered: the required fields show their errors.
    page.get_by_role("button", name="次へ進む").click()
    page.wait_for_selector("#error-summary")
    page.get_by_label("自分（本人）").check()
    page.get_by_label("住民票の写し（世帯全員）").check()
    page.locator("#f-purpose").select_option("employment")
    page.get_by_label("通数").fill("2")  # the field last focused
    page.wait_for_function("() => document.querySelector('[data-calculated]').value === '600'")
    assert rows(server) == []  # nothing is sent while the form is open
    # It goes by navigator.sendBeacon (a JSON Blob, no CSRF header), not the fetch fallback.
    page.evaluate("""() => {
        const beacon = navigator.sendBeacon.bind(navigator), plain = window.fetch.bind(window);
        window.sent = [];
        navigator.sendBeacon = (u, b) => { const ok = beacon(u, b); window.sent.push(['beacon', u, b.type, ok]); return ok; };
        window.fetch = (u, o) => { if (o && o.keepalive) window.sent.push(['fetch', u]); return plain(u, o); };
    }""")

    go(page, server.base, "#/find")  # another page of the app: the form is left
    left = wait_row(server, lambda r: r["outcome"] == "left")
    assert page.evaluate("window.sent") == [["beacon", "/api/telemetry/sessions", "application/json", True]]
    assert json.loads(left["viewed"]) == FIRST_STEP
    assert left["last_field"] == "copies"
    assert (left["procedure_id"], left["channel"]) == ("juminhyo-copy", "resident")
    errs = json.loads(left["errors"])
    assert {"relation", "certificate_type", "purpose"} <= set(errs) and set(errs) <= set(FIRST_STEP)
    assert all(n >= 1 for n in errs.values())
    assert left["started_at"] and left["ended_at"] and left["duration_s"] is not None
    # No answers (the fee 600 typed above) in anything the session stored: its timestamps aside, whose digits
    # (e.g. 13.576000 seconds) may hold "600" by chance.
    stored = {k: v for k, v in left.items() if not k.endswith("_at") and k != "duration_s"}
    assert "600" not in json.dumps(stored) and "employment" not in left["viewed"] + left["errors"]

    # Back to the same draft in the same app session: the session goes on, then is sent.
    page.goto(f"{server.base}/#{draft_hash}")
    ready(page)
    page.get_by_role("button", name="次へ進む").click()
    page.wait_for_selector("text=窓口に来る人（請求者）")
    fill_applicant(page, family="山田", given="太郎", postal="3300063",
                   address=("埼玉県", "さいたま市浦和区", "高砂", "3丁目15-1"), phone="090-1234-5678")
    page.locator("#submit").click()
    page.wait_for_url("**/#/s/*")
    done = wait_row(server, lambda r: r["outcome"] == "submitted")
    assert done["session"] == left["session"] and len(rows(server)) == 1  # upserted, one session
    assert json.loads(done["viewed"]) == FIRST_STEP + APPLICANT
    assert done["last_field"] is None
    # Leaving the receipt page afterwards changes nothing of it.
    go(page, server.base, "#/find")
    time.sleep(0.5)
    assert [r["outcome"] for r in rows(server)] == ["submitted"]
    assert errors == []
    context.close()


def test_hidden_app_sends_left_and_preview_sends_nothing(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    before = len(rows(server))
    last_id = max((r["id"] for r in rows(server)), default=0)
    context, page, errors = new_phone(browser)
    go(page, server.base, "#/p/juminhyo-copy")
    page.wait_for_selector("#form")
    page.get_by_label("頼まれた人（代理人）").check()  # my_number_mail_notice needs マイナンバー too: still hidden
    page.get_by_label("住民票の写し（世帯の一部）").check()  # shows target_people
    page.wait_for_selector("[data-path=target_people]:not([hidden])")
    page.locator("[data-path=target_people] :is(input, button)").first.focus()
    # The app goes to the background (the phone's home button): sent as 'left' at once.
    page.evaluate("""() => { Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
                            document.dispatchEvent(new Event('visibilitychange')); }""")
    row = wait_row(server, lambda r: r["id"] > last_id)
    assert row["outcome"] == "left"
    viewed = json.loads(row["viewed"])
    # In first-shown order: target_people showed after the step was drawn.
    assert viewed[:6] == FIRST_STEP and viewed[6] == "target_people", viewed
    assert "my_number_mail_notice" not in viewed and "purpose_detail" not in viewed
    assert row["last_field"].startswith("target_people"), row
    context.close()

    # A preview marks <html data-preview>: the same form, nothing sent.
    context, page, errors = new_phone(browser)
    go(page, server.base, "")
    page.evaluate("() => { document.documentElement.dataset.preview = ''; }")
    go(page, server.base, "#/p/juminhyo-copy")
    page.wait_for_selector("#form")
    page.get_by_label("通数").fill("1")
    go(page, server.base, "#/find")
    page.close()
    time.sleep(1)
    assert len(rows(server)) == before + 1
    assert errors == []
    context.close()


def test_staff_offline_kept_then_sent(browser: Any, shared_server: ServerProcess) -> None:
    # Staff filing in the app (channel 'staff'); left offline: kept on the device, sent when back online.
    server = shared_server
    last_id = max((r["id"] for r in rows(server)), default=0)
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("counter"))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/p/juminhyo-copy")
    page.wait_for_selector("#form")
    page.get_by_label("通数").fill("3")
    context.set_offline(True)
    go(page, server.base, "#/find")
    time.sleep(1)
    assert [r for r in rows(server) if r["id"] > last_id] == []
    assert "copies" in page.evaluate("localStorage.getItem('madoguchi-form-sessions')")
    context.set_offline(False)
    row = wait_row(server, lambda r: r["id"] > last_id)
    assert (row["channel"], row["outcome"], row["last_field"]) == ("staff", "left", "copies")
    assert page.evaluate("localStorage.getItem('madoguchi-form-sessions')") == "{}"
    assert errors == []
    context.close()


def test_errors_per_press_and_one_session_across_a_restart(browser: Any, shared_server: ServerProcess) -> None:
    # Errors: +1 per field showing one after each press of 次へ (the same errors 3 times → 3), nothing for the
    # messages that change while the person corrects. A draft resumed after the app restarts (reload) continues
    # its session: sent, it is ONE row, submitted.
    server = shared_server
    last_id = max((r["id"] for r in rows(server)), default=0)
    context, page, errors = new_phone(browser)
    go(page, server.base, "#/p/juminhyo-copy")
    page.wait_for_selector("#form")
    draft_hash = page.url.split("#", 1)[1]
    for _ in range(3):
        page.get_by_role("button", name="次へ進む").click()
        page.wait_for_selector("#error-summary")
    shown = page.evaluate("""() => [...document.querySelectorAll('#main [data-path] > .error-text:not([hidden])')]
        .filter((p) => p.textContent).map((p) => p.parentElement.getAttribute('data-path'))""")
    assert "relation" in shown and "purpose" in shown, shown
    # Correcting by typing and ticking, with no press: the live messages go, nothing more is counted.
    page.get_by_label("自分（本人）").check()
    page.get_by_label("住民票の写し（世帯全員）").check()
    page.locator("#f-purpose").select_option("employment")
    page.get_by_label("通数").fill("2")
    page.wait_for_function("() => document.querySelector('[data-calculated]').value === '600'")
    go(page, server.base, "#/")  # home: left
    left = wait_row(server, lambda r: r["id"] > last_id and r["outcome"] == "left")
    assert json.loads(left["errors"]) == dict.fromkeys(shown, 3)
    page.reload()  # the app starts again
    ready(page)
    time.sleep(0.5)
    page.goto(f"{server.base}/#{draft_hash}")  # the same draft, its answers kept
    ready(page)
    page.get_by_role("button", name="次へ進む").click()  # no error now: counts nothing
    page.wait_for_selector("text=窓口に来る人（請求者）")
    fill_applicant(page, family="山田", given="太郎", postal="3300063",
                   address=("埼玉県", "さいたま市浦和区", "高砂", "3丁目15-1"), phone="090-1234-5678")
    page.locator("#submit").click()
    page.wait_for_url("**/#/s/*")
    done = wait_row(server, lambda r: r["id"] > last_id and r["outcome"] == "submitted")
    mine = [r for r in rows(server) if r["id"] > last_id]
    assert [r["outcome"] for r in mine] == ["submitted"] and done["session"] == left["session"], mine
    assert json.loads(done["errors"]) == dict.fromkeys(shown, 3)
    assert json.loads(done["viewed"]) == FIRST_STEP + APPLICANT
    assert draft_hash.split("/")[2] not in json.dumps(done)  # the draft id never leaves the device
    # Sent: the device no longer keeps that draft's session.
    assert draft_hash.split("/")[2] not in (page.evaluate("localStorage.getItem('madoguchi-form-session-of-draft')") or "")
    assert errors == []
    context.close()
