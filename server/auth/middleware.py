"""ASGI middleware: who is signed in (``auth_middleware``) and CSRF protection (``csrf_middleware``).

Neither rewrites cookies on every response (see the field notes: a session middleware that does so lets a
service worker's parallel fetches clobber state). The session cookie is only set by sign-in and sign-out;
the CSRF cookie only when a page (not a ``/preview/`` page) or ``/api/session`` is fetched without one.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import parse_qs

from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from server.asgi_body import buffer_body
from server.auth import store, tokens
from server.auth.config import AuthConfig, get_config
from server.auth.models import Account
from server.auth.problems import send_problem
from server.auth.ratelimit import client_ip

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FORM_FIELD",
    "CSRF_HEADER",
    "CSRF_TOKEN_EXEMPT",
    "SESSION_COOKIE",
    "auth_middleware",
    "bearer_of",
    "bearer_token_of",
    "csrf_cookie_header",
    "csrf_header_ok",
    "csrf_middleware",
    "csrf_token_of",
    "live_session",
    "parse_cookies",
    "session_of",
]

SESSION_COOKIE = "madoguchi_session"
CSRF_COOKIE = "madoguchi_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FORM_FIELD = "_csrf_token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POSTs that act on no one's authority (anyone may send them; the handler reads no session) and come from
# navigator.sendBeacon, which cannot set X-CSRF-Token: the token is not asked, the Origin check still is.
CSRF_TOKEN_EXEMPT = frozenset({"/api/telemetry/sessions"})
_CSRF_SCOPE_KEY = "madoguchi_csrf_token"
# Pages under this prefix get no CSRF cookie (the preview: nothing to post, nothing saved).
_NO_CSRF_COOKIE = "/preview/"
_AUTH_SCOPE_KEY = "auth"
_COOKIES_SCOPE_KEY = "madoguchi_cookies"
_MAX_TOKEN = 128  # longer cookie values are garbage; do not hash megabytes
_MAX_FORM = 256 * 1024  # console forms are a few hundred bytes
_BEARER_SCOPE_KEY = "madoguchi_bearer"
_TOKEN_AUDIT_EVERY = 3600  # a token's use is audited the first time, then once an hour or from a new address


def _headers(scope: Scope) -> Iterable[tuple[bytes, bytes]]:
    return cast("Iterable[tuple[bytes, bytes]]", scope.get("headers", ()))


def parse_cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies; the first occurrence of a name wins (as browsers send the most specific first).

    Parsed once per request: the result is kept in the scope for the next middleware.
    """
    cached = scope.get(_COOKIES_SCOPE_KEY)
    if cached is not None:
        return cast("dict[str, str]", cached)
    out: dict[str, str] = {}
    for name, value in _headers(scope):
        if name != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, sep, val = part.strip().partition("=")
            if sep and key and key not in out:
                out[key] = val.strip().strip('"')
    scope[_COOKIES_SCOPE_KEY] = out  # type: ignore[literal-required]
    return out


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in _headers(scope):
        if key == name:
            return value.decode("latin-1")
    return None


def session_of(scope: Scope) -> store.SessionInfo | None:
    return scope.get(_AUTH_SCOPE_KEY)  # type: ignore[return-value]


def bearer_of(scope: Scope) -> tokens.TokenInfo | None:
    """The bearer token this request was admitted with (None for a session or anonymous request)."""
    return scope.get(_BEARER_SCOPE_KEY)  # type: ignore[return-value]


def bearer_token_of(scope: Scope) -> str | None:
    """The value of an ``Authorization: Bearer`` header, if the request carries one."""
    value = _header(scope, b"authorization")
    if value is None:
        return None
    kind, _, token = value.strip().partition(" ")
    return token.strip() if kind.lower() == "bearer" else None


def csrf_token_of(scope: Scope) -> str | None:
    """The CSRF token this request carries or is about to receive (for ``GET /api/session``)."""
    return scope.get(_CSRF_SCOPE_KEY)  # type: ignore[return-value]


def csrf_cookie_header(token: str, secure: bool) -> bytes:
    # Not HttpOnly: the page's JS reads it to copy into X-CSRF-Token.
    value = f"{CSRF_COOKIE}={token}; Path=/; Max-Age=31536000; SameSite=Lax"
    return (value + "; Secure" if secure else value).encode("latin-1")


def _sets_cookie(message: Message, name: str) -> bool:
    prefix = name.encode() + b"="
    return any(k.lower() == b"set-cookie" and v.startswith(prefix) for k, v in
               cast("Iterable[tuple[bytes, bytes]]", message.get("headers", ())))


def auth_middleware(app: ASGIApp) -> ASGIApp:
    """Sets ``scope["user"]`` (so ``request.user``) to the signed-in ``Account`` or ``None``."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        scope["user"] = None
        scope[_AUTH_SCOPE_KEY] = None  # type: ignore[literal-required]
        scope[_BEARER_SCOPE_KEY] = None  # type: ignore[literal-required]
        token = parse_cookies(scope).get(SESSION_COOKIE)
        bearer = bearer_token_of(scope)
        if bearer is not None and scope["type"] == "http":
            await _bearer(app, scope, receive, send, bearer, has_session=bool(token))
            return
        if token:
            config = get_config(scope)
            found = await live_session(config, token)
            if found is not None:
                scope["user"] = found[0]
                scope[_AUTH_SCOPE_KEY] = found[1]  # type: ignore[literal-required]
            else:
                send = _clearing_cookie(send, config.secure)
        await app(scope, receive, send)

    return middleware


async def _bearer(app: ASGIApp, scope: Scope, receive: Receive, send: Send, secret: str, *,
                  has_session: bool) -> None:
    """Admit a bearer request, or refuse it here: the one place that decides whether a token may call a route.

    A token reaches a route only when the handler's ``opt["token_scope"]`` names one of its scopes
    (``tokens.scope_allows``); everything else (the console, submissions, sign-in, publishing) answers 403
    ``token-scope`` — a route with no ``token_scope`` at all before the token is even looked up (no SQLite
    read for a request no token could make). The account's role then decides as for a session (guards,
    CAPABILITIES). A request with a session cookie and a bearer token is refused: one request, one identity.
    """
    if has_session:
        await send_problem(send, 400, "bearer-with-session",
                           "send either a session cookie or an Authorization: Bearer token, not both")
        return
    handler = scope.get("route_handler")
    wanted = getattr(handler, "opt", {}).get("token_scope") if handler is not None else None
    if wanted is None:
        await send_problem(send, 403, "token-scope", "tokens never reach this route: use the console")
        return
    config = get_config(scope)
    found = await config.db.read(lambda c: tokens.lookup(c, secret, "bearer"))
    if found is None:
        await send_problem(send, 401, "token-invalid",
                           "unknown, expired or revoked token: sign in again (madoguchi login)")
        return
    account, info = found
    if not tokens.scope_allows(info.scopes, wanted):
        await send_problem(send, 403, "token-scope",
                           f"a token with scope {' '.join(info.scopes) or '(none left)'} may not call this route")
        return
    t = store.now()
    address = client_ip(scope, config.client_ip_header)
    if info.last_used_at is None or t - info.last_used_at >= config.touch_interval \
            or tokens.audit_due(info, address, t, _TOKEN_AUDIT_EVERY):
        path = str(scope.get("path", ""))
        with contextlib.suppress(RuntimeError):  # database closing at shutdown
            config.db.submit(lambda conn: tokens.touch(conn, info, ip=address, path=path,
                                                       audit_every=_TOKEN_AUDIT_EVERY))
    scope["user"] = account
    scope[_BEARER_SCOPE_KEY] = info  # type: ignore[literal-required]
    await app(scope, receive, send)


async def live_session(config: AuthConfig, token: str) -> tuple[Account, store.SessionInfo] | None:
    """The account and live session a session cookie names, or None; resets the idle timer now and then.
    A known session is answered from memory (``session_cache``); nothing reads SQLite on the loop."""
    if len(token) > _MAX_TOKEN:
        return None  # garbage: not worth hashing
    t = store.now()
    found = await config.sessions.lookup(config.db, token, t)
    if found is not None:
        info = found[1]
        if t - info.last_seen_at >= config.touch_interval:
            # Fire and forget: the idle timer need not delay the response.
            with contextlib.suppress(RuntimeError):  # database closing at shutdown
                config.db.submit(lambda conn: store.touch_session(conn, info.token_hash))
                config.sessions.touched(token, info, t)
    return found


def _clearing_cookie(send: Send, secure: bool) -> Send:
    """Tell the browser to drop a session cookie that no longer names a live session."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and not _sets_cookie(message, SESSION_COOKIE):
            cookie = f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
            message = {**message, "headers": [*message.get("headers", ()), (b"set-cookie", cookie.encode())]}
        await send(message)

    return wrapped


def _origin_allowed(scope: Scope, expected: str) -> str | None:
    """None when the request may change state, else why not (browsers tell us where a request comes from)."""
    origin = _header(scope, b"origin")
    if origin is not None and origin.rstrip("/").lower() != expected:
        return f"requests from origin {origin!r} are not accepted"
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    return None


def csrf_header_ok(scope: Scope, config: AuthConfig) -> bool:
    """Whether a state-changing request passes the CSRF checks by its ``X-CSRF-Token`` header alone."""
    return _origin_allowed(scope, config.origin) is None and _tokens_match(
        _csrf_cookie(scope), _header(scope, CSRF_HEADER.encode()))


def _csrf_cookie(scope: Scope) -> str | None:
    cookie = parse_cookies(scope).get(CSRF_COOKIE)
    return cookie if cookie is not None and 16 <= len(cookie) <= _MAX_TOKEN else None


def _tokens_match(cookie: str | None, sent: str | None) -> bool:
    return cookie is not None and sent is not None and hmac.compare_digest(cookie.encode(), sent.encode())


def _is_form(scope: Scope) -> bool:
    ctype = _header(scope, b"content-type") or ""
    return ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"


async def _form_token(receive: Receive) -> tuple[str | None, Receive]:
    """Read a (small) urlencoded body, return its ``_csrf_token`` and a ``receive`` that replays the body."""
    body, whole, receive = await buffer_body(receive, _MAX_FORM)
    if not whole:
        return None, receive
    values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FORM_FIELD)
    return (values[0] if values else None), receive


def _cookieless(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    return handler is not None and bool(getattr(handler, "opt", {}).get("cookieless"))


def csrf_middleware(app: ASGIApp) -> ASGIApp:
    """Double-submit CSRF check plus Origin/Sec-Fetch-Site on every POST/PUT/PATCH/DELETE.

    The token comes in the ``X-CSRF-Token`` header, or for urlencoded HTML forms in the ``_csrf_token``
    field; either way it must equal the ``madoguchi_csrf`` cookie.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or bearer_token_of(scope) is not None or _cookieless(scope):
            # A bearer request carries no ambient credential a forged page could use: the browser never adds
            # an Authorization header by itself. With a session cookie too, auth_middleware refuses it (400).
            # A cookieless route (the OAuth token endpoints) reads no cookie: only secrets in its body.
            await app(scope, receive, send)
            return
        config = get_config(scope)
        cookie = _csrf_cookie(scope)
        if cast("HTTPScope", scope)["method"] in _UNSAFE:
            refused = _origin_allowed(scope, config.origin)
            if refused:
                await send_problem(send, 403, "csrf", refused)
                return
            if scope["path"] in CSRF_TOKEN_EXEMPT:
                await app(scope, receive, send)
                return
            header = _header(scope, CSRF_HEADER.encode())
            if header is None and _is_form(scope):
                # A plain HTML form cannot set headers: accept the token as the _csrf_token field instead.
                header, receive = await _form_token(receive)
            if not _tokens_match(cookie, header):
                await send_problem(send, 403, "csrf",
                                   "missing or wrong X-CSRF-Token header (it must equal the madoguchi_csrf cookie)")
                return
            scope[_CSRF_SCOPE_KEY] = cookie  # type: ignore[literal-required]
            await app(scope, receive, send)
            return
        if cookie is not None:
            scope[_CSRF_SCOPE_KEY] = cookie  # type: ignore[literal-required]
            await app(scope, receive, send)
            return
        if scope["path"].startswith(_NO_CSRF_COOKIE):
            # A preview page (server/preview.py) posts no form and tells the phone nothing is saved: no cookie.
            await app(scope, receive, send)
            return
        token = secrets.token_urlsafe(32)
        scope[_CSRF_SCOPE_KEY] = token  # type: ignore[literal-required]
        is_session_api = scope["path"] == "/api/session"

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start" and not _sets_cookie(message, CSRF_COOKIE):
                headers: list[Any] = list(message.get("headers", ()))
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                # Only pages and /api/session hand out the cookie: a burst of parallel asset fetches
                # without a cookie must not each set a different one.
                if is_session_api or ctype.startswith(b"text/html"):
                    headers.append((b"set-cookie", csrf_cookie_header(token, config.secure)))
                    message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, wrapped)

    return middleware
