"""Shared records of outreach staff (households from their assignments) and submissions over sync: the
same checks as ``POST /api/submissions`` (validation, filer, audit, telemetry once). Real server process."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from typing import Any

from sync.messages import SubmissionPayload
from testsupport.faults import valid_answers


def _q(env: Any, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
    with sqlite3.connect(env.db, timeout=30) as c:
        return c.execute(sql, args).fetchall()


def _seed_registry(env: Any, assignments: dict[str, list[str]]) -> None:
    """The demo registry, and residents assigned to outreach accounts (as ``serve --demo`` does)."""
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry
    from server.storage.db import Database

    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def job(c: sqlite3.Connection) -> None:
        SQLiteRegistry.upsert(c, DEMO_RESIDENTS)
        for account, residents in assignments.items():
            for rid in residents:
                c.execute("INSERT OR IGNORE INTO outreach_assignments (account_id, resident_id, assigned_at)"
                          " VALUES (?, ?, ?)", (account, rid, now))

    with Database.open(env.db) as db:
        db.write_sync(job)


def test_outreach_sees_and_edits_the_households_assigned_to_them(env: Any) -> None:
    a_id, a = env.account("outreach")
    b_id, b = env.account("outreach")
    _, other = env.account("outreach")
    _seed_registry(env, {a_id: ["R0005"], b_id: ["R0006"]})  # both members of household H003
    da, db_, do = env.device(a), env.device(b), env.device(other)
    for d in (da, db_, do):
        d.pull_all()
    # Created once from the registry on first sight: the household and all of its members.
    assert set(da.replica) == {("household", "H003"), ("resident", "R0005"), ("resident", "R0006")}
    assert set(db_.replica) == set(da.replica)
    assert not do.replica  # nothing assigned: nothing visible
    hh = da.replica[("household", "H003")].data
    assert hh["head_name"] == {"family": "髙橋", "given": "健一"} and hh["address"].startswith("東京都千代田区外神田")
    assert [m["id"] for m in hh["members"]] == ["R0005", "R0006"]
    assert "my_number" not in da.replica[("resident", "R0005")].data
    assert _q(env, "SELECT COUNT(*) FROM sync_records WHERE id = 'H003'") == [(1,)]

    # Both edit the same household offline: phone (auto) and the contact log (append) of each survive.
    da.patch("resident", "R0005", {"phone": "090-1111-1111"})
    da.append("household", "H003", "contact_log", {"id": "c-a", "text": "訪問（A）"})
    db_.patch("resident", "R0005", {"phone": "090-2222-2222"})
    db_.append("household", "H003", "contact_log", {"id": "c-b", "text": "電話（B）"})
    db_.patch("resident", "R0005", {"birth_date": "1948-11-04"})
    assert da.sync() and db_.sync() and da.sync()
    assert da.replica == db_.replica
    assert [e["id"] for e in da.replica[("household", "H003")].data["contact_log"]] == ["c-a", "c-b"]
    assert da.replica[("resident", "R0005")].data["phone"] == "090-2222-2222"  # receipt order, flagged
    # The conflict is visible to both assigned workers, not to the other one.
    seen = [c for c in env.http(a)._send("GET", "/api/conflicts").json()["items"] if c["record_id"] == "R0005"]
    assert [(c["field"], c["server"], c["mine"]) for c in seen] == [("phone", "090-1111-1111", "090-2222-2222")]
    assert env.http(other)._send("GET", "/api/conflicts").json() == {"items": [], "cursor": None, "has_more": False}
    # An unassigned worker may not write the household (answered as for a registry id nobody was assigned).
    do.patch("household", "H003", {"address_notes": "勝手に"})
    do.sync()
    assert do.attention and do.attention[0].reason == "registry_record"


def test_submission_over_sync_is_checked_like_the_api(env: Any) -> None:
    _, s = env.account("resident")
    d = env.device(s)
    bad = d.submit(str(uuid.uuid4()), SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                       answers={"copies": 1}))
    telemetry = {"procedure_id": "juminhyo-copy", "procedure_version": "1.1.0",
                 "opened_at": "2026-04-01T10:00:00+09:00", "acknowledged_at": "2026-04-01T10:03:00+09:00",
                 "fields_typed": 5, "fields_prefilled": 2}
    sid = str(uuid.uuid4())
    good = d.submit(sid, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                           answers=valid_answers(), telemetry=telemetry))
    before = _q(env, "SELECT COUNT(*) FROM telemetry WHERE fields_typed = 5 AND fields_prefilled = 2")[0][0]
    assert d.sync()
    rb = d.receipts[bad.mutation_id]
    assert rb.status == "rejected" and rb.reason == "invalid_answers" and rb.message.startswith("入力内容を確認")
    assert rb.result["errors"][0]["code"] == "required"
    assert d.receipts[good.mutation_id].status == "applied"
    assert env.http(s).push([good])[0].status == "duplicate"  # a lost answer: retried, stored nothing new
    after = _q(env, "SELECT COUNT(*), MAX(duration_s) FROM telemetry WHERE fields_typed = 5 AND fields_prefilled = 2")
    assert after[0][0] == before + 1 and after[0][1] == 180
    assert _q(env, "SELECT COUNT(*) FROM submissions WHERE id = ?", (sid,)) == [(1,)]

    # Staff filing for a resident: audited as on the API; an unknown resident is refused.
    staff_id, staff = env.account("counter")
    _seed_registry(env, {})
    st = env.device(staff)
    sid2 = str(uuid.uuid4())
    ok = st.submit(sid2, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                           answers=valid_answers(), on_behalf_of="R0001"))
    unknown = st.submit(str(uuid.uuid4()), SubmissionPayload(procedure_id="juminhyo-copy",
                                                             procedure_version="1.1.0", answers=valid_answers(),
                                                             on_behalf_of="R9999"))
    assert st.sync()
    assert st.receipts[ok.mutation_id].status == "applied"
    assert st.receipts[unknown.mutation_id].reason == "unknown_resident"
    assert _q(env, "SELECT details FROM audit_log WHERE action = 'submission.file_on_behalf' AND subject = ?",
              (f"submission:{sid2}",)) == [('{"resident":"R0001","via":"sync"}',)]
    # A version this server never published is never stored unvalidated: a terminal rejection, as the API's 422.
    sid3 = str(uuid.uuid4())
    never = st.submit(sid3, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="0.0.1",
                                              answers={"x": 1}))
    assert st.sync()
    r3 = st.receipts[never.mutation_id]
    assert (r3.status, r3.reason) == ("rejected", "unknown_procedure") and "公開されていません" in (r3.message or "")
    assert _q(env, "SELECT COUNT(*) FROM submissions WHERE id = ?", (sid3,)) == [(0,)]
    assert staff_id


def test_residents_file_over_sync_only_for_themselves_as_over_the_api(env: Any) -> None:
    from server.storage.db import Database
    from testsupport.sessions import login_as

    _seed_registry(env, {})
    with Database.open(env.db) as db:
        bound = login_as(db, "resident", resident_id="R0003")["cookies"]["madoguchi_session"]
    d = env.device(bound)
    own = d.submit(str(uuid.uuid4()), SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                        answers=valid_answers(), on_behalf_of="R0003"))
    other = d.submit(str(uuid.uuid4()), SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                          answers=valid_answers(), on_behalf_of="R0004"))
    assert d.sync()
    assert d.receipts[own.mutation_id].status == "applied"
    assert (d.receipts[other.mutation_id].status, d.receipts[other.mutation_id].reason) == ("rejected", "forbidden")
    # Roles that do not file are refused by the same policy.
    _, reviewer = env.account("reviewer", department="shimin")
    rv = env.device(reviewer)
    m = rv.submit(str(uuid.uuid4()), SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                       answers=valid_answers()))
    rv.sync()
    assert rv.receipts[m.mutation_id].reason == "forbidden"


def _audit(env: Any, actor: str, action: str) -> list[tuple[Any, dict[str, Any]]]:
    import json

    return [(s, json.loads(d)) for s, d in _q(env, "SELECT subject, details FROM audit_log WHERE actor = ?"
                                                  " AND action = ? ORDER BY id", (actor, action))]


def test_staff_reads_of_shared_records_and_conflicts_are_audited_once_per_read(env: Any) -> None:
    writer_id, writer = env.account("counter")
    reader_id, reader = env.account("counter")
    hid = str(uuid.uuid4())
    w, r = env.device(writer), env.device(reader)
    w.patch("household", hid, {"address": "本町1-1", "phone": "03-0000-0000"})
    assert w.sync()
    r.pull_all()
    # One entry for the pull page(s) that returned the household, with its id and the count.
    pulls = _audit(env, reader_id, "sync.pull")
    assert pulls and all(subject is None for subject, _ in pulls)
    assert any(f"household:{hid}" in d["ids"] and d["count"] == len(d["ids"]) for _, d in pulls)
    # Two offline edits of one auto field: a conflict. Listing and reading it are audited.
    r.patch("household", hid, {"phone": "03-1111-1111"})
    w.patch("household", hid, {"phone": "03-2222-2222"})
    assert r.sync() and w.sync()
    listed = env.http(reader)._send("GET", "/api/conflicts").json()["items"]
    mine = [c for c in listed if c["record_id"] == hid]
    assert len(mine) == 1
    entry = _audit(env, reader_id, "conflict.list")[-1][1]
    assert str(mine[0]["id"]) in entry["ids"] and entry["via"] == "api" and entry["count"] == len(entry["ids"])
    one = env.http(reader)._send("GET", f"/api/conflicts/{mine[0]['id']}")
    assert one.status_code == 200
    assert _audit(env, reader_id, "conflict.read")[-1] == (
        f"conflict:{mine[0]['id']}", {"count": 1, "ids": [str(mine[0]["id"])], "via": "api",
                                     "record": f"household:{hid}"})
    page = env.http(reader)._send("GET", "/console/conflicts")
    assert page.status_code == 200 and _audit(env, reader_id, "conflict.list")[-1][1]["via"] == "console"
    # Absent and not visible: the same 404.
    resident_id, resident = env.account("resident")
    absent = env.http(reader)._send("GET", "/api/conflicts/999999999")
    hidden = env.http(resident)._send("GET", f"/api/conflicts/{mine[0]['id']}")
    assert (absent.status_code, absent.json()) == (hidden.status_code, hidden.json()) == (404, absent.json())
    # A resident pulling their own drafts is not a staff read: no entry.
    d = env.device(resident)
    d.patch("draft", str(uuid.uuid4()), {"procedure_id": "juminhyo-copy"})
    assert d.sync()
    assert _audit(env, resident_id, "sync.pull") == []
    assert writer_id


def test_a_client_id_speaks_for_the_first_account_that_used_it(env: Any) -> None:
    _, a = env.account("counter")
    _, b = env.account("counter")
    da = env.device(a)
    da.patch("household", str(uuid.uuid4()), {"address": "本町1-1"})
    assert da.sync()
    # Another account reusing that device's client id: every mutation refused, nothing applied.
    db_ = env.device(b, client_id=da.client_id)
    hid = str(uuid.uuid4())
    m = db_.patch("household", hid, {"address": "偽の住所"})
    db_.sync()
    r = db_.receipts[m.mutation_id]
    assert (r.status, r.reason) == ("rejected", "client_id_bound")
    assert _q(env, "SELECT COUNT(*) FROM sync_records WHERE id = ?", (hid,)) == [(0,)]
    # The ids the server writes under itself are nobody's.
    for reserved in ("registry", "console:someone"):
        dr = env.device(b, client_id=reserved)
        m = dr.patch("household", str(uuid.uuid4()), {"address": "x"})
        dr.sync()
        assert dr.receipts[m.mutation_id].reason == "client_id_bound"
    # The owner keeps using it.
    m = da.patch("household", hid, {"address": "本町2-2"})
    assert da.sync() and da.receipts[m.mutation_id].status == "applied"


def test_registry_ids_are_reserved_and_hidden_records_look_absent(env: Any) -> None:
    oid, outreach = env.account("outreach")
    _seed_registry(env, {})
    d = env.device(outreach)
    # Either registry id for either type: a resident named like a registry household, or the reverse, too.
    for rtype, rid in (("resident", "R0007"), ("household", "H005"), ("resident", "H001"), ("household", "R0001")):
        m = d.patch(rtype, rid, {"phone": "090-0000-0000"})
        d.sync()
        assert (d.receipts[m.mutation_id].status, d.receipts[m.mutation_id].reason) == ("rejected", "registry_record")
    assert _q(env, "SELECT COUNT(*) FROM sync_records WHERE id IN ('R0007', 'H005', 'H001', 'R0001')") == [(0,)]
    # Deleting someone else's record and a record that does not exist: the same rejection.
    _, counter = env.account("counter")
    c = env.device(counter)
    hidden = str(uuid.uuid4())
    c.patch("household", hidden, {"address": "本町3-3"})
    assert c.sync()
    deletes = [d.delete("household", rid) for rid in (hidden, str(uuid.uuid4()))]
    d.sync()
    assert {(d.receipts[m.mutation_id].reason, d.receipts[m.mutation_id].message) for m in deletes} == {
        ("not_found", "対象の記録が見つかりません")}
    assert oid


def _two_residents_and_a_file(env: Any) -> tuple[Any, Any, bytes, str]:
    """Transports of two resident accounts, a PNG's bytes and sha256, announced by the first."""
    import hashlib

    ta, tb = env.http(env.account("resident")[1]), env.http(env.account("resident")[1])
    data = b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * 8
    sha = hashlib.sha256(data).hexdigest()
    ta.create_blob(sha, len(data))
    return ta, tb, data, sha


def test_blob_offsets_only_for_who_announced_or_may_read_them(env: Any) -> None:
    ta, tb, data, sha = _two_residents_and_a_file(env)
    assert ta.blob_offset(sha) == 0
    theirs = tb._send("HEAD", f"/sync/blobs/{sha}")
    absent = tb._send("HEAD", f"/sync/blobs/{'d' * 64}")
    assert theirs.status_code == absent.status_code == 404
    assert theirs.headers.get("content-type") == absent.headers.get("content-type")
    # Nor may another account append to (and so corrupt) an upload it did not announce.
    ta.patch_blob(sha, 0, data[:8])
    foreign = tb._send("PATCH", f"/sync/blobs/{sha}", content=b"junk", headers={
        "Upload-Offset": "8", "Content-Type": "application/offset+octet-stream"})
    assert foreign.status_code == 404 and ta.blob_offset(sha) == 8
    assert ta.patch_blob(sha, 8, data[8:]) == len(data)


def test_uploading_a_file_someone_else_stored_reveals_nothing_and_proves_possession(env: Any) -> None:
    import hashlib

    ta, tb, data, sha = _two_residents_and_a_file(env)
    assert ta.patch_blob(sha, 0, data) == len(data)  # stored by a
    fresh = hashlib.sha256(data + b"!").hexdigest()
    # To b, a stored file it may not read is announced like a file nobody has: 201, offset 0, incomplete.
    seen = tb._send("POST", "/sync/blobs", json={"sha256": sha, "size": len(data)})
    new = tb._send("POST", "/sync/blobs", json={"sha256": fresh, "size": len(data) + 1})
    assert (seen.status_code, seen.json()["offset"], seen.json()["complete"]) == (201, 0, False)
    assert (new.status_code, new.json()["offset"], new.json()["complete"]) == (201, 0, False)
    assert tb._send("HEAD", f"/sync/blobs/{sha}").headers["Upload-Offset"] == "0"
    # Its chunks are checked against the stored bytes, with a new upload's answers.
    assert tb.patch_blob(sha, 0, data[:10]) == 10
    assert tb._send("HEAD", f"/sync/blobs/{sha}").headers["Upload-Offset"] == "10"
    assert tb.patch_blob(sha, 10, data[10:]) == len(data)
    # Wrong bytes: as a corrupt upload, refused at the last byte, from offset 0.
    tc = env.http(env.account("resident")[1])
    tc._send("POST", "/sync/blobs", json={"sha256": sha, "size": len(data)})
    assert tc.patch_blob(sha, 0, b"\x00" * 10) == 10
    last = tc._send("PATCH", f"/sync/blobs/{sha}", content=data[10:], headers={
        "Upload-Offset": "10", "Content-Type": "application/offset+octet-stream"})
    assert last.status_code == 422 and last.json()["offset"] == 0 and last.json()["type"].endswith("/digest-mismatch")
    # a's own view is unchanged: stored, complete.
    assert ta.blob_offset(sha) == len(data)
    # b proved it holds the bytes: it is b's file now too (deduplicated); c, who failed, still cannot know it.
    assert tb.blob_offset(sha) == len(data)
    assert tc._send("HEAD", f"/sync/blobs/{sha}").status_code == 404


def test_a_submission_naming_someone_elses_file_is_complete_only_once_its_filer_proves_the_bytes(env: Any) -> None:
    """Over sync as over HTTP: naming a stored sha256 is answered as naming a missing file (``missing_blobs``,
    flagged), and neither reading nor completeness follows until the filer's own upload (a possession proof)."""
    import hashlib

    ta, _, data, sha = _two_residents_and_a_file(env)
    assert ta.patch_blob(sha, 0, data) == len(data)  # stored by a
    absent = hashlib.sha256(data + b"?").hexdigest()
    _, session_b = env.account("resident")
    d = env.device(session_b)
    named, never = str(uuid.uuid4()), str(uuid.uuid4())
    for sid, ref in ((named, sha), (never, absent)):
        d.submit(sid, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                        answers=valid_answers(), attachments=[ref]))
    assert d.sync()
    results = {r.result["missing_blobs"][0]: r.result for r in d.receipts.values()}
    assert results[sha]["flags"] == results[absent]["flags"] == ["incomplete_attachments"]
    tb2 = env.http(session_b)
    assert tb2._send("GET", f"/api/attachments/{sha}").status_code == 404
    tb2._send("POST", "/sync/blobs", json={"sha256": sha, "size": len(data)})
    assert tb2.patch_blob(sha, 0, data) == len(data)  # the possession proof
    assert tb2._send("GET", f"/api/attachments/{sha}").content == data
    flags = dict(_q(env, "SELECT id, flags FROM submissions WHERE id IN (?, ?)", (named, never)))
    assert "incomplete_attachments" not in flags[named] and "incomplete_attachments" in flags[never]


def test_a_submission_id_is_a_uuid_over_sync_as_over_the_api(env: Any) -> None:
    """``POST /api/submissions`` takes only a UUID as the submission id (and stores its canonical form):
    over sync an empty, malformed, upper-case or overlong id is a terminal ``bad_request``, never stored."""
    _, session = env.account("resident")
    d = env.device(session)
    bad_ids = ["", "not-a-uuid", "a\nb", "x" * 5000, str(uuid.uuid4()).upper(), "{" + str(uuid.uuid4()) + "}"]
    sent = {sid: d.submit(sid, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                 answers=valid_answers())) for sid in bad_ids}
    good = str(uuid.uuid4())
    ok = d.submit(good, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                          answers=valid_answers()))
    assert d.sync()
    for sid, m in sent.items():
        r = d.receipts[m.mutation_id]
        assert (r.status, r.reason) == ("rejected", "bad_request"), sid
        assert _q(env, "SELECT COUNT(*) FROM submissions WHERE id = ?", (sid,)) == [(0,)]
    assert d.receipts[ok.mutation_id].status == "applied"


def test_a_residents_draft_conflicts_are_theirs_alone(env: Any) -> None:
    """Drafts are their owner's (pulls never return someone else's): so are their conflicts. Counter staff and
    admins, who see every shared record's conflicts, get the same 404 for a resident's draft conflict as for
    one that does not exist, and never find it listed (API and console), nor resolve it."""
    _, resident = env.account("resident")
    did = str(uuid.uuid4())
    a, b = env.device(resident), env.device(resident)
    a.patch("draft", did, {"procedure_id": "juminhyo-copy", "note": "最初"})
    assert a.sync()
    b.pull_all()
    a.patch("draft", did, {"note": "端末A"})
    b.patch("draft", did, {"note": "端末B"})
    assert a.sync() and b.sync()
    own = [c for c in env.http(resident)._send("GET", "/api/conflicts?status=all").json()["items"]
           if c["record_id"] == did]
    assert len(own) == 1 and own[0]["type"] == "draft"
    cid = own[0]["id"]
    for role in ("counter", "admin"):
        _, staff = env.account(role)
        t = env.http(staff)
        listed = t._send("GET", "/api/conflicts?status=all&limit=1000").json()["items"]
        assert cid not in {c["id"] for c in listed}, role
        absent = t._send("GET", "/api/conflicts/999999999")
        hidden = t._send("GET", f"/api/conflicts/{cid}")
        assert (hidden.status_code, hidden.json()) == (absent.status_code, absent.json()) == (404, absent.json())
        assert t._send("POST", f"/api/conflicts/{cid}/resolve", json={"choice": "mine"}).status_code == 404
        assert f"conflict-{cid}\"" not in t._send("GET", "/console/conflicts?status=all").text


def test_malformed_on_behalf_of_and_attachments_get_the_same_decision_over_sync_and_http(env: Any) -> None:
    """One filing policy decides the shapes too: an empty or overlong ``on_behalf_of`` and an ``attachments``
    entry that is not a sha256 are ``bad_request`` over sync as ``POST /api/submissions`` answers 400
    ``bad-request`` (for every filing role), never stored, never silently dropped."""
    _seed_registry(env, {})
    for role in ("counter", "resident"):
        _, session = env.account(role)
        d, t = env.device(session), env.http(session)
        sent = {}
        for who in ("", "R" * 101):
            sid = str(uuid.uuid4())
            sent[sid] = d.submit(sid, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                        answers=valid_answers(), on_behalf_of=who))
            http = t._send("POST", "/api/submissions", json={
                "id": str(uuid.uuid4()), "procedure_id": "juminhyo-copy", "procedure_version": "1.1.0",
                "answers": valid_answers(), "on_behalf_of": who})
            assert http.status_code == 400 and http.json()["type"].endswith("/bad-request"), (role, http.text)
            assert http.json()["errors"][0]["path"] == "on_behalf_of"
        for files in (["not-a-sha"], ["A" * 64], ["a" * 64, "b" * 63]):
            sid = str(uuid.uuid4())
            sent[sid] = d.submit(sid, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                        answers=valid_answers(), attachments=files))
        assert d.sync()
        for sid, m in sent.items():
            r = d.receipts[m.mutation_id]
            assert (r.status, r.reason) == ("rejected", "bad_request"), (role, sid, r)
            assert _q(env, "SELECT COUNT(*) FROM submissions WHERE id = ?", (sid,)) == [(0,)]


def test_a_malformed_upload_offset_is_a_400_never_a_500(env: Any) -> None:
    """``Upload-Offset`` is ASCII digits: a Latin-1 superscript digit (which str.isdigit() accepts but int()
    does not) or a digit run too long for int() is a 400 problem, with no traceback in the log."""
    ta, _, data, sha = _two_residents_and_a_file(env)
    for value in (b"\xb2", b"\xb9\xb3", b"9" * 5000, b"", b"+1", b"1_0"):
        r = ta._send("PATCH", f"/sync/blobs/{sha}", content=data[:4], headers={
            "Upload-Offset": value, "Content-Type": "application/offset+octet-stream"})
        assert r.status_code == 400 and r.json()["type"].endswith("/bad-request"), (value, r.status_code)
    assert ta.blob_offset(sha) == 0
    assert "Traceback" not in env.server.log.read_text(errors="replace")


def test_a_push_that_shows_staff_a_records_current_values_is_audited(env: Any) -> None:
    """A stale edit of a review field is kept back (``server_kept``): nothing is written, but the receipt's
    conflict carries the record's current value to the pusher. That is a staff read of personal data: the
    push is audited with the records it disclosed."""
    _, writer = env.account("counter")
    reader_id, reader = env.account("counter")
    hid = str(uuid.uuid4())
    w, r = env.device(writer), env.device(reader)
    w.patch("household", hid, {"head_name": {"family": "山田", "given": "太郎"}})
    assert w.sync()
    r.pull_all()
    w.patch("household", hid, {"head_name": {"family": "山田", "given": "太一"}})
    assert w.sync()
    before = len(_audit(env, reader_id, "sync.push"))
    m = r.patch("household", hid, {"head_name": {"family": "山田", "given": "次郎"}})
    assert r.sync()
    receipt = r.receipts[m.mutation_id]
    assert receipt.status == "conflict" and receipt.conflicts[0].server == {"family": "山田", "given": "太一"}
    assert receipt.conflicts[0].outcome == "server_kept"
    entries = _audit(env, reader_id, "sync.push")[before:]
    assert len(entries) == 1 and entries[0][1]["disclosed"] == [f"household:{hid}"]


def test_an_unfinished_upload_is_its_uploaders_alone(env: Any) -> None:
    """Knowing a file's sha256 tells nothing of someone else's upload of it and blocks nobody: each account
    uploads into its own unfinished upload (offset 0, its own size), the file is stored once, and whoever
    finishes second is checked against the bytes like the first. The same account resumes its own upload from
    another device."""
    import hashlib

    _, sa = env.account("resident")
    _, sb = env.account("resident")
    ta, ta2, tb, tc = env.http(sa), env.http(sa), env.http(sb), env.http(env.account("resident")[1])
    data = b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * 80
    sha = hashlib.sha256(data).hexdigest()
    chunk = {"Content-Type": "application/offset+octet-stream"}
    assert ta._send("POST", "/sync/blobs", json={"sha256": sha, "size": len(data)}).status_code == 201
    assert ta.patch_blob(sha, 0, data[:300]) == 300
    # Another account, same sha256: a new upload of its own (201, offset 0), whatever size it says.
    b = tb._send("POST", "/sync/blobs", json={"sha256": sha, "size": len(data)})
    c = tc._send("POST", "/sync/blobs", json={"sha256": sha, "size": len(data) + 7})
    assert (b.status_code, b.json()["offset"], b.json()["complete"]) == (201, 0, False)
    assert (c.status_code, c.json()["offset"], c.json()["size"]) == (201, 0, len(data) + 7)
    assert tb._send("HEAD", f"/sync/blobs/{sha}").headers["Upload-Offset"] == "0"
    # Its chunks go to its own upload; the first account's progress is untouched, and resumes on its other device.
    assert tb.patch_blob(sha, 0, data[:100]) == 100
    assert ta2._send("HEAD", f"/sync/blobs/{sha}").headers["Upload-Offset"] == "300"
    again = ta2._send("POST", "/sync/blobs", json={"sha256": sha, "size": len(data)})
    assert (again.status_code, again.json()["offset"]) == (200, 300)
    assert ta2.patch_blob(sha, 300, data[300:]) == len(data)
    # Stored once; the second finisher's bytes are verified too, then it holds (and reads) the file.
    assert tb.patch_blob(sha, 100, data[100:]) == len(data)
    assert tb._send("GET", f"/api/attachments/{sha}").content == data
    wrong = tc._send("PATCH", f"/sync/blobs/{sha}", content=b"\x00" * (len(data) + 7),
                     headers={**chunk, "Upload-Offset": "0"})
    assert wrong.status_code == 422 and tc._send("GET", f"/api/attachments/{sha}").status_code == 404
    assert list(env.attachments.rglob(sha)) and len(list(env.attachments.rglob(sha))) == 1
    assert _q(env, "SELECT COUNT(*) FROM sync_uploads WHERE sha256 = ?", (sha,)) == [(1,)]  # c's, still open
    # A file delivered over HTTP while its sync upload is unfinished: the sync upload is complete for it.
    other = b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * 40
    osha = hashlib.sha256(other).hexdigest()
    assert tb._send("POST", "/sync/blobs", json={"sha256": osha, "size": len(other)}).status_code == 201
    assert tb.patch_blob(osha, 0, other[:50]) == 50
    assert tb._send("POST", "/api/attachments", content=other, headers={"Content-Type": "image/png"}).status_code == 201
    assert _q(env, "SELECT COUNT(*) FROM sync_uploads WHERE sha256 = ?", (osha,)) == [(0,)]  # reserves nothing now
    done = tb._send("POST", "/sync/blobs", json={"sha256": osha, "size": len(other)})
    assert (done.status_code, done.json()["offset"], done.json()["complete"]) == (200, len(other), True)
    assert _q(env, "SELECT COUNT(*) FROM sync_uploads WHERE sha256 = ?", (osha,)) == [(0,)]


def test_a_registry_id_taken_into_sync_looks_like_one_that_is_not(env: Any) -> None:
    """Registry ids are guessable: to a worker who may not see it, a registry household or resident that was
    assigned to someone (so now a shared record) gets the same answer as one nobody was assigned."""
    a_id, a = env.account("outreach")
    _, b = env.account("outreach")
    _seed_registry(env, {a_id: ["R0010"]})
    env.device(a).pull_all()
    assert _q(env, "SELECT COUNT(*) FROM sync_records WHERE id IN ('H006', 'R0010')") == [(2,)]
    assert _q(env, "SELECT COUNT(*) FROM sync_records WHERE id IN ('H004', 'R0007')") == [(0,)]
    d = env.device(b)
    sent = {(t, rid): d.patch(t, rid, {"phone": "090-0000-0000"})
            for t, rid in (("household", "H006"), ("household", "H004"), ("resident", "R0010"), ("resident", "R0007"))}
    d.sync()
    answers = {k: (d.receipts[m.mutation_id].status, d.receipts[m.mutation_id].reason, d.receipts[m.mutation_id].message)
               for k, m in sent.items()}
    assert len(set(answers.values())) == 1 and next(iter(answers.values()))[:2] == ("rejected", "registry_record")
