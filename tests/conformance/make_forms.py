"""Source of tests/conformance/forms.json: whole-form evaluation cases shared by forms.py and form.js.

Procedures are written inline (YAML-ish dicts), loaded through the model and compiled; ``expected`` of
every case is written by hand. Run ``python3 -m tests.conformance.make_forms`` after editing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec

from procedure_definitions.compile import compile_procedure
from procedure_definitions.forms import MESSAGES
from procedure_definitions.model import Procedure

__all__ = ["CASES", "OUT", "PROCEDURES", "build", "compiled_procedures", "main"]

OUT = Path(__file__).with_name("forms.json")
TODAY = "2025-06-15"
SAME = object()  # expected values equal the answers


def L(ja: str) -> dict[str, str]:
    return {"ja": ja}


def F(fid: str, type_: str, **kw: Any) -> dict[str, Any]:
    return {"id": fid, "type": type_, "label": L(fid), **kw}


def P(pid: str, *sections: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "procedure",
        "id": pid,
        "version": "1.0.0",
        "title": L(pid),
        "department": {"id": "test", "name": L("test")},
        "sections": list(sections),
    }


def S(sid: str, *fields: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"id": sid, "title": L(sid), "fields": list(fields), **kw}


def C(*values: str, **filters: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": L(v), **({"filter": filters[v]} if v in filters else {})} for v in values]


PROCEDURES: dict[str, dict[str, Any]] = {
    "basic": P(
        "basic",
        S(
            "applicant",
            F("relation", "choice", required=True, choices=C("self", "family", "proxy")),
            F("proxy_name", "name", required_if="relation = 'proxy'", show_if="relation != 'self'"),
            F("copies", "number", required=True, min=1, max=10, step=1),
            F("total_fee", "number", calculate="copies * 300"),
            F("purpose", "text", min_length=2, max_length=5),
            F(
                "agree",
                "yesno",
                required=True,
                constraint="agree = true",
                constraint_message={"ja": "同意が必要です", "en": "Consent is required"},
            ),
        ),
        S(
            "notes",
            F("reason", "longtext", required=True, max_length=10),
            F("info", "notice", text=L("5通を超える場合は理由が必要です")),
            show_if="copies > 5",
        ),
    ),
    "types": P(
        "types",
        S(
            "all",
            F("email", "email"),
            F("phone", "phone"),
            F("mobile", "phone", mobile_only=True),
            F("name_single", "name", single_part=True),
            F("kana", "kana"),
            F("kana_split", "kana", split=True),
            F("postal", "postal_code"),
            F("addr", "address"),
            F("addr_intl", "address", japan_only=False),
            F("mynum", "my_number"),
            F("corp", "corporate_number"),
            F("doc", "attachment", accept=["image/*", "application/pdf"], max_size_mb=1, max_files=2),
            F("d", "date", min="2020-01-01", max="2025-12-31"),
            F("w", "wareki"),
            F("wp", "wareki", allow_partial=True),
            F("multi", "multichoice", choices=C("a", "b", "c"), min_selected=1, max_selected=2),
            F("yes", "yesno"),
            F("txt", "text"),
        ),
    ),
    "group": P(
        "group",
        S(
            "household",
            F("household_name", "text"),
            F(
                "members",
                "group",
                required=True,
                min=1,
                max=3,
                fields=[
                    F("name", "text", required=True),
                    F("birth", "date", required=True),
                    F("age", "number", calculate="age(birth)"),
                    F("relation", "choice", required=True, choices=C("self", "spouse", "child")),
                    F("school", "text", show_if="age < 18", required_if="age >= 6"),
                    F("income", "number", constraint="income >= 0"),
                ],
            ),
            F("fee_text", "text", calculate="concat(fee, '円')"),
            F("fee", "number", calculate="members_count * 100"),
            F("members_count", "number", calculate="count(members)"),
        ),
    ),
    "cascade": P(
        "cascade",
        S(
            "place",
            F("pref", "choice", choices=C("tokyo", "osaka")),
            F(
                "city",
                "choice",
                choice_filter="pref",
                choices=C(
                    "shinjuku", "shibuya", "kita", "other", shinjuku="tokyo", shibuya="tokyo", kita="osaka"
                ),
            ),
            F("prefs", "multichoice", choices=C("tokyo", "osaka")),
            F(
                "areas",
                "multichoice",
                choice_filter="prefs",
                choices=C("shinjuku", "kita", shinjuku="tokyo", kita="osaka"),
            ),
        ),
    ),
    "sections": P(
        "sections",
        S("s1", F("has_car", "yesno", required=True)),
        S("s2", F("plate", "text", required=True), F("car_note", "notice"), show_if="has_car"),
        S("s3", F("license", "text", required=True, show_if="has_car")),
    ),
    "chain": P(
        "chain",
        S(
            "calc",
            F("a", "number"),
            F("c", "number", calculate="b * 2"),
            F("b", "number", calculate="a + 1"),
            F("d", "text", show_if="c > 10", required=True),
            F("e", "text", show_if="d = 'x'"),
        ),
    ),
    # A condition never reads a value, or a calculation made from a value, that is hidden in the end.
    "fixed": P(
        "fixed",
        S(
            "s",
            F("toggle", "yesno"),
            F("early", "text", show_if="late_double > 10", required=True),
            F("x", "number", show_if="toggle"),
            F("double", "number", calculate="x * 2"),
            F("y", "text", show_if="double > 10", required=True),
            F("late", "number", show_if="toggle"),
            F("late_double", "number", calculate="late * 2"),
            F("before", "text", show_if="after = 'x'"),
            F("after", "text", show_if="toggle"),
            F(
                "kids",
                "group",
                fields=[
                    F("has", "yesno"),
                    F("n", "number", show_if="has"),
                    F("n_double", "number", calculate="n * 2"),
                    F("note", "text", show_if="n_double > 10", required=True),
                    F("m", "number", show_if="has"),  # read only as kids.m, from outside the items
                ],
            ),
            F("kids_total", "number", calculate="sum(kids.m)"),
            F("big_family", "text", show_if="kids_total > 15", required=True),
        ),
    ),
    # Staff-only fields and sections: hidden from, never required of and refused from a resident filer.
    "staff": P(
        "staff",
        S(
            "request",
            F("copies", "number", required=True, min=1),
            F("memo", "longtext", staff_only=True, required=True),
            F("id_checked", "yesno", staff_only=True, required_if="copies > 1"),
            F("people", "group", fields=[F("who", "text", required=True), F("seen", "yesno", staff_only=True)]),
        ),
        S("counter", F("contact_log", "text", required=True), staff_only=True),
    ),
    # Markers follow validation: a postal code linked to a required japan_only address is required too (and
    # carries the address's postal code); required_if switches with the answers.
    "linked": P(
        "linked",
        S(
            "move",
            F("moved_from", "choice", required=True, choices=C("domestic", "abroad")),
            F("prev_postal", "postal_code", address_field="prev_address", show_if="moved_from = 'domestic'"),
            F("prev_address", "address", required_if="moved_from = 'domestic'", show_if="moved_from = 'domestic'"),
            F("opt_postal", "postal_code", address_field="opt_address"),
            F("opt_address", "address"),
            F("kind", "choice", required=True, choices=C("all", "part")),
            F("targets", "group", min=1, show_if="kind = 'part'", required_if="kind = 'part'",
              fields=[F("target", "name", required=True)]),
        ),
    ),
    # Conditions that contradict each other: no stable state; both runtimes end with the same last round.
    "contradiction": P(
        "contradiction",
        S("s", F("r", "text", show_if="is_empty(s)"), F("s", "text", show_if="not is_empty(r)")),
    ),
    # Birth dates from the registry may be partial (日不詳): a wareki field prefilled or mapped from birth_date
    # accepts "YYYY-MM" / "YYYY" (compile sets allow_partial); any other wareki field still needs a day.
    "registry": P(
        "registry",
        S(
            "people",
            F("own_birth", "wareki", prefill="birth_date", required=True),
            F("other_date", "wareki"),
            F("movers", "group", prefill="household_members", pick=True,
              prefill_map={"m_name": "name", "m_birth": "birth_date"},
              fields=[F("m_name", "name", required=True), F("m_birth", "wareki", required=True),
                      F("m_since", "wareki")]),
        ),
    ),
}

BASIC_SHOWN = ["relation", "copies", "total_fee", "purpose", "agree"]
TYPES_SHOWN = [f["id"] for f in PROCEDURES["types"]["sections"][0]["fields"]]
SHA = "a" * 64
GOOD_TYPES = {
    "email": "taro@example.jp",
    "phone": "03-1234-5678",
    "mobile": "090-1234-5678",
    "name_single": "John Smith",
    "kana": "ヤマダ\u3000タロウ",
    "kana_split": {"family": "ヤマダ", "given": "タロウ"},
    "postal": "1000001",
    "addr": {
        "postal_code": "1000001",
        "prefecture": "東京都",
        "city": "千代田区",
        "town": "千代田",
        "block": "1-1",
    },
    "addr_intl": {"prefecture": "Île-de-France", "city": "Paris", "town": "Rue de Rivoli", "block": "1"},
    "mynum": "123456789018",
    "corp": "7123456789012",
    "doc": [{"sha256": SHA, "name": "id.jpg", "size": 1000, "type": "image/jpeg"}],
    "d": "2024-02-29",
    "w": "1989-01-08",
    "wp": "1990-04",
    "multi": ["a"],
    "yes": False,
    "txt": "x",
}


def types(**changes: Any) -> dict[str, Any]:
    return {**GOOD_TYPES, **changes}


def M(name: str, birth: str, relation: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "birth": birth, "relation": relation, **kw}


def case(
    name: str,
    proc: str,
    answers: dict[str, Any],
    *,
    errors: dict[str, str],
    shown: list[str],
    values: Any = SAME,
    today: str = TODAY,
    messages: dict[str, str] | None = None,
    required: list[str] | None = None,
    filer: str | None = None,
) -> dict[str, Any]:
    expected: dict[str, Any] = {
        "valid": not errors,
        "error_codes": errors,
        "shown": shown,
        "values": answers if values is SAME else values,
    }
    if messages:
        expected["messages_ja"] = messages
    if required is not None:
        expected["required"] = required
    out = {"name": name, "procedure": proc, "answers": answers, "today": today, "expected": expected}
    if filer is not None:
        out["filer"] = filer
    return out


GROUP_TOP = ["household_name", "members"]
GROUP_TAIL = ["fee_text", "fee", "members_count"]


def item_paths(i: int, school: bool) -> list[str]:
    ids = ["name", "birth", "age", "relation", *(["school"] if school else []), "income"]
    return [f"members[{i}].{x}" for x in ids]


CASES: list[dict[str, Any]] = [
    # --- basic: required, required_if, show_if, calculate, min/max/step, lengths, constraint, unknown
    case(
        "minimal valid",
        "basic",
        {"relation": "self", "copies": 2, "agree": True},
        errors={},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 2, "total_fee": 600, "agree": True},
    ),
    case(
        "empty answers",
        "basic",
        {},
        errors={"relation": "required", "copies": "required", "agree": "required"},
        shown=["relation", "proxy_name", "copies", "total_fee", "purpose", "agree"],
        values={},
    ),
    case(
        "proxy without a name",
        "basic",
        {"relation": "proxy", "copies": 1, "agree": True},
        errors={"proxy_name": "required"},
        shown=["relation", "proxy_name", "copies", "total_fee", "purpose", "agree"],
        values={"relation": "proxy", "copies": 1, "total_fee": 300, "agree": True},
    ),
    case(
        "proxy with a name (never normalized)",
        "basic",
        {
            "relation": "proxy",
            "proxy_name": {"family": "葛\U000e0100西", "given": "𠮷子"},
            "copies": 1,
            "agree": True,
        },
        errors={},
        shown=["relation", "proxy_name", "copies", "total_fee", "purpose", "agree"],
        values={
            "relation": "proxy",
            "proxy_name": {"family": "葛\U000e0100西", "given": "𠮷子"},
            "copies": 1,
            "total_fee": 300,
            "agree": True,
        },
    ),
    case(
        "hidden field's answer is dropped",
        "basic",
        {"relation": "self", "proxy_name": {"family": "山田", "given": "花子"}, "copies": 1, "agree": True},
        errors={},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1, "total_fee": 300, "agree": True},
    ),
    case(
        "below min",
        "basic",
        {"relation": "self", "copies": 0, "agree": True},
        errors={"copies": "min"},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 0, "total_fee": 0, "agree": True},
    ),
    case(
        "above max shows the notes section",
        "basic",
        {"relation": "self", "copies": 11, "agree": True},
        errors={"copies": "max", "reason": "required"},
        shown=[*BASIC_SHOWN, "reason", "info"],
        values={"relation": "self", "copies": 11, "total_fee": 3300, "agree": True},
    ),
    case(
        "step",
        "basic",
        {"relation": "self", "copies": 1.5, "agree": True},
        errors={"copies": "step"},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1.5, "total_fee": 450, "agree": True},
    ),
    # '"2" > 5' is a type error in the section's show_if: a failing condition shows (never hides) questions
    case(
        "number given as a string",
        "basic",
        {"relation": "self", "copies": "2", "agree": True},
        errors={"copies": "type", "reason": "required"},
        shown=[*BASIC_SHOWN, "reason", "info"],
        values={"relation": "self", "copies": "2", "agree": True},
    ),
    case(
        "constraint with its own message",
        "basic",
        {"relation": "self", "copies": 1, "agree": False},
        errors={"agree": "constraint"},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1, "total_fee": 300, "agree": False},
        messages={"agree": "同意が必要です"},
    ),
    case(
        "not a choice",
        "basic",
        {"relation": "other", "copies": 1, "agree": True},
        errors={"relation": "choice"},
        shown=["relation", "proxy_name", "copies", "total_fee", "purpose", "agree"],
        values={"relation": "other", "copies": 1, "total_fee": 300, "agree": True},
    ),
    case(
        "min_length",
        "basic",
        {"relation": "self", "copies": 1, "agree": True, "purpose": "a"},
        errors={"purpose": "min_length"},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1, "total_fee": 300, "purpose": "a", "agree": True},
        messages={"purpose": "2文字以上で入力してください。"},
    ),
    case(
        "max_length counts code points (5 astral characters fit)",
        "basic",
        {"relation": "self", "copies": 1, "agree": True, "purpose": "𠮷𠮷𠮷𠮷𠮷"},
        errors={},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1, "total_fee": 300, "purpose": "𠮷𠮷𠮷𠮷𠮷", "agree": True},
    ),
    case(
        "max_length exceeded",
        "basic",
        {"relation": "self", "copies": 1, "agree": True, "purpose": "住民票が必要です"},
        errors={"purpose": "max_length"},
        shown=BASIC_SHOWN,
        values={
            "relation": "self",
            "copies": 1,
            "total_fee": 300,
            "purpose": "住民票が必要です",
            "agree": True,
        },
    ),
    case(
        "unknown field",
        "basic",
        {"relation": "self", "copies": 1, "agree": True, "foo": 1},
        errors={"foo": "unknown_field"},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1, "total_fee": 300, "agree": True},
    ),
    case(
        "empty string is no answer",
        "basic",
        {"relation": "", "copies": 1, "agree": True, "purpose": ""},
        errors={"relation": "required"},
        shown=["relation", "proxy_name", "copies", "total_fee", "purpose", "agree"],
        values={"copies": 1, "total_fee": 300, "agree": True},
    ),
    case(
        "section shown with its reason",
        "basic",
        {"relation": "self", "copies": 6, "agree": True, "reason": "理由"},
        errors={},
        shown=[*BASIC_SHOWN, "reason", "info"],
        values={"relation": "self", "copies": 6, "total_fee": 1800, "agree": True, "reason": "理由"},
    ),
    case(
        "a calculated value overrides the answer",
        "basic",
        {"relation": "self", "copies": 1, "agree": True, "total_fee": 900},
        errors={},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1, "total_fee": 300, "agree": True},
    ),
    case(
        "partial name",
        "basic",
        {"relation": "proxy", "proxy_name": {"family": "山田", "given": ""}, "copies": 1, "agree": True},
        errors={"proxy_name": "name_parts"},
        shown=["relation", "proxy_name", "copies", "total_fee", "purpose", "agree"],
        values={
            "relation": "proxy",
            "proxy_name": {"family": "山田", "given": ""},
            "copies": 1,
            "total_fee": 300,
            "agree": True,
        },
    ),
    # --- names: no control or bidirectional character (procedure_definitions.names, the rule of every name);
    # kept (validated, not refused at the edge), the message bad_text; variation selectors are part of a name
    case(
        "a bidi override and a control character in a name's parts",
        "basic",
        {"relation": "proxy", "proxy_name": {"family": "鈴\u202e木", "given": "大\u0007輔"}, "copies": 1, "agree": True},
        errors={"proxy_name": "bad_text"},
        shown=["relation", "proxy_name", "copies", "total_fee", "purpose", "agree"],
        values={
            "relation": "proxy",
            "proxy_name": {"family": "鈴\u202e木", "given": "大\u0007輔"},
            "copies": 1,
            "total_fee": 300,
            "agree": True,
        },
    ),
    case(
        "a forbidden character in the 名 alone, the 姓 missing: the character first",
        "basic",
        {"relation": "proxy", "proxy_name": {"family": "", "given": "大\u2066輔"}, "copies": 1, "agree": True},
        errors={"proxy_name": "bad_text"},
        shown=["relation", "proxy_name", "copies", "total_fee", "purpose", "agree"],
        values={
            "relation": "proxy",
            "proxy_name": {"family": "", "given": "大\u2066輔"},
            "copies": 1,
            "total_fee": 300,
            "agree": True,
        },
    ),
    *(
        case(f"a name holding U+{ord(c):04X} is refused", "types", types(name_single=f"John{c}Smith"),
             errors={"name_single": "bad_text"}, shown=TYPES_SHOWN)
        for c in ("\t", "\n", "\x1b", "\x7f", "\x85", "\u061c", "\u200e", "\u200f", "\u2028", "\u2029",
                  "\u202a", "\u202d", "\u202e", "\u2066", "\u2069")
    ),
    case(
        "variation selectors and IVS stay in a name (never normalized)",
        "basic",
        {"relation": "proxy", "proxy_name": {"family": "邊\U000e0102", "given": "葛\ufe00"}, "copies": 1, "agree": True},
        errors={},
        shown=["relation", "proxy_name", "copies", "total_fee", "purpose", "agree"],
        values={
            "relation": "proxy",
            "proxy_name": {"family": "邊\U000e0102", "given": "葛\ufe00"},
            "copies": 1,
            "total_fee": 300,
            "agree": True,
        },
    ),
    case("a name with spaces and an IVS", "types", types(name_single="渡邊\U000e0102 John\u3000Smith"), errors={},
         shown=TYPES_SHOWN),
    case("a bidi override in katakana is not kana", "types", types(kana_split={"family": "ヤマ\u202eダ", "given": "タロウ"}),
         errors={"kana_split": "kana"}, shown=TYPES_SHOWN),
    # The names rule is for names: a text field (multi-line by design) keeps what it is given.
    case("a plain text field is not a name", "types", types(txt="a\u202eb"), errors={}, shown=TYPES_SHOWN),
    # --- every field type
    case("all types valid", "types", GOOD_TYPES, errors={}, shown=TYPES_SHOWN),
    case("email", "types", types(email="taro@example"), errors={"email": "email"}, shown=TYPES_SHOWN),
    case(
        "full-width email",
        "types",
        types(email="ｔａｒｏ@example.jp"),
        errors={"email": "email"},
        shown=TYPES_SHOWN,
    ),
    case(
        "phones",
        "types",
        types(phone="03-1234-567", mobile="03-1234-5678"),
        errors={"phone": "phone", "mobile": "phone"},
        shown=TYPES_SHOWN,
    ),
    case(
        "name single_part given as an object",
        "types",
        types(name_single={"family": "A", "given": "B"}),
        errors={"name_single": "type"},
        shown=TYPES_SHOWN,
    ),
    case(
        "kana",
        "types",
        types(kana="やまだ", kana_split={"family": "ヤマダ", "given": "たろう"}),
        errors={"kana": "kana", "kana_split": "kana"},
        shown=TYPES_SHOWN,
    ),
    case("half-width kana", "types", types(kana="ﾔﾏﾀﾞ"), errors={"kana": "kana"}, shown=TYPES_SHOWN),
    case(
        "postal codes must be normalized",
        "types",
        types(postal="100-0001"),
        errors={"postal": "postal_code"},
        shown=TYPES_SHOWN,
    ),
    case(
        "full-width postal code",
        "types",
        types(postal="１０００００１"),
        errors={"postal": "postal_code"},
        shown=TYPES_SHOWN,
    ),
    case(
        "address without block",
        "types",
        types(addr={"postal_code": "1000001", "prefecture": "東京都", "city": "千代田区", "town": "千代田"}),
        errors={"addr": "address"},
        shown=TYPES_SHOWN,
    ),
    case(
        "address with a bad postal code",
        "types",
        types(
            addr={
                "postal_code": "100",
                "prefecture": "東京都",
                "city": "千代田区",
                "town": "千代田",
                "block": "1",
            }
        ),
        errors={"addr": "address"},
        shown=TYPES_SHOWN,
    ),
    case(
        "my number and corporate number check digits",
        "types",
        types(mynum="123456789019", corp="1123456789012"),
        errors={"mynum": "my_number", "corp": "corporate_number"},
        shown=TYPES_SHOWN,
    ),
    case(
        "full-width my number",
        "types",
        types(mynum="12345678901８"),
        errors={"mynum": "my_number"},
        shown=TYPES_SHOWN,
    ),
    case(
        "attachment type",
        "types",
        types(doc=[{"sha256": SHA, "name": "a.txt", "size": 10, "type": "text/plain"}]),
        errors={"doc": "attachment_type"},
        shown=TYPES_SHOWN,
    ),
    case(
        "attachment size",
        "types",
        types(doc=[{"sha256": SHA, "name": "a.pdf", "size": 2 * 1024 * 1024, "type": "application/pdf"}]),
        errors={"doc": "attachment_size"},
        shown=TYPES_SHOWN,
        messages={"doc": "1MB以下のファイルを選んでください。"},
    ),
    case(
        "too many attachments",
        "types",
        types(doc=[{"sha256": SHA, "name": f"{i}.png", "size": 1, "type": "image/png"} for i in range(3)]),
        errors={"doc": "max_items"},
        shown=TYPES_SHOWN,
    ),
    case(
        "malformed attachment",
        "types",
        types(doc=[{"name": "a.png", "size": 1, "type": "image/png"}]),
        errors={"doc": "type"},
        shown=TYPES_SHOWN,
    ),
    case(
        "dates",
        "types",
        types(d="2019-12-31", w="1990-04", wp="1990-13"),
        errors={"d": "min", "w": "wareki", "wp": "wareki"},
        shown=TYPES_SHOWN,
    ),
    case(
        "impossible dates",
        "types",
        types(d="2023-02-29", w="2019-02-30", wp="1990"),
        errors={"d": "date", "w": "wareki"},
        shown=TYPES_SHOWN,
    ),
    case(
        "date after max",
        "types",
        types(d="2026-01-01"),
        errors={"d": "max"},
        shown=TYPES_SHOWN,
        messages={"d": "2025-12-31以下にしてください。"},
    ),
    case(
        "multichoice",
        "types",
        types(multi=["a", "b", "c"]),
        errors={"multi": "max_selected"},
        shown=TYPES_SHOWN,
    ),
    case(
        "multichoice unknown value",
        "types",
        types(multi=["d"]),
        errors={"multi": "choice"},
        shown=TYPES_SHOWN,
    ),
    case(
        "wrong json types",
        "types",
        types(multi="a", yes="true", txt=3),
        errors={"multi": "type", "yes": "type", "txt": "type"},
        shown=TYPES_SHOWN,
    ),
    # --- groups: min/max items, item-scoped show_if/required_if/constraint, calculations per item
    case(
        "household valid",
        "group",
        {"members": [M("花子", "1990-01-01", "self"), M("太郎", "2015-04-01", "child", school="小学校")]},
        errors={},
        shown=[*GROUP_TOP, *item_paths(0, False), *item_paths(1, True), *GROUP_TAIL],
        values={
            "members": [
                M("花子", "1990-01-01", "self", age=35),
                M("太郎", "2015-04-01", "child", age=10, school="小学校"),
            ],
            "fee_text": "200円",
            "fee": 200,
            "members_count": 2,
        },
    ),
    case(
        "no members",
        "group",
        {},
        errors={"members": "required"},
        shown=[*GROUP_TOP, *GROUP_TAIL],
        values={"fee_text": "0円", "fee": 0, "members_count": 0},
    ),
    case(
        "empty member list",
        "group",
        {"members": []},
        errors={"members": "required"},
        shown=[*GROUP_TOP, *GROUP_TAIL],
        values={"members": [], "fee_text": "0円", "fee": 0, "members_count": 0},
    ),
    case(
        "too many members",
        "group",
        {
            "members": [
                M("A", "1990-01-01", "self"),
                M("B", "1990-01-01", "spouse"),
                M("C", "1990-01-01", "spouse"),
                M("D", "1990-01-01", "spouse"),
            ]
        },
        errors={"members": "max_items"},
        shown=[
            *GROUP_TOP,
            *item_paths(0, False),
            *item_paths(1, False),
            *item_paths(2, False),
            *item_paths(3, False),
            *GROUP_TAIL,
        ],
        values={
            "members": [
                M("A", "1990-01-01", "self", age=35),
                M("B", "1990-01-01", "spouse", age=35),
                M("C", "1990-01-01", "spouse", age=35),
                M("D", "1990-01-01", "spouse", age=35),
            ],
            "fee_text": "400円",
            "fee": 400,
            "members_count": 4,
        },
    ),
    case(
        "school required for a 7-year-old",
        "group",
        {"members": [M("花子", "1990-01-01", "self"), M("太郎", "2018-01-01", "child")]},
        errors={"members[1].school": "required"},
        shown=[*GROUP_TOP, *item_paths(0, False), *item_paths(1, True), *GROUP_TAIL],
        values={
            "members": [M("花子", "1990-01-01", "self", age=35), M("太郎", "2018-01-01", "child", age=7)],
            "fee_text": "200円",
            "fee": 200,
            "members_count": 2,
        },
    ),
    case(
        "school shown but optional for a 3-year-old",
        "group",
        {"members": [M("花子", "1990-01-01", "self", school="x"), M("次郎", "2022-01-01", "child")]},
        errors={},
        shown=[*GROUP_TOP, *item_paths(0, False), *item_paths(1, True), *GROUP_TAIL],
        values={
            "members": [M("花子", "1990-01-01", "self", age=35), M("次郎", "2022-01-01", "child", age=3)],
            "fee_text": "200円",
            "fee": 200,
            "members_count": 2,
        },
    ),
    case(
        "item constraint and unknown item key",
        "group",
        {"members": [M("花子", "1990-01-01", "self", income=-1, nickname="はな")]},
        errors={"members[0].income": "constraint", "members[0].nickname": "unknown_field"},
        shown=[*GROUP_TOP, *item_paths(0, False), *GROUP_TAIL],
        values={
            "members": [M("花子", "1990-01-01", "self", income=-1, age=35)],
            "fee_text": "100円",
            "fee": 100,
            "members_count": 1,
        },
    ),
    case(
        "birthday today, and a blank birth date",
        "group",
        {"members": [M("花子", "2007-06-15", "self"), M("太郎", "", "child")]},
        errors={"members[1].birth": "required"},
        shown=[*GROUP_TOP, *item_paths(0, False), *item_paths(1, False), *GROUP_TAIL],
        values={
            "members": [M("花子", "2007-06-15", "self", age=18), {"name": "太郎", "relation": "child"}],
            "fee_text": "200円",
            "fee": 200,
            "members_count": 2,
        },
    ),
    case(
        "a group answer that is not a list",
        "group",
        {"members": "x"},
        errors={"members": "type"},
        shown=[*GROUP_TOP, *GROUP_TAIL],
        values={"members": "x", "fee_text": "円"},
    ),
    # --- choice_filter cascades
    case(
        "city in the chosen prefecture",
        "cascade",
        {"pref": "tokyo", "city": "shinjuku"},
        errors={},
        shown=["pref", "city", "prefs", "areas"],
    ),
    case(
        "city of another prefecture",
        "cascade",
        {"pref": "osaka", "city": "shinjuku"},
        errors={"city": "choice"},
        shown=["pref", "city", "prefs", "areas"],
    ),
    case(
        "unfiltered choice is always offered",
        "cascade",
        {"city": "other"},
        errors={},
        shown=["pref", "city", "prefs", "areas"],
    ),
    case(
        "filtered choice without a filter value",
        "cascade",
        {"city": "kita"},
        errors={"city": "choice"},
        shown=["pref", "city", "prefs", "areas"],
    ),
    case(
        "list filter",
        "cascade",
        {"prefs": ["tokyo", "osaka"], "areas": ["shinjuku", "kita"]},
        errors={},
        shown=["pref", "city", "prefs", "areas"],
    ),
    case(
        "list filter excludes",
        "cascade",
        {"prefs": ["osaka"], "areas": ["shinjuku"]},
        errors={"areas": "choice"},
        shown=["pref", "city", "prefs", "areas"],
    ),
    # --- hidden sections and show_if hiding required fields
    case("no car: section and field hidden", "sections", {"has_car": False}, errors={}, shown=["has_car"]),
    case(
        "car: plate and license required",
        "sections",
        {"has_car": True},
        errors={"plate": "required", "license": "required"},
        shown=["has_car", "plate", "car_note", "license"],
    ),
    case(
        "hidden section drops its answers",
        "sections",
        {"has_car": False, "plate": "品川 500", "license": "x"},
        errors={},
        shown=["has_car"],
        values={"has_car": False},
    ),
    case("unanswered condition hides", "sections", {}, errors={"has_car": "required"}, shown=["has_car"]),
    # --- refused at the edge: numbers a double cannot hold exactly, lone surrogates (never kept, never validated)
    case(
        "an integer beyond 2**53 - 1 is refused",
        "basic",
        {"relation": "self", "copies": 9007199254740992, "agree": True},
        errors={"copies": "number_range"},
        shown=BASIC_SHOWN,
        values={"relation": "self", "agree": True},
    ),
    case(
        "a huge number is refused",
        "basic",
        {"relation": "self", "copies": 1e300, "agree": True},
        errors={"copies": "number_range"},
        shown=BASIC_SHOWN,
        values={"relation": "self", "agree": True},
    ),
    case(
        "the largest safe integer is kept",
        "basic",
        {"relation": "self", "copies": 9007199254740991, "agree": True},
        errors={"copies": "max", "reason": "required"},
        shown=[*BASIC_SHOWN, "reason", "info"],
        values={"relation": "self", "copies": 9007199254740991, "total_fee": 2.702159776422297e18, "agree": True},
    ),
    case(
        "a lone surrogate is refused",
        "basic",
        {"relation": "self", "copies": 1, "agree": True, "purpose": "a\ud800"},
        errors={"purpose": "bad_text"},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1, "total_fee": 300, "agree": True},
    ),
    case(
        "astral characters count as one each",
        "basic",
        {"relation": "self", "copies": 1, "agree": True, "purpose": "𠮷😀"},
        errors={},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1, "total_fee": 300, "agree": True, "purpose": "𠮷😀"},
    ),
    case(
        "an answer to a calculated field is not an answer (not even a refused one)",
        "basic",
        {"relation": "self", "copies": 1, "agree": True, "total_fee": 1e300},
        errors={},
        shown=BASIC_SHOWN,
        values={"relation": "self", "copies": 1, "total_fee": 300, "agree": True},
    ),
    case(
        "a refused number inside an object",
        "types",
        types(addr={**GOOD_TYPES["addr"], "block": -1e300}),
        errors={"addr": "number_range"},
        shown=TYPES_SHOWN,
        values={k: v for k, v in GOOD_TYPES.items() if k != "addr"},
    ),
    case(
        "a refused number in a group item",
        "group",
        {"members": [M("花子", "1990-01-01", "self", income=-9007199254740992)]},
        errors={"members[0].income": "number_range"},
        shown=[*GROUP_TOP, *item_paths(0, False), *GROUP_TAIL],
        values={"members": [M("花子", "1990-01-01", "self", age=35)], "fee_text": "100円", "fee": 100,
                "members_count": 1},
    ),
    case(
        "a refused non-object group item refuses the group",
        "group",
        {"members": [M("花子", "1990-01-01", "self"), 1e300]},
        errors={"members": "number_range"},
        shown=[*GROUP_TOP, *GROUP_TAIL],
        values={"fee_text": "0円", "fee": 0, "members_count": 0},
    ),
    # --- one fixed point of visibility and calculations
    case(
        "a condition never reads a calculation made from a hidden value",
        "fixed",
        {"toggle": False, "x": 10, "late": 10, "after": "x", "before": "b", "early": "e"},
        errors={},
        shown=["toggle", "double", "late_double", "kids", "kids_total"],
        values={"toggle": False, "kids_total": 0},
    ),
    case(
        "the same values shown",
        "fixed",
        {"toggle": True, "x": 10, "late": 10, "after": "x", "before": "b"},
        errors={"early": "required", "y": "required"},
        shown=["toggle", "early", "x", "double", "y", "late", "late_double", "before", "after", "kids", "kids_total"],
        values={"toggle": True, "x": 10, "double": 20, "late": 10, "late_double": 20, "after": "x", "before": "b",
                "kids_total": 0},
    ),
    case(
        "inside repeat items too",
        "fixed",
        {"toggle": False, "kids": [{"has": False, "n": 10, "m": 10, "note": "x"}, {"has": True, "n": 10, "m": 10}]},
        errors={"kids[1].note": "required"},
        shown=["toggle", "double", "late_double", "kids", "kids[0].has", "kids[0].n_double", "kids[1].has",
               "kids[1].n", "kids[1].n_double", "kids[1].note", "kids[1].m", "kids_total"],
        # kids_total is 10, not the 20 it was before kids[0].m turned out hidden: big_family stays hidden
        values={"toggle": False, "kids": [{"has": False}, {"has": True, "n": 10, "n_double": 20, "m": 10}],
                "kids_total": 10},
    ),
    case(
        "a calculation over all items never reads an item value hidden in the end",
        "fixed",
        {"toggle": False, "kids": [{"has": False, "m": 10}, {"has": True, "m": 10}]},
        errors={},
        shown=["toggle", "double", "late_double", "kids", "kids[0].has", "kids[0].n_double", "kids[1].has",
               "kids[1].n", "kids[1].n_double", "kids[1].m", "kids_total"],
        values={"toggle": False, "kids": [{"has": False}, {"has": True, "m": 10}], "kids_total": 10},
    ),
    # --- staff_only: a resident neither sees nor owes nor gives it; staff filing at the counter does all three
    case(
        "resident: staff-only fields are hidden and never required",
        "staff",
        {"copies": 2, "people": [{"who": "a"}]},
        errors={},
        shown=["copies", "people", "people[0].who"],
        required=["copies", "people[0].who"],
        filer="resident",
    ),
    case(
        "resident: a staff-only answer is refused (field, item field, staff-only section)",
        "staff",
        {"copies": 1, "memo": "x", "people": [{"who": "a", "seen": True}], "contact_log": "y"},
        errors={"memo": "staff_only", "people[0].seen": "staff_only", "contact_log": "staff_only"},
        shown=["copies", "people", "people[0].who"],
        values={"copies": 1, "people": [{"who": "a"}]},
        required=["copies", "people[0].who"],
        messages={"memo": "この項目は窓口の職員が記入します。入力を消してください。"},
        filer="resident",
    ),
    case(
        "staff: staff-only fields are shown and required",
        "staff",
        {"copies": 2},
        errors={"memo": "required", "id_checked": "required", "contact_log": "required"},
        shown=["copies", "memo", "id_checked", "people", "contact_log"],
        required=["copies", "memo", "id_checked", "contact_log"],
        filer="staff",
    ),
    case(
        "staff: staff-only answers are kept",
        "staff",
        {"copies": 1, "memo": "x", "people": [{"who": "a", "seen": True}], "contact_log": "y"},
        errors={},
        shown=["copies", "memo", "id_checked", "people", "people[0].who", "people[0].seen", "contact_log"],
        required=["copies", "memo", "people[0].who", "contact_log"],
        filer="staff",
    ),
    # --- markers: required paths are exactly what validation requires
    case(
        "linked postal code of a required address is required (empty)",
        "linked",
        {"moved_from": "domestic", "kind": "all"},
        errors={"prev_postal": "required", "prev_address": "required"},
        shown=["moved_from", "prev_postal", "prev_address", "opt_postal", "opt_address", "kind"],
        required=["moved_from", "prev_postal", "prev_address", "kind"],
    ),
    case(
        "linked postal code missing: the code is asked for, not the whole address",
        "linked",
        {"moved_from": "domestic", "kind": "all",
         "prev_address": {"prefecture": "東京都", "city": "新宿区", "town": "新宿", "block": "2-8-1"}},
        errors={"prev_postal": "required"},
        shown=["moved_from", "prev_postal", "prev_address", "opt_postal", "opt_address", "kind"],
        required=["moved_from", "prev_postal", "prev_address", "kind"],
    ),
    case(
        "the postal code an address holds answers its linked postal code field (API clients)",
        "linked",
        {"moved_from": "domestic", "kind": "all",
         "prev_address": {"postal_code": "1600022", "prefecture": "東京都", "city": "新宿区", "town": "新宿",
                          "block": "2-8-1"}},
        errors={},
        shown=["moved_from", "prev_postal", "prev_address", "opt_postal", "opt_address", "kind"],
        required=["moved_from", "prev_postal", "prev_address", "kind"],
    ),
    case(
        "a bad postal code held by the address is the postal code field's error",
        "linked",
        {"moved_from": "domestic", "kind": "all",
         "prev_address": {"postal_code": "16000", "prefecture": "東京都", "city": "新宿区", "town": "新宿",
                          "block": "2-8-1"}},
        errors={"prev_postal": "postal_code"},
        shown=["moved_from", "prev_postal", "prev_address", "opt_postal", "opt_address", "kind"],
        required=["moved_from", "prev_postal", "prev_address", "kind"],
    ),
    case(
        "an optional address with only its linked postal code is not an answer",
        "linked",
        {"moved_from": "abroad", "kind": "all", "opt_postal": "1000001", "opt_address": {"postal_code": "1000001"}},
        errors={},
        shown=["moved_from", "opt_postal", "opt_address", "kind"],
        required=["moved_from", "kind"],
    ),
    case(
        "a bad linked postal code is the postal code's error",
        "linked",
        {"moved_from": "domestic", "kind": "all", "prev_postal": "123",
         "prev_address": {"postal_code": "123", "prefecture": "東京都", "city": "新宿区", "town": "新宿",
                          "block": "2-8-1"}},
        errors={"prev_postal": "postal_code"},
        shown=["moved_from", "prev_postal", "prev_address", "opt_postal", "opt_address", "kind"],
        required=["moved_from", "prev_postal", "prev_address", "kind"],
        messages={"prev_postal": "郵便番号を7桁の数字で入力してください。"},
    ),
    case(
        "required_if switches the marker of a group (必要な人)",
        "linked",
        {"moved_from": "abroad", "kind": "part"},
        errors={"targets": "required"},
        shown=["moved_from", "opt_postal", "opt_address", "kind", "targets"],
        required=["moved_from", "kind", "targets"],
    ),
    case(
        "required_if off: the group is neither shown nor required",
        "linked",
        {"moved_from": "abroad", "kind": "all", "targets": [{"target": {"family": "山田", "given": "花子"}}]},
        errors={},
        shown=["moved_from", "opt_postal", "opt_address", "kind"],
        required=["moved_from", "kind"],
        values={"moved_from": "abroad", "kind": "all"},
    ),
    case(
        "an empty group item asks for its required field",
        "linked",
        {"moved_from": "abroad", "kind": "part", "targets": [{}]},
        errors={"targets[0].target": "required"},
        shown=["moved_from", "opt_postal", "opt_address", "kind", "targets", "targets[0].target"],
        required=["moved_from", "kind", "targets", "targets[0].target"],
    ),
    case(
        "contradicting conditions end the same way in both runtimes",
        "contradiction",
        {"r": "1", "s": "2"},
        errors={},
        shown=[],  # rounds: both hidden, s hidden, none hidden, both hidden (the last of 2 + 1)
        values={},
    ),
    # --- partial dates from the registry (住民票 with 日不詳)
    case(
        "a registry birth date with an unknown day is accepted as is",
        "registry",
        {"own_birth": "1950-03", "movers": [{"m_name": {"family": "窓口", "given": "花子"}, "m_birth": "1950"}]},
        errors={},
        shown=["own_birth", "other_date", "movers", "movers[0].m_name", "movers[0].m_birth", "movers[0].m_since"],
        required=["own_birth", "movers[0].m_name", "movers[0].m_birth"],
    ),
    case(
        "a partial date where the form needs a day is refused",
        "registry",
        {"own_birth": "1950-13", "other_date": "2020-04",
         "movers": [{"m_name": {"family": "窓口", "given": "花子"}, "m_birth": "1950-03", "m_since": "2020-04"}]},
        errors={"own_birth": "wareki", "other_date": "wareki", "movers[0].m_since": "wareki"},
        shown=["own_birth", "other_date", "movers", "movers[0].m_name", "movers[0].m_birth", "movers[0].m_since"],
        required=["own_birth", "movers[0].m_name", "movers[0].m_birth"],
    ),
    # --- chained calculations and cascading visibility
    case(
        "chained calculations out of document order",
        "chain",
        {"a": 1, "d": "x", "e": "y"},
        errors={},
        shown=["a", "c", "b"],
        values={"a": 1, "c": 4, "b": 2},
    ),
    case(
        "calculation makes a field required",
        "chain",
        {"a": 5},
        errors={"d": "required"},
        shown=["a", "c", "b", "d"],
        values={"a": 5, "c": 12, "b": 6},
    ),
    case(
        "visibility cascades",
        "chain",
        {"a": 5, "d": "x", "e": "y"},
        errors={},
        shown=["a", "c", "b", "d", "e"],
        values={"a": 5, "c": 12, "b": 6, "d": "x", "e": "y"},
    ),
    case(
        "calculation on a bad value",
        "chain",
        {"a": "x"},
        errors={"a": "type"},
        shown=["a", "c", "b"],
        values={"a": "x"},
    ),
]


def compiled_procedures() -> dict[str, dict[str, Any]]:
    return {name: compile_procedure(msgspec.convert(src, Procedure)) for name, src in PROCEDURES.items()}


def build() -> dict[str, Any]:
    return {
        "description": "Form evaluation cases shared by forms.py and form.js (see make_forms.py).",
        "messages": MESSAGES,
        "procedures": compiled_procedures(),
        "cases": CASES,
    }


def main() -> None:
    text = json.dumps(build(), ensure_ascii=False, indent=1)
    # A lone surrogate cannot be written as UTF-8: keep it as a JSON escape (the cases test its refusal).
    text = re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(CASES)} cases)")


if __name__ == "__main__":
    main()
