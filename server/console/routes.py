"""Console pages. Every page showing personal data appends an audit entry (who looked at what)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
import msgspec
from litestar import Request, Response, Router, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect

from server import audit
from server.auth.roles import (
    BIND_ROLES,
    CASEWORK_ROLES,
    REVIEW_ROLES,
    can_access_department,
    capabilities,
    department_filter,
)
from server.authz import AccountLike, allowed_status_changes, require_roles, submission_readable
from server.console.landing import configurator_landing
from server.console.readable import (
    account_names,
    actor_text,
    comment_mark,
    department_names,
    procedure_departments,
    procedure_titles,
    resident_names,
)
from server.display import (
    FLAG_LABELS,
    STATUS_LABELS,
    address_text,
    answer_sections,
    form_values,
    jst,
    name_text,
    procedure_title,
    wareki_text,
)
from server.export import to_csv, to_jsonl
from server.filing import attachment_names
from server.identity import NOT_RESIDENT, bind_account, search_registry
from server.problems import Problem
from server.pwa import pwa_module
from server.registry import ResidentRecord
from server.registry_search import MAX_LENGTH, MAX_TERMS, SearchInputError
from server.services import services
from server.storage.parties import slots_of
from server.storage.submissions import STATUSES
from server.submissions import change_status

__all__ = ["ROLE_LABELS", "console_router", "refusal_page", "render_page"]

_HERE = Path(__file__).parent
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"), autoescape=True,  # stored XSS renders inert
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)
_env.filters["jst"] = jst
ROLE_LABELS = {"resident": "住民", "counter": "窓口", "outreach": "訪問", "reviewer": "審査", "configurator": "設定", "admin": "管理者"}
_STATIC = {"console.css": "text/css", "console.js": "text/javascript", "interview.js": "text/javascript",
           "kiosk.css": "text/css", "kiosk.js": "text/javascript",  # the lobby kiosk's (kiosk_pages.py)
           "queue.js": "text/javascript"}  # the booth's queue page (queue_pages.py)
# The interview's live list imports the resident app's own modules (one evaluator, one derivation), served
# from their source as they are, with what they import: any module of pwa/js by its plain name.


def render_page(request: Request[Any, Any, Any], template: str, *, http_status: int = 200, **ctx: Any) -> Response[str]:
    from server.auth.middleware import csrf_token_of

    user = request.scope.get("user")
    department = getattr(user, "department", None)
    if department:  # the header names the staff member's department, never its id
        department = services(request).catalog.of_library(department_names).get(department, department)
    html = _env.get_template(template).render(
        user=user, department_name=department or "", csrf_token=csrf_token_of(request.scope) or "",
        # What the signed-in role may use (server.auth.roles.CAPABILITIES): the menu shows exactly that.
        can=capabilities(getattr(user, "role", "") or ""),
        status_labels=STATUS_LABELS, flag_labels=FLAG_LABELS, role_labels=ROLE_LABELS, **ctx)
    return Response(html, status_code=http_status, media_type="text/html",
                    headers={"Cache-Control": "no-store"})  # personal data: never cached


def _staff(request: Request[Any, Any, Any]) -> AccountLike:
    return require_roles(request, *CASEWORK_ROLES)


def _departments(user: AccountLike) -> list[str] | None:
    allowed = department_filter(user)  # the console roles: every department, or the reviewer's own
    return None if allowed is None else list(allowed)


@get("/console/", include_in_schema=False)
async def queue(request: Request[Any, Any, Any], status: FromQuery[str | None] = None,
                procedure: FromQuery[str | None] = None, q: FromQuery[str | None] = None) -> Response[str]:
    user = _staff(request)
    svc = services(request)
    rows = await svc.submissions.queue(departments=_departments(user), status=status or None,
                                       procedure=procedure or None, search=(q or "").strip()[:100] or None)
    await audit.record(svc.db, actor=user.id, action="console.queue", subject=None,
                       details={"status": status, "procedure": procedure, "q": q, "rows": len(rows),
                                **audit.many([r.id for r in rows])})
    titles = svc.catalog.of_library(procedure_titles)
    return render_page(request, "queue.html", rows=rows, statuses=STATUSES, status=status or "",
                       procedure=procedure or "", q=q or "", titles=titles, names=await resident_names(svc, rows),
                       procedures=sorted(_offered(svc, user), key=lambda p: (titles[p], p)))


def _offered(svc: Any, user: AccountLike) -> list[str]:
    """The procedures the queue's filter and export offer ``user``: those of a department they may see (a
    reviewer: their own department's; the export refuses the others)."""
    return [pid for pid, departments in svc.catalog.of_library(procedure_departments).items()
            if any(can_access_department(user, d) for d in departments)]


@get("/console/submissions/{sid:str}", include_in_schema=False)
async def detail(request: Request[Any, Any, Any], sid: FromPath[str]) -> Response[str]:
    user = _staff(request)
    svc = services(request)
    rec = await svc.submissions.get(sid)
    if rec is None or not submission_readable(user, account_id=rec.account_id, on_behalf_of=rec.on_behalf_of,
                                              department=rec.department, bound_resident=None, status=rec.status):
        raise Problem(404, "not-found", "No such submission")
    # The console admits staff only, and every staff read is audited (server.authz.read_is_audited).
    await audit.record(svc.db, actor=user.id, action="submission.read", subject=f"submission:{sid}",
                       details={"via": "console"})
    proc, _ = await svc.catalog.get(rec.procedure_id, rec.procedure_version)
    sections = []
    paths = rec.corrected  # stored when it was filed (server.filing): which answers, never the registry's values
    corrected: list[tuple[str, str]] = []
    if proc is not None:
        from procedure_definitions.forms import staff_only_ids
        from server.prefill_check import path_label

        # In form order with section titles and labels, values as display text (server.display); the values
        # as validated (hidden answers left out, calculations in), staff-only fields marked.
        sections = answer_sections(proc, form_values(proc, rec.answers, filer="staff"), staff_only_ids(proc),
                                   paths)
        corrected = [(path_label(proc, p), p) for p in paths]
    attachments = sorted(attachment_names(rec.answers).items())
    # A two-person procedure: who confirmed each other part, from their own account bound to their record.
    party_labels = {p.id: p.label.ja for p in proc.parties} if proc is not None else {}
    slots = [s for s in await svc.db.read(lambda c: slots_of(c, sid)) if s.state == "confirmed"]
    party_people = await svc.registry.get_many(s.resident_id for s in slots if s.resident_id)
    confirmed = [(party_labels.get(s.party, s.party),
                  name_text({"family": r.family, "given": r.given}) if (r := party_people.get(s.resident_id or ""))
                  else "", s.updated_at) for s in slots]
    # One accounts read names the history's actors and the filer (the resident line below).
    names = await account_names(svc.db, [rec.account_id, *(h.actor for h in rec.history)])
    history = [(h, actor_text(h.actor, names, ROLE_LABELS, filer=rec.account_id), comment_mark(h, names))
               for h in rec.history]
    title = proc.title.ja if proc is not None else procedure_title(
        svc.catalog.of_library(procedure_titles), rec.procedure_id)
    resident = (await resident_names(svc, [rec], accounts=names))[rec.id]
    return render_page(request, "detail.html", rec=rec, proc=proc, title=title, resident=resident,
                       sections=sections, raw_answers=rec.answers if proc is None else {}, attachments=attachments,
                       corrected=corrected, confirmed=confirmed, history=history,
                       next_statuses=allowed_status_changes(user, rec.status))


@dataclass
class StatusForm:
    status: str
    comment: str = ""
    # A checkbox: absent when unticked (the form ticks it by default; the needs_info form sends it hidden).
    visible_to_resident: str = ""


# Messages for refusals of console forms: without JavaScript the browser shows the response itself, so a
# form error is an HTML page in Japanese (same status code as the API) rather than problem+json.
_FORM_ERRORS = {
    "invalid-transition": "この状態には変更できません。画面を再読み込みして現在の状態を確認してください。",
    "invalid-status": "選んだ状態が正しくありません。",
    "not-found": "申請が見つかりません。",
    "unknown-resident": "その住民番号の住民記録はありません。",
    "resident-message-required": "追加情報の依頼と却下には、住民に表示するコメント（理由・依頼内容）が必要です。",
}


def refusal_page(request: Request[Any, Any, Any], exc: Problem, back: str, *, messages: Mapping[str, str],
                 heading: str = "操作できませんでした") -> Response[str]:
    """A console form's refusal as the clerk reads it: an HTML page in Japanese (``messages`` by the problem's
    slug) with the API's status code and the way ``back``; a 429's ``Retry-After`` is kept. Authorization
    refusals (401, 403) stay problem+json, as on every route. The one helper of every console form."""
    if exc.status_code in (401, 403):
        raise exc
    page = render_page(request, "error.html", http_status=exc.status_code, heading=heading,
                       message=messages.get(exc.slug, "入力内容を確認してください。"), back=back)
    if exc.headers and "Retry-After" in exc.headers:  # 429: when the clerk may try again
        page.headers["Retry-After"] = exc.headers["Retry-After"]
    return page


@post("/console/submissions/{sid:str}/status", include_in_schema=False)
async def status_form(request: Request[Any, Any, Any], sid: FromPath[str],
                      data: Annotated[StatusForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
                      ) -> Response[Any]:
    try:
        await change_status(request, sid, data.status, data.comment.strip()[:4000] or None,
                            visible=data.visible_to_resident == "on")
    except Problem as exc:
        return refusal_page(request, exc, f"/console/submissions/{sid}", messages=_FORM_ERRORS,
                            heading="変更できませんでした")
    return Redirect(f"/console/submissions/{sid}", status_code=303)


@get("/console/export", include_in_schema=False)
async def export(request: Request[Any, Any, Any], format: FromQuery[str] = "csv",
                 status: FromQuery[str | None] = None, procedure: FromQuery[str | None] = None,
                 bom: FromQuery[bool] = False) -> Response[bytes]:
    user = require_roles(request, *REVIEW_ROLES)
    if format not in ("csv", "jsonl"):
        raise Problem(400, "bad-request", "format must be csv or jsonl")
    svc = services(request)
    if user.role == "reviewer" and procedure is None:
        raise Problem(400, "bad-request", "Reviewers export one procedure of their department at a time")
    if user.role == "reviewer" and procedure not in _offered(svc, user):
        raise Problem(403, "forbidden", "Not a procedure of your department")

    # The queue's department rule (in SQL): a reviewer's export holds only their department's submissions.
    departments = _departments(user)
    exported: list[str] = []

    def build(c: Any) -> str:
        if format == "csv":
            return to_csv(c, status=status or None, procedure=procedure or None, bom=bom,
                          mappings=svc.export_mappings, departments=departments, exported=exported)
        return "".join(to_jsonl(c, status=status or None, procedure=procedure or None, departments=departments,
                                exported=exported))

    body = await svc.db.read(build)
    await audit.record(svc.db, actor=user.id, action="submissions.export", subject=None,
                       details={"format": format, "status": status, "procedure": procedure, "via": "console",
                                **audit.many(exported)})
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return Response(body.encode("utf-8"), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="submissions-{stamp}.{format}"', "Cache-Control": "no-store"})


@dataclass(frozen=True)
class FoundResident:
    """One registry search result as the console shows it: the name byte for byte, the kana, the birth date
    in 和暦, the address (``server.display``), and the id only in the link that picks the resident."""

    id: str
    name: str
    kana: str
    birth: str
    address: str


def _found(r: ResidentRecord) -> FoundResident:
    return FoundResident(r.id, name_text({"family": r.family, "given": r.given}),
                         name_text({"family": r.family_kana, "given": r.given_kana}),
                         wareki_text(r.birth_date), address_text(msgspec.structs.asdict(r)))


@get("/console/bind", include_in_schema=False)
async def bind_page(request: Request[Any, Any, Any], q: FromQuery[str | None] = None,
                    name: FromQuery[str | None] = None, birth_date: FromQuery[str | None] = None,
                    address: FromQuery[str | None] = None, account_id: FromQuery[str | None] = None,
                    resident_id: FromQuery[str | None] = None) -> Response[str]:
    user = require_roles(request, *BIND_ROLES)
    # ``q`` (the one box of earlier links) is searched as the API's q and shown in the name box. The values
    # go to the search as typed: its rule (parse_search: length, terms, dates) is the API's, refusals included.
    form = {"name": name if name is not None else q or "", "birth_date": birth_date or "", "address": address or ""}
    results: list[FoundResident] = []
    searched, error, status = False, "", 200
    if any(v.strip() for v in (q or "", *form.values())):
        try:
            found = await search_registry(services(request), user.id, q=None if name is not None else q,
                                          name=name, birth_date=birth_date, address=address, via="console")
            results, searched = [_found(r) for r in found], True
        except SearchInputError as exc:
            error, status = _search_error(exc), 400
    return render_page(request, "bind.html", http_status=status, form=form, results=results, searched=searched,
                       account_id=account_id or "", resident_id=resident_id or "", message="", error=error)


# Every code parse_search refuses with, in Japanese (the bind page's form labels name the field).
_SEARCH_ERRORS = {"invalid": "生年月日は 1980-04-12、S55.4.12、昭和55年4月12日 のように入力してください（年や年月だけでも検索できます）。",
                  "too_many_terms": f"検索する語が多すぎます。氏名・生年月日・住所を合わせて{MAX_TERMS}語までにしてください。",
                  "too_long": f"{{field}}は{MAX_LENGTH}文字以内で入力してください。",
                  "empty": "検索できる文字がありません。氏名・生年月日・住所のいずれかを入力してください。"}
_SEARCH_FIELDS = {"q": "「氏名またはよみ」", "name": "「氏名またはよみ」", "birth_date": "「生年月日」", "address": "「住所」"}


def _search_error(exc: SearchInputError) -> str:
    return _SEARCH_ERRORS.get(exc.code, "検索できませんでした。").format(field=_SEARCH_FIELDS.get(exc.path, "検索語"))


@dataclass
class BindForm:
    account_id: str
    resident_id: str
    id_document: str = ""


@post("/console/bind", include_in_schema=False)
async def bind_submit(request: Request[Any, Any, Any],
                      data: Annotated[BindForm, Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Response[str]:
    user = require_roles(request, *BIND_ROLES)
    try:
        out = await bind_account(services(request), staff_id=user.id, account_id=data.account_id.strip(),
                                 resident_id=data.resident_id.strip(), id_document=data.id_document.strip() or None)
    except Problem as exc:
        if exc.slug not in ("unknown-resident", "not-found", NOT_RESIDENT):
            raise
        message = {"unknown-resident": _FORM_ERRORS["unknown-resident"], "not-found": "そのアカウントはありません。",
                   NOT_RESIDENT: "職員のアカウントは住民記録に紐づけられません。"}[exc.slug]
        return render_page(request, "bind.html", http_status=exc.status_code, form=_EMPTY_FORM, results=[],
                           searched=False, account_id=data.account_id, resident_id=data.resident_id, message="",
                           error=message)
    return render_page(request, "bind.html", form=_EMPTY_FORM, results=[], searched=False,
                       account_id=out.account_id, resident_id="", error="",
                       message=f"アカウントを住民記録 {out.resident_id} に紐づけました。")


_EMPTY_FORM = {"name": "", "birth_date": "", "address": ""}


@get("/console/static/{name:str}", include_in_schema=False, sync_to_thread=False)
def static(name: FromPath[str]) -> Response[bytes]:
    if name in _STATIC:
        return Response((_HERE / "static" / name).read_bytes(), media_type=_STATIC[name],
                        headers={"Cache-Control": "no-cache"})
    module = pwa_module(name)
    if module is None:
        raise Problem(404, "not-found", "No such file")
    return module


console_router = Router(path="/", route_handlers=[queue, detail, status_form, export, bind_page, bind_submit,
                                                  static],
                        before_request=configurator_landing)
