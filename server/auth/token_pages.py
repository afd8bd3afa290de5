"""``/console/tokens``: a configurator's personal tokens for scripts and CI, and the notebook sign-ins.

Creating a token (name, scopes, days ≤ 90) needs a fresh passkey check; its secret is shown once in the answer
and never again (only its digest is stored). The list shows each live personal token and each sign-in of the
notebook client or CLI (one row per sign-in), with a button to revoke it (no fresh check: revoking only ever
takes access away). All of it audited (``token.create``, ``token.revoke``; uses: ``token.use``).
"""

from __future__ import annotations

import sqlite3
from html import escape
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from server.auth import tokens
from server.auth.account_routes import require_fresh
from server.auth.guards import current_account
from server.auth.http import cfg, ip
from server.auth.models import Account
from server.auth.oauth_pages import csrf_field, forbidden_page, lang_of, page, signin_page
from server.auth.problems import AuthProblem
from server.display import jst

__all__ = ["token_page_handlers"]

_KIND = {"personal": ("個人用トークン", "personal token"), "refresh": ("サインイン（ノートブック・コマンド）", "sign-in (notebook, CLI)")}
_SCOPE_SHORT = {"drafts": ("下書き", "drafts"), "analytics": ("統計", "analytics")}


def _account(request: Request[Any, Any, Any]) -> Account:
    account = current_account(request)
    if account is None:
        raise AuthProblem(401, "unauthorized", "sign in first")
    if not tokens.may_use_tokens(account):
        raise AuthProblem(403, "forbidden", "tokens are for configurators and admins")
    return account


@get("/console/tokens", include_in_schema=False, tags=["auth"])
async def tokens_page(request: Request[Any, Any, Any]) -> Response[str]:
    account = current_account(request)
    if account is None:
        return signin_page(request)
    allowed = tokens.allowed_scopes(account.role)
    if not allowed:
        return forbidden_page(request)
    lang = lang_of(request)
    en = lang == "en"
    rows = await cfg(request).db.read(lambda c: tokens.list_tokens(c, account.id))
    if rows:
        head = ("<tr><th scope=\"col\">名前</th><th scope=\"col\">種類</th><th scope=\"col\">範囲</th><th scope=\"col\">作成</th>"
                "<th scope=\"col\">期限</th><th scope=\"col\">最後の利用</th><th scope=\"col\">操作</th></tr>" if not en else
                "<tr><th scope=\"col\">Name</th><th scope=\"col\">Kind</th><th scope=\"col\">Scopes</th><th scope=\"col\">Created</th>"
                "<th scope=\"col\">Expires</th><th scope=\"col\">Last used</th><th scope=\"col\">Action</th></tr>")
        body_rows = "".join(
            f"<tr><td>{escape(r.name)}</td><td>{_KIND[r.kind][en]}</td>"
            f"<td>{'、'.join(_SCOPE_SHORT[s][en] for s in r.scopes if s in _SCOPE_SHORT)}</td>"
            f"<td>{jst(r.created_at)}</td><td>{jst(r.expires_at)}</td><td>{jst(r.last_used_at) or '—'}</td>"
            f"<td><form method=\"post\" action=\"/console/tokens/{escape(r.id)}/revoke\">{csrf_field(request)}"
            f"<button type=\"submit\" aria-label=\"{'取り消す' if not en else 'Revoke'}: {escape(r.name)}\">"
            f"{'取り消す' if not en else 'Revoke'}</button></form></td></tr>" for r in rows)
        table = f"<table><caption>{'有効なトークンとサインイン' if not en else 'Live tokens and sign-ins'}</caption>" \
                f"<thead>{head}</thead><tbody>{body_rows}</tbody></table>"
    else:
        table = f"<p>{'有効なトークンはありません。' if not en else 'No live tokens.'}</p>"
    boxes = "".join(
        f'<label><input type="checkbox" name="scopes" value="{s}"{" checked" if s == allowed[0] else ""}> '
        f"{_SCOPE_SHORT[s][en]}</label>" for s in allowed)
    form = f"""<h2>{'新しい個人用トークン' if not en else 'New personal token'}</h2>
<p>{'スクリプトや CI から使うトークンです。作成時に一度だけ表示されます。公開はトークンでは決してできません。' if not en else
    'For scripts and CI. Shown once, when made. Publishing is never possible with a token.'}</p>
<form method="post" action="/console/tokens" data-fresh data-busy="{'作成しています…' if not en else 'Creating…'}">{csrf_field(request)}
<p><label for="token-name">{'名前（用途）' if not en else 'Name (what it is for)'}</label>
<input id="token-name" name="name" type="text" maxlength="100" required></p>
<fieldset><legend>{'範囲' if not en else 'Scopes'}</legend>{boxes}</fieldset>
<p><label for="token-days">{'有効日数（最長 90 日）' if not en else 'Days valid (at most 90)'}</label>
<input id="token-days" name="days" type="number" min="1" max="{tokens.PERSONAL_MAX_DAYS}" value="30" required></p>
<button type="submit">{'作成する' if not en else 'Create'}</button></form>
<div id="studio-secret" hidden><p>{'このトークンは今だけ表示されます。安全な場所（パスワード管理や CI の秘密情報）に保存してください。' if not en else
    'This token is shown only now. Store it somewhere safe (a password manager, CI secrets).'}</p><p><code></code></p></div>"""
    return page(request, "API トークン" if not en else "API tokens", table + form)


async def _create_form(request: Request[Any, Any, Any]) -> tuple[str, list[str], int]:
    form = await request.form()
    name = str(form.get("name") or "").strip()[:100]
    # getall() without a default raises KeyError when no box is ticked (the browser then sends no field at all)
    scopes = tokens.parse_scopes([str(s) for s in form.getall("scopes", [])] if hasattr(form, "getall") else [])
    try:
        days = int(str(form.get("days") or ""))
    except ValueError:
        days = 0
    if not name:
        raise AuthProblem(400, "token-invalid-request", "a name is required")
    if scopes is None:
        raise AuthProblem(400, "token-invalid-request", "choose drafts and/or analytics")
    if not 1 <= days <= tokens.PERSONAL_MAX_DAYS:
        raise AuthProblem(400, "token-invalid-request", f"days must be 1 to {tokens.PERSONAL_MAX_DAYS}")
    return name, scopes, days


@post("/console/tokens", status_code=HTTP_200_OK, include_in_schema=False, tags=["auth"])
async def create_token(request: Request[Any, Any, Any]) -> Response[Any]:
    """A personal token, after a fresh passkey check; the answer is the only time its secret is shown."""
    account = _account(request)
    name, scopes, days = await _create_form(request)
    if not tokens.scopes_allowed(account, scopes):
        raise AuthProblem(403, "forbidden", "your role does not allow these scopes")
    await require_fresh(request)
    address = ip(request)
    tid, secret = await cfg(request).db.write(lambda c: tokens.create_personal(
        c, account=account, name=name, scopes=scopes, days=days, ip=address))
    return Response({"id": tid, "token": secret, "scopes": scopes, "days": days}, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@post("/console/tokens/{tid:str}/revoke", status_code=HTTP_200_OK, include_in_schema=False, tags=["auth"])
async def revoke_token(request: Request[Any, Any, Any], tid: FromPath[str]) -> Response[Any]:
    account = _account(request)

    def job(conn: sqlite3.Connection) -> bool:
        return tokens.revoke(conn, account.id, tid[:100], actor=account.id)

    if not await cfg(request).db.write(job):
        raise AuthProblem(404, "token-unknown", "no such live token of yours")
    return Response("", status_code=303, headers={"Location": "/console/tokens", "Cache-Control": "no-store"})


token_page_handlers = [tokens_page, create_token, revoke_token]
