"""The JSON Schema that editors use agrees with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from procedure_definitions.library import DEFAULT_LIBRARY, discover
from procedure_definitions.schema import json_schema
from procedure_definitions.yamlpos import read_yaml

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schema_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "definition.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), "run: madoguchi schema > docs/definition.schema.json"


def test_schema_is_valid_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema())


@pytest.mark.parametrize("path", sorted(p for p in discover([DEFAULT_LIBRARY]) if p.suffix == ".yaml"), ids=str)
def test_shipped_library_validates_against_schema(path: Path) -> None:
    data = read_yaml(path.read_text(encoding="utf-8")).data
    jsonschema.Draft202012Validator(json_schema()).validate(data)


def test_schema_rejects_what_the_loader_rejects() -> None:
    v = jsonschema.Draft202012Validator(json_schema())
    good = {"kind": "procedure", "id": "x", "version": "1.0.0", "title": "見本",
            "department": {"id": "d", "name": {"ja": "市民課"}},
            "sections": [{"id": "s", "title": "t", "fields": [{"id": "a", "type": "text", "label": "A"}]}]}
    assert not list(v.iter_errors(good))
    bad = json.loads(json.dumps(good))
    bad["sections"][0]["fields"][0]["lable"] = "typo"
    assert list(v.iter_errors(bad))
    bad = json.loads(json.dumps(good))
    bad["sections"][0]["fields"][0]["type"] = "txt"
    assert list(v.iter_errors(bad))
