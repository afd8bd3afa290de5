"""Staff invitations: an admin (or the ``madoguchi staff invite`` command) creates the account unenrolled
and gets a single-use, expiring enrollment URL to hand to the person."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from server.audit import append_audit
from server.auth import store, tokens
from server.auth.config import normalize_origin
from server.auth.models import Account
from server.auth.names import check_name
from server.auth.roles import STAFF_ROLES
from server.storage.submission_search import rekey_submissions

if TYPE_CHECKING:
    from server.storage.db import Database

__all__ = [
    "DEFAULT_INVITE_TTL",
    "change_role",
    "create_invite",
    "create_invite_in",
    "disable_account",
    "list_staff",
    "reinvite_in",
]

DEFAULT_INVITE_TTL = 72 * 3600


def _check(role: str, department: str | None) -> None:
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {', '.join(STAFF_ROLES)}, not {role!r}")
    if role == "reviewer" and not department:
        raise ValueError("a reviewer needs --department")


def create_invite_in(
    conn: sqlite3.Connection,
    name: str,
    role: str,
    department: str | None,
    origin: str,
    *,
    actor: str | None = "cli",
    ttl_seconds: int = DEFAULT_INVITE_TTL,
) -> tuple[Account, str]:
    """Inside a write job: create the staff account and its enrollment URL; audited."""
    _check(role, department)
    check_name(name)  # the API's rule for names (server.auth.names); stored as given, never normalized
    account = store.create_account(conn, display_name=name, role=role, department=department or None,
                                   enrolled=False)
    token = store.create_invite_row(conn, account.id, ttl_seconds=ttl_seconds, created_by=actor)
    append_audit(conn, actor=actor, action="staff.invite", subject=account.id,
                 details={"name": name, "role": role, "department": department, "expires_in": ttl_seconds})
    return account, f"{normalize_origin(origin)}/enroll/{token}"


def reinvite_in(conn: sqlite3.Connection, account_id: str, origin: str, *, actor: str | None = "cli",
                ttl_seconds: int = DEFAULT_INVITE_TTL) -> str:
    """A new enrollment URL for an existing staff account (lost passkey: staff have no recovery codes)."""
    account = store.account_by_id(conn, account_id)
    if account is None or not account.is_staff:
        raise ValueError(f"no staff account {account_id!r}")
    # One live link per account: the new one replaces any earlier unused link (a --demo restart, a second
    # reinvite), so an older link in a terminal log or a mail cannot add a passkey later.
    voided = store.void_invites(conn, account.id)
    token = store.create_invite_row(conn, account.id, ttl_seconds=ttl_seconds, created_by=actor)
    append_audit(conn, actor=actor, action="staff.reinvite", subject=account.id,
                 details={"expires_in": ttl_seconds, "voided": voided})
    return f"{normalize_origin(origin)}/enroll/{token}"


def create_invite(db: Database, name: str, role: str, department: str | None, origin: str,
                  *, actor: str | None = "cli", ttl_seconds: int = DEFAULT_INVITE_TTL) -> str:
    """Create an unenrolled staff account; returns ``{origin}/enroll/{token}``. Raises ValueError on bad input."""
    _check(role, department)
    _, url = db.write_sync(lambda conn: create_invite_in(conn, name, role, department, origin, actor=actor,
                                                         ttl_seconds=ttl_seconds))
    return url


def change_role(conn: sqlite3.Connection, account_id: str, role: str, department: str | None,
                *, actor: str | None) -> Account:
    """Inside a write job: give an account another role (admin action, audited)."""
    before = store.account_by_id(conn, account_id)
    if before is None:
        raise ValueError(f"no account {account_id!r}")
    if role != "resident":
        _check(role, department)
    after = store.set_role(conn, account_id, role, department)
    assert after is not None
    details: dict[str, object] = {"from": {"role": before.role, "department": before.department},
                                  "to": {"role": role, "department": department}}
    if role != "resident":  # only a resident account is bound to a registry record (server.identity)
        unbound = conn.execute("DELETE FROM identity_bindings WHERE account_id = ? RETURNING resident_id",
                               (account_id,)).fetchone()
        if unbound:
            details["unbound"] = unbound[0]
            rekey_submissions(conn, account_id=account_id)  # no longer the record's: nor in its search keys
    # Tokens holding a scope the new role lacks are revoked, not just ignored: giving the role back later must
    # not bring them back (tokens.lookup already drops such scopes at every use).
    revoked = tokens.revoke_account(conn, account_id, keep=tokens.allowed_scopes(role))
    if revoked:
        details["tokens_revoked"] = revoked
    append_audit(conn, actor=actor, action="account.role_change", subject=account_id, details=details)
    return after


def disable_account(conn: sqlite3.Connection, account_id: str, *, actor: str | None) -> int:
    """Inside a write job: no more sign-ins for this account (someone leaves); its sessions end and its API
    tokens are revoked (enabling it again brings neither back). Audited.

    Returns how many sessions ended. The account row stays: audit entries and submissions name it.
    """
    account = store.account_by_id(conn, account_id)
    if account is None:
        raise ValueError(f"no account {account_id!r}")
    conn.execute("UPDATE accounts SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?", (store.iso_now(), account_id))
    ended = store.delete_sessions_of(conn, account_id)
    revoked = tokens.revoke_account(conn, account_id)
    append_audit(conn, actor=actor, action="account.disable", subject=account_id,
                 details={"sessions": ended, "tokens": revoked})
    return ended


def enable_account(conn: sqlite3.Connection, account_id: str, *, actor: str | None) -> str:
    """Inside a write job: undo ``disable_account`` (a mistake, someone back from leave). Audited.

    Returns when it had been disabled. The account's passkeys work again; its old sessions and tokens stay
    ended.
    """
    row = conn.execute("SELECT disabled_at FROM accounts WHERE id = ?", (account_id,)).fetchone()
    if row is None:
        raise ValueError(f"no account {account_id!r}")
    if row[0] is None:
        raise ValueError(f"account {account_id!r} is not disabled")
    conn.execute("UPDATE accounts SET disabled_at = NULL WHERE id = ?", (account_id,))
    append_audit(conn, actor=actor, action="account.enable", subject=account_id, details={"disabled_at": row[0]})
    return str(row[0])


def list_staff(conn: sqlite3.Connection) -> list[tuple[str, str, str | None, str, str]]:
    """(id, role, department, display name, state) of every staff account, state being enrolled, invited or
    disabled."""
    rows = conn.execute(
        "SELECT id, role, department, display_name, enrolled_at, disabled_at FROM accounts"
        " WHERE role != 'resident' ORDER BY role, department, display_name").fetchall()
    return [(r[0], r[1], r[2], r[3], "disabled" if r[5] else "enrolled" if r[4] else "invited") for r in rows]
