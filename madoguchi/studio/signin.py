"""Getting a bearer token for ``madoguchi.studio`` and the CLI, without ever writing it into a notebook.

Where a token comes from, in order (``obtain``): the ``token`` argument, the ``MADOGUCHI_TOKEN`` environment
variable (a personal token from a CI's secrets), a refresh token kept in the OS keyring (service ``madoguchi``,
user = the server URL; only when ``keyring`` has a usable backend), else a sign-in in the browser:

- loopback (RFC 8252 + PKCE): listen on 127.0.0.1 port 0, open the system browser at ``/oauth/authorize``, take
  the code from the one redirect whose ``state`` matches, exchange it with the verifier;
- device (RFC 8628): show a code and a URL, poll ``/oauth/token`` until the person approved it on
  ``/console/device`` with their passkey.

``auto`` picks loopback when a browser on this computer is likely (not SSH, JupyterHub, Colab or a display-less
Linux), else device: the device flow can be phished (docs/security.md), so it is never the default when the
same-device flow can work.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import os
import secrets
import socket
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from madoguchi.studio.errors import StudioError, error_from_response

__all__ = [
    "CLIENT_ID",
    "KEYRING_SERVICE",
    "Flow",
    "TokenSet",
    "browser_likely",
    "device_sign_in",
    "forget_refresh",
    "keyring_usable",
    "load_refresh",
    "loopback_sign_in",
    "obtain",
    "refresh_tokens",
    "save_refresh",
]

CLIENT_ID = "madoguchi-studio"
KEYRING_SERVICE = "madoguchi"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
Flow = Literal["auto", "loopback", "device"]


@dataclass
class TokenSet:
    """An access token and, after a browser sign-in, its refresh token. Never shown: ``repr`` masks both."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    source: str = "argument"  # argument, env, keyring, loopback, device

    def __repr__(self) -> str:
        return f"TokenSet(access_token={mask(self.access_token)}, source={self.source!r}, scopes={self.scopes!r})"


def mask(token: str | None) -> str:
    return "None" if token is None else f"'{token[:4]}…'"


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _server(url: str) -> str:
    """``scheme://host[:port]`` of the server. Plain http only to this computer: a bearer token (and the
    refresh token) sent over http to another host can be read and replayed by anyone on the way."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StudioError(f"server must look like https://madoguchi.city.example, not {url!r}")
    try:
        host = parts.hostname or ""
    except ValueError:
        host = ""
    if parts.scheme == "http" and host not in _LOOPBACK_HOSTS:
        raise StudioError(f"refusing http://{parts.netloc}: tokens would cross the network unencrypted",
                          detail="use https:// (plain http only for 127.0.0.1, ::1 or localhost)")
    return f"{parts.scheme}://{parts.netloc}"


# -- keyring ----------------------------------------------------------------------------------------


def _keyring() -> Any | None:
    try:
        import keyring
        from keyring.backends import fail, null
    except ImportError:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return keyring


def keyring_usable() -> bool:
    """Whether the OS keyring can keep a refresh token (a real backend, not the fail/null one)."""
    return _keyring() is not None


def load_refresh(server: str) -> str | None:
    kr = _keyring()
    if kr is None:
        return None
    try:
        value = kr.get_password(KEYRING_SERVICE, _server(server))
    except Exception:  # a locked or broken keyring: sign in instead
        return None
    return str(value) if value else None


def save_refresh(server: str, refresh_token: str | None) -> bool:
    kr = _keyring()
    if kr is None or not refresh_token:
        return False
    try:
        kr.set_password(KEYRING_SERVICE, _server(server), refresh_token)
    except Exception:
        return False
    return True


def forget_refresh(server: str) -> None:
    kr = _keyring()
    if kr is None:
        return
    with contextlib.suppress(Exception):  # nothing kept, or a locked keyring: nothing to forget
        kr.delete_password(KEYRING_SERVICE, _server(server))


# -- token endpoint ---------------------------------------------------------------------------------


def _token_request(client: httpx.Client, server: str, data: dict[str, str]) -> httpx.Response:
    try:
        return client.post(f"{server}/oauth/token", data={**data, "client_id": CLIENT_ID})
    except httpx.HTTPError as exc:
        raise StudioError(f"could not reach {server}: {exc.__class__.__name__}") from None


def _tokens(r: httpx.Response, source: str) -> TokenSet:
    if r.status_code != 200:
        raise error_from_response(r)
    body = r.json()
    return TokenSet(access_token=body["access_token"], refresh_token=body.get("refresh_token"),
                    scopes=tuple(str(body.get("scope", "")).split()), source=source)


def refresh_tokens(client: httpx.Client, server: str, refresh_token: str) -> TokenSet:
    """A new pair for a refresh token (the old one is spent: keep the new one)."""
    return _tokens(_token_request(client, server, {"grant_type": "refresh_token", "refresh_token": refresh_token}),
                   "keyring")


# -- loopback flow ----------------------------------------------------------------------------------


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


_DONE_PAGE = """<!doctype html><html lang="ja"><meta charset="utf-8"><title>Madoguchi</title>
<p>{text}</p><p lang="en">{en}</p></html>"""


class _Catcher(HTTPServer):
    expected_state: str
    result: dict[str, str] | None = None


class _Callback(BaseHTTPRequestHandler):
    server: _Catcher

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if urlsplit(self.path).path != "/callback" or not secrets.compare_digest(
                query.get("state", ""), self.server.expected_state):
            # Not our redirect (another local program, a stale tab): refuse it and keep waiting.
            self._answer(400, "このサインインは受け付けられません。", "This sign-in is not accepted.")
            return
        self.server.result = query
        if "code" in query:
            self._answer(200, "サインインしました。このタブを閉じて、ノートブックに戻ってください。",
                         "Signed in. Close this tab and go back to your notebook.")
        else:
            self._answer(400, "サインインは許可されませんでした。", "The sign-in was not allowed.")

    def _answer(self, status: int, ja: str, en: str) -> None:
        body = _DONE_PAGE.format(text=html.escape(ja), en=html.escape(en)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet: the query holds the code
        pass


def loopback_sign_in(server: str, scopes: Sequence[str], *, client: httpx.Client,
                     open_browser: Callable[[str], Any] = webbrowser.open, timeout: float = 300,
                     say: Callable[[str], None] = print) -> TokenSet:
    """Authorization code + PKCE through the system browser and a one-shot listener on 127.0.0.1."""
    server = _server(server)
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(24)
    catcher = _Catcher(("127.0.0.1", 0), _Callback)
    catcher.expected_state = state
    catcher.timeout = 0.5
    redirect = f"http://127.0.0.1:{catcher.server_address[1]}/callback"
    url = f"{server}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": redirect, "code_challenge": challenge,
        "code_challenge_method": "S256", "state": state, "scope": " ".join(scopes)})
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set() and catcher.result is None:
            catcher.handle_request()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        say(f"ブラウザでサインインしてください / Sign in in your browser: {url}")
        open_browser(url)
        thread.join(timeout)
    finally:
        stop.set()
        thread.join(2)
        catcher.server_close()
    result = catcher.result
    if result is None:
        raise StudioError("sign-in timed out: no answer from the browser")
    if "code" not in result:
        raise StudioError(f"sign-in refused: {result.get('error', 'no code')}",
                          detail=result.get("error_description"))
    return _tokens(_token_request(client, server, {"grant_type": "authorization_code", "code": result["code"],
                                                   "code_verifier": verifier, "redirect_uri": redirect}), "loopback")


# -- device flow ------------------------------------------------------------------------------------


def _show_device_code(uri: str, complete: str, code: str) -> None:
    text = (f"別の端末のブラウザで {uri} を開き、コード {code} を入力してください（5分以内）。\n"
            f"Open {uri} in a browser and enter the code {code} (within 5 minutes).\n{complete}")
    if "IPython" in sys.modules:
        try:
            from IPython.display import HTML, display

            display(HTML(f'<p>別の端末のブラウザで <a href="{html.escape(complete)}" target="_blank" rel="noopener">'
                         f"{html.escape(uri)}</a> を開き、コード <strong style=\"font-size:1.4em\">{html.escape(code)}"
                         f"</strong> を入力してください（5分以内）。<br><span lang=\"en\">Open the link and enter the code "
                         f"(within 5 minutes).</span></p>"))
            return
        except Exception:  # no display here: print below
            pass
    print(text)


def device_sign_in(server: str, scopes: Sequence[str], *, client: httpx.Client,
                   show: Callable[[str, str, str], None] = _show_device_code,
                   sleep: Callable[[float], None] = time.sleep, host: str | None = None) -> TokenSet:
    """RFC 8628: show the code and URL, then poll until the person approves it (or it expires)."""
    server = _server(server)
    try:
        r = client.post(f"{server}/oauth/device_authorization", data={
            "client_id": CLIENT_ID, "scope": " ".join(scopes), "client_host": host or socket.gethostname()})
    except httpx.HTTPError as exc:
        raise StudioError(f"could not reach {server}: {exc.__class__.__name__}") from None
    if r.status_code != 200:
        raise error_from_response(r)
    d = r.json()
    show(d["verification_uri"], d["verification_uri_complete"], d["user_code"])
    interval = float(d.get("interval", 5))
    deadline = time.monotonic() + float(d.get("expires_in", 300))
    while time.monotonic() < deadline:
        sleep(interval)
        r = _token_request(client, server, {"grant_type": DEVICE_GRANT, "device_code": d["device_code"]})
        if r.status_code == 200:
            return _tokens(r, "device")
        error = r.json().get("error") if r.headers.get("content-type", "").startswith("application/json") else None
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += 5
            continue
        raise error_from_response(r)
    raise StudioError("the device code expired before it was approved: start again")


# -- choosing -------------------------------------------------------------------------------------


def browser_likely(env: dict[str, str] | None = None) -> bool:
    """Whether a browser on this very computer can reach a listener on its 127.0.0.1 (the loopback flow)."""
    env = dict(os.environ) if env is None else env
    if any(k in env for k in ("SSH_CONNECTION", "SSH_TTY", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER",
                              "COLAB_RELEASE_TAG", "CODESPACES", "KUBERNETES_SERVICE_HOST")):
        return False
    if "google.colab" in sys.modules:
        return False
    if sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def obtain(server: str, *, client: httpx.Client, flow: Flow = "auto", token: str | None = None,
           scopes: Sequence[str] = ("drafts",), open_browser: Callable[[str], Any] = webbrowser.open,
           say: Callable[[str], None] = print, show: Callable[[str, str, str], None] | None = None,
           sleep: Callable[[float], None] = time.sleep) -> TokenSet:
    """A token for ``server``: argument, ``MADOGUCHI_TOKEN``, the keyring's refresh token, else a sign-in.
    A sign-in's refresh token goes to the keyring (when usable), never to a file."""
    server = _server(server)
    if token:
        return TokenSet(access_token=token, source="argument")
    env_token = os.environ.get("MADOGUCHI_TOKEN")
    if env_token:
        return TokenSet(access_token=env_token, source="env")
    if flow not in ("auto", "loopback", "device"):
        raise StudioError(f"flow must be auto, loopback or device, not {flow!r}")
    kept = load_refresh(server)
    if kept:
        try:
            tokens = refresh_tokens(client, server, kept)
        except StudioError:
            forget_refresh(server)  # expired, revoked or replayed: sign in again
        else:
            # The kept token is spent now: keep its successor at once, whatever happens next (a scope we
            # lack, a failed sign-in), or the next client would replay the spent one and revoke the sign-in.
            save_refresh(server, tokens.refresh_token)
            if set(scopes) <= set(tokens.scopes):
                return tokens
    use_loopback = flow == "loopback" or (flow == "auto" and browser_likely())
    tokens = (loopback_sign_in(server, scopes, client=client, open_browser=open_browser, say=say) if use_loopback
              else device_sign_in(server, scopes, client=client, show=show or _show_device_code, sleep=sleep))
    save_refresh(server, tokens.refresh_token)
    return tokens
