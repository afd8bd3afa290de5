"""Route guards (``guards=[requires_role("reviewer", "admin")]``) and the department check for handlers.

The rule itself (who sees which department) is ``server.auth.roles.can_access_department``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from server.auth.models import Account
from server.auth.roles import ROLES, STAFF_ROLES, can_access_department

__all__ = [
    "Guard",
    "current_account",
    "require_department_access",
    "requires_role",
    "requires_signed_in",
    "requires_staff",
]

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def current_account(connection: ASGIConnection[Any, Any, Any, Any]) -> Account | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Account) else None


def requires_signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if current_account(connection) is None:
        raise NotAuthorizedException("sign in first")


def requires_role(*roles: str) -> Guard:
    """401 when nobody is signed in, 403 when the account's role is not one of ``roles``."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        account = current_account(connection)
        if account is None:
            raise NotAuthorizedException("sign in first")
        if account.role not in allowed:
            raise PermissionDeniedException(f"this needs one of the roles: {', '.join(sorted(allowed))}")

    guard.__name__ = f"requires_role({', '.join(roles)})"
    guard.roles = allowed  # type: ignore[attr-defined]  # read by docs and the authorization test
    return guard


requires_staff: Guard = requires_role(*STAFF_ROLES)


def require_department_access(account: Account | None, department: str | None) -> Account:
    if account is None:
        raise NotAuthorizedException("sign in first")
    if not can_access_department(account, department):
        raise PermissionDeniedException("this application belongs to another department")
    return account
