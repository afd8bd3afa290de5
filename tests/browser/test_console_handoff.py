"""The admin's 基幹系連携 page in a real browser: a department whose core system does not answer has its
application waiting in the outbox; the page lists it (課, 受付番号, 状態 as labels, the error), the 今すぐ送る
button works from the keyboard, and axe-core finds nothing. Counter staff do not get the page."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from testsupport.servers import ROOT, ServerProcess, free_port

from .helpers import add_session, axe_check, shot
from .test_console_visits import _file


def _handoff(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "madoguchi.cli", "handoff", *args, "--db", server.db_path],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_admin_sees_the_waiting_hand_off_and_sends_it_again(browser: Any, shared_server: ServerProcess) -> None:
    server = shared_server
    dead = f"http://127.0.0.1:{free_port()}/inbox"  # nothing listens: the core system is down
    assert _handoff(server, "set", "shimin", "--url", dead, "--on", "received").returncode == 0
    try:
        sid, _ = _file(server, server.login_as("counter"), "shimin")
        deadline = time.monotonic() + 30
        while "ConnectionRefusedError" not in _handoff(server, "status").stdout:
            assert time.monotonic() < deadline, "the sender never tried"
            time.sleep(0.2)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
        add_session(context, server.base, server.login_as("admin", display_name="管理 職員"))
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.base}/console/")
        page.get_by_role("link", name="基幹系連携").click()
        page.wait_for_url(f"{server.base}/console/handoff")
        rows = page.locator("table.handoff-rows tbody tr")
        assert rows.count() == 1
        text = rows.first.inner_text()
        assert "市民課" in text and "受付" in text and "送信待ち" in text and "ConnectionRefusedError" in text
        assert "whsec_" not in page.content()
        axe_check(page, "handoff")
        shot(page, "handoff")
        attempts = rows.first.locator("td").nth(5).inner_text()
        page.get_by_role("button", name="今すぐ送る").focus()
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert page.url == f"{server.base}/console/handoff"
        deadline = time.monotonic() + 30
        while page.locator("table.handoff-rows tbody tr td").nth(5).inner_text() == attempts:
            assert time.monotonic() < deadline, "the retry was not sent"
            time.sleep(0.3)
            page.reload()
        assert not errors
        context.close()
        counter = browser.new_context(locale="ja-JP")
        add_session(counter, server.base, server.login_as("counter"))
        cp = counter.new_page()
        assert cp.goto(f"{server.base}/console/handoff").status == 403
        cp.goto(f"{server.base}/console/")
        assert cp.get_by_role("link", name="基幹系連携").count() == 0
        counter.close()
        assert sid
    finally:
        _handoff(server, "remove", "shimin")
