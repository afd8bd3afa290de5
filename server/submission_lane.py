"""A lean path for the busiest request, ``POST /api/submissions``, when everything about it is in order.

Filing is what a city's server does most (a resident's phone, an outreach tablet syncing a day's work).
Through Litestar's full request pipeline (routing, middleware, signature model, response object) the
event-loop thread spends about as much on that machinery as on the filing itself (``docs/benchmarks.md``).
This lane answers the common, correct case directly and hands everything else to Litestar unchanged:

- It applies the same checks through the same functions: the live session (``live_session``), the CSRF
  header and Origin (``csrf_header_ok``), the filer roles, the body size limit, the input limits on JSON
  (``json_problem``: nesting depth, integer range), the ``SubmissionIn`` type
  (strict decoding, so it accepts nothing Litestar's handler would refuse), and then the one filing core,
  ``file_submission``.
- It answers no refusal of its own. When a check before filing fails or the body does not decode, the
  request is replayed, body included, to the Litestar application. A ``Problem`` raised by the filing core
  (raised before anything is written) is answered by the app's own exception handler, as in the route, so
  the answers validation rejects are not validated twice. Every error response has one source.
- Its responses go out through Litestar's ``before_send`` hooks, so they carry the same security headers.

A test (``tests/server/test_submission_lane.py``) sends the same requests to both paths and compares them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from server.asgi_body import buffer_body
from server.auth.config import get_config
from server.auth.middleware import SESSION_COOKIE, csrf_header_ok, live_session, parse_cookies
from server.auth.roles import FILER_ROLES
from server.input_limits import json_problem
from server.problems import Problem, exception_handlers
from server.services import Services
from server.submissions import SubmissionIn, file_submission

__all__ = ["PATH", "install_submission_lane"]

PATH = "/api/submissions"
_JSON_TYPES = (b"application/json",)
_decoder = msgspec.json.Decoder(SubmissionIn)
_encoder = msgspec.json.Encoder()


def install_submission_lane(app: Litestar, svc: Services, *, max_body: int) -> None:
    """Put the lane in front of ``app``'s request handling (inside ``Litestar.__call__``, so after the scope
    is set up and before the ``before_send`` hooks)."""
    app.asgi_handler = _lane(app, app.asgi_handler, svc, max_body=max_body)


def _lane(app: Litestar, inner: ASGIApp, svc: Services, *, max_body: int) -> ASGIApp:
    async def lane(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope.get("method") != "POST" or scope["query_string"]:
            await inner(scope, receive, send)
            return
        user = await _filer(scope)
        if user is None or not _is_json(scope):
            await inner(scope, receive, send)
            return
        body, whole, receive = await buffer_body(receive, max_body)
        if whole and await _file(app, svc, user, body, scope, receive, send):
            return
        await inner(scope, receive, send)

    return lane


async def _filer(scope: Scope) -> Any:
    """The signed-in account when it may file and the CSRF checks pass, else None."""
    token = parse_cookies(scope).get(SESSION_COOKIE)
    if not token:
        return None
    config = get_config(scope)
    if not csrf_header_ok(scope, config):
        return None
    found = await live_session(config, token)
    if found is None or found[0].role not in FILER_ROLES:
        return None
    return found[0]


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() in _JSON_TYPES
    return False


async def _file(app: Litestar, svc: Services, user: Any, body: bytes, scope: Scope, receive: Receive,
                send: Send) -> bool:
    """File and answer; False (nothing sent) when Litestar should answer instead."""
    if json_problem(body) is not None:
        return False  # the app refuses it (server/input_limits.py), with the same answer as without the lane
    try:
        data = _decoder.decode(body)
        receipt, created = await file_submission(svc, user, data)
    except Problem as exc:
        # A refusal of the filing core: answered by the app's own exception handler, as in the route.
        request: Request[Any, Any, Any] = app.request_class(scope=scope, receive=receive, send=send)
        response = exception_handlers[HTTPException](request, exc)
        await response.to_asgi_response(app=None, request=request, type_encoders=app.type_encoders)(
            scope, receive, send)
        return True
    except Exception:  # a body Litestar decodes differently, or a fault: its pipeline gives the one answer
        return False
    payload = _encoder.encode(receipt)
    start: Message = {
        "type": "http.response.start",
        "status": 201 if created else 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": payload, "more_body": False})
    return True
