"""The phone time model: monotonic properties, not magic numbers (the constants are documented estimates)."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from procedure_definitions.model import LifeEvent, Procedure
from procedure_definitions.timing import (
    BUDGET_SECONDS,
    DEFAULT_MODEL,
    HEADER_TEXT,
    Estimate,
    TouchModel,
    estimate,
    format_estimate,
)
from procedure_definitions.timing_events import estimate_life_event, every_yes, included_procedures

BASE: dict[str, Any] = {
    "kind": "procedure",
    "id": "sample",
    "version": "1.2.3",
    "title": {"ja": "見本の手続"},
    "department": {"id": "shimin", "name": {"ja": "市民課"}},
    "sections": [
        {
            "id": "main",
            "title": {"ja": "内容"},
            "fields": [
                {
                    "id": "kind",
                    "type": "choice",
                    "required": True,
                    "label": {"ja": "種類"},
                    "choices": [
                        {"value": "a", "label": {"ja": "ひとつめ"}},
                        {"value": "b", "label": {"ja": "ふたつめ"}},
                    ],
                },
                {"id": "copies", "type": "number", "required": True, "label": {"ja": "通数"}},
            ],
        }
    ],
}


def proc(mutate: Any = None) -> Procedure:
    data = copy.deepcopy(BASE)
    if mutate is not None:
        mutate(data)
    return msgspec.convert(data, Procedure)


def fields(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["sections"][0]["fields"]


def add(field: dict[str, Any]) -> Any:
    return lambda d: fields(d).append(field)


def test_estimate_shape() -> None:
    est = estimate(proc())
    assert isinstance(est, Estimate)
    assert est.seconds > 0
    assert est.seconds == pytest.approx(sum(s.seconds for s in est.breakdown), abs=0.05)
    kinds = [s.kind for s in est.breakdown]
    assert kinds[0] == "start" and kinds[-2:] == ["review", "submit"]
    assert {"kind", "copies"} <= {s.field_id for s in est.breakdown}
    assert est.over_budget is (est.seconds > BUDGET_SECONDS)


@pytest.mark.parametrize("ftype", ["text", "name", "phone", "address", "date", "kana", "email", "longtext"])
def test_adding_a_required_typed_field_increases_the_estimate(ftype: str) -> None:
    before = estimate(proc()).seconds
    after = estimate(proc(add({"id": "extra", "type": ftype, "required": True, "label": {"ja": "追加"}}))).seconds
    assert after > before


def test_prefill_reduces_the_estimate() -> None:
    typed = {"id": "who", "type": "name", "required": True, "label": {"ja": "氏名"}}
    prefilled = {**typed, "prefill": "name"}
    assert estimate(proc(add(prefilled))).seconds < estimate(proc(add(typed))).seconds


def test_hidden_fields_are_free() -> None:
    hidden = {"id": "extra", "type": "longtext", "required": True, "show_if": "kind = 'b'", "label": {"ja": "詳細"}}
    assert estimate(proc(add(hidden))).seconds == estimate(proc()).seconds


def test_hidden_sections_are_free() -> None:
    def extra_section(d: dict[str, Any]) -> None:
        d["sections"].append(
            {
                "id": "more",
                "title": {"ja": "追加"},
                "show_if": "kind = 'b'",
                "fields": [{"id": "x", "type": "address", "required": True, "label": {"ja": "住所"}}],
            }
        )

    assert estimate(proc(extra_section)).seconds == estimate(proc()).seconds


def test_optional_and_conditionally_required_fields_cost_only_reading() -> None:
    optional = {"id": "memo", "type": "longtext", "label": {"ja": "メモ"}}
    required = {**optional, "required": True}
    cond = {**optional, "required_if": "kind = 'b'"}
    base = estimate(proc()).seconds
    opt = estimate(proc(add(optional))).seconds
    assert base < opt < estimate(proc(add(required))).seconds
    assert estimate(proc(add(cond))).seconds == opt


def test_more_choices_take_longer_to_read() -> None:
    def more(d: dict[str, Any]) -> None:
        fields(d)[0]["choices"].append({"value": "c", "label": {"ja": "みっつめの選択肢"}})

    assert estimate(proc(more)).seconds > estimate(proc()).seconds


def test_group_counts_its_minimum_items() -> None:
    def group(n: int) -> Any:
        return add(
            {
                "id": "people",
                "type": "group",
                "required": True,
                "min": n,
                "label": {"ja": "対象者"},
                "fields": [{"id": "person", "type": "name", "required": True, "label": {"ja": "氏名"}}],
            }
        )

    one, two = estimate(proc(group(1))).seconds, estimate(proc(group(2))).seconds
    assert estimate(proc()).seconds < one < two


def test_photo_capture_is_costed() -> None:
    photo = {"id": "doc", "type": "attachment", "capture": True, "required": True, "label": {"ja": "写真"}}
    assert estimate(proc(add(photo))).seconds - estimate(proc()).seconds >= DEFAULT_MODEL.photo


def test_model_constants_scale_the_estimate() -> None:
    slow = TouchModel(kana=2.0, read_char=0.3)
    typed = add({"id": "t", "type": "text", "required": True, "label": {"ja": "自由記入"}})
    assert estimate(proc(typed), slow).seconds > estimate(proc(typed)).seconds


def test_over_budget_and_format() -> None:
    p = proc()
    est = estimate(p)
    assert format_estimate(p, est) == f"sample 1.2.3: {est.seconds:.0f} s (within 60 s)"

    def many(d: dict[str, Any]) -> None:
        for i in range(12):
            fields(d).append({"id": f"t{i}", "type": "longtext", "required": True, "label": {"ja": "記入"}})

    big = proc(many)
    est = estimate(big)
    assert est.over_budget
    assert format_estimate(big, est).endswith("(over the 60 s budget)")


def test_shipped_library_estimates_are_finite() -> None:
    from procedure_definitions.library import load_library

    lib = load_library()
    for p in lib.latest_procedures():
        est = estimate(p)
        assert 0 < est.seconds < 3600, p.id


# --- issue 12: household picking, staff-only fields, other parties, steps (folding), life events ---



MEMBERS: dict[str, Any] = {
    "id": "movers",
    "type": "group",
    "required": True,
    "min": 1,
    "label": {"ja": "引っ越した人"},
    "fields": [
        {"id": "m_name", "type": "name", "required": True, "label": {"ja": "氏名"}},
        {"id": "m_birth", "type": "date", "required": True, "label": {"ja": "生年月日"}},
    ],
}


def test_a_household_prefilled_group_costs_less_than_typing_the_members() -> None:
    # Without pick every member is an item, its mapped values prefilled.
    mapped = {**MEMBERS, "prefill": "household_members", "prefill_map": {"m_name": "name", "m_birth": "birth_date"}}
    typed = estimate(proc(add({**MEMBERS, "min": 2}))).seconds
    assert estimate(proc(add(mapped)), household=2).seconds < typed
    # Item fields the household does not know are typed for every member.
    unknown = {**mapped, "prefill_map": {"m_name": "name"}}
    assert estimate(proc(add(unknown)), household=3).seconds > estimate(proc(add(unknown)), household=2).seconds


def test_picking_members_costs_less_than_typing_them_and_each_member_costs_a_tap() -> None:
    picked = {**MEMBERS, "prefill": "household_members", "pick": True,
              "prefill_map": {"m_name": "name", "m_birth": "birth_date"}}
    typed_two = estimate(proc(add({**MEMBERS, "min": 2}))).seconds
    two = estimate(proc(add(picked)), household=2).seconds
    three = estimate(proc(add(picked)), household=3).seconds
    assert two < typed_two
    assert three - two >= DEFAULT_MODEL.tap  # one more member: a glance at the list, a tap, glances at values


def test_unmapped_item_fields_of_a_picked_group_are_still_answered() -> None:
    all_mapped = {**MEMBERS, "prefill": "household_members", "pick": True,
                  "prefill_map": {"m_name": "name", "m_birth": "birth_date"}}
    name_only = {**all_mapped, "prefill_map": {"m_name": "name"}}
    assert estimate(proc(add(name_only))).seconds > estimate(proc(add(all_mapped))).seconds


def test_staff_only_fields_and_sections_cost_the_resident_nothing() -> None:
    memo = {"id": "memo", "type": "longtext", "required": True, "staff_only": True, "label": {"ja": "窓口メモ"}}
    assert estimate(proc(add(memo))).seconds == estimate(proc()).seconds

    def staff_section(d: dict[str, Any]) -> None:
        d["sections"].append({"id": "counter", "title": {"ja": "窓口記入欄"}, "staff_only": True,
                              "fields": [{"id": "checked", "type": "yesno", "required": True, "label": {"ja": "確認"}}]})

    assert estimate(proc(staff_section)).seconds == estimate(proc()).seconds


def test_another_partys_section_costs_the_first_filer_nothing() -> None:
    def two_people(party: str | None) -> Any:
        def mutate(d: dict[str, Any]) -> None:
            d["parties"] = [{"id": "partner", "label": {"ja": "相手の方"}}]
            section = {"id": "theirs", "title": {"ja": "相手の方"},
                       "fields": [{"id": "p_name", "type": "name", "required": True, "label": {"ja": "氏名"}}]}
            d["sections"].append({**section, **({"party": party} if party else {})})
        return mutate

    mine, theirs = estimate(proc(two_people(None))), estimate(proc(two_people("partner")))
    assert theirs.seconds == estimate(proc()).seconds < mine.seconds
    assert "p_name" not in {s.field_id for s in theirs.breakdown}


def test_a_section_with_nothing_to_answer_folds_into_the_review() -> None:
    def prefilled_section(d: dict[str, Any]) -> None:
        d["sections"].append({"id": "you", "title": {"ja": "あなたの情報"}, "fields": [
            {"id": "who", "type": "name", "required": True, "prefill": "name", "label": {"ja": "氏名"}},
            {"id": "tel", "type": "phone", "required": True, "prefill": "phone", "label": {"ja": "電話"}}]})

    def with_a_question(d: dict[str, Any]) -> None:
        prefilled_section(d)
        d["sections"][-1]["fields"].append({"id": "ok", "type": "yesno", "required": True, "label": {"ja": "同意"}})

    folded = estimate(proc(prefilled_section))
    kinds = [(s.kind, s.field_id) for s in folded.breakdown]
    assert ("page", "you") not in kinds and ("tap", "you") not in kinds and ("fold", "you") in kinds
    asked = estimate(proc(with_a_question))
    assert ("page", "you") in [(s.kind, s.field_id) for s in asked.breakdown]
    # Folded, the page costs nothing: only its values, glanced at in the review.
    page = sum(s.seconds for s in asked.breakdown if s.field_id == "you")
    assert page > 0 and sum(s.seconds for s in folded.breakdown if s.field_id == "you") == 0


def test_an_address_filled_by_a_postal_code_lookup_costs_only_its_block() -> None:
    code = {"id": "zip", "type": "postal_code", "required": True, "label": {"ja": "郵便番号"}}
    address = {"id": "addr", "type": "address", "required": True, "label": {"ja": "住所"}}
    alone = estimate(proc(add(address))).seconds

    def both(linked: bool) -> Any:
        def mutate(d: dict[str, Any]) -> None:
            fields(d).extend([{**code, **({"address_field": "addr"} if linked else {})}, address])
        return mutate

    assert estimate(proc(both(True))).seconds < estimate(proc(both(False))).seconds
    assert estimate(proc(both(True))).seconds - estimate(proc()).seconds < alone - estimate(proc()).seconds + 7 * 0.35 + 2 * 0.6


EVENT: dict[str, Any] = {
    "kind": "life_event",
    "id": "ev",
    "version": "1.0.0",
    "title": {"ja": "見本の出来事"},
    "questions": [{"id": "more", "label": {"ja": "もう一つ必要ですか"}}],
    "procedures": [{"procedure": "sample"}, {"procedure": "second", "include_if": "more"}],
}


def _second() -> Procedure:
    def mutate(d: dict[str, Any]) -> None:
        d["id"] = "second"
        fields(d).append({"id": "phone2", "type": "phone", "required": True, "label": {"ja": "電話"}})
    return proc(mutate)


def test_life_event_asks_a_shared_field_once() -> None:
    procs = {"sample": proc(add({"id": "tel", "type": "phone", "required": True, "label": {"ja": "電話"}})),
             "second": _second()}
    plain = msgspec.convert(EVENT, LifeEvent)
    shared = msgspec.convert({**EVENT, "shared_fields": [{"field": {"id": "tel", "type": "phone", "required": True,
                                                                      "label": {"ja": "電話"}},
                                                            "maps_to": {"sample": "tel", "second": "phone2"}}]},
                             LifeEvent)
    yes = {"more": True}
    once = estimate_life_event(shared, procs, yes).estimate
    twice = estimate_life_event(plain, procs, yes).estimate
    assert once.seconds < twice.seconds
    assert [s.field_id for s in once.breakdown].count("tel") == 1
    assert "phone2" not in [s.field_id for s in once.breakdown]


def test_life_event_includes_by_the_answers_and_one_review() -> None:
    procs = {"sample": proc(), "second": _second()}
    event = msgspec.convert(EVENT, LifeEvent)
    no, yes = estimate_life_event(event, procs), estimate_life_event(event, procs, {"more": True})
    assert no.procedures == ["sample"] and yes.procedures == ["sample", "second"]
    assert no.estimate.seconds < yes.estimate.seconds
    assert [s.kind for s in yes.estimate.breakdown].count("review") == 1
    assert every_yes(event) == {"more": True}
    missing = estimate_life_event(event, {"sample": proc()}, {"more": True})
    assert missing.missing == ["second"]


def test_every_yes_keeps_an_excluding_question_no() -> None:
    event = msgspec.convert({**EVENT, "questions": [{"id": "kids", "label": {"ja": "子"}},
                                                    {"id": "civil", "label": {"ja": "公務員"}, "show_if": "kids"}],
                             "procedures": [{"procedure": "sample", "include_if": "kids and not civil"}]}, LifeEvent)
    answers = every_yes(event)
    assert answers == {"kids": True, "civil": False}
    assert [p.procedure for p in included_procedures(event, answers)] == ["sample"]


def test_shipped_moving_within_life_event_is_estimated_for_a_household_of_two() -> None:
    from procedure_definitions.commands import life_event_lines
    from procedure_definitions.library import load_library

    lib = load_library()
    event = lib.life_events["moving-within"]["1.1.0"]
    procs = {p.id: p for p in lib.latest_procedures()}
    est = estimate_life_event(event, procs)
    assert est.procedures[0] == "tenkyo" and not est.missing
    assert est.estimate.seconds > estimate(procs["tenkyo"]).seconds - 10  # the event adds its questions
    assert any(line.startswith("moving-within 1.1.0: ") for line in life_event_lines(lib))


# --- the common path: the definition's first valid scenario ---

DETAIL = {"id": "detail", "type": "address", "required": True, "show_if": "kind = 'b'", "label": {"ja": "詳細"}}
NOTE = {"id": "note", "type": "text", "required_if": "kind = 'b'", "label": {"ja": "備考"}}


def _scenario(answers: dict[str, Any], valid: bool = True) -> Any:
    def mutate(d: dict[str, Any]) -> None:
        fields(d).extend([copy.deepcopy(DETAIL), copy.deepcopy(NOTE)])
        d["scenarios"] = [{"name": "見本", "answers": answers, "expect": {"valid": valid}}]
    return mutate


def test_the_first_valid_scenario_opens_its_branches() -> None:
    off = estimate(proc(_scenario({"kind": "a", "copies": 1}))).seconds
    on = estimate(proc(_scenario({"kind": "b", "copies": 1, "detail": {"postal_code": "1000001", "prefecture": "東京都",
                                                                       "city": "千代田区", "town": "千代田", "block": "1"},
                                  "note": "x"})))
    kinds = {s.field_id: s.kind for s in on.breakdown}
    assert kinds["detail"] == "type" and kinds["note"] == "type"  # shown, and required_if holds on the path
    assert on.seconds > off
    # Without a scenario (or with only an invalid one) every condition counts as false.
    none = estimate(proc(lambda d: fields(d).extend([copy.deepcopy(DETAIL), copy.deepcopy(NOTE)]))).seconds
    invalid = estimate(proc(_scenario({"kind": "b"}, valid=False))).seconds
    assert none == invalid == off


def test_a_branch_only_an_optional_answer_opens_is_not_followed() -> None:
    def mutate(d: dict[str, Any]) -> None:
        fields(d).extend([{"id": "has_more", "type": "yesno", "label": {"ja": "ほかにありますか"}},
                          {**copy.deepcopy(DETAIL), "show_if": "has_more"}])
        d["scenarios"] = [{"name": "見本", "answers": {"kind": "a", "copies": 1, "has_more": True,
                                                     "detail": {"postal_code": "1000001"}}, "expect": {"valid": True}}]

    est = estimate(proc(mutate))
    assert "detail" not in {s.field_id for s in est.breakdown}
    assert {s.field_id: s.kind for s in est.breakdown}["has_more"] == "skip"


def test_check_prints_the_procedure_lines_then_a_separate_life_event_block() -> None:
    """`madoguchi check` (the real CLI): ``ID VERSION: N s (...)`` per procedure under its heading (a contract),
    then the life events in their own block, with the numbers the model gives."""
    import re
    import subprocess
    import sys

    from procedure_definitions.library import load_library

    out = subprocess.run([sys.executable, "-m", "madoguchi.cli", "check", "--no-scenarios"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    start = out.index("Estimated completion time (signed-in resident, prefilled profile, phone):")
    events = next(i for i, line in enumerate(out) if line.startswith("Estimated life events"))
    assert start < events and out[events - 1] == ""
    procedure_lines = out[start + 1:events - 1]
    lib = load_library()
    procs = {p.id: p for p in lib.latest_procedures()}
    assert len(procedure_lines) == len(procs)
    for line in procedure_lines:
        m = re.fullmatch(r"  (\S+) (\S+): (\d+) s \((within 60 s|over the 60 s budget)\)", line)
        assert m, line
        p = procs[m[1]]
        assert m[2] == p.version and int(m[3]) == round(estimate(p).seconds)
    block = out[events + 1:]
    moving = next(line for line in block if line.startswith("  moving-within "))
    seconds = estimate_life_event(lib.life_events["moving-within"]["1.1.0"], procs).estimate.seconds
    assert f": {seconds:.0f} s (" in moving and "tenkyo" in moving
    assert not any(re.match(r"  \S+ \S+: \d+ s \((within|over)[^;]*\)$", line) for line in block)


def test_a_persons_my_number_is_typed_once_in_a_life_event_then_picked() -> None:
    """The registry never gives a 個人番号: the first group types it, a later group of the bundle takes it."""
    mn = {"id": "m_no", "type": "my_number", "required": True, "label": {"ja": "個人番号"}}
    group = {**MEMBERS, "prefill": "household_members", "pick": True, "fields": [*MEMBERS["fields"], mn],
             "prefill_map": {"m_name": "name", "m_birth": "birth_date", "m_no": "my_number"}}

    def with_group(pid: str) -> Any:
        def mutate(d: dict[str, Any]) -> None:
            d["id"] = pid
            fields(d).append(copy.deepcopy(group))
        return mutate

    procs = {"sample": proc(with_group("sample")), "second": proc(with_group("second"))}
    event = msgspec.convert(EVENT, LifeEvent)
    both = estimate_life_event(event, procs, {"more": True}, household=2).estimate
    kinds = [(s.kind, s.field_id) for s in both.breakdown if s.field_id == "m_no"]
    # Two members: typed twice in the first procedure; in the second it is part of each member's one line
    # (a glance per member, not per value), so never typed again.
    assert [k for k, _ in kinds] == ["type", "type"]
    lines = [s for s in both.breakdown if s.kind == "glance" and s.field_id == MEMBERS["id"]]
    assert len(lines) == 4  # one line per member in each of the two procedures
    alone = estimate(procs["second"], household=2)
    assert [s.kind for s in alone.breakdown if s.field_id == "m_no"] == ["type", "type"]


def test_opening_lands_on_the_first_step_reading_one_line_and_the_review_lists_the_documents_that_apply() -> None:
    # The overview folds (issue 12): a long description or deadline (in the collapsed <details>) costs
    # nothing; an unconditional document's label is on the line above the first step; there is no start tap.
    base = estimate(proc())
    long_text = {"ja": "説明" * 100}
    assert estimate(proc(lambda d: d.update(description=long_text, deadline=long_text))).seconds == base.seconds
    start = base.breakdown[0]
    assert start.kind == "start" and start.seconds == pytest.approx(
        (len("見本の手続") + len(HEADER_TEXT)) * DEFAULT_MODEL.read_char, abs=0.01)
    doc = {"id": "id_doc", "label": {"ja": "本人確認書類"}}
    with_doc = estimate(proc(lambda d: d.update(documents=[doc])))
    assert with_doc.breakdown[0].seconds == pytest.approx(start.seconds + 6 * DEFAULT_MODEL.read_char, abs=0.01)
    # A conditional document is read on the review when it applies on the path, and only then.
    cond = {**doc, "required_if": "kind = 'b'"}

    def scenario(kind: str) -> Any:
        return lambda d: d.update(documents=[cond], scenarios=[{"name": "見本", "answers": {"kind": kind, "copies": 1},
                                                                  "expect": {"valid": True}}])

    applies = estimate(proc(scenario("b")))
    assert applies.breakdown[0].seconds == start.seconds
    assert {s.field_id: s.kind for s in applies.breakdown}.get("documents") == "read"
    assert "documents" not in {s.field_id for s in estimate(proc(scenario("a"))).breakdown}


def test_a_picked_members_known_values_are_one_glance_not_one_per_value() -> None:
    # picker.js memberLine shows a picked member's registry values as one line: more mapped values do not
    # cost more in the form (the review still reads each one).
    kana = {"id": "m_kana", "type": "kana", "required": True, "label": {"ja": "フリガナ"}}

    def group(extra: list[dict[str, Any]], mapping: dict[str, str]) -> Any:
        return add({**MEMBERS, "fields": [*MEMBERS["fields"], *extra], "prefill": "household_members", "pick": True,
                    "prefill_map": {"m_name": "name", "m_birth": "birth_date", **mapping}})

    one = estimate(proc(group([], {})), household=2)
    two = estimate(proc(group([kana], {"m_kana": "name_kana"})), household=2)
    glances = [s for s in two.breakdown if s.kind == "glance" and s.field_id == MEMBERS["id"]]
    assert len(glances) == 2 and all(s.seconds == DEFAULT_MODEL.glance for s in glances)
    review = {e.breakdown[-2].kind: e.breakdown[-2].seconds for e in (one, two)}
    assert two.seconds - one.seconds == pytest.approx(2 * DEFAULT_MODEL.review_value, abs=0.05), review


def test_steps_conformance_with_the_pwa() -> None:
    """tests/conformance/steps.json: the screens that ask something (the rest fold into the review) are the
    same for the time model (``asks``) and pwa/js/steps.js stepSections (tests/js/pwa-steps.test.mjs)."""
    import json
    from pathlib import Path

    from procedure_definitions.timing import asks, procedure_context, section_shown

    conf = json.loads((Path(__file__).parent / "conformance" / "steps.json").read_text(encoding="utf-8"))
    p = msgspec.convert(conf["procedure"], Procedure)
    ctx = procedure_context(p)
    steps = [s.id for s in p.sections if section_shown(s, ctx) and any(asks(f, ctx) for f in s.fields)]
    assert steps == conf["steps"]
    # A folded section costs no page and no 次へ in the estimate.
    pages = [s.field_id for s in estimate(p).breakdown if s.kind == "page"]
    assert pages == conf["steps"]


def test_fold_conformance_with_the_pwa() -> None:
    """tests/conformance/fold.json: the prefilled values a step shows as one line are the same for the time
    model (``folded``) and pwa/js/steps.js foldedFields (tests/js/pwa-steps.test.mjs); each folding step
    costs one ``prefilled`` line, and the review still counts every value."""
    import json
    from pathlib import Path

    from procedure_definitions.timing import asks, folded, procedure_context, section_shown

    conf = json.loads((Path(__file__).parent / "conformance" / "fold.json").read_text(encoding="utf-8"))
    p = msgspec.convert(conf["procedure"], Procedure)
    ctx = procedure_context(p)
    steps = [s for s in p.sections if section_shown(s, ctx) and any(asks(f, ctx) for f in s.fields)]
    assert {s.id: folded(s.fields, ctx) for s in steps} == conf["fold"]
    est = estimate(p)
    lines = [s.field_id for s in est.breakdown if s.kind == "prefilled"]
    assert lines == [sid for sid, ids in conf["fold"].items() if ids]
    glanced = {s.field_id for s in est.breakdown if s.kind == "glance"}
    assert not glanced & {fid for ids in conf["fold"].values() for fid in ids}


def test_a_steps_prefilled_values_are_one_line_read_once() -> None:
    """Folded (two or more on a screen that asks something), prefilled values cost the line's fixed text and
    one glance, whatever their number and labels; one alone keeps its label and glance; the review lists all."""
    from procedure_definitions.timing import FOLD_TEXT

    def prefilled(n: int) -> Any:
        labels = ["氏名", "電話番号", "住所（住民登録をしているところ）"]
        types = ["name", "phone", "address"]
        return lambda d: fields(d).extend(
            {"id": f"p{i}", "type": types[i], "required": True, "prefill": types[i], "label": {"ja": labels[i]}}
            for i in range(n))

    m = DEFAULT_MODEL
    line = len(FOLD_TEXT) * m.read_char + m.glance
    base, one, two, three = (estimate(proc(prefilled(n))) for n in range(4))
    review = 2 * m.review_value  # the review still lists each value
    assert one.seconds - base.seconds == pytest.approx(len("氏名") * m.read_char + m.glance + m.review_value, abs=0.02)
    assert two.seconds - base.seconds == pytest.approx(line + review, abs=0.02)
    assert three.seconds - two.seconds == pytest.approx(m.review_value, abs=0.02)  # a longer label costs nothing more
    assert [s.kind for s in three.breakdown].count("prefilled") == 1


def test_the_fold_line_is_the_pwas_text() -> None:
    """FOLD_TEXT is what render.js shows in Japanese (strings-ja.js prefilled + memberOpen), and FOLD_MIN is
    steps.js's: the model reads what the PWA shows."""
    import re
    from pathlib import Path

    from procedure_definitions.timing import FOLD_MIN, FOLD_TEXT

    js = Path(__file__).parents[1] / "pwa" / "js"
    ja = (js / "strings-ja.js").read_text(encoding="utf-8")

    def string(key: str) -> str:
        found = re.search(rf"^\s*{key}: '([^']*)',", ja, re.M)
        assert found, key
        return found.group(1)

    assert string("prefilled") + string("memberOpen") == FOLD_TEXT
    assert f"export const FOLD_MIN = {FOLD_MIN};" in (js / "steps.js").read_text(encoding="utf-8")
    # One source: its own note (the registry's is the model's line); several: the neutral 「入力済みの項目」, shorter.
    assert "? [...from][0] : t('prefilledMixed')}${t('memberOpen')}" in (js / "render.js").read_text(encoding="utf-8")
    assert len(string("prefilledMixed")) <= len(string("prefilled"))


def test_a_name_with_the_family_part_prefilled_costs_the_given_part_and_a_glance() -> None:
    """``prefill_part: family``: the label, M, a glance at the prefilled 氏, one tap and the 名 (4 kana, 1
    conversion; a reading 4 kana): typed, never glanced at as a whole prefill nor folded."""
    m = DEFAULT_MODEL
    name = {"id": "child_name", "type": "name", "required": True, "label": {"ja": "子の氏名"}}
    kana = {"id": "child_kana", "type": "kana", "split": True, "required": True, "label": {"ja": "よみ"}}
    part = {"prefill_part": "family"}
    typed = estimate(proc(lambda d: fields(d).extend([name, kana])))
    partial = estimate(proc(lambda d: fields(d).extend([{**name, "prefill": "name", **part},
                                                         {**kana, "prefill": "name_kana", **part}])))
    steps = {s.field_id: s for s in partial.breakdown}
    label = len("子の氏名") * m.read_char
    assert steps["child_name"].kind == "type"
    assert steps["child_name"].seconds == pytest.approx(
        label + m.mental + m.glance + m.tap + 4 * m.kana + m.conversion, abs=0.01)
    assert steps["child_kana"].seconds == pytest.approx(len("よみ") * m.read_char + m.mental + m.glance + m.tap + 4 * m.kana,
                                                        abs=0.01)
    saved = (m.tap + 4 * m.kana + m.conversion - m.glance) + (m.tap + 4 * m.kana - m.glance)
    assert typed.seconds - partial.seconds == pytest.approx(saved, abs=0.02)
    assert not [s for s in partial.breakdown if s.kind == "prefilled"]  # two partial prefills never fold


def test_a_prefilled_value_with_a_hint_stays_in_sight_and_its_hint_is_read() -> None:
    """The hint is the warning (死亡届's 「届け出る方の住所を入れています…」): never folded into the line of prefilled
    values, its label, hint and a glance on the step."""
    hint = {"ja": "届け出る方の住所を入れています。別の住所の方は直してください。"}
    values = [{"id": "addr", "type": "address", "required": True, "prefill": "address", "label": {"ja": "住所"}},
              {"id": "nm", "type": "name", "required": True, "prefill": "name", "label": {"ja": "氏名"}},
              {"id": "ph", "type": "phone", "required": True, "prefill": "phone", "label": {"ja": "電話"}}]
    plain = estimate(proc(lambda d: fields(d).extend(values)))
    hinted = estimate(proc(lambda d: fields(d).extend([{**values[0], "hint": hint}, *values[1:]])))
    assert "addr" not in [s.field_id for s in plain.breakdown]  # folded with the others
    glance = next(s for s in hinted.breakdown if s.field_id == "addr")
    m = DEFAULT_MODEL
    assert glance.kind == "glance"
    assert round(glance.seconds, 2) == round((len("住所") + len(hint["ja"])) * m.read_char + m.glance, 2)
