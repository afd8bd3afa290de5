"""Issue 12 point 1: the household in the profile, the disclosure rule, 転出証明書情報, staff profile reads
(authorized and audited) and the ``prefill_corrected`` flag. A real server on loopback, a SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from server.demo import DEMO_RESIDENTS, DEMO_TRANSFERS
from server.registry import SQLiteRegistry, import_transfers
from server.transfer import InMemoryMovingService
from tests.server.conftest import make_proc, start_server
from tests.server.conftest import submission_flags as _flags
from testsupport.servers import AppServer

IVS_KATSURA = "葛\U000e0100城"

PEOPLE_PROC = make_proc(
    id="household-proc", filers=["resident", "staff"],
    sections=[{"id": "main", "title": {"ja": "本文"}, "fields": [
        {"id": "applicant", "type": "name", "label": {"ja": "氏名"}, "required": True, "prefill": "name"},
        {"id": "movers", "type": "group", "label": {"ja": "異動者"}, "required": True, "min": 1,
         "prefill": "household_members", "pick": True,
         "prefill_map": {"mover_name": "name", "mover_kana": "name_kana", "mover_birth_date": "birth_date",
                         "mover_sex": "sex"},
         "fields": [
             {"id": "mover_name", "type": "name", "label": {"ja": "氏名"}, "required": True},
             {"id": "mover_kana", "type": "kana", "split": True, "label": {"ja": "フリガナ"}},
             {"id": "mover_birth_date", "type": "wareki", "label": {"ja": "生年月日"}},
             {"id": "mover_sex", "type": "choice", "label": {"ja": "性別"}, "choices": [
                 {"value": "male", "label": {"ja": "男"}}, {"value": "female", "label": {"ja": "女"}}]},
         ]},
    ]}])


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("household"), [PEOPLE_PROC])
    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    s.db.write_sync(lambda c: import_transfers(c, InMemoryMovingService(DEMO_TRANSFERS), ["R0011", "R0001"]))
    yield s
    s.stop()


def _profile(srv: AppServer, resident_id: str) -> dict[str, Any]:
    r = srv.login("resident", resident_id=resident_id).get("/api/me/profile")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def _record(rid: str) -> Any:
    return next(r for r in DEMO_RESIDENTS if r.id == rid)


def test_profile_lists_the_household_with_ids_names_byte_for_byte(srv: AppServer) -> None:
    body = _profile(srv, "R0004")
    members = body["profile"]["household_members"]
    assert [m["member_id"] for m in members] == ["R0004", "R0013"]
    for m in members:
        rec = _record(m["member_id"])
        assert m["name"] == {"family": rec.family, "given": rec.given}
        assert m["name_kana"] == {"family": rec.family_kana, "given": rec.given_kana}
        assert (m["birth_date"], m["sex"], m["relationship_to_head"]) == (
            rec.birth_date, rec.sex, rec.relationship_to_head)
        assert set(m) <= {"member_id", "name", "name_kana", "birth_date", "sex", "relationship_to_head", "same_household",
                          "honseki", "honseki_head_name", "has_spouse", "spouse_birth_date"}
        assert m["same_household"] is True  # by definition: listed in the household (no extra personal data)
    assert members[1]["name"]["family"].encode() == IVS_KATSURA.encode()
    assert body["sources"]["household_members"] == "registry"


def test_other_members_never_carry_my_number_phone_or_address(srv: AppServer) -> None:
    members = _profile(srv, "R0002")["profile"]["household_members"]
    head = next(m for m in members if m["member_id"] == "R0001")
    assert _record("R0001").my_number and _record("R0001").phone
    assert not {"my_number", "phone", "email", "address"} & set(head)


def test_a_restricted_member_is_disclosed_to_themselves_only(srv: AppServer) -> None:
    head = _profile(srv, "R0014")["profile"]
    assert [m["member_id"] for m in head["household_members"]] == ["R0014"]
    own = _profile(srv, "R0015")["profile"]
    assert [m["member_id"] for m in own["household_members"]] == ["R0014", "R0015"]
    # Her head's name is still hers to see; the rule is about her being shown to others.
    assert own["household_head_name"] == {"family": "小林", "given": "直樹"}


def test_transfer_certificate_prefills_movers_and_previous_address(srv: AppServer) -> None:
    body = _profile(srv, "R0011")
    cert = DEMO_TRANSFERS[0]
    assert body["profile"]["previous_address"] == cert.previous_address
    movers = body["profile"]["transfer_movers"]
    assert [(m["member_id"], m["name"]["given"]) for m in movers] == [(x.member_id, x.given) for x in cert.movers]
    assert movers[1]["name"]["given"].encode() == "𠮷乃".encode()
    assert body["profile"]["previous_postal_code"] == cert.previous_address["postal_code"]
    assert body["sources"]["transfer_movers"] == "transfer" and body["sources"]["previous_address"] == "transfer"
    assert body["sources"]["previous_postal_code"] == "transfer"
    assert body["sources"]["name"] == "registry"
    # Nobody else has a certificate (R0001 was asked for, the service had none): no transfer attributes.
    assert "transfer_movers" not in _profile(srv, "R0001")["profile"]


def _audits(srv: AppServer, actor: str) -> list[tuple[str, dict[str, Any]]]:
    return srv.db.read_sync(lambda c: [(r[0], msgspec.json.decode(r[1])) for r in c.execute(
        "SELECT subject, details FROM audit_log WHERE actor = ? AND action = 'registry.profile_read' ORDER BY seq",
        (actor,))])


def test_counter_reads_a_residents_profile_and_it_is_audited(srv: AppServer) -> None:
    counter = srv.login("counter")
    r = counter.get("/api/residents/R0001/profile")
    assert r.status_code == 200
    assert r.json()["profile"] == _profile(srv, "R0001")["profile"]  # the same prefill as the resident's own
    (subject, details), = _audits(srv, counter.account_id)  # type: ignore[attr-defined]
    assert subject == "resident:R0001" and details["ids"] == ["R0001", "R0002", "R0003"]
    # The disclosure rule is the resident's: staff filing for the head do not get the restricted member.
    assert [m["member_id"] for m in counter.get("/api/residents/R0014/profile").json()["profile"][
        "household_members"]] == ["R0014"]


def test_outreach_reads_assigned_residents_only(srv: AppServer) -> None:
    outreach = srv.login("outreach")
    me = outreach.account_id  # type: ignore[attr-defined]
    r = outreach.get("/api/residents/R0005/profile")
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert _audits(srv, me) == []
    srv.db.write_sync(lambda c: c.execute("INSERT INTO outreach_assignments (account_id, resident_id, assigned_at)"
                                          " VALUES (?, 'R0005', '2026-01-01T00:00:00+00:00')", (me,)))
    r = outreach.get("/api/residents/R0005/profile")
    assert r.status_code == 200 and r.json()["verified"] is True
    assert [m["member_id"] for m in r.json()["profile"]["household_members"]] == ["R0005", "R0006"]
    assert [s for s, _ in _audits(srv, me)] == ["resident:R0005"]


@pytest.mark.parametrize("role", ["resident", "reviewer", "configurator", "admin"])
def test_other_roles_cannot_read_a_residents_profile(srv: AppServer, role: str) -> None:
    r = srv.login(role, department="shimin" if role == "reviewer" else None).get("/api/residents/R0001/profile")
    assert r.status_code == 403


def test_unknown_resident_is_a_404_problem(srv: AppServer) -> None:
    r = srv.login("counter").get("/api/residents/R9999/profile")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def _mover(rid: str, **change: Any) -> dict[str, Any]:
    rec = _record(rid)
    item = {"mover_name": {"family": rec.family, "given": rec.given},
            "mover_kana": {"family": rec.family_kana, "given": rec.given_kana},
            "mover_birth_date": rec.birth_date, "mover_sex": rec.sex}
    item.update(change)
    return item


def _file(client: Any, movers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    sid = str(uuid.uuid4())
    body = {"id": sid, "procedure_id": "household-proc", "procedure_version": "1.0.0",
            "answers": {"applicant": {"family": "山田", "given": "太郎"}, "movers": movers}, **extra}
    r = client.post("/api/submissions", json=body)
    assert r.status_code in (200, 201), r.text
    out: dict[str, Any] = r.json()
    return out


def test_picked_members_unchanged_are_not_flagged(srv: AppServer) -> None:
    resident = srv.login("resident", resident_id="R0001")
    out = _file(resident, [_mover("R0001"), _mover("R0003")])
    assert "prefill_corrected" not in _flags(srv, out["id"])


def test_a_person_added_by_hand_is_no_correction(srv: AppServer) -> None:
    resident = srv.login("resident", resident_id="R0001")
    stranger = {"mover_name": {"family": "田中", "given": "一"}, "mover_birth_date": "2001-01-01"}
    out = _file(resident, [_mover("R0001"), stranger])
    assert "prefill_corrected" not in _flags(srv, out["id"])


# The path in words; the path itself only in a data attribute (staff never read an answer's id).
_CORRECTED_ROW = '<li data-path="movers[1].mover_birth_date">異動者 2 生年月日</li>'


def test_a_corrected_member_flags_the_submission_and_the_console_lists_the_path(srv: AppServer) -> None:
    resident = srv.login("resident", resident_id="R0001")
    out = _file(resident, [_mover("R0001"), _mover("R0003", mover_birth_date="2015-06-02")])
    assert "prefill_corrected" in _flags(srv, out["id"])
    # The paths come with the submission's row (no read of their own for a page or an export line).
    from server.storage.submissions import _load

    rec = srv.db.read_sync(lambda c: _load(c, out["id"], history=False))
    assert rec is not None and rec.corrected == ["movers[1].mover_birth_date"]
    page = srv.login("counter").get(f"/console/submissions/{out['id']}")
    assert page.status_code == 200
    assert "登録情報から修正あり" in page.text and _CORRECTED_ROW in page.text
    assert "movers[0]" not in page.text.split('id="corrected"')[1].split("</ul>")[0]
    # the registry later says what the resident wrote: the console still shows what was corrected when filed
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    before = next(r for r in DEMO_RESIDENTS if r.id == "R0003")
    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, [msgspec.structs.replace(before, birth_date="2015-06-02")]))
    try:
        later = srv.login("counter").get(f"/console/submissions/{out['id']}")
        assert _CORRECTED_ROW in later.text
    finally:
        srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, [before]))


def test_a_corrected_top_level_value_is_flagged(srv: AppServer) -> None:
    resident = srv.login("resident", resident_id="R0002")  # 花子 files with 太郎's name as applicant
    out = _file(resident, [_mover("R0002")])
    assert "prefill_corrected" in _flags(srv, out["id"])


def test_staff_filing_on_behalf_is_compared_with_that_residents_profile(srv: AppServer) -> None:
    counter = srv.login("counter")
    same = _file(counter, [_mover("R0001")], on_behalf_of="R0001")
    assert "prefill_corrected" not in _flags(srv, same["id"])
    changed = _file(counter, [_mover("R0001", mover_sex="female")], on_behalf_of="R0001")
    assert "prefill_corrected" in _flags(srv, changed["id"])


def test_whose_item_conformance_with_the_pwa() -> None:
    """The same cases as tests/js/pwa-people.test.mjs: server and phone agree on what was corrected."""
    import json
    from pathlib import Path

    from procedure_definitions.model import GroupField
    from server.prefill_check import corrected_paths

    conf = json.loads((Path(__file__).parents[1] / "conformance" / "people.json").read_text(encoding="utf-8"))
    group = msgspec.convert(conf["field"], GroupField)
    proc = make_proc(id="conf", sections=[{"id": "s", "title": {"ja": "s"}, "fields": [conf["field"]]}])
    assert isinstance(proc.sections[0].fields[0], GroupField) and group.prefill_map
    for case in conf["cases"]:
        got = corrected_paths(proc, {"movers": case["items"]}, {"household_members": conf["people"]})
        assert got == case["corrected"], case["name"]
