"""The field-by-field builder: its YAML loads to exactly the model of the equivalent hand-written YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from procedure_definitions.builder import BuilderError, Container, Procedure
from procedure_definitions.library import DEFAULT_LIBRARY
from procedure_definitions.loader import load_file, load_text
from procedure_definitions.model import FIELD_TYPES
from procedure_definitions.model import Procedure as ProcedureModel

SHIPPED = sorted((Path(DEFAULT_LIBRARY) / "procedures").glob("*.yaml"))


def _text(t: Any) -> Any:
    return t  # to_builtins already gives {ja, en?, ja-easy?}: the builder takes it as is


def _add_fields(container: Container, fields: list[dict[str, Any]]) -> None:
    """Drive the builder's per-type methods from plain field data (what a configurator would type)."""
    for f in fields:
        f = dict(f)
        ftype, fid, label = f.pop("type"), f.pop("id"), f.pop("label")
        rules = {k: f.pop(k) for k in ("show_if", "required_if", "constraint", "calculate") if k in f}
        message = f.pop("constraint_message", None)
        if "choices" in f:  # the (value, label[, filter]) pairs form
            f["choices"] = [(c["value"], c["label"], c["filter"]) if "filter" in c else (c["value"], c["label"])
                            for c in f["choices"]]
        if ftype == "group":
            items = f.pop("fields")
            _add_fields(container.group(fid, label, **f), items)
        else:
            getattr(container, ftype)(fid, label=label, **f)
        if rules or message is not None:
            container._owner.rule(fid, message=message, **rules)


def rebuild(proc: ProcedureModel) -> Procedure:
    """The builder calls that make ``proc`` again, one per part, as a configurator would write them."""
    data = msgspec.to_builtins(proc)
    p = Procedure(data["id"], data["version"], title=data["title"], department=data["department"]["name"],
                  department_id=data["department"]["id"],
                  **{k: data[k] for k in ("description", "filers", "legal_basis", "deadline", "keywords", "signature",
                                        "counter_minutes")
                     if k in data})
    for party in data.get("parties", []):
        p.party(party["id"], party["label"], help=party.get("help"))
    for doc in data.get("documents", []):
        p.document(doc["id"], doc["label"], required_if=doc.get("required_if"), note=doc.get("note"))
    if "fee" in data:
        fee = data["fee"]
        p.fee(fee["amount"], per=fee.get("per"), quantity_field=fee.get("quantity_field"), note=fee.get("note"))
    for sec in data["sections"]:
        s = p.section(sec["id"], sec["title"], **{k: sec[k] for k in ("help", "show_if", "party", "staff_only")
                                                   if k in sec})
        _add_fields(s, sec["fields"])
    for sc in data.get("scenarios", []):
        p.scenario(sc["name"], sc["answers"], expect=sc["expect"], today=sc.get("today"),
                   profile=sc.get("profile"), filer=sc.get("filer"))
    return p


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_procedure_rebuilt_with_the_builder_loads_to_the_same_model(path: Path) -> None:
    original = load_file(path)
    assert original.ok
    built = rebuild(original.definition)
    again = load_text(built.to_yaml(), "built.yaml")
    assert [p.format() for p in again.problems if p.severity == "error"] == []
    assert again.definition == original.definition
    assert built.model() == original.definition


HAND_WRITTEN = """\
kind: procedure
id: kodomo-iryo
version: 0.1.0
title: {ja: 子ども医療費助成の申請, en: Child medical expense subsidy, ja-easy: こどもの 病院の お金}
department: {id: kosodate, name: {ja: 子育て支援課, en: Child Support Division}}
filers: [resident, staff]
documents:
  - id: insurance_card
    label: {ja: お子さんの資格確認書, en: Child's health insurance certificate}
    required_if: "has_insurance"
fee: {amount: 0}
sections:
  - id: child
    title: {ja: お子さん, en: Your child}
    fields:
      - id: child_name
        type: name
        required: true
        label: {ja: お子さんの氏名, en: "Child's name", ja-easy: こどもの なまえ}
      - id: birth_date
        type: date
        required: true
        label: 生年月日
        constraint: "birth_date <= today()"
        constraint_message: {ja: 今日より前の日付を入力してください。}
      - id: grade
        type: choice
        appearance: radio
        required: true
        label: 学年
        choices:
          - {value: pre, label: 未就学}
          - {value: elementary, label: {ja: 小学生, en: Elementary school}}
      - id: allergies
        type: multichoice
        label: アレルギー
        choices:
          - {value: egg, label: 卵}
          - {value: milk, label: 乳}
      - id: has_insurance
        type: yesno
        label: 健康保険に加入していますか
      - id: weight
        type: number
        min: 0
        unit: kg
        label: 体重
      - id: guardian_address
        type: address
        prefill: address
        label: 保護者の住所
      - id: guardian_phone
        type: phone
        required: true
        label: 電話番号
      - id: note
        type: text
        max_length: 40
        show_if: "grade = 'elementary'"
        label: 学校名
      - id: card_photo
        type: attachment
        capture: true
        label: 資格確認書の写真
      - id: siblings
        type: group
        max: 5
        label: きょうだい
        fields:
          - id: sibling_name
            type: name
            label: 氏名
scenarios:
  - name: 未就学児
    today: "2026-05-10"
    answers:
      child_name: {family: 山田, given: 花子}
      birth_date: "2022-04-01"
      grade: pre
      guardian_phone: "090-1234-5678"
    expect: {valid: true, hidden: [note]}
"""


def test_builder_calls_equal_the_hand_written_yaml() -> None:
    p = Procedure("kodomo-iryo", "0.1.0",
                  title={"ja": "子ども医療費助成の申請", "en": "Child medical expense subsidy", "ja_easy": "こどもの 病院の お金"},
                  department={"ja": "子育て支援課", "en": "Child Support Division"}, department_id="kosodate",
                  filers=["resident", "staff"])
    p.document("insurance_card", {"ja": "お子さんの資格確認書", "en": "Child's health insurance certificate"},
               required_if="has_insurance")
    p.fee(0)
    s = p.section("child", {"ja": "お子さん", "en": "Your child"})
    s.name("child_name", label={"ja": "お子さんの氏名", "en": "Child's name", "ja-easy": "こどもの なまえ"}, required=True)
    s.date("birth_date", label="生年月日", required=True)
    s.choice("grade", label="学年", appearance="radio", required=True,
             choices=[("pre", "未就学"), ("elementary", {"ja": "小学生", "en": "Elementary school"})])
    s.multi_choice("allergies", label="アレルギー", choices={"egg": "卵", "milk": "乳"})
    s.boolean("has_insurance", label="健康保険に加入していますか")
    s.number("weight", label="体重", min=0, unit="kg")
    s.address("guardian_address", label="保護者の住所", prefill="address")
    s.phone("guardian_phone", label="電話番号", required=True)
    s.text("note", label="学校名", max_length=40)
    s.attachment("card_photo", label="資格確認書の写真", capture=True)
    s.group("siblings", label="きょうだい", max=5).name("sibling_name", label="氏名")
    p.rule("birth_date", constraint="birth_date <= today()", message="今日より前の日付を入力してください。")
    p.rule("note", show_if="grade = 'elementary'")
    p.scenario("未就学児", {"child_name": {"family": "山田", "given": "花子"}, "birth_date": "2022-04-01",
                         "grade": "pre", "guardian_phone": "090-1234-5678"},
               today="2026-05-10", valid=True, hidden=["note"])
    built = p.check()
    assert [x.format() for x in built.problems] == []
    expected = load_text(HAND_WRITTEN, "kodomo-iryo.yaml")
    assert expected.ok
    assert built.definition == expected.definition
    types = {f.__struct_config__.tag for s in built.definition.sections for f in s.fields}
    assert {"text", "name", "number", "date", "choice", "multichoice", "yesno", "address", "phone",
            "attachment", "group"} <= types


def test_every_field_type_has_a_method() -> None:
    for ftype in FIELD_TYPES:
        assert callable(getattr(Container, ftype)), ftype


@pytest.fixture
def section() -> Any:
    p = Procedure("sample", "1.0.0", title="見本", department="市民課", department_id="shimin")
    s = p.section("main", "内容")
    s.text("who", label="名前")
    return p, s


@pytest.mark.parametrize(("call", "message"), [
    (lambda p, s: s.text("x", label="x", maxlength=3), "text('x'): unknown keyword 'maxlength' for a text field (did you mean 'max_length'?)"),
    (lambda p, s: s.text("Who", label="x"), "text('Who'): invalid id 'Who'"),
    (lambda p, s: s.name("who", label="x"), "name('who'): field id 'who' is already used by text('who')"),
    (lambda p, s: s.text("y", label={"en": "Name"}), "text('y'): label needs a Japanese text ('ja')"),
    (lambda p, s: s.text("y", label={"ja": "名", "fr": "Nom"}), "text('y'): label has unknown language 'fr'"),
    (lambda p, s: s.text("y"), "text('y'): label is required"),
    (lambda p, s: s.yesno("y", label="y", required="yes"), "yesno('y'): Expected `bool`, got `str` - at `$.required`"),
    (lambda p, s: s.choice("c", label="c", choices=[("a", "A"), ("a", "B")]), "choice('c'): choices[1]: value 'a' is given twice"),
    (lambda p, s: s.choice("c", label="c", choices=[(True, "A")]), "choice('c'): choices[0]: the value must be a non-empty string"),
    (lambda p, s: s.choice("c", label="c", appearance="buttons", choices=[("a", "A")]), "choice('c'): Invalid enum value 'buttons' - at `$.appearance`"),
    (lambda p, s: s.field("txt", "t", label="t"), "field('txt', 't'): unknown field type 'txt' (did you mean 'text'?)"),
    (lambda p, s: p.rule("whom", show_if="true"), "rule('whom'): no field 'whom' has been added (did you mean 'who'?)"),
    (lambda p, s: p.rule("who"), "rule('who'): say at least one of"),
    (lambda p, s: p.rule("who", message="直してください"), "rule('who'): message is the constraint's message"),
    (lambda p, s: p.section("main", "また"), "section('main'): section 'main' is already defined"),
    (lambda p, s: p.scenario("s", {"who": "x"}), "scenario('s'): say what to expect"),
    (lambda p, s: p.fee("300"), "fee('300'): Expected `int`, got `str`"),
    (lambda p, s: Procedure("Bad id", "1.0.0", title="t", department="d", department_id="d"), "Procedure('Bad id', '1.0.0'): invalid id"),
    (lambda p, s: Procedure("ok", "1.0.0", title="t", department="市民課"), "Procedure('ok', '1.0.0'): department needs an id"),
    (lambda p, s: Procedure("ok", "1.0.0", title="t", department="d", department_id="d", fees=1), "Procedure('ok', '1.0.0'): unknown keyword 'fees'"),
])
def test_argument_errors_name_the_call(section: Any, call: Any, message: str) -> None:
    p, s = section
    with pytest.raises(BuilderError) as info:
        call(p, s)
    assert str(info.value).startswith(message), str(info.value)


def test_a_refused_call_leaves_the_id_free(section: Any) -> None:
    p, s = section
    with pytest.raises(BuilderError):
        s.number("age", label="年齢", min="zero")
    s.number("age", label="年齢", min=0)
    assert [f.id for f in p.model().sections[0].fields] == ["who", "age"]


def test_meaning_is_the_checkers_and_located_in_the_yaml(section: Any) -> None:
    p, _ = section
    p.rule("who", show_if="unknown_field = 1")
    res = p.check("sample.yaml")
    codes = [x.code for x in res.problems]
    assert "PD202" in codes
    bad = next(x for x in res.problems if x.code == "PD202")
    assert p.to_yaml().splitlines()[bad.line - 1].lstrip().startswith("show_if")
    with pytest.raises(BuilderError, match="PD202"):
        p.model()


def test_save_writes_a_file_madoguchi_check_reads(section: Any, tmp_path: Path) -> None:
    p, _ = section
    out = p.save(tmp_path / "sample.yaml")
    assert load_file(out).definition == p.model()
