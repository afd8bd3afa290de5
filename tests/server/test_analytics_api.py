"""GET /api/analytics/dataset and /console/analytics on the real app over a real SQLite file of synthetic use:
configurators and admins get the de-identified tables (the same figures as `madoguchi report` reading the file)
and the managers' page; other roles are refused; no personal data in either; the page is axe-clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from madoguchi.analytics import metrics
from madoguchi.analytics.dataset import DatasetError, load_api, load_sqlite, to_dataset
from server.auth.middleware import SESSION_COOKIE
from testsupport.analytics_data import PERSONAL, Truth, fill_database
from testsupport.chromium import CHROMIUM, CHROMIUM_FLAGS
from testsupport.servers import AppServer
from testsupport.sessions import login


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Path, Truth]]:
    db = tmp_path_factory.mktemp("analytics-api") / "city.db"
    truth = fill_database(db, submissions=250, visits=20, seed=3)
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
    for pid, version in truth.versions.items():
        key = (pid, version)
        starts = truth.completed[key] + truth.left[key]
        row = next(r for r in html.split("<tr") if f"<td>{version}</td>" in r and "目標" in r)
        assert f'<td class="num">{starts}</td>' in row and f'<td class="num">{truth.submissions[key]}</td>' in row
    for text in ("離脱の多い項目", "来庁の手順ごとの時間", "受付", "聞き取り", "交付", "市民課"):
        assert text in html
    with _client(server, db, "counter") as client:
        assert "/console/analytics" not in client.get("/console/").text  # no menu entry without the capability


def _personal_token(db: Path, role: str, scopes: list[str]) -> str:
    """A personal bearer token of a new ``role`` account (server.auth.tokens, as the console's token page)."""
    from server.auth.store import account_by_id
    from server.auth.tokens import create_personal
    from server.storage.db import Database

    account_id, _ = login(str(db), role)
    with Database.open(str(db)) as database:
        def job(conn: Any) -> str:
            account = account_by_id(conn, account_id)
            assert account is not None
            return create_personal(conn, account=account, name="analytics test", scopes=scopes, days=1, ip=None)[1]

        return database.write_sync(job)


def test_report_from_the_server_with_an_analytics_token(world: tuple[AppServer, Path, Truth], tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    server, db, truth = world
    root = Path(__file__).resolve().parents[2]

    def report(token: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "madoguchi.cli", "report", "--server", server.url, "--out",
                               str(tmp_path / "r.html")], capture_output=True, text=True, timeout=300, check=False,
                              env={**os.environ, "PYTHONPATH": str(root), "MADOGUCHI_TOKEN": token})

    token = _personal_token(db, "configurator", ["analytics"])
    done = report(token)
    assert done.returncode == 0, done.stderr
    assert f"{sum(truth.submissions.values())} submissions" in done.stdout and token not in done.stdout
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 7 and server.url in html
    # A token of another scope is refused by the route's opt (403 token-scope): one error line, exit 2.
    (tmp_path / "r.html").unlink()
    refused = report(_personal_token(db, "configurator", ["drafts"]))
    assert refused.returncode == 2 and "HTTP 403" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not (tmp_path / "r.html").exists()
    assert load_api(server.url, token).counts() == load_sqlite(db).counts()


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
            assert page.locator("table").count() == 6
            axe_check(page, "console-analytics")
            shot(page, "console-analytics")
            assert not errors, errors  # CSP refused nothing
        finally:
            browser.close()
