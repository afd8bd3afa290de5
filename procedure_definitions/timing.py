"""How long a procedure takes on a phone: a keystroke-level model (KLM) adapted to touch and Japanese.

The scenario: a signed-in resident whose profile prefills what it can completes the form on a phone on the
most common path (optional fields skipped, ``show_if`` / ``required_if`` conditions false). The estimate
adds up operators (reading Japanese text, mental preparation, taps, flick typing with kana-kanji
conversion, digits on the numeric keypad, photos, page changes, the final review and submit). Every
constant and its source is in docs/time-model.md; :class:`TouchModel` holds them so a municipality can
calibrate the model with its own measurements. :func:`estimate` is a pure function of the definition.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from .model import (
    PROFILE_GROUPS,
    UNDISCLOSED_MEMBER_ATTRIBUTES,
    AttachmentField,
    ChoiceField,
    FieldBase,
    GroupField,
    MultiChoiceField,
    NameField,
    NoticeField,
    PersonField,
    PostalCodeField,
    Procedure,
    Section,
    Text,
    procedure_fields,
)
from .parties import FIRST_FILER, section_party
from .timing_path import CommonPath, common_path

__all__ = [
    "BUDGET_SECONDS",
    "DEFAULT_HOUSEHOLD",
    "DEFAULT_MODEL",
    "FOLD_MIN",
    "FOLD_TEXT",
    "HEADER_TEXT",
    "HOUSEHOLD_PREFILL",
    "TYPICAL_INPUT",
    "Context",
    "Estimate",
    "Step",
    "TouchModel",
    "Typing",
    "asks",
    "estimate",
    "finish",
    "folded",
    "format_estimate",
    "linked_addresses",
    "procedure_context",
    "review_steps",
    "section_shown",
    "section_steps",
    "text_chars",
]

BUDGET_SECONDS = 60.0  # the product's target: a routine procedure in under a minute
DEFAULT_HOUSEHOLD = 2  # the Goal's scenario: a household of two (both listed, both picked)
HOUSEHOLD_PREFILL = "household_members"  # the profile attribute a repeat group is prefilled from


class TouchModel(msgspec.Struct, frozen=True):
    """Operator times in seconds (sources and caveats: docs/time-model.md)."""

    read_char: float = 60 / 500  # R: one Japanese character at 500 字/分 (400-600 commonly cited)
    mental: float = 1.35  # M: mental preparation before each decision/entry (KLM, Card et al. 1980)
    tap: float = 0.6  # T: move the thumb to a control and tap it (touch KLM; estimate)
    kana: float = 0.75  # one kana on the flick keyboard (~80 kana/min; estimate from flick studies)
    conversion: float = 1.5  # one kana-kanji conversion: scan the candidates and tap one (estimate)
    digit: float = 0.35  # one digit on the numeric keypad (inputmode=numeric; KLM K 0.28 s + search)
    ascii_char: float = 0.48  # one letter on the phone QWERTY keyboard (~25 wpm; e-mail addresses)
    keyboard_switch: float = 0.6  # switch the keyboard between kana and digits/symbols
    select_scroll: float = 1.0  # scroll a native select's wheel/list to the option
    page: float = 0.5  # system response to show the next page (local PWA; estimate)
    photo: float = 5.5  # open the camera, frame and shoot a document (estimate), plus a confirm tap
    pick_file: float = 4.0  # find a file or photo in the picker (estimate)
    glance: float = 0.5  # verify one prefilled or computed value
    review_value: float = 0.5  # re-read one answer on the check-answers page
    submit_response: float = 1.0  # system response after submit (queued offline or sent)
    yes_no_chars: int = 5  # 「はい」「いいえ」
    fee_chars: int = 10  # e.g. 「手数料 300円（1通）」


DEFAULT_MODEL = TouchModel()


class Typing(msgspec.Struct, frozen=True):
    """What a typical answer of a field type costs to type (assumptions: docs/time-model.md)."""

    kana: int = 0  # kana typed on the flick keyboard
    conversions: int = 0  # kana-kanji conversion segments
    digits: int = 0  # digits/symbols typed on the numeric keypad
    ascii: int = 0  # letters typed on QWERTY
    taps: int = 1  # controls focused (one tap each)
    switches: int = 0  # keyboard mode switches


# Typical typed lengths: a name is 2+2 kanji (about 8 kana, 2 conversions); an address is a postal code,
# the lookup button and a 6-character block such as 「3-15-1」; a phone number has 11 digits.
TYPICAL_INPUT: dict[str, Typing] = {
    "text": Typing(kana=6, conversions=1),
    "longtext": Typing(kana=30, conversions=4),
    "number": Typing(digits=1),
    "email": Typing(ascii=20),
    "phone": Typing(digits=11),
    "name": Typing(kana=8, conversions=2, taps=2),
    "name_single": Typing(kana=8, conversions=2),
    "kana": Typing(kana=8),  # ひらがな accepted and converted: no conversion step
    "kana_split": Typing(kana=8, taps=2),
    # A name or reading whose family part is prefilled (``prefill_part: family``): only the given box is
    # tapped and typed, half the typical name (2 kanji, about 4 kana, 1 conversion); the 氏 is glanced at.
    "name_given": Typing(kana=4, conversions=1),
    "kana_given": Typing(kana=4),
    "postal_code": Typing(digits=7, taps=2),  # + the 「郵便番号から住所を入力」 button
    "address": Typing(digits=7 + 6, taps=3, switches=1),  # code, lookup, block
    # An address filled by a separate postal code field's lookup has no code box: only the block is typed.
    "address_linked": Typing(digits=6, taps=1, switches=1),
    "my_number": Typing(digits=12),
    "corporate_number": Typing(digits=13),
    "date": Typing(digits=8, taps=3),  # 年/月/日 boxes
    "wareki": Typing(digits=6, taps=5),  # era (open + choose), then 年/月/日
}


class Step(msgspec.Struct):
    """One line of the breakdown: what the resident does and how long it takes."""

    # start, page, fold, prefilled, read, glance, skip, type, choose, toggle, photo, group, pick, tap, questions, review, submit
    kind: str
    field_id: str | None
    seconds: float


class Estimate(msgspec.Struct):
    seconds: float
    breakdown: list[Step]
    over_budget: bool


def text_chars(text: Text | None) -> int:
    """Characters a reader reads: the Japanese text without spaces."""
    if text is None:
        return 0
    return sum(1 for ch in text.ja if not ch.isspace())


def _tag(field: FieldBase) -> str:
    return str(field.__struct_config__.tag)


def _typing(field: FieldBase, ctx: Context) -> Typing | None:
    tag = _tag(field)
    if field.prefill_part:
        return TYPICAL_INPUT[f"{tag}_given"]
    if tag == "address" and field.id in ctx.linked:
        return TYPICAL_INPUT["address_linked"]
    if isinstance(field, NameField) and field.single_part:
        return TYPICAL_INPUT["name_single"]
    if tag == "kana" and getattr(field, "split", False):
        return TYPICAL_INPUT["kana_split"]
    return TYPICAL_INPUT.get(tag)


def _typing_seconds(t: Typing, m: TouchModel) -> float:
    return (
        t.taps * m.tap
        + t.kana * m.kana
        + t.conversions * m.conversion
        + t.digits * m.digit
        + t.ascii * m.ascii_char
        + t.switches * m.keyboard_switch
    )


def _choice_reading(labels: list[Text], m: TouchModel) -> float:
    # Self-terminating scan: on average the resident reads (n + 1) / 2 of n options before finding theirs.
    n = len(labels)
    if n == 0:
        return 0.0
    total = sum(text_chars(lbl) for lbl in labels)
    return total * (n + 1) / (2 * n) * m.read_char


def _entry_seconds(field: FieldBase, m: TouchModel, ctx: Context) -> tuple[str, float]:
    """(step kind, seconds) to answer a visible field that is not prefilled, without reading its label."""
    if isinstance(field, ChoiceField):
        seconds = _choice_reading([c.label for c in field.choices], m) + m.mental + m.tap
        if field.appearance == "select":
            seconds += m.tap + m.select_scroll  # open the list, then choose (the tap above)
        return "choose", seconds
    if isinstance(field, MultiChoiceField):
        picks = max(field.min_selected or 0, 1)
        labels = [c.label for c in field.choices]
        reading = sum(text_chars(lbl) for lbl in labels) * m.read_char  # all options are considered
        return "choose", reading + m.mental + picks * m.tap
    if _tag(field) == "yesno":
        return "toggle", m.yes_no_chars * m.read_char + m.mental + m.tap
    if isinstance(field, AttachmentField):
        per = m.photo + m.tap if field.capture else m.tap + m.pick_file + m.tap
        return "photo", m.mental + per
    typing = _typing(field, ctx)
    if typing is None:  # an unknown future type: a decision and a tap
        return "type", m.mental + m.tap
    check = m.glance if field.prefill_part else 0.0  # the prefilled 氏 in its box, verified at a glance
    return "type", m.mental + check + _typing_seconds(typing, m)


class Context(msgspec.Struct, frozen=True):
    """What the estimate assumes beyond the definition: the household and what a life event already asked.

    ``household`` is the number of people in the resident's registry household (listed by a household pick
    group); ``linked`` the address fields filled by a postal code lookup (their box has no postal code of
    its own); ``asked`` the field ids already answered elsewhere (a life event's shared fields).
    """

    household: int = DEFAULT_HOUSEHOLD
    linked: frozenset[str] = frozenset()
    asked: frozenset[str] = frozenset()
    party: str = FIRST_FILER  # whose part is estimated; other parties' sections cost this person nothing
    path: CommonPath | None = None  # the branches the first valid scenario opens (None: every condition false)
    # Person attributes a life event's earlier groups of people already hold (the people typed or picked
    # there are picked again, their values taken: pwa/js/people.js enteredPeople).
    # attribute -> how many people have it (a household's members are picked in that order).
    people_known: dict[str, int] = msgspec.field(default_factory=dict)
    persons: tuple[PersonField, ...] = ()  # the procedure's person fields (their targets are picked, not typed)
    # Fields a person picked elsewhere filled: a life event's shared pick (the deceased) reaching the procedure's
    # own person field gives its other fills (pwa/js/lifeevent.js copyShared), shown as prefilled values.
    picked: frozenset[str] = frozenset()


def _staff_only(item: FieldBase | Section) -> bool:
    # Residents never see a staff-only field or section: the counter fills it (docs/procedure-format.md).
    return item.staff_only


def _other_party(section: Section, ctx: Context) -> bool:
    return section_party(section) != ctx.party


def _picks_household(field: FieldBase) -> bool:
    """A repeat group of people prefilled from the profile (household members or transfer movers)."""
    return isinstance(field, GroupField) and field.prefill in PROFILE_GROUPS


def _hidden(field: FieldBase, ctx: Context, at: str | None = None) -> bool:
    """Not on the resident's common path: conditional (off the path), staff only, or answered elsewhere."""
    if _staff_only(field) or field.id in ctx.asked:
        return True
    if isinstance(field, PersonField) and field.fills and set(field.fills) <= ctx.asked:
        return True  # every field it fills is answered elsewhere (a life event's shared fields): nothing to pick
    if ctx.path is None:
        return bool(field.show_if)
    return ctx.path.hidden(field, at or field.id)


def _offered(field: FieldBase, ctx: Context) -> int:
    """People a list offers: the household (or the movers), less the filer with ``pick_self: false``."""
    return max(ctx.household - (0 if field.pick_self else 1), 0)


def _person_filled(field: FieldBase, ctx: Context, at: str) -> bool:
    """A plain field a shown person field fills with a value the registry gives: picked, not typed."""
    return at == field.id and any(
        (p.fills or {}).get(field.id) not in (None, *UNDISCLOSED_MEMBER_ATTRIBUTES) and not _hidden(p, ctx)
        for p in ctx.persons)


def _required(field: FieldBase, ctx: Context, at: str) -> bool:
    return ctx.path.required(field, at) if ctx.path is not None else field.required


def asks(field: FieldBase, ctx: Context, at: str | None = None) -> bool:
    """Whether the resident has something to answer in ``field`` (else its screen can fold into the review)."""
    at = at or field.id
    if _hidden(field, ctx, at) or isinstance(field, NoticeField) or _person_filled(field, ctx, at):
        return False
    if isinstance(field, GroupField) and _picks_household(field):
        # Picking always asks. Without a pick the members are items already: the screen asks only when an item
        # still lacks a required value the registry does not give (the PWA shows the group invalid); an
        # optional one is reached from the review. Pinned with pwa/js/steps.js by tests/conformance/steps.json.
        known = _known(field, ctx, 0)
        return field.pick or any(
            asks(sub, ctx, f"{at}[0].{sub.id}") and _required(sub, ctx, f"{at}[0].{sub.id}")
            for sub in field.fields if sub.id not in known
        )
    if isinstance(field, PersonField) and field.prefill in PROFILE_GROUPS:
        return True  # a person to pick (one radio); hidden above when every field it fills is answered elsewhere
    return not (field.calculate or field.read_only or _whole_prefill(field, ctx))


def _whole_prefill(field: FieldBase, ctx: Context) -> bool:
    """A value the profile gives whole: a ``prefill_part`` leaves the rest (the 名) to type, so it still asks;
    or a value a person picked elsewhere gave (``ctx.picked``)."""
    return (bool(field.prefill) and field.prefill_part is None) or field.id in ctx.picked


def _known(group: GroupField, ctx: Context, i: int) -> frozenset[str]:
    """Item field ids whose value the ``i``th member's item holds (``prefill_map``): an attribute the registry
    never gives (the 個人番号) is typed, unless an earlier group of the life event (or the life event's people)
    gave it for this member."""
    return frozenset(fid for fid, attr in (group.prefill_map or {}).items()
                     if attr not in UNDISCLOSED_MEMBER_ATTRIBUTES or ctx.people_known.get(attr, 0) > i)


def _field_steps(field: FieldBase, m: TouchModel, out: list[Step], ctx: Context, at: str | None = None) -> int:
    """Append the steps for one field (answer path ``at``) on the common path; return the review's answers."""
    at = at or field.id
    if _hidden(field, ctx, at):
        return 0  # never seen by the resident on the common path
    label = (text_chars(field.label) + text_chars(field.hint)) * m.read_char
    if isinstance(field, NoticeField):
        out.append(Step("read", field.id, label + text_chars(field.text) * m.read_char))
        return 0
    if isinstance(field, GroupField) and _picks_household(field):
        return _household_steps(field, m, out, label, ctx, at)
    if isinstance(field, PersonField) and field.prefill in PROFILE_GROUPS:
        # A fieldset of radios, one per person offered (「name（続柄）」) and 「ここにない人」: read the label, a glance
        # per person, decide, one tap; then the filled values are one line (like a picked member), one glance.
        out.append(Step("pick", field.id, label + _offered(field, ctx) * m.glance + m.mental + m.tap))
        if field.fills:
            out.append(Step("glance", field.id, m.glance))
        return 1
    if _person_filled(field, ctx, at):
        return 1  # on the person field's line (glanced there), listed on the review
    if field.calculate or field.read_only or _whole_prefill(field, ctx):
        out.append(Step("glance", field.id, text_chars(field.label) * m.read_char + m.glance))
        return 1
    if isinstance(field, GroupField):
        return _group_steps(field, m, out, label, ctx, at)
    if not _required(field, ctx, at):  # optional, or required_if false on the path: read the label, move on
        out.append(Step("skip", field.id, text_chars(field.label) * m.read_char))
        return 0
    kind, seconds = _entry_seconds(field, m, ctx)
    out.append(Step(kind, field.id, label + seconds))
    return 1


def _group_steps(group: GroupField, m: TouchModel, out: list[Step], label: float, ctx: Context, at: str) -> int:
    items = max(group.min or 0, 1 if _required(group, ctx, at) else 0)
    if items == 0:
        out.append(Step("skip", group.id, text_chars(group.label) * m.read_char))
        return 0
    # Reading the group's label and one tap on 「追加」 per item.
    out.append(Step("group", group.id, label + items * m.tap))
    shown = 0
    for i in range(items):
        for sub in group.fields:
            shown += _field_steps(sub, m, out, ctx, f"{at}[{i}].{sub.id}")
    return shown


def _household_steps(group: GroupField, m: TouchModel, out: list[Step], label: float, ctx: Context, at: str) -> int:
    """A repeat group prefilled from the registry household (``prefill: household_members``).

    With ``pick: true`` the resident reads the household list (a glance per member), decides (M) and taps
    each member concerned; every member offered counts as picked (a household moving together: the costly case);
    with ``pick_self: false`` the filer is not offered (household - 1).
    Each picked member's known mapped values are one line, glanced at once; the item fields without a mapping are answered as
    usual, once per picked member. Without ``pick`` every member is an item, prefilled, nothing to tap.
    """
    members = max(_offered(group, ctx) if group.pick else ctx.household, group.min or 0, 0)
    if group.max is not None:
        members = min(members, group.max)
    pick = group.pick
    seconds = label + members * m.glance
    if pick:
        seconds += m.mental + members * m.tap
    out.append(Step("pick" if pick else "glance", group.id, seconds))
    shown = 0
    for i in range(members):
        mapped = _known(group, ctx, i)
        # A member's known values are one line in the PWA (「name（続柄）・登録情報から入力」, the values folded
        # in a <details>: picker.js memberLine): one glance per member. The review lists every value.
        values = [sub for sub in group.fields if sub.id in mapped and not _hidden(sub, ctx, f"{at}[{i}].{sub.id}")]
        if values:
            out.append(Step("glance", group.id, m.glance))
            shown += len(values)
        for sub in group.fields:
            if sub.id not in mapped:
                shown += _field_steps(sub, m, out, ctx, f"{at}[{i}].{sub.id}")
    return shown


# The line a step's prefilled values fold under (pwa/js/render.js renderFields: strings-ja.js prefilled +
# memberOpen), as read; and how many values it takes to fold (pwa/js/steps.js FOLD_MIN): one value alone stays a
# field with its label, which reads faster than this line.
FOLD_TEXT = "登録情報から入力（開いて確認・訂正）"
FOLD_MIN = 2

# The compact header of a procedure's first step (pwa/js/page-procedure.js atHandLine), as read:
# 「かかる時間の目安：約1分・手元に用意するもの：」 plus the unconditional documents' labels and the fee.
HEADER_TEXT = "かかる時間の目安：約1分・手元に用意するもの："


def _start_steps(proc: Procedure, m: TouchModel, ctx: Context) -> Step:
    # Opening a procedure lands on its first step (issue 12: the overview is a screen with nothing to
    # answer, so it folds). Above the first step the resident reads the title and one line: the estimate,
    # the documents every filer brings and the fee. The description, deadline, legal basis and the
    # documents needed only in some cases sit in a collapsed <details> that the common path does not open;
    # the conditional documents that apply are read on the review (_documents_step). No tap to start.
    chars = text_chars(proc.title) + len(HEADER_TEXT)
    chars += sum(text_chars(doc.label) for doc in proc.documents if doc.required_if is None)
    if proc.fee is not None:
        chars += m.fee_chars
    return Step("start", None, chars * m.read_char)


def _documents_step(proc: Procedure, m: TouchModel, ctx: Context) -> list[Step]:
    """The review lists the documents to bring (formreview.js feeAndDocs): those only some filers need
    and that apply on the path are new there, so they are read; the unconditional ones were on the line."""
    if ctx.path is None:
        return []
    chars = sum(text_chars(d.label) for d in proc.documents if d.required_if is not None and ctx.path.holds(d.required_if))
    return [Step("read", "documents", chars * m.read_char)] if chars else []


def section_shown(section: Section, ctx: Context) -> bool:
    """Whether the filer sees ``section`` at all (on the path, not staff only, not another party's)."""
    if _staff_only(section) or _other_party(section, ctx):
        return False
    return ctx.path.section_shown(section) if ctx.path is not None else not section.show_if


def _prefilled_value(field: FieldBase, ctx: Context) -> bool:
    """A plain field on the path holding a profile value: no group or person field, no person field's target
    (on that person's line), no calculation or read-only value, no choice derived from the registry
    (``prefill_values``: a guess to confirm, left in sight with its note 「登録情報から推定（確認してください）」),
    no value with a ``hint`` (the hint is the warning: 死亡届's 住所 「届け出る方の住所を入れています…」)."""
    plain = not isinstance(field, (GroupField, PersonField, NoticeField)) and not (field.calculate or field.read_only)
    plain = plain and not field.prefill_values and field.hint is None
    return plain and _whole_prefill(field, ctx) and not _hidden(field, ctx) and not _person_filled(field, ctx, field.id)


def folded(fields: Iterable[FieldBase], ctx: Context) -> list[str]:
    """The fields a step shows as one line 「登録情報から入力（開いて確認・訂正）」 (pwa/js/steps.js foldedFields,
    pinned by tests/conformance/fold.json): its prefilled plain fields, when there are at least FOLD_MIN."""
    ids = [f.id for f in fields if _prefilled_value(f, ctx)]
    return ids if len(ids) >= FOLD_MIN else []


def section_steps(section: Section, m: TouchModel, out: list[Step], ctx: Context) -> int:
    """One screen per section; a section with nothing to answer folds into the review (no page, no 次へ).

    On a screen, the prefilled values are one line where the first of them is (:func:`folded`): reading its
    fixed text and one glance, instead of a label and a glance per value. The review still lists each value."""
    asking = any(asks(field, ctx) for field in section.fields)
    fold = folded(section.fields, ctx) if asking else []
    fields: list[Step] = []
    shown = 0
    for field in section.fields:
        if field.id not in fold:
            before = len(fields)
            shown += _field_steps(field, m, fields, ctx)
            if asking and field.hint is not None and fields[before:] and fields[-1].kind == "glance":
                # A value shown on a step with its hint (never folded: the hint is the warning, e.g. 死亡届's
                # 「届け出る方の住所を入れています…」) is read with it; a section folded into the review shows no hint.
                fields[-1].seconds += text_chars(field.hint) * m.read_char
            continue
        shown += 1
        if field.id == fold[0]:
            fields.append(Step("prefilled", section.id, len(FOLD_TEXT) * m.read_char + m.glance))
    if not fields:
        return 0
    if asking:
        out.append(Step("page", section.id, text_chars(section.title) * m.read_char + m.page))
        out.extend(fields)
        out.append(Step("tap", section.id, m.tap))  # 「次へ進む」
    else:
        out.append(Step("fold", section.id, 0.0))
        out.extend(fields)
    return shown


def linked_addresses(fields: Iterable[FieldBase]) -> frozenset[str]:
    """Address fields filled by a postal code field's lookup (``address_field``)."""
    return frozenset(f.address_field for f in fields if isinstance(f, PostalCodeField) and f.address_field)


def procedure_context(proc: Procedure, household: int = DEFAULT_HOUSEHOLD) -> Context:
    return Context(
        household=household,
        linked=linked_addresses(f for f, _ in procedure_fields(proc)),
        path=common_path(proc),
        persons=tuple(f for f, _ in procedure_fields(proc) if isinstance(f, PersonField)),
    )


def review_steps(answers: int, m: TouchModel) -> list[Step]:
    return [Step("review", None, answers * m.review_value + m.mental), Step("submit", None, m.tap + m.submit_response)]


def finish(steps: list[Step]) -> Estimate:
    total = round(sum(s.seconds for s in steps), 2)
    for s in steps:
        s.seconds = round(s.seconds, 2)
    return Estimate(seconds=total, breakdown=steps, over_budget=total > BUDGET_SECONDS)


def estimate(proc: Procedure, model: TouchModel = DEFAULT_MODEL, *, household: int = DEFAULT_HOUSEHOLD) -> Estimate:
    """Seconds for a signed-in, bound resident (profile prefilled) to complete ``proc`` on a phone."""
    ctx = procedure_context(proc, household)
    steps: list[Step] = [_start_steps(proc, model, ctx)]
    answers = 0
    for section in proc.sections:
        if section_shown(section, ctx):
            answers += section_steps(section, model, steps, ctx)
    return finish(steps + _documents_step(proc, model, ctx) + review_steps(answers, model))


def format_estimate(proc: Procedure, est: Estimate) -> str:
    """One line, e.g. ``juminhyo-copy 1.0.0: 38 s (within 60 s)``."""
    budget = f"{BUDGET_SECONDS:.0f} s"
    verdict = f"within {budget}" if not est.over_budget else f"over the {budget} budget"
    return f"{proc.id} {proc.version}: {est.seconds:.0f} s ({verdict})"
