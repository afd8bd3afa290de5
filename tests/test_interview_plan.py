"""The counter interview's derivation (server/interview_plan.py) on the shipped life events: which procedures
the answers include and why, hand-made additions and removals, the answers filed per procedure, the prefill."""

from __future__ import annotations

from typing import Any

import pytest

from procedure_definitions.library import load_library
from procedure_definitions.model import LifeEvent, Procedure
from procedure_definitions.versions import latest
from server.interview_plan import (
    asked_fields,
    condition_words,
    derive,
    empty_draft,
    filing_answers,
    included_ids,
    prefill_draft,
)


@pytest.fixture(scope="module")
def lib() -> tuple[dict[str, LifeEvent], dict[str, Procedure]]:
    library = load_library()
    events = {eid: v[latest(v)] for eid, v in library.life_events.items()}
    procs = {pid: v[latest(v)] for pid, v in library.procedures.items()}
    return events, procs


def _draft(**questions: Any) -> dict[str, Any]:
    d = empty_draft()
    d["questions"] = questions
    return d


def test_birth_answers_decide_the_list(lib: Any) -> None:
    events, procs = lib
    ev = events["birth"]
    # Nothing answered: the unconditional ones, and 児童手当 (not receiving, not a public servant: null is not true).
    assert included_ids(derive(ev, _draft(), procs)) == ["shussei", "jido-teate", "kodomo-iryohi"]
    both = derive(ev, _draft(parent_kokuho=True, already_receiving_teate=True), procs)
    assert included_ids(both) == ["shussei", "kokuho-kanyu", "kodomo-iryohi"]
    kokuho = next(d for d in both if d.procedure == "kokuho-kanyu")
    assert kokuho.reason.startswith("生まれた日から国民健康保険に加入します")
    assert kokuho.condition == "「子どもは国民健康保険に入りますか（親が国民健康保険）」がはい"
    assert kokuho.include_if == {"ref": ["parent_kokuho"]}
    assert included_ids(derive(ev, _draft(is_public_servant=True), procs)) == ["shussei", "kodomo-iryohi"]


def test_a_procedure_filed_in_the_visit_is_not_derived_again(lib: Any) -> None:
    events, procs = lib
    ev = events["moving-in"]
    d = _draft(needs_certificate=True, wants_seal=True)
    filed = {"juminhyo-copy": "2026-000005", "tenkyo": "2026-000004"}
    out = derive(ev, d, procs, filed)
    # Filed already: shown with its 受付番号, not included whatever the answers; the others as derived.
    assert included_ids(out) == ["tennyu", "inkan-toroku"]
    copy = next(x for x in out if x.procedure == "juminhyo-copy")
    assert (copy.included, copy.filed, copy.manual) == (False, "2026-000005", "")
    assert included_ids(derive(ev, d, procs)) == ["tennyu", "inkan-toroku", "juminhyo-copy"]
    # Added by hand (with its reason: the clerk's explicit override), filed again; one the event does not list too.
    d["added"] = {"juminhyo-copy": "提出先が別", "tenkyo": "訂正のため"}
    out = derive(ev, d, procs, filed)
    assert included_ids(out) == ["tennyu", "inkan-toroku", "juminhyo-copy", "tenkyo"]
    assert next(x for x in out if x.procedure == "tenkyo").filed == "2026-000004"


def test_condition_words(lib: Any) -> None:
    ev = lib[0]["birth"]
    assert condition_words(ev, "not already_receiving_teate and not is_public_servant") == (
        "「すでに上の子の児童手当を受けていますか」がいいえ、「収入が多い方の親は公務員ですか」がいいえ")
    assert condition_words(ev, None) == ""
    assert "の回答による" in condition_words(ev, "parent_kokuho or is_public_servant")


def test_added_and_removed_by_hand(lib: Any) -> None:
    events, procs = lib
    ev = events["moving-within"]
    d = _draft(needs_certificate=True)
    d["removed"] = {"juminhyo-copy": "コンビニ交付で取る"}
    d["added"] = {"inkan-toroku": "印鑑登録も希望", "no-such-procedure": "x"}
    out = derive(ev, d, procs)
    assert included_ids(out) == ["tenkyo", "inkan-toroku"]  # an unknown id is never listed
    removed = next(x for x in out if x.procedure == "juminhyo-copy")
    assert (removed.included, removed.manual, removed.manual_reason) == (False, "removed", "コンビニ交付で取る")
    assert out[-1].manual == "added" and out[-1].manual_reason == "印鑑登録も希望"


def test_filing_answers_copy_shared_fields_and_questions(lib: Any) -> None:
    events, _ = lib
    ev = events["birth"]
    d = _draft(is_public_servant=False)
    d["shared"] = {"parent_name": {"family": "山田", "given": "花子"}, "phone": "", "address": {"city": "千代田区"}}
    d["answers"] = {"jido-teate": {"claimant_phone": "stale", "own": 1}}
    out = filing_answers(ev, "jido-teate", d)
    assert out["claimant_name"] == {"family": "山田", "given": "花子"}
    assert out["claimant_address"] == {"city": "千代田区"}
    assert "claimant_phone" not in out  # the shared field was emptied: so is what it fills
    assert out["is_public_servant"] is False and out["own"] == 1
    assert "is_public_servant" not in filing_answers(ev, "jido-teate", _draft())  # unanswered: asked by the form


def test_prefill_and_the_fields_still_asked(lib: Any) -> None:
    events, procs = lib
    ev = events["moving-within"]
    profile = {"name": {"family": "山田", "given": "太郎"}, "phone": "090-1234-5678",
               "address": {"postal_code": "1000001", "prefecture": "東京都", "city": "千代田区", "town": "千代田"},
               "postal_code": "1000001", "household_head_name": {"family": "山田", "given": "太郎"}}
    draft, filled = prefill_draft(ev, procs, profile)
    assert draft["shared"]["applicant_name"] == {"family": "山田", "given": "太郎"}
    # 新しい住所 feeds 転居届's new address (asked) and 住民票's applicant address (prefilled): not guessed.
    assert "new_address" not in draft["shared"] and "s:applicant_name" in filled
    assert draft["answers"]["tenkyo"]["previous_address"] == profile["address"]
    asked = [f.id for _, fields in asked_fields(ev, procs["tenkyo"], draft) for f in fields]
    assert "move_date" in asked and "school_change" in asked  # staff-only fields are the counter's to fill
    assert "new_address" not in asked and "filer_name" not in asked  # the shared fields fill them
    assert "school_notice" not in asked  # shown only when school_change is yes
    draft["answers"]["tenkyo"]["school_change"] = True
    assert "school_notice" in [f.id for _, fields in asked_fields(ev, procs["tenkyo"], draft) for f in fields]


def test_a_listed_procedure_left_out_can_be_added_by_hand(lib: Any) -> None:
    events, procs = lib
    d = _draft(parent_kokuho=False)
    d["added"] = {"kokuho-kanyu": "親の保険を確認中"}
    out = derive(events["birth"], d, procs)
    kokuho = next(x for x in out if x.procedure == "kokuho-kanyu")
    assert (kokuho.included, kokuho.manual, kokuho.manual_reason) == (True, "added", "親の保険を確認中")
    assert [x.procedure for x in out].count("kokuho-kanyu") == 1


def test_event_people_are_offered_beside_the_household(lib: Any) -> None:
    from server.console.interview_form import EVENT_PEOPLE, event_people, members_of

    events, procs = lib
    ev = events["birth"]
    shared = {"child_name": {"family": "山田", "given": "陽太"}, "birth_date": "2026-12-01",
              "parent_name": {"family": "山田", "given": "花子"}}
    people = event_people(ev.people, shared)
    assert [p["member_id"] for p in people] == ["event:child", "event:parent"]
    group = next(f for s in procs["kokuho-kanyu"].sections for f in s.fields if f.id == "members")
    household = [{"member_id": "R0002", "name": {"family": "山田", "given": "花子"}}]
    offered = members_of(group, {group.prefill: household, EVENT_PEOPLE: people}, "R0002")
    # The newborn is offered once; the parent is already in the household list.
    assert [p["name"]["given"] for p in offered] == ["花子", "陽太"]
