"""Issue 11 point 2: every staff read of many residents or submissions is one audit entry naming them.

A real server (uvicorn on loopback, a SQLite file) with the demo registry; the CLI runs as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.server.conftest import answers, make_proc, start_server
from testsupport.servers import AppServer


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("auditreads"), [make_proc()])
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


def _last(srv: AppServer, actor: str, action: str) -> dict[str, Any]:
    rows = srv.db.read_sync(lambda c: [msgspec.json.decode(r[0]) for r in c.execute(
        "SELECT details FROM audit_log WHERE actor = ? AND action = ? ORDER BY seq", (actor, action))])
    assert rows, f"no {action} entry"
    return rows[-1]


def _count(srv: AppServer, action: str) -> int:
    return srv.db.read_sync(lambda c: c.execute(
        "SELECT count(*) FROM audit_log WHERE action = ?", (action,)).fetchone()[0])


def test_registry_search_names_the_residents_it_returned(srv: AppServer) -> None:
    counter = srv.login("counter")
    r = counter.get("/api/registry/search", params={"q": "山"})
    assert r.status_code == 200
    found = [x["id"] for x in r.json()]
    assert found
    entry = _last(srv, counter.account_id, "registry.search")  # type: ignore[attr-defined]
    assert entry["query"] == "山" and entry["count"] == len(found) and entry["ids"] == found


@pytest.mark.parametrize("q", ["", "   ", "\u3000"])
def test_registry_search_refuses_an_empty_query(srv: AppServer, q: str) -> None:
    counter = srv.login("counter")
    before = _count(srv, "registry.search")
    r = counter.get("/api/registry/search", params={"q": q})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/bad-request") and r.json()["errors"][0]["path"] == "q"
    assert _count(srv, "registry.search") == before


def test_console_bind_search_names_the_residents_and_ignores_blank(srv: AppServer) -> None:
    admin = srv.login("admin")
    before = _count(srv, "registry.search")
    assert admin.get("/console/bind", params={"q": "  "}).status_code == 200
    assert _count(srv, "registry.search") == before  # a blank box lists nobody and reads nothing
    page = admin.get("/console/bind", params={"q": "R000"})
    assert page.status_code == 200
    entry = _last(srv, admin.account_id, "registry.search")  # type: ignore[attr-defined]
    assert entry["via"] == "console" and entry["count"] == len(entry["ids"]) > 0
    assert all(rid in page.text for rid in entry["ids"])


def test_outreach_list_names_the_residents(srv: AppServer) -> None:
    outreach = srv.login("outreach")
    srv.db.write_sync(lambda c: c.executemany(
        "INSERT INTO outreach_assignments (account_id, resident_id, assigned_at) VALUES (?, ?, '2026-01-01')",
        [(outreach.account_id, "R0002"), (outreach.account_id, "R0001")]))  # type: ignore[attr-defined]
    r = outreach.get("/api/outreach/residents")
    assert r.status_code == 200 and [x["id"] for x in r.json()] == ["R0001", "R0002"]
    entry = _last(srv, outreach.account_id, "outreach.list")  # type: ignore[attr-defined]
    assert entry == {"count": 2, "ids": ["R0001", "R0002"]}


def test_cli_export_audits_the_ids_it_wrote(srv: AppServer) -> None:
    resident = srv.login("resident")
    sid = str(uuid.uuid4())
    assert resident.post("/api/submissions", json={"id": sid, "procedure_id": "test-proc",
                                                   "procedure_version": "1.0.0", "answers": answers()}
                         ).status_code == 201
    for fmt in ("jsonl", "csv"):
        out = subprocess.run([sys.executable, "-m", "madoguchi.cli", "submissions", "export", "--db",
                              srv.settings.db_path, "--format", fmt], capture_output=True, text=True, timeout=120,
                             cwd=Path(__file__).resolve().parents[2])
        assert out.returncode == 0, out.stderr
        if fmt == "jsonl":
            written = [json.loads(line)["id"] for line in out.stdout.splitlines()]
        else:
            written = [line.split(",")[0] for line in out.stdout.splitlines()[1:] if line]
        assert sid in written
        entry = _last(srv, "cli", "submissions.export")
        assert entry["format"] == fmt and entry["via"] == "cli"
        assert entry["count"] == len(written) and entry["ids"] == written
