"""RFC 9457 problem details: every error the server sends is ``application/problem+json``.

Handlers raise :class:`Problem` (or any Litestar ``HTTPException``); the app-level exception handlers
below turn everything into a problem document. Unexpected exceptions are logged with a reference id and
answered with a bare 500 that leaks nothing.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

__all__ = [
    "PROBLEM_JSON",
    "Problem",
    "exception_handlers",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://madoguchi.example/problems/"

log = logging.getLogger("madoguchi.errors")

_TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(HTTPException):
    """An error with a problem type slug and optional extension members (e.g. ``errors``)."""

    def __init__(self, status: int, slug: str, detail: str = "", *, headers: dict[str, str] | None = None,
                 title: str | None = None, **extensions: Any) -> None:
        super().__init__(status_code=status, detail=detail or _TITLES.get(status, "Error"), headers=headers)
        self.slug = slug
        self.title = title  # None: the status's title
        self.extensions = extensions


def problem_response(status: int, slug: str, detail: str, title: str | None = None,
                     headers: dict[str, str] | None = None, **extensions: Any) -> Response[Any]:
    body: dict[str, Any] = {
        "type": _TYPE_BASE + slug,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    body.update(extensions)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _slug_for(status: int) -> str:
    return {
        400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
        405: "method-not-allowed", 409: "conflict", 413: "too-large", 415: "unsupported-type",
        422: "invalid", 429: "rate-limited",
    }.get(status, "error")


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, Problem):
        return problem_response(status, exc.slug, str(exc.detail), exc.title, headers=headers, **exc.extensions)
    if isinstance(exc, ValidationException):
        # Litestar's messages say which parameter or body key failed; they never echo server state.
        errors = []
        for item in exc.extra if isinstance(exc.extra, list) else []:
            if isinstance(item, dict):
                errors.append({
                    "path": str(item.get("key") or item.get("source") or ""),
                    "code": "invalid",
                    "message": str(item.get("message", "")),
                })
        return problem_response(400, "bad-request", str(exc.detail) or "Invalid request", errors=errors)
    if status >= 500:
        if str(exc.detail) == "client disconnected prematurely":
            # Nobody is left to answer; not a server fault worth a traceback in the log.
            log.info("client disconnected during %s %s", request.method, request.url.path)
            return problem_response(400, "bad-request", "Client disconnected")
        return _internal(request, exc)
    detail = str(exc.detail) if exc.detail else _TITLES.get(status, "Error")
    return problem_response(status, _slug_for(status), detail, headers=headers)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    ref = secrets.token_hex(6)
    log.error("internal error %s on %s %s", ref, request.method, request.url.path, exc_info=exc)
    return problem_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal", f"Internal error (reference {ref})",
                            reference=ref)


exception_handlers: dict[type[Exception] | int, Any] = {
    HTTPException: _http_exception,
    Exception: _internal,
}
