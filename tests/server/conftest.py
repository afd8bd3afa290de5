"""Fixtures: the REAL server (uvicorn on a free loopback port, in a thread) on a tmp SQLite file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from procedure_definitions.model import Procedure
from server.settings import Settings
from testsupport.servers import AppServer, end_open_visits
from testsupport.webauthn import AuthServer

TEST_PROC = {
    "kind": "procedure", "id": "test-proc", "version": "1.0.0", "title": {"ja": "テスト申請"},
    "department": {"id": "shimin", "name": {"ja": "市民課"}},
    "sections": [{"id": "main", "title": {"ja": "申請"}, "fields": [
        {"id": "applicant", "type": "name", "label": {"ja": "氏名"}, "required": True},
        {"id": "copies", "type": "number", "label": {"ja": "通数"}, "required": True, "min": 1, "max": 10},
        {"id": "note", "type": "text", "label": {"ja": "備考"}},
        {"id": "doc", "type": "attachment", "label": {"ja": "添付"}},
    ]}],
}


def make_proc(version: str = "1.0.0", **changes: Any) -> Procedure:
    return msgspec.convert({**TEST_PROC, "version": version, **changes}, Procedure)


class Lib:
    def __init__(self, procs: list[Procedure]) -> None:
        self.procedures: dict[str, dict[str, Procedure]] = {}
        for p in procs:
            self.procedures.setdefault(p.id, {})[p.version] = p
        self.life_events: dict[str, Any] = {}
        self.problems: list[Any] = []


class FakeBuild:
    """Stands in for madoguchi.build's BuildResult: the server only reads ``.files``."""

    files: dict[str, bytes] = {  # noqa: RUF012
        "index.html": b"<!doctype html><title>PWA</title>",
        "sw.js": b"self.addEventListener('fetch', () => {});",
        "manifest.webmanifest": b"{}",
        "assets/app.0123456789.js": b"export {};",
        "procedures/test-proc/1.0.0.abcdef0123.json": b"{}",
        "postal/0123abcd/100.json": b"{}",
    }


def start_server(tmp: Path, procs: list[Procedure] | None = None, **settings: Any) -> AppServer:
    settings.setdefault("build_result", FakeBuild())
    s = Settings(db_path=str(tmp / "madoguchi.db"), origin="http://localhost:8000", **settings)
    return AppServer.create(s, library=Lib(procs or [make_proc()]))


def submission_flags(srv: AppServer, sid: str) -> list[str]:
    """The flags stored with a submission (``prefill_corrected``, ...), read from the SQLite file."""
    raw = srv.db.read_sync(lambda c: c.execute("SELECT flags FROM submissions WHERE id = ?", (sid,)).fetchone()[0])
    flags: list[str] = msgspec.json.decode(raw)
    return flags


def start_real_library(tmp: Path, *, residents: bool = False) -> AppServer:
    """The real app with the REAL shipped library (procedure_definitions/library) on ``tmp/m.db``;
    ``residents``: the demo registry too (server.demo.DEMO_RESIDENTS)."""
    from procedure_definitions.library import load_library

    srv = AppServer.create(Settings(db_path=str(tmp / "m.db"), origin="http://localhost:8000",
                                    build_result=FakeBuild()), library=load_library())
    if residents:
        from server.demo import DEMO_RESIDENTS
        from server.registry import SQLiteRegistry

        srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    return srv


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp = tmp_path_factory.mktemp("srv")
    # A version published earlier that the current library no longer ships: it becomes "retired".
    from server.catalog import publish_library
    from server.storage.db import Database
    from server.storage.schema import migrate

    db = Database.open(tmp / "madoguchi.db")
    db.write_sync(migrate)
    db.write_sync(lambda c: publish_library(c, Lib([make_proc("0.9.0"), make_proc()])))
    db.close()
    srv = start_server(tmp, max_attachment_bytes=64 * 1024)
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield srv
    srv.stop()


def count_reads(db: Any) -> list[int]:
    """From now on every ``await db.read(...)`` appends to the list returned: a test of how many reads a page
    or a view costs (one per page, not one per row)."""
    reads: list[int] = []
    real_read = db.read

    async def counted(fn: Any) -> Any:
        reads.append(1)
        return await real_read(fn)

    db.read = counted
    return reads


def answers(**extra: Any) -> dict[str, Any]:
    return {"applicant": {"family": "葛\U000e0100城", "given": "美咲"}, "copies": 1, **extra}


@contextlib.contextmanager
def auth_server(tmp_path_factory: pytest.TempPathFactory, name: str, **settings: Any) -> Iterator[AuthServer]:
    """The real app on a new file ``<name>.db``, as the auth tests see it (``settings``: e.g. the proxy
    header); one module-scoped server per test module."""
    db_path = str(tmp_path_factory.mktemp(name) / f"{name}.db")
    with AppServer.on_file(db_path, **settings) as srv:
        yield AuthServer(srv.app, srv.url, db_path)


@pytest.fixture
def no_open_visits(srv: AppServer) -> Iterator[None]:
    """Each test starts with no open visit (``testsupport.servers.end_open_visits``): use with a module's ``srv``
    fixture (``pytestmark = pytest.mark.usefixtures("no_open_visits")``)."""
    srv.db.write_sync(end_open_visits)
    yield
