"""How long a life event takes on a phone: the questions, the shared fields once, then what each procedure still asks.

The same keystroke-level model as :mod:`.timing` (docs/time-model.md, "Life events"), following the PWA's
navigator (pwa/js/page-event.js, page-bundle.js): the resident answers the yes/no questions, reads which
procedures apply and what to bring, enters the shared fields once (prefilled where a procedure's field they
feed is prefilled), then each included procedure's remaining screens, one review and one submit for all.
:func:`estimate_life_event` is a pure function of the definitions and the question answers.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from .expressions import EvalError, evaluate, parse, truthy
from .expressions.errors import ExprSyntaxError
from .model import (
    UNDISCLOSED_MEMBER_ATTRIBUTES,
    Field,
    GroupField,
    LifeEvent,
    LifeEventProcedure,
    PersonField,
    Procedure,
    Question,
    Section,
    SharedField,
    iter_fields,
    procedure_fields,
)
from .timing import (
    BUDGET_SECONDS,
    DEFAULT_HOUSEHOLD,
    DEFAULT_MODEL,
    Context,
    Estimate,
    Step,
    TouchModel,
    finish,
    linked_addresses,
    procedure_context,
    review_steps,
    section_shown,
    section_steps,
    text_chars,
)

__all__ = [
    "LifeEventEstimate",
    "estimate_life_event",
    "every_yes",
    "format_life_event",
    "included_procedures",
]

# The questions are evaluated like the PWA does: a fixed day keeps the estimate pure (no date() in them).
_TODAY = "2000-01-01"


class LifeEventEstimate(msgspec.Struct):
    estimate: Estimate
    procedures: list[str]  # the included procedure ids, in the event's order
    missing: list[str]  # included procedure ids the library does not have (not costed)


def _holds(expr: str | None, answers: Mapping[str, bool]) -> bool:
    if expr is None:
        return True
    try:
        return truthy(evaluate(parse(expr), dict(answers), today=_TODAY))
    except (EvalError, ExprSyntaxError):
        return False  # the checker reports bad expressions; here they include nothing


def _visible(event: LifeEvent, answers: Mapping[str, bool]) -> list[Question]:
    return [q for q in event.questions if _holds(q.show_if, answers)]


def included_procedures(event: LifeEvent, answers: Mapping[str, bool]) -> list[LifeEventProcedure]:
    """The procedures a resident with these answers is led to (unanswered questions count as no)."""
    return [p for p in event.procedures if _holds(p.include_if, answers)]


def every_yes(event: LifeEvent) -> dict[str, bool]:
    """Answers that include every procedure whose condition can hold: each visible question yes, in order.

    A question answered yes can also exclude (``not is_public_servant``): then it stays no when that
    includes more procedures.
    """
    answers: dict[str, bool] = {}
    for q in event.questions:
        if not _holds(q.show_if, answers):
            continue
        yes = len(included_procedures(event, {**answers, q.id: True}))
        no = len(included_procedures(event, {**answers, q.id: False}))
        answers[q.id] = yes >= no
    return answers


def _shared_field(sf: SharedField, procs: Mapping[str, Procedure]) -> Field:
    """The shared field as the resident meets it: prefilled when a procedure's field it feeds is prefilled."""
    if sf.field.prefill:
        return sf.field
    for pid, target in sf.maps_to.items():
        proc = procs.get(pid)
        if proc is None:
            continue
        for section in proc.sections:
            for f, parent in iter_fields(section.fields):
                if parent is None and f.id == target and f.prefill:
                    return msgspec.structs.replace(sf.field, prefill=f.prefill, prefill_part=f.prefill_part,
                                                   prefill_values=f.prefill_values)
    return sf.field


def _people_attributes(section: Section) -> frozenset[str]:
    """The person attributes a section's groups of people fill: later groups pick those people again."""
    return frozenset(attr for f, _ in iter_fields(section.fields)
                     if isinstance(f, GroupField) and f.prefill_map for attr in f.prefill_map.values())


def _picked_here(shared: list[SharedField], pid: str, proc: Procedure, asked: frozenset[str]) -> frozenset[str]:
    """The fields of ``proc`` a shared person field's pick fills through the procedure's own person field it
    feeds (死亡届's 性別 and 夫または妻 with the deceased picked once): prefilled values there (pwa/js/lifeevent.js
    copyShared), but those a shared field fills itself and attributes the registry never gives."""
    own = {f.id: f for f, parent in procedure_fields(proc) if parent is None and isinstance(f, PersonField)}
    return frozenset(fid for sf in shared if isinstance(sf.field, PersonField) and (p := own.get(sf.maps_to.get(pid, "")))
                     for fid, attr in (p.fills or {}).items()
                     if fid not in asked and attr not in UNDISCLOSED_MEMBER_ATTRIBUTES)


def estimate_life_event(
    event: LifeEvent,
    procedures: Mapping[str, Procedure],
    answers: Mapping[str, bool] | None = None,
    model: TouchModel = DEFAULT_MODEL,
    *,
    household: int = DEFAULT_HOUSEHOLD,
) -> LifeEventEstimate:
    """Seconds for a signed-in, bound resident to complete ``event`` with these question answers."""
    m = model
    answers = dict(answers or {})
    steps: list[Step] = [Step("start", None, (text_chars(event.title) + text_chars(event.description)) * m.read_char)]
    questions = _visible(event, answers)
    asking = sum(text_chars(q.label) * m.read_char + m.mental + m.tap for q in questions)
    steps.append(Step("questions", None, asking))
    included = included_procedures(event, answers)
    found = {p.procedure: procedures[p.procedure] for p in included if p.procedure in procedures}
    missing = [p.procedure for p in included if p.procedure not in procedures]
    # The result: the procedures that apply (title and reason), what to bring (each document once), 「まとめて」.
    docs = {d.label.ja: d for proc in found.values() for d in proc.documents if d.required_if is None}
    result = sum(text_chars(found[p.procedure].title) + text_chars(p.reason) for p in included if p.procedure in found)
    result += sum(text_chars(d.label) + text_chars(d.note) for d in docs.values())
    steps.append(Step("start", None, result * m.read_char + m.tap))
    shared = [sf for sf in event.shared_fields if any(pid in found for pid in sf.maps_to)]
    shared_section = Section(id="shared", title=event.title, fields=[_shared_field(sf, found) for sf in shared])
    linked = linked_addresses(shared_section.fields)
    # A shared person field (the deceased picked from the household) fills shared fields: those are not typed.
    persons = tuple(f for f in shared_section.fields if isinstance(f, PersonField))
    answered = section_steps(shared_section, m, steps, Context(household=household, linked=linked, persons=persons))
    # Person attributes the people so far hold: the life event's people (of the shared answers), then each group's.
    asked_shared = {sf.field.id for sf in shared}
    known: dict[str, int] = {}
    for person in event.people:
        for attr in {a for fid, a in person.map.items() if fid in asked_shared}:
            known[attr] = known.get(attr, 0) + 1
    for pid, proc in found.items():
        # A field a shared field fills, or that an asked question's answer fills (its maps_to), is not asked again.
        asked = frozenset([*(target for sf in shared for p, target in sf.maps_to.items() if p == pid),
                           *(target for q in questions for p, target in q.maps_to.items() if p == pid)])
        ctx = msgspec.structs.replace(procedure_context(proc, household), asked=asked, people_known=dict(known),
                                      picked=_picked_here(shared, pid, proc, asked))
        for section in proc.sections:
            if section_shown(section, ctx):
                answered += section_steps(section, m, steps, ctx)
                for attr in _people_attributes(section):  # every picked member has it now
                    known[attr] = max(known.get(attr, 0), household)
    est = finish(steps + review_steps(answered, m))
    return LifeEventEstimate(estimate=est, procedures=list(found), missing=missing)


def format_life_event(event: LifeEvent, est: LifeEventEstimate, every: LifeEventEstimate) -> list[str]:
    """``moving-within 1.0.0: 48 s (within 60 s; tenkyo)``, then a line for every procedure when that differs."""
    budget = f"{BUDGET_SECONDS:.0f} s"

    def part(e: LifeEventEstimate) -> str:
        verdict = f"within {budget}" if not e.estimate.over_budget else f"over the {budget} budget"
        procs = ", ".join(e.procedures) or "no procedure"
        missing = f"; not in the library: {', '.join(e.missing)}" if e.missing else ""
        return f"{e.estimate.seconds:.0f} s ({verdict}; {procs}{missing})"

    lines = [f"{event.id} {event.version}: {part(est)}"]
    if every.procedures != est.procedures:
        lines.append(f"  with every procedure: {part(every)}")
    return lines
