"""Shared steps of the browser tests: passkeys, axe-core, screenshots, filling the juminhyo form."""

from __future__ import annotations

import json
from typing import Any

from .conftest import ARTIFACTS, AXE

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def virtual_authenticator(context: Any, page: Any) -> Any:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp


def ready(page: Any) -> None:
    page.wait_for_selector("main[data-ready=true]", timeout=15000)


def axe_check(page: Any, name: str) -> None:
    """Zero axe-core violations (WCAG 2.2 AA tags) on the current screen."""
    if not AXE.exists():
        raise AssertionError("node_modules/axe-core missing: run npm install")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    bad = [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]
    assert not bad, f"axe violations on {name}: {json.dumps(bad, ensure_ascii=False, indent=1)}"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def go(page: Any, base: str, hash_: str) -> None:
    page.goto(f"{base}/{hash_}")
    ready(page)


def fill_juminhyo(page: Any, *, check: Any = None) -> None:
    """From the procedure page of juminhyo-copy to its review page (a resident asking for their own copy)."""
    page.get_by_role("button", name="申請を始める").click()
    page.wait_for_selector("#form")
    page.get_by_label("自分（本人）").check()
    page.get_by_label("住民票の写し（世帯全員）").check()
    page.get_by_label("通数").fill("2")
    page.get_by_label("使いみち").select_option("employment")
    page.wait_for_function("document.querySelector('[data-calculated]').value === '600'")
    if check:
        check("form")
    page.get_by_role("button", name="次へ進む").click()
    page.wait_for_selector("text=窓口に来る人（請求者）")
    # A failed "continue" shows the error summary first (and gets checked for accessibility).
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#error-summary")
    if check:
        check("form-errors")
    page.get_by_label("姓", exact=True).first.fill("山田")
    page.get_by_label("名", exact=True).first.fill("太郎")
    page.get_by_label("都道府県").fill("埼玉県")
    page.get_by_label("市区町村").fill("さいたま市浦和区")
    page.get_by_label("町名").fill("高砂")
    page.get_by_label("番地").fill("3丁目15-1")
    page.get_by_label("電話番号").fill("090-1234-5678")
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#submit")
