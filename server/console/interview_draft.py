"""The posted interview screen into its draft (no I/O): every field read back (``interview_form.read_value``),
a person picked anew filling the fields it fills (``server.prefill_check.pick_person``, the PWA's rule),
procedures added or removed by hand with a reason, rows of a group added or removed, and the documents the
counter saw per procedure (``documents``). The page handlers
(``interview_pages``) save the result and audit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from procedure_definitions.expressions import parse
from procedure_definitions.model import GroupField, LifeEvent, PersonField, Procedure
from server.console.interview_form import change_rows, members_of, person_offered, read_value, typed_rows
from server.interview_plan import filing_answers
from server.prefill_check import pick_person
from server.visit_documents import declared_ids, required_docs

__all__ = ["Doc", "documents_of", "manual_change", "read_draft", "row_change", "seen_at_finish"]


def read_draft(ev: LifeEvent, procs: dict[str, Procedure], draft: dict[str, Any], form: Any, profile: dict[str, Any],
          resident_id: str) -> dict[str, Any]:
    """The posted screen into the draft: every question, shared field and the procedures' fields rendered (of
    the interview's procedures: the event's and those added by hand)."""
    posted = set(form.getall("_fields", []))  # the marker input of every field the screen rendered
    for q in ev.questions:
        v = str(form.get(f"q.{q.id}") or "")
        draft["questions"][q.id] = True if v == "yes" else False if v == "no" else None
    shared = [sf.field for sf in ev.shared_fields]
    picks = _picks(shared, "s", draft["shared"], posted)
    for f in shared:
        if f"s.{f.id}" in posted:
            draft["shared"][f.id] = read_value(f, "s", form, profile=profile, resident_id=resident_id)
    _apply_picks(picks, draft["shared"], profile, resident_id)
    for pid in dict.fromkeys([*(lp.procedure for lp in ev.procedures), *draft["added"]]):
        proc = procs.get(pid)
        if proc is None:
            continue
        mine = draft["answers"].setdefault(pid, {})
        fields = [f for section in proc.sections for f in section.fields]
        picks = _picks(fields, pid, mine, posted)
        for f in fields:
            if f"{pid}.{f.id}" in posted:
                v = read_value(f, pid, form, profile=profile, resident_id=resident_id)
                if v is None:
                    mine.pop(f.id, None)
                else:
                    mine[f.id] = v
        _apply_picks(picks, mine, profile, resident_id)
    # 「窓口で確認した書類」: the ticks of each procedure whose fieldset was on the screen (its ``_docs`` marker),
    # only ids its definition declares (a forged one is dropped); filing keeps those it requires then.
    docs = draft.setdefault("documents", {})
    for pid in form.getall("_docs", []):
        proc = procs.get(str(pid))
        if proc is not None and str(pid) in draft["answers"]:
            docs[proc.id] = declared_ids(proc, (str(v) for v in form.getall(f"_docs.{pid}", [])))
    return draft


def _picks(fields: list[Any], scope: str, answers: dict[str, Any], posted: set[str]
           ) -> list[tuple[PersonField, Any]]:
    """The person fields on the screen posted (``posted``: its field markers), each with its pick before this post."""
    return [(f, answers.get(f.id)) for f in fields if isinstance(f, PersonField) and f"{scope}.{f.id}" in posted]


def _apply_picks(picks: list[tuple[PersonField, Any]], answers: dict[str, Any], profile: dict[str, Any],
                 resident_id: str) -> None:
    """A person picked anew fills the fields it ``fills`` with their registry values (「ここにない人」 clears
    those still as filled), by the one rule of the PWA's picker (``server.prefill_check.pick_person``);
    the values posted with the pick are what the clerk saw, so a value typed there stays."""
    for f, before in picks:
        now = answers.get(f.id)
        if now == before:
            continue
        if before is None:
            answers.pop(f.id, None)
        else:
            answers[f.id] = before
        people = [m for m in profile.get(f.prefill or "") or [] if isinstance(m, dict)]
        person = next((m for m in person_offered(f, profile, resident_id) if now and m.get("member_id") == now), None)
        pick_person(f, answers, people, resident_id, person)


def manual_change(draft: dict[str, Any], op: str, pid: str, reason: str, procs: dict[str, Procedure],
            ev: LifeEvent) -> str | None:
    """Apply 「加える」/「外す」/「戻す」 to the draft; an error message in Japanese, or None."""
    listed = {lp.procedure for lp in ev.procedures}
    if op == "restore":
        draft["added"].pop(pid, None)
        draft["removed"].pop(pid, None)
        return None
    if not reason:
        return "理由を入力してください。"
    if pid not in procs or (op == "add" and "staff" not in procs[pid].filers):
        return "手続きを選んでください。"
    if op == "add":  # a listed procedure the answers leave out is included by hand too
        draft["removed"].pop(pid, None)
        draft["added"][pid] = reason
    else:
        draft["added"].pop(pid, None)
        if pid in listed:
            draft["removed"][pid] = reason
    return None


def row_change(ev: LifeEvent, procs: dict[str, Procedure], draft: dict[str, Any], op: str, profile: dict[str, Any],
            rid: str) -> tuple[str, str]:
    """「行を追加」 ``row_add:{scope}.{group}`` / 「この行を削除」 ``row_del:{scope}.{group}:{row}`` (the row's place
    among the typed rows) on a group typed row by row, or a group of people (someone not offered, typed):
    (message when refused, the fragment to return to: the new row, or the group)."""
    kind, _, rest = op.partition(":")
    target, _, row = rest.partition(":")
    scope, _, gid = target.partition(".")
    if scope == "s":
        fields, answers = [sf.field for sf in ev.shared_fields], draft["shared"]
    elif scope in procs:
        fields = [f for sec in procs[scope].sections for f in sec.fields]
        answers = draft["answers"].setdefault(scope, {})
    else:
        return "行を操作できません。", ""
    f = next((x for x in fields if x.id == gid and isinstance(x, GroupField) and (x.prefill_map or not x.prefill)),
             None)
    if f is None:
        return "行を操作できません。", ""
    people = members_of(f, profile, rid) if f.prefill else []
    rows, message = change_rows(f, answers.get(gid), "add" if kind == "row_add" else "del", row, people)
    answers[gid] = rows
    if kind == "row_add" and not message:
        j = len(typed_rows(f, rows, people)) - 1
        return "", f"#i-{scope}-{gid}-{'r' if f.prefill else ''}{j}"
    return message, f"#i-{scope}-{gid}"


@dataclass(frozen=True)
class Doc:
    """One checkbox of a procedure's 「窓口で確認した書類」: a document it declares, ticked or not; ``required_if``
    (AST) for the live screen, ``hidden`` while the answers as saved do not require it."""

    id: str
    label: str
    checked: bool
    required_if: dict[str, Any] | None
    hidden: bool


def documents_of(ev: LifeEvent, proc: Procedure, draft: dict[str, Any]) -> list[Doc]:
    """The documents ``proc`` declares, those it requires on the answers to file shown
    (``server.visit_documents.required_docs``: the list the 受付案内票 prints), ticked as the draft keeps them."""
    now = {d.id for d in required_docs(proc, filing_answers(ev, proc.id, draft))}
    ticked = set((draft.get("documents") or {}).get(proc.id) or [])
    return [Doc(d.id, d.label.ja, d.id in ticked, parse(d.required_if) if d.required_if else None, d.id not in now)
            for d in proc.documents]


def seen_at_finish(ev: LifeEvent, proc: Procedure, draft: dict[str, Any]) -> list[str]:
    """The documents ticked that ``proc`` requires on the answers it files (a tick left from other answers is not
    stored)."""
    return [d.id for d in documents_of(ev, proc, draft) if d.checked and not d.hidden]
