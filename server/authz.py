"""Authorization helpers for the server's handlers.

``server.auth`` authenticates (passkeys, sessions) and puts the signed-in account in ``scope["user"]``;
this module only reads it, so handlers depend on the small :class:`AccountLike` protocol and not on the
auth implementation. Every handler calls one of these first: there is no endpoint without a decision.
Roles and the department rule are not defined here but in ``server.auth.roles`` (one definition for HTTP,
console, sync and the fast lane).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from litestar.connection import ASGIConnection

from server.auth.roles import (
    BOOKING_ROLES,
    QUEUE_DESK_ROLES,
    STATUS_CHANGES,
    can_access_department,
    is_staff_role,
)
from server.problems import Problem
from server.storage.submissions import HELD_STATUSES, TRANSITIONS

if TYPE_CHECKING:  # types only: the booking rules import nothing of this module, but keep authz light to import
    from server.booking.config import BookingConfig, Place

__all__ = [
    "AccountLike",
    "BookingAccess",
    "allowed_status_changes",
    "booking_access",
    "current_user",
    "may_book",
    "read_is_audited",
    "require_roles",
    "require_user",
    "status_change_allowed",
    "submission_readable",
    "ticket_issuer",
    "walkin_open",
]


@runtime_checkable
class AccountLike(Protocol):
    id: str
    role: str
    department: str | None
    display_name: str
    resident_id: str | None


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> AccountLike | None:
    user = connection.scope.get("user")
    if user is None or not getattr(user, "id", None) or not getattr(user, "role", None):
        return None
    return user


def require_user(connection: ASGIConnection[Any, Any, Any, Any]) -> AccountLike:
    user = current_user(connection)
    if user is None:
        raise Problem(401, "unauthorized", "Sign in first")
    return user


def require_roles(connection: ASGIConnection[Any, Any, Any, Any], *roles: str) -> AccountLike:
    user = require_user(connection)
    if user.role not in roles:
        raise Problem(403, "forbidden", "Your role may not do this")
    return user



def submission_readable(user: AccountLike, *, account_id: str | None, on_behalf_of: str | None,
                        department: str | None, bound_resident: str | None, status: str | None = None) -> bool:
    """Who may read a submission (and the files that belong to it): the account that filed it, the resident
    it was filed for (``bound_resident``: the registry id the reader's account is bound to), and staff who
    see its department (``server.auth.roles.can_access_department``); a held one (``status`` in
    ``server.storage.submissions.HELD_STATUSES``: a two-person procedure's part waiting for the other person,
    or withdrawn, not filed) its filer only (the other person reads the shared part through server.parties)."""
    if account_id == user.id:
        return True
    if status in HELD_STATUSES:
        return False
    if user.role == "resident":
        return bound_resident is not None and bound_resident == on_behalf_of
    return can_access_department(user, department)


BookingAccess = Literal["owner", "desk"]
TicketSource = Literal["kiosk", "staff", "app"]


def may_book(user: AccountLike | None) -> bool:
    """Who may hold a time and book a visit (``server.booking.api``): anyone without an account, a resident
    (``BOOKING_ROLES``) for themselves, the desk (``QUEUE_DESK_ROLES``) on a resident's behalf; no other staff role."""
    return user is None or user.role in BOOKING_ROLES or user.role in QUEUE_DESK_ROLES


def booking_access(user: AccountLike | None, *, account_id: str | None, token_ok: bool) -> BookingAccess | None:
    """Who may read, cancel or move a booking made by ``account_id`` (None: made without an account):
    ``"desk"`` — the desk (``QUEUE_DESK_ROLES``), whose reads are audited and who is not bound by the residents'
    cut-off, decided first: a clerk holding the manage token (the desk's own on-behalf booking answers it) is
    still the desk (audited, no ticket link); ``"owner"`` — whoever else holds its manage token (``token_ok``: the
    header checked by ``server.booking.store.manage_token_ok``) or its own resident account; anyone else None (the
    API answers 404: a booking id reveals nothing)."""
    if user is not None and user.role in QUEUE_DESK_ROLES:
        return "desk"
    if token_ok:
        return "owner"
    if user is not None and user.role in BOOKING_ROLES and account_id is not None and account_id == user.id:
        return "owner"
    return None


def ticket_issuer(user: AccountLike | None, kiosk_place: str | None, place: str, *, residents: bool,
                  kiosk_cookie: bool = False) -> tuple[TicketSource, AccountLike | None]:
    """Who issues a queue ticket at ``place`` (``server.tickets.api``: check-in, walk-in tickets): ``("staff",
    user)`` the desk (``QUEUE_DESK_ROLES``); ``("app", user)`` a signed-in resident (``BOOKING_ROLES``) when
    ``residents`` (a walk-in ticket; never a check-in); ``("kiosk", None)`` a paired kiosk of that place
    (``kiosk_place``: ``server.tickets.kiosk_auth.kiosk_place``). Refused: a kiosk cookie that is no kiosk of this
    place (``kiosk_cookie``: revoked, or another place's) 403, not "sign in"; nobody 401; other roles 403."""
    if user is not None and user.role in QUEUE_DESK_ROLES:
        return "staff", user
    if user is not None and residents and user.role in BOOKING_ROLES:
        return "app", user
    if kiosk_place is not None and kiosk_place == place:
        return "kiosk", None
    if user is None and kiosk_cookie:
        raise Problem(403, "forbidden", "This device is not a kiosk of this place (revoked or another place's)")
    if user is None:
        raise Problem(401, "unauthorized", "Sign in first, or use a kiosk of this place")
    raise Problem(403, "forbidden", "Your role may not do this")


def walkin_open(cfg: BookingConfig, place: Place, source: TicketSource, now: dt.datetime) -> None:
    """Whether a walk-in ticket may be drawn at ``place`` (a ``server.booking.config`` Place of ``cfg``) at ``now``
    (aware), by ``source`` (``ticket_issuer``'s): from the app (a resident anywhere, perhaps at home) only while the
    place is open — an open day (``server.booking.slots.closed_reason`` None: no holiday, no 年末年始, hours that
    weekday) and between that day's opening and closing time (JST); from a kiosk or the desk on any open day, at
    any hour (a lobby queue may form before opening). Else 409 problem ``place-closed`` with ``opens``
    ``{"day", "start"}`` (JST) — when it may be drawn next — or ``opens`` null when no open day is within a year
    (probe15c #1: a resident drew A-001 at home after closing and was "next")."""
    from procedure_definitions.japan import JST
    from server.booking.slots import minutes_of, next_opening, open_hours, today

    jst = now.astimezone(JST)
    span = open_hours(cfg, place, today(now))
    if span is not None and (source != "app" or minutes_of(span[0]) <= jst.hour * 60 + jst.minute
                             < minutes_of(span[1])):
        return
    nxt = next_opening(cfg, place, now)
    opens = {"day": nxt[0].isoformat(), "start": nxt[1]} if nxt is not None else None
    when = f" (opens {opens['day']} {opens['start']} JST)" if opens else ""
    raise Problem(409, "place-closed", f"The place is closed now{when}", title="The place is closed", opens=opens)


def read_is_audited(user: AccountLike) -> bool:
    """Whether ``user`` reading a submission or one of its files is audited (``submission.read``,
    ``attachment.read``): every staff read, whatever the path (API, console) and whoever filed or uploaded
    it, a submission staff filed for a resident or a file they uploaded included (the resident's data all the
    same); a resident reading their own is not."""
    return is_staff_role(user.role)


def status_change_allowed(user: AccountLike, current: str, target: str) -> bool:
    """Whether ``user``'s role may move a submission from ``current`` to ``target`` (a move the status model
    has): ``server.auth.roles.STATUS_CHANGES``. The department rule is separate (``can_access_department``)."""
    if target not in TRANSITIONS.get(current, frozenset()) or user.role not in STATUS_CHANGES:
        return False
    moves = STATUS_CHANGES[user.role]
    return moves is None or (current, target) in moves


def allowed_status_changes(user: AccountLike, current: str) -> list[str]:
    """The statuses ``user`` may move a submission in ``current`` to (what the console offers), sorted."""
    return sorted(t for t in TRANSITIONS.get(current, frozenset()) if status_change_allowed(user, current, t))


def two_person_publish(settings: Any) -> bool:
    """Whether the city asks for a second configurator's approval to publish (``Settings.publish_approvals``)."""
    return bool(settings.publish_approvals == 2)


def may_approve_publish(user: AccountLike, *, requested_by: str, settings: Any) -> bool:
    """Whether ``user`` may approve (and so publish) a publish request: a configurator or admin; when the city
    asks for two approvals (``two_person_publish``), never the one who asked. The fresh passkey check is the
    caller's (``server.auth.require_fresh``)."""
    from server.auth.roles import CONFIGURE_ROLES

    return user.role in CONFIGURE_ROLES and not (two_person_publish(settings) and requested_by == user.id)
