"""Sign in for real in tests and benchmarks: a software WebAuthn authenticator and helpers for httpx clients.

``SoftAuthenticator`` plays both the browser (it writes clientDataJSON with the origin) and the
authenticator (ES256 or EdDSA keys, UP/UV flags, a signature counter, "none" or "packed" self attestation).
It speaks the WebAuthn JSON forms (``PublicKeyCredentialCreationOptionsJSON`` in, ``credential.toJSON()``
out), which is exactly what the server exchanges with the browser.

Usage with any ``httpx.Client`` (including Litestar's ``TestClient``) whose base URL is the server::

    client = httpx.Client(base_url=base_url)
    account, authenticator = register_resident(client, base_url)   # signed in
    client.post("/auth/logout")
    login(client, authenticator)                                    # signed in again
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import cbor2
import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

__all__ = [
    "AuthServer",
    "SoftAuthenticator",
    "assert_problem",
    "enroll_staff",
    "install_csrf",
    "login",
    "register_resident",
]

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_ALG = {"ES256": -7, "EdDSA": -8}


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """A passkey provider in software. Flags and counter are plain attributes so tests can misbehave."""

    origin: str
    alg: str = "ES256"
    attestation: str = "none"  # or "packed" (self attestation)
    user_present: bool = True
    user_verified: bool = True
    credentials: list[_Credential] = field(default_factory=list)
    recovery_codes: list[str] = field(default_factory=list)  # filled by register_resident

    def _flags(self, attested: bool) -> int:
        return (0x01 if self.user_present else 0) | (0x04 if self.user_verified else 0) | (0x40 if attested else 0)

    def _sign(self, cred: _Credential, data: bytes) -> bytes:
        if isinstance(cred.key, ed25519.Ed25519PrivateKey):
            return cred.key.sign(data)
        return cred.key.sign(data, ec.ECDSA(hashes.SHA256()))  # DER, as WebAuthn wants

    def _cose(self, cred: _Credential) -> bytes:
        pub = cred.key.public_key()
        if isinstance(pub, ed25519.Ed25519PublicKey):
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return cbor2.dumps({1: 1, 3: -8, -1: 6, -2: raw})
        nums = pub.public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin,
                           "crossOrigin": False}).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
               credential_id: bytes | None = None) -> dict[str, Any]:
        """``navigator.credentials.create({publicKey: options})`` then ``.toJSON()``.

        ``credential_id`` forces the new credential's id (to try registering one id twice)."""
        assert _ALG[self.alg] in [p["alg"] for p in options["pubKeyCredParams"]]
        key = ed25519.Ed25519PrivateKey.generate() if self.alg == "EdDSA" else ec.generate_private_key(ec.SECP256R1())
        cred = _Credential(credential_id or os.urandom(32), key, rp_id or options["rp"]["id"], unb64u(options["user"]["id"]))
        self.credentials.append(cred)
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        auth_data = (hashlib.sha256(cred.rp_id.encode()).digest() + bytes([self._flags(True)])
                     + struct.pack(">I", cred.sign_count) + bytes(16) + struct.pack(">H", len(cred.id)) + cred.id
                     + self._cose(cred))
        stmt: dict[str, Any] = {}
        if self.attestation == "packed":
            sig = self._sign(cred, auth_data + hashlib.sha256(client_data).digest())
            stmt = {"alg": _ALG[self.alg], "sig": sig}
        att = cbor2.dumps({"fmt": self.attestation, "attStmt": stmt, "authData": auth_data})
        return {"id": b64u(cred.id), "rawId": b64u(cred.id), "type": "public-key",
                "authenticatorAttachment": "platform", "clientExtensionResults": {},
                "response": {"clientDataJSON": b64u(client_data), "attestationObject": b64u(att),
                             "transports": ["internal"]}}

    def get(self, options: dict[str, Any], *, origin: str | None = None, credential: _Credential | None = None,
            rp_id: str | None = None) -> dict[str, Any]:
        """``navigator.credentials.get({publicKey: options})`` then ``.toJSON()`` (discoverable: newest passkey)."""
        rp = rp_id or options.get("rpId") or urlsplit(self.origin).hostname or ""
        cred = credential or next(c for c in reversed(self.credentials) if c.rp_id == (options.get("rpId") or rp))
        cred.sign_count += 1
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (hashlib.sha256(rp.encode()).digest() + bytes([self._flags(False)])
                     + struct.pack(">I", cred.sign_count))
        sig = self._sign(cred, auth_data + hashlib.sha256(client_data).digest())
        return {"id": b64u(cred.id), "rawId": b64u(cred.id), "type": "public-key",
                "authenticatorAttachment": "platform", "clientExtensionResults": {},
                "response": {"clientDataJSON": b64u(client_data), "authenticatorData": b64u(auth_data),
                             "signature": b64u(sig), "userHandle": b64u(cred.user_handle)}}


# -- HTTP helpers -----------------------------------------------------------------------------------


def install_csrf(client: httpx.Client) -> str:
    """Fetch the CSRF cookie and make every POST/PUT/PATCH/DELETE of ``client`` echo it (idempotent)."""
    def hook(request: httpx.Request) -> None:
        token = client.cookies.get("madoguchi_csrf")
        if request.method in _UNSAFE and token and "x-csrf-token" not in request.headers:
            request.headers["X-CSRF-Token"] = token

    if not getattr(client, "_madoguchi_csrf", False):
        client.event_hooks["request"] = [*client.event_hooks["request"], hook]
        client._madoguchi_csrf = True  # type: ignore[attr-defined]
    if not client.cookies.get("madoguchi_csrf"):
        client.get("/api/session").raise_for_status()
    return str(client.cookies.get("madoguchi_csrf"))


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise AssertionError(f"{response.request.method} {response.request.url} -> {response.status_code}: "
                             f"{response.text}")
    return response.json()


def register_resident(client: httpx.Client, base_url: str, display_name: str = "窓口 花子",
                      authenticator: SoftAuthenticator | None = None) -> tuple[dict[str, Any], SoftAuthenticator]:
    """Self-register a resident with a new passkey; the client is signed in afterwards.

    The recovery codes shown once at registration land in ``authenticator.recovery_codes``.
    """
    install_csrf(client)
    auth = authenticator or SoftAuthenticator(origin=base_url.rstrip("/"))
    opts = _ok(client.post("/auth/register/options", json={"display_name": display_name}))
    out = _ok(client.post("/auth/register/verify", json={"challenge_id": opts["challenge_id"],
                                                         "credential": auth.create(opts["publicKey"])}))
    auth.recovery_codes = out["recovery_codes"]
    return out["account"], auth


def enroll_staff(client: httpx.Client, enroll_url: str,
                 authenticator: SoftAuthenticator | None = None) -> tuple[dict[str, Any], SoftAuthenticator]:
    """Open a staff invite URL (``{origin}/enroll/{token}``) and register a passkey; signs the client in."""
    parts = urlsplit(enroll_url)
    token = parts.path.rsplit("/", 1)[-1]
    install_csrf(client)
    auth = authenticator or SoftAuthenticator(origin=f"{parts.scheme}://{parts.netloc}")
    opts = _ok(client.post("/auth/enroll/options", json={"token": token}))
    out = _ok(client.post("/auth/enroll/verify", json={"token": token, "challenge_id": opts["challenge_id"],
                                                       "credential": auth.create(opts["publicKey"])}))
    return out["account"], auth


def login(client: httpx.Client, authenticator: SoftAuthenticator) -> dict[str, Any]:
    """Sign in with the authenticator's newest passkey; returns the account."""
    install_csrf(client)
    opts = _ok(client.post("/auth/login/options", json={}))
    out = _ok(client.post("/auth/login/verify", json={"challenge_id": opts["challenge_id"],
                                                      "credential": authenticator.get(opts["publicKey"])}))
    return out["account"]


class AuthServer:
    """A served app as the auth tests see it: clients that echo the CSRF token, direct SQL on its file (for
    what only time or an attacker can do: expiry, tampering), its audit rows, staff invites."""

    def __init__(self, app: Any, base_url: str, db_path: str) -> None:
        self.app = app
        self.base_url = base_url
        self.db_path = db_path

    @contextlib.contextmanager
    def client(self) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            install_csrf(client)
            yield client

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.db_path, isolation_level=None, timeout=30)
        try:
            return conn.execute(query, args).fetchall()
        finally:
            conn.close()

    def audit(self, action: str) -> list[tuple[Any, ...]]:
        return self.sql("SELECT actor, subject, details FROM audit_log WHERE action = ? ORDER BY id", action)

    def invite(self, name: str, role: str, department: str | None = None) -> str:
        from server.auth import create_invite

        return str(create_invite(self.app.state.db, name, role, department, self.base_url))


def assert_problem(r: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    """``r`` is an RFC 9457 problem with ``status`` (and type ``.../<slug>``)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and "detail" in body
    if slug:
        assert body["type"].endswith("/" + slug), body
    return body
