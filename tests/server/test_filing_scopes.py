"""Issue 11: one filing policy over HTTP, scopes of attachments and exports, existence never revealed.

A real server (uvicorn on loopback, a SQLite file) with one procedure whose versions belong to two
departments, so department rules have something to separate.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.storage.submissions import NewSubmission, body_hash, create_many
from tests.server.conftest import answers, make_proc, start_server
from testsupport.servers import AppServer as RunningServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
KODOMO = {"id": "kodomo", "name": {"ja": "こども課"}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp: Path = tmp_path_factory.mktemp("filing")
    # test-proc 1.0.0 belongs to shimin, 2.0.0 to kodomo; "evil" has a formula as a field label.
    evil = make_proc("1.0.0", id="evil", sections=[{"id": "main", "title": {"ja": "申請"}, "fields": [
        {"id": "x", "type": "text", "label": {"ja": "=HYPERLINK(\"http://evil\")"}, "required": True}]}])
    s = start_server(tmp, [make_proc(), make_proc("2.0.0", department=KODOMO), evil])
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


def _file(c: httpx.Client, version: str = "1.0.0", **body: Any) -> httpx.Response:
    payload = {"id": str(uuid.uuid4()), "procedure_id": body.pop("procedure_id", "test-proc"),
               "procedure_version": version, "answers": body.pop("answers", answers()), **body}
    return c.post("/api/submissions", json=payload)


def _audit(srv: RunningServer, actor: str, action: str) -> list[Any]:
    import msgspec

    return srv.db.read_sync(lambda c: [(r[0], msgspec.json.decode(r[1])) for r in c.execute(
        "SELECT subject, details FROM audit_log WHERE actor = ? AND action = ? ORDER BY id", (actor, action))])


def test_residents_file_only_for_themselves(srv: RunningServer) -> None:
    bound = srv.login("resident", resident_id="R0001")
    assert _file(bound, on_behalf_of="R0001").status_code == 201
    other = _file(bound, on_behalf_of="R0002")
    assert other.status_code == 403 and other.json()["type"].endswith("/forbidden")
    unbound = srv.login("resident")
    assert _file(unbound, on_behalf_of="R0001").status_code == 403
    # Staff filing: audited with the resident and the path it came by; an unknown resident is refused.
    counter = srv.login("counter")
    r = _file(counter, on_behalf_of="R0002")
    assert r.status_code == 201, r.text
    assert _audit(srv, counter.account_id, "submission.file_on_behalf") == [  # type: ignore[attr-defined]
        (f"submission:{r.json()['id']}", {"resident": "R0002", "via": "api"})]
    bad = _file(counter, on_behalf_of="R9999")
    assert bad.status_code == 422 and bad.json()["type"].endswith("/unknown-resident")
    never = _file(counter, version="9.9.9")
    assert never.status_code == 422 and never.json()["type"].endswith("/unknown-procedure")


def test_staff_reading_what_they_filed_or_uploaded_is_audited_on_every_path(srv: RunningServer) -> None:
    """Every staff read of personal data is audited (``server.authz.read_is_audited``): a submission the
    counter filed for a resident, read back over the API and in the console, and the file they uploaded for
    it; the resident reading it is not audited."""
    counter = srv.login("counter")
    sha = counter.post("/api/attachments", content=PNG + b"own", headers={"Content-Type": "image/png"}).json()["sha256"]
    doc = {"sha256": sha, "name": "own.png", "size": len(PNG) + 3, "type": "image/png"}
    r = _file(counter, on_behalf_of="R0003", answers=answers(doc=[doc]))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert counter.get(f"/api/submissions/{sid}").status_code == 200
    assert counter.get(f"/console/submissions/{sid}").status_code == 200
    assert counter.get(f"/api/attachments/{sha}").status_code == 200
    reads = _audit(srv, counter.account_id, "submission.read")  # type: ignore[attr-defined]
    assert reads == [(f"submission:{sid}", {"via": "api"}), (f"submission:{sid}", {"via": "console"})]
    assert _audit(srv, counter.account_id, "attachment.read") == [(f"attachment:{sha}", {})]  # type: ignore[attr-defined]
    resident = srv.login("resident", resident_id="R0003")
    assert resident.get(f"/api/submissions/{sid}").status_code == 200
    assert _audit(srv, resident.account_id, "submission.read") == []  # type: ignore[attr-defined]


def test_attachments_are_read_by_who_may_read_their_submission(srv: RunningServer) -> None:
    resident = srv.login("resident")
    sha = resident.post("/api/attachments", content=PNG, headers={"Content-Type": "image/png"}).json()["sha256"]
    doc = {"sha256": sha, "name": "a.png", "size": len(PNG), "type": "image/png"}
    r = _file(resident, answers=answers(doc=[doc]))  # test-proc 1.0.0: department shimin
    assert r.status_code == 201 and "incomplete_attachments" not in r.json()["flags"]
    assert resident.get(f"/api/attachments/{sha}").content == PNG

    shimin = srv.login("reviewer", department="shimin")
    assert shimin.get(f"/api/attachments/{sha}").content == PNG
    assert _audit(srv, shimin.account_id, "attachment.read") == [(f"attachment:{sha}", {})]  # type: ignore[attr-defined]

    # Not theirs and absent: the same answer, byte for byte.
    absent = shimin.get(f"/api/attachments/{'e' * 64}")
    for outsider in (srv.login("reviewer", department="kodomo"), srv.login("resident"), srv.login("configurator")):
        denied = outsider.get(f"/api/attachments/{sha}")
        assert (denied.status_code, denied.json()) == (absent.status_code, absent.json()) == (404, absent.json())

    # A file no submission references yet: only its uploader reads it (staff included).
    loose = resident.post("/api/attachments", content=PNG + b"2", headers={"Content-Type": "image/png"})
    assert srv.login("admin").get(f"/api/attachments/{loose.json()['sha256']}").status_code == 404
    assert resident.get(f"/api/attachments/{loose.json()['sha256']}").status_code == 200


def test_files_named_before_their_upload_are_linked_and_flagged(srv: RunningServer) -> None:
    """A submission names a file before it is uploaded: flagged, and linked so its reviewers can read it."""
    resident = srv.login("resident")
    body = PNG + b"later"
    import hashlib

    sha = hashlib.sha256(body).hexdigest()
    doc = {"sha256": sha, "name": "b.png", "size": len(body), "type": "image/png"}
    r = _file(resident, answers=answers(doc=[doc]))
    assert "incomplete_attachments" in r.json()["flags"]
    linked = srv.db.read_sync(lambda c: [tuple(x) for x in c.execute(
        "SELECT submission_id FROM sync_submission_files WHERE sha256 = ?", (sha,))])
    assert linked == [(r.json()["id"],)]
    # Uploaded afterwards over HTTP: the flag goes, as when the last blob of a sync upload completes.
    assert resident.post("/api/attachments", content=body, headers={"Content-Type": "image/png"}).status_code == 201
    assert "incomplete_attachments" not in resident.get(f"/api/submissions/{r.json()['id']}").json()["flags"]


def _export(c: httpx.Client, **params: Any) -> httpx.Response:
    return c.get("/console/export", params={"format": "csv", **params})


def test_exports_follow_the_queue_department_rule(srv: RunningServer) -> None:
    resident = srv.login("resident")
    shimin_id = _file(resident).json()["id"]
    kodomo_id = _file(resident, version="2.0.0").json()["id"]
    kodomo = srv.login("reviewer", department="kodomo")
    rows = list(csv.DictReader(io.StringIO(_export(kodomo, procedure="test-proc").text)))
    ids = {row["id"] for row in rows}
    assert kodomo_id in ids and shimin_id not in ids
    assert {row["procedure_version"] for row in rows} == {"2.0.0"}
    jsonl = kodomo.get("/console/export", params={"format": "jsonl", "procedure": "test-proc"}).text
    assert kodomo_id in jsonl and shimin_id not in jsonl
    entry = _audit(srv, kodomo.account_id, "submissions.export")[0][1]  # type: ignore[attr-defined]
    assert entry["count"] == len(ids) and set(entry["ids"]) == ids
    admin_ids = {row["id"] for row in csv.DictReader(io.StringIO(_export(srv.login("admin")).text))}
    assert {shimin_id, kodomo_id} <= admin_ids


def test_csv_headers_and_cells_are_inert_and_columns_come_from_definitions(srv: RunningServer) -> None:
    resident = srv.login("resident")
    assert _file(resident, procedure_id="evil", answers={"x": "@SUM(1+1)"}).status_code == 201
    # A submission whose definition is not stored (filed before this rule): its answers' keys are no columns.
    legacy = NewSubmission(id=str(uuid.uuid4()), procedure_id="evil", procedure_version="0.0.1", department=None,
                           answers={"=cmd|' /C calc'!A0": "x", "x": "y"}, flags=["unknown_version"],
                           account_id="someone", on_behalf_of=None,
                           body_hash=body_hash("evil", "0.0.1", {}, None))
    srv.db.write_sync(lambda c: create_many(c, [legacy]))
    text = _export(srv.login("admin"), procedure="evil").text
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert "'=HYPERLINK(\"http://evil\")" in header and "=HYPERLINK(\"http://evil\")" not in header
    assert not any("cmd" in h for h in header)
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]
    assert any(row[header.index("'=HYPERLINK(\"http://evil\")")] == "'@SUM(1+1)" for row in rows)
    assert any(row[0] == legacy.id for row in rows)


def test_absent_and_not_yours_get_the_same_answer(srv: RunningServer) -> None:
    sid = _file(srv.login("resident")).json()["id"]  # department shimin
    outsiders = (srv.login("reviewer", department="kodomo"), srv.login("resident"))
    for path in ("/api/submissions/{}", "/console/submissions/{}"):
        for outsider in outsiders:
            if path.startswith("/console") and outsider is outsiders[1]:
                continue  # residents are refused the console by role, before any lookup
            hidden = outsider.get(path.format(sid))
            absent = outsider.get(path.format(uuid.uuid4()))
            assert (hidden.status_code, hidden.content) == (absent.status_code, absent.content)
            assert hidden.status_code == 404


def test_answers_to_a_never_published_version_are_never_stored(srv: RunningServer) -> None:
    resident = srv.login("resident")
    legacy = NewSubmission(id=str(uuid.uuid4()), procedure_id="test-proc", procedure_version="0.0.1",
                           department="shimin", answers={"copies": 1}, flags=["unknown_version"],
                           account_id=resident.account_id, on_behalf_of=None,  # type: ignore[attr-defined]
                           body_hash=body_hash("test-proc", "0.0.1", {}, None))
    srv.db.write_sync(lambda c: create_many(c, [legacy]))
    r = resident.post(f"/api/submissions/{legacy.id}/respond", json={"answers": {"copies": 99}})
    assert r.status_code == 422 and r.json()["type"].endswith("/unknown-procedure")
    assert resident.get(f"/api/submissions/{legacy.id}").json()["answers"] == {"copies": 1}


def test_naming_someone_elses_file_neither_reads_it_nor_tells_it_exists(srv: RunningServer) -> None:
    """Knowing a file's sha256 is not holding it: a submission naming another account's file is flagged and
    answered as if the file were not stored, its filer cannot read it through that submission, and it is
    complete only once the filer uploads the same bytes themselves (over HTTP or sync)."""
    import hashlib

    owner, thief = srv.login("resident"), srv.login("resident")
    secret = PNG + b"secret passport scan"
    sha = hashlib.sha256(secret).hexdigest()
    assert owner.post("/api/attachments", content=secret, headers={"Content-Type": "image/png"}).status_code == 201
    doc = {"sha256": sha, "name": "p.png", "size": len(secret), "type": "image/png"}
    absent = hashlib.sha256(b"never stored").hexdigest()
    named = _file(thief, answers=answers(doc=[doc]))
    missing = _file(thief, answers=answers(doc=[{**doc, "sha256": absent}]))
    assert named.status_code == missing.status_code == 201
    assert named.json()["flags"] == missing.json()["flags"] == ["incomplete_attachments"]
    assert thief.get(f"/api/attachments/{sha}").status_code == 404
    # A reviewer of the department does not see it through the thief's submission either.
    before = srv.login("reviewer", department="shimin")
    assert before.get(f"/api/attachments/{sha}").status_code == 404
    # Uploading the same bytes is the same answer as for a new file, and then proves the filer holds it.
    up = thief.post("/api/attachments", content=secret, headers={"Content-Type": "image/png"})
    assert up.status_code == 201
    again = thief.post("/api/attachments", content=secret, headers={"Content-Type": "image/png"})
    assert again.status_code == 200  # now it is theirs: a retry is "already stored"
    assert thief.get(f"/api/attachments/{sha}").content == secret
    assert "incomplete_attachments" not in thief.get(f"/api/submissions/{named.json()['id']}").json()["flags"]
    assert "incomplete_attachments" in thief.get(f"/api/submissions/{missing.json()['id']}").json()["flags"]


def test_a_file_added_when_answering_a_request_for_information_reaches_the_reviewer(srv: RunningServer) -> None:
    """"Please attach your ID": the file named in the respond answers is linked to the submission (the
    reviewer reads it) and flagged until its filer has uploaded it, as when filing."""
    import hashlib

    resident = srv.login("resident")
    sid = _file(resident).json()["id"]
    reviewer = srv.login("reviewer", department="shimin")
    assert reviewer.post(f"/api/submissions/{sid}/status", json={"status": "in_review"}).status_code == 200
    assert reviewer.post(f"/api/submissions/{sid}/status", json={"status": "needs_info",
                                                                      "comment": "写しをください"}).status_code == 200
    body = PNG + b"id card"
    sha = hashlib.sha256(body).hexdigest()
    doc = {"sha256": sha, "name": "id.png", "size": len(body), "type": "image/png"}
    r = resident.post(f"/api/submissions/{sid}/respond", json={"answers": {"doc": [doc]}})
    assert r.status_code == 200, r.text
    assert "incomplete_attachments" in r.json()["flags"]  # named before its upload
    assert resident.post("/api/attachments", content=body, headers={"Content-Type": "image/png"}).status_code == 201
    assert "incomplete_attachments" not in resident.get(f"/api/submissions/{sid}").json()["flags"]
    assert reviewer.get(f"/api/attachments/{sha}").content == body


def test_the_console_lists_the_files_the_submission_links(srv: RunningServer) -> None:
    """One rule for what an attachment is (``server.filing.attachment_names``): the console's detail page
    lists exactly the files the writer linked, not every ``sha256`` key an answer happens to carry."""
    resident = srv.login("resident")
    sha = resident.post("/api/attachments", content=PNG + b"console",
                        headers={"Content-Type": "image/png"}).json()["sha256"]
    doc = {"sha256": sha, "name": "juminhyo.png", "size": len(PNG) + 7, "type": "image/png"}
    r = _file(resident, answers=answers(doc=[{**doc, "thumbnail": {"sha256": "f" * 64}}]))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    page = srv.login("reviewer", department="shimin").get(f"/console/submissions/{sid}").text
    linked = srv.db.read_sync(lambda c: [r[0] for r in c.execute(
        "SELECT sha256 FROM sync_submission_files WHERE submission_id = ?", (sid,))])
    assert linked == [sha]
    assert f'href="/api/attachments/{sha}">juminhyo.png<' in page
    assert f"/api/attachments/{'f' * 64}" not in page


def test_chunks_for_unknown_blobs_leave_no_lock_behind(srv: RunningServer) -> None:
    """Each PATCH takes a per-blob lock; one for a blob that does not exist (or is not the caller's) must not
    leave it in the table, or random sha256s grow the server's memory without bound."""
    from server.sync_context import STATE_KEY

    resident = srv.login("resident")
    for i in range(50):
        r = resident.patch(f"/sync/blobs/{i:064x}", content=b"x", headers={
            "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert r.status_code == 404
    assert len(srv.app.state[STATE_KEY].blob_locks) == 0


def _telemetry_rows(srv: RunningServer, typed: int) -> list[tuple[str, str]]:
    return srv.db.read_sync(lambda c: [tuple(r) for r in c.execute(
        "SELECT procedure_id, procedure_version FROM telemetry WHERE fields_typed = ?", (typed,))])


# Telemetry that is not POST /api/telemetry's, or names another procedure or version than the one filed.
BAD_TELEMETRY: list[Any] = [
    {"procedure_id": "test-proc", "procedure_version": "1.0.0", "fields_typed": 41, "name": "山田"},
    {"procedure_id": "test-proc", "procedure_version": "1.0.0", "fields_typed": "41"},
    {"procedure_id": "test-proc", "procedure_version": "1.0.0", "fields_typed": -1},
    {"procedure_id": "test-proc", "procedure_version": "1.0.0", "fields_typed": 2**53 - 1},
    {"procedure_version": "1.0.0", "fields_typed": 41},
    {"procedure_id": "test-proc", "procedure_version": "1.0.0", "fields_typed": 41, "opened_at": "garbage"},
    ["test-proc", "1.0.0"],
    "telemetry",
    {"procedure_id": "evil", "procedure_version": "1.0.0", "fields_typed": 41},
    {"procedure_id": "test-proc", "procedure_version": "2.0.0", "fields_typed": 41},
    {"procedure_id": "test-proc", "procedure_version": "9.9.9", "fields_typed": 41},
]


@pytest.mark.parametrize("telemetry", BAD_TELEMETRY)
def test_bad_telemetry_never_fails_a_filing_and_is_dropped(srv: RunningServer, telemetry: Any) -> None:
    r = _file(srv.login("resident"), telemetry=telemetry)
    assert r.status_code == 201, r.text
    assert _telemetry_rows(srv, 41) == []
    good = {"procedure_id": "test-proc", "procedure_version": "1.0.0", "fields_typed": 42}
    assert _file(srv.login("resident"), telemetry=good).status_code == 201
    assert ("test-proc", "1.0.0") in _telemetry_rows(srv, 42)


def test_a_resident_follows_what_staff_filed_for_them(srv: RunningServer) -> None:
    """The one readability rule (``server.authz.submission_readable``) decides the list too: the resident the
    counter filed for lists it; another resident and an unbound account do not."""
    counter = srv.login("counter")
    r = _file(counter, on_behalf_of="R0004")
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    resident = srv.login("resident", resident_id="R0004")
    own = _file(resident, on_behalf_of="R0004").json()["id"]
    listed = [s["id"] for s in resident.get("/api/submissions").json()]
    assert sid in listed and own in listed and len(listed) == len(set(listed))
    assert resident.get(f"/api/submissions/{sid}").status_code == 200
    for other in (srv.login("resident", resident_id="R0005"), srv.login("resident")):
        assert sid not in [s["id"] for s in other.get("/api/submissions").json()]
    # The counter's own list is what they filed, not every resident's.
    assert sid in [s["id"] for s in counter.get("/api/submissions").json()]
