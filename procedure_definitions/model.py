"""The definition model: procedures and life events as msgspec Structs.

The Structs are the single source of truth for the YAML format: the loader validates against them
(reporting every problem with a position), and the JSON Schema is generated from them.
Every YAML key maps 1:1 to a Struct attribute (``ja-easy`` is the one renamed key).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import msgspec

__all__ = [
    "DEFAULT_SIGNATURE",
    "FAMILY_PART_ATTRIBUTES",
    "FIELD_TYPES",
    "MEMBER_ATTRIBUTES",
    "PARTIAL_DATE_ATTRIBUTES",
    "PROFILE_ATTRIBUTES",
    "PROFILE_GROUPS",
    "SIGNATURE_LABELS",
    "UNDISCLOSED_MEMBER_ATTRIBUTES",
    "AddressField",
    "AttachmentField",
    "Choice",
    "ChoiceField",
    "CorporateNumberField",
    "DateField",
    "Department",
    "Document",
    "EmailField",
    "EventPerson",
    "Fee",
    "Field",
    "FieldBase",
    "GroupField",
    "KanaField",
    "LifeEvent",
    "LifeEventProcedure",
    "LongTextField",
    "MultiChoiceField",
    "MyNumberField",
    "NameField",
    "NoticeField",
    "NumberField",
    "Party",
    "PersonField",
    "PhoneField",
    "PostalCodeField",
    "Procedure",
    "Question",
    "Scenario",
    "ScenarioExpect",
    "Section",
    "SharedField",
    "Signature",
    "Text",
    "TextField",
    "WarekiField",
    "YesNoField",
    "field_paths",
    "iter_fields",
]

_STRICT = {"forbid_unknown_fields": True, "omit_defaults": True}

MergePolicy = Literal["auto", "review", "append"]
Filer = Literal["resident", "staff"]
# How the printed 申請書 is signed (docs/procedure-format.md "Signature"): 記名のみ (the name printed is
# enough), 自署 (a handwritten signature), 自署または押印 (a signature, or the printed name and a seal),
# 押印任意 (a signature; a seal may be added). Absent: 自署, which every rule but a required seal accepts.
Signature = Literal["name_only", "autograph", "autograph_or_seal", "seal_optional"]
SIGNATURE_LABELS: dict[str, str] = {"name_only": "記名のみ", "autograph": "自署",
                                    "autograph_or_seal": "自署または押印", "seal_optional": "押印任意"}
DEFAULT_SIGNATURE: Signature = "autograph"

# Attributes of the resident profile (the registry record bound to an account) that fields may be
# prefilled from. Keep in step with server.registry; the checker rejects anything else.
PROFILE_ATTRIBUTES: dict[str, str] = {
    "name": "name",  # {family, given}
    "name_kana": "kana",  # {family, given} in katakana, or a string
    "birth_date": "date",
    "sex": "choice",
    "postal_code": "postal_code",
    "address": "address",
    "phone": "phone",
    "email": "email",
    "household_head_name": "name",
    "relationship_to_head": "text",
    # The household's married couple (the head and their 妻/夫 on the 住民票), whoever of them files: the
    # 父/母 of a child born in the marriage (出生届) without asking which parent is filing.
    "husband_name": "name",
    "husband_birth_date": "date",
    "wife_name": "name",
    "wife_birth_date": "date",
    "spouse_name": "name",  # the filer's own spouse: the other one of that couple, if the filer is one of them
    # true when spouse_name is known; absent otherwise (never false: a spouse may live elsewhere, the resident answers).
    "has_spouse": "yesno",
    # Became a resident of the city (住民票's 住民となった年月日) after 1 January of this year (JST): true or
    # false from that date, absent when the registry has none (子ども医療費's 前住所地の所得証明書).
    "moved_in_this_year": "yesno",
    # Someone other than the filer, disclosed to them, among the registry household or the movers of an incoming
    # 転出証明書情報, is of 高校生年代 (JST today up to the first 31 March on or after the day they reach 18: the
    # day before their 18th birthday, 児童手当法第4条): true, absent otherwise (never false: a child may live
    # elsewhere; the question is the resident's to answer). server.disclosure.has_child_under_18.
    "has_child_under_18": "yesno",
    "nationality": "text",
    "resident_code": "text",
    "my_number": "my_number",
    "household_members": "group",
    "previous_address": "address",
    "transfer_movers": "group",  # the movers on the incoming 転出証明書情報 (転入)
    "honseki": "text",  # 本籍 (Japanese nationals; the registry records it with the 住民票)
    "honseki_head_name": "name",  # 本籍の筆頭者
    "previous_postal_code": "postal_code",  # the postal code of previous_address
}

# The group attributes above: lists of people whose items a repeat group is prefilled from
# (``prefill_map``), each person carrying the attributes of MEMBER_ATTRIBUTES (absent when not disclosed).
PROFILE_GROUPS: frozenset[str] = frozenset(k for k, v in PROFILE_ATTRIBUTES.items() if v == "group")

# Attributes of one person of a household (or of the movers of a transfer): attribute -> value type, the
# same value types as PROFILE_ATTRIBUTES. Keep in step with server.household.
MEMBER_ATTRIBUTES: dict[str, str] = {
    "member_id": "text",  # the resident code: stable, never shown as a typed value
    "name": "name",
    "name_kana": "kana",
    "birth_date": "date",
    "sex": "choice",
    "relationship_to_head": "text",
    # Lives in the filer's registry household: true for every person of ``household_members`` (by definition),
    # absent for transfer movers and hand-typed people (server.disclosure.member_entry).
    "same_household": "yesno",
    # The 本籍 and its 筆頭者 on the person's 住民票 (Japanese nationals): only of a member of the filer's own
    # registry household, who may obtain that 住民票の写し (住民基本台帳法第12条); never of transfer movers
    # (server.disclosure.disclosed_household). 死亡届's deceased.
    "honseki": "text",
    "honseki_head_name": "name",
    # One of the household's married couple (the head and the head's 妻/夫 on the 住民票) whose other one is
    # listed too: true, and that other one's birth date; absent otherwise, never false
    # (server.disclosure.disclosed_household). 死亡届's 配偶者.
    "has_spouse": "yesno",
    "spouse_birth_date": "date",
    # Never disclosed by the registry (server.disclosure.member_entry leaves it out): a person's 個人番号 is
    # only carried within a life event, from the group where the resident typed it to every later group.
    "my_number": "my_number",
}

# Date attributes the registry may hold partially ("1950-03", "1950": 住民票 with 日不詳/月日不詳): every birth
# date of a profile or a member. A wareki field prefilled or mapped from one accepts partial dates
# (procedure_definitions.compile).
PARTIAL_DATE_ATTRIBUTES: frozenset[str] = frozenset(
    k for k in (*PROFILE_ATTRIBUTES, *MEMBER_ATTRIBUTES) if k.endswith("birth_date"))

# The attributes ``prefill_part: family`` may take the family part (氏) of: the filer's own name and reading,
# so the PWA can say truthfully where it came from (「届出人の氏から入力」); e.g. 出生届's child: 父母の氏 (民法790条).
FAMILY_PART_ATTRIBUTES: frozenset[str] = frozenset({"name", "name_kana"})

# Member attributes the registry never gives (server.disclosure): only a life event's earlier group has them.
UNDISCLOSED_MEMBER_ATTRIBUTES: frozenset[str] = frozenset({"my_number"})


class Text(msgspec.Struct, **_STRICT):
    """A label in Japanese (required), English and やさしい日本語 (ja-easy).

    In YAML a plain string is shorthand for ``{ja: ...}``.
    """

    ja: str
    en: str | None = None
    ja_easy: str | None = msgspec.field(default=None, name="ja-easy")


class Choice(msgspec.Struct, **_STRICT):
    value: str
    label: Text
    # Cascading selects: a choice is offered when the field's choice_filter evaluates to this value
    # (or to a list containing it). Choices without ``filter`` are always offered.
    filter: str | None = None


class FieldBase(msgspec.Struct, tag_field="type", **_STRICT):
    id: str
    label: Text
    hint: Text | None = None
    help: Text | None = None  # longer help text; notebook markdown cells land here
    required: bool = False
    required_if: str | None = None
    show_if: str | None = None
    constraint: str | None = None
    constraint_message: Text | None = None
    calculate: str | None = None
    read_only: bool = False
    prefill: str | None = None  # a key of PROFILE_ATTRIBUTES
    prefill_editable: bool = True
    # Only this part of the ``prefill`` value is filled (``family``: the 氏 of a two-part name or split kana);
    # the rest is the resident's to type: the field still asks, never folds (docs/procedure-format.md).
    prefill_part: Literal["family"] | None = None
    # A choice derived from a scalar profile attribute: the attribute's value as text (``true``/``false`` for a
    # yes/no) -> this field's choice value; a value not listed fills nothing (e.g. konin's 夫/妻 column from ``sex``).
    prefill_values: dict[str, str] | None = None
    # Groups only (on FieldBase so that the checker, not the shape check, explains a misplaced one): with
    # ``prefill: household_members`` (or another PROFILE_GROUPS attribute), item field id -> member
    # attribute; ``pick``: the resident ticks the members to include (one tap each) instead of getting all.
    prefill_map: dict[str, str] | None = None
    pick: bool = False
    # A person field or a ``pick: true`` group: false = the filer themself is not offered ("which child",
    # "who died"; the profile's own resident code, or the resident staff file for).
    pick_self: bool = True
    merge: MergePolicy | None = None  # default depends on type, see default_merge()
    # Filled at the counter only (窓口メモ, 連絡記録, checks made there): never shown to a resident filer,
    # never required of one, and refused from one (forms.py, server.filing).
    staff_only: bool = False


class TextField(FieldBase, tag="text"):
    min_length: int | None = None
    max_length: int | None = None
    placeholder: Text | None = None


class LongTextField(FieldBase, tag="longtext"):
    max_length: int | None = None


class NumberField(FieldBase, tag="number"):
    min: float | None = None
    max: float | None = None
    step: float | None = None
    unit: Text | None = None


class YesNoField(FieldBase, tag="yesno"):
    pass


class ChoiceField(FieldBase, tag="choice"):
    choices: list[Choice] = []
    choice_filter: str | None = None
    appearance: Literal["radio", "select"] | None = None


class MultiChoiceField(FieldBase, tag="multichoice"):
    choices: list[Choice] = []
    choice_filter: str | None = None
    min_selected: int | None = None
    max_selected: int | None = None


class DateField(FieldBase, tag="date"):
    min: str | None = None  # ISO date
    max: str | None = None


class WarekiField(FieldBase, tag="wareki"):
    allow_partial: bool = False  # year-month or year only when the day/month is unknown


class EmailField(FieldBase, tag="email"):
    pass


class PhoneField(FieldBase, tag="phone"):
    mobile_only: bool = False


class NameField(FieldBase, tag="name"):
    # Never normalized: stored exactly as typed, byte for byte (MJ/IVS characters).
    single_part: bool = False  # e.g. foreign residents' full names


class KanaField(FieldBase, tag="kana"):
    split: bool = False  # family/given like a name field


class PostalCodeField(FieldBase, tag="postal_code"):
    address_field: str | None = None  # an address field autofilled from the code


class AddressField(FieldBase, tag="address"):
    japan_only: bool = True


class MyNumberField(FieldBase, tag="my_number"):
    pass


class CorporateNumberField(FieldBase, tag="corporate_number"):
    pass


class AttachmentField(FieldBase, tag="attachment"):
    accept: list[str] = msgspec.field(default_factory=lambda: ["image/jpeg", "image/png", "application/pdf"])
    max_size_mb: float = 10.0
    capture: bool = False  # offer the camera on phones
    max_files: int = 1


class GroupField(FieldBase, tag="group"):
    fields: list[Field] = []
    min: int | None = None
    max: int | None = None
    item_label: Text | None = None


class PersonField(FieldBase, tag="person"):
    """One person picked from a list of people (``prefill``: household_members or transfer_movers) into plain
    fields: ``fills`` maps a top-level field id -> member attribute. The answer is the picked person's
    ``member_id`` (text); none = nobody picked (someone not listed), the filled fields typed as usual."""

    fills: dict[str, str] | None = None


class NoticeField(FieldBase, tag="notice"):
    text: Text | None = None
    level: Literal["info", "warning"] = "info"


Field = (
    TextField
    | LongTextField
    | NumberField
    | YesNoField
    | ChoiceField
    | MultiChoiceField
    | DateField
    | WarekiField
    | EmailField
    | PhoneField
    | NameField
    | KanaField
    | PostalCodeField
    | AddressField
    | MyNumberField
    | CorporateNumberField
    | AttachmentField
    | GroupField
    | PersonField
    | NoticeField
)

FIELD_TYPES: dict[str, type[FieldBase]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (
        TextField,
        LongTextField,
        NumberField,
        YesNoField,
        ChoiceField,
        MultiChoiceField,
        DateField,
        WarekiField,
        EmailField,
        PhoneField,
        NameField,
        KanaField,
        PostalCodeField,
        AddressField,
        MyNumberField,
        CorporateNumberField,
        AttachmentField,
        GroupField,
        PersonField,
        NoticeField,
    )
}

# Identity data must never be silently overwritten by a sync merge.
_REVIEW_BY_DEFAULT = {"name", "kana", "my_number", "corporate_number", "wareki", "date"}


def default_merge(field: FieldBase) -> MergePolicy:
    if field.merge is not None:
        return field.merge
    tag = field.__struct_config__.tag
    if tag in _REVIEW_BY_DEFAULT:
        return "review"
    return "auto"


class Section(msgspec.Struct, **_STRICT):
    id: str
    title: Text
    fields: list[Field]
    help: Text | None = None
    show_if: str | None = None
    # A party's id (``Procedure.parties``): that person fills and confirms this section from their own
    # account, prefilled from their own registry record. Absent: the first filer's section.
    party: str | None = None
    staff_only: bool = False  # every field of the section is staff_only (compile writes it on each)


class Party(msgspec.Struct, **_STRICT):
    """Another resident a two-person procedure needs (婚姻届's partner, a new 世帯主): confirms their part."""

    id: str
    label: Text  # who they are, e.g. 妻になる人: shown on the invitation and to the partner
    help: Text | None = None


class Document(msgspec.Struct, **_STRICT):
    """Something the resident must bring or attach (持ち物)."""

    id: str
    label: Text
    required_if: str | None = None
    note: Text | None = None


class Fee(msgspec.Struct, **_STRICT):
    amount: int  # yen
    per: Text | None = None  # e.g. 1通あたり
    quantity_field: str | None = None  # the field holding the number of copies
    note: Text | None = None


class Department(msgspec.Struct, **_STRICT):
    id: str
    name: Text


class ScenarioExpect(msgspec.Struct, **_STRICT):
    valid: bool | None = None
    errors: list[str] | None = None  # field ids that must have an error
    shown: list[str] | None = None  # field ids that must be visible
    hidden: list[str] | None = None  # field ids that must be hidden
    values: dict[str, Any] | None = None  # calculated field id -> expected value


class Scenario(msgspec.Struct, **_STRICT):
    name: str
    answers: dict[str, Any]
    expect: ScenarioExpect
    today: str | None = None  # ISO date that today() returns while running the scenario
    profile: dict[str, Any] | None = None
    filer: Filer = "resident"  # who fills the form: staff see and fill staff_only fields


class Procedure(msgspec.Struct, tag="procedure", tag_field="kind", **_STRICT):
    id: str
    version: str
    title: Text
    department: Department
    sections: list[Section]
    description: Text | None = None
    filers: list[Filer] = msgspec.field(default_factory=lambda: ["resident", "staff"])
    documents: list[Document] = []
    fee: Fee | None = None
    legal_basis: list[str] = []
    deadline: Text | None = None
    keywords: list[str] = []
    scenarios: list[Scenario] = []
    parties: list[Party] = []  # other residents who confirm their own sections (Section.party)
    signature: Signature = DEFAULT_SIGNATURE  # the printed 申請書's signature box (server/printing)
    # Minutes at the counter for one person (a visit booking's length, server/booking/length.py); 1-240 (PD255)
    counter_minutes: int | None = None


class Question(msgspec.Struct, **_STRICT):
    """A yes/no question of a life event; its id is usable in ``include_if`` expressions.

    ``maps_to`` (procedure id -> a top-level yesno field of that procedure, like a shared field's): the answer
    fills that field, which the bundle then does not ask again (docs/procedure-format.md, "Life events").
    ``prefill`` (a yes/no key of PROFILE_ATTRIBUTES): where the answer is known from; an unanswered question
    starts with the profile's value, marked as a suggestion to confirm (「記録から推定」).
    """

    id: str
    label: Text
    help: Text | None = None
    show_if: str | None = None
    maps_to: dict[str, str] = {}
    prefill: str | None = None


class SharedField(msgspec.Struct, **_STRICT):
    """A field entered once for the whole life event and copied into each included procedure.

    ``field`` is an ordinary field definition; ``maps_to`` maps procedure id -> that procedure's field id.
    """

    field: Field
    maps_to: dict[str, str]


class EventPerson(msgspec.Struct, **_STRICT):
    """A person a life event's shared fields describe (the newborn, the parent filing), offered in every group
    of people of the bundle like a person entered in one (docs/procedure-format.md, "People across a life
    event"). ``map``: shared field id -> member attribute (MEMBER_ATTRIBUTES), as a group's ``prefill_map``."""

    id: str
    map: dict[str, str]


class LifeEventProcedure(msgspec.Struct, **_STRICT):
    procedure: str  # procedure id
    include_if: str | None = None  # over the questions' ids; absent = always
    reason: Text | None = None


class LifeEvent(msgspec.Struct, tag="life_event", tag_field="kind", **_STRICT):
    id: str
    version: str
    title: Text
    questions: list[Question]
    procedures: list[LifeEventProcedure]
    shared_fields: list[SharedField] = []
    description: Text | None = None
    keywords: list[str] = []
    people: list[EventPerson] = []  # people made of shared answers, pickable in the bundle's groups of people
    # The whole event's minutes at the counter for one person (else the sum of its always-included procedures')
    counter_minutes: int | None = None


Definition = Procedure | LifeEvent


def iter_fields(fields: list[Field], parent: GroupField | None = None) -> Iterator[tuple[Field, GroupField | None]]:
    """Yield (field, enclosing group or None) for every field, depth first."""
    for f in fields:
        yield f, parent
        if isinstance(f, GroupField):
            yield from iter_fields(f.fields, f)


def procedure_fields(proc: Procedure) -> Iterator[tuple[Field, GroupField | None]]:
    for s in proc.sections:
        yield from iter_fields(s.fields)


def field_paths(proc: Procedure) -> Iterator[tuple[str, Field]]:
    """``(path, field)`` of every field, depth first; a group's fields as ``group.child`` (no item numbers): the
    paths form-session telemetry and the analytics name fields by."""
    def walk(fields: list[Field], base: str) -> Iterator[tuple[str, Field]]:
        for f in fields:
            path = f"{base}.{f.id}" if base else f.id
            yield path, f
            if isinstance(f, GroupField):
                yield from walk(f.fields, path)

    for s in proc.sections:
        yield from walk(s.fields, "")
