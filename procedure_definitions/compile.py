"""Compile definitions to the JSON the PWA ships: expressions replaced by their parsed ASTs.

Both form interpreters (procedure_definitions/forms.py and pwa/js/form.js) run on this compiled form, so
the phone and the server evaluate exactly the same data.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from .expressions import parse
from .model import PARTIAL_DATE_ATTRIBUTES, AttachmentField, LifeEvent, Procedure, Text

__all__ = [
    "COMPILED_FORMAT",
    "FIELD_EXPRESSION_KEYS",
    "PERSON_ID_MAX_LENGTH",
    "compile_field",
    "compile_life_event",
    "compile_procedure",
]

COMPILED_FORMAT = 1
# A person field's answer is a member_id (a resident code, or a device-only id of a person entered earlier in a
# life event): text, held to this length by both runtimes like a text field's max_length.
PERSON_ID_MAX_LENGTH = 64
FIELD_EXPRESSION_KEYS = ("show_if", "required_if", "constraint", "calculate", "choice_filter")


def _ast(src: Any) -> Any:
    # parse() returns cached, shared ASTs: copy so that no caller can corrupt the cache.
    return copy.deepcopy(parse(src)) if isinstance(src, str) else src


def compile_field(field: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """A field's builtins with expression strings replaced by ASTs (recursively for groups).

    ``source`` is the person attribute the field is mapped from (its group's ``prefill_map``, or the ``fills``
    of a person field of the procedure or of the life event's shared fields).
    A wareki field whose value comes from a registry attribute the registry holds partially (a birth date
    with 日不詳: PARTIAL_DATE_ATTRIBUTES) accepts a partial date (``allow_partial``): the city's own
    record is never refused. Decided here, once, for both runtimes; other date fields keep needing a day.
    """
    out = dict(field)
    if out.get("type") == "wareki" and (source or out.get("prefill")) in PARTIAL_DATE_ATTRIBUTES:
        out["allow_partial"] = True
    for key in FIELD_EXPRESSION_KEYS:
        if key in out:
            out[key] = _ast(out[key])
    if out.get("type") == "attachment":
        for key, value in _defaults_of_attachment().items():
            out.setdefault(key, value)
    if out.get("type") == "person":
        out["max_length"] = PERSON_ID_MAX_LENGTH
    if out.get("type") == "group":
        mapping = out.get("prefill_map") or {}
        out["fields"] = [compile_field(f, mapping.get(f.get("id"))) for f in out.get("fields", [])]
    return out


def _defaults_of_attachment() -> dict[str, Any]:
    # Attachment limits are needed by both runtimes even when the YAML relies on the defaults (which
    # msgspec omits), so they are written out explicitly.
    probe = AttachmentField(id="x", label=Text(ja="x"))
    return {"accept": list(probe.accept), "max_size_mb": probe.max_size_mb, "max_files": probe.max_files}


def _filled_by_person(fields: list[dict[str, Any]]) -> dict[str, str]:
    """Field id -> the member attribute a person field among ``fields`` fills it with: the field takes its value
    from that attribute (a birth date: maybe partial). For a procedure's fields and a life event's shared ones."""
    return {fid: attr for f in fields if f.get("type") == "person" for fid, attr in (f.get("fills") or {}).items()}


def compile_procedure(proc: Procedure) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(proc)
    data.pop("scenarios", None)
    filled = _filled_by_person([f for s in data.get("sections", []) for f in s.get("fields", [])])
    for section in data.get("sections", []):
        if "show_if" in section:
            section["show_if"] = _ast(section["show_if"])
        section["fields"] = [compile_field(f, filled.get(f.get("id"))) for f in section.get("fields", [])]
        if section.get("staff_only"):
            # Both runtimes read the field's own flag only: a staff-only section marks each of its fields.
            for f in section["fields"]:
                f["staff_only"] = True
    for doc in data.get("documents", []):
        if "required_if" in doc:
            doc["required_if"] = _ast(doc["required_if"])
    data["format"] = COMPILED_FORMAT
    return data


def compile_life_event(ev: LifeEvent) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(ev)
    for q in data.get("questions", []):
        if "show_if" in q:
            q["show_if"] = _ast(q["show_if"])
    for p in data.get("procedures", []):
        if "include_if" in p:
            p["include_if"] = _ast(p["include_if"])
    # A shared field a shared person field fills (the deceased's birth date) is as partial as the attribute.
    filled = _filled_by_person([shared["field"] for shared in data.get("shared_fields", [])])
    for shared in data.get("shared_fields", []):
        shared["field"] = compile_field(shared["field"], filled.get(shared["field"].get("id")))
    data["format"] = COMPILED_FORMAT
    return data
