"""Printed forms of the staff console: ``GET /console/submissions/{id}/form.pdf`` (the 申請書 of one submission).

Who may print is who may read the submission in the console: the ``console`` capability
(``server.auth.roles.CAPABILITIES``) and the one readability rule (``server.authz.submission_readable``: a
reviewer their own department's only); anyone else gets the detail page's 404. Printing is a staff read of
personal data, audited ``submission.print``. The layout and the PDF are made in a worker thread: a render
takes about 100 ms of CPU, which must not stall every other request on the event loop.
"""

from __future__ import annotations

import re
from typing import Any

import anyio
from litestar import Request, Response, Router, get
from litestar.params import FromPath, FromQuery

from server import audit
from server.auth.roles import CAPABILITIES
from server.authz import require_roles, submission_readable
from server.problems import Problem
from server.services import services

from .form import Copy, FormMeta, form_html
from .pdf import PrintingUnavailable, html_to_pdf, printing_problem

__all__ = ["print_router"]

_COPIES = ("resident", "staff")


def _filename(receipt_number: str) -> str:
    return "form-" + (re.sub(r"[^A-Za-z0-9-]", "", receipt_number)[:40] or "submission") + ".pdf"


@get("/console/submissions/{sid:str}/form.pdf", include_in_schema=False)
async def form_pdf(request: Request[Any, Any, Any], sid: FromPath[str],
                   copy: FromQuery[str] = "resident") -> Response[bytes]:
    user = require_roles(request, *CAPABILITIES["console"])
    if copy not in _COPIES:
        raise Problem(400, "bad-request", "copy must be resident or staff")
    which: Copy = "staff" if copy == "staff" else "resident"
    svc = services(request)
    rec = await svc.submissions.get(sid)
    if rec is None or not submission_readable(user, account_id=rec.account_id, on_behalf_of=rec.on_behalf_of,
                                              department=rec.department, bound_resident=None, status=rec.status):
        raise Problem(404, "not-found", "No such submission")
    proc, _ = await svc.catalog.get(rec.procedure_id, rec.procedure_version)
    if proc is None:  # a version the catalog never stored: nothing to lay the answers out with
        raise Problem(404, "not-found", "The definition of this submission's procedure version is not known")
    meta = FormMeta(submission_id=rec.id, receipt_number=rec.receipt_number, received_at=rec.received_at)
    layouts = str(svc.settings.print_layouts_root)

    def render() -> bytes:
        return html_to_pdf(form_html(proc, rec.answers, meta, copy=which, layouts_dir=layouts))

    try:
        pdf = await anyio.to_thread.run_sync(render)
    except PrintingUnavailable as exc:
        raise printing_problem(exc) from None
    await audit.record(svc.db, actor=user.id, action="submission.print", subject=f"submission:{sid}",
                       details={"via": "console", "copy": which})
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{_filename(rec.receipt_number)}"',
        "Cache-Control": "no-store"})  # personal data: never cached


print_router = Router(path="/", route_handlers=[form_pdf])
