"""Static types of expressions, for the checker: infer_type() and value_type() of model fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..model import FieldBase, KanaField, NameField
from .errors import EvalError
from .functions import FUNCTIONS
from .numfmt import is_number
from .regex import compile_pattern

__all__ = ["TYPES", "Resolver", "infer_type", "value_type"]

TYPES = ("number", "string", "boolean", "date", "list", "object", "null", "any")
Resolver = Callable[[tuple[str, ...]], "str | None"]

_FIELD_TYPES = {
    "number": "number",
    "yesno": "boolean",
    "date": "date",
    "wareki": "date",
    "multichoice": "list",
    "group": "list",
    "attachment": "list",
    "name": "object",
    "address": "object",
    "notice": "null",
}

# Argument kinds: accepted static types and how an error message names them.
_ARG_KINDS: dict[str, tuple[frozenset[str], str]] = {
    "date": (frozenset({"date", "string"}), "a date"),
    "number": (frozenset({"number"}), "a number"),
    "string": (frozenset({"string", "date"}), "a string"),
    "pattern": (frozenset({"string"}), "a pattern string"),
    "list": (frozenset({"list"}), "a list"),
    "sized": (frozenset({"string", "date", "list"}), "a string or a list"),
    "numbers": (frozenset({"number", "list"}), "numbers or one list"),
    "textual": (frozenset({"string", "date", "number"}), "strings or numbers"),
    "numeric_text": (frozenset({"string", "number"}), "a string"),
    "any": (frozenset(TYPES), "anything"),
}
# name -> (argument kinds, the last one repeating; result type)
_SIGNATURES: dict[str, tuple[tuple[str, ...], str]] = {
    "today": ((), "date"),
    "age": (("date", "date"), "number"),
    "year": (("date",), "number"),
    "month": (("date",), "number"),
    "day": (("date",), "number"),
    "days_between": (("date", "date"), "number"),
    "add_days": (("date", "number"), "date"),
    "wareki": (("date",), "string"),
    "count": (("list",), "number"),
    "len": (("sized",), "number"),
    "sum": (("list",), "number"),
    "min": (("numbers", "number"), "number"),
    "max": (("numbers", "number"), "number"),
    "round": (("number", "number"), "number"),
    "matches": (("string", "pattern"), "boolean"),
    "contains": (("string", "string"), "boolean"),
    "starts_with": (("string", "string"), "boolean"),
    "concat": (("textual",), "string"),
    "if": (("any",), "any"),
    "coalesce": (("any",), "any"),
    "number": (("numeric_text",), "number"),
    "is_empty": (("any",), "boolean"),
}


def value_type(field: FieldBase) -> str:
    """The expression type of a model field's answer value."""
    tag = field.__struct_config__.tag
    if isinstance(field, NameField) and field.single_part:
        return "string"
    if isinstance(field, KanaField) and field.split:
        return "object"
    return _FIELD_TYPES.get(str(tag), "string")


def _unify(types: list[str]) -> str:
    real = {t for t in types if t != "null"}
    if not real:
        return "null"
    if len(real) == 1:
        return real.pop()
    if real == {"date", "string"}:
        return "string"
    return "any"


def _comparable(a: str, b: str, ordering: bool) -> bool:
    if "any" in (a, b) or "null" in (a, b):
        return True
    if {a, b} <= {"date", "string"}:
        return True
    if ordering:
        return a == b and a == "number"
    return a == b


class _Inferer:
    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve
        self.errors: list[str] = []

    def err(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def infer(self, node: Any) -> str:
        if not isinstance(node, Mapping):
            self.err("malformed expression")
            return "any"
        if "lit" in node:
            v = node["lit"]
            if v is None:
                return "null"
            if isinstance(v, bool):
                return "boolean"
            return "number" if is_number(v) else "string"
        if "list" in node:
            for x in node["list"]:
                self.infer(x)
            return "list"
        if "ref" in node:
            return self.resolve(tuple(node["ref"])) or "any"
        if "op" in node:
            return self.op(node["op"], [self.infer(x) for x in node.get("args", [])])
        if "call" in node:
            return self.call(node)
        self.err("malformed expression")
        return "any"

    def op(self, op: str, args: list[str]) -> str:
        if op in ("and", "or", "not"):
            return "boolean"
        if op == "neg":
            self.numeric("-", args[0])
            return "number"
        left, right = [*args, "any", "any"][:2]
        if op in ("==", "!="):
            if not _comparable(left, right, False):
                self.err(f"cannot compare {left} with {right}")
            return "boolean"
        if op in ("<", "<=", ">", ">="):
            if not _comparable(left, right, True):
                self.err(
                    f"cannot order {left} values" if left == right else f"cannot compare {left} with {right}"
                )
            return "boolean"
        if op == "in":
            if right not in ("list", "string", "date", "any", "null"):
                self.err(f"'in' needs a list or a string on the right, got {right}")
            elif right in ("string", "date") and left not in ("string", "date", "any", "null"):
                self.err(f"'in' a string needs a string on the left, got {left}")
            return "boolean"
        self.numeric(op, left)
        self.numeric(op, right)
        return "number"

    def numeric(self, op: str, t: str) -> None:
        if t not in ("number", "any", "null"):
            hint = " (use concat())" if op == "+" and t in ("string", "date") else ""
            self.err(f"'{op}' needs numbers, got {t}{hint}")

    def call(self, node: Mapping[str, Any]) -> str:
        name = node["call"]
        args = node.get("args", [])
        types = [self.infer(x) for x in args]
        if name not in FUNCTIONS:
            self.err(f"unknown function '{name}'")
            return "any"
        lo, hi = FUNCTIONS[name]
        if len(args) < lo or (hi is not None and len(args) > hi):
            self.err(f"{name}() got {len(args)} arguments")
            return "any"
        expected, result = _SIGNATURES[name]
        for i, t in enumerate(types):
            if not expected:
                break
            accepted, description = _ARG_KINDS[expected[min(i, len(expected) - 1)]]
            if t not in accepted and t not in ("any", "null"):
                self.err(f"{name}() expects {description}, got {t}")
        if name == "matches" and len(args) == 2:
            pattern = args[1]
            if isinstance(pattern, Mapping) and isinstance(pattern.get("lit"), str):
                try:
                    compile_pattern(pattern["lit"])
                except EvalError as e:
                    self.err(e.message)
        if name == "if":
            return _unify(types[1:])
        if name == "coalesce":
            return _unify(types)
        return result


def infer_type(ast: Mapping[str, Any], resolve: Resolver) -> tuple[str, list[str]]:
    """The static type of ``ast`` and the type errors found (human-readable English messages)."""
    inferer = _Inferer(resolve)
    return inferer.infer(ast), inferer.errors
