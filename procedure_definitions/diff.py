"""What changed between two versions of a definition, and what each change means for drafts and submissions.

Pure (no I/O, no server import): ``diff_definitions(old, new)`` compares the models field by field (ids are
unique in a whole procedure, groups included, so a field is the same field wherever it went), flags each
change breaking or not and says what it means for drafts already on phones and for stored submissions
(``diff_effects.py``). The console's draft page, ``GET /api/drafts/{id}/diff`` and the notebook client show
it; ``format_diff`` gives plain lines for the CLI. Docs: docs/configuring.md "What changed between versions".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from .diff_effects import EFFECTS
from .model import (
    AddressField,
    AttachmentField,
    ChoiceField,
    DateField,
    Field,
    GroupField,
    KanaField,
    LifeEvent,
    LongTextField,
    MultiChoiceField,
    NameField,
    NoticeField,
    NumberField,
    PhoneField,
    Procedure,
    Text,
    TextField,
    WarekiField,
)

__all__ = ["Change", "DefinitionDiff", "DiffText", "diff_definitions", "format_diff"]


class DiffText(msgspec.Struct):
    ja: str
    en: str


class Change(msgspec.Struct):
    kind: str  # docs/configuring.md lists every kind
    path: str  # a field's answer path as the form engine names it ("children[].name"), else the YAML key
    field_id: str | None
    breaking: bool
    message: DiffText  # what changed
    effect: DiffText  # what it means for drafts already on phones and for stored submissions


class DefinitionDiff(msgspec.Struct):
    against: str | None  # the old version compared with; None: there was none
    changes: list[Change]
    breaking: bool


def diff_definitions(old: Procedure | LifeEvent | None, new: Procedure | LifeEvent) -> DefinitionDiff:
    """Every change from ``old`` (the live version, or None) to ``new`` (a draft), in form order."""
    out = _Out()
    if old is None:
        out.add("new", "", None, False, ("新しい定義です（公開中の版はありません）。", "A new definition (no live version)."))
    elif type(old) is not type(new):
        out.add("kind_changed", "kind", None, True, ("種類（手続き／ライフイベント）が変わりました。",
                                                    "The kind (procedure / life event) changed."))
    elif isinstance(old, Procedure) and isinstance(new, Procedure):
        _diff_procedure(out, old, new)
    elif isinstance(old, LifeEvent) and isinstance(new, LifeEvent):
        _diff_life_event(out, old, new)
    return DefinitionDiff(against=old.version if old is not None else None, changes=out.changes,
                          breaking=any(c.breaking for c in out.changes))


def format_diff(diff: DefinitionDiff, lang: str = "ja") -> list[str]:
    """Plain text lines (CLI, notebook text output): a summary, then one line per change and its effect."""
    en = lang == "en"
    n, b = len(diff.changes), sum(c.breaking for c in diff.changes)
    against = diff.against or ("none" if en else "なし")
    lines = [f"against {against}: {n} change(s), {b} breaking" if en else f"比較対象 {against}: 変更 {n} 件（破壊的 {b} 件）"]
    for c in diff.changes:
        mark = ("BREAKING" if en else "破壊的") if c.breaking else "-"
        msg, eff = (c.message.en, c.effect.en) if en else (c.message.ja, c.effect.ja)
        lines.append(f"{mark} {c.kind} {c.path}: {msg}" if c.path else f"{mark} {c.kind}: {msg}")
        lines.append(f"    {eff}")
    return lines


# -- collecting ------------------------------------------------------------------------------------------
class _Out:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.life_event = False

    def add(self, kind: str, path: str, field_id: str | None, breaking: bool, message: tuple[str, str],
            variant: str | None = None) -> None:
        ja, en = EFFECTS["life_event"] if self.life_event else EFFECTS[f"{kind}:{variant}" if variant else kind]
        self.changes.append(Change(kind, path, field_id, breaking and not self.life_event,
                                   DiffText(*message), DiffText(ja, en)))


def _ja(t: Text | None) -> str:
    return t.ja if t is not None else ""


def _en(t: Text | None) -> str:
    return (t.en or t.ja) if t is not None else ""


def _show(v: Any) -> str:
    """A value as a message shows it: absent as —, lists joined."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, list | tuple):
        return ", ".join(_show(x) for x in v)
    if isinstance(v, msgspec.Struct):
        return msgspec.json.encode(v).decode()
    return str(v)


def _changed(a: Any, b: Any) -> bool:
    return bool(a != b)


# -- procedures ------------------------------------------------------------------------------------------
_DETAILS = ("description", "deadline", "legal_basis", "keywords", "fee", "signature")


def _diff_procedure(out: _Out, old: Procedure, new: Procedure) -> None:
    if _changed(old.title, new.title):
        out.add("title_changed", "title", None, False, (f"名前「{_ja(old.title)}」→「{_ja(new.title)}」",
                                                        f"Title '{_en(old.title)}' → '{_en(new.title)}'"))
    if _changed(old.department, new.department):
        out.add("department_changed", "department", None, False,
                (f"担当課 {_ja(old.department.name)} ({old.department.id}) → {_ja(new.department.name)} "
                 f"({new.department.id})",
                 f"Department {_en(old.department.name)} ({old.department.id}) → {_en(new.department.name)} "
                 f"({new.department.id})"))
    gone = sorted(set(old.filers) - set(new.filers))
    if gone:
        out.add("rule_tightened", "filers", None, True, (f"提出者から {', '.join(gone)} を外しました",
                                                         f"Filers: {', '.join(gone)} removed"), "filers")
    elif _changed(sorted(old.filers), sorted(new.filers)):
        out.add("rule_loosened", "filers", None, False, (f"提出者 {_show(old.filers)} → {_show(new.filers)}",
                                                         f"Filers {_show(old.filers)} → {_show(new.filers)}"))
    for key in _DETAILS:
        a, b = getattr(old, key), getattr(new, key)
        if _changed(a, b):
            shown_a = _ja(a) if isinstance(a, Text) else _show(a)
            shown_b = _ja(b) if isinstance(b, Text) else _show(b)
            out.add("details_changed", key, None, False, (f"{key}: {shown_a} → {shown_b}", f"{key}: {shown_a} → {shown_b}"))
    _diff_documents(out, old, new)
    if _changed(old.parties, new.parties):
        out.add("parties_changed", "parties", None, True,
                (f"他の住民の分担 {_show([p.id for p in old.parties])} → {_show([p.id for p in new.parties])}",
                 f"Parties {_show([p.id for p in old.parties])} → {_show([p.id for p in new.parties])}"))
    _diff_sections(out, old, new)
    _diff_fields(out, _index(old), _index(new))


def _diff_documents(out: _Out, old: Procedure, new: Procedure) -> None:
    a, b = {d.id: d for d in old.documents}, {d.id: d for d in new.documents}
    for did, d in b.items():
        path = f"documents.{did}"
        if did not in a:
            out.add("document_added", path, None, False, (f"持ち物「{_ja(d.label)}」を追加", f"Document '{_en(d.label)}' added"))
        elif _changed(a[did], d):
            out.add("document_changed", path, None, False, (f"持ち物「{_ja(d.label)}」を変更", f"Document '{_en(d.label)}' changed"))
    for did, d in a.items():
        if did not in b:
            out.add("document_removed", f"documents.{did}", None, False,
                    (f"持ち物「{_ja(d.label)}」を削除", f"Document '{_en(d.label)}' removed"))


def _diff_sections(out: _Out, old: Procedure, new: Procedure) -> None:
    a, b = {s.id: s for s in old.sections}, {s.id: s for s in new.sections}
    old_ids = {f.id for s in old.sections for f, _ in _walk(s.fields)}
    new_ids = {f.id for s in new.sections for f, _ in _walk(s.fields)}
    for sid, s in b.items():
        path = f"sections.{sid}"
        if sid not in a:
            # Breaking when it brings a field that is new and required (listed again on its own below).
            req = not s.staff_only and any(f.id not in old_ids and _asks(f) and not f.staff_only for f, _ in _walk(s.fields))
            out.add("section_added", path, None, req, (f"ページ「{_ja(s.title)}」を追加", f"Page '{_en(s.title)}' added"))
            continue
        o = a[sid]
        if _changed(o.title, s.title) or _changed(o.help, s.help):
            out.add("section_changed", path, None, False, (f"ページ「{_ja(o.title)}」→「{_ja(s.title)}」",
                                                           f"Page '{_en(o.title)}' → '{_en(s.title)}'"))
        if _changed(o.show_if, s.show_if):
            out.add("condition_changed", path, None, False,
                    (f"ページ「{_ja(s.title)}」の表示条件 {_show(o.show_if)} → {_show(s.show_if)}",
                     f"Page '{_en(s.title)}' shown when {_show(o.show_if)} → {_show(s.show_if)}"))
        if _changed(o.party, s.party):
            out.add("parties_changed", path, None, True,
                    (f"ページ「{_ja(s.title)}」の記入者 {_show(o.party)} → {_show(s.party)}",
                     f"Page '{_en(s.title)}' filled by {_show(o.party)} → {_show(s.party)}"))
        if o.staff_only != s.staff_only:
            kind, var = ("rule_tightened", "staff_only") if s.staff_only else ("rule_loosened", None)
            out.add(kind, path, None, s.staff_only,
                    (f"ページ「{_ja(s.title)}」窓口記入のみ {_show(o.staff_only)} → {_show(s.staff_only)}",
                     f"Page '{_en(s.title)}' staff only {_show(o.staff_only)} → {_show(s.staff_only)}"), var)
    for sid, o in a.items():
        if sid not in b:
            lost = any(f.id not in new_ids and _holds_answer(f) for f, _ in _walk(o.fields))
            out.add("section_removed", f"sections.{sid}", None, lost,
                    (f"ページ「{_ja(o.title)}」を削除", f"Page '{_en(o.title)}' removed"))


# -- fields ----------------------------------------------------------------------------------------------
class _Loc(msgspec.Struct):
    field: Any  # Field
    path: str
    section: str | None
    group: str | None  # the enclosing group's id
    staff_only: bool  # its section is the counter's


def _walk(fields: list[Field], base: str = "", group: str | None = None) -> Iterator[tuple[Field, tuple[str, str | None]]]:
    """(field, (answer path, enclosing group id)) depth first; paths as the form engine names them."""
    for f in fields:
        path = f"{base}{f.id}"
        yield f, (path, group)
        if isinstance(f, GroupField):
            yield from _walk(f.fields, f"{path}[].", f.id)


def _index(proc: Procedure) -> dict[str, _Loc]:
    out: dict[str, _Loc] = {}
    for s in proc.sections:
        for f, (path, group) in _walk(s.fields):
            out.setdefault(f.id, _Loc(f, path, s.id, group, s.staff_only))  # a repeated id (a draft with errors): the first
    return out


def _holds_answer(f: Any) -> bool:
    return not isinstance(f, NoticeField) and f.calculate is None


def _asks(f: Any) -> bool:
    return _holds_answer(f) and (f.required or f.required_if is not None)


def _tag(f: Any) -> str:
    return str(f.__struct_config__.tag)


def _name(f: Any) -> tuple[str, str]:
    return _ja(f.label), _en(f.label)


def _diff_fields(out: _Out, a: dict[str, _Loc], b: dict[str, _Loc]) -> None:
    for fid, loc in b.items():
        if fid in a:
            _diff_field(out, a[fid], loc)
        elif loc.group is None or loc.group in a:  # inside a group added too: the group says it
            _added(out, loc)
    for fid, loc in a.items():
        if fid not in b and (loc.group is None or loc.group in b):
            f = loc.field
            ja, en = _name(f)
            variant = "no_answer" if not _holds_answer(f) else ("in_group" if loc.group else None)
            out.add("field_removed", loc.path, fid, variant != "no_answer",
                    (f"項目「{ja}」を削除", f"Field '{en}' removed"), variant)


def _added(out: _Out, loc: _Loc) -> None:
    f = loc.field
    ja, en = _name(f)
    asks = _asks(f)
    counter = f.staff_only or loc.staff_only  # never asked of a resident (forms.py): only counter drafts owe it
    what_ja = "（必須）" if f.required else ("（条件付き必須）" if f.required_if else "（任意）")
    what_en = " (required)" if f.required else (" (required when " + f.required_if + ")" if f.required_if else " (optional)")
    if not _holds_answer(f):
        variant: str | None = "no_answer"
        what_ja, what_en = "", ""
    elif counter:
        variant = "staff_only" if asks else None
    elif loc.group is not None:
        variant = "in_group" if asks else None
    elif f.required:
        variant = "required"
    else:
        variant = "required_if" if f.required_if else None
    kind = "field_added"
    if isinstance(f, AttachmentField) and not counter:  # "a file must be attached" rather than "answered"
        kind, variant = "attachment_added", "required" if asks else None
    out.add(kind, loc.path, f.id, asks and not counter, (f"項目「{ja}」を追加{what_ja}", f"Field '{en}' added{what_en}"),
            variant)


def _diff_field(out: _Out, lo: _Loc, ln: _Loc) -> None:
    a, b = lo.field, ln.field
    fid, path = b.id, ln.path
    ja, en = _name(b)

    def add(kind: str, breaking: bool, mja: str, men: str, variant: str | None = None) -> None:
        out.add(kind, path, fid, breaking, (f"「{ja}」: {mja}", f"'{en}': {men}"), variant)

    if lo.group != ln.group:
        add("field_moved", _holds_answer(b), f"置き場所 {lo.path} → {ln.path}", f"moved {lo.path} → {ln.path}", "group")
    elif lo.section != ln.section:
        add("field_moved", False, f"ページ {lo.section} → {ln.section}", f"page {lo.section} → {ln.section}")
    same_type = _tag(a) == _tag(b)
    if not same_type:
        add("type_changed", _holds_answer(b), f"種類 {_tag(a)} → {_tag(b)}", f"type {_tag(a)} → {_tag(b)}")
    if _changed(a.label, b.label):
        add("label_changed", False, f"表示名「{_ja(a.label)}」→「{_ja(b.label)}」",
            f"label '{_en(a.label)}' → '{_en(b.label)}'")
    for key in ("hint", "help", "constraint_message", "placeholder", "unit", "item_label", "text"):
        if _changed(getattr(a, key, None), getattr(b, key, None)):
            add("hint_changed", False, f"{key} を変更", f"{key} changed")
    _diff_requirement(add, a, b, ln.group is not None)
    if _changed(a.constraint, b.constraint):
        if a.constraint is None:
            add("rule_tightened", True, f"入力の決まりを追加: {b.constraint}", f"validation rule added: {b.constraint}")
        elif b.constraint is None:
            add("rule_loosened", False, f"入力の決まりを削除: {a.constraint}", f"validation rule removed: {a.constraint}")
        else:
            add("rule_changed", True, f"入力の決まり {a.constraint} → {b.constraint}",
                f"validation rule {a.constraint} → {b.constraint}")
    if _changed(a.show_if, b.show_if):
        add("condition_changed", False, f"表示条件 {_show(a.show_if)} → {_show(b.show_if)}",
            f"shown when {_show(a.show_if)} → {_show(b.show_if)}")
    if _changed(a.calculate, b.calculate):
        removed = b.calculate is None
        add("calculation_changed", removed and _asks(b), f"計算式 {_show(a.calculate)} → {_show(b.calculate)}",
            f"calculation {_show(a.calculate)} → {_show(b.calculate)}", "removed" if removed else None)
    staff_a, staff_b = a.staff_only or lo.staff_only, b.staff_only or ln.staff_only
    if staff_a != staff_b:
        if staff_b:
            add("rule_tightened", True, "窓口の職員が記入する項目になりました", "now filled at the counter only", "staff_only")
        else:
            add("rule_loosened", False, "住民も記入する項目になりました", "no longer filled at the counter only")
    inputs = [k for k in _INPUT_KEYS if _changed(getattr(a, k, None), getattr(b, k, None))]
    if inputs:
        add("input_changed", False, f"入力の仕方を変更: {', '.join(inputs)}", f"how it is filled in changed: {', '.join(inputs)}")
    if same_type:
        _diff_bounds(add, a, b)
        if isinstance(a, ChoiceField | MultiChoiceField) and isinstance(b, ChoiceField | MultiChoiceField):
            _diff_choices(add, a, b)


# How a field is filled in, not what it accepts (input_changed, never breaking).
_INPUT_KEYS = ("read_only", "prefill", "prefill_editable", "prefill_part", "prefill_values", "prefill_map", "pick",
               "pick_self", "merge", "fills", "appearance", "capture", "address_field", "level")


def _diff_requirement(add: Any, a: Any, b: Any, in_group: bool) -> None:
    if a.required != b.required:
        if b.required:
            add("rule_tightened", _holds_answer(b), "必須になりました", "now required",
                "required_in_group" if in_group else "required")
        else:
            add("rule_loosened", False, "必須でなくなりました", "no longer required")
    if _changed(a.required_if, b.required_if):
        if b.required_if is None:
            add("rule_loosened", False, f"条件付き必須を削除: {a.required_if}", f"required_if removed: {a.required_if}")
        elif a.required_if is None:
            add("rule_tightened", _holds_answer(b), f"条件付き必須を追加: {b.required_if}",
                f"required_if added: {b.required_if}", "required_in_group" if in_group else "required")
        else:
            add("rule_changed", _holds_answer(b), f"条件付き必須 {a.required_if} → {b.required_if}",
                f"required_if {a.required_if} → {b.required_if}", None if in_group else "required_if")


# (attribute, "low" for a lower bound / "high" for an upper bound / "on" for a flag whose true accepts less
# / "off" for a flag whose true accepts more / "other" when the direction is unknown), per field type.
_BOUNDS: dict[type, tuple[tuple[str, str, str], ...]] = {
    TextField: (("min_length", "low", "最小文字数"), ("max_length", "high", "最大文字数")),
    LongTextField: (("max_length", "high", "最大文字数"),),
    NumberField: (("min", "low", "最小値"), ("max", "high", "最大値"), ("step", "other", "刻み")),
    MultiChoiceField: (("min_selected", "low", "最少選択数"), ("max_selected", "high", "最多選択数")),
    DateField: (("min", "low", "最も早い日付"), ("max", "high", "最も遅い日付")),
    GroupField: (("min", "low", "最少件数"), ("max", "high", "最多件数")),
    AttachmentField: (("max_size_mb", "high", "最大サイズ(MB)"), ("max_files", "high", "最大ファイル数"),
                      ("accept", "set", "受け付ける形式")),
    WarekiField: (("allow_partial", "off", "年月のみ・年のみを許す"),),
    PhoneField: (("mobile_only", "on", "携帯電話のみ"),),
    AddressField: (("japan_only", "on", "国内の住所のみ"),),
    NameField: (("single_part", "other", "氏名を一つの欄で"),),
    KanaField: (("split", "other", "氏・名に分ける"),),
    ChoiceField: (("choice_filter", "other", "選択肢の絞り込み"),),
}
_BOUNDS[MultiChoiceField] = (*_BOUNDS[MultiChoiceField], ("choice_filter", "other", "選択肢の絞り込み"))


def _direction(rule: str, x: Any, y: Any) -> str:
    """'tightened', 'loosened' or 'changed' for a rule going from x to y (x != y)."""
    if rule in ("on", "off"):
        return "tightened" if bool(y) == (rule == "on") else "loosened"
    if rule == "set":
        gone, more = set(x or ()) - set(y or ()), set(y or ()) - set(x or ())
        return "changed" if gone and more else ("tightened" if gone else "loosened")
    if rule == "other":
        return "changed"
    if x is None or y is None:  # a bound added tightens, a bound dropped loosens
        return "tightened" if x is None else "loosened"
    try:
        lower = y > x
    except TypeError:
        return "changed"
    return "tightened" if lower == (rule == "low") else "loosened"


def _diff_bounds(add: Any, a: Any, b: Any) -> None:
    for key, rule, label_ja in _BOUNDS.get(type(b), ()):
        x, y = getattr(a, key), getattr(b, key)
        if not _changed(x, y):
            continue
        how = _direction(rule, x, y)
        add(f"rule_{how}", how != "loosened" and _holds_answer(b), f"{label_ja} {_show(x)} → {_show(y)}",
            f"{key} {_show(x)} → {_show(y)}")


def _diff_choices(add: Any, a: ChoiceField | MultiChoiceField, b: ChoiceField | MultiChoiceField) -> None:
    old = {c.value: c for c in a.choices}
    new = {c.value: c for c in b.choices}
    for v, c in new.items():
        if v not in old:
            add("choice_added", False, f"選択肢「{_ja(c.label)}」({v}) を追加", f"choice '{_en(c.label)}' ({v}) added")
            continue
        o = old[v]
        if _changed(o.label, c.label):
            add("choice_relabelled", False, f"選択肢 {v}「{_ja(o.label)}」→「{_ja(c.label)}」",
                f"choice {v} '{_en(o.label)}' → '{_en(c.label)}'")
        if _changed(o.filter, c.filter):
            add("rule_changed", True, f"選択肢 {v} の絞り込み {_show(o.filter)} → {_show(c.filter)}",
                f"choice {v} offered when {_show(o.filter)} → {_show(c.filter)}")
    for v, c in old.items():
        if v not in new:
            add("choice_removed", True, f"選択肢「{_ja(c.label)}」({v}) を削除", f"choice '{_en(c.label)}' ({v}) removed")


# -- life events -----------------------------------------------------------------------------------------
def _diff_life_event(out: _Out, old: LifeEvent, new: LifeEvent) -> None:
    # A bundle already started keeps the version it started with: nothing here breaks a draft on a phone.
    out.life_event = True
    if _changed(old.title, new.title):
        out.add("title_changed", "title", None, False, (f"名前「{_ja(old.title)}」→「{_ja(new.title)}」",
                                                        f"Title '{_en(old.title)}' → '{_en(new.title)}'"))
    for key in ("description", "keywords"):
        if _changed(getattr(old, key), getattr(new, key)):
            out.add("details_changed", key, None, False, (f"{key} を変更", f"{key} changed"))
    _keyed(out, "procedures", "procedure", [(p.procedure, p, p.procedure) for p in old.procedures],
           [(p.procedure, p, p.procedure) for p in new.procedures], ("手続き", "procedure"),
           lambda o, n: "include_if" if _changed(o.include_if, n.include_if) else ("reason" if _changed(o.reason, n.reason) else None))
    _keyed(out, "questions", "question", [(q.id, q, _ja(q.label)) for q in old.questions],
           [(q.id, q, _ja(q.label)) for q in new.questions], ("質問", "question"),
           lambda o, n: ", ".join(k for k in ("label", "help", "show_if", "maps_to", "prefill")
                                  if _changed(getattr(o, k), getattr(n, k))) or None)
    _keyed(out, "shared_fields", "shared_field", [(s.field.id, s, _ja(s.field.label)) for s in old.shared_fields],
           [(s.field.id, s, _ja(s.field.label)) for s in new.shared_fields], ("共通項目", "shared field"),
           lambda o, n: ", ".join(k for k in ("field", "maps_to") if _changed(getattr(o, k), getattr(n, k))) or None,
           field_ids=True)
    _keyed(out, "people", "person", [(p.id, p, p.id) for p in old.people], [(p.id, p, p.id) for p in new.people],
           ("人", "person"), lambda o, n: "map" if _changed(o.map, n.map) else None)


def _keyed(out: _Out, key: str, kind: str, old: Iterable[tuple[str, Any, str]], new: Iterable[tuple[str, Any, str]],
           noun: tuple[str, str], what: Any, field_ids: bool = False) -> None:
    """Added / removed / changed items of a life event list, by id (``what(old, new)`` names what changed)."""
    a = {i: (x, label) for i, x, label in old}
    b = {i: (x, label) for i, x, label in new}
    for i, (x, label) in b.items():
        fid = i if field_ids else None
        if i not in a:
            out.add(f"{kind}_added", f"{key}.{i}", fid, False, (f"{noun[0]}「{label}」を追加", f"{noun[1]} '{i}' added"))
        else:
            changed = what(a[i][0], x)
            if changed:
                out.add(f"{kind}_changed", f"{key}.{i}", fid, False,
                        (f"{noun[0]}「{label}」を変更: {changed}", f"{noun[1]} '{i}' changed: {changed}"))
    for i, (_x, label) in a.items():
        if i not in b:
            out.add(f"{kind}_removed", f"{key}.{i}", i if field_ids else None, False,
                    (f"{noun[0]}「{label}」を削除", f"{noun[1]} '{i}' removed"))
