"""Passkeys and the verified profile end to end: register, sign out, sign back in with the same passkey;
counter staff bind the account to a registry record; 住民票の写し is prefilled from it and marked so; the
submission and its completion-time telemetry reach the server exactly once, even when the page and the
service worker both retry a submission whose answer was lost."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

from testsupport.servers import ServerProcess

from .helpers import (
    axe_check,
    go,
    new_phone,
    poll,
    shot,
    start_juminhyo,
    sw_active,
    virtual_authenticator,
    wait_all_sent,
)

pytestmark = pytest.mark.browser


def bind(server: ServerProcess, account_id: str, resident_id: str) -> dict[str, Any]:
    """What counter staff do after checking ID at the counter: ``POST /api/accounts/{id}/bind``."""
    staff = server.login_as("counter", display_name="窓口 テスト")
    cookie = "; ".join(f"{k}={v}" for k, v in staff["cookies"].items())
    req = urllib.request.Request(
        f"{server.base}/api/accounts/{account_id}/bind",
        data=json.dumps({"resident_id": resident_id, "id_document": "マイナンバーカード"}).encode(),
        headers={"Content-Type": "application/json", "Cookie": cookie, **staff["headers"]},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        return json.loads(r.read())


def telemetry_rows(server: ServerProcess, procedure: str) -> list[tuple[Any, ...]]:
    return server.query(
        "SELECT fields_typed, fields_prefilled, opened_at, acknowledged_at, duration_s FROM telemetry"
        " WHERE procedure_id = ?",
        (procedure,),
    )


def test_passkey_prefill_and_telemetry_once(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    context, page, errors = new_phone(browser)
    virtual_authenticator(context, page)

    def check(name: str) -> None:
        axe_check(page, name)
        shot(page, name)

    go(page, server.base, "")
    sw_active(page)

    # A resident creates a passkey...
    go(page, server.base, "#/signin")
    page.get_by_label("表示名（ニックネーム可）").fill("山田 太郎")
    page.locator("#register").click()
    page.wait_for_selector("#recovery-codes", timeout=20000)
    check("recovery-codes")
    account_id = page.evaluate("fetch('/api/session').then((r) => r.json()).then((s) => s.account.id)")

    # ...signs out (the account link in the header leads to the passkey page)...
    page.get_by_role("link", name="ホームへ戻る").click()
    page.wait_for_function("() => location.hash === '#/'")
    page.locator("#account-link").click()
    page.get_by_role("button", name="サインアウト", exact=True).click()
    page.wait_for_function("() => location.hash === '#/'")
    expect(page.locator("#account-link")).to_have_text("サインイン")
    assert page.evaluate("fetch('/api/session').then((r) => r.json()).then((s) => s.signed_in)") is False

    # ...and signs back in with the same passkey (a discoverable credential: no user name typed).
    go(page, server.base, "#/signin")
    check("signin-existing")
    page.get_by_role("button", name="パスキーでサインイン").click()
    page.wait_for_function("() => location.hash === '#/'", timeout=20000)
    expect(page.locator("#account-link")).to_have_text("山田 太郎 さん")
    session = page.evaluate("fetch('/api/session').then((r) => r.json())")
    assert session["signed_in"] and session["account"]["id"] == account_id

    # At the counter, staff bind the account to the registry record R0001 (山田 太郎).
    assert bind(server, account_id, "R0001")["resident_id"] == "R0001"

    go(page, server.base, "#/p/juminhyo-copy")
    # Everything on the applicant page comes from the verified record: it is no step (folded into the review),
    # and the review's 変更 opens it, marked as such and still editable.
    start_juminhyo(page, folded=True)

    name = page.locator("fieldset[data-field=applicant_name]")
    expect(name.locator("legend")).to_contain_text("登録情報から入力")
    expect(name.get_by_label("姓", exact=True)).to_have_value("山田")
    expect(name.get_by_label("名", exact=True)).to_have_value("太郎")
    assert name.get_by_label("姓", exact=True).is_editable()
    expect(page.locator("[data-field=applicant_postal_code] label")).to_contain_text("登録情報から入力")
    expect(page.locator("#f-applicant_postal_code")).to_have_value("1000001")
    addr = page.locator("fieldset[data-field=applicant_address]")
    expect(addr.locator("legend")).to_contain_text("登録情報から入力")
    expect(addr.get_by_label("都道府県")).to_have_value("東京都")
    expect(addr.get_by_label("番地")).to_have_value("1-1-1")
    expect(addr.get_by_label("建物名・部屋番号")).to_have_value("千代田ハイツ101")
    expect(page.locator("#f-applicant_phone")).to_have_value("090-1234-5678")
    assert page.locator(".prefilled").count() == 4
    check("prefilled")

    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_selector("#submit")
    pushes: list[str] = []
    answers: list[str] = []
    page.on("request", lambda r: pushes.append(r.post_data or "") if r.url.endswith("/sync/push") else None)

    def on_response(r: Any) -> None:
        if r.url.endswith("/sync/push"):
            try:
                answers.append(r.text())
            except Exception:  # the page navigated meanwhile: the body is gone
                answers.append("")

    page.on("response", on_response)
    page.locator("#submit").click()
    page.wait_for_selector("#receipt-number", timeout=20000)
    submission_id = page.url.rsplit("/", 1)[-1]
    wait_all_sent(page)

    rows = [r for r in server.export() if r["id"] == submission_id]
    assert len(rows) == 1
    answers_ = rows[0]["answers"]
    assert answers_["applicant_name"] == {"family": "山田", "given": "太郎"}
    assert answers_["applicant_address"]["building"] == "千代田ハイツ101"
    assert answers_["applicant_postal_code"] == "1000001"
    assert answers_["copies"] == 1

    # Telemetry: one row for this submission, 4 answers typed (relation, type, copies, purpose), 4 prefilled.
    tel = telemetry_rows(server, "juminhyo-copy")
    assert len(tel) == 1, tel
    typed, prefilled, opened, acked, duration = tel[0]
    assert (typed, prefilled) == (4, 4)
    assert opened and acked and duration is not None and 0 <= duration < 600

    # The answer to the submission's push is lost: the device still has the entry (same bytes), and the
    # page and the service worker both retry it at once. The server answers with the stored receipt
    # (`duplicate`) and stores nothing new; the device then forgets the entry.
    sent = [b for b in pushes if submission_id in b and '"submission.create"' in b]
    assert sent, pushes
    page.evaluate(
        """([body, id]) => new Promise((resolve, reject) => {
            const text = JSON.stringify(JSON.parse(body).mutations.find((m) => m.entity.id === id));
            const m = JSON.parse(text);
            const req = indexedDB.open('madoguchi');
            req.onsuccess = () => {
              const tx = req.result.transaction('outbox', 'readwrite');
              tx.objectStore('outbox').put({ id: m.mutation_id, seq: m.client_seq, kind: m.kind, type: m.entity.type,
                rid: m.entity.id, body: text, state: 'waiting', reason: '', message: '', receipt: null, attempts: 1,
                created_at: Date.now(), label: { kind: 'submission', title: null } });
              tx.oncomplete = () => { req.result.close(); resolve(); };
              tx.onerror = () => reject(tx.error);
              tx.onabort = () => reject(tx.error);
            };
            req.onerror = () => reject(req.error);
          })""",
        [sent[0], submission_id],
    )
    go(page, server.base, "")
    retried = len(pushes)
    answers.clear()
    page.evaluate("navigator.serviceWorker.controller.postMessage({ type: 'flush' })")
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_all_sent(page)
    poll(
        page,
        """(id) => new Promise((resolve) => {
            const req = indexedDB.open('madoguchi');
            req.onsuccess = () => {
              const all = req.result.transaction('outbox').objectStore('outbox').getAll();
              all.onsuccess = () => { req.result.close(); resolve(!all.result.some((e) => e.rid === id)); };
            };
          })""",
        submission_id,
        timeout=20,
    )
    # Forgotten only with a receipt: the retry reached the server (from the page or the service worker).
    if len(pushes) > retried:
        assert any('"duplicate"' in a for a in answers), answers
    assert len([r for r in server.export() if r["id"] == submission_id]) == 1
    assert len(telemetry_rows(server, "juminhyo-copy")) == 1
    assert not errors, errors
    context.close()
