"""Form logic: a whole procedure evaluated against answers (calculations, visibility, validation).

Runs on the *compiled* procedure (procedure_definitions.compile) so that pwa/js/form.js, its JavaScript
twin, evaluates exactly the same data; tests/conformance/forms.json pins both down.

Order: (1) clean the answers ("" and null are no answer; unknown ids are errors; numbers and strings the
runtimes would read differently are refused), (2) calculations to a fixed point (bounded, so a cycle the
checker missed cannot loop forever), (3) visibility in document order, removing hidden values as it goes,
(4) when a value was removed: again from (1) without every value hidden in the last pass, until the hidden
set is stable (so no condition or calculation read a value hidden in the end), (5) validation of the shown
fields only, at most one error per field.
An evaluation error inside a condition never crashes the form: show_if counts as shown, required_if as
not required, a constraint as violated, a calculation or choice_filter as null.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import msgspec

from . import japan
from .compile import compile_procedure
from .expressions import EvalError, deep_equal, evaluate, format_number, references, truthy
from .expressions.dates import japan_today, parse_date
from .expressions.parser import MAX_SAFE_INTEGER
from .identity_memo import IdentityMemo
from .model import Procedure
from .names import bad_name_char

__all__ = ["MESSAGES", "FieldError", "FormState", "evaluate_form", "evaluate_procedure", "for_resident", "is_number",
           "is_sha256", "required_documents", "staff_only_ids", "validate_answers"]

MESSAGES: dict[str, dict[str, str]] = {
    # Every message says what to do (the field's label comes first: 「郵便番号：…入力してください。」).
    "required": {"ja": "入力してください。", "en": "This field is required.", "ja-easy": "かいてください。"},
    "type": {
        "ja": "入力の形式が正しくありません。入力し直してください。",
        "en": "The value has the wrong form: enter it again.",
        "ja-easy": "かきかたが ちがいます。もういちど かいてください。",
    },
    "constraint": {
        "ja": "入力内容を見直して、正しく入力し直してください。",
        "en": "Check this value and correct it.",
        "ja-easy": "かいた ことを もういちど みて、なおしてください。",
    },
    "min": {
        "ja": "{min}以上にしてください。",
        "en": "Must be {min} or more.",
        "ja-easy": "{min} いじょう に してください。",
    },
    "max": {
        "ja": "{max}以下にしてください。",
        "en": "Must be {max} or less.",
        "ja-easy": "{max} いか に してください。",
    },
    "step": {
        "ja": "{step}刻みで入力してください。",
        "en": "Must be a multiple of {step}.",
        "ja-easy": "{step} ずつ の かずに してください。",
    },
    "min_length": {
        "ja": "{min_length}文字以上で入力してください。",
        "en": "Enter at least {min_length} characters.",
        "ja-easy": "{min_length}もじ いじょう かいてください。",
    },
    "max_length": {
        "ja": "{max_length}文字以内で入力してください。",
        "en": "Enter at most {max_length} characters.",
        "ja-easy": "{max_length}もじ いない で かいてください。",
    },
    "choice": {
        "ja": "選択肢から選んでください。",
        "en": "Choose one of the options.",
        "ja-easy": "えらんでください。",
    },
    "min_selected": {
        "ja": "{min_selected}個以上選んでください。",
        "en": "Choose at least {min_selected}.",
        "ja-easy": "{min_selected}こ いじょう えらんでください。",
    },
    "max_selected": {
        "ja": "{max_selected}個以内で選んでください。",
        "en": "Choose at most {max_selected}.",
        "ja-easy": "{max_selected}こ まで えらんでください。",
    },
    "date": {
        "ja": "正しい日付を入力してください。",
        "en": "Enter a valid date.",
        "ja-easy": "ただしい ひづけを かいてください。",
    },
    "wareki": {
        "ja": "正しい年月日を入力してください。",
        "en": "Enter a valid date (Japanese era or Western year).",
        "ja-easy": "ただしい ねん・つき・ひ を かいてください。",
    },
    "email": {
        "ja": "メールアドレスを name@example.jp の形で入力してください。",
        "en": "Enter an email address like name@example.jp.",
        "ja-easy": "メールアドレスを name@example.jp の かたちで かいてください。",
    },
    "phone": {
        "ja": "電話番号を市外局番から入力してください(例：03-1234-5678)。",
        "en": "Enter a Japanese phone number with its area code, like 03-1234-5678.",
        "ja-easy": "でんわばんごうを 03-1234-5678 の ように かいてください。",
    },
    "kana": {
        "ja": "全角カタカナで入力してください。",
        "en": "Enter in full-width katakana.",
        "ja-easy": "カタカナで かいてください。",
    },
    "postal_code": {
        "ja": "郵便番号を7桁の数字で入力してください。",
        "en": "Enter a 7-digit postal code.",
        "ja-easy": "ゆうびんばんごう(7けた)を かいてください。",
    },
    "address": {
        "ja": "住所を都道府県から番地まですべて入力してください(郵便番号は7桁の数字)。",
        "en": "Enter the whole address, from the prefecture to the block number (postal code: 7 digits).",
        "ja-easy": "じゅうしょを ぜんぶ かいてください。",
    },
    "name_parts": {
        "ja": "姓と名の両方を入力してください。",
        "en": "Enter both the family name and the given name.",
        "ja-easy": "みょうじと なまえを りょうほう かいてください。",
    },
    "my_number": {
        "ja": "マイナンバー(個人番号)12桁をカードのとおりに入力してください。",
        "en": "Enter the 12-digit My Number (individual number) exactly as on the card.",
        "ja-easy": "マイナンバー(12けた)を カードの とおりに かいてください。",
    },
    "corporate_number": {
        "ja": "法人番号13桁を正しく入力してください。",
        "en": "Enter the 13-digit corporate number correctly.",
        "ja-easy": "ほうじんばんごう(13けた)を ただしく かいてください。",
    },
    "attachment_type": {
        "ja": "この項目で受け付ける種類のファイル(項目の説明を参照)を選んでください。",
        "en": "Choose a file of a type this item accepts (see its description).",
        "ja-easy": "つけられる しゅるいの ファイルを えらんでください。",
    },
    "attachment_size": {
        "ja": "{max_size_mb}MB以下のファイルを選んでください。",
        "en": "Choose a file of {max_size_mb} MB or less.",
        "ja-easy": "{max_size_mb}MB より ちいさい ファイルを えらんでください。",
    },
    "min_items": {
        "ja": "{min}件以上入力してください。",
        "en": "Add at least {min}.",
        "ja-easy": "{min}つ いじょう いれてください。",
    },
    "max_items": {
        "ja": "{max}件以内にしてください。",
        "en": "Add at most {max}.",
        "ja-easy": "{max}つ までに してください。",
    },
    "number_range": {
        "ja": "この数値は扱えません(-9007199254740991から9007199254740991までの数値にしてください)。",
        "en": "This number cannot be used (use a number from -9007199254740991 to 9007199254740991).",
        "ja-easy": "この かずは つかえません。ちいさい かずに してください。",
    },
    "bad_text": {
        "ja": "使用できない文字を削除してください。",
        "en": "Remove the character that cannot be used.",
        "ja-easy": "つかえない もじを けしてください。",
    },
    "unknown_field": {
        "ja": "この項目は様式にありません。アプリを最新にしてから入力し直してください。",
        "en": "This item is not on the form: update the app and enter it again.",
        "ja-easy": "この こうもくは ありません。アプリを あたらしく してください。",
    },
    "staff_only": {
        "ja": "この項目は窓口の職員が記入します。入力を消してください。",
        "en": "This item is filled in by staff at the counter: leave it empty.",
        "ja-easy": "ここは まどぐちの 人が かきます。けしてください。",
    },
}
LANGS = ("ja", "en", "ja-easy")

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_POSTAL = re.compile(r"[0-9]{7}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: object) -> bool:
    """The one rule for a sha256 naming a file, on every path (answers, sync ``attachments``, ``/sync/blobs``,
    ``/api/attachments``): 64 lower-case hex digits, as ``hashlib`` and the PWA write it. Upper case is
    refused, not folded: one spelling per file, so a name never misses the stored lower-case one."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None
_ADDRESS_PARTS = ("prefecture", "city", "town", "block")


_SURROGATE = re.compile("[\ud800-\udfff]")  # in a Python str every surrogate is a lone one


class _Refused(Exception):
    """An answer the two runtimes could read differently: refused at the edge with this code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _copy(value: Any) -> Any:
    """A deep copy of decoded JSON (what answers are); anything else goes through copy.deepcopy.

    Raises _Refused for a number that is not finite or beyond 2**53 - 1 (a double no longer holds it exactly,
    and JavaScript would read another number) and for a string holding a lone surrogate (JavaScript counts,
    compares and joins those differently); the checks ride on the copy, which walks every value anyway.
    """
    t = type(value)
    if t is str:
        if not value.isascii() and _SURROGATE.search(value):
            raise _Refused("bad_text")
        return value
    if t is int or t is float:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # False for NaN too
            return value
        raise _Refused("number_range")
    if t is bool or value is None:
        return value
    if t is dict:
        return {k: _copy(v) for k, v in value.items()}
    if t is list:
        return [_copy(v) for v in value]
    return copy.deepcopy(value)


class FieldError(msgspec.Struct, frozen=True):
    path: str  # "copies", "members[0].name"
    field_id: str
    code: str
    message: dict[str, str]  # ja, en, ja-easy


class FormState(msgspec.Struct):
    shown: list[str]
    values: dict[str, Any]
    errors: list[FieldError]
    valid: bool
    # The shown paths required now (required, a true required_if, or a linked postal code of a required
    # address): what the ※必須 / ※任意 markers show, from the very decision validation makes.
    required: list[str] = msgspec.field(default_factory=list)


def _message(code: str, params: Mapping[str, Any], custom: Mapping[str, str] | None = None) -> dict[str, str]:
    out = {}
    for lang in LANGS:
        text = MESSAGES[code][lang]
        if custom:
            text = custom.get(lang) or custom.get("ja") or text
        for key, value in params.items():
            shown = (
                format_number(value)
                if isinstance(value, int | float) and not isinstance(value, bool)
                else str(value)
            )
            text = text.replace("{" + key + "}", shown)
        out[lang] = text
    return out


def _is_blank(v: Any) -> bool:
    return v is None or v == ""


def _is_empty(v: Any) -> bool:
    """No answer, for the required check: null, "", [], or an object whose parts are all blank."""
    if _is_blank(v) or (isinstance(v, list) and not v):
        return True
    return isinstance(v, dict) and all(_is_blank(x) for x in v.values())


class _Instance(msgspec.Struct):
    """One field at one place: a top-level field, or a group's field inside item i."""

    field: dict[str, Any]
    path: str
    container: dict[str, Any]  # the dict holding its value (the answers or a group item)
    scope: dict[str, Any] | None  # the item scope for expressions (outer items merged), None at top level


def _derive_calc_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fields that are calculated or are groups with a calculated field inside (memoized below: the
    server validates every submission of a version against the same compiled lists)."""
    return [f for f in fields
            if "calculate" in f or (f.get("type") == "group" and _calc_fields(f.get("fields", [])))]


_calc_fields: IdentityMemo[list[dict[str, Any]]] = IdentityMemo(_derive_calc_fields, 10_000)
_choice_values: IdentityMemo[list[str]] = IdentityMemo(lambda choices: [c["value"] for c in choices], 10_000)
_field_ids: IdentityMemo[frozenset[str]] = IdentityMemo(lambda fields: frozenset(f["id"] for f in fields), 10_000)


class _Layout(msgspec.Struct, frozen=True):
    """What a compiled procedure's shape says once for all its evaluations."""

    top: list[dict[str, Any]]  # the fields of all sections, in order
    calcs: list[dict[str, Any]] | None  # the calculated top-level fields; None when a group holds some
    one_pass: bool  # no calculation reads a calculated value: one round reaches the fixed point
    conditions: int  # show_if conditions (sections and fields): bounds the rounds of settle()
    read: frozenset[str]  # names a show_if or a calculation reads: only dropping one of those needs settle()


def _all_fields(fields: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for f in fields:
        yield f
        if f.get("type") == "group":
            yield from _all_fields(f.get("fields", []))


def _derive_layout(compiled: Mapping[str, Any]) -> _Layout:
    sections = compiled.get("sections", [])
    top = [f for s in sections for f in s.get("fields", [])]
    calcs = [f for s in sections for f in _calc_fields(s.get("fields", []))]
    every = list(_all_fields(top))
    # What calculations write (a calculated field, or a group holding one) and the names they read. Names are
    # compared, not places: an item field named like a calculated one elsewhere only costs the extra round.
    written = {f["id"] for f in every if "calculate" in f or (f.get("type") == "group" and _calc_fields(
        f.get("fields", [])))}
    read = {r[0] for f in every if "calculate" in f for r in references(f["calculate"]) if r}
    # A calculated group would change the items the next round walks.
    calculated_group = any(f.get("type") == "group" and "calculate" in f for f in every)
    conditions = sum("show_if" in x for x in [*sections, *every])
    logic = [x[key] for x in [*sections, *every] for key in ("show_if", "calculate") if key in x]
    return _Layout(top=top, calcs=None if any(f.get("type") == "group" for f in calcs) else calcs,
                   one_pass=not (written & read) and not calculated_group, conditions=conditions,
                   # every segment: ``kids.n`` reads the item field ``n`` of every item too
                   read=frozenset(seg for ast in logic for r in references(ast) for seg in r))


_layout: IdentityMemo[_Layout] = IdentityMemo(_derive_layout, 1_000)


class _Form:
    def __init__(self, compiled: Mapping[str, Any], answers: Mapping[str, Any], today: str | None,
                 filer: str = "resident") -> None:
        self.compiled = compiled
        # A resident never sees, owes or gives a staff_only field; staff filing at the counter does.
        self.resident = filer != "staff"
        self.required: list[str] = []
        # One "today" for the whole form: every expression sees the same date (and it is computed once).
        self.today = today or japan_today()
        self.errors: list[FieldError] = []
        self.values: dict[str, Any] = {}
        self.hidden: set[str] = set()
        # Visibility removed the answer of a field that turned out hidden, and a condition or calculation reads
        # that name (so it may have read it before it was removed).
        self.dropped = False
        self.current_scope: dict[str, Any] | None = None  # item scope of the field being validated
        self.refused: set[str] = set()  # paths whose answer was refused at the edge (one error each)
        self._answers = answers if isinstance(answers, Mapping) else {}
        self._layout = layout = _layout(compiled)
        self._one_pass = layout.one_pass
        self._fixed_calcs: list[_Instance] | None = None
        self._start()

    def _start(self) -> None:
        """The cleaned answers, before any calculation or visibility (settle() starts again from here)."""
        self.errors = []
        self.refused = set()
        self.values = self._clean(self._layout.top, self._answers, "")
        # When no calculation sits inside a group, the calculated instances are fixed: list them once
        # (the fixed-point loop walks them several times per evaluation).
        calcs = self._layout.calcs
        self._fixed_calcs = None if calcs is None else [_Instance(f, f["id"], self.values, None) for f in calcs]

    # -- helpers ---------------------------------------------------------------------------------------
    def _eval(self, ast: Any, scope: Mapping[str, Any] | None) -> Any:
        return evaluate(ast, self.values, item=scope, today=self.today)

    def _cond(self, ast: Any, scope: Mapping[str, Any] | None, on_error: bool) -> bool:
        try:
            return truthy(self._eval(ast, scope))
        except EvalError:
            return on_error

    def _error(self, inst: _Instance, code: str, params: Mapping[str, Any] | None = None) -> None:
        custom = inst.field.get("constraint_message") if code == "constraint" else None
        self.errors.append(
            FieldError(inst.path, inst.field["id"], code, _message(code, params or {}, custom))
        )

    def _clean(self, fields: list[dict[str, Any]], answers: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        known = _field_ids(fields)
        out: dict[str, Any] = {}
        for key in sorted(k for k in answers if k not in known):
            self.errors.append(FieldError(prefix + key, key, "unknown_field", _message("unknown_field", {})))
        for f in fields:
            fid = f["id"]
            if fid not in answers:
                continue
            value = answers[fid]
            kind = f.get("type")
            if _is_blank(value) or kind == "notice" or "calculate" in f:  # calculated: never an answer
                continue
            if self.resident and f.get("staff_only"):
                # Refused, not kept: the one rule for every filing path (server.filing answers it 422).
                self.refused.add(prefix + fid)
                self.errors.append(FieldError(prefix + fid, fid, "staff_only", _message("staff_only", {})))
                continue
            try:
                if kind == "group" and isinstance(value, list):
                    for item in value:  # refused before the items are cleaned, as form.js does
                        if not isinstance(item, Mapping):
                            _copy(item)
                    value = [
                        self._clean(f.get("fields", []), item, f"{prefix}{fid}[{i}].")
                        if isinstance(item, Mapping)
                        else _copy(item)
                        for i, item in enumerate(value)
                    ]
                else:
                    value = _copy(value)
            except _Refused as e:
                # Not kept: conditions and calculations see no answer, and validation skips the path.
                self.refused.add(prefix + fid)
                self.errors.append(FieldError(prefix + fid, fid, e.code, _message(e.code, {})))
                continue
            out[fid] = value
        return out

    def calculated(self) -> Iterator[_Instance]:
        """Every calculated field at every place (group fields once per item), in document order, lazily:
        a calculation may change what comes after it."""
        if self._fixed_calcs is not None:
            yield from self._fixed_calcs
            return
        for section in self.compiled.get("sections", []):
            yield from self._walk(section.get("fields", []), self.values, "", None)

    def _walk(
        self, fields: list[dict[str, Any]], container: dict[str, Any], prefix: str, scope: dict[str, Any] | None
    ) -> Iterator[_Instance]:
        # Lazy on purpose: items are read from ``container`` when reached, after earlier calculations ran.
        for f in _calc_fields(fields):
            path = prefix + f["id"]
            if "calculate" in f:
                yield _Instance(f, path, container, scope)
            if f.get("type") == "group":
                items = container.get(f["id"])
                if isinstance(items, list):
                    for i, item in enumerate(items):
                        if isinstance(item, dict):
                            inner = {**(scope or {}), **item}
                            yield from self._walk(f.get("fields", []), item, f"{path}[{i}].", inner)

    # -- calculations -----------------------------------------------------------------------------------
    def calculate(self) -> bool:
        """Run calculations to a fixed point (at most one round per calculated instance, plus one);
        True when it was reached."""
        calcs = sum(1 for _ in self.calculated())
        for _ in range(calcs + 1):
            changed = False
            for inst in self.calculated():
                if inst.path in self.hidden:
                    continue
                try:
                    value = self._eval(inst.field["calculate"], self._scope_of(inst))
                except EvalError:
                    value = None
                fid = inst.field["id"]
                old = inst.container.get(fid)
                if _is_blank(value):
                    if fid in inst.container:
                        del inst.container[fid]
                        changed = True
                elif old is None or not deep_equal(old, value):
                    inst.container[fid] = value
                    changed = True
            if not changed or self._one_pass:
                return True  # one_pass: a second round would compute the same values from the same inputs
        return False

    def _scope_of(self, inst: _Instance) -> dict[str, Any] | None:
        # The item scope must reflect the item's current values (calculations update them).
        if inst.scope is None:
            return None
        return {**inst.scope, **inst.container}

    # -- visibility -------------------------------------------------------------------------------------
    def visibility(self) -> list[str]:
        shown: list[str] = []
        for section in self.compiled.get("sections", []):
            visible = "show_if" not in section or self._cond(section["show_if"], None, True)
            self._visit(section.get("fields", []), self.values, "", None, visible, shown)
        return shown

    def _visit(
        self,
        fields: list[dict[str, Any]],
        container: dict[str, Any],
        prefix: str,
        scope: dict[str, Any] | None,
        visible: bool,
        shown: list[str],
    ) -> None:
        for f in fields:
            path = prefix + f["id"]
            if self.resident and f.get("staff_only"):
                here = False  # a resident filer never sees it (and a resident's answer was refused)
            elif visible and "show_if" in f:
                item_scope = None if scope is None else {**scope, **container}
                here = self._cond(f["show_if"], item_scope, True)
            else:
                here = visible
            if here:
                shown.append(path)
            else:
                self.hidden.add(path)
                if f["id"] in container:
                    del container[f["id"]]
                    self.dropped = self.dropped or f["id"] in self._layout.read
            if f.get("type") == "group" and here:
                items = container.get(f["id"])
                if isinstance(items, list):
                    for i, item in enumerate(items):
                        if isinstance(item, dict):
                            inner = {**(scope or {}), **item}
                            self._visit(f.get("fields", []), item, f"{path}[{i}].", inner, True, shown)

    def settle(self) -> list[str]:
        """Visibility and calculations at their fixed point; the fields shown.

        A pass of visibility removes hidden values in document order, but a condition may have read a value,
        or a calculation made from a value, that a later condition (or a calculation it feeds) hides. So start
        again from the answers without every value hidden in the last pass, recalculate, and see again, until
        the hidden set no longer changes: then no condition and no calculation has read a hidden value. At most
        one round per condition, plus one; conditions that contradict each other end with the last round.
        """
        shown: list[str] = []
        for _ in range(self._layout.conditions + 1):
            hidden = self.hidden
            self._start()
            for section in self.compiled.get("sections", []):
                self._prune(section.get("fields", []), self.values, "", hidden)
            self.hidden = set(hidden)  # hidden calculations are not made
            self.calculate()
            self.hidden, self.dropped = set(), False
            shown = self.visibility()
            if self.hidden == hidden:
                return shown
        self.calculate()  # no stable state: at least the values agree with the last visibility
        return shown

    def _prune(self, fields: list[dict[str, Any]], container: dict[str, Any], prefix: str, hidden: set[str]) -> None:
        for f in fields:
            path = prefix + f["id"]
            if path in hidden:
                container.pop(f["id"], None)
            elif f.get("type") == "group":
                items = container.get(f["id"])
                if isinstance(items, list):
                    for i, item in enumerate(items):
                        if isinstance(item, dict):
                            self._prune(f.get("fields", []), item, f"{path}[{i}].", hidden)

    # -- validation -------------------------------------------------------------------------------------
    def validate(self, shown: set[str]) -> None:
        """Check every shown field at every place (group fields once per item), in document order."""
        self.required = []
        for section in self.compiled.get("sections", []):
            self._validate_in(section.get("fields", []), self.values, "", None, shown)

    def _validate_in(self, fields: list[dict[str, Any]], container: dict[str, Any], prefix: str,
                     scope: dict[str, Any] | None, shown: set[str]) -> None:
        for f in fields:
            path = prefix + f["id"]
            kind = f.get("type")
            if path in shown and "calculate" not in f and kind != "notice" and path not in self.refused:
                self._validate(_Instance(f, path, container, scope), _linked_postal(fields, f, prefix, shown),
                               _linked_address(fields, f, prefix, shown))
            if kind == "group":
                items = container.get(f["id"])
                if isinstance(items, list):
                    for i, item in enumerate(items):
                        if isinstance(item, dict):
                            self._validate_in(f.get("fields", []), item, f"{path}[{i}].", {**(scope or {}), **item},
                                              shown)

    def _required(self, f: Mapping[str, Any], scope: Mapping[str, Any] | None) -> bool:
        return bool(f.get("required")) or ("required_if" in f and self._cond(f["required_if"], scope, False))

    def _validate(self, inst: _Instance, postal: bool, address: Mapping[str, Any] | None) -> None:
        """``postal``: a shown postal_code field linked to this address carries its postal code (the address
        neither asks for it nor counts it as an answer). ``address``: the shown address this postal code field
        is linked to: a required japan_only one makes the code required too, as the marker says, and the code
        it holds (the PWA keeps both in step; an API client may send it there only) answers this field."""
        f = inst.field
        value = inst.container.get(f["id"])
        scope = None if inst.scope is None else self._scope_of(inst)
        required = self._required(f, scope) or (
            address is not None and address.get("japan_only", True) and self._required(address, scope))
        if address is not None and _is_blank(value):
            held = inst.container.get(address["id"])
            value = held.get("postal_code") if isinstance(held, dict) else None
        if required:
            self.required.append(inst.path)
        if postal and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "postal_code"}
        if value is None or _is_empty(value):
            if required:
                self._error(inst, "required")
            return
        self.current_scope = scope
        check = _CHECKS.get(f.get("type", "text"), _check_text)
        problem = check(self, {**f, "japan_only": False} if postal else f, value)
        if problem is not None:
            self._error(inst, problem[0], problem[1])
            return
        if "constraint" in f and not self._cond(f["constraint"], scope, False):
            self._error(inst, "constraint")

    def offered(self, f: Mapping[str, Any], scope: Mapping[str, Any] | None) -> list[str]:
        """The values offered to pick from (read only: without a filter, one shared list per field)."""
        choices = f.get("choices", [])
        if "choice_filter" not in f:
            return _choice_values(choices)
        try:
            fv = self._eval(f["choice_filter"], scope)
        except EvalError:
            fv = None
        return [
            c["value"]
            for c in choices
            if "filter" not in c or c["filter"] == fv or (isinstance(fv, list) and c["filter"] in fv)
        ]


Problem = tuple[str, dict[str, Any]] | None


def is_number(v: Any) -> bool:
    """A JSON number (a bool is not one, though Python counts it as an int)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def _len(s: str) -> int:
    return len(s)  # code points, like expr len()


def _check_text(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if not isinstance(v, str):
        return "type", {}
    if f.get("min_length") is not None and _len(v) < f["min_length"]:
        return "min_length", {"min_length": f["min_length"]}
    if f.get("max_length") is not None and _len(v) > f["max_length"]:
        return "max_length", {"max_length": f["max_length"]}
    return None


def _check_number(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if not is_number(v) or not math.isfinite(v):
        return "type", {}
    if f.get("min") is not None and v < f["min"]:
        return "min", {"min": f["min"]}
    if f.get("max") is not None and v > f["max"]:
        return "max", {"max": f["max"]}
    step = f.get("step")
    if step:
        q = (v - (f.get("min") or 0)) / step
        if abs(q - round(q)) > 1e-9:
            return "step", {"step": step}
    return None


def _check_yesno(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    return None if isinstance(v, bool) else ("type", {})


def _check_choice(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if not isinstance(v, str):
        return "type", {}
    return None if v in form.offered(f, form.current_scope) else ("choice", {})


def _check_multichoice(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return "type", {}
    offered = form.offered(f, form.current_scope)
    if any(x not in offered for x in v):
        return "choice", {}
    if f.get("min_selected") is not None and len(v) < f["min_selected"]:
        return "min_selected", {"min_selected": f["min_selected"]}
    if f.get("max_selected") is not None and len(v) > f["max_selected"]:
        return "max_selected", {"max_selected": f["max_selected"]}
    return None


def _date_parts(v: Any) -> tuple[int, int | None, int | None] | None:
    try:
        return parse_date(v, "date") if isinstance(v, str) else None
    except EvalError:
        return None


def _check_date(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    parts = _date_parts(v)
    if parts is None or parts[2] is None:
        return "date", {}
    if f.get("min") and v < f["min"]:
        return "min", {"min": f["min"]}
    if f.get("max") and v > f["max"]:
        return "max", {"max": f["max"]}
    return None


def _check_wareki(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    parts = _date_parts(v)
    if parts is None or (parts[2] is None and not f.get("allow_partial")):
        return "wareki", {}
    return None


def _string_check(code: str, ok: Callable[[str], bool]) -> Callable[[_Form, Mapping[str, Any], Any], Problem]:
    def check(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
        if not isinstance(v, str):
            return "type", {}
        return None if ok(v) else (code, {})

    return check


_MOBILE = ("070", "080", "090")


def _check_phone(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if not isinstance(v, str):
        return "type", {}
    if not japan.is_valid_phone(v) or (f.get("mobile_only") and not japan.phone_digits(v).startswith(_MOBILE)):
        return "phone", {}
    return None


def _parts_ok(v: Any, ok: Callable[[str], bool]) -> bool | None:
    """None: not a {family, given} object; else whether both parts pass ``ok``."""
    if not isinstance(v, dict) or not all(isinstance(v.get(k), str) for k in ("family", "given")):
        return None
    return ok(v["family"]) and ok(v["given"])


def _check_name(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if f.get("single_part"):
        if not isinstance(v, str):
            return "type", {}
        return None if bad_name_char(v) is None else ("bad_text", {})
    parts = _parts_ok(v, lambda s: s != "")
    if parts is None:
        return "type", {}
    # The rule of every name (procedure_definitions.names): a bidi override prints the name reordered.
    if bad_name_char(v["family"] + v["given"]) is not None:
        return "bad_text", {}
    # Half a name is not "required" (an optional name must never say so): it asks for the other half.
    return None if parts else ("name_parts", {})


def _check_kana(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if not f.get("split"):
        if not isinstance(v, str):
            return "type", {}
        return None if japan.is_katakana(v) else ("kana", {})
    parts = _parts_ok(v, japan.is_katakana)
    if parts is None:
        return "type", {}
    return None if parts else ("kana", {})


def _check_address(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if not isinstance(v, dict) or not all(isinstance(x, str) or x is None for x in v.values()):
        return "type", {}
    if any(not v.get(k) for k in _ADDRESS_PARTS):
        return "address", {}
    code = v.get("postal_code")
    if (f.get("japan_only", True) or code) and not (isinstance(code, str) and _POSTAL.fullmatch(code)):
        return "address", {}
    return None


def _accepts(accept: list[str], mime: str) -> bool:
    return any(a == mime or (a.endswith("/*") and mime.startswith(a[:-1])) for a in accept)


def _check_attachment(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if not isinstance(v, list):
        return "type", {}
    for a in v:
        if not (
            isinstance(a, dict)
            and isinstance(a.get("sha256"), str)
            and is_sha256(a["sha256"])
            and isinstance(a.get("name"), str)
            and is_number(a.get("size"))
            and a["size"] >= 0
            and isinstance(a.get("type"), str)
        ):
            return "type", {}
    if len(v) > f.get("max_files", 1):
        return "max_items", {"max": f.get("max_files", 1)}
    for a in v:
        if not _accepts(f.get("accept", []), a["type"]):
            return "attachment_type", {}
        if a["size"] > f.get("max_size_mb", 10) * 1024 * 1024:
            return "attachment_size", {"max_size_mb": f.get("max_size_mb", 10)}
    return None


def _check_group(form: _Form, f: Mapping[str, Any], v: Any) -> Problem:
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        return "type", {}
    if f.get("min") is not None and len(v) < f["min"]:
        return "min_items", {"min": f["min"]}
    if f.get("max") is not None and len(v) > f["max"]:
        return "max_items", {"max": f["max"]}
    return None


_CHECKS: dict[str, Callable[[_Form, Mapping[str, Any], Any], Problem]] = {
    "text": _check_text,
    "longtext": _check_text,
    "number": _check_number,
    "yesno": _check_yesno,
    "choice": _check_choice,
    "multichoice": _check_multichoice,
    "date": _check_date,
    "wareki": _check_wareki,
    "email": _string_check("email", lambda s: _EMAIL.fullmatch(s) is not None),
    "phone": _check_phone,
    "name": _check_name,
    "kana": _check_kana,
    "postal_code": _string_check("postal_code", lambda s: _POSTAL.fullmatch(s) is not None),
    "address": _check_address,
    "my_number": _string_check("my_number", japan.is_valid_my_number),
    "corporate_number": _string_check("corporate_number", japan.is_valid_corporate_number),
    "attachment": _check_attachment,
    "group": _check_group,
    "person": _check_text,  # a member_id; max_length written by compile (PERSON_ID_MAX_LENGTH)
}


def _linked_postal(fields: list[dict[str, Any]], f: Mapping[str, Any], prefix: str, shown: set[str]) -> bool:
    """Whether an address field has a shown postal_code field beside it (same container) linked to it."""
    return f.get("type") == "address" and any(
        g.get("type") == "postal_code" and g.get("address_field") == f["id"] and prefix + g["id"] in shown
        for g in fields)


def _linked_address(fields: list[dict[str, Any]], f: Mapping[str, Any], prefix: str,
                    shown: set[str]) -> Mapping[str, Any] | None:
    """The shown address field beside a postal_code field that is linked to it."""
    target = f.get("address_field") if f.get("type") == "postal_code" else None
    if target is None or prefix + target not in shown:
        return None
    for g in fields:
        if g["id"] == target and g.get("type") == "address":
            return g
    return None


def evaluate_form(
    compiled: Mapping[str, Any], answers: Mapping[str, Any], *, today: str | None = None, filer: str = "resident"
) -> FormState:
    """Evaluate a compiled procedure against answers, for a resident filer or for staff (``filer``: who may
    see, owe and give staff_only fields). Never raises on bad answers."""
    form = _Form(compiled, answers, today, filer)
    settled = form.calculate()
    shown = form.visibility()
    # Hiding a field drops its value, which conditions and calculations may have read. When no value they read
    # was dropped and the calculations settled, every condition read final values: the fixed point is reached
    # (the server validates every submission: the common case costs one pass).
    if form.dropped or not settled:
        shown = form.settle()
    form.validate(set(shown))
    return FormState(shown=shown, values=form.values, errors=form.errors, valid=not form.errors,
                     required=form.required)


_COMPILED: dict[tuple[str, str], tuple[Procedure, dict[str, Any]]] = {}


def _compiled(proc: Procedure) -> dict[str, Any]:
    # Keyed by (id, version) and checked by identity: a published version is one object for the server's
    # life, while a draft pushed again (same id and version, new text) is a new object and compiles again.
    key = (proc.id, proc.version)
    cached = _COMPILED.get(key)
    if cached is None or cached[0] is not proc:
        cached = _COMPILED[key] = (proc, compile_procedure(proc))
    return cached[1]


def evaluate_procedure(proc: Procedure, answers: Mapping[str, Any], *, today: str | None = None,
                       filer: str = "resident") -> FormState:
    return evaluate_form(_compiled(proc), answers, today=today, filer=filer)


def required_documents(proc: Procedure, values: Mapping[str, Any], *, today: str | None = None) -> list[str]:
    """The ids of the documents (持ち物) ``proc`` requires with these answers, in definition order: those
    without ``required_if`` and those whose ``required_if`` holds (an expression that cannot be evaluated does
    not require: pwa/js/lifeevent.js ``documentsFor``, the resident's review, decides the same way)."""
    out = []
    for doc in _compiled(proc).get("documents", []):
        cond = doc.get("required_if")
        if cond is not None:
            try:
                if not truthy(evaluate(cond, values, today=today)):
                    continue
            except EvalError:
                continue
        out.append(str(doc["id"]))
    return out


def _without_staff_only(fields: list[dict[str, Any]], answers: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by_id = {f["id"]: f for f in fields}
    for key, value in answers.items():
        f = by_id.get(key)
        if f is not None and f.get("staff_only"):
            continue
        if f is not None and f.get("type") == "group" and isinstance(value, list):
            value = [_without_staff_only(f.get("fields", []), x) if isinstance(x, Mapping) else x for x in value]
        out[key] = value
    return out


def staff_only_ids(proc: Procedure) -> frozenset[str]:
    """The ids of the fields filled at the counter only (their own flag or their section's; groups' too)."""
    return frozenset(f["id"] for s in _compiled(proc).get("sections", []) for f in _all_fields(s.get("fields", []))
                     if f.get("staff_only"))


def for_resident(proc: Procedure, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers as a resident may read them: without the values of staff_only fields (filled at the
    counter, in a staff-only section or field, in groups too). Other keys are kept as stored."""
    return _without_staff_only([f for s in _compiled(proc).get("sections", []) for f in s.get("fields", [])],
                               answers)


def validate_answers(
    proc: Procedure, answers: Mapping[str, Any], *, today: str | None = None, filer: str = "resident"
) -> list[FieldError]:
    """The server's check of submitted answers: the errors of evaluate_procedure."""
    return evaluate_procedure(proc, answers, today=today, filer=filer).errors
