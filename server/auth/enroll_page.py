"""The staff enrollment page (``GET /enroll/{token}``) and its script.

The script is served from ``/auth/enroll.js`` rather than inlined so the page works under a CSP without
``unsafe-inline``. It uses the browser's JSON helpers when present and a small base64url fallback for
older phones.
"""

from __future__ import annotations

from html import escape

__all__ = ["enroll_page", "enroll_script"]

_MESSAGES = {
    "unknown": "この登録用リンクは見つかりません。管理者に新しいリンクを依頼してください。",
    "gone": "この登録用リンクは使用済み、新しいリンクに置き換え済み、または有効期限切れです。管理者に新しいリンクを依頼してください。",
}


def enroll_page(display_name: str | None, status: str) -> str:
    if status != "ok" or display_name is None:
        body = f'<p role="alert">{escape(_MESSAGES.get(status, _MESSAGES["unknown"]))}</p>'
    else:
        body = f"""<p>{escape(display_name)} さん、この端末にパスキーを登録して、職員としてサインインできるようにします。</p>
<form id="enroll-form">
  <label for="passkey-name">パスキーの名前（例：窓口PC）</label>
  <input id="passkey-name" name="passkey_name" type="text" maxlength="100" autocomplete="off">
  <button type="submit">パスキーを登録する</button>
</form>
<p id="enroll-status" role="status" aria-live="polite"></p>
<script src="/auth/enroll.js" defer></script>"""
    return f"""<!doctype html>
<html lang="ja">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>職員パスキー登録 | 窓口</title></head>
<body><main><h1>職員パスキー登録</h1>
{body}
</main></body></html>
"""


_SCRIPT = r"""// Staff enrollment: fetch creation options, create the passkey, send it back.
(function () {
  "use strict";
  var form = document.getElementById("enroll-form");
  if (!form) return;
  var statusEl = document.getElementById("enroll-status");
  var token = decodeURIComponent(location.pathname.split("/").pop());

  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)madoguchi_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function post(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.detail || r.statusText);
        return j;
      });
    });
  }
  function parseOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuf(json.challenge);
    o.user = Object.assign({}, json.user, {id: b64urlToBuf(json.user.id)});
    o.excludeCredentials = (json.excludeCredentials || []).map(function (c) {
      return Object.assign({}, c, {id: b64urlToBuf(c.id)});
    });
    return o;
  }
  function toJSON(cred) {
    if (typeof cred.toJSON === "function") return cred.toJSON();
    return {
      id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: bufToB64url(cred.response.clientDataJSON),
        attestationObject: bufToB64url(cred.response.attestationObject),
        transports: cred.response.getTransports ? cred.response.getTransports() : []
      }
    };
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    statusEl.textContent = "登録しています…";
    var name = document.getElementById("passkey-name").value.trim();
    var challengeId;
    fetch("/api/session", {credentials: "same-origin"})
      .then(function () { return post("/auth/enroll/options", {token: token}); })
      .then(function (res) {
        challengeId = res.challenge_id;
        return navigator.credentials.create({publicKey: parseOptions(res.publicKey)});
      })
      .then(function (cred) {
        var body = {token: token, challenge_id: challengeId, credential: toJSON(cred)};
        if (name) body.passkey_name = name;
        return post("/auth/enroll/verify", body);
      })
      .then(function () {
        statusEl.textContent = "登録しました。職員画面に移動します。";
        location.assign("/console/");
      })
      .catch(function (err) { statusEl.textContent = "登録できませんでした：" + err.message; });
  });
})();
"""


def enroll_script() -> str:
    return _SCRIPT
