"""JSON Schema (draft 2020-12) of the definition format, generated from the msgspec model.

Editors use it for completion and validation: add to VS Code settings
``"yaml.schemas": {"docs/procedure.schema.json": "procedure_definitions/library/**/*.yaml"}``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from .model import Definition

__all__ = ["json_schema"]

SCHEMA_ID = "https://madoguchi.example/schemas/definition.schema.json"


@cache
def _generate() -> str:
    schema: dict[str, Any] = msgspec.json.schema(Definition)
    defs = schema["$defs"]
    # A plain string is shorthand for {ja: ...}: accept both wherever localized text is expected.
    defs["TextObject"] = defs.pop("Text")
    defs["Text"] = {
        "title": "Localized text",
        "description": "Japanese text, or {ja, en, ja-easy}.",
        "anyOf": [{"type": "string"}, {"$ref": "#/$defs/TextObject"}],
    }
    # `discriminator` is OpenAPI vocabulary; JSON Schema validators ignore it but keep it for editors.
    return msgspec.json.encode(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_ID,
            "title": "Madoguchi procedure or life event definition",
            **schema,
        }
    ).decode()


def json_schema() -> dict[str, Any]:
    """A fresh copy of the schema (callers may modify it)."""
    return msgspec.json.decode(_generate())
