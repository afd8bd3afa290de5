"""Visits (来庁) over HTTP and the operations the console shares: open, the board, one visit, attach
applications to department parts, take / complete / hand back a part, mark 確認・審査・交付, close, reopen.

Every path (this API and the console pages, ``server/console/visit_pages.py``) calls the functions below, so the
policy is decided once: the roles are ``server.auth.roles`` (``VISIT_DESK_ROLES`` open, attach, close, reopen;
``VISIT_ROLES`` read and work the parts, a reviewer only their own department's: ``may_work_part``), the
state rules ``server.visit_states`` (checked in the write job, ``server.storage.visits``). Reading a visit is a
staff read of personal data (the resident's name): audited ``visit.read`` / ``visit.board``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from server import audit
from server.auth.names import Name, NamePart
from server.auth.roles import (
    VISIT_DESK_ROLES,
    VISIT_ROLES,
    can_access_department,
    department_filter,
    may_override_part,
    may_work_part,
)
from server.authz import AccountLike, require_roles
from server.problems import Problem
from server.registry import ResidentRecord
from server.services import Services, services
from server.storage.submissions import load_submission
from server.storage.visits import (
    NewVisit,
    VisitNotFound,
    VisitPerson,
    VisitRecord,
    VisitRefused,
    attach_in,
    list_visits,
    load_visit,
    mark_seen_in,
    open_visit_in,
    part_action_in,
    visit_action_in,
)
from server.visit_documents import required_docs
from server.visit_states import PartAction, VisitAction

__all__ = [
    "BOOTH_MAX",
    "OpenedVisit",
    "VisitIn",
    "VisitView",
    "attach_submissions",
    "board",
    "mark_document_seen",
    "open_visit",
    "part_action",
    "read_visit",
    "read_visit_resident",
    "visible_visit",
    "visit_action",
    "visit_write",
    "visits_router",
]

T = TypeVar("T")

_Short = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
BOOTH_MAX = 20  # characters: what the board and the 受付案内票 have room for
_Booth = Annotated[str, msgspec.Meta(min_length=1, max_length=BOOTH_MAX)]


class PersonIn(msgspec.Struct, forbid_unknown_fields=True):
    """A person not yet in the registry (転入): stored as typed, byte for byte."""

    family: Name  # the one rule for names (server.auth.names): no bidirectional overrides, no controls
    given: NamePart = ""
    birth_date: Annotated[str, msgspec.Meta(max_length=20)] | None = None


class VisitIn(msgspec.Struct, forbid_unknown_fields=True):
    id: uuid.UUID  # client-generated: a double click opens one visit
    resident_id: _Short | None = None
    person: PersonIn | None = None
    booking_ref: _Short | None = None
    booth: _Booth | None = None


class AttachIn(msgspec.Struct, forbid_unknown_fields=True):
    submission_ids: Annotated[list[_Short], msgspec.Meta(min_length=1, max_length=50)]


class TakeIn(msgspec.Struct, forbid_unknown_fields=True):
    booth: _Booth | None = None


class StepIn(msgspec.Struct, forbid_unknown_fields=True):
    step: Literal["confirm", "review", "issue"]


class VisitView(VisitRecord, kw_only=True):
    """A stored visit with the resident's name ({family, given}: from the registry, or as typed)."""

    resident_name: dict[str, str] | None = None


class OpenedVisit(VisitView, kw_only=True):
    """The answer of ``POST /api/visits``: ``already_open`` when the registry resident had an open visit, which
    is answered instead of a second one (its id is not the one sent; ``server.storage.visits.open_visit_in``)."""

    already_open: bool = False


def _problem(exc: VisitRefused | VisitNotFound) -> Problem:
    if isinstance(exc, VisitNotFound):
        return Problem(404, "not-found", "No such visit")
    return Problem(exc.status, exc.code, exc.detail, **exc.extra)


def _view(user: AccountLike, rec: VisitRecord, names: Mapping[str, ResidentRecord]) -> VisitView:
    """What ``user`` sees of a visit: every part's department, state and clerk (the board), but the applications
    (``submissions``) only of the parts whose department they may see (``can_access_department``: a reviewer opens
    a visit for their own part, the other departments' applications are not theirs). ``names``: the registry
    records of the visits' residents, read once by the caller (:func:`_views`)."""
    name: dict[str, str] | None = None
    if rec.resident_id is not None:
        r = names.get(rec.resident_id)
        name = {"family": r.family, "given": r.given} if r is not None else None
    elif rec.person is not None:
        name = {"family": rec.person.family, "given": rec.person.given}
    fields = msgspec.structs.asdict(rec)
    fields["parts"] = [p if can_access_department(user, p.department) else msgspec.structs.replace(p, submissions=[])
                       for p in rec.parts]
    held = {sid for p in fields["parts"] for sid in p.submissions}
    fields["documents"] = [d for d in rec.documents if d.submission_id in held]  # of the applications shown only
    return VisitView(**fields, resident_name=name)


async def _views(svc: Services, user: AccountLike, recs: list[VisitRecord]) -> list[VisitView]:
    """The views of ``recs`` for ``user``, their residents' names in one registry read (the board: not one per row)."""
    names = await svc.registry.get_many(r.resident_id for r in recs if r.resident_id is not None)
    return [_view(user, r, names) for r in recs]


def _sees(user: AccountLike, rec: VisitRecord) -> bool:
    """A reviewer sees the visits with a part of their department; counter staff and admins every visit."""
    allowed = department_filter(user)
    return allowed is None or any(p.department in allowed for p in rec.parts)


async def _load(svc: Services, user: AccountLike, visit_id: str) -> VisitRecord:
    rec = await svc.db.read(lambda c: load_visit(c, visit_id))
    if rec is None or not _sees(user, rec):
        raise Problem(404, "not-found", "No such visit")  # absent and not yours alike
    return rec


async def visible_visit(svc: Services, user: AccountLike, visit_id: str) -> VisitView:
    """One visit for ``user`` as :func:`read_visit` answers it (404 when absent or not theirs; the applications of
    the parts they may see only), NOT audited: for a caller that audits its own read once it succeeded (the
    printed 受付案内票, ``visit.guide_print``)."""
    return (await _views(svc, user, [await _load(svc, user, visit_id)]))[0]


async def read_visit(svc: Services, user: AccountLike, visit_id: str, *, via: str) -> VisitView:
    """One visit for ``user`` (404 when absent or not theirs), audited ``visit.read``."""
    return (await read_visit_resident(svc, user, visit_id, via=via))[0]


async def read_visit_resident(svc: Services, user: AccountLike, visit_id: str, *,
                              via: str) -> tuple[VisitView, ResidentRecord | None]:
    """:func:`read_visit` and the visit's registry record (None for a person not in the registry), from the one
    registry read that names the resident (the console page shows their birth date and address)."""
    rec = await _load(svc, user, visit_id)
    await audit.record(svc.db, actor=user.id, action="visit.read", subject=f"visit:{visit_id}", details={"via": via})
    names = await svc.registry.get_many([rec.resident_id] if rec.resident_id is not None else [])
    return _view(user, rec, names), names.get(rec.resident_id) if rec.resident_id is not None else None


async def board(svc: Services, user: AccountLike, *, status: str | None, waiting_for: str | None,
                via: str) -> list[VisitView]:
    """The visit board for ``user``: one audited read (``visit.board``, the visit ids) of every visit shown."""
    if status not in (None, "open", "closed"):
        raise Problem(400, "bad-request", "status must be open or closed",
                      errors=[{"path": "status", "code": "invalid", "message": "open or closed"}])
    allowed = department_filter(user)
    rows = await svc.db.read(lambda c: list_visits(c, status=status, departments=allowed, waiting_for=waiting_for))
    await audit.record(svc.db, actor=user.id, action="visit.board", subject=None,
                       details={"status": status, "waiting_for": waiting_for, "via": via,
                                **audit.many([r.id for r in rows])})
    return await _views(svc, user, rows)


async def open_visit(svc: Services, user: AccountLike, data: VisitIn) -> tuple[VisitView, bool]:
    """Open a visit for a registry resident or a new person (exactly one of them); ``(visit, created)``. A
    registry resident with an open visit gets that visit (``created`` False and its id is not ``data.id``)."""
    if (data.resident_id is None) == (data.person is None):
        raise Problem(422, "resident-or-person", "Name either a registry resident or a new person",
                      errors=[{"path": "resident_id", "code": "one_of", "message": "resident_id or person"}])
    if data.resident_id is not None and await svc.registry.get(data.resident_id) is None:
        raise Problem(422, "unknown-resident", "No such resident in the registry")
    person = (VisitPerson(family=data.person.family, given=data.person.given, birth_date=data.person.birth_date)
              if data.person is not None else None)
    body = msgspec.json.encode(data, order="sorted")
    new = NewVisit(id=str(data.id), resident_id=data.resident_id, person=person, booking_ref=data.booking_ref,
                   booth=data.booth, opened_by=user.id, body_hash=hashlib.sha256(body).hexdigest())
    try:
        rec, created = await svc.db.write(lambda c: open_visit_in(c, new))
    except VisitRefused as exc:
        raise _problem(exc) from None
    return (await _views(svc, user, [rec]))[0], created


async def visit_write(svc: Services, fn: Callable[[sqlite3.Connection], T]) -> T:
    """One write job that changes a visit (with whatever else must commit with it: an interview's filings):
    a visit refusal becomes its problem, and nothing of the job is written."""
    try:
        return await svc.db.write(fn)
    except (VisitRefused, VisitNotFound) as exc:
        raise _problem(exc) from None



async def attach_submissions(svc: Services, user: AccountLike, visit_id: str, submission_ids: list[str]) -> None:
    await visit_write(svc, lambda c: attach_in(c, visit_id, submission_ids, user.id))


async def part_action(svc: Services, user: AccountLike, visit_id: str, department: str, action: PartAction, *,
                      booth: str | None = None) -> None:
    """Take / complete / hand back / mark a part: the visit must be one ``user`` sees (404), the part one of a
    department they may work (403), and its state must allow it (409, the state machine's code)."""
    rec = await _load(svc, user, visit_id)
    if not any(p.department == department for p in rec.parts):
        raise Problem(404, "not-found", "No such part")
    if not may_work_part(user, department):
        raise Problem(403, "forbidden", "Not a part of your department")
    override = may_override_part(user)
    await visit_write(svc, lambda c: part_action_in(c, visit_id, department, action, user.id, booth=booth,
                                               override=override))


async def mark_document_seen(svc: Services, user: AccountLike, visit_id: str, submission_id: str,
                             document_id: str) -> bool:
    """A department clerk saw one document (持ち物) of an application of the visit: the visit must be one ``user``
    sees and the application one of it (404), its part one they may work (``may_work_part``, 403), the document
    one the application requires (``server.visit_documents.required_docs``, 422 ``unknown-document``) and the
    visit open (409). False: seen already (a repeat, nothing written)."""
    rec = await _load(svc, user, visit_id)
    part = next((p for p in rec.parts if submission_id in p.submissions), None)
    if part is None:
        raise Problem(404, "not-found", "No such application in this visit")
    if not may_work_part(user, part.department):
        raise Problem(403, "forbidden", "Not a part of your department")
    sub = await svc.db.read(lambda c: load_submission(c, submission_id, history=False))
    proc = (await svc.catalog.get(sub.procedure_id, sub.procedure_version))[0] if sub is not None else None
    if sub is None or proc is None or document_id not in {d.id for d in required_docs(proc, sub.answers)}:
        raise Problem(422, "unknown-document", "The application requires no such document",
                      errors=[{"path": "document_id", "code": "unknown", "message": "not a document it requires"}])
    new = await visit_write(svc, lambda c: mark_seen_in(c, visit_id, {submission_id: [document_id]}, user.id,
                                                        via="console"))
    return bool(new)


async def visit_action(svc: Services, user: AccountLike, visit_id: str, action: VisitAction) -> None:
    await visit_write(svc, lambda c: visit_action_in(c, visit_id, action, user.id))


# -- routes -----------------------------------------------------------------------------------------------------

@post("/api/visits", summary="Open a visit (counter; idempotent on the client UUID; one open visit per resident)",
      status_code=201)
async def create_visit(request: Request[Any, Any, Any], data: JSONBody[VisitIn]) -> Response[OpenedVisit]:
    user = require_roles(request, *VISIT_DESK_ROLES)
    view, created = await open_visit(services(request), user, data)
    opened = OpenedVisit(**msgspec.structs.asdict(view), already_open=view.id != str(data.id))
    return Response(opened, status_code=201 if created else 200)


@get("/api/visits", summary="The visit board (audited)")
async def list_visits_route(request: Request[Any, Any, Any], status: FromQuery[str | None] = None,
                            waiting_for: FromQuery[Annotated[str, msgspec.Meta(max_length=100)] | None] = None
                            ) -> list[VisitView]:
    user = require_roles(request, *VISIT_ROLES)
    return await board(services(request), user, status=status, waiting_for=waiting_for, via="api")


@get("/api/visits/{vid:str}", summary="One visit with its parts and steps (audited)")
async def get_visit(request: Request[Any, Any, Any], vid: FromPath[str]) -> VisitView:
    user = require_roles(request, *VISIT_ROLES)
    return await read_visit(services(request), user, vid, via="api")


async def _answer(request: Request[Any, Any, Any], user: AccountLike, vid: str) -> VisitView:
    """The visit after a change, for the one who made it (the change's own audit entry names the visit)."""
    svc = services(request)
    rec = await svc.db.read(lambda c: load_visit(c, vid))
    assert rec is not None
    return (await _views(svc, user, [rec]))[0]


@post("/api/visits/{vid:str}/parts", summary="Attach applications to the visit's department parts (counter)",
      status_code=200)
async def attach_route(request: Request[Any, Any, Any], vid: FromPath[str], data: JSONBody[AttachIn]) -> VisitView:
    user = require_roles(request, *VISIT_DESK_ROLES)
    await attach_submissions(services(request), user, vid, data.submission_ids)
    return await _answer(request, user, vid)


async def _part(request: Request[Any, Any, Any], vid: str, dept: str, action: PartAction,
                booth: str | None = None) -> VisitView:
    user = require_roles(request, *VISIT_ROLES)
    await part_action(services(request), user, vid, dept, action, booth=booth)
    return await _answer(request, user, vid)


@post("/api/visits/{vid:str}/parts/{dept:str}/take", summary="Take a part (担当します)", status_code=200)
async def take_route(request: Request[Any, Any, Any], vid: FromPath[str], dept: FromPath[str],
                     data: JSONBody[TakeIn | None] = None) -> VisitView:
    return await _part(request, vid, dept, "take", data.booth if data is not None else None)


@post("/api/visits/{vid:str}/parts/{dept:str}/complete", summary="Complete a part (完了)", status_code=200)
async def complete_route(request: Request[Any, Any, Any], vid: FromPath[str], dept: FromPath[str]) -> VisitView:
    return await _part(request, vid, dept, "complete")


@post("/api/visits/{vid:str}/parts/{dept:str}/release", summary="Hand a part back to waiting (戻す)", status_code=200)
async def release_route(request: Request[Any, Any, Any], vid: FromPath[str], dept: FromPath[str]) -> VisitView:
    return await _part(request, vid, dept, "release")


@post("/api/visits/{vid:str}/parts/{dept:str}/steps", summary="Record 確認・審査・交付 of a part in progress",
      status_code=200)
async def step_route(request: Request[Any, Any, Any], vid: FromPath[str], dept: FromPath[str],
                     data: JSONBody[StepIn]) -> VisitView:
    return await _part(request, vid, dept, data.step)


@post("/api/visits/{vid:str}/close", summary="Close the visit (every part done; counter)", status_code=200)
async def close_route(request: Request[Any, Any, Any], vid: FromPath[str]) -> VisitView:
    user = require_roles(request, *VISIT_DESK_ROLES)
    await visit_action(services(request), user, vid, "close")
    return await _answer(request, user, vid)


@post("/api/visits/{vid:str}/reopen", summary="Reopen a closed visit (counter)", status_code=200)
async def reopen_route(request: Request[Any, Any, Any], vid: FromPath[str]) -> VisitView:
    user = require_roles(request, *VISIT_DESK_ROLES)
    await visit_action(services(request), user, vid, "reopen")
    return await _answer(request, user, vid)


visits_router = Router(path="/", route_handlers=[create_visit, list_visits_route, get_visit, attach_route, take_route,
                                                 complete_route, release_route, step_route, close_route,
                                                 reopen_route], tags=["visits"])
