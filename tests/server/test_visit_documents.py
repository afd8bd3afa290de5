"""持ち物 the counter has seen (書類の確認), against the real server, the shipped library and a real SQLite file: the
interview's 「窓口で確認した書類」 ticks kept in the draft and stored at the finish in its one write job (only the
declared documents the application requires; a refused finish stores nothing), a department clerk marking one
later from the visit page (who may, idempotent, audited, refused on a closed visit), and the 受付案内票 listing
under 「お持ちください」 only what is still missing."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.conftest import start_real_library
from tests.server.test_interview import _finish_moving_within, _post, _start, _visit
from tests.server.test_printing_pdf import needs_poppler, pdftotext
from testsupport.servers import AppServer


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_real_library(tmp_path_factory.mktemp("documents"), residents=True)
    yield s
    s.stop()


def _seen_rows(srv: AppServer, vid: str) -> list[tuple[str, str]]:
    return srv.db.read_sync(lambda c: [(str(r[0]), str(r[1])) for r in c.execute(
        "SELECT s.procedure_id, d.document_id FROM visit_documents d JOIN submissions s ON s.id = d.submission_id"
        " WHERE d.visit_id = ? ORDER BY 1, 2", (vid,))])


def _audits(srv: AppServer, vid: str) -> list[tuple[str, dict[str, Any]]]:
    return srv.db.read_sync(lambda c: [(str(r[0]), json.loads(r[1])) for r in c.execute(
        "SELECT actor, details FROM audit_log WHERE action = 'visit.document_seen' AND subject = ? ORDER BY id",
        (f"visit:{vid}",))])


def _boxes(page: str, pid: str) -> dict[str, tuple[bool, bool]]:
    """The 「窓口で確認した書類」 checkboxes of one procedure: document id -> (checked, hidden)."""
    box = page.split(f'id="docs-{pid}"', 1)[1].split("</fieldset>", 1)[0]
    return {m[2]: ("checked" in m[3], " hidden" in m[1]) for m in re.finditer(
        r'<label class="choice"([^>]*)><input type="checkbox" name="_docs\.[\w-]+" value="([\w-]+)"([^>]*)>', box)}


def test_the_interview_keeps_the_ticks_and_files_exactly_those_required(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c, "R0006")
    url = _start(c, vid, "moving-within")
    page = c.get(url).text
    # One fieldset per procedure with one labelled checkbox per document: 委任状 only when a proxy files.
    assert "窓口で確認した書類（転居届）" in page
    assert _boxes(page, "tenkyo") == {"id_document": (False, False), "my_number_card": (False, False),
                                      "power_of_attorney": (False, True)}
    # Ticks (and a forged id) saved with 「更新」: the draft keeps the declared ones, the page shows them ticked.
    r = _post(c, url, page, op="update", **{"_docs.tenkyo": ["id_document", "forged-document", "power_of_attorney"],
                                             "_docs": ["tenkyo", "juminhyo-copy", "no-such-procedure"],
                                             "_docs.no-such-procedure": ["id_document"]})
    assert r.status_code == 303, r.text[:500]
    page = c.get(url).text
    assert _boxes(page, "tenkyo") == {"id_document": (True, False), "my_number_card": (False, False),
                                      "power_of_attorney": (True, True)}
    draft = srv.db.read_sync(lambda db: json.loads(db.execute(
        "SELECT draft FROM interviews WHERE visit_id = ?", (vid,)).fetchone()[0]))
    assert draft["documents"] == {"tenkyo": ["id_document", "power_of_attorney"], "juminhyo-copy": []}

    # A finish refused by the validation keeps the ticks and stores nothing.
    r = _post(c, url, page, op="finish")
    assert r.status_code == 422 and "申請はまだ送っていません" in r.text
    assert _boxes(r.text, "tenkyo")["id_document"] == (True, False)
    assert _seen_rows(srv, vid) == [] and _audits(srv, vid) == []

    r = _finish_moving_within(c, url, c.get(url).text)
    assert r.status_code == 303, r.text[:1500]
    # Stored: the ticked documents the application requires (委任状: the filer is themself; the forged id never).
    assert _seen_rows(srv, vid) == [("tenkyo", "id_document")]
    ((actor, details),) = _audits(srv, vid)
    sid = next(s for s, docs in details["documents"].items())
    assert actor == c.account_id and details == {"via": "interview", "documents": {sid: ["id_document"]}}  # type: ignore[attr-defined]
    v = c.get(f"/api/visits/{vid}").json()
    assert [(d["submission_id"], d["document_id"], d["seen_by"]) for d in v["documents"]] == [
        (sid, "id_document", c.account_id)]  # type: ignore[attr-defined]


def _file(c: httpx.Client, pid: str, resident: str) -> str:
    from procedure_definitions.library import load_library

    proc = load_library().latest(pid)
    assert proc is not None
    r = c.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": pid,
                                         "procedure_version": proc.version,
                                         "answers": dict(proc.scenarios[0].answers), "on_behalf_of": resident})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def two_departments(srv: AppServer) -> dict[str, str]:
    """A visit of R0007 with 住民票の写し (市民課) and 児童手当の消滅 (こども課), nothing seen yet."""
    c = srv.login("counter")
    vid = _visit(c, "R0007")
    shimin, kodomo = _file(c, "juminhyo-copy", "R0007"), _file(c, "jido-teate-shometsu", "R0007")
    r = c.post(f"/api/visits/{vid}/parts", json={"submission_ids": [shimin, kodomo]})
    assert r.status_code == 200, r.text
    return {"vid": vid, "shimin": shimin, "kodomo": kodomo}


def _mark(c: httpx.Client, vid: str, sid: str, doc: str) -> httpx.Response:
    return c.post(f"/console/visits/{vid}/documents", data={"submission_id": sid, "document_id": doc},
                  follow_redirects=False)


def test_a_department_marks_a_document_seen(srv: AppServer, two_departments: dict[str, str]) -> None:
    vid, shimin, kodomo = two_departments["vid"], two_departments["shimin"], two_departments["kodomo"]
    clerk = srv.login("reviewer", department="shimin")
    page = clerk.get(f"/console/visits/{vid}").text
    # Its own application's documents, each 未確認 with a button; none of the other department's.
    assert f'id="docs-{shimin}"' in page and f'id="docs-{kodomo}"' not in page
    assert "窓口に来る人の本人確認書類：<span class=\"doc-missing\">未確認</span>" in page
    assert "確認済みにする（窓口に来る人の本人確認書類）" in page

    r = _mark(clerk, vid, shimin, "id_document")
    assert r.status_code == 303 and r.headers["location"] == f"/console/visits/{vid}#docs-{shimin}"
    page = clerk.get(f"/console/visits/{vid}").text
    assert "窓口に来る人の本人確認書類：<span class=\"doc-seen\">確認済み</span>（テストreviewer" in page
    assert "確認済みにする（窓口に来る人の本人確認書類）" not in page
    assert _audits(srv, vid) == [(clerk.account_id, {"via": "console",  # type: ignore[attr-defined]
                                                     "documents": {shimin: ["id_document"]}})]
    # Again: a repeat, nothing stored or audited twice.
    assert _mark(clerk, vid, shimin, "id_document").status_code == 303
    assert _seen_rows(srv, vid) == [("juminhyo-copy", "id_document")] and len(_audits(srv, vid)) == 1

    # The other department's application: 403; a document the application does not require (or a forged one):
    # 422; an application of no part of this visit: 404. Nothing stored.
    assert _mark(clerk, vid, kodomo, "id_document").status_code == 403
    assert _mark(clerk, vid, shimin, "power_of_attorney").status_code == 422
    assert _mark(clerk, vid, shimin, "no-such-document").status_code == 422
    assert _mark(clerk, vid, str(uuid.uuid4()), "id_document").status_code == 404
    assert _seen_rows(srv, vid) == [("juminhyo-copy", "id_document")]
    # A reviewer of the other department sees the documents of theirs only (the page and the API alike).
    kodomo_clerk = srv.login("reviewer", department="kodomo")
    assert kodomo_clerk.get(f"/api/visits/{vid}").json()["documents"] == []
    page = kodomo_clerk.get(f"/console/visits/{vid}").text
    assert f'id="docs-{shimin}"' not in page and "<span class=\"doc-seen\">" not in page


def test_who_may_mark_a_document(srv: AppServer, two_departments: dict[str, str]) -> None:
    vid, kodomo = two_departments["vid"], two_departments["kodomo"]
    # A reviewer of a department with no part in the visit: the visit read's 404; a resident: 403.
    assert _mark(srv.login("reviewer", department="hoken"), vid, kodomo, "id_document").status_code == 404
    r = _mark(srv.login("resident", resident_id="R0007"), vid, kodomo, "id_document")
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert _mark(srv.login("counter"), str(uuid.uuid4()), kodomo, "id_document").status_code == 404
    assert ("jido-teate-shometsu", "id_document") not in _seen_rows(srv, vid)
    # Counter staff may work every department's part.
    assert _mark(srv.login("counter"), vid, kodomo, "id_document").status_code == 303
    assert ("jido-teate-shometsu", "id_document") in _seen_rows(srv, vid)


def test_a_closed_visit_takes_no_document(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c, "R0008")
    sid = _file(c, "juminhyo-copy", "R0008")
    assert c.post(f"/api/visits/{vid}/parts", json={"submission_ids": [sid]}).status_code == 200
    for step in ("take", "complete"):
        assert c.post(f"/api/visits/{vid}/parts/shimin/{step}").status_code == 200
    assert c.post(f"/api/visits/{vid}/close").status_code == 200
    r = _mark(c, vid, sid, "id_document")
    assert r.status_code == 409 and "この来庁は終了しています" in r.text
    assert _seen_rows(srv, vid) == []


@needs_poppler
def test_the_guide_lists_only_the_documents_not_seen(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c, "R0009")
    url = _start(c, vid, "moving-within")
    r = _post(c, url, c.get(url).text, op="update", **{"_docs.tenkyo": ["id_document"]})
    assert r.status_code == 303
    r = _finish_moving_within(c, url, c.get(url).text)
    assert r.status_code == 303, r.text[:1500]

    def missing_and_seen() -> tuple[str, str]:
        text = re.sub(r"\s+", "", pdftotext(c.get(f"/console/visits/{vid}/guide.pdf").content))
        # The blocks in the titles' order (the text layer may give the title lines before the blocks' bodies).
        titles = re.findall(r"\d+\.(.+?)受付番号", text.split("本日の手続き", 1)[1])
        bodies = text.split("担当")[1:]
        tenkyo = bodies[titles.index("転居届")].split("手数料", 1)[0]  # the 転居届 block's 持ち物
        missing, _, seen = tenkyo.partition("確認済み：")
        return missing, seen

    missing, seen = missing_and_seen()
    assert "異動者のマイナンバーカード" in missing and "届出人の本人確認書類" not in missing
    assert seen.startswith("届出人の本人確認書類")
    # The department sees the card later: the guide printed again no longer asks for it.
    tenkyo = next(s for p in c.get(f"/api/visits/{vid}").json()["parts"] for s in p["submissions"]
                  if srv.db.read_sync(lambda db, s=s: db.execute("SELECT procedure_id FROM submissions WHERE id = ?",
                                                                 (s,)).fetchone()[0]) == "tenkyo")
    assert _mark(srv.login("reviewer", department="shimin"), vid, tenkyo, "my_number_card").status_code == 303
    missing, seen = missing_and_seen()
    assert "ありません" in missing and "異動者のマイナンバーカード" in seen and "届出人の本人確認書類" in seen


@pytest.mark.usefixtures("no_open_visits")
def test_applications_read_for_printing_evaluate_no_documents(srv: AppServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``visit_applications(documents=False)``, the read of GET /console/visits/{id}/forms.pdf, skips the documents'
    required_if evaluation the 申請書 never shows; the default (the visit page, the 受付案内票) still lists them."""
    import asyncio
    import sqlite3
    from types import SimpleNamespace

    import server.visit_documents as vd
    from procedure_definitions.library import load_library
    from server.storage.visits import load_visit

    c = srv.login("counter")
    vid = _visit(c, "R0006")
    url = _start(c, vid, "moving-within")
    assert _finish_moving_within(c, url, c.get(url).text).status_code == 303
    visit = srv.db.read_sync(lambda conn: load_visit(conn, vid))
    assert visit is not None
    lib = load_library()

    class _Db:  # the server's SQLite file, read as Database.read does (the loop here is asyncio.run's own)
        async def read(self, fn: Any) -> Any:
            with sqlite3.connect(srv.settings.db_path) as conn:
                return fn(conn)

    class _Catalog:
        async def get(self, pid: str, version: str) -> tuple[Any, bool]:
            return lib.procedures[pid][version], False

    evaluated: list[str] = []
    real = vd.required_docs
    monkeypatch.setattr(vd, "required_docs", lambda proc, answers: evaluated.append(proc.id) or real(proc, answers))
    svc: Any = SimpleNamespace(db=_Db(), catalog=_Catalog())
    printed = asyncio.run(vd.visit_applications(svc, visit, documents=False))
    assert sorted(a.procedure.id for a in printed) == ["juminhyo-copy", "tenkyo"]
    assert evaluated == [] and all(a.documents == [] for a in printed)
    listed = asyncio.run(vd.visit_applications(svc, visit))
    assert sorted(evaluated) == ["juminhyo-copy", "tenkyo"] and any(a.documents for a in listed)
