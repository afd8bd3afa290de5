""""I lost my passkey": a recovery code alone (it names its account, ``server.auth.codes``) registers a new
passkey and signs in (``POST /auth/recovery/options`` + ``/auth/recovery/verify``), or signs in without one
(``POST /auth/recovery``, the older path: then add a passkey within ``reauth_seconds``).

One check for both paths (``_check``, inside the write transaction so parallel guesses cannot slip past):
wrong codes are throttled per client address (``recovery_failures`` rows: there is no account before the code
is checked) and per account (from the audit trail, when the lookup id named one); a code is spent only when it
signs someone in, and only once. A recovery by passkey keeps the account's other passkeys (a stolen paper code
must not lock the owner out; the account page lists them to remove the lost one) and ends every other session
of the account (the lost phone's included). Staff have no recovery codes: an admin re-invites them.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Literal

import msgspec
from litestar import Request, Response, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from server.audit import append_audit, count_recent
from server.auth import codes, store
from server.auth.config import AuthConfig
from server.auth.http import (
    DUPLICATE,
    AccountOut,
    CreationOptionsOut,
    Credential,
    Name,
    SignedInOut,
    Token,
    add_verified_credential,
    audit_failure,
    cfg,
    consume,
    ip,
    limit,
    limit_account,
    new_passkey_options,
    out,
    session_cookie,
    start_session,
)
from server.auth.models import Account, Passkey
from server.auth.problems import AuthProblem
from server.auth.ratelimit import limit_key
from server.auth.roles import RECOVERY_ROLES
from server.auth.webauthn_flow import verify_registration

__all__ = ["recovery_handlers"]

Code = Token


class RecoveryIn(msgspec.Struct):
    code: Code
    # Before codes named their account the client sent it; still accepted: it must be the code's account.
    account_id: Token | None = None


class RecoveryOptionsIn(msgspec.Struct):
    code: Code


class RecoveryVerifyIn(msgspec.Struct):
    challenge_id: Token
    credential: Credential
    passkey_name: Name | None = None


class RecoveredOut(msgspec.Struct):
    account: AccountOut
    passkey: Passkey  # the new one (the account page marks it, so the lost one is told apart)
    kept_passkeys: int  # the account's earlier passkeys, still registered (listed on the account page)
    ended_sessions: int  # the account's other sessions, ended (a lost phone's included)


Refusal = Literal["throttled_address", "throttled_account", "refused"]


def _check(conn: sqlite3.Connection, config: AuthConfig, request: Request[Any, Any, Any], code: str,
           named: str | None) -> tuple[Account, int] | Refusal:
    """Inside a write job: the account and code row of a right, unused code, or why not. Audits refusals."""
    address = ip(request)
    client = limit_key(address)
    if codes.recent_failures(conn, client, config.recovery_window) >= config.recovery_client_failures:
        append_audit(conn, actor=None, action="auth.login_throttled", subject=None,
                     details={"method": "recovery", "scope": "address", "ip": address})
        return "throttled_address"
    match = codes.find_code(conn, code)
    account_id = match.account_id or named
    account = store.account_by_id(conn, account_id) if account_id else None
    if account is not None and count_recent(conn, subject=account.id, action="auth.login_failed",
                                            seconds=config.recovery_window,
                                            method="recovery") >= config.recovery_failures:
        append_audit(conn, actor=account.id, action="auth.login_throttled", subject=account.id,
                     details={"method": "recovery", "scope": "account", "ip": address})
        return "throttled_account"
    if match.status != "ok" or match.code_id is None or account is None or account.role not in RECOVERY_ROLES or \
            (named is not None and named != account.id):
        subject = account.id if account else None
        reason = "used recovery code" if match.status == "used" else "wrong recovery code"
        append_audit(conn, actor=subject, action="auth.login_failed", subject=subject,
                     details={"method": "recovery", "reason": reason, "ip": address})
        codes.note_failure(conn, client, config.recovery_window)
        return "refused"
    return account, match.code_id


def _refusal(config: AuthConfig, why: Refusal) -> AuthProblem:
    if why == "throttled_address":
        return AuthProblem(429, "rate-limited", "too many wrong recovery codes from this address: try again later,"
                           " or ask at the counter", headers={"Retry-After": str(config.recovery_window)})
    if why == "throttled_account":
        return AuthProblem(429, "rate-limited", "too many wrong recovery codes for this account: try again later,"
                           " sign in with a passkey, or ask at the counter",
                           headers={"Retry-After": str(config.recovery_window)})
    return AuthProblem(401, "sign-in-failed", "wrong or already used recovery code")


@post("/auth/recovery", status_code=HTTP_200_OK, tags=["auth"])
async def recovery(request: Request[Any, Any, Any], data: JSONBody[RecoveryIn]) -> Response[SignedInOut]:
    """Sign in with a one-time recovery code alone (residents only); then add a passkey within
    ``reauth_seconds``. ``/auth/recovery/options`` + ``/verify`` do both in one go."""
    # The in-memory limits: the address's token, and the named account's. The code's own account is bounded
    # by _check's persistent count of its wrong codes, in the same transaction as the code is checked.
    limit(request, "recovery", data.account_id)
    config = cfg(request)

    def job(conn: sqlite3.Connection) -> tuple[Account, str, int] | Refusal:
        checked = _check(conn, config, request, data.code, data.account_id)
        if isinstance(checked, str):
            return checked
        account, code_id = checked
        codes.spend_code(conn, code_id, account.id)  # checked unused in this same transaction
        # A recovery code is no passkey: within reauth_seconds this session may add one (its reason to
        # exist), but removing passkeys or new codes need a passkey check first.
        token, max_age = start_session(conn, config, request, account, "recovery")
        append_audit(conn, actor=account.id, action="auth.login", subject=account.id,
                     details={"method": "recovery", "code": code_id, "ip": ip(request)})
        return account, token, max_age

    result = await config.db.write(job)
    if isinstance(result, str):
        raise _refusal(config, result)
    account, token, max_age = result
    return Response(SignedInOut(account=out(account)), cookies=[session_cookie(config, token, max_age)])


@post("/auth/recovery/options", status_code=HTTP_200_OK, tags=["auth"])
async def recovery_options(request: Request[Any, Any, Any], data: JSONBody[RecoveryOptionsIn]) -> CreationOptionsOut:
    """Check the code (not spent yet) and answer creation options for a new passkey of its account."""
    limit(request, "recovery")  # the code's account: _check's persistent count (as for POST /auth/recovery)
    config = cfg(request)
    checked = await config.db.write(lambda c: _check(c, config, request, data.code, None))
    if isinstance(checked, str):
        raise _refusal(config, checked)
    account, code_id = checked
    return await new_passkey_options(request, account, purpose="recover", staff=False, data={"code": code_id})


@post("/auth/recovery/verify", status_code=HTTP_200_OK, tags=["auth"])
async def recovery_verify(request: Request[Any, Any, Any], data: JSONBody[RecoveryVerifyIn]) -> Response[RecoveredOut]:
    """Register the new passkey, spend the code (once: a second ceremony with the same code is refused),
    end the account's other sessions and sign in here."""
    limit(request, "recovery")
    config = cfg(request)
    ch = await consume(config, data.challenge_id, "recover")
    account_id = ch.account_id or ""
    limit_account(request, "recovery", account_id)
    try:
        verified = verify_registration(config, data.credential, ch.challenge, staff=False)
    except AuthProblem as exc:
        await audit_failure(request, "auth.recover_failed", account_id, str(exc.detail))
        raise
    code_id = ch.data.get("code")

    def job(conn: sqlite3.Connection) -> tuple[Account, Passkey, str, int, int, int] | None:
        account = store.account_by_id(conn, account_id)
        if account is None or account.role not in RECOVERY_ROLES or not isinstance(code_id, int) or \
                not codes.spend_code(conn, code_id, account.id):
            append_audit(conn, actor=account_id, action="auth.recover_failed", subject=account_id,
                         details={"reason": "recovery code already used, replaced, or account disabled",
                                  "ip": ip(request)})
            return None
        kept = store.count_credentials(conn, account.id)
        ended = store.delete_sessions_of(conn, account.id)
        passkey = add_verified_credential(conn, request, account.id, verified, data.credential, data.passkey_name)
        token, max_age = start_session(conn, config, request, account, "recovery", verified=verified.user_verified)
        append_audit(conn, actor=account.id, action="auth.recover", subject=account.id,
                     details={"method": "recovery", "code": code_id, "passkey": passkey.id, "name": passkey.name,
                              "kept_passkeys": kept, "ended_sessions": ended, "ip": ip(request)})
        return account, passkey, token, max_age, kept, ended

    try:
        result = await config.db.write(job)
    except sqlite3.IntegrityError as exc:
        raise DUPLICATE from exc
    if result is None:
        raise AuthProblem(401, "sign-in-failed", "this recovery code was already used or replaced: start again")
    account, passkey, token, max_age, kept, ended = result
    return Response(RecoveredOut(account=out(account), passkey=passkey, kept_passkeys=kept, ended_sessions=ended),
                    cookies=[session_cookie(config, token, max_age)])


recovery_handlers = [recovery, recovery_options, recovery_verify]
