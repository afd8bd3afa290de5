"""Security headers on every response, errors and static files included."""

from __future__ import annotations

from typing import Any

from litestar.types import Message, Scope

__all__ = ["CSP", "security_headers"]

# No 'unsafe-inline' anywhere: templates and the PWA load scripts and styles from files only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def security_headers(*, hsts: bool) -> Any:
    """A Litestar ``before_send`` hook: unlike middleware it also sees 404/405 answers of the router."""
    extra: list[tuple[bytes, bytes]] = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        # same-origin, not no-referrer: under no-referrer browsers send "Origin: null" with HTML form posts,
        # which the CSRF origin check must refuse, so console forms would not work without JavaScript.
        # Cross-origin requests still get no referrer (URLs may hold ids).
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(self), geolocation=(), microphone=()"),
    ]
    if hsts:
        extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    without_csp = [h for h in extra if h[0] != b"content-security-policy"]

    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            # A handler may set a stricter CSP (attachment downloads): keep it. The others are never set.
            own_csp = any(bytes(k).lower() == b"content-security-policy" for k, _ in headers)
            headers.extend(without_csp if own_csp else extra)
            message["headers"] = headers

    return before_send
