"""The counter interview's pure logic (no I/O): which procedures a life event's answers include and why, which
fields of each procedure the interview still asks, the registry prefill, and each procedure's answers to file.

The derivation follows the resident's bundle exactly (``pwa/js/lifeevent.js`` ``applicableProcedures`` with
``pwa/js/expr.js``, which the console's live list imports as they are): a procedure without ``include_if`` is
included, one with it when the expression over the questions' answers is true (an unanswered question is
null, an expression error excludes). The clerk may then add a procedure the event does not list, or remove
one it does, each with a reason (kept in the draft, shown, audited by the caller).

A draft is a plain JSON object (stored by ``server.storage.interviews``)::

    {"questions": {qid: bool}, "shared": {field id: value}, "answers": {procedure id: {field id: value}},
     "added": {procedure id: reason}, "removed": {procedure id: reason},
     "documents": {procedure id: [document id]}}

``documents``: the 持ち物 the clerk ticked as seen (「窓口で確認した書类」; a draft saved before it has none).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from procedure_definitions.expressions import evaluate, parse, truthy
from procedure_definitions.forms import evaluate_procedure
from procedure_definitions.model import (
    Field,
    GroupField,
    LifeEvent,
    NoticeField,
    PersonField,
    Procedure,
)
from server.prefill_check import prefill_value

__all__ = [
    "Derived",
    "asked_fields",
    "condition_words",
    "covered",
    "derive",
    "empty_draft",
    "filing_answers",
    "filing_required",
    "included_ids",
    "prefill_draft",
    "required_now",
    "shared_required",
    "shown",
]


def empty_draft() -> dict[str, Any]:
    return {"questions": {}, "shared": {}, "answers": {}, "added": {}, "removed": {}, "documents": {}}


@dataclass(frozen=True)
class Derived:
    """One procedure of the derived list: included or not, why (the event's reason or the clerk's), the
    condition in words, and its ``include_if`` AST for the live list (None: always, or added by hand)."""

    procedure: str
    included: bool
    reason: str
    condition: str = ""
    manual: str = ""  # "added" | "removed" | ""
    manual_reason: str = ""
    filed: str = ""  # the 受付番号 of this procedure's application already filed in the visit ("" none)
    include_if: dict[str, Any] | None = field(default=None, compare=False)


def _question_values(ev: LifeEvent, questions: Mapping[str, Any]) -> dict[str, Any]:
    return {q.id: questions[q.id] if isinstance(questions.get(q.id), bool) else None for q in ev.questions}


def _holds(ast: Mapping[str, Any] | None, values: Mapping[str, Any], on_error: bool = False) -> bool:
    """``on_error``: what a condition that cannot be decided means (the bundle: not included; the form engine:
    a ``show_if`` shown, a ``required_if`` not required)."""
    if ast is None:
        return True
    try:
        return truthy(evaluate(ast, values))
    except Exception:
        return on_error


def condition_words(ev: LifeEvent, include_if: str | None) -> str:
    """``include_if`` in the clerk's words: 「質問」がはい／いいえ joined by 、 for the usual forms (a question,
    ``not`` a question, ``and`` of those); otherwise the questions it depends on."""
    if not include_if:
        return ""
    labels = {q.id: q.label.ja for q in ev.questions}

    def words(ast: Mapping[str, Any]) -> list[str] | None:
        ref = ast.get("ref")
        if isinstance(ref, list) and len(ref) == 1 and ref[0] in labels:
            return [f"「{labels[ref[0]]}」がはい"]
        args = ast.get("args") or []
        if ast.get("op") == "not" and len(args) == 1 and isinstance(args[0].get("ref"), list):
            inner = args[0]["ref"]
            if len(inner) == 1 and inner[0] in labels:
                return [f"「{labels[inner[0]]}」がいいえ"]
        if ast.get("op") == "and":
            parts = [words(a) for a in args]
            if all(p is not None for p in parts):
                return [w for p in parts if p for w in p]
        return None

    ast = parse(include_if)
    said = words(ast)
    if said is not None:
        return "、".join(said)
    used = [q.label.ja for q in ev.questions if q.id in include_if]
    return "「" + "」「".join(used) + "」の回答による" if used else ""


def derive(ev: LifeEvent, draft: Mapping[str, Any], known: Mapping[str, Procedure],
           filed: Mapping[str, str] | None = None) -> list[Derived]:
    """The derived list in the event's order, then the procedures added by hand (those ``known`` only).

    ``filed``: procedure id -> 受付番号 of the applications the visit already holds (an earlier interview's, or
    one attached): such a procedure is not derived again (「この来庁で申請済み」), so never filed twice by a
    second life event; only the clerk's add by hand, with its reason, files it again (子ども医療費 is one
    application per child). The screen, the live list (``data-filed``) and the finish all read this list."""
    filed = filed or {}
    values = _question_values(ev, draft.get("questions") or {})
    removed: Mapping[str, str] = draft.get("removed") or {}
    added: Mapping[str, str] = draft.get("added") or {}
    out: list[Derived] = []
    for lp in ev.procedures:
        ast = parse(lp.include_if) if lp.include_if else None
        by_rule = _holds(ast, values)
        # By hand: removed (whatever the rule says), or added although the rule leaves it out.
        manual = "removed" if lp.procedure in removed else "added" if lp.procedure in added else ""
        done = lp.procedure in filed
        out.append(Derived(procedure=lp.procedure,
                           included=manual == "added" or (by_rule and not manual and not done),
                           reason=lp.reason.ja if lp.reason else "", condition=condition_words(ev, lp.include_if),
                           manual=manual, manual_reason=removed.get(lp.procedure, added.get(lp.procedure, "")),
                           filed=filed.get(lp.procedure, ""), include_if=ast))
    listed = {lp.procedure for lp in ev.procedures}
    for pid, why in added.items():
        if pid in known and pid not in listed:
            out.append(Derived(procedure=pid, included=True, reason="", manual="added", manual_reason=why,
                               filed=filed.get(pid, "")))
    return out


def included_ids(derived: list[Derived]) -> list[str]:
    return [d.procedure for d in derived if d.included]


def covered(ev: LifeEvent, pid: str, questions: Mapping[str, Any]) -> set[str]:
    """The field ids of ``pid`` that the shared fields fill, and the answered questions' ``maps_to``."""
    out = {s.maps_to[pid] for s in ev.shared_fields if pid in s.maps_to}
    out |= {q.maps_to[pid] for q in ev.questions if pid in q.maps_to and isinstance(questions.get(q.id), bool)}
    return out


def shown(f: Field, answers: Mapping[str, Any]) -> bool:
    """Whether a field's ``show_if`` holds on ``answers`` (absent or undecidable: shown, as the form engine)."""
    return _holds(parse(f.show_if) if f.show_if else None, answers, on_error=True)


def required_now(f: Field, answers: Mapping[str, Any]) -> bool:
    """Whether filing will require ``f`` on ``answers``: ``required``, or a ``required_if`` that holds
    (undecidable: not required), as the form engine decides (procedure_definitions/forms.py ``_required``)."""
    return f.required or (f.required_if is not None and _holds(parse(f.required_if), answers))


def filing_required(ev: LifeEvent, procs: Mapping[str, Procedure], draft: Mapping[str, Any], included: list[str]
                    ) -> dict[str, set[str]]:
    """Per included procedure, the top-level fields filing requires now on the answers it files: the form
    engine's ``required`` (``procedure_definitions.forms.evaluate_procedure``, staff filing), the one rule."""
    out: dict[str, set[str]] = {}
    for pid in included:
        proc = procs.get(pid)
        if proc is not None:
            state = evaluate_procedure(proc, filing_answers(ev, pid, draft), filer="staff")
            out[pid] = {path for path in state.required if "." not in path and "[" not in path}
    return out


def shared_required(ev: LifeEvent, required: Mapping[str, set[str]]) -> set[str]:
    """The shared fields filing requires now, by the PWA's rule (``pwa/js/lifeevent.js`` ``sharedRequired``): a
    shared field is required iff it fills a field an included procedure requires now (``required``:
    :func:`filing_required`); its own ``required`` refuses nothing by itself."""
    return {s.field.id for s in ev.shared_fields for pid, fid in s.maps_to.items() if fid in required.get(pid, ())}


def asked_fields(ev: LifeEvent, proc: Procedure, draft: Mapping[str, Any], *, hidden: bool = False
                 ) -> list[tuple[str, list[Field]]]:
    """(section title, fields) of ``proc`` the interview still asks: top-level fields the shared fields and
    answered questions do not fill, without calculated ones and those whose ``show_if`` is false on the
    answers to file now (``hidden``: with those too, for the screen to show when they hold); staff-only fields
    included (the counter fills them here), and a two-person procedure's other party's section too (staff file
    the whole application: ``server.filing.check_filing`` validates every part; both are at the counter). A person field whose every target is filled elsewhere is not asked
    (as the PWA hides it: picking there would fill nothing)."""
    skip = covered(ev, proc.id, draft.get("questions") or {})
    answers = filing_answers(ev, proc.id, draft)
    out: list[tuple[str, list[Field]]] = []
    for s in proc.sections:
        if s.show_if and not _holds(parse(s.show_if), answers):
            continue
        fields = [f for f in s.fields if f.id not in skip and not f.calculate and (hidden or shown(f, answers))
                  and not (isinstance(f, PersonField) and f.fills and set(f.fills) <= skip)]
        if fields:
            out.append((s.title.ja, fields))
    return out


def filing_answers(ev: LifeEvent, pid: str, draft: Mapping[str, Any]) -> dict[str, Any]:
    """What the interview files for ``pid``: its own answers, then the shared fields and the answered questions
    copied into the fields their ``maps_to`` name (as the bundle's copyShared / copyQuestions)."""
    answers: dict[str, Any] = copy.deepcopy(dict((draft.get("answers") or {}).get(pid) or {}))
    shared: Mapping[str, Any] = draft.get("shared") or {}
    for s in ev.shared_fields:
        target = s.maps_to.get(pid)
        if target is None:
            continue
        value = shared.get(s.field.id)
        if value in (None, "", [], {}):
            answers.pop(target, None)
        else:
            answers[target] = copy.deepcopy(value)
    questions: Mapping[str, Any] = draft.get("questions") or {}
    for q in ev.questions:
        if pid in q.maps_to and isinstance(questions.get(q.id), bool):
            answers[q.maps_to[pid]] = questions[q.id]
    return answers


def _prefill_value(f: Field, profile: Mapping[str, Any]) -> Any:
    """The registry's value for a field (``server.prefill_check.prefill_value``, the one rule); a group of
    people prefilled without ticking gets every member's item, a ticking group none (the clerk ticks) unless
    its people are the transfer's movers."""
    if not f.prefill or f.prefill not in profile or isinstance(f, NoticeField | PersonField):
        return None
    value = profile[f.prefill]
    if isinstance(f, GroupField):
        # A ticking group of the household waits for the clerk's ticks; the movers of an imported 転出証明書情報
        # are exactly the people who moved: ticked already.
        if not isinstance(value, list) or not f.prefill_map or (f.pick and f.prefill != "transfer_movers"):
            return None
        return [{fid: m[attr] for fid, attr in f.prefill_map.items() if m.get(attr) not in (None, "")}
                for m in value if isinstance(m, Mapping)]
    return copy.deepcopy(prefill_value(f, dict(profile)))


def _agreed_prefill(maps_to: Mapping[str, str], procs: Mapping[str, Procedure], profile: Mapping[str, Any]) -> Any:
    """A shared field without its own ``prefill`` takes the registry value its procedure fields would have, only
    when every one of them is prefilled from the same attribute: 転居's 新しい住所 feeds 転居届's new address
    (asked) and 住民票の写し's applicant address (prefilled with the current one), so it is asked, not guessed."""
    targets = []
    for pid, fid in maps_to.items():
        proc = procs.get(pid)
        found = next((f for s in proc.sections for f in s.fields if f.id == fid), None) if proc else None
        if found is not None:
            targets.append(found)
    kinds = {(f.prefill, f.prefill_part) for f in targets}
    if len(kinds) != 1 or next(iter(kinds))[0] is None:
        return None
    return _prefill_value(targets[0], profile)


def prefill_draft(ev: LifeEvent, procs: Mapping[str, Procedure], profile: Mapping[str, Any],
                  procedures: Sequence[str] | None = None) -> tuple[dict[str, Any], set[str]]:
    """A new draft prefilled from the resident's registry profile: each procedure's fields with a ``prefill``,
    each question with a ``prefill`` the profile holds (``q:{id}``), then each shared field from its own ``prefill`` or, failing that, the first prefilled procedure field it
    maps to (the bundle's seedShared); not another party's section (its prefill is that person's own record, as
    the PWA fills it from their account). ``(draft, keys prefilled)``; keys are ``scope:field``.
    ``procedures``: those ids instead of the event's (the screen's list, with those added by hand: what the
    records give each field, shown 「住民記録より：…」 against the answer)."""
    draft = empty_draft()
    filled: set[str] = set()
    for pid in procedures if procedures is not None else [lp.procedure for lp in ev.procedures]:
        proc = procs.get(pid)
        if proc is None:
            continue
        mine: dict[str, Any] = {}
        # Another party's section (婚姻届's 相手の方) is that person's, never the resident's record: typed.
        for s in (x for x in proc.sections if not x.party):
            for f in s.fields:
                v = _prefill_value(f, profile)
                if v not in (None, "", []):
                    mine[f.id] = v
                    filled.add(f"{proc.id}:{f.id}")
        draft["answers"][proc.id] = mine
    for q in ev.questions:
        # A yes/no the records answer (``Question.prefill``): a suggestion, marked for the clerk to confirm.
        known = profile.get(q.prefill) if q.prefill else None
        if isinstance(known, bool):
            draft["questions"][q.id] = known
            filled.add(f"q:{q.id}")
    for sf in ev.shared_fields:
        v = _prefill_value(sf.field, profile)
        if v in (None, "", []) and sf.field.prefill is None:
            v = _agreed_prefill(sf.maps_to, procs, profile)
        if v not in (None, "", []):
            draft["shared"][sf.field.id] = copy.deepcopy(v)
            filled.add(f"s:{sf.field.id}")
    return draft, filled
