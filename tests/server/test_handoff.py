"""Hand-off to core systems (issue 13 point 7): the transactional outbox, the signed webhook per department,
retries, restarts, the maximum age and the admin's CLI — the real server on loopback, a real SQLite file, the
real `madoguchi handoff` command, and a LOCAL core system (testsupport/core_system.py) that verifies every
signature the way docs/handoff.md tells a core-system team to."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.storage.submissions import move_status
from tests.server.conftest import answers, start_server
from testsupport.core_system import LocalCoreSystem, verify
from testsupport.servers import ROOT, AppServer

FAST: dict[str, Any] = {"handoff_interval_s": 0.1, "handoff_retry_base_s": 0.2, "handoff_retry_cap_s": 0.4}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter().format(record))


@pytest.fixture(scope="module")
def logs() -> Iterator[_Collect]:
    """Everything the project's loggers (``madoguchi.*``) wrote during this module (the servers run in this
    process). On the ``madoguchi`` logger itself: the app's start reconfigures the root logger's handlers."""
    h = _Collect()
    top = logging.getLogger("madoguchi")
    old = top.level
    top.addHandler(h)
    top.setLevel(logging.DEBUG)
    yield h
    top.removeHandler(h)
    top.setLevel(old)


def cli(db: str | Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "madoguchi.cli", "handoff", *args, "--db", str(db)],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def configure(db: str | Path, core: LocalCoreSystem, *extra: str) -> str:
    """`madoguchi handoff set shimin --url ...`: the secret it prints once goes to the core system."""
    r = cli(db, "set", "shimin", "--url", core.url, *extra)
    assert r.returncode == 0, r.stderr
    core.secret = r.stdout.strip().splitlines()[-1]
    assert core.secret.startswith("whsec_")
    return core.secret


@pytest.fixture(scope="module")
def core() -> Iterator[LocalCoreSystem]:
    c = LocalCoreSystem()
    yield c
    c.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, core: LocalCoreSystem, logs: _Collect) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("handoff"), **FAST)
    configure(s.settings.db_path, core)
    yield s
    s.stop()


def file_one(srv: AppServer, **extra: Any) -> str:
    r = srv.login("resident").post("/api/submissions", json={
        "id": str(uuid.uuid4()), "procedure_id": "test-proc", "procedure_version": "1.0.0",
        "answers": answers(**extra)})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def move(srv: AppServer, sid: str, *statuses: str) -> None:
    reviewer = srv.login("reviewer", department="shimin")
    for st in statuses:
        r = reviewer.post(f"/api/submissions/{sid}/status", json={"status": st})
        assert r.status_code == 200, r.text


def outbox(srv: AppServer, sid: str) -> list[tuple[Any, ...]]:
    return srv.db.read_sync(lambda c: c.execute(
        "SELECT event, state, attempts, last_error FROM handoff_outbox WHERE submission_id = ?", (sid,)).fetchall())


def wait_state(srv: AppServer, sid: str, state: str, timeout: float = 15) -> list[tuple[Any, ...]]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rows = outbox(srv, sid)
        if rows and rows[0][1] == state:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"{sid}: {outbox(srv, sid)} never became {state}")


def received_for(core: LocalCoreSystem, sid: str) -> list[Any]:
    return [r for r in core.received if r.headers.get("webhook-id") == f"{sid}:accepted"]


def test_the_outbox_row_is_written_with_the_status_change_and_not_without_it(srv: AppServer) -> None:
    sid = file_one(srv)
    move(srv, sid, "in_review")
    assert outbox(srv, sid) == []  # shimin hands off at accepted (the default), not before
    move(srv, sid, "accepted")
    assert [r[0] for r in outbox(srv, sid)] == ["accepted"]
    # A refused change writes nothing.
    other = file_one(srv)
    r = srv.login("reviewer", department="shimin").post(f"/api/submissions/{other}/status",
                                                        json={"status": "accepted"})
    assert r.status_code == 409 and outbox(srv, other) == []
    # A status change whose transaction rolls back takes its outbox row with it.
    move(srv, other, "in_review")

    def change_then_fail(c: Any) -> None:
        move_status(c, other, "in_review", "accepted", actor="test")
        assert c.execute("SELECT count(*) FROM handoff_outbox WHERE submission_id = ?", (other,)).fetchone()[0] == 1
        raise RuntimeError("the transaction breaks after the change")

    with pytest.raises(RuntimeError):
        srv.db.write_sync(change_then_fail)
    assert outbox(srv, other) == []
    assert srv.db.read_sync(lambda c: c.execute("SELECT status FROM submissions WHERE id = ?",
                                                (other,)).fetchone()[0]) == "in_review"


def test_a_delivery_is_signed_idempotent_and_carries_the_export_row(srv: AppServer, core: LocalCoreSystem) -> None:
    sid = file_one(srv, copies=3)
    move(srv, sid, "in_review", "accepted")
    wait_state(srv, sid, "delivered")
    (got,) = received_for(core, sid)
    assert got.verified and got.answered == 200 and got.path == "/madoguchi/inbox"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["idempotency-key"] == got.headers["webhook-id"] == f"{sid}:accepted"
    p = got.payload
    assert p["type"] == "application.handoff" and p["event"] == "accepted" and p["idempotency_key"] == f"{sid}:accepted"
    app = p["application"]
    assert (app["id"], app["procedure_id"], app["procedure_version"], app["department"], app["status"]) == (
        sid, "test-proc", "1.0.0", "shimin", "accepted")
    assert re.fullmatch(r"\d{4}-\d{6}", app["receipt_number"]) and app["received_at"] <= p["event_at"]
    # The row is the application's line of the CSV export: labels of the definition, the form's values.
    row = p["row"]
    assert row["id"] == sid and row["status"] == "accepted" and row["status_label"]
    assert row["procedure_title"] == "テスト申請" and row["通数"] == "3"
    assert row["氏名（氏）"] == "葛\U000e0100城" and row["氏名（名）"] == "美咲"
    # A tampered body, another secret or an old timestamp does not verify.
    assert not verify(core.secret, got.headers, got.body.replace(b'"3"', b'"4"'))
    assert not verify("whsec_" + "A" * 44, got.headers, got.body)
    assert not verify(core.secret, {**got.headers, "webhook-timestamp": str(int(time.time()) - 3600)}, got.body)


def _doc_verify() -> Any:
    """The verification snippet of docs/handoff.md, run as a core-system team would paste it."""
    text = (ROOT / "docs" / "handoff.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- verify-snippet -->\s*```python\n(.*?)```", text, re.S)
    assert code, "docs/handoff.md has no verification snippet"
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)
    return scope["verify_madoguchi"]


def test_the_documented_verification_snippet_accepts_a_real_delivery(srv: AppServer, core: LocalCoreSystem) -> None:
    sid = file_one(srv)
    move(srv, sid, "in_review", "accepted")
    wait_state(srv, sid, "delivered")
    (got,) = received_for(core, sid)
    check = _doc_verify()
    assert check(core.secret, got.headers, got.body) is True
    assert check(core.secret, got.headers, got.body + b" ") is False


def test_a_500_is_retried_and_the_core_system_processes_the_application_once(srv: AppServer,
                                                                            core: LocalCoreSystem) -> None:
    core.answers = [500, 503]
    sid = file_one(srv)
    move(srv, sid, "in_review", "accepted")
    rows = wait_state(srv, sid, "delivered")
    assert rows[0][2] == 3 and rows[0][3] is None  # two failures, then the 2xx; the last error cleared
    got = received_for(core, sid)
    assert [g.answered for g in got] == [500, 503, 200] and all(g.verified for g in got)
    assert len({g.body for g in got}) == 1  # every retry sends the first attempt's bytes
    assert sum(1 for k in core.processed if k == f"{sid}:accepted") == 1


def test_a_core_system_that_is_down_loses_nothing_across_a_restart(tmp_path: Path, logs: _Collect) -> None:
    core = LocalCoreSystem(default=503)
    try:
        s = start_server(tmp_path, **FAST)
        configure(s.settings.db_path, core, "--on", "received")
        sid = file_one(s)  # hands off at filing: received
        end = time.monotonic() + 15
        while not any(r.headers.get("webhook-id") == f"{sid}:received" for r in core.received):
            assert time.monotonic() < end
            time.sleep(0.05)
        s.stop()
        with sqlite3.connect(s.settings.db_path) as conn:  # the server is gone: the file holds the row
            assert conn.execute("SELECT state FROM handoff_outbox WHERE submission_id = ?",
                                (sid,)).fetchone() == ("pending",)
        core.default = 200  # the core system is back while Madoguchi was down
        s2 = start_server(tmp_path, **FAST)
        try:
            wait_state(s2, sid, "delivered")
            assert f"{sid}:received" in core.processed
            assert all(r.verified for r in core.received)
        finally:
            s2.stop()
    finally:
        core.close()


def test_a_later_change_does_not_alter_a_pending_delivery(tmp_path: Path, logs: _Collect) -> None:
    """The row holds the application as of the event (copied in the status change's transaction): answers
    changed and a status reached after it, before the first attempt, are not what the core system gets."""
    core = LocalCoreSystem()
    try:
        s = start_server(tmp_path, **FAST)
        configure(s.settings.db_path, core)
        sid = file_one(s, copies=3)
        move(s, sid, "in_review")
        s.stop()  # no sender: the change below and the later ones all happen before any attempt
        with sqlite3.connect(s.settings.db_path) as conn:
            move_status(conn, sid, "in_review", "accepted", actor="test")
            conn.execute("UPDATE submissions SET answers = json_set(answers, '$.copies', 5),"
                         " flags = json('[\"later\"]') WHERE id = ?", (sid,))
            move_status(conn, sid, "accepted", "completed", actor="test")
        s2 = start_server(tmp_path, **FAST)
        try:
            wait_state(s2, sid, "delivered")
            (got,) = received_for(core, sid)
            assert got.verified
            assert got.payload["row"]["通数"] == "3" and got.payload["row"]["status"] == "accepted"
            assert got.payload["application"]["flags"] == [] and got.payload["application"]["status"] == "accepted"
            assert tuple(s2.db.read_sync(lambda c: c.execute(
                "SELECT status, json_extract(answers, '$.copies') FROM submissions WHERE id = ?",
                (sid,)).fetchone())) == ("completed", 5)
        finally:
            s2.stop()
    finally:
        core.close()


def test_a_row_past_its_maximum_age_fails_is_shown_and_can_be_retried(tmp_path: Path, logs: _Collect) -> None:
    core = LocalCoreSystem(default=500)
    try:
        s = start_server(tmp_path, handoff_max_age_s=0.5, **FAST)
        db = s.settings.db_path
        configure(db, core)
        sid = file_one(s)
        move(s, sid, "in_review", "accepted")
        rows = wait_state(s, sid, "failed")
        assert rows[0][2] >= 1 and rows[0][3] == "HTTP 500"
        out = cli(db, "status")
        assert out.returncode == 1  # a failed row: the exit code tells a monitoring script
        assert re.search(r"^shimin\taccepted\t" + re.escape(core.url) + r"\tset\t0\t0\t1$", out.stdout, re.M), out.stdout
        (line,) = [ln for ln in out.stdout.splitlines() if sid in ln]
        row_id = line.split("\t")[0]
        assert "\tfailed\t" in line and line.endswith("HTTP 500") and "JST" in line
        core.default = 200
        r = cli(db, "retry", row_id)
        assert r.returncode == 0 and "pending" in r.stdout
        wait_state(s, sid, "delivered")
        assert f"{sid}:accepted" in core.processed
        assert cli(db, "status").returncode == 0
        assert "delivered already" in cli(db, "retry", row_id).stdout
        assert cli(db, "retry", "999999").returncode == 1
        audit = s.db.read_sync(lambda c: [r[0] for r in c.execute("SELECT action FROM audit_log")])
        assert "handoff.target_set" in audit and "handoff.retry" in audit
        s.stop()
    finally:
        core.close()


def test_the_cli_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert cli(db, "set", "shimin", "--url", "http://core.example.org/in").returncode == 2  # plain http off-host
    assert cli(db, "set", "shimin", "--url", "https://user:pw@core.example.org/in").returncode == 2
    assert cli(db, "set", "shimin", "--url", "https://core.example.org/in", "--on", "nope").returncode == 2
    bad = tmp_path / "secret.txt"
    bad.write_text("hunter2")
    r = cli(db, "set", "shimin", "--url", "https://core.example.org/in", "--secret-file", str(bad))
    assert r.returncode == 2 and "hunter2" not in r.stderr + r.stdout
    good = tmp_path / "good.txt"
    good.write_text("whsec_" + "QUJD" * 8)
    r = cli(db, "set", "shimin", "--url", "https://core.example.org/in", "--secret-file", str(good))
    assert r.returncode == 0 and "whsec_" not in r.stdout  # a secret given is not printed back
    r = cli(db, "set", "shimin", "--url", "https://core2.example.org/in")  # a change keeps the secret
    assert r.returncode == 0 and "whsec_" not in r.stdout
    assert cli(db, "remove", "shimin").returncode == 0 and cli(db, "remove", "shimin").returncode == 1


def test_secrets_are_never_in_logs_status_or_audit(srv: AppServer, core: LocalCoreSystem, logs: _Collect) -> None:
    # Failures are logged (department, attempt, error), never with the secret or the URL's answer body.
    core.answers = [500]
    sid = file_one(srv)
    move(srv, sid, "in_review", "accepted")
    wait_state(srv, sid, "delivered")
    assert any("not delivered" in line for line in logs.lines)
    key = core.secret.removeprefix("whsec_")
    assert not any(key in line for line in logs.lines)
    status = cli(srv.settings.db_path, "status", "--all")
    assert status.returncode == 0 and key not in status.stdout and "\tset\t" in status.stdout
    audit = srv.db.read_sync(lambda c: " ".join(str(r) for r in c.execute("SELECT details FROM audit_log")))
    assert key not in audit
    # Every staff role's HTTP requests: no route shows it either (the console export, the queue).
    admin: httpx.Client = srv.login("admin")
    assert key not in admin.get("/console/export?format=jsonl").text


def test_the_console_page_shows_admins_the_outbox_and_retries_a_failed_row(tmp_path: Path, logs: _Collect) -> None:
    core = LocalCoreSystem(default=500)
    try:
        s = start_server(tmp_path, handoff_max_age_s=0.5, **FAST)
        configure(s.settings.db_path, core)
        sid = file_one(s)
        move(s, sid, "in_review", "accepted")
        wait_state(s, sid, "failed")
        row_id = s.db.read_sync(lambda c: c.execute("SELECT id FROM handoff_outbox WHERE submission_id = ?",
                                                    (sid,)).fetchone()[0])
        receipt = s.db.read_sync(lambda c: c.execute("SELECT receipt_number FROM submissions WHERE id = ?",
                                                     (sid,)).fetchone()[0])
        admin = s.login("admin")
        page = admin.get("/console/handoff")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        html = page.text
        assert "市民課" in html and "受理" in html and core.url in html  # department and status as labels
        assert receipt in html and "失敗" in html and "HTTP 500" in html and "再送する" in html
        assert core.secret.removeprefix("whsec_") not in html
        assert "美咲" not in html  # no personal data on the page
        for role, dept in (("counter", None), ("reviewer", "shimin"), ("outreach", None), ("resident", None)):
            c = s.login(role, department=dept)
            assert c.get("/console/handoff").status_code == 403, role
            assert c.post(f"/console/handoff/{row_id}/retry", data={}).status_code in (403, 400), role
        assert s.db.read_sync(lambda c: c.execute("SELECT state FROM handoff_outbox WHERE id = ?",
                                                  (row_id,)).fetchone()[0]) == "failed"  # nobody else retried it
        core.default = 200
        r = admin.post(f"/console/handoff/{row_id}/retry", data={}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/handoff"
        wait_state(s, sid, "delivered")
        assert admin.post("/console/handoff/999999/retry", data={}).status_code == 404
        assert "未送信・失敗の送信はありません" in admin.get("/console/handoff").text
        audit = s.db.read_sync(lambda c: [tuple(r) for r in c.execute(
            "SELECT actor, details FROM audit_log WHERE action = 'handoff.retry'")])
        assert audit == [(admin.account_id, '{"via":"console","was":"failed"}')]  # type: ignore[attr-defined]
        s.stop()
    finally:
        core.close()
