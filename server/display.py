"""Readable values: the ONE place that turns a stored answer into the text staff and printed forms show.

Pure functions of a definition and stored values (no database, no request): the console's submission page,
its queue and CSV exports, the 申請書 PDF and the visit screens all call these, so a choice reads the same
everywhere and nothing shows a raw code or an English sub-key (``family``/``given``, ``postal_code``):

* choice -> its Japanese label; multichoice -> the labels joined with 「、」 (an unknown code stays as stored:
  a retired choice is still what the resident sent);
* yes/no -> はい / いいえ;
* name -> 「姓 名」 (family, a space, given), byte for byte: never normalized (MJ/IVS characters print as
  stored); kana the same;
* address -> ``〒330-0063 埼玉県さいたま市浦和区高砂3-15-1 ○○マンション101`` (the postal code with its hyphen,
  prefecture to block run together, a space before the building);
* postal code -> ``〒330-0063``;
* date -> ``2026年12月7日``; wareki -> ``令和8年12月7日`` (a partial one ``令和8年12月`` / ``令和8年``);
* number -> as typed, with its unit (``2通``);
* attachment -> its file names; person -> the picked person's name as filled, with 「（世帯員から選択）」 /
  「（転出証明書の異動者から選択）」 (by the field's ``prefill``) only for a pick the city's records back: the
  caller passes the submission's stored corrected paths (``server.prefill_check``, decided when it was
  filed) and none of them is the person field or a field it fills; without them (a pre-entry, a printed form)
  the name alone;
* group -> rows: one list of (label, text) per item (:func:`answer_sections`);
* a timestamp (stored UTC) -> JST to the minute (:func:`jst`).

Entry points: :func:`value_text` (one field's value), :func:`answer_sections` (a whole submission in form
order: section titles, labels, groups as rows), :func:`form_values` (the values as validated), :func:`jst`,
``STATUS_LABELS`` (a submission's status in words), ``FLAG_LABELS`` / :func:`flag_labels` (its flags),
:func:`procedure_title`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from procedure_definitions.expressions.numfmt import format_number
from procedure_definitions.japan import JST, to_wareki
from procedure_definitions.model import (
    AddressField,
    AttachmentField,
    ChoiceField,
    DateField,
    Field,
    GroupField,
    KanaField,
    LifeEvent,
    MultiChoiceField,
    NameField,
    NoticeField,
    NumberField,
    PersonField,
    PostalCodeField,
    Procedure,
    WarekiField,
    YesNoField,
)

__all__ = [
    "FLAG_LABELS",
    "STATUS_LABELS",
    "AnswerRow",
    "AnswerSection",
    "address_text",
    "answer_sections",
    "applicant_name",
    "arrival_name",
    "booth_text",
    "choice_labels",
    "date_text",
    "file_names",
    "flag_labels",
    "form_values",
    "jst",
    "life_event_sections",
    "name_text",
    "postal_text",
    "procedure_title",
    "status_label",
    "value_text",
    "wareki_text",
]

STATUS_LABELS: dict[str, str] = {"received": "受付", "in_review": "審査中", "needs_info": "追加情報待ち",
                                 "accepted": "受理", "rejected": "却下", "completed": "完了"}
# A submission's flags (server.filing) in words: the console's queue and detail, the CSV's ``flags_label``.
FLAG_LABELS: dict[str, str] = {"retired_version": "旧版の様式で提出", "incomplete_attachments": "添付ファイル不足",
                               "prefill_corrected": "登録情報から修正あり"}
# The note on a person field's value, by its ``prefill`` (the list the person was picked from).
PERSON_PICKED = {"household_members": "世帯員から選択", "transfer_movers": "転出証明書の異動者から選択"}
_SEP = "、"


def jst(value: object, *, seconds: bool = False) -> str:
    """A stored UTC ISO timestamp, or Unix seconds (the auth tables' expiry columns), as staff read it: JST,
    to the minute (``2026-12-07 05:27``; ``seconds``: to the second, for a log-like listing such as
    ``madoguchi handoff status``). Something that is not a timestamp is shown as it is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = dt.datetime.fromtimestamp(value, dt.UTC).isoformat()
    if not isinstance(value, str) or not value:
        return "" if value is None else str(value)
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if t.tzinfo is None:  # stored times are UTC
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def flag_labels(flags: Iterable[str]) -> list[str]:
    """A submission's flags in words, in their order (a flag this server does not know: as stored)."""
    return [FLAG_LABELS.get(f, f) for f in flags]


def procedure_title(titles: Mapping[str, str], procedure_id: str) -> str:
    """The title to show for ``procedure_id`` (``titles``: id -> Japanese title, e.g. from the library); the
    id itself only for a procedure the server no longer knows."""
    return titles.get(procedure_id) or procedure_id


def _iso_parts(value: str) -> tuple[int, int | None, int | None] | None:
    parts = value.split("-")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
        return None
    nums = [int(p) for p in parts]
    return nums[0], (nums[1] if len(nums) > 1 else None), (nums[2] if len(nums) > 2 else None)


def date_text(value: Any) -> str:
    """``2026-12-07`` -> ``2026年12月7日`` (anything else as stored)."""
    parts = _iso_parts(value) if isinstance(value, str) else None
    if parts is None:
        return _plain(value)
    y, m, d = parts
    return f"{y}年" + (f"{m}月" if m else "") + (f"{d}日" if d else "")


def wareki_text(value: Any) -> str:
    """A wareki field's ISO value in the Japanese era: ``令和8年12月7日``; partial ``令和8年12月``/``令和8年``
    (the era of the month's or year's last day, as the resident picked it). Before 1873: the Western date."""
    parts = _iso_parts(value) if isinstance(value, str) else None
    if parts is None:
        return _plain(value)
    y, m, d = parts
    try:
        if d is not None and m is not None:
            return to_wareki(dt.date(y, m, d))
        last = dt.date(y, m, 28) if m is not None else dt.date(y, 12, 31)
        text = to_wareki(last)  # e.g. 令和8年12月28日: keep the era and year (and month)
    except ValueError:
        return date_text(value)
    year_part = text[: text.index("年") + 1]
    return year_part + (f"{m}月" if m is not None else "")


def name_text(value: Any) -> str:
    """A name or split kana as 「姓 名」, each part byte for byte; a single-part name as stored."""
    if isinstance(value, Mapping):
        return " ".join(str(value[k]) for k in ("family", "given") if value.get(k))
    return _plain(value)


def postal_text(value: Any) -> str:
    """``3300063`` -> ``〒330-0063`` (anything else as stored, e.g. a foreign postal code)."""
    if isinstance(value, str) and len(value) == 7 and value.isdigit():
        return f"〒{value[:3]}-{value[3:]}"
    return _plain(value)


def address_text(value: Any) -> str:
    """An address the Japanese way: ``〒330-0063 埼玉県さいたま市浦和区高砂3-15-1 建物名``."""
    if not isinstance(value, Mapping):
        return _plain(value)
    line = "".join(str(value[k]) for k in ("prefecture", "city", "town", "block") if value.get(k))
    parts = [postal_text(value["postal_code"]) if value.get("postal_code") else "", line,
             str(value.get("building") or "")]
    return " ".join(p for p in parts if p)


def choice_labels(f: ChoiceField | MultiChoiceField, value: Any) -> list[str]:
    """The labels of the chosen codes, in the order chosen (an unknown code as stored)."""
    labels = {c.value: c.label.ja for c in f.choices}
    codes = value if isinstance(value, list) else [value]
    return [labels.get(str(c), _plain(c)) for c in codes if c not in (None, "")]


def booth_text(booth: str | None) -> str:
    """A booth as residents read it: a number alone is 「3番」 (staff often type just 3); a name (「相談室A」,
    「5番」) stays as typed; none is ""."""
    b = (booth or "").strip()
    return f"{b}番" if b.isdecimal() else b


def _plain(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "はい" if v else "いいえ"
    if isinstance(v, (int, float)):
        return format_number(v)
    return str(v)


def file_names(value: Any) -> list[str]:
    """An attachment field's files by name, in their order (a file without one: its hash's first 12 digits)."""
    items = value if isinstance(value, list) else [value]
    return [str(a.get("name") or str(a.get("sha256", ""))[:12]) for a in items if isinstance(a, Mapping)]


def _person_text(f: PersonField, value: Any, answers: Mapping[str, Any], corrected: Collection[str] | None) -> str:
    # A person field's answer is a resident code: staff read the picked person's name as filled (the field
    # it fills with ``name``), never the code; "picked from the records" only when that is what was checked.
    if not isinstance(value, str) or not value:
        return ""
    name = next((answers.get(fid) for fid, attr in (f.fills or {}).items() if attr == "name"), None)
    text = name_text(name) if isinstance(name, (Mapping, str)) else ""
    note = PERSON_PICKED.get(f.prefill or "")
    if note is None or corrected is None or f.id in corrected or any(fid in corrected for fid in f.fills or {}):
        return text
    return f"{text}（{note}）" if text else note


def value_text(f: Field, value: Any, answers: Mapping[str, Any] | None = None,
               corrected: Collection[str] | None = None) -> str:
    """One field's stored value as display text (``answers``: the form's values, for a person field's name;
    ``corrected``: the submission's stored corrected paths, for a person field's note; None: unknown, no note).
    A group is its items' rows joined (「1: …／2: …」); :func:`answer_sections` gives them as rows."""
    if value is None or value == "" or value == []:
        return ""
    if isinstance(f, YesNoField):
        return "はい" if value is True else "いいえ" if value is False else _plain(value)
    if isinstance(f, (ChoiceField, MultiChoiceField)):
        return _SEP.join(choice_labels(f, value))
    if isinstance(f, (NameField, KanaField)):
        return name_text(value)
    if isinstance(f, AddressField):
        return address_text(value)
    if isinstance(f, PostalCodeField):
        return postal_text(value)
    if isinstance(f, WarekiField):
        return wareki_text(value)
    if isinstance(f, DateField):
        return date_text(value)
    if isinstance(f, NumberField):
        return _plain(value) + (f.unit.ja if f.unit and isinstance(value, (int, float)) else "")
    if isinstance(f, AttachmentField):
        return _SEP.join(file_names(value))
    if isinstance(f, PersonField):
        return _person_text(f, value, answers or {}, corrected)
    if isinstance(f, GroupField):
        items = value if isinstance(value, list) else []
        return "／".join(f"{n}: " + "、".join(f"{r.label} {r.text}" for r in _rows(f.fields, item, item))
                        for n, item in enumerate(items, start=1) if isinstance(item, Mapping))
    if isinstance(value, (Mapping, list)):  # a shape the type does not have: readable, not a dict repr
        return _SEP.join(_plain(v) for v in (value.values() if isinstance(value, Mapping) else value))
    return _plain(value)


@dataclass(frozen=True)
class AnswerRow:
    """One answered field: its label and display text; a group's ``items`` (one row list per item, labelled
    ``item_label`` + number) instead of text; ``files`` (sha256, name) for an attachment (to link them)."""

    field_id: str
    label: str
    text: str
    staff_only: bool = False
    items: list[tuple[str, list[AnswerRow]]] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class AnswerSection:
    title: str
    rows: list[AnswerRow]


def _files(value: Any) -> list[tuple[str, str]]:
    items = value if isinstance(value, list) else []
    return [(str(a["sha256"]), str(a.get("name") or str(a["sha256"])[:12])) for a in items
            if isinstance(a, Mapping) and isinstance(a.get("sha256"), str)]


def _rows(fields: Iterable[Field], values: Mapping[str, Any], answers: Mapping[str, Any],
          staff: frozenset[str] = frozenset(), corrected: Collection[str] | None = None) -> list[AnswerRow]:
    out: list[AnswerRow] = []
    for f in fields:
        if isinstance(f, NoticeField) or f.id not in values:
            continue
        value = values[f.id]
        if value is None or value == "" or value == []:
            continue
        if isinstance(f, GroupField):
            item_label = (f.item_label or f.label).ja
            items = [(f"{item_label} {n}", _rows(f.fields, item, answers, staff, corrected))
                     for n, item in enumerate(value if isinstance(value, list) else [], start=1)
                     if isinstance(item, Mapping)]
            out.append(AnswerRow(f.id, f.label.ja, "", f.id in staff, items=items))
            continue
        files = _files(value) if isinstance(f, AttachmentField) else []
        out.append(AnswerRow(f.id, f.label.ja, value_text(f, value, answers, corrected), f.id in staff, files=files))
    return out


def answer_sections(proc: Procedure, values: Mapping[str, Any], staff_only: frozenset[str] = frozenset(),
                    corrected: Collection[str] | None = None) -> list[AnswerSection]:
    """A submission's answers in form order: each section with an answered field, its title and rows
    (labels and display texts; groups as items of rows). ``values``: the form's values (:func:`form_values`);
    ``staff_only``: ids of the fields filled at the counter (marked so on the row); ``corrected``: the
    submission's stored corrected paths (:func:`value_text`)."""
    out = []
    for s in proc.sections:
        rows = _rows(s.fields, values, values, staff_only, corrected)
        if rows:
            out.append(AnswerSection(s.title.ja, rows))
    return out


def life_event_sections(ev: LifeEvent, questions: Mapping[str, Any], answers: Mapping[str, Any]
                        ) -> list[AnswerSection]:
    """A life event's own answers, before its procedures': the questions answered (はい/いいえ) and the shared
    fields (entered once for every procedure), each as a section when something was answered. Unvalidated
    input (a pre-entry): an answer that is not a yes/no is left out of the questions."""
    asked = [AnswerRow(q.id, q.label.ja, _plain(questions[q.id])) for q in ev.questions
             if isinstance(questions.get(q.id), bool)]
    shared = _rows([sf.field for sf in ev.shared_fields], answers, answers)
    return [AnswerSection(title, rows) for title, rows in (("質問への回答", asked), ("共通の入力", shared)) if rows]


def applicant_name(proc: Procedure, answers: Mapping[str, Any]) -> str:
    """The name an application gives of the person filing it, 「姓 名」 byte for byte: the first answered
    top-level field in form order that the definition fills with the filer's own name (``prefill: name``,
    the whole name, not ``prefill_part``); "" when it marks none. Whom a staff filing for nobody in the
    registry is for, when no visit names them (``server.console.readable.resident_names``)."""
    for s in proc.sections:
        for f in s.fields:
            if isinstance(f, NameField) and f.prefill == "name" and f.prefill_part is None:
                value = answers.get(f.id)
                if isinstance(value, (Mapping, str)) and (text := name_text(value)):
                    return text
    return ""


def arrival_name(typed: Mapping[str, Any] | None, applications: Iterable[tuple[Procedure, Mapping[str, Any]]]) -> str:
    """The name of a person not in the registry (a new arrival), 「姓 名」 byte for byte: the applicant's name the
    first of ``applications`` carries (:func:`applicant_name`: what they sign on the 申請書, e.g. 鈴木 大輔 from
    the transfer data), else the name ``typed`` at reception (a kana スズキ ダイスケ as heard), else "". The one
    order of the queue (``server.console.readable.resident_names``) and the 受付案内票."""
    for proc, answers in applications:
        if text := applicant_name(proc, answers):
            return text
    return name_text(typed) if typed else ""


def form_values(proc: Procedure, answers: Mapping[str, Any], *, filer: str = "resident") -> dict[str, Any]:
    """The form's values as validated: calculations filled in (e.g. the fee), hidden fields dropped (an answer
    a later change hid was not part of the application); ``filer="staff"`` keeps staff-only fields."""
    from procedure_definitions.forms import evaluate_procedure

    return dict(evaluate_procedure(proc, answers, filer=filer).values)
