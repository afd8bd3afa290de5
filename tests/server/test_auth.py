"""Passkey ceremonies, sessions and CSRF against the real app on loopback (``http://localhost:PORT``)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.auth import AuthConfig
from server.auth.ratelimit import Rate
from tests.server.conftest import auth_server
from testsupport.webauthn import (
    AuthServer,
    SoftAuthenticator,
    assert_problem,
    enroll_staff,
    login,
    register_resident,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory, "auth") as srv:
        yield srv


@pytest.fixture
def client(server: AuthServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def session(client: httpx.Client) -> dict[str, Any]:
    r = client.get("/api/session")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def cred_b64(auth: SoftAuthenticator) -> str:
    return base64.urlsafe_b64encode(auth.credentials[0].id).rstrip(b"=").decode()


# -- ceremonies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "attestation"), [("ES256", "none"), ("EdDSA", "packed"), ("ES256", "packed")])
def test_register_then_sign_in(server: AuthServer, client: httpx.Client, alg: str, attestation: str) -> None:
    auth = SoftAuthenticator(origin=server.base_url, alg=alg, attestation=attestation)
    account, _ = register_resident(client, server.base_url, "山田 太郎", auth)
    assert account["role"] == "resident" and account["verified"] is False and account["display_name"] == "山田 太郎"
    assert len(auth.recovery_codes) == 10 and len(set(auth.recovery_codes)) == 10
    s = session(client)
    assert s["signed_in"] is True and s["account"]["id"] == account["id"]

    assert client.post("/auth/logout").status_code == 204
    assert session(client)["signed_in"] is False
    assert login(client, auth)["id"] == account["id"]
    assert session(client)["account"]["id"] == account["id"]
    assert any(row[1] == account["id"] for row in server.audit("auth.register"))
    assert any(row[1] == account["id"] and '"passkey"' in row[2] for row in server.audit("auth.login"))


def test_login_options_are_discoverable(client: httpx.Client, server: AuthServer) -> None:
    r = client.post("/auth/login/options", json={})
    assert r.status_code == 200
    opts = r.json()["publicKey"]
    assert opts["rpId"] == "localhost" and opts.get("allowCredentials", []) == []
    r = client.post("/auth/register/options", json={"display_name": "x"})
    opts = r.json()["publicKey"]
    assert opts["rp"]["id"] == "localhost"
    assert opts["authenticatorSelection"]["residentKey"] == "required"
    assert opts["authenticatorSelection"]["userVerification"] == "preferred"
    assert [p["alg"] for p in opts["pubKeyCredParams"]] == [-8, -7, -257]


def test_session_cookie_attributes_and_hashed_storage(server: AuthServer, client: httpx.Client) -> None:
    auth = SoftAuthenticator(origin=server.base_url)
    opts = client.post("/auth/register/options", json={"display_name": "c"}).json()
    r = client.post("/auth/register/verify", json={"challenge_id": opts["challenge_id"],
                                                   "credential": auth.create(opts["publicKey"])})
    cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("madoguchi_session="))
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "path", "samesite"} <= attrs and "secure" not in attrs  # plain http on localhost
    assert "samesite=lax" in cookie.lower()
    token = client.cookies.get("madoguchi_session")
    assert token and len(token) >= 43
    stored = server.sql("SELECT token_hash FROM sessions")
    assert all(token.encode() not in bytes(row[0]) for row in stored)
    assert AuthConfig(db=None, origin="https://madoguchi.city.example.lg.jp/").secure  # type: ignore[arg-type]
    assert AuthConfig(db=None, origin="https://madoguchi.city.example.lg.jp/").rp_id == "madoguchi.city.example.lg.jp"  # type: ignore[arg-type]


# -- refusals ---------------------------------------------------------------------------------------


def test_wrong_origin_and_rp_id_rejected(server: AuthServer, client: httpx.Client) -> None:
    evil = SoftAuthenticator(origin="http://evil.example:8000")
    opts = client.post("/auth/register/options", json={"display_name": "e"}).json()
    r = client.post("/auth/register/verify", json={"challenge_id": opts["challenge_id"],
                                                   "credential": evil.create(opts["publicKey"])})
    assert_problem(r, 400, "registration-failed")

    opts = client.post("/auth/register/options", json={"display_name": "e"}).json()
    good = SoftAuthenticator(origin=server.base_url)
    r = client.post("/auth/register/verify", json={"challenge_id": opts["challenge_id"],
                                                   "credential": good.create(opts["publicKey"], rp_id="evil.example")})
    assert_problem(r, 400, "registration-failed")

    _, auth = register_resident(client, server.base_url)
    client.post("/auth/logout")
    for kwargs in ({"origin": "http://localhost:1"}, {"rp_id": "evil.example"}):
        opts = client.post("/auth/login/options", json={}).json()
        cred = auth.credentials[-1]
        r = client.post("/auth/login/verify", json={"challenge_id": opts["challenge_id"],
                                                    "credential": auth.get(opts["publicKey"], credential=cred,
                                                                           **kwargs)})
        assert_problem(r, 401, "sign-in-failed")
    assert session(client)["signed_in"] is False
    assert server.audit("auth.login_failed")


def test_replayed_challenge_and_assertion_rejected(server: AuthServer, client: httpx.Client) -> None:
    _, auth = register_resident(client, server.base_url)
    client.post("/auth/logout")
    opts = client.post("/auth/login/options", json={}).json()
    body = {"challenge_id": opts["challenge_id"], "credential": auth.get(opts["publicKey"])}
    assert client.post("/auth/login/verify", json=body).status_code == 200
    client.post("/auth/logout")
    assert_problem(client.post("/auth/login/verify", json=body), 400, "challenge-invalid")
    # The same signed assertion against a fresh challenge: the signature covers the old challenge.
    fresh = client.post("/auth/login/options", json={}).json()
    r = client.post("/auth/login/verify", json={"challenge_id": fresh["challenge_id"], "credential": body["credential"]})
    assert_problem(r, 401, "sign-in-failed")
    # A registration challenge cannot be spent on a sign-in.
    reg = client.post("/auth/register/options", json={"display_name": "x"}).json()
    r = client.post("/auth/login/verify", json={"challenge_id": reg["challenge_id"],
                                                "credential": auth.get(reg["publicKey"] | {"rpId": "localhost"})})
    assert_problem(r, 400, "challenge-invalid")


def test_expired_challenge_rejected(server: AuthServer, client: httpx.Client) -> None:
    _, auth = register_resident(client, server.base_url)
    client.post("/auth/logout")
    opts = client.post("/auth/login/options", json={}).json()
    assert 0 < opts["publicKey"]["timeout"] <= 300_000
    server.sql("UPDATE challenges SET expires_at = expires_at - 301 WHERE id = ?", opts["challenge_id"])
    r = client.post("/auth/login/verify", json={"challenge_id": opts["challenge_id"],
                                                "credential": auth.get(opts["publicKey"])})
    assert_problem(r, 400, "challenge-expired")
    assert session(client)["signed_in"] is False


def test_sign_count_regression_rejected(server: AuthServer, client: httpx.Client) -> None:
    account, auth = register_resident(client, server.base_url)
    client.post("/auth/logout")
    login(client, auth)
    client.post("/auth/logout")
    auth.credentials[-1].sign_count = 0  # a cloned authenticator replays an older counter: next use sends 1
    opts = client.post("/auth/login/options", json={}).json()
    r = client.post("/auth/login/verify", json={"challenge_id": opts["challenge_id"],
                                                "credential": auth.get(opts["publicKey"])})
    assert_problem(r, 401, "sign-in-failed")
    assert "sign count" in r.json()["detail"].lower()
    assert any(row[1] == account["id"] for row in server.audit("auth.login_failed"))


def test_authenticator_without_counter_accepted(server: AuthServer, client: httpx.Client) -> None:
    """Passkeys synced between devices report 0 forever: 0 after 0 is not a regression."""
    _, auth = register_resident(client, server.base_url)
    for _ in range(2):
        client.post("/auth/logout")
        auth.credentials[-1].sign_count = -1  # get() increments to 0
        login(client, auth)


def test_user_verification_required_for_staff_only(server: AuthServer, client: httpx.Client) -> None:
    # Residents: UV preferred, so an authenticator without UV still works.
    no_uv = SoftAuthenticator(origin=server.base_url, user_verified=False)
    register_resident(client, server.base_url, authenticator=no_uv)
    client.post("/auth/logout")
    login(client, no_uv)
    client.post("/auth/logout")

    # Staff enrollment without UV is refused, and the invite stays usable.
    url = server.invite("佐藤 一郎", "counter")
    with pytest.raises(AssertionError, match="400"):
        enroll_staff(client, url, SoftAuthenticator(origin=server.base_url, user_verified=False))
    account, auth = enroll_staff(client, url)
    assert account["role"] == "counter"
    client.post("/auth/logout")
    auth.user_verified = False
    opts = client.post("/auth/login/options", json={}).json()
    r = client.post("/auth/login/verify", json={"challenge_id": opts["challenge_id"],
                                                "credential": auth.get(opts["publicKey"])})
    assert_problem(r, 401, "sign-in-failed")
    assert "verif" in r.json()["detail"].lower()
    auth.user_verified = True
    assert login(client, auth)["role"] == "counter"


def test_recovery_code_single_use(server: AuthServer, client: httpx.Client) -> None:
    account, auth = register_resident(client, server.base_url)
    client.post("/auth/logout")
    code = auth.recovery_codes[0]
    r = client.post("/auth/recovery", json={"account_id": account["id"], "code": code})
    assert r.status_code == 200 and r.json()["account"]["id"] == account["id"]
    assert session(client)["signed_in"] is True
    client.post("/auth/logout")
    assert_problem(client.post("/auth/recovery", json={"account_id": account["id"], "code": code}), 401,
                   "sign-in-failed")
    assert_problem(client.post("/auth/recovery", json={"account_id": account["id"], "code": "0000-0000-0000-0000"}),
                   401)
    # Typed by hand: case and dashes do not matter.
    relaxed = auth.recovery_codes[1].replace("-", "").lower()
    assert client.post("/auth/recovery", json={"account_id": account["id"], "code": relaxed}).status_code == 200
    assert [r for r in server.audit("auth.login") if r[1] == account["id"] and "recovery" in r[2]]


def test_guessing_recovery_codes_is_throttled_per_account(server: AuthServer, client: httpx.Client) -> None:
    from server.auth.config import STATE_KEY

    config = server.app.state[STATE_KEY]
    # This is the audit-based throttle (failures only, survives restarts): the in-memory per-account rate
    # limit, which counts every attempt, is tested in test_auth_limits.py and kept out of the way here.
    limits = config.limits
    config.limits = msgspec.structs.replace(limits, per_account=Rate(1000, 0.01))
    account, auth = register_resident(client, server.base_url)
    client.post("/auth/logout")
    for i in range(config.recovery_failures):
        r = client.post("/auth/recovery", json={"account_id": account["id"], "code": f"WRONG-CODE-{i:04d}-XXXX"})
        assert_problem(r, 401, "sign-in-failed")
    # Now even the right code is refused without being checked (and so stays unused).
    r = client.post("/auth/recovery", json={"account_id": account["id"], "code": auth.recovery_codes[0]})
    assert_problem(r, 429, "rate-limited")
    assert r.headers["retry-after"] == str(config.recovery_window)
    assert [row for row in server.audit("auth.login_throttled") if row[1] == account["id"]]
    # Another account is not affected.
    with server.client() as other:
        someone, theirs = register_resident(other, server.base_url)
        other.post("/auth/logout")
        assert other.post("/auth/recovery", json={"account_id": someone["id"],
                                                  "code": theirs.recovery_codes[0]}).status_code == 200
    # Once the failures are older than the window, the right code works (the code was never spent).
    window = config.recovery_window
    config.recovery_window = 1
    try:
        time.sleep(1.1)
        r = client.post("/auth/recovery", json={"account_id": account["id"], "code": auth.recovery_codes[0]})
        assert r.status_code == 200, r.text
    finally:
        config.recovery_window = window
        config.limits = limits


def test_new_recovery_codes_replace_the_old_ones(server: AuthServer, client: httpx.Client) -> None:
    account, auth = register_resident(client, server.base_url)
    r = client.post("/auth/recovery-codes")
    assert r.status_code == 200, r.text
    fresh = r.json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(auth.recovery_codes)
    assert [row for row in server.audit("auth.recovery_codes") if row[1] == account["id"]]
    client.post("/auth/logout")
    assert_problem(client.post("/auth/recovery-codes"), 401)
    assert_problem(client.post("/auth/recovery", json={"account_id": account["id"], "code": auth.recovery_codes[0]}),
                   401, "sign-in-failed")
    assert client.post("/auth/recovery", json={"account_id": account["id"], "code": fresh[0]}).status_code == 200


def test_passkey_rename_add_remove(server: AuthServer, client: httpx.Client) -> None:
    account, first = register_resident(client, server.base_url)
    keys = client.get("/api/me/passkeys").json()
    assert len(keys) == 1
    only = keys[0]["id"]
    assert_problem(client.delete(f"/api/me/passkeys/{only}"), 409, "last-passkey")

    second = SoftAuthenticator(origin=server.base_url, alg="EdDSA")
    opts = client.post("/auth/passkeys/options").json()
    excluded = [c["id"] for c in opts["publicKey"].get("excludeCredentials", [])]
    assert excluded == [cred_b64(first)]
    cred = second.create(opts["publicKey"])
    r = client.post("/auth/passkeys/verify", json={"challenge_id": opts["challenge_id"], "credential": cred,
                                                   "name": "iPhone"})
    assert r.status_code == 200 and r.json()["name"] == "iPhone"
    new_id = r.json()["id"]
    # The same credential cannot be registered twice.
    opts = client.post("/auth/passkeys/options").json()
    dup = SoftAuthenticator(origin=server.base_url).create(opts["publicKey"], credential_id=first.credentials[0].id)
    r = client.post("/auth/passkeys/verify", json={"challenge_id": opts["challenge_id"], "credential": dup})
    assert_problem(r, 409, "passkey-exists")

    r = client.patch(f"/api/me/passkeys/{only}", json={"name": "自宅のPC"})
    assert r.status_code == 200 and r.json()["name"] == "自宅のPC"
    assert {k["name"] for k in client.get("/api/me/passkeys").json()} == {"自宅のPC", "iPhone"}

    # Another account can neither see nor touch these passkeys.
    with server.client() as other:
        register_resident(other, server.base_url)
        assert_problem(other.patch(f"/api/me/passkeys/{only}", json={"name": "x"}), 404)
        assert_problem(other.delete(f"/api/me/passkeys/{only}"), 404)
        assert only not in {k["id"] for k in other.get("/api/me/passkeys").json()}

    assert client.delete(f"/api/me/passkeys/{only}").status_code == 204
    assert [k["id"] for k in client.get("/api/me/passkeys").json()] == [new_id]
    client.post("/auth/logout")
    opts = client.post("/auth/login/options", json={}).json()
    r = client.post("/auth/login/verify", json={"challenge_id": opts["challenge_id"],
                                                "credential": first.get(opts["publicKey"])})
    assert_problem(r, 401)  # removed passkey no longer signs in
    assert login(client, second)["id"] == account["id"]
    assert [r for r in server.audit("passkey.add") if r[1] == account["id"]]
    assert [r for r in server.audit("passkey.remove") if r[1] == account["id"]]


def test_logout_and_logout_everywhere(server: AuthServer) -> None:
    with server.client() as phone, server.client() as laptop, server.client() as third:
        account, auth = register_resident(phone, server.base_url)
        login(laptop, auth)
        login(third, auth)
        assert session(laptop)["signed_in"] and session(third)["signed_in"]
        assert third.post("/auth/logout").status_code == 204
        assert session(third)["signed_in"] is False and session(phone)["signed_in"] is True

        assert phone.post("/auth/logout-all").status_code == 204
        assert session(phone)["signed_in"] is False
        r = laptop.get("/api/session")
        assert r.json()["signed_in"] is False
        assert any("madoguchi_session=" in v and "Max-Age=0" in v for v in r.headers.get_list("set-cookie"))
        assert server.sql("SELECT count(*) FROM sessions WHERE account_id = ?", account["id"]) == [(0,)]
        assert_problem(phone.post("/auth/logout-all"), 401)


def test_idle_and_absolute_expiry(server: AuthServer, client: httpx.Client) -> None:
    account, auth = register_resident(client, server.base_url)
    server.sql("UPDATE sessions SET last_seen_at = last_seen_at - idle_seconds WHERE account_id = ?", account["id"])
    assert session(client)["signed_in"] is False
    login(client, auth)
    server.sql("UPDATE sessions SET expires_at = 1 WHERE account_id = ?", account["id"])
    assert session(client)["signed_in"] is False


def test_staff_session_shorter_than_resident(server: AuthServer, client: httpx.Client) -> None:
    account, _ = enroll_staff(client, server.invite("鈴木 次郎", "reviewer", "koseki"))
    assert account["department"] == "koseki"
    idle, life = server.sql("SELECT idle_seconds, expires_at - created_at FROM sessions WHERE account_id = ?",
                            account["id"])[0]
    assert idle <= 3600 and life <= 12 * 3600


# -- CSRF -------------------------------------------------------------------------------------------


def test_csrf_required_on_state_changes(server: AuthServer) -> None:
    with httpx.Client(base_url=server.base_url) as bare:
        assert_problem(bare.post("/auth/login/options", json={}), 403, "csrf")  # no cookie at all
        s = bare.get("/api/session").json()
        token = bare.cookies.get("madoguchi_csrf")
        assert token and s["csrf_token"] == token
        set_cookie = bare.get("/api/session")  # already has the cookie: not set again
        assert not any(v.startswith("madoguchi_csrf=") for v in set_cookie.headers.get_list("set-cookie"))
        assert_problem(bare.post("/auth/login/options", json={}), 403, "csrf")  # cookie but no header
        assert_problem(bare.post("/auth/login/options", json={}, headers={"X-CSRF-Token": "x" * 43}), 403, "csrf")
        ok = {"X-CSRF-Token": token}
        assert bare.post("/auth/login/options", json={}, headers=ok).status_code == 200
        for method in ("PATCH", "DELETE"):
            assert_problem(bare.request(method, "/api/me/passkeys/abc"), 403, "csrf")
        # Browsers say where a request comes from: a foreign page is refused even with a stolen token.
        assert_problem(bare.post("/auth/login/options", json={}, headers={**ok, "Origin": "http://evil.example"}),
                       403, "csrf")
        assert_problem(bare.post("/auth/login/options", json={}, headers={**ok, "Sec-Fetch-Site": "cross-site"}),
                       403, "csrf")
        r = bare.post("/auth/login/options", json={},
                      headers={**ok, "Origin": server.base_url, "Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 200


def test_csrf_cookie_readable_by_scripts(server: AuthServer) -> None:
    with httpx.Client(base_url=server.base_url) as bare:
        r = bare.get("/api/session")
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("madoguchi_csrf="))
        assert "httponly" not in cookie.lower() and "samesite=lax" in cookie.lower()


# -- staff invites ----------------------------------------------------------------------------------


def test_staff_invite_url_single_use(server: AuthServer, client: httpx.Client) -> None:
    url = server.invite("高橋 三郎", "admin")
    assert url.startswith(server.base_url + "/enroll/")
    path = url[len(server.base_url):]
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "高橋 三郎" in page.text and '<label for="passkey-name">' in page.text
    assert "パスキーを登録する</button>" in page.text and "/auth/enroll.js" in page.text
    assert client.get("/auth/enroll.js").status_code == 200

    account, auth = enroll_staff(client, url)
    assert account["role"] == "admin" and session(client)["account"]["role"] == "admin"
    assert client.get(path).status_code == 410
    with server.client() as other:
        token = path.rsplit("/", 1)[-1]
        assert_problem(other.post("/auth/enroll/options", json={"token": token}), 410, "invite-gone")
        assert_problem(other.post("/auth/enroll/options", json={"token": "nope"}), 404)
        assert other.get("/enroll/nope").status_code == 404
    client.post("/auth/logout")
    assert login(client, auth)["id"] == account["id"]
    invites = [r for r in server.audit("staff.invite") if r[1] == account["id"]]
    assert invites and invites[0][0] == "cli"
    assert [r for r in server.audit("auth.enroll") if r[1] == account["id"]]


def test_two_enrollments_race_for_one_invite(server: AuthServer) -> None:
    url = server.invite("伊藤 四郎", "outreach")
    token = url.rsplit("/", 1)[-1]
    with server.client() as a, server.client() as b:
        auth_a, auth_b = SoftAuthenticator(origin=server.base_url), SoftAuthenticator(origin=server.base_url)
        oa = a.post("/auth/enroll/options", json={"token": token}).json()
        ob = b.post("/auth/enroll/options", json={"token": token}).json()
        ra = a.post("/auth/enroll/verify", json={"token": token, "challenge_id": oa["challenge_id"],
                                                 "credential": auth_a.create(oa["publicKey"])})
        rb = b.post("/auth/enroll/verify", json={"token": token, "challenge_id": ob["challenge_id"],
                                                 "credential": auth_b.create(ob["publicKey"])})
        assert sorted([ra.status_code, rb.status_code]) == [200, 410]


def _reinvite(server: AuthServer, account_id: str) -> str:
    from server.auth import reinvite_in

    return str(server.app.state.db.write_sync(lambda c: reinvite_in(c, account_id, server.base_url)))


def _account_of(server: AuthServer, url: str) -> str:
    from server.auth import store

    return str(server.sql("SELECT account_id FROM invites WHERE token_hash = ?",
                          store.hash_secret(url.rsplit("/", 1)[-1]))[0][0])


def test_a_new_invite_voids_the_older_ones(server: AuthServer, client: httpx.Client) -> None:
    first = server.invite("小林 五郎", "counter")
    account_id = _account_of(server, first)
    with server.client() as early:  # options taken on the first link before the reinvite
        token1 = first.rsplit("/", 1)[-1]
        opts = early.post("/auth/enroll/options", json={"token": token1}).json()
        second = _reinvite(server, account_id)
        assert client.get(first[len(server.base_url):]).status_code == 410
        r = early.post("/auth/enroll/verify", json={
            "token": token1, "challenge_id": opts["challenge_id"],
            "credential": SoftAuthenticator(origin=server.base_url).create(opts["publicKey"])})
        assert_problem(r, 410, "invite-gone")
    assert '"voided":1' in server.audit("staff.reinvite")[-1][2].replace(" ", "")
    account, _ = enroll_staff(client, second)
    assert account["id"] == account_id
    with server.client() as late:
        assert_problem(late.post("/auth/enroll/options", json={"token": token1}), 410, "invite-gone")
    assert server.sql("SELECT count(*) FROM credentials WHERE account_id = ?", account_id)[0][0] == 1


def test_enrolling_voids_the_accounts_other_invites(server: AuthServer, client: httpx.Client) -> None:
    from server.auth import store

    url = server.invite("中村 六郎", "admin")
    account_id = _account_of(server, url)
    # Two live links (as an older version left them): enrolling through one ends the other.
    other = server.app.state.db.write_sync(
        lambda c: store.create_invite_row(c, account_id, ttl_seconds=3600, created_by="cli"))
    account, _ = enroll_staff(client, url)
    assert account["id"] == account_id
    with server.client() as thief:
        assert thief.get(f"/enroll/{other}").status_code == 410
        assert_problem(thief.post("/auth/enroll/options", json={"token": other}), 410, "invite-gone")
    assert server.sql("SELECT count(*) FROM credentials WHERE account_id = ?", account_id)[0][0] == 1
    enrolled = [r for r in server.audit("auth.enroll") if r[1] == account_id]
    assert '"voided_invites":1' in enrolled[-1][2].replace(" ", "")


def test_invite_validation(server: AuthServer) -> None:
    with pytest.raises(ValueError):
        server.invite("x", "resident")
    with pytest.raises(ValueError):
        server.invite("x", "reviewer")  # reviewers need a department
    with pytest.raises(ValueError):
        server.invite("x", "wizard")


# -- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("credential", [
    {}, {"id": "!!"}, {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}},
    {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
     "response": {"clientDataJSON": "e30", "attestationObject": "oA", "authenticatorData": "AA", "signature": "AA"}},
    {"rawId": 5}, {"response": []},
])
def test_malformed_credentials_are_client_errors(server: AuthServer, client: httpx.Client,
                                                 credential: dict[str, Any]) -> None:
    for start, finish, extra in (("/auth/register/options", "/auth/register/verify", {"display_name": "x"}),
                                 ("/auth/login/options", "/auth/login/verify", {})):
        opts = client.post(start, json=extra).json()
        r = client.post(finish, json={"challenge_id": opts["challenge_id"], "credential": credential})
        assert 400 <= r.status_code < 500, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    for body in ({}, {"challenge_id": 5}, {"display_name": ""}, {"display_name": "x" * 101}, []):
        r = client.post("/auth/register/options", json=body)
        assert r.status_code == 400
    assert_problem(client.post("/auth/recovery", json={"account_id": "nobody", "code": "x"}), 401)


# A bounded fuzz of every auth JSON endpoint: hostile bodies are client errors, never 5xx.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_b64ish = st.text(alphabet="ABCDEFabcdef0123456789-_=+/!", max_size=60)
_credential = st.fixed_dictionaries({"id": _b64ish, "rawId": _b64ish, "type": st.sampled_from(["public-key", "x"]),
                                     "response": st.dictionaries(st.sampled_from(
                                         ["clientDataJSON", "attestationObject", "authenticatorData", "signature",
                                          "userHandle", "transports"]), _b64ish | _json, max_size=6)})
_bodies = st.one_of(
    _json,
    st.fixed_dictionaries({"challenge_id": st.text(max_size=50) | _json, "credential": _credential | _json},
                          optional={"token": st.text(max_size=50), "name": st.text(max_size=120),
                                    "passkey_name": _json}),
    st.fixed_dictionaries({"account_id": st.text(max_size=50), "code": st.text(max_size=50)}),
    st.fixed_dictionaries({"display_name": st.text(max_size=120) | _json}),
)
_ENDPOINTS = [("POST", p) for p in ("/auth/register/options", "/auth/register/verify", "/auth/login/options",
                                    "/auth/login/verify", "/auth/recovery", "/auth/enroll/options",
                                    "/auth/enroll/verify", "/auth/passkeys/options", "/auth/passkeys/verify",
                                    "/auth/logout")] + [("PATCH", "/api/me/passkeys/x")]


def test_fuzz_auth_endpoints_never_500(server: AuthServer) -> None:
    with server.client() as c:
        register_resident(c, server.base_url)  # signed in, so guarded endpoints parse bodies too
        opts = c.post("/auth/login/options", json={}).json()

        @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
        @given(endpoint=st.sampled_from(_ENDPOINTS), body=_bodies, real_challenge=st.booleans())
        def run(endpoint: tuple[str, str], body: Any, real_challenge: bool) -> None:
            if real_challenge and isinstance(body, dict) and "challenge_id" in body:
                body = {**body, "challenge_id": opts["challenge_id"]}
            if endpoint[1] == "/auth/logout":
                return  # would sign the fuzzing client out; covered elsewhere
            r = c.request(endpoint[0], endpoint[1], json=body)
            assert r.status_code < 500, (endpoint, body, r.text)
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith("application/problem+json")

        run()
