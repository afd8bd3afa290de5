"""A signed-in session without a WebAuthn ceremony (for tests of other components).

The account and session are real rows, created the way a sign-in creates them; only the passkey ceremony
is skipped (tests/server/test_auth.py covers it, and :mod:`testsupport.webauthn` has a software
authenticator for end-to-end sign-ins).
"""

from __future__ import annotations

import secrets
import sqlite3
from typing import TYPE_CHECKING, Any

from server.auth import store
from server.auth.middleware import CSRF_COOKIE, SESSION_COOKIE
from server.auth.roles import ROLES, is_staff_role

if TYPE_CHECKING:
    from server.storage.db import Database

__all__ = ["login", "login_as", "prepare_db"]


def login_as(db: Database, role: str, *, department: str | None = None, resident_id: str | None = None,
             display_name: str | None = None) -> dict[str, Any]:
    """Create an account with ``role`` and a live session.

    Returns ``{"cookies": {...}, "headers": {"X-CSRF-Token": ...}, "account_id": ...}``: give both to an
    httpx client and every request, state-changing ones included, is made as that account.
    ``resident_id`` binds the account to that (existing) registry record, as counter staff would.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def job(conn: sqlite3.Connection) -> tuple[str, str]:
        account = store.create_account(conn, display_name=display_name or f"test {role}", role=role,
                                       department=department)
        if resident_id is not None:
            conn.execute("INSERT INTO identity_bindings (account_id, resident_id, bound_by, bound_at)"
                         " VALUES (?, ?, ?, ?)", (account.id, resident_id, "test", store.iso_now()))
        staff = is_staff_role(role)
        token = store.create_session(conn, account.id, method="test", idle_seconds=3600 if staff else 86400,
                                     absolute_seconds=12 * 3600 if staff else 30 * 86400)
        return account.id, token

    account_id, token = db.write_sync(job)
    csrf = secrets.token_urlsafe(32)
    return {"cookies": {SESSION_COOKIE: token, CSRF_COOKIE: csrf}, "headers": {"X-CSRF-Token": csrf},
            "account_id": account_id}


def prepare_db(db_path: str) -> None:
    """Create the schema the server will find (idempotent), so accounts can be made before it starts."""
    from server.storage.db import Database
    from server.storage.migrations import apply_migrations
    from server.storage.schema import all_components
    from server.storage.sync import MIGRATIONS

    with Database.open(db_path) as db:
        comps = all_components()
        if not any(name == "sync" for name, _ in comps):
            comps = [*comps, ("sync", MIGRATIONS)]
        db.write_sync(lambda c: apply_migrations(c, comps))


def login(db_path: str, role: str, *, department: str | None = None) -> tuple[str, str]:
    """(account_id, session cookie value) for a new account with ``role`` in the SQLite file ``db_path``."""
    from server.storage.db import Database

    with Database.open(db_path) as db:
        out = login_as(db, role, department=department)
    return out["account_id"], out["cookies"][SESSION_COOKIE]
