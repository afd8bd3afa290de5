"""Browser-test fixtures: Debian's Chromium driven by Playwright, the real server on loopback."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.booking_rules import store_rules
from testsupport.chromium import CHROMIUM, CHROMIUM_FLAGS
from testsupport.servers import ServerProcess

ARGS = ["--headless", *CHROMIUM_FLAGS]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = pytest.mark.browser


def demo_server(db: Path, library: Path | None = None) -> ServerProcess:
    """``madoguchi serve --demo`` on ``db`` at ``http://localhost:PORT`` (not started)."""
    return ServerProcess(db, demo=True, library=library, url_host="localhost")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    from procedure_definitions.library import DEFAULT_LIBRARY

    dst = tmp_path / "library"
    shutil.copytree(DEFAULT_LIBRARY, dst)
    return dst


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server (default library, fresh database) for every test of a module: each test uses its own
    browser context, so tests only share the server's data, never the app's storage."""
    s = demo_server(tmp_path_factory.mktemp("server") / "madoguchi.db")
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def open_shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """:func:`shared_server` whose booking rules open every day all day, with same-day bookings
    (testsupport.booking_rules.OPEN_ALL_DAY): for tests that draw walk-in tickets at a kiosk, the desk or the app,
    or book tomorrow, which the default rules refuse on weekends, holidays, 年末年始 and outside 08:30–17:15 JST —
    the suite runs at any date and time. A test about closed days or hours sets its own rules and times."""
    db = tmp_path_factory.mktemp("server") / "madoguchi.db"
    store_rules(db)
    s = demo_server(db)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def server(tmp_path: Path, library_copy: Path) -> Iterator[ServerProcess]:
    s = demo_server(tmp_path / "madoguchi.db", library_copy)
    s.start()
    yield s
    s.stop()
