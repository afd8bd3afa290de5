"""The server with the REAL shipped library (procedure_definitions/library) and the real form validation.

Valid and invalid answers come from the scenarios written in the library itself (juminhyo-copy.yaml), so the
server accepts exactly what the procedure's authors say is valid and refuses what they say is not.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procedure_definitions.library import load_library
from procedure_definitions.model import Procedure
from server.settings import Settings
from tests.server.conftest import FakeBuild
from testsupport.servers import AppServer, ServerProcess

LIB = load_library()


def scenario(proc: Procedure, *, valid: bool) -> Any:
    return next(s for s in proc.scenarios if s.expect.valid is valid)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp = tmp_path_factory.mktemp("real")
    srv = AppServer.create(Settings(db_path=str(tmp / "m.db"), origin="http://localhost:8000",
                                 build_result=FakeBuild()), library=LIB)
    yield srv
    srv.stop()


def test_every_library_definition_is_published(real: AppServer) -> None:
    listed = real.client().get("/api/procedures").json()
    expected = {(pid, v) for t in (LIB.procedures, LIB.life_events) for pid, vs in t.items() for v in vs}
    assert {(p["id"], p["version"]) for p in listed} == expected
    assert len(expected) >= 21
    kinds = {p["kind"] for p in listed}
    assert kinds == {"procedure", "life_event"}


def test_compiled_definitions_are_the_real_compiler_output(real: AppServer) -> None:
    from procedure_definitions.compile import compile_life_event, compile_procedure

    c = real.client()
    proc = LIB.get("juminhyo-copy", "1.1.0")
    assert proc is not None
    r = c.get("/api/procedures/juminhyo-copy/1.1.0")
    assert r.status_code == 200
    assert r.json() == compile_procedure(proc)
    eid, versions = next(iter(LIB.life_events.items()))
    version, ev = next(iter(versions.items()))
    r = c.get(f"/api/procedures/{eid}/{version}")
    assert r.status_code == 200
    assert r.json() == compile_life_event(ev)


def test_valid_juminhyo_submission_end_to_end(real: AppServer) -> None:
    proc = LIB.get("juminhyo-copy", "1.1.0")
    assert proc is not None
    sc = scenario(proc, valid=True)
    c = real.login("resident")
    sid = str(uuid.uuid4())
    r = c.post("/api/submissions", json={"id": sid, "procedure_id": proc.id, "procedure_version": proc.version,
                                         "answers": sc.answers})
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["status"] == "received" and receipt["flags"] == []
    detail = c.get(f"/api/submissions/{sid}").json()
    assert detail["answers"] == sc.answers
    # A reviewer of the procedure's department sees it in the console queue.
    rv = real.login("reviewer", department=proc.department.id)
    page = rv.get("/console/", params={"procedure": proc.id})
    assert page.status_code == 200 and receipt["receipt_number"] in page.text


def test_invalid_juminhyo_submission_lists_localized_field_errors(real: AppServer) -> None:
    proc = LIB.get("juminhyo-copy", "1.1.0")
    assert proc is not None
    sc = scenario(proc, valid=False)
    c = real.login("resident")
    r = c.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": proc.id,
                                         "procedure_version": proc.version, "answers": sc.answers})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/invalid-answers")
    assert sc.expect.errors is not None
    assert {e["field_id"] for e in body["errors"]} == set(sc.expect.errors)
    for e in body["errors"]:
        assert set(e) == {"path", "field_id", "code", "message"}
        assert set(e["message"]) == {"ja", "en", "ja-easy"} and all(e["message"].values())
    copies = next(e for e in body["errors"] if e["field_id"] == "copies")
    assert copies["code"] == "max" and "10" in copies["message"]["ja"]
    # Nothing was stored.
    assert real.db.read_sync(lambda conn: conn.execute(
        "SELECT count(*) FROM submissions WHERE account_id = ?", (c.account_id,)).fetchone()[0]) == 0  # type: ignore[attr-defined]


def test_unknown_answer_key_is_refused(real: AppServer) -> None:
    proc = LIB.get("juminhyo-copy", "1.1.0")
    assert proc is not None
    answers = {**scenario(proc, valid=True).answers, "favourite_colour": "blue"}
    r = real.login("resident").post("/api/submissions", json={
        "id": str(uuid.uuid4()), "procedure_id": proc.id, "procedure_version": proc.version, "answers": answers})
    assert r.status_code == 422
    assert any(e["field_id"] == "favourite_colour" for e in r.json()["errors"])


def test_madoguchi_serve_demo_starts_with_real_library_and_pwa(tmp_path: Path) -> None:
    """The CLI path a newcomer takes: the shipped library is published and the real PWA build is served."""
    srv = ServerProcess(tmp_path / "demo.db", demo=True, cwd=tmp_path, timeout=90)
    with srv:
        base = srv.url
        listed = httpx.get(base + "/api/procedures").json()
        assert len(listed) == sum(len(v) for t in (LIB.procedures, LIB.life_events) for v in t.values())
        index = httpx.get(base + "/")
        assert index.status_code == 200
        assert b"The resident app is not built yet" not in index.content  # not the placeholder
        assert httpx.get(base + "/sw.js").status_code == 200
        assert httpx.get(base + "/manifest.webmanifest").headers["content-type"].startswith(
            "application/manifest+json")
    out = srv.output()
    assert "enroll/" in out  # one enrollment URL per demo staff role
    assert "PWA BUILD FAILED" not in out


# -- CSV export: columns derived from the definition, optional override file -------------------------------
def _export_rows(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_derived_columns_of_juminhyo() -> None:
    from server.export import derive_columns

    proc = LIB.get("juminhyo-copy", "1.1.0")
    assert proc is not None
    cols = derive_columns(proc, {"target_people": 2})
    labels = [c.label for c in cols]
    assert len(labels) == len(set(labels))
    assert ("氏名（氏）", "applicant_name.family") in cols and ("氏名（名）", "applicant_name.given") in cols
    assert ("住所（都道府県）", "applicant_address.prefecture") in cols
    assert ("対象者2・氏名（名）", "target_people.2.target_name.given") in cols
    assert ("手数料", "total_fee") in cols
    assert not any("my_number_mail_notice" in c.path for c in cols)  # notices have no column


def test_console_csv_uses_derived_japanese_columns(real: AppServer) -> None:
    proc = LIB.get("juminhyo-copy", "1.1.0")
    assert proc is not None
    valid = [s for s in proc.scenarios if s.expect.valid and s.filer == "resident"]
    assert len(valid) >= 2
    c = real.login("resident")
    ids = []
    for sc in valid:
        sid = str(uuid.uuid4())
        r = c.post("/api/submissions", json={"id": sid, "procedure_id": proc.id, "procedure_version": proc.version,
                                             "answers": sc.answers})
        assert r.status_code == 201, r.text
        ids.append(sid)
    r = real.login("reviewer", department="shimin").get(
        "/console/export", params={"format": "csv", "procedure": proc.id, "bom": "true"})
    assert r.status_code == 200, r.text
    rows = {row["id"]: row for row in _export_rows(r.text)}
    first, proxy = rows[ids[0]], rows[ids[1]]
    assert first["氏名（氏）"] == "山田" and first["氏名（名）"] == "太郎"
    assert first["住所（都道府県）"] == "埼玉県" and first["住所（番地）"] == "3丁目15-1"
    assert first["手数料"] == "300"  # calculated by the form, not typed by the resident
    assert first["対象者1・氏名（氏）"] == ""  # hidden group: no value
    assert proxy["対象者1・氏名（氏）"] == "佐藤"
    # A choice's column holds its labels, the codes in the parallel ``__code`` column right after it.
    include = "記載する項目（必要なものだけ選んでください）"
    assert proxy[include] == "世帯主・続柄;個人番号（マイナンバー）"
    assert proxy[include + "__code"] == "head_relationship;my_number"
    header = r.text.lstrip("\ufeff").split("\r\n")[0].split(",")
    assert header.index(include + "__code") == header.index(include) + 1
    assert first["手数料"] == "300" and proxy["手数料"] == "900"


def test_override_file_and_cli(real: AppServer) -> None:
    from server.export import MappingError, load_mappings, to_csv

    proc = LIB.get("juminhyo-copy", "1.1.0")
    assert proc is not None
    sid = str(uuid.uuid4())
    r = real.login("resident").post("/api/submissions", json={
        "id": sid, "procedure_id": proc.id, "procedure_version": proc.version,
        "answers": scenario(proc, valid=True).answers})
    assert r.status_code == 201
    maps = Path(real.settings.db_path).parent / "export-mappings"  # the default place, next to the db
    maps.mkdir(exist_ok=True)
    (maps / "juminhyo-copy.yaml").write_text(
        "columns:\n  請求者氏: applicant_name.family\n  請求者名: applicant_name.given\n  通数: copies\n"
        "  金額: total_fee\n  無い項目: no.such.path\n", encoding="utf-8")
    try:
        mappings = load_mappings(maps)
        text = real.db.read_sync(lambda conn: to_csv(conn, procedure=proc.id, mappings=mappings))
        header = text.splitlines()[0].split(",")
        assert header[7:] == ["請求者氏", "請求者名", "通数", "金額", "無い項目"]  # exactly these, in this order
        row = next(x for x in _export_rows(text) if x["id"] == sid)
        assert (row["請求者氏"], row["通数"], row["金額"], row["無い項目"]) == ("山田", "1", "300", "")
        out = subprocess.run([sys.executable, "-m", "madoguchi.cli", "submissions", "export", "--db",
                              real.settings.db_path, "--format", "csv", "--procedure", proc.id],
                             capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.decode("utf-8").splitlines()[0].endswith("請求者氏,請求者名,通数,金額,無い項目")
        (maps / "juminhyo-copy.yaml").write_text("columns: [copies]\n", encoding="utf-8")
        with pytest.raises(MappingError, match=r"juminhyo-copy\.yaml"):
            load_mappings(maps)
        out = subprocess.run([sys.executable, "-m", "madoguchi.cli", "submissions", "export", "--db",
                              real.settings.db_path, "--format", "csv"], capture_output=True, timeout=60)
        assert out.returncode == 2 and b"juminhyo-copy.yaml" in out.stderr
    finally:
        for f in maps.iterdir():
            f.unlink()
        maps.rmdir()


# -- validation in worker processes (what `madoguchi serve` uses on more than one core) ----------------------
def test_validation_workers_give_the_same_answers_and_survive_a_crash(tmp_path: Path) -> None:
    proc = LIB.get("juminhyo-copy", "1.1.0")
    assert proc is not None
    srv = AppServer.create(Settings(db_path=str(tmp_path / "w.db"), origin="http://localhost:8000",
                                 build_result=FakeBuild(), validation_workers=1), library=LIB)
    try:
        pool = srv.app.state.services.validator
        c = srv.login("resident")

        def post(answers: dict[str, Any]) -> httpx.Response:
            return c.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": proc.id,
                                                    "procedure_version": proc.version, "answers": answers})

        assert post(scenario(proc, valid=True).answers).status_code == 201
        bad = post(scenario(proc, valid=False).answers)
        assert bad.status_code == 422
        from server.catalog import validate_answers

        assert bad.json()["errors"] == validate_answers(proc, scenario(proc, valid=False).answers)
        assert pool.offloaded == 2 and pool.inline == 0
        # A worker that dies: requests in flight and later ones are validated in process, never refused.
        pool._workers[0].kill()
        deadline = time.monotonic() + 10
        while pool._workers[0].alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert post(scenario(proc, valid=True).answers).status_code == 201
        assert post(scenario(proc, valid=False).answers).status_code == 422
        assert pool.inline == 2
    finally:
        srv.stop()


@settings(max_examples=200, deadline=None)
@given(payloads=st.lists(st.binary(max_size=300), max_size=8), cuts=st.lists(st.integers(0, 3000), max_size=6))
def test_frames_survive_any_chunking_of_the_pipe(payloads: list[bytes], cuts: list[int]) -> None:
    from server.validation import FrameReader, frame

    stream = b"".join(frame(p) for p in payloads)
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    reader = FrameReader()
    got = [f for a, b in itertools.pairwise(bounds) for f in reader.feed(stream[a:b])]
    assert got == payloads


def test_what_pages_derive_from_the_library_is_made_once_per_library() -> None:
    """Every console page names departments and procedures (server.console.readable): Catalog.of_library makes
    each once per loaded library, and again for another library, never per request."""
    from server.catalog import Catalog
    from server.console.readable import department_names, procedure_titles

    lib = load_library()
    cat = Catalog(lib, db=None)
    calls: list[int] = []

    def counted(procs: Any) -> dict[str, str]:
        calls.append(1)
        return department_names(procs)

    first = cat.of_library(counted)
    assert cat.of_library(counted) is first and len(calls) == 1
    assert first == department_names(lib.procedures) and first  # the library's own departments
    assert cat.of_library(procedure_titles) == procedure_titles(lib.procedures)
    cat.library = load_library()  # another library loaded: derived anew
    assert cat.of_library(counted) == first and len(calls) == 2
