"""A life event's step evaluates each procedure once when it opens (page-bundle.js: the step list, the fields
drawn and their markers share one evaluation, as page-draft.js does), not three or four times. The page's
real modules, with the form engine's entry counted (served through a route: no service worker, so every
module request reaches it)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from testsupport.servers import ServerProcess

from .helpers import add_session, go

pytestmark = pytest.mark.browser

_COUNTED = """
export function evaluateForm(...args) {
  globalThis.__evaluations = (globalThis.__evaluations || 0) + 1;
  return evaluateFormOnce(...args);
}
"""


def _counting(route: Any) -> None:
    body = route.fetch().text()
    assert "export function evaluateForm(" in body
    route.fulfill(body=body.replace("export function evaluateForm(", "function evaluateFormOnce(") + _COUNTED,
                  headers={"content-type": "text/javascript; charset=utf-8"})


def test_a_bundle_step_evaluates_each_procedure_once(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP", service_workers="block")
    context.route(re.compile(r".*/assets/form\.[0-9a-f]+\.js$"), _counting)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    add_session(context, server.base, server.login_as("resident", display_name="転入 花子"))
    go(page, server.base, "#/e/moving-in")
    page.locator("#q-needs_certificate-0").check()
    page.wait_for_function("() => document.querySelectorAll('#event-result .card').length === 2")
    page.get_by_role("button", name="まとめて入力する").click()
    page.wait_for_selector("#form h2#page-title")
    bundle = page.evaluate("location.hash").split("/")[2]
    steps = {"shared": "共通の項目", "tennyu.0": "転入届"}
    # One change on each step: a typed phone number (one input event), a tapped choice.
    change = {"shared": lambda: page.locator("#shared-applicant_phone").evaluate(
                  "(n) => { n.value = '0312345678'; n.dispatchEvent(new Event('input', { bubbles: true })); }"),
              "tennyu.0": lambda: page.locator("#p-tennyu-moved_from").check()}
    for key, heading in steps.items():
        page.evaluate("() => { globalThis.__evaluations = 0; }")
        page.evaluate("(h) => { location.hash = h; }", f"#/b/{bundle}/{key}")
        page.wait_for_function(
            "(h) => (document.querySelector('#form h2#page-title') || {}).textContent?.includes(h)", arg=heading)
        page.wait_for_timeout(300)  # anything drawn late would count too
        # Two procedures (転入届, 住民票の写し): one evaluation each.
        assert page.evaluate("globalThis.__evaluations") == 2, key
        # A change evaluates again, once per procedure.
        page.evaluate("() => { globalThis.__evaluations = 0; }")
        change[key]()
        page.wait_for_timeout(300)
        assert page.evaluate("globalThis.__evaluations") == 2, key
    assert not errors, errors
    context.close()
