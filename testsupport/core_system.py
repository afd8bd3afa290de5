"""A local core system for tests: the department's 基幹系 receiving Madoguchi's hand-off webhooks.

A tiny HTTP server on loopback standing in for a city's core system (outside Madoguchi, as the push service is
in ``testsupport/push_service.py``). It VERIFIES every request as docs/handoff.md tells a core-system team to
(Standard Webhooks: HMAC-SHA256 over ``id.timestamp.body`` with the whsec_ key, a timestamp within 5 minutes),
answers the next status of ``answers`` (then ``default``), and keeps what it got. Idempotency as a core system
would do it: ``processed`` holds each ``webhook-id`` once, however many times it was delivered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from testsupport.loopback_http import serve_posts

__all__ = ["LocalCoreSystem", "Received", "verify"]


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance_s: int = 300) -> bool:
    """The check docs/handoff.md gives core-system teams (the same steps)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > tolerance_s:
        return False
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int

    @property
    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.json.decode(self.body)
        return out


@dataclass
class LocalCoreSystem:
    secret: str = ""  # set once `madoguchi handoff set` printed it
    default: int = 200
    answers: list[int] = field(default_factory=list)  # the next statuses to answer, first first
    received: list[Received] = field(default_factory=list)
    processed: dict[str, bytes] = field(default_factory=dict)  # webhook-id -> body, once per id

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = serve_posts(self._received)

    def _received(self, path: str, headers: dict[str, str], body: bytes) -> int:
        try:
            ok = verify(self.secret, headers, body)
        except (KeyError, ValueError):
            ok = False
        with self._lock:
            status = self.answers.pop(0) if self.answers else self.default
            if not ok:
                status = 401
            elif 200 <= status < 300:  # acknowledged: processed once per id, as a core system would
                self.processed.setdefault(headers["webhook-id"], body)
            self.received.append(Received(path, headers, body, ok, status))
        return status

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/madoguchi/inbox"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
