"""The interview screen's inputs: a field definition as a widget the template renders (kind, input names,
values, the prefilled value as readable text), and the posted form read back into answers.

Input names are ``{scope}.{field}`` (scope ``q`` for the questions, ``s`` for the shared fields, else the
procedure id) with ``.family`` / ``.given`` for a two-part name and ``.{part}`` for an address's parts; a group
of people prefilled from the household is offered as one checkbox per member (``.{index}``: the member's place
in the profile's list). A group typed row by row (no ``prefill``) is one fieldset per row (``.{row}.{field}``,
a hidden ``.{_row}`` marker per row on the screen) with 「行を追加」/「この行を削除」 buttons (``op`` ``row_add:{name}``
/ ``row_del:{name}:{row}``, applied by :func:`change_rows`). A field of an item shown on a condition of the item
(``show_if``) is rendered with it, hidden while the item's answers make it false (the live screen re-evaluates).
Readable values come from ``server.display.value_text`` (the one place).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from procedure_definitions.expressions import parse
from procedure_definitions.model import (
    AddressField,
    ChoiceField,
    CorporateNumberField,
    DateField,
    EmailField,
    Field,
    GroupField,
    KanaField,
    LifeEvent,
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
    TextField,
    WarekiField,
    YesNoField,
)
from server.display import name_text, value_text
from server.interview_plan import required_now, shown
from server.prefill_check import offered_people, same_prefill

__all__ = ["ADDRESS_PARTS", "EVENT_PEOPLE", "NOT_LISTED", "Widget", "change_rows", "errors_by_widget", "event_people",
           "item_fields", "members_of", "person_offered", "read_value", "typed_rows", "widget"]

ADDRESS_PARTS = (("postal_code", "郵便番号"), ("prefecture", "都道府県"), ("city", "市区町村"), ("town", "町名"),
                 ("block", "番地"), ("building", "建物名・部屋番号"))
_SOURCES = {"registry": "住民記録", "transfer": "転出証明書情報", "visit": "受付の入力"}
NOT_LISTED = "ここにない人（入力する）"  # the PWA's words (pwa/js/strings-ja.js personNotListed)


_FOLDABLE = ("text", "textarea", "yesno", "radio", "select", "name", "address")


@dataclass
class Widget:
    """What the template needs to render one field."""

    # text | textarea | yesno | radio | select | checks | name | address | notice | members | rows | person | unsupported
    kind: str
    name: str
    dom_id: str
    label: str
    value: Any = None
    required: bool = False
    staff_only: bool = False
    input_type: str = "text"
    hint: str = ""
    prefilled: str = ""  # the record's value as text, with its source (「住民記録より：…」, or 「…（訂正しています）」)
    corrected: bool = False  # the answer is not the record's value: the clerk corrected it (never folded)
    choices: list[tuple[str, str]] = field(default_factory=list)
    parts: list[tuple[str, str, str]] = field(default_factory=list)  # (sub-name, label, value)
    checked: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    numeric: bool = False  # a number field: the live conditions read its text as a number
    show_if: dict[str, Any] | None = None  # the field's condition (AST), for the live screen
    required_if: dict[str, Any] | None = None  # a group item field's condition to be required (AST), live
    hidden: bool = False  # its condition is false on the answers as saved
    # Each offered person's own fields: (name, fields, the tick's value, ticked); an unticked person's are
    # rendered hidden, for interview.js to show as soon as the person is ticked (no 「更新」 round trip).
    items: list[tuple[str, list[Widget], str, bool]] = field(default_factory=list)
    rows: list[tuple[str, str, list[Widget]]] = field(default_factory=list)  # (label, input key, fields) typed rows
    can_add: bool = False  # a group of people below its ``max``: 「行を追加」
    live: dict[str, Any] | None = None  # a person field: its fills and the people offered, for the live pick
    partial: bool = False  # a date the records know in part (1950-03): the rest is to answer, never folded

    @property
    def folds(self) -> bool:
        """Shown in the screen's 「記録から入力済み」 fold (one Tab stop, opened to correct): a value the records
        gave, complete. A name or an address missing a part (a newborn's 名), a field with an error or hidden by
        a condition, and a list of people (its persons have fields to answer) stay fields to answer."""
        if not self.prefilled or self.corrected or self.errors or self.hidden or self.partial or self.kind not in _FOLDABLE:
            return False
        return all(v for sub, _, v in self.parts if sub not in ("building", "postal_code"))


def members_of(f: GroupField, profile: Mapping[str, Any], resident_id: str) -> list[dict[str, Any]]:
    """The people a household-prefilled group offers: the profile's list of its ``prefill`` (without the
    resident when the group does not offer the filer themself, ``pick_self: false``), then the life event's
    people made of the shared answers (the newborn), in the profile under ``EVENT_PEOPLE`` (the bundle's rule:
    pwa/js/page-bundle.js peopleBefore), each once (a person already listed by name is not offered twice)."""
    people = profile.get(f.prefill or "") if f.prefill else None
    if not isinstance(people, list) or not f.prefill_map:
        return []
    listed = offered_people(f, [m for m in people if isinstance(m, dict)], resident_id)
    names = [m.get("name") for m in listed]
    extra = [m for m in profile.get(EVENT_PEOPLE, []) if m.get("name") and m.get("name") not in names]
    return listed + extra


EVENT_PEOPLE = "_event_people"  # a key no profile attribute has: the event's people beside the household


def event_people(people: list[Any], shared: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The life event's people (``EventPerson``: shared field id → member attribute) as member dicts."""
    out = []
    for x in people:
        person = {attr: shared[fid] for fid, attr in x.map.items() if shared.get(fid) not in (None, "", [])}
        if person.get("name"):
            out.append({"member_id": f"event:{x.id}", **person})
    return out


def person_offered(f: PersonField, profile: Mapping[str, Any], resident_id: str) -> list[dict[str, Any]]:
    """The people a person field offers: its ``prefill`` list without the filer when ``pick_self: false``."""
    people = profile.get(f.prefill or "") if f.prefill else None
    return offered_people(f, [m for m in people if isinstance(m, dict)], resident_id) if isinstance(people, list) else []


def _person_text(m: Mapping[str, Any]) -> str:
    """「name（続柄）」 as the PWA's picker shows a person."""
    rel = m.get("relationship_to_head")
    return name_text(m.get("name")) + (f"（{rel}）" if rel else "")


def _item(f: GroupField, member: Mapping[str, Any]) -> dict[str, Any]:
    return {fid: member[attr] for fid, attr in (f.prefill_map or {}).items() if member.get(attr) not in (None, "")}


def _matches(f: GroupField, member: Mapping[str, Any], item: Any) -> bool:
    """Whether a stored item is the member's: it holds every value the member gives (and maybe its own fields)."""
    return isinstance(item, Mapping) and all(item.get(k) == v for k, v in _item(f, member).items())


def item_fields(f: GroupField, item: Mapping[str, Any] | None = None) -> list[Field]:
    """The fields of a group's item the person does not give (続柄 of a child; the 個人番号 of a newborn, whom
    the registry does not know yet): asked per ticked person, or every field of a row typed by hand.
    ``item``: the person's item (None: every field that may be asked). Those shown on a condition of the
    item (the child's address when not living together) are among them: the screen hides them while false."""
    mapped = f.prefill_map or {}
    return [x for x in f.fields if not x.calculate and not isinstance(x, NoticeField)
            and (item is None or x.id not in mapped or item.get(x.id) in (None, ""))]


def _item_widgets(f: GroupField, scope: str, i: int | str, k: int | str, item: Mapping[str, Any], fields: list[Field], *,
                  profile: Mapping[str, Any], resident_id: str) -> list[Widget]:
    """The widgets of one item: inputs named by ``i`` (a person's place in the offered list, or the row), ids
    by ``k`` (the item's place in the answer: the validator's path ``{group}[k].{field}``)."""
    subs = []
    for x in fields:
        sub = widget(x, f"{scope}.{f.id}.{i}", item.get(x.id), prefilled=False, source=None, profile=profile,
                     resident_id=resident_id)
        sub.dom_id = f"i-{scope}-{f.id}-{k}-{x.id}"
        if x.show_if:  # a condition on the item's own answers (as the validator reads it)
            sub.show_if, sub.hidden = parse(x.show_if), not shown(x, item)
        if x.required_if:  # marked （必須） exactly when filing will require it
            sub.required_if, sub.required = parse(x.required_if), required_now(x, item)
        subs.append(sub)
    return subs


def _rows(value: Any, f: GroupField) -> list[Mapping[str, Any]]:
    """A group's items, at least ``min`` for a group typed row by row (empty rows to fill)."""
    items = [it for it in value if isinstance(it, Mapping)] if isinstance(value, list) else []
    return items + [{}] * max(0, (f.min or 0) - len(items)) if not f.prefill else items


def typed_rows(f: GroupField, items: Sequence[Mapping[str, Any]], people: list[dict[str, Any]]) -> list[int]:
    """The places in ``items`` of the rows typed by hand: every item of a group without ``prefill``; of a group
    of people, the items that are none of the people offered (someone not listed, added by the clerk)."""
    return [k for k, it in enumerate(items) if not f.prefill or not any(_matches(f, m, it) for m in people)]


def change_rows(f: GroupField, value: Any, op: str, row: str = "", people: list[dict[str, Any]] | None = None
                ) -> tuple[list[Any], str]:
    """「行を追加」 (``op`` add) or 「この行を削除」 (del of typed row ``row``) on a group's answer: (items,
    message); a message (Japanese) when refused: beyond ``max``, or a row that is not there. ``people``: those a
    group of people offers (:func:`members_of`)."""
    items = [dict(it) for it in _rows(value, f)]
    if op == "add":
        if f.max is not None and len(items) >= f.max:
            return items, f"{f.label.ja}は{f.max}行までです。"
        return [*items, {}], ""
    typed = typed_rows(f, items, people or [])
    if not row.isdigit() or int(row) >= len(typed):
        return items, "削除する行がありません。"
    return [it for k, it in enumerate(items) if k != typed[int(row)]], ""


def _typed_row_widgets(w: Widget, f: GroupField, scope: str, items: list[Mapping[str, Any]],
                       people: list[dict[str, Any]], *, profile: Mapping[str, Any], resident_id: str) -> None:
    """The rows typed by hand (inputs ``{name}.{key}.{field}``: key the row for a group typed row by row,
    ``r{row}`` in a group of people) and 「行を追加」 below ``max``; ids by the item's place in the answer."""
    word = f.item_label.ja if f.item_label else f.label.ja
    extra = "" if not f.prefill else "（手入力）"
    for j, k in enumerate(typed_rows(f, items, people)):
        key = f"r{j}" if f.prefill else str(j)
        w.rows.append((f"{word} {j + 1}{extra}", key, _item_widgets(f, scope, key, k, items[k], item_fields(f),
                                                                      profile=profile, resident_id=resident_id)))
    w.can_add = f.max is None or len(items) < f.max


def widget(f: Field, scope: str, value: Any, *, prefilled: bool, source: str | None,
           profile: Mapping[str, Any], resident_id: str, record: Any = None) -> Widget:
    """``record``: the value the records give the field (``prefilled``: it was filled from them), shown as the
    record's, never the answer's: 「住民記録より：…」 while the answer keeps it (by the one comparison,
    ``server.prefill_check.same_prefill``: a phone by its digits), else 「住民記録：…（訂正しています）」."""
    name = f"{scope}.{f.id}"
    w = Widget(kind="text", name=name, dom_id=f"i-{scope}-{f.id}", label=f.label.ja, value=value,
               required=f.required, staff_only=f.staff_only, hint=f.hint.ja if f.hint else "")
    if prefilled and record not in (None, "", []):
        where = _SOURCES.get(source or "registry", "住民記録")
        # A list of people is answered per person (続柄 added to a mover's item is no correction of the record).
        w.corrected = not isinstance(f, GroupField) and (value in (None, "", []) or not same_prefill(f, value, record))
        w.prefilled = (f"{where}：{value_text(f, record)}（訂正しています）" if w.corrected
                       else f"{where}より：{value_text(f, record)}")
    if isinstance(f, NoticeField):
        w.kind, w.value = "notice", f.text.ja if f.text is not None else ""
    elif isinstance(f, YesNoField):
        w.kind = "yesno"
    elif isinstance(f, ChoiceField):
        w.kind = "radio" if f.appearance == "radio" or (f.appearance is None and len(f.choices) <= 4) else "select"
        w.choices = [(c.value, c.label.ja) for c in f.choices]
    elif isinstance(f, MultiChoiceField):
        w.kind, w.choices = "checks", [(c.value, c.label.ja) for c in f.choices]
        w.checked = {str(v) for v in value} if isinstance(value, list) else set()
    elif isinstance(f, NameField) or (isinstance(f, KanaField) and f.split):
        labels = ("セイ", "メイ") if isinstance(f, KanaField) else ("氏", "名")
        v = value if isinstance(value, Mapping) else {}
        w.kind, w.parts = "name", [("family", labels[0], str(v.get("family", ""))),
                                   ("given", labels[1], str(v.get("given", "")))]
    elif isinstance(f, AddressField):
        v = value if isinstance(value, Mapping) else {}
        w.kind, w.parts = "address", [(k, label, str(v.get(k, ""))) for k, label in ADDRESS_PARTS]
    elif isinstance(f, LongTextField):
        w.kind = "textarea"
    elif isinstance(f, GroupField) and f.prefill and f.prefill_map:
        people = members_of(f, profile, resident_id)
        items = value if isinstance(value, list) else []
        w.kind = "members"
        w.choices = [(str(i), _person_text(m)) for i, m in enumerate(people)]
        w.checked = {str(i) for i, m in enumerate(people) if any(_matches(f, m, it) for it in items)}
        k = 0
        for i, m in enumerate(people):
            ticked = str(i) in w.checked
            # A ticked person's item as answered (ids by its place in the answer, as errors point to them); an
            # unticked one's as ticking would make it (ids by the person's place in the list).
            item = next(it for it in items if _matches(f, m, it)) if ticked else _item(f, m)
            # What this person does not give, with what was typed.
            subs = _item_widgets(f, scope, i, k if ticked else f"p{i}", item, item_fields(f, _item(f, m)),
                                 profile=profile, resident_id=resident_id)
            if subs:
                w.items.append((name_text(m.get("name")), subs, str(i), ticked))
            k += int(ticked)
        # Someone not offered (a mover the records do not list): a row typed by the clerk, after the ticked.
        _typed_row_widgets(w, f, scope, [it for it in items if isinstance(it, Mapping)], people, profile=profile,
                           resident_id=resident_id)
    elif isinstance(f, GroupField) and not f.prefill:
        # Typed row by row (証人, 兄姉): the clerk adds and removes rows.
        w.kind = "rows"
        _typed_row_widgets(w, f, scope, _rows(value, f), [], profile=profile, resident_id=resident_id)
    elif isinstance(f, PersonField):
        # One radio per person offered and 「ここにない人」 (value ""): the pick fills its targets on the
        # server when the screen is posted (server.prefill_check.pick_person, the PWA's rule).
        w.kind = "person"
        w.choices = [(str(m.get("member_id") or ""), _person_text(m)) for m in person_offered(f, profile, resident_id)
                     if m.get("member_id")] + [("", NOT_LISTED)]
        w.value = value if isinstance(value, str) and value else None
        # The live pick (interview.js, with the PWA's pickPerson): the people's values it may fill, nothing more.
        fills = f.fills or {}
        w.live = {"fills": fills, "pick_self": f.pick_self, "people": [
            {"member_id": m["member_id"], **{a: m[a] for a in set(fills.values()) if m.get(a) not in (None, "")}}
            for m in person_offered(f, profile, resident_id) if m.get("member_id")]}
    elif isinstance(f, DateField | WarekiField):
        # A date that may be partial (1950-03) as text: a date input would drop it (and post it empty).
        # A partial value the registry gave (a birth date 日不詳, filled through a person pick: the compiled form
        # accepts it, procedure_definitions.compile) must stay visible too, whatever the field's own flag says.
        partial_value = w.partial = isinstance(value, str) and 0 < len(value) < len("YYYY-MM-DD")
        w.input_type = "text" if isinstance(f, WarekiField) and (f.allow_partial or partial_value) else "date"
        if value:
            w.hint = (w.hint + " " if w.hint else "") + value_text(f, value)
    elif isinstance(f, PhoneField):
        w.input_type = "tel"
    elif isinstance(f, EmailField):
        w.input_type = "email"
    elif isinstance(f, NumberField | PostalCodeField | MyNumberField | CorporateNumberField):
        w.input_type = "text"  # digits typed as text: inputmode numeric keeps leading zeros
        w.numeric = isinstance(f, NumberField)
    elif not isinstance(f, TextField | KanaField | PhoneField):
        w.kind = "unsupported"  # attachments: after filing, in the console
    return w


def _read_rows(f: GroupField, name: str, form: Any, *, profile: Mapping[str, Any], resident_id: str
               ) -> list[dict[str, Any]]:
    """The rows typed by hand on the screen (a ``{name}._row`` marker each), in order; an empty row kept."""
    out = []
    for r in form.getall(f"{name}._row", []):
        row = {}
        for x in item_fields(f):
            v = read_value(x, f"{name}.{r}", form, profile=profile, resident_id=resident_id)
            if v not in (None, []):
                row[x.id] = v
        out.append(row)
    return out


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def read_value(f: Field, scope: str, form: Any, *, profile: Mapping[str, Any], resident_id: str) -> Any:
    """The posted value of a field rendered by :func:`widget` (None: no answer)."""
    name = f"{scope}.{f.id}"
    if isinstance(f, NoticeField):
        return None
    if isinstance(f, YesNoField):
        v = _text(form, name)
        return True if v == "yes" else False if v == "no" else None
    if isinstance(f, PersonField):  # a member id (the caller applies the pick: pick_person); "" nobody
        return _text(form, name) or None
    if isinstance(f, MultiChoiceField):
        return [str(v) for v in form.getall(name, [])]
    if isinstance(f, NameField) or (isinstance(f, KanaField) and f.split):
        fam, giv = _text(form, f"{name}.family"), _text(form, f"{name}.given")
        return {"family": fam, "given": giv} if fam or giv else None
    if isinstance(f, AddressField):
        parts = {k: _text(form, f"{name}.{k}") for k, _ in ADDRESS_PARTS}
        return {k: v for k, v in parts.items() if v} or None
    if isinstance(f, GroupField) and not f.prefill:  # the rows on the screen, in order (an empty row kept)
        return _read_rows(f, name, form, profile=profile, resident_id=resident_id)
    if isinstance(f, GroupField):
        if not (f.prefill and f.prefill_map):
            return None
        people = members_of(f, profile, resident_id)
        picked = {str(v) for v in form.getall(name, [])}
        out = []
        for i, m in enumerate(people):
            if str(i) not in picked:
                continue
            item = _item(f, m)
            for x in item_fields(f, item):  # the person's own fields, when the screen had them
                v = read_value(x, f"{name}.{i}", form, profile=profile, resident_id=resident_id)
                if v is not None:
                    item[x.id] = v
            out.append(item)
        return out + _read_rows(f, name, form, profile=profile, resident_id=resident_id)
    if isinstance(f, NumberField):
        v = _text(form, name)
        try:
            return int(v) if v.lstrip("-").isdigit() else float(v) if v else None
        except ValueError:
            return v  # the validator says what is wrong with it
    v = _text(form, name)
    return v or None


def errors_by_widget(ev: LifeEvent, proc: Procedure, errors: list[dict[str, Any]], questions: dict[str, Any]
                      ) -> list[tuple[str, str, str]]:
    """(dom id, label, Japanese message) per validation error: at the shared field or question that fills the
    field, else at the procedure's own field."""
    labels = {f.id: f.label.ja for s in proc.sections for f in s.fields}
    out = []
    filled_by_shared = {s.maps_to[proc.id]: s for s in ev.shared_fields if proc.id in s.maps_to}
    filled_by_q = {q.maps_to[proc.id]: q for q in ev.questions if proc.id in q.maps_to}
    for e in errors:
        path = str(e.get("path") or "")
        top = str(e.get("field_id") or "") if "[" not in path and "." not in path else path.split("[")[0].split(".")[0]
        top = top or path
        msg = e.get("message")
        text = str(msg.get("ja") if isinstance(msg, dict) else msg or "入力内容を確認してください。")
        if top in filled_by_shared:
            s = filled_by_shared[top]
            out.append((f"i-s-{s.field.id}", s.field.label.ja, text))
        elif top in filled_by_q and isinstance(questions.get(filled_by_q[top].id), bool):
            q = filled_by_q[top]
            out.append((f"q-{q.id}", q.label.ja, text))
        elif item := re.fullmatch(r"([\w-]+)\[(\d+)\]\.([\w-]+)", path):
            group = next((f for s in proc.sections for f in s.fields if f.id == item[1]), None)
            inner = {x.id: x.label.ja for x in getattr(group, "fields", [])}
            asked = {x.id for x in item_fields(group)} if isinstance(group, GroupField) else set()
            # At the person's own field when the screen may ask it (else, or when not shown, at the group).
            where = f"i-{proc.id}-{item[1]}-{item[2]}-{item[3]}" if item[3] in asked else f"i-{proc.id}-{item[1]}"
            out.append((where, f"{labels.get(item[1], item[1])} {int(item[2]) + 1}人目：{inner.get(item[3], item[3])}",
                        text))
        else:
            out.append((f"i-{proc.id}-{top}", labels.get(top, top), text))
    return out
