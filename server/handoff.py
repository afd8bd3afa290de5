"""Hand-off to the departments' core systems: a signed webhook per department, from the outbox (docs/handoff.md).

The status change writes the outbox row in its own transaction (``server.storage.handoff.enqueue``); this module
delivers it. :class:`HandoffSender` is a server-lifetime task on the app's loop (started and stopped like the
push notifier, ``server.maintenance.stop_task``): every ``interval_s`` (or at once after a status change:
:meth:`HandoffSender.kick`) it takes the due rows, builds each body once from the application as the status
change stored it (its line of the CSV export, ``server.export.export_row``, plus its ids and times), signs it as
Standard Webhooks does (:func:`signature`) and POSTs it in a worker thread. A 2xx marks the row delivered;
anything else (an error status, a timeout, a refused connection, a redirect) schedules the next attempt with
exponential backoff and jitter (:func:`backoff_s`) until the row's maximum age, after which it is ``failed`` and
shown to admins (``madoguchi handoff status``). A core system that is down loses nothing: the row waits, across
restarts.

The secret is used only to sign: it is never logged, never in an error text, never shown back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import http.client
import logging
import random
import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
import msgspec

from server.export import Column, export_row
from server.maintenance import stop_task
from server.storage.db import Database
from server.storage.handoff import Due, claim_body, due_rows, get_target, iso, mark_attempt
from server.storage.submissions import SubmissionRecord, load_submission

__all__ = [
    "SECRET_PREFIX",
    "HandoffSender",
    "HttpPoster",
    "Poster",
    "backoff_s",
    "build_body",
    "idempotency_key",
    "new_secret",
    "secret_key",
    "sign_headers",
    "signature",
    "url_problem",
]

log = logging.getLogger("madoguchi.handoff")

SECRET_PREFIX = "whsec_"  # Standard Webhooks' form: the key is the base64 after the prefix
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_URL = 2000


def new_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes | None:
    """The HMAC key of a ``whsec_`` secret (24 to 64 bytes), or None when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if 24 <= len(key) <= 64 else None


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a target (English, for the CLI), or None: https (plain http only to this machine's
    loopback, e.g. a relay on the same host), no credentials in it (they would show in status output)."""
    if len(url) > MAX_URL:
        return f"the URL is longer than {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return "the URL cannot be read"
    if not host:
        return "the URL has no host"
    if parts.username or parts.password:
        return "the URL must not hold a user or password (the secret signs the request)"
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK):
        return None
    return "the URL must be https (plain http only to 127.0.0.1 / localhost)"


def idempotency_key(submission_id: str, event: str) -> str:
    """The same for every attempt of one hand-off: the application id and the status it reached."""
    return f"{submission_id}:{event}"


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` + base64(HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")): Standard Webhooks' scheme."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_headers(secret: str, msg_id: str, body: bytes, *, now: float) -> dict[str, str]:
    """The headers of one attempt (a new timestamp and signature each time, the same id and body)."""
    key = secret_key(secret)
    if key is None:  # refused by `madoguchi handoff set`; a hand-edited row must not send unsigned
        raise ValueError("the department's secret is not a whsec_ secret")
    ts = int(now)
    return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": signature(key, msg_id, ts, body), "idempotency-key": msg_id,
            "user-agent": "Madoguchi-Handoff/1"}


_enc = msgspec.json.Encoder()


def build_body(conn: sqlite3.Connection, due: Due, mappings: Mapping[str, list[Column]]) -> bytes | None:
    """The JSON body of a hand-off (docs/handoff.md "Payload"), or None when the application is gone. Made
    from the application as the event's transaction stored it (``due.application``: answers, flags and
    status as of the event, whatever changed since): the row the core system gets is the one it would have
    exported at that moment. A row from before that copy existed reads the application as it is now."""
    rec = (msgspec.json.decode(due.application, type=SubmissionRecord) if due.application is not None
           else load_submission(conn, due.submission_id, history=False))
    if rec is None:
        return None
    rec = msgspec.structs.replace(rec, status=due.event)
    return _enc.encode({
        "type": "application.handoff",
        "idempotency_key": idempotency_key(due.submission_id, due.event),
        "event": due.event,
        "event_at": due.created_at,
        "application": {
            "id": rec.id, "receipt_number": rec.receipt_number, "procedure_id": rec.procedure_id,
            "procedure_version": rec.procedure_version, "department": rec.department, "status": due.event,
            "received_at": rec.received_at, "resident_id": rec.on_behalf_of, "flags": rec.flags,
        },
        "row": export_row(conn, rec, mappings),
    })


def backoff_s(attempts: int, *, base_s: float, cap_s: float, rng: Callable[[], float] = random.random) -> float:
    """The wait after the ``attempts``-th failed attempt: base × 2^(attempts-1), at most ``cap_s``, of which a
    random half is jitter (so senders of many rows do not retry in step): [d/2, d)."""
    d = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return d / 2 + rng() * d / 2


class Poster(Protocol):
    """POSTs a body; answers (HTTP status, error text or None). 0: not reached. Blocking (a worker thread)."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]: ...


class HttpPoster:
    """http.client, no redirects followed (a 3xx is not an acknowledgement), the answer's body read and
    dropped (a core system's error text may hold personal data: it is never stored or logged)."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
        parts = urlsplit(url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname or "", parts.port, timeout=self.timeout_s)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read(64 * 1024)
            status = resp.status
            return status, None if 200 <= status < 300 else f"HTTP {status}"
        except (OSError, http.client.HTTPException) as exc:  # refused, timeout, TLS, a broken answer
            return 0, type(exc).__name__ + (f" ({exc.errno})" if isinstance(exc, OSError) and exc.errno else "")
        finally:
            conn.close()


class HandoffSender:
    """Delivers due outbox rows (``start``/``stop``: startup and shutdown hooks). ``clock``: seconds since the
    epoch (tests move it)."""

    def __init__(self, db: Database, *, mappings: Mapping[str, list[Column]] | None = None,
                 poster: Poster | None = None, interval_s: float = 5.0, base_s: float = 10.0,
                 cap_s: float = 3600.0, max_age_s: float = 7 * 24 * 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.mappings = mappings or {}
        self.poster = poster or HttpPoster()
        self.interval_s = interval_s
        self.base_s = base_s
        self.cap_s = cap_s
        self.max_age_s = max_age_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.delivered = 0  # for tests and logs

    def kick(self) -> None:
        """A status change may have written a row: look now rather than at the next interval."""
        if self._wake is not None:
            self._wake.set()

    def _stamp(self, t: float) -> str:
        return iso(dt.datetime.fromtimestamp(t, dt.UTC))

    async def run_once(self) -> int:
        """One round over the due rows; returns how many were delivered. A department that failed once in a
        round is not asked again in that round (a core system that is down gets one request per round)."""
        now = self.clock()
        due = await self.db.read(lambda c: due_rows(c, self._stamp(now)))
        down: set[str] = set()
        done = 0
        for row in due:
            if row.department in down:
                continue
            if await self._attempt(row):
                done += 1
            else:
                down.add(row.department)
        return done

    async def _attempt(self, row: Due) -> bool:
        def load(c: sqlite3.Connection) -> tuple[Any, bytes | None]:
            target = get_target(c, row.department)
            body = row.body if row.body is not None else build_body(c, row, self.mappings)
            return target, body

        target, body = await self.db.read(load)
        status, error = 0, None
        if target is None:
            error = "no target configured for the department"
        elif body is None:
            error = "the application is not stored"
        else:
            if row.body is None:  # the first attempt's bytes are every retry's
                body = await self.db.write(functools.partial(claim_body, row_id=row.id, body=body))
            try:
                headers = sign_headers(target.secret, idempotency_key(row.submission_id, row.event), body,
                                       now=self.clock())
            except ValueError:
                error = "the department's secret is unusable: set a new one (madoguchi handoff set --new-secret)"
            else:
                status, error = await anyio.to_thread.run_sync(
                    functools.partial(self.poster.post, target.url, body, headers))
        now = self.clock()
        ok = 200 <= status < 300
        window = dt.datetime.fromisoformat(row.window_from).timestamp()
        failed = not ok and now - window >= self.max_age_s
        nxt = None if ok or failed else self._stamp(now + backoff_s(row.attempts + 1, base_s=self.base_s,
                                                                     cap_s=self.cap_s))
        await self.db.write(lambda c: mark_attempt(c, row.id, status=status, error=error, now=self._stamp(now),
                                                   next_attempt_at=nxt, failed=failed))
        if ok:
            self.delivered += 1
        elif failed:
            log.error("hand-off %d to department %s FAILED after %d attempts: %s", row.id, row.department,
                      row.attempts + 1, error)
        else:
            log.warning("hand-off %d to department %s not delivered (attempt %d): %s; next at %s", row.id,
                        row.department, row.attempts + 1, error, nxt)
        return ok

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:  # one bad round must not end the sender; the rows wait for the next
                log.exception("hand-off round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
