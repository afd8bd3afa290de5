"""RFC 9457 problem details for the auth endpoints and middleware."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import Send

__all__ = ["PROBLEM_MEDIA_TYPE", "AuthProblem", "problem_body", "problem_handler", "send_problem"]

PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           410: "Gone", 422: "Unprocessable Content", 429: "Too Many Requests"}


class AuthProblem(HTTPException):
    """An expected refusal: ``code`` is a stable machine-readable reason (``csrf``, ``challenge_expired``...)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(status_code=status, detail=detail, extra=extra or None)
        self.code = code


def problem_body(status: int, detail: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        # A relative reference to the section of docs/security.md that explains the problem.
        "type": f"/problems/{code}" if code else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if code:
        body["code"] = code
    body.update(extra)
    return body


def problem_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    extra: dict[str, Any] = {}
    code = getattr(exc, "code", None)
    if isinstance(exc, ValidationException):
        code = "invalid_request"
        if exc.extra:
            extra["errors"] = exc.extra
    elif isinstance(exc.extra, dict):
        extra.update(exc.extra)
    headers = dict(exc.headers or {})
    return Response(problem_body(status, str(exc.detail), code, **extra), status_code=status,
                    media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def send_problem(send: Send, status: int, code: str, detail: str) -> None:
    """Answer from inside an ASGI middleware, before any route handler ran."""
    body = msgspec.json.encode(problem_body(status, detail, code))
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store")],
    })
    await send({"type": "http.response.body", "body": body, "more_body": False})
