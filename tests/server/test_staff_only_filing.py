"""Issue 12 point 2: a staff_only field is refused from a resident by the one filing policy (server/filing.py)
on every path — ``POST /api/submissions`` through Litestar and through its fast lane (the same bytes), and
validation in a worker process — while a resident is never asked for one and staff filing at the counter
fills it. Real server on loopback, real SQLite file. Sync: tests/sync/test_sync_staff_only.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import answers, make_proc, start_server
from tests.server.test_submission_lane import Switch, _same_answer
from testsupport.servers import AppServer

COUNTER = {"id": "counter", "title": {"ja": "窓口記入欄"}, "staff_only": True, "fields": [
    {"id": "id_checked", "type": "yesno", "label": {"ja": "本人確認書類の確認"}, "required": True},
    {"id": "counter_memo", "type": "longtext", "label": {"ja": "窓口メモ"}},
]}


def _proc() -> Any:
    base = make_proc()
    sections: list[dict[str, Any]] = [
        {"id": "main", "title": {"ja": "申請"}, "fields": [
            *[{"id": f.id, "type": f.__struct_config__.tag, "label": {"ja": f.label.ja}, "required": f.required}
              for f in base.sections[0].fields if f.id in ("applicant", "copies")],
            {"id": "memo_field", "type": "text", "label": {"ja": "職員メモ"}, "staff_only": True}]},
        COUNTER,
    ]
    # Its own id: forms.py caches compiled procedures by (id, version) in this process.
    return make_proc(id="staff-proc", sections=sections)


@pytest.fixture(scope="module", params=[0, 1], ids=["in-process", "worker"])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp: Path = tmp_path_factory.mktemp("staffonly")
    s = start_server(tmp, [_proc()], submission_lane=False, validation_workers=request.param)
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def switch(srv: AppServer) -> Switch:
    return Switch(srv)


def _filing(**extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "procedure_id": "staff-proc", "procedure_version": "1.0.0",
            "answers": answers(**extra)}


def _count(srv: AppServer) -> int:
    return int(srv.db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]))


@pytest.mark.parametrize("extra", [{"counter_memo": "住民が書いた"}, {"memo_field": "x", "id_checked": True}],
                         ids=["staff-only-section", "staff-only-field"])
def test_a_resident_answering_a_staff_only_field_is_refused_on_both_paths(
        srv: AppServer, switch: Switch, extra: dict[str, Any]) -> None:
    c = srv.login("resident")
    before = _count(srv)
    r = _same_answer(switch, c, lane_answers=True, json=_filing(**extra))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/staff-only-field")
    assert sorted(e["path"] for e in body["errors"]) == sorted(extra)
    assert {e["code"] for e in body["errors"]} == {"staff_only"}
    assert body["errors"][0]["message"]["ja"] == "この項目は窓口の職員が記入します。入力を消してください。"
    assert _count(srv) == before  # nothing written


def test_a_resident_is_never_asked_for_a_required_staff_only_field(srv: AppServer, switch: Switch) -> None:
    c = srv.login("resident")
    for lane in (True, False):
        switch.use(lane)
        r = c.post("/api/submissions", json=_filing())
        assert r.status_code == 201, r.text


def test_staff_filing_fills_staff_only_fields_and_owes_the_required_ones(srv: AppServer, switch: Switch) -> None:
    counter = srv.login("counter")
    switch.use(True)
    missing = counter.post("/api/submissions", json=_filing())
    assert missing.status_code == 422 and missing.json()["type"].endswith("/invalid-answers")
    assert [(e["path"], e["code"]) for e in missing.json()["errors"]] == [("id_checked", "required")]
    body = _filing(id_checked=True, counter_memo="運転免許証で確認", memo_field="急ぎ")
    r = counter.post("/api/submissions", json=body)
    assert r.status_code == 201, r.text
    stored = counter.get(f"/api/submissions/{r.json()['id']}").json()["answers"]
    assert stored["counter_memo"] == "運転免許証で確認" and stored["id_checked"] is True


def test_a_resident_reads_their_submission_without_what_the_counter_wrote(srv: AppServer, switch: Switch) -> None:
    counter = srv.login("counter")
    switch.use(True)
    body = {**_filing(id_checked=True, counter_memo="窓口で確認済み", memo_field="急ぎ"), "on_behalf_of": "R0001"}
    r = counter.post("/api/submissions", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    staff_view = counter.get(f"/api/submissions/{sid}").json()["answers"]
    assert staff_view["counter_memo"] == "窓口で確認済み" and staff_view["memo_field"] == "急ぎ"
    resident_view = srv.login("resident", resident_id="R0001").get(f"/api/submissions/{sid}")
    assert resident_view.status_code == 200, resident_view.text
    answers_seen = resident_view.json()["answers"]
    assert answers_seen == {k: v for k, v in staff_view.items() if k not in ("id_checked", "counter_memo", "memo_field")}
    assert answers_seen["copies"] == 1
    # The console shows staff every answer, the counter's marked as theirs.
    page = srv.login("reviewer", department="shimin").get(f"/console/submissions/{sid}")
    assert page.status_code == 200, page.text
    assert "窓口メモ（職員記入）" in page.text and "窓口で確認済み" in page.text
    assert "通数（職員記入）" not in page.text and "通数" in page.text


def test_the_validation_worker_is_told_who_files(srv: AppServer) -> None:
    """With validation in a worker, the filer crosses the pipe: the same decision as in process."""
    resident = srv.login("resident")
    assert resident.post("/api/submissions", json=_filing(counter_memo="x")).status_code == 422
    if srv.settings.validation_workers:
        assert srv.app.state.services.validator.offloaded > 0


def test_problem_documents_never_leak_a_traceback(srv: AppServer) -> None:
    c = srv.login("resident")
    r = c.post("/api/submissions", json={**_filing(), "answers": {"counter_memo": {"deep": [1]}, "copies": 1}})
    assert r.status_code == 422 and "Traceback" not in r.text
    assert isinstance(r.json()["errors"], list)
    assert httpx.codes.is_client_error(r.status_code)
