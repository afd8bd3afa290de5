"""A local Web Push service for tests: a tiny HTTP server standing in for FCM/Mozilla/Apple.

It holds the subscription's private key and auth secret (what a browser keeps), receives the server's POST,
checks the VAPID header names the installation's key, DECRYPTS the body with ``http_ece`` (RFC 8291,
aes128gcm) and keeps what it got. ``answer`` sets the status it replies with (201; 410 when the browser
unsubscribed)."""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from testsupport.loopback_http import serve_posts

__all__ = ["Delivery", "LocalPushService"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]


@dataclass
class LocalPushService:
    answer: int = 201
    deliveries: list[Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._keys: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}
        self._server = serve_posts(self._received)

    def _received(self, path: str, headers: dict[str, str], body: bytes) -> int:
        try:
            key, auth = self._keys[path]
            plain = http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
            self.deliveries.append(Delivery(path, headers, msgspec.json.decode(plain)))
        except Exception as exc:  # recorded: the test asserts there were none
            self.errors.append(f"{type(exc).__name__}: {exc}")
        return self.answer

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def subscription(self, endpoint_length: int | None = None) -> dict[str, Any]:
        """A new browser's subscription, ``PushSubscription.toJSON()``-shaped; ``endpoint_length``: its endpoint
        padded to that many characters (the longest a server stores), still delivered to."""
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        path = f"/push/{_b64(os.urandom(12))}"
        if endpoint_length is not None:
            path += "x" * (endpoint_length - len(self.base) - len(path))
        self._keys[path] = (key, auth)
        point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.base + path, "expirationTime": None, "keys": {"p256dh": _b64(point), "auth": _b64(auth)}}

    def wait(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        end = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < end:
            time.sleep(0.02)
        return self.deliveries

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
