"""SQL for accounts, passkeys, sessions, challenges and invites (recovery codes: ``server.auth.codes``).

Every function takes a ``sqlite3.Connection``: writers are called inside a ``Database.write`` job (one
transaction), readers on a reader connection. Functions that can fail for an expected reason return a
result rather than raise, because raising inside a write job rolls the whole job back (and a consumed
challenge must stay consumed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
import time
import uuid
from typing import Any, Literal, NamedTuple

import msgspec

from server.auth.models import Account, Passkey
from server.auth.roles import ROLES

__all__ = [
    "Challenge",
    "ConsumeResult",
    "CredentialRecord",
    "Freshness",
    "SessionInfo",
    "account_by_id",
    "add_credential",
    "auth_epoch",
    "claim_invite",
    "consume_challenge",
    "count_credentials",
    "create_account",
    "create_challenge",
    "create_invite_row",
    "create_session",
    "credential_ids_of",
    "delete_credential",
    "delete_session",
    "delete_sessions_of",
    "freshness",
    "hash_secret",
    "invite_account",
    "iso_now",
    "list_passkeys",
    "lookup_credential",
    "mark_verified",
    "new_token",
    "now",
    "rename_credential",
    "session_account",
    "set_role",
    "touch_session",
    "trim_sessions",
    "update_sign_count",
    "user_handle_of",
    "void_invites",
]

def now() -> int:
    return int(time.time())


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_token() -> str:
    """A random 32-byte secret, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> bytes:
    # Session and invite tokens are 256 random bits, a recovery code's secret 70 (server.auth.codes): a plain
    # sha256 cannot be brute-forced, no KDF needed.
    return hashlib.sha256(secret.encode("utf-8")).digest()


# -- accounts ---------------------------------------------------------------------------------------

_ACCOUNT_SELECT = """
SELECT a.id, a.display_name, a.role, a.department, a.created_at, b.resident_id
FROM accounts a LEFT JOIN identity_bindings b ON b.account_id = a.id
"""


def _account(row: sqlite3.Row | tuple[Any, ...]) -> Account:
    return Account(
        id=row[0],
        display_name=row[1],
        role=row[2],
        department=row[3],
        created_at=row[4],
        resident_id=row[5],
        verified=row[5] is not None,
    )


def account_by_id(conn: sqlite3.Connection, account_id: str) -> Account | None:
    row = conn.execute(_ACCOUNT_SELECT + " WHERE a.id = ? AND a.disabled_at IS NULL", (account_id,)).fetchone()
    return _account(row) if row else None


def user_handle_of(conn: sqlite3.Connection, account_id: str) -> bytes | None:
    row = conn.execute("SELECT user_handle FROM accounts WHERE id = ?", (account_id,)).fetchone()
    return bytes(row[0]) if row else None


def create_account(
    conn: sqlite3.Connection,
    *,
    display_name: str,
    role: str,
    department: str | None = None,
    account_id: str | None = None,
    enrolled: bool = True,
) -> Account:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    aid = account_id or str(uuid.uuid4())
    created = iso_now()
    conn.execute(
        "INSERT INTO accounts (id, user_handle, display_name, role, department, created_at, enrolled_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (aid, uuid.UUID(aid).bytes, display_name, role, department, created, created if enrolled else None),
    )
    return Account(id=aid, display_name=display_name, role=role, department=department, created_at=created)


def set_role(conn: sqlite3.Connection, account_id: str, role: str, department: str | None) -> Account | None:
    """Change an account's role (callers audit it as an admin action)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    conn.execute("UPDATE accounts SET role = ?, department = ? WHERE id = ?", (role, department, account_id))
    return account_by_id(conn, account_id)


# -- credentials ------------------------------------------------------------------------------------


class CredentialRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    credential_id: bytes
    account_id: str
    public_key: bytes
    sign_count: int
    user_handle: bytes


def add_credential(
    conn: sqlite3.Connection,
    *,
    account_id: str,
    credential_id: bytes,
    public_key: bytes,
    sign_count: int,
    name: str,
    transports: list[str],
    aaguid: str | None,
    fmt: str | None,
    device_type: str | None,
    backed_up: bool,
) -> Passkey:
    """Insert a passkey; raises ``sqlite3.IntegrityError`` when the credential id is already registered."""
    pid = uuid.uuid4().hex
    created = iso_now()
    conn.execute(
        "INSERT INTO credentials (id, credential_id, account_id, public_key, sign_count, name, transports,"
        " aaguid, fmt, device_type, backed_up, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (pid, credential_id, account_id, public_key, sign_count, name, json.dumps(transports), aaguid, fmt,
         device_type, int(backed_up), created),
    )
    conn.execute("UPDATE accounts SET enrolled_at = COALESCE(enrolled_at, ?) WHERE id = ?", (created, account_id))
    return Passkey(id=pid, name=name, created_at=created, device_type=device_type, backed_up=backed_up)


def lookup_credential(conn: sqlite3.Connection, credential_id: bytes) -> CredentialRecord | None:
    row = conn.execute(
        "SELECT c.id, c.credential_id, c.account_id, c.public_key, c.sign_count, a.user_handle"
        " FROM credentials c JOIN accounts a ON a.id = c.account_id"
        " WHERE c.credential_id = ? AND a.disabled_at IS NULL",
        (credential_id,),
    ).fetchone()
    if row is None:
        return None
    return CredentialRecord(id=row[0], credential_id=bytes(row[1]), account_id=row[2], public_key=bytes(row[3]),
                            sign_count=row[4], user_handle=bytes(row[5]))


def update_sign_count(conn: sqlite3.Connection, pid: str, old: int, new: int) -> bool:
    """Compare-and-set, so two concurrent sign-ins with the same counter cannot both pass."""
    cur = conn.execute(
        "UPDATE credentials SET sign_count = ?, last_used_at = ? WHERE id = ? AND sign_count = ?",
        (new, iso_now(), pid, old),
    )
    return cur.rowcount == 1


def list_passkeys(conn: sqlite3.Connection, account_id: str) -> list[Passkey]:
    rows = conn.execute(
        "SELECT id, name, created_at, last_used_at, device_type, backed_up FROM credentials"
        " WHERE account_id = ? ORDER BY created_at, rowid",  # rowid: the order they were added
        (account_id,),
    ).fetchall()
    return [Passkey(id=r[0], name=r[1], created_at=r[2], last_used_at=r[3], device_type=r[4],
                    backed_up=bool(r[5])) for r in rows]


def credential_ids_of(conn: sqlite3.Connection, account_id: str) -> list[bytes]:
    return [bytes(r[0]) for r in conn.execute("SELECT credential_id FROM credentials WHERE account_id = ?",
                                               (account_id,))]


def count_credentials(conn: sqlite3.Connection, account_id: str) -> int:
    return int(conn.execute("SELECT count(*) FROM credentials WHERE account_id = ?", (account_id,)).fetchone()[0])


def rename_credential(conn: sqlite3.Connection, account_id: str, pid: str, name: str) -> Passkey | None:
    cur = conn.execute("UPDATE credentials SET name = ? WHERE id = ? AND account_id = ?", (name, pid, account_id))
    if cur.rowcount != 1:
        return None
    return next((p for p in list_passkeys(conn, account_id) if p.id == pid), None)


def delete_credential(conn: sqlite3.Connection, account_id: str, pid: str) -> Literal["ok", "missing", "last"]:
    row = conn.execute("SELECT 1 FROM credentials WHERE id = ? AND account_id = ?", (pid, account_id)).fetchone()
    if row is None:
        return "missing"
    if count_credentials(conn, account_id) <= 1:
        return "last"  # removing it would lock the person out
    conn.execute("DELETE FROM credentials WHERE id = ? AND account_id = ?", (pid, account_id))
    return "ok"


# -- sessions ---------------------------------------------------------------------------------------


class SessionInfo(msgspec.Struct, frozen=True, kw_only=True):
    token_hash: bytes
    account_id: str
    method: str
    last_seen_at: int
    expires_at: int
    idle_seconds: int

    def live_at(self, t: int) -> bool:
        """Neither past its absolute expiry nor idle for too long at UNIX time ``t``."""
        return self.expires_at > t and self.last_seen_at + self.idle_seconds > t


def create_session(
    conn: sqlite3.Connection, account_id: str, *, method: str, idle_seconds: int, absolute_seconds: int,
    verified: bool = False,
) -> str:
    """Start a session and return the cookie value (only its hash is stored).

    ``verified``: the sign-in was a user-verified passkey assertion, so the session starts fresh for
    credential changes (``verified_at``).
    """
    token = new_token()
    t = now()
    # Housekeeping on a path that already writes: expired sessions of this account go away.
    conn.execute(
        "DELETE FROM sessions WHERE account_id = ? AND (expires_at <= ? OR last_seen_at + idle_seconds <= ?)",
        (account_id, t, t),
    )
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (t,))  # everyone's dead sessions (indexed)
    conn.execute(
        "INSERT INTO sessions (token_hash, account_id, method, created_at, last_seen_at, idle_seconds, expires_at,"
        " verified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (hash_secret(token), account_id, method, t, t, idle_seconds, t + absolute_seconds, t if verified else None),
    )
    return token


def trim_sessions(conn: sqlite3.Connection, account_id: str, keep: int) -> int:
    """End all but the ``keep`` newest sessions of the account; returns how many ended."""
    return conn.execute(
        "DELETE FROM sessions WHERE account_id = ? AND rowid NOT IN (SELECT rowid FROM sessions"
        " WHERE account_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?)",
        (account_id, account_id, max(1, keep)),
    ).rowcount


class Freshness(NamedTuple):
    """What a credential change asks of a session: its last user-verified passkey assertion (UNIX seconds,
    None if never), and how and when it started."""

    verified_at: int | None
    method: str
    created_at: int


def freshness(conn: sqlite3.Connection, token_hash: bytes) -> Freshness | None:
    row = conn.execute("SELECT verified_at, method, created_at FROM sessions WHERE token_hash = ?",
                       (token_hash,)).fetchone()
    return Freshness(row[0], row[1], row[2]) if row else None


def mark_verified(conn: sqlite3.Connection, token_hash: bytes) -> int:
    """Record a user-verified passkey assertion made in this session now; returns the time."""
    t = now()
    conn.execute("UPDATE sessions SET verified_at = ? WHERE token_hash = ?", (t, token_hash))
    return t


def session_account(conn: sqlite3.Connection, token: str) -> tuple[Account, SessionInfo] | None:
    """The account of a live session cookie, or None (unknown, idle too long, past absolute expiry)."""
    t = now()
    row = conn.execute(
        "SELECT s.token_hash, s.account_id, s.method, s.last_seen_at, s.expires_at, s.idle_seconds,"
        " a.id, a.display_name, a.role, a.department, a.created_at, b.resident_id"
        " FROM sessions s JOIN accounts a ON a.id = s.account_id"
        " LEFT JOIN identity_bindings b ON b.account_id = a.id"
        " WHERE s.token_hash = ? AND a.disabled_at IS NULL",
        (hash_secret(token),),
    ).fetchone()
    if row is None:
        return None
    info = SessionInfo(token_hash=bytes(row[0]), account_id=row[1], method=row[2], last_seen_at=row[3],
                       expires_at=row[4], idle_seconds=row[5])
    return (_account(row[6:]), info) if info.live_at(t) else None


def auth_epoch(conn: sqlite3.Connection) -> int:
    """A counter that moves whenever a session may have ended or an account changed (auth migration v2)."""
    return int(conn.execute("SELECT n FROM auth_epoch").fetchone()[0])


def touch_session(conn: sqlite3.Connection, token_hash: bytes) -> None:
    conn.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", (now(), token_hash))


def delete_session(conn: sqlite3.Connection, token_hash: bytes) -> None:
    conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))


def delete_sessions_of(conn: sqlite3.Connection, account_id: str) -> int:
    return conn.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,)).rowcount


# -- challenges -------------------------------------------------------------------------------------


class Challenge(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    purpose: str
    challenge: bytes
    account_id: str | None
    data: dict[str, Any]


ConsumeResult = tuple[Literal["ok", "unknown", "expired", "wrong_purpose"], Challenge | None]


def create_challenge(
    conn: sqlite3.Connection,
    *,
    purpose: str,
    challenge: bytes,
    ttl_seconds: int,
    account_id: str | None = None,
    data: dict[str, Any] | None = None,
    client: str | None = None,
    max_per_client: int | None = None,
    max_per_account: int | None = None,
) -> str:
    """Store a challenge. Beyond ``max_per_client`` open challenges of ``client`` (or ``max_per_account`` of
    ``account_id``) the oldest are dropped: a client asking for options without finishing only ever holds a
    bounded number of rows, and the newest ceremony always works."""
    t = now()
    # Bounded table: every new challenge sweeps the expired ones.
    conn.execute("DELETE FROM challenges WHERE expires_at <= ?", (t,))
    for column, value, cap in (("client", client, max_per_client), ("account_id", account_id, max_per_account)):
        if value is not None and cap is not None:
            conn.execute(
                f"DELETE FROM challenges WHERE {column} = ? AND rowid NOT IN (SELECT rowid FROM challenges"
                f" WHERE {column} = ? ORDER BY rowid DESC LIMIT ?)",
                (value, value, max(0, cap - 1)),
            )
    cid = new_token()
    conn.execute(
        "INSERT INTO challenges (id, purpose, challenge, account_id, data, expires_at, client)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (cid, purpose, challenge, account_id, json.dumps(data or {}), t + ttl_seconds, client),
    )
    return cid


def consume_challenge(conn: sqlite3.Connection, challenge_id: str, purpose: str) -> ConsumeResult:
    """Delete and return the challenge: whatever the outcome of the ceremony, it is never usable again."""
    row = conn.execute(
        "DELETE FROM challenges WHERE id = ? RETURNING purpose, challenge, account_id, data, expires_at",
        (challenge_id,),
    ).fetchone()
    if row is None:
        return "unknown", None
    if row[4] <= now():
        return "expired", None
    if row[0] != purpose:
        return "wrong_purpose", None
    return "ok", Challenge(id=challenge_id, purpose=row[0], challenge=bytes(row[1]), account_id=row[2],
                           data=json.loads(row[3]))


# -- invites ----------------------------------------------------------------------------------------


def create_invite_row(
    conn: sqlite3.Connection, account_id: str, *, ttl_seconds: int, created_by: str | None
) -> str:
    token = new_token()
    conn.execute(
        "INSERT INTO invites (token_hash, account_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (hash_secret(token), account_id, created_by, iso_now(), now() + ttl_seconds),
    )
    return token


def invite_account(conn: sqlite3.Connection, token: str) -> tuple[Literal["ok", "unknown", "gone"], Account | None]:
    """The staff account an enrollment token is for, if the token is still claimable."""
    row = conn.execute("SELECT account_id, expires_at, used_at FROM invites WHERE token_hash = ?",
                       (hash_secret(token),)).fetchone()
    if row is None:
        return "unknown", None
    if row[2] is not None or row[1] <= now():
        return "gone", None
    account = account_by_id(conn, row[0])
    return ("ok", account) if account else ("gone", None)


def claim_invite(conn: sqlite3.Connection, token: str) -> str | None:
    """Mark the token used (exactly once); returns its account id."""
    row = conn.execute(
        "UPDATE invites SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?"
        " RETURNING account_id",
        (iso_now(), hash_secret(token), now()),
    ).fetchone()
    return row[0] if row else None


def void_invites(conn: sqlite3.Connection, account_id: str) -> int:
    """End every still-claimable invite of the account; returns how many ended.

    One live enrollment link per account: a newer link replaces the older ones, and an enrollment ends the
    rest (the claimed one is already used), so a link seen in an old terminal log or mail can never add a
    passkey later.
    """
    return conn.execute(
        "UPDATE invites SET used_at = ? WHERE account_id = ? AND used_at IS NULL AND expires_at > ?",
        (iso_now(), account_id, now()),
    ).rowcount
