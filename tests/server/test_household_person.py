"""A person picked from the household into plain fields (``type: person``): ``same_household`` in the profile,
the ``prefill_corrected`` flag for a changed filled value, a person id that names nobody, ``pick_self``.
A real server on loopback, a SQLite file; the rule's cases shared with the PWA (tests/conformance/person.json)."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from procedure_definitions.model import PersonField
from server.demo import DEMO_RESIDENTS
from server.prefill_check import offered_people, person_corrections, pick_person
from server.registry import SQLiteRegistry
from tests.server.conftest import make_proc, start_server
from tests.server.conftest import submission_flags as _flags
from testsupport.servers import AppServer

CHILD = {"id": "child", "type": "person", "label": {"ja": "子ども"}, "prefill": "household_members",
         "pick_self": False, "fills": {"child_name": "name", "child_birth_date": "birth_date", "child_sex": "sex"}}
PERSON_PROC = make_proc(
    id="person-proc", filers=["resident", "staff"],
    sections=[{"id": "main", "title": {"ja": "本文"}, "fields": [
        CHILD,
        {"id": "child_name", "type": "name", "label": {"ja": "子の氏名"}, "required": True},
        {"id": "child_birth_date", "type": "wareki", "label": {"ja": "子の生年月日"}, "required": True},
        {"id": "child_sex", "type": "choice", "label": {"ja": "性別"}, "choices": [
            {"value": "male", "label": {"ja": "男"}}, {"value": "female", "label": {"ja": "女"}}]},
    ]}])


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("person"), [PERSON_PROC])
    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


def _answers(rid: str | None, **change: Any) -> dict[str, Any]:
    rec = next(r for r in DEMO_RESIDENTS if r.id == (rid or "R0003"))
    out: dict[str, Any] = {"child_name": {"family": rec.family, "given": rec.given},
                           "child_birth_date": rec.birth_date, "child_sex": rec.sex}
    if rid is not None:
        out["child"] = rid
    out.update(change)
    return out


def _file(client: Any, answers: dict[str, Any], **extra: Any) -> Any:
    body = {"id": str(uuid.uuid4()), "procedure_id": "person-proc", "procedure_version": "1.0.0",
            "answers": answers, **extra}
    return client.post("/api/submissions", json=body)


def test_household_members_say_they_live_in_the_household(srv: AppServer) -> None:
    body = srv.login("resident", resident_id="R0001").get("/api/me/profile").json()
    members = body["profile"]["household_members"]
    assert {m["member_id"] for m in members} == {"R0001", "R0002", "R0003"}
    assert all(m["same_household"] is True for m in members)


def test_the_picked_child_unchanged_is_not_flagged(srv: AppServer) -> None:
    r = _file(srv.login("resident", resident_id="R0001"), _answers("R0003"))
    assert r.status_code in (200, 201), r.text
    assert "prefill_corrected" not in _flags(srv, r.json()["id"])


def test_a_changed_filled_value_is_flagged_and_the_console_lists_it(srv: AppServer) -> None:
    r = _file(srv.login("resident", resident_id="R0001"), _answers("R0003", child_birth_date="2015-06-02"))
    assert r.status_code in (200, 201), r.text
    sid = r.json()["id"]
    assert "prefill_corrected" in _flags(srv, sid)
    page = srv.login("counter").get(f"/console/submissions/{sid}")
    assert '<li data-path="child_birth_date">子の生年月日</li>' in page.text
    assert 'data-path="child_name"' not in page.text


def test_a_person_id_not_in_the_household_is_harmless(srv: AppServer) -> None:
    # Another household's child: names nobody of the filer's, nothing is compared or disclosed; the pick
    # itself is what the records do not back: listed for staff (the person field's own path).
    r = _file(srv.login("resident", resident_id="R0001"), _answers("R0013", child_birth_date="2015-06-02"))
    assert r.status_code in (200, 201), r.text
    assert "prefill_corrected" in _flags(srv, r.json()["id"])
    assert "葛" not in r.text
    page = srv.login("counter").get(f"/console/submissions/{r.json()['id']}")
    assert '<li data-path="child">子ども</li>' in page.text
    assert 'data-path="child_birth_date"' not in page.text


def _person_value(srv: AppServer, sid: str) -> str:
    page = srv.login("counter").get(f"/console/submissions/{sid}")
    answers = page.text.split("<h2>回答</h2>")[1].split("<h2>履歴</h2>")[0]
    m = re.search(r"<dt>子ども</dt>\s*<dd><span class=\"value\">([^<]*)</span>", answers)
    assert m is not None, answers
    return m.group(1)


def test_staff_see_picked_from_the_household_only_for_a_pick_the_records_back(srv: AppServer) -> None:
    resident = srv.login("resident", resident_id="R0001")
    assert _person_value(srv, _file(resident, _answers("R0003")).json()["id"]) == "山田 一郎（世帯員から選択）"
    # A filled value corrected: the application no longer says what the records say.
    changed = _file(resident, _answers("R0003", child_birth_date="2015-06-02")).json()["id"]
    assert _person_value(srv, changed) == "山田 一郎"
    renamed = _file(resident, _answers("R0003", child_name={"family": "山田", "given": "次郎"})).json()["id"]
    assert _person_value(srv, renamed) == "山田 次郎"
    # An id naming nobody of the household.
    nobody = _file(resident, _answers("R0013", child_name={"family": "山田", "given": "一郎"})).json()["id"]
    assert _person_value(srv, nobody) == "山田 一郎"


def test_a_person_id_too_long_or_not_text_is_a_problem_never_a_500(srv: AppServer) -> None:
    client = srv.login("resident", resident_id="R0001")
    for bad in ("R" * 65, ["R0003"], 3):
        r = _file(client, _answers("R0003", child=bad))
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert "child" in r.text


def test_staff_filing_on_behalf_compares_with_that_residents_household(srv: AppServer) -> None:
    counter = srv.login("counter")
    same = _file(counter, _answers("R0003"), on_behalf_of="R0001")
    assert same.status_code in (200, 201), same.text
    assert "prefill_corrected" not in _flags(srv, same.json()["id"])
    changed = _file(counter, _answers("R0003", child_sex="female"), on_behalf_of="R0001")
    assert "prefill_corrected" in _flags(srv, changed.json()["id"])


CONF = json.loads((Path(__file__).parents[1] / "conformance" / "person.json").read_text(encoding="utf-8"))


def test_offered_people_conformance_with_the_pwa() -> None:
    field = msgspec.convert(CONF["field"], PersonField)
    assert [p["member_id"] for p in offered_people(field, CONF["people"], CONF["self_id"])] == CONF["offered"]["pick_self_false"]
    everyone = msgspec.structs.replace(field, pick_self=True)
    assert [p["member_id"] for p in offered_people(everyone, CONF["people"], CONF["self_id"])] == CONF["offered"]["pick_self_true"]


@pytest.mark.parametrize("case", CONF["cases"], ids=[c["name"] for c in CONF["cases"]])
def test_person_corrections_conformance_with_the_pwa(case: dict[str, Any]) -> None:
    field = msgspec.convert(CONF["field"], PersonField)
    assert person_corrections(field, case["answers"], CONF["people"], CONF["self_id"]) == case["corrected"]


@pytest.mark.parametrize("case", CONF["picks"], ids=[c["name"] for c in CONF["picks"]])
def test_pick_person_conformance_with_the_pwa(case: dict[str, Any]) -> None:
    """The counter interview picks on the server (server.prefill_check.pick_person) as the PWA's picker does."""
    field = msgspec.convert(CONF["field"], PersonField)
    answers = copy.deepcopy(case["answers"])
    person = next((p for p in CONF["people"] if p["member_id"] == case["pick"]), None)
    assert pick_person(field, answers, CONF["people"], CONF["self_id"], person) == case["changed"]
    assert answers.pop(field.id, None) == (case["pick"] if person is not None else None)
    assert answers == case["after"]


def test_the_console_shows_the_picked_person_by_name_never_the_code(srv: AppServer) -> None:
    r = _file(srv.login("resident", resident_id="R0001"), _answers("R0003"))
    page = srv.login("counter").get(f"/console/submissions/{r.json()['id']}")
    answers = page.text.split("<h2>回答</h2>")[1].split("<h2>履歴</h2>")[0]
    assert re.search(r"<dt>子ども</dt>\s*<dd><span class=\"value\">山田 一郎（世帯員から選択）</span></dd>", answers)
    assert "R0003" not in answers
