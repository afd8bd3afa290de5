"""Browser-test fixtures: Debian's Chromium driven by Playwright, the real server on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.testing import CHROMIUM, CHROMIUM_FLAGS, free_port, wait_serving

ARGS = ["--headless", *CHROMIUM_FLAGS]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = pytest.mark.browser


class Server:
    """``madoguchi serve`` as a subprocess; restartable on the same port and database."""

    def __init__(self, db: Path, port: int, library: Path | None = None) -> None:
        self.db, self.port, self.library = db, port, library
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://localhost:{port}"

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "madoguchi.cli",
            "serve",
            "--db",
            str(self.db),
            "--port",
            str(self.port),
            "--demo",
        ]
        if self.library:
            cmd += ["--library", str(self.library)]
        self.log = open(self.db.with_suffix(f".{int(time.time() * 1000)}.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        wait_serving(self.base + "/healthz", self.proc, log=Path(self.log.name))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def export(self) -> list[dict]:
        import json

        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "madoguchi.cli",
                "submissions",
                "export",
                "--db",
                str(self.db),
                "--format",
                "jsonl",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """A read-only query on the server's database (WAL: safe while the server runs)."""
        import sqlite3

        conn = sqlite3.connect(f"file:{self.db.resolve()}?mode=ro", uri=True, timeout=30)
        try:
            return list(conn.execute(sql, params))
        finally:
            conn.close()

    def enrollment_url(self, role: str) -> str:
        """The one-time enrollment URL that ``serve --demo`` printed for the demo account of ``role``."""
        import re

        text = Path(self.log.name).read_text(encoding="utf-8", errors="replace")
        found = re.findall(rf"^\s+{re.escape(role)}\s+.*?: (http://\S+/enroll/\S+)$", text, re.M)
        if not found:
            raise AssertionError(f"no enrollment URL for {role} in the server log")
        return found[-1]

    def login_as(self, role: str, **kwargs: object) -> dict[str, object]:
        """A session made directly in the database (``server.auth.testing.login_as``)."""
        from server.auth.testing import login_as
        from server.storage.db import Database

        db = Database.open(self.db)
        try:
            return login_as(db, role, **kwargs)  # type: ignore[arg-type]
        finally:
            db.close()


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
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server (default library, fresh database) for every test of a module: each test uses its own
    browser context, so tests only share the server's data, never the app's storage."""
    s = Server(tmp_path_factory.mktemp("server") / "madoguchi.db", free_port())
    s.start()
    yield s
    s.stop()


@pytest.fixture
def server(tmp_path: Path, library_copy: Path) -> Iterator[Server]:
    s = Server(tmp_path / "madoguchi.db", free_port(), library_copy)
    s.start()
    yield s
    s.stop()
