"""``madoguchi booking set | show`` (docs/booking.md "Configuration") on a real SQLite file: a good file is
stored as written and read back by the server's ``config_in``; a bad one prints every problem as
``FILE:LINE:COL: BKnnn message`` and stores nothing; ``show`` prints the default as YAML that reads back to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from madoguchi.cli import main
from server.booking.config import DEFAULT_CONFIG, config_in
from server.booking.config_file import BK_CODES, read_config
from server.storage.db import Database

GOOD = """\
# 〇〇市の来庁予約（市民課）
places:
  - id: honcho
    name: {ja: 本庁舎 市民課, en: City Hall}
    booths: ["1", "2", "3"]
    booking_booths: 2
    departments: {hoken_nenkin: 1}
    hours:
      mon: ["08:30", "17:15"]
      thu: ["08:30", "19:00"]
  - id: minami-shisho
    name: {ja: 南支所}
    booths: ["1"]
    booking_booths: 1
    hours: {tue: ["09:00", "12:00"]}
slot_minutes: 20
window: {min_days: 0, max_days: 30}
closed: ["12-29", "2027-03-31"]
holidays: false
"""

BAD = """\
places:
  - id: honcho
    name: {en: City Hall}
    booths: ["1", "2"]
    booking_booths: 3
    hours:
      mon: ["09:00", "08:00"]
      funday: ["09:00", "10:00"]
  - id: Honcho Branch
    name: {ja: 支所}
    booths: ["1"]
    booking_booths: 1
slot_minutes: 7
window: {min_days: 10, max_days: 5}
closed: ["13-01", "02-29"]
max_holds: 0
"""


def _stored(db_path: Path) -> tuple[str | None, object]:
    with Database.open(db_path) as db:
        row = db.read_sync(lambda c: c.execute("SELECT source FROM booking_config").fetchone())
        return (row[0] if row else None), db.read_sync(config_in)


def test_set_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f, db = tmp_path / "booking.yaml", tmp_path / "m.db"
    f.write_text(GOOD, encoding="utf-8")
    assert main(["booking", "set", str(f), "--db", str(db)]) == 0
    assert "2 place(s) (honcho, minami-shisho)" in capsys.readouterr().out
    source, cfg = _stored(db)
    assert source == GOOD
    assert cfg.slot_minutes == 20 and cfg.holidays is False  # type: ignore[attr-defined]
    assert [p.id for p in cfg.places] == ["honcho", "minami-shisho"]  # type: ignore[attr-defined]
    assert cfg.places[0].hours["thu"] == ["08:30", "19:00"]  # type: ignore[attr-defined]
    assert main(["booking", "show", "--db", str(db)]) == 0
    assert capsys.readouterr().out == GOOD  # the city's own file, comments and all
    with Database.open(db) as d:
        assert d.read_sync(lambda c: c.execute("SELECT actor FROM audit_log WHERE action = 'booking.config_set'"
                                               ).fetchall()[0][0]) == "cli"


def test_bad_file_is_refused_with_located_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f, db = tmp_path / "booking.yaml", tmp_path / "m.db"
    f.write_text(BAD, encoding="utf-8")
    assert main(["booking", "set", str(f), "--db", str(db)]) == 1
    lines = capsys.readouterr().err.splitlines()
    # "FILE:LINE:COL: BKnnn message" -> "FILE:LINE:COL BKnnn"
    found = [" ".join((line.split(": ", 1)[0], line.split(": ", 1)[1].split(" ", 1)[0]))
             for line in lines if line.startswith(str(f))]
    assert found == [f"{f}:{pos} {code}" for pos, code in (
        ("3:11", "BK006"),   # no Japanese name
        ("5:21", "BK007"),   # 3 booking booths of 2
        ("7:12", "BK008"),   # closes before it opens
        ("8:7", "BK008"),    # no such weekday
        ("9:9", "BK005"),    # an id with capitals and a space
        ("13:15", "BK004"),  # a 7-minute grid
        ("14:9", "BK010"),   # min_days after max_days
        ("15:10", "BK009"),  # month 13 (02-29 is a day: leap years)
        ("16:12", "BK004"),  # max_holds 0
    )], lines
    assert "funday" in next(line for line in lines if ":8:7:" in line)
    assert lines[-1] == "9 problem(s): nothing stored"
    assert not db.exists()  # refused before the database is opened


@pytest.mark.parametrize(("text", "where", "code"), [
    ("places: [\n  - id: x\n    name: {ja: x\n", "2:3", "BK001"),
    ("places: []\nslot_minuts: 15\n", "2:1", "BK002"),
    ("- a list\n", "1:1", "BK003"),
    ("places:\n  - id: x\n    name: {ja: x}\n    booths: 3\n    booking_booths: 1\n", "4:13", "BK003"),
    ("places:\n  - id: x\n    name: {ja: x}\n    booths: ['1']\n", "2:5", "BK003"),  # booking_booths missing
    ("places: []\n", "1:9", "BK005"),
])
def test_each_problem_is_located(tmp_path: Path, text: str, where: str, code: str) -> None:
    cfg, problems = read_config(text, "b.yaml")
    assert cfg is None
    at = [p for p in problems if (f"{p.line}:{p.col}", p.code) == (where, code)]
    assert at, problems
    assert at[0].format().startswith(f"b.yaml:{where}: {code} ")


def test_default_shown_reads_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["booking", "show", "--db", str(tmp_path / "m.db")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# nothing set")
    cfg, problems = read_config(out, "default.yaml")
    assert problems == [] and cfg == DEFAULT_CONFIG


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["booking", "set", str(tmp_path / "nope.yaml"), "--db", str(tmp_path / "m.db")]) == 1
    assert capsys.readouterr().err.startswith(f"{tmp_path / 'nope.yaml'}:1:1: BK001 ")


def test_every_code_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "errors.md").read_text(encoding="utf-8")
    assert [c for c in BK_CODES if f"| {c} |" not in doc] == []


def test_a_cap_on_an_unknown_department_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/booking.md's example once capped ``hoken``, which no procedure has: the cap would cap nothing."""
    f, db = tmp_path / "booking.yaml", tmp_path / "m.db"
    f.write_text(GOOD.replace("hoken_nenkin: 1", "hoken: 1"), encoding="utf-8")
    assert main(["booking", "set", str(f), "--db", str(db)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{f}:7:19: BK011 unknown department 'hoken' (did you mean 'hoken_nenkin'?)"), err
    assert "kodomo" in err[0] and "shimin" in err[0]
    assert not db.exists()
    # The published library of the database decides once there is one.
    cfg, problems = read_config(GOOD, "b.yaml", {"shimin"})
    assert cfg is None and [(p.line, p.code) for p in problems] == [(7, "BK011")]
    assert read_config(GOOD, "b.yaml", {"shimin", "hoken_nenkin"})[0] is not None


def test_unknown_keys_do_not_hide_the_other_problems() -> None:
    text = BAD.replace("slot_minutes: 7\n", "slot_minutez: 7\nslot_minutes: 7\n").replace(
        "    booths: [\"1\", \"2\"]\n", "    booths: [\"1\", \"2\"]\n    boths: 2\n", 1)
    cfg, problems = read_config(text, "b.yaml")
    assert cfg is None
    codes = [p.code for p in problems]
    assert codes.count("BK002") == 2 and len(codes) == 11, [p.format() for p in problems]


def test_a_cut_off_longer_than_the_first_day_is_stored_with_a_located_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """probe15c #2: with min_days 1 and a 24-hour-plus cut-off every booking for tomorrow was unchangeable at once."""
    places = 'places: [{id: honcho, name: {ja: 本庁舎}, booths: ["1"], booking_booths: 1}]\n'
    f, db = tmp_path / "booking.yaml", tmp_path / "m.db"
    f.write_text(f"{places}window: {{min_days: 1, max_days: 30}}\nchange_cutoff_hours: 48\n", encoding="utf-8")
    assert main(["booking", "set", str(f), "--db", str(db)]) == 0  # a warning, not an error: stored
    out = capsys.readouterr()
    assert "booking rules stored" in out.out
    assert out.err.startswith(f"{f}:3:22: BK012 warning: change_cutoff_hours (48) is more than window.min_days × 24"
                              " (24)"), out.err
    assert _stored(db)[1].change_cutoff_hours == 48  # type: ignore[attr-defined]
    f.write_text(f"{places}window: {{min_days: 2, max_days: 30}}\nchange_cutoff_hours: 48\n", encoding="utf-8")
    assert main(["booking", "set", str(f), "--db", str(db)]) == 0
    assert capsys.readouterr().err == ""
