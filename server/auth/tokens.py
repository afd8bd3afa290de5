"""Bearer tokens (``Authorization: Bearer mdg_...``) for the notebook client, the CLI and scripts.

Three kinds, one table (auth migrations v6 and v7, ``api_tokens``), every secret stored as its sha256 digest only:

- ``access``: 1 hour, issued by ``POST /oauth/token`` after the loopback (PKCE) or device flow;
- ``refresh``: 30 days, rotated on every use. A refresh token used a second time (it was copied and one copy
  already rotated) revokes its whole family (every access and refresh token of that sign-in): whoever holds
  either copy must sign in again, and the replay is audited (``token.reuse``);
- ``personal``: made in the console (``/console/tokens``) by a signed-in configurator for scripts and CI,
  ≤ 90 days, shown once.

A token carries scopes (``drafts``, ``analytics``); the middleware admits it only on routes whose handler
``opt["token_scope"]`` names one of them (``scope_allows``), and the account's role still decides through
``CAPABILITIES`` (read from the database at every request, as for sessions). Publishing is never a scope.

Every function takes a ``sqlite3.Connection`` (writers inside a ``Database.write`` job).
"""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from collections.abc import Collection, Iterable
from typing import Any, Final, Literal

import msgspec

from server.audit import append_audit
from server.auth.models import Account
from server.auth.roles import CAPABILITIES
from server.auth.store import account_by_id, hash_secret, now

__all__ = [
    "ACCESS_SECONDS",
    "PERSONAL_MAX_DAYS",
    "PREFIX",
    "REFRESH_SECONDS",
    "SCOPES",
    "SCOPE_CAPABILITY",
    "IssuedPair",
    "TokenInfo",
    "TokenRow",
    "allowed_scopes",
    "audit_due",
    "create_personal",
    "issue_pair",
    "list_tokens",
    "lookup",
    "may_use_tokens",
    "new_secret",
    "parse_scopes",
    "revoke",
    "revoke_account",
    "revoke_family",
    "rotate_refresh",
    "scope_allows",
    "scopes_allowed",
    "touch",
]

PREFIX: Final = "mdg_"  # lets secret scanners (and people) recognise a leaked token
ACCESS_SECONDS: Final = 3600
REFRESH_SECONDS: Final = 30 * 86400
PERSONAL_MAX_DAYS: Final = 90
# Each scope needs this capability of the account (server.auth.roles.CAPABILITIES), when issued and when used.
SCOPE_CAPABILITY: Final[dict[str, str]] = {"drafts": "configure", "analytics": "analytics"}
SCOPES: Final[tuple[str, ...]] = tuple(SCOPE_CAPABILITY)
_MAX_SECRET = 200  # longer bearer values are garbage: not worth hashing


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def parse_scopes(text: str | Iterable[str] | None) -> list[str] | None:
    """Known scopes in their canonical order, or None when any is unknown (or none is given)."""
    items = text.split() if isinstance(text, str) else list(text or ())
    if not items or any(s not in SCOPE_CAPABILITY for s in items):
        return None
    return [s for s in SCOPES if s in items]


def allowed_scopes(role: str) -> list[str]:
    """The scopes an account of ``role`` may hold."""
    return [s for s, cap in SCOPE_CAPABILITY.items() if role in CAPABILITIES[cap]]


def may_use_tokens(account: Account | None) -> bool:
    """Whether ``account`` may sign in notebooks, connect a device or hold tokens at all (some scope)."""
    return account is not None and bool(allowed_scopes(account.role))


def scopes_allowed(account: Account | None, wanted: Collection[str] | None) -> bool:
    """Whether ``account``'s role allows every scope of ``wanted`` (None: unknown scopes, never allowed)."""
    return account is not None and wanted is not None and set(wanted) <= set(allowed_scopes(account.role))


def scope_allows(token_scopes: Collection[str], route_scope: Any) -> bool:
    """Whether a token with ``token_scopes`` may call a route whose handler has ``opt["token_scope"]``
    = ``route_scope`` (a scope name, a collection of them, or None: no token at all)."""
    if route_scope is None:
        return False
    wanted = (route_scope,) if isinstance(route_scope, str) else tuple(route_scope)
    return any(s in token_scopes for s in wanted)


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A live bearer token as the middleware sees it."""

    id: str
    account_id: str
    kind: str
    scopes: tuple[str, ...]
    expires_at: int
    last_used_at: int | None
    last_audited_at: int | None = None
    last_audited_ip: str | None = None


class TokenRow(msgspec.Struct, frozen=True, kw_only=True):
    """A token as the console lists it (never its secret)."""

    id: str
    kind: str
    name: str
    scopes: list[str]
    created_at: int
    expires_at: int
    last_used_at: int | None


class IssuedPair(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str
    scopes: list[str]
    family: str


def _insert(conn: sqlite3.Connection, *, account_id: str, kind: str, scopes: Iterable[str], name: str,
            lifetime: int, family: str | None) -> tuple[str, str]:
    secret, tid, t = new_secret(), uuid.uuid4().hex, now()
    conn.execute(
        "INSERT INTO api_tokens (id, token_hash, account_id, kind, family, name, scopes, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (tid, hash_secret(secret), account_id, kind, family, name[:200], " ".join(scopes), t, t + lifetime))
    return tid, secret


def _sweep(conn: sqlite3.Connection) -> None:
    # Bounded table: tokens past their expiry for a day are gone (the audit trail keeps their story).
    conn.execute("DELETE FROM api_tokens WHERE expires_at <= ?", (now() - 86400,))


def issue_pair(conn: sqlite3.Connection, *, account: Account, scopes: list[str], name: str,
               family: str | None = None, ip: str | None = None, via: str) -> IssuedPair:
    """An access and a refresh token of one family (a new family unless ``family`` continues one). Audited."""
    _sweep(conn)
    family = family or uuid.uuid4().hex
    aid, access = _insert(conn, account_id=account.id, kind="access", scopes=scopes, name=name,
                          lifetime=ACCESS_SECONDS, family=family)
    rid, refresh = _insert(conn, account_id=account.id, kind="refresh", scopes=scopes, name=name,
                           lifetime=REFRESH_SECONDS, family=family)
    append_audit(conn, actor=account.id, action="token.create", subject=account.id,
                 details={"kind": "access+refresh", "tokens": [aid, rid], "family": family, "scopes": scopes,
                          "name": name[:200], "via": via, "ip": ip})
    return IssuedPair(access_token=access, refresh_token=refresh, scopes=scopes, family=family)


def create_personal(conn: sqlite3.Connection, *, account: Account, name: str, scopes: list[str], days: int,
                    ip: str | None) -> tuple[str, str]:
    """A personal token (≤ ``PERSONAL_MAX_DAYS``); returns (id, secret). The secret is never stored."""
    if not 1 <= days <= PERSONAL_MAX_DAYS:
        raise ValueError(f"days must be 1..{PERSONAL_MAX_DAYS}")
    _sweep(conn)
    tid, secret = _insert(conn, account_id=account.id, kind="personal", scopes=scopes, name=name,
                          lifetime=days * 86400, family=None)
    append_audit(conn, actor=account.id, action="token.create", subject=account.id,
                 details={"kind": "personal", "tokens": [tid], "scopes": scopes, "name": name[:200], "days": days,
                          "ip": ip})
    return tid, secret


def lookup(conn: sqlite3.Connection, secret: str, kind: Literal["access", "refresh", "personal", "bearer"]
           ) -> tuple[Account, TokenInfo] | None:
    """The account and token a live secret names, or None (unknown, expired, revoked, account disabled, or
    another kind). ``bearer``: an access or personal token (what ``Authorization: Bearer`` may carry)."""
    if not secret.startswith(PREFIX) or len(secret) > _MAX_SECRET:
        return None
    row = conn.execute(
        "SELECT id, account_id, kind, scopes, expires_at, last_used_at, revoked_at, last_audited_at,"
        " last_audited_ip FROM api_tokens WHERE token_hash = ?", (hash_secret(secret),)).fetchone()
    if row is None or row[6] is not None or row[4] <= now():
        return None
    if (kind == "bearer" and row[2] not in ("access", "personal")) or (kind != "bearer" and row[2] != kind):
        return None
    account = account_by_id(conn, row[1])
    if account is None:
        return None
    # The role decides at every use: a scope the account's role no longer has (moved off configuring) is gone.
    held = allowed_scopes(account.role)
    scopes = tuple(s for s in row[3].split() if s in held)
    info = TokenInfo(id=row[0], account_id=row[1], kind=row[2], scopes=scopes, expires_at=row[4],
                     last_used_at=row[5], last_audited_at=row[7], last_audited_ip=row[8])
    return account, info


def audit_due(info: TokenInfo, ip: str, t: int, audit_every: int) -> bool:
    """Whether a use now is audited: the first use, ``audit_every`` seconds after the last audited one, or a
    use from another address than the last audited one (a copied token used elsewhere shows at once)."""
    return info.last_audited_at is None or t - info.last_audited_at >= audit_every or ip != info.last_audited_ip


def touch(conn: sqlite3.Connection, info: TokenInfo, *, ip: str, path: str, audit_every: int) -> None:
    """Record a use; audit it when ``audit_due`` (decided again against the row, so that requests racing
    each other audit once)."""
    t = now()
    conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (t, info.id))
    claimed = conn.execute(
        "UPDATE api_tokens SET last_audited_at = ?, last_audited_ip = ? WHERE id = ? AND (last_audited_at IS NULL"
        " OR last_audited_at <= ? OR last_audited_ip IS NOT ?)", (t, ip, info.id, t - audit_every, ip)).rowcount
    if claimed:
        append_audit(conn, actor=info.account_id, action="token.use", subject=info.account_id,
                     details={"token": info.id, "kind": info.kind, "ip": ip, "path": path[:200]})


RotateResult = tuple[Literal["ok", "invalid", "reused"], IssuedPair | None]


def rotate_refresh(conn: sqlite3.Connection, secret: str, *, ip: str | None) -> RotateResult:
    """Use a refresh token: a new pair of the same family, the old refresh token spent. A spent one used
    again revokes the family (``token.reuse``)."""
    if not secret.startswith(PREFIX) or len(secret) > _MAX_SECRET:
        return "invalid", None
    row = conn.execute(
        "SELECT id, account_id, kind, family, name, scopes, expires_at, rotated_at, revoked_at FROM api_tokens"
        " WHERE token_hash = ?", (hash_secret(secret),)).fetchone()
    if row is None or row[2] != "refresh":
        return "invalid", None
    tid, account_id, _, family, name, scopes, expires_at, rotated_at, revoked_at = row
    if rotated_at is not None:
        ended = revoke_family(conn, family)
        append_audit(conn, actor=account_id, action="token.reuse", subject=account_id,
                     details={"token": tid, "family": family, "revoked": ended, "ip": ip})
        return "reused", None
    if revoked_at is not None or expires_at <= now():
        return "invalid", None
    account = account_by_id(conn, account_id)
    if account is None:
        return "invalid", None
    # The role may have changed since: keep only the scopes it still allows.
    kept = [s for s in scopes.split() if s in allowed_scopes(account.role)]
    if not kept:
        return "invalid", None
    conn.execute("UPDATE api_tokens SET rotated_at = ?, last_used_at = ? WHERE id = ?", (now(), now(), tid))
    return "ok", issue_pair(conn, account=account, scopes=kept, name=name, family=family, ip=ip, via="refresh")


def revoke_family(conn: sqlite3.Connection, family: str) -> int:
    return conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL",
                        (now(), family)).rowcount


def revoke_account(conn: sqlite3.Connection, account_id: str, *, keep: Collection[str] = ()) -> int:
    """Revoke every live token of the account holding a scope not in ``keep`` (default: all of them), so that
    enabling the account again or giving the role back later does not bring them back. Returns how many;
    the caller audits (``account.disable``, ``account.role_change``)."""
    rows = conn.execute("SELECT id, scopes FROM api_tokens WHERE account_id = ? AND revoked_at IS NULL",
                        (account_id,)).fetchall()
    ids = [tid for tid, scopes in rows if not set(scopes.split()) <= set(keep)]
    t = now()
    for tid in ids:
        conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (t, tid))
    return len(ids)


def revoke(conn: sqlite3.Connection, account_id: str, token_id: str, *, actor: str) -> bool:
    """Revoke one of the account's tokens (a sign-in's token revokes its whole family). Audited."""
    row = conn.execute("SELECT kind, family FROM api_tokens WHERE id = ? AND account_id = ? AND revoked_at IS NULL",
                       (token_id, account_id)).fetchone()
    if row is None:
        return False
    if row[1]:
        ended = revoke_family(conn, row[1])
    else:
        ended = conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (now(), token_id)).rowcount
    append_audit(conn, actor=actor, action="token.revoke", subject=account_id,
                 details={"token": token_id, "kind": row[0], "family": row[1], "revoked": ended})
    return True


def list_tokens(conn: sqlite3.Connection, account_id: str) -> list[TokenRow]:
    """The account's live personal tokens and sign-ins (one row per family: its refresh token), newest first."""
    rows = conn.execute(
        "SELECT id, kind, name, scopes, created_at, expires_at, last_used_at FROM api_tokens"
        " WHERE account_id = ? AND kind IN ('personal', 'refresh') AND revoked_at IS NULL AND rotated_at IS NULL"
        " AND expires_at > ? ORDER BY created_at DESC, rowid DESC LIMIT 200", (account_id, now())).fetchall()
    return [TokenRow(id=r[0], kind=r[1], name=r[2], scopes=r[3].split(), created_at=r[4], expires_at=r[5],
                     last_used_at=r[6]) for r in rows]
