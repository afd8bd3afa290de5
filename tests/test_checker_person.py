"""Person fields (``type: person``, ``fills``) and ``pick_self``: every checker error with its position."""

from __future__ import annotations

import textwrap
from pathlib import Path

from procedure_definitions.library import load_library
from procedure_definitions.loader import load_text
from procedure_definitions.model import PersonField
from tests.test_checker import BASE, HOUSEHOLD, LIFE_EVENT

PERSON = BASE + textwrap.indent(
    "- id: child\n  type: person\n  label: 子ども\n  prefill: household_members\n  pick_self: false\n"
    "  fills: {child_name: name, child_birth: birth_date}\n"
    "- {id: child_name, type: name, label: 子の氏名}\n"
    "- {id: child_birth, type: wareki, label: 子の生年月日}\n"
    "- {id: child_count, type: number, label: 人数}\n", " " * 6)


def _problems(text: str) -> list[tuple[str, str, str]]:
    """(code, the text at the reported position, message) of every problem."""
    lines = text.splitlines()
    return [(p.code, lines[p.line - 1][p.col - 1:], p.message) for p in load_text(text, "x.yaml").problems]


def test_a_person_field_is_valid_and_loads() -> None:
    res = load_text(PERSON, "x.yaml")
    assert res.problems == []
    assert res.definition is not None
    person = next(f for s in res.definition.sections for f in s.fields if f.id == "child")
    assert isinstance(person, PersonField) and person.fills == {"child_name": "name", "child_birth": "birth_date"}
    assert person.pick_self is False


def test_unknown_member_attribute_in_fills() -> None:
    (code, at, msg), = _problems(PERSON.replace("child_birth: birth_date", "child_birth: brith_date"))
    assert code == "PD215" and at.startswith("brith_date") and msg.startswith("fills of 'child'")
    assert "did you mean 'birth_date'" in msg


def test_a_target_that_cannot_hold_the_attribute() -> None:
    (code, at, msg), = _problems(PERSON.replace("child_birth: birth_date", "child_count: birth_date"))
    assert code == "PD216" and at.startswith("birth_date") and "'child_count' is number" in msg


def test_unknown_target_field() -> None:
    (code, at, msg), = _problems(PERSON.replace("child_birth: birth_date", "child_brth: birth_date"))
    assert code == "PD202" and at.startswith("child_brth") and "did you mean 'child_birth'" in msg


def test_same_household_is_a_yesno_member_attribute() -> None:
    text = PERSON.replace("child_birth: birth_date}", "child_birth: birth_date, child_here: same_household}")
    assert _problems(text.replace("- {id: child_count,", "- {id: child_here, type: yesno, label: 同居}\n      - {id: child_count,")) == []
    (code, _, _), = _problems(text.replace("- {id: child_count,", "- {id: child_here, type: text, label: 同居}\n      - {id: child_count,"))
    assert code == "PD216"


def test_a_target_inside_a_group() -> None:
    text = HOUSEHOLD + textwrap.indent(
        "- id: who\n  type: person\n  label: 誰\n  prefill: household_members\n  fills: {mover_name: name}\n", " " * 6)
    (code, at, msg), = _problems(text)
    assert code == "PD220" and at.startswith("mover_name") and "inside group 'movers'" in msg


def test_a_target_filled_by_two_person_fields() -> None:
    text = PERSON + textwrap.indent(
        "- id: other\n  type: person\n  label: 別の人\n  prefill: household_members\n  fills: {child_name: name}\n", " " * 6)
    (code, at, msg), = _problems(text)
    assert code == "PD221" and at.startswith("child_name") and "'child' and 'other'" in msg


def test_a_person_field_without_fills() -> None:
    (code, at, _), = _problems(PERSON.replace("        fills: {child_name: name, child_birth: birth_date}\n", ""))
    assert code == "PD219" and at.startswith("household_members")


def test_a_person_field_without_prefill() -> None:
    (code, at, msg), = _problems(PERSON.replace("        prefill: household_members\n", "", 1))
    assert code == "PD218" and at.startswith("child") and "household_members, transfer_movers" in msg


def test_a_person_field_prefilled_from_a_single_value() -> None:
    (code, _, msg), = _problems(PERSON.replace("  prefill: household_members\n", "  prefill: name\n", 1))
    assert code == "PD207" and "field 'child' is person" in msg


def test_pick_self_only_on_a_person_field_or_a_pick_group() -> None:
    assert _problems(HOUSEHOLD.replace("  pick: true\n", "  pick: true\n        pick_self: false\n")) == []
    (code, at, msg), = _problems(HOUSEHOLD.replace("  pick: true\n", "  pick_self: false\n"))
    assert code == "PD222" and at.startswith("pick_self") and "a group without pick: true" in msg
    text = BASE.replace("        label: 代理人の氏名\n", "        label: 代理人の氏名\n        pick_self: false\n")
    (code, at, msg), = _problems(text)
    assert code == "PD222" and at.startswith("pick_self") and "a name field" in msg


def test_a_person_asked_by_two_procedures_of_a_life_event(tmp_path: Path) -> None:
    """PD240 for the same person field in two procedures, unless the shared fields answer every field one fills
    (then it is hidden: nothing to pick). Two different person fields of a household are no repeat."""
    (tmp_path / "p.yaml").write_text(PERSON, encoding="utf-8")
    (tmp_path / "q.yaml").write_text(PERSON.replace("id: sample", "id: sample2"), encoding="utf-8")
    ev = LIFE_EVENT.replace("has_kid\n", "has_kids\n").replace(
        "maps_to: {sample: copies, sample2: x}", "maps_to: {sample: copies, sample2: copies}")
    both = ev + ("  - field: {id: rel, type: choice, label: 関係, choices: [{value: self, label: 本人}]}\n"
                 "    maps_to: {sample: relation, sample2: relation}\n"
                 "  - field: {id: cc, type: number, label: 人数}\n    maps_to: {sample: child_count, sample2: child_count}\n"
                 "  - field: {id: cn, type: name, label: 子の氏名}\n    maps_to: {sample: child_name, sample2: child_name}\n"
                 "  - field: {id: cb, type: wareki, label: 子の生年月日}\n    maps_to: {sample: child_birth, sample2: child_birth}\n")
    (tmp_path / "e.yaml").write_text(both, encoding="utf-8")
    assert load_library(tmp_path).problems == []
    # One procedure's birth date left to it: that procedure shows its person field, the other does not.
    (tmp_path / "e.yaml").write_text(both.replace("{sample: child_birth, sample2: child_birth}", "{sample: child_birth}"), encoding="utf-8")
    assert load_library(tmp_path).problems == []
    # Neither: both show it, the person is asked twice (and so is the birth date).
    (tmp_path / "e.yaml").write_text(both.replace("{sample: child_birth, sample2: child_birth}", "{}"), encoding="utf-8")
    probs = load_library(tmp_path).problems
    assert {p.code for p in probs} == {"PD240"} and any("sample.child and sample2.child;" in p.message for p in probs)
    # Two different people (the child, a pupil) both shown: not a repeat (only the birth date is).
    other = PERSON.replace("id: sample", "id: sample2").replace("- id: child\n", "- id: pupil\n")
    (tmp_path / "q.yaml").write_text(other, encoding="utf-8")
    probs = load_library(tmp_path).problems
    assert [p.code for p in probs] == ["PD240"] and "sample.child_birth and sample2.child_birth" in probs[0].message


def test_a_shared_person_field_fills_shared_fields(tmp_path: Path) -> None:
    """A life event's shared person field: its fills name shared fields, checked as a procedure's are."""
    (tmp_path / "p.yaml").write_text(PERSON, encoding="utf-8")
    ev = LIFE_EVENT.replace("has_kid\n", "has_kids\n").replace("maps_to: {sample: copies, sample2: x}", "maps_to: {sample: copies}")
    ev = ev.replace("  - procedure: sample2\n    include_if: has_kids\n", "")
    ev += ("  - field: {id: who, type: person, label: 子ども, prefill: household_members, pick_self: false,\n"
           "            fills: {cn: name}}\n    maps_to: {sample: child}\n"
           "  - field: {id: cn, type: name, label: 子の氏名}\n    maps_to: {sample: child_name}\n")
    (tmp_path / "e.yaml").write_text(ev, encoding="utf-8")
    assert load_library(tmp_path).problems == []
    (tmp_path / "e.yaml").write_text(ev.replace("fills: {cn: name}", "fills: {cm: name}"), encoding="utf-8")
    (p,) = load_library(tmp_path).problems
    assert p.code == "PD202" and "unknown field 'cm' in fills of 'who'" in p.message
    (tmp_path / "e.yaml").write_text(ev.replace("fills: {cn: name}", "fills: {cn: birth_date}"), encoding="utf-8")
    assert [p.code for p in load_library(tmp_path).problems] == ["PD216"]


def test_a_target_must_follow_its_person_field_in_the_same_section() -> None:
    """PD225: the PWA shows a picked person's values after the person field, on its screen (render.js); a
    target before it, or on another screen, would stay empty while the time model counts it picked."""
    before = BASE + textwrap.indent(
        "- {id: child_name, type: name, label: 子の氏名}\n"
        "- id: child\n  type: person\n  label: 子ども\n  prefill: household_members\n"
        "  fills: {child_name: name, child_birth: birth_date}\n"
        "- {id: child_birth, type: wareki, label: 子の生年月日}\n", " " * 6)
    (code, at, msg), = _problems(before)
    assert code == "PD225" and at.startswith("child_name") and "must follow 'child'" in msg
    elsewhere = PERSON + "  - id: later\n    title: あと\n    fields:\n      - {id: later_birth, type: wareki, label: 生年月日}\n"
    elsewhere = elsewhere.replace("child_birth: birth_date}", "child_birth: birth_date, later_birth: birth_date}")
    (code, at, _), = _problems(elsewhere)
    assert code == "PD225" and at.startswith("later_birth")
    assert _problems(PERSON) == []  # after it, in its section
