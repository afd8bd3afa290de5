"""A life event's yes/no question answered once (issue 12 point 4): a question's ``maps_to`` fills a procedure's
yesno field (PD242-PD244 when it cannot), a procedure asking a question again without it is reported (PD245),
and the time model counts the filled field as asked."""

from __future__ import annotations

from pathlib import Path

import msgspec

from procedure_definitions.library import load_library
from procedure_definitions.model import LifeEvent
from procedure_definitions.timing_events import estimate_life_event

PROC = """\
kind: procedure
id: teate
version: 1.0.0
title: 手当
department: {id: kodomo, name: 子ども課}
filers: [resident, staff]
parties:
  - {id: partner, label: 相手}
sections:
  - id: main
    title: 本文
    fields:
      - {id: is_public_servant, type: yesno, required: true, label: 請求する人は公務員ですか}
      - {id: lives_abroad, type: yesno, show_if: "is_public_servant = false", label: 海外に住んでいますか}
      - {id: copies, type: number, label: 通数}
      - {id: auto, type: yesno, label: 自動, calculate: "copies > 1"}
      - {id: memo_checked, type: yesno, staff_only: true, label: 確認済み}
      - id: kids
        type: group
        label: 子
        fields:
          - {id: kid_here, type: yesno, label: 同居}
  - id: other
    title: 相手
    party: partner
    fields:
      - {id: partner_servant, type: yesno, label: 相手は公務員ですか}
"""

EVENT = """\
kind: life_event
id: ev
version: 1.0.0
title: 出来事
questions:
  - id: is_public_servant
    label: 収入が多い方の親は公務員ですか
    maps_to: {teate: is_public_servant}
procedures:
  - procedure: teate
    include_if: not is_public_servant
"""


def problems(tmp_path: Path, event: str, proc: str = PROC) -> list[tuple[str, str, str]]:
    """(code, message, the event's text from the problem's position) for every problem."""
    (tmp_path / "p.yaml").write_text(proc, encoding="utf-8")
    (tmp_path / "e.yaml").write_text(event, encoding="utf-8")
    lines = event.splitlines()
    out = []
    for p in load_library(tmp_path).problems:
        at = lines[p.line - 1][p.col - 1:] if p.path.endswith("e.yaml") else ""
        out.append((p.code, p.message, at))
    return out


def test_a_question_mapped_to_the_field_it_answers_is_valid(tmp_path: Path) -> None:
    assert problems(tmp_path, EVENT) == []


def test_a_question_a_procedure_asks_again_is_reported_at_the_question(tmp_path: Path) -> None:
    """PD245: without maps_to, 手当's own 公務員か asks again what the question asked (same id)."""
    got = problems(tmp_path, EVENT.replace("    maps_to: {teate: is_public_servant}\n", ""))
    assert [(c, at) for c, _, at in got] == [("PD245", "is_public_servant")]
    assert "teate.is_public_servant" in got[0][1] and "maps_to: {teate: is_public_servant}" in got[0][1]
    # The same Japanese label under another id is the same question, a field shown on a condition included.
    relabelled = EVENT.replace("    maps_to: {teate: is_public_servant}\n", "").replace(
        "label: 収入が多い方の親は公務員ですか", "label: 海外に住んでいますか").replace("id: is_public_servant", "id: abroad")
    relabelled = relabelled.replace("not is_public_servant", "not abroad")
    assert [(c, m.split(" ")[6]) for c, m, _ in problems(tmp_path, relabelled)] == [("PD245", "teate.lives_abroad;")]
    # Another id and another label: a different question, nothing to report.
    other = EVENT.replace("    maps_to: {teate: is_public_servant}\n", "").replace("id: is_public_servant", "id: servant")
    other = other.replace("not is_public_servant", "not servant").replace("収入が多い方の親は", "親は")
    assert problems(tmp_path, other) == []


def test_fields_the_resident_does_not_answer_are_not_compared(tmp_path: Path) -> None:
    """Staff-only, calculated, another party's and group item fields are not asked of the resident again."""
    proc = PROC.replace("label: 確認済み", "label: 公務員ですか").replace("label: 自動", "label: 公務員ですか")
    proc = proc.replace("label: 同居", "label: 公務員ですか").replace("label: 相手は公務員ですか", "label: 公務員ですか")
    event = EVENT.replace("label: 収入が多い方の親は公務員ですか", "label: 公務員ですか")
    assert problems(tmp_path, event, proc) == []
    # A plain yes/no field of the first filer with that label is.
    proc = proc.replace("label: 海外に住んでいますか", "label: 公務員ですか")
    assert [c for c, _, _ in problems(tmp_path, event, proc)] == ["PD245"]


def test_a_question_maps_only_to_a_field_its_answer_can_fill(tmp_path: Path) -> None:
    cases = [
        ("{teate: is_pubic_servant}", "PD242", "did you mean 'is_public_servant'"),
        ("{teate: kid_here}", "PD242", "unknown field 'kid_here'"),  # inside a group: not a plain field
        ("{teate: copies}", "PD243", "'teate.copies' is number"),
        ("{teate: partner_servant}", "PD244", "another party fills it"),
        ("{teate: memo_checked}", "PD244", "staff-only"),
        ("{teate: auto}", "PD244", "it is calculated"),
        ("{tate: is_public_servant}", "PD208", "'tate', which this life event does not include"),
    ]
    for maps, code, says in cases:
        event = EVENT.replace("{teate: is_public_servant}", maps)
        got = [(c, m, at) for c, m, at in problems(tmp_path, event) if c != "PD245"]
        assert [c for c, _, _ in got] == [code], (maps, got)
        assert says in got[0][1], (maps, got)
        assert got[0][2].startswith(maps.split(": ")[1]), (maps, got)  # at the mapping in maps_to (as for shared fields)


def test_a_field_is_filled_by_one_source(tmp_path: Path) -> None:
    """PD244: a field a shared field fills, or an earlier question, is not filled by a question too."""
    shared = EVENT + ("shared_fields:\n  - field: {id: s, type: yesno, label: 公務員}\n"
                      "    maps_to: {teate: is_public_servant}\n")
    got = problems(tmp_path, shared)
    assert [c for c, _, _ in got] == ["PD244"] and "shared field 's' fills it too" in got[0][1]
    second = EVENT.replace("procedures:\n", "  - {id: again, label: もう一度, maps_to: {teate: is_public_servant}}\nprocedures:\n")
    got = problems(tmp_path, second)
    assert [(c, at[:16]) for c, _, at in got] == [("PD244", "is_public_servan")]
    assert "question 'again'" in got[0][1] and "question 'is_public_servant' fills it too" in got[0][1]


def test_a_question_maps_only_into_the_life_events_procedures(tmp_path: Path) -> None:
    other = PROC.replace("id: teate", "id: other")
    (tmp_path / "o.yaml").write_text(other, encoding="utf-8")
    event = EVENT.replace("{teate: is_public_servant}", "{teate: is_public_servant, other: is_public_servant}")
    got = problems(tmp_path, event)
    assert [c for c, _, _ in got] == ["PD208"] and "'other', which this life event does not include" in got[0][1]
    # Listed by the life event but not in the library: unknown, at the list and at the mapping.
    gone = event.replace("other: is_public_servant", "gone: is_public_servant") + "  - procedure: gone\n"
    got = problems(tmp_path, gone)
    assert [(c, at) for c, _, at in got] == [("PD210", "gone"), ("PD210", "is_public_servant}")]


def test_shipped_life_events_ask_no_question_again() -> None:
    lib = load_library()
    assert [p.format() for p in lib.problems if p.code in {"PD242", "PD243", "PD244", "PD245"}] == []
    for event_id in ("birth", "moving-in"):
        ev = lib.life_events[event_id][max(lib.life_events[event_id])]
        (q,) = [q for q in ev.questions if q.id == "is_public_servant"]
        assert q.maps_to == {"jido-teate": "is_public_servant"}


def test_the_time_model_counts_a_mapped_questions_target_as_asked() -> None:
    """The birth event without the question's maps_to asks 児童手当's 公務員か again: it takes longer."""
    lib = load_library()
    ev = lib.life_events["birth"][max(lib.life_events["birth"])]
    procs = {pid: p for pid in lib.procedures if (p := lib.latest(pid)) is not None}
    unmapped = msgspec.structs.replace(ev, questions=[msgspec.structs.replace(q, maps_to={}) for q in ev.questions])
    assert isinstance(unmapped, LifeEvent)
    with_map = estimate_life_event(ev, procs).estimate
    without = estimate_life_event(unmapped, procs).estimate
    assert "jido-teate" in estimate_life_event(ev, procs).procedures
    assert with_map.seconds < without.seconds
    # A question not shown (its show_if false) is not answered: it fills nothing, the procedure asks its field.
    def hide(e: LifeEvent) -> LifeEvent:
        qs = [msgspec.structs.replace(q, show_if="already_receiving_teate") if q.id == "is_public_servant" else q
              for q in e.questions]
        return msgspec.structs.replace(e, questions=qs)

    assert estimate_life_event(hide(ev), procs).estimate.seconds == estimate_life_event(hide(unmapped), procs).estimate.seconds


def test_a_shared_field_fills_only_what_a_question_may_fill(tmp_path: Path) -> None:
    """The one rule (bundles.py fill_problem) for shared fields too: not another party's field (PD235), a
    staff-only, calculated or read-only one, nor one an earlier shared field fills (PD236)."""
    proc = PROC.replace("      - {id: copies, type: number, label: 通数}\n",
                        "      - {id: copies, type: number, label: 通数}\n"
                        "      - {id: fixed, type: yesno, label: 固定, read_only: true}\n"
                        "      - {id: plain, type: yesno, label: 普通}\n")
    cases = [
        ("{teate: partner_servant}", "PD235", "which another party fills"),
        ("{teate: memo_checked}", "PD236", "it is staff-only"),
        ("{teate: auto}", "PD236", "it is calculated"),
        ("{teate: fixed}", "PD236", "it is read-only"),
    ]
    for maps, code, says in cases:
        event = EVENT + f"shared_fields:\n  - field: {{id: s, type: yesno, label: 共通}}\n    maps_to: {maps}\n"
        got = [(c, m, at) for c, m, at in problems(tmp_path, event, proc) if c != "PD245"]
        assert [c for c, _, _ in got] == [code], (maps, got)
        assert says in got[0][1], (maps, got)
        assert got[0][2].startswith(maps.split(": ")[1]), (maps, got)
    # A plain field of the first filer is fine once; a second shared field filling it is reported (the later).
    once = EVENT + "shared_fields:\n  - field: {id: s, type: yesno, label: 共通}\n    maps_to: {teate: plain}\n"
    assert problems(tmp_path, once, proc) == []
    twice = once + "  - field: {id: t, type: yesno, label: 共通2}\n    maps_to: {teate: plain}\n"
    got = problems(tmp_path, twice, proc)
    assert [(c, at) for c, _, at in got] == [("PD236", "plain}")]
    assert "shared field 't' cannot fill 'teate.plain': shared field 's' fills it too" in got[0][1]


def test_a_question_is_prefilled_only_from_a_yes_no_profile_attribute(tmp_path: Path) -> None:
    """PD246: a question's ``prefill`` names a yes/no profile attribute (its answer is true or false)."""
    known = EVENT.replace("    maps_to:", "    prefill: has_child_under_18\n    maps_to:")
    assert problems(tmp_path, known) == []
    for name, says in (("has_child_under_17", "no such profile attribute (did you mean 'has_child_under_18'?)"),
                       ("birth_date", "it holds a date value; a question takes a yes/no one (")):
        got = problems(tmp_path, known.replace("has_child_under_18", name))
        assert [(c, at) for c, _, at in got] == [("PD246", name)], got  # at the question's prefill
        assert f"question 'is_public_servant' cannot be answered from profile attribute '{name}'" in got[0][1]
        assert says in got[0][1], got
    # The shipped 転入 asks 子ども… from the records.
    ev = next(iter(load_library().life_events["moving-in"].values()))
    assert next(q for q in ev.questions if q.id == "has_children").prefill == "has_child_under_18"
