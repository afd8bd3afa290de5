"""CSV exports read as labels (issue 13 point 5): a choice, yes/no or person column holds the label, its code in
the parallel ``<column>__code`` column right after it; the receipt's codes in words in ``procedure_title`` and
``status_label``; JSON Lines and the mapping files' columns keep the stored values. Real server, real library,
real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from procedure_definitions.library import load_library
from procedure_definitions.model import Procedure
from server.export import BASE_COLUMNS, CODE_SUFFIX, LABEL_COLUMNS, load_mappings, to_csv
from tests.server.conftest import start_real_library
from testsupport.servers import AppServer

LIB = load_library()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_real_library(tmp_path_factory.mktemp("exportlabels"))
    yield s
    s.stop()


def _tennyu() -> tuple[Procedure, dict[str, Any]]:
    proc = LIB.latest("tennyu")
    assert proc is not None
    sc = next(s for s in proc.scenarios if s.expect.valid and s.filer == "resident" and s.answers.get("movers"))
    return proc, dict(sc.answers)


def _file(srv: AppServer, proc: Procedure, answers: dict[str, Any]) -> str:
    sid = str(uuid.uuid4())
    r = srv.login("resident").post("/api/submissions", json={
        "id": sid, "procedure_id": proc.id, "procedure_version": proc.version, "answers": answers})
    assert r.status_code == 201, r.text
    return sid


def _rows(text: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    header, *rest = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    return header, {r[0]: dict(zip(header, r, strict=True)) for r in rest}


def test_choice_yesno_and_group_choice_columns_hold_labels_with_codes_beside(srv: AppServer) -> None:
    proc, answers = _tennyu()
    sid = _file(srv, proc, answers)
    r = srv.login("admin").get("/console/export", params={"format": "csv", "procedure": proc.id})
    assert r.status_code == 200, r.text
    header, rows = _rows(r.text)
    row = rows[sid]
    assert header[:len(BASE_COLUMNS) + len(LABEL_COLUMNS)] == [*BASE_COLUMNS, *LABEL_COLUMNS]
    assert row["procedure_id"] == "tennyu" and row["procedure_title"] == proc.title.ja
    assert row["status"] == "received" and row["status_label"] == "受付"
    fields = {f.id: f for s in proc.sections for f in s.fields}
    moved_from = fields["moved_from"]
    label = moved_from.label.ja
    chosen = next(c.label.ja for c in moved_from.choices if c.value == answers["moved_from"])  # type: ignore[union-attr]
    assert row[label] == chosen and row[label + CODE_SUFFIX] == answers["moved_from"]
    assert header.index(label + CODE_SUFFIX) == header.index(label) + 1
    yes_no = fields["tokurei_tennyu"].label.ja
    assert (row[yes_no], row[yes_no + CODE_SUFFIX]) == ("いいえ", "0")
    # A choice inside a group item: the same rule per numbered column.
    sex = [h for h in header if h.endswith("・性別")]
    assert sex and all(h + CODE_SUFFIX in header for h in sex)
    assert {row[h + CODE_SUFFIX] for h in sex[:2]} == {"male", "female"}
    assert {row[h] for h in sex[:2]} == {"男", "女"}
    # Names, addresses and dates stay as stored, byte for byte, and get no code column.
    name = next(h for h in header if h.endswith("（氏）"))
    assert name + CODE_SUFFIX not in header
    assert not any(h.endswith(CODE_SUFFIX) and h[:-len(CODE_SUFFIX)] not in header for h in header)


def test_jsonl_export_keeps_the_stored_codes(srv: AppServer) -> None:
    proc, answers = _tennyu()
    sid = _file(srv, proc, answers)
    r = srv.login("admin").get("/console/export", params={"format": "jsonl", "procedure": proc.id})
    mine = next(json.loads(line) for line in r.text.splitlines() if json.loads(line)["id"] == sid)
    assert mine["answers"]["moved_from"] == answers["moved_from"] and mine["status"] == "received"
    assert "procedure_title" not in mine and "status_label" not in mine


def test_a_mapping_file_gets_exactly_its_columns_and_the_stored_values(srv: AppServer, tmp_path: Path) -> None:
    proc, answers = _tennyu()
    sid = _file(srv, proc, answers)
    (tmp_path / f"{proc.id}.yaml").write_text("columns:\n  転入元: moved_from\n  特例: tokurei_tennyu\n",
                                               encoding="utf-8")
    text = srv.db.read_sync(lambda c: to_csv(c, procedure=proc.id, mappings=load_mappings(tmp_path)))
    header, rows = _rows(text)
    assert header == [*BASE_COLUMNS, "転入元", "特例"]  # exactly the core system's columns
    assert (rows[sid]["転入元"], rows[sid]["特例"]) == (answers["moved_from"], "0")


def test_staff_only_values_are_in_the_export_and_the_hand_off_row(srv: AppServer) -> None:
    """The counter's staff-only values (窓口記入: a value typed by staff, a staff-only calculation) are part of
    the application for the core systems: in the CSV export and in the hand-off's row (export_row)."""
    from server.export import export_row
    from server.storage.submissions import load_submission

    proc, answers = _tennyu()
    fields = {f.id: f for s in proc.sections for f in s.fields}
    assert fields["previous_head_name"].staff_only and fields["mover_count"].staff_only
    head = {"family": "髙橋", "given": "一\U000e0100郎"}
    sid = _file(srv, proc, answers)
    # As the counter files it: the staff-only value in the stored answers.
    srv.db.write_sync(lambda c: c.execute("UPDATE submissions SET answers = ? WHERE id = ?", (
        json.dumps({**answers, "previous_head_name": head}, ensure_ascii=False), sid)))
    r = srv.login("admin").get("/console/export", params={"format": "csv", "procedure": proc.id})
    _, rows = _rows(r.text)
    label = fields["previous_head_name"].label.ja
    count = str(len(answers["movers"]))
    assert rows[sid][label + "（氏）"] == "髙橋" and rows[sid][label + "（名）"] == head["given"]
    assert rows[sid][fields["mover_count"].label.ja] == count
    rec = srv.db.read_sync(lambda c: load_submission(c, sid))
    assert rec is not None
    row = srv.db.read_sync(lambda c: export_row(c, rec))
    assert row[label + "（氏）"] == "髙橋" and row[fields["mover_count"].label.ja] == count
