"""Console page of the hand-off to core systems (連携状況, admins): the outbox per department and the rows not
delivered, with a button to send a failed one again (docs/handoff.md "Watching and retrying").

The page shows no personal data (application ids, receipt numbers, states, error lines: no names, no bodies),
so reading it is not audited; a retry is (``handoff.retry``, the same function as ``madoguchi handoff retry``).
Targets are not changed here: only the CLI sets them (docs/security.md "Hand-off to core systems").
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from server.auth.roles import HANDOFF_ROLES
from server.authz import require_roles
from server.console.landing import configurator_landing
from server.console.readable import department_names
from server.console.routes import render_page
from server.problems import Problem
from server.services import services
from server.storage.handoff import department_counts, list_outbox, list_targets, retry_row

__all__ = ["OUTBOX_LABELS", "handoff_page_router"]

OUTBOX_LABELS = {"pending": "送信待ち", "delivered": "送信済み", "failed": "失敗"}


@get("/console/handoff", include_in_schema=False)
async def handoff_page(request: Request[Any, Any, Any]) -> Response[str]:
    require_roles(request, *HANDOFF_ROLES)
    svc = services(request)
    targets, counts, rows = await svc.db.read(lambda c: (
        {t.department: t for t in list_targets(c)}, department_counts(c), list_outbox(c)))
    return render_page(request, "handoff.html", current="handoff", targets=targets, counts=counts, rows=rows,
                       departments=svc.catalog.of_library(department_names), outbox_labels=OUTBOX_LABELS)


@post("/console/handoff/{rid:int}/retry", include_in_schema=False)
async def retry_form(request: Request[Any, Any, Any], rid: FromPath[int]) -> Response[Any]:
    user = require_roles(request, *HANDOFF_ROLES)
    svc = services(request)
    before = await svc.db.write(lambda c: retry_row(c, rid, actor=user.id, via="console"))
    if before is None:
        raise Problem(404, "not-found", "No such hand-off row")
    if svc.handoff is not None:
        svc.handoff.kick()
    return Redirect("/console/handoff", status_code=303)


handoff_page_router = Router(path="/", route_handlers=[handoff_page, retry_form],
                             before_request=configurator_landing)
