"""Limits on what a request may carry, enforced at one edge for every endpoint (``docs/api.md``, "Input limits").

- **JSON nesting**: at most :data:`MAX_DEPTH` levels of arrays/objects. Deeper documents exhaust the decoder's
  recursion (a 500) or cost time out of proportion to their size.
- **Integers**: within ±(2^53 − 1) (:data:`MAX_SAFE_INT`), the range every client (JavaScript numbers) and
  the store (SQLite's int64) represent exactly. Larger ones overflow ``sqlite3`` bindings (a 500) or silently
  lose digits in a browser. In a JSON body this holds for every number literal, whatever its syntax: ``1E16``,
  ``9007199254740992.0`` or ``1e400`` name a value beyond the range just as ``9007199254740992`` does (the
  decoder would read them as floats and a handler could store or compare them as integers).

Both rules apply to every request body a handler may decode as JSON (:class:`LimitedRequest`, Litestar's
request class: every ``data`` parameter, ``request.json()`` and ``request.body()`` go through it), to the
bodies sent to endpoints that never read theirs (:func:`json_body_middleware`: checked with the same request
class, and a JSON-typed one must also be well-formed JSON, as it must be where a handler decodes it), to the
submission fast lane (which checks with :func:`json_problem` and leaves refused bodies to the app, so both
paths give the same answer), and, for integers, to the path and query parameters a handler declares as ``int``
(:func:`int_params_middleware`, which also holds an integer query parameter to one plain decimal value:
``1e3``, ``10.0`` or ``cursor=1&cursor=2`` are a 400 ``bad-request``). A refusal is a 400 problem (``json-too-deep`` / ``integer-out-of-range``),
never a traceback. :func:`on_app_init` installs all of it on a Litestar app.
"""

from __future__ import annotations

import contextlib
import re
from itertools import accumulate
from types import UnionType
from typing import Any, Union, get_args, get_origin
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.config.app import AppConfig
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from procedure_definitions.expressions.parser import MAX_SAFE_INTEGER
from server.problems import Problem

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INT",
    "LimitedRequest",
    "int_params_middleware",
    "json_body_middleware",
    "json_problem",
    "on_app_init",
    "safe_int",
]

MAX_DEPTH = 64
MAX_SAFE_INT = MAX_SAFE_INTEGER  # the procedure language's limit: one range for every edge

# A JSON string (escapes included); removed before looking at structure so digits and brackets in text count
# for nothing.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# The digits of a number token that may be beyond ±MAX_SAFE_INT (its sign does not matter): 16+ digits before
# any fraction (2^53 − 1 has 16), or an exponent. It starts at a digit not inside a number or an exponent
# (checked behind that first digit: a leading look-behind would be tried at every byte, three times slower).
_BIG_NUMBER = re.compile(rb"[0-9](?<![\w.+][0-9])(?<![eE]-[0-9])"
                         rb"(?:[0-9]{15,}(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|[0-9]*(?:\.[0-9]+)?[eE][+-]?[0-9]+)(?![\w.])")
_NUMBER_PARTS = re.compile(rb"-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?")
# Where a number beyond the range could be: a run of 16 digits, or a number with an exponent. An exponent ends
# where a JSON value ends (``,``, ``]``, ``}``, whitespace, the end), which hex in ids and hashes ("…ab1e23f…")
# never does inside its string: ordinary bodies need no closer look, in one C-level search.
_SUSPECT = re.compile(rb"[0-9](?:[0-9]{15}|[eE][-+]?[0-9]+(?:[,\]}\s]|\Z))")
_MAX_DIGITS = str(MAX_SAFE_INT).encode()
_DECIMAL = re.compile(r"-?[0-9]+")  # an integer query parameter: no exponent, fraction, spaces or "+"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")  # one kind of bracket: nesting depth is all that matters here
_STEP = [0] * 256
_STEP[ord("[")] = 1
_STEP[ord("]")] = -1
# Bodies that are never JSON (files, forms): not scanned.
_NOT_JSON = ("application/octet-stream", "application/offset+octet-stream", "application/pdf", "image/",
             "multipart/", "application/x-www-form-urlencoded")


def json_problem(body: bytes) -> Problem | None:
    """The refusal for a JSON body beyond the limits, or None. Malformed JSON is left to the decoder.

    Costs two C-level scans for ordinary bodies; the structure is only looked at when one could be over.
    """
    deep = body.count(b"[") + body.count(b"{") > MAX_DEPTH
    big = _SUSPECT.search(body) is not None
    if not (deep or big):
        return None
    bare = _without_strings(body)
    if deep and _too_deep(bare.translate(_SQUARE, _NOT_BRACKETS)):
        return Problem(400, "json-too-deep", f"JSON may be nested at most {MAX_DEPTH} levels deep",
                       max_depth=MAX_DEPTH)
    if big:
        for m in _BIG_NUMBER.finditer(bare):
            if _beyond_safe(m.group()):
                return _int_problem()
    return None


def _beyond_safe(token: bytes) -> bool:
    """Whether a JSON number literal's exact value lies beyond ±MAX_SAFE_INT, computed on its digits (never
    parses a huge digit run or exponent, and no float rounding: ``9007199254740991.5`` is beyond)."""
    m = _NUMBER_PARTS.fullmatch(token)
    if m is None:  # not a number literal: the decoder answers
        return False
    whole, frac, exp = m.group(1), m.group(2) or b"", m.group(3)
    digits = (whole + frac).lstrip(b"0")
    if not digits:
        return False  # zero, whatever its exponent
    if exp is None:
        shift = 0
    elif len(exp.lstrip(b"+-").lstrip(b"0")) > 6:  # |exponent| >= 10^6: far beyond, or far below 1
        return not exp.startswith(b"-")
    else:
        shift = int(exp)
    # The value is 0.<digits> × 10^width: it has `width` digits before the point.
    width = len(digits) - len(frac) + shift
    if width != len(_MAX_DIGITS):
        return width > len(_MAX_DIGITS)
    head, tail = digits[:width].ljust(width, b"0"), digits[width:]
    return head > _MAX_DIGITS or (head == _MAX_DIGITS and tail.strip(b"0") != b"")


def _without_strings(body: bytes) -> bytes:
    """``body`` with every JSON string emptied (its digits and brackets are text)."""
    if b"\\" not in body:  # no escapes: every quote delimits a string (the common case; split is faster)
        return b'""'.join(body.split(b'"')[0::2])
    return _STRING.sub(b'""', body)


def _too_deep(brackets: bytes) -> bool:
    """Whether a sequence of ``[``/``]`` nests deeper than MAX_DEPTH. Each pass removes the innermost pairs,
    so a balanced sequence of depth d is empty after exactly d passes; an unbalanced one (malformed JSON,
    which the decoder still reads as deep as it goes) is measured by its running count of open brackets."""
    rest = brackets
    for _ in range(MAX_DEPTH + 1):
        if not rest:
            return False
        shorter = rest.replace(b"[]", b"")
        if shorter == rest:
            return max(accumulate(map(_STEP.__getitem__, brackets))) > MAX_DEPTH
        rest = shorter
    return True


def safe_int(text: str | bytes) -> int | None:
    """``text`` as an int when it is one within ±MAX_SAFE_INT, else None (never parses a huge digit run)."""
    if len(text) > 18:  # sign and 17 digits at most; never ask int() to parse a huge digit run
        return None
    try:
        n = int(text)
    except ValueError:
        return None
    return n if -MAX_SAFE_INT <= n <= MAX_SAFE_INT else None


def _int_problem(name: str | None = None) -> Problem:
    where = f" ({name})" if name else ""
    return Problem(400, "integer-out-of-range", f"Numbers must be between -{MAX_SAFE_INT} and {MAX_SAFE_INT}{where}",
                   max_integer=MAX_SAFE_INT)


def _scanned(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return not media.startswith(_NOT_JSON)


class LimitedRequest(Request[Any, Any, Any]):
    """Litestar's request, whose body is checked against the JSON limits before any handler decodes it."""

    _limits_checked = False

    async def body(self) -> bytes:
        data = await super().body()
        if not self._limits_checked:
            self._limits_checked = True
            if data and _scanned(self.headers.get("content-type", "")):
                problem = json_problem(data)
                if problem is not None:
                    raise problem
        return data


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _reads_body(handler: Any) -> bool:
    """Whether ``handler`` reads its request body: a ``data`` parameter (Litestar decodes it through
    :class:`LimitedRequest`) or ``opt={"reads_body": True}`` (it reads ``request.body()``/``form()`` itself)."""
    return "data" in handler.parsed_fn_signature.parameters or bool(handler.opt.get("reads_body"))


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding":
            return True
    return False


def json_body_middleware(app: ASGIApp) -> ASGIApp:
    """Check the body of a request to an endpoint that never reads it, as if it did.

    Without this, such endpoints (``/auth/login/options``, ``/auth/logout``, ...) would take any body while
    their neighbours refuse it: the limits hold on every endpoint. The body is read once, through
    :class:`LimitedRequest` (the JSON limits); Litestar keeps it for the handler. A JSON-typed body must also
    decode (no ``NaN``, no invalid UTF-8, no number beyond a double), what a handler that decodes would ask.
    Endpoints that read their body are left to that read: nothing is read or decoded twice.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if (scope["type"] == "http" and handler is not None and hasattr(handler, "parsed_fn_signature")
                and _has_body(scope) and not _reads_body(handler)):
            content_type = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), "")
            if _scanned(content_type):
                request = LimitedRequest(scope, receive, send)
                # Who may call comes before what was sent (as on endpoints that decode their body): a
                # stranger's garbage gets the guards' 401/403, not a 400 that says the endpoint was reached.
                await handler.authorize_connection(request)
                body = await request.body()
                if body and _is_json_type(content_type):
                    try:
                        msgspec.json.decode(body)
                    except msgspec.MsgspecError as exc:
                        raise Problem(400, "bad-request", "The body is not JSON",
                                      errors=[{"path": "", "code": "invalid", "message": str(exc)}]) from None
        await app(scope, receive, send)

    return middleware


def _is_int(annotation: Any) -> bool:
    """``int`` or an optional ``int`` (``int | None``); not ``bool``."""
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, UnionType):
        return any(a is int for a in get_args(annotation))
    return False


def _query_problem(name: str, code: str, text: str) -> Problem:
    return Problem(400, "bad-request", f"{name} {text}", errors=[{"path": name, "code": code, "message": text}])


def _int_params(handler: Any) -> tuple[set[str], set[str]]:
    """The names of the path and query parameters ``handler`` declares as ``int`` (cached on the handler)."""
    cached: tuple[set[str], set[str]] | None = getattr(handler, "_madoguchi_int_params", None)
    if cached is not None:
        return cached
    path: set[str] = set()
    query: set[str] = set()
    for name, field in handler.parsed_fn_signature.parameters.items():
        if not _is_int(field.annotation):
            continue
        kind = type(field.kwarg_definition).__name__ if field.kwarg_definition is not None else ""
        if kind == "PathParameter":
            path.add(name)
        elif kind == "QueryParameter" or kind == "":
            query.add(getattr(field.kwarg_definition, "query", None) or name)
    # Litestar's generated handlers (OPTIONS) have slots: computed again each time, which is cheap.
    with contextlib.suppress(AttributeError):
        handler._madoguchi_int_params = (path, query)
    return path, query


def int_params_middleware(app: ASGIApp) -> ASGIApp:
    """Refuse integer path and query parameters outside ±MAX_SAFE_INT before the handler runs, and integer query
    parameters that are not one plain decimal integer: Litestar alone reads ``1e3`` or ``10.0`` as 1000 or 10
    (and ``9007199254740993.0`` as 2^53, past the range check) and takes the last of repeated values."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] == "http" and handler is not None and hasattr(handler, "parsed_fn_signature"):
            path, query = _int_params(handler)
            for name in path:
                value = scope.get("path_params", {}).get(name)
                if isinstance(value, int) and not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
                    raise _int_problem(name)
            if query and scope["query_string"]:
                given: set[str] = set()
                for name, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
                    if name in query:
                        if name in given:
                            raise _query_problem(name, "once", "may be given once")
                        given.add(name)
                        if not _DECIMAL.fullmatch(value):
                            raise _query_problem(name, "integer", "must be a decimal integer (digits, an optional -)")
                        if safe_int(value) is None:
                            raise _int_problem(name)
        await app(scope, receive, send)

    return middleware


def on_app_init(app_config: AppConfig) -> AppConfig:
    """Install the limits on an app: its request class and the parameter and body middleware."""
    app_config.request_class = LimitedRequest
    app_config.middleware.append(DefineMiddleware(int_params_middleware))
    app_config.middleware.append(DefineMiddleware(json_body_middleware))
    return app_config
