"""Console pages of visits (来庁): 来庁受付 (open a visit), the visit page (its parts and buttons) and the visit
board (every open visit, or the visits waiting for one department).

Every read and change goes through ``server.visits`` (the API's functions: one policy, one audit). Forms work
without JavaScript (hidden ``_csrf_token``; ``console.js`` adds the header when it runs); a refused form answers
an HTML page in Japanese with the API's status code, authorization refusals stay problem+json. Times are JST,
departments by name, states and steps by their Japanese labels.
"""

from __future__ import annotations

import contextlib
import uuid
from functools import partial
from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from server import audit
from server.auth.roles import (
    PREENTRY_LOAD_ROLES,
    VISIT_DESK_ROLES,
    VISIT_ROLES,
    department_filter,
    may_override_part,
    may_work_part,
)
from server.authz import require_roles
from server.console.landing import configurator_landing
from server.console.preentry_pages import preentry_panel
from server.console.readable import account_names, department_names, procedure_titles
from server.console.routes import refusal_page, render_page
from server.display import date_text, name_text, procedure_title, status_label
from server.identity import search_registry, summarize
from server.problems import Problem
from server.registry_search import SearchInputError
from server.services import Services, services
from server.storage.interviews import visit_interviews
from server.storage.visits import candidate_lines, open_visits_of
from server.tickets.store import load_ticket, visit_queue_refs_in
from server.visit_documents import visit_applications
from server.visit_states import MARK_STEPS, PART_ACTIONS, Outcome, visit_step
from server.visits import (
    BOOTH_MAX,
    VisitIn,
    VisitView,
    attach_submissions,
    board,
    mark_document_seen,
    open_visit,
    part_action,
    read_visit_resident,
    visit_action,
)

__all__ = ["PART_LABELS", "STEP_LABELS", "VISIT_LABELS", "visit_pages_router"]

PART_LABELS = {"waiting": "待ち", "in_progress": "対応中", "done": "完了"}
VISIT_LABELS = {"open": "来庁中", "closed": "終了"}
STEP_LABELS = {"reception": "受付", "interview_started": "聞き取り開始", "interview_finished": "聞き取り終了",
               "attached": "手続きを追加", "taken": "担当", "confirmed": "確認", "reviewed": "審査", "issued": "交付",
               "released": "戻す", "completed": "完了", "closed": "来庁終了", "reopened": "再開"}
MARK_LABELS = dict(zip(MARK_STEPS, ("確認しました", "審査しました", "交付しました"), strict=True))

# The API's refusals as the counter reads them (same status code; the page offers the way back).
_MESSAGES = {
    "not-found": "来庁記録が見つかりません。",
    "unknown-resident": "その住民番号の住民記録はありません。",
    "resident-or-person": "住民記録から選ぶか、新しい方の氏名を入力してください。",
    "idempotency-conflict": "この受付はすでに別の内容で登録されています。来庁受付をやり直してください。",
    "unknown-submission": "選んだ申請が見つかりません。",
    "submission-without-department": "担当課の決まっていない申請は追加できません。",
    "submission-other-resident": "別の方の申請は追加できません。",
    "submission-in-other-visit": "その申請は別の来庁で受け付けています。",
    "visit-closed": "この来庁は終了しています。再開してから操作してください。",
    "resident-has-open-visit": "この方には来庁中の別の受付があります。そちらの来庁で手続きしてください（来庁一覧から開けます）。",
    "part-taken": "ほかの職員が担当しています。画面を再読み込みしてください。",
    "part-not-in-progress": "まだ誰も担当していません。先に「担当します」を押してください。",
    "part-done": "この課の手続きは完了しています。",
    "parts-not-done": "まだ完了していない課があります。すべての課が完了してから終了してください。",
    "bad-request": "入力内容を確認してください。",
    "booth-too-long": f"ブースは{BOOTH_MAX}文字以内で入力してください。",
    "interview-needs-resident": "聞き取りは住民記録のある方について行います。先に住民記録を確認してください。",
    "interview-filed": "この聞き取りは申請済みです。",
    "life-event-filed": "このライフイベントの聞き取りは、この来庁ですでに申請済みです（同じ手続きを二重に申請しません）。"
                        "申請済みの手続きは、この来庁の課ごとの手続きから確認してください。",
    "procedure-filed-in-visit": "この聞き取りの間に、同じ来庁で同じ手続きが申請されました。何も送っていません。"
                                "二重に申請しないよう、聞き取りを開き直して対象の手続きを確認してください。",
    "unknown-document": "その書類はこの申請で確認する書類ではありません。画面を再読み込みしてください。",
    "idempotency-key-reused": "この聞き取りの申請IDが別の申請で使われていたため、どの申請も送っていません。"
                              "管理者に連絡してください。",
}


# The console's one refusal page (server.console.routes.refusal_page) with this page's messages.
_refused = partial(refusal_page, messages=_MESSAGES)


def _departments(svc: Services) -> dict[str, str]:
    return svc.catalog.of_library(department_names)


def _label_ctx(svc: Services) -> dict[str, Any]:
    return {"departments": _departments(svc), "part_labels": PART_LABELS, "visit_labels": VISIT_LABELS,
            "step_labels": STEP_LABELS, "name_text": name_text, "date_text": date_text}


@get("/console/visits", include_in_schema=False)
async def board_page(request: Request[Any, Any, Any], status: FromQuery[str | None] = None,
                     department: FromQuery[str | None] = None) -> Response[str]:
    user = require_roles(request, *VISIT_ROLES)
    svc = services(request)
    # A reviewer lands on their own department's view: the visits waiting for it. "all" shows every visit of
    # their department (and, for counter staff, every visit).
    own = department_filter(user)
    waiting_for = (own[0] if own else None) if department is None else (department if department != "all" else None)
    shown_status = "open" if status is None else (status or None)
    visits = await board(svc, user, status=shown_status, waiting_for=waiting_for, via="console")
    names = _departments(svc)
    columns = sorted({p.department for v in visits for p in v.parts}, key=lambda d: (names.get(d, d), d))
    pairs = [(v.id, v.booking_ref) for v in visits]
    refs = await svc.db.read(lambda c: visit_queue_refs_in(c, pairs))
    return render_page(request, "visit_board.html", visits=visits, columns=columns, status=shown_status or "",
                       queue_refs=refs,
                       waiting_for=waiting_for or "all", department_choices=sorted(names.items(), key=lambda x: x[1]),
                       current="visits", **_label_ctx(svc))


@get("/console/visits/new", include_in_schema=False)
async def new_page(request: Request[Any, Any, Any], q: FromQuery[str | None] = None,
                   ticket: FromQuery[str | None] = None, booth: FromQuery[str | None] = None) -> Response[str]:
    user = require_roles(request, *VISIT_DESK_ROLES)
    svc = services(request)
    results = []
    error, http_status = "", 200
    if q and q.strip():
        try:  # the registry's one staff search (server.identity: name fold, audited registry.search)
            found = await search_registry(svc, user.id, q=q[:100], via="console")
            results = [summarize(r) for r in found]
        except SearchInputError:
            error, http_status = "検索できませんでした。語を減らすか、詳しい検索をお使いください。", 400
    # Who of them is here already: 「来庁中（A-003）」 and a way to that visit instead of a second 受付.
    ids = [r.id for r in results]
    here = await svc.db.read(lambda c: open_visits_of(c, ids)) if ids else {}
    if here:
        await audit.record(svc.db, actor=user.id, action="visit.board", subject=None,
                           details={"via": "reception", **audit.many(sorted(v[0] for v in here.values()))})
    # The form's id: a double click of 「受付する」 sends it twice and opens one visit (the API is idempotent).
    # 受付する on a queue ticket (server/console/queue_pages.py) comes here with it: the visit opened is linked.
    linked = await svc.db.read(lambda c: load_ticket(c, (ticket or "")[:100])) if ticket else None
    return render_page(request, "visit_new.html", http_status=http_status, q=q or "", results=results, error=error,
                       here=here, form_id=str(uuid.uuid4()), current="visit-new", date_text=date_text,
                       ticket=ticket if linked else "", ticket_number=linked.number if linked else "",
                       booth=(booth or "")[:BOOTH_MAX])


def _field(form: Any, name: str) -> str | None:
    value = str(form.get(name) or "").strip()
    return value or None


def _booth(form: Any) -> str | None:
    """The form's booth as typed, or the API's refusal of one too long (400, never cut to fit)."""
    booth = _field(form, "booth")
    if booth is not None and len(booth) > BOOTH_MAX:
        raise Problem(400, "booth-too-long", f"booth must be at most {BOOTH_MAX} characters")
    return booth


@post("/console/visits", include_in_schema=False)
async def open_form(request: Request[Any, Any, Any]) -> Response[Any]:
    user = require_roles(request, *VISIT_DESK_ROLES)
    form = await request.form()
    try:
        booth = _booth(form)
    except Problem as exc:
        return _refused(request, exc, "/console/visits/new")
    raw: dict[str, Any] = {"id": _field(form, "id") or str(uuid.uuid4()), "resident_id": _field(form, "resident_id"),
                           "booth": booth, "booking_ref": _field(form, "booking_ref")}
    family = _field(form, "person_family")
    if family is not None:
        # As typed: only the surrounding blanks of the whole entry are trimmed, nothing normalized inside.
        raw["person"] = {"family": family, "given": _field(form, "person_given") or "",
                         "birth_date": _field(form, "person_birth_date")}
    try:
        data = msgspec.convert({k: v for k, v in raw.items() if v is not None}, VisitIn)
        view, _ = await open_visit(services(request), user, data)
    except msgspec.ValidationError:
        return _refused(request, Problem(400, "bad-request"), "/console/visits/new")
    except Problem as exc:
        return _refused(request, exc, "/console/visits/new")
    ticket = _field(form, "ticket")
    if ticket is not None:  # the queue ticket this visit came from (受付する): linked, the ticket serving
        from server.tickets.booths import ticket_step
        from server.tickets.context import hub_of

        with contextlib.suppress(Problem):  # a ticket meanwhile finished elsewhere: the visit stands alone
            await ticket_step(services(request), hub_of(request), user, ticket[:100], "serve", visit_id=view.id,
                              via="console")
    # The resident's open visit answered instead of a second one (server.storage.visits.open_visit_in): its page
    # says so (a Back button and 受付する again, or a second clerk, lands on the visit already there).
    already = "?already_open=1" if view.id != str(data.id) else ""
    return Redirect(f"/console/visits/{view.id}{already}", status_code=303)


async def _staff_names(svc: Services, view: VisitView) -> dict[str, str]:
    """The display names of the clerks the page names (who opened it, took a part, made a step, saw a document)."""
    names = await account_names(svc.db, [view.opened_by, *(e.by for e in view.events),
                                         *(p.taken_by for p in view.parts), *(d.seen_by for d in view.documents)])
    return {k: v[0] for k, v in names.items()}


@get("/console/visits/{vid:str}", include_in_schema=False)
async def visit_page(request: Request[Any, Any, Any], vid: FromPath[str]) -> Response[str]:
    user = require_roles(request, *VISIT_ROLES)
    svc = services(request)
    view, resident = await read_visit_resident(svc, user, vid, via="console")
    # The applications the view holds, each with the documents it requires, 確認済み / 未確認.
    apps = await visit_applications(svc, view)
    attached = {a.record.id: a.record for a in apps}
    documents = {a.record.id: a.documents for a in apps}
    candidates = []
    if user.role in VISIT_DESK_ROLES and view.resident_id is not None and view.status == "open":
        rid = view.resident_id
        candidates = await svc.db.read(lambda c: candidate_lines(c, rid))
        if candidates:  # the applications offered are a read of the resident's data too
            await audit.record(svc.db, actor=user.id, action="visit.candidates", subject=f"visit:{vid}",
                               details={"via": "console", **audit.many([c.id for c in candidates])})
    titles = svc.catalog.of_library(procedure_titles)  # as the queue names them (server.console.readable)
    from server.console.interview_pages import life_event_choices  # it imports this module

    interviews = await svc.db.read(lambda c: visit_interviews(c, vid))
    life_events = life_event_choices(svc)
    preentry = await preentry_panel(svc, user, view)  # the counter code's account and pre-entry (audited)
    # The queue ticket it came from and the booking's code, next to the visit's own number (docs/queue.md).
    ticket_number, booking_code = (await svc.db.read(lambda c: visit_queue_refs_in(c, [(vid, view.booking_ref)]))
                                   ).get(vid, (None, None))
    return render_page(
        request, "visit.html", visit=view, attached=attached, documents=documents, candidates=candidates,
        staff=await _staff_names(svc, view),
        title_of=lambda pid: procedure_title(titles, pid), status_label=status_label,
        resident=summarize(resident) if resident is not None else None, may_work=lambda d: may_work_part(user, d),
        override=may_override_part(user), desk=user.role in VISIT_DESK_ROLES, mark_labels=MARK_LABELS,
        booth_max=BOOTH_MAX,
        # 「来庁を終了」 offered as the state machine allows it (every part done; no part: 「受付を取り消す」).
        closable=isinstance(visit_step(visit=view.status, part_states=[p.state for p in view.parts], action="close"),
                            Outcome), interviews=interviews,
        life_events=life_events, event_titles=dict(life_events), form_id=str(uuid.uuid4()),
        # One interview per life event per visit (server.storage.interviews.start_interview_in decides it):
        # the select marks the event filed (not offered) or still being interviewed (starting it opens it).
        event_states={i.life_event_id: i.state for i in interviews},
        preentry=preentry, preentry_desk=user.role in PREENTRY_LOAD_ROLES,
        ticket_number=ticket_number, booking_code=booking_code,
        just_filed=request.query_params.get("filed") == "1",  # the interview's redirect
        already_open=request.query_params.get("already_open") == "1" and view.status == "open",  # open_form's
        **_label_ctx(svc))


@post("/console/visits/{vid:str}/parts", include_in_schema=False)
async def attach_form(request: Request[Any, Any, Any], vid: FromPath[str]) -> Response[Any]:
    user = require_roles(request, *VISIT_DESK_ROLES)
    form = await request.form()
    # none ticked sends no field at all: getall() without a default would raise KeyError (a 500)
    ids = [str(s).strip() for s in form.getall("submission_ids", []) if str(s).strip()][:50]
    back = f"/console/visits/{vid}"
    if not ids:
        return _refused(request, Problem(422, "unknown-submission"), back)
    try:
        await attach_submissions(services(request), user, vid, ids)
    except Problem as exc:
        return _refused(request, exc, back)
    return Redirect(back, status_code=303)


@post("/console/visits/{vid:str}/parts/{dept:str}/{action:str}", include_in_schema=False)
async def part_form(request: Request[Any, Any, Any], vid: FromPath[str], dept: FromPath[str],
                    action: FromPath[str]) -> Response[Any]:
    user = require_roles(request, *VISIT_ROLES)
    back = f"/console/visits/{vid}"
    if action not in PART_ACTIONS or action == "attach":
        return _refused(request, Problem(404, "not-found"), back)
    form = await request.form()
    try:
        await part_action(services(request), user, vid, dept, action,  # type: ignore[arg-type]
                          booth=_booth(form) if action == "take" else None)
    except Problem as exc:
        return _refused(request, exc, back)
    return Redirect(back, status_code=303)


@post("/console/visits/{vid:str}/documents", include_in_schema=False)
async def document_form(request: Request[Any, Any, Any], vid: FromPath[str]) -> Response[Any]:
    """「確認済みにする」: one document of one application seen (``server.visits.mark_document_seen``)."""
    user = require_roles(request, *VISIT_ROLES)
    form = await request.form()
    sid, doc = (str(form.get(k) or "")[:100] for k in ("submission_id", "document_id"))
    back = f"/console/visits/{vid}"
    try:
        await mark_document_seen(services(request), user, vid, sid, doc)
    except Problem as exc:
        return _refused(request, exc, back)
    return Redirect(f"{back}#docs-{sid}", status_code=303)


@post("/console/visits/{vid:str}/{action:str}", include_in_schema=False)
async def visit_form(request: Request[Any, Any, Any], vid: FromPath[str], action: FromPath[str]) -> Response[Any]:
    user = require_roles(request, *VISIT_DESK_ROLES)
    back = f"/console/visits/{vid}"
    if action not in ("close", "reopen"):
        return _refused(request, Problem(404, "not-found"), back)
    try:
        await visit_action(services(request), user, vid, "close" if action == "close" else "reopen")
    except Problem as exc:
        return _refused(request, exc, back)
    return Redirect(back, status_code=303)


visit_pages_router = Router(path="/", route_handlers=[board_page, new_page, open_form, visit_page, attach_form,
                                                      part_form, document_form, visit_form],
                            before_request=configurator_landing)
