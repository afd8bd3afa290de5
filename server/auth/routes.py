"""HTTP endpoints of the auth component (see docs/api.md, "Auth"): session, resident registration,
sign-in, sign-out and staff enrollment. Passkey management and re-authentication are in
``server.auth.account_routes``, recovery with a code in ``server.auth.recovery``; ``auth_router`` mounts all."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from server.audit import append_audit
from server.auth import codes, store
from server.auth.account_routes import account_handlers
from server.auth.config import AuthConfig
from server.auth.enroll_page import enroll_page, enroll_script
from server.auth.guards import current_account, requires_signed_in
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
    clear_session_cookie,
    consume,
    ip,
    limit,
    limit_account,
    new_challenge,
    new_passkey_options,
    out,
    session_cookie,
    start_session,
)
from server.auth.middleware import csrf_token_of, session_of
from server.auth.models import Account
from server.auth.oauth import oauth_handlers
from server.auth.problems import AuthProblem, exception_handlers
from server.auth.recovery import recovery_handlers
from server.auth.token_pages import token_page_handlers
from server.auth.webauthn_flow import (
    authentication_options,
    credential_id_of,
    registration_options,
    user_handle_of_response,
    verify_authentication,
    verify_registration,
)

__all__ = ["auth_router"]


# -- bodies -----------------------------------------------------------------------------------------


class RegisterOptionsIn(msgspec.Struct, forbid_unknown_fields=False):
    display_name: Name


class RegisterVerifyIn(msgspec.Struct):
    challenge_id: Token
    credential: Credential
    passkey_name: Name | None = None


class LoginVerifyIn(msgspec.Struct):
    challenge_id: Token
    credential: Credential


class EnrollOptionsIn(msgspec.Struct):
    token: Token


class EnrollVerifyIn(msgspec.Struct):
    token: Token
    challenge_id: Token
    credential: Credential
    passkey_name: Name | None = None


class RegisteredOut(msgspec.Struct):
    account: AccountOut
    recovery_codes: list[str]


class SessionOut(msgspec.Struct):
    signed_in: bool
    account: AccountOut | None
    csrf_token: str | None


# -- session ----------------------------------------------------------------------------------------


@get("/api/session", sync_to_thread=False, tags=["auth"])
def get_session(request: Request[Any, Any, Any]) -> SessionOut:
    """Who is signed in, and the CSRF token to echo in ``X-CSRF-Token``."""
    account = current_account(request)
    return SessionOut(signed_in=account is not None, account=out(account) if account else None,
                      csrf_token=csrf_token_of(request.scope))


# -- resident registration --------------------------------------------------------------------------


@post("/auth/register/options", status_code=HTTP_200_OK, tags=["auth"])
async def register_options(request: Request[Any, Any, Any], data: JSONBody[RegisterOptionsIn]) -> CreationOptionsOut:
    limit(request, "options")
    config = cfg(request)
    account_id = str(uuid.uuid4())
    options, challenge = registration_options(
        config, user_handle=uuid.UUID(account_id).bytes, user_name=data.display_name,
        display_name=data.display_name, staff=False, exclude=[],
    )
    cid = await new_challenge(request, purpose="register", challenge=challenge, account_id=account_id,
                              data={"display_name": data.display_name})
    return CreationOptionsOut(challenge_id=cid, publicKey=options)


@post("/auth/register/verify", status_code=HTTP_200_OK, tags=["auth"])
async def register_verify(request: Request[Any, Any, Any], data: JSONBody[RegisterVerifyIn]) -> Response[RegisteredOut]:
    limit(request, "verify")
    config = cfg(request)
    ch = await consume(config, data.challenge_id, "register")
    account_id = ch.account_id or ""
    try:
        verified = verify_registration(config, data.credential, ch.challenge, staff=False)
    except AuthProblem as exc:
        await audit_failure(request, "auth.register_failed", None, str(exc.detail))
        raise

    def job(conn: sqlite3.Connection) -> tuple[Account, list[str], str, int]:
        account = store.create_account(conn, display_name=str(ch.data.get("display_name") or "利用者"),
                                       role="resident", account_id=account_id)
        passkey = add_verified_credential(conn, request, account.id, verified, data.credential, data.passkey_name)
        recovery_codes = codes.generate_recovery_codes(conn, account.id)
        token, max_age = start_session(conn, config, request, account, "register", verified=verified.user_verified)
        append_audit(conn, actor=account.id, action="auth.register", subject=account.id,
                     details={"passkey": passkey.id, "ip": ip(request)})
        return account, recovery_codes, token, max_age

    try:
        account, recovery_codes, token, max_age = await config.db.write(job)
    except sqlite3.IntegrityError as exc:
        raise DUPLICATE from exc
    return Response(RegisteredOut(account=out(account), recovery_codes=recovery_codes),
                    cookies=[session_cookie(config, token, max_age)])


# -- sign-in ----------------------------------------------------------------------------------------


@post("/auth/login/options", status_code=HTTP_200_OK, tags=["auth"])
async def login_options(request: Request[Any, Any, Any]) -> CreationOptionsOut:
    limit(request, "options")
    options, challenge = authentication_options(cfg(request))
    cid = await new_challenge(request, purpose="login", challenge=challenge)
    return CreationOptionsOut(challenge_id=cid, publicKey=options)


@post("/auth/login/verify", status_code=HTTP_200_OK, tags=["auth"])
async def login_verify(request: Request[Any, Any, Any], data: JSONBody[LoginVerifyIn]) -> Response[SignedInOut]:
    limit(request, "verify")
    config = cfg(request)
    ch = await consume(config, data.challenge_id, "login")
    credential_id = credential_id_of(data.credential)
    record = await config.db.read(lambda c: store.lookup_credential(c, credential_id))
    if record is None:
        await audit_failure(request, "auth.login_failed", None, "unknown passkey")
        raise AuthProblem(401, "sign-in-failed", "this passkey is not registered here")
    limit_account(request, "verify", record.account_id)  # the address paid above; now the account
    account = await config.db.read(lambda c: store.account_by_id(c, record.account_id))
    if account is None:
        await audit_failure(request, "auth.login_failed", record.account_id, "account disabled")
        raise AuthProblem(401, "sign-in-failed", "sign-in refused")
    try:
        handle = user_handle_of_response(data.credential)
        if handle is not None and handle != record.user_handle:
            raise AuthProblem(401, "sign-in-failed", "sign-in refused: user handle does not match the passkey")
        new_count, user_verified = verify_authentication(
            config, data.credential, ch.challenge, public_key=record.public_key, sign_count=record.sign_count,
            require_user_verification=account.is_staff,
        )
    except AuthProblem as exc:
        await audit_failure(request, "auth.login_failed", account.id, str(exc.detail), passkey=record.id)
        raise

    def job(conn: sqlite3.Connection) -> tuple[str, int] | None:
        if not store.update_sign_count(conn, record.id, record.sign_count, new_count):
            append_audit(conn, actor=account.id, action="auth.login_failed", subject=account.id,
                         details={"reason": "concurrent use of the same signature counter", "passkey": record.id,
                                  "ip": ip(request)})
            return None
        token, max_age = start_session(conn, config, request, account, "passkey", verified=user_verified)
        append_audit(conn, actor=account.id, action="auth.login", subject=account.id,
                     details={"method": "passkey", "passkey": record.id, "ip": ip(request)})
        return token, max_age

    started = await config.db.write(job)
    if started is None:
        raise AuthProblem(401, "sign-in-failed", "sign-in refused: signature counter did not increase")
    return Response(SignedInOut(account=out(account)), cookies=[session_cookie(config, *started)])


@post("/auth/logout", status_code=HTTP_204_NO_CONTENT, tags=["auth"])
async def logout(request: Request[Any, Any, Any]) -> Response[None]:
    config = cfg(request)
    info = session_of(request.scope)
    if info is not None:
        def job(conn: sqlite3.Connection) -> None:
            store.delete_session(conn, info.token_hash)
            append_audit(conn, actor=info.account_id, action="auth.logout", subject=info.account_id, details={})

        await config.db.write(job)
    return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=[clear_session_cookie(config)])


@post("/auth/logout-all", status_code=HTTP_204_NO_CONTENT, guards=[requires_signed_in], tags=["auth"])
async def logout_all(request: Request[Any, Any, Any]) -> Response[None]:
    config = cfg(request)
    account = current_account(request)
    assert account is not None  # guarded

    def job(conn: sqlite3.Connection) -> None:
        ended = store.delete_sessions_of(conn, account.id)
        append_audit(conn, actor=account.id, action="auth.logout_all", subject=account.id,
                     details={"sessions": ended})

    await config.db.write(job)
    return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=[clear_session_cookie(config)])


# -- staff enrollment -------------------------------------------------------------------------------


@get("/enroll/{token:str}", tags=["auth"], include_in_schema=False)
async def enroll(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    """The page an invited staff member opens to register their passkey."""
    limit(request, "enroll")
    config = cfg(request)
    status, account = ("unknown", None) if len(token) > 200 else await config.db.read(
        lambda c: store.invite_account(c, token))
    if account is not None:  # the page is part of the enrollment: the invited account's bucket too
        limit_account(request, "enroll", account.id)
    code = {"ok": 200, "unknown": 404, "gone": 410}[status]
    return Response(enroll_page(account.display_name if account else None, status), status_code=code,
                    media_type="text/html",
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@get("/auth/enroll.js", tags=["auth"], include_in_schema=False, sync_to_thread=False)
def enroll_js() -> Response[str]:
    return Response(enroll_script(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache"})


async def _invited(config: AuthConfig, token: str) -> Account:
    status, account = await config.db.read(lambda c: store.invite_account(c, token))
    if account is None:
        if status == "gone":
            raise AuthProblem(410, "invite-gone", "this enrollment link was already used, replaced by a newer one, or has expired")
        raise AuthProblem(404, "invite-unknown", "unknown enrollment link")
    return account


@post("/auth/enroll/options", status_code=HTTP_200_OK, tags=["auth"])
async def enroll_options(request: Request[Any, Any, Any], data: JSONBody[EnrollOptionsIn]) -> CreationOptionsOut:
    limit(request, "enroll")
    config = cfg(request)
    account = await _invited(config, data.token)
    limit_account(request, "enroll", account.id)
    return await new_passkey_options(request, account, purpose="enroll", staff=True,
                                     data={"invite": store.hash_secret(data.token).hex()})


@post("/auth/enroll/verify", status_code=HTTP_200_OK, tags=["auth"])
async def enroll_verify(request: Request[Any, Any, Any], data: JSONBody[EnrollVerifyIn]) -> Response[SignedInOut]:
    limit(request, "enroll")
    config = cfg(request)
    ch = await consume(config, data.challenge_id, "enroll")
    if ch.account_id:
        limit_account(request, "enroll", ch.account_id)
    if ch.data.get("invite") != store.hash_secret(data.token).hex():
        raise AuthProblem(400, "challenge-invalid", "this challenge was issued for another enrollment link")
    try:
        verified = verify_registration(config, data.credential, ch.challenge, staff=True)
    except AuthProblem as exc:
        await audit_failure(request, "auth.enroll_failed", ch.account_id, str(exc.detail))
        raise

    def job(conn: sqlite3.Connection) -> tuple[Account, str, int] | None:
        account_id = store.claim_invite(conn, data.token)
        account = store.account_by_id(conn, account_id) if account_id == ch.account_id and account_id else None
        if account is None:
            return None
        # The same transaction as the claim: once enrolled, no other link of this account adds a passkey.
        voided = store.void_invites(conn, account.id)
        passkey = add_verified_credential(conn, request, account.id, verified, data.credential, data.passkey_name)
        token, max_age = start_session(conn, config, request, account, "enroll", verified=verified.user_verified)
        append_audit(conn, actor=account.id, action="auth.enroll", subject=account.id,
                     details={"passkey": passkey.id, "role": account.role, "ip": ip(request),
                              "voided_invites": voided})
        return account, token, max_age

    try:
        result = await config.db.write(job)
    except sqlite3.IntegrityError as exc:
        raise DUPLICATE from exc
    if result is None:
        raise AuthProblem(410, "invite-gone", "this enrollment link was already used, replaced by a newer one, or has expired")
    account, token, max_age = result
    return Response(SignedInOut(account=out(account)), cookies=[session_cookie(config, token, max_age)])


auth_router = Router(
    path="/",
    route_handlers=[
        get_session, register_options, register_verify, login_options, login_verify, *recovery_handlers,
        logout, logout_all, enroll, enroll_js, enroll_options, enroll_verify, *account_handlers,
        *oauth_handlers, *token_page_handlers,
    ],
    exception_handlers=exception_handlers,
)
