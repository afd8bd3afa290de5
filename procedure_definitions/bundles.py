"""What a life event asks across its procedures: a question asked twice in one bundle is a defect (PD240),
and so is a person's 個人番号 that a group of people does not carry to the next (PD241), and a procedure's
field asking again what one of the life event's yes/no questions asked (PD245, :func:`reasked_questions`).

A resident filling a life event answers the shared fields once; every other field is asked by its own
procedure. Two procedures that can be included together and ask the same concept, not covered by a shared
field, make the resident answer it twice (issue 12: the previous postal code in the moving-in event).

The same concept is:
* a field prefilled from the same profile attribute (``prefill: name``: the resident's own name), or
* a field with the same id, the same type and the same Japanese label (a person field too: the person it
  picks; one whose filled fields the shared fields all answer is hidden, so it asks nothing).
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
from .errors import did_you_mean
from .expressions import evaluate, parse, truthy
from .model import (
    Field,
    GroupField,
    LifeEvent,
    MyNumberField,
    NoticeField,
    PersonField,
    Procedure,
    Question,
    Section,
    SharedField,
    YesNoField,
)
from .parties import FIRST_FILER, section_party

__all__ = [
    "Repeat",
    "asked_concepts",
    "fill_problem",
    "question_fill_problem",
    "reasked_questions",
    "repeated_questions",
    "unmapped_person_numbers",
]

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
            # A partial prefill (the 氏 of the filer's name) asks the rest, and a value derived from an attribute
            # (prefill_values) is another answer than the attribute: each is its own question, not the prefill's.
            if f.prefill and not f.prefill_part and f.prefill_values is None and not isinstance(f, GroupField | PersonField):  # a list of people: who is asked
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
    covered = _covered(ev)
    together = _together(ev)
    askers: dict[str, list[tuple[str, str]]] = {}
    out: list[tuple[int, Repeat]] = []
    for i, lp in enumerate(ev.procedures):
        proc = procedures.get(lp.procedure)
        if proc is None:
            continue
        # A person field whose every filled field a shared field answers is not shown (nothing to pick).
        hidden = {f.id for section in proc.sections for f in section.fields if isinstance(f, PersonField)
                  and f.fills and all((lp.procedure, t) in covered for t in f.fills)}
        for concept, field_id in asked_concepts(proc):
            if (lp.procedure, field_id) in covered or field_id in hidden:
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


def _covered(ev: LifeEvent) -> set[tuple[str, str]]:
    """(procedure, field) pairs a shared field or a question's answer fills: the bundle does not ask them."""
    return ({(proc_id, field_id) for s in ev.shared_fields for proc_id, field_id in s.maps_to.items()}
            | {(proc_id, field_id) for q in ev.questions for proc_id, field_id in q.maps_to.items()})


def _fill_barrier(section: Section, f: Field) -> tuple[str, str] | None:
    """Why nothing the resident answers in a life event may fill ``f`` (of ``section``), whatever fills it."""
    if section_party(section) != FIRST_FILER:
        return "party", "another party fills it from their own account"
    if _staff_only(f) or _staff_only(section):
        return "staff_only", "it is staff-only (the server refuses it from residents)"
    if f.calculate:
        return "calculated", "it is calculated"
    if f.read_only:
        return "read_only", "it is read-only"
    return None


def fill_problem(ev: LifeEvent, proc: Procedure, field_id: str, source: SharedField | Question) -> tuple[str, str] | None:
    """Why ``source`` (a shared field or a question of ``ev``) may not fill ``proc``'s top-level ``field_id``:
    ``(kind, reason)`` or None. The one rule of what a life event may fill, for shared fields (PD235, PD236)
    and questions (PD244): not another party's field, a staff-only, calculated or read-only one, nor one that
    another source fills already (the later one is reported: an earlier shared field; for a question, any shared
    field or an earlier question). The caller has checked that the field exists."""
    where = {f.id: (f, s) for s in proc.sections for f in s.fields}
    f, section = where[field_id]
    if (barrier := _fill_barrier(section, f)) is not None:
        return barrier
    asking = isinstance(source, Question)
    shared = ev.shared_fields if asking else itertools.takewhile(lambda s: s is not source, ev.shared_fields)
    if (other := next((s.field.id for s in shared if s.maps_to.get(proc.id) == field_id), None)) is not None:
        return "twice", f"shared field '{other}' fills it too"
    questions = itertools.takewhile(lambda o: o is not source, ev.questions) if asking else ()
    if (q := next((o.id for o in questions if o.maps_to.get(proc.id) == field_id), None)) is not None:
        return "twice", f"question '{q}' fills it too"
    return None


def _resident_yesno_fields(proc: Procedure) -> Iterator[YesNoField]:
    """Top-level yes/no fields a life event's question could fill (:func:`fill_problem`'s barriers). Unlike
    PD240, fields and sections shown on a condition count: a question answered before the bundle starts can fill
    them whatever the condition."""
    for section in proc.sections:
        for f in section.fields:
            if isinstance(f, YesNoField) and _fill_barrier(section, f) is None:
                yield f


def reasked_questions(ev: LifeEvent, procedures: Mapping[str, Procedure]) -> list[tuple[int, str, str]]:
    """(question index, procedure, field) for each procedure field of the life event that asks again what a
    question asked, without the question's ``maps_to`` filling it (PD245). The same thing is a yes/no field
    with the question's id or its Japanese label (birth's 「収入が多い方の親は公務員ですか」 and 児童手当's
    ``is_public_servant``)."""
    covered = _covered(ev)
    out: list[tuple[int, str, str]] = []
    for qi, q in enumerate(ev.questions):
        for lp in ev.procedures:
            proc = procedures.get(lp.procedure)
            if proc is None:
                continue
            for f in _resident_yesno_fields(proc):
                same = f.id == q.id or f.label.ja == q.label.ja
                if same and (lp.procedure, f.id) not in covered:
                    out.append((qi, lp.procedure, f.id))
    return out


def question_fill_problem(ev: LifeEvent, q: Question, proc: Procedure, field_id: str) -> tuple[str, dict[str, str]] | None:
    """Why question ``q`` cannot fill ``proc``'s ``field_id`` ((code, template arguments)), or None.

    The answer is a yes/no the resident gave for themselves: it fills a top-level yesno field of the first
    filer's part that the resident would otherwise answer, and nothing else fills it."""
    where: dict[str, tuple[Field, object]] = {f.id: (f, s) for s in proc.sections for f in s.fields}
    base = {"question": q.id, "procedure": proc.id, "field": field_id}
    if field_id not in where:
        return "PD242", {**base, "hint": did_you_mean(field_id, where)}
    f, _ = where[field_id]
    if not isinstance(f, YesNoField):
        return "PD243", {**base, "field_type": field_tag(f)}
    bad = fill_problem(ev, proc, field_id, q)
    return ("PD244", {**base, "reason": bad[1]}) if bad else None
