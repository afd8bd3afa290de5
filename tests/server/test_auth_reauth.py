"""Credential changes need a fresh passkey check (docs/security.md, "Fresh passkey check"): adding or
removing a passkey and new recovery codes are refused with 403 ``reauth-required`` unless this session
made a user-verified passkey assertion in the last ``reauth_seconds``; ``/auth/reauth/*`` makes one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.auth.config import STATE_KEY
from tests.server.conftest import auth_server
from testsupport.sessions import login_as
from testsupport.webauthn import (
    AuthServer,
    SoftAuthenticator,
    assert_problem,
    b64u,
    enroll_staff,
    login,
    register_resident,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory, "reauth") as srv:
        yield srv


def age(server: AuthServer, account_id: str, seconds: int = 301) -> None:
    """Let time pass for this account's sessions' last passkey check."""
    server.sql("UPDATE sessions SET verified_at = verified_at - ? WHERE account_id = ?", seconds, account_id)


def reauth(c: httpx.Client, auth: SoftAuthenticator, **get_kwargs: Any) -> httpx.Response:
    opts = c.post("/auth/reauth/options")
    assert opts.status_code == 200, opts.text
    body = opts.json()
    return c.post("/auth/reauth/verify", json={"challenge_id": body["challenge_id"],
                                               "credential": auth.get(body["publicKey"], **get_kwargs)})


def add_passkey(c: httpx.Client, server: AuthServer) -> httpx.Response:
    opts = c.post("/auth/passkeys/options")
    if opts.status_code != 200:
        return opts
    body = opts.json()
    new = SoftAuthenticator(origin=server.base_url)
    return c.post("/auth/passkeys/verify", json={"challenge_id": body["challenge_id"],
                                                 "credential": new.create(body["publicKey"])})


def test_stale_session_must_reauthenticate_for_every_credential_change(server: AuthServer) -> None:
    with server.client() as c:
        account, auth = register_resident(c, server.base_url)
        assert add_passkey(c, server).status_code == 200  # a fresh registration counts as a check
        age(server, account["id"])
        assert_problem(c.post("/auth/passkeys/options"), 403, "reauth-required")
        keys = c.get("/api/me/passkeys").json()
        assert_problem(c.delete(f"/api/me/passkeys/{keys[-1]['id']}"), 403, "reauth-required")
        assert_problem(c.post("/auth/recovery-codes"), 403, "reauth-required")
        assert len(c.get("/api/me/passkeys").json()) == 2  # nothing changed
        # Renaming is a label, not a credential: no check.
        assert c.patch(f"/api/me/passkeys/{keys[0]['id']}", json={"name": "家"}).status_code == 200

        r = reauth(c, auth)
        assert r.status_code == 200 and r.json() == {"fresh_for": 300}
        assert c.delete(f"/api/me/passkeys/{keys[-1]['id']}").status_code == 204
        assert c.post("/auth/recovery-codes").status_code == 200
        assert add_passkey(c, server).status_code == 200
        assert [row for row in server.audit("auth.reauth") if row[1] == account["id"]]


def test_reauth_options_ask_for_this_accounts_passkeys_with_user_verification(server: AuthServer) -> None:
    with server.client() as c:
        _, auth = register_resident(c, server.base_url)
        opts = c.post("/auth/reauth/options").json()["publicKey"]
        assert opts["userVerification"] == "required"
        assert [d["id"] for d in opts["allowCredentials"]] == [b64u(auth.credentials[0].id)]


def test_recovery_code_sign_in_may_only_add_a_passkey(server: AuthServer) -> None:
    """Whoever lost every passkey signs in with a recovery code to add a new one: that alone is allowed,
    for a few minutes after the sign-in; the rest needs a check with the new passkey."""
    with server.client() as c:
        account, lost = register_resident(c, server.base_url)
        c.post("/auth/logout")
        r = c.post("/auth/recovery", json={"account_id": account["id"], "code": lost.recovery_codes[0]})
        assert r.status_code == 200
        assert_problem(c.post("/auth/recovery-codes"), 403, "reauth-required")
        first = c.get("/api/me/passkeys").json()[0]["id"]
        assert_problem(c.delete(f"/api/me/passkeys/{first}"), 403, "reauth-required")
        opts = c.post("/auth/passkeys/options")
        assert opts.status_code == 200, opts.text
        new = SoftAuthenticator(origin=server.base_url)
        assert c.post("/auth/passkeys/verify", json={"challenge_id": opts.json()["challenge_id"],
                                                     "credential": new.create(opts.json()["publicKey"])}).status_code == 200
        assert reauth(c, new).status_code == 200  # the check, with the new passkey
        assert c.delete(f"/api/me/passkeys/{first}").status_code == 204
        assert c.post("/auth/recovery-codes").status_code == 200

    with server.client() as late:  # minutes after a recovery sign-in, not even adding
        c2_account, auth = register_resident(late, server.base_url)
        late.post("/auth/logout")
        late.post("/auth/recovery", json={"account_id": c2_account["id"], "code": auth.recovery_codes[0]})
        server.sql("UPDATE sessions SET created_at = created_at - 301 WHERE account_id = ?", c2_account["id"])
        assert_problem(late.post("/auth/passkeys/options"), 403, "reauth-required")


def test_reauth_refuses_without_user_verification_or_with_a_stranger_passkey(server: AuthServer) -> None:
    with server.client() as c, server.client() as other:
        account, auth = register_resident(c, server.base_url)
        _, theirs = register_resident(other, server.base_url)
        age(server, account["id"])
        auth.user_verified = False
        assert_problem(reauth(c, auth), 401, "sign-in-failed")
        auth.user_verified = True
        # Another account's passkey answering this account's challenge.
        opts = c.post("/auth/reauth/options").json()
        cred = theirs.get(opts["publicKey"] | {"rpId": "localhost"})
        assert_problem(c.post("/auth/reauth/verify", json={"challenge_id": opts["challenge_id"], "credential": cred}),
                       401, "sign-in-failed")
        assert_problem(c.post("/auth/recovery-codes"), 403, "reauth-required")
        assert [row for row in server.audit("auth.reauth_failed") if row[1] == account["id"]]


def test_challenges_are_bound_to_the_session(server: AuthServer) -> None:
    """A fresh session's challenge cannot be finished by another (stale) session of the same account."""
    with server.client() as fresh, server.client() as stale:
        account, auth = register_resident(fresh, server.base_url)
        login(stale, auth)
        age(server, account["id"])
        server.sql("UPDATE sessions SET verified_at = strftime('%s', 'now') WHERE token_hash = ("
                   "SELECT token_hash FROM sessions WHERE account_id = ? ORDER BY created_at, rowid LIMIT 1)",
                   account["id"])
        assert fresh.post("/auth/passkeys/options").status_code == 200
        assert_problem(stale.post("/auth/passkeys/options"), 403, "reauth-required")
        opts = fresh.post("/auth/passkeys/options").json()
        new = SoftAuthenticator(origin=server.base_url)
        r = stale.post("/auth/passkeys/verify", json={"challenge_id": opts["challenge_id"],
                                                      "credential": new.create(opts["publicKey"])})
        assert_problem(r, 400, "challenge-invalid")
        r_opts = fresh.post("/auth/reauth/options").json()
        r = stale.post("/auth/reauth/verify", json={"challenge_id": r_opts["challenge_id"],
                                                    "credential": auth.get(r_opts["publicKey"])})
        assert_problem(r, 400, "challenge-invalid")
        assert_problem(stale.post("/auth/recovery-codes"), 403, "reauth-required")


def test_window_is_configurable(server: AuthServer) -> None:
    config = server.app.state[STATE_KEY]
    with server.client() as c:
        account, _ = register_resident(c, server.base_url)
        age(server, account["id"], 100)
        assert c.post("/auth/recovery-codes").status_code == 200
        config.reauth_seconds = 60
        try:
            assert_problem(c.post("/auth/recovery-codes"), 403, "reauth-required")
        finally:
            config.reauth_seconds = 300


def test_sessions_made_without_a_passkey_are_not_fresh(server: AuthServer) -> None:
    session = login_as(server.app.state.db, "resident")
    with httpx.Client(base_url=server.base_url, cookies=session["cookies"], headers=session["headers"]) as c:
        assert_problem(c.post("/auth/recovery-codes"), 403, "reauth-required")
        assert_problem(c.post("/auth/passkeys/options"), 403, "reauth-required")


def test_staff_enrollment_is_fresh_and_staff_reauth_works(server: AuthServer) -> None:
    with server.client() as c:
        account, auth = enroll_staff(c, server.invite("中村 六郎", "reviewer", "koseki"))
        assert add_passkey(c, server).status_code == 200
        age(server, account["id"])
        assert_problem(c.post("/auth/passkeys/options"), 403, "reauth-required")
        assert reauth(c, auth).status_code == 200
        assert add_passkey(c, server).status_code == 200
