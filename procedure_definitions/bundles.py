"""What a life event asks across its procedures: a question asked twice in one bundle is a defect (PD240),
and so is a person's 個人番号 that a group of people does not carry to the next (PD241).

A resident filling a life event answers the shared fields once; every other field is asked by its own
procedure. Two procedures that can be included together and ask the same concept, not covered by a shared
field, make the resident answer it twice (issue 12: the previous postal code in the moving-in event).

The same concept is:
* a field prefilled from the same profile attribute (``prefill: name``: the resident's own name), or
* a field with the same id, the same type and the same Japanese label.
Notices (nothing to answer), calculated and read-only fields, staff-only parts and another party's sections
ask the resident nothing;
fields and sections shown on a condition are left out (the conditions may differ between procedures, and a
shared field cannot follow a procedure's own answers).
Two procedures can be included together when some yes/no answers to the life event's questions include
both (every combination is tried: life events have a handful of questions).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

from .checker import field_tag
from .expressions import evaluate, parse, truthy
from .model import GroupField, LifeEvent, MyNumberField, NoticeField, Procedure

__all__ = ["Repeat", "asked_concepts", "repeated_questions", "unmapped_person_numbers"]

_MAX_QUESTIONS = 12  # 4096 combinations at most; beyond, every pair counts as possibly included together


class Repeat(tuple[str, str, str, str, str]):
    """(concept, first procedure, its field, second procedure, its field)."""


def _staff_only(obj: object) -> bool:
    return bool(getattr(obj, "staff_only", False))


def asked_concepts(proc: Procedure) -> Iterator[tuple[str, str]]:
    """(concept, field id) for every top-level field of ``proc`` the resident answers."""
    for section in proc.sections:
        if _staff_only(section) or section.show_if or section.party:  # another party answers their own part
            continue
        for f in section.fields:
            if isinstance(f, NoticeField) or f.calculate or f.read_only or f.show_if or _staff_only(f):
                continue
            if f.prefill and not isinstance(f, GroupField):
                yield f"prefill:{f.prefill}", f.id
            else:
                yield f"{field_tag(f)}:{f.id}:{f.label.ja}", f.id


def _together(ev: LifeEvent) -> set[frozenset[str]]:
    """Pairs of procedure ids that some answers to the questions include together."""
    ids = [p.procedure for p in ev.procedures]
    if len(ev.questions) > _MAX_QUESTIONS:
        return {frozenset(pair) for pair in itertools.combinations(ids, 2)}
    conds = [(p.procedure, parse(p.include_if) if p.include_if else None) for p in ev.procedures]
    pairs: set[frozenset[str]] = set()
    for values in itertools.product((True, False), repeat=len(ev.questions)):
        answers = {q.id: v for q, v in zip(ev.questions, values, strict=True)}
        included = [pid for pid, ast in conds if ast is None or _holds(ast, answers)]
        pairs.update(frozenset(pair) for pair in itertools.combinations(included, 2))
    return pairs


def _holds(ast: Mapping[str, object], answers: Mapping[str, bool]) -> bool:
    try:
        return truthy(evaluate(ast, answers))
    except Exception:  # a broken include_if is reported by the checker; count the procedure as included
        return True


def repeated_questions(ev: LifeEvent, procedures: Mapping[str, Procedure]) -> list[tuple[int, Repeat]]:
    """(index in ``ev.procedures`` of the second asker, repeat) for each concept asked twice."""
    covered = {(proc_id, field_id) for s in ev.shared_fields for proc_id, field_id in s.maps_to.items()}
    together = _together(ev)
    askers: dict[str, list[tuple[str, str]]] = {}
    out: list[tuple[int, Repeat]] = []
    for i, lp in enumerate(ev.procedures):
        proc = procedures.get(lp.procedure)
        if proc is None:
            continue
        for concept, field_id in asked_concepts(proc):
            if (lp.procedure, field_id) in covered:
                continue
            before = askers.setdefault(concept, [])
            prev = next((a for a in before if a[0] != lp.procedure and frozenset((a[0], lp.procedure)) in together), None)
            if prev is not None:
                name = concept.split(":")[1] if concept.startswith("prefill:") else field_id
                out.append((i, Repeat((name, prev[0], prev[1], lp.procedure, field_id))))
            before.append((lp.procedure, field_id))
    return out


def _people_groups(proc: Procedure) -> list[GroupField]:
    return [f for section in proc.sections for f in section.fields if isinstance(f, GroupField) and f.prefill_map]


def unmapped_person_numbers(ev: LifeEvent, procedures: Mapping[str, Procedure]) -> list[tuple[int, str, str, str]]:
    """(index in ``ev.procedures``, procedure, group, item) for each 個人番号 item of a group of people that its
    ``prefill_map`` does not map to ``my_number``, in a procedure included together with another one that has
    a group of people (PD241): a person entered in one would be asked their 個人番号 again in the other
    (the PWA carries mapped attributes from group to group in a bundle: pwa/js/people.js enteredPeople)."""
    together = _together(ev)
    with_people = {p.procedure for p in ev.procedures
                   if (proc := procedures.get(p.procedure)) is not None and _people_groups(proc)}
    out: list[tuple[int, str, str, str]] = []
    for i, lp in enumerate(ev.procedures):
        proc = procedures.get(lp.procedure)
        if proc is None or not any(frozenset((lp.procedure, o)) in together for o in with_people if o != lp.procedure):
            continue
        for g in _people_groups(proc):
            for item in g.fields:
                if isinstance(item, MyNumberField) and (g.prefill_map or {}).get(item.id) != "my_number":
                    out.append((i, lp.procedure, g.id, item.id))
    return out
