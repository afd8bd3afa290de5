"""Auth settings derived from the public origin, and how the app finds them.

Plain data: the wiring into an app (middleware, routes) is ``server.auth.install``, which imports this
module and not the other way round, so the auth package has no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from server.auth.ratelimit import AuthLimits, RateLimiter
from server.auth.session_cache import SessionCache

if TYPE_CHECKING:
    from litestar.types import Scope

    from server.storage.db import Database

__all__ = ["STATE_KEY", "AuthConfig", "get_config", "normalize_origin"]

STATE_KEY = "madoguchi_auth"


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, no path or trailing slash (what browsers send in Origin)."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"origin must look like http(s)://host[:port], got {origin!r}")
    host = parts.hostname.lower()
    default_port = 443 if parts.scheme == "https" else 80
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}"


@dataclass
class AuthConfig:
    """Everything the auth component needs: the database and the public origin (which fixes the RP ID).

    ``origin`` must be what the browser shows, e.g. ``http://localhost:8000`` (never ``127.0.0.1``:
    WebAuthn refuses IP addresses) or ``https://madoguchi.city.example.lg.jp``.
    """

    db: Database
    origin: str
    rp_name: str = "Madoguchi 窓口"
    challenge_ttl: int = 300
    invite_ttl: int = 72 * 3600
    # Staff sessions are short (shared counter PCs); residents stay signed in on their own phone.
    staff_idle: int = 3600
    staff_absolute: int = 12 * 3600
    resident_idle: int = 14 * 86400
    resident_absolute: int = 30 * 86400
    # Throttle for the idle-timer update: a session costs at most one write per minute, not one per request.
    touch_interval: int = 60
    # Recovery codes have a 70-bit secret, but guessing still gets no more than this many wrong codes per
    # account (a code whose lookup id named it) and, since a wrong code may name no account, per client address
    # (IPv6 /64) in each window. The address limit is looser: a city hall's Wi-Fi is one address.
    recovery_failures: int = 10
    recovery_client_failures: int = 30
    recovery_window: int = 3600
    # Rate limits and caps (server/auth/ratelimit.py, docs/security.md "Limits").
    limits: AuthLimits = field(default_factory=AuthLimits)
    # Behind a reverse proxy the server sees the proxy's address; name the proxy's header (x-forwarded-for)
    # to limit and audit by the client's address instead. Off by default: clients could forge it.
    client_ip_header: str | None = None
    # Adding or removing a passkey and new recovery codes need a user-verified passkey assertion this recent.
    reauth_seconds: int = 300
    # Notebook and CLI sign-in (server/auth/oauth.py): an authorization code lives 60 s, a device code 300 s,
    # and a device client polls no faster than every ``device_interval`` seconds (else ``slow_down``).
    code_ttl: int = 60
    device_ttl: int = 300
    device_interval: int = 5
    rp_id: str = field(init=False)
    secure: bool = field(init=False)
    sessions: SessionCache = field(init=False, repr=False)
    limiter: RateLimiter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.origin = normalize_origin(self.origin)
        parts = urlsplit(self.origin)
        self.rp_id = parts.hostname or "localhost"
        self.secure = parts.scheme == "https"
        self.sessions = SessionCache()
        self.limiter = RateLimiter()

    def session_lifetime(self, staff: bool) -> tuple[int, int]:
        """(idle, absolute) seconds for a new session."""
        return (self.staff_idle, self.staff_absolute) if staff else (self.resident_idle, self.resident_absolute)


def get_config(scope: Scope) -> AuthConfig:
    try:
        return scope["app"].state[STATE_KEY]
    except (KeyError, AttributeError) as exc:
        raise RuntimeError("auth is not configured: add server.auth.install(config) to on_app_init") from exc
