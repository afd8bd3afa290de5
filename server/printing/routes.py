"""Printed forms of the staff console: ``GET /console/submissions/{id}/form.pdf`` (the 申請書 of one submission),
``GET /console/visits/{id}/forms.pdf`` (every 申請書 of a visit in one PDF: what the counter prints after the
interview) and ``GET /console/visits/{id}/guide.pdf`` (the 受付案内票 of a visit).

Who may print is who may read the submission in the console: the ``console`` capability
(``server.auth.roles.CAPABILITIES``) and the one readability rule (``server.authz.submission_readable``: a
reviewer their own department's only); anyone else gets the detail page's 404. Printing is a staff read of
personal data, audited ``submission.print``. The layout and the PDF are made in a worker thread: a render
takes about 100 ms of CPU, which must not stall every other request on the event loop.

A visit's 申請書 together: who may is who may read the visit (below) and, for each application, who may print it
alone (the same readability rule); the applications the reader may not read are left out, and each one printed is
audited ``submission.print`` as if printed alone (``details.visit`` names the visit).

The 受付案内票: who may print it is who may read the visit (``VISIT_ROLES``, the ``visits`` capability, and the
visit read rule of ``server.visits``: a reviewer only a visit with a part of their department, anyone else's
404), and it lists the applications the visit's view holds for the reader (``server.visits._view``: the parts
whose department they may see, ``can_access_department``; a reviewer prints their own department's lines
only). Audited ``visit.guide_print`` (naming the applications printed) once the PDF is made.
"""

from __future__ import annotations

import re
from typing import Any

import anyio
from litestar import Request, Response, Router, get
from litestar.params import FromPath, FromQuery

from procedure_definitions.model import Procedure
from server import audit
from server.auth.roles import CAPABILITIES
from server.authz import AccountLike, require_roles, submission_readable
from server.console.landing import configurator_landing
from server.console.readable import department_names
from server.display import arrival_name
from server.problems import Problem
from server.services import Services, services
from server.storage.submissions import SubmissionRecord
from server.storage.sync.records import utc_now
from server.visit_documents import visit_applications
from server.visits import visible_visit

from .form import Copy, FormMeta, form_html
from .guide import GuideLine, GuideVisit, guide_html
from .pdf import PrintingUnavailable, htmls_to_pdf, printing_problem

__all__ = ["print_router"]

_COPIES = ("resident", "staff")


def _filename(kind: str, number: str) -> str:
    """``form-2026-000123.pdf`` / ``guide-A-012.pdf``: only the number's safe characters reach the header."""
    return f"{kind}-" + (re.sub(r"[^A-Za-z0-9-]", "", number)[:40] or "print") + ".pdf"


def _which(copy: str) -> Copy:
    if copy not in _COPIES:
        raise Problem(400, "bad-request", "copy must be resident or staff")
    return "staff" if copy == "staff" else "resident"


def _readable(user: AccountLike, rec: SubmissionRecord) -> bool:
    """Who may print an application: who may read it in the console (the detail page's rule)."""
    return submission_readable(user, account_id=rec.account_id, on_behalf_of=rec.on_behalf_of,
                               department=rec.department, bound_resident=None, status=rec.status)


def _form(svc: Services, rec: SubmissionRecord, proc: Procedure, which: Copy) -> str:
    meta = FormMeta(submission_id=rec.id, receipt_number=rec.receipt_number, received_at=rec.received_at)
    return form_html(proc, rec.answers, meta, copy=which, layouts_dir=str(svc.settings.print_layouts_root))


async def _pdf(htmls: list[str]) -> bytes:
    try:
        return await anyio.to_thread.run_sync(htmls_to_pdf, htmls)
    except PrintingUnavailable as exc:
        raise printing_problem(exc) from None


def _pdf_response(pdf: bytes, filename: str) -> Response[bytes]:
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "no-store"})  # personal data: never cached


@get("/console/submissions/{sid:str}/form.pdf", include_in_schema=False)
async def form_pdf(request: Request[Any, Any, Any], sid: FromPath[str],
                   copy: FromQuery[str] = "resident") -> Response[bytes]:
    user = require_roles(request, *CAPABILITIES["console"])
    which = _which(copy)
    svc = services(request)
    rec = await svc.submissions.get(sid)
    if rec is None or not _readable(user, rec):
        raise Problem(404, "not-found", "No such submission")
    proc, _ = await svc.catalog.get(rec.procedure_id, rec.procedure_version)
    if proc is None:  # a version the catalog never stored: nothing to lay the answers out with
        raise Problem(404, "not-found", "The definition of this submission's procedure version is not known")
    pdf = await _pdf([_form(svc, rec, proc, which)])
    await audit.record(svc.db, actor=user.id, action="submission.print", subject=f"submission:{sid}",
                       details={"via": "console", "copy": which})
    return _pdf_response(pdf, _filename("form", rec.receipt_number))


@get("/console/visits/{vid:str}/forms.pdf", include_in_schema=False)
async def forms_pdf(request: Request[Any, Any, Any], vid: FromPath[str],
                    copy: FromQuery[str] = "resident") -> Response[bytes]:
    user = require_roles(request, *CAPABILITIES["visits"])
    which = _which(copy)
    svc = services(request)
    view = await visible_visit(svc, user, vid)  # 404 for an absent visit and one the reader does not see alike
    printed = [(a.record.id, _form(svc, a.record, a.procedure, which))
               for a in await visit_applications(svc, view, documents=False) if _readable(user, a.record)]
    if not printed:
        raise Problem(404, "not-found", "This visit has no application to print")
    pdf = await _pdf([h for _, h in printed])

    def log(c: Any) -> None:
        for sid, _ in printed:
            audit.append_audit(c, actor=user.id, action="submission.print", subject=f"submission:{sid}",
                               details={"via": "console", "copy": which, "visit": vid})

    await svc.db.write(log)
    return _pdf_response(pdf, _filename("forms", view.number))


@get("/console/visits/{vid:str}/guide.pdf", include_in_schema=False)
async def guide_pdf(request: Request[Any, Any, Any], vid: FromPath[str]) -> Response[bytes]:
    user = require_roles(request, *CAPABILITIES["visits"])
    svc = services(request)
    view = await visible_visit(svc, user, vid)  # 404 for an absent visit and one the reader does not see alike
    names = svc.catalog.of_library(department_names)
    # The view holds the applications of the parts the reader may see only; all of them in one read, each with
    # the documents the counter has seen (not printed as still to bring).
    sids = [sid for part in view.parts for sid in part.submissions]
    apps = await visit_applications(svc, view)
    lines = [GuideLine(procedure=a.procedure, answers=a.record.answers, receipt_number=a.record.receipt_number,
                       department=names.get(a.part.department, a.procedure.department.name.ja),
                       state=a.part.state, booth=a.part.booth, seen=a.seen_ids)
             for a in apps]
    # A registry resident by their record; a new arrival by the name their applications carry (what they sign),
    # else as typed at reception: server.display.arrival_name, the queue's order too.
    name = (view.resident_name if view.resident_id is not None
            else arrival_name(view.resident_name, ((a.procedure, a.record.answers) for a in apps)) or None)
    visit = GuideVisit(number=view.number, resident_name=name, opened_at=view.opened_at, booth=view.booth)
    pdf = await _pdf([guide_html(visit, lines, printed_at=utc_now())])
    await audit.record(svc.db, actor=user.id, action="visit.guide_print", subject=f"visit:{vid}",
                       details={"via": "console", **audit.many(sids)})
    return _pdf_response(pdf, _filename("guide", view.number))


print_router = Router(path="/", route_handlers=[form_pdf, forms_pdf, guide_pdf],
                      before_request=configurator_landing)
