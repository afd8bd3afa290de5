"""Rate limits and caps of the auth endpoints (docs/security.md, "Limits"): 429 with Retry-After per client
address and per account for each endpoint family, the trusted proxy header, open challenges per client and
account, sessions per account. Against the real app on loopback, limits lowered per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from server.auth.config import STATE_KEY, AuthConfig
from server.auth.ratelimit import AuthLimits, Rate, RateLimiter, client_ip, limit_key
from tests.server.conftest import auth_server
from testsupport.servers import ServerProcess
from testsupport.webauthn import (
    AuthServer,
    SoftAuthenticator,
    assert_problem,
    enroll_staff,
    login,
    register_resident,
)

GENEROUS = Rate(10_000, 0.001)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory, "limits", client_ip_header="x-forwarded-for") as srv:
        yield srv


@pytest.fixture
def config(server: AuthServer) -> Iterator[AuthConfig]:
    """The live app's auth config, with fresh buckets; each test sets the limits it exercises."""
    cfg: AuthConfig = server.app.state[STATE_KEY]
    before = cfg.limits
    cfg.limiter = RateLimiter()
    yield cfg
    cfg.limits = before
    cfg.limiter = RateLimiter()


def limits(**changes: object) -> AuthLimits:
    return msgspec.structs.replace(AuthLimits(per_ip=GENEROUS, per_account=GENEROUS), **changes)


def retry_after(r: httpx.Response) -> int:
    assert_problem(r, 429, "rate-limited")
    return int(r.headers["retry-after"])


# -- the limiter ------------------------------------------------------------------------------------


def test_token_bucket_with_an_injected_clock() -> None:
    now = [1000.0]
    limiter = RateLimiter(clock=lambda: now[0])
    rate = Rate(3, 10.0)
    assert [limiter.take("a", rate) for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a", rate) == 10  # empty: one token back in 10 s
    assert limiter.take("b", rate) == 0  # another key has its own bucket
    now[0] += 4
    assert limiter.take("a", rate) == 6
    now[0] += 6
    assert limiter.take("a", rate) == 0 and limiter.take("a", rate) == 10
    now[0] += 1000  # refills up to the burst, not beyond
    assert [limiter.take("a", rate) for _ in range(4)] == [0, 0, 0, 10]


def test_limiter_memory_is_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0], max_keys=100)
    for i in range(1000):
        limiter.take(("ip", i), Rate(2, 1.0))
    assert len(limiter._buckets) <= 100
    now[0] += 0.5
    limiter.take(("ip", "hot"), Rate(1, 3600.0))
    assert limiter.take(("ip", "hot"), Rate(1, 3600.0)) == 3600  # a busy key is remembered


def test_client_address_from_the_proxy_header_only_when_configured() -> None:
    scope = {"client": ("10.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.9, 198.51.100.7")]}
    assert client_ip(scope, None) == "10.0.0.1"  # default: what the server sees (the proxy)
    assert client_ip(scope, "X-Forwarded-For") == "198.51.100.7"  # the address the proxy itself saw
    assert client_ip({"client": ("10.0.0.1", 1), "headers": []}, "x-forwarded-for") == "10.0.0.1"
    assert client_ip({"headers": []}, None) == "unknown"


# -- per address ------------------------------------------------------------------------------------

FAMILIES = {
    "options": ("/auth/login/options", {}),
    "verify": ("/auth/login/verify", {"challenge_id": "nope", "credential": {}}),
    "recovery": ("/auth/recovery", {"account_id": "nobody", "code": "0000"}),
    "enroll": ("/auth/enroll/options", {"token": "no-such-invite"}),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_is_limited_per_address(server: AuthServer, config: AuthConfig, family: str) -> None:
    config.limits = limits(per_ip=Rate(3, 600.0))
    path, body = FAMILIES[family]
    with server.client() as c:
        ip = {"X-Forwarded-For": f"198.51.100.{len(family)}"}
        for _ in range(3):
            assert c.post(path, json=body, headers=ip).status_code != 429
        r = c.post(path, json=body, headers=ip)
        assert 590 <= retry_after(r) <= 600
        # Another address behind the proxy is not affected, nor is another family from this address.
        assert c.post(path, json=body, headers={"X-Forwarded-For": "198.51.100.200"}).status_code != 429
        other_path, other_body = FAMILIES["options" if family != "options" else "verify"]
        assert c.post(other_path, json=other_body, headers=ip).status_code != 429


def test_an_ipv6_client_counts_per_64_network(server: AuthServer, config: AuthConfig) -> None:
    """A subscriber may use any address of its /64: each new one must not bring a fresh bucket."""
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("::ffff:192.0.2.1") == limit_key("192.0.2.1") == "192.0.2.1"
    assert limit_key("unknown") == "unknown"
    config.limits = limits(per_ip=Rate(3, 600.0), open_challenges_per_client=2)
    with server.client() as c:
        for i in range(3):
            r = c.post("/auth/login/options", json={}, headers={"X-Forwarded-For": f"2001:db8:7:7::{i + 1:x}"})
            assert r.status_code == 200
        retry_after(c.post("/auth/login/options", json={}, headers={"X-Forwarded-For": "2001:db8:7:7:abcd::1"}))
        assert c.post("/auth/login/options", json={}, headers={"X-Forwarded-For": "2001:db8:7:8::1"}).status_code == 200
    # The open challenges of the three sign-ins from that /64 were capped together, at 2.
    rows = server.app.state[STATE_KEY].db.read_sync(lambda conn: conn.execute(
        "SELECT COUNT(*) FROM challenges WHERE client = '2001:db8:7:7::/64'").fetchone()[0])
    assert rows == 2


def test_enrollment_page_is_limited_per_address(server: AuthServer, config: AuthConfig) -> None:
    config.limits = limits(per_ip=Rate(2, 60.0))
    with server.client() as c:
        assert [c.get("/enroll/nope").status_code for _ in range(2)] == [404, 404]
        assert 1 <= retry_after(c.get("/enroll/nope")) <= 60


def test_register_is_limited_per_address(server: AuthServer, config: AuthConfig) -> None:
    config.limits = limits(per_ip=Rate(1, 60.0))
    with server.client() as c:
        auth = SoftAuthenticator(origin=server.base_url)
        opts = c.post("/auth/register/options", json={"display_name": "a"}).json()
        retry_after(c.post("/auth/register/options", json={"display_name": "b"}))
        c.post("/auth/register/verify", json={"challenge_id": opts["challenge_id"],
                                              "credential": auth.create(opts["publicKey"])}).raise_for_status()
        retry_after(c.post("/auth/register/verify", json={"challenge_id": "x", "credential": {}}))


# -- per account ------------------------------------------------------------------------------------


def test_sign_in_is_limited_per_account(server: AuthServer, config: AuthConfig) -> None:
    with server.client() as c, server.client() as other:
        _, auth = register_resident(c, server.base_url)
        _, theirs = register_resident(other, server.base_url)
        config.limits = limits(per_account=Rate(2, 120.0))
        login(c, auth)
        login(c, auth)
        opts = c.post("/auth/login/options", json={}).json()
        r = c.post("/auth/login/verify", json={"challenge_id": opts["challenge_id"],
                                               "credential": auth.get(opts["publicKey"])})
        assert 110 <= retry_after(r) <= 120
        assert "account" in r.json()["detail"]
        login(other, theirs)  # same address, another account: signs in


def test_recovery_is_limited_per_account(server: AuthServer, config: AuthConfig) -> None:
    with server.client() as c:
        account, auth = register_resident(c, server.base_url)
        c.post("/auth/logout")
        config.limits = limits(per_account=Rate(2, 300.0))
        for _ in range(2):
            assert_problem(c.post("/auth/recovery", json={"account_id": account["id"], "code": "WRONG"}), 401)
        # Even the right code waits now, and is not spent.
        r = c.post("/auth/recovery", json={"account_id": account["id"], "code": auth.recovery_codes[0]})
        assert retry_after(r) > 0
        assert_problem(c.post("/auth/recovery", json={"account_id": "someone-else", "code": "WRONG"}), 401)
        config.limiter = RateLimiter()
        assert c.post("/auth/recovery", json={"account_id": account["id"],
                                              "code": auth.recovery_codes[0]}).status_code == 200


def test_enrollment_is_limited_per_account(server: AuthServer, config: AuthConfig) -> None:
    url = server.invite("山本 五郎", "counter")
    token = url.rsplit("/", 1)[-1]
    config.limits = limits(per_account=Rate(2, 60.0))
    with server.client() as c:
        for _ in range(2):
            assert c.post("/auth/enroll/options", json={"token": token}).status_code == 200
        retry_after(c.post("/auth/enroll/options", json={"token": token}))
        config.limiter = RateLimiter()
        assert enroll_staff(c, url)[0]["role"] == "counter"


def test_enrollment_page_counts_against_the_invited_account(server: AuthServer, config: AuthConfig) -> None:
    url, other = server.invite("森 七郎", "counter"), server.invite("森 八郎", "counter")
    path, token = url[len(server.base_url):], url.rsplit("/", 1)[-1]
    config.limits = limits(per_account=Rate(2, 60.0))
    with server.client() as c, server.client() as elsewhere:
        c.headers["x-forwarded-for"] = "192.0.2.80"
        elsewhere.headers["x-forwarded-for"] = "198.51.100.80"
        assert [c.get(path).status_code for _ in range(2)] == [200, 200]
        r = elsewhere.get(path)  # the account's bucket, whatever the address
        assert 1 <= retry_after(r) <= 60 and "account" in r.json()["detail"]
        retry_after(c.post("/auth/enroll/options", json={"token": token}))  # one bucket with the ceremony
        assert c.get(other[len(server.base_url):]).status_code == 200  # another account's link: its own


def test_signed_in_ceremonies_are_limited_per_account(server: AuthServer, config: AuthConfig) -> None:
    with server.client() as c:
        register_resident(c, server.base_url)
        config.limits = limits(per_account=Rate(2, 60.0))
        for _ in range(2):
            assert c.post("/auth/reauth/options").status_code == 200
        retry_after(c.post("/auth/passkeys/options"))  # same family (options), same account


# -- caps -------------------------------------------------------------------------------------------


def test_open_challenges_per_client_are_capped(server: AuthServer, config: AuthConfig) -> None:
    config.limits = limits(open_challenges_per_client=3)
    with server.client() as c:
        ip = {"X-Forwarded-For": "192.0.2.77"}
        ids = [c.post("/auth/login/options", json={}, headers=ip).json()["challenge_id"] for _ in range(5)]
        assert server.sql("SELECT count(*) FROM challenges WHERE client = '192.0.2.77'") == [(3,)]
        # The oldest went; the newest still work.
        assert_problem(c.post("/auth/login/verify", json={"challenge_id": ids[0], "credential": {}}, headers=ip),
                       400, "challenge-invalid")
        r = c.post("/auth/login/verify", json={"challenge_id": ids[-1], "credential": {}}, headers=ip)
        assert_problem(r, 400, "invalid-credential")  # got past the challenge: it was still there


def test_open_challenges_per_account_are_capped(server: AuthServer, config: AuthConfig) -> None:
    config.limits = limits(open_challenges_per_account=2)
    with server.client() as c:
        account, _ = register_resident(c, server.base_url)
        for i in range(4):
            c.post("/auth/reauth/options", headers={"X-Forwarded-For": f"192.0.2.{i}"}).raise_for_status()
        assert server.sql("SELECT count(*) FROM challenges WHERE account_id = ?", account["id"]) == [(2,)]


def test_sessions_per_account_are_capped(server: AuthServer, config: AuthConfig) -> None:
    config.limits = limits(sessions_per_account=2)
    with server.client() as first, server.client() as second, server.client() as third:
        account, auth = register_resident(first, server.base_url)
        login(second, auth)
        assert first.get("/api/session").json()["signed_in"]
        login(third, auth)
        assert server.sql("SELECT count(*) FROM sessions WHERE account_id = ?", account["id"]) == [(2,)]
        assert first.get("/api/session").json()["signed_in"] is False  # the oldest ended
        assert second.get("/api/session").json()["signed_in"] and third.get("/api/session").json()["signed_in"]
        assert [row for row in server.audit("auth.sessions_capped") if row[1] == account["id"]]


def test_serve_option_names_the_proxy_header(tmp_path: Path) -> None:
    """``madoguchi serve --client-ip-header``: the address the proxy reports is what the trail records."""
    argv = [sys.executable, "-m", "madoguchi.cli", "serve", "--db", str(tmp_path / "proxy.db"), "--port", "{port}",
            "--client-ip-header", "x-forwarded-for"]
    with ServerProcess(tmp_path / "proxy.db", argv=argv, url_host="localhost", timeout=90) as srv, \
            httpx.Client(base_url=srv.url, timeout=10, headers={"X-Forwarded-For": "203.0.113.5"}) as c:
        account, _ = register_resident(c, srv.url)
        details = srv.query("SELECT details FROM audit_log WHERE action = 'auth.register' AND subject = ?",
                            (account["id"],))
    assert '"ip":"203.0.113.5"' in str(details[0][0]).replace(" ", "")
