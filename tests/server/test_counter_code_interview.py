"""A pre-entry brought with a counter code becomes the interview's initial values (server.counter_code
.preentry_initial, wired into the interview's start): against the real server and the shipped library, and the
rule itself on the library's 市内で引っ越した (moving-within)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from procedure_definitions.library import latest_version, load_library
from server.counter_code import preentry_initial
from server.interview_plan import empty_draft
from tests.server.conftest import start_real_library
from testsupport.servers import AppServer

LIB = load_library()
EVENT = LIB.life_events["moving-within"][latest_version(LIB.life_events["moving-within"])]
PROCS = {pid: v[latest_version(v)] for pid, v in LIB.procedures.items()}
TENKYO = PROCS["tenkyo"].version


# Each test opens visits of the demo residents afresh (one open visit per resident: tests/server/conftest.py).
pytestmark = pytest.mark.usefixtures("no_open_visits")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_real_library(tmp_path_factory.mktemp("preentry-interview"), residents=True)
    yield s
    s.stop()


def test_the_rule_on_the_library() -> None:
    draft = empty_draft()
    draft["answers"]["tenkyo"] = {"new_head_name": {"family": "山田", "given": "太郎"}}  # the registry's prefill
    pre = {"kind": "life_event", "id": "moving-within", "version": EVENT.version,
           "questions": {"needs_certificate": True, "not_a_question": True},
           "answers": {"new_postal_code": "1010021", "unknown": "x"},
           "procedures": {"tenkyo": {"version": TENKYO, "answers": {
               "move_date": "2026-12-01", "new_head_name": {"family": "別人", "given": "次郎"},
               "school_change": True, "filer_phone": "090-0000-0000"}},
               "kodomo-iryohi": {"version": "1", "answers": {"x": 1}}}}
    applied = preentry_initial(draft, pre, EVENT, PROCS)
    assert draft["questions"] == {"needs_certificate": True}
    # The shared field and the tenkyo field a shared field stands for (filer_phone -> applicant_phone) go to shared.
    assert draft["shared"] == {"new_postal_code": "1010021", "applicant_phone": "090-0000-0000"}
    # The registry's value stays; a staff-only field is never taken from a resident; other procedures ignored.
    assert draft["answers"]["tenkyo"] == {"new_head_name": {"family": "山田", "given": "太郎"}, "move_date": "2026-12-01"}
    assert "kodomo-iryohi" not in draft["answers"]
    assert sorted(applied) == ["q:needs_certificate", "s:applicant_phone", "s:new_postal_code", "tenkyo:move_date"]
    # Another event's pre-entry gives nothing but its procedures the event includes; none at all gives nothing.
    assert preentry_initial(empty_draft(), None, EVENT, PROCS) == []
    other = {"kind": "life_event", "id": "birth", "version": "1", "questions": {"needs_certificate": True}}
    fresh = empty_draft()
    assert preentry_initial(fresh, other, EVENT, PROCS) == [] and fresh["questions"] == {}


def test_the_interview_starts_from_the_pre_entry(srv: AppServer) -> None:
    resident = srv.login("resident")
    counter = srv.login("counter")
    pre = {"kind": "procedure", "id": "tenkyo", "version": TENKYO,
           "answers": {"move_date": "2026-12-01", "new_postal_code": "1010021", "school_change": True}}
    r = resident.post("/api/me/counter-code", json={"preentry": pre})
    assert r.status_code == 201, r.text
    vid = str(uuid.uuid4())
    assert counter.post("/api/visits", json={"id": vid, "resident_id": "R0001"}).status_code == 201
    assert counter.post(f"/api/visits/{vid}/counter-code", json={"code": r.json()["code"]}).status_code == 200
    # The visit page offers the interview of the life event the 転居届 belongs to, preselected.
    assert '<option value="moving-within" selected>' in counter.get(f"/console/visits/{vid}").text
    started = counter.post(f"/console/visits/{vid}/interviews", data={"life_event": "moving-within",
                                                                       "id": str(uuid.uuid4())}, follow_redirects=False)
    assert started.status_code == 303, started.text
    page = counter.get(started.headers["location"]).text
    assert 'value="2026-12-01"' in page
    draft: dict[str, Any] = json.loads(srv.db.read_sync(lambda c: c.execute(
        "SELECT draft FROM interviews WHERE visit_id = ?", (vid,)).fetchone()[0]))
    assert draft["shared"]["new_postal_code"] == "1010021"
    assert draft["answers"]["tenkyo"]["move_date"] == "2026-12-01"
    assert "school_change" not in draft["answers"]["tenkyo"]
    reads = srv.db.read_sync(lambda c: [json.loads(r[0]) for r in c.execute(
        "SELECT details FROM audit_log WHERE action = 'visit.preentry_read' AND subject = ?", (f"visit:{vid}",))])
    assert "interview" in [d["via"] for d in reads]


def _visit_page(srv: AppServer, pre: dict[str, Any]) -> str:
    """The visit page after the counter loaded a code carrying ``pre``."""
    resident, counter = srv.login("resident"), srv.login("counter")
    r = resident.post("/api/me/counter-code", json={"preentry": pre})
    assert r.status_code == 201, r.text
    vid = str(uuid.uuid4())
    assert counter.post("/api/visits", json={"id": vid, "resident_id": "R0001"}).status_code == 201
    assert counter.post(f"/api/visits/{vid}/counter-code", json={"code": r.json()["code"]}).status_code == 200
    return counter.get(f"/console/visits/{vid}").text


def test_a_life_events_pre_entry_on_the_visit_page(srv: AppServer) -> None:
    pre = {"kind": "life_event", "id": "moving-within", "version": EVENT.version,
           "questions": {"needs_certificate": True}, "answers": {"new_postal_code": "1010021"},
           "procedures": {"tenkyo": {"version": TENKYO, "answers": {"move_date": "2026-12-01"}},
                          "juminhyo-copy": {"version": PROCS["juminhyo-copy"].version, "answers": {"copies": 2}}}}
    page = _visit_page(srv, pre)
    # The event's title, each procedure by its title with its answers readably (和暦 or 日付, 通数), never ids.
    assert "事前入力：市内で引っ越した（転居）" in page
    assert "<h4>転居届</h4>" in page and "<h4>住民票の写し等交付請求</h4>" in page
    assert "2026年12月1日" in page or "令和8年12月1日" in page
    panel = page.split('id="preentry-title"', 1)[1].split("<h2>課ごとの手続き</h2>", 1)[0]
    assert "通数" in panel and "juminhyo-copy" not in panel and "move_date" not in panel
    assert '<option value="moving-within" selected>' in page


def test_a_life_events_own_answers_and_a_single_procedure_on_the_visit_page(srv: AppServer) -> None:
    """A pre-entered life event shows its questions answered and its shared fields readably, and its one
    procedure headed by its title (not only the event's)."""
    pre = {"kind": "life_event", "id": "moving-within", "version": EVENT.version,
           "questions": {"needs_certificate": True}, "answers": {"new_postal_code": "1010021"},
           "procedures": {"tenkyo": {"version": TENKYO, "answers": {"move_date": "2026-12-01"}}}}
    page = _visit_page(srv, pre)
    panel = page.split('id="preentry-title"', 1)[1].split("<h2>課ごとの手続き</h2>", 1)[0]
    question = next(q for q in EVENT.questions if q.id == "needs_certificate").label.ja
    shared = next(sf.field for sf in EVENT.shared_fields if sf.field.id == "new_postal_code").label.ja
    assert f"<dt>{question}</dt>" in panel and "はい" in panel
    assert f"<dt>{shared}</dt>" in panel and "101-0021" in panel
    assert f"<h4>{PROCS['tenkyo'].title.ja}</h4>" in panel
    assert "needs_certificate" not in panel and "new_postal_code" not in panel
