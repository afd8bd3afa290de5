"""Bounded schemathesis fuzz of every JSON endpoint in /schema/openapi.json against the real server.

Each generated request (valid and invalid bodies, parameters and headers) is sent three times: anonymous,
as a resident bound to a registry record, and as an admin (who passes every role guard, so handlers and
body validation are reached). Requirement: never a 5xx, and every 4xx is an RFC 9457 problem document.

Bounded for CI: ``FUZZ_EXAMPLES`` examples per operation (default 7: about 200 examples over the ~30
operations, about 600 requests), derandomized so a failure reproduces. Raise it locally for a deeper run:
``MADOGUCHI_FUZZ_EXAMPLES=200 python3 -m pytest tests/server/test_fuzz_openapi.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from procedure_definitions.library import load_library
from server.demo import DEMO_RESIDENTS
from server.registry import SQLiteRegistry
from server.settings import Settings
from tests.server.conftest import FakeBuild
from testsupport.servers import AppServer
from testsupport.sessions import login_as

FUZZ_EXAMPLES = int(os.environ.get("MADOGUCHI_FUZZ_EXAMPLES", "7"))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    srv = AppServer.create(Settings(db_path=str(tmp / "fuzz.db"), origin="http://localhost:8000",
                                 build_result=FakeBuild(), max_attachment_bytes=64 * 1024), library=load_library())
    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server: AppServer) -> Any:
    return schemathesis.openapi.from_url(fuzz_server.url + "/schema/openapi.json")


class Sessions:
    """One long-lived session per identity; sign-out endpoints get a throwaway session of their own."""

    def __init__(self, srv: AppServer) -> None:
        self.srv = srv
        self.cache: dict[str, dict[str, Any]] = {}

    def make(self, who: str) -> dict[str, Any]:
        if who == "resident":
            return login_as(self.srv.db, "resident", resident_id="R0001")
        return login_as(self.srv.db, "admin")

    def get(self, who: str, *, throwaway: bool = False) -> dict[str, Any]:
        if throwaway:
            return self.make(who)
        if who not in self.cache:
            self.cache[who] = self.make(who)
        return self.cache[who]


@pytest.fixture(scope="module")
def sessions(fuzz_server: AppServer) -> Sessions:
    return Sessions(fuzz_server)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, sessions: Sessions) -> None:
    ends_session = case.path.startswith("/auth/logout")
    for who in ("anonymous", "resident", "admin"):
        if who == "anonymous":
            # A CSRF pair without a session, so state-changing requests reach the auth guards.
            creds: dict[str, Any] = {"cookies": {"madoguchi_csrf": "fuzz-csrf"},
                                     "headers": {"X-CSRF-Token": "fuzz-csrf"}}
        else:
            creds = sessions.get(who, throwaway=ends_session)
        headers = {**(case.headers or {}), **creds["headers"]}
        response = case.call(headers=headers, cookies=creds["cookies"], timeout=30)
        where = f"{who}: {case.method} {case.formatted_path} -> {response.status_code}\n{response.text[:500]}"
        assert response.status_code < 500, where
        if 400 <= response.status_code < 500:
            content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis: name -> [values]
            assert content_type.startswith("application/problem+json"), where
