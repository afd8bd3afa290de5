"""RFC 9457 problem details for the auth endpoints and middleware, in the server's format
(``server.problems``): ``type`` is ``https://madoguchi.example/problems/<slug>``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.types import Send

from server.problems import PROBLEM_JSON, Problem, exception_handlers, problem_response

__all__ = ["AuthProblem", "exception_handlers", "problem_document", "send_problem"]


class AuthProblem(Problem):
    """An expected refusal; ``slug`` is the stable machine-readable reason (``csrf``, ``challenge-expired``...)."""

    def __init__(self, status: int, slug: str, detail: str, *, headers: dict[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(status, slug, detail, headers=headers, **extensions)


def problem_document(status: int, slug: str, detail: str) -> dict[str, Any]:
    return problem_response(status, slug, detail).content


async def send_problem(send: Send, status: int, slug: str, detail: str) -> None:
    """Answer from inside an ASGI middleware, before any route handler ran."""
    body = msgspec.json.encode(problem_document(status, slug, detail))
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store")],
    })
    await send({"type": "http.response.body", "body": body, "more_body": False})
