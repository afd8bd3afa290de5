"""The 氏 alone (``prefill_part: family``) and a choice derived from the registry (``prefill_values``): the value
filled is the twin rule of the PWA's (tests/conformance/prefill_value.json), and on a real server (loopback, a
SQLite file) a changed 氏 is ``prefill_corrected`` while the typed 名 never is; a changed derived choice is."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from procedure_definitions.model import Field
from server.demo import DEMO_RESIDENTS
from server.prefill_check import prefill_value
from server.registry import SQLiteRegistry
from tests.server.conftest import make_proc, start_server
from tests.server.conftest import submission_flags as _flags
from testsupport.servers import AppServer

CONF = json.loads((Path(__file__).parents[1] / "conformance" / "prefill_value.json").read_text(encoding="utf-8"))
CHILD_NAME, CHILD_KANA = (c["field"] for c in CONF["cases"][:2])
ROLE = next(c["field"] for c in CONF["cases"] if c["field"]["id"] == "applicant_role")
PROC = make_proc(
    id="part-proc", filers=["resident", "staff"],
    sections=[{"id": "child", "title": {"ja": "生まれた子"}, "fields": [CHILD_NAME, CHILD_KANA, {**ROLE, "required": False}]}])


@pytest.mark.parametrize("case", CONF["cases"], ids=[c["name"] for c in CONF["cases"]])
def test_the_value_filled_is_the_pwas(case: dict[str, Any]) -> None:
    assert prefill_value(msgspec.convert(case["field"], Field), case["profile"]) == case["value"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("part"), [PROC])
    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


def _file(client: Any, family: str, kana_family: str, answers_extra: dict[str, Any] | None = None, **extra: Any) -> str:
    answers = {"child_name": {"family": family, "given": "陽葵"}, "child_kana": {"family": kana_family, "given": "ヒマリ"},
               **(answers_extra or {})}
    body = {"id": str(uuid.uuid4()), "procedure_id": "part-proc", "procedure_version": "1.0.0", "answers": answers, **extra}
    r = client.post("/api/submissions", json=body)
    assert r.status_code in (200, 201), r.text
    sid: str = r.json()["id"]
    return sid


def test_the_filers_family_name_kept_is_no_correction(srv: AppServer) -> None:
    rec = next(r for r in DEMO_RESIDENTS if r.id == "R0001")
    sid = _file(srv.login("resident", resident_id="R0001"), rec.family, rec.family_kana or "")
    assert "prefill_corrected" not in _flags(srv, sid)  # the typed 名 is not compared


def test_a_changed_family_name_is_flagged_and_listed_for_staff(srv: AppServer) -> None:
    rec = next(r for r in DEMO_RESIDENTS if r.id == "R0001")
    sid = _file(srv.login("resident", resident_id="R0001"), "佐藤", rec.family_kana or "")
    assert "prefill_corrected" in _flags(srv, sid)
    page = srv.login("counter").get(f"/console/submissions/{sid}")
    assert '<li data-path="child_name">子の氏名</li>' in page.text
    assert 'data-path="child_kana"' not in page.text


def test_staff_filing_on_behalf_compare_with_that_residents_family_name(srv: AppServer) -> None:
    counter = srv.login("counter")
    assert "prefill_corrected" not in _flags(srv, _file(counter, "山田", "ヤマダ", on_behalf_of="R0001"))
    assert "prefill_corrected" in _flags(srv, _file(counter, "山田", "サトウ", on_behalf_of="R0001"))


def test_a_derived_choice_kept_is_no_correction_and_a_changed_one_is(srv: AppServer) -> None:
    resident = srv.login("resident", resident_id="R0001")  # male on the registry: the 夫 column
    assert "prefill_corrected" not in _flags(srv, _file(resident, "山田", "ヤマダ", answers_extra={"applicant_role": "husband"}))
    sid = _file(resident, "山田", "ヤマダ", answers_extra={"applicant_role": "wife"})
    assert "prefill_corrected" in _flags(srv, sid)
    assert 'data-path="applicant_role"' in srv.login("counter").get(f"/console/submissions/{sid}").text
