"""児童手当 in the real app for a bound resident: 配偶者の有無 comes from the registry (profile ``has_spouse``), so
the 配偶者 step, with nothing left to answer, folds into the review; a resident without a spouse on the registry
is asked (never answered いいえ for them). The first step holds 公務員か, the claimant and the payment account."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import add_session, axe_check, go, idb_all, new_phone, sw_active, wait_draft

pytestmark = pytest.mark.browser


def _draft(page: Any) -> dict[str, Any]:
    wait_draft(page, "d.procedure_id === 'jido-teate'")  # the draft is saved as the form opens
    drafts = [d for d in idb_all(page, "drafts") if d.get("procedure_id") == "jido-teate"]
    assert len(drafts) == 1
    return drafts[0]


def test_a_married_claimant_is_not_asked_for_a_spouse(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="山田 太郎", resident_id="R0001"))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/p/jido-teate")
    page.wait_for_selector("#form")

    # One step: 公務員か first, the claimant's (prefilled) values, the pension and the account.
    for fid in ("is_public_servant", "pension_type", "payment_account"):
        expect(page.locator(f"fieldset[data-field={fid}]")).to_be_visible()
    expect(page.locator("fieldset[data-field=has_spouse]")).to_have_count(0)
    axe_check(page, "jido-teate-first-step")
    draft = _draft(page)
    assert draft["answers"]["has_spouse"] is True and "has_spouse" in draft["prefilled"]
    assert draft["answers"]["spouse_name"] == {"family": "山田", "given": "花子"}

    page.locator("fieldset[data-field=is_public_servant]").get_by_label("いいえ").check()
    page.locator("fieldset[data-field=pension_type]").get_by_label("厚生年金").check()
    page.locator("fieldset[data-field=payment_account]").get_by_label("公金受取口座", exact=False).check()
    page.get_by_role("button", name="次へ進む").click()
    # The 配偶者 step folded: the next screen is the children's.
    page.wait_for_selector("fieldset[data-field=children]")
    expect(page.locator("fieldset[data-field=has_spouse]")).to_have_count(0)
    assert not errors, errors
    context.close()


def test_without_a_spouse_on_the_registry_the_resident_answers(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    add_session(context, server.base, server.login_as("resident", display_name="葛城 美咲", resident_id="R0004"))
    go(page, server.base, "")
    sw_active(page)
    go(page, server.base, "#/p/jido-teate")
    page.wait_for_selector("#form")
    draft = _draft(page)
    assert "has_spouse" not in draft["answers"] and "has_spouse" not in draft["prefilled"]
    assert draft["answers"]["claimant_name"]["given"] == "美咲"  # the profile did prefill the rest
    assert not errors, errors
    context.close()
