"""Submission endpoints: idempotent filing, the resident's own list, detail, respond, status changes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, JSONBody

from procedure_definitions.forms import for_resident
from procedure_definitions.model import Procedure
from server import audit
from server.auth.roles import STATUS_ROLES, can_access_department
from server.authz import (
    AccountLike,
    read_is_audited,
    require_roles,
    require_user,
    status_change_allowed,
    submission_readable,
)
from server.filing import Refusal, bound_resident, check_filing, write_filing
from server.parties import PartyState, party_states
from server.problems import Problem
from server.responding import NOT_FOUND, RespondIn, check_response
from server.services import Services, services
from server.storage.follow import write_response_in
from server.storage.parties import slots_of
from server.storage.submissions import (
    STATUSES,
    HistoryEntry,
    IdempotencyConflict,
    InvalidTransition,
    Listed,
    NotFound,
    Receipt,
    SubmissionRecord,
    TransitionNotPermitted,
)

__all__ = ["RESIDENT_MESSAGE_STATUSES", "SubmissionIn", "change_status", "file_submission", "submissions_router"]


class SubmissionIn(msgspec.Struct, forbid_unknown_fields=True):
    id: uuid.UUID
    procedure_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    procedure_version: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    answers: dict[str, Any]
    # Its shape (1-100 characters) is the filing policy's to decide (server.filing), the same for sync.
    on_behalf_of: str | None = None
    # Any JSON: decoded by the filing policy (server.filing), which drops a bad one instead of failing the
    # submission, as sync does; typing it here would refuse the whole body for a bad telemetry.
    telemetry: Any = None


# Statuses the resident must be told why (needs_info: what to add; rejected: the reason): every status
# change (API and console, change_status) needs a comment visible to the resident for them.
RESIDENT_MESSAGE_STATUSES = frozenset({"needs_info", "rejected"})


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: str
    comment: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    visible_to_resident: bool = True


class SubmissionView(Receipt, kw_only=True):
    """The receipt with the answers and the (resident-visible, for residents) history."""

    answers: dict[str, Any]
    history: list[HistoryEntry]
    updated_at: str  # the last status change or reply (as GET /api/submissions lists it)
    # A two-person procedure: each party's state (``server.parties``); empty for every other submission.
    parties: list[PartyState] = msgspec.field(default_factory=list)


async def _can_read(svc: Services, user: AccountLike, rec: SubmissionRecord) -> bool:
    bound = await bound_resident(svc, user) if user.role == "resident" and rec.account_id != user.id else None
    return submission_readable(user, account_id=rec.account_id, on_behalf_of=rec.on_behalf_of,
                               department=rec.department, bound_resident=bound, status=rec.status)


async def file_submission(svc: Services, user: AccountLike, data: SubmissionIn) -> tuple[Receipt, bool]:
    """File ``data`` for ``user``: the receipt and whether it was created (False: a retry).

    The route handler and the fast lane (``server.submission_lane``) both come here; the decision and the
    writer are ``server.filing``'s, shared with ``submission.create`` over sync. Every refusal is a
    ``Problem`` raised before anything is written.
    """
    decision = await check_filing(svc, user, submission_id=str(data.id), procedure_id=data.procedure_id,
                                  procedure_version=data.procedure_version, answers=data.answers,
                                  on_behalf_of=data.on_behalf_of, telemetry=data.telemetry, via="api")
    if isinstance(decision, Refusal):
        raise decision.problem()
    return await write_filing(svc, decision)


@post("/api/submissions", summary="File a submission (idempotent on the client UUID)",
      responses=None, status_code=201)
async def create_submission(request: Request[Any, Any, Any], data: JSONBody[SubmissionIn]) -> Response[Receipt]:
    user = require_user(request)  # who may file is check_filing's to decide (server/filing.py), as over sync
    receipt, created = await file_submission(services(request), user, data)
    return Response(receipt, status_code=201 if created else 200)


@get("/api/submissions", summary="My submissions (residents: and those filed for them; staff: those they filed)")
async def list_submissions(request: Request[Any, Any, Any]) -> list[Listed]:
    user = require_user(request)
    svc = services(request)
    # A resident also follows what staff filed for them (submission_readable: the bound registry record).
    bound = await bound_resident(svc, user) if user.role == "resident" else None
    return await svc.submissions.list_for_account(user.id, resident_id=bound)


async def _load_visible(request: Request[Any, Any, Any], sid: str) -> tuple[AccountLike, SubmissionRecord]:
    user = require_user(request)
    svc = services(request)
    rec = await svc.submissions.get(sid)
    # Same answer for "missing" and "not yours": ids must not be probeable.
    if rec is None or not await _can_read(svc, user, rec):
        raise Problem(404, "not-found", "No such submission")
    return user, rec


def _resident_history(rec: SubmissionRecord, viewer: AccountLike) -> list[HistoryEntry]:
    """The timeline a resident sees: every status step, but only the messages staff marked for them (an
    internal comment is dropped, the step stays), and no staff account ids (only their own)."""
    return [msgspec.structs.replace(h, actor=h.actor if h.actor == viewer.id else None,
                                    comment=h.comment if h.visible_to_resident else None, visible_to_resident=True)
            for h in rec.history]


def _view(rec: SubmissionRecord, *, viewer: AccountLike, parties: list[PartyState] | None = None,
          proc: Procedure | None = None) -> SubmissionView:
    resident = viewer.role == "resident"
    history = _resident_history(rec, viewer) if resident else rec.history
    # A resident never reads what the counter wrote in staff_only fields (窓口メモ, 連絡記録, checks).
    answers = for_resident(proc, rec.answers) if resident and proc is not None else rec.answers
    return SubmissionView(id=rec.id, receipt_number=rec.receipt_number, procedure_id=rec.procedure_id,
                          procedure_version=rec.procedure_version, status=rec.status,
                          received_at=rec.received_at, flags=rec.flags, answers=answers, history=history,
                          updated_at=rec.updated_at, parties=parties or [])


@get("/api/submissions/{sid:str}", summary="One submission with its history")
async def get_submission(request: Request[Any, Any, Any], sid: FromPath[str]) -> SubmissionView:
    user, rec = await _load_visible(request, sid)
    if read_is_audited(user):
        await audit.record(services(request).db, actor=user.id, action="submission.read",
                           subject=f"submission:{rec.id}", details={"via": "api"})
    slots = await services(request).db.read(lambda c: slots_of(c, rec.id))
    proc = (await services(request).catalog.get(rec.procedure_id, rec.procedure_version))[0] \
        if user.role == "resident" else None
    return _view(rec, viewer=user, parties=party_states(slots), proc=proc)


@post("/api/submissions/{sid:str}/respond", summary="Answer a request for more information", status_code=200)
async def respond(request: Request[Any, Any, Any], sid: FromPath[str], data: JSONBody[RespondIn]) -> SubmissionView:
    user = require_user(request)
    svc = services(request)
    decision = await check_response(svc, user, sid, data)  # the one respond policy, as over sync
    if isinstance(decision, Refusal):
        raise decision.problem()
    try:
        out, _ = await svc.db.write(lambda c: write_response_in(c, decision))
    except NotFound:
        raise NOT_FOUND.problem() from None
    except IdempotencyConflict:
        raise Problem(422, "idempotency-key-reused", "This reply id was already used with a different body") from None
    except InvalidTransition as e:
        raise Problem(409, "invalid-transition", f"The submission is {e.current}, not waiting for information",
                      current=e.current) from None
    proc = (await svc.catalog.get(out.procedure_id, out.procedure_version))[0] if user.role == "resident" else None
    return _view(out, viewer=user, proc=proc)


async def change_status(request: Request[Any, Any, Any], sid: str, target: str, comment: str | None,
                        visible: bool = True) -> SubmissionRecord:
    """Shared by the JSON API and the console: the roles of ``server.auth.roles.STATUS_CHANGES`` (reviewers of
    the department and admins every move, counter staff their intake moves), decided by
    ``server.authz.status_change_allowed``."""
    user = require_roles(request, *STATUS_ROLES)
    svc = services(request)
    rec = await svc.submissions.get(sid)
    # Whom it may be shown to is the one read policy (a held two-person part: its filer only, so 404 here, its
    # existence not revealed); reviewing it is for its department's staff, even one who filed it.
    if rec is None or not await _can_read(svc, user, rec) or not can_access_department(user, rec.department):
        raise Problem(404, "not-found", "No such submission")
    if target not in STATUSES:
        raise Problem(422, "invalid-status", f"Unknown status {target!r}",
                      errors=[{"path": "status", "code": "enum", "message": "unknown status"}])
    comment = (comment or "").strip() or None
    if target in RESIDENT_MESSAGE_STATUSES and (comment is None or not visible):
        # The PWA tells the resident to read the city's message (what to add, why it was refused): there must be one.
        raise Problem(422, "resident-message-required",
                      f"Changing to {target} needs a comment visible to the resident",
                      errors=[{"path": "comment", "code": "required",
                               "message": "a comment with visible_to_resident true is required for this status"}])
    try:
        out = await svc.submissions.transition(sid, target, actor=user.id, comment=comment,
                                               visible_to_resident=visible,
                                               permitted=lambda frm, to: status_change_allowed(user, frm, to))
    except TransitionNotPermitted as e:
        raise Problem(403, "forbidden", f"Your role may not change {e.current} to {e.target}",
                      current=e.current) from None
    except InvalidTransition as e:
        raise Problem(409, "invalid-transition", f"Cannot go from {e.current} to {e.target}",
                      current=e.current) from None
    except NotFound:
        raise Problem(404, "not-found", "No such submission") from None
    if svc.notifier is not None:  # queued: sent off the request path, never failing the change
        svc.notifier.status_changed(out.account_id, out.id, out.receipt_number)
    if svc.handoff is not None:  # the change may have written a hand-off row: send it now, not at the next round
        svc.handoff.kick()
    return out


@post("/api/submissions/{sid:str}/status", summary="Change the status (reviewer of the department, admin)",
       status_code=200)
async def set_status(request: Request[Any, Any, Any], sid: FromPath[str],
                     data: JSONBody[StatusIn]) -> SubmissionView:
    rec = await change_status(request, sid, data.status, data.comment, data.visible_to_resident)
    return _view(rec, viewer=require_user(request))


submissions_router = Router(
    path="/", route_handlers=[create_submission, list_submissions, get_submission, respond, set_status],
    tags=["submissions"],
)
