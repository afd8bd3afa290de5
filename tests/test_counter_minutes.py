"""``counter_minutes`` (a visit booking's length, docs/procedure-format.md "Counter minutes"): 1 to 240 on a
procedure or a life event, anything else PD255 located at the key; the shipped library declares it."""

from __future__ import annotations

import pytest

from procedure_definitions.library import load_library
from procedure_definitions.loader import load_text
from tests.test_checker import BASE

EVENT = """\
kind: life_event
id: moving
version: 1.0.0
title: 引っ越し
questions:
  - {id: q, label: 国保ですか}
procedures:
  - procedure: sample
"""


@pytest.mark.parametrize("value", [1, 20, 240])
def test_good_minutes(value: int) -> None:
    res = load_text(BASE + f"counter_minutes: {value}\n", "x.yaml")
    assert res.problems == []
    assert res.definition is not None and res.definition.counter_minutes == value  # type: ignore[union-attr]


@pytest.mark.parametrize("value", [0, 241, -5])
def test_bad_minutes_are_pd255_at_the_key(value: int) -> None:
    text = BASE + f"counter_minutes: {value}\n"
    problems = load_text(text, "x.yaml").problems
    assert [(p.code, p.line, p.col) for p in problems] == [("PD255", text.count("\n"), 18)]
    assert "1 to 240" in problems[0].message and str(value) in problems[0].message


@pytest.mark.parametrize("value", ["true", "12.5", '"20"'])
def test_not_a_whole_number_is_a_shape_error(value: str) -> None:
    problems = load_text(BASE + f"counter_minutes: {value}\n", "x.yaml").problems
    assert [(p.code, p.col) for p in problems] == [("PD102", 18)]


def test_life_event_minutes() -> None:
    assert [p.code for p in load_text(EVENT + "counter_minutes: 500\n", "e.yaml").problems] == ["PD255"]
    assert load_text(EVENT + "counter_minutes: 45\n", "e.yaml").problems == []


def test_the_shipped_library_declares_counter_minutes() -> None:
    from server.booking.config import DEFAULT_CONFIG
    from server.booking.length import booking_minutes

    lib = load_library()
    declared = {pid: lib.latest(pid).counter_minutes for pid in lib.procedures}  # type: ignore[union-attr]
    assert {k: v for k, v in declared.items() if v is not None} == {
        "tenkyo": 20, "tennyu": 30, "tenshutsu": 15, "inkan-toroku": 10, "kokuho-kanyu": 15}
    # 転入 and 国保 for two people: (30 + 15) × 2 = 90 on the default 15-minute grid.
    assert booking_minutes(DEFAULT_CONFIG, lib, ["tennyu", "kokuho-kanyu"], None, 2) == 90
    # A procedure without it books the city's default.
    assert booking_minutes(DEFAULT_CONFIG, lib, ["juminhyo-copy"], None, 1) == DEFAULT_CONFIG.default_counter_minutes
