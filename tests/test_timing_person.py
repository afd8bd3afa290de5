"""The time model of a person field (``type: person``) and of ``pick_self: false`` (docs/time-model.md)."""

from __future__ import annotations

from typing import Any

import msgspec

from procedure_definitions.model import LifeEvent
from procedure_definitions.timing import DEFAULT_MODEL, estimate
from procedure_definitions.timing_events import estimate_life_event
from tests.test_timing import EVENT, MEMBERS, add, fields, proc

CHILD_FIELDS: list[dict[str, Any]] = [
    {"id": "child_name", "type": "name", "required": True, "label": {"ja": "子の氏名"}},
    {"id": "child_birth", "type": "date", "required": True, "label": {"ja": "子の生年月日"}},
]
PERSON: dict[str, Any] = {"id": "child", "type": "person", "label": {"ja": "子ども"}, "prefill": "household_members",
                          "pick_self": False, "fills": {"child_name": "name", "child_birth": "birth_date"}}


def typed(d: dict[str, Any]) -> None:
    fields(d).extend(CHILD_FIELDS)


def picked(person: dict[str, Any]) -> Any:
    def mutate(d: dict[str, Any]) -> None:
        fields(d).extend([person, *CHILD_FIELDS])
    return mutate


def _kinds(est: Any, field_id: str) -> list[str]:
    return [s.kind for s in est.breakdown if s.field_id == field_id]


def test_picking_the_person_costs_less_than_typing_the_fields_it_fills() -> None:
    by_hand, by_pick = estimate(proc(typed)), estimate(proc(picked(PERSON)))
    assert by_pick.seconds < by_hand.seconds
    assert _kinds(by_pick, "child_name") == [] and _kinds(by_pick, "child_birth") == []  # not typed
    assert _kinds(by_pick, "child") == ["pick", "glance"]  # the radios, then the one filled line
    # The review still lists the filled values (and the person).
    review = next(s for s in by_pick.breakdown if s.kind == "review").seconds
    assert review > next(s for s in by_hand.breakdown if s.kind == "review").seconds


def test_each_person_offered_costs_a_glance() -> None:
    two, three = estimate(proc(picked(PERSON)), household=2), estimate(proc(picked(PERSON)), household=3)
    assert round(three.seconds - two.seconds, 2) == DEFAULT_MODEL.glance
    with_self = estimate(proc(picked({**PERSON, "pick_self": True})), household=2)
    assert round(with_self.seconds - two.seconds, 2) == DEFAULT_MODEL.glance  # the filer is one more radio


def test_an_undisclosed_attribute_is_still_typed() -> None:
    mn = {"id": "child_no", "type": "my_number", "required": True, "label": {"ja": "子の個人番号"}}

    def mutate(d: dict[str, Any]) -> None:
        fields(d).extend([{**PERSON, "fills": {**PERSON["fills"], "child_no": "my_number"}}, *CHILD_FIELDS, mn])
    assert _kinds(estimate(proc(mutate)), "child_no") == ["type"]


def test_a_conditional_person_field_off_the_path_leaves_its_fields_typed() -> None:
    hidden = estimate(proc(picked({**PERSON, "show_if": "copies > 5"})))
    assert _kinds(hidden, "child") == [] and _kinds(hidden, "child_name") == ["type"]


def test_a_pick_group_without_the_filer_offers_and_picks_one_less() -> None:
    group = {**MEMBERS, "prefill": "household_members", "pick": True,
             "prefill_map": {"m_name": "name", "m_birth": "birth_date"}}
    with_self = estimate(proc(add(group)), household=3)
    without = estimate(proc(add({**group, "pick_self": False})), household=3)
    # One member fewer: a glance at the list, a tap, a glance at their line, their values on the review.
    assert with_self.seconds - without.seconds >= DEFAULT_MODEL.glance * 2 + DEFAULT_MODEL.tap
    assert _kinds(without, "movers").count("glance") == 2 and _kinds(with_self, "movers").count("glance") == 3


def test_a_shared_person_field_of_a_life_event_fills_the_shared_fields_and_hides_the_procedures_own() -> None:
    """The deceased picked once in a life event's shared fields: the shared name and birth date are not typed,
    and the procedure's own person field (mapped from the shared one) is not asked again."""
    procs = {"sample": proc(picked(PERSON))}
    shared_fields = [{"field": f, "maps_to": {"sample": f["id"]}} for f in CHILD_FIELDS]
    typed_event = msgspec.convert({**EVENT, "shared_fields": shared_fields}, LifeEvent)
    person_event = msgspec.convert({**EVENT, "shared_fields": [{"field": PERSON, "maps_to": {"sample": "child"}},
                                                               *shared_fields]}, LifeEvent)
    typed = estimate_life_event(typed_event, procs).estimate
    one_tap = estimate_life_event(person_event, procs).estimate
    assert one_tap.seconds < typed.seconds
    kinds = [(s.kind, s.field_id) for s in one_tap.breakdown]
    assert kinds.count(("pick", "child")) == 1 and ("type", "child_name") not in kinds
    assert [k for k in [(s.kind, s.field_id) for s in typed.breakdown] if k[1] == "child"] == []  # hidden: answered


def test_a_shared_pick_gives_the_procedures_own_person_field_its_other_values_as_prefilled() -> None:
    """The procedure's own person field fills more than the shared fields (死亡届's 性別 and 夫または妻): the shared
    pick gives them too (pwa/js/lifeevent.js copyShared), shown prefilled, folded when two or more; an attribute
    the registry never gives is still typed."""
    extra = [{"id": "child_sex", "type": "choice", "required": True, "label": {"ja": "性別"},
              "choices": [{"value": "male", "label": {"ja": "男"}}, {"value": "female", "label": {"ja": "女"}}]},
             {"id": "child_spouse", "type": "yesno", "required": True, "label": {"ja": "配偶者"}},
             {"id": "child_no", "type": "my_number", "required": True, "label": {"ja": "個人番号"}}]
    own = {**PERSON, "fills": {**PERSON["fills"], "child_sex": "sex", "child_spouse": "has_spouse", "child_no": "my_number"}}

    def mutate(d: dict[str, Any]) -> None:
        fields(d).extend([own, *CHILD_FIELDS, *extra])
    procs = {"sample": proc(mutate)}
    shared_fields = [{"field": f, "maps_to": {"sample": f["id"]}} for f in CHILD_FIELDS]
    event = msgspec.convert({**EVENT, "shared_fields": [{"field": PERSON, "maps_to": {"sample": "child"}},
                                                        *shared_fields]}, LifeEvent)
    est = estimate_life_event(event, procs).estimate
    assert _kinds(est, "child_sex") == [] and _kinds(est, "child_spouse") == []  # not chosen, not toggled
    assert [s.kind for s in est.breakdown if s.field_id == "main"].count("prefilled") == 1  # one folded line
    assert _kinds(est, "child_no") == ["type"]
