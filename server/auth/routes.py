"""HTTP endpoints of the auth component (see docs/api.md, "Auth")."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from server.audit import append_audit, count_recent
from server.auth import store
from server.auth.config import AuthConfig, get_config
from server.auth.enroll_page import enroll_page, enroll_script
from server.auth.guards import current_account, requires_signed_in
from server.auth.middleware import SESSION_COOKIE, csrf_token_of, session_of
from server.auth.models import Account, Passkey
from server.auth.problems import AuthProblem, exception_handlers
from server.auth.webauthn_flow import (
    VerifiedRegistration,
    authentication_options,
    credential_id_of,
    registration_options,
    user_handle_of_response,
    verify_authentication,
    verify_registration,
)

__all__ = ["auth_router"]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Credential = dict[str, Any]


# -- bodies -----------------------------------------------------------------------------------------


class RegisterOptionsIn(msgspec.Struct, forbid_unknown_fields=False):
    display_name: Name


class CreationOptionsOut(msgspec.Struct):
    challenge_id: str
    publicKey: dict[str, Any]  # the WebAuthn JSON name: passed as is to navigator.credentials


class RegisterVerifyIn(msgspec.Struct):
    challenge_id: Token
    credential: Credential
    passkey_name: Name | None = None


class LoginVerifyIn(msgspec.Struct):
    challenge_id: Token
    credential: Credential


class RecoveryIn(msgspec.Struct):
    account_id: Token
    code: Token


class EnrollOptionsIn(msgspec.Struct):
    token: Token


class EnrollVerifyIn(msgspec.Struct):
    token: Token
    challenge_id: Token
    credential: Credential
    passkey_name: Name | None = None


class PasskeyVerifyIn(msgspec.Struct):
    challenge_id: Token
    credential: Credential
    name: Name | None = None


class PasskeyRenameIn(msgspec.Struct):
    name: Name


class AccountOut(msgspec.Struct):
    id: str
    display_name: str
    role: str
    department: str | None
    verified: bool


class SignedInOut(msgspec.Struct):
    account: AccountOut


class RegisteredOut(msgspec.Struct):
    account: AccountOut
    recovery_codes: list[str]


class RecoveryCodesOut(msgspec.Struct):
    recovery_codes: list[str]


class SessionOut(msgspec.Struct):
    signed_in: bool
    account: AccountOut | None
    csrf_token: str | None


# -- helpers ----------------------------------------------------------------------------------------


def _cfg(request: Request[Any, Any, Any]) -> AuthConfig:
    return get_config(request.scope)


def _out(account: Account) -> AccountOut:
    return AccountOut(**account.public())


def _ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


def _session_cookie(config: AuthConfig, token: str, max_age: int) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax",
                  secure=config.secure, max_age=max_age)


def _clear_session_cookie(config: AuthConfig) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", path="/", httponly=True, samesite="lax", secure=config.secure,
                  max_age=0)


def _challenge_problem(status: str) -> AuthProblem:
    if status == "expired":
        return AuthProblem(400, "challenge-expired", "the challenge expired: start again")
    return AuthProblem(400, "challenge-invalid", "unknown or already used challenge: start again")


async def _consume(config: AuthConfig, challenge_id: str, purpose: str) -> store.Challenge:
    status, challenge = await config.db.write(lambda c: store.consume_challenge(c, challenge_id, purpose))
    if challenge is None:
        raise _challenge_problem(status)
    return challenge


async def _audit_failure(request: Request[Any, Any, Any], action: str, subject: str | None, reason: str,
                         **details: Any) -> None:
    config = _cfg(request)
    payload = {"reason": reason[:300], "ip": _ip(request), **details}
    await config.db.write(lambda c: append_audit(c, actor=subject, action=action, subject=subject, details=payload))


def _start_session(conn: sqlite3.Connection, config: AuthConfig, request: Request[Any, Any, Any],
                   account: Account, method: str) -> tuple[str, int]:
    """Inside a write job: drop the request's previous session (no fixation), open a new one."""
    previous = session_of(request.scope)
    if previous is not None:
        store.delete_session(conn, previous.token_hash)
    idle, absolute = config.session_lifetime(account.is_staff)
    token = store.create_session(conn, account.id, method=method, idle_seconds=idle, absolute_seconds=absolute)
    return token, absolute


def _enum_value(value: Any) -> str:
    # py_webauthn returns enums for some fields and plain strings for others, depending on the version.
    return str(getattr(value, "value", value))


def _add_verified_credential(conn: sqlite3.Connection, account_id: str, verified: VerifiedRegistration,
                             credential: Credential, name: str | None) -> Passkey:
    transports = credential.get("response", {}).get("transports") if isinstance(credential.get("response"),
                                                                                  dict) else None
    return store.add_credential(
        conn,
        account_id=account_id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name or "パスキー",
        transports=[t for t in transports if isinstance(t, str)][:10] if isinstance(transports, list) else [],
        aaguid=verified.aaguid,
        fmt=_enum_value(verified.fmt),
        device_type=_enum_value(verified.credential_device_type),
        backed_up=verified.credential_backed_up,
    )


_DUPLICATE = AuthProblem(409, "passkey-exists", "this passkey is already registered")


# -- session ----------------------------------------------------------------------------------------


@get("/api/session", sync_to_thread=False, tags=["auth"])
def get_session(request: Request[Any, Any, Any]) -> SessionOut:
    """Who is signed in, and the CSRF token to echo in ``X-CSRF-Token``."""
    account = current_account(request)
    return SessionOut(signed_in=account is not None, account=_out(account) if account else None,
                      csrf_token=csrf_token_of(request.scope))


# -- resident registration --------------------------------------------------------------------------


@post("/auth/register/options", status_code=HTTP_200_OK, tags=["auth"])
async def register_options(request: Request[Any, Any, Any], data: JSONBody[RegisterOptionsIn]) -> CreationOptionsOut:
    config = _cfg(request)
    account_id = str(uuid.uuid4())
    options, challenge = registration_options(
        config, user_handle=uuid.UUID(account_id).bytes, user_name=data.display_name,
        display_name=data.display_name, staff=False, exclude=[],
    )
    cid = await config.db.write(lambda c: store.create_challenge(
        c, purpose="register", challenge=challenge, ttl_seconds=config.challenge_ttl, account_id=account_id,
        data={"display_name": data.display_name}))
    return CreationOptionsOut(challenge_id=cid, publicKey=options)


@post("/auth/register/verify", status_code=HTTP_200_OK, tags=["auth"])
async def register_verify(request: Request[Any, Any, Any], data: JSONBody[RegisterVerifyIn]) -> Response[RegisteredOut]:
    config = _cfg(request)
    ch = await _consume(config, data.challenge_id, "register")
    account_id = ch.account_id or ""
    try:
        verified = verify_registration(config, data.credential, ch.challenge, staff=False)
    except AuthProblem as exc:
        await _audit_failure(request, "auth.register_failed", None, str(exc.detail))
        raise

    def job(conn: sqlite3.Connection) -> tuple[Account, list[str], str, int]:
        account = store.create_account(conn, display_name=str(ch.data.get("display_name") or "利用者"),
                                       role="resident", account_id=account_id)
        passkey = _add_verified_credential(conn, account.id, verified, data.credential, data.passkey_name)
        codes = store.generate_recovery_codes(conn, account.id)
        token, max_age = _start_session(conn, config, request, account, "register")
        append_audit(conn, actor=account.id, action="auth.register", subject=account.id,
                     details={"passkey": passkey.id, "ip": _ip(request)})
        return account, codes, token, max_age

    try:
        account, codes, token, max_age = await config.db.write(job)
    except sqlite3.IntegrityError as exc:
        raise _DUPLICATE from exc
    return Response(RegisteredOut(account=_out(account), recovery_codes=codes),
                    cookies=[_session_cookie(config, token, max_age)])


# -- sign-in ----------------------------------------------------------------------------------------


@post("/auth/login/options", status_code=HTTP_200_OK, tags=["auth"])
async def login_options(request: Request[Any, Any, Any]) -> CreationOptionsOut:
    config = _cfg(request)
    options, challenge = authentication_options(config)
    cid = await config.db.write(lambda c: store.create_challenge(
        c, purpose="login", challenge=challenge, ttl_seconds=config.challenge_ttl))
    return CreationOptionsOut(challenge_id=cid, publicKey=options)


@post("/auth/login/verify", status_code=HTTP_200_OK, tags=["auth"])
async def login_verify(request: Request[Any, Any, Any], data: JSONBody[LoginVerifyIn]) -> Response[SignedInOut]:
    config = _cfg(request)
    ch = await _consume(config, data.challenge_id, "login")
    credential_id = credential_id_of(data.credential)
    record = await config.db.read(lambda c: store.lookup_credential(c, credential_id))
    if record is None:
        await _audit_failure(request, "auth.login_failed", None, "unknown passkey")
        raise AuthProblem(401, "sign-in-failed", "this passkey is not registered here")
    account = await config.db.read(lambda c: store.account_by_id(c, record.account_id))
    if account is None:
        await _audit_failure(request, "auth.login_failed", record.account_id, "account disabled")
        raise AuthProblem(401, "sign-in-failed", "sign-in refused")
    try:
        handle = user_handle_of_response(data.credential)
        if handle is not None and handle != record.user_handle:
            raise AuthProblem(401, "sign-in-failed", "sign-in refused: user handle does not match the passkey")
        new_count = verify_authentication(
            config, data.credential, ch.challenge, public_key=record.public_key, sign_count=record.sign_count,
            require_user_verification=account.is_staff,
        )
    except AuthProblem as exc:
        await _audit_failure(request, "auth.login_failed", account.id, str(exc.detail), passkey=record.id)
        raise

    def job(conn: sqlite3.Connection) -> tuple[str, int] | None:
        if not store.update_sign_count(conn, record.id, record.sign_count, new_count):
            append_audit(conn, actor=account.id, action="auth.login_failed", subject=account.id,
                         details={"reason": "concurrent use of the same signature counter", "passkey": record.id,
                                  "ip": _ip(request)})
            return None
        token, max_age = _start_session(conn, config, request, account, "passkey")
        append_audit(conn, actor=account.id, action="auth.login", subject=account.id,
                     details={"method": "passkey", "passkey": record.id, "ip": _ip(request)})
        return token, max_age

    started = await config.db.write(job)
    if started is None:
        raise AuthProblem(401, "sign-in-failed", "sign-in refused: signature counter did not increase")
    return Response(SignedInOut(account=_out(account)), cookies=[_session_cookie(config, *started)])


@post("/auth/recovery", status_code=HTTP_200_OK, tags=["auth"])
async def recovery(request: Request[Any, Any, Any], data: JSONBody[RecoveryIn]) -> Response[SignedInOut]:
    """Sign in with a one-time recovery code (residents only: staff ask an admin for a new invite)."""
    config = _cfg(request)

    def job(conn: sqlite3.Connection) -> tuple[Account, str, int] | str:
        """The account and its new session, or why not ("throttled" or "refused")."""
        account = store.account_by_id(conn, data.account_id)
        if account is not None and count_recent(conn, subject=account.id, action="auth.login_failed",
                                                seconds=config.recovery_window,
                                                method="recovery") >= config.recovery_failures:
            # Counted in the write transaction, so parallel guesses cannot slip past the limit.
            append_audit(conn, actor=account.id, action="auth.login_throttled", subject=account.id,
                         details={"method": "recovery", "ip": _ip(request)})
            return "throttled"
        if account is None or account.is_staff or not store.use_recovery_code(conn, account.id, data.code):
            subject = account.id if account else None
            append_audit(conn, actor=subject, action="auth.login_failed", subject=subject,
                         details={"method": "recovery", "reason": "wrong or used recovery code", "ip": _ip(request)})
            return "refused"
        token, max_age = _start_session(conn, config, request, account, "recovery")
        append_audit(conn, actor=account.id, action="auth.login", subject=account.id,
                     details={"method": "recovery", "ip": _ip(request)})
        return account, token, max_age

    result = await config.db.write(job)
    if result == "throttled":
        raise AuthProblem(429, "rate-limited", "too many wrong recovery codes for this account: try again later,"
                          " sign in with a passkey, or ask at the counter",
                          headers={"Retry-After": str(config.recovery_window)})
    if isinstance(result, str):
        raise AuthProblem(401, "sign-in-failed", "wrong or already used recovery code")
    account, token, max_age = result
    return Response(SignedInOut(account=_out(account)), cookies=[_session_cookie(config, token, max_age)])


@post("/auth/logout", status_code=HTTP_204_NO_CONTENT, tags=["auth"])
async def logout(request: Request[Any, Any, Any]) -> Response[None]:
    config = _cfg(request)
    info = session_of(request.scope)
    if info is not None:
        def job(conn: sqlite3.Connection) -> None:
            store.delete_session(conn, info.token_hash)
            append_audit(conn, actor=info.account_id, action="auth.logout", subject=info.account_id, details={})

        await config.db.write(job)
    return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=[_clear_session_cookie(config)])


@post("/auth/logout-all", status_code=HTTP_204_NO_CONTENT, guards=[requires_signed_in], tags=["auth"])
async def logout_all(request: Request[Any, Any, Any]) -> Response[None]:
    config = _cfg(request)
    account = current_account(request)
    assert account is not None  # guarded

    def job(conn: sqlite3.Connection) -> None:
        ended = store.delete_sessions_of(conn, account.id)
        append_audit(conn, actor=account.id, action="auth.logout_all", subject=account.id,
                     details={"sessions": ended})

    await config.db.write(job)
    return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=[_clear_session_cookie(config)])


# -- staff enrollment -------------------------------------------------------------------------------


@get("/enroll/{token:str}", tags=["auth"], include_in_schema=False)
async def enroll(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    """The page an invited staff member opens to register their passkey."""
    config = _cfg(request)
    status, account = ("unknown", None) if len(token) > 200 else await config.db.read(
        lambda c: store.invite_account(c, token))
    code = {"ok": 200, "unknown": 404, "gone": 410}[status]
    return Response(enroll_page(account.display_name if account else None, status), status_code=code,
                    media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@get("/auth/enroll.js", tags=["auth"], include_in_schema=False, sync_to_thread=False)
def enroll_js() -> Response[str]:
    return Response(enroll_script(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


async def _invited(config: AuthConfig, token: str) -> Account:
    status, account = await config.db.read(lambda c: store.invite_account(c, token))
    if account is None:
        if status == "gone":
            raise AuthProblem(410, "invite-gone", "this enrollment link was already used or has expired")
        raise AuthProblem(404, "invite-unknown", "unknown enrollment link")
    return account


@post("/auth/enroll/options", status_code=HTTP_200_OK, tags=["auth"])
async def enroll_options(request: Request[Any, Any, Any], data: JSONBody[EnrollOptionsIn]) -> CreationOptionsOut:
    config = _cfg(request)
    account = await _invited(config, data.token)
    handle, existing = await config.db.read(
        lambda c: (store.user_handle_of(c, account.id), store.credential_ids_of(c, account.id)))
    options, challenge = registration_options(
        config, user_handle=handle or b"", user_name=account.display_name, display_name=account.display_name,
        staff=True, exclude=existing,
    )
    cid = await config.db.write(lambda c: store.create_challenge(
        c, purpose="enroll", challenge=challenge, ttl_seconds=config.challenge_ttl, account_id=account.id,
        data={"invite": store.hash_secret(data.token).hex()}))
    return CreationOptionsOut(challenge_id=cid, publicKey=options)


@post("/auth/enroll/verify", status_code=HTTP_200_OK, tags=["auth"])
async def enroll_verify(request: Request[Any, Any, Any], data: JSONBody[EnrollVerifyIn]) -> Response[SignedInOut]:
    config = _cfg(request)
    ch = await _consume(config, data.challenge_id, "enroll")
    if ch.data.get("invite") != store.hash_secret(data.token).hex():
        raise AuthProblem(400, "challenge-invalid", "this challenge was issued for another enrollment link")
    try:
        verified = verify_registration(config, data.credential, ch.challenge, staff=True)
    except AuthProblem as exc:
        await _audit_failure(request, "auth.enroll_failed", ch.account_id, str(exc.detail))
        raise

    def job(conn: sqlite3.Connection) -> tuple[Account, str, int] | None:
        account_id = store.claim_invite(conn, data.token)
        account = store.account_by_id(conn, account_id) if account_id == ch.account_id and account_id else None
        if account is None:
            return None
        passkey = _add_verified_credential(conn, account.id, verified, data.credential, data.passkey_name)
        token, max_age = _start_session(conn, config, request, account, "enroll")
        append_audit(conn, actor=account.id, action="auth.enroll", subject=account.id,
                     details={"passkey": passkey.id, "role": account.role, "ip": _ip(request)})
        return account, token, max_age

    try:
        result = await config.db.write(job)
    except sqlite3.IntegrityError as exc:
        raise _DUPLICATE from exc
    if result is None:
        raise AuthProblem(410, "invite-gone", "this enrollment link was already used or has expired")
    account, token, max_age = result
    return Response(SignedInOut(account=_out(account)), cookies=[_session_cookie(config, token, max_age)])


# -- passkey management -----------------------------------------------------------------------------


def _me(request: Request[Any, Any, Any]) -> Account:
    account = current_account(request)
    assert account is not None  # every handler below is guarded by requires_signed_in
    return account


@get("/api/me/passkeys", guards=[requires_signed_in], tags=["auth"])
async def list_passkeys(request: Request[Any, Any, Any]) -> list[Passkey]:
    account = _me(request)
    return await _cfg(request).db.read(lambda c: store.list_passkeys(c, account.id))


@post("/auth/passkeys/options", status_code=HTTP_200_OK, guards=[requires_signed_in], tags=["auth"])
async def passkey_options(request: Request[Any, Any, Any]) -> CreationOptionsOut:
    config = _cfg(request)
    account = _me(request)
    handle, existing = await config.db.read(
        lambda c: (store.user_handle_of(c, account.id), store.credential_ids_of(c, account.id)))
    options, challenge = registration_options(
        config, user_handle=handle or b"", user_name=account.display_name, display_name=account.display_name,
        staff=account.is_staff, exclude=existing,
    )
    cid = await config.db.write(lambda c: store.create_challenge(
        c, purpose="add_passkey", challenge=challenge, ttl_seconds=config.challenge_ttl, account_id=account.id))
    return CreationOptionsOut(challenge_id=cid, publicKey=options)


@post("/auth/passkeys/verify", status_code=HTTP_200_OK, guards=[requires_signed_in], tags=["auth"])
async def passkey_verify(request: Request[Any, Any, Any], data: JSONBody[PasskeyVerifyIn]) -> Passkey:
    config = _cfg(request)
    account = _me(request)
    ch = await _consume(config, data.challenge_id, "add_passkey")
    if ch.account_id != account.id:
        raise AuthProblem(400, "challenge-invalid", "this challenge was issued to another account")
    verified = verify_registration(config, data.credential, ch.challenge, staff=account.is_staff)

    def job(conn: sqlite3.Connection) -> Passkey:
        passkey = _add_verified_credential(conn, account.id, verified, data.credential, data.name)
        append_audit(conn, actor=account.id, action="passkey.add", subject=account.id,
                     details={"passkey": passkey.id, "name": passkey.name})
        return passkey

    try:
        return await config.db.write(job)
    except sqlite3.IntegrityError as exc:
        raise _DUPLICATE from exc


@patch("/api/me/passkeys/{passkey_id:str}", guards=[requires_signed_in], tags=["auth"])
async def rename_passkey(request: Request[Any, Any, Any], passkey_id: FromPath[str], data: JSONBody[PasskeyRenameIn]) -> Passkey:
    account = _me(request)
    passkey = await _cfg(request).db.write(lambda c: store.rename_credential(c, account.id, passkey_id, data.name))
    if passkey is None:
        raise AuthProblem(404, "passkey-unknown", "no such passkey on this account")
    return passkey


@delete("/api/me/passkeys/{passkey_id:str}", guards=[requires_signed_in], tags=["auth"])
async def remove_passkey(request: Request[Any, Any, Any], passkey_id: FromPath[str]) -> None:
    account = _me(request)

    def job(conn: sqlite3.Connection) -> str:
        outcome = store.delete_credential(conn, account.id, passkey_id)
        if outcome == "ok":
            append_audit(conn, actor=account.id, action="passkey.remove", subject=account.id,
                         details={"passkey": passkey_id})
        return outcome

    outcome = await _cfg(request).db.write(job)
    if outcome == "missing":
        raise AuthProblem(404, "passkey-unknown", "no such passkey on this account")
    if outcome == "last":
        raise AuthProblem(409, "last-passkey", "this is your only passkey: add another one before removing it")


@post("/auth/recovery-codes", status_code=HTTP_200_OK, guards=[requires_signed_in], tags=["auth"])
async def new_recovery_codes(request: Request[Any, Any, Any]) -> RecoveryCodesOut:
    """A fresh set of recovery codes (residents): every earlier code stops working. Shown once; audited.

    A session suffices, as for adding a passkey; staff have no recovery codes (an admin re-invites them).
    """
    account = _me(request)
    if account.is_staff:
        raise AuthProblem(403, "forbidden", "staff accounts have no recovery codes: ask an admin for a new invite")

    def job(conn: sqlite3.Connection) -> list[str]:
        codes = store.generate_recovery_codes(conn, account.id)
        append_audit(conn, actor=account.id, action="auth.recovery_codes", subject=account.id,
                     details={"count": len(codes)})
        return codes

    return RecoveryCodesOut(recovery_codes=await _cfg(request).db.write(job))


auth_router = Router(
    path="/",
    route_handlers=[
        get_session, register_options, register_verify, login_options, login_verify, recovery, logout,
        logout_all, enroll, enroll_js, enroll_options, enroll_verify, list_passkeys, passkey_options,
        passkey_verify, rename_passkey, remove_passkey, new_recovery_codes,
    ],
    exception_handlers=exception_handlers,
)
