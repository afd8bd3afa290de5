"""Web Push: a resident's browsers learn that an application's status changed (docs/api.md "Web Push").

* One VAPID key pair per installation, made on first start and kept in the database (``push_vapid``); the
  public key is what the PWA subscribes with (``GET /api/push/key``).
* Subscriptions (``push_subscriptions``): one row per browser endpoint, owned by the account that registered
  it last. Only endpoints of known push services are accepted (``Settings.push_hosts``): the server posts to
  them, so a resident cannot make it call an arbitrary address.
* :class:`Notifier` sends off the request path: a status change only puts the submission on a queue; a task
  on the app's loop sends through a :class:`PushSender` in a worker thread. Nothing it does can fail the
  status change. A push service answering 404 or 410 (the subscription expired or was revoked) gets the
  subscription deleted.
* The payload carries only what a lock screen may show: a fixed sentence, the receipt number and the link to
  the application page — never the procedure's title (it can say more than one wants seen), never a name.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol
from urllib.parse import urlsplit

import anyio
import msgspec

from server.maintenance import stop_task
from server.problems import Problem
from server.storage.db import Database
from server.storage.submissions import HELD_STATUSES
from server.storage.sync.records import utc_now

__all__ = [
    "DEFAULT_PUSH_HOSTS",
    "MAX_ENDPOINT",
    "MAX_SUBSCRIPTIONS",
    "Forget",
    "Notifier",
    "PushSender",
    "PushSettings",
    "Subscription",
    "SubscriptionIn",
    "SubscriptionKeys",
    "SubscriptionLoader",
    "WebPushSender",
    "checked_subscription",
    "delete_subscription",
    "endpoint_allowed",
    "endpoint_to_forget",
    "ensure_vapid",
    "notification_payload",
    "save_subscription",
    "subscription_problem",
]

log = logging.getLogger("madoguchi.push")

# The push services of the browsers people use (Chrome/Edge/Samsung: FCM; Firefox: Mozilla; Safari: Apple;
# legacy Edge: WNS). A host matches itself and its subdomains.
DEFAULT_PUSH_HOSTS: tuple[str, ...] = (
    "fcm.googleapis.com", "android.googleapis.com", "push.services.mozilla.com", "push.apple.com",
    "notify.windows.com",
)
MAX_SUBSCRIPTIONS = 10  # per account: a new browser beyond this pushes out the oldest
MAX_ENDPOINT = 2000
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    p256dh: str
    auth: str


def _b64url_decode(text: str) -> bytes | None:
    if not _B64URL.fullmatch(text):
        return None
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except ValueError:
        return None


def endpoint_allowed(endpoint: str, hosts: Iterable[str], *, allow_http: bool = False) -> bool:
    """Whether the server may post to ``endpoint``: at most MAX_ENDPOINT characters, https on its default port
    (plain http and any port only when ``allow_http``: the tests' local push service), no credentials in the
    URL, a host among ``hosts`` or under one of them. A push host's other ports are not its push service: the
    server must not be made to knock on them."""
    if len(endpoint) > MAX_ENDPOINT:
        return False
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return False
    if port not in (None, 443) and not allow_http:
        return False
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        return False
    if parts.username or parts.password or not host:
        return False
    return any(host == h or host.endswith("." + h) for h in hosts)


def subscription_problem(sub: Subscription, hosts: Iterable[str], *, allow_http: bool = False) -> str | None:
    """Why ``sub`` cannot be stored (English, for the problem's ``detail``), or ``None``."""
    if not endpoint_allowed(sub.endpoint, hosts, allow_http=allow_http):
        return f"endpoint must be an https URL of a known push service (default port, at most {MAX_ENDPOINT} characters)"
    key = _b64url_decode(sub.p256dh)
    if key is None or len(key) != 65 or key[0] != 4:
        return "keys.p256dh must be an uncompressed P-256 public key (base64url, 65 bytes)"
    auth = _b64url_decode(sub.auth)
    if auth is None or len(auth) != 16:
        return "keys.auth must be 16 bytes (base64url)"
    return None


class SubscriptionKeys(msgspec.Struct, forbid_unknown_fields=True):
    p256dh: Annotated[str, msgspec.Meta(max_length=200)]
    auth: Annotated[str, msgspec.Meta(max_length=200)]


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    """``PushSubscription.toJSON()`` as the browser makes it: the body of ``POST /api/push/subscriptions`` and of
    ``POST /api/tickets/{token}/push``."""

    # Its length is subscription_problem's to judge (422 invalid-subscription, as documented), not the decoder's.
    endpoint: Annotated[str, msgspec.Meta(min_length=1)]
    keys: SubscriptionKeys
    expirationTime: int | None = None  # the browser's spelling


class PushSettings(Protocol):
    @property
    def push_hosts(self) -> tuple[str, ...]: ...

    @property
    def push_allow_http(self) -> bool: ...


def checked_subscription(data: SubscriptionIn, settings: PushSettings) -> Subscription:
    """The subscription a request gave, if it may be stored (:func:`subscription_problem`), else the 422 problem
    ``invalid-subscription`` (``errors`` naming ``endpoint`` or ``keys``): the one check of both push routes."""
    sub = Subscription(endpoint=data.endpoint, p256dh=data.keys.p256dh, auth=data.keys.auth)
    problem = subscription_problem(sub, settings.push_hosts, allow_http=settings.push_allow_http)
    if problem is not None:
        raise Problem(422, "invalid-subscription", problem,
                      errors=[{"path": "endpoint" if "endpoint" in problem else "keys", "code": "invalid",
                               "message": problem}])
    return sub


def ensure_vapid(conn: sqlite3.Connection) -> str:
    """The installation's VAPID public key (base64url of the uncompressed point), made once on first call."""
    row = conn.execute("SELECT public_key FROM push_vapid WHERE id = 1").fetchone()
    if row is not None:
        return str(row[0])
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    public = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    conn.execute("INSERT INTO push_vapid (id, private_pem, public_key, created_at) VALUES (1, ?, ?, ?)",
                 (pem, public, utc_now()))
    return public


def save_subscription(conn: sqlite3.Connection, account_id: str, sub: Subscription) -> None:
    """Store (or hand over to this account) the subscription; keep the account's newest few."""
    conn.execute("INSERT INTO push_subscriptions (endpoint, account_id, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?)"
                 " ON CONFLICT(endpoint) DO UPDATE SET account_id = excluded.account_id, p256dh = excluded.p256dh,"
                 " auth = excluded.auth, created_at = excluded.created_at",
                 (sub.endpoint, account_id, sub.p256dh, sub.auth, utc_now()))
    conn.execute("DELETE FROM push_subscriptions WHERE account_id = ? AND endpoint NOT IN (SELECT endpoint FROM"
                 " push_subscriptions WHERE account_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?)",
                 (account_id, account_id, MAX_SUBSCRIPTIONS))


def endpoint_to_forget(endpoint: str) -> str:
    """The one rule of both DELETE routes (``/api/push/subscriptions``, ``/api/tickets/{token}/push``) for the
    endpoint a browser names: cut to MAX_ENDPOINT characters, then deleted like any other, 204 either way. A longer
    endpoint can never have been stored (``subscription_problem`` refuses it), so nothing of anyone else's goes,
    and unsubscribing never fails on it."""
    return endpoint[:MAX_ENDPOINT]


def delete_subscription(conn: sqlite3.Connection, account_id: str, endpoint: str) -> bool:
    return conn.execute("DELETE FROM push_subscriptions WHERE endpoint = ? AND account_id = ?",
                        (endpoint, account_id)).rowcount > 0


def notification_payload(submission_id: str, receipt_number: str) -> bytes:
    """What the service worker shows: nothing a lock screen should not (no title of the procedure, no name).
    The texts are Japanese (the app's default); the service worker may show its own language's."""
    return msgspec.json.encode({
        "title": "申請の状況が変わりました", "body": f"受付番号 {receipt_number}", "url": f"/#/s/{submission_id}",
        "tag": f"submission-{submission_id}", "receipt_number": receipt_number})


def _forget(endpoint: str, conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM push_subscriptions WHERE endpoint = ?", (endpoint,))


Forget = Callable[[str, sqlite3.Connection], None]  # (endpoint, conn): the push service said it is gone


class PushSender(Protocol):
    """Delivers one encrypted message; answers the push service's HTTP status (0: not reached). Blocking: the
    notifier calls it in a worker thread."""

    def send(self, sub: Subscription, payload: bytes, *, private_pem: str, subject: str) -> int: ...


class WebPushSender:
    """The real sender: pywebpush (RFC 8291 aes128gcm encryption, RFC 8292 VAPID)."""

    def __init__(self, timeout_s: float = 10.0, ttl_s: int = 24 * 3600) -> None:
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s

    def send(self, sub: Subscription, payload: bytes, *, private_pem: str, subject: str) -> int:
        from py_vapid import Vapid
        from pywebpush import WebPushException, webpush

        try:
            r = webpush({"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
                        data=payload.decode(), vapid_private_key=Vapid.from_pem(private_pem.encode()),
                        vapid_claims={"sub": subject}, timeout=self.timeout_s, ttl=self.ttl_s)
        except WebPushException as exc:
            return exc.response.status_code if exc.response is not None else 0
        except Exception:  # network error, timeout: not reached
            return 0
        return int(getattr(r, "status_code", 0))


SubscriptionLoader = Callable[[sqlite3.Connection], list[Subscription]]


def _account_subscriptions(account_ids: Sequence[str]) -> SubscriptionLoader:
    def load(c: sqlite3.Connection) -> list[Subscription]:
        if not account_ids:
            return []
        return [Subscription(*r) for r in c.execute(
            f"SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE account_id IN ({', '.join('?' * len(account_ids))})",
            tuple(account_ids))]
    return load


class Notifier:
    """Sends Web Push messages from a queue on the app's loop (``start``/``stop``: startup and shutdown hooks).
    :meth:`status_changed` and :meth:`push` never block and never raise: a message is queued, and a task sends it
    in a worker thread."""

    def __init__(self, db: Database, sender: PushSender, *, subject: str, max_queue: int = 10_000) -> None:
        self.db = db
        self.sender = sender
        self.subject = subject
        self._queue: asyncio.Queue[tuple[SubscriptionLoader, bytes, Forget]] = asyncio.Queue(max_queue)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # delivered messages (2xx), for tests and logs

    def push(self, payload: bytes, load: SubscriptionLoader, *, forget: Forget | None = None) -> None:
        """Queue ``payload`` for the subscriptions ``load`` reads when it is sent; ``forget(endpoint, conn)``
        deletes a subscription the push service says is gone (default: an account's, ``push_subscriptions``)."""
        try:
            self._queue.put_nowait((load, payload, forget or _forget))
        except asyncio.QueueFull:  # a flood must not hold up the request that caused it: this one is not sent
            log.warning("push queue full: a notification was dropped")

    def push_to_accounts(self, payload: bytes, account_ids: Sequence[str]) -> None:
        """``payload`` to every browser the accounts subscribed (reminders of bookings)."""
        if account_ids:
            self.push(payload, _account_subscriptions(list(account_ids)))

    def status_changed(self, account_id: str | None, submission_id: str, receipt_number: str) -> None:
        if account_id is None:
            return

        def load(c: sqlite3.Connection) -> list[Subscription]:
            # The filer's browsers and those of the resident it was filed for (the accounts bound to its
            # on_behalf_of registry record): whoever may follow it (server.authz.submission_readable).
            return [Subscription(*r) for r in c.execute(
                "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE account_id = ? OR account_id IN"
                " (SELECT b.account_id FROM identity_bindings b JOIN submissions s ON s.on_behalf_of = b.resident_id"
                f" WHERE s.id = ? AND s.status NOT IN ({', '.join('?' * len(HELD_STATUSES))}))",
                (account_id, submission_id, *HELD_STATUSES))]

        self.push(notification_payload(submission_id, receipt_number), load)

    async def _deliver(self, load: SubscriptionLoader, payload: bytes, forget: Forget) -> None:
        def read(c: sqlite3.Connection) -> tuple[str | None, list[Subscription]]:
            key = c.execute("SELECT private_pem FROM push_vapid WHERE id = 1").fetchone()
            return (key[0] if key else None), load(c)

        pem, subs = await self.db.read(read)
        if pem is None or not subs:
            return
        for sub in subs:
            status = await anyio.to_thread.run_sync(
                functools.partial(self.sender.send, sub, payload, private_pem=pem, subject=self.subject))
            if 200 <= status < 300:
                self.sent += 1
            elif status in (404, 410):  # expired or unsubscribed: never try it again
                await self.db.write(functools.partial(forget, sub.endpoint))
                log.info("push subscription gone (%s): deleted", status)
            else:
                log.warning("push to %s failed: HTTP %s", urlsplit(sub.endpoint).hostname, status)

    async def _loop(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._deliver(*item)
            except Exception:  # one bad delivery must not end the sender
                log.exception("push delivery failed")
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until everything queued so far was handled (tests)."""
        await self._queue.join()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
