"""The phone time model: monotonic properties, not magic numbers (the constants are documented estimates)."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from procedure_definitions.model import Procedure
from procedure_definitions.timing import (
    BUDGET_SECONDS,
    DEFAULT_MODEL,
    Estimate,
    TouchModel,
    estimate,
    format_estimate,
)

BASE: dict[str, Any] = {
    "kind": "procedure",
    "id": "sample",
    "version": "1.2.3",
    "title": {"ja": "見本の手続"},
    "department": {"id": "shimin", "name": {"ja": "市民課"}},
    "sections": [
        {
            "id": "main",
            "title": {"ja": "内容"},
            "fields": [
                {
                    "id": "kind",
                    "type": "choice",
                    "required": True,
                    "label": {"ja": "種類"},
                    "choices": [
                        {"value": "a", "label": {"ja": "ひとつめ"}},
                        {"value": "b", "label": {"ja": "ふたつめ"}},
                    ],
                },
                {"id": "copies", "type": "number", "required": True, "label": {"ja": "通数"}},
            ],
        }
    ],
}


def proc(mutate: Any = None) -> Procedure:
    data = copy.deepcopy(BASE)
    if mutate is not None:
        mutate(data)
    return msgspec.convert(data, Procedure)


def fields(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["sections"][0]["fields"]


def add(field: dict[str, Any]) -> Any:
    return lambda d: fields(d).append(field)


def test_estimate_shape() -> None:
    est = estimate(proc())
    assert isinstance(est, Estimate)
    assert est.seconds > 0
    assert est.seconds == pytest.approx(sum(s.seconds for s in est.breakdown), abs=0.05)
    kinds = [s.kind for s in est.breakdown]
    assert kinds[0] == "start" and kinds[-2:] == ["review", "submit"]
    assert {"kind", "copies"} <= {s.field_id for s in est.breakdown}
    assert est.over_budget is (est.seconds > BUDGET_SECONDS)


@pytest.mark.parametrize("ftype", ["text", "name", "phone", "address", "date", "kana", "email", "longtext"])
def test_adding_a_required_typed_field_increases_the_estimate(ftype: str) -> None:
    before = estimate(proc()).seconds
    after = estimate(proc(add({"id": "extra", "type": ftype, "required": True, "label": {"ja": "追加"}}))).seconds
    assert after > before


def test_prefill_reduces_the_estimate() -> None:
    typed = {"id": "who", "type": "name", "required": True, "label": {"ja": "氏名"}}
    prefilled = {**typed, "prefill": "name"}
    assert estimate(proc(add(prefilled))).seconds < estimate(proc(add(typed))).seconds


def test_hidden_fields_are_free() -> None:
    hidden = {"id": "extra", "type": "longtext", "required": True, "show_if": "kind = 'b'", "label": {"ja": "詳細"}}
    assert estimate(proc(add(hidden))).seconds == estimate(proc()).seconds


def test_hidden_sections_are_free() -> None:
    def extra_section(d: dict[str, Any]) -> None:
        d["sections"].append(
            {
                "id": "more",
                "title": {"ja": "追加"},
                "show_if": "kind = 'b'",
                "fields": [{"id": "x", "type": "address", "required": True, "label": {"ja": "住所"}}],
            }
        )

    assert estimate(proc(extra_section)).seconds == estimate(proc()).seconds


def test_optional_and_conditionally_required_fields_cost_only_reading() -> None:
    optional = {"id": "memo", "type": "longtext", "label": {"ja": "メモ"}}
    required = {**optional, "required": True}
    cond = {**optional, "required_if": "kind = 'b'"}
    base = estimate(proc()).seconds
    opt = estimate(proc(add(optional))).seconds
    assert base < opt < estimate(proc(add(required))).seconds
    assert estimate(proc(add(cond))).seconds == opt


def test_more_choices_take_longer_to_read() -> None:
    def more(d: dict[str, Any]) -> None:
        fields(d)[0]["choices"].append({"value": "c", "label": {"ja": "みっつめの選択肢"}})

    assert estimate(proc(more)).seconds > estimate(proc()).seconds


def test_group_counts_its_minimum_items() -> None:
    def group(n: int) -> Any:
        return add(
            {
                "id": "people",
                "type": "group",
                "required": True,
                "min": n,
                "label": {"ja": "対象者"},
                "fields": [{"id": "person", "type": "name", "required": True, "label": {"ja": "氏名"}}],
            }
        )

    one, two = estimate(proc(group(1))).seconds, estimate(proc(group(2))).seconds
    assert estimate(proc()).seconds < one < two


def test_photo_capture_is_costed() -> None:
    photo = {"id": "doc", "type": "attachment", "capture": True, "required": True, "label": {"ja": "写真"}}
    assert estimate(proc(add(photo))).seconds - estimate(proc()).seconds >= DEFAULT_MODEL.photo


def test_model_constants_scale_the_estimate() -> None:
    slow = TouchModel(kana=2.0, read_char=0.3)
    typed = add({"id": "t", "type": "text", "required": True, "label": {"ja": "自由記入"}})
    assert estimate(proc(typed), slow).seconds > estimate(proc(typed)).seconds


def test_over_budget_and_format() -> None:
    p = proc()
    est = estimate(p)
    assert format_estimate(p, est) == f"sample 1.2.3: {est.seconds:.0f} s (within 60 s)"

    def many(d: dict[str, Any]) -> None:
        for i in range(12):
            fields(d).append({"id": f"t{i}", "type": "longtext", "required": True, "label": {"ja": "記入"}})

    big = proc(many)
    est = estimate(big)
    assert est.over_budget
    assert format_estimate(big, est).endswith("(over the 60 s budget)")


def test_shipped_library_estimates_are_finite() -> None:
    from procedure_definitions.library import load_library

    lib = load_library()
    for p in lib.latest_procedures():
        est = estimate(p)
        assert 0 < est.seconds < 3600, p.id
