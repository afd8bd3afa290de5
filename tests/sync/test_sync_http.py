"""The sync protocol against the real server process and SQLite file (docs/sync.md)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import uuid
from typing import Any

import msgspec

from sync.client import Device
from sync.messages import EntityRef, FieldChange, Mutation, SubmissionPayload
from testsupport.faults import valid_answers
from testsupport.inmemory import InMemoryServer


def _m(client: str, seq: int, rtype: str, rid: str, changes: dict[str, Any], base: int | None = None,
       kind: str = "record.patch", mid: str | None = None) -> Mutation:
    return Mutation(mutation_id=mid or str(uuid.uuid4()), client_id=client, client_seq=seq, kind=kind,  # type: ignore[arg-type]
                    entity=EntityRef(rtype, rid), base_version=base,
                    changes={k: FieldChange(*v) for k, v in changes.items()})


def _n(text: str) -> dict[str, str]:
    """A person's name as records hold it ({family, given}) from "姓 名"."""
    family, _, given = text.partition(" ")
    return {"family": family, "given": given}


def _q(env: Any, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
    with sqlite3.connect(env.db) as c:
        return c.execute(sql, args).fetchall()


def test_lost_ack_is_applied_once_and_answered_with_the_stored_receipt(env: Any) -> None:
    _, s = env.account("counter")
    t = env.http(s)
    m = _m("dev-a", 1, "household", "lost-ack", {"address": (None, "札幌")})
    first = t.push([m])[0]  # pretend this response never reached the device
    again = t.push([m])[0]
    assert first.status == "applied" and again.status == "duplicate" and again.original_status == "applied"
    assert again.version == first.version and again.seq == first.seq
    assert _q(env, "SELECT COUNT(*) FROM sync_record_versions WHERE mutation_id = ?", (m.mutation_id,)) == [(1,)]


def test_same_key_different_body_is_422_and_changes_nothing(env: Any, raw: Any) -> None:
    _, s = env.account("counter")
    t = env.http(s)
    m = _m("dev-b", 1, "household", "reuse", {"address": (None, "仙台")})
    t.push([m])
    other = _m("dev-b", 1, "household", "reuse", {"address": (None, "盛岡")}, mid=m.mutation_id)
    fresh = _m("dev-b", 2, "household", "reuse-2", {"address": (None, "秋田")})
    body = msgspec.json.encode({"mutations": [fresh, other]})
    resp = raw(s, "POST", "/sync/push", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["mutation_ids"] == [m.mutation_id]
    assert _q(env, "SELECT data FROM sync_records WHERE id = 'reuse'") == [('{"address":"仙台"}',)]
    assert _q(env, "SELECT COUNT(*) FROM sync_records WHERE id = 'reuse-2'") == [(0,)]  # whole push refused


def test_parallel_duplicates_have_one_effect(env: Any) -> None:
    _, s = env.account("counter")
    m = _m("dev-c", 1, "household", "parallel", {"notes": ([], [{"id": "n1", "text": "訪問"}])})
    transports = [env.http(s) for _ in range(4)]
    out: list[Any] = []
    barrier = threading.Barrier(4)

    def go(t: Any) -> None:
        barrier.wait()
        out.append(t.push([m])[0])

    threads = [threading.Thread(target=go, args=(t,)) for t in transports]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(r.status for r in out) == ["applied", "duplicate", "duplicate", "duplicate"]
    assert _q(env, "SELECT COUNT(*) FROM sync_record_versions WHERE mutation_id = ?", (m.mutation_id,)) == [(1,)]


def test_stale_edits_to_different_fields_both_apply(env: Any) -> None:
    _, s1 = env.account("counter")
    a = env.device(s1)
    a.patch("household", "h-disjoint", {"address": "旧住所", "phone": "011-000-0000"})
    assert a.sync()
    b = env.device(s1)
    b.pull_all()
    a.patch("household", "h-disjoint", {"address": "新住所"})
    b.patch("household", "h-disjoint", {"phone": "090-1111-2222"})  # offline, stale base
    assert a.sync() and b.sync() and a.sync()
    assert b.receipts[next(reversed(b.receipts))].status == "merged"
    assert a.replica == b.replica
    assert a.view("household", "h-disjoint") == {"address": "新住所", "phone": "090-1111-2222"}


def test_same_field_auto_and_review_keep_all_three_values_and_resolve_is_audited(env: Any, raw: Any) -> None:
    _, s = env.account("counter")
    a, b = env.device(s), env.device(s)
    a.patch("household", "h-clash", {"address": "A町", "name": _n("山田 太郎")})
    assert a.sync()
    b.pull_all()
    a.patch("household", "h-clash", {"address": "B町", "name": _n("山田 太朗")})
    b.patch("household", "h-clash", {"address": "C町", "name": _n("山田 多郎")})
    assert a.sync() and b.sync() and a.sync()
    rec = b.receipts[next(reversed(b.receipts))]
    assert rec.status == "conflict"
    by_field = {c.field: c for c in rec.conflicts}
    assert by_field["address"].outcome == "mine_applied" and by_field["address"].server == "B町"
    assert by_field["name"].outcome == "server_kept" and by_field["name"].mine == _n("山田 多郎")
    assert b.view("household", "h-clash") == {"address": "C町", "name": _n("山田 太朗")}
    assert [e.state for e in b.attention] == ["needs_review"]
    resp = raw(s, "GET", "/api/conflicts")
    open_ = [c for c in resp.json()["items"] if c["record_id"] == "h-clash"]
    assert {c["field"] for c in open_} == {"address", "name"}
    name = next(c for c in open_ if c["field"] == "name")
    assert (name["base"], name["server"], name["mine"], name["current"]) == (
        _n("山田 太郎"), _n("山田 太朗"), _n("山田 多郎"), _n("山田 太朗"))
    page = raw(s, "GET", "/console/conflicts")
    assert page.status_code == 200 and "山田 多郎" in page.text and "端末の値を残す" in page.text
    assert "世帯「山田 太朗」— 氏名" in page.text  # record and field named for people
    done = raw(s, "POST", f"/api/conflicts/{name['id']}/resolve", json={"choice": "mine"})
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    again = raw(s, "POST", f"/api/conflicts/{name['id']}/resolve", json={"choice": "server"})
    assert again.status_code == 409
    # The same decision without JavaScript: the console form (urlencoded, CSRF token in the form).
    addr = next(c for c in open_ if c["field"] == "address")
    form = raw(s, "POST", f"/console/conflicts/{addr['id']}/resolve", data={"choice": "custom", "value": "B町 / C町"})
    assert form.status_code == 303 and form.headers["location"].startswith("/console/conflicts")
    # A form decided twice gets the console's error page, inside its frame, with the way back.
    twice = raw(s, "POST", f"/console/conflicts/{addr['id']}/resolve", data={"choice": "server"})
    assert twice.status_code == 409 and "この競合はすでに対応済みです。" in twice.text
    assert 'href="/console/conflicts"' in twice.text and "審査コンソール" in twice.text
    assert raw(s, "GET", f"/api/conflicts/{addr['id']}").json()["resolved_value"] == "B町 / C町"
    # Who resolved each one: the staff member's display name and role, never the account id.
    resolved = raw(s, "GET", "/console/conflicts", params={"status": "resolved"}).text
    resolver = raw(s, "GET", f"/api/conflicts/{addr['id']}").json()["resolved_by"]
    assert "test counter（窓口）" in resolved and resolver not in resolved
    assert a.sync() and a.view("household", "h-clash")["name"] == _n("山田 多郎")
    assert a.view("household", "h-clash")["address"] == "B町 / C町"
    assert _q(env, "SELECT COUNT(*) FROM audit_log WHERE action = 'sync.conflict.resolve' AND subject = ?",
              ("household:h-clash",)) == [(2,)]


def test_self_lineage_lost_ack_then_re_edit_is_no_conflict_but_foreign_edit_is(env: Any) -> None:
    _, s = env.account("counter")
    t = env.http(s)
    t.push([_m("dev-l", 1, "household", "lineage", {"name": (None, _n("一"))})])
    t.push([_m("dev-l", 2, "household", "lineage", {"name": (_n("一"), _n("二"))}, base=1)])  # ack "lost"
    r = t.push([_m("dev-l", 3, "household", "lineage", {"name": (_n("一"), _n("三"))}, base=1)])[0]
    assert r.status == "merged" and r.conflicts == []
    t.push([_m("dev-x", 1, "household", "lineage", {"name": (_n("三"), _n("外"))}, base=3)])
    r = t.push([_m("dev-l", 4, "household", "lineage", {"name": (_n("一"), _n("四"))}, base=1)])[0]
    assert r.status == "conflict" and r.conflicts[0].outcome == "server_kept"


def test_edit_vs_delete(env: Any) -> None:
    _, s = env.account("counter")
    a, b = env.device(s), env.device(s)
    a.patch("household", "h-del", {"address": "X"})
    assert a.sync()
    b.pull_all()
    a.delete("household", "h-del")
    b.patch("household", "h-del", {"address": "Y"})
    assert a.sync() and b.sync() and a.sync()
    r = b.receipts[next(reversed(b.receipts))]
    assert r.status == "conflict" and r.conflicts[0].outcome == "edit_on_deleted"
    assert r.conflicts[0].mine == {"address": "Y"}  # the edit is kept, not dropped
    assert b.replica[("household", "h-del")].deleted  # and the record is not silently resurrected
    # the other way round: a stale delete of an edited record is refused and recorded
    a.patch("household", "h-del2", {"address": "X"})
    assert a.sync()
    b.pull_all()
    a.patch("household", "h-del2", {"address": "Z"})
    b.delete("household", "h-del2")
    assert a.sync() and b.sync()
    r = b.receipts[next(reversed(b.receipts))]
    assert r.status == "conflict" and r.conflicts[0].outcome == "delete_refused"
    assert not b.replica[("household", "h-del2")].deleted


def test_poison_and_closed_case_are_terminal_and_do_not_block_the_queue(env: Any) -> None:
    _, s = env.account("counter")
    d = env.device(s)
    d.patch("case", "case-1", {"title": "訪問"})
    d.command("case", "case-1", "set_status", {"to": "closed"})
    assert d.sync()
    d.command("case", "case-1", "poison")
    d.command("case", "case-1", "set_status", {"to": "in_progress"})
    d.patch("case", "case-1", {"title": "訪問（完了）"})
    assert d.sync()
    reasons = [e.reason for e in d.attention]
    assert reasons == ["internal_error", "case_closed"]
    assert d.view("case", "case-1") == {"title": "訪問（完了）", "status": "closed"}
    assert "すでに完了" in (d.attention[1].receipt.message or "")


def test_pull_is_scoped_to_what_the_account_may_see(env: Any) -> None:
    _counter_id, counter = env.account("counter")
    out_id, outreach = env.account("outreach")
    _, other_outreach = env.account("outreach")
    _, resident = env.account("resident")
    _, reviewer = env.account("reviewer", "fukushi")
    c = env.device(counter)
    c.patch("household", "scoped-1", {"address": "X", "assignees": [out_id], "department": "fukushi"})
    c.patch("household", "scoped-2", {"address": "Y", "department": "shimin"})
    assert c.sync()
    r = env.device(resident)
    r.patch("draft", "my-draft", {"procedure_id": "juminhyo", "copies": 1})
    assert r.sync()
    seen = {}
    for name, sess in [("outreach", outreach), ("other", other_outreach), ("resident", resident),
                       ("reviewer", reviewer)]:
        d = env.device(sess)
        d.pull_all()
        seen[name] = {k[1] for k in d.replica}
    assert "scoped-1" in seen["outreach"] and "scoped-2" not in seen["outreach"]
    assert not {"scoped-1", "scoped-2"} & seen["other"]
    assert seen["resident"] == {"my-draft"}
    assert "scoped-1" in seen["reviewer"] and "scoped-2" not in seen["reviewer"] and "my-draft" not in seen["reviewer"]
    # a resident cannot write a shared record, nor someone else's draft
    bad = env.device(resident)
    bad.patch("household", "scoped-1", {"address": "hack"})
    o = env.device(other_outreach)
    o.patch("draft", "my-draft", {"copies": 9})
    assert bad.sync() and o.sync()
    assert bad.attention[0].reason == "forbidden" and o.attention[0].reason == "forbidden"


def test_interrupted_pull_resumes_without_gaps_or_duplicates(env: Any) -> None:
    _, s = env.account("counter")
    w = env.device(s, batch=50)
    for i in range(120):
        w.patch("household", f"page-{i}", {"n": i})
    assert w.sync()
    d = env.device(s, page=7)
    seen: list[tuple[str, int]] = []
    cursor = 0
    while True:
        page = d.transport.pull(cursor, 7)
        if len(seen) % 3 == 0 and page.has_more:
            page = d.transport.pull(cursor, 7)  # the first answer was "lost": ask again from the same cursor
        seen += [(c.id, c.seq) for c in page.changes]
        cursor = page.cursor
        if not page.has_more:
            break
    ids = [i for i, _ in seen]
    assert len(ids) == len(set(ids))
    assert {f"page-{i}" for i in range(120)} <= set(ids)
    assert [q for _, q in seen] == sorted(q for _, q in seen)


def test_outbox_entry_is_kept_until_the_pull_cursor_passes_its_receipt(env: Any) -> None:
    _, s = env.account("counter")
    d = env.device(s)
    d.patch("household", "outbox-rule", {"address": "A"})
    d.push_once()
    assert d.outbox and d.outbox[0].state == "sent"
    assert d.view("household", "outbox-rule") == {"address": "A"}  # still shown from the outbox
    d.pull_all()
    assert not d.outbox and d.replica[("household", "outbox-rule")].data == {"address": "A"}


def test_resumable_upload_cut_at_random_offsets_and_submission_before_its_files(env: Any, raw: Any) -> None:
    import random

    from testsupport.faults import FaultyTransport

    _, s = env.account("resident")
    blob = b"\x89PNG\r\n\x1a\n" + os.urandom(700_000)
    sha = hashlib.sha256(blob).hexdigest()
    d = env.device(s)
    sid = str(uuid.uuid4())
    sub = d.submit(sid, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                    answers=valid_answers(), attachments=[sha]))
    assert d.sync()  # data first: the file is not needed for the submission to be safe
    r = next(iter(d.receipts.values()))
    assert r.status == "applied" and r.result["missing_blobs"] == [sha] and r.result["receipt_number"]
    assert "incomplete_attachments" in _q(env, "SELECT flags FROM submissions WHERE id = ?", (sid,))[0][0]
    faulty = FaultyTransport(env.server.url, s, random.Random(5), drop_request=0, drop_response=0.2,
                             duplicate=0, delay=0, cut_chunk=0.6)
    up = Device(faulty, chunk=64 * 1024)
    up.attach(blob)
    for _ in range(200):
        try:
            up.upload_blobs()
            break
        except Exception:
            continue
    assert not up.blob_queue and faulty.stats.cut_chunks > 0
    path = env.attachments / sha[:2] / sha
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert "incomplete_attachments" not in _q(env, "SELECT flags FROM submissions WHERE id = ?", (sid,))[0][0]
    again = raw(s, "POST", "/sync/blobs", json={"sha256": sha, "size": len(blob)})
    assert again.status_code == 200 and again.json()["complete"] is True  # dedup
    head = raw(s, "HEAD", f"/sync/blobs/{sha}")
    assert head.headers["Upload-Offset"] == str(len(blob))
    # replaying the submission (lost ack) gives the same receipt number, one row
    rep = env.http(s).push([sub])[0]
    assert rep.status == "duplicate" and rep.result["receipt_number"] == r.result["receipt_number"]
    assert _q(env, "SELECT COUNT(*) FROM submissions WHERE id = ?", (sid,)) == [(1,)]


def test_expired_session_keeps_the_outbox(env: Any) -> None:
    d = env.device("not-a-session")
    d.patch("draft", "offline-draft", {"q": 1})
    assert d.sync() is False
    assert d.needs_sign_in and len(d.outbox) == 1 and d.outbox[0].state == "waiting"
    exported = msgspec.json.decode(d.export_outbox())
    assert exported["entries"][0]["mutation"]["entity"] == {"type": "draft", "id": "offline-draft"}


def test_in_memory_transport_matches_the_protocol() -> None:
    srv = InMemoryServer()
    a = Device(srv.transport("u1", "counter"))
    b = Device(srv.transport("u2", "counter"))
    a.patch("household", "h", {"name": _n("A")})
    assert a.sync()
    b.pull_all()
    a.patch("household", "h", {"name": _n("B")})
    b.patch("household", "h", {"name": _n("C")})
    assert a.sync() and b.sync() and a.sync()
    assert a.replica == b.replica and a.view("household", "h") == {"name": _n("B")}


def test_conflict_lists_are_paged_never_cut(env: Any, raw: Any) -> None:
    _, s = env.account("counter")
    a, b = env.device(s), env.device(s)
    ids = [f"h-page-{i}" for i in range(5)]
    for rid in ids:
        a.patch("household", rid, {"address": "元"})
    assert a.sync()
    b.pull_all()
    for rid in ids:
        a.patch("household", rid, {"address": "A"})
        b.patch("household", rid, {"address": "B"})
    assert a.sync() and b.sync()
    seen: list[dict[str, Any]] = []
    cursor: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"status": "all", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = raw(s, "GET", "/api/conflicts", params=params).json()
        pages += 1
        assert len(page["items"]) <= 2
        seen += page["items"]
        if not page["has_more"]:
            assert page["cursor"] is None
            break
        assert page["cursor"] == page["items"][-1]["id"]
        cursor = page["cursor"]
    mine = [c for c in seen if c["record_id"] in ids]
    assert sorted(c["record_id"] for c in mine) == sorted(ids)
    assert [c["id"] for c in seen] == sorted({c["id"] for c in seen}, reverse=True), "newest first, none twice"
    assert pages >= 3
    assert raw(s, "GET", "/api/conflicts", params={"limit": 0}).status_code == 400
    # The console pages too: after the newest conflict's id, it is not shown, and the way back is offered.
    newest = seen[0]
    older = raw(s, "GET", "/console/conflicts", params={"status": "all", "cursor": newest["id"]})
    assert older.status_code == 200 and f'id="conflict-{newest["id"]}"' not in older.text
    assert f'id="conflict-{seen[1]["id"]}"' in older.text and "最初のページへ" in older.text


def test_record_ids_and_client_ids_are_bounded(env: Any, raw: Any) -> None:
    """An entity id is 1–200 characters without control characters: anything else is a terminal
    ``bad_request`` for that mutation (never a record nobody can address); a mutation or client id outside
    those bounds makes the push malformed (400, nothing applied)."""
    _, s = env.account("counter")
    t = env.http(s)
    bad = ["", "a\nb", "nul\x00", "x" * 201]
    receipts = t.push([_m("dev-ids", i + 1, "household", rid, {"address": (None, "札幌")}) for i, rid in enumerate(bad)])
    assert [(r.status, r.reason) for r in receipts] == [("rejected", "bad_request")] * len(bad)
    assert _q(env, "SELECT COUNT(*) FROM sync_records WHERE length(id) = 0 OR length(id) > 200"
                   " OR id LIKE '%' || char(10) || '%'") == [(0,)]
    ok = t.push([_m("dev-ids", 9, "household", "y" * 200, {"address": (None, "札幌")})])[0]
    assert ok.status == "applied"
    for field, value in (("client_id", ""), ("client_id", "c" * 201), ("mutation_id", ""), ("mutation_id", "m" * 201)):
        m = msgspec.to_builtins(_m("dev-ids2", 1, "household", "fine", {"address": (None, "札幌")}))
        m[field] = value
        r = raw(s, "POST", "/sync/push", json={"mutations": [m]})
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json"), field
    assert _q(env, "SELECT COUNT(*) FROM sync_records WHERE id = 'fine'") == [(0,)]


def test_nobody_creates_a_record_they_could_not_see(env: Any) -> None:
    """A reviewer sees the shared records of their department: one they create without it (or for another
    department) would be accepted and then invisible to them, every later edit refused. Refused up front."""
    _, s = env.account("reviewer", department="shimin")
    t = env.http(s)
    lost = t.push([_m("dev-rev", 1, "household", "rev-none", {"address": (None, "札幌")}),
                   _m("dev-rev", 2, "household", "rev-other", {"address": (None, "札幌"), "department": (None, "kodomo")})])
    assert [(r.status, r.reason) for r in lost] == [("rejected", "forbidden")] * 2
    mine = t.push([_m("dev-rev", 3, "household", "rev-own", {"address": (None, "札幌"), "department": (None, "shimin")})])[0]
    assert mine.status == "applied"
    again = t.push([_m("dev-rev", 4, "household", "rev-own", {"address": ("札幌", "仙台")}, base=1)])[0]
    assert again.status == "applied"
    assert _q(env, "SELECT id FROM sync_records WHERE id LIKE 'rev-%'") == [("rev-own",)]


def test_a_department_that_is_not_a_string_is_bad_request(env: Any) -> None:
    """A record's ``department`` decides who sees it: an object or a list there is refused as bad_request
    (it used to reach the database as a parameter and come back as a terminal internal_error)."""
    _, s = env.account("counter")
    t = env.http(s)
    junk = [{"a": 1}, ["shimin"], 5, True]
    receipts = t.push([_m("dev-dept", i + 1, "household", f"dept-{i}", {"department": (None, v)})
                       for i, v in enumerate(junk)])
    assert [(r.status, r.reason) for r in receipts] == [("rejected", "bad_request")] * len(junk)
    ok = t.push([_m("dev-dept", 9, "household", "dept-ok", {"department": (None, "shimin")})])[0]
    assert ok.status == "applied"
    assert _q(env, "SELECT department FROM sync_records WHERE id = 'dept-ok'") == [("shimin",)]
