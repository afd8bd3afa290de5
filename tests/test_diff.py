"""procedure_definitions.diff: every change kind, found by editing real shipped definitions (YAML text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procedure_definitions.diff import Change, DefinitionDiff, diff_definitions, format_diff
from procedure_definitions.diff_effects import EFFECTS, KEEP_SUBMISSIONS
from procedure_definitions.library import DEFAULT_LIBRARY, load_library
from procedure_definitions.loader import load_text
from procedure_definitions.model import GroupField, LifeEvent, NoticeField, Procedure

LIB = Path(DEFAULT_LIBRARY)
JIDO = (LIB / "procedures" / "jido-teate.yaml").read_text(encoding="utf-8")
BIRTH = (LIB / "life_events" / "birth.yaml").read_text(encoding="utf-8")
SHIPPED = load_library(LIB)
ALL_DEFS: list[Procedure | LifeEvent] = [
    d for table in (SHIPPED.procedures, SHIPPED.life_events) for versions in table.values() for d in versions.values()
]


def load(text: str) -> Any:
    res = load_text(text, "x.yaml")
    errors = [p.format() for p in res.problems if p.severity == "error"]
    assert res.definition is not None, errors
    return res.definition


def edit(text: str, *pairs: tuple[str, str]) -> str:
    """Apply exact replacements, each of a text found exactly once (so an edit that no longer applies fails)."""
    for old, new in pairs:
        assert text.count(old) == 1, f"edit not applicable: {old!r}"
        text = text.replace(old, new)
    return text


def procedure(*pairs: tuple[str, str]) -> Procedure:
    text = edit(JIDO, *pairs)
    res = load_text(text, "jido-teate.yaml")
    assert res.ok, [p.format() for p in res.problems]  # every edit keeps the definition valid
    return res.definition


OLD = procedure()


def changes(new: Procedure | LifeEvent, old: Procedure | LifeEvent | None = OLD) -> list[Change]:
    return diff_definitions(old, new).changes


def only(new: Procedure | LifeEvent, old: Procedure | LifeEvent | None = OLD) -> Change:
    got = changes(new, old)
    assert len(got) == 1, [(c.kind, c.path, c.message.en) for c in got]
    return got[0]


OCCUPATION = """      - id: claimant_occupation
        type: text
        max_length: 100
        label: {ja: 職業・勤務先, en: Occupation and employer, ja-easy: 仕事と 仕事の 場所}
"""


# -- fields ----------------------------------------------------------------------------------------------
def test_required_field_added_is_breaking_and_drafts_are_asked() -> None:
    new = procedure((OCCUPATION, OCCUPATION + """      - id: workplace_phone
        type: phone
        required: true
        label: {ja: 勤務先の電話番号, en: Workplace phone}
"""))
    c = only(new)
    assert (c.kind, c.path, c.field_id, c.breaking) == ("field_added", "workplace_phone", "workplace_phone", True)
    assert "勤務先の電話番号" in c.message.ja and "(required)" in c.message.en
    assert "refused until the new required field is answered" in c.effect.en
    assert "update notice names it" in c.effect.en


def test_optional_field_added_is_not_breaking() -> None:
    new = procedure((OCCUPATION, OCCUPATION + """      - id: workplace_name
        type: text
        label: {ja: 勤務先名, en: Workplace}
"""))
    c = only(new)
    assert (c.kind, c.breaking) == ("field_added", False)
    assert "(optional)" in c.message.en
    assert c.effect.en == EFFECTS["field_added"][1]


def test_required_if_field_added_names_the_condition() -> None:
    new = procedure((OCCUPATION, OCCUPATION + """      - id: workplace_name
        type: text
        required_if: "pension_type = 'kosei'"
        label: {ja: 勤務先名, en: Workplace}
"""))
    c = only(new)
    assert c.breaking and "pension_type = 'kosei'" in c.message.en
    assert "meet its condition" in c.effect.en


def test_required_field_added_at_the_counter_is_not_breaking_for_residents() -> None:
    memo = "      - id: counter_memo\n"
    c = only(procedure((memo, """      - id: counter_check
        type: yesno
        required: true
        label: {ja: 確認済み, en: Checked}
""" + memo)))
    assert (c.kind, c.path, c.breaking) == ("field_added", "counter_check", False)
    assert "residents' drafts are not asked for it" in c.effect.en and "at the counter" in c.effect.en


def test_required_field_added_inside_a_group_has_the_item_path() -> None:
    sib = """          - id: sibling_birth_date
            type: wareki
            required: true
            label: {ja: 生年月日, en: Date of birth, ja-easy: 生まれた 日}
"""
    new = procedure((sib, sib + """          - id: sibling_school
            type: text
            required: true
            label: {ja: 学校名, en: School}
"""))
    c = only(new)
    assert (c.kind, c.path, c.breaking) == ("field_added", "older_siblings[].sibling_school", True)
    assert "Items already entered in the group lack it" in c.effect.en


def test_field_removed_is_breaking_and_says_the_answer_is_kept_aside() -> None:
    new = procedure((OCCUPATION, ""))
    c = only(new)
    assert (c.kind, c.path, c.breaking) == ("field_removed", "claimant_occupation", True)
    assert "kept aside on the phone" in c.effect.en and "no longer sent" in c.effect.en
    assert KEEP_SUBMISSIONS[1] in c.effect.en and KEEP_SUBMISSIONS[0] in c.effect.ja


def test_field_removed_inside_a_group_is_refused_as_unknown() -> None:
    new = procedure(("""          - id: sibling_birth_date
            type: wareki
            required: true
            label: {ja: 生年月日, en: Date of birth, ja-easy: 生まれた 日}
""", ""))
    c = only(new)
    assert (c.kind, c.path, c.breaking) == ("field_removed", "older_siblings[].sibling_birth_date", True)
    assert "unknown_field" in c.effect.en


def test_a_removed_group_is_one_change_not_one_per_item_field() -> None:
    group_start = JIDO.index("      - id: older_siblings")
    group_end = JIDO.index("  - id: counter\n")
    text = JIDO[:group_start] + JIDO[group_end:]
    text = edit(text, ("""  - id: older_sibling_confirmation
    label: {ja: 監護相当・生計費の負担についての確認書, en: Confirmation of support for a university-age child, ja-easy: 大学生の 子の 紙}
    required_if: "count(older_siblings) > 0"
""", ""))
    new = load(text)
    got = [(c.kind, c.path) for c in changes(new)]
    assert ("field_removed", "older_siblings") in got
    assert not any(p.startswith("older_siblings[]") for _, p in got)
    assert ("document_removed", "documents.older_sibling_confirmation") in got


def test_type_changed_is_breaking() -> None:
    c = only(procedure((OCCUPATION, OCCUPATION.replace("type: text", "type: longtext"))))
    assert (c.kind, c.path, c.breaking) == ("type_changed", "claimant_occupation", True)
    assert "text → longtext" in c.message.en
    assert "does not fit the new type" in c.effect.en


def test_label_changed_is_not_breaking() -> None:
    c = only(procedure(("label: {ja: 職業・勤務先, en: Occupation and employer,", "label: {ja: 職業, en: Occupation,")))
    assert (c.kind, c.breaking) == ("label_changed", False)
    assert "職業・勤務先" in c.message.ja and "Occupation" in c.message.en
    assert c.effect.en.startswith("Only the wording changes")


def test_choices_removed_added_and_relabelled() -> None:
    kyosai = "          - {value: kyosai, label: {ja: 共済組合（国・地方・私学）, en: Mutual aid association, ja-easy: きょうさい}}\n"
    c = only(procedure((kyosai, "")))
    assert (c.kind, c.path, c.breaking) == ("choice_removed", "pension_type", True)
    assert "kyosai" in c.message.en and "another choice is picked" in c.effect.en
    c = only(procedure((kyosai, kyosai + "          - {value: none, label: {ja: 未加入, en: None}}\n")))
    assert (c.kind, c.breaking) == ("choice_added", False) and "none" in c.message.en
    c = only(procedure((kyosai, kyosai.replace("共済組合（国・地方・私学）", "共済組合"))))
    assert (c.kind, c.breaking) == ("choice_relabelled", False)
    assert "共済組合（国・地方・私学）" in c.message.ja and "The stored value is the same" in c.effect.en


@pytest.mark.parametrize(
    ("pairs", "kind", "path", "words"),
    [
        # required added: the update notice asks for it (migrate.js: the requirement changed)
        ([(OCCUPATION, OCCUPATION.replace("type: text\n", "type: text\n        required: true\n"))],
         "rule_tightened", "claimant_occupation", "now required"),
        ([(OCCUPATION, OCCUPATION.replace("max_length: 100", "max_length: 50"))],
         "rule_tightened", "claimant_occupation", "max_length 100 → 50"),
        ([(OCCUPATION, OCCUPATION.replace("max_length: 100", "max_length: 100\n        min_length: 2"))],
         "rule_tightened", "claimant_occupation", "min_length — → 2"),
        ([(OCCUPATION, OCCUPATION.replace("max_length: 100", "max_length: 100\n        constraint: \"len(claimant_occupation) > 1\""))],
         "rule_tightened", "claimant_occupation", "validation rule added"),
        ([(OCCUPATION, OCCUPATION.replace("type: text\n", "type: text\n        required_if: \"has_spouse\"\n"))],
         "rule_tightened", "claimant_occupation", "required_if added: has_spouse"),
        ([("""        min: 1
        max: 10
""", """        min: 2
        max: 10
""")], "rule_tightened", "children", "min 1 → 2"),
        ([("""      - id: bank_name
        type: text
        show_if: "payment_account = 'bank'"
        required_if: "payment_account = 'bank'"
""", """      - id: bank_name
        type: text
        show_if: "payment_account = 'bank'"
        required_if: "payment_account = 'bank' and has_spouse"
""")], "rule_changed", "bank_name", "required_if payment_account = 'bank' → payment_account = 'bank' and has_spouse"),
        ([("constraint: \"matches(account_number, '[0-9]{7}')\"", "constraint: \"matches(account_number, '[0-9]{6,7}')\"")],
         "rule_changed", "account_number", "validation rule"),
        ([("""      - id: spouse_my_number
        staff_only: true
""", """      - id: spouse_my_number
""")], "rule_loosened", "spouse_my_number", "no longer filled at the counter only"),
        ([(OCCUPATION, OCCUPATION.replace("max_length: 100", "max_length: 200"))],
         "rule_loosened", "claimant_occupation", "max_length 100 → 200"),
        ([(OCCUPATION, OCCUPATION.replace("        max_length: 100\n", ""))],
         "rule_loosened", "claimant_occupation", "max_length 100 → —"),
        ([("""        min: 1
        max: 10
""", """        min: 1
        max: 20
""")], "rule_loosened", "children", "max 10 → 20"),
        ([("""      - id: is_public_servant
        type: yesno
        required: true
""", """      - id: is_public_servant
        type: yesno
""")], "rule_loosened", "is_public_servant", "no longer required"),
        ([("        constraint: \"is_public_servant = false\"\n", "")],
         "rule_loosened", "is_public_servant", "validation rule removed"),
    ],
)
def test_rules_tightened_loosened_changed(pairs: list[tuple[str, str]], kind: str, path: str, words: str) -> None:
    c = only(procedure(*pairs))
    assert (c.kind, c.path, c.field_id) == (kind, path, path.rsplit(".", 1)[-1].split("[]")[-1])
    assert words in c.message.en
    assert c.breaking is (kind != "rule_loosened")
    assert c.effect.ja and c.effect.en


def test_required_added_says_the_update_notice_asks_and_in_a_group_that_it_does_not() -> None:
    top = only(procedure((OCCUPATION, OCCUPATION.replace("type: text\n", "type: text\n        required: true\n"))))
    assert "update notice names it" in top.effect.en
    old_text = edit(JIDO, ("""          - id: sibling_birth_date
            type: wareki
            required: true
""", """          - id: sibling_birth_date
            type: wareki
"""))
    c = only(OLD, load(old_text))
    assert (c.kind, c.path) == ("rule_tightened", "older_siblings[].sibling_birth_date")
    assert "does not name it" in c.effect.en


def test_section_added_and_removed() -> None:
    section = """  - id: workplace
    title: {ja: 勤務先, en: Workplace}
    fields:
      - id: workplace_name
        type: text
        required: true
        label: {ja: 勤務先名, en: Workplace name}
"""
    new = procedure(("  - id: spouse\n", section + "  - id: spouse\n"))
    got = [(c.kind, c.path, c.breaking) for c in changes(new)]
    assert got == [("section_added", "sections.workplace", True), ("field_added", "workplace_name", True)]
    gone = [(c.kind, c.path, c.breaking) for c in changes(OLD, new)]
    assert gone == [("section_removed", "sections.workplace", True), ("field_removed", "workplace_name", True)]


def test_field_moved_to_another_page_keeps_answers() -> None:
    block = OCCUPATION
    spouse_fields = "    title: {ja: 配偶者, en: Spouse, ja-easy: 夫 または 妻}\n    fields:\n"
    c = only(procedure((block, ""), (spouse_fields, spouse_fields + block)))
    assert (c.kind, c.path, c.breaking) == ("field_moved", "claimant_occupation", False)
    assert "page claimant → spouse" in c.message.en


def test_calculation_and_condition_changed() -> None:
    c = only(procedure(('calculate: "age(child_birth_date)"', 'calculate: "age(child_birth_date) + 1"')))
    assert (c.kind, c.path, c.breaking) == ("calculation_changed", "children[].child_age", False)
    assert "stored submissions keep the value computed" in c.effect.en
    c = only(procedure(("""      - id: spouse_name
        type: name
        prefill: spouse_name
        show_if: "has_spouse"
""", """      - id: spouse_name
        type: name
        prefill: spouse_name
        show_if: "has_spouse = true"
""")))
    assert (c.kind, c.path, c.breaking) == ("condition_changed", "spouse_name", False)


def test_department_title_and_details() -> None:
    new = procedure(
        ("department: {id: kodomo, name: {ja: 子育て支援課,", "department: {id: kosodate, name: {ja: こども家庭課,"),
        ("title: {ja: 児童手当認定請求,", "title: {ja: 児童手当の請求,"),
        ("signature: name_only", "signature: autograph"),
    )
    got = {c.kind: c for c in changes(new)}
    assert set(got) == {"department_changed", "title_changed", "details_changed"}
    assert not any(c.breaking for c in got.values())
    assert "kodomo" in got["department_changed"].message.en and "kosodate" in got["department_changed"].message.en
    assert "stay with the department they were filed to" in got["department_changed"].effect.en
    assert "児童手当の請求" in got["title_changed"].message.ja
    assert got["details_changed"].path == "signature"


def test_filer_removed_is_breaking() -> None:
    c = only(procedure(("filers: [resident, staff]", "filers: [staff]")))
    assert (c.kind, c.path, c.breaking) == ("rule_tightened", "filers", True)
    assert "filer_not_allowed" in c.effect.en


def test_attachments_added() -> None:
    new = procedure((OCCUPATION, OCCUPATION + """      - id: insurance_card
        type: attachment
        required: true
        capture: true
        label: {ja: 保険証の写真, en: Photo of the insurance card}
"""), ("documents:\n", "documents:\n  - id: pension_book\n    label: {ja: 年金手帳, en: Pension book}\n"))
    got = {c.kind: c for c in changes(new)}
    assert set(got) == {"attachment_added", "document_added"}
    assert got["attachment_added"].breaking and "attach a file" in got["attachment_added"].effect.en
    assert got["attachment_added"].path == "insurance_card"
    assert not got["document_added"].breaking and got["document_added"].path == "documents.pension_book"


def test_against_none_and_kind_change() -> None:
    d = diff_definitions(None, OLD)
    assert d.against is None and [c.kind for c in d.changes] == ["new"] and not d.breaking
    birth = load(BIRTH)
    d = diff_definitions(birth, OLD)
    assert [c.kind for c in d.changes] == ["kind_changed"] and d.breaking


# -- life events -----------------------------------------------------------------------------------------
def test_life_event_procedures_and_questions() -> None:
    old = load(BIRTH)
    kokuho = """  - procedure: kokuho-kanyu
    include_if: parent_kokuho
"""
    new = load(edit(
        BIRTH,
        (kokuho, kokuho.replace("parent_kokuho", "parent_kokuho and not is_public_servant")),
        ("""  - procedure: kodomo-iryohi
    reason: {ja: 保険が決まる前でも仮に申請できます（15日以内）, en: You can apply provisionally before the insurance is confirmed (within 15 days), ja-easy: 保険が きまる 前でも 申請できます}
""", "  - procedure: kokumin-nenkin\n"),
        ("label: {ja: すでに上の子の児童手当を受けていますか,", "label: {ja: 上の子の児童手当を受けていますか,"),
    ))
    got = {(c.kind, c.path): c for c in changes(new, old)}
    assert set(got) == {
        ("procedure_changed", "procedures.kokuho-kanyu"),
        ("procedure_removed", "procedures.kodomo-iryohi"),
        ("procedure_added", "procedures.kokumin-nenkin"),
        ("question_changed", "questions.already_receiving_teate"),
    }
    assert "include_if" in got[("procedure_changed", "procedures.kokuho-kanyu")].message.en
    for c in got.values():  # a bundle already started keeps its version: nothing breaks on a phone
        assert not c.breaking and "keep the version they were started with" in c.effect.en


def test_life_event_question_and_shared_field_added_removed() -> None:
    old = load(BIRTH)
    q = """  - id: parent_kokuho
"""
    new = load(edit(
        BIRTH,
        (q, "  - id: twins\n    label: {ja: 双子ですか, en: Twins?}\n" + q),
        ("""  - field: {id: head_name, type: name, required: true, prefill: household_head_name, label: {ja: 世帯主の氏名, en: Head of household, ja-easy: せたいぬしの なまえ}}
    maps_to: {shussei: head_name, kokuho-kanyu: head_name}
""", ""),
    ))
    got = [(c.kind, c.path, c.field_id) for c in changes(new, old)]
    assert got == [("question_added", "questions.twins", None), ("shared_field_removed", "shared_fields.head_name", "head_name")]


# -- output ----------------------------------------------------------------------------------------------
def test_json_and_text_output() -> None:
    new = procedure((OCCUPATION, OCCUPATION.replace("type: text", "type: longtext")),
                    ("label: {ja: 職業・勤務先, en: Occupation and employer,", "label: {ja: 職業, en: Occupation,"))
    d = diff_definitions(OLD, new)
    data = msgspec.json.decode(msgspec.json.encode(d))
    assert set(data) == {"against", "changes", "breaking"} and data["against"] == "2.1.0" and data["breaking"] is True
    assert set(data["changes"][0]) == {"kind", "path", "field_id", "breaking", "message", "effect"}
    assert set(data["changes"][0]["message"]) == {"ja", "en"}
    assert msgspec.convert(data, DefinitionDiff) == d
    ja = format_diff(d)
    assert ja[0] == "比較対象 2.1.0: 変更 2 件（破壊的 1 件）"
    assert ja[1].startswith("破壊的 type_changed claimant_occupation: ")
    assert ja[3].startswith("- label_changed claimant_occupation: ")
    en = format_diff(d, "en")
    assert en[0] == "against 2.1.0: 2 change(s), 1 breaking" and en[2].strip() == d.changes[0].effect.en


def test_every_effect_is_bilingual_and_every_kind_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuring.md").read_text(encoding="utf-8")
    section = doc.split("## What changed between versions (diff)", 1)[1].split("\n## ", 1)[0]
    for key, (ja, en) in EFFECTS.items():
        assert ja and en, key
        if key != "life_event":  # the one effect of every life event change
            assert f"`{key.split(':')[0]}`" in section, key
    for kind in ("procedure", "question", "shared_field", "person"):
        for how in ("added", "removed", "changed"):
            assert f"`{kind}_{how}`" in section


# -- properties over every shipped definition ------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_DEFS))
def test_a_definition_has_no_change_against_itself(d: Procedure | LifeEvent) -> None:
    again = msgspec.convert(msgspec.to_builtins(d), type(d))  # an equal copy, not the same object
    assert diff_definitions(d, again) == DefinitionDiff(against=d.version, changes=[], breaking=False)


PROCS = [d for d in ALL_DEFS if isinstance(d, Procedure)]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PROCS), st.data())
def test_removing_any_top_level_answer_field_is_breaking(proc: Procedure, data: st.DataObject) -> None:
    spots = [(i, j) for i, s in enumerate(proc.sections) for j, f in enumerate(s.fields)
             if not isinstance(f, NoticeField) and f.calculate is None]
    i, j = data.draw(st.sampled_from(spots))
    sections = list(proc.sections)
    gone = sections[i].fields[j]
    sections[i] = msgspec.structs.replace(sections[i], fields=[f for k, f in enumerate(sections[i].fields) if k != j])
    d = diff_definitions(proc, msgspec.structs.replace(proc, sections=sections))
    removed = [c for c in d.changes if c.kind == "field_removed"]
    assert [(c.path, c.breaking) for c in removed] == [(gone.id, True)]
    inner = {f.id for f in gone.fields} if isinstance(gone, GroupField) else set()
    assert not any(c.field_id in inner for c in d.changes)  # its items' fields go with it
    assert d.breaking
