"""Two-person procedures in definitions: ``parties`` / ``Section.party`` checked with clear, located errors
(PD230-PD235), each part validated on its own, and the time model counting only the first filer's part."""

from __future__ import annotations

from pathlib import Path

from procedure_definitions.forms import validate_answers
from procedure_definitions.library import load_library
from procedure_definitions.loader import load_text
from procedure_definitions.model import Procedure
from procedure_definitions.parties import FIRST_FILER, part_field_ids, part_of
from procedure_definitions.timing import estimate

TWO = """\
kind: procedure
id: pair-def
version: 1.0.0
title: {ja: 二人の届, en: Pair}
department: {id: shimin, name: 市民課}
parties:
  - id: partner
    label: {ja: 相手の方, en: Partner}
sections:
  - id: me
    title: あなた
    fields:
      - {id: my_name, type: name, label: 氏名, required: true, prefill: name}
      - {id: my_age, type: number, label: 年齢, required: true}
  - id: them
    title: 相手の方
    party: partner
    fields:
      - {id: their_name, type: name, label: 氏名, required: true, prefill: name}
      - {id: their_age, type: number, label: 年齢, required: true, constraint: "their_age >= 18", constraint_message: 18歳以上です}
"""


def problems(text: str) -> list[tuple[str, int]]:
    return [(p.code, p.line) for p in load_text(text, "x.yaml").problems]


def test_valid_two_person_procedure() -> None:
    res = load_text(TWO, "x.yaml")
    assert res.problems == []
    proc = res.definition
    assert isinstance(proc, Procedure)
    assert part_field_ids(proc, FIRST_FILER) == {"my_name", "my_age"}
    assert part_field_ids(proc, "partner") == {"their_name", "their_age"}


def test_unknown_party_is_located_with_a_suggestion() -> None:
    res = load_text(TWO.replace("party: partner", "party: partnr"), "x.yaml")
    got = [(p.code, p.line) for p in res.problems]
    assert ("PD230", 17) in got and ("PD232", 7) in got  # the party line; the unused party
    assert "did you mean 'partner'" in next(p.message for p in res.problems if p.code == "PD230")


def test_cross_party_reference_is_refused_both_ways() -> None:
    # the first filer's rule reads the partner's answer: it could not be checked when the first part is sent
    text = TWO.replace("label: 年齢, required: true}", "label: 年齢, required: true, constraint: \"my_age >= their_age\", constraint_message: 年齢を確かめてください}", 1)
    got = load_text(text, "x.yaml").problems
    assert [p.code for p in got] == ["PD231"] and "'their_age'" in got[0].message and got[0].line == 14
    # and the partner's part reads the first filer's answers (the partner never sees them)
    text = TWO.replace("constraint: \"their_age >= 18\"", "constraint: \"their_age >= my_age\"")
    got = load_text(text, "x.yaml").problems
    assert [p.code for p in got] == ["PD231"] and "party 'partner'" in got[0].message
    text = TWO.replace("    party: partner\n", "    party: partner\n    show_if: my_age > 1\n")
    assert [p.code for p in load_text(text, "x.yaml").problems] == ["PD231"]


def test_parties_need_resident_filers_and_a_first_part_and_unique_ids() -> None:
    assert [c for c, _ in problems(TWO.replace("parties:\n", "filers: [staff]\nparties:\n"))] == ["PD233"]
    only_party = TWO.replace("    title: あなた\n", "    title: あなた\n    party: partner\n")
    assert [c for c, _ in problems(only_party)] == ["PD234"]
    dup = TWO.replace("sections:\n", "  - {id: partner, label: 二重}\nsections:\n", 1)
    assert [c for c, _ in problems(dup)] == ["PD201"]


def test_shared_field_into_a_party_part_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(TWO, encoding="utf-8")
    ev = """\
kind: life_event
id: pairing
version: 1.0.0
title: 二人
questions: []
procedures:
  - procedure: pair-def
shared_fields:
  - field: {id: age, type: number, label: 年齢}
    maps_to: {pair-def: their_age}
"""
    (tmp_path / "e.yaml").write_text(ev, encoding="utf-8")
    assert [p.code for p in load_library(tmp_path).problems] == ["PD235"]
    (tmp_path / "e.yaml").write_text(ev.replace("their_age", "my_age"), encoding="utf-8")
    assert load_library(tmp_path).problems == []


def test_each_part_is_validated_on_its_own() -> None:
    proc = load_text(TWO, "x.yaml").definition
    assert isinstance(proc, Procedure)
    first = {"my_name": {"family": "山田", "given": "太郎"}, "my_age": 30}
    assert validate_answers(part_of(proc, FIRST_FILER), first) == []
    assert {e.path for e in validate_answers(proc, first)} == {"their_name", "their_age"}
    assert [e.path for e in validate_answers(part_of(proc, "partner"), {"their_name": {"family": "佐藤", "given": "花子"},
                                                                         "their_age": 17})] == ["their_age"]
    assert part_of(proc, "partner").version != proc.version  # never cached as the whole procedure


def test_time_model_counts_only_the_first_filers_part() -> None:
    proc = load_text(TWO, "x.yaml").definition
    assert isinstance(proc, Procedure)
    without = load_text(TWO.replace("    party: partner\n", ""), "x.yaml").definition
    assert isinstance(without, Procedure)
    assert estimate(proc).seconds < estimate(without).seconds


def test_conformance_with_the_pwa() -> None:
    """tests/conformance/parties.json: the same parts and errors as pwa/js/parties.js partOf (pwa-parties.test.mjs)."""
    import json

    import msgspec

    conf = json.loads((Path(__file__).parent / "conformance" / "parties.json").read_text(encoding="utf-8"))
    proc = msgspec.convert(conf["procedure"], Procedure)
    for case in conf["cases"]:
        part = part_of(proc, case["party"])
        assert [s.id for s in part.sections] == case["sections"], case["name"]
        assert sorted(e.path for e in validate_answers(part, case["answers"])) == case["errors"], case["name"]
