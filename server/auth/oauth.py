"""Sign-in for the notebook client and the CLI (``madoguchi.studio``, ``madoguchi login``): OAuth-style
endpoints that end in bearer tokens (``server.auth.tokens``). docs/security.md "Tokens for notebooks and
scripts" has the risks and why each flow is shaped so.

- Loopback flow (RFC 8252 + PKCE, RFC 7636), for a notebook or CLI on the staff member's own computer:
  ``GET /oauth/authorize`` (only ``http://127.0.0.1|[::1]|localhost:<any port>`` redirects, S256 required) →
  the sign-in page if needed → a consent page → 許可する with a fresh passkey check → 302-like hand-over to the
  loopback address with ``code`` (60 s, single use) and ``state`` → ``POST /oauth/token``.
- Device flow (RFC 8628), for a kernel on a remote server: ``POST /oauth/device_authorization`` → the person
  opens ``/console/device``, types the code, sees the client, the host it says it runs on and the address
  it came from, the scopes and a warning to approve only a code they started themselves (RFC 8628 §5.4,
  RFC 10027), and approves with a fresh passkey check → the client's poll of ``POST /oauth/token`` gets tokens.

The token endpoint answers RFC 6749 JSON (``{"error": ...}``), not problem+json: that is what OAuth clients
read. It and ``/oauth/device_authorization`` use no cookie, so the CSRF middleware passes them
(``opt["cookieless"]``); every secret they take is single use or rotated.
"""

from __future__ import annotations

import sqlite3
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response, get, post
from litestar.status_codes import HTTP_200_OK

from server.audit import append_audit
from server.auth import grants, tokens
from server.auth.account_routes import require_fresh
from server.auth.guards import current_account
from server.auth.http import cfg, ip, limit
from server.auth.middleware import bearer_of
from server.auth.oauth_pages import (
    SCOPE_LABELS,
    T,
    csrf_field,
    forbidden_page,
    lang_of,
    page,
    scope_list,
    signin_page,
    studio_script,
)
from server.auth.problems import AuthProblem
from server.display import jst

__all__ = ["CLIENT_ID", "loopback_redirect_ok", "oauth_handlers"]

CLIENT_ID = "madoguchi-studio"
CLIENT_LABEL = {"ja": "Madoguchi Studio（ノートブック・コマンドライン）", "en": "Madoguchi Studio (notebooks, command line)"}
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_PKCE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def loopback_redirect_ok(uri: str) -> bool:
    """Only a plain-http loopback address, any port (RFC 8252 §7.3); nothing else is ever redirected to."""
    if len(uri) > 500:
        return False
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    return (parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS and port is not None
            and not parts.username and not parts.password and not parts.fragment and "@" not in parts.netloc)


def _token_error(error: str, description: str, status: int = 400) -> Response[Any]:
    return Response({"error": error, "error_description": description}, status_code=status,
                    media_type="application/json", headers=_NO_STORE)


def _tokens_out(pair: tokens.IssuedPair) -> Response[Any]:
    return Response({"access_token": pair.access_token, "token_type": "Bearer", "expires_in": tokens.ACCESS_SECONDS,
                     "refresh_token": pair.refresh_token, "scope": " ".join(pair.scopes)},
                    media_type="application/json", headers=_NO_STORE)


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v)[:2000] for k, v in form.items() if isinstance(v, str)}


# -- loopback flow ----------------------------------------------------------------------------------


class _AuthorizeRequest:
    """The parameters of an authorization request, checked. ``fatal``: shown on a page, never redirected
    (the redirect address itself is not trusted); ``error``: redirected to the loopback client."""

    def __init__(self, q: dict[str, str]) -> None:
        self.redirect_uri = q.get("redirect_uri", "")
        self.state = q.get("state", "")
        self.code_challenge = q.get("code_challenge", "")
        self.scope_text = q.get("scope", "drafts")
        self.scopes = tokens.parse_scopes(self.scope_text)
        self.fatal: str | None = None
        self.error: tuple[str, str] | None = None
        if q.get("client_id") != CLIENT_ID:
            self.fatal = "unknown client_id"
        elif not loopback_redirect_ok(self.redirect_uri):
            self.fatal = "redirect_uri must be http://127.0.0.1:PORT/..., http://[::1]:PORT/... or http://localhost:PORT/..."
        elif q.get("response_type") != "code":
            self.error = ("unsupported_response_type", "response_type must be code")
        elif not 1 <= len(self.state) <= 500:
            self.error = ("invalid_request", "state is required")
        elif q.get("code_challenge_method") != "S256" or not 43 <= len(self.code_challenge) <= 128 \
                or not set(self.code_challenge) <= _PKCE_CHARS:
            self.error = ("invalid_request", "PKCE with code_challenge_method=S256 is required")
        elif self.scopes is None:
            self.error = ("invalid_scope", "scope must be drafts and/or analytics")

    def back(self, **params: str) -> str:
        sep = "&" if "?" in self.redirect_uri else "?"
        return self.redirect_uri + sep + urlencode({**params, "state": self.state})


def _fatal_page(request: Request[Any, Any, Any], why: str) -> Response[str]:
    lang = lang_of(request)
    title = "サインインの要求が正しくありません" if lang == "ja" else "Invalid sign-in request"
    return page(request, title, f'<p role="alert">{escape(why)}</p>', status=400)


@get("/oauth/authorize", include_in_schema=False, tags=["auth"])
async def authorize(request: Request[Any, Any, Any]) -> Response[str]:
    """Signed in with the capability the scopes need: the consent page; else the sign-in page (then back)."""
    account = current_account(request)
    if account is None:
        return signin_page(request)
    if not tokens.may_use_tokens(account):
        return forbidden_page(request)
    req = _AuthorizeRequest(dict(request.query_params))
    if req.fatal:
        return _fatal_page(request, req.fatal)
    if req.error:
        return _redirect_page(request, req.back(error=req.error[0], error_description=req.error[1]))
    if not tokens.scopes_allowed(account, req.scopes):
        return forbidden_page(request)
    lang = lang_of(request)
    port = urlsplit(req.redirect_uri).port
    hidden = "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in (
        ("response_type", "code"), ("client_id", CLIENT_ID), ("redirect_uri", req.redirect_uri),
        ("code_challenge", req.code_challenge), ("code_challenge_method", "S256"), ("state", req.state),
        ("scope", " ".join(req.scopes or []))))
    intro = (f"<p><strong>{escape(CLIENT_LABEL[lang])}</strong> が、<strong>このコンピューター上で</strong>"
             f"（127.0.0.1 のポート {port}）あなたのアカウントで次のことをする許可を求めています。</p>"
             if lang == "ja" else
             f"<p><strong>{escape(CLIENT_LABEL[lang])}</strong> <strong>on this computer</strong> (127.0.0.1 port "
             f"{port}) asks to act with your account as follows.</p>")
    note = ("<p>許可するには、もう一度パスキーで本人確認をします。自分で始めたサインインでなければ「拒否する」を選んでください。"
            "公開（本番への反映）は、この許可では決してできません。</p>" if lang == "ja" else
            "<p>Allowing asks for your passkey once more. If you did not start this sign-in yourself, choose Deny. "
            "Publishing can never be done with this permission.</p>")
    body = f"""{intro}
<dl class="meta"><dt>{T['account'][lang]}</dt><dd>{escape(account.display_name)}</dd>
<dt>{T['client'][lang]}</dt><dd>{escape(CLIENT_LABEL[lang])}</dd>
<dt>{T['scopes'][lang]}</dt><dd>{scope_list(req.scopes or [], lang)}</dd></dl>
{note}
<form method="post" action="/oauth/authorize" data-fresh data-busy="{'確認しています…' if lang == 'ja' else 'Checking…'}">
{csrf_field(request)}{hidden}
<button type="submit" name="decision" value="allow">{T['allow'][lang]}</button>
<button type="submit" name="decision" value="deny">{T['deny'][lang]}</button>
</form>"""
    title = "ノートブックからのサインインの許可" if lang == "ja" else "Allow a notebook to sign in"
    return page(request, title, body)


def _redirect_page(request: Request[Any, Any, Any], location: str, status: int = 302) -> Response[Any]:
    """Hand the result on: JSON ``{"location"}`` for the page's script (which navigates there), else a
    redirect (302 to the loopback client, as RFC 6749 §4.1.2 shows it; 303 within our pages). A loopback
    address was checked (``loopback_redirect_ok``) before anything is sent to it."""
    if "application/json" in request.headers.get("accept", ""):
        return Response({"location": location}, media_type="application/json", headers=_NO_STORE)
    return Response("", status_code=status, headers={"Location": location, **_NO_STORE})


@post("/oauth/authorize", status_code=HTTP_200_OK, include_in_schema=False, tags=["auth"])
async def authorize_decide(request: Request[Any, Any, Any]) -> Response[Any]:
    """許可する (a fresh passkey check first) → a 60-second single-use code; 拒否する → ``access_denied``."""
    account = current_account(request)
    if account is None:
        raise AuthProblem(401, "unauthorized", "sign in first")
    if not tokens.may_use_tokens(account):
        raise AuthProblem(403, "forbidden", "this role cannot sign in notebooks (configure or analytics needed)")
    form = await _form(request)
    req = _AuthorizeRequest(form)
    if req.fatal:
        raise AuthProblem(400, "oauth-request", req.fatal)
    if req.error:
        return _redirect_page(request, req.back(error=req.error[0], error_description=req.error[1]))
    if not tokens.scopes_allowed(account, req.scopes):
        raise AuthProblem(403, "forbidden", "your role does not allow these scopes")
    if form.get("decision") != "allow":
        await cfg(request).db.write(lambda c: append_audit(
            c, actor=account.id, action="oauth.deny", subject=account.id,
            details={"flow": "loopback", "scopes": req.scopes, "ip": ip(request)}))
        return _redirect_page(request, req.back(error="access_denied", error_description="the person refused"))
    await require_fresh(request)
    config = cfg(request)

    def job(conn: sqlite3.Connection) -> str:
        code = grants.create_code(conn, account_id=account.id, client_id=CLIENT_ID, scopes=req.scopes or [],
                                  redirect_uri=req.redirect_uri, code_challenge=req.code_challenge,
                                  ttl=config.code_ttl)
        append_audit(conn, actor=account.id, action="oauth.approve", subject=account.id,
                     details={"flow": "loopback", "scopes": req.scopes, "ip": ip(request)})
        return code

    code = await config.db.write(job)
    return _redirect_page(request, req.back(code=code))


# -- token endpoint ---------------------------------------------------------------------------------


# Form bodies and RFC 6749 JSON errors (what OAuth clients read), not problem+json: kept out of the OpenAPI
# schema of JSON endpoints (whose 4xx are all problem documents); docs/api.md describes them.
@post("/oauth/token", status_code=HTTP_200_OK, opt={"cookieless": True}, include_in_schema=False, tags=["auth"])
async def token(request: Request[Any, Any, Any]) -> Response[Any]:
    """RFC 6749 token endpoint: ``authorization_code`` (+ ``code_verifier``, ``redirect_uri``),
    ``refresh_token`` (rotated; a replayed one revokes its family) and the device code grant."""
    limit(request, "token")
    form = await _form(request)
    config = cfg(request)
    grant_type = form.get("grant_type", "")
    if form.get("client_id", CLIENT_ID) != CLIENT_ID:
        return _token_error("invalid_client", "unknown client_id", 401)
    address = ip(request)
    if grant_type == "authorization_code":
        code, verifier, redirect_uri = form.get("code", ""), form.get("code_verifier", ""), form.get("redirect_uri", "")
        if not code or not verifier:
            return _token_error("invalid_request", "code and code_verifier are required")

        def exchange(conn: sqlite3.Connection) -> tokens.IssuedPair | str:
            found = grants.consume_code(conn, code)
            if found is None:
                return "unknown, expired or already used code"
            if found.redirect_uri != redirect_uri:
                return "redirect_uri differs from the authorization request"
            if not grants.pkce_matches(verifier, found.code_challenge):
                return "code_verifier does not match the code_challenge"
            from server.auth.store import account_by_id

            account = account_by_id(conn, found.account_id)
            if account is None or not tokens.scopes_allowed(account, found.scopes):
                return "the account can no longer sign in notebooks"
            return tokens.issue_pair(conn, account=account, scopes=found.scopes, ip=address, via="loopback",
                                     name=f"{CLIENT_LABEL['ja']}・このコンピューター")

        result = await config.db.write(exchange)
        return _tokens_out(result) if isinstance(result, tokens.IssuedPair) else _token_error("invalid_grant", result)
    if grant_type == "refresh_token":
        secret = form.get("refresh_token", "")
        outcome, pair = await config.db.write(lambda c: tokens.rotate_refresh(c, secret, ip=address))
        if pair is None:
            why = ("this refresh token was already used: every token of this sign-in is now revoked, sign in again"
                   if outcome == "reused" else "unknown, expired or revoked refresh token")
            return _token_error("invalid_grant", why)
        return _tokens_out(pair)
    if grant_type == _DEVICE_GRANT:
        device_code = form.get("device_code", "")

        def poll(conn: sqlite3.Connection) -> tokens.IssuedPair | str:
            outcome, grant, account_id = grants.poll_device(conn, device_code, CLIENT_ID)
            if outcome != "approved" or grant is None or account_id is None:
                return outcome
            from server.auth.store import account_by_id

            account = account_by_id(conn, account_id)
            if account is None or not tokens.scopes_allowed(account, grant.scopes):
                return "access_denied"
            return tokens.issue_pair(conn, account=account, scopes=grant.scopes, ip=address, via="device",
                                     name=f"{CLIENT_ID}・{grant.client_host or grant.client_ip}")

        result = await config.db.write(poll)
        if isinstance(result, tokens.IssuedPair):
            return _tokens_out(result)
        descriptions = {"authorization_pending": "waiting for the person to approve the code",
                        "slow_down": "polling too fast: wait longer between requests",
                        "expired_token": "the device code expired: start again",
                        "access_denied": "the person refused", "invalid_grant": "unknown or already used device code"}
        return _token_error(result, descriptions.get(result, result))
    return _token_error("unsupported_grant_type", "grant_type must be authorization_code, refresh_token or "
                        + _DEVICE_GRANT)


# -- device flow ------------------------------------------------------------------------------------


@post("/oauth/device_authorization", status_code=HTTP_200_OK, opt={"cookieless": True}, include_in_schema=False,
      tags=["auth"])
async def device_authorization(request: Request[Any, Any, Any]) -> Response[Any]:
    """RFC 8628 §3.1: a device code for the client to poll with and a user code for the person."""
    limit(request, "device")
    form = await _form(request)
    if form.get("client_id") != CLIENT_ID:
        return _token_error("invalid_client", "unknown client_id", 401)
    scopes = tokens.parse_scopes(form.get("scope", "drafts"))
    if scopes is None:
        return _token_error("invalid_scope", "scope must be drafts and/or analytics")
    host = "".join(ch for ch in form.get("client_host", "") if ch.isprintable())[:100]
    config = cfg(request)
    address = ip(request)
    device_code, user_code = await config.db.write(lambda c: grants.create_device(
        c, client_id=CLIENT_ID, scopes=scopes, client_host=host, client_ip=address, ttl=config.device_ttl,
        interval=config.device_interval))
    shown = grants.format_user_code(user_code)
    uri = f"{config.origin}/console/device"
    return Response({"device_code": device_code, "user_code": shown, "verification_uri": uri,
                     "verification_uri_complete": f"{uri}?{urlencode({'code': shown})}",
                     "expires_in": config.device_ttl, "interval": config.device_interval},
                    media_type="application/json", headers=_NO_STORE)


@get("/console/device", include_in_schema=False, tags=["auth"])
async def device_page(request: Request[Any, Any, Any]) -> Response[str]:
    """Enter a code, then see what asks for access and approve it (a fresh passkey check) or refuse it."""
    account = current_account(request)
    if account is None:
        return signin_page(request)
    if not tokens.may_use_tokens(account):
        return forbidden_page(request)
    lang = lang_of(request)
    title = "ノートブック・コマンドラインの接続" if lang == "ja" else "Connect a notebook or command line"
    done = request.query_params.get("done")
    if done in ("approved", "denied"):
        text = {"approved": ("許可しました。ノートブック（またはコマンド）に戻ってください。", "Allowed. Go back to your notebook or command."),
                "denied": ("拒否しました。", "Refused.")}[done][lang == "en"]
        return page(request, title, f'<p role="status">{text}</p>')
    typed = request.query_params.get("code", "")
    grant = None
    if typed:
        limit(request, "device", account.id)  # typing codes is guessing codes: per person and address
        code = grants.normalize_user_code(typed)
        grant = await cfg(request).db.read(lambda c: grants.device_by_user_code(c, code)) if code else None
    if grant is None:
        error = ""
        if typed:
            error = ('<p role="alert">このコードは見つからないか、期限切れか、使用済みです。</p>' if lang == "ja" else
                     '<p role="alert">This code is unknown, expired or already used.</p>')
        label = "表示されたコード（8文字）" if lang == "ja" else "The code shown (8 letters)"
        button = "次へ" if lang == "ja" else "Next"
        lang_field = '<input type="hidden" name="lang" value="en">' if lang == "en" else ""
        body = f"""{error}<form method="get" action="/console/device">{lang_field}
<label for="device-code">{label}</label>
<input id="device-code" name="code" type="text" inputmode="text" autocomplete="off" autocapitalize="characters"
 maxlength="20" placeholder="XXXX-XXXX" value="{escape(typed)}" required>
<button type="submit">{button}</button></form>"""
        return page(request, title, body, status=404 if typed else 200)
    if not tokens.scopes_allowed(account, grant.scopes):
        return forbidden_page(request)
    warn = ("<p class=\"error\" role=\"alert\"><strong>自分で始めた接続のコードだけを許可してください。</strong>メールやチャットで送られてきたコードを"
            "許可すると、送った人があなたのアカウントで操作できるようになります（デバイスコード・フィッシング）。"
            "下のホスト名とアドレスが、いま使っているノートブックのものか確かめてください。</p>" if lang == "ja" else
            "<p class=\"error\" role=\"alert\"><strong>Only approve a code you started yourself.</strong> Approving a code someone sent "
            "you by mail or chat lets them act with your account (device code phishing). Check that the host and "
            "address below are those of the notebook you are using.</p>")
    dl = f"""<dl class="meta"><dt>{T['client'][lang]}</dt><dd>{escape(CLIENT_LABEL[lang])}</dd>
<dt>{'名乗っているホスト名' if lang == 'ja' else 'Host it says it runs on'}</dt><dd>{escape(grant.client_host or '（なし）')}</dd>
<dt>{'接続元のアドレス' if lang == 'ja' else 'Address it came from'}</dt><dd>{escape(grant.client_ip)}</dd>
<dt>{'開始時刻' if lang == 'ja' else 'Started at'}</dt><dd>{escape(jst(grant.created_at))}</dd>
<dt>{T['scopes'][lang]}</dt><dd>{scope_list(grant.scopes, lang)}</dd>
<dt>{T['account'][lang]}</dt><dd>{escape(account.display_name)}</dd></dl>"""
    form = f"""<form method="post" action="/console/device{'?lang=en' if lang == 'en' else ''}" data-fresh
 data-busy="{'確認しています…' if lang == 'ja' else 'Checking…'}">{csrf_field(request)}
<input type="hidden" name="code" value="{escape(grants.format_user_code(grant.user_code))}">
<button type="submit" name="decision" value="allow">{T['allow'][lang]}</button>
<button type="submit" name="decision" value="deny">{T['deny'][lang]}</button></form>"""
    return page(request, title, warn + dl + form)


@post("/console/device", status_code=HTTP_200_OK, include_in_schema=False, tags=["auth"])
async def device_decide(request: Request[Any, Any, Any]) -> Response[Any]:
    """許可する (fresh passkey check) or 拒否する; a code is decided once."""
    account = current_account(request)
    if account is None:
        raise AuthProblem(401, "unauthorized", "sign in first")
    if not tokens.may_use_tokens(account):
        raise AuthProblem(403, "forbidden", "this role cannot connect notebooks (configure or analytics needed)")
    limit(request, "device", account.id)
    form = await _form(request)
    code = grants.normalize_user_code(form.get("code", ""))
    config = cfg(request)
    grant = await config.db.read(lambda c: grants.device_by_user_code(c, code)) if code else None
    if grant is None:
        raise AuthProblem(404, "device-code-unknown", "unknown, expired or already used code")
    if not tokens.scopes_allowed(account, grant.scopes):
        raise AuthProblem(403, "forbidden", "your role does not allow these scopes")
    allow = form.get("decision") == "allow"
    if allow:
        await require_fresh(request)

    def job(conn: sqlite3.Connection) -> bool:
        if not grants.approve_device(conn, grant.id, account.id, allow=allow):
            return False
        append_audit(conn, actor=account.id, action="oauth.approve" if allow else "oauth.deny", subject=account.id,
                     details={"flow": "device", "scopes": grant.scopes, "client_host": grant.client_host,
                              "client_ip": grant.client_ip, "ip": ip(request)})
        return True

    if not await config.db.write(job):
        raise AuthProblem(404, "device-code-unknown", "unknown, expired or already used code")
    location = f"/console/device?done={'approved' if allow else 'denied'}" + ("&lang=en" if lang_of(request) == "en" else "")
    return _redirect_page(request, location, 303)


@get("/api/me/token", opt={"token_scope": tokens.SCOPES}, tags=["auth"])
async def token_info(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Who a bearer token acts for and what it may do (the client shows it after signing in). Bearer only."""
    info = bearer_of(request.scope)
    account = current_account(request)
    if info is None or account is None:
        raise AuthProblem(401, "unauthorized", "this route answers a bearer token (Authorization: Bearer mdg_...)")
    return {"account": account.public(), "token": {"id": info.id, "kind": info.kind, "scopes": list(info.scopes),
                                                   "expires_at": info.expires_at}}


@get("/oauth/studio.js", include_in_schema=False, sync_to_thread=False, tags=["auth"])
def studio_js() -> Response[str]:
    return Response(studio_script(), media_type="text/javascript", headers={"Cache-Control": "no-cache"})


# Scope labels are part of what the pages show: keep every scope labelled.
assert set(SCOPE_LABELS) == set(tokens.SCOPES)

oauth_handlers = [authorize, authorize_decide, token, device_authorization, device_page, device_decide, token_info,
                  studio_js]
