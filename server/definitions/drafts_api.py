"""Drafts over HTTP (``/api/drafts``): push a YAML or notebook text, see its check results, its diff against
the live version, run its scenarios and any answers through the server's exact validation.

Configurators and admins (``CONFIGURE_ROLES``), signed in or with a token of scope ``drafts`` (each route's
``opt``). Publishing is not here: it is a console action with a fresh passkey check
(``server/console/procedure_pages.py``), never a token permission.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, put
from litestar.params import FromPath, JSONBody

from procedure_definitions.model import Procedure
from procedure_definitions.versions import latest
from server.audit import append_audit
from server.auth.roles import CONFIGURE_ROLES
from server.authz import require_roles
from server.catalog import validate_answers
from server.definitions.drafts import (
    DraftConflict,
    DraftRow,
    abandon_draft_in,
    check_draft,
    draft_definition,
    get_draft,
    list_drafts,
    problem_line,
    save_draft_in,
)
from server.problems import Problem
from server.services import Services, services

__all__ = ["DraftIn", "DraftOut", "drafts_router"]

_SCOPE = {"token_scope": "drafts"}
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"


class DraftIn(msgspec.Struct, forbid_unknown_fields=True):
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=_NO_CONTROL)]
    source: Annotated[str, msgspec.Meta(max_length=1_000_000)]


class ValidateIn(msgspec.Struct, forbid_unknown_fields=True):
    answers: dict[str, Any]
    filer: str = "resident"


class DraftOut(msgspec.Struct):
    id: str
    procedure_id: str | None
    version: str | None
    kind: str | None
    filename: str
    format: str
    state: str
    revision: int
    ok: bool
    problems: list[dict[str, Any]]
    lines: list[str]
    estimate_seconds: int | None
    estimate_line: str | None
    scenarios: list[dict[str, Any]]
    live_version: str | None
    published_version: str | None
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    urls: dict[str, str]


def _scenarios(row: DraftRow) -> list[dict[str, Any]]:
    d = draft_definition(row)
    if not isinstance(d, Procedure):
        return []
    out = []
    for sc in d.scenarios:
        mine = [problem_line(p) for p in row.problems if p["code"] in ("PD301", "PD302")
                and f"scenario '{sc.name}'" in p["message"]]
        out.append({"name": sc.name, "ok": not mine, "errors": mine})
    return out


def _live_version(svc: Services, row: DraftRow) -> str | None:
    if row.procedure_id is None:
        return None
    lib = svc.catalog.library
    table = lib.procedures if row.kind != "life_event" else lib.life_events
    versions = table.get(row.procedure_id)
    return latest(versions) if versions else None


def draft_out(svc: Services, row: DraftRow) -> DraftOut:
    est_line = None
    d = draft_definition(row)
    if isinstance(d, Procedure) and row.estimate_seconds is not None:
        from procedure_definitions.timing import BUDGET_SECONDS

        verdict = "within" if row.estimate_seconds <= BUDGET_SECONDS else "over the"
        est_line = f"{d.id} {d.version}: {row.estimate_seconds} s ({verdict} {BUDGET_SECONDS:.0f} s" + (
            ")" if verdict == "within" else " budget)")
    base = f"/api/drafts/{row.id}"
    return DraftOut(
        id=row.id, procedure_id=row.procedure_id, version=row.version, kind=row.kind, filename=row.filename,
        format=row.format, state=row.state, revision=row.revision, ok=row.ok, problems=row.problems,
        lines=[problem_line(p) for p in row.problems], estimate_seconds=row.estimate_seconds, estimate_line=est_line,
        scenarios=_scenarios(row), live_version=_live_version(svc, row), published_version=row.published_version,
        created_by=row.created_by, created_at=row.created_at, updated_by=row.updated_by, updated_at=row.updated_at,
        urls={"self": base, "source": f"{base}/source", "diff": f"{base}/diff", "preview": f"{base}/preview",
              "console": f"/console/procedures/drafts/{row.id}"})


async def _store(request: Request[Any, Any, Any], body: DraftIn, draft_id: str | None) -> Response[DraftOut]:
    user = require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)
    outcome = await check_draft(svc, body.filename, body.source)

    def job(c: Any) -> tuple[DraftRow, bool]:
        row, created = save_draft_in(c, filename=body.filename, source=body.source, outcome=outcome,
                                     actor=user.id, draft_id=draft_id)
        append_audit(c, actor=user.id, action="draft.push", subject=f"draft:{row.id}",
                     details={"procedure": row.procedure_id, "version": row.version, "revision": row.revision,
                              "ok": row.ok})
        return row, created

    try:
        row, created = await svc.db.write(job)
    except DraftConflict as e:
        raise Problem(404 if e.code == "not-found" else 409, e.code, e.detail) from None
    return Response(draft_out(svc, row), status_code=201 if created else 200)


async def _get_row(request: Request[Any, Any, Any], draft_id: str) -> tuple[Services, DraftRow]:
    require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)
    row = await svc.db.read(lambda c: get_draft(c, draft_id))
    if row is None:
        raise Problem(404, "not-found", "No such draft")
    return svc, row


@post("/api/drafts", summary="Push a definition (YAML or notebook) as a draft; its check results",
      opt=_SCOPE, status_code=201)
async def push_draft(request: Request[Any, Any, Any], data: JSONBody[DraftIn]) -> Response[DraftOut]:
    return await _store(request, data, None)


@put("/api/drafts/{draft_id:str}", summary="Replace a draft's text", opt=_SCOPE)
async def replace_draft(request: Request[Any, Any, Any], draft_id: FromPath[str], data: JSONBody[DraftIn]
                        ) -> Response[DraftOut]:
    return await _store(request, data, draft_id)


@get("/api/drafts", summary="Drafts (open ones first)", opt=_SCOPE)
async def drafts_list(request: Request[Any, Any, Any]) -> list[DraftOut]:
    require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)
    rows = await svc.db.read(list_drafts)
    return [draft_out(svc, r) for r in rows]


@get("/api/drafts/{draft_id:str}", summary="One draft with its check results", opt=_SCOPE)
async def draft_detail(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> DraftOut:
    svc, row = await _get_row(request, draft_id)
    return draft_out(svc, row)


@get("/api/drafts/{draft_id:str}/source", summary="A draft's text as pushed", opt=_SCOPE,
     media_type="text/plain; charset=utf-8")
async def draft_source(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> Response[str]:
    _, row = await _get_row(request, draft_id)
    media = "application/x-ipynb+json" if row.format == "ipynb" else "application/yaml"
    return Response(row.source, media_type=f"{media}; charset=utf-8")


@delete("/api/drafts/{draft_id:str}", summary="Abandon a draft", opt=_SCOPE, status_code=200)
async def abandon_draft(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> DraftOut:
    user = require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)

    def job(c: Any) -> tuple[DraftRow | None, bool]:
        row, changed = abandon_draft_in(c, draft_id, user.id)
        if changed:
            append_audit(c, actor=user.id, action="draft.abandon", subject=f"draft:{draft_id}", details={})
        return row, changed

    row, changed = await svc.db.write(job)
    if row is None:
        raise Problem(404, "not-found", "No such draft")
    if not changed:
        raise Problem(409, "draft-closed", f"This draft is {row.state}: only an open draft is abandoned")
    return draft_out(svc, row)


def _need_definition(row: DraftRow) -> Any:
    d = draft_definition(row)
    if d is None:
        raise Problem(409, "draft-has-errors", "The draft has errors: fix them first",
                      errors=[{"path": "source", "code": "invalid", "message": problem_line(p)}
                              for p in row.problems if p.get("severity") == "error"][:50])
    return d


@post("/api/drafts/{draft_id:str}/validate", summary="Validate answers with the server's exact rules",
      opt=_SCOPE, status_code=200)
async def validate_draft(request: Request[Any, Any, Any], draft_id: FromPath[str], data: JSONBody[ValidateIn]
                         ) -> dict[str, Any]:
    _, row = await _get_row(request, draft_id)
    d = _need_definition(row)
    if not isinstance(d, Procedure):
        raise Problem(409, "not-a-procedure", "A life event has no answers to validate")
    if data.filer not in ("resident", "staff"):
        raise Problem(422, "invalid", "filer is 'resident' or 'staff'",
                      errors=[{"path": "filer", "code": "enum", "message": "resident or staff"}])
    try:
        errors = await asyncio.to_thread(validate_answers, d, data.answers, filer=data.filer)
    except (TypeError, ValueError) as e:  # answers of the wrong shape: the filer's mistake, never a 500
        raise Problem(422, "invalid-answers", f"The answers do not fit the form: {e}") from None
    return {"valid": not errors, "errors": errors}


@post("/api/drafts/{draft_id:str}/scenarios", summary="Run the draft's scenarios on the server",
      opt=_SCOPE, status_code=200)
async def draft_scenarios(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> dict[str, Any]:
    _, row = await _get_row(request, draft_id)
    _need_definition(row)
    scenarios = _scenarios(row)  # run by the server's check when this revision was pushed, and stored
    return {"ok": all(s["ok"] for s in scenarios), "scenarios": scenarios}


@get("/api/drafts/{draft_id:str}/diff", summary="What the draft changes against the live version", opt=_SCOPE)
async def draft_diff(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> Any:
    svc, row = await _get_row(request, draft_id)
    d = _need_definition(row)
    from procedure_definitions.diff import diff_definitions

    lib = svc.catalog.library
    table = lib.procedures if isinstance(d, Procedure) else lib.life_events
    versions = table.get(d.id)
    old = versions[latest(versions)] if versions else None
    return diff_definitions(old, d)


drafts_router = Router(path="/", route_handlers=[push_draft, replace_draft, drafts_list, draft_detail, draft_source,
                                                 abandon_draft, validate_draft, draft_scenarios, draft_diff],
                       tags=["drafts"])
