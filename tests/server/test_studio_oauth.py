"""Notebook/CLI sign-in (server/auth/oauth.py) and bearer tokens (server/auth/tokens.py), on the real server
with real passkey ceremonies: the loopback flow with PKCE, the device flow, scope enforcement on every route,
refresh rotation with reuse detection, personal tokens. docs/security.md "Tokens for notebooks and scripts"."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from server.auth.config import STATE_KEY
from server.auth.grants import USER_CODE_ALPHABET
from tests.server.conftest import auth_server
from tests.server.test_authz_matrix import PATH_VALUES, app_routes
from testsupport.webauthn import AuthServer, SoftAuthenticator, assert_problem, enroll_staff, install_csrf

CLIENT = "madoguchi-studio"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory, "studio") as srv:
        yield srv


class Staff:
    def __init__(self, server: AuthServer, role: str) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.base_url, timeout=10, follow_redirects=False)
        install_csrf(self.client)
        account, self.auth = enroll_staff(self.client, server.invite(f"{role} 職員", role))
        self.id: str = account["id"]

    def stale(self) -> None:
        """Let the session's last passkey check age past the fresh window."""
        self.server.sql("UPDATE sessions SET verified_at = verified_at - 1000 WHERE account_id = ?", self.id)

    def reauth(self) -> None:
        opts = self.client.post("/auth/reauth/options").json()
        r = self.client.post("/auth/reauth/verify", json={"challenge_id": opts["challenge_id"],
                                                          "credential": self.auth.get(opts["publicKey"])})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def conf(server: AuthServer) -> Iterator[Staff]:
    s = Staff(server, "configurator")
    yield s
    s.client.close()


@pytest.fixture(scope="module")
def counter(server: AuthServer) -> Iterator[Staff]:
    s = Staff(server, "counter")
    yield s
    s.client.close()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(challenge: str, *, redirect: str = "http://127.0.0.1:54321/callback", state: str = "st-1",
                     scope: str = "drafts") -> dict[str, str]:
    return {"response_type": "code", "client_id": CLIENT, "redirect_uri": redirect, "code_challenge": challenge,
            "code_challenge_method": "S256", "state": state, "scope": scope}


def approve(staff: Staff, params: dict[str, str]) -> str:
    """The consent page's 許可する (after a fresh check): the loopback URL the browser is sent to."""
    r = staff.client.post("/oauth/authorize", data={**params, "decision": "allow"},
                          headers={"Accept": "application/json"})
    if r.status_code == 403:
        assert_problem(r, 403, "reauth-required")
        staff.reauth()
        r = staff.client.post("/oauth/authorize", data={**params, "decision": "allow"},
                              headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return str(r.json()["location"])


def exchange(server: AuthServer, code: str, verifier: str,
             redirect: str = "http://127.0.0.1:54321/callback") -> httpx.Response:
    return httpx.post(server.base_url + "/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": redirect,
        "client_id": CLIENT})


def sign_in_loopback(server: AuthServer, staff: Staff, scope: str = "drafts") -> dict[str, Any]:
    verifier, challenge = pkce()
    location = approve(staff, authorize_params(challenge, scope=scope))
    code = parse_qs(urlsplit(location).query)["code"][0]
    r = exchange(server, code, verifier)
    assert r.status_code == 200, r.text
    return dict(r.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- loopback flow ----------------------------------------------------------------------------------


def test_loopback_flow_with_pkce(server: AuthServer, conf: Staff) -> None:
    verifier, challenge = pkce()
    params = authorize_params(challenge, state="s-" + uuid.uuid4().hex)
    page = conf.client.get("/oauth/authorize", params=params)
    assert page.status_code == 200 and "このコンピューター上で" in page.text and "54321" in page.text
    assert "<script src=\"/oauth/studio.js\"" in page.text and "<script>" not in page.text  # strict CSP
    en = conf.client.get("/oauth/authorize", params={**params, "lang": "en"})
    assert "on this computer" in en.text
    conf.stale()
    r = conf.client.post("/oauth/authorize", data={**params, "decision": "allow"}, headers={"Accept": "application/json"})
    assert_problem(r, 403, "reauth-required")  # 許可する needs a fresh passkey check
    location = approve(conf, params)
    parts = urlsplit(location)
    assert (parts.scheme, parts.hostname, parts.port, parts.path) == ("http", "127.0.0.1", 54321, "/callback")
    q = parse_qs(parts.query)
    assert q["state"] == [params["state"]]
    code = q["code"][0]
    wrong = exchange(server, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    again = exchange(server, code, verifier)  # the wrong try spent it: single use
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    code2 = parse_qs(urlsplit(approve(conf, params)).query)["code"][0]
    other_redirect = exchange(server, code2, verifier, redirect="http://127.0.0.1:9/callback")
    assert other_redirect.json()["error"] == "invalid_grant"

    # Without the page's script (no JSON asked): a 302 to the loopback address, as docs/api.md says.
    plain = conf.client.post("/oauth/authorize", data={**params, "decision": "allow"})
    assert plain.status_code == 302 and plain.headers["location"].startswith("http://127.0.0.1:54321/callback?code=")
    code3 = parse_qs(urlsplit(approve(conf, params)).query)["code"][0]
    ok = exchange(server, code3, verifier)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "drafts"
    assert body["access_token"].startswith("mdg_") and body["refresh_token"].startswith("mdg_")
    assert ok.headers["cache-control"] == "no-store"
    assert exchange(server, code3, verifier).json()["error"] == "invalid_grant"  # used
    me = httpx.get(server.base_url + "/api/me/token", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["account"]["id"] == conf.id and me.json()["token"]["scopes"] == ["drafts"]
    # Stored hashed only.
    rows = server.sql("SELECT count(*) FROM api_tokens WHERE token_hash = ?", body["access_token"].encode())
    assert rows[0][0] == 0
    assert server.sql("SELECT count(*) FROM api_tokens WHERE token_hash = ?",
                      hashlib.sha256(body["access_token"].encode()).digest())[0][0] == 1


def test_code_expires_after_a_minute(server: AuthServer, conf: Staff) -> None:
    verifier, challenge = pkce()
    code = parse_qs(urlsplit(approve(conf, authorize_params(challenge))).query)["code"][0]
    server.sql("UPDATE oauth_grants SET expires_at = expires_at - 61 WHERE kind = 'code' AND status = 'approved'")
    assert exchange(server, code, verifier).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("redirect", ["https://127.0.0.1:5000/cb", "http://evil.example:5000/cb",
                                      "http://127.0.0.1.evil.example:80/cb", "http://user@127.0.0.1:5000/cb",
                                      "http://127.0.0.1/cb", "javascript:alert(1)"])
def test_only_loopback_redirects(server: AuthServer, conf: Staff, redirect: str) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge, redirect=redirect)
    page = conf.client.get("/oauth/authorize", params=params)
    assert page.status_code == 400 and "location" not in page.headers
    r = conf.client.post("/oauth/authorize", data={**params, "decision": "allow"}, headers={"Accept": "application/json"})
    assert_problem(r, 400, "oauth-request")


def test_loopback_accepts_ipv6_and_localhost(conf: Staff) -> None:
    _, challenge = pkce()
    for redirect in ("http://[::1]:8765/cb", "http://localhost:8765/cb"):
        assert conf.client.get("/oauth/authorize", params=authorize_params(challenge, redirect=redirect)).status_code == 200


def test_bad_requests_go_back_with_an_error(conf: Staff) -> None:
    _, challenge = pkce()
    for change, error in (({"code_challenge_method": "plain"}, "invalid_request"), ({"state": ""}, "invalid_request"),
                          ({"scope": "publish"}, "invalid_scope"), ({"response_type": "token"}, "unsupported_response_type")):
        r = conf.client.post("/oauth/authorize", data={**authorize_params(challenge), **change, "decision": "allow"},
                             headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text
        assert parse_qs(urlsplit(r.json()["location"]).query)["error"] == [error]
    deny = conf.client.post("/oauth/authorize", data={**authorize_params(challenge), "decision": "deny"},
                            headers={"Accept": "application/json"})
    assert parse_qs(urlsplit(deny.json()["location"]).query)["error"] == ["access_denied"]
    # Without the page's script (a plain form post): a 302 to the loopback client.
    plain = conf.client.post("/oauth/authorize", data={**authorize_params(challenge), "decision": "deny"})
    assert plain.status_code == 302 and plain.headers["location"].startswith("http://127.0.0.1:54321/callback?")


def test_anonymous_gets_the_sign_in_page_and_counter_staff_are_refused(server: AuthServer, counter: Staff) -> None:
    _, challenge = pkce()
    anon = httpx.get(server.base_url + "/oauth/authorize", params=authorize_params(challenge))
    assert anon.status_code == 401 and "studio-signin" in anon.text
    assert counter.client.get("/oauth/authorize", params=authorize_params(challenge)).status_code == 403
    r = counter.client.post("/oauth/authorize", data={**authorize_params(challenge), "decision": "allow"})
    assert_problem(r, 403, "forbidden")


# -- device flow ------------------------------------------------------------------------------------


def start_device(server: AuthServer, host: str = "jupyter-7f3a") -> dict[str, Any]:
    r = httpx.post(server.base_url + "/oauth/device_authorization",
                   data={"client_id": CLIENT, "scope": "drafts", "client_host": host})
    assert r.status_code == 200, r.text
    return dict(r.json())


def poll(server: AuthServer, device_code: str) -> httpx.Response:
    return httpx.post(server.base_url + "/oauth/token",
                      data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": CLIENT})


@pytest.fixture
def quick_polls(server: AuthServer) -> Iterator[None]:
    config = server.app.state[STATE_KEY]
    before = config.device_interval
    config.device_interval = 1
    yield
    config.device_interval = before


@pytest.mark.usefixtures("quick_polls")
def test_device_flow(server: AuthServer, conf: Staff) -> None:
    d = start_device(server)
    assert re.fullmatch(f"[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}", d["user_code"])
    assert d["expires_in"] == 300 and d["interval"] == 1
    assert d["verification_uri"] == server.base_url + "/console/device"
    assert d["verification_uri_complete"].endswith("code=" + d["user_code"])
    assert poll(server, d["device_code"]).json()["error"] == "authorization_pending"
    fast = poll(server, d["device_code"])
    assert fast.json()["error"] == "slow_down"  # polled again at once: RFC 8628 §3.5
    # The approval page names the client, the host it claims, the address it came from, the scopes, and warns.
    page = conf.client.get("/console/device", params={"code": d["user_code"].lower().replace("-", " ")})
    assert page.status_code == 200
    assert "jupyter-7f3a" in page.text and "127.0.0.1" in page.text and "自分で始めた" in page.text
    assert "手続の下書き" in page.text
    conf.stale()
    r = conf.client.post("/console/device", data={"code": d["user_code"], "decision": "allow"},
                         headers={"Accept": "application/json"})
    assert_problem(r, 403, "reauth-required")
    conf.reauth()
    r = conf.client.post("/console/device", data={"code": d["user_code"], "decision": "allow"},
                         headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["location"] == "/console/device?done=approved"
    again = conf.client.post("/console/device", data={"code": d["user_code"], "decision": "allow"})
    assert_problem(again, 404, "device-code-unknown")  # decided once
    time.sleep(6.2)  # the slow_down above added 5 s to this grant's interval
    got = poll(server, d["device_code"])
    assert got.status_code == 200, got.text
    assert got.json()["scope"] == "drafts"
    me = httpx.get(server.base_url + "/api/me/token", headers=bearer(got.json()["access_token"]))
    assert me.json()["account"]["id"] == conf.id
    time.sleep(1.1)
    assert poll(server, d["device_code"]).json()["error"] == "invalid_grant"  # single use
    approvals = [a for a in server.audit("oauth.approve") if '"device"' in a[2]]
    assert approvals and "jupyter-7f3a" in approvals[-1][2]


@pytest.mark.usefixtures("quick_polls")
def test_device_code_expires_and_can_be_refused(server: AuthServer, conf: Staff) -> None:
    d = start_device(server)
    server.sql("UPDATE oauth_grants SET expires_at = expires_at - 301 WHERE user_code = ?",
               d["user_code"].replace("-", ""))
    assert poll(server, d["device_code"]).json()["error"] == "expired_token"
    assert conf.client.get("/console/device", params={"code": d["user_code"]}).status_code == 404
    d2 = start_device(server)
    r = conf.client.post("/console/device", data={"code": d2["user_code"], "decision": "deny"},
                         headers={"Accept": "application/json"})
    assert r.json()["location"] == "/console/device?done=denied"
    assert poll(server, d2["device_code"]).json()["error"] == "access_denied"
    assert poll(server, "made-up").json()["error"] == "invalid_grant"


def test_device_page_needs_a_configurator(server: AuthServer, counter: Staff) -> None:
    d = start_device(server)
    assert httpx.get(server.base_url + "/console/device").status_code == 401
    assert counter.client.get("/console/device", params={"code": d["user_code"]}).status_code == 403
    assert_problem(counter.client.post("/console/device", data={"code": d["user_code"], "decision": "allow"}),
                   403, "forbidden")


def test_device_authorization_refuses_unknown_clients_and_scopes(server: AuthServer) -> None:
    r = httpx.post(server.base_url + "/oauth/device_authorization", data={"client_id": "other", "scope": "drafts"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = httpx.post(server.base_url + "/oauth/device_authorization", data={"client_id": CLIENT, "scope": "publish"})
    assert r.json()["error"] == "invalid_scope"
    r = httpx.post(server.base_url + "/oauth/token", data={"grant_type": "password", "client_id": CLIENT})
    assert r.json()["error"] == "unsupported_grant_type"


# -- bearer tokens on routes ------------------------------------------------------------------------


def test_a_token_reaches_only_routes_of_its_scope(server: AuthServer, conf: Staff) -> None:
    """Every route of the app: a drafts token is refused 403 token-scope unless the handler names the scope."""
    access = sign_in_loopback(server, conf)["access_token"]
    wrong: list[str] = []
    with httpx.Client(base_url=server.base_url, timeout=10, headers=bearer(access)) as c:
        for (method, path), handler in sorted(app_routes(server.app).items()):
            url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES.get(m.group(1), "x"), path)
            r = c.request(method, url)
            wanted = handler.opt.get("token_scope")
            allowed = wanted is not None and (wanted == "drafts" or "drafts" in tuple(wanted))
            refused = r.status_code == 403 and r.headers.get("content-type", "").startswith("application/problem") \
                and r.json()["type"].endswith("/token-scope")
            if r.status_code >= 500 or refused == allowed:
                wrong.append(f"{method} {path}: {r.status_code}")
    assert not wrong, wrong
    # The submission fast lane hands a bearer to the pipeline, which refuses it.
    r = httpx.post(server.base_url + "/api/submissions", headers=bearer(access),
                   json={"id": str(uuid.uuid4()), "procedure_id": "x", "procedure_version": "1", "answers": {}})
    assert_problem(r, 403, "token-scope")


def test_session_and_bearer_together_are_refused(server: AuthServer, conf: Staff) -> None:
    access = sign_in_loopback(server, conf)["access_token"]
    r = conf.client.get("/api/me/token", headers=bearer(access))
    assert_problem(r, 400, "bearer-with-session")
    r = conf.client.post("/auth/reauth/options", headers=bearer(access))
    assert_problem(r, 400, "bearer-with-session")
    # A session alone does not answer as a token.
    assert_problem(conf.client.get("/api/me/token"), 401, "unauthorized")


def test_unknown_and_expired_tokens(server: AuthServer, conf: Staff) -> None:
    assert_problem(httpx.get(server.base_url + "/api/me/token", headers=bearer("mdg_nope")), 401, "token-invalid")
    assert_problem(httpx.get(server.base_url + "/api/me/token", headers=bearer("x" * 5000)), 401, "token-invalid")
    body = sign_in_loopback(server, conf)
    server.sql("UPDATE api_tokens SET expires_at = 1 WHERE token_hash = ?",
               hashlib.sha256(body["access_token"].encode()).digest())
    assert_problem(httpx.get(server.base_url + "/api/me/token", headers=bearer(body["access_token"])), 401,
                   "token-invalid")
    # A refresh token is not a bearer token.
    assert_problem(httpx.get(server.base_url + "/api/me/token", headers=bearer(body["refresh_token"])), 401,
                   "token-invalid")


def test_role_change_takes_effect_at_once(server: AuthServer) -> None:
    staff = Staff(server, "configurator")
    access = sign_in_loopback(server, staff)["access_token"]
    assert httpx.get(server.base_url + "/api/me/token", headers=bearer(access)).json()["account"]["role"] == "configurator"
    server.sql("UPDATE accounts SET role = 'counter' WHERE id = ?", staff.id)  # no longer configures: no scope left
    assert_problem(httpx.get(server.base_url + "/api/me/token", headers=bearer(access)), 403, "token-scope")
    server.sql("UPDATE accounts SET role = 'configurator' WHERE id = ?", staff.id)
    assert httpx.get(server.base_url + "/api/me/token", headers=bearer(access)).status_code == 200
    server.sql("UPDATE accounts SET disabled_at = '2026-01-01' WHERE id = ?", staff.id)
    assert_problem(httpx.get(server.base_url + "/api/me/token", headers=bearer(access)), 401, "token-invalid")
    staff.client.close()


def test_refresh_rotation_and_reuse_revokes_the_family(server: AuthServer, conf: Staff) -> None:
    first = sign_in_loopback(server, conf)

    def refresh(token: str) -> httpx.Response:
        return httpx.post(server.base_url + "/oauth/token",
                          data={"grant_type": "refresh_token", "refresh_token": token, "client_id": CLIENT})

    second = refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"] and new["access_token"] != first["access_token"]
    assert httpx.get(server.base_url + "/api/me/token", headers=bearer(new["access_token"])).status_code == 200
    replay = refresh(first["refresh_token"])  # the old one again: someone copied it
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert "revoked" in replay.json()["error_description"]
    assert refresh(new["refresh_token"]).json()["error"] == "invalid_grant"  # the whole family is gone
    for t in (first["access_token"], new["access_token"]):
        assert_problem(httpx.get(server.base_url + "/api/me/token", headers=bearer(t)), 401, "token-invalid")
    assert server.audit("token.reuse")


def test_personal_token_lifecycle(server: AuthServer, conf: Staff, counter: Staff) -> None:
    conf.stale()
    form = {"name": "CI 夜間チェック", "scopes": ["drafts", "analytics"], "days": "30"}
    r = conf.client.post("/console/tokens", data=form)
    assert_problem(r, 403, "reauth-required")
    conf.reauth()
    assert_problem(conf.client.post("/console/tokens", data={**form, "days": "91"}), 400, "token-invalid-request")
    assert_problem(conf.client.post("/console/tokens", data={**form, "scopes": ["publish"]}), 400,
                   "token-invalid-request")
    # each field left out, as a form with nothing ticked or typed sends it: the page's refusal, never a 500
    for left_out in ("scopes", "name", "days"):
        partial = {k: v for k, v in form.items() if k != left_out}
        assert_problem(conf.client.post("/console/tokens", data=partial), 400, "token-invalid-request")
    assert_problem(conf.client.post("/console/tokens", data={}), 400, "token-invalid-request")
    assert_problem(conf.client.post("/console/tokens", data={**form, "days": "三十"}), 400, "token-invalid-request")
    r = conf.client.post("/console/tokens", data=form)
    assert r.status_code == 200, r.text
    secret, tid = r.json()["token"], r.json()["id"]
    assert secret.startswith("mdg_")
    page = conf.client.get("/console/tokens")
    assert page.status_code == 200 and "CI 夜間チェック" in page.text and secret not in page.text
    me = httpx.get(server.base_url + "/api/me/token", headers=bearer(secret))
    assert me.json()["token"]["kind"] == "personal" and me.json()["token"]["scopes"] == ["drafts", "analytics"]
    expires = server.sql("SELECT expires_at - created_at FROM api_tokens WHERE id = ?", tid)[0][0]
    assert expires == 30 * 86400
    assert counter.client.get("/console/tokens").status_code == 403
    assert_problem(counter.client.post(f"/console/tokens/{tid}/revoke"), 403, "forbidden")
    assert httpx.get(server.base_url + "/api/me/token", headers=bearer(secret)).status_code == 200
    revoked = conf.client.post(f"/console/tokens/{tid}/revoke")
    assert revoked.status_code == 303
    assert_problem(httpx.get(server.base_url + "/api/me/token", headers=bearer(secret)), 401, "token-invalid")
    assert "CI 夜間チェック" not in conf.client.get("/console/tokens").text
    assert_problem(conf.client.post(f"/console/tokens/{tid}/revoke"), 404, "token-unknown")
    created = [a for a in server.audit("token.create") if tid in a[2]]
    assert created and secret not in created[0][2]
    assert [a for a in server.audit("token.use") if tid in a[2]]
    assert [a for a in server.audit("token.revoke") if tid in a[2]]


def test_token_endpoint_is_rate_limited(tmp_path_factory: pytest.TempPathFactory) -> None:
    from server.auth.ratelimit import AuthLimits, Rate

    with auth_server(tmp_path_factory, "studio-limits", auth_limits=AuthLimits(per_ip=Rate(3, 60.0))) as srv:
        codes = [httpx.post(srv.base_url + "/oauth/token", data={"grant_type": "refresh_token",
                                                                "refresh_token": "mdg_x"}).status_code
                 for _ in range(5)]
        assert codes[:3] == [400, 400, 400] and codes[3:] == [429, 429]
        # As docs/api.md says: the limit answers problem+json (as every auth endpoint), not RFC 6749 JSON.
        limited = httpx.post(srv.base_url + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
        assert_problem(limited, 429, "rate-limited")
        assert int(limited.headers["retry-after"]) > 0
        assert httpx.post(srv.base_url + "/oauth/device_authorization",
                          data={"client_id": CLIENT}).status_code == 200  # its own bucket


def test_sign_in_pages_hold_no_inline_script(server: AuthServer) -> None:
    js = httpx.get(server.base_url + "/oauth/studio.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    page = httpx.get(server.base_url + "/console/tokens")
    assert page.status_code == 401 and "<script>" not in page.text and "style=" not in page.text


_ = SoftAuthenticator  # the Staff helper signs in with it (enroll_staff)


# -- review mends: revocation on disable / role change, token.use audits, scope before lookup -------------


def _me(server: AuthServer, token: str) -> httpx.Response:
    return httpx.get(server.base_url + "/api/me/token", headers=bearer(token))


def test_disabling_an_account_revokes_its_tokens_for_good(server: AuthServer) -> None:
    """Enabling the account again brings its sessions' tokens back? No: they were revoked, not just refused."""
    from server.auth.invites import disable_account, enable_account

    staff = Staff(server, "configurator")
    body = sign_in_loopback(server, staff)
    assert _me(server, body["access_token"]).status_code == 200
    db = server.app.state.db
    db.write_sync(lambda c: disable_account(c, staff.id, actor="test"))
    db.write_sync(lambda c: enable_account(c, staff.id, actor="test"))
    assert_problem(_me(server, body["access_token"]), 401, "token-invalid")
    refreshed = httpx.post(server.base_url + "/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": CLIENT})
    assert refreshed.json()["error"] == "invalid_grant"
    disabled = [d for _, subject, d in server.audit("account.disable") if subject == staff.id]
    assert '"tokens":2' in disabled[-1].replace(" ", "")
    staff.client.close()


def test_a_role_that_loses_the_scope_revokes_the_tokens(server: AuthServer) -> None:
    from server.auth.invites import change_role

    staff = Staff(server, "configurator")
    access = sign_in_loopback(server, staff)["access_token"]
    db = server.app.state.db
    db.write_sync(lambda c: change_role(c, staff.id, "counter", None, actor="test"))
    db.write_sync(lambda c: change_role(c, staff.id, "configurator", None, actor="test"))
    assert_problem(_me(server, access), 401, "token-invalid")
    changes = [d for _, subject, d in server.audit("account.role_change") if subject == staff.id]
    assert '"tokens_revoked":2' in changes[0].replace(" ", "") and "tokens_revoked" not in changes[1]
    staff.client.close()


def test_the_role_rules_for_tokens_are_one_helper() -> None:
    from server.auth import tokens
    from server.auth.models import Account

    def account(role: str) -> Account:
        return Account(id="a", display_name="x", role=role, department=None, verified=False)

    assert tokens.may_use_tokens(account("configurator")) and not tokens.may_use_tokens(account("counter"))
    assert not tokens.may_use_tokens(None)
    assert tokens.scopes_allowed(account("admin"), ["drafts", "analytics"])
    assert not tokens.scopes_allowed(account("counter"), ["drafts"]) and not tokens.scopes_allowed(account("admin"), None)


def test_token_use_is_audited_hourly_and_from_a_new_address(server: AuthServer, conf: Staff) -> None:
    access = sign_in_loopback(server, conf)["access_token"]
    digest = hashlib.sha256(access.encode()).digest()
    tid = server.sql("SELECT id FROM api_tokens WHERE token_hash = ?", digest)[0][0]

    def uses() -> int:
        return len([a for a in server.audit("token.use") if tid in a[2]])

    def settled(n: int) -> None:  # the touch is written after the answer
        for _ in range(100):
            if uses() == n:
                return
            time.sleep(0.02)
        assert uses() == n

    assert _me(server, access).status_code == 200
    settled(1)
    assert _me(server, access).status_code == 200
    time.sleep(0.2)
    assert uses() == 1  # the same address within the hour: not again
    # In steady use (used a minute ago) for over an hour since the last audit: audited again.
    server.sql("UPDATE api_tokens SET last_audited_at = last_audited_at - 3601, last_used_at = ? WHERE id = ?",
               int(time.time()), tid)
    assert _me(server, access).status_code == 200
    settled(2)
    # Last audited from another address: this use is audited at once.
    server.sql("UPDATE api_tokens SET last_audited_ip = '192.0.2.7', last_used_at = ? WHERE id = ?",
               int(time.time()), tid)
    assert _me(server, access).status_code == 200
    settled(3)
    assert server.sql("SELECT last_audited_ip FROM api_tokens WHERE id = ?", tid)[0][0] != "192.0.2.7"


def test_a_route_without_token_scope_refuses_before_looking_the_token_up(server: AuthServer) -> None:
    """No token could call it, so even an unknown token gets 403 token-scope (no SQLite read), not 401."""
    assert_problem(httpx.get(server.base_url + "/api/session", headers=bearer("mdg_unknown")), 403, "token-scope")
    assert_problem(httpx.get(server.base_url + "/api/me/token", headers=bearer("mdg_unknown")), 401, "token-invalid")
