"""Issue 12 point 6, server side: the application's timeline as the resident sees it, and the reply to a
request for information (追加情報が必要) stored exactly once over HTTP and over sync, by one policy.

A real server (uvicorn on loopback, a SQLite file)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import answers, make_proc, start_server
from testsupport.servers import AppServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 64


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp: Path = tmp_path_factory.mktemp("follow")
    counter = make_proc("1.0.0", id="counter-proc", sections=[
        {"id": "main", "title": {"ja": "申請"}, "fields": [{"id": "note", "type": "text", "label": {"ja": "備考"}}]},
        {"id": "desk", "title": {"ja": "窓口"}, "staff_only": True,
         "fields": [{"id": "desk_memo", "type": "text", "label": {"ja": "窓口メモ"}}]}])
    s = start_server(tmp, [make_proc(), counter])
    yield s
    s.stop()


def _filed(srv: AppServer, resident: httpx.Client) -> str:
    r = resident.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": "test-proc",
                                                "procedure_version": "1.0.0", "answers": answers()})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _needs_info(srv: AppServer, sid: str, message: str = "住民票の写しを添付してください") -> httpx.Client:
    reviewer = srv.login("reviewer", department="shimin")
    go = lambda status, comment=None, visible=True: reviewer.post(  # noqa: E731
        f"/api/submissions/{sid}/status", json={"status": status, "comment": comment, "visible_to_resident": visible})
    assert go("in_review", "内部メモ: 前回の申請と照合", False).status_code == 200
    assert go("needs_info", message).status_code == 200
    return reviewer


def _push(c: httpx.Client, *mutations: dict[str, Any]) -> list[dict[str, Any]]:
    r = c.post("/sync/push", json={"mutations": list(mutations)})
    assert r.status_code == 200, r.text
    return list(r.json()["receipts"])


def _respond_mutation(sid: str, response: dict[str, Any], *, client: str, seq: int) -> dict[str, Any]:
    return {"mutation_id": str(uuid.uuid4()), "client_id": client, "client_seq": seq, "kind": "submission.respond",
            "entity": {"type": "submission", "id": sid}, "response": response}


def test_the_timeline_shows_every_step_and_only_the_messages_meant_for_the_resident(srv: AppServer) -> None:
    resident = srv.login("resident")
    sid = _filed(srv, resident)
    reviewer = _needs_info(srv, sid)
    mine = resident.get(f"/api/submissions/{sid}").json()
    steps = [(h["from_status"], h["to_status"], h["comment"]) for h in mine["history"]]
    assert steps == [(None, "received", None), ("received", "in_review", None),
                     ("in_review", "needs_info", "住民票の写しを添付してください")]
    assert "内部メモ" not in str(mine)  # the internal comment never reaches the resident
    assert all(h["actor"] in (None, resident.get("/api/session").json()["account"]["id"]) for h in mine["history"])
    assert all({"at", "from_status", "to_status", "comment", "files"} <= set(h) for h in mine["history"])
    # Staff see the internal comment and who wrote what.
    staff = reviewer.get(f"/api/submissions/{sid}").json()
    assert staff["history"][1]["comment"] == "内部メモ: 前回の申請と照合" and staff["history"][1]["actor"]
    listed = {s["id"]: s for s in resident.get("/api/submissions").json()}
    assert listed[sid]["status"] == "needs_info" and listed[sid]["updated_at"] >= listed[sid]["received_at"]


def test_a_reply_over_http_is_stored_once_and_shown_to_staff(srv: AppServer) -> None:
    resident = srv.login("resident")
    sid = _filed(srv, resident)
    reviewer = _needs_info(srv, sid)
    sha = hashlib.sha256(PNG).hexdigest()
    assert resident.post("/api/attachments", content=PNG, headers={"Content-Type": "image/png"}).status_code == 201
    reply = {"id": str(uuid.uuid4()), "comment": "住民票を添付しました",
             "files": [{"sha256": sha, "size": len(PNG), "name": "juminhyo.png", "type": "image/png"}]}
    first = resident.post(f"/api/submissions/{sid}/respond", json=reply)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "in_review"
    again = resident.post(f"/api/submissions/{sid}/respond", json=reply)  # a retry after a lost answer
    assert again.status_code == 200 and again.json()["history"] == first.json()["history"]
    other = resident.post(f"/api/submissions/{sid}/respond", json={**reply, "comment": "別の文"})
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    history = reviewer.get(f"/api/submissions/{sid}").json()["history"]
    replies = [h for h in history if h["from_status"] == "needs_info"]
    assert len(replies) == 1 and replies[0]["comment"] == "住民票を添付しました"
    assert replies[0]["files"] == reply["files"]
    assert reviewer.get(f"/api/attachments/{sha}").content == PNG  # linked: the reviewer reads the file
    page = reviewer.get(f"/console/submissions/{sid}").text
    assert "住民票を添付しました" in page and "juminhyo.png" in page
    # A new reply when nothing is asked any more: 409, nothing written.
    late = resident.post(f"/api/submissions/{sid}/respond", json={"id": str(uuid.uuid4()), "comment": "追加"})
    assert late.status_code == 409 and late.json()["type"].endswith("/invalid-transition")


def test_a_reply_over_sync_is_applied_once_even_when_sent_again_and_over_http(srv: AppServer) -> None:
    resident = srv.login("resident")
    sid = _filed(srv, resident)
    reviewer = _needs_info(srv, sid)
    client = str(uuid.uuid4())
    reply = {"id": str(uuid.uuid4()), "comment": "オフラインで書いた返信"}
    m = _respond_mutation(sid, reply, client=client, seq=1)
    (r1,) = _push(resident, m)
    assert r1["status"] == "applied" and r1["result"]["status"] == "in_review" and r1["result"]["created"], r1
    (r2,) = _push(resident, m)  # the same mutation again (the answer was lost)
    assert r2["status"] == "duplicate" and r2["original_status"] == "applied"
    (r3,) = _push(resident, _respond_mutation(sid, reply, client=client, seq=2))  # re-queued under a new mutation id
    assert r3["status"] == "applied" and r3["result"]["created"] is False
    assert resident.post(f"/api/submissions/{sid}/respond", json=reply).status_code == 200  # and over HTTP
    history = reviewer.get(f"/api/submissions/{sid}").json()["history"]
    assert [h["comment"] for h in history if h["from_status"] == "needs_info"] == ["オフラインで書いた返信"]


def test_another_resident_gets_the_answer_of_an_absent_submission(srv: AppServer) -> None:
    owner, other = srv.login("resident"), srv.login("resident")
    sid = _filed(srv, owner)
    _needs_info(srv, sid)
    body = {"id": str(uuid.uuid4()), "comment": "なりすまし"}
    hidden = other.post(f"/api/submissions/{sid}/respond", json=body)
    absent = other.post(f"/api/submissions/{uuid.uuid4()}/respond", json=body)
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json() == absent.json()
    client = str(uuid.uuid4())
    (h,) = _push(other, _respond_mutation(sid, body, client=client, seq=1))
    (a,) = _push(other, _respond_mutation(str(uuid.uuid4()), {**body, "id": str(uuid.uuid4())}, client=client, seq=2))
    assert h["status"] == a["status"] == "rejected"
    assert (h["reason"], h["message"]) == (a["reason"], a["message"]) == ("not_found", "申請が見つかりません")
    assert owner.get(f"/api/submissions/{sid}").json()["status"] == "needs_info"  # nothing written


@pytest.mark.parametrize(("body", "status", "slug"), [
    ({"comment": "  "}, 422, "empty-response"),
    ({"id": "not-a-uuid", "comment": "x"}, 400, "bad-request"),
    ({"comment": "x", "files": [{"sha256": "A" * 64, "size": 3}]}, 400, "bad-request"),
    ({"comment": "x" * 4001}, 400, "bad-request"),
    ({"comment": "x", "surprise": 1}, 400, "bad-request"),
    ({"answers": {"copies": 99}}, 422, "invalid-answers"),
])
def test_bad_replies_are_refused_the_same_way_on_both_paths(srv: AppServer, body: dict[str, Any], status: int,
                                                            slug: str) -> None:
    resident = srv.login("resident")
    sid = _filed(srv, resident)
    _needs_info(srv, sid)
    r = resident.post(f"/api/submissions/{sid}/respond", json=body)
    assert r.status_code == status and r.json()["type"].endswith(f"/{slug}"), r.text
    (receipt,) = _push(resident, _respond_mutation(sid, body, client=str(uuid.uuid4()), seq=1))
    assert receipt["status"] == "rejected" and receipt["reason"] == slug.replace("-", "_"), receipt
    assert resident.get(f"/api/submissions/{sid}").json()["status"] == "needs_info"


def test_completed_and_rejected_carry_their_reason_to_the_resident(srv: AppServer) -> None:
    resident = srv.login("resident")
    sid = _filed(srv, resident)
    reviewer = srv.login("reviewer", department="shimin")
    for status, comment in (("in_review", None), ("rejected", "申請の対象外です（市外にお住まいのため）"),
                            ("completed", None)):
        assert reviewer.post(f"/api/submissions/{sid}/status",
                             json={"status": status, "comment": comment}).status_code == 200
    mine = resident.get(f"/api/submissions/{sid}").json()
    assert mine["status"] == "completed"
    assert [h["comment"] for h in mine["history"] if h["to_status"] == "rejected"] == [
        "申請の対象外です（市外にお住まいのため）"]


def test_a_reply_cannot_answer_a_staff_only_field(srv: AppServer) -> None:
    """The respond policy refuses what the filing policy refuses: a resident writing a field for staff."""
    resident = srv.login("resident")
    r = resident.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": "counter-proc",
                                                "procedure_version": "1.0.0", "answers": {"note": "a"}})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    _needs_info(srv, sid)
    bad = resident.post(f"/api/submissions/{sid}/respond", json={"answers": {"desk_memo": "書き換え"}})
    assert bad.status_code == 422 and bad.json()["type"].endswith("/staff-only-field"), bad.text
    (receipt,) = _push(resident, _respond_mutation(sid, {"id": str(uuid.uuid4()), "answers": {"desk_memo": "x"}},
                                                   client=str(uuid.uuid4()), seq=1))
    assert receipt["status"] == "rejected" and receipt["reason"] == "staff_only_field"
    ok = resident.post(f"/api/submissions/{sid}/respond", json={"answers": {"note": "b"}, "comment": "直しました"})
    assert ok.status_code == 200 and ok.json()["answers"] == {"note": "b"}, ok.text


@pytest.mark.parametrize("status", ["needs_info", "rejected"])
def test_asking_for_information_or_rejecting_needs_a_message_the_resident_reads(srv: AppServer, status: str) -> None:
    """The PWA tells the resident to read the city's message: there is always one (API path; the console
    form goes through the same change_status, test_console_nojs)."""
    sid = _filed(srv, srv.login("resident"))
    reviewer = srv.login("reviewer", department="shimin")
    url = f"/api/submissions/{sid}/status"
    assert reviewer.post(url, json={"status": "in_review"}).status_code == 200
    for body in ({}, {"comment": "   "}, {"comment": "内部: 書類不備", "visible_to_resident": False}):
        r = reviewer.post(url, json={"status": status, **body})
        assert r.status_code == 422, (body, r.text)
        assert r.json()["type"].endswith("/resident-message-required") and r.json()["errors"][0]["path"] == "comment"
        assert r.headers["content-type"].startswith("application/problem+json")
    assert reviewer.get(f"/api/submissions/{sid}").json()["status"] == "in_review"  # nothing written
    assert reviewer.post(url, json={"status": status, "comment": "理由をお知らせします"}).status_code == 200
