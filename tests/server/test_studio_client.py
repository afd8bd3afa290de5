"""The notebook client (madoguchi/studio) signing in to the real server: the loopback flow through a fake
browser (a staff member's httpx client doing the consent with a real passkey) and the client's real listener on
127.0.0.1, the device flow, tokens from the environment, the keyring (in-memory and null backends), refresh
when the access token expired, tokens never shown."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import null

from madoguchi.studio import Studio, StudioError, connect
from madoguchi.studio import signin as studio_signin
from madoguchi.studio.signin import TokenSet
from server.auth.config import STATE_KEY
from tests.server.conftest import auth_server
from tests.server.test_studio_oauth import Staff
from testsupport.webauthn import AuthServer


class MemoryKeyring(KeyringBackend):
    """A keyring backend in memory (what a desktop's Secret Service / Keychain would do)."""

    priority = 1  # keyring declares a classproperty; a plain value is how backends set it

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory, "studio-client") as srv:
        config = srv.app.state[STATE_KEY]
        config.device_interval = 1
        yield srv


@pytest.fixture(scope="module")
def conf(server: AuthServer) -> Iterator[Staff]:
    s = Staff(server, "configurator")
    yield s
    s.client.close()


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.delenv("MADOGUCHI_TOKEN", raising=False)
    before = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(before)


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("MADOGUCHI_TOKEN", raising=False)
    before = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    yield
    keyring.set_keyring(before)


class FakeBrowser:
    """The system browser: opens the authorize URL as the signed-in configurator, presses 許可する (passing the
    fresh passkey check), and follows the redirect to the client's loopback listener."""

    def __init__(self, staff: Staff, *, first_state: str | None = None) -> None:
        self.staff = staff
        self.first_state = first_state
        self.opened: list[str] = []
        self.listener_answers: list[int] = []

    def __call__(self, url: str) -> None:
        self.opened.append(url)
        parts = urlsplit(url)
        page = self.staff.client.get(parts.path, params=parts.query)
        assert page.status_code == 200, page.text
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.staff.reauth()
        r = self.staff.client.post("/oauth/authorize", data={**params, "decision": "allow"},
                                   headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text
        location = r.json()["location"]
        if self.first_state is not None:  # someone else's redirect reaches the listener first
            forged = location.replace("state=" + params["state"], "state=" + self.first_state)
            self.listener_answers.append(httpx.get(forged).status_code)
        self.listener_answers.append(httpx.get(location).status_code)


def test_loopback_sign_in_through_the_browser(server: AuthServer, conf: Staff, no_keyring: None) -> None:
    browser = FakeBrowser(conf, first_state="forged")
    said: list[str] = []
    studio = connect(server.base_url, flow="loopback", open_browser=browser, say=said.append)
    try:
        assert studio.account["id"] == conf.id
        url = browser.opened[0]
        q = parse_qs(urlsplit(url).query)
        assert urlsplit(q["redirect_uri"][0]).hostname == "127.0.0.1" and q["code_challenge_method"] == ["S256"]
        assert browser.listener_answers == [400, 200]  # the wrong state was refused, the right one taken
        token = studio._tokens.access_token
        assert token.startswith("mdg_") and token not in repr(studio) and token not in "".join(said)
        assert studio._tokens.refresh_token and studio._tokens.refresh_token not in repr(studio._tokens)
    finally:
        studio.close()


def test_device_sign_in(server: AuthServer, conf: Staff, no_keyring: None) -> None:
    shown: list[tuple[str, str, str]] = []
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:  # the person approves while the client polls
            _, _, code = shown[0]
            conf.reauth()
            r = conf.client.post("/console/device", data={"code": code, "decision": "allow"},
                                 headers={"Accept": "application/json"})
            assert r.status_code == 200, r.text
        import time

        time.sleep(seconds)

    studio = connect(server.base_url, flow="device", show=lambda *a: shown.append(a), sleep=sleep)
    try:
        assert studio.account["id"] == conf.id and studio._tokens.source == "device"
        assert shown[0][0] == server.base_url + "/console/device" and len(shown[0][2]) == 9
        assert len(sleeps) >= 2
    finally:
        studio.close()


def test_denied_device_sign_in_is_a_studio_error(server: AuthServer, conf: Staff, no_keyring: None) -> None:
    shown: list[tuple[str, str, str]] = []

    def sleep(seconds: float) -> None:
        if len(shown) == 1:
            conf.client.post("/console/device", data={"code": shown[0][2], "decision": "deny"})
            shown.append(("", "", ""))
        import time

        time.sleep(seconds)

    with pytest.raises(StudioError) as err:
        connect(server.base_url, flow="device", show=lambda *a: shown.append(a), sleep=sleep)
    assert err.value.slug == "access_denied"


def test_keyring_keeps_the_refresh_token_only(server: AuthServer, conf: Staff, memory_keyring: MemoryKeyring) -> None:
    studio = connect(server.base_url, flow="loopback", open_browser=FakeBrowser(conf), say=lambda s: None)
    kept = memory_keyring.store[("madoguchi", server.base_url)]
    assert kept == studio._tokens.refresh_token and studio._tokens.access_token not in memory_keyring.store.values()
    studio.close()

    def no_browser(url: str) -> None:
        raise AssertionError("signed in again although the keyring had a refresh token")

    again = connect(server.base_url, flow="loopback", open_browser=no_browser)
    try:
        assert again.account["id"] == conf.id and again._tokens.source == "keyring"
        rotated = memory_keyring.store[("madoguchi", server.base_url)]
        assert rotated != kept  # rotated on use, the new one kept
    finally:
        again.close()


def test_null_keyring_keeps_nothing(server: AuthServer, conf: Staff, no_keyring: None) -> None:
    assert not studio_signin.keyring_usable()
    studio = connect(server.base_url, flow="loopback", open_browser=FakeBrowser(conf), say=lambda s: None)
    studio.close()
    assert studio_signin.load_refresh(server.base_url) is None


def test_expired_access_token_is_refreshed(server: AuthServer, conf: Staff, memory_keyring: MemoryKeyring) -> None:
    import hashlib

    studio = connect(server.base_url, flow="loopback", open_browser=FakeBrowser(conf), say=lambda s: None)
    try:
        old = studio._tokens.access_token
        server.sql("UPDATE api_tokens SET expires_at = 1 WHERE token_hash = ?", hashlib.sha256(old.encode()).digest())
        assert studio.whoami()["account"]["id"] == conf.id
        assert studio._tokens.access_token != old
        assert memory_keyring.store[("madoguchi", server.base_url)] == studio._tokens.refresh_token
    finally:
        studio.close()


def test_token_from_the_environment(server: AuthServer, conf: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    conf.reauth()
    r = conf.client.post("/console/tokens", data={"name": "env", "scopes": "drafts", "days": "1"})
    monkeypatch.setenv("MADOGUCHI_TOKEN", r.json()["token"])
    with connect(server.base_url) as studio:
        assert studio.account["id"] == conf.id and studio._tokens.source == "env"
        # the scopes the server gives this personal token, not an empty list
        assert studio._tokens.scopes == ("drafts",) and "scopes=['drafts']" in repr(studio), repr(studio)
    bare = Studio(server.base_url, TokenSet(access_token=r.json()["token"], source="env"))
    assert "scopes='unknown'" in repr(bare)  # not asked yet: never a wrong empty list
    bare.whoami()
    assert "scopes=['drafts']" in repr(bare)
    bare.close()
    monkeypatch.setenv("MADOGUCHI_TOKEN", "mdg_wrong")
    with pytest.raises(StudioError) as err:
        connect(server.base_url)
    assert err.value.status == 401 and err.value.slug == "token-invalid" and "httpx" not in str(err.value)


def test_unreachable_server_is_a_studio_error() -> None:
    from testsupport.servers import free_port

    with pytest.raises(StudioError) as err:
        connect(f"http://127.0.0.1:{free_port()}", token="mdg_x")
    assert "could not reach" in str(err.value)


def test_cli_login_with_the_device_flow(server: AuthServer, conf: Staff, memory_keyring: MemoryKeyring,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    from madoguchi.cli import main

    def approve_soon(uri: str, complete: str, code: str) -> None:
        def approve() -> None:
            conf.reauth()
            r = conf.client.post("/console/device", data={"code": code, "decision": "allow"})
            assert r.status_code == 303, r.text

        threading.Timer(0.3, approve).start()

    monkeypatch.setattr(studio_signin, "_show_device_code", approve_soon)
    assert main(["login", "--server", server.base_url, "--device"]) == 0
    out = capsys.readouterr()
    assert f"signed in to {server.base_url} as " in out.out
    kept = memory_keyring.store[("madoguchi", server.base_url)]
    assert kept.startswith("mdg_") and kept not in out.out + out.err


def test_two_clients_sharing_the_keyring_refresh_in_turn(server: AuthServer, memory_keyring: MemoryKeyring) -> None:
    """A second notebook signs in from the keyring (rotating the refresh token); the first one's later refresh
    takes the live token from the keyring instead of replaying its spent one: no token.reuse, both keep going."""
    import hashlib

    staff = Staff(server, "configurator")
    a = connect(server.base_url, flow="loopback", open_browser=FakeBrowser(staff), say=lambda s: None)
    b = connect(server.base_url, flow="loopback", open_browser=FakeBrowser(staff), say=lambda s: None)
    try:
        assert b._tokens.source == "keyring"  # b rotated a's refresh token
        for studio in (a, b, a, b):
            server.sql("UPDATE api_tokens SET expires_at = 1 WHERE token_hash = ?",
                       hashlib.sha256(studio._tokens.access_token.encode()).digest())
            assert studio.whoami()["account"]["id"] == staff.id
        assert not [row for row in server.audit("token.reuse") if row[1] == staff.id]
    finally:
        a.close()
        b.close()
        staff.client.close()


def test_a_refresh_for_too_few_scopes_keeps_the_rotated_token(server: AuthServer, conf: Staff,
                                                              memory_keyring: MemoryKeyring) -> None:
    """The kept token is spent by the refresh: its successor is kept even when the sign-in that follows fails."""
    connect(server.base_url, flow="loopback", open_browser=FakeBrowser(conf), say=lambda s: None).close()
    kept = memory_keyring.store[("madoguchi", server.base_url)]

    def broken_browser(url: str) -> None:
        raise StudioError("no browser")

    with pytest.raises(StudioError):
        connect(server.base_url, flow="loopback", scopes=("drafts", "analytics"), open_browser=broken_browser,
                say=lambda s: None)
    assert memory_keyring.store[("madoguchi", server.base_url)] != kept
    with connect(server.base_url, flow="loopback", open_browser=broken_browser) as studio:
        assert studio._tokens.source == "keyring"


@pytest.mark.parametrize("url", ["http://madoguchi.city.example", "http://192.0.2.1:8000", "http://[2001:db8::1]"])
def test_plain_http_to_another_host_is_refused(url: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from madoguchi.cli import main

    with pytest.raises(StudioError) as err:
        connect(url, token="mdg_x")
    assert "unencrypted" in str(err.value) and "https://" in str(err.value)
    monkeypatch.setenv("MADOGUCHI_TOKEN", "mdg_x")
    assert main(["drafts", "status", "x", "--server", url]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "unencrypted" in lines[0]


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"])
def test_plain_http_to_this_computer_is_allowed(url: str) -> None:
    with pytest.raises(StudioError) as err:
        connect(url, token="mdg_x")
    assert "could not reach" in str(err.value)
