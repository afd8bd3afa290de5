"""SQL of the notebook/CLI sign-in grants (auth migration v6, ``oauth_grants``): authorization codes of the
loopback flow (PKCE, 60 s) and device codes of the device flow (RFC 8628, 300 s). Both are single use: the
exchange marks the row ``used`` in the same statement that reads it, so two exchanges cannot both win.

Device user codes are 8 letters from an alphabet without vowels or look-alikes (RFC 8628 §6.1: no 0/O, 1/I/L,
and no words), shown ``XXXX-XXXX``; 19^8 ≈ 1.7·10^10 codes, guessed only by signed-in staff under a rate limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import time
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from server.auth.store import hash_secret, now

__all__ = [
    "USER_CODE_ALPHABET",
    "DeviceGrant",
    "approve_device",
    "consume_code",
    "create_code",
    "create_device",
    "device_by_user_code",
    "format_user_code",
    "normalize_user_code",
    "pkce_matches",
    "poll_device",
]

USER_CODE_ALPHABET = "BCDFGHJKMNPQRSTVWXZ"  # consonants without L (l/1/I look alike)
_CODE_LEN = 8


def normalize_user_code(text: str) -> str | None:
    """``"bcdf-ghjk"`` / ``"BCDF GHJK"`` → ``"BCDFGHJK"``; None when it cannot be a user code."""
    code = "".join(ch for ch in text.upper() if ch not in "- \u3000")
    if len(code) != _CODE_LEN or any(ch not in USER_CODE_ALPHABET for ch in code):
        return None
    return code


def format_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) == challenge."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest()).rstrip(b"=")
    return hmac.compare_digest(digest, challenge.encode("ascii", "replace"))


def _sweep(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM oauth_grants WHERE expires_at <= ?", (now() - 3600,))


def create_code(conn: sqlite3.Connection, *, account_id: str, client_id: str, scopes: list[str],
                redirect_uri: str, code_challenge: str, ttl: int) -> str:
    """An approved authorization code for ``account_id``; returns the code (only its digest is stored)."""
    _sweep(conn)
    code = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO oauth_grants (id, kind, code_hash, client_id, scopes, redirect_uri, code_challenge, account_id,"
        " status, created_at, expires_at) VALUES (?, 'code', ?, ?, ?, ?, ?, ?, 'approved', ?, ?)",
        (uuid.uuid4().hex, hash_secret(code), client_id, " ".join(scopes), redirect_uri, code_challenge, account_id,
         now(), now() + ttl))
    return code


class CodeGrant(msgspec.Struct, frozen=True, kw_only=True):
    account_id: str
    client_id: str
    scopes: list[str]
    redirect_uri: str
    code_challenge: str


def consume_code(conn: sqlite3.Connection, code: str) -> CodeGrant | None:
    """Spend an authorization code (whatever happens next: a wrong verifier still uses it up)."""
    row = conn.execute(
        "UPDATE oauth_grants SET status = 'used' WHERE code_hash = ? AND kind = 'code' AND status = 'approved'"
        " AND expires_at > ? RETURNING account_id, client_id, scopes, redirect_uri, code_challenge",
        (hash_secret(code), now())).fetchone()
    if row is None:
        return None
    return CodeGrant(account_id=row[0], client_id=row[1], scopes=row[2].split(), redirect_uri=row[3],
                     code_challenge=row[4])


class DeviceGrant(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    user_code: str
    client_id: str
    scopes: list[str]
    client_host: str
    client_ip: str
    status: str
    created_at: int
    expires_at: int


# The columns ``_device`` reads, in its order (a query may select more after them).
_DEVICE_COLUMNS = "id, user_code, client_id, scopes, client_host, client_ip, status, created_at, expires_at"


def _device(row: Sequence[Any]) -> DeviceGrant:
    return DeviceGrant(id=row[0], user_code=row[1], client_id=row[2], scopes=row[3].split(), client_host=row[4] or "",
                       client_ip=row[5] or "", status=row[6], created_at=row[7], expires_at=row[8])


def create_device(conn: sqlite3.Connection, *, client_id: str, scopes: list[str], client_host: str, client_ip: str,
                  ttl: int, interval: int) -> tuple[str, str]:
    """A pending device grant; returns (device_code, user_code)."""
    _sweep(conn)
    device_code = secrets.token_urlsafe(32)
    for _ in range(10):  # a collision among live codes is rare; draw again
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(_CODE_LEN))
        try:
            conn.execute(
                "INSERT INTO oauth_grants (id, kind, code_hash, user_code, client_id, scopes, client_host, client_ip,"
                " status, created_at, expires_at, poll_interval) VALUES (?, 'device', ?, ?, ?, ?, ?, ?, 'pending',"
                " ?, ?, ?)",
                (uuid.uuid4().hex, hash_secret(device_code), user_code, client_id, " ".join(scopes), client_host,
                 client_ip, now(), now() + ttl, interval))
            return device_code, user_code
        except sqlite3.IntegrityError:
            conn.execute("DELETE FROM oauth_grants WHERE user_code = ? AND expires_at <= ?", (user_code, now()))
    raise RuntimeError("could not draw a free user code")


def device_by_user_code(conn: sqlite3.Connection, user_code: str) -> DeviceGrant | None:
    """A pending, unexpired device grant by the code the person typed."""
    row = conn.execute(
        f"SELECT {_DEVICE_COLUMNS} FROM oauth_grants WHERE kind = 'device' AND user_code = ? AND status = 'pending'"
        " AND expires_at > ?", (user_code, now())).fetchone()
    return None if row is None else _device(row)


def approve_device(conn: sqlite3.Connection, grant_id: str, account_id: str, *, allow: bool) -> bool:
    """Approve (or deny) a pending grant, once."""
    return conn.execute(
        "UPDATE oauth_grants SET status = ?, account_id = ? WHERE id = ? AND kind = 'device' AND status = 'pending'"
        " AND expires_at > ?", ("approved" if allow else "denied", account_id, grant_id, now())).rowcount == 1


PollResult = tuple[Literal["approved", "authorization_pending", "slow_down", "expired_token", "access_denied",
                           "invalid_grant"], "DeviceGrant | None", str | None]


def poll_device(conn: sqlite3.Connection, device_code: str, client_id: str) -> PollResult:
    """One poll of the token endpoint with a device code: (outcome, grant, approving account id). An approved
    grant is spent by the poll that gets it. Polls closer together than the grant's interval answer
    ``slow_down`` and add 5 s to it (RFC 8628 §3.5)."""
    row = conn.execute(
        f"SELECT {_DEVICE_COLUMNS}, poll_interval, last_polled_at, account_id FROM oauth_grants"
        " WHERE code_hash = ? AND kind = 'device'", (hash_secret(device_code),)).fetchone()
    if row is None or row[2] != client_id or row[6] == "used":
        return "invalid_grant", None, None
    grant = _device(row)
    if row[8] <= now():
        return "expired_token", grant, None
    t = time.time()  # sub-second: polls are compared against an interval of a few seconds
    interval, last = int(row[9]), row[10]
    if last is not None and t - float(last) < interval:
        conn.execute("UPDATE oauth_grants SET poll_interval = ?, last_polled_at = ? WHERE id = ?",
                     (interval + 5, t, grant.id))
        return "slow_down", grant, None
    conn.execute("UPDATE oauth_grants SET last_polled_at = ? WHERE id = ?", (t, grant.id))
    if row[6] == "denied":
        conn.execute("UPDATE oauth_grants SET status = 'used' WHERE id = ?", (grant.id,))
        return "access_denied", grant, None
    if row[6] == "pending":
        return "authorization_pending", grant, None
    spent = conn.execute("UPDATE oauth_grants SET status = 'used' WHERE id = ? AND status = 'approved'",
                         (grant.id,)).rowcount
    return ("approved", grant, row[11]) if spent == 1 else ("invalid_grant", None, None)
