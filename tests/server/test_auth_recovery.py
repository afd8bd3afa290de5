""""I lost my passkey" against the real app on loopback: a recovery code alone (no account id) registers a
new passkey and signs in; wrong, used and replaced codes are refused; guessing is throttled per client address
and per account; codes made before auth migration v4 keep working; everything is audited."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from server.auth.codes import LOOKUP_LEN, find_code, normalize_code
from server.auth.config import STATE_KEY, AuthConfig
from server.auth.ratelimit import Rate, RateLimiter
from tests.server.conftest import auth_server
from testsupport.webauthn import AuthServer, SoftAuthenticator, assert_problem, login, register_resident

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
          " Version/17.4 Mobile/15E148 Safari/604.1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory, "recovery", client_ip_header="x-forwarded-for") as srv:
        yield srv


@pytest.fixture
def config(server: AuthServer) -> Iterator[AuthConfig]:
    """The live config with generous in-memory limits (the throttles from the database are what is tested)."""
    cfg: AuthConfig = server.app.state[STATE_KEY]
    before = (cfg.limits, cfg.recovery_failures, cfg.recovery_client_failures)
    cfg.limits = msgspec.structs.replace(cfg.limits, per_ip=Rate(10_000, 0.001), per_account=Rate(10_000, 0.001))
    cfg.limiter = RateLimiter()
    yield cfg
    cfg.limits, cfg.recovery_failures, cfg.recovery_client_failures = before
    cfg.limiter = RateLimiter()


_n = iter(range(1, 250))


@pytest.fixture
def address() -> dict[str, str]:
    """A client address of its own per test (the per-address throttle counts across tests otherwise)."""
    return {"X-Forwarded-For": f"192.0.2.{next(_n)}"}


def resident(server: AuthServer, headers: dict[str, str]) -> tuple[dict[str, Any], SoftAuthenticator]:
    with server.client() as c:
        c.headers.update(headers)
        return register_resident(c, server.base_url, "回復 太郎")


def recover(c: httpx.Client, server: AuthServer, code: str, **extra: Any) -> tuple[httpx.Response, SoftAuthenticator]:
    """「パスキーをなくした方」 on a new phone: the code alone, then a new passkey."""
    phone = SoftAuthenticator(origin=server.base_url)
    opts = c.post("/auth/recovery/options", json={"code": code})
    if opts.status_code != 200:
        return opts, phone
    body = {"challenge_id": opts.json()["challenge_id"], "credential": phone.create(opts.json()["publicKey"]), **extra}
    return c.post("/auth/recovery/verify", json=body), phone


def test_a_code_alone_registers_a_new_passkey_and_signs_in(server: AuthServer, config: AuthConfig,
                                                           address: dict[str, str]) -> None:
    account, old_phone = resident(server, address)
    code = old_phone.recovery_codes[3]
    assert len(code) == 24 and code.count("-") == 4
    with server.client() as c, server.client() as old:
        c.headers.update(address)
        old.headers.update(address)
        login(old, old_phone)  # the lost phone is still signed in
        opts = c.post("/auth/recovery/options", json={"code": code}).json()["publicKey"]
        # The new passkey is for the same user; the account's passkeys are excluded (not made twice).
        assert opts["user"]["name"] == "回復 太郎"
        assert len(opts["excludeCredentials"]) == 1
        assert server.sql("SELECT used_at FROM recovery_codes WHERE lookup = ?",
                          normalize_code(code)[:LOOKUP_LEN])[0][0] is None  # not spent by asking
        c.headers["User-Agent"] = IPHONE
        r, new_phone = recover(c, server, code)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["account"]["id"] == account["id"]
        assert body["kept_passkeys"] == 1 and body["ended_sessions"] >= 1
        assert c.get("/api/session").json()["account"]["id"] == account["id"]
        # The old passkey is kept (listed to be removed); the new one is named after the device, not the UA.
        listed = c.get("/api/me/passkeys").json()
        assert [p["name"] for p in listed][1:] == ["iPhone の Safari"] and len(listed) == 2
        assert body["passkey"] == listed[1]
        # The registration was user-verified: the session may remove the lost passkey at once.
        lost = c.get("/api/me/passkeys").json()[0]["id"]
        assert c.delete(f"/api/me/passkeys/{lost}").status_code in (200, 204)
        # The lost phone's session ended.
        assert old.get("/api/session").json()["signed_in"] is False
    c2 = httpx.Client(base_url=server.base_url, timeout=10)
    with c2:
        assert login(c2, new_phone)["id"] == account["id"]
    used = server.sql("SELECT count(*) FROM recovery_codes WHERE account_id = ? AND used_at IS NOT NULL", account["id"])
    assert used[0][0] == 1
    audit = [msgspec.json.decode(d) for _, s, d in server.audit("auth.recover") if s == account["id"]]
    assert len(audit) == 1 and audit[0]["method"] == "recovery" and audit[0]["kept_passkeys"] == 1
    assert audit[0]["name"] == "iPhone の Safari" and audit[0]["ip"] == address["X-Forwarded-For"]


def test_a_used_code_and_a_second_ceremony_are_refused(server: AuthServer, config: AuthConfig,
                                                       address: dict[str, str]) -> None:
    account, phone = resident(server, address)
    code = phone.recovery_codes[0]
    with server.client() as c:
        c.headers.update(address)
        # Two ceremonies started with one code: the first to finish spends it, the second is refused.
        phones = [SoftAuthenticator(origin=server.base_url) for _ in range(2)]
        opts = [c.post("/auth/recovery/options", json={"code": code}).json() for _ in range(2)]
        bodies = [{"challenge_id": o["challenge_id"], "credential": p.create(o["publicKey"])}
                  for o, p in zip(opts, phones, strict=True)]
        assert c.post("/auth/recovery/verify", json=bodies[0]).status_code == 200
        assert_problem(c.post("/auth/recovery/verify", json=bodies[1]), 401, "sign-in-failed")
        c.post("/auth/logout")
        # Used: refused on both paths, with the same answer as a wrong code.
        r, _ = recover(c, server, code)
        assert_problem(r, 401, "sign-in-failed")
        assert_problem(c.post("/auth/recovery", json={"code": code}), 401, "sign-in-failed")
        # The only passkeys are the old one and the first ceremony's.
        assert server.sql("SELECT count(*) FROM credentials WHERE account_id = ?", account["id"])[0][0] == 2
    failed = [msgspec.json.decode(d) for _, s, d in server.audit("auth.login_failed") if s == account["id"]]
    assert any(f["reason"] == "used recovery code" for f in failed)
    assert [s for _, s, _ in server.audit("auth.recover_failed") if s == account["id"]]


def test_typed_by_hand_and_the_older_sign_in_path(server: AuthServer, config: AuthConfig,
                                                  address: dict[str, str]) -> None:
    account, phone = resident(server, address)
    with server.client() as c:
        c.headers.update(address)
        # Full-width, lower case, spaces for dashes, O for 0 and I/L for 1: what a phone keyboard makes.
        typed = unicodedata.normalize("NFKC", phone.recovery_codes[1]).lower().replace("-", " ")
        typed = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in typed)  # full width
        r = c.post("/auth/recovery", json={"code": typed})  # the code alone: no account id
        assert r.status_code == 200, r.text
        assert r.json()["account"]["id"] == account["id"]
        c.post("/auth/logout")
        # An account id may still be sent; it must be the code's.
        other, _ = resident(server, address)
        assert_problem(c.post("/auth/recovery", json={"code": phone.recovery_codes[2], "account_id": other["id"]}),
                       401, "sign-in-failed")
        r = c.post("/auth/recovery", json={"code": phone.recovery_codes[2], "account_id": account["id"]})
        assert r.status_code == 200
    assert normalize_code("oi1L-") == "0111"


def test_codes_store_a_lookup_id_and_only_the_digest_of_the_secret(server: AuthServer, config: AuthConfig,
                                                                   address: dict[str, str]) -> None:
    account, phone = resident(server, address)
    rows = server.sql("SELECT lookup, code_hash FROM recovery_codes WHERE account_id = ? ORDER BY id", account["id"])
    assert len(rows) == 10
    for code, (lookup, digest) in zip(phone.recovery_codes, rows, strict=True):
        raw = normalize_code(code)
        assert lookup == raw[:LOOKUP_LEN]
        assert bytes(digest) == hashlib.sha256(raw[LOOKUP_LEN:].encode()).digest()
        assert raw[LOOKUP_LEN:].encode() not in bytes(digest)


def test_codes_made_before_v4_still_work(server: AuthServer, config: AuthConfig, address: dict[str, str]) -> None:
    """A code of the old format (16 characters, no lookup id, as auth migration v4 leaves them) signs in alone."""
    account, _ = resident(server, address)
    legacy = "7K3M-9Q2W-XR4T-8HJN"
    server.sql("INSERT INTO recovery_codes (account_id, code_hash) VALUES (?, ?)", account["id"],
               hashlib.sha256(legacy.replace("-", "").encode()).digest())
    with server.client() as c:
        c.headers.update(address)
        r, _ = recover(c, server, legacy.lower())
        assert r.status_code == 200, r.text
        assert r.json()["account"]["id"] == account["id"]
        c.post("/auth/logout")
        r, _ = recover(c, server, legacy)
        assert_problem(r, 401, "sign-in-failed")


def test_wrong_codes_are_audited_and_throttled_per_address(server: AuthServer, config: AuthConfig,
                                                           address: dict[str, str]) -> None:
    _, phone = resident(server, address)
    config.recovery_client_failures = 3
    with server.client() as c:
        c.headers.update(address)
        for i in range(3):
            r, _ = recover(c, server, f"ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZ{i:02d}")
            assert_problem(r, 401, "sign-in-failed")
        # From this address even the right code is refused now, and not spent.
        r, _ = recover(c, server, phone.recovery_codes[0])
        assert_problem(r, 429, "rate-limited")
        assert r.headers["retry-after"] == str(config.recovery_window)
        assert_problem(c.post("/auth/recovery", json={"code": phone.recovery_codes[0]}), 429, "rate-limited")
        # Another address is not affected.
        c.headers["X-Forwarded-For"] = "198.51.100.77"
        r, _ = recover(c, server, phone.recovery_codes[0])
        assert r.status_code == 200, r.text
    throttled = [msgspec.json.decode(d) for _, _, d in server.audit("auth.login_throttled")]
    assert any(t["scope"] == "address" and t["ip"] == address["X-Forwarded-For"] for t in throttled)
    # A code naming no account is audited without a subject.
    assert [d for _, s, d in server.audit("auth.login_failed") if s is None and address["X-Forwarded-For"] in d]


def test_wrong_secrets_for_one_account_are_throttled_per_account(server: AuthServer, config: AuthConfig,
                                                                 address: dict[str, str]) -> None:
    account, phone = resident(server, address)
    lookup = normalize_code(phone.recovery_codes[0])[:LOOKUP_LEN]
    with server.client() as c:
        for i in range(config.recovery_failures):
            c.headers["X-Forwarded-For"] = f"203.0.113.{i + 1}"  # spread over addresses: the account still counts
            wrong = f"{lookup}{i:014d}"
            assert_problem(c.post("/auth/recovery/options", json={"code": wrong}), 401, "sign-in-failed")
        c.headers.update(address)
        r, _ = recover(c, server, phone.recovery_codes[1])
        assert_problem(r, 429, "rate-limited")
        assert "account" in r.json()["detail"]
    failed = [s for _, s, d in server.audit("auth.login_failed") if s == account["id"] and "wrong recovery" in d]
    assert len(failed) == config.recovery_failures
    assert server.sql("SELECT count(*) FROM recovery_codes WHERE account_id = ? AND used_at IS NOT NULL",
                      account["id"])[0][0] == 0


def test_bad_bodies_are_problems(server: AuthServer, config: AuthConfig, address: dict[str, str]) -> None:
    with server.client() as c:
        c.headers.update(address)
        for body in ({}, {"code": ""}, {"code": "x" * 201}, {"code": 5}):
            assert_problem(c.post("/auth/recovery/options", json=body), 400)
        assert_problem(c.post("/auth/recovery/verify", json={"challenge_id": "nope", "credential": {}}), 400,
                       "challenge-invalid")


def test_find_code_takes_the_same_path_for_an_unknown_lookup_id(server: AuthServer) -> None:
    import sqlite3

    conn = sqlite3.connect(server.db_path)
    try:
        assert find_code(conn, "0000-0000-0000-0000-0000").status == "wrong"
        assert find_code(conn, "short").status == "wrong"
    finally:
        conn.close()
