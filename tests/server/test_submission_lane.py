"""The fast lane for ``POST /api/submissions`` answers exactly what Litestar's route answers.

One real server (uvicorn on loopback, a SQLite file); between requests the test switches the app's
request handler between the lane and Litestar's own pipeline and compares status, headers and body.
A counter on Litestar's pipeline proves which path answered, so the comparison cannot pass vacuously.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.submission_lane import install_submission_lane
from tests.server.conftest import answers, make_proc, start_server
from testsupport.servers import AppServer

# Headers that legitimately differ between two answers (uvicorn's clock, per-response sizes).
_VOLATILE = {"date", "content-length"}


class Switch:
    """Chooses, per request, between the lane and Litestar's pipeline, and counts pipeline calls."""

    def __init__(self, srv: AppServer) -> None:
        self.app = srv.app
        self.pipeline_calls = 0
        inner = self.app.asgi_handler

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.pipeline_calls += 1
            await inner(scope, receive, send)

        self.pipeline = counted
        self.app.asgi_handler = counted  # the lane hands over to the counted pipeline
        install_submission_lane(self.app, srv.app.state.services, max_body=srv.settings.max_json_bytes)
        self.lane = self.app.asgi_handler
        self.app.asgi_handler = self.pipeline

    def use(self, lane: bool) -> None:
        self.app.asgi_handler = self.lane if lane else self.pipeline


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp: Path = tmp_path_factory.mktemp("lane")
    # The lane is installed by hand below, in front of a counted pipeline.
    s = start_server(tmp, [make_proc(), make_proc("2.0.0", filers=["staff"])], submission_lane=False,
                     max_json_bytes=64 * 1024)
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def switch(srv: AppServer) -> Switch:
    return Switch(srv)


def _send(switch: Switch, lane: bool, client: httpx.Client, **kw: Any) -> tuple[httpx.Response, bool]:
    """The response, and whether Litestar's pipeline answered it."""
    switch.use(lane)
    before = switch.pipeline_calls
    r = client.post("/api/submissions", **kw)
    return r, switch.pipeline_calls > before


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def _headers(r: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in r.headers.multi_items() if k not in _VOLATILE)


def _filing(**kw: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "procedure_id": "test-proc", "procedure_version": "1.0.0",
            "answers": answers(), **kw}


def _same_answer(switch: Switch, client: httpx.Client, *, lane_answers: bool, **kw: Any) -> httpx.Response:
    via_lane, lane_used_pipeline = _send(switch, True, client, **kw)
    via_pipeline, used = _send(switch, False, client, **kw)
    assert used
    assert lane_used_pipeline is not lane_answers
    assert via_lane.status_code == via_pipeline.status_code
    assert _headers(via_lane) == _headers(via_pipeline)
    assert via_lane.content == via_pipeline.content
    return via_lane


def test_a_new_filing_and_its_retry_look_the_same_on_both_paths(srv: AppServer, switch: Switch) -> None:
    c = srv.login("resident")
    for first_on_lane in (True, False):
        body = _filing()
        first, used = _send(switch, first_on_lane, c, json=body)
        assert first.status_code == 201
        assert used is not first_on_lane
        retry, used = _send(switch, not first_on_lane, c, json=body)
        assert retry.status_code == 200
        assert used is first_on_lane
        # The retry through the other path returns the very receipt the first one created.
        assert retry.content == first.content
        assert _headers(retry) == _headers(first)
        assert "default-src 'self'" in first.headers["content-security-policy"]
        assert first.json()["id"] == body["id"]
        assert first.headers["content-type"] == "application/json"
    # Same key, different body: refused the same way, nothing written on either path.
    body = _filing()
    assert _send(switch, True, c, json=body)[0].status_code == 201
    r = _same_answer(switch, c, lane_answers=True, json={**body, "answers": answers(copies=2)})
    assert r.status_code == 422
    assert r.json()["type"].endswith("/idempotency-key-reused")


@pytest.mark.parametrize("case", ["invalid-answers", "unknown-version", "resident-may-not-file", "not-yours"])
def test_refusals_of_the_filing_core_are_the_same(srv: AppServer, switch: Switch, case: str) -> None:
    c = srv.login("resident")
    body = {
        "invalid-answers": _filing(answers=answers(copies=99)),
        "unknown-version": _filing(procedure_version="9.9.9"),
        "resident-may-not-file": _filing(procedure_version="2.0.0"),
        "not-yours": _filing(on_behalf_of="R0001"),
    }[case]
    r = _same_answer(switch, c, lane_answers=True, json=body)
    assert r.status_code in (403, 422)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_requests_the_lane_does_not_take_are_answered_by_litestar(srv: AppServer, switch: Switch) -> None:
    resident = srv.login("resident")
    reviewer = srv.login("reviewer", department="shimin")
    anonymous = srv.client()
    no_csrf = srv.login("resident")
    no_csrf.headers.pop("X-CSRF-Token")
    raw = {"headers": {"Content-Type": "application/json"}}
    cases: list[tuple[httpx.Client, dict[str, Any], int]] = [
        (anonymous, {"json": _filing()}, 403),  # no CSRF cookie either
        (no_csrf, {"json": _filing()}, 403),
        (reviewer, {"json": _filing()}, 403),
        (resident, {"content": b'{"id": ', **raw}, 400),
        (resident, {"json": {**_filing(), "extra": 1}}, 400),
        (resident, {"json": {**_filing(), "id": "not-a-uuid"}}, 400),
        (resident, {"content": b"x" * (65 * 1024), **raw}, 413),
        (resident, {"content": b"id=1", "headers": {"Content-Type": "text/plain"}}, 400),
        (resident, {"json": _filing(), "headers": {"Origin": "https://evil.example"}}, 403),
        # Beyond the input limits (server/input_limits.py): the lane would decode these, the app refuses them.
        (resident, {"json": _filing(answers=answers(note=_nested(65)))}, 400),
        (resident, {"json": _filing(answers=answers(copies=2**53))}, 400),
    ]
    for client, kw, status in cases:
        r = _same_answer(switch, client, lane_answers=False, **kw)
        assert r.status_code == status, (kw, r.text)
    # Signed in but with a session that has ended: the same 401 and the same cookie clearing.
    gone = srv.login("resident")
    gone.cookies.set("madoguchi_session", "x" * 40)
    r = _same_answer(switch, gone, lane_answers=False, json=_filing())
    assert r.status_code == 401
    assert "madoguchi_session=;" in r.headers["set-cookie"]


@pytest.mark.parametrize("number", [b"1E16", b"9007199254740992.0", b"-9.1e15", b"9007199254740991.5", b"1e400"])
def test_a_number_beyond_the_safe_range_in_float_syntax_is_refused_on_both_paths(
        srv: AppServer, switch: Switch, number: bytes) -> None:
    """Beyond ±(2^53 − 1) whatever the syntax: the app refuses it at the edge, and the lane leaves it to the app."""
    c = srv.login("resident")
    marker = 424242424242
    body = json.dumps(_filing(answers=answers(copies=marker))).encode().replace(str(marker).encode(), number)
    r = _same_answer(switch, c, lane_answers=False, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["type"].endswith("/integer-out-of-range"), r.text
    # Within the range in the same syntax: the filing core answers (here: not a whole number of copies).
    inside = body.replace(number, b"9.007199254740991e15")
    r = _same_answer(switch, c, lane_answers=True, content=inside, headers={"Content-Type": "application/json"})
    assert "integer-out-of-range" not in r.json()["type"], r.text


def test_staff_filing_on_behalf_is_audited_and_telemetry_kept_through_the_lane(
        srv: AppServer, switch: Switch) -> None:
    counter = srv.login("counter")
    body = _filing(procedure_version="2.0.0", on_behalf_of="R0001",
                   telemetry={"procedure_id": "test-proc", "procedure_version": "2.0.0", "fields_typed": 3})
    r, used = _send(switch, True, counter, json=body)
    assert r.status_code == 201 and not used
    audited = srv.db.read_sync(lambda c: c.execute(
        "SELECT actor, details FROM audit_log WHERE action = 'submission.file_on_behalf' AND subject = ?",
        (f"submission:{body['id']}",)).fetchall())
    assert [a for a, _ in audited] == [counter.account_id]  # type: ignore[attr-defined]
    typed = srv.db.read_sync(lambda c: c.execute(
        "SELECT count(*) FROM telemetry WHERE fields_typed = 3").fetchone()[0])
    assert typed == 1
    # The retry through Litestar's pipeline adds neither a second audit entry nor telemetry.
    assert _send(switch, False, counter, json=body)[0].status_code == 200
    assert srv.db.read_sync(lambda c: c.execute(
        "SELECT count(*) FROM audit_log WHERE subject = ?", (f"submission:{body['id']}",)).fetchone()[0]) == 1


def _small_app(tmp: Path, **extra: Any) -> Any:
    """An app with the real auth, input limits and submission route, plus ``extra`` Litestar options."""
    from litestar import Litestar

    from server import input_limits
    from server.auth import AuthConfig, install
    from server.problems import exception_handlers
    from server.storage.db import Database
    from server.submissions import submissions_router

    db = Database.open(tmp / "fence.db")
    app = Litestar(route_handlers=[submissions_router], exception_handlers=exception_handlers,
                   on_app_init=[install(AuthConfig(db=db, origin="http://localhost:8000")), input_limits.on_app_init],
                   request_max_body_size=64 * 1024, **extra)
    db.close()
    return app


def test_the_fence_passes_the_real_app_and_refuses_anything_the_lane_would_skip(tmp_path: Path) -> None:
    from litestar.middleware import DefineMiddleware

    from server.submission_lane import fence

    assert fence(_small_app(tmp_path), max_body=64 * 1024) == []

    def audit_everything(app: Any) -> Any:
        return app

    async def before(request: Any) -> None:
        return None

    skipped = fence(_small_app(tmp_path, middleware=[DefineMiddleware(audit_everything)]), max_body=64 * 1024)
    assert len(skipped) == 1 and "audit_everything" in skipped[0]
    assert any("before_request" in s for s in fence(_small_app(tmp_path, before_request=before), max_body=64 * 1024))
    assert any("body limit" in s for s in fence(_small_app(tmp_path), max_body=1024))
    with pytest.raises(RuntimeError, match="would skip"):
        install_submission_lane(_small_app(tmp_path, middleware=[audit_everything]), None,  # type: ignore[arg-type]
                                max_body=64 * 1024)


def test_a_hand_over_is_logged_with_its_reason_and_nothing_else(srv: AppServer, switch: Switch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    c = srv.login("resident")
    caplog.set_level(logging.DEBUG, logger="madoguchi.submission_lane")
    r, used = _send(switch, True, c, content=b"id=1", headers={"Content-Type": "text/plain"})
    assert used and r.status_code == 400
    def lines() -> list[str]:
        return [rec.getMessage() for rec in caplog.records if rec.name == "madoguchi.submission_lane"]

    assert lines() == ["POST /api/submissions to the full pipeline: not a JSON body"]
    r, used = _send(switch, True, c, json={**_filing(), "extra": 1})
    assert used and r.status_code == 400
    assert lines()[-1].endswith("body is not a SubmissionIn")
    session = c.cookies["madoguchi_session"]
    assert not any(session in rec.getMessage() or "test-proc" in rec.getMessage() for rec in caplog.records)


def test_a_fault_in_the_filing_core_is_answered_once_never_replayed(
        srv: AppServer, switch: Switch, monkeypatch: pytest.MonkeyPatch) -> None:
    import server.submission_lane as lane_module

    calls: list[str] = []

    async def broken(svc: Any, user: Any, data: Any) -> Any:
        calls.append(str(data.id))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(lane_module, "file_submission", broken)
    r, used = _send(switch, True, srv.login("resident"), json=_filing())
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert not used, "the pipeline would have validated the same answers a second time"
    assert len(calls) == 1
