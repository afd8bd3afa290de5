"""Visits over HTTP against the real server and a real SQLite file: open, attach, take/complete/hand back,
close, the board, 403s, the 409 race and the audit rows."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.server.conftest import answers, count_reads, make_proc, start_server
from testsupport.servers import AppServer

KODOMO = {"id": "kodomo", "name": {"ja": "こども課"}}


# Each test opens visits of the demo residents afresh (one open visit per resident: tests/server/conftest.py).
pytestmark = pytest.mark.usefixtures("no_open_visits")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("visits"),
                     [make_proc(), make_proc(id="kodomo-proc", title={"ja": "児童手当"}, department=KODOMO)])
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


def _file(counter: httpx.Client, procedure: str, resident: str = "R0005") -> str:
    r = counter.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": procedure,
                                               "procedure_version": "1.0.0", "answers": answers(),
                                               "on_behalf_of": resident})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _open(counter: httpx.Client, **body: Any) -> dict[str, Any]:
    r = counter.post("/api/visits", json={"id": str(uuid.uuid4()), **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _audit(srv: AppServer, actor: str, action: str) -> list[tuple[Any, ...]]:
    return srv.db.read_sync(lambda c: [tuple(r) for r in c.execute(
        "SELECT subject, details FROM audit_log WHERE actor = ? AND action = ? ORDER BY id", (actor, action))])


def _problem(r: httpx.Response, status: int, slug: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/" + slug), r.json()


def test_a_whole_visit_two_departments(srv: AppServer) -> None:
    counter = srv.login("counter")
    shimin = srv.login("reviewer", department="shimin")
    kodomo = srv.login("reviewer", department="kodomo")
    vid = str(uuid.uuid4())
    body = {"id": vid, "resident_id": "R0005", "booth": "3番"}
    first = counter.post("/api/visits", json=body)
    assert first.status_code == 201, first.text
    v = first.json()
    assert v["status"] == "open" and v["number"].startswith("A-") and v["resident_name"] == {
        "family": "髙橋", "given": "健一"}
    assert [e["step"] for e in v["events"]] == ["reception"]
    # A double click: the same id and body answer the same visit, nothing opened twice.
    again = counter.post("/api/visits", json=body)
    assert again.status_code == 200 and again.json()["number"] == v["number"]
    _problem(counter.post("/api/visits", json={**body, "booth": "4番"}), 409, "idempotency-conflict")

    s1, s2 = _file(counter, "test-proc"), _file(counter, "kodomo-proc")
    r = counter.post(f"/api/visits/{vid}/parts", json={"submission_ids": [s1, s2]})
    assert r.status_code == 200, r.text
    parts = {p["department"]: p for p in r.json()["parts"]}
    assert {d: (p["state"], p["submissions"]) for d, p in parts.items()} == {
        "shimin": ("waiting", [s1]), "kodomo": ("waiting", [s2])}
    # Attaching again is a repeat; closing with parts waiting is refused.
    assert counter.post(f"/api/visits/{vid}/parts", json={"submission_ids": [s1]}).status_code == 200
    _problem(counter.post(f"/api/visits/{vid}/close"), 409, "parts-not-done")

    # A department's own view: the visits waiting for it.
    waiting = shimin.get("/api/visits", params={"status": "open", "waiting_for": "shimin"}).json()
    assert vid in [w["id"] for w in waiting]
    # Each department takes and completes its own part; not the other's.
    _problem(kodomo.post(f"/api/visits/{vid}/parts/shimin/take"), 403, "forbidden")
    r = shimin.post(f"/api/visits/{vid}/parts/shimin/take", json={})
    assert r.status_code == 200
    p = {p["department"]: p for p in r.json()["parts"]}["shimin"]
    assert p["state"] == "in_progress" and p["booth"] == "3番" and p["taken_by"] == shimin.account_id  # type: ignore[attr-defined]
    assert shimin.post(f"/api/visits/{vid}/parts/shimin/take").status_code == 200  # twice by the same: fine
    assert shimin.post(f"/api/visits/{vid}/parts/shimin/steps", json={"step": "confirm"}).status_code == 200
    _problem(shimin.post(f"/api/visits/{vid}/parts/shimin/steps", json={"step": "stamp"}), 400, "bad-request")
    assert shimin.post(f"/api/visits/{vid}/parts/shimin/complete").status_code == 200
    assert kodomo.post(f"/api/visits/{vid}/parts/kodomo/take", json={"booth": "5番"}).status_code == 200
    assert kodomo.post(f"/api/visits/{vid}/parts/kodomo/release").status_code == 200
    assert kodomo.post(f"/api/visits/{vid}/parts/kodomo/take").status_code == 200
    done = kodomo.post(f"/api/visits/{vid}/parts/kodomo/complete")
    assert {p["state"] for p in done.json()["parts"]} == {"done"}
    # The last part done closes the visit (by that clerk); 「来庁を終了」 afterwards is a repeat.
    assert done.json()["status"] == "closed" and done.json()["closed_at"]
    closed = counter.post(f"/api/visits/{vid}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    _problem(shimin.post(f"/api/visits/{vid}/parts/shimin/release"), 409, "visit-closed")

    # Every step is in the event log, with who and when, for the analytics issue.
    steps = srv.db.read_sync(lambda c: [tuple(r) for r in c.execute(
        "SELECT department, step, by FROM visit_events WHERE visit_id = ? ORDER BY id", (vid,))])
    sid, kid, cid = shimin.account_id, kodomo.account_id, counter.account_id  # type: ignore[attr-defined]
    assert steps == [(None, "reception", cid), ("shimin", "attached", cid), ("kodomo", "attached", cid),
                     ("shimin", "taken", sid), ("shimin", "confirmed", sid), ("shimin", "completed", sid),
                     ("kodomo", "taken", kid), ("kodomo", "released", kid), ("kodomo", "taken", kid),
                     ("kodomo", "completed", kid), (None, "closed", kid)]
    # Reading it is a staff read of personal data: audited, the board as one entry naming the visits shown.
    assert counter.get(f"/api/visits/{vid}").status_code == 200
    assert _audit(srv, cid, "visit.read")[-1][0] == f"visit:{vid}"
    assert any(vid in details for _, details in _audit(srv, sid, "visit.board"))
    # Every change is audited too, naming the visit (and the department of a part's step); the chain holds.
    assert [d for _, d in _audit(srv, sid, "visit.part_take")][-1] == '{"department":"shimin"}'
    assert _audit(srv, cid, "visit.open")[-1][0] == f"visit:{vid}" and _audit(srv, kid, "visit.close")
    from server.audit import verify_chain

    assert srv.db.read_sync(verify_chain).ok
    reopened = counter.post(f"/api/visits/{vid}/reopen")
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"


def test_refusals(srv: AppServer) -> None:
    counter = srv.login("counter")
    v = _open(counter, person={"family": "葛\U000e0100城", "given": "花子", "birth_date": "平成2年4月1日"})
    # A new person is stored as typed, byte for byte.
    assert v["person"] == {"family": "葛\U000e0100城", "given": "花子", "birth_date": "平成2年4月1日"}
    assert v["resident_name"] == {"family": "葛\U000e0100城", "given": "花子"}
    _problem(counter.post("/api/visits", json={"id": str(uuid.uuid4())}), 422, "resident-or-person")
    # A new person's name follows the one rule for names (server/auth/names.py): no bidirectional override or
    # control character, in the 姓 or the 名, by the API or the console's form.
    for bad in ({"family": "鈴木\u202e"}, {"family": "鈴木", "given": "大\u2066輔"}, {"family": "鈴\n木"},
                {"family": "  "}):
        _problem(counter.post("/api/visits", json={"id": str(uuid.uuid4()), "person": bad}), 400, "bad-request")
    page = counter.post("/console/visits", data={"person_family": "鈴木", "person_given": "\u202e大輔"})
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    assert _open(counter, person={"family": "NGUYEN"})["person"]["given"] == ""  # a 名 may be empty
    _problem(counter.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0005",
                                               "person": {"family": "x"}}), 422, "resident-or-person")
    _problem(counter.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "nobody"}),
             422, "unknown-resident")
    _problem(counter.post("/api/visits", json={"id": "not-a-uuid", "resident_id": "R0005"}), 400, "bad-request")
    _problem(counter.post(f"/api/visits/{v['id']}/parts", json={"submission_ids": ["nope"]}), 422,
             "unknown-submission")
    _problem(counter.post(f"/api/visits/{uuid.uuid4()}/parts", json={"submission_ids": ["nope"]}), 404, "not-found")
    _problem(counter.get(f"/api/visits/{uuid.uuid4()}"), 404, "not-found")
    _problem(counter.get("/api/visits", params={"status": "lost"}), 400, "bad-request")
    # An application about another resident, or already in another visit, is refused as a whole.
    mine = _open(counter, resident_id="R0005")
    other = _file(counter, "test-proc", resident="R0001")
    _problem(counter.post(f"/api/visits/{mine['id']}/parts", json={"submission_ids": [other]}), 422,
             "submission-other-resident")
    s = _file(counter, "test-proc")
    assert counter.post(f"/api/visits/{mine['id']}/parts", json={"submission_ids": [s]}).status_code == 200
    second = _open(counter, person={"family": "新井"})  # R0005 has their one open visit: `mine`
    _problem(counter.post(f"/api/visits/{second['id']}/parts", json={"submission_ids": [s]}), 409,
             "submission-in-other-visit")
    _problem(counter.post(f"/api/visits/{mine['id']}/parts/shimin/complete"), 409, "part-not-in-progress")
    _problem(counter.post(f"/api/visits/{mine['id']}/parts/kodomo/take"), 404, "not-found")
    # Roles: residents, outreach and configurators see no visit; reviewers open none and see only their own
    # department's visits.
    for role in ("resident", "outreach", "configurator"):
        c = srv.login(role)
        _problem(c.get("/api/visits"), 403, "forbidden")
        _problem(c.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0005"}), 403, "forbidden")
    kodomo = srv.login("reviewer", department="kodomo")
    _problem(kodomo.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0005"}), 403, "forbidden")
    _problem(kodomo.get(f"/api/visits/{mine['id']}"), 404, "not-found")
    assert mine["id"] not in [x["id"] for x in kodomo.get("/api/visits").json()]
    assert mine["id"] in [x["id"] for x in srv.login("reviewer", department="shimin").get("/api/visits").json()]
    _problem(srv.login("reviewer", department="shimin").post(f"/api/visits/{mine['id']}/close"), 403, "forbidden")


def test_two_clerks_take_the_same_part_one_wins(srv: AppServer) -> None:
    counter = srv.login("counter")
    v = _open(counter, resident_id="R0005")
    s = _file(counter, "test-proc")
    assert counter.post(f"/api/visits/{v['id']}/parts", json={"submission_ids": [s]}).status_code == 200
    clerks = [srv.login("reviewer", department="shimin") for _ in range(4)]
    url = f"/api/visits/{v['id']}/parts/shimin/take"
    with concurrent.futures.ThreadPoolExecutor(len(clerks)) as pool:
        answers_ = list(pool.map(lambda c: c.post(url), clerks))
    codes = sorted(r.status_code for r in answers_)
    assert codes == [200, 409, 409, 409], [r.text for r in answers_]
    for r in answers_:
        if r.status_code == 409:
            _problem(r, 409, "part-taken")
    winner = next(c for c, r in zip(clerks, answers_, strict=True) if r.status_code == 200)
    part = counter.get(f"/api/visits/{v['id']}").json()["parts"][0]
    assert part["taken_by"] == winner.account_id  # type: ignore[attr-defined]
    # The losers cannot complete or hand back the winner's part; an admin can hand it back.
    loser = next(c for c in clerks if c is not winner)
    _problem(loser.post(f"/api/visits/{v['id']}/parts/shimin/complete"), 409, "part-taken")
    assert srv.login("admin").post(f"/api/visits/{v['id']}/parts/shimin/release").status_code == 200


def test_visit_numbers_count_up_per_day(srv: AppServer) -> None:
    counter = srv.login("counter")
    a, b = _open(counter, resident_id="R0001"), _open(counter, person={"family": "新井"})
    assert int(b["number"][2:]) == int(a["number"][2:]) + 1 and a["day"] == b["day"]


def test_console_pages_without_javascript(srv: AppServer) -> None:
    """The console's forms (no JavaScript): 来庁受付 → the visit page → attach → take → complete → close; the
    board shows labels, department names and JST times, never codes."""
    counter = srv.login("counter")
    page = counter.get("/console/visits/new", params={"q": "髙橋"})
    assert page.status_code == 200 and "R0005" in page.text and 'href="/console/bind"' in page.text
    form_id = str(uuid.uuid4())
    r = counter.post("/console/visits", data={"id": form_id, "resident_id": "R0005", "booth": "7番"},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/console/visits/{form_id}", r.text
    # A double click of the same form: the same visit.
    assert counter.post("/console/visits", data={"id": form_id, "resident_id": "R0005", "booth": "7番"},
                        follow_redirects=False).headers["location"] == f"/console/visits/{form_id}"
    s1, s2 = _file(counter, "test-proc"), _file(counter, "kodomo-proc")
    page = counter.get(f"/console/visits/{form_id}")
    assert page.status_code == 200 and "髙橋 健一" in page.text and "児童手当" in page.text and "こども課" in page.text
    assert s1 in page.text and s2 in page.text  # offered for attaching
    offered = _audit(srv, counter.account_id, "visit.candidates")[-1]  # type: ignore[attr-defined]
    assert offered[0] == f"visit:{form_id}" and s1 in offered[1] and s2 in offered[1]
    r = counter.post(f"/console/visits/{form_id}/parts", data={"submission_ids": [s1, s2]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    shimin = srv.login("reviewer", department="shimin")
    # The department's own view: this visit is waiting for 市民課.
    own = shimin.get("/console/visits")
    assert own.status_code == 200 and "市民課を待っている来庁" in own.text
    number = counter.get(f"/api/visits/{form_id}").json()["number"]
    assert number in own.text
    page = shimin.get(f"/console/visits/{form_id}")
    assert "担当します（市民課）" in page.text and "担当します（こども課）" not in page.text
    assert shimin.post(f"/console/visits/{form_id}/parts/shimin/take", data={},
                       follow_redirects=False).status_code == 303
    # Someone else of the same department: an HTML page in Japanese with the API's 409.
    r = srv.login("reviewer", department="shimin").post(f"/console/visits/{form_id}/parts/shimin/complete", data={})
    assert r.status_code == 409 and "ほかの職員が担当しています" in r.text
    board_ = counter.get("/console/visits").text
    assert "対応中（7番）" in board_ and "待ち" in board_ and "in_progress" not in board_.replace("part-in_progress", "")
    assert shimin.post(f"/console/visits/{form_id}/parts/shimin/complete", data={},
                       follow_redirects=False).status_code == 303
    r = counter.post(f"/console/visits/{form_id}/close", data={})
    assert r.status_code == 409 and "まだ完了していない課があります" in r.text
    kodomo = srv.login("reviewer", department="kodomo")
    for step in ("take", "confirm", "issue", "complete"):
        assert kodomo.post(f"/console/visits/{form_id}/parts/kodomo/{step}", data={},
                           follow_redirects=False).status_code == 303, step
    assert counter.post(f"/console/visits/{form_id}/close", data={}, follow_redirects=False).status_code == 303
    closed = counter.get(f"/console/visits/{form_id}").text
    for label in ("終了", "来庁終了", "確認", "交付", "来庁を再開"):
        assert label in closed, label
    assert "reception" not in closed and "confirmed" not in closed
    # Roles: residents and outreach get problem+json 403; a new person is shown as typed.
    _problem(srv.login("outreach").get("/console/visits"), 403, "forbidden")
    _problem(shimin.get("/console/visits/new"), 403, "forbidden")
    r = counter.post("/console/visits", data={"id": str(uuid.uuid4()), "person_family": "葛\U000e0100城",
                                              "person_given": "花子", "person_birth_date": "平成2年4月1日"},
                     follow_redirects=True)
    assert r.status_code == 200 and "葛\U000e0100城 花子" in r.text and "平成2年4月1日" in r.text
    r = counter.post("/console/visits", data={"id": str(uuid.uuid4()), "resident_id": "nobody"})
    assert r.status_code == 422 and "住民記録はありません" in r.text


def test_a_reviewer_sees_only_their_own_departments_applications(srv: AppServer) -> None:
    """A reviewer may open a visit because one part is theirs; the other departments' applications (ids,
    titles, receipt numbers, statuses) are not theirs: the API and the console page show the other parts'
    states only. Counter staff see every part's applications."""
    counter = srv.login("counter")
    v = _open(counter, resident_id="R0005")
    s1, s2 = _file(counter, "test-proc"), _file(counter, "kodomo-proc")
    assert counter.post(f"/api/visits/{v['id']}/parts", json={"submission_ids": [s1, s2]}).status_code == 200
    receipts = dict(srv.db.read_sync(lambda c: [tuple(r) for r in c.execute(
        "SELECT id, receipt_number FROM submissions WHERE id IN (?, ?)", (s1, s2))]))
    shimin = srv.login("reviewer", department="shimin")

    def parts(client: httpx.Client, r: httpx.Response | None = None) -> dict[str, list[str]]:
        r = r or client.get(f"/api/visits/{v['id']}")
        assert r.status_code == 200, r.text
        return {p["department"]: p["submissions"] for p in r.json()["parts"]}

    assert parts(counter) == {"shimin": [s1], "kodomo": [s2]}
    assert parts(shimin) == {"shimin": [s1], "kodomo": []}
    board_ = shimin.get("/api/visits", params={"status": "open"}).json()
    assert [{p["department"]: p["submissions"] for p in b["parts"]} for b in board_ if b["id"] == v["id"]] == [
        {"shimin": [s1], "kodomo": []}]
    # The answer to a change is the same view.
    assert parts(shimin, shimin.post(f"/api/visits/{v['id']}/parts/shimin/take")) == {"shimin": [s1], "kodomo": []}
    page = shimin.get(f"/console/visits/{v['id']}")
    assert page.status_code == 200 and "こども課" in page.text  # the part's state is shown
    assert s1 in page.text and receipts[s1] in page.text
    assert s2 not in page.text and receipts[s2] not in page.text and "児童手当" not in page.text
    whole = counter.get(f"/console/visits/{v['id']}").text
    assert s2 in whole and receipts[s2] in whole


def test_the_board_reads_the_registry_once(tmp_path: Path) -> None:
    """The board names every visit's resident from one registry read, however many rows it shows."""
    import asyncio

    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry
    from server.storage.db import Database
    from server.storage.schema import migrate
    from server.storage.visits import VisitRecord
    from server.visits import _views

    db = Database.open(tmp_path / "board.db")
    try:
        db.write_sync(migrate)
        db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
        reads = count_reads(db)
        rows = [VisitRecord(id=f"v{i}", number=f"A-{i:03d}", day="2026-12-07", status="open",
                            resident_id=DEMO_RESIDENTS[i % len(DEMO_RESIDENTS)].id, person=None, booking_ref=None,
                            booth=None, opened_by="c", opened_at="2026-12-07T00:00:00+00:00", closed_at=None,
                            parts=[]) for i in range(12)]
        svc = SimpleNamespace(registry=SQLiteRegistry(db))
        views = asyncio.run(_views(svc, SimpleNamespace(id="c", role="counter", department=None),  # type: ignore[arg-type]
                                   rows))
        assert len(reads) == 1
        first = DEMO_RESIDENTS[0]
        assert views[0].resident_name == {"family": first.family, "given": first.given}
    finally:
        db.close()


def test_the_visit_page_reads_the_resident_once(srv: AppServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The visit page names the resident and shows their birth date and address from one registry read."""
    from server.registry import SQLiteRegistry

    counter = srv.login("counter")
    v = _open(counter, resident_id="R0005")
    reads: list[str] = []
    real_get, real_many = SQLiteRegistry.get, SQLiteRegistry.get_many

    async def get(self: SQLiteRegistry, rid: str) -> Any:
        reads.append(rid)
        return await real_get(self, rid)

    async def get_many(self: SQLiteRegistry, ids: Any) -> Any:
        ids = list(ids)
        reads.extend(ids)
        return await real_many(self, ids)

    monkeypatch.setattr(SQLiteRegistry, "get", get)
    monkeypatch.setattr(SQLiteRegistry, "get_many", get_many)
    page = counter.get(f"/console/visits/{v['id']}")
    assert page.status_code == 200 and "髙橋 健一" in page.text and "R0005" in page.text
    assert reads == ["R0005"]


def test_a_booth_too_long_is_refused_by_the_console_as_by_the_api(srv: AppServer) -> None:
    """担当します with a booth over 20 characters: the API's 400, and the console's form the same refusal as a
    Japanese page naming the limit, nothing taken; never a booth silently cut to 20 (so is 来庁受付's)."""
    counter = srv.login("counter")
    v = _open(counter, resident_id="R0005", booth="3番")
    assert counter.post(f"/api/visits/{v['id']}/parts", json={"submission_ids": [_file(counter, "test-proc")]}
                        ).status_code == 200
    shimin = srv.login("reviewer", department="shimin")
    long_booth = "相" * 100
    _problem(shimin.post(f"/api/visits/{v['id']}/parts/shimin/take", json={"booth": long_booth}), 400, "bad-request")
    page = shimin.post(f"/console/visits/{v['id']}/parts/shimin/take", data={"booth": long_booth},
                       follow_redirects=False)
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    assert "ブースは20文字以内で入力してください。" in page.text
    part = next(p for p in counter.get(f"/api/visits/{v['id']}").json()["parts"] if p["department"] == "shimin")
    assert part["state"] == "waiting" and part["booth"] is None  # nothing taken, nothing cut
    page = counter.post("/console/visits", data={"id": str(uuid.uuid4()), "resident_id": "R0005",
                                                 "booth": long_booth}, follow_redirects=False)
    assert page.status_code == 400 and "ブースは20文字以内で入力してください。" in page.text
    # Twenty characters are a booth: taken there.
    booth = "相談室" * 6 + "AB"
    assert shimin.post(f"/console/visits/{v['id']}/parts/shimin/take", data={"booth": booth},
                       follow_redirects=False).status_code == 303
    part = next(p for p in counter.get(f"/api/visits/{v['id']}").json()["parts"] if p["department"] == "shimin")
    assert (part["state"], part["booth"]) == ("in_progress", booth)


def test_one_open_visit_per_resident(srv: AppServer) -> None:
    """A registry resident with an open visit gets it back (200, ``already_open``) instead of a second one; the
    client's id stays free; reopening an older visit is refused while another is open; a new person (typed
    at reception, no registry record) is never deduplicated."""
    counter, other_clerk = srv.login("counter"), srv.login("counter")
    first = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0003", "booth": "1番"})
    assert first.status_code == 201 and first.json()["already_open"] is False
    second_id = str(uuid.uuid4())
    for _ in range(2):  # a second clerk, and its retry: the open visit each time
        again = other_clerk.post("/api/visits", json={"id": second_id, "resident_id": "R0003", "booth": "5番"})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"] and again.json()["already_open"] is True
        assert again.json()["booth"] == "1番" and again.json()["number"] == first.json()["number"]
    _problem(counter.get(f"/api/visits/{second_id}"), 404, "not-found")
    board_ = counter.get("/api/visits", params={"status": "open"}).json()
    assert [v["id"] for v in board_ if v["resident_id"] == "R0003"] == [first.json()["id"]]
    read = _audit(srv, other_clerk.account_id, "visit.read")  # type: ignore[attr-defined]
    assert read[-1][0] == f"visit:{first.json()['id']}" and '"already_open":true' in read[-1][1]
    assert not _audit(srv, other_clerk.account_id, "visit.open")  # type: ignore[attr-defined]
    # Once it ended, the next 受付 opens a new visit; the older one cannot be reopened beside it.
    srv.db.write_sync(lambda c: c.execute("UPDATE visits SET status = 'closed' WHERE id = ?", (first.json()["id"],)))
    later = _open(counter, resident_id="R0003")
    assert later["id"] != first.json()["id"] and later["already_open"] is False
    r = counter.post(f"/api/visits/{first.json()['id']}/reopen")
    _problem(r, 409, "resident-has-open-visit")
    assert r.json()["visit_id"] == later["id"] and r.json()["number"] == later["number"]
    # A new person: the same name twice is two visits (a name typed at reception is no identity).
    person = {"family": "新井", "given": "一", "birth_date": "1990-01-01"}
    assert _open(counter, person=person)["id"] != _open(counter, person=person)["id"]


def test_two_opens_at_once_make_one_visit(srv: AppServer) -> None:
    """Two clerks (and a double submit) opening a visit for the same resident at the same moment: the one writer
    decides, one visit."""
    clerks = [srv.login("counter") for _ in range(2)]

    def open_one(i: int) -> httpx.Response:
        return clerks[i % 2].post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0004"})

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers_ = list(pool.map(open_one, range(6)))
    assert sorted(r.status_code for r in answers_) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in answers_}) == 1
    assert srv.db.read_sync(lambda c: c.execute(
        "SELECT count(*) FROM visits WHERE resident_id = 'R0004' AND status = 'open'").fetchone()[0]) == 1


def test_reception_shows_a_resident_already_here(srv: AppServer) -> None:
    """来庁受付: a resident with an open visit is shown 「来庁中（A-…）」 with a button to that visit instead of
    「受付する」; a form sent anyway (Back, then 受付する) lands on the open visit with a notice."""
    counter = srv.login("counter")
    page = counter.get("/console/visits/new", params={"q": "渡辺"}).text
    assert "渡邊 茂さんを受付する" in page and "来庁中" not in page
    first = counter.post("/console/visits", data={"id": str(uuid.uuid4()), "resident_id": "R0010"},
                         follow_redirects=False)
    vid = first.headers["location"].rsplit("/", 1)[1]
    assert first.status_code == 303 and "?" not in vid
    number = counter.get(f"/api/visits/{vid}").json()["number"]
    assert "この方は来庁中です" not in counter.get(f"/console/visits/{vid}").text
    page = counter.get("/console/visits/new", params={"q": "渡辺"}).text
    assert f"来庁中（{number}）" in page and "渡邊 茂さんを受付する" not in page
    assert f'action="/console/visits/{vid}"' in page and f"渡邊 茂さんの来庁（{number}）を開く" in page
    again = counter.post("/console/visits", data={"id": str(uuid.uuid4()), "resident_id": "R0010", "booth": "9番"},
                         follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/console/visits/{vid}?already_open=1"
    shown = counter.get(again.headers["location"]).text
    assert f"この方は来庁中です（{number}）" in shown
    assert "9番" not in shown  # nothing of the second form was stored


def test_a_reception_without_applications_is_cancelled(srv: AppServer) -> None:
    """A visit with no application (a mistaken reception, a resident who left): 「受付を取り消す」 closes it (API and
    console), so it no longer captures the resident's next reception; a visit with parts still closes only when
    every part is done."""
    counter = srv.login("counter")
    v = _open(counter, resident_id="R0005", booth="2番")
    page = counter.get(f"/console/visits/{v['id']}").text
    assert "受付を取り消す（来庁を終了）" in page and "すべての課が完了すると終了できます" not in page
    r = counter.post(f"/api/visits/{v['id']}/close")
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["closed_at"], r.text
    assert [e["step"] for e in r.json()["events"]] == ["reception", "closed"]
    assert _audit(srv, counter.account_id, "visit.close")[-1][0] == f"visit:{v['id']}"  # type: ignore[attr-defined]
    assert counter.post(f"/api/visits/{v['id']}/close").status_code == 200  # a repeat
    # The resident's next reception is a new visit, not the cancelled one.
    again = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0005"})
    assert again.status_code == 201 and again.json()["already_open"] is False and again.json()["id"] != v["id"]
    # The console's form (a person not in the registry: never matched, so only closing ends it).
    new = _open(counter, person={"family": "新井"})
    r = counter.post(f"/console/visits/{new['id']}/close", data={}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert counter.get(f"/api/visits/{new['id']}").json()["status"] == "closed"
    # With a part not done, closing is still refused.
    mine = again.json()
    assert counter.post(f"/api/visits/{mine['id']}/parts", json={"submission_ids": [_file(counter, "test-proc")]}
                        ).status_code == 200
    _problem(counter.post(f"/api/visits/{mine['id']}/close"), 409, "parts-not-done")
    page = counter.get(f"/console/visits/{mine['id']}").text
    assert "受付を取り消す" not in page and "すべての課が完了すると終了できます" in page


def test_the_take_form_offers_the_booth(srv: AppServer) -> None:
    """担当します on the console: a labelled booth input prefilled with the visit's booth; another booth typed is
    where the part is worked on (the API's optional booth); a visit with none gets the one typed."""
    counter = srv.login("counter")
    v = _open(counter, resident_id="R0005")  # reception left the booth empty
    assert counter.post(f"/api/visits/{v['id']}/parts", json={"submission_ids": [
        _file(counter, "test-proc"), _file(counter, "kodomo-proc")]}).status_code == 200
    shimin = srv.login("reviewer", department="shimin")
    page = shimin.get(f"/console/visits/{v['id']}").text
    assert '<label for="booth-shimin">ブース（市民課・任意）</label>' in page
    assert '<input id="booth-shimin" name="booth" value="" maxlength="20"' in page
    assert shimin.post(f"/console/visits/{v['id']}/parts/shimin/take", data={"booth": " 5番 "},
                       follow_redirects=False).status_code == 303
    view = counter.get(f"/api/visits/{v['id']}").json()
    part = next(p for p in view["parts"] if p["department"] == "shimin")
    assert (part["state"], part["booth"]) == ("in_progress", "5番")
    assert [e["booth"] for e in view["events"] if e["step"] == "taken"] == ["5番"]
    assert "担当：" in (page := shimin.get(f"/console/visits/{v['id']}").text) and "（5番）" in page
    # The visit's booth is the input's value: taken as it is.
    w = _open(counter, person={"family": "新井"}, booth="3番")
    assert counter.post(f"/api/visits/{w['id']}/parts", json={"submission_ids": [
        _file(counter, "kodomo-proc", resident="R0001")]}).status_code == 200
    kodomo = srv.login("reviewer", department="kodomo")
    assert 'name="booth" value="3番"' in kodomo.get(f"/console/visits/{w['id']}").text
