"""Procedures for two people over HTTP (issue 12 point 5), on a real server and SQLite file.

The first resident files their part (held ``awaiting_partner``, in no queue), invites the partner with a
one-time code, the partner (bound to their own record) redeems it, sees the shared part without identity
numbers, confirms theirs and the whole is filed once through the filing policy. A third resident, staff,
a wrong, spent or expired code, a double confirmation and cancelling are all refused as they must be.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.auth.codes import normalize_code
from tests.server.conftest import make_proc, start_server
from testsupport.servers import AppServer

NAME = {"family": "山田", "given": "太郎"}
PAIR = make_proc("1.0.0", id="pair", parties=[{"id": "partner", "label": {"ja": "相手の方"}}], sections=[
    {"id": "me", "title": {"ja": "あなた"}, "fields": [
        {"id": "my_name", "type": "name", "label": {"ja": "氏名"}, "required": True},
        {"id": "my_number", "type": "my_number", "label": {"ja": "個人番号"}},
        {"id": "note", "type": "text", "label": {"ja": "備考"}}]},
    {"id": "them", "title": {"ja": "相手の方"}, "party": "partner", "fields": [
        {"id": "their_name", "type": "name", "label": {"ja": "氏名"}, "required": True},
        {"id": "their_age", "type": "number", "label": {"ja": "年齢"}, "required": True, "min": 18}]}])
FIRST = {"my_name": NAME, "my_number": "123456789018", "note": "よろしく"}
# The partner's name is prefilled from the partner's own record (R0004 in these tests), the filer's from theirs.
PAIR_PREFILLED = make_proc("1.0.0", id="pair_prefilled", parties=[{"id": "partner", "label": {"ja": "相手の方"}}],
                           sections=[
    {"id": "me", "title": {"ja": "あなた"}, "fields": [
        {"id": "my_name", "type": "name", "label": {"ja": "氏名"}, "required": True, "prefill": "name"}]},
    {"id": "them", "title": {"ja": "相手の方"}, "party": "partner", "fields": [
        {"id": "their_name", "type": "name", "label": {"ja": "氏名"}, "required": True, "prefill": "name"},
        {"id": "checked", "type": "text", "label": {"ja": "本人確認（窓口）"}, "staff_only": True}]}])
THEIRS = {"their_name": {"family": "佐藤", "given": "花子"}, "their_age": 30}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp: Path = tmp_path_factory.mktemp("parties")
    s = start_server(tmp, [PAIR, PAIR_PREFILLED])
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


def _slug(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["type"]).rsplit("/", 1)[-1]


def _start(c: httpx.Client, answers: dict[str, Any] | None = None) -> str:
    sid = str(uuid.uuid4())
    r = c.post("/api/submissions", json={"id": sid, "procedure_id": "pair", "procedure_version": "1.0.0",
                                         "answers": answers or FIRST})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "awaiting_partner"
    return sid


def _invite(c: httpx.Client, sid: str) -> str:
    r = c.post(f"/api/submissions/{sid}/parties/partner/invitation")
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def _audit(srv: AppServer, sid: str) -> list[str]:
    return srv.db.read_sync(lambda c: [r[0] for r in c.execute(
        "SELECT action FROM audit_log WHERE subject = ? ORDER BY id", (f"submission:{sid}",))])


def test_two_people_file_once(srv: AppServer) -> None:
    first = srv.login("resident", resident_id="R0001")
    partner = srv.login("resident", resident_id="R0004")
    reviewer = srv.login("reviewer", department="shimin")
    sid = _start(first)
    # held: not in the department queue, not readable by staff, the filer sees the party waiting
    number = first.get(f"/api/submissions/{sid}").json()["receipt_number"]
    assert number not in reviewer.get("/console").text
    assert reviewer.get(f"/api/submissions/{sid}").status_code == 404
    assert reviewer.get(f"/console/submissions/{sid}").status_code == 404  # the console: the same one policy
    moved = reviewer.post(f"/api/submissions/{sid}/status", json={"status": "in_review"})
    assert moved.status_code == 404 and _slug(moved) == "not-found"  # not a 409 telling it exists
    assert first.get(f"/api/submissions/{sid}").json()["parties"] == [
        {"party": "partner", "state": "waiting", "invitation_expires_at": None}]
    code = _invite(first, sid)
    # the partner redeems it (typed by hand: lower case, spaces, O for 0 all read the same)
    r = partner.post("/api/party-invitations/claim", json={"code": code.lower().replace("-", " ")})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["party"] == "partner" and view["state"] == "claimed"
    assert view["shared_answers"] == {"my_name": NAME, "note": "よろしく"}  # never the other's 個人番号
    assert [v["submission_id"] for v in partner.get("/api/party-confirmations").json()] == [sid]
    # a spent code cannot be redeemed again, by anyone
    third = srv.login("resident", resident_id="R0005")
    assert _slug(third.post("/api/party-invitations/claim", json={"code": code})) == "invitation-not-found"
    # their part only, and valid
    bad = partner.post(f"/api/party-confirmations/{sid}", json={"answers": {**THEIRS, "note": "x"}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "other_party"
    young = partner.post(f"/api/party-confirmations/{sid}", json={"answers": {**THEIRS, "their_age": 17}})
    assert young.status_code == 422 and young.json()["errors"][0]["path"] == "their_age"
    # the first filer hears it was filed (Web Push, server/push.py): record what the notifier is given
    heard: list[tuple[str | None, str, str]] = []

    class Heard:
        def status_changed(self, account_id: str | None, submission_id: str, receipt_number: str) -> None:
            heard.append((account_id, submission_id, receipt_number))

    svc = srv.app.state.services
    before, svc.notifier = svc.notifier, Heard()
    # two confirmations at once: exactly one files
    results: list[httpx.Response] = []

    def go() -> None:
        with httpx.Client(base_url=srv.url, headers=partner.headers, cookies=partner.cookies, timeout=30) as c:
            results.append(c.post(f"/api/party-confirmations/{sid}", json={"answers": THEIRS}))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 409]
    done = next(r for r in results if r.status_code == 200).json()
    svc.notifier = before
    assert heard == [(first.account_id, sid, number)]  # type: ignore[attr-defined]
    assert done["status"] == "received" and done["state"] == "confirmed"
    rec = first.get(f"/api/submissions/{sid}").json()
    assert rec["status"] == "received" and rec["answers"] == {**FIRST, **THEIRS}
    assert [(h["from_status"], h["to_status"]) for h in rec["history"]] == [
        (None, "awaiting_partner"), ("awaiting_partner", "received")]
    assert reviewer.get(f"/api/submissions/{sid}").status_code == 200  # now in the department's hands
    assert number in reviewer.get("/console").text
    page = reviewer.get(f"/console/submissions/{sid}")
    assert page.status_code == 200 and "相手の方：葛\U000e0100城 美咲（本人のアカウントで確認" in page.text  # R0004 by name
    actions = _audit(srv, sid)
    assert actions.count("submission.file_parts") == 1
    assert {"submission.hold", "party.invite", "party.claim", "party.confirm"} <= set(actions)
    # the first filer retrying their part gets the same receipt, now filed
    again = first.post("/api/submissions", json={"id": sid, "procedure_id": "pair", "procedure_version": "1.0.0",
                                                 "answers": FIRST})
    assert again.status_code == 200 and again.json()["status"] == "received"


@pytest.mark.parametrize(("their_name", "flagged"), [
    ({"family": "\u845b\U000e0100城", "given": "美咲"}, False),  # R0004's own name, as prefilled: no correction
    ({"family": "葛城", "given": "美咲"}, True),  # the partner changed it
])
def test_the_last_part_files_with_the_filing_decisions_flags(srv: AppServer, their_name: dict[str, str],
                                                              flagged: bool) -> None:
    first = srv.login("resident", resident_id="R0001")
    partner = srv.login("resident", resident_id="R0004")
    sid = str(uuid.uuid4())
    r = first.post("/api/submissions", json={"id": sid, "procedure_id": "pair_prefilled",
                                             "procedure_version": "1.0.0", "answers": {"my_name": NAME}})
    assert r.status_code == 201 and r.json()["flags"] == [], r.text  # R0001's own name
    assert partner.post("/api/party-invitations/claim", json={"code": _invite(first, sid)}).status_code == 200
    # the counter's field in the partner's part: the same refusal as when filing, nothing stored
    staff = partner.post(f"/api/party-confirmations/{sid}", json={"answers": {"their_name": their_name,
                                                                              "checked": "免許証"}})
    assert staff.status_code == 422 and _slug(staff) == "staff-only-field"
    assert [e["path"] for e in staff.json()["errors"]] == ["checked"]
    done = partner.post(f"/api/party-confirmations/{sid}", json={"answers": {"their_name": their_name}})
    assert done.status_code == 200, done.text
    rec = first.get(f"/api/submissions/{sid}").json()
    # the partner's part is compared with the partner's record, never the filer's
    assert rec["status"] == "received" and rec["flags"] == (["prefill_corrected"] if flagged else [])


def test_the_first_filer_cannot_type_the_partners_part(srv: AppServer) -> None:
    first = srv.login("resident", resident_id="R0001")
    r = first.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": "pair",
                                             "procedure_version": "1.0.0", "answers": {**FIRST, **THEIRS}})
    assert r.status_code == 422 and {e["path"] for e in r.json()["errors"]} == {"their_name", "their_age"}
    # staff at the counter fill both parts at once: filed straight away
    counter = srv.login("counter")
    r = counter.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": "pair",
                                               "procedure_version": "1.0.0", "answers": {**FIRST, **THEIRS},
                                               "on_behalf_of": "R0001"})
    assert r.status_code == 201 and r.json()["status"] == "received"


def test_who_may_do_what(srv: AppServer) -> None:
    first = srv.login("resident", resident_id="R0001")
    partner = srv.login("resident", resident_id="R0004")
    third = srv.login("resident", resident_id="R0005")
    unbound = srv.login("resident")
    counter = srv.login("counter")
    sid = _start(first)
    # only the filer invites; nobody else learns the submission exists
    for other in (partner, third):
        assert _slug(other.post(f"/api/submissions/{sid}/parties/partner/invitation")) == "not-found"
    assert _slug(counter.post(f"/api/submissions/{sid}/parties/partner/invitation")) == "forbidden"
    assert _slug(first.post(f"/api/submissions/{sid}/parties/nobody/invitation")) == "not-found"
    old = _invite(first, sid)
    code = _invite(first, sid)  # a new code voids the previous one
    assert _slug(partner.post("/api/party-invitations/claim", json={"code": old})) == "invitation-not-found"
    assert _slug(first.post("/api/party-invitations/claim", json={"code": code})) == "own-application"
    spouse = srv.login("resident", resident_id="R0001")  # another account of the same person
    assert _slug(spouse.post("/api/party-invitations/claim", json={"code": code})) == "own-application"
    assert _slug(unbound.post("/api/party-invitations/claim", json={"code": code})) == "not-bound"
    assert _slug(partner.post("/api/party-invitations/claim", json={"code": "ZZZZ-ZZZZ-ZZZZ"})) \
        == "invitation-not-found"
    assert _slug(partner.post("/api/party-invitations/claim", json={"nope": 1})) == "bad-request"
    assert partner.post("/api/party-invitations/claim", json={"code": code}).status_code == 200
    assert _slug(first.post(f"/api/submissions/{sid}/parties/partner/invitation")) == "already-claimed"
    # a third resident can neither read nor confirm nor cancel it
    assert _slug(third.get(f"/api/party-confirmations/{sid}")) == "not-found"
    assert _slug(third.post(f"/api/party-confirmations/{sid}", json={"answers": THEIRS})) == "not-found"
    assert _slug(third.post(f"/api/party-confirmations/{sid}/cancel")) == "not-found"
    assert third.get("/api/party-confirmations").json() == []
    assert _slug(counter.get(f"/api/party-confirmations/{sid}")) == "forbidden"
    # the partner does not read the first filer's submission itself (only the shared view)
    assert partner.get(f"/api/submissions/{sid}").status_code == 404
    # the partner declines: nothing is filed, the filer sees it cancelled
    r = partner.post(f"/api/party-confirmations/{sid}/cancel")
    assert r.status_code == 200
    assert first.get(f"/api/submissions/{sid}").json()["status"] == "cancelled"
    assert _slug(partner.post(f"/api/party-confirmations/{sid}", json={"answers": THEIRS})) == "not-waiting"
    assert "submission.cancel" in _audit(srv, sid)


def test_invitations_expire_and_the_filer_can_cancel(srv: AppServer) -> None:
    first = srv.login("resident", resident_id="R0001")
    partner = srv.login("resident", resident_id="R0004")
    sid = _start(first)
    code = _invite(first, sid)
    srv.db.write_sync(lambda c: c.execute(
        "UPDATE submission_parties SET code_expires_at = '2000-01-01T00:00:00+00:00' WHERE submission_id = ?",
        (sid,)))
    assert _slug(partner.post("/api/party-invitations/claim", json={"code": code})) == "invitation-expired"
    code = _invite(first, sid)  # a fresh one works
    assert first.post(f"/api/submissions/{sid}/cancel").status_code == 200
    assert _slug(partner.post("/api/party-invitations/claim", json={"code": code})) == "invitation-not-found"
    assert _slug(first.post(f"/api/submissions/{sid}/cancel")) == "not-waiting"
    other = _start(first)
    assert _slug(partner.post(f"/api/submissions/{other}/cancel")) == "not-found"


def test_codes_read_aloud_are_normalized(srv: AppServer) -> None:
    assert normalize_code("abcd-efgh-ijkl") == normalize_code("ABCD EFGH 1JK1")
    assert normalize_code("0O0o") == "0000"
    # typed with a Japanese keyboard in full-width: the same code (NFKC, as recovery codes are read)
    first = srv.login("resident", resident_id="R0001")
    partner = srv.login("resident", resident_id="R0004")
    sid = _start(first)
    code = _invite(first, sid)
    wide = "".join(chr(ord(ch) + 0xFEE0) for ch in code.replace("-", "")) + "\u3000"
    assert wide != code and normalize_code(wide) == normalize_code(code)
    r = partner.post("/api/party-invitations/claim", json={"code": wide})
    assert r.status_code == 200 and r.json()["submission_id"] == sid, r.text


def test_wrong_codes_are_audited_and_throttled(srv: AppServer) -> None:
    guesser = srv.login("resident", resident_id="R0005")
    who = f"account:{guesser.account_id}"  # type: ignore[attr-defined]
    burst = srv.app.state.services.settings.auth_limits.per_account.burst
    for i in range(burst):
        r = guesser.post("/api/party-invitations/claim", json={"code": f"ZZZZ-ZZZZ-{i:04d}"})
        assert r.status_code == 404 and _slug(r) == "invitation-not-found"
    failed = srv.db.read_sync(lambda c: [r[0] for r in c.execute(
        "SELECT details FROM audit_log WHERE action = 'party.claim_failed' AND subject = ?", (who,))])
    assert len(failed) == burst and all('"invitation-not-found"' in d for d in failed)
    # the next guess is refused before any code is looked up, the right code included
    first = srv.login("resident", resident_id="R0001")
    code = _invite(first, _start(first))
    r = guesser.post("/api/party-invitations/claim", json={"code": code})
    assert r.status_code == 429 and _slug(r) == "rate-limited" and int(r.headers["Retry-After"]) > 0
    # another account is not throttled by this one's guesses
    other = srv.login("resident", resident_id="R0004")
    assert other.post("/api/party-invitations/claim", json={"code": code}).status_code == 200
