"""The home page for every role: each link on it opens a page (never 「ページが見つかりません」), the page asks the
server for nothing the role may not use (no 403), shows what the role's capabilities (``account.can``, from
server/auth/roles.py) say and nothing else, and passes axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest

from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, go, new_phone, poll, ready, shot

pytestmark = pytest.mark.browser

NOT_FOUND = "ページが見つかりません"
ROLES = ["anonymous", "resident", "counter", "outreach", "reviewer", "configurator", "admin"]
# What each role's home shows: an element that is there, or must not be.
SHOWS = {
    "anonymous": {"#acting-for": False, "#resident-search": False, "#staff-links": False, "#draft-cards, #no-drafts": True},
    "resident": {"#acting-for": False, "#resident-search": False, "#staff-links": False, "#draft-cards, #no-drafts": True},
    "counter": {"#acting-for": False, "#resident-search": True, "#staff-links": True, "#draft-cards, #no-drafts": True},
    "outreach": {"#acting-for": True, "#resident-search": False, "#staff-links": True, "#draft-cards, #no-drafts": True},
    "reviewer": {"#acting-for": False, "#resident-search": False, "#staff-links": True, "#draft-cards, #no-drafts": False},
    "configurator": {"#acting-for": False, "#resident-search": False, "#staff-links": True,
                     "#draft-cards, #no-drafts": False},
    "admin": {"#acting-for": False, "#resident-search": False, "#staff-links": True, "#draft-cards, #no-drafts": False},
}


@pytest.mark.parametrize("role", ROLES)
def test_every_home_link_works_and_each_role_sees_what_it_can_use(browser: Any, shared_server: ServerProcess,
                                                                  role: str) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    refused: list[str] = []
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status in (401, 403) else None)
    if role != "anonymous":
        add_session(context, server.base, server.login_as(role, department="koseki" if role == "reviewer" else None))
    go(page, server.base, "")
    if role != "anonymous":
        # The first drawing used the cached (empty) session; the app draws the home again once it knows the account.
        poll(page, "() => (JSON.parse(localStorage.getItem('madoguchi.session') || '{}').account || {}).role === ROLE"
             .replace("ROLE", repr(role)))
        poll(page, "() => document.querySelector('main[data-ready=true]') !== null")
        page.wait_for_timeout(300)
        ready(page)
    can = page.evaluate("() => (JSON.parse(localStorage.getItem('madoguchi.session') || '{}').account || {}).can || []")
    for selector, shown in SHOWS[role].items():
        assert (page.locator(selector).count() > 0) == shown, f"{role}: {selector} should be {'shown' if shown else 'absent'}"
    # The way to the console: /console for roles with it; a configurator (configure, no console) lands on
    # /console/procedures (issue 14), never on a refusal; nothing for the others.
    console = "/console" if "console" in can else "/console/procedures" if "configure" in can else None
    assert page.locator("#staff-links a[href^='/console']").evaluate_all("(a) => a.map((x) => x.getAttribute('href'))") \
        == ([console] if console else [])
    assert (page.locator("#staff-links a[href='#/h']").count() > 0) == ("households" in can)
    axe_check(page, f"home-{role}")
    shot(page, f"home-{role}")

    if role == "counter":
        # The resident in front of the counter, found in the registry (audited) and picked in one tap.
        page.get_by_label("申請する住民を検索").fill("ヤマダ")
        page.get_by_role("button", name="検索", exact=True).click()
        page.locator("#resident-results li").first.wait_for()
        axe_check(page, "home-counter-search")
        page.get_by_role("button", name=re.compile(r"^この住民の申請をする\s*：山田 花子$")).click()
        page.get_by_text("代理入力：山田 花子").wait_for()
        ready(page)
        searches = server.query("SELECT details FROM audit_log WHERE action = 'registry.search' ORDER BY seq DESC LIMIT 1")
        assert searches and "ヤマダ" in str(searches[0][0])
    links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href'))")
    assert "#/find#events" in links and "#/find" in links
    for href in dict.fromkeys(links):
        if href.startswith("#/") or href == "#":
            go(page, server.base, href)
            title = page.locator("h1").inner_text()
            assert title != NOT_FOUND, f"{role}: {href} shows the not-found page"
            if href == "#/find#events":
                assert page.locator("#events").count() == 1
        elif href.startswith("/"):
            r = page.request.get(server.base + href)
            assert r.status == 200, f"{role}: {href} answers {r.status}"
        else:
            assert re.fullmatch(r"#[\w-]+", href), f"{role}: unexpected link {href}"  # in-page (skip link)
    # Opening a procedure lands on its first step only for who may file (and anyone signed out); the others
    # see its facts and no way to start.
    files = role == "anonymous" or "file" in can
    if not files:  # a life event's procedures: not filed here either, and the way to the console is there
        go(page, server.base, "#/e/moving-in")
        page.wait_for_selector("#event-result .card")
        assert page.locator(f"#event-result .notice a[href='{console}']").count() == 1, role
    go(page, server.base, "#/p/juminhyo-copy")
    assert (page.locator("#form").count() == 1) == files, role
    assert page.locator("#estimate").count() == 1, role
    assert (page.locator("#cannot-file").count() == 1) == (not files), role
    if not files:
        axe_check(page, f"cannot-file-{role}")
        # Not a dead end: the link to the role's console, which opens for it.
        to_console = page.locator(f"main a[href='{console}']")
        assert console and to_console.count() == 1, role
        to_console.click()
        page.wait_for_url(server.base + console)
        assert page.locator("h1").count() == 1
    assert not refused, f"{role}: the app asked for what the role cannot use: {refused}"
    assert not errors, errors
    context.close()
