"""POST /api/telemetry/sessions: drop-off telemetry per field, upserted into form_sessions (real server, real
SQLite file)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import TEST_PROC, make_proc, start_server
from testsupport.servers import AppServer

GROUP = {"id": "kids", "type": "group", "label": {"ja": "子"}, "fields": [
    {"id": "kid_name", "type": "text", "label": {"ja": "子の氏名"}}]}
URL = "/api/telemetry/sessions"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    main: dict[str, Any] = TEST_PROC["sections"][0]  # type: ignore[index]
    sections = [{**main, "fields": [*main["fields"], GROUP]}]
    s = start_server(Path(tmp_path_factory.mktemp("fs")), [make_proc(sections=sections),
                                                            make_proc("1.1.0", sections=sections)])
    yield s
    s.stop()


def body(**changes: Any) -> dict[str, Any]:
    return {"session": uuid.uuid4().hex, "procedure_id": "test-proc", "procedure_version": "1.0.0",
            "channel": "resident", "started_at": "2026-12-01T01:00:00Z", "ended_at": "2026-12-01T01:01:30Z",
            "outcome": "left", "viewed": ["applicant", "copies", "note"], "last_field": "copies",
            "errors": {"copies": 2}, **changes}


def row(srv: AppServer, session: str) -> dict[str, Any] | None:
    def read(c: Any) -> Any:
        c.row_factory = None
        cur = c.execute("SELECT * FROM form_sessions WHERE session = ?", (session,))
        r = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], r, strict=True)) if r else None
    found: dict[str, Any] | None = srv.db.read_sync(read)
    return found


def count(srv: AppServer) -> int:
    return int(srv.db.read_sync(lambda c: c.execute("SELECT count(*) FROM form_sessions").fetchone()[0]))


def test_a_session_is_stored_without_a_csrf_token_or_an_account(srv: AppServer) -> None:
    b = body(viewed=["applicant", "copies", "applicant", "kids", "kids.kid_name"])
    # A plain client: no cookie, no X-CSRF-Token (navigator.sendBeacon cannot set one), as the app sends it.
    r = srv.client().post(URL, content=json.dumps(b), headers={"Content-Type": "application/json",
                                                                "Origin": srv.settings.origin})
    assert r.status_code == 202, r.text
    assert r.json() == {"stored": True}
    got = row(srv, b["session"])
    assert got is not None
    assert json.loads(got["viewed"]) == ["applicant", "copies", "kids", "kids.kid_name"]  # first-shown order, once
    assert (got["outcome"], got["last_field"], got["channel"]) == ("left", "copies", "resident")
    assert json.loads(got["errors"]) == {"copies": 2}
    assert got["duration_s"] == 90
    # Nothing about who sent it: the table has no column for an account or an address.
    assert not {"account_id", "ip", "user_agent"} & set(got)


def test_another_origin_is_still_refused(srv: AppServer) -> None:
    r = srv.client().post(URL, json=body(), headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["type"].endswith("/csrf")


def test_upsert_by_session_and_submitted_stays_submitted(srv: AppServer) -> None:
    c = srv.login("counter")
    b = body(channel="staff")
    assert c.post(URL, json=b).status_code == 202
    later = {**b, "viewed": [*b["viewed"], "doc"], "outcome": "submitted", "last_field": "doc",
             "ended_at": "2026-12-01T01:05:00Z", "errors": {}}
    n = count(srv)
    assert c.post(URL, json=later).status_code == 202
    assert count(srv) == n  # the same row
    got = row(srv, b["session"])
    assert got is not None
    assert json.loads(got["viewed"])[-1] == "doc"
    assert (got["outcome"], got["last_field"], got["duration_s"]) == ("submitted", None, 300)
    # The page left after sending, or an older 'left' kept offline arriving late: it changes nothing of it.
    stale = {**b, "outcome": "left", "ended_at": "2026-12-01T02:00:00Z", "viewed": b["viewed"][:1],
             "errors": {b["viewed"][0]: 3}, "channel": "resident"}
    assert c.post(URL, json=stale).status_code == 202
    got = row(srv, b["session"])
    assert got is not None and (got["outcome"], got["last_field"], got["duration_s"]) == ("submitted", None, 300)
    assert json.loads(got["viewed"])[-1] == "doc" and json.loads(got["errors"]) == {}
    assert (got["channel"], got["ended_at"]) == ("staff", "2026-12-01T01:05:00+00:00")
    # The same session id for another version: refused, the row unchanged.
    r = c.post(URL, json={**b, "procedure_version": "1.1.0"})
    assert r.status_code == 409 and r.json()["type"].endswith("/session-conflict"), r.text
    assert row(srv, b["session"])["procedure_version"] == "1.0.0"  # type: ignore[index]


def test_exits_and_errors_on_fields_not_viewed_are_dropped(srv: AppServer) -> None:
    # Not refused: the rest of the session is sound. Dropped so no field gets an exit or error it never showed.
    b = body(viewed=["applicant"], last_field="copies", errors={"copies": 3, "applicant": 1})
    c = srv.login("counter")
    assert c.post(URL, json=b).status_code == 202
    got = row(srv, b["session"])
    assert got is not None and got["outcome"] == "left"
    assert got["last_field"] is None and json.loads(got["errors"]) == {"applicant": 1}
    ok = body(viewed=["applicant", "copies"], last_field="copies")
    assert c.post(URL, json=ok).status_code == 202
    assert (row(srv, ok["session"]) or {})["last_field"] == "copies"


def test_unknown_version_is_422(srv: AppServer) -> None:
    for pid, version in (("test-proc", "7.0.0"), ("no-such", "1.0.0")):
        r = srv.client().post(URL, json=body(procedure_id=pid, procedure_version=version))
        assert r.status_code == 422 and r.json()["type"].endswith("/unknown-procedure"), r.text
        assert r.headers["content-type"].startswith("application/problem+json")


LIMITS: list[tuple[str, dict[str, Any]]] = [
    ("session", {"session": "short"}),
    ("session", {"session": "x" * 65}),
    ("session", {"session": "has space in it"}),
    ("session", {"session": "日本語のセッション番号"}),
    ("viewed", {"viewed": ["applicant"] * 501}),
    ("viewed", {"viewed": ["a" * 201]}),
    ("viewed", {"viewed": [""]}),
    ("errors", {"errors": {f"p{i}": 1 for i in range(501)}}),
    ("errors", {"errors": {"copies": 10_001}}),
    ("errors", {"errors": {"copies": -1}}),
    ("errors", {"errors": {"copies": "1"}}),
    ("last_field", {"last_field": "a" * 201}),
    ("channel", {"channel": "kiosk"}),
    ("outcome", {"outcome": "abandoned"}),
    ("started_at", {"started_at": "x" * 41}),
    ("name", {"name": "山田太郎"}),  # unknown members: no answers ride along
    ("session", {"session": None}),
]


@pytest.mark.parametrize(("member", "change"), LIMITS)
def test_every_limit_is_refused_and_nothing_stored(srv: AppServer, member: str, change: dict[str, Any]) -> None:
    b = body(**change)
    r = srv.client().post(URL, json=b)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert row(srv, str(b["session"])) is None


@pytest.mark.parametrize(("change", "path"), [
    ({"viewed": ["applicant", "山田太郎"]}, "viewed[1]"),
    ({"last_field": "kid_name"}, "last_field"),  # a group's field is kids.kid_name
    ({"errors": {"no_such": 1}}, "errors.no_such"),
    ({"started_at": "yesterday"}, "started_at"),
    ({"ended_at": "2026-13-45T00:00:00Z"}, "ended_at"),
])
def test_paths_must_be_fields_and_timestamps_iso(srv: AppServer, change: dict[str, Any], path: str) -> None:
    b = body(**change)
    r = srv.client().post(URL, json=b)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["path"] == path
    assert row(srv, b["session"]) is None


def test_the_largest_allowed_session_is_stored(srv: AppServer) -> None:
    b = body(session="A" * 64, viewed=["applicant"] * 500, errors={"copies": 10_000}, channel="staff",
             outcome="submitted", started_at=None, ended_at=None)
    assert srv.client().post(URL, json=b).status_code == 202
    got = row(srv, b["session"])
    assert got is not None and got["last_field"] is None and got["duration_s"] is None


_json = st.recursive(st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=30),
                     lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                   max_size=5), max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    _json,
    st.fixed_dictionaries({}, optional={k: _json for k in body()}),
    st.builds(lambda k, v: body(**{k: v}), st.sampled_from(sorted(body())), _json),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
))
def test_garbage_is_never_a_500(srv: AppServer, junk: Any) -> None:
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        content = junk if isinstance(junk, str) else json.dumps(junk)
        r = c.post(URL, content=content.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code in (202, 400, 409, 422), (junk, r.status_code, r.text)
    if r.status_code != 202:
        assert r.headers["content-type"].startswith("application/problem+json")
