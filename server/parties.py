"""Procedures for two people over HTTP: invitations, the partner's confirmation, cancelling a held part.

The first resident files their part like any submission (``POST /api/submissions`` or sync: the filing
policy holds it ``awaiting_partner``, ``server.filing``). They then ask for an invitation code per party and
give it to that person themselves (spoken, written, a link): nobody searches the registry for anyone. The
partner, signed in with their own passkey and bound to their own registry record, redeems the code (the slot
becomes theirs, the code is spent), sees the application's shared part minus identity numbers and files,
fills their part (the PWA prefills it from their own profile) and confirms it. The last confirmation files
the whole through the one filing policy (``check_filing(..., complete=True)``). Either may cancel while it
waits. Who may do what is decided here once, per route, by :func:`_party_slot` and :func:`_filer_held`;
docs/api.md ("Procedures for two people") is the contract.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post
from litestar.params import FromPath, JSONBody

from procedure_definitions.model import FieldBase, GroupField, Procedure
from procedure_definitions.parties import FIRST_FILER, part_field_ids, part_of
from server import audit
from server.auth.codes import format_code, normalize_code, random_code
from server.auth.http import ip, limit
from server.auth.roles import PARTY_ROLES
from server.auth.store import hash_secret
from server.authz import AccountLike, require_roles
from server.filing import Refusal, answers_refusal, bound_resident, check_filing
from server.problems import Problem
from server.services import Services, services
from server.storage.parties import (
    PartyConflict,
    PartySlot,
    cancel_held,
    claim_invitation,
    confirm_part,
    issue_invitation,
    slot_for,
    slots_of,
    slots_of_account,
)
from server.storage.submissions import NewSubmission, SubmissionRecord

__all__ = ["INVITATION_TTL", "PartyState", "parties_router", "party_states"]

INVITATION_TTL = dt.timedelta(days=7)
# The recovery codes' alphabet and reading (server.auth.codes: Crockford base32, NFKC, I/L as 1, O as 0).
# 12 characters are 60 random bits: guessing one live code is hopeless long before it expires.
_CODE_LEN = 12
_NOT_YOURS = "No such application waiting for your confirmation"  # missing and not-yours answer the same

_CONFLICTS: dict[str, tuple[int, str]] = {
    "not-found": (404, _NOT_YOURS),
    "not-waiting": (409, "The application is no longer waiting for confirmation"),
    "already-claimed": (409, "The other person already accepted the invitation"),
    "already-confirmed": (409, "Your part is already confirmed"),
    "invitation-not-found": (404, "No such invitation: check the code, or ask for a new one"),
    "invitation-expired": (410, "The invitation expired: ask the person who invited you for a new code"),
    "own-application": (409, "This is your own application: the invitation is for the other person"),
}


def _conflict(e: PartyConflict) -> Problem:
    status, detail = _CONFLICTS.get(e.why, (409, "Not possible now"))
    return Problem(status, e.why, detail)


def _hash(code: str) -> str:
    return hash_secret(normalize_code(code)).hex()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PartyState(msgspec.Struct, kw_only=True):
    """What the first filer sees of each party of their held submission (never the other's account)."""

    party: str
    state: str  # waiting | claimed | confirmed | cancelled
    invitation_expires_at: str | None = None


def party_states(slots: list[PartySlot]) -> list[PartyState]:
    return [PartyState(party=s.party, state=s.state, invitation_expires_at=s.code_expires_at) for s in slots]


class InvitationOut(msgspec.Struct, kw_only=True):
    submission_id: str
    party: str
    code: str  # shown once: only its hash is stored
    expires_at: str


class ClaimIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class ConfirmIn(msgspec.Struct, forbid_unknown_fields=True):
    answers: dict[str, Any]


class ConfirmationView(msgspec.Struct, kw_only=True):
    """What a party sees: the shared application (no identity numbers, no files), their own part."""

    submission_id: str
    receipt_number: str
    procedure_id: str
    procedure_version: str
    party: str
    state: str  # their slot's state
    status: str  # the submission's status
    received_at: str
    shared_answers: dict[str, Any]
    answers: dict[str, Any] | None = None  # their part, once confirmed


# Never shown to the other person: identity numbers and files are each person's own.
_PRIVATE_TYPES = frozenset({"my_number", "attachment"})


def _private(f: FieldBase) -> bool:
    return str(f.__struct_config__.tag) in _PRIVATE_TYPES


def _shareable(proc: Procedure, answers: dict[str, Any]) -> dict[str, Any]:
    """The first filer's answers as the form shows them to the other person, minus private fields."""
    fields = {f.id: f for s in part_of(proc, FIRST_FILER).sections for f in s.fields}
    out: dict[str, Any] = {}
    for fid, value in answers.items():
        f = fields.get(fid)
        if f is None or _private(f):
            continue
        if isinstance(f, GroupField) and isinstance(value, list):
            hide = {c.id for c in f.fields if _private(c)}
            value = [{k: v for k, v in item.items() if k not in hide} if isinstance(item, dict) else item
                     for item in value]
        out[fid] = value
    return out


async def _procedure(svc: Services, rec: SubmissionRecord) -> Procedure:
    proc, _ = await svc.catalog.get(rec.procedure_id, rec.procedure_version)
    if proc is None:
        raise Problem(404, "not-found", _NOT_YOURS)
    return proc


async def _filer_held(request: Request[Any, Any, Any], sid: str) -> tuple[AccountLike, SubmissionRecord]:
    """The first filer's own submission (the same 404 for missing and not theirs)."""
    user = require_roles(request, *PARTY_ROLES)
    rec = await services(request).submissions.get(sid)
    if rec is None or rec.account_id != user.id:
        raise Problem(404, "not-found", "No such submission")
    return user, rec


async def _party_slot(request: Request[Any, Any, Any], sid: str) -> tuple[AccountLike, SubmissionRecord, PartySlot]:
    """A party's view of a submission: only the resident who claimed a slot of it, nobody else (404)."""
    user = require_roles(request, *PARTY_ROLES)
    svc = services(request)
    slot = await svc.db.read(lambda c: slot_for(c, sid, user.id))
    rec = await svc.submissions.get(sid) if slot is not None else None
    if slot is None or rec is None:
        raise Problem(404, "not-found", _NOT_YOURS)
    return user, rec, slot


def _view(proc: Procedure, rec: SubmissionRecord, slot: PartySlot) -> ConfirmationView:
    return ConfirmationView(submission_id=rec.id, receipt_number=rec.receipt_number, procedure_id=rec.procedure_id,
                            procedure_version=rec.procedure_version, party=slot.party, state=slot.state,
                            status=rec.status, received_at=rec.received_at,
                            shared_answers=_shareable(proc, rec.answers), answers=slot.answers)


@post("/api/submissions/{sid:str}/parties/{party:str}/invitation", status_code=201,
      summary="A new invitation code for a party of my held submission (the previous one is void)")
async def invite(request: Request[Any, Any, Any], sid: FromPath[str], party: FromPath[str]) -> InvitationOut:
    user, rec = await _filer_held(request, sid)
    code = format_code(random_code(_CODE_LEN))
    expires = (_now() + INVITATION_TTL).isoformat(timespec="seconds")
    try:
        await services(request).db.write(lambda c: issue_invitation(
            c, rec.id, party, account_id=user.id, code_hash=_hash(code), expires_at=expires))
    except PartyConflict as e:
        raise _conflict(e) from None
    return InvitationOut(submission_id=rec.id, party=party, code=code, expires_at=expires)


@post("/api/submissions/{sid:str}/cancel", status_code=200,
      summary="Withdraw my submission while it waits for the other person")
async def cancel_mine(request: Request[Any, Any, Any], sid: FromPath[str]) -> PartyState:
    user, rec = await _filer_held(request, sid)
    return await _cancel(request, user, rec.id)


async def _cancel(request: Request[Any, Any, Any], user: AccountLike, sid: str) -> PartyState:
    svc = services(request)
    try:
        out = await svc.db.write(lambda c: cancel_held(c, sid, account_id=user.id))
    except PartyConflict as e:
        raise _conflict(e) from None
    if svc.notifier is not None and out.account_id and out.account_id != user.id:  # the partner withdrew it
        svc.notifier.status_changed(out.account_id, out.id, out.receipt_number)
    return PartyState(party="", state="cancelled")


@post("/api/party-invitations/claim", status_code=200,
      summary="Redeem an invitation code: the other person's part of the application becomes mine")
async def claim(request: Request[Any, Any, Any], data: JSONBody[ClaimIn]) -> ConfirmationView:
    user = require_roles(request, *PARTY_ROLES)
    svc = services(request)
    mine = await bound_resident(svc, user)
    if mine is None:  # their part is prefilled from, and filed as, their own registry record
        raise Problem(403, "not-bound", "Have your account bound to your resident record at the counter first")
    # Every redemption is a guess at a code: the auth component's buckets bound them per address and account.
    limit(request, "invitation", user.id)
    code_hash = _hash(data.code)
    now = _now().isoformat(timespec="seconds")
    try:
        slot = await svc.db.write(lambda c: claim_invitation(c, code_hash, account_id=user.id, resident_id=mine,
                                                             now=now))
    except PartyConflict as e:  # nothing was written: the failure is audited on its own
        await audit.record(svc.db, actor=user.id, action="party.claim_failed", subject=f"account:{user.id}",
                           details={"reason": e.why, "ip": ip(request)})
        raise _conflict(e) from None
    rec = await svc.submissions.get(slot.submission_id)
    assert rec is not None
    return _view(await _procedure(svc, rec), rec, slot)


@get("/api/party-confirmations", summary="Applications I was invited to confirm")
async def my_confirmations(request: Request[Any, Any, Any]) -> list[ConfirmationView]:
    user = require_roles(request, *PARTY_ROLES)
    svc = services(request)
    out = []
    for slot in await svc.db.read(lambda c: slots_of_account(c, user.id)):
        rec = await svc.submissions.get(slot.submission_id)
        if rec is not None:
            out.append(_view(await _procedure(svc, rec), rec, slot))
    return out


@get("/api/party-confirmations/{sid:str}", summary="One application I was invited to confirm")
async def my_confirmation(request: Request[Any, Any, Any], sid: FromPath[str]) -> ConfirmationView:
    _, rec, slot = await _party_slot(request, sid)
    return _view(await _procedure(services(request), rec), rec, slot)


@dataclass
class _Filer:
    """The first filer, as the filing policy sees them when the last part completes their filing."""

    id: str
    role: str = "resident"
    department: str | None = None
    display_name: str = ""
    resident_id: str | None = None


@post("/api/party-confirmations/{sid:str}", status_code=200,
      summary="Confirm my part; the last part files the application")
async def confirm(request: Request[Any, Any, Any], sid: FromPath[str], data: JSONBody[ConfirmIn]) -> ConfirmationView:
    user, rec, slot = await _party_slot(request, sid)
    svc = services(request)
    proc = await _procedure(svc, rec)
    if slot.state != "claimed":
        raise _conflict(PartyConflict("already-confirmed" if slot.state == "confirmed" else "not-waiting"))
    if rec.status != "awaiting_partner":
        raise _conflict(PartyConflict("not-waiting"))
    mine = part_field_ids(proc, slot.party)
    foreign = sorted(set(data.answers) - mine)
    if foreign:
        raise Problem(422, "invalid-answers", "Only your own part's fields can be answered here",
                      errors=[{"path": f, "code": "other_party", "message": "not your part"} for f in foreign[:20]])
    refused = answers_refusal(await svc.validator.validate(part_of(proc, slot.party), data.answers, "resident"))
    if refused is not None:  # as when filing: staff_only fields are the counter's (422 staff-only-field)
        raise refused.problem()
    others = await svc.db.read(lambda c: slots_of(c, sid))
    filed: NewSubmission | None = None
    if all(s.state == "confirmed" for s in others if s.party != slot.party):
        whole = dict(rec.answers)
        for s in others:
            whole.update(s.answers or {})
        whole.update(data.answers)
        assert rec.account_id is not None
        partners = {s.party: s.resident_id for s in others if s.resident_id}
        decision = await check_filing(svc, _Filer(id=rec.account_id), submission_id=rec.id,
                                      procedure_id=rec.procedure_id, procedure_version=rec.procedure_version,
                                      answers=whole, on_behalf_of=rec.on_behalf_of, via="party", complete=True,
                                      partners=partners)
        if isinstance(decision, Refusal):
            raise decision.problem()
        filed = decision.new  # its flags and files: the one filing decision, as on every path
    try:
        out = await svc.db.write(lambda c: confirm_part(c, sid, account_id=user.id, answers=data.answers,
                                                        filed=filed))
    except PartyConflict as e:
        raise _conflict(e) from None
    if filed is not None and svc.notifier is not None and out.account_id:  # the first filer hears it was filed
        svc.notifier.status_changed(out.account_id, out.id, out.receipt_number)
    done = await svc.db.read(lambda c: slot_for(c, sid, user.id))
    assert done is not None
    return _view(proc, out, done)


@post("/api/party-confirmations/{sid:str}/cancel", status_code=200,
      summary="Decline: withdraw the application I was invited to confirm")
async def cancel_invited(request: Request[Any, Any, Any], sid: FromPath[str]) -> PartyState:
    user, rec, _ = await _party_slot(request, sid)
    return await _cancel(request, user, rec.id)


parties_router = Router(path="/", route_handlers=[invite, cancel_mine, claim, my_confirmations, my_confirmation,
                                                  confirm, cancel_invited], tags=["parties"])
