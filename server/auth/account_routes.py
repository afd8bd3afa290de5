"""The signed-in account's credentials: passkeys (list, add, rename, remove), new recovery codes, and the
fresh passkey check those changes need (``POST /auth/reauth/options`` + ``/auth/reauth/verify``).

Adding or removing a passkey and replacing recovery codes each need a user-verified passkey assertion
made in this session in the last ``AuthConfig.reauth_seconds`` (5 minutes): a sign-in or registration
with a passkey counts, a recovery-code sign-in does not (except for adding a passkey right after it). Otherwise 403 ``reauth-required``. So a borrowed
unlocked phone or a stolen session cookie cannot add the thief's passkey or take the recovery codes.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from server.audit import append_audit
from server.auth import codes, store
from server.auth.config import AuthConfig
from server.auth.guards import requires_signed_in
from server.auth.http import (
    DUPLICATE,
    CreationOptionsOut,
    Credential,
    Name,
    Token,
    add_verified_credential,
    audit_failure,
    cfg,
    consume,
    ip,
    limit,
    me,
    new_challenge,
    new_passkey_options,
)
from server.auth.middleware import session_of
from server.auth.models import Account, Passkey
from server.auth.problems import AuthProblem
from server.auth.roles import RECOVERY_ROLES
from server.auth.webauthn_flow import (
    authentication_options,
    credential_id_of,
    verify_authentication,
    verify_registration,
)

__all__ = ["account_handlers", "require_fresh"]


class PasskeyVerifyIn(msgspec.Struct):
    challenge_id: Token
    credential: Credential
    name: Name | None = None


class PasskeyRenameIn(msgspec.Struct):
    name: Name


class ReauthVerifyIn(msgspec.Struct):
    challenge_id: Token
    credential: Credential


class ReauthOut(msgspec.Struct):
    fresh_for: int  # seconds during which this session may change credentials


class RecoveryCodesOut(msgspec.Struct):
    recovery_codes: list[str]


def _session_hash(request: Request[Any, Any, Any]) -> str:
    info = session_of(request.scope)
    assert info is not None  # guarded by requires_signed_in
    return info.token_hash.hex()


async def _session_challenge(request: Request[Any, Any, Any], challenge_id: str,
                             purpose: str) -> tuple[Account, AuthConfig, store.Challenge]:
    """The verify step of a signed-in ceremony: rate-limited, and its challenge must have been issued to this
    account in this session (a challenge is never carried to another session or account)."""
    account = me(request)
    limit(request, "verify", account.id)
    config = cfg(request)
    ch = await consume(config, challenge_id, purpose)
    if ch.account_id != account.id or ch.data.get("session") != _session_hash(request):
        raise AuthProblem(400, "challenge-invalid", "this challenge was issued to another session")
    return account, config, ch


async def require_fresh(request: Request[Any, Any, Any], *, after_recovery: bool = False) -> None:
    """403 ``reauth-required`` unless this session made a user-verified passkey assertion recently.

    ``after_recovery``: a session that a recovery code started in the last minutes passes too. Only adding a
    passkey asks for it: whoever lost every passkey signs in with a recovery code precisely to add a new
    one, and has no passkey to confirm with. A stolen cookie still gets nothing: the window runs from the
    sign-in with the code, not from the cookie's use. Read from the session row, not the session cache: the
    freshness changes without moving the auth epoch.
    """
    config = cfg(request)
    info = session_of(request.scope)
    found = await config.db.read(lambda c: store.freshness(c, info.token_hash)) if info is not None else None
    t = store.now()
    if found is not None and found.verified_at is not None and t - found.verified_at <= config.reauth_seconds:
        return
    if after_recovery and found is not None and found.method == "recovery" and \
            t - found.created_at <= config.reauth_seconds:
        return
    raise AuthProblem(403, "reauth-required", "confirm with your passkey first (POST /auth/reauth/options"
                      " and /auth/reauth/verify), then try again")


# -- the fresh passkey check ------------------------------------------------------------------------


@post("/auth/reauth/options", status_code=HTTP_200_OK, guards=[requires_signed_in], tags=["auth"])
async def reauth_options(request: Request[Any, Any, Any]) -> CreationOptionsOut:
    """Request options for one of this account's passkeys, user verification required."""
    account = me(request)
    limit(request, "options", account.id)
    config = cfg(request)
    allow = await config.db.read(lambda c: store.credential_ids_of(c, account.id))
    options, challenge = authentication_options(config, allow=allow, require_user_verification=True)
    cid = await new_challenge(request, purpose="reauth", challenge=challenge, account_id=account.id,
                              data={"session": _session_hash(request)})
    return CreationOptionsOut(challenge_id=cid, publicKey=options)


@post("/auth/reauth/verify", status_code=HTTP_200_OK, guards=[requires_signed_in], tags=["auth"])
async def reauth_verify(request: Request[Any, Any, Any], data: JSONBody[ReauthVerifyIn]) -> ReauthOut:
    """Check the assertion (UV required); this session may then change credentials for a few minutes."""
    account, config, ch = await _session_challenge(request, data.challenge_id, "reauth")
    credential_id = credential_id_of(data.credential)
    record = await config.db.read(lambda c: store.lookup_credential(c, credential_id))
    if record is None or record.account_id != account.id:
        await audit_failure(request, "auth.reauth_failed", account.id, "not a passkey of this account")
        raise AuthProblem(401, "sign-in-failed", "this passkey does not belong to the signed-in account")
    try:
        new_count, _ = verify_authentication(config, data.credential, ch.challenge, public_key=record.public_key,
                                             sign_count=record.sign_count, require_user_verification=True)
    except AuthProblem as exc:
        await audit_failure(request, "auth.reauth_failed", account.id, str(exc.detail), passkey=record.id)
        raise
    info = session_of(request.scope)
    assert info is not None  # guarded

    def job(conn: sqlite3.Connection) -> bool:
        if not store.update_sign_count(conn, record.id, record.sign_count, new_count):
            append_audit(conn, actor=account.id, action="auth.reauth_failed", subject=account.id,
                         details={"reason": "concurrent use of the same signature counter", "passkey": record.id,
                                  "ip": ip(request)})
            return False
        store.mark_verified(conn, info.token_hash)
        append_audit(conn, actor=account.id, action="auth.reauth", subject=account.id,
                     details={"passkey": record.id, "ip": ip(request)})
        return True

    if not await config.db.write(job):
        raise AuthProblem(401, "sign-in-failed", "refused: signature counter did not increase")
    return ReauthOut(fresh_for=config.reauth_seconds)


# -- passkeys ---------------------------------------------------------------------------------------


@get("/api/me/passkeys", guards=[requires_signed_in], tags=["auth"])
async def list_passkeys(request: Request[Any, Any, Any]) -> list[Passkey]:
    account = me(request)
    return await cfg(request).db.read(lambda c: store.list_passkeys(c, account.id))


@post("/auth/passkeys/options", status_code=HTTP_200_OK, guards=[requires_signed_in], tags=["auth"])
async def passkey_options(request: Request[Any, Any, Any]) -> CreationOptionsOut:
    """Creation options for another passkey (fresh check first). The challenge is bound to this session,
    so the freshness checked here carries to ``/auth/passkeys/verify`` within the challenge's 5 minutes."""
    account = me(request)
    limit(request, "options", account.id)
    await require_fresh(request, after_recovery=True)
    return await new_passkey_options(request, account, purpose="add_passkey", staff=account.is_staff,
                                     data={"session": _session_hash(request)})


@post("/auth/passkeys/verify", status_code=HTTP_200_OK, guards=[requires_signed_in], tags=["auth"])
async def passkey_verify(request: Request[Any, Any, Any], data: JSONBody[PasskeyVerifyIn]) -> Passkey:
    account, config, ch = await _session_challenge(request, data.challenge_id, "add_passkey")
    verified = verify_registration(config, data.credential, ch.challenge, staff=account.is_staff)

    def job(conn: sqlite3.Connection) -> Passkey:
        passkey = add_verified_credential(conn, request, account.id, verified, data.credential, data.name)
        append_audit(conn, actor=account.id, action="passkey.add", subject=account.id,
                     details={"passkey": passkey.id, "name": passkey.name})
        return passkey

    try:
        return await config.db.write(job)
    except sqlite3.IntegrityError as exc:
        raise DUPLICATE from exc


@patch("/api/me/passkeys/{passkey_id:str}", guards=[requires_signed_in], tags=["auth"])
async def rename_passkey(request: Request[Any, Any, Any], passkey_id: FromPath[str], data: JSONBody[PasskeyRenameIn]) -> Passkey:
    """A label only: no fresh check needed."""
    account = me(request)
    passkey = await cfg(request).db.write(lambda c: store.rename_credential(c, account.id, passkey_id, data.name))
    if passkey is None:
        raise AuthProblem(404, "passkey-unknown", "no such passkey on this account")
    return passkey


@delete("/api/me/passkeys/{passkey_id:str}", guards=[requires_signed_in], tags=["auth"])
async def remove_passkey(request: Request[Any, Any, Any], passkey_id: FromPath[str]) -> None:
    account = me(request)
    await require_fresh(request)

    def job(conn: sqlite3.Connection) -> str:
        outcome = store.delete_credential(conn, account.id, passkey_id)
        if outcome == "ok":
            append_audit(conn, actor=account.id, action="passkey.remove", subject=account.id,
                         details={"passkey": passkey_id})
        return outcome

    outcome = await cfg(request).db.write(job)
    if outcome == "missing":
        raise AuthProblem(404, "passkey-unknown", "no such passkey on this account")
    if outcome == "last":
        raise AuthProblem(409, "last-passkey", "this is your only passkey: add another one before removing it")


@post("/auth/recovery-codes", status_code=HTTP_200_OK, guards=[requires_signed_in], tags=["auth"])
async def new_recovery_codes(request: Request[Any, Any, Any]) -> RecoveryCodesOut:
    """A fresh set of recovery codes (residents; fresh check first): every earlier code stops working.
    Shown once; audited. Staff have no recovery codes (an admin re-invites them)."""
    account: Account = me(request)
    if account.role not in RECOVERY_ROLES:
        raise AuthProblem(403, "forbidden", "staff accounts have no recovery codes: ask an admin for a new invite")
    limit(request, "recovery", account.id)
    await require_fresh(request)

    def job(conn: sqlite3.Connection) -> list[str]:
        new = codes.generate_recovery_codes(conn, account.id)
        append_audit(conn, actor=account.id, action="auth.recovery_codes", subject=account.id,
                     details={"count": len(new)})
        return new

    return RecoveryCodesOut(recovery_codes=await cfg(request).db.write(job))


account_handlers = [reauth_options, reauth_verify, list_passkeys, passkey_options, passkey_verify, rename_passkey,
                    remove_passkey, new_recovery_codes]
