"""The counter interview (聞き取り) of a visit: one life event's questions, shared fields and each included
procedure's remaining fields on one staff screen, prefilled from the visit resident's registry profile; the
derived list of procedures (live in ``interview.js``, which imports the PWA's own ``lifeevent.js`` and
``expr.js``; 「更新」 re-renders it without JavaScript); procedures added or removed by hand with a reason;
per procedure 「窓口で確認した書類」 (a checkbox per document it requires: the papers the clerk saw); and
「聞き取りを終えて申請する」, which files every application at once through the one filing policy
(``server.filing``: same validation, ``on_behalf_of`` the resident, each routed to its department), attaches
them to the visit's department parts, stores the documents ticked (``server.storage.visits.mark_seen_in``: the
受付案内票 then lists only what is missing) and ends the interview, all in one write job.

Who: ``INTERVIEW_ROLES`` (``server.auth.roles``). Every render is a staff read of the resident's data, audited
(``interview.read`` and ``registry.profile_read``); every change is audited by the storage
(``server.storage.interviews``). The draft is kept server-side on every post, so a refused filing loses nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from procedure_definitions.expressions import parse, references
from procedure_definitions.expressions.dates import japan_today
from procedure_definitions.japan import parse_wareki_partial
from procedure_definitions.model import LifeEvent, LifeEventProcedure, Procedure
from server import audit
from server.auth.roles import INTERVIEW_ROLES
from server.authz import AccountLike, require_roles
from server.console.interview_draft import documents_of, manual_change, read_draft, row_change, seen_at_finish
from server.console.interview_form import (
    EVENT_PEOPLE,
    Widget,
    errors_by_widget,
    event_people,
    widget,
)
from server.console.landing import configurator_landing
from server.console.routes import render_page
from server.console.visit_pages import _refused
from server.counter_code import preentry_initial, visit_preentry
from server.disclosure import has_child_under_18
from server.display import name_text
from server.filing import ID_REUSED, Refusal, check_filing, write_filing_in
from server.interview_plan import (
    Derived,
    asked_fields,
    derive,
    filing_answers,
    filing_required,
    included_ids,
    prefill_draft,
    required_now,
    shared_required,
    shown,
)
from server.problems import Problem
from server.registry import transfer_profile
from server.services import Services, services
from server.storage.interviews import (
    InterviewRecord,
    InterviewRefused,
    event_interview,
    filed_again,
    filed_in_visit,
    finish_interview_in,
    load_interview,
    save_draft_in,
    start_interview_in,
)
from server.storage.submissions import IdempotencyConflict
from server.storage.visits import attach_in, mark_seen_in
from server.visits import VisitView, read_visit, visit_write

__all__ = ["interview_pages_router", "life_event_choices"]

_NS = uuid.UUID("6f1c2a52-4d0e-4b43-9a43-4f3c1d8e2a10")  # an interview's application ids: uuid5(interview/procedure)
_REASON_MAX = 200


def life_event_choices(svc: Services) -> list[tuple[str, str]]:
    """(id, Japanese title) of the shipped life events (their newest version), by title."""
    events = [_newest(v) for v in svc.catalog.library.life_events.values() if v]
    return sorted(((e.id, e.title.ja) for e in events), key=lambda x: x[1])


def _newest(versions: dict[str, LifeEvent]) -> LifeEvent:
    from procedure_definitions.versions import latest

    return versions[latest(versions)]


def _current(svc: Services) -> dict[str, Procedure]:
    return {p.id: p for p in svc.catalog.current()}


def _problem(exc: InterviewRefused) -> Problem:
    return Problem(exc.status, exc.code, exc.detail)


async def _context(svc: Services, user: AccountLike, vid: str, iid: str
                   ) -> tuple[Any, InterviewRecord, LifeEvent, dict[str, Procedure]]:
    view = await read_visit(svc, user, vid, via="console")
    rec = await svc.db.read(lambda c: load_interview(c, iid))
    if rec is None or rec.visit_id != vid:
        raise Problem(404, "not-found", "No such interview")
    ev = await svc.catalog.life_event(rec.life_event_id, rec.life_event_version)
    if ev is None:
        raise Problem(404, "not-found", "No such life event")
    return view, rec, ev, _current(svc)


async def _prefill(svc: Services, user: AccountLike, view: Any) -> tuple[dict[str, Any], dict[str, str], str]:
    """(profile, sources, the person's own id) the interview prefills from: the visit resident's registry
    profile; for a person not in the registry yet (a visit's new person), the one imported 転出証明書情報 mover
    with their name (folded) and birth date (a staff read, audited ``registry.transfer_read``), else only the
    name and birth date typed at reception (source ``visit``). Several movers matching: none is guessed."""
    if view.resident_id is not None:
        profile, sources = await _profile(svc, user, view.resident_id)
        return profile, sources, view.resident_id
    person = view.person
    if person is None:
        raise Problem(422, "interview-needs-resident")
    matches = await svc.registry.transfer_matches(person.family, person.given, person.birth_date)
    if len(matches) == 1:
        cert, mover = matches[0]
        profile = transfer_profile(cert, mover)
        await audit.record(svc.db, actor=user.id, action="registry.transfer_read",
                           subject=f"transfer:{cert.certificate_id}",
                           details={"via": "interview", "visit": view.id,
                                    **audit.many(sorted({m["member_id"] for m in profile.get("transfer_movers", [])}))})
        return profile, dict.fromkeys(profile, "transfer"), mover.member_id
    try:
        born = parse_wareki_partial(person.birth_date) if person.birth_date else None
    except ValueError:
        born = None  # as typed, unreadable as a date: the clerk types it in the form
    typed = {"name": {"family": person.family, "given": person.given}, "birth_date": born}
    profile = {k: v for k, v in typed.items() if v}
    return profile, dict.fromkeys(profile, "visit"), ""


async def _profile(svc: Services, user: AccountLike, resident_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The registry prefill of the visit's resident: a staff read, audited as ``GET /api/residents/{id}/profile``."""
    profile, sources = await svc.registry.profile_with_sources(resident_id)
    people = [m["member_id"] for k in ("household_members", "transfer_movers") for m in profile.get(k, [])]
    await audit.record(svc.db, actor=user.id, action="registry.profile_read", subject=f"resident:{resident_id}",
                       details={"via": "interview", **audit.many(sorted(set(people)))})
    return profile, sources


@post("/console/visits/{vid:str}/interviews", include_in_schema=False)
async def start_form(request: Request[Any, Any, Any], vid: FromPath[str]) -> Response[Any]:
    user = require_roles(request, *INTERVIEW_ROLES)
    svc = services(request)
    form = await request.form()
    back = f"/console/visits/{vid}"
    view = await read_visit(svc, user, vid, via="console")
    eid = str(form.get("life_event") or "")
    versions = svc.catalog.library.life_events.get(eid)
    try:
        iid = str(uuid.UUID(str(form.get("id") or uuid.uuid4())))
    except ValueError:
        return _refused(request, Problem(400, "bad-request"), back)
    if not versions:
        return _refused(request, Problem(422, "bad-request"), back)
    if view.resident_id is None and view.person is None:
        return _refused(request, Problem(422, "interview-needs-resident"), back)
    ev = _newest(versions)
    # Answered before the registry and the pre-entry are read (a second click or Back reads nothing for nothing):
    # a closed visit, or this event's interview already in the visit (open: go on with it; filed: refused). The
    # write job below still decides two starts racing.
    if view.status != "open":
        return _refused(request, Problem(409, "visit-closed"), back)
    same = await svc.db.read(lambda c: event_interview(c, vid, ev.id))
    if same is not None and same[1] == "filed":
        return _refused(request, Problem(409, "life-event-filed"), back)
    if same is not None:
        return Redirect(f"/console/visits/{vid}/interviews/{same[0]}", status_code=303)
    # A person not in the registry yet: no on_behalf_of, prefilled from their 転出証明書情報 when it matches.
    profile, _, _ = await _prefill(svc, user, view)
    draft, filled = prefill_draft(ev, _current(svc), profile)
    # A counter code loaded into the visit: the resident's pre-entry gives the initial values the registry did
    # not (server.counter_code.preentry_initial; reading it is audited visit.preentry_read, via interview).
    pre = await visit_preentry(svc, user, vid, via="interview")
    preentry_initial(draft, pre.preentry if pre is not None else None, ev, _current(svc))
    try:
        rec, _ = await svc.db.write(lambda c: start_interview_in(
            c, interview_id=iid, visit_id=vid, life_event_id=ev.id, life_event_version=ev.version, draft=draft,
            prefilled=sorted(filled), actor=user.id))
    except InterviewRefused as exc:
        return _refused(request, _problem(exc), back)
    return Redirect(f"/console/visits/{vid}/interviews/{rec.id}", status_code=303)


def _widgets(ev: LifeEvent, procs: dict[str, Procedure], rec: InterviewRecord, draft: dict[str, Any],
             profile: dict[str, Any], sources: dict[str, str], resident_id: str, derived: list[Derived]
             ) -> tuple[list[Widget], list[tuple[str, str, list[tuple[str, list[Widget]]], dict[str, str]]]]:
    """The shared fields' widgets, and per procedure of the list (included or not: the live list shows and
    hides them) its title and sections of widgets."""
    filled = set(rec.prefilled)
    # What the records give each field (as the start prefilled it): shown as the record's value, not the answer's.
    given, _ = prefill_draft(ev, procs, profile, [d.procedure for d in derived])

    # A value filled from the person themselves (no ``prefill`` of its own: the event's people, e.g.
    # 手続きをする人の氏名) comes from where their name came from: registry, 転出証明書情報 or reception's typing.
    own = sources.get("name")

    def src(f: Any) -> str | None:
        return sources.get(f.prefill, own) if f.prefill else own

    shared = [widget(s.field, "s", draft["shared"].get(s.field.id), prefilled=f"s:{s.field.id}" in filled,
                     source=src(s.field), profile=profile, resident_id=resident_id,
                     record=given["shared"].get(s.field.id)) for s in ev.shared_fields]
    # （必須） exactly where filing requires a value: an included procedure's form says so on the answers it files
    # (the form engine's ``required``), a shared field when it fills such a field (the PWA's sharedRequired). As
    # saved here; interview.js runs the same engine (pwa/js/form.js) live as answers change.
    required = filing_required(ev, procs, draft, included_ids(derived))
    now = shared_required(ev, required)
    for w, s in zip(shared, ev.shared_fields, strict=True):
        w.required = s.field.id in now
    per: list[tuple[str, str, list[tuple[str, list[Widget]]], dict[str, str]]] = []
    for d in derived:
        proc = procs.get(d.procedure)
        if proc is None:
            continue
        mine = draft["answers"].get(proc.id) or {}
        answers = filing_answers(ev, proc.id, draft)
        sections = []
        needed = required.get(proc.id)  # None: not included now (its fields as its form would start)
        for title, fields in asked_fields(ev, proc, draft, hidden=True):
            ws = []
            for f in fields:
                w = widget(f, proc.id, mine.get(f.id), prefilled=f"{proc.id}:{f.id}" in filled, source=src(f),
                           profile=profile, resident_id=resident_id, record=given["answers"].get(proc.id, {}).get(f.id))
                # Shown or hidden live as the answers change (interview.js), as saved without JavaScript.
                w.show_if, w.hidden = (parse(f.show_if), not shown(f, answers)) if f.show_if else (None, False)
                w.required = f.id in needed if needed is not None else required_now(f, answers)
                ws.append(w)
            sections.append((title, ws))
        per.append((proc.id, proc.title.ja, sections, _maps(ev, proc.id)))
    return shared, per


def _maps(ev: LifeEvent, pid: str) -> dict[str, str]:
    """Field of ``pid`` → the input scope and id that fills it (``s.{shared}`` or ``q.{question}``): the live
    conditions read the procedure's answers as filing will (``server.interview_plan.filing_answers``)."""
    out = {s.maps_to[pid]: f"s.{s.field.id}" for s in ev.shared_fields if pid in s.maps_to}
    out.update({q.maps_to[pid]: f"q.{q.id}" for q in ev.questions if pid in q.maps_to})
    return out


@dataclass
class _Screen:
    """What one request read to show an interview (each read once, audited once, then passed along): the visit,
    the interview (its draft as the request left it), the life event, the current procedures and the resident's
    registry profile with its sources."""

    view: VisitView
    rec: InterviewRecord
    ev: LifeEvent
    procs: dict[str, Procedure]
    profile: dict[str, Any]
    sources: dict[str, str]
    rid: str  # the person's own id (registry, or 転出証明書情報 mover; "" none): not offered where pick_self is false
    filed: dict[str, str]  # procedure id -> 受付番号 already filed in the visit (``_filed``): not derived again


async def _filed(svc: Services, view: VisitView) -> dict[str, str]:
    """The procedures the visit already holds an application of (those of the parts the reader sees)."""
    held = {sid for p in view.parts for sid in p.submissions}
    return await svc.db.read(lambda c: filed_in_visit(c, view.id, held)) if held else {}


async def _screen(svc: Services, user: AccountLike, vid: str, iid: str) -> _Screen:
    view, rec, ev, procs = await _context(svc, user, vid, iid)
    profile, sources, rid = await _prefill(svc, user, view)
    return _Screen(view, rec, ev, procs, profile, sources, rid, await _filed(svc, view))


async def _render(request: Request[Any, Any, Any], user: AccountLike, screen: _Screen, *,
                  errors: list[tuple[str, str, str, str]] | None = None, message: str = "",
                  http_status: int = 200) -> Response[str]:
    """The interview screen from what the request read (``screen``): shown to the clerk, audited
    ``interview.read`` once."""
    svc = services(request)
    view, rec, ev, procs = screen.view, screen.rec, screen.ev, screen.procs
    profile, sources, rid = screen.profile, screen.sources, screen.rid
    await audit.record(svc.db, actor=user.id, action="interview.read", subject=f"visit:{view.id}",
                       details={"interview": rec.id, "via": "console"})
    profile[EVENT_PEOPLE] = event_people(ev.people, rec.draft.get("shared") or {})
    derived = derive(ev, rec.draft, procs, screen.filed)
    shared, per = _widgets(ev, procs, rec, rec.draft, profile, sources, rid, derived)
    widgets = shared + [w for _, _, secs, _ in per for _, ws in secs for w in ws]
    # A person's or a row's own fields (one level: an item holds no group).
    subs = [sub for w in widgets for group in ([x for _, x, _, _ in w.items] + [x for _, _, x in w.rows]) for sub in group]
    rendered = {w.dom_id for w in widgets} | {sub.dom_id for sub in subs}
    # An error of a person's field the screen does not show (yet: ticked without 「更新」) points to the group.
    errors = [(d if d in rendered else re.sub(r"-\d+-[\w-]+$", "", d), title, label, text)
              for d, title, label, text in errors or []]
    by_id: dict[str, list[str]] = {}
    for dom_id, _, _, text in errors:
        by_id.setdefault(dom_id, []).append(text)
    for w in widgets + subs:
        w.errors = by_id.get(w.dom_id, [])
    included = set(included_ids(derived))
    listed = {d.procedure for d in derived}
    # Every procedure staff may file: those included now are disabled (the live list keeps this up to date).
    addable = sorted(((p.id, p.title.ja) for p in procs.values() if "staff" in p.filers),
                     key=lambda x: x[1])
    titles = {pid: p.title.ja for pid, p in procs.items()}
    suggested = _suggested(ev, rec, profile, rid)
    # Why a procedure is listed, when a question the records answered decides it: the people it rests on.
    basis = {d.procedure: [(q, suggested[q]) for (q, *_) in references(d.include_if) if q in suggested]
             for d in derived if d.include_if}
    return render_page(
        request, "interview.html", http_status=http_status, visit=view, interview=rec, event=ev, derived=derived,
        titles=titles, shared=shared, per=per, included=included, listed=listed, addable=addable,
        questions=rec.draft.get("questions") or {}, question_errors=by_id, errors=errors or [], message=message,
        resident_name=name_text(view.resident_name) if view.resident_name else "", current="visits",
        departments={p.id: p.department.name.ja for p in procs.values()}, render_id=uuid.uuid4().hex,
        documents={pid: documents_of(ev, procs[pid], rec.draft) for pid, _, _, _ in per},
        suggested=suggested, basis=basis, versions={pid: p.version for pid, p in procs.items()}, filed=screen.filed)


def _suggested(ev: LifeEvent, rec: InterviewRecord, profile: dict[str, Any], rid: str) -> dict[str, str]:
    """Question id -> 「記録から推定（確認してください）」 (with the people it rests on) for each question the records
    answered when the interview started (``Question.prefill``) and whose answer is still that suggestion."""
    answers = rec.draft.get("questions") or {}
    out = {}
    for q in ev.questions:
        if q.prefill and f"q:{q.id}" in rec.prefilled and answers.get(q.id) is profile.get(q.prefill):
            who = [name_text(p["name"]) for p in _evidence(q.prefill, profile, rid)]
            out[q.id] = "記録から推定（確認してください）" + ("：" + "、".join(who) if who else "")
    return out


def _evidence(attribute: str, profile: dict[str, Any], rid: str) -> list[dict[str, Any]]:
    """The disclosed people (of the profile's lists, once each) a people-derived attribute rests on, by the same
    rule that set it (``server.disclosure.has_child_under_18``); ``rid``: the person filing."""
    if attribute != "has_child_under_18":
        return []
    today = japan_today()
    seen: dict[str, dict[str, Any]] = {}
    for p in [*profile.get("household_members", []), *profile.get("transfer_movers", [])]:
        if has_child_under_18(rid, [p], today):
            seen.setdefault(str(p.get("member_id")), p)
    return list(seen.values())


@get("/console/visits/{vid:str}/interviews/{iid:str}", include_in_schema=False)
async def interview_page(request: Request[Any, Any, Any], vid: FromPath[str], iid: FromPath[str]) -> Response[str]:
    user = require_roles(request, *INTERVIEW_ROLES)
    return await _render(request, user, await _screen(services(request), user, vid, iid))


@post("/console/visits/{vid:str}/interviews/{iid:str}", include_in_schema=False)
async def interview_post(request: Request[Any, Any, Any], vid: FromPath[str], iid: FromPath[str]) -> Response[Any]:
    user = require_roles(request, *INTERVIEW_ROLES)
    svc = services(request)
    view, rec, ev, procs = await _context(svc, user, vid, iid)
    back = f"/console/visits/{vid}"
    if rec.state != "open":
        return _refused(request, Problem(409, "interview-filed"), back)
    form = await request.form()
    profile, sources, rid = await _prefill(svc, user, view)  # the member list behind the ticks: a read too, audited
    # The event's people as they were on the screen posted (the ticks are indexes into that list).
    profile[EVENT_PEOPLE] = event_people(ev.people, rec.draft.get("shared") or {})
    draft = read_draft(ev, procs, rec.draft, form, profile, rid)
    op = str(form.get("op") or "update")
    change = None
    filled: set[str] = set()  # what a procedure added by hand was prefilled with
    message = ""
    if op in ("add", "remove") or op.startswith("restore:"):
        kind, _, pid = op.partition(":")
        pid = pid or str(form.get(f"{kind}_procedure") or "")
        if kind == "restore" and pid not in procs:  # no such procedure: a forged button, refused unaudited
            return _refused(request, Problem(400, "bad-request"), back)
        reason = str(form.get(f"{kind}_reason") or "").strip()[:_REASON_MAX]
        restoring = kind == "restore" and (pid in draft["added"] or pid in draft["removed"])
        message = manual_change(draft, kind, pid, reason, procs, ev) or ""
        if not message and (kind != "restore" or restoring):  # nothing to restore (a double click): no audit
            change = {"op": kind, "procedure": pid, "reason": reason}
            if kind == "add" and pid not in draft["answers"]:
                # A procedure added by hand is prefilled from the registry like the event's own.
                extra, filled = prefill_draft(LifeEvent(id="-", version="0", title=ev.title, questions=[],
                                                        procedures=[LifeEventProcedure(procedure=pid)]), procs, profile)
                draft["answers"][pid] = extra["answers"].get(pid, {})
    anchor = ""
    if op.startswith(("row_add:", "row_del:")):
        message, anchor = row_change(ev, procs, draft, op, profile, rid)
    try:
        prefilled = await svc.db.write(lambda c: save_draft_in(c, iid, draft, user.id, change, sorted(filled)))
    except InterviewRefused as exc:
        return _refused(request, _problem(exc), back)
    # The screen re-rendered from these reads and the draft just saved, not read and audited again.
    rec.draft, rec.prefilled = draft, prefilled
    screen = _Screen(view, rec, ev, procs, profile, sources, rid, await _filed(svc, view))
    if op == "finish":
        return await _finish(request, user, screen)
    if message:
        return await _render(request, user, screen, message=message, http_status=422)
    return Redirect(f"/console/visits/{vid}/interviews/{iid}{anchor}", status_code=303)


async def _finish(request: Request[Any, Any, Any], user: AccountLike, screen: _Screen) -> Response[Any]:
    """File every included procedure or none: each checked by the one filing policy first; any refusal
    re-renders the screen with every error at its field, nothing written."""
    svc = services(request)
    view, rec, ev, procs, draft = screen.view, screen.rec, screen.ev, screen.procs, screen.rec.draft
    if view.status != "open":  # checked before filing: a closed visit would refuse the applications after it
        return _refused(request, Problem(409, "visit-closed"), f"/console/visits/{view.id}")
    ids = included_ids(derive(ev, draft, procs, screen.filed))
    if not ids:
        return await _render(request, user, screen, message="申請する手続きがありません。", http_status=422)
    filings = []
    seen: dict[str, list[str]] = {}  # application id -> the documents the clerk ticked as seen
    errors: list[tuple[str, str, str, str]] = []
    for pid in ids:
        proc = procs[pid]
        sid = str(uuid.uuid5(_NS, f"{rec.id}/{pid}"))
        if docs := seen_at_finish(ev, proc, draft):
            seen[sid] = docs
        out = await check_filing(svc, user, submission_id=sid, procedure_id=pid, procedure_version=proc.version,
                                 answers=filing_answers(ev, pid, draft), on_behalf_of=view.resident_id,
                                 via="console")
        if isinstance(out, Refusal):
            listed = out.extra.get("errors") or [{"path": "", "message": {"ja": out.message}}]
            for dom_id, label, text in errors_by_widget(ev, proc, listed, draft.get("questions") or {}):
                errors.append((dom_id, proc.title.ja, label, text))
        else:
            filings.append(out)
    if errors:
        return await _render(request, user, screen, errors=errors, http_status=422,
                             message="入力内容を確認してください。申請はまだ送っていません。")

    to_file = set(ids)

    def file_all(c: Any) -> list[str]:
        # One write job: every application, the visit's parts, the documents seen and the interview filed
        # commit together or not at all (a refusal half-way leaves nothing filed, and the clerk's retry files everything once).
        now = load_interview(c, rec.id)
        if now is not None and now.state == "filed":  # a second press that raced the first: filed once already
            return list(now.submissions)
        # Another interview of the visit that filed since the screen was read: its procedures not twice (the
        # derive rule again, on the visit as it is now; only an add by hand files one again).
        again = filed_again(c, view.id, to_file, draft.get("added") or {})
        if again:
            raise InterviewRefused(409, "procedure-filed-in-visit", "この来庁で申請済みの手続きがあります："
                                   + "、".join(procs[p].title.ja for p in again) + "。聞き取りを開き直してください。")
        ids = [write_filing_in(c, f)[0].id for f in filings]
        attach_in(c, view.id, ids, user.id)
        mark_seen_in(c, view.id, seen, user.id, via="interview")  # the 持ち物 ticked: not printed as missing
        finish_interview_in(c, rec.id, ids, user.id)
        return ids

    try:
        await visit_write(svc, file_all)
    except IdempotencyConflict:
        return _refused(request, ID_REUSED.problem(), f"/console/visits/{view.id}")
    except InterviewRefused as exc:  # back to the interview: reopened, it shows what the visit holds now
        return _refused(request, _problem(exc), f"/console/visits/{view.id}/interviews/{rec.id}")
    except Problem as exc:
        return _refused(request, exc, f"/console/visits/{view.id}")
    return Redirect(f"/console/visits/{view.id}?filed=1", status_code=303)


interview_pages_router = Router(path="/", route_handlers=[start_form, interview_page, interview_post],
                                before_request=configurator_landing)
