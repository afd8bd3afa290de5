"""server.display: every field type's stored value as the text staff and printed forms show (never a raw code,
never an English sub-key, names byte for byte)."""

from __future__ import annotations

from typing import Any

import pytest

from procedure_definitions.library import load_library
from procedure_definitions.model import (
    AddressField,
    AttachmentField,
    Choice,
    ChoiceField,
    CorporateNumberField,
    DateField,
    Department,
    EmailField,
    GroupField,
    KanaField,
    LongTextField,
    MultiChoiceField,
    MyNumberField,
    NameField,
    NoticeField,
    NumberField,
    PersonField,
    PhoneField,
    PostalCodeField,
    Procedure,
    Section,
    Text,
    TextField,
    WarekiField,
    YesNoField,
)
from server.display import (
    STATUS_LABELS,
    address_text,
    answer_sections,
    arrival_name,
    form_values,
    jst,
    procedure_title,
    value_text,
    wareki_text,
)


def _t(s: str) -> Text:
    return Text(ja=s)


JOB = ChoiceField(id="job", label=_t("職業"), choices=[Choice("employee", _t("会社員")), Choice("self", _t("自営業"))])
PETS = MultiChoiceField(id="pets", label=_t("ペット"), choices=[Choice("dog", _t("犬")), Choice("cat", _t("猫"))])
ADDRESS = {"postal_code": "3300063", "prefecture": "埼玉県", "city": "さいたま市浦和区", "town": "高砂",
           "block": "3丁目15-1", "building": "高砂ハイツ201"}
FILE = {"sha256": "a" * 64, "size": 10, "name": "在留カード.jpg", "type": "image/jpeg"}

CASES: list[tuple[Any, Any, str]] = [
    (TextField(id="t", label=_t("t")), "会社員", "会社員"),
    (LongTextField(id="t", label=_t("t")), "一行目\n二行目", "一行目\n二行目"),
    (NumberField(id="n", label=_t("n"), unit=_t("通")), 2, "2通"),
    (NumberField(id="n", label=_t("n")), 2.0, "2"),
    (NumberField(id="n", label=_t("n")), 1.5, "1.5"),
    (YesNoField(id="y", label=_t("y")), True, "はい"),
    (YesNoField(id="y", label=_t("y")), False, "いいえ"),
    (JOB, "self", "自営業"),
    (JOB, "retired-code", "retired-code"),  # a code the version no longer has: what was sent
    (PETS, ["cat", "dog"], "猫、犬"),
    (DateField(id="d", label=_t("d")), "2026-12-07", "2026年12月7日"),
    (WarekiField(id="w", label=_t("w")), "2019-05-01", "令和元年5月1日"),
    (WarekiField(id="w", label=_t("w")), "1989-01-07", "昭和64年1月7日"),
    (WarekiField(id="w", label=_t("w"), allow_partial=True), "2026-12", "令和8年12月"),
    (WarekiField(id="w", label=_t("w"), allow_partial=True), "1990", "平成2年"),
    (EmailField(id="e", label=_t("e")), "a@example.jp", "a@example.jp"),
    (PhoneField(id="p", label=_t("p")), "090-1234-5678", "090-1234-5678"),
    # IVS (葛 + VS17) and 髙/﨑: byte for byte, never folded or normalized.
    (NameField(id="nm", label=_t("nm")), {"family": "髙﨑", "given": "葛\U000e0100子"}, "髙﨑 葛\U000e0100子"),
    (NameField(id="nm", label=_t("nm"), single_part=True), "SMITH JOHN", "SMITH JOHN"),
    (KanaField(id="k", label=_t("k"), split=True), {"family": "ヤマダ", "given": "ハナコ"}, "ヤマダ ハナコ"),
    (KanaField(id="k", label=_t("k")), "ﾔﾏﾀﾞ", "ﾔﾏﾀﾞ"),  # half-width as stored: display never rewrites
    (PostalCodeField(id="pc", label=_t("pc")), "3300063", "〒330-0063"),
    (AddressField(id="a", label=_t("a")), ADDRESS, "〒330-0063 埼玉県さいたま市浦和区高砂3丁目15-1 高砂ハイツ201"),
    (MyNumberField(id="m", label=_t("m")), "234567890121", "234567890121"),
    (CorporateNumberField(id="c", label=_t("c")), "1234567890123", "1234567890123"),
    (AttachmentField(id="f", label=_t("f")), [FILE], "在留カード.jpg"),
]


@pytest.mark.parametrize(("f", "value", "text"), CASES, ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)])
def test_value_text_of_every_field_type(f: Any, value: Any, text: str) -> None:
    assert value_text(f, value) == text


def test_no_english_sub_key_in_any_text() -> None:
    for f, value, _ in CASES:
        out = value_text(f, value)
        for key in ("family", "given", "postal_code", "prefecture", "sha256", "True", "False"):
            assert key not in out, (f, out)


def test_address_without_building_or_postal_code() -> None:
    assert address_text({"prefecture": "東京都", "city": "新宿区", "town": "新宿", "block": "2-8-1",
                         "building": ""}) == "東京都新宿区新宿2-8-1"


def test_person_field_shows_the_picked_person_name_not_the_code() -> None:
    f = PersonField(id="who", label=_t("対象者"), prefill="household_members", fills={"who_name": "name"})
    answers = {"who": "R000123", "who_name": {"family": "山田", "given": "陽太"}}
    assert value_text(f, "R000123", answers, []) == "山田 陽太（世帯員から選択）"
    mover = PersonField(id="who", label=_t("対象者"), prefill="transfer_movers", fills={"who_name": "name"})
    assert value_text(mover, "R000123", answers, ["other"]) == "山田 陽太（転出証明書の異動者から選択）"
    # Not checked against the records (a pre-entry), the pick itself or a filled value corrected: the name only.
    assert value_text(f, "R000123", answers) == "山田 陽太"
    assert value_text(f, "R000123", answers, ["who"]) == "山田 陽太"
    assert value_text(f, "R000123", answers, ["who_name"]) == "山田 陽太"


def _proc() -> Procedure:
    group = GroupField(id="kids", label=_t("子"), item_label=_t("児童"),
                       fields=[NameField(id="kid_name", label=_t("氏名")), JOB])
    return Procedure(id="p", version="1", title=_t("テスト手続き"), department=Department("d", _t("課")), sections=[
        Section(id="s1", title=_t("申請者"), fields=[NameField(id="name", label=_t("氏名")),
                                                   NoticeField(id="note", label=_t("お知らせ")), PETS]),
        Section(id="s2", title=_t("子ども"), fields=[group]),
        Section(id="s3", title=_t("窓口"), fields=[TextField(id="memo", label=_t("窓口メモ"), staff_only=True)]),
    ])


def test_answer_sections_in_form_order_with_groups_as_rows() -> None:
    answers = {"pets": ["dog"], "name": {"family": "山田", "given": "花子"},
               "kids": [{"kid_name": {"family": "山田", "given": "陽太"}, "job": "self"}], "memo": "確認済み"}
    sections = answer_sections(_proc(), answers, frozenset({"memo"}))
    assert [s.title for s in sections] == ["申請者", "子ども", "窓口"]
    assert [(r.label, r.text) for r in sections[0].rows] == [("氏名", "山田 花子"), ("ペット", "犬")]
    group = sections[1].rows[0]
    assert group.label == "子" and group.items[0][0] == "児童 1"
    assert [(r.label, r.text) for r in group.items[0][1]] == [("氏名", "山田 陽太"), ("職業", "自営業")]
    assert sections[2].rows[0].staff_only and not sections[0].rows[0].staff_only


def test_group_value_text_joins_items() -> None:
    group = _proc().sections[1].fields[0]
    text = value_text(group, [{"kid_name": {"family": "山田", "given": "陽太"}, "job": "employee"}])
    assert text == "1: 氏名 山田 陽太、職業 会社員"


def test_form_values_drop_hidden_answers_and_keep_staff_fields_for_staff() -> None:
    proc = load_library().latest("tennyu")
    assert proc is not None
    answers = {**proc.scenarios[0].answers, "nationality": "X国", "counter_memo": "メモ"}  # is_foreign: false
    staff = form_values(proc, answers, filer="staff")
    assert "nationality" not in staff and staff.get("counter_memo") == "メモ"
    assert "counter_memo" not in form_values(proc, answers)


def test_jst_and_status_and_titles() -> None:
    assert jst("2026-12-06T20:27:00Z") == "2026-12-07 05:27"
    assert jst("2026-12-06T20:27:00") == "2026-12-07 05:27"  # stored times are UTC
    assert jst("not a time") == "not a time" and jst(None) == ""
    # Unix seconds (the auth tables' columns: tokens, device codes) read the same way.
    import calendar

    unix = calendar.timegm((2026, 12, 6, 20, 27, 30))
    assert jst(unix) == "2026-12-07 05:27" and jst(float(unix), seconds=True) == "2026-12-07 05:27:30"
    assert jst(True) == "True"  # a flag is not a time
    assert jst("2026-12-06T20:27:09.5+00:00", seconds=True) == "2026-12-07 05:27:09"  # the CLI's listing
    assert STATUS_LABELS["needs_info"] == "追加情報待ち"
    assert procedure_title({"tennyu": "転入届"}, "tennyu") == "転入届"
    assert procedure_title({}, "gone") == "gone"


def test_wareki_before_meiji_falls_back_to_the_western_date() -> None:
    assert wareki_text("1850-01-01") == "1850年1月1日"


def test_a_new_arrival_is_named_by_what_the_application_carries_then_as_typed() -> None:
    """arrival_name: the first application's applicant (the definition's ``prefill: name`` field, what the resident
    signs) before the name typed at reception; an application without one is skipped; byte for byte."""
    lib = load_library()
    copy, tennyu = lib.latest("juminhyo-copy"), lib.latest("tennyu")
    assert copy is not None and tennyu is not None
    typed = {"family": "スズキ", "given": "ダイスケ"}
    signed = {"applicant_name": {"family": "鈴木", "given": "大輔\U000e0100"}}
    assert arrival_name(typed, [(copy, signed)]) == "鈴木 大輔\U000e0100"
    assert arrival_name(typed, [(tennyu, {}), (copy, signed)]) == "鈴木 大輔\U000e0100"  # the first that names one
    assert arrival_name(typed, [(copy, {"applicant_name": {"family": "", "given": ""}})]) == "スズキ ダイスケ"
    assert arrival_name(typed, []) == "スズキ ダイスケ"
    assert arrival_name(None, []) == ""
