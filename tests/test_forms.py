"""forms.py against the shared form cases, plus compile.py and the Python-only entry points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from procedure_definitions.compile import compile_life_event, compile_procedure
from procedure_definitions.forms import (
    MESSAGES,
    FieldError,
    evaluate_form,
    evaluate_procedure,
    validate_answers,
)
from procedure_definitions.model import LifeEvent, Procedure
from tests.conformance import make_forms
from tests.jsonsame import same

HERE = Path(__file__).parent / "conformance"
DATA = json.loads((HERE / "forms.json").read_text(encoding="utf-8"))


def test_enough_cases() -> None:
    assert len(DATA["cases"]) >= 40


def test_compiled_procedures_are_current() -> None:
    assert json.dumps(DATA["procedures"], sort_keys=True) == json.dumps(
        make_forms.compiled_procedures(), sort_keys=True
    )
    assert DATA["messages"] == MESSAGES


@pytest.mark.parametrize("case", DATA["cases"], ids=lambda c: f"{c['procedure']}: {c['name']}")
def test_case(case: dict[str, Any]) -> None:
    state = evaluate_form(DATA["procedures"][case["procedure"]], case["answers"], today=case["today"],
                          filer=case.get("filer", "resident"))
    exp = case["expected"]
    if "required" in exp:
        assert state.required == exp["required"]
    codes = {e.path: e.code for e in state.errors}
    assert len(codes) == len(state.errors), "at most one error per path"
    assert codes == exp["error_codes"]
    assert state.valid is exp["valid"]
    assert state.shown == exp["shown"]
    assert same(state.values, exp["values"]), state.values
    for path, text in exp.get("messages_ja", {}).items():
        assert next(e for e in state.errors if e.path == path).message["ja"] == text


def test_messages_have_every_language() -> None:
    for code, texts in MESSAGES.items():
        assert set(texts) == {"ja", "en", "ja-easy"}, code


def test_answers_are_not_mutated() -> None:
    case = next(c for c in DATA["cases"] if c["name"] == "household valid")
    answers = json.loads(json.dumps(case["answers"]))
    evaluate_form(DATA["procedures"]["group"], answers, today=case["today"])
    assert answers == case["answers"]


def _proc() -> Procedure:
    return msgspec.convert(make_forms.PROCEDURES["basic"], Procedure)


def test_evaluate_procedure_and_validate_answers() -> None:
    proc = _proc()
    state = evaluate_procedure(proc, {"relation": "self", "copies": 2, "agree": True}, today="2025-01-01")
    assert state.valid and state.values["total_fee"] == 600
    errors = validate_answers(proc, {"copies": 0})
    assert [(e.path, e.code) for e in errors] == [
        ("relation", "required"),
        ("copies", "min"),
        ("agree", "required"),
    ]
    assert all(isinstance(e, FieldError) for e in errors)
    assert errors[1].message["en"] == "Must be 1 or more."


@pytest.mark.parametrize("answers", [None, [], "x", {"copies": {"a": [1]}}, {"relation": ["self"]}])
def test_garbage_answers_never_crash(answers: Any) -> None:
    state = evaluate_form(DATA["procedures"]["basic"], answers, today="2025-01-01")  # type: ignore[arg-type]
    assert state.valid is False


def test_compile_procedure_replaces_expressions() -> None:
    proc = msgspec.convert(
        {
            **make_forms.PROCEDURES["sections"],
            "documents": [{"id": "doc", "label": {"ja": "d"}, "required_if": "has_car"}],
            "scenarios": [{"name": "x", "answers": {}, "expect": {}}],
        },
        Procedure,
    )
    out = compile_procedure(proc)
    assert out["format"] == 1
    assert "scenarios" not in out
    assert out["sections"][1]["show_if"] == {"ref": ["has_car"]}
    assert out["sections"][2]["fields"][0]["show_if"] == {"ref": ["has_car"]}
    assert out["documents"][0]["required_if"] == {"ref": ["has_car"]}
    json.dumps(out)


def test_compile_writes_attachment_defaults() -> None:
    proc = msgspec.convert(
        make_forms.P("att", make_forms.S("s", make_forms.F("doc", "attachment"))), Procedure
    )
    field = compile_procedure(proc)["sections"][0]["fields"][0]
    assert field["max_files"] == 1 and field["max_size_mb"] == 10 and "image/jpeg" in field["accept"]


def test_compile_life_event() -> None:
    ev = msgspec.convert(
        {
            "kind": "life_event",
            "id": "moving-in",
            "version": "1.0.0",
            "title": {"ja": "転入"},
            "questions": [{"id": "has_children", "label": {"ja": "子"}, "show_if": "true"}],
            "procedures": [{"procedure": "tennyu"}, {"procedure": "jido", "include_if": "has_children"}],
            "shared_fields": [
                {
                    "field": {
                        "id": "addr",
                        "type": "address",
                        "label": {"ja": "住所"},
                        "show_if": "has_children",
                    },
                    "maps_to": {"tennyu": "address"},
                }
            ],
        },
        LifeEvent,
    )
    out = compile_life_event(ev)
    assert out["format"] == 1
    assert out["questions"][0]["show_if"] == {"lit": True}
    assert out["procedures"][1]["include_if"] == {"ref": ["has_children"]}
    assert "include_if" not in out["procedures"][0]
    assert out["shared_fields"][0]["field"]["show_if"] == {"ref": ["has_children"]}


def test_a_shared_wareki_a_shared_person_fills_from_a_partial_attribute_accepts_a_partial_date() -> None:
    """compile.py decides ``allow_partial`` once for procedures and life events alike: the deceased's birth date
    filled by the shared pick (``birth_date``: maybe 日不詳) accepts a partial date; a typed one does not."""
    wareki = {"type": "wareki", "label": {"ja": "生年月日"}}
    ev = msgspec.convert({
        "kind": "life_event", "id": "death", "version": "1.0.0", "title": {"ja": "死亡"}, "questions": [],
        "procedures": [{"procedure": "shibo"}],
        "shared_fields": [
            {"field": {"id": "who", "type": "person", "prefill": "household_members", "label": {"ja": "誰"},
                       "fills": {"born": "birth_date"}}, "maps_to": {"shibo": "who"}},
            {"field": {**wareki, "id": "born"}, "maps_to": {"shibo": "born"}},
            {"field": {**wareki, "id": "typed"}, "maps_to": {"shibo": "typed"}},
        ],
    }, LifeEvent)
    fields = {sf["field"]["id"]: sf["field"] for sf in compile_life_event(ev)["shared_fields"]}
    assert fields["born"].get("allow_partial") is True
    assert "allow_partial" not in fields["typed"] or fields["typed"]["allow_partial"] is False
    # The shipped death event no longer writes it by hand, and still gets it.
    from procedure_definitions.library import load_library
    lib = load_library()
    death = lib.life_events["death"][max(lib.life_events["death"])]
    shipped = {sf["field"]["id"]: sf["field"] for sf in compile_life_event(death)["shared_fields"]}
    assert shipped["deceased_birth_date"]["allow_partial"] is True
    assert not next(sf for sf in death.shared_fields if sf.field.id == "deceased_birth_date").field.allow_partial


def test_shortcuts_change_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-round and fixed-instance shortcuts of the calculation loop give what the plain loop gives."""
    from procedure_definitions import forms

    layouts = {name: forms._layout(p) for name, p in DATA["procedures"].items()}
    # Both kinds are covered: "chain" has calculations reading calculations, "basic" has one that reads answers.
    assert not layouts["chain"].one_pass and layouts["basic"].one_pass
    assert layouts["group"].calcs is None and layouts["basic"].calcs is not None
    fast = [evaluate_form(DATA["procedures"][c["procedure"]], c["answers"], today=c["today"]) for c in DATA["cases"]]
    plain = {name: msgspec.structs.replace(lay, calcs=None, one_pass=False) for name, lay in layouts.items()}
    by_id = {id(p): plain[name] for name, p in DATA["procedures"].items()}
    monkeypatch.setattr(forms, "_layout", lambda compiled: by_id[id(compiled)])
    for case, state in zip(DATA["cases"], fast, strict=True):
        slow = evaluate_form(DATA["procedures"][case["procedure"]], case["answers"], today=case["today"])
        assert msgspec.to_builtins(slow) == msgspec.to_builtins(state), case["name"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 2**53, -(2**53), 10**400])
def test_non_finite_and_unsafe_numbers_are_refused(bad: Any) -> None:
    # JSON (and so forms.json) cannot carry NaN or Infinity, but json.loads accepts them.
    state = evaluate_form(DATA["procedures"]["basic"], {"relation": "self", "copies": bad, "agree": True},
                          today="2025-01-01")
    assert [(e.path, e.code) for e in state.errors] == [("copies", "number_range")]
    assert "copies" not in state.values and "total_fee" not in state.values


def test_settling_only_after_a_drop_changes_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """settle() is skipped when visibility dropped no value: running it always gives the same states."""
    from procedure_definitions import forms

    fast = [evaluate_form(DATA["procedures"][c["procedure"]], c["answers"], today=c["today"]) for c in DATA["cases"]]
    visibility = forms._Form.visibility

    def always_dropping(self: Any) -> list[str]:
        shown = visibility(self)
        self.dropped = True
        return shown

    monkeypatch.setattr(forms._Form, "visibility", always_dropping)
    for case, state in zip(DATA["cases"], fast, strict=True):
        slow = evaluate_form(DATA["procedures"][case["procedure"]], case["answers"], today=case["today"])
        assert msgspec.to_builtins(slow) == msgspec.to_builtins(state), case["name"]
