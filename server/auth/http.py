"""What the auth endpoints share: request bodies, rate limits, challenges, sessions and audit of failures.

The endpoints themselves are in ``server.auth.routes`` (sign-in ceremonies, enrollment) and
``server.auth.account_routes`` (passkeys, recovery codes, re-authentication).
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.datastructures import Cookie

from server.audit import append_audit
from server.auth import store
from server.auth.config import AuthConfig, get_config
from server.auth.devices import device_name
from server.auth.guards import current_account
from server.auth.middleware import SESSION_COOKIE, session_of
from server.auth.models import Account, Passkey
from server.auth.names import Name
from server.auth.problems import AuthProblem
from server.auth.ratelimit import Family, client_ip, limit_key
from server.auth.webauthn_flow import VerifiedRegistration, registration_options

__all__ = [
    "DUPLICATE",
    "AccountOut",
    "CreationOptionsOut",
    "Credential",
    "Name",
    "SignedInOut",
    "Token",
    "add_verified_credential",
    "audit_failure",
    "cfg",
    "clear_session_cookie",
    "consume",
    "default_passkey_name",
    "ip",
    "limit",
    "limit_account",
    "me",
    "new_challenge",
    "new_passkey_options",
    "out",
    "session_cookie",
    "start_session",
]

Token = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Credential = dict[str, Any]

DUPLICATE = AuthProblem(409, "passkey-exists", "this passkey is already registered")


class CreationOptionsOut(msgspec.Struct):
    challenge_id: str
    publicKey: dict[str, Any]  # the WebAuthn JSON name: passed as is to navigator.credentials


class AccountOut(msgspec.Struct):
    id: str
    display_name: str
    role: str
    department: str | None
    verified: bool
    can: list[str]  # what the apps offer this role (server.auth.roles.CAPABILITIES)


class SignedInOut(msgspec.Struct):
    account: AccountOut


def cfg(request: Request[Any, Any, Any]) -> AuthConfig:
    return get_config(request.scope)


def out(account: Account) -> AccountOut:
    return AccountOut(**account.public())


def me(request: Request[Any, Any, Any]) -> Account:
    account = current_account(request)
    assert account is not None  # every caller is guarded by requires_signed_in
    return account


def ip(request: Request[Any, Any, Any]) -> str:
    """The client address for limits and the audit trail (``AuthConfig.client_ip_header`` behind a proxy)."""
    return client_ip(request.scope, cfg(request).client_ip_header)


def limit(request: Request[Any, Any, Any], family: Family, account_id: str | None = None) -> None:
    """Take a token for this request from its client address's bucket (and the account's, when known);
    429 ``rate-limited`` with ``Retry-After`` when one is empty."""
    config = cfg(request)
    rate = config.limits.per_ip_of(family)
    _take(config.limiter.take(("ip", family, limit_key(ip(request))), rate), family, "from this address")
    if account_id is not None:
        limit_account(request, family, account_id)


def limit_account(request: Request[Any, Any, Any], family: Family, account_id: str) -> None:
    """The account's token only: for a request that took its address's token before it knew the account."""
    config = cfg(request)
    _take(config.limiter.take(("account", family, account_id), config.limits.per_account), family,
          "for this account")


def _take(wait: int, family: Family, whose: str) -> None:
    if wait:
        raise AuthProblem(429, "rate-limited", f"too many {family} requests {whose}: try again in {wait} seconds",
                          headers={"Retry-After": str(wait)})


def session_cookie(config: AuthConfig, token: str, max_age: int) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax",
                  secure=config.secure, max_age=max_age)


def clear_session_cookie(config: AuthConfig) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", path="/", httponly=True, samesite="lax", secure=config.secure,
                  max_age=0)


async def new_challenge(request: Request[Any, Any, Any], *, purpose: str, challenge: bytes,
                        account_id: str | None = None, data: dict[str, Any] | None = None) -> str:
    """Store a challenge for this client; its open challenges (and the account's) are capped."""
    config = cfg(request)
    client = limit_key(ip(request))  # capped per IPv6 /64, as the rate limits
    return await config.db.write(lambda c: store.create_challenge(
        c, purpose=purpose, challenge=challenge, ttl_seconds=config.challenge_ttl, account_id=account_id,
        data=data, client=client, max_per_client=config.limits.open_challenges_per_client,
        max_per_account=config.limits.open_challenges_per_account))


async def new_passkey_options(request: Request[Any, Any, Any], account: Account, *, purpose: str, staff: bool,
                              data: dict[str, Any]) -> CreationOptionsOut:
    """Creation options for another passkey of an existing account (its user handle, its passkeys excluded)
    and the challenge stored for ``purpose`` (enrollment, adding a passkey, recovery with a code)."""
    config = cfg(request)
    handle, existing = await config.db.read(
        lambda c: (store.user_handle_of(c, account.id), store.credential_ids_of(c, account.id)))
    options, challenge = registration_options(
        config, user_handle=handle or b"", user_name=account.display_name, display_name=account.display_name,
        staff=staff, exclude=existing,
    )
    cid = await new_challenge(request, purpose=purpose, challenge=challenge, account_id=account.id, data=data)
    return CreationOptionsOut(challenge_id=cid, publicKey=options)


def _challenge_problem(status: str) -> AuthProblem:
    if status == "expired":
        return AuthProblem(400, "challenge-expired", "the challenge expired: start again")
    return AuthProblem(400, "challenge-invalid", "unknown or already used challenge: start again")


async def consume(config: AuthConfig, challenge_id: str, purpose: str) -> store.Challenge:
    status, challenge = await config.db.write(lambda c: store.consume_challenge(c, challenge_id, purpose))
    if challenge is None:
        raise _challenge_problem(status)
    return challenge


async def audit_failure(request: Request[Any, Any, Any], action: str, subject: str | None, reason: str,
                        **details: Any) -> None:
    config = cfg(request)
    payload = {"reason": reason[:300], "ip": ip(request), **details}
    await config.db.write(lambda c: append_audit(c, actor=subject, action=action, subject=subject, details=payload))


def start_session(conn: sqlite3.Connection, config: AuthConfig, request: Request[Any, Any, Any],
                  account: Account, method: str, *, verified: bool = False) -> tuple[str, int]:
    """Inside a write job: drop the request's previous session (no fixation), open a new one, and end the
    account's oldest sessions beyond ``limits.sessions_per_account`` (audited).

    ``verified``: the sign-in was a user-verified passkey assertion, so the new session may change
    credentials for the next ``reauth_seconds``.
    """
    previous = session_of(request.scope)
    if previous is not None:
        store.delete_session(conn, previous.token_hash)
    idle, absolute = config.session_lifetime(account.is_staff)
    token = store.create_session(conn, account.id, method=method, idle_seconds=idle, absolute_seconds=absolute,
                                 verified=verified)
    ended = store.trim_sessions(conn, account.id, config.limits.sessions_per_account)
    if ended:
        append_audit(conn, actor=account.id, action="auth.sessions_capped", subject=account.id,
                     details={"ended": ended, "limit": config.limits.sessions_per_account})
    return token, absolute


def _enum_value(value: Any) -> str:
    # py_webauthn returns enums for some fields and plain strings for others, depending on the version.
    return str(getattr(value, "value", value))


def default_passkey_name(request: Request[Any, Any, Any]) -> str:
    """The device and browser this request comes from (「iPhone の Safari」), for a passkey made without a name."""
    h = request.headers
    return device_name(h.get("user-agent"), h.get("sec-ch-ua-platform"), h.get("sec-ch-ua"))


def add_verified_credential(conn: sqlite3.Connection, request: Request[Any, Any, Any], account_id: str,
                            verified: VerifiedRegistration, credential: Credential, name: str | None) -> Passkey:
    """Store a verified new passkey; without a ``name``, it is named after the request's device and browser."""
    response = credential.get("response")
    transports = response.get("transports") if isinstance(response, dict) else None
    return store.add_credential(
        conn,
        account_id=account_id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name or default_passkey_name(request),
        transports=[t for t in transports if isinstance(t, str)][:10] if isinstance(transports, list) else [],
        aaguid=verified.aaguid,
        fmt=_enum_value(verified.fmt),
        device_type=_enum_value(verified.credential_device_type),
        backed_up=verified.credential_backed_up,
    )
