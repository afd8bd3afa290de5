"""A draft's preview link on a phone (server/preview.py + server/preview_static/preview.js): the real renderer,
the banner, validation on send without sending, nothing stored, and a new push shown by itself within 3 s."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .helpers import axe_check, new_phone, shot, sw_active

pytestmark = pytest.mark.browser

SAMPLE = """\
kind: procedure
id: preview-phone
version: 1.2.0
title: {ja: 見本の届出, en: Sample notification, ja-easy: みほん の とどけ}
department: {id: shimin, name: 市民課}
sections:
  - id: main
    title: {ja: あなたのこと, en: About you, ja-easy: あなた の こと}
    fields:
      - id: nickname
        type: text
        label: {ja: 呼び名, en: Nickname, ja-easy: よびな}
        required: true
      - id: copies
        type: number
        label: {ja: 通数, en: Copies, ja-easy: つうすう}
        required: true
        min: 1
        max: 10
"""


def configurator(server: Any) -> httpx.Client:
    session = server.login_as("configurator")
    return httpx.Client(base_url=server.url, cookies=session["cookies"], headers=session["headers"], timeout=30)


def push(c: httpx.Client, source: str, filename: str) -> dict[str, Any]:
    """``POST /api/drafts``: what a notebook's save-and-push or ``madoguchi drafts push`` sends."""
    r = c.post("/api/drafts", json={"filename": filename, "source": source})
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def preview_url(c: httpx.Client, draft_id: str) -> str:
    r = c.post(f"/api/drafts/{draft_id}/preview")
    assert r.status_code == 201, r.text
    return str(r.json()["url"])


def counts(server: Any) -> tuple[Any, ...]:
    return tuple(server.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("submissions", "telemetry", "form_sessions"))


def test_preview_on_a_phone_follows_pushes_and_stores_nothing(browser: Any, shared_server: Any) -> None:
    server = shared_server
    conf = configurator(server)
    draft = push(conf, SAMPLE, "preview-phone.yaml")
    assert draft["ok"], draft["lines"]
    url = preview_url(conf, draft["id"])
    before = counts(server)
    context, page, errors = new_phone(browser, has_touch=True, is_mobile=True)
    try:
        page.goto(url)
        banner = page.locator("#preview-banner")
        assert "プレビュー（保存されません）" in banner.inner_text()
        page.wait_for_selector("#preview-fields label:has-text('呼び名')")
        assert "1.2.0" in page.locator("#preview-version").inner_text()
        assert page.evaluate("document.documentElement.dataset.preview") == "true"
        axe_check(page, "preview")
        # axe's best-practice region rule too (outside axe_check's WCAG tags): the banner is in a landmark.
        region = page.evaluate("async () => (await axe.run(document, {runOnly: {type: 'rule', values: ['region']}}))"
                               ".violations.map((v) => v.nodes.map((n) => n.target))")
        assert region == [], region
        shot(page, "preview-phone")
        page.locator("label:has-text('呼び名')").click()
        page.keyboard.type("みどり")
        page.locator("label:has-text('通数')").click()
        page.keyboard.type("20")
        page.locator("#preview-send").tap()
        summary = page.locator("#error-summary")
        summary.wait_for()
        assert "通数" in summary.inner_text() and "10以下" in summary.inner_text()
        axe_check(page, "preview-errors")
        page.locator("label:has-text('通数')").click()
        page.keyboard.press("Control+A")
        page.keyboard.type("2")
        page.locator("#preview-send").tap()
        outcome = page.locator("#preview-outcome")
        outcome.wait_for()
        assert "送信していません" in outcome.inner_text() and "みどり" in outcome.inner_text()
        # Nothing stored: no database of the app, no service worker, no cache, nothing saved, nothing sent.
        stored = page.evaluate("""async () => ({
            dbs: (await indexedDB.databases()).map((d) => d.name),
            sw: (await navigator.serviceWorker.getRegistrations()).length,
            caches: await caches.keys(),
            local: localStorage.length,
        })""")
        assert stored == {"dbs": [], "sw": 0, "caches": [], "local": 0}, stored
        assert context.cookies() == []  # not even the CSRF cookie: the page posts nothing
        assert counts(server) == before
        # A new push with a changed label: the open page shows it by itself, keeping what was typed.
        started = time.monotonic()
        again = push(conf, SAMPLE.replace("呼び名", "通称"), "preview-phone.yaml")
        assert (again["id"], again["revision"]) == (draft["id"], 2)
        page.wait_for_selector("#preview-fields label:has-text('通称')", timeout=3000)
        took = time.monotonic() - started
        assert took < 3, took
        assert page.locator("label:has-text('通称') ~ input").input_value() == "みどり"
        assert "2" in page.locator("#preview-version").inner_text()
        axe_check(page, "preview-updated")
        assert not errors, errors
    finally:
        context.close()
        conf.close()


def test_preview_lists_a_drafts_errors_and_the_app_worker_leaves_it_alone(browser: Any, shared_server: Any) -> None:
    server = shared_server
    broken = SAMPLE.replace("id: preview-phone", "id: preview-broken").replace("        min: 1\n", "        minn: 1\n")
    with configurator(server) as conf:
        draft = push(conf, broken, "broken.yaml")
        assert not draft["ok"]
        url = preview_url(conf, draft["id"])
    context, page, errors = new_phone(browser, has_touch=True, is_mobile=True)
    try:
        # The resident app first: its service worker answers navigations with the app shell, except /preview/.
        page.goto(server.url + "/")
        sw_active(page)
        page.goto(url)
        page.wait_for_selector("#preview-errors")
        assert "プレビュー（保存されません）" in page.locator("#preview-banner").inner_text()
        lines = page.locator(".preview-lines li").all_inner_texts()
        assert any(line.startswith("broken.yaml:") and "PD101" in line for line in lines), lines
        axe_check(page, "preview-draft-errors")
        cached = page.evaluate("""async () => {
            const out = [];
            for (const name of await caches.keys()) {
                for (const req of await (await caches.open(name)).keys()) out.push(new URL(req.url).pathname);
            }
            return out.filter((p) => p.startsWith('/preview') || p.startsWith('/api/preview'));
        }""")
        assert cached == []
        # The language switch: English words from the app's own string tables.
        page.select_option("#lang", "en")
        page.wait_for_selector("text=This draft has errors")
        assert not errors, errors
    finally:
        context.close()


def test_a_notebook_on_another_origin_shows_the_preview_in_an_iframe(browser: Any, shared_server: Any,
                                                                      tmp_path: Path) -> None:
    """Jupyter runs on its own origin: the preview page may be framed there (frame-ancestors *), nothing else is."""
    with configurator(shared_server) as conf:
        url = preview_url(conf, push(conf, SAMPLE.replace("id: preview-phone", "id: preview-frame"), "f.yaml")["id"])
    (tmp_path / "nb.html").write_text(f'<iframe title="preview" src="{url}" width="400" height="600"></iframe>'
                                      f'<iframe title="app" src="{shared_server.url}/" width="400" height="600">'
                                      "</iframe>", encoding="utf-8")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    notebook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=notebook.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{notebook.server_address[1]}/nb.html")
        frame = page.frame_locator("iframe[title=preview]")
        frame.locator("#preview-fields label:has-text('呼び名')").wait_for()
        assert "プレビュー（保存されません）" in frame.locator("#preview-banner").inner_text()
        # The resident app itself still refuses to be framed (frame-ancestors 'none').
        app = next(f for f in page.frames if f.name == "" and f != page.main_frame and "preview" not in f.url)
        assert not app.url.startswith(shared_server.url), app.url
        assert not errors, errors
    finally:
        context.close()
        notebook.shutdown()


def test_a_life_event_previews_its_questions_and_procedures(browser: Any, shared_server: Any) -> None:
    from procedure_definitions.library import DEFAULT_LIBRARY

    text = (Path(DEFAULT_LIBRARY) / "life_events" / "birth.yaml").read_text(encoding="utf-8")
    text = text.replace("\nid: birth\n", "\nid: preview-birth\n")
    with configurator(shared_server) as conf:
        draft = push(conf, text, "preview-birth.yaml")
        assert draft["ok"], draft["lines"]
        url = preview_url(conf, draft["id"])
    context, page, errors = new_phone(browser, has_touch=True, is_mobile=True)
    try:
        page.goto(url)
        result = page.locator("#preview-event-result")
        result.wait_for()
        assert "出生届" in result.inner_text() and "国民健康保険" not in result.inner_text()
        page.locator("fieldset", has_text="国民健康保険に入りますか").get_by_label("はい").check()
        page.wait_for_function("document.getElementById('preview-event-result').innerText.includes('国民健康保険')")
        axe_check(page, "preview-life-event")
        assert page.evaluate("indexedDB.databases()") == []
        assert not errors, errors
    finally:
        context.close()
