"""Issue 12 points 2 and 3 at the definition level: staff_only fields (checker, compile, time model) and
markers that tell the truth (for every shipped procedure, what the ※必須 / ※任意 markers show is what
validation does). The PWA reads the same ``required`` list from form.js (tests/conformance/forms.json pins
the twins); tests/browser/test_pwa_markers.py checks the rendered markers."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from procedure_definitions.compile import compile_procedure
from procedure_definitions.forms import FormState, evaluate_form
from procedure_definitions.library import load_library
from procedure_definitions.loader import load_text
from procedure_definitions.model import Procedure
from procedure_definitions.preview import render_procedure
from procedure_definitions.timing import estimate
from tests.test_checker import BASE

STAFF_SECTION = """\
  - id: counter
    title: 窓口記入欄
    staff_only: true
    fields:
      - id: memo
        type: longtext
        label: 窓口メモ
"""


def _problems(text: str) -> list[tuple[str, int, int]]:
    return [(p.code, p.line, p.col) for p in load_text(text, "x.yaml").problems]


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_staff_only_needs_staff_among_the_filers() -> None:
    text = BASE + STAFF_SECTION + "filers: [resident]\n"
    assert _problems(text) == [("PD250", _line(text, "staff_only: true"), 17)]
    field = BASE.replace("        label: 代理人の氏名\n", "        label: 代理人の氏名\n        staff_only: true\n") \
        + "filers: [resident]\n"
    assert _problems(field) == [("PD250", _line(field, "staff_only: true"), 21)]
    assert _problems(BASE + STAFF_SECTION) == []  # default filers: resident and staff


def test_a_resident_field_reading_a_staff_only_one_is_warned() -> None:
    text = (BASE + "      - id: note\n        type: text\n        label: 備考\n        show_if: \"not is_empty(memo)\"\n"
            + STAFF_SECTION)
    (p,) = load_text(text, "x.yaml").problems
    assert (p.code, p.line, p.severity) == ("PD251", _line(text, "show_if: \"not"), "warning")
    assert "'memo'" in p.message and "'note'" in p.message


def test_a_constraint_without_a_message_is_warned() -> None:
    text = BASE.replace("        max: 10\n", "        max: 10\n        constraint: \"copies != 7\"\n")
    (p,) = load_text(text, "x.yaml").problems
    assert (p.code, p.line, p.severity) == ("PD252", _line(text, "constraint:"), "warning")
    fixed = text.replace("constraint: \"copies != 7\"\n",
                         "constraint: \"copies != 7\"\n        constraint_message: 7通は選べません。6通以下にしてください。\n")
    assert load_text(fixed, "x.yaml").problems == []


def test_a_staff_only_section_marks_its_fields_when_compiled_and_costs_a_resident_nothing() -> None:
    res = load_text(BASE + STAFF_SECTION, "x.yaml")
    assert isinstance(res.definition, Procedure)
    compiled = compile_procedure(res.definition)
    assert compiled["sections"][1]["fields"][0]["staff_only"] is True
    assert "staff_only" not in compiled["sections"][0]["fields"][0]  # the resident's fields are unmarked
    plain = load_text(BASE, "x.yaml").definition
    assert isinstance(plain, Procedure)
    with_memo = load_text(BASE.replace("        label: 通数\n", "        label: 通数\n        required: true\n")
                          + STAFF_SECTION.replace("label: 窓口メモ", "label: 窓口メモ\n        required: true"),
                          "x.yaml").definition
    required_only = load_text(BASE.replace("        label: 通数\n", "        label: 通数\n        required: true\n"),
                              "x.yaml").definition
    assert isinstance(with_memo, Procedure) and isinstance(required_only, Procedure)
    assert estimate(with_memo).seconds == estimate(required_only).seconds


# -- markers tell the truth, for every shipped procedure --------------------------------------------------


def _procedures() -> Iterator[Procedure]:
    lib = load_library()
    for versions in lib.procedures.values():
        yield from versions.values()


CASES = [(p, sc) for p in _procedures() for sc in [None, *p.scenarios]]


def _eval(compiled: dict[str, Any], answers: dict[str, Any], today: str | None, filer: str) -> FormState:
    return evaluate_form(compiled, answers, today=today, filer=filer)


def _clear(answers: dict[str, Any], path: str, compiled: dict[str, Any]) -> dict[str, Any]:
    """``answers`` without the value at ``path`` (``a``, ``g[0].b``), as the PWA leaves them when the person
    empties the field: a linked postal code leaves its address's postal_code part too (render.js makeCtx)."""
    out = copy.deepcopy(answers)
    *head, last = path.split(".")
    holder: Any = out
    for part in head:
        gid, idx = part[:-1].split("[")
        holder = holder[gid][int(idx)]
    holder.pop(last, None)
    if not head:
        for s in compiled["sections"]:
            for f in s["fields"]:
                if f["id"] == last and f["type"] == "postal_code" and f.get("address_field"):
                    addr = out.get(f["address_field"])
                    if isinstance(addr, dict):
                        addr.pop("postal_code", None)
    return out


@pytest.mark.parametrize(("proc", "scenario"), CASES,
                         ids=[f"{p.id}-{sc.name if sc else 'empty'}" for p, sc in CASES])
def test_a_field_marked_optional_and_left_empty_is_never_refused_as_required(proc: Procedure, scenario: Any) -> None:
    compiled = compile_procedure(proc)
    answers = dict(scenario.answers) if scenario else {}
    today = scenario.today if scenario else "2026-04-01"
    filer = scenario.filer if scenario else "resident"
    state = _eval(compiled, answers, today, filer)
    # Every "required" error is on a path whose marker says ※必須, and only shown paths carry a marker.
    assert {e.path for e in state.errors if e.code == "required"} <= set(state.required)
    assert set(state.required) <= set(state.shown)
    # Empty each field marked ※任意 in turn: nothing of it is refused, and no field marked ※任意 afterwards
    # is refused as required.
    for path in state.shown:
        if path in state.required:
            continue
        after = _eval(compiled, _clear(answers, path, compiled), today, filer)
        assert not [e for e in after.errors if e.path == path], (path, after.errors)
        assert {e.path for e in after.errors if e.code == "required"} <= set(after.required), path


def test_markers_switch_with_the_answers_that_require_them() -> None:
    """必要な人 (juminhyo-copy's target_people) and the 転入 previous postal code: optional until an
    answer makes them required, then marked ※必須 — and refused exactly then."""
    lib = load_library()
    jumin = compile_procedure(lib.get("juminhyo-copy", "1.1.0"))  # type: ignore[arg-type]
    some = _eval(jumin, {"certificate_type": "part_household"}, "2026-04-01", "resident")
    assert "target_people" in some.required and "target_people" in [e.path for e in some.errors]
    whole = _eval(jumin, {"certificate_type": "all_household"}, "2026-04-01", "resident")
    assert "target_people" not in whole.required and "target_people" not in whole.shown
    tennyu = compile_procedure(lib.get("tennyu", "1.2.0"))  # type: ignore[arg-type]
    domestic = _eval(tennyu, {"moved_from": "domestic"}, "2026-04-01", "resident")
    assert {"previous_postal_code", "previous_address"} <= set(domestic.required)
    abroad = _eval(tennyu, {"moved_from": "abroad"}, "2026-04-01", "resident")
    assert "previous_postal_code" not in abroad.required


def test_a_resident_never_sees_a_shipped_staff_only_field_and_staff_do() -> None:
    lib = load_library()
    proc = lib.get("juminhyo-copy", "1.1.0")
    assert proc is not None
    compiled = compile_procedure(proc)
    staff_ids = {f["id"] for s in compiled["sections"] for f in s["fields"] if f.get("staff_only")}
    assert {"id_checked", "counter_memo"} <= staff_ids
    resident = _eval(compiled, {}, "2026-04-01", "resident")
    staff = _eval(compiled, {}, "2026-04-01", "staff")
    assert not staff_ids & set(resident.shown)
    assert {"id_checked", "counter_memo"} <= set(staff.shown)


def test_the_configurator_preview_marks_staff_only_sections_and_fields() -> None:
    text = BASE.replace("        label: 代理人の氏名\n", "        label: 代理人の氏名\n        staff_only: true\n") + STAFF_SECTION
    proc = load_text(text, "x.yaml").definition
    assert isinstance(proc, Procedure)
    html = render_procedure(proc)
    assert html.count("職員のみ") == 2  # the proxy name field and the 窓口記入欄 section
    plain = load_text(BASE, "x.yaml").definition
    assert isinstance(plain, Procedure) and "職員のみ" not in render_procedure(plain)
