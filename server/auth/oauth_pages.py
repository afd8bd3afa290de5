"""The pages of the notebook/CLI sign-in (``server.auth.oauth``) and of personal tokens
(``server.auth.token_pages``): sign-in, consent (loopback flow), device code entry and approval, tokens.

Japanese by default, English with ``?lang=en``. No inline script or style (strict CSP): the one script is
``/oauth/studio.js``, which signs in with a passkey and sends the forms marked ``data-fresh`` with a fresh
passkey check (``/auth/reauth/options`` + ``/verify`` when the server answers 403 ``reauth-required``).
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request, Response

from server.auth.middleware import csrf_token_of

__all__ = ["SCOPE_LABELS", "T", "csrf_field", "forbidden_page", "lang_of", "page", "scope_list", "signin_page",
           "studio_script"]

# Scopes as people read them (values as labels, not codes).
SCOPE_LABELS: dict[str, dict[str, str]] = {
    "drafts": {"ja": "手続の下書き（アップロード・確認・プレビュー・公開の申請）。公開そのものはできません",
               "en": "procedure drafts (upload, check, preview, request publishing). Never publishing itself"},
    "analytics": {"ja": "統計データの読み取り（個人情報を含みません）",
                  "en": "read the analytics dataset (no personal data)"},
}

T: dict[str, dict[str, str]] = {
    "signin_title": {"ja": "サインイン", "en": "Sign in"},
    "signin_text": {"ja": "続けるには、職員のパスキーでサインインしてください。",
                    "en": "Sign in with your staff passkey to continue."},
    "signin_button": {"ja": "パスキーでサインイン", "en": "Sign in with a passkey"},
    "forbidden_title": {"ja": "この操作はできません", "en": "Not allowed"},
    "forbidden_text": {"ja": "この役割のアカウントでは使えません（設定担当または管理者のみ）。",
                       "en": "Your role cannot use this (configurators and admins only)."},
    "allow": {"ja": "許可する", "en": "Allow"},
    "deny": {"ja": "拒否する", "en": "Deny"},
    "client": {"ja": "アプリ", "en": "Application"},
    "scopes": {"ja": "許可する内容", "en": "What it may do"},
    "account": {"ja": "アカウント", "en": "Account"},
    "other_lang": {"ja": "English", "en": "日本語"},
}

_SCRIPT = r"""// Notebook/CLI sign-in pages and console forms that need a fresh passkey check. The passkey and CSRF helpers are
// the resident app's own modules (pwa/js/webauthn.js, api.js), served as they are by /console/static/.
import { parseRequestOptions, credentialToJSON } from "/console/static/webauthn.js";
import { csrf } from "/console/static/api.js";

function postJSON(path, body) {
  return fetch(path, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()}, body: JSON.stringify(body)})
    .then((r) => r.json().then((j) => { if (!r.ok) throw new Error(j.detail || r.statusText); return j; }));
}
function ceremony(prefix) {
  let cid;
  return postJSON(prefix + "/options", {}).then((res) => {
    cid = res.challenge_id;
    return navigator.credentials.get({publicKey: parseRequestOptions(res.publicKey)});
  }).then((cred) => postJSON(prefix + "/verify", {challenge_id: cid, credential: credentialToJSON(cred)}));
}
const statusEl = document.getElementById("studio-status");
const say = (text) => { if (statusEl) statusEl.textContent = text; };
const signin = document.getElementById("studio-signin");
if (signin) {
  signin.addEventListener("click", () => {
    say(signin.getAttribute("data-busy") || "…");
    fetch("/api/session", {credentials: "same-origin"})
      .then(() => ceremony("/auth/login"))
      .then(() => location.reload())
      .catch((err) => say(err.message));
  });
}
function send(form, body) {
  return fetch(form.getAttribute("action"), {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf(),
              "Accept": "application/json"}, body});
}
for (const form of document.querySelectorAll("form[data-fresh]")) {
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    if (ev.submitter && ev.submitter.name) data.append(ev.submitter.name, ev.submitter.value);
    const body = new URLSearchParams(data).toString();
    say(form.getAttribute("data-busy") || "…");
    send(form, body).then((r) => {
      if (r.status !== 403) return r;
      return r.clone().json().then((j) => {
        if (!String(j.type || "").endsWith("reauth-required")) return r;
        return ceremony("/auth/reauth").then(() => send(form, body));
      });
    }).then((r) => r.json().then((j) => {
      if (!r.ok) throw new Error(j.detail || j.error_description || r.statusText);
      if (j.location) { location.assign(j.location); return; }
      const out = document.getElementById("studio-secret");
      if (j.token && out) { out.hidden = false; out.querySelector("code").textContent = j.token; say(""); }
    })).catch((err) => say(err.message));
  });
}
"""


def studio_script() -> str:
    return _SCRIPT


def lang_of(request: Request[Any, Any, Any]) -> str:
    return "en" if request.query_params.get("lang") == "en" else "ja"


def page(request: Request[Any, Any, Any], title: str, body: str, *, status: int = 200) -> Response[str]:
    """A whole page: ``body`` is HTML already escaped by the caller. Referrer policy ``same-origin``, not
    ``no-referrer``: with the latter Chromium sends ``Origin: null`` on a form post, which the CSRF check
    refuses; the loopback redirect is cross-origin and so still carries no referrer."""
    lang = lang_of(request)
    other = "ja" if lang == "en" else "en"
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    if other == "en":
        query["lang"] = "en"
    from urllib.parse import urlencode

    switch = request.url.path + ("?" + urlencode(query) if query else "")
    html = f"""<!doctype html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin"><title>{escape(title)} | 窓口</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/oauth/studio.js" type="module"></script></head>
<body><header class="bar"><span class="brand">窓口 Madoguchi</span>
<nav aria-label="{'メニュー' if lang == 'ja' else 'Menu'}"><a href="/console/">{'コンソール' if lang == 'ja' else 'Console'}</a>
<a href="{escape(switch)}" lang="{other}">{T['other_lang'][lang]}</a></nav>
</header>
<main><h1>{escape(title)}</h1>
{body}
<p id="studio-status" role="status" aria-live="polite"></p>
</main></body></html>
"""
    return Response(html, status_code=status, media_type="text/html",
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin"})


def signin_page(request: Request[Any, Any, Any]) -> Response[str]:
    """401: sign in with a passkey on this very URL, then the page reloads as the signed-in person."""
    lang = lang_of(request)
    busy = "サインインしています…" if lang == "ja" else "Signing in…"
    body = (f"<p>{T['signin_text'][lang]}</p>\n"
            f'<button type="button" id="studio-signin" data-busy="{busy}">{T["signin_button"][lang]}</button>')
    return page(request, T["signin_title"][lang], body, status=401)


def forbidden_page(request: Request[Any, Any, Any]) -> Response[str]:
    lang = lang_of(request)
    return page(request, T["forbidden_title"][lang], f'<p role="alert">{T["forbidden_text"][lang]}</p>', status=403)


def csrf_field(request: Request[Any, Any, Any]) -> str:
    return f'<input type="hidden" name="_csrf_token" value="{escape(csrf_token_of(request.scope) or "")}">'


def scope_list(scopes: list[str], lang: str) -> str:
    return "<ul>" + "".join(f"<li>{escape(SCOPE_LABELS[s][lang])}</li>" for s in scopes) + "</ul>"

