"""Passkey accounts, sessions, CSRF protection and roles.

Wiring (``server.app``)::

    auth = AuthConfig(db=db, origin="http://localhost:8000")
    app = Litestar(route_handlers=[...], on_app_init=[install(auth)])

``install`` stores the config in ``app.state``, adds ``csrf_middleware`` and ``auth_middleware`` and
mounts ``auth_router``. Handlers then read ``request.user`` (an ``Account`` or ``None``) and use the guards.
"""

from server.auth.account_routes import require_fresh
from server.auth.config import AuthConfig, get_config
from server.auth.guards import (
    current_account,
    require_department_access,
    requires_role,
    requires_signed_in,
    requires_staff,
)
from server.auth.install import install
from server.auth.invites import change_role, create_invite, create_invite_in, reinvite_in
from server.auth.middleware import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, auth_middleware, csrf_middleware
from server.auth.migrations import MIGRATIONS
from server.auth.models import Account, Passkey
from server.auth.problems import AuthProblem
from server.auth.roles import ROLES, STAFF_ROLES, can_access_department, department_filter, is_staff_role
from server.auth.routes import auth_router

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "MIGRATIONS",
    "ROLES",
    "SESSION_COOKIE",
    "STAFF_ROLES",
    "Account",
    "AuthConfig",
    "AuthProblem",
    "Passkey",
    "auth_middleware",
    "auth_router",
    "can_access_department",
    "change_role",
    "create_invite",
    "create_invite_in",
    "csrf_middleware",
    "current_account",
    "department_filter",
    "get_config",
    "install",
    "is_staff_role",
    "reinvite_in",
    "require_department_access",
    "require_fresh",
    "requires_role",
    "requires_signed_in",
    "requires_staff",
]
