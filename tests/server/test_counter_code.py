"""Counter codes (窓口で見せるコード) against the real server and a real SQLite file: make / replace / revoke /
expire, the rate limit, roles, loading into a visit with a pre-entry, one-click binding (and refusing to rebind),
the console panel, the audit rows."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import segno

from server.auth.ratelimit import AuthLimits, Rate
from server.counter_code import QR_MASK
from tests.server.conftest import make_proc, start_server
from testsupport.servers import AppServer

ALPHABET = re.compile(r"^[0-9A-HJKMNP-TV-Z]{6}$")  # Crockford base32: no I, L, O, U
ATTEMPTS = 5  # the clerks' per-account burst on this server


# Each test opens visits of the demo residents afresh (one open visit per resident: tests/server/conftest.py).
pytestmark = pytest.mark.usefixtures("no_open_visits")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("counter-code"), [make_proc()],
                     auth_limits=AuthLimits(per_account=Rate(ATTEMPTS, 3600.0)))
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


PRE = {"kind": "procedure", "id": "test-proc", "version": "1.0.0",
       "answers": {"applicant": {"family": "髙橋", "given": "健一"}, "copies": 2, "note": "午前中に来ます"}}


def _problem(r: httpx.Response, status: int, slug: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/" + slug), r.json()


def _visit(counter: httpx.Client, resident_id: str = "R0005") -> str:
    """The resident's open visit: a new one (201), or the one opened earlier in the test (200)."""
    r = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": resident_id})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


def _audit(srv: AppServer, action: str, subject: str | None = None) -> list[dict[str, Any]]:
    rows = srv.db.read_sync(lambda c: [tuple(r) for r in c.execute(
        "SELECT actor, subject, details FROM audit_log WHERE action = ? ORDER BY id", (action,))])
    return [{"actor": a, "subject": s, **json.loads(d or "{}")} for a, s, d in rows if subject in (None, s)]


def _matrix(size: int, path: str) -> list[list[int]]:
    m = [[0] * size for _ in range(size)]
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path):
        for i in range(int(n)):
            m[int(y)][int(x) + i] = 1
    return m


def test_make_replace_revoke(srv: AppServer) -> None:
    resident = srv.login("resident")
    counter = srv.login("counter")
    r = resident.post("/api/me/counter-code", json={"preentry": PRE})
    assert r.status_code == 201, r.text
    first = r.json()
    assert ALPHABET.match(first["code"]), first
    assert first["preentry"] == {"kind": "procedure", "id": "test-proc"}
    # The QR code's path draws exactly the code's QR matrix (what a counter's scanner reads back).
    qr = segno.make(first["code"], error="m", micro=False, mask=QR_MASK)
    assert first["qr"]["size"] == len(qr.matrix)
    assert _matrix(first["qr"]["size"], first["qr"]["path"]) == [[int(b) for b in row] for row in qr.matrix]
    import datetime as dt

    left = dt.datetime.fromisoformat(first["expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=29) < left <= dt.timedelta(minutes=30)
    # A new code replaces the old one: one live code per account.
    second = resident.post("/api/me/counter-code").json()
    assert second["code"] != first["code"] and second["preentry"] is None
    assert srv.db.read_sync(lambda c: c.execute("SELECT count(*) FROM counter_codes WHERE account_id = ?",
                                                (resident.account_id,)).fetchone()[0]) == 1  # type: ignore[attr-defined]
    _problem(counter.post(f"/api/visits/{_visit(counter)}/counter-code", json={"code": first["code"]}),
             404, "code-not-found")
    # Revoked: gone; revoking again is a repeat.
    assert resident.delete("/api/me/counter-code").status_code == 204
    assert resident.delete("/api/me/counter-code").status_code == 204
    _problem(counter.post(f"/api/visits/{_visit(counter)}/counter-code", json={"code": second["code"]}),
             404, "code-not-found")
    aid = resident.account_id  # type: ignore[attr-defined]
    assert len(_audit(srv, "counter_code.create", f"account:{aid}")) == 2
    assert len(_audit(srv, "counter_code.revoke", f"account:{aid}")) == 1
    # Every failed load is audited with its reason.
    assert [a["reason"] for a in _audit(srv, "visit.counter_code_failed") if a["actor"] == counter.account_id  # type: ignore[attr-defined]
            ] == ["code-not-found", "code-not-found"]


def test_expired_is_410_then_housekeeping_drops_it(srv: AppServer) -> None:
    import datetime as dt

    from server.storage.counter_codes import expire_codes_in

    resident = srv.login("resident")
    counter = srv.login("counter")
    code = resident.post("/api/me/counter-code", json={"preentry": PRE}).json()["code"]
    aid = resident.account_id  # type: ignore[attr-defined]
    now = dt.datetime.now(dt.UTC)
    ago = (now - dt.timedelta(minutes=5)).isoformat(timespec="seconds")
    srv.db.write_sync(lambda c: c.execute("UPDATE counter_codes SET expires_at = ? WHERE account_id = ?", (ago, aid)))
    _problem(counter.post(f"/api/visits/{_visit(counter)}/counter-code", json={"code": code}), 410, "code-expired")

    def row() -> Any:
        return srv.db.read_sync(lambda c: c.execute("SELECT preentry FROM counter_codes WHERE account_id = ?",
                                                    (aid,)).fetchone())

    # The maintenance tick: an expired code's pre-entry goes at once, the code (still 410) after a day.
    assert srv.db.write_sync(lambda c: expire_codes_in(c, now)) == 0
    assert row() is not None and row()[0] is None
    _problem(counter.post(f"/api/visits/{_visit(counter)}/counter-code", json={"code": code}), 410, "code-expired")
    assert srv.db.write_sync(lambda c: expire_codes_in(c, now + dt.timedelta(days=1))) == 1
    assert row() is None
    _problem(counter.post(f"/api/visits/{_visit(counter)}/counter-code", json={"code": code}), 404, "code-not-found")


def test_roles(srv: AppServer) -> None:
    resident = srv.login("resident")
    counter = srv.login("counter")
    reviewer = srv.login("reviewer", department="shimin")
    vid = _visit(counter)
    _problem(counter.post("/api/me/counter-code"), 403, "forbidden")
    _problem(reviewer.delete("/api/me/counter-code"), 403, "forbidden")
    _problem(resident.post(f"/api/visits/{vid}/counter-code", json={"code": "ABCDEF"}), 403, "forbidden")
    _problem(reviewer.post(f"/api/visits/{vid}/counter-code", json={"code": "ABCDEF"}), 403, "forbidden")
    _problem(reviewer.get(f"/api/visits/{vid}/preentry"), 403, "forbidden")
    _problem(resident.post(f"/api/visits/{vid}/bind-account"), 403, "forbidden")
    _problem(srv.client().get(f"/api/visits/{vid}/preentry"), 401, "unauthorized")


def test_bad_input(srv: AppServer) -> None:
    resident = srv.login("resident")
    counter = srv.login("counter")
    _problem(resident.post("/api/me/counter-code", json={"preentry": {**PRE, "id": "nope"}}), 422, "unknown-procedure")
    _problem(resident.post("/api/me/counter-code", json={"preentry": {**PRE, "kind": "life_event"}}),
             422, "unknown-life-event")
    _problem(resident.post("/api/me/counter-code", json={"preentry": {**PRE, "answers": {"note": "x" * 2001}}}),
             422, "preentry-value-too-long")
    big = {f"f{i}": "y" * 1900 for i in range(20)}
    _problem(resident.post("/api/me/counter-code", json={"preentry": {**PRE, "answers": big}}), 422, "preentry-too-large")
    _problem(resident.post("/api/me/counter-code", json={"preentry": {**PRE, "extra": 1}}), 400, "bad-request")
    _problem(resident.post("/api/me/counter-code", content=b"{not json", headers={"Content-Type": "application/json"}),
             400, "bad-request")
    _problem(counter.post(f"/api/visits/{_visit(counter)}/counter-code", json={"code": ""}), 400, "bad-request")
    _problem(counter.post("/api/visits/no-such-visit/counter-code", json={"code": "ABCDEF"}), 404, "not-found")


def test_rate_limit(srv: AppServer) -> None:
    counter = srv.login("counter")
    vid = _visit(counter)
    for _ in range(ATTEMPTS):
        _problem(counter.post(f"/api/visits/{vid}/counter-code", json={"code": "ZZZZZZ"}), 404, "code-not-found")
    r = counter.post(f"/api/visits/{vid}/counter-code", json={"code": "ZZZZZZ"})
    _problem(r, 429, "rate-limited")
    assert int(r.headers["Retry-After"]) > 0
    # Another clerk (their own bucket) is not held up by the first one's guesses.
    other = srv.login("counter")
    _problem(other.post(f"/api/visits/{vid}/counter-code", json={"code": "ZZZZZZ"}), 404, "code-not-found")


def test_load_preentry_and_bind(srv: AppServer) -> None:
    resident = srv.login("resident")
    counter = srv.login("counter")
    vid = _visit(counter)
    code = resident.post("/api/me/counter-code", json={"preentry": PRE}).json()["code"]
    # Typed as a clerk might read it: lower case, a space; O and I would be read as 0 and 1.
    typed = f"{code[:3].lower()} {code[3:]}"
    r = counter.post(f"/api/visits/{vid}/counter-code", json={"code": typed})
    assert r.status_code == 200, r.text
    v = r.json()
    aid = resident.account_id  # type: ignore[attr-defined]
    assert v["account"] == {"id": aid, "display_name": "テストresident", "resident_id": None}
    assert v["binding"] == "bindable" and v["preentry"]["answers"] == PRE["answers"]
    # Spent: the same code again is unknown.
    _problem(counter.post(f"/api/visits/{vid}/counter-code", json={"code": code}), 404, "code-not-found")
    assert srv.db.read_sync(lambda c: c.execute("SELECT count(*) FROM counter_codes WHERE account_id = ?",
                                                (aid,)).fetchone()[0]) == 0
    # What the interview reads; a staff read, audited.
    got = counter.get(f"/api/visits/{vid}/preentry").json()
    assert got["preentry"] == {**PRE, "procedures": {}, "questions": {}}
    loads = _audit(srv, "visit.counter_code_load", f"visit:{vid}")
    assert loads[-1]["account_id"] == aid and loads[-1]["preentry"] == {"kind": "procedure", "id": "test-proc"}
    assert _audit(srv, "visit.preentry_read", f"visit:{vid}")[-1]["via"] == "api"

    # The visit page shows it readably: titles and labels, never ids or sub-keys, and the one-click binding.
    page = counter.get(f"/console/visits/{vid}")
    assert page.status_code == 200
    html = page.text
    assert "事前入力：テスト申請" in html and "髙橋 健一" in html and "通数" in html and "午前中に来ます" in html
    assert "この住民の記録と結び付ける" in html and "本人確認書類" in html
    assert "test-proc" not in html and "applicant" not in html
    assert _audit(srv, "visit.preentry_read", f"visit:{vid}")[-1]["via"] == "console"

    # One click (the console form) binds the account to the visit's resident, audited with the visit.
    r = counter.post(f"/console/visits/{vid}/bind-account", data={"id_document": "運転免許証"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    bound = srv.db.read_sync(lambda c: c.execute("SELECT resident_id, bound_by FROM identity_bindings"
                                                 " WHERE account_id = ?", (aid,)).fetchone())
    assert tuple(bound) == ("R0005", counter.account_id)  # type: ignore[attr-defined]
    entry = _audit(srv, "identity.bind", f"account:{aid}")[-1]
    assert entry["visit_id"] == vid and entry["resident_id"] == "R0005" and entry["id_document"] == "運転免許証"
    assert counter.get(f"/api/visits/{vid}/preentry").json()["binding"] == "bound"
    assert "この方の住民記録と結び付いています" in counter.get(f"/console/visits/{vid}").text
    # Binding again (a second click, another clerk, the API) is a repeat: 200, nothing written, nothing audited.
    binding = srv.db.read_sync(lambda c: tuple(c.execute("SELECT * FROM identity_bindings WHERE account_id = ?",
                                                         (aid,)).fetchone()))
    binds = len(_audit(srv, "identity.bind", f"account:{aid}"))
    again = srv.login("counter").post(f"/api/visits/{vid}/bind-account", json={"id_document": "旅券"})
    assert again.status_code == 200 and again.json()["binding"] == "bound"
    assert counter.post(f"/console/visits/{vid}/bind-account", data={}, follow_redirects=False).status_code == 303
    assert counter.post(f"/api/accounts/{aid}/bind", json={"resident_id": "R0005"}).json()["bound_at"] == binding[3]
    assert srv.db.read_sync(lambda c: tuple(c.execute("SELECT * FROM identity_bindings WHERE account_id = ?",
                                                      (aid,)).fetchone())) == binding
    assert len(_audit(srv, "identity.bind", f"account:{aid}")) == binds
    # The resident now gets their registry profile.
    assert resident.get("/api/me/profile").json()["verified"] is True


def test_already_bound_elsewhere_is_refused(srv: AppServer) -> None:
    resident = srv.login("resident", resident_id="R0001")
    counter = srv.login("counter")
    vid = _visit(counter, "R0005")
    code = resident.post("/api/me/counter-code").json()["code"]
    v = counter.post(f"/api/visits/{vid}/counter-code", json={"code": code}).json()
    assert v["binding"] == "bound-elsewhere" and v["preentry"] is None
    _problem(counter.post(f"/api/visits/{vid}/bind-account"), 409, "already-bound")
    aid = resident.account_id  # type: ignore[attr-defined]
    assert srv.db.read_sync(lambda c: c.execute("SELECT resident_id FROM identity_bindings WHERE account_id = ?",
                                                (aid,)).fetchone()[0]) == "R0001"
    page = counter.post(f"/console/visits/{vid}/bind-account", data={})
    assert page.status_code == 409 and "別の住民記録に結び付いています" in page.text
    assert "この住民の記録と結び付ける" not in counter.get(f"/console/visits/{vid}").text


def test_bind_needs_a_loaded_code_and_a_registry_resident(srv: AppServer) -> None:
    counter = srv.login("counter")
    vid = _visit(counter)
    _problem(counter.post(f"/api/visits/{vid}/bind-account"), 409, "no-account-loaded")
    _problem(counter.get(f"/api/visits/{vid}/preentry"), 404, "not-found")
    new = str(uuid.uuid4())
    assert counter.post("/api/visits", json={"id": new, "person": {"family": "新井"}}).status_code == 201
    resident = srv.login("resident")
    code = resident.post("/api/me/counter-code").json()["code"]
    assert counter.post(f"/api/visits/{new}/counter-code", json={"code": code}).json()["binding"] == "no-resident"
    _problem(counter.post(f"/api/visits/{new}/bind-account"), 422, "visit-without-resident")


def test_console_refusals_in_japanese(srv: AppServer) -> None:
    counter = srv.login("counter")
    vid = _visit(counter)
    page = counter.get(f"/console/visits/{vid}")
    assert 'for="counter-code"' in page.text and "コードを読み込む" in page.text
    r = counter.post(f"/console/visits/{vid}/counter-code", data={"code": "QQQQQQ"})
    assert r.status_code == 404 and "そのコードは見つかりません" in r.text
    r = counter.post(f"/console/visits/{vid}/counter-code", data={"code": ""})
    assert r.status_code == 400 and "コードを入力してください" in r.text
    r = counter.post(f"/console/visits/{vid}/parts", data={})  # 加える with no application ticked
    assert r.status_code == 422, r.text
