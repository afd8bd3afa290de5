"""Build a procedure definition field by field from Python, for configurators who dislike YAML indentation.

::

    p = Procedure("kodomo-iryo", "0.1.0", title="子ども医療費助成の申請", department="子育て支援課",
                  department_id="kosodate")
    s = p.section("child", "お子さん")
    s.name("child_name", label={"ja": "お子さんの氏名", "en": "Child's name"}, required=True)
    s.choice("school", label="学年", choices=[("pre", "未就学"), ("elem", "小学生")], required=True)
    p.rule("school", show_if="...")
    p.scenario("最短", {"child_name": {...}}, valid=True)
    print(p.to_yaml())

Every call produces the same plain data the YAML loader reads (``procedure_definitions.loader``), so
:meth:`Procedure.to_yaml` loads to exactly the model of the equivalent hand-written YAML and ``madoguchi check``
checks it like any file. The builder checks the arguments of each call at once (unknown keyword for the field
type, a label without Japanese, a duplicate id, a value of the wrong type) and raises :class:`BuilderError`
naming the call; the meaning (expressions, prefill attributes, ...) is the checker's: :meth:`Procedure.check`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from .errors import did_you_mean
from .loader import LoadResult, load_text
from .model import FIELD_TYPES, Choice, Department, Document, Fee, Party, Scenario, ScenarioExpect, Section
from .model import Procedure as ProcedureModel
from .shape import DEF_ID_RE, ID_RE
from .yamlpos import dump_yaml

__all__ = ["BuilderError", "Container", "Group", "Label", "Procedure", "SectionBuilder"]

Label = str | Mapping[str, str]
"""A localized text: a plain string (Japanese) or ``{"ja": ..., "en": ..., "ja-easy": ...}``."""

_LANGS = ("ja", "en", "ja-easy")
# Keys of a field that hold a localized text: the builder takes a str or a mapping for each.
_TEXT_KEYS = frozenset({"hint", "help", "constraint_message", "placeholder", "unit", "item_label", "text"})
# Python-friendly spellings of the two field types whose YAML names read oddly as method names.
_ALIASES = {"boolean": "yesno", "multi_choice": "multichoice"}


class BuilderError(ValueError):
    """A builder call got arguments no definition can hold; the message names the call."""


def _call(name: str, *args: object) -> str:
    return f"{name}({', '.join(repr(a) for a in args)})"


def _text(value: object, call: str, key: str) -> str | dict[str, str]:
    """A label as the YAML holds it: the plain string shorthand, or a mapping in the order ja, en, ja-easy."""
    if isinstance(value, str):
        if not value.strip():
            raise BuilderError(f"{call}: {key} must not be empty")
        return value
    if isinstance(value, Mapping):
        texts = {("ja-easy" if k == "ja_easy" else k): v for k, v in value.items()}
        unknown = [k for k in texts if k not in _LANGS]
        if unknown:
            raise BuilderError(f"{call}: {key} has unknown language {unknown[0]!r}{did_you_mean(str(unknown[0]), _LANGS)}"
                               f"; use ja, en and ja-easy")
        if not isinstance(texts.get("ja"), str) or not texts["ja"].strip():
            raise BuilderError(f"{call}: {key} needs a Japanese text ('ja')")
        bad = [k for k, v in texts.items() if not isinstance(v, str)]
        if bad:
            raise BuilderError(f"{call}: {key}[{bad[0]!r}] must be a string")
        if set(texts) == {"ja"}:
            return texts["ja"]
        return {k: texts[k] for k in _LANGS if k in texts}
    raise BuilderError(f"{call}: {key} must be a string or a mapping {{ja, en, ja-easy}}, not {type(value).__name__}")


def _full(text: Any) -> Any:
    return {"ja": text} if isinstance(text, str) else text


def _validate(data: dict[str, Any], struct: type, call: str, text_keys: frozenset[str]) -> None:
    """Check one built mapping against its model Struct (types, enumerations), texts expanded."""
    expanded: dict[str, Any] = {k: (_full(v) if k in text_keys else v) for k, v in data.items()}
    if "choices" in expanded:
        expanded["choices"] = [{**c, "label": _full(c["label"])} for c in expanded["choices"]]
    try:
        msgspec.convert(expanded, struct, str_keys=True)
    except msgspec.ValidationError as e:
        raise BuilderError(f"{call}: {e}") from None


def _choices(value: object, call: str) -> list[dict[str, Any]]:
    """Choices as ``[(value, label)]``, ``[{"value", "label", "filter"?}]`` or ``{value: label}``."""
    items: list[Any]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = list(value)
    else:
        raise BuilderError(f"{call}: choices must be a list of (value, label) pairs or a mapping value -> label")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"{call}: choices[{i}]"
        if isinstance(item, Mapping):
            extra = set(item) - {"value", "label", "filter"}
            if extra or "value" not in item or "label" not in item:
                raise BuilderError(f"{where} must have value and label (and optionally filter), not {sorted(item)}")
            choice = {"value": item["value"], "label": item["label"], **({"filter": item["filter"]} if "filter" in item else {})}
        elif isinstance(item, tuple) and len(item) in (2, 3):
            choice = {"value": item[0], "label": item[1], **({"filter": item[2]} if len(item) == 3 else {})}
        else:
            raise BuilderError(f"{where} must be a (value, label) pair, not {item!r}")
        if not isinstance(choice["value"], str) or not choice["value"]:
            raise BuilderError(f"{where}: the value must be a non-empty string (write \"yes\", not yes)")
        if choice["value"] in seen:
            raise BuilderError(f"{where}: value {choice['value']!r} is given twice")
        seen.add(choice["value"])
        choice["label"] = _text(choice["label"], where, "label")
        _validate(choice, Choice, where, frozenset({"label"}))
        out.append(choice)
    return out


class Container:
    """Something fields are added to: a section or a group. One method per field type of model.py."""

    def __init__(self, owner: Procedure, fields: list[dict[str, Any]]) -> None:
        self._owner = owner
        self._fields = fields

    def __repr__(self) -> str:  # what a notebook shows after a call: the fields so far, never an address
        kind = "group" if isinstance(self, Group) else "section"
        return f"<{kind}: {', '.join(f['id'] for f in self._fields) or 'no fields yet'}>"

    def field(self, type: str, id: str, label: Label | None = None, **kw: Any) -> Container:
        """Add a field of any ``type`` (the YAML name: text, choice, group, ...); returns this container."""
        self._add(type, id, label, kw)
        return self

    def _add(self, type: str, id: str, label: Label | None, kw: dict[str, Any]) -> dict[str, Any]:
        ftype = _ALIASES.get(type, type)
        call = f"{_call(type, id)}" if type in _ALIASES or type in FIELD_TYPES else _call("field", type, id)
        struct = FIELD_TYPES.get(ftype)
        if struct is None:
            raise BuilderError(f"{call}: unknown field type {type!r}{did_you_mean(type, FIELD_TYPES)}")
        if not isinstance(id, str) or not ID_RE.fullmatch(id):
            raise BuilderError(f"{call}: invalid id {id!r}: use snake_case (lowercase letters, digits and '_', "
                               "starting with a letter)")
        if label is None:
            raise BuilderError(f"{call}: label is required (a string, or {{ja, en, ja-easy}})")
        allowed = [f for f in struct.__struct_fields__ if f not in ("id", "label", "type")]
        if ftype == "group":
            allowed.remove("fields")  # a group's fields are added to the Group it returns
        for key in kw:
            if key not in allowed:
                raise BuilderError(f"{call}: unknown keyword {key!r} for a {ftype} field"
                                   f"{did_you_mean(key, allowed)}")
        data: dict[str, Any] = {"id": id, "type": ftype, "label": _text(label, call, "label")}
        for key, value in kw.items():
            if value is None:
                continue
            if key in _TEXT_KEYS:
                value = _text(value, call, key)
            elif key == "choices":
                value = _choices(value, call)
            data[key] = value
        if ftype == "group":
            data["fields"] = []
        _validate({k: v for k, v in data.items() if k != "type"}, struct, call, _TEXT_KEYS | {"label"})
        self._owner._claim(id, call)  # last: a refused call leaves the id free for the corrected one
        self._fields.append(data)
        return data

    # One method per field type: the names of model.py (and docs/procedure-format.md), keyword arguments
    # the keys of that type. Each returns the container, so calls can be chained.
    def text(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("text", id, label, **kw)

    def longtext(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("longtext", id, label, **kw)

    def number(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("number", id, label, **kw)

    def yesno(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("yesno", id, label, **kw)

    def boolean(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        """A yes/no question (``type: yesno``)."""
        return self.field("boolean", id, label, **kw)

    def choice(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("choice", id, label, **kw)

    def multichoice(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("multichoice", id, label, **kw)

    def multi_choice(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        """Several choices (``type: multichoice``)."""
        return self.field("multi_choice", id, label, **kw)

    def date(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("date", id, label, **kw)

    def wareki(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("wareki", id, label, **kw)

    def email(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("email", id, label, **kw)

    def phone(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("phone", id, label, **kw)

    def name(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("name", id, label, **kw)

    def kana(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("kana", id, label, **kw)

    def postal_code(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("postal_code", id, label, **kw)

    def address(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("address", id, label, **kw)

    def my_number(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("my_number", id, label, **kw)

    def corporate_number(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("corporate_number", id, label, **kw)

    def attachment(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("attachment", id, label, **kw)

    def person(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("person", id, label, **kw)

    def notice(self, id: str, label: Label | None = None, **kw: Any) -> Container:
        return self.field("notice", id, label, **kw)

    def group(self, id: str, label: Label | None = None, **kw: Any) -> Group:
        """A repeat group: returns the :class:`Group`, to which its item fields are added."""
        data = self._add("group", id, label, kw)
        return Group(self._owner, data["fields"])


class Group(Container):
    """The item fields of a repeat group (``s.group(...)`` returns one)."""


class SectionBuilder(Container):
    """A page of the form (``p.section(...)`` returns one)."""


class Procedure:
    """A procedure under construction; :meth:`to_yaml` gives its YAML definition."""

    def __init__(self, id: str, version: str, *, title: Label, department: Label | Mapping[str, Any],
                 department_id: str | None = None, **kw: Any) -> None:
        call = _call("Procedure", id, version)
        if not isinstance(id, str) or not DEF_ID_RE.fullmatch(id):
            raise BuilderError(f"{call}: invalid id {id!r}: use lowercase letters, digits and '-', starting with a letter")
        if isinstance(department, Mapping) and "name" in department:
            dept = {"id": department.get("id", department_id), "name": _text(department["name"], call, "department")}
        else:
            dept = {"id": department_id, "name": _text(department, call, "department")}
        if not isinstance(dept["id"], str) or not ID_RE.fullmatch(dept["id"]):
            raise BuilderError(f"{call}: department needs an id: department_id='shimin' (snake_case), "
                               f"not {dept['id']!r}")
        self._data: dict[str, Any] = {"kind": "procedure", "id": id, "version": version,
                                      "title": _text(title, call, "title"), "department": dept}
        allowed = ("description", "filers", "legal_basis", "deadline", "keywords", "signature", "counter_minutes")
        for key, value in kw.items():
            if key not in allowed:
                raise BuilderError(f"{call}: unknown keyword {key!r}{did_you_mean(key, allowed)} "
                                   "(sections, documents, fee, parties and scenarios have their own methods)")
            if value is not None:
                self._data[key] = _text(value, call, key) if key in ("description", "deadline") else value
        self._data["sections"] = []
        self._ids: dict[str, str] = {}  # field id -> the call that added it
        _validate(dept, Department, call, frozenset({"name"}))
        head = {k: v for k, v in self._data.items() if k not in ("kind", "department")}
        head["department"] = {"id": dept["id"], "name": _full(dept["name"])}
        _validate(head, ProcedureModel, call, frozenset({"title", "description", "deadline"}))

    def __repr__(self) -> str:
        d = self._data
        return (f"<Procedure {d['id']} {d['version']}: {len(d['sections'])} sections, {len(self._ids)} fields, "
                f"{len(d.get('scenarios', []))} scenarios>")

    # ----------------------------------------------------------------------------------------- parts

    def _claim(self, field_id: str, call: str) -> None:
        if field_id in self._ids:
            raise BuilderError(f"{call}: field id {field_id!r} is already used by {self._ids[field_id]} "
                               "(ids are unique in the whole procedure, groups included)")
        self._ids[field_id] = call

    def section(self, id: str, title: Label | None = None, **kw: Any) -> SectionBuilder:
        """Add a page of the form; returns it, to add fields to (``s.text(...)``)."""
        call = _call("section", id)
        if not isinstance(id, str) or not ID_RE.fullmatch(id):
            raise BuilderError(f"{call}: invalid id {id!r}: use snake_case (lowercase letters, digits and '_')")
        if any(s["id"] == id for s in self._data["sections"]):
            raise BuilderError(f"{call}: section {id!r} is already defined")
        if title is None:
            raise BuilderError(f"{call}: title is required (a string, or {{ja, en, ja-easy}})")
        allowed = ("help", "show_if", "party", "staff_only")
        data: dict[str, Any] = {"id": id, "title": _text(title, call, "title")}
        for key, value in kw.items():
            if key not in allowed:
                raise BuilderError(f"{call}: unknown keyword {key!r}{did_you_mean(key, allowed)}")
            if value is not None:
                data[key] = _text(value, call, key) if key == "help" else value
        data["fields"] = []
        _validate(data, Section, call, frozenset({"title", "help"}))
        self._data["sections"].append(data)
        return SectionBuilder(self, data["fields"])

    def document(self, id: str, label: Label, *, required_if: str | None = None, note: Label | None = None) -> Procedure:
        """Something to bring or attach (持ち物)."""
        call = _call("document", id)
        data: dict[str, Any] = {"id": id, "label": _text(label, call, "label")}
        if required_if is not None:
            data["required_if"] = required_if
        if note is not None:
            data["note"] = _text(note, call, "note")
        _validate(data, Document, call, frozenset({"label", "note"}))
        self._data.setdefault("documents", []).append(data)
        return self

    def fee(self, amount: int, *, per: Label | None = None, quantity_field: str | None = None,
            note: Label | None = None) -> Procedure:
        call = _call("fee", amount)
        data: dict[str, Any] = {"amount": amount}
        if per is not None:
            data["per"] = _text(per, call, "per")
        if quantity_field is not None:
            data["quantity_field"] = quantity_field
        if note is not None:
            data["note"] = _text(note, call, "note")
        _validate(data, Fee, call, frozenset({"per", "note"}))
        self._data["fee"] = data
        return self

    def party(self, id: str, label: Label, *, help: Label | None = None) -> Procedure:
        """Another resident who confirms their own sections (``section(..., party=id)``)."""
        call = _call("party", id)
        data: dict[str, Any] = {"id": id, "label": _text(label, call, "label")}
        if help is not None:
            data["help"] = _text(help, call, "help")
        _validate(data, Party, call, frozenset({"label", "help"}))
        self._data.setdefault("parties", []).append(data)
        return self

    def rule(self, field_id: str, *, show_if: str | None = None, required_if: str | None = None,
             constraint: str | None = None, message: Label | None = None, calculate: str | None = None,
             choice_filter: str | None = None) -> Procedure:
        """Attach conditions to a field already added: when it is shown or required, the check its value must
        pass (``constraint``) with the ``message`` that says what to do when it fails, or a calculation."""
        call = _call("rule", field_id)
        target = self._find(field_id)
        if target is None:
            raise BuilderError(f"{call}: no field {field_id!r} has been added{did_you_mean(field_id, self._ids)}")
        given = {"show_if": show_if, "required_if": required_if, "constraint": constraint,
                 "calculate": calculate, "choice_filter": choice_filter}
        if not any(v is not None for v in given.values()) and message is None:
            raise BuilderError(f"{call}: say at least one of show_if, required_if, constraint (with message), "
                               "calculate, choice_filter")
        if message is not None and constraint is None and "constraint" not in target:
            raise BuilderError(f"{call}: message is the constraint's message: give constraint too")
        if choice_filter is not None and target["type"] not in ("choice", "multichoice"):
            raise BuilderError(f"{call}: choice_filter is for choice fields; {field_id!r} is {target['type']}")
        for key, value in given.items():
            if value is not None:
                if not isinstance(value, str) or not value.strip():
                    raise BuilderError(f"{call}: {key} must be an expression (a non-empty string)")
                target[key] = value
        if message is not None:
            target["constraint_message"] = _text(message, call, "message")
        return self

    def scenario(self, name: str, answers: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None,
                 valid: bool | None = None, errors: Sequence[str] | None = None, shown: Sequence[str] | None = None,
                 hidden: Sequence[str] | None = None, values: Mapping[str, Any] | None = None,
                 today: str | None = None, profile: Mapping[str, Any] | None = None,
                 filer: str | None = None) -> Procedure:
        """An example the checker runs on every ``madoguchi check``: answers and what must follow."""
        call = _call("scenario", name)
        exp: dict[str, Any] = dict(expect or {})
        if valid is not None:
            exp["valid"] = valid
        for key, ids in (("errors", errors), ("shown", shown), ("hidden", hidden)):
            if ids is not None:
                exp[key] = [ids] if isinstance(ids, str) else list(ids)
        if values is not None:
            exp["values"] = dict(values)
        if not exp:
            raise BuilderError(f"{call}: say what to expect (valid=, errors=, shown=, hidden= or values=)")
        if any(s["name"] == name for s in self._data.get("scenarios", [])):
            raise BuilderError(f"{call}: a scenario of that name is already defined")
        data: dict[str, Any] = {"name": name, "answers": dict(answers)}
        if today is not None:
            data["today"] = today
        if profile is not None:
            data["profile"] = dict(profile)
        if filer is not None:
            data["filer"] = filer
        data["expect"] = exp
        _validate(exp, ScenarioExpect, call, frozenset())
        _validate(data, Scenario, call, frozenset())
        self._data.setdefault("scenarios", []).append(data)
        return self

    def _find(self, field_id: str) -> dict[str, Any] | None:
        def walk(fields: list[dict[str, Any]]) -> dict[str, Any] | None:
            for f in fields:
                if f["id"] == field_id:
                    return f
                found = walk(f.get("fields", [])) if f["type"] == "group" else None
                if found is not None:
                    return found
            return None

        for s in self._data["sections"]:
            hit = walk(s["fields"])
            if hit is not None:
                return hit
        return None

    # ---------------------------------------------------------------------------------------- output

    def to_dict(self) -> dict[str, Any]:
        """The definition as plain data (a deep copy): exactly what the YAML holds."""
        copy: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self._data))
        return copy

    def to_yaml(self) -> str:
        """The YAML definition: keys in the order given, Japanese kept as written."""

        if not self._data["sections"]:
            raise BuilderError(f"{_call('to_yaml')}: add at least one section (p.section(...))")
        return dump_yaml(self.to_dict())

    def check(self, path: str | None = None) -> LoadResult:
        """Load :meth:`to_yaml` as ``madoguchi check`` does: the model and every problem, located in the YAML."""
        return load_text(self.to_yaml(), path or f"{self._data['id']}.yaml")

    def model(self) -> ProcedureModel:
        """The loaded model; raises BuilderError listing every error the checker finds."""
        res = self.check()
        errors = [p.format() for p in res.problems if p.severity == "error"]
        if errors or res.definition is None:
            raise BuilderError("the definition has errors:\n" + "\n".join(errors))
        assert isinstance(res.definition, ProcedureModel)
        return res.definition

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_yaml` to ``path`` (UTF-8) and return it."""
        out = Path(path)
        out.write_text(self.to_yaml(), encoding="utf-8")
        return out

