"""The console queue's search with the name fold (procedure_definitions.namefold, the one fold): kana in either
script, 異体字/旧字体 and 「姓 名」 with or without a space find the application; answers stay byte for byte.
Real server, real library, real SQLite file."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from procedure_definitions.library import load_library
from procedure_definitions.namefold import FOLD_VERSION
from server.storage.submission_search import queue_condition, refresh_submission_search, search_text
from tests.server.conftest import start_real_library
from testsupport.servers import AppServer

LIB = load_library()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_real_library(tmp_path_factory.mktemp("queuesearch"))
    yield s
    s.stop()


def _file_tennyu(srv: AppServer, family: str, given: str, kana: tuple[str, str]) -> dict[str, Any]:
    proc = LIB.latest("tennyu")
    assert proc is not None
    sc = next(s for s in proc.scenarios if s.expect.valid and s.filer == "resident" and s.answers.get("movers"))
    answers = copy.deepcopy(sc.answers)
    answers["movers"][0].update(mover_name={"family": family, "given": given},
                                mover_kana={"family": kana[0], "given": kana[1]})
    r = srv.login("resident").post("/api/submissions", json={
        "id": str(uuid.uuid4()), "procedure_id": proc.id, "procedure_version": proc.version, "answers": answers})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _found(srv: AppServer, q: str) -> set[str]:
    page = srv.login("admin").get("/console/", params={"q": q})
    assert page.status_code == 200
    return set(re.findall(r'href="/console/submissions/([^"]+)"', page.text))


def test_kana_variants_and_spaces_find_the_application(srv: AppServer) -> None:
    takahashi = _file_tennyu(srv, "髙橋", "健一", ("タカハシ", "ケンイチ"))["id"]
    yamazaki = _file_tennyu(srv, "山﨑", "葛\U000e0100子", ("ヤマザキ", "クズコ"))["id"]
    other = _file_tennyu(srv, "佐藤", "一郎", ("サトウ", "イチロウ"))["id"]
    for q in ("高橋", "髙橋", "高橋健一", "高橋 健一", "たかはし", "たかはし けんいち", "ﾀｶﾊｼ", "タカハシケンイチ"):
        found = _found(srv, q)
        assert takahashi in found and other not in found, q
    for q in ("山崎", "山﨑", "山崎葛子", "やまざき くずこ"):
        found = _found(srv, q)
        assert yamazaki in found and takahashi not in found, q
    sato = _found(srv, "さとう")
    assert other in sato and not {takahashi, yamazaki} & sato
    # The raw text still matches what is not a name (part of a phone number, the receipt number).
    number = srv.login("admin").get(f"/console/submissions/{other}").text.split("受付番号 ")[1].split("<")[0]
    assert other in _found(srv, number)
    # Stored byte for byte: the fold lives in the search column only.
    stored = srv.db.read_sync(lambda c: c.execute("SELECT answers FROM submissions WHERE id = ?",
                                                  (yamazaki,)).fetchone()[0])
    assert "山﨑" in msgspec.json.decode(stored)["movers"][0]["mover_name"]["family"]


def test_search_text_and_condition_are_pure() -> None:
    text = search_text("2026-000001", {"n": {"family": "髙橋", "given": "健一"}, "ok": True, "tel": "090-1"})
    raw, keys = text.split("\n")
    assert raw == "2026-000001 髙橋 健一 090-1"
    assert "高橋健一" in keys.split(" ") and "高橋" in keys.split(" ")
    assert queue_condition("090") == (" AND instr(search_text, ?) > 0", ["090"])
    assert queue_condition("たかはし")[1] == ["たかはし", "タカハシ"]


def test_keys_are_rebuilt_when_the_fold_changes(srv: AppServer) -> None:
    sid = _file_tennyu(srv, "邊見", "花子", ("ヘンミ", "ハナコ"))["id"]
    srv.db.write_sync(lambda c: c.execute("UPDATE submissions SET search_text = 'stale' WHERE id = ?", (sid,)))
    assert not srv.db.write_sync(refresh_submission_search)  # same fold: nothing to do
    assert sid not in _found(srv, "辺見")
    srv.db.write_sync(lambda c: c.execute("UPDATE submission_search_meta SET fold_version = 'older'"))
    assert srv.db.write_sync(refresh_submission_search)
    assert sid in _found(srv, "辺見")
    assert srv.db.read_sync(lambda c: c.execute("SELECT fold_version FROM submission_search_meta").fetchone()[0]) \
        == FOLD_VERSION


def _file_copy(srv: AppServer, client: Any, filer: str, **extra: Any) -> str:
    """A 住民票の写し whose answers name 髙橋 健一 in kanji only (no kana anywhere in them)."""
    proc = LIB.latest("juminhyo-copy")
    assert proc is not None
    sc = next(s for s in proc.scenarios if s.expect.valid and s.filer == filer)
    answers = {**copy.deepcopy(sc.answers), "applicant_name": {"family": "髙橋", "given": "健一"}}
    r = client.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": proc.id,
                                              "procedure_version": proc.version, "answers": answers, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_residents_applications_are_found_by_the_kana_of_their_record(srv: AppServer) -> None:
    """Kana finds every application of a registry resident (staff filed it on their behalf, or they filed it
    bound to their record, or were bound after filing), although the answers hold no kana; a rename in the
    registry moves the keys; the migration gives the stored submissions theirs."""
    from server.demo import DEMO_RESIDENTS
    from server.registry import ResidentRecord, SQLiteRegistry
    from server.storage.submission_search import SUBMISSION_SEARCH_MIGRATIONS

    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    counter = srv.login("counter")
    on_behalf = _file_copy(srv, counter, "staff", on_behalf_of="R0005")  # 髙橋 健一, タカハシ ケンイチ
    bound = _file_copy(srv, srv.login("resident", resident_id="R0005"), "resident")
    later = srv.login("resident")
    bound_later = _file_copy(srv, later, "resident")
    stranger = _file_copy(srv, srv.login("resident"), "resident")  # types the same name, is nobody's record
    stored = srv.db.read_sync(lambda c: c.execute("SELECT answers FROM submissions WHERE id = ?",
                                                  (on_behalf,)).fetchone()[0])
    assert "タカハシ" not in stored and "たかはし" not in stored
    for q in ("たかはし", "タカハシ", "ﾀｶﾊｼ", "たかはし けんいち", "高橋", "髙橋健一"):
        found = _found(srv, q)
        assert {on_behalf, bound} <= found, q
        assert (bound_later in found) == (q in ("高橋", "髙橋健一")), q  # not bound yet: its answers only
        assert (stranger in found) == (q in ("高橋", "髙橋健一")), q
    assert not {on_behalf, bound} & _found(srv, "さちこ")  # 髙橋 幸子 is the same household, not the resident
    r = counter.post(f"/api/accounts/{later.account_id}/bind",  # type: ignore[attr-defined]
                     json={"resident_id": "R0005", "id_document": "マイナンバーカード"})
    assert r.status_code == 200, r.text
    assert bound_later in _found(srv, "ﾀｶﾊｼ") and stranger not in _found(srv, "ﾀｶﾊｼ")

    # A new reading in the registry: the applications are found by it, no longer by the old one.
    rec = next(r for r in DEMO_RESIDENTS if r.id == "R0005")
    renamed = msgspec.structs.replace(rec, family_kana="タカバシ")
    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, [renamed]))
    assert {on_behalf, bound, bound_later} <= _found(srv, "たかばし")
    assert not {on_behalf, bound, bound_later} & _found(srv, "たかはし")
    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, [rec]))
    assert isinstance(rec, ResidentRecord) and on_behalf in _found(srv, "たかはし")

    # Rows stored before the keys held the resident's name: the migration (v3) rebuilds them.
    def older(c: Any) -> None:
        for sid in (on_behalf, bound):
            number, answers = c.execute("SELECT receipt_number, answers FROM submissions WHERE id = ?",
                                        (sid,)).fetchone()
            c.execute("UPDATE submissions SET search_text = ? WHERE id = ?",
                      (search_text(number, msgspec.json.decode(answers)), sid))

    srv.db.write_sync(older)
    assert not {on_behalf, bound} & _found(srv, "たかはし")
    version, step = SUBMISSION_SEARCH_MIGRATIONS[-1]
    assert version == 3 and callable(step)
    srv.db.write_sync(step)
    assert {on_behalf, bound} <= _found(srv, "たかはし")


def test_new_answers_with_a_status_keep_the_residents_key_from_the_callers_record(srv: AppServer) -> None:
    """move_status with new answers (a reply, the last part of a two-person filing) rebuilds the search text
    with the registry name of whom the record the caller holds is for, without reading the submission again."""
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry
    from server.storage.submissions import load_submission, move_status

    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    sid = _file_copy(srv, srv.login("counter"), "staff", on_behalf_of="R0005")  # 髙橋 健一, タカハシ ケンイチ
    statements: list[str] = []

    def reply(c: Any) -> None:
        rec = load_submission(c, sid, history=False)
        assert rec is not None and rec.on_behalf_of == "R0005"
        answers = {**msgspec.json.decode(c.execute("SELECT answers FROM submissions WHERE id = ?",
                                                   (sid,)).fetchone()[0]), "purpose": "other"}
        c.set_trace_callback(statements.append)
        try:
            move_status(c, sid, "received", "in_review", actor="test", answers=(rec, answers))
        finally:
            c.set_trace_callback(None)

    srv.db.write_sync(reply)
    assert statements and not [s for s in statements if s.lstrip().upper().startswith("SELECT")
                                and "FROM SUBMISSIONS WHERE" in " ".join(s.upper().split())]
    assert sid in _found(srv, "たかはし けんいち")
