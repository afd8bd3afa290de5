"""Shared steps of the browser tests: passkeys, axe-core, screenshots, filling the juminhyo form."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from typing import Any

from .conftest import ARTIFACTS, AXE

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def virtual_authenticator(context: Any, page: Any) -> Any:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp


def ready(page: Any) -> None:
    page.wait_for_selector("main[data-ready=true]", timeout=15000)


def axe_check(page: Any, name: str, also: Sequence[str] = ()) -> None:
    """Zero axe-core violations (WCAG 2.2 AA tags, and the rules named in ``also``, e.g. best-practice ones a
    screen must pass too) on the current screen."""
    if not AXE.exists():
        raise AssertionError("node_modules/axe-core missing: run npm install")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # add_script_tag would inject an inline <script>, which the app's CSP blocks; evaluate is exempt.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    violations = list(result["violations"])
    if also:
        violations += page.evaluate("(ids) => axe.run(document, {runOnly: {type: 'rule', values: ids}})",
                                    list(also))["violations"]
    bad = [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
    ]
    assert not bad, f"axe violations on {name}: {json.dumps(bad, ensure_ascii=False, indent=1)}"


def shot(page: Any, name: str) -> None:
    """A full-page screenshot that leaves the page as it was. ``full_page=True`` resizes the viewport to
    the whole page and back, which leaves Chromium's scroll anchor (CSS scroll anchoring) chosen for the
    tall viewport: the next layout change (the focused box's blur as 次へ進む is pressed) then "keeps"
    that stale anchor in place, scrolls the page and the click lands on whatever moved under the
    pointer. A scroll there and back makes Chromium choose the anchor again for the real viewport."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.evaluate("() => { const y = window.scrollY; window.scrollTo(0, y > 0 ? y - 1 : y + 1); window.scrollTo(0, y); }")


def go(page: Any, base: str, hash_: str) -> None:
    """Open an app route and wait until it is drawn. A hash change draws without a page load, so the
    readiness flag is cleared first; the same URL again is a reload (no hashchange would fire)."""
    url = f"{base}/{hash_}"
    # No document yet (about:blank) or navigating: nothing to clear.
    with contextlib.suppress(Exception):
        page.evaluate("() => { const m = document.querySelector('main[data-ready]'); if (m) m.dataset.ready = 'false'; }")
    if page.url == url:
        page.reload()
    else:
        page.goto(url)
    ready(page)


def start_juminhyo(page: Any, *, copies: str = "1", purpose: str = "employment", check: Any = None,
                   on_open: Any = None, folded: bool = False) -> None:
    """From juminhyo-copy's first step (opening the procedure lands there) to its applicant page: a resident's
    own copy, whole household (``on_open`` runs on the first step before anything is typed, ``check`` once it
    is filled). ``folded``: the applicant page is all prefilled (a bound resident), so it is no step: on to the
    review, then its 変更."""
    page.wait_for_selector("#form")
    if on_open:
        ready(page)
        on_open()
    page.get_by_label("自分（本人）").check()
    page.get_by_label("住民票の写し（世帯全員）").check()
    page.get_by_label("通数").fill(copies)
    page.locator("#f-purpose").select_option(purpose)
    fee = str(300 * int(copies))
    page.wait_for_function(f"() => document.querySelector('[data-calculated]').value === '{fee}'")
    if check:
        check("form")
    if folded:
        page.get_by_role("button", name="入力内容を確認する").click()
        page.wait_for_selector("#submit")
        page.get_by_role("link", name=re.compile(r"^変更\s*：氏名$")).first.click()
    else:
        page.get_by_role("button", name="次へ進む").click()
    page.wait_for_selector("text=窓口に来る人（請求者）")


def fill_applicant(page: Any, *, family: str, given: str, postal: str, address: tuple[str, str, str, str],
                   phone: str, on_filled: Any = None) -> None:
    """Fill the applicant page of juminhyo-copy by its labels and go on to the review page (``on_filled`` runs
    just before, e.g. an accessibility check of the filled page)."""
    # Labels are the contract: a name is a fieldset of 姓/名, an address a fieldset of its parts.
    name = page.locator("fieldset[data-field=applicant_name]")
    assert name.locator("legend").inner_text().startswith("氏名")
    name.get_by_label("姓", exact=True).fill(family)
    name.get_by_label("名", exact=True).fill(given)
    page.locator("#f-applicant_postal_code").fill(postal)
    addr = page.locator("fieldset[data-field=applicant_address]")
    assert addr.locator("legend").inner_text().startswith("住所")
    for label, value in zip(("都道府県", "市区町村", "町名", "番地"), address, strict=True):
        addr.get_by_label(label, exact=label in ("町名", "番地")).fill(value)
    page.get_by_label("電話番号").fill(phone)
    if on_filled:
        on_filled()
    if page.get_by_role("button", name="入力内容を確認する").count() == 0:
        # Staff filing: the counter's own step (窓口記入欄, staff_only, every field optional) comes last.
        page.get_by_role("button", name="次へ進む").click()
        page.wait_for_selector("text=窓口記入欄（職員用）")
    page.get_by_role("button", name="入力内容を確認する").click()
    try:
        page.wait_for_selector("#submit", timeout=10000)
    except Exception:
        shot(page, "debug-fill")
        raise AssertionError(page.locator("main").inner_text()) from None


def fill_juminhyo(page: Any, *, check: Any = None) -> None:
    """From the procedure page of juminhyo-copy to its review page (a resident asking for their own copy)."""
    start_juminhyo(page, copies="2", check=check)
    # A failed "continue" shows the error summary first (and gets checked for accessibility).
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#error-summary")
    if check:
        check("form-errors")
    # The postal code typed full-width is normalised on blur.
    fill_applicant(page, family="山田", given="太郎", postal="３３０－００６３",
                   address=("埼玉県", "さいたま市浦和区", "高砂", "3丁目15-1"), phone="090-1234-5678")


def sw_active(page: Any) -> None:
    page.wait_for_function(
        "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30000
    )


def new_phone(browser: Any, **kwargs: Any) -> tuple[Any, Any, list[str]]:
    """A phone-sized context (390x844, Japanese) with a page that records uncaught errors."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="ja-JP", service_workers="allow", **kwargs
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def add_session(context: Any, base: str, session: dict[str, Any]) -> None:
    """Give the browser a session made by ``testsupport.sessions.login_as`` (cookies only)."""
    context.add_cookies([{"name": k, "value": v, "url": base} for k, v in session["cookies"].items()])


def wait_all_sent(page: Any, timeout: int = 30000) -> None:
    page.wait_for_function(
        "() => document.getElementById('sync-status').textContent.includes('すべて送信済み')", timeout=timeout
    )


def review_and_send(page: Any, server: Any) -> dict[str, Any]:
    """From a form's last step: 入力内容を確認する, 送信, wait until it is sent; the stored submission (export row)."""
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#submit")
    page.locator("#submit").click()
    page.wait_for_url("**/#/s/*")
    wait_all_sent(page)
    submission_id = page.url.rsplit("/", 1)[-1]
    return dict(next(r for r in server.export() if r["id"] == submission_id))


def idb_all(page: Any, store: str) -> list[dict[str, Any]]:
    """Every record of an IndexedDB store of the app (drafts, outbox, blobs, meta, submissions)."""
    return page.evaluate(
        """(name) => new Promise((resolve, reject) => {
            const req = indexedDB.open('madoguchi');
            req.onerror = () => reject(req.error);
            req.onsuccess = () => {
              const tx = req.result.transaction(name, 'readonly');
              const all = tx.objectStore(name).getAll();
              all.onsuccess = () => { const v = all.result; req.result.close();
                resolve(JSON.parse(JSON.stringify(v, (k, x) => (x instanceof Blob ? null : x)))); };
              all.onerror = () => reject(all.error);
            };
          })""",
        store,
    )


def poll(page: Any, js: str, arg: Any = None, *, timeout: float = 10.0, interval: float = 0.2) -> Any:
    """Evaluate ``js`` (which may return a promise) until its result is truthy.

    ``page.wait_for_function`` does not await a promise (a pending promise is truthy, so it returns at
    once); IndexedDB and the Cache API are asynchronous, hence this loop.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(js, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for: {js[:200]}")
        page.wait_for_timeout(interval * 1000)


def wait_draft(page: Any, predicate_js: str, timeout: float = 10.0) -> None:
    """Wait until some saved draft satisfies ``predicate_js`` (a JS expression over ``d``): autosave is
    asynchronous, and a test that closes the page right after typing must not race it."""
    poll(
        page,
        """() => new Promise((resolve) => {
            const req = indexedDB.open('madoguchi');
            req.onsuccess = () => {
              const all = req.result.transaction('drafts', 'readonly').objectStore('drafts').getAll();
              all.onsuccess = () => { req.result.close(); resolve(all.result.some((d) => (PREDICATE))); };
              all.onerror = () => resolve(false);
            };
            req.onerror = () => resolve(false);
          })""".replace("PREDICATE", predicate_js),
        timeout=timeout,
    )


def retype(page: Any, selector: str, text: str) -> None:
    """Replace the value of a text box by keyboard: focus, select all, type."""
    page.locator(selector).focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def derived_titles(page: Any) -> list[str]:
    """The titles of an interview's derived list (対象の手続き): each item's accessible name is its procedure title,
    and the title is the item's own text first."""
    items = page.get_by_role("list", name="対象の手続き").get_by_role("listitem")
    titles = [items.nth(i).get_attribute("aria-label") or "" for i in range(items.count())]
    for t in titles:
        assert page.get_by_role("listitem", name=t, exact=True).first.inner_text().startswith(t)
    return titles


def console_desk(browser: Any, server: Any, role: str, *, department: str | None = None,
                 display_name: str | None = None) -> tuple[Any, Any, list[str]]:
    """A staff desk: a desktop-sized context (1280x900, Japanese) signed in as ``role`` (a session made in the
    database), its page, and the list its uncaught errors go to."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    add_session(context, server.base, server.login_as(role, department=department,
                                                      display_name=display_name or f"{department or role} 職員"))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors
