"""Pages load when first needed (pwa/js/router.js): a procedure opened from a link fetches the shell and its
own pages' modules only, and every other page (and another language) still opens offline, from what the
service worker precached."""

from __future__ import annotations

from typing import Any

import pytest

from testsupport.servers import ServerProcess

from .helpers import go, ready

pytestmark = pytest.mark.browser

# Modules of pages and languages a resident opening one procedure's form does not use.
NOT_NEEDED = (
    "page-home.",
    "page-finder.",
    "page-review.",
    "page-submission.",
    "page-outbox.",
    "page-event.",
    "console-link.",  # a staff role's way to its console: only for a role that cannot file
    "page-bundle.",
    "page-signin.",
    "page-recover.",
    "page-confirm.",
    "parties-ui.",
    "households.",
    "account.",
    "webauthn.",
    "formreview.",
    "lifeevent.",
    "migrate.",
    "strings-en.",
    "strings-ja-easy.",
)


def test_pages_load_when_first_needed_and_open_offline(browser: Any, shared_server: ServerProcess) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="ja-JP", service_workers="allow"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    scripts: list[str] = []
    page.on(
        "request", lambda r: scripts.append(r.url.rsplit("/", 1)[-1]) if r.resource_type == "script" else None
    )

    go(page, shared_server.base, "#/p/juminhyo-copy")
    page.wait_for_selector("#form input")
    for needed in (
        "app.",
        "router.",
        "shell.",
        "sync.",
        "page-procedure.",
        "page-draft.",
        "render.",
        "form.",
    ):
        assert any(s.startswith(needed) for s in scripts), (needed, scripts)
    assert not [s for s in scripts if s.startswith(NOT_NEEDED)], scripts
    assert not [s for s in scripts if s.startswith("sw-include.")], "the worker's import is not the page's"

    # Installed: the service worker has precached every page; pages never opened here open offline.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30000)
    context.set_offline(True)
    go(page, shared_server.base, "#/outbox")
    assert page.locator("h1").inner_text() == "送信の状況"
    go(page, shared_server.base, "#/find")
    page.wait_for_selector("text=住民票の写し等交付請求")
    page.select_option("#lang", "en")
    page.wait_for_function("() => document.getElementById('page-title').textContent === 'Find a procedure'")
    page.select_option("#lang", "ja")
    page.wait_for_function("() => document.documentElement.lang === 'ja'")
    page.reload()  # a whole new document, offline: the shell and the page come from the precache
    ready(page)
    assert page.locator("h1").inner_text() == "手続きをさがす"
    assert not errors, errors
    context.close()
