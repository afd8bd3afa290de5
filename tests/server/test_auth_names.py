"""Names people give and others see (display names, passkey names, staff invite names): one rule on every
path (server.auth.names), and what is accepted is stored byte for byte, never normalized."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from server.auth.names import check_name
from tests.server.conftest import auth_server
from testsupport.webauthn import (
    AuthServer,
    SoftAuthenticator,
    assert_problem,
    enroll_staff,
    register_resident,
)

# An MJ variant: 邊 with the ideographic variation selector U+E0102 (an IVS), then 髙 and 𠮷 (outside the BMP).
IVS_NAME = "邊\U000e0102 髙𠮷子"
BAD_NAMES = ["\x00", "a\x1bb", "a\tb", "a\nb", "ab\n", "a\rb", "\x7f", "a\x85b", "a\x9fb", "\u202eabc",
             "a\u202ab", "\u2066x\u2069", "a\u200fb", "a\u061cb", "a\u2028b", "", "   ", "\u3000", "x" * 101]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory, "names") as srv:
        yield srv


@pytest.fixture
def client(server: AuthServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_rule(name: str) -> None:
    with pytest.raises(ValueError):
        check_name(name)


@pytest.mark.parametrize("name", ["窓口 花子", IVS_NAME, "NGUYEN VAN AN", "x" * 100, "👩\u200d💻 佐藤"])
def test_good_names_pass_unchanged(name: str) -> None:
    assert check_name(name) == name


def test_every_path_refuses_a_bad_name(server: AuthServer, client: httpx.Client) -> None:
    register_resident(client, server.base_url)
    only = client.get("/api/me/passkeys").json()[0]["id"]
    for bad in BAD_NAMES:
        assert_problem(client.post("/auth/register/options", json={"display_name": bad}), 400, "bad-request")
        assert_problem(client.patch(f"/api/me/passkeys/{only}", json={"name": bad}), 400, "bad-request")
        for path in ("/auth/register/verify", "/auth/enroll/verify", "/auth/passkeys/verify"):
            body = {"challenge_id": "x", "credential": {}, "token": "t", "passkey_name": bad, "name": bad}
            if path == "/auth/register/verify":
                del body["token"], body["name"]
            elif path == "/auth/enroll/verify":
                del body["name"]
            else:
                del body["token"], body["passkey_name"]
            assert_problem(client.post(path, json=body), 400, "bad-request")
        with pytest.raises(ValueError):
            server.invite(bad, "counter")
    assert client.get("/api/me/passkeys").json()[0]["name"] == "パスキー"  # nothing was renamed


def test_an_ivs_name_round_trips_byte_for_byte(server: AuthServer, client: httpx.Client) -> None:
    auth = SoftAuthenticator(origin=server.base_url)
    opts = client.post("/auth/register/options", json={"display_name": IVS_NAME}).json()
    r = client.post("/auth/register/verify", json={"challenge_id": opts["challenge_id"], "passkey_name": IVS_NAME,
                                                   "credential": auth.create(opts["publicKey"])})
    assert r.status_code == 200, r.text
    assert client.get("/api/session").json()["account"]["display_name"] == IVS_NAME
    key = client.get("/api/me/passkeys").json()[0]
    assert key["name"] == IVS_NAME
    renamed = IVS_NAME + "のiPhone"
    assert client.patch(f"/api/me/passkeys/{key['id']}", json={"name": renamed}).json()["name"] == renamed
    stored = server.sql("SELECT display_name FROM accounts WHERE id = ?", r.json()["account"]["id"])[0][0]
    assert stored.encode() == IVS_NAME.encode()

    url = server.invite(IVS_NAME, "counter")
    with server.client() as staff:
        assert IVS_NAME in staff.get(url[len(server.base_url):]).text
        account, _ = enroll_staff(staff, url)
    assert account["display_name"] == IVS_NAME
