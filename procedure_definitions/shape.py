"""Check a plain YAML value against the msgspec model and report *every* shape problem.

msgspec stops at the first error; configurators need them all at once, each with a position and a
"did you mean". This walker reads the model's type information (``msgspec.inspect``), so the Structs stay
the single description of the format. It also expands the ``label: text`` shorthand in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import msgspec
import msgspec.inspect as mi

from .errors import Problem, did_you_mean, problem
from .expressions.parser import MAX_SAFE_INTEGER
from .versions import is_valid
from .yamlpos import KeyPath, Located

__all__ = ["check_shape"]

# Used with fullmatch: "$" alone would let a trailing newline through.
ID_RE = re.compile(r"[a-z][a-z0-9_]*")  # a field, section, choice or department id (PD106)
DEF_ID_RE = re.compile(r"[a-z][a-z0-9-]*")  # a procedure or life event id


@cache
def _info(tp: Any) -> mi.Type:
    return mi.type_info(tp)


def _kind_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean (yes/no/true/false)"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _number_text(value: float) -> str:
    if isinstance(value, int) and value.bit_length() > 96:  # repr() of a huge int is slow (and limited)
        return f"a whole number of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)


def _expected(t: mi.Type) -> str:
    if isinstance(t, mi.StrType):
        return "a string"
    if isinstance(t, mi.IntType):
        return "a whole number"
    if isinstance(t, mi.FloatType):
        return "a number"
    if isinstance(t, mi.BoolType):
        return "true or false"
    if isinstance(t, mi.ListType):
        return "a list"
    if isinstance(t, mi.DictType | mi.StructType):
        return "a mapping"
    if isinstance(t, mi.LiteralType):
        return "one of " + ", ".join(map(str, t.values))
    if isinstance(t, mi.UnionType):
        return " or ".join(_expected(x) for x in t.types if not isinstance(x, mi.NoneType))
    return "a value"


def _setter(container: Any, key: Any) -> Callable[[Any], None]:
    def set_value(v: Any) -> None:
        container[key] = v

    return set_value


class _Walker:
    def __init__(self, loc: Located, file: str, text_struct: type) -> None:
        self.loc, self.file = loc, file
        self.problems: list[Problem] = []
        self.text_struct = text_struct

    def report(self, code: str, path: KeyPath, *, at_key: bool = False, **kw: Any) -> None:
        line, col = self.loc.pos(path, key=at_key)
        self.problems.append(problem(code, self.file, line, col, **kw))

    def walk(self, value: Any, t: mi.Type, path: KeyPath, set_value: Callable[[Any], None]) -> None:
        name = str(path[-1]) if path else "definition"
        if isinstance(t, mi.AnyType):
            return
        if isinstance(t, mi.UnionType):
            non_none = [x for x in t.types if not isinstance(x, mi.NoneType)]
            if value is None and len(non_none) < len(t.types):
                return
            structs = [x for x in non_none if isinstance(x, mi.StructType)]
            if structs and structs[0].tag_field and len(structs) > 1:
                self.walk_tagged(value, structs, path, set_value)
                return
            if len(non_none) == 1:
                self.walk(value, non_none[0], path, set_value)
                return
            self.report("PD102", path, key=name, expected=_expected(t), actual=_kind_name(value))
            return
        if isinstance(t, mi.StructType):
            if t.cls is self.text_struct and isinstance(value, str):
                set_value({"ja": value})  # shorthand: a plain string is the Japanese text
                return
            if not isinstance(value, dict):
                self.type_error(path, name, t, value)
                return
            self.walk_struct(value, t, path)
            return
        if isinstance(t, mi.ListType):
            if not isinstance(value, list):
                self.type_error(path, name, t, value)
                return
            for i, item in enumerate(value):
                self.walk(item, t.item_type, path + (i,), _setter(value, i))
            return
        if isinstance(t, mi.DictType):
            if not isinstance(value, dict):
                self.type_error(path, name, t, value)
                return
            for k, v in value.items():
                self.walk(v, t.value_type, path + (k,), _setter(value, k))
            return
        if isinstance(t, mi.LiteralType):
            if value not in t.values or isinstance(value, bool) != any(isinstance(x, bool) for x in t.values):
                allowed = ", ".join(map(str, t.values))
                hint = did_you_mean(str(value), map(str, t.values)) if isinstance(value, str) else ""
                self.report("PD104", path, key=name, allowed=allowed, actual=value, hint=hint)
            return
        if isinstance(t, mi.IntType | mi.FloatType) and isinstance(value, int | float) and not isinstance(value, bool) \
                and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # False for NaN too
            self.report("PD109", path, key=name, actual=_number_text(value))
            set_value(None)  # never converted (msgspec would refuse it without a position)
            return
        ok = {
            mi.StrType: lambda v: isinstance(v, str),
            mi.IntType: lambda v: isinstance(v, int) and not isinstance(v, bool),
            mi.FloatType: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            mi.BoolType: lambda v: isinstance(v, bool),
            mi.NoneType: lambda v: v is None,
        }.get(type(t))
        if ok is not None and not ok(value):
            self.type_error(path, name, t, value)

    def type_error(self, path: KeyPath, name: str, t: mi.Type, value: Any) -> None:
        hint = ""
        if isinstance(t, mi.StrType) and isinstance(value, bool):
            hint = f" (YAML reads an unquoted {'yes/true/on' if value else 'no/false/off'} as a boolean: quote it)"
        elif isinstance(t, mi.StrType) and isinstance(value, int | float):
            hint = f" (quote it: '{value}')"
        self.report("PD102", path, key=name, expected=_expected(t), actual=_kind_name(value), hint=hint)

    def walk_tagged(self, value: Any, structs: list[mi.StructType], path: KeyPath, set_value: Any) -> None:
        tag_field = structs[0].tag_field
        if not isinstance(value, dict):
            self.report("PD102", path, key=str(path[-1]), expected="a mapping", actual=_kind_name(value))
            return
        tags = {str(s.tag): s for s in structs}
        tag = value.get(tag_field)
        if tag is None:
            self.report("PD103", path, key=tag_field)
            return
        if not isinstance(tag, str):
            self.report("PD102", path + (str(tag_field),), key=tag_field, expected="a string", actual=_kind_name(tag))
            return
        if tag not in tags:
            hint = did_you_mean(str(tag), tags) or " (one of " + ", ".join(tags) + ")"
            self.report("PD105", path + (str(tag_field),), type=tag, hint=hint)
            return
        self.walk_struct(value, tags[tag], path)

    def walk_struct(self, value: dict[str, Any], t: mi.StructType, path: KeyPath) -> None:
        fields = {f.encode_name: f for f in t.fields}
        allowed = set(fields)
        if t.tag_field:
            allowed.add(t.tag_field)
        for key in list(value):
            if key not in allowed:
                self.report("PD101", path + (key,), at_key=True, key=key, hint=did_you_mean(key, allowed))
                # keep going: other keys are still checked; the unknown one is dropped for conversion
                del value[key]
        for f in t.fields:
            if f.encode_name not in value:
                if f.required:
                    self.report("PD103", path, key=f.encode_name)
                continue
            self.walk(value[f.encode_name], f.type, path + (f.encode_name,), _setter(value, f.encode_name))
        self.check_ids(value, path)

    def check_ids(self, value: dict[str, Any], path: KeyPath) -> None:
        if "id" in value and isinstance(value["id"], str):
            is_definition = len(path) == 0
            rx = DEF_ID_RE if is_definition else ID_RE
            if not rx.fullmatch(value["id"]):
                rule = (
                    "use lowercase letters, digits and '-', starting with a letter"
                    if is_definition
                    else "use snake_case: lowercase letters, digits and '_', starting with a letter"
                )
                self.report("PD106", path + ("id",), id=value["id"], rule=rule)
        # A semantic version (the project's one rule, versions.py) without build metadata: build metadata has
        # no precedence, so two versions differing only there could not say which is the latest.
        version = value.get("version")
        if not path and isinstance(version, str) and not (is_valid(version) and "+" not in version):
            self.report("PD107", ("version",), version=value["version"])


def check_shape(loc: Located, file: str, root_type: Any, text_struct: type) -> list[Problem]:
    """Validate ``loc.data`` in place (shorthands expanded, unknown keys dropped); return problems."""
    w = _Walker(loc, file, text_struct)
    holder = [loc.data]
    w.walk(loc.data, _info(root_type), (), lambda v: holder.__setitem__(0, v))
    loc.data = holder[0]
    return w.problems


def convert(data: Any, root_type: Any) -> Any:
    return msgspec.convert(data, root_type, str_keys=True)
