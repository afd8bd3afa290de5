"""Long polling of a ticket and of a board (docs/queue.md "Live updates"): ``GET /api/tickets/{token}?wait=N`` and
``GET /api/queue/{place}/board?wait=N`` with ``If-None-Match``.

Old phones and locked-down lobby screens that cannot hold an event stream still learn of a call within a second:
while the ETag they send still matches, the request is held until the view changes (200, the new view and ETag)
or ``N`` seconds pass (304). It waits on the same change notification as the event streams
(:meth:`server.tickets.hub.QueueHub.wait`) — no second mechanism — and ends at the hub's close (shutdown), so
held requests never keep the server up. Held requests are capped per process (:data:`MAX_HELD`): past it, the
answer comes at once with ``Retry-After`` so a client does not ask again in a tight loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

from litestar import Request, Response
from litestar.params import QueryParameter

from server.tickets.hub import SNAPSHOT_MAX_AGE, QueueHub, Snapshot
from server.tickets.views import etag_of

__all__ = ["BUSY_RETRY_S", "MAX_HELD", "MAX_WAIT_S", "Wait", "etag_response", "held_count", "long_poll"]

MAX_WAIT_S: Final = 25  # under the 30 s idle timeouts of common proxies and mobile networks
MAX_HELD: Final = 2000  # held requests per process; each is an open socket and a small task
BUSY_RETRY_S: Final = 3  # past the cap: the client asks again after this long
# Positions also move with time alone (an early booking comes due): a held request looks again this often even
# when nothing was written, as the event streams do (their ping).
_RECHECK_S: Final = SNAPSHOT_MAX_AGE.total_seconds()

# ?wait=N: 0 (the default) answers at once, as without it; out of range: 400 problem.
Wait = Annotated[int, QueryParameter(ge=0, le=MAX_WAIT_S, description="hold up to this many seconds while the "
                                                                      "If-None-Match ETag still matches")]

_held = 0  # requests held now in this process (the event loop's thread only)


def held_count() -> int:
    """How many requests are held now (tests, and the cap)."""
    return _held


def _matches(request: Request[Any, Any, Any], tag: str) -> bool:
    return tag in [v.strip() for v in (request.headers.get("if-none-match") or "").split(",")]


def etag_response(request: Request[Any, Any, Any], view: Any, headers: dict[str, str] | None = None, *,
                  tag: str | None = None) -> Response[Any]:
    """``view`` with its ETag (``tag`` when the caller has it already), or 304 when ``If-None-Match`` names it."""
    tag = tag or etag_of(view)
    out = {"ETag": tag, "Cache-Control": "no-cache", **(headers or {})}
    if _matches(request, tag):
        return Response(content=None, status_code=304, headers=out)
    return Response(content=view, headers=out)


async def long_poll(request: Request[Any, Any, Any], hub: QueueHub, place: str, first: tuple[Snapshot, Any],
                    current: Callable[[], Awaitable[tuple[Snapshot, Any]]], wait: int) -> Response[Any]:
    """The answer to a view's GET: at once unless ``wait`` and the client's ETag is the view's; then held until
    ``current()`` (the place's snapshot and the view now) gives another view, ``wait`` seconds pass, or the hub
    closes."""
    global _held
    snap, view = first
    tag = etag_of(view)
    if wait <= 0 or not _matches(request, tag) or hub.closed:
        return etag_response(request, view, tag=tag)
    if _held >= MAX_HELD:
        return etag_response(request, view, {"Retry-After": str(BUSY_RETRY_S)}, tag=tag)
    _held += 1
    # A phone that went away (the page left: the app aborts its request) frees its place under the cap at once.
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        deadline = time.monotonic() + wait
        while not hub.closed and not gone.done():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            waiting = asyncio.ensure_future(hub.wait(place, snap.version, min(left, _RECHECK_S)))
            try:
                await asyncio.wait({waiting, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
            if hub.closed or gone.done():
                break
            snap, view = await current()  # one snapshot per change, shared with the streams and other polls
            now = etag_of(view)
            if now != tag:
                tag = now
                break
    finally:
        gone.cancel()
        _held -= 1
    return etag_response(request, view, tag=tag)


async def _disconnected(request: Request[Any, Any, Any]) -> None:
    """Returns when the client has gone away (the server's ``http.disconnect``); a GET's empty body comes first."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
