"""Counter codes (窓口で見せるコード) and pre-entries: a resident shows a 6-character code (and the same as a QR
code) at the counter; the clerk types or scans it into the visit page, which loads the resident's account and,
when the code carries one, their pre-entry (the answers of a draft or life event filled at home) into the visit.
From there the account is bound to the visit's registry record in one click (``server.identity.bind_account``).

Policy in one place: the roles are ``server.auth.roles`` (``COUNTER_CODE_ROLES`` make a code for their own
account, ``PREENTRY_LOAD_ROLES`` load one into a visit and read its pre-entry, ``BIND_ROLES`` bind); every load
is a guess at a code, so it takes a token of the auth component's ``counter_code`` buckets (per address and per
clerk, ``server.auth.http.limit``) before anything is read. Codes: 6 characters of the recovery codes' alphabet
(Crockford base32, read the same way: ``server.auth.codes``), 30 bits, valid ``COUNTER_CODE_TTL``, one live code
per account, spent when loaded. A wrong, spent or revoked code answers 404 ``code-not-found``, an expired one
410 ``code-expired`` (docs/api.md, docs/security.md). Loading and reading a pre-entry are audited.

The interview takes its initial values from :func:`visit_preentry` (``{kind, id, version, answers, procedures,
questions}``) through :func:`preentry_initial`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
import segno
from litestar import Request, Response, Router, delete, get, post
from litestar.params import FromPath, JSONBody

from procedure_definitions.model import LifeEvent, Procedure
from server import audit
from server.auth.codes import normalize_code, random_code
from server.auth.http import ip, limit
from server.auth.roles import BIND_ROLES, COUNTER_CODE_ROLES, PREENTRY_LOAD_ROLES
from server.auth.store import hash_secret
from server.authz import AccountLike, require_roles
from server.console.readable import account_names
from server.identity import bind_account
from server.problems import Problem
from server.services import Services, services
from server.storage.counter_codes import (
    CodeRefused,
    LoadedPreentry,
    load_code_in,
    loaded_preentry,
    put_code_in,
    revoke_code_in,
)
from server.storage.visits import load_visit

__all__ = [
    "CODE_LENGTH",
    "COUNTER_CODE_TTL",
    "MAX_PREENTRY_BYTES",
    "MAX_PREENTRY_STRING",
    "QR_MASK",
    "CodeOut",
    "PreentryIn",
    "PreentryView",
    "bind_from_visit",
    "counter_code_router",
    "load_counter_code",
    "preentry_initial",
    "qr_path",
    "visit_preentry",
]

CODE_LENGTH = 6  # 30 bits: with the rate limit and the TTL, guessing a live code is hopeless (docs/security.md)
COUNTER_CODE_TTL = dt.timedelta(minutes=30)
MAX_PREENTRY_BYTES = 32 * 1024  # the snapshot as stored (JSON): a draft's answers, never a file's bytes
MAX_PREENTRY_STRING = 2000  # the longest text an answer may hold in a snapshot: no data: URL slips in
_MAX_DEPTH = 16
# One fixed data mask: segno otherwise draws all eight and scores them (~5 ms a code against ~1 ms), and every
# queue ticket and booking gets a QR; any mask is a valid QR code that every reader decodes (ISO/IEC 18004 §7.8).
QR_MASK = 0
_MAX_PROCEDURES = 30

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ProcedureAnswers(msgspec.Struct, forbid_unknown_fields=True):
    version: _Id
    answers: dict[str, Any] = {}


class PreentryIn(msgspec.Struct, forbid_unknown_fields=True):
    """What a resident pre-entered: one procedure's draft (``answers``) or a life event in progress (its shared
    ``answers`` and each included procedure's: ``procedures``)."""

    kind: Literal["procedure", "life_event"]
    id: _Id
    version: _Id
    answers: dict[str, Any] = {}
    procedures: dict[str, ProcedureAnswers] = {}
    questions: dict[str, Any] = {}  # a life event's answered questions (which procedures apply)


class CodeIn(msgspec.Struct, forbid_unknown_fields=True):
    preentry: PreentryIn | None = None


class QrOut(msgspec.Struct):
    size: int  # modules per side, without the quiet zone
    path: str  # SVG path data of the dark modules (viewBox 0 0 size size)


class CodeOut(msgspec.Struct):
    code: str
    expires_at: str
    qr: QrOut
    preentry: dict[str, str] | None  # {kind, id}


class LoadIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class BindVisitIn(msgspec.Struct, forbid_unknown_fields=True):
    id_document: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class LoadedAccount(msgspec.Struct):
    id: str
    display_name: str
    resident_id: str | None  # the registry record the account is bound to, if any


class PreentryView(msgspec.Struct, kw_only=True):
    """What a visit holds from a counter code. ``binding``: ``bound`` (to this visit's resident),
    ``bindable`` (not bound yet; the visit has a registry resident), ``bound-elsewhere`` (to another record)
    or ``no-resident`` (the visit is for a person not in the registry)."""

    visit_id: str
    account: LoadedAccount
    preentry: dict[str, Any] | None
    loaded_by: str
    loaded_at: str
    binding: Literal["bound", "bindable", "bound-elsewhere", "no-resident"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hash(code: str) -> str:
    return hash_secret(normalize_code(code)).hex()


def qr_path(text: str) -> QrOut:
    """``text`` as a QR code (error correction M), drawn as one SVG path: each run of dark modules of a row is
    a rectangle. A path is smaller than the SVG document and the PWA draws it without parsing markup."""
    qr = segno.make(text, error="m", micro=False, mask=QR_MASK)
    runs: list[str] = []
    for y, row in enumerate(qr.matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return QrOut(size=len(qr.matrix), path="".join(runs))


def _check_values(value: Any, depth: int = 0) -> str | None:
    """Why a snapshot's answers are refused (too deep, a text too long), or None."""
    if depth > _MAX_DEPTH:
        return "preentry-too-deep"
    if isinstance(value, str):
        return "preentry-value-too-long" if len(value) > MAX_PREENTRY_STRING else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for v in items:
        why = _check_values(v, depth + 1)
        if why:
            return why
    return None


async def _validated(svc: Services, pre: PreentryIn) -> bytes:
    """The snapshot as stored, after the checks: known definitions, bounded size, no long strings."""
    if pre.kind == "procedure":
        if pre.procedures:
            raise Problem(422, "invalid-preentry", "A procedure's pre-entry has no procedures",
                          errors=[{"path": "preentry.procedures", "code": "not_allowed", "message": "life events only"}])
        if (await svc.catalog.get(pre.id, pre.version))[0] is None:
            raise Problem(422, "unknown-procedure", "No such procedure version",
                          errors=[{"path": "preentry.id", "code": "unknown", "message": pre.id}])
    else:
        if await svc.catalog.life_event(pre.id, pre.version) is None:
            raise Problem(422, "unknown-life-event", "No such life event version",
                          errors=[{"path": "preentry.id", "code": "unknown", "message": pre.id}])
        if len(pre.procedures) > _MAX_PROCEDURES:
            raise Problem(422, "invalid-preentry", "Too many procedures")
        for pid, p in pre.procedures.items():
            if (await svc.catalog.get(pid, p.version))[0] is None:
                raise Problem(422, "unknown-procedure", "No such procedure version",
                              errors=[{"path": f"preentry.procedures.{pid}", "code": "unknown", "message": pid}])
    if pre.kind == "procedure" and pre.questions:
        raise Problem(422, "invalid-preentry", "A procedure's pre-entry has no questions",
                      errors=[{"path": "preentry.questions", "code": "not_allowed", "message": "life events only"}])
    why = _check_values([pre.answers, pre.questions, [p.answers for p in pre.procedures.values()]])
    if why:
        raise Problem(422, why, "A pre-entered answer is too long or too deeply nested",
                      errors=[{"path": "preentry.answers", "code": why, "message": f"<= {MAX_PREENTRY_STRING}"}])
    body = msgspec.json.encode(pre)
    if len(body) > MAX_PREENTRY_BYTES:
        raise Problem(422, "preentry-too-large", f"The pre-entry is larger than {MAX_PREENTRY_BYTES} bytes",
                      errors=[{"path": "preentry", "code": "too_large", "message": f"<= {MAX_PREENTRY_BYTES} bytes"}])
    return body


async def make_code(svc: Services, user: AccountLike, pre: PreentryIn | None) -> CodeOut:
    """A new code for ``user``'s own account (the previous one is void)."""
    snapshot = await _validated(svc, pre) if pre is not None else None
    code = random_code(CODE_LENGTH)
    now = _now()
    created, expires = now.isoformat(timespec="seconds"), (now + COUNTER_CODE_TTL).isoformat(timespec="seconds")
    summary = {"preentry": {"kind": pre.kind, "id": pre.id} if pre is not None else None}
    await svc.db.write(lambda c: put_code_in(c, account_id=user.id, code_hash=_hash(code), created_at=created,
                                             expires_at=expires, preentry=snapshot, summary=summary))
    return CodeOut(code=code, expires_at=expires, qr=qr_path(code),
                   preentry={"kind": pre.kind, "id": pre.id} if pre is not None else None)


_REFUSALS = {
    "not-found": "No such visit",
    "visit-closed": "The visit is closed",
    "code-not-found": "No such counter code: check it, or ask the resident to make a new one",
    "code-expired": "The counter code expired: ask the resident to make a new one",
}


async def _view(svc: Services, loaded: LoadedPreentry) -> PreentryView:
    vid, aid, visit_resident = loaded.visit_id, loaded.account_id, loaded.visit_resident
    name, _, bound_to = (await account_names(svc.db, [aid])).get(aid, ("", "", None))
    binding: Literal["bound", "bindable", "bound-elsewhere", "no-resident"]
    if bound_to is not None and bound_to == visit_resident:
        binding = "bound"
    elif bound_to is not None:
        binding = "bound-elsewhere"
    else:
        binding = "bindable" if visit_resident else "no-resident"
    return PreentryView(visit_id=vid, account=LoadedAccount(aid, name, bound_to),
                        preentry=loaded.preentry, loaded_by=loaded.loaded_by, loaded_at=loaded.loaded_at,
                        binding=binding)


async def load_counter_code(request: Request[Any, Any, Any], user: AccountLike, visit_id: str, code: str,
                            *, via: str) -> PreentryView:
    """Load a code into the visit (API and console): rate limited first, failures audited
    (``visit.counter_code_failed``), success audited in the same write (``visit.counter_code_load``)."""
    limit(request, "counter_code", user.id)
    svc = services(request)
    now = _now().isoformat(timespec="seconds")
    code_hash = _hash(code)
    try:
        loaded = await svc.db.write(lambda c: load_code_in(c, visit_id=visit_id, code_hash=code_hash, now=now,
                                                           actor=user.id))
    except CodeRefused as e:
        if e.code.startswith("code-"):
            await audit.record(svc.db, actor=user.id, action="visit.counter_code_failed", subject=f"visit:{visit_id}",
                               details={"reason": e.code, "ip": ip(request), "via": via})
        raise Problem(e.status, e.code, _REFUSALS[e.code]) from None
    return await _view(svc, loaded)


async def visit_preentry(svc: Services, user: AccountLike, visit_id: str, *, via: str) -> PreentryView | None:
    """What the visit holds from a counter code (the account, its pre-entry ``{kind, id, version, answers,
    procedures}``), or None; a staff read of personal data, audited ``visit.preentry_read``. The interview
    prefills from ``preentry``. The caller decided the role (``PREENTRY_LOAD_ROLES``)."""
    loaded = await svc.db.read(lambda c: loaded_preentry(c, visit_id))
    if loaded is None:
        return None
    await audit.record(svc.db, actor=user.id, action="visit.preentry_read", subject=f"visit:{visit_id}",
                       details={"account_id": loaded.account_id, "via": via})
    return await _view(svc, loaded)


async def bind_from_visit(svc: Services, user: AccountLike, visit_id: str, id_document: str | None) -> PreentryView:
    """Bind the account loaded into the visit to the visit's registry resident: the one binding function
    (``server.identity.bind_account``, audited ``identity.bind`` with the visit), never rebinding an account
    bound to another record (409 ``already-bound``)."""
    rec = await svc.db.read(lambda c: load_visit(c, visit_id))
    if rec is None:
        raise Problem(404, "not-found", "No such visit")
    if rec.status != "open":
        raise Problem(409, "visit-closed", _REFUSALS["visit-closed"])
    loaded = await svc.db.read(lambda c: loaded_preentry(c, visit_id))
    if loaded is None:
        raise Problem(409, "no-account-loaded", "Load the resident's counter code into the visit first")
    if rec.resident_id is None:
        raise Problem(422, "visit-without-resident", "The visit is for a person not in the registry")
    await bind_account(svc, staff_id=user.id, account_id=loaded.account_id, resident_id=rec.resident_id,
                       id_document=id_document, replace=False, visit_id=visit_id)
    return await _view(svc, loaded)


def preentry_initial(draft: dict[str, Any], pre: dict[str, Any] | None, ev: LifeEvent,
                     procs: Mapping[str, Procedure]) -> list[str]:
    """Put a visit's pre-entry into a new interview draft (``server.interview_plan.empty_draft``'s shape, already
    prefilled from the registry) as initial values; the keys set (``scope:field``, ``q:question``).

    Only what the interview of ``ev`` asks: the event's questions and shared fields (a pre-entered life event of
    the same id), and the top-level fields of the event's procedures (from a life event's procedures, or a
    pre-entered procedure the event includes). A value the registry prefilled stays (the record is the
    reference; the clerk sees the resident's answer on the visit page); a ``staff_only`` field is never taken
    from a resident; fields the form does not have are dropped. The interview validates everything as usual."""
    if not pre:
        return []
    applied: list[str] = []
    if pre.get("kind") == "life_event" and pre.get("id") == ev.id:
        asked = {q.id for q in ev.questions}
        for qid, v in (pre.get("questions") or {}).items():
            if qid in asked and qid not in draft["questions"]:
                draft["questions"][qid] = v
                applied.append(f"q:{qid}")
        shared = {sf.field.id for sf in ev.shared_fields if not sf.field.staff_only}
        for fid, v in (pre.get("answers") or {}).items():
            if fid in shared and draft["shared"].get(fid) in (None, "", []):
                draft["shared"][fid] = v
                applied.append(f"s:{fid}")
        given = {pid: (p or {}).get("answers") or {} for pid, p in (pre.get("procedures") or {}).items()}
    elif pre.get("kind") == "procedure":
        given = {str(pre.get("id")): pre.get("answers") or {}}
    else:
        return applied
    for lp in ev.procedures:
        proc, answers = procs.get(lp.procedure), given.get(lp.procedure)
        if proc is None or not isinstance(answers, dict):
            continue
        fields = {f.id for sec in proc.sections for f in sec.fields if not f.staff_only}
        # A field the event asks once as a shared field (its maps_to) is filled there, as the interview asks it.
        shared_of = {sf.maps_to[proc.id]: sf.field.id for sf in ev.shared_fields
                     if proc.id in sf.maps_to and not sf.field.staff_only}
        mine = draft["answers"].setdefault(proc.id, {})
        for fid, v in answers.items():
            if fid not in fields or v in (None, "", []):
                continue
            scope, box, key = ("s", draft["shared"], shared_of[fid]) if fid in shared_of else (proc.id, mine, fid)
            if box.get(key) in (None, "", []):
                box[key] = v
                applied.append(f"{scope}:{key}")
    return applied


# -- routes -----------------------------------------------------------------------------------------------------

@post("/api/me/counter-code", status_code=201,
      summary="A counter code for my account, optionally carrying a pre-entry (replaces the previous one)")
async def create_code(request: Request[Any, Any, Any], data: JSONBody[CodeIn | None] = None) -> CodeOut:
    user = require_roles(request, *COUNTER_CODE_ROLES)
    return await make_code(services(request), user, data.preentry if data is not None else None)


@delete("/api/me/counter-code", status_code=204, summary="Revoke my counter code")
async def revoke_code(request: Request[Any, Any, Any]) -> None:
    user = require_roles(request, *COUNTER_CODE_ROLES)
    await services(request).db.write(lambda c: revoke_code_in(c, user.id))


@post("/api/visits/{vid:str}/counter-code", status_code=200,
      summary="Load a resident's counter code into the visit (counter; rate limited; audited)")
async def load_route(request: Request[Any, Any, Any], vid: FromPath[str], data: JSONBody[LoadIn]) -> PreentryView:
    user = require_roles(request, *PREENTRY_LOAD_ROLES)
    return await load_counter_code(request, user, vid, data.code, via="api")


@get("/api/visits/{vid:str}/preentry", summary="The account and pre-entry loaded into the visit (counter; audited)")
async def preentry_route(request: Request[Any, Any, Any], vid: FromPath[str]) -> Response[PreentryView]:
    user = require_roles(request, *PREENTRY_LOAD_ROLES)
    view = await visit_preentry(services(request), user, vid, via="api")
    if view is None:
        raise Problem(404, "not-found", "No counter code was loaded into this visit")
    return Response(view)


@post("/api/visits/{vid:str}/bind-account", status_code=200,
      summary="Bind the loaded account to the visit's registry resident (counter, after checking ID; audited)")
async def bind_route(request: Request[Any, Any, Any], vid: FromPath[str],
                     data: JSONBody[BindVisitIn | None] = None) -> PreentryView:
    user = require_roles(request, *BIND_ROLES)
    return await bind_from_visit(services(request), user, vid, data.id_document if data is not None else None)


counter_code_router = Router(path="/", route_handlers=[create_code, revoke_code, load_route, preentry_route, bind_route],
                             tags=["counter codes"])
