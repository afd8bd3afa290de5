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
- It validates once: the filing core runs at most once per request. Only what happens before it (the
  checks, decoding) can send a request on to the pipeline; a fault inside it is answered by the app's own
  exception handler, never replayed into a second validation.

It is fenced: at start-up :func:`fence` compares what Litestar would run for this route (middleware of
every layer, guards, request hooks, dependencies, request class, body limit, exception handlers, response
headers and cookies) with what the lane knows it replicates (:data:`REPLICATED`), and refuses to start with
anything else: a middleware added later cannot be skipped silently. Each hand-over to the pipeline is
logged (logger ``madoguchi.submission_lane``, debug) with its reason, never with request data.

A test (``tests/server/test_submission_lane.py``) sends the same requests to both paths and compares them.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from server.asgi_body import buffer_body
from server.auth.config import get_config
from server.auth.middleware import (
    SESSION_COOKIE,
    auth_middleware,
    bearer_token_of,
    csrf_header_ok,
    csrf_middleware,
    live_session,
    parse_cookies,
)
from server.auth.roles import FILER_ROLES
from server.input_limits import LimitedRequest, int_params_middleware, json_body_middleware, json_problem
from server.problems import exception_handlers
from server.services import Services
from server.submissions import SubmissionIn, file_submission

__all__ = ["PATH", "REPLICATED", "fence", "install_submission_lane"]

log = logging.getLogger("madoguchi.submission_lane")

PATH = "/api/submissions"
_JSON_TYPES = (b"application/json",)
_decoder = msgspec.json.Decoder(SubmissionIn)
_encoder = msgspec.json.Encoder()


# What Litestar runs for POST /api/submissions and what the lane does in its place.
REPLICATED: dict[Any, str] = {
    csrf_middleware: "csrf_header_ok: the X-CSRF-Token header and Origin (a form post goes to the pipeline)",
    auth_middleware: "live_session: the same session lookup (a bearer request goes to the pipeline)",
    int_params_middleware: "nothing to check: the route has no parameters and a query string goes to the pipeline",
    json_body_middleware: "nothing to do: the route decodes its body (data); the lane checks it with json_problem",
}


def _post_handler(app: Litestar) -> Any:
    for route in app.routes:
        handlers = getattr(route, "route_handler_map", None)
        if route.path == PATH and handlers and "POST" in handlers:
            return handlers["POST"][0]
    raise RuntimeError(f"submission lane: the app has no POST {PATH} route")


def fence(app: Litestar, *, max_body: int) -> list[str]:
    """What Litestar would do for ``POST /api/submissions`` that the lane does not replicate (empty: none)."""
    h = _post_handler(app)
    out: list[str] = []
    for mw in h.resolve_middleware():
        fn = getattr(mw, "middleware", mw)  # DefineMiddleware wraps the factory
        if fn not in REPLICATED:
            out.append(f"middleware {getattr(fn, '__qualname__', fn)!r}")
    for name, found in (("guards", h.resolve_guards()), ("dependencies", h.resolve_dependencies()),
                        ("before_request", h.resolve_before_request()),
                        ("after_response", h.resolve_after_response()),
                        ("response headers", h.resolve_response_headers()),
                        ("response cookies", h.resolve_response_cookies()),
                        ("after_request", [x for layer in h.ownership_layers if (x := getattr(layer, "after_request", None))]),
                        ("after_exception", app.after_exception)):
        if found:
            out.append(f"{name} {found!r}")
    if h.resolve_request_class() is not LimitedRequest:
        out.append(f"request class {h.resolve_request_class()!r} (the lane applies LimitedRequest's json_problem)")
    if h.resolve_request_max_body_size() != max_body:
        out.append(f"body limit {h.resolve_request_max_body_size()} (the lane buffers up to {max_body})")
    if h.resolve_exception_handlers() != exception_handlers:
        out.append("exception handlers other than server.problems.exception_handlers")
    return out


def install_submission_lane(app: Litestar, svc: Services, *, max_body: int) -> None:
    """Put the lane in front of ``app``'s request handling (inside ``Litestar.__call__``, so after the scope
    is set up and before the ``before_send`` hooks). Raises RuntimeError when :func:`fence` finds anything
    the lane would skip."""
    skipped = fence(app, max_body=max_body)
    if skipped:
        raise RuntimeError(f"the submission lane would skip what the app does for POST {PATH}: "
                           + "; ".join(skipped) + ". Teach server/submission_lane.py (REPLICATED) or turn the lane"
                           " off (Settings.submission_lane).")
    log.info("submission lane for POST %s: replicates %s; the filing core runs once per request", PATH,
             "; ".join(f"{getattr(k, '__name__', k)} ({v})" for k, v in REPLICATED.items()))
    app.asgi_handler = _lane(app, app.asgi_handler, svc, max_body=max_body)


def _replay(reason: str) -> None:
    # Reasons only: never the cookie, the body or who sent it.
    if log.isEnabledFor(logging.DEBUG):
        log.debug("POST %s to the full pipeline: %s", PATH, reason)


def _lane(app: Litestar, inner: ASGIApp, svc: Services, *, max_body: int) -> ASGIApp:
    async def lane(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope.get("method") != "POST":
            await inner(scope, receive, send)
            return
        if scope["query_string"]:
            _replay("query string")
            await inner(scope, receive, send)
            return
        user, why = await _filer(scope)
        if user is None or not _is_json(scope):
            _replay(why or "not a JSON body")
            await inner(scope, receive, send)
            return
        body, whole, receive = await buffer_body(receive, max_body)
        if not whole:
            _replay("body over the limit")
        elif await _file(app, svc, user, body, scope, receive, send):
            return
        await inner(scope, receive, send)

    return lane


async def _filer(scope: Scope) -> tuple[Any, str | None]:
    """(the signed-in account, None) when it may file and the CSRF checks pass, else (None, why not)."""
    if bearer_token_of(scope) is not None:
        return None, "bearer token: the pipeline's auth middleware decides (tokens never file)"
    token = parse_cookies(scope).get(SESSION_COOKIE)
    if not token:
        return None, "no session cookie"
    config = get_config(scope)
    if not csrf_header_ok(scope, config):
        return None, "CSRF header or Origin check not passed here"
    found = await live_session(config, token)
    if found is None:
        return None, "no live session"
    if found[0].role not in FILER_ROLES:
        return None, "role may not file"
    return found[0], None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() in _JSON_TYPES
    return False


async def _file(app: Litestar, svc: Services, user: Any, body: bytes, scope: Scope, receive: Receive,
                send: Send) -> bool:
    """File and answer; False (nothing sent, nothing validated) when Litestar should answer instead."""
    if json_problem(body) is not None:
        _replay("JSON input limits")  # the app refuses it (server/input_limits.py), with the same answer
        return False
    try:
        data = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        _replay("body is not a SubmissionIn")  # Litestar's decoding gives the one answer
        return False
    try:
        receipt, created = await file_submission(svc, user, data)
    except Exception as exc:
        # A refusal of the filing core (Problem) or a fault inside it: answered by the app's own exception
        # handler (which logs a fault), as in the route. Never replayed: the answers were validated already.
        request: Request[Any, Any, Any] = app.request_class(scope=scope, receive=receive, send=send)
        handler = exception_handlers[HTTPException if isinstance(exc, HTTPException) else Exception]
        response = handler(request, exc)
        await response.to_asgi_response(app=None, request=request, type_encoders=app.type_encoders)(
            scope, receive, send)
        return True
    payload = _encoder.encode(receipt)
    start: Message = {
        "type": "http.response.start",
        "status": 201 if created else 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": payload, "more_body": False})
    return True
