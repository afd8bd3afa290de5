"""``GET /console/visits/{id}/forms.pdf``: every 申請書 of a visit in one PDF (what the counter prints after the
interview), against the real server; read back with ``pdftotext``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.server.conftest import make_proc, start_server
from tests.server.test_printing_guide_pdf import KODOMO, _file
from tests.server.test_printing_pdf import assert_refused, audit_entries, needs_poppler, pdftotext
from testsupport.servers import AppServer


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("visitforms"), [
        # Ids of their own: compiled definitions are cached per (id, version) in the process.
        make_proc(id="vforms-copy", title={"ja": "まとめ印刷テスト住民票"}),
        make_proc(id="vforms-kodomo", title={"ja": "まとめ印刷テスト児童手当"}, department=KODOMO)])
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def visit(srv: AppServer) -> dict[str, Any]:
    """A visit of 髙橋 健一 (R0005) with two applications, one per department."""
    counter = srv.login("counter")
    r = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0005"})
    assert r.status_code == 201, r.text
    v = dict(r.json())
    s1, s2 = _file(counter, "vforms-copy", 1), _file(counter, "vforms-kodomo", 1)
    assert counter.post(f"/api/visits/{v['id']}/parts", json={"submission_ids": [s1, s2]}).status_code == 200
    return {**v, "shimin": s1, "kodomo": s2}


def _printed(srv: AppServer, actor: str) -> list[dict[str, Any]]:
    return [{"subject": s, **json.loads(d)} for a, s, d in audit_entries(srv, actor) if a == "submission.print"]


@needs_poppler
def test_the_counter_prints_every_form_of_the_visit_at_once(srv: AppServer, visit: dict[str, Any]) -> None:
    counter = srv.login("counter")
    r = counter.get(f"/console/visits/{visit['id']}/forms.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/pdf") and r.headers["cache-control"] == "no-store"
    text = pdftotext(r.content)
    # Each application's own form, one after the other (each starts on its own page), as form.pdf prints it.
    assert "まとめ印刷テスト住民票" in text and "まとめ印刷テスト児童手当" in text
    assert text.count("\f") >= 2
    alone = pdftotext(counter.get(f"/console/submissions/{visit['shimin']}/form.pdf").content)
    assert alone.strip() in text
    # Audited as each form printed alone, naming the visit.
    rows = [x for x in _printed(srv, counter.account_id) if x.get("visit") == visit["id"]]  # type: ignore[attr-defined]
    assert sorted(x["subject"] for x in rows) == sorted(f"submission:{visit[d]}" for d in ("shimin", "kodomo"))
    staff = counter.get(f"/console/visits/{visit['id']}/forms.pdf?copy=staff")
    assert staff.status_code == 200 and staff.headers["content-type"].startswith("application/pdf")


@needs_poppler
def test_a_reviewer_prints_their_own_departments_forms_only(srv: AppServer, visit: dict[str, Any]) -> None:
    kodomo = srv.login("reviewer", department="kodomo")
    r = kodomo.get(f"/console/visits/{visit['id']}/forms.pdf")
    assert r.status_code == 200, r.text
    text = pdftotext(r.content)
    assert "まとめ印刷テスト児童手当" in text and "まとめ印刷テスト住民票" not in text
    assert [x["subject"] for x in _printed(srv, kodomo.account_id)] == [f"submission:{visit['kodomo']}"]  # type: ignore[attr-defined]


def test_who_may_not_print_the_visits_forms(srv: AppServer, visit: dict[str, Any]) -> None:
    assert_refused(srv, f"/console/visits/{visit['id']}/forms.pdf", f"/console/visits/{uuid.uuid4()}/forms.pdf",
                   roles=("resident", "configurator", "outreach"), outsider=srv.login("reviewer", department="hoken"))
    r = srv.login("counter").get(f"/console/visits/{visit['id']}/forms.pdf?copy=other")
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")


def test_a_visit_without_applications_has_nothing_to_print(srv: AppServer) -> None:
    counter = srv.login("counter")
    vid = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0001"}).json()["id"]
    r = counter.get(f"/console/visits/{vid}/forms.pdf")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert "forms.pdf" not in counter.get(f"/console/visits/{vid}").text


def test_the_visit_page_links_the_forms(srv: AppServer, visit: dict[str, Any]) -> None:
    page = srv.login("counter").get(f"/console/visits/{visit['id']}").text
    assert f'href="/console/visits/{visit["id"]}/forms.pdf"' in page and "申請書をまとめて印刷 (PDF)" in page
