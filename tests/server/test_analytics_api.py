"""GET /api/analytics/dataset and /console/analytics on the real app over a real SQLite file of synthetic use:
configurators and admins get the de-identified tables (the same figures as `madoguchi report` reading the file)
and the managers' page; other roles are refused; no personal data in either; the page is axe-clean."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from madoguchi.analytics import metrics
from madoguchi.analytics.dataset import DatasetError, load_api, load_sqlite, to_dataset
from server.auth.middleware import SESSION_COOKIE
from testsupport.analytics_data import PERSONAL, QUEUE_CONFIG, Truth, fill_database, fill_queue
from testsupport.chromium import CHROMIUM, CHROMIUM_FLAGS
from testsupport.servers import AppServer
from testsupport.sessions import login


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Path, Truth]]:
    db = tmp_path_factory.mktemp("analytics-api") / "city.db"
    truth = fill_database(db, submissions=250, visits=20, seed=3)
    fill_queue(db, weeks=5, seed=4)  # bookings and the queue's event log (with names, phones, codes)
    server = AppServer.on_file(db)
    try:
        yield server, db, truth
    finally:
        server.server.should_exit = True
        server.thread.join(timeout=10)


def _client(server: AppServer, db: Path, role: str | None) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=60)
    if role is not None:
        _, token = login(str(db), role)
        client.cookies.set(SESSION_COOKIE, token)
    return client


@pytest.mark.parametrize("role", ["configurator", "admin"])
def test_the_dataset_is_the_files_figures_without_personal_data(world: tuple[AppServer, Path, Truth],
                                                                role: str) -> None:
    server, db, truth = world
    with _client(server, db, role) as client:
        r = client.get("/api/analytics/dataset")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json") and r.headers["cache-control"] == "no-store"
    for marker in PERSONAL:
        assert marker not in r.text, marker
    body = r.json()
    api = to_dataset(body["tables"], "api")
    local = load_sqlite(db)
    assert metrics.overview(api).equals(metrics.overview(local))
    assert metrics.visit_step_times(api).equals(metrics.visit_step_times(local))
    assert len(api.submissions) == sum(truth.submissions.values())


def test_the_dataset_carries_the_queue_without_ids_names_or_phones(world: tuple[AppServer, Path, Truth]) -> None:
    import sqlite3

    from madoguchi.analytics import queue_metrics

    server, db, _ = world
    with _client(server, db, "configurator") as client:
        r = client.get("/api/analytics/dataset")
    assert r.status_code == 200
    tables = r.json()["tables"]
    assert tables["queue_events"]["columns"] == ["place", "event", "at", "kind", "booth", "ticket_no", "booking_no"]
    assert tables["bookings"]["columns"] == ["booking_no", "place", "day", "start", "minutes", "party", "status",
                                             "departments"]
    conn = sqlite3.connect(db)
    try:
        secrets = [v for row in conn.execute("SELECT id, code, name, phone FROM bookings") for v in row]
        secrets += [r[0] for r in conn.execute("SELECT DISTINCT ticket_id FROM queue_events WHERE ticket_id IS NOT NULL")]
        assert len(tables["queue_events"]["rows"]) == conn.execute("SELECT count(*) FROM queue_events").fetchone()[0]
    finally:
        conn.close()
    assert secrets and not [v for v in secrets if v in r.text]
    # The capacity comes from the rules in force; the figures from the API are those of the file.
    assert {row[0] for row in tables["capacity"]["rows"]} == {p["id"] for p in QUEUE_CONFIG["places"]}
    api, local = to_dataset(tables, "api"), load_sqlite(db)
    for figure in (queue_metrics.waits_by_hour, queue_metrics.no_show_rate, queue_metrics.capacity_use):
        assert figure(api).equals(figure(local)), figure.__name__


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("counter", 403), ("reviewer", 403), ("resident", 403)])
def test_other_roles_are_refused(world: tuple[AppServer, Path, Truth], role: str | None, status: int) -> None:
    server, db, _ = world
    with _client(server, db, role) as client:
        for path in ("/api/analytics/dataset", "/console/analytics"):
            r = client.get(path)
            assert r.status_code == status, (path, r.status_code)
            assert "窓口花子" not in r.text


def test_load_api_without_a_valid_token_is_one_clear_error(world: tuple[AppServer, Path, Truth]) -> None:
    server, _, _ = world
    with pytest.raises(DatasetError, match=r"HTTP 401"):
        load_api(server.url, "mdg_not-a-token")


def test_the_console_page_shows_the_key_figures(world: tuple[AppServer, Path, Truth]) -> None:
    server, db, truth = world
    with _client(server, db, "configurator") as client:
        r = client.get("/console/analytics")
    assert r.status_code == 200
    html = r.text
    for marker in PERSONAL:
        assert marker not in html, marker
    assert 'href="/console/analytics" aria-current="page">利用状況</a>' in html
    versions = load_sqlite(db).versions
    for pid, version in truth.versions.items():
        key = (pid, version)
        starts = truth.completed[key] + truth.left[key]
        # By title and version: two procedures may share a version number (inkan-toroku, kokuho-kanyu 2.1.0).
        title = versions[(versions.procedure_id == pid) & (versions.version == version)]["title"].iloc[0]
        row = next(r for r in html.split("<tr") if f"<td>{title}</td><td>{version}</td>" in r and "目標" in r)
        assert f'<td class="num">{starts}</td>' in row and f'<td class="num">{truth.submissions[key]}</td>' in row
    for text in ("離脱の多い項目", "来庁の手順ごとの時間", "受付", "聞き取り", "交付", "市民課", "待ち時間と予約",
                 "来庁なしの率", "予約枠の利用率", "明日の混む時間帯"):
        assert text in html
    waits = html[html.index('id="h-queue_waits"'):html.index('id="h-queue_no_show"')]
    assert "<table" in waits and "<td>当日</td>" in waits and "<td>予約</td>" in waits
    by_hour = html[html.index('id="h-queue_waits_hour"'):html.index('id="h-queue_waits"')]
    assert "時間帯ごとの待ち時間" in by_hour and "<table" in by_hour and "時台</td>" in by_hour
    with _client(server, db, "counter") as client:
        assert "/console/analytics" not in client.get("/console/").text  # no menu entry without the capability


@pytest.mark.browser
def test_the_console_page_is_axe_clean(world: tuple[AppServer, Path, Truth]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.browser.helpers import axe_check, shot

    server, db, _ = world
    _, token = login(str(db), "admin")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--headless", *CHROMIUM_FLAGS])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
            context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": server.url}])
            page = context.new_page()
            errors: list[Any] = []
            page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{server.url}/console/analytics")
            assert page.get_by_role("heading", name="利用状況", level=1).is_visible()
            # 6 + the queue's 4 (waits by hour and by weekday, no-shows, capacity), and tomorrow's forecast when
            # tomorrow is a weekday the synthetic places open
            tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=9 + 24)).date()
            assert page.locator("table").count() == 10 + (tomorrow.weekday() < 5)
            axe_check(page, "console-analytics")
            shot(page, "console-analytics")
            assert not errors, errors  # CSP refused nothing
        finally:
            browser.close()
