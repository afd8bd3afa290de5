"""Identity binding (counter staff bind an account to a registry record after checking ID) and prefill."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from server import audit
from server.audit import append_audit
from server.auth.roles import ASSIGNED_ROLES, BIND_ROLES, PROFILE_READ_ROLES, REGISTRY_ROLES
from server.authz import require_roles, require_user
from server.problems import Problem
from server.registry import ResidentRecord
from server.registry_search import SearchInputError, parse_search
from server.services import Services, services
from server.storage.submission_search import rekey_submissions

__all__ = ["ALREADY_BOUND", "NOT_RESIDENT", "BindIn", "bind_account", "identity_router", "may_read_profile", "search_registry"]


class BindIn(msgspec.Struct, forbid_unknown_fields=True):
    resident_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    id_document: Annotated[str, msgspec.Meta(max_length=100)] | None = None  # e.g. "マイナンバーカード"


class BindOut(msgspec.Struct):
    account_id: str
    resident_id: str
    bound_at: str


class ProfileOut(msgspec.Struct, omit_defaults=True):
    verified: bool
    profile: dict[str, Any]
    # attribute -> "registry" | "transfer" (an imported 転出証明書情報): shown next to the prefilled value.
    sources: dict[str, str] = msgspec.field(default_factory=dict)


class ResidentSummary(msgspec.Struct):
    id: str
    family: str
    given: str
    family_kana: str | None
    given_kana: str | None
    birth_date: str | None
    address: str


def summarize(r: ResidentRecord) -> ResidentSummary:
    addr = "".join(x for x in (r.prefecture, r.city, r.town, r.block) if x)
    return ResidentSummary(r.id, r.family, r.given, r.family_kana, r.given_kana, r.birth_date, addr)


def _account_role(c: Any, account_id: str) -> str | None:
    try:
        row = c.execute("SELECT role FROM accounts WHERE id = ?", (account_id,)).fetchone()
    except sqlite3.OperationalError:  # auth's table not there yet (auth component absent): accept any id
        return "resident"
    return str(row[0]) if row else None


NOT_RESIDENT = "not-a-resident-account"


ALREADY_BOUND = "already-bound"


async def bind_account(svc: Services, *, staff_id: str, account_id: str, resident_id: str,
                       id_document: str | None, replace: bool = True, visit_id: str | None = None) -> BindOut:
    """Bind ``account_id`` to the registry record ``resident_id`` (the one binding function: API, console, the
    visit's one click). ``replace=False`` (from a visit) refuses, 409 ``already-bound``, an account bound to
    another record: rebinding someone is the bind page's deliberate act, never a side effect of a code. An
    account already bound to ``resident_id`` is a repeat (a second click, another clerk): nothing is written or
    audited, and the binding's own ``bound_at`` is answered."""
    if await svc.registry.get(resident_id) is None:
        raise Problem(422, "unknown-resident", "No such resident in the registry",
                      errors=[{"path": "resident_id", "code": "unknown", "message": "unknown resident"}])
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    bound_at = now

    def job(c: Any) -> str | None:
        nonlocal bound_at
        # Only a resident account stands for a person in the registry: a staff account bound to a record
        # would read that resident's profile as its own. Decided here, in the write, for the API and console.
        role = _account_role(c, account_id)
        if role != "resident":
            return role
        prev = c.execute("SELECT resident_id, bound_at FROM identity_bindings WHERE account_id = ?",
                         (account_id,)).fetchone()
        if prev is not None and prev[0] == resident_id:
            bound_at = str(prev[1])  # a repeat: the binding stands as it is (no second identity.bind)
            return "resident"
        if prev is not None and not replace:
            return ALREADY_BOUND
        c.execute("INSERT INTO identity_bindings (account_id, resident_id, bound_by, bound_at) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT(account_id) DO UPDATE SET resident_id = excluded.resident_id,"
                  " bound_by = excluded.bound_by, bound_at = excluded.bound_at",
                  (account_id, resident_id, staff_id, now))
        rekey_submissions(c, account_id=account_id)  # the queue finds what they filed by the record's name
        append_audit(c, actor=staff_id, action="identity.bind", subject=f"account:{account_id}",
                     details={"resident_id": resident_id, "id_document": id_document,
                              **({"visit_id": visit_id} if visit_id else {})})
        return "resident"

    role = await svc.db.write(job)
    if role is None:
        raise Problem(404, "not-found", "No such account")
    if role == ALREADY_BOUND:
        raise Problem(409, ALREADY_BOUND, "The account is already bound to another resident record",
                      errors=[{"path": "account_id", "code": "already_bound", "message": "bound to another record"}])
    if role != "resident":
        raise Problem(409, NOT_RESIDENT, "Only a resident account can be bound to a registry record",
                      errors=[{"path": "account_id", "code": "not_resident", "message": f"a {role} account"}])
    return BindOut(account_id, resident_id, bound_at)


@post("/api/accounts/{account_id:str}/bind", summary="Bind an account to a registry record (counter staff)",
      status_code=200)
async def bind(request: Request[Any, Any, Any], account_id: FromPath[str], data: JSONBody[BindIn]) -> BindOut:
    staff = require_roles(request, *BIND_ROLES)
    return await bind_account(services(request), staff_id=staff.id, account_id=account_id,
                              resident_id=data.resident_id, id_document=data.id_document)


@get("/api/me/profile", summary="Prefill data of the signed-in resident")
async def my_profile(request: Request[Any, Any, Any]) -> ProfileOut:
    user = require_user(request)
    svc = services(request)
    rid = getattr(user, "resident_id", None) or await svc.db.read(lambda c: (c.execute(
        "SELECT resident_id FROM identity_bindings WHERE account_id = ?", (user.id,)).fetchone() or [None])[0])
    if not rid:
        return ProfileOut(False, {})
    profile, sources = await svc.registry.profile_with_sources(rid)
    return ProfileOut(True, profile, sources)


def may_read_profile(c: Any, staff_id: str, role: str, resident_id: str) -> bool:
    """The staff side of the profile rule (``PROFILE_READ_ROLES``): counter staff read any resident's,
    outreach workers only an assigned resident's."""
    if role == "counter":
        return True
    return role == "outreach" and c.execute(
        "SELECT 1 FROM outreach_assignments WHERE account_id = ? AND resident_id = ?", (staff_id, resident_id)
    ).fetchone() is not None


@get("/api/residents/{resident_id:str}/profile",
     summary="Prefill data of a resident, for staff filing on their behalf (counter; outreach: assigned; audited)")
async def resident_profile(request: Request[Any, Any, Any], resident_id: FromPath[str]) -> ProfileOut:
    staff = require_roles(request, *PROFILE_READ_ROLES)
    svc = services(request)
    if not await svc.db.read(lambda c: may_read_profile(c, staff.id, staff.role, resident_id)):
        raise Problem(403, "forbidden", "This resident is not assigned to you")
    profile, sources = await svc.registry.profile_with_sources(resident_id)
    if not profile:
        raise Problem(404, "not-found", "No such resident in the registry")
    # A staff read of personal data: who read whose profile, and whose members it listed.
    people = [m["member_id"] for k in ("household_members", "transfer_movers") for m in profile.get(k, [])]
    await audit.record(svc.db, actor=staff.id, action="registry.profile_read", subject=f"resident:{resident_id}",
                       details=audit.many(sorted(set(people))))
    return ProfileOut(True, profile, sources)


_Param = str | None  # at most 100 characters each: parse_search's rule (the console's too)


async def search_registry(svc: Services, staff_id: str, *, q: str | None = None, name: str | None = None,
                          birth_date: str | None = None, address: str | None = None,
                          via: str | None = None) -> list[ResidentRecord]:
    """The one registry search of staff (API and console): ``server.registry_search.parse_search``'s rule,
    audited ``registry.search`` with what was asked and whom it found. SearchInputError before any read."""
    conds = parse_search(q, name=name, birth_date=birth_date, address=address)
    found = await svc.registry.search(conds)
    asked = {k: v.strip() for k, v in (("query", q), ("name", name), ("birth_date", birth_date),
                                        ("address", address)) if v and v.strip()}
    await audit.record(svc.db, actor=staff_id, action="registry.search", subject=None,
                       details={**asked, **({"via": via} if via else {}), **audit.many([r.id for r in found])})
    return found


@get("/api/registry/search", summary="Search the resident registry (counter staff; audited)")
async def registry_search(request: Request[Any, Any, Any], q: FromQuery[_Param] = None,
                          name: FromQuery[_Param] = None, birth_date: FromQuery[_Param] = None,
                          address: FromQuery[_Param] = None) -> list[ResidentSummary]:
    staff = require_roles(request, *REGISTRY_ROLES)
    try:
        found = await search_registry(services(request), staff.id, q=q, name=name, birth_date=birth_date,
                                      address=address)
    except SearchInputError as exc:
        raise Problem(400, "bad-request", str(exc),
                      errors=[{"path": exc.path, "code": exc.code, "message": str(exc)}]) from None
    return [summarize(r) for r in found]


class OutreachResident(msgspec.Struct, omit_defaults=True):
    id: str
    name: str
    name_kana: str | None = None
    birth_date: str | None = None
    address: str | None = None
    household_id: str | None = None


@get("/api/outreach/residents", summary="Residents assigned to the signed-in outreach worker (audited)")
async def outreach_residents(request: Request[Any, Any, Any]) -> list[OutreachResident]:
    staff = require_roles(request, *ASSIGNED_ROLES)
    svc = services(request)
    ids = await svc.db.read(lambda c: [r[0] for r in c.execute(
        "SELECT resident_id FROM outreach_assignments WHERE account_id = ? ORDER BY resident_id", (staff.id,))])
    out: list[OutreachResident] = []
    for rid in ids:
        r = await svc.registry.get(rid)
        if r is None:
            continue
        s = summarize(r)
        kana = " ".join(x for x in (r.family_kana, r.given_kana) if x) or None
        out.append(OutreachResident(r.id, f"{r.family} {r.given}", kana, r.birth_date, s.address or None,
                                    r.household_id))
    await audit.record(svc.db, actor=staff.id, action="outreach.list", subject=None, details=audit.many([r.id for r in out]))
    return out


identity_router = Router(path="/", route_handlers=[bind, my_profile, resident_profile, registry_search,
                                                  outreach_residents],
                         tags=["identity"])
