"""Rate limits of the auth endpoints: token buckets per client IP and per account, in memory.

Six families of endpoints share buckets: ``options`` (WebAuthn options of register, sign-in, add-passkey and
re-authentication), ``verify`` (their verify steps), ``recovery`` (recovery-code sign-in and new codes),
``enroll`` (the staff enrollment page and its ceremony), ``invitation`` (redeeming a two-person procedure's
invitation code, ``server.parties``) and ``counter_code`` (a clerk loading a resident's counter code into a
visit, ``server.counter_code``), ``token`` (``POST /oauth/token``: code exchange, refresh, device polling) and
``device`` (starting a device sign-in, and a signed-in person looking up or approving a device code,
``server.auth.oauth``) and ``booking`` (a hold or a booking of a visit by someone without an account,
``server.booking.api``: its own strict per-IP rate in ``AuthLimits.per_ip_family``). Each request takes one token from the bucket of its
client IP and, once the account is known, one from the account's bucket; an empty bucket answers 429
``rate-limited`` with ``Retry-After``. Defaults (``AuthLimits``, docs/security.md): per IP generous, because a
city hall's Wi-Fi or a mobile carrier puts many residents behind one address; per account strict.

The buckets live in the server process (one process serves a city; a restart forgets them, which only
ever lets a client try sooner). The clock is injected so tests need not sleep.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Literal, cast

import msgspec

__all__ = ["AuthLimits", "Family", "Rate", "RateLimiter", "client_ip", "limit_key"]

Family = Literal["options", "verify", "recovery", "enroll", "invitation", "counter_code", "token", "device",
                 "booking"]


class Rate(msgspec.Struct, frozen=True):
    """``burst`` requests at once, then one more every ``per_seconds``."""

    burst: int
    per_seconds: float


class AuthLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Every limit of the auth component (``AuthConfig.limits``, ``Settings.auth_limits``)."""

    # 300 at once, then 5 a second, per endpoint family and client IP.
    per_ip: Rate = Rate(300, 0.2)
    # 10 at once, then one every 30 s, per endpoint family and account (about 120 an hour).
    per_account: Rate = Rate(10, 30.0)
    # The families with their own per-IP rate (``per_ip_of``); every other family takes ``per_ip``. ``booking``
    # (holds and bookings by people without an account): 10 at once, then one a minute. Strict, because every
    # token may take a seat from someone else; a phone booking a visit needs two (hold, book).
    per_ip_family: dict[Family, Rate] = msgspec.field(default_factory=lambda: {"booking": Rate(10, 60.0)})
    # Unused, unexpired WebAuthn challenges: beyond these the oldest of that client or account is dropped.
    open_challenges_per_client: int = 100
    open_challenges_per_account: int = 10
    # Live sessions of one account (devices); a new sign-in beyond this ends the oldest.
    sessions_per_account: int = 20

    def per_ip_of(self, family: Family) -> Rate:
        """The per-IP rate of ``family``: its own (``per_ip_family``) or the shared ``per_ip``."""
        return self.per_ip_family.get(family, self.per_ip)


class RateLimiter:
    """Token buckets keyed by anything hashable. ``take`` answers 0 (go) or the seconds to wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float, Rate]] = {}  # key -> (tokens, at, rate)
        self._lock = threading.Lock()

    def take(self, key: Hashable, rate: Rate) -> int:
        """Take one token from ``key``'s bucket; 0 when there was one, else whole seconds until there is."""
        now = self.clock()
        with self._lock:
            tokens, at, _ = self._buckets.pop(key, (float(rate.burst), now, rate))
            tokens = min(float(rate.burst), tokens + max(0.0, now - at) / rate.per_seconds)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now, rate)
                if len(self._buckets) > self.max_keys:
                    self._forget(now)
                return 0
            self._buckets[key] = (tokens, now, rate)
            return max(1, math.ceil((1.0 - tokens) * rate.per_seconds))

    def _forget(self, now: float) -> None:
        """Bounded memory: drop buckets that would be full again (as good as new), then the least recently used."""
        full = [k for k, (tokens, at, r) in self._buckets.items() if tokens + (now - at) / r.per_seconds >= r.burst]
        for k in full:
            del self._buckets[k]
        while len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]  # dicts keep insertion order: take re-inserts on use


def client_ip(scope: object, header: str | None) -> str:
    """The client address the limits and the audit trail use.

    What the server sees: behind a reverse proxy that is the proxy's address, unless ``header`` names the
    header the proxy sets (e.g. ``x-forwarded-for``); then its last value, the address the proxy itself saw.
    Only set ``header`` when nothing but the proxy can reach the server, or clients can claim any address.
    """
    s = cast("dict[str, object]", scope)
    if header:
        wanted = header.lower().encode("latin-1")
        values = [v for k, v in cast("Iterable[tuple[bytes, bytes]]", s.get("headers", ())) if k.lower() == wanted]
        if values:
            last = values[-1].decode("latin-1").split(",")[-1].strip()
            if last:
                return last[:100]
    client = s.get("client")
    return str(client[0]) if isinstance(client, tuple | list) and client else "unknown"


def limit_key(address: str) -> str:
    """The bucket an address counts against: an IPv6 address by its /64 network, anything else as it is.

    One IPv6 subscriber (a phone, a home line) is given a whole /64 and may use any address in it: keyed by
    the full address, it would get a fresh bucket and a fresh challenge cap with each one.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
