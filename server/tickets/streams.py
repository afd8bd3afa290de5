"""The live event streams of a ticket and of a board (docs/queue.md "Live updates"):
``GET /api/tickets/{token}/events`` (event ``ticket``) and ``GET /api/queue/{place}/board/events`` (event ``board``).

One loop for both, as :func:`server.tickets.longpoll.long_poll` is for their long polling: the view now, then on
each change of the place (:meth:`server.tickets.hub.QueueHub.wait`) the view again from the shared snapshot, sent
only when it says something new; a comment line when nothing changed for ``PING_S``; the end at the hub's close.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import msgspec
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from server.tickets.hub import QueueHub, Snapshot
from server.tickets.views import etag_of

__all__ = ["PING_S", "event_stream"]

PING_S: Final = 15.0  # a comment line this often keeps proxies from closing a quiet event stream


def event_stream(hub: QueueHub, place: str, first: tuple[Snapshot, Any],
                 current: Callable[[], Awaitable[tuple[Snapshot, Any] | None]], event: str,
                 retry_ms: int) -> ServerSentEvent:
    """Send ``event`` with the view of ``first`` now, then whenever ``current()`` (the place's snapshot and the view
    now; None: the stream ends) gives a view that says something else."""

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        snap, view = first
        last = ""
        while not hub.closed:
            tag = etag_of(view)
            if tag != last:
                last = tag
                yield ServerSentEventMessage(event=event, data=msgspec.json.encode(view).decode())
            version = await hub.wait(place, snap.version, PING_S)
            if hub.closed:
                return
            if version == snap.version:
                yield ServerSentEventMessage(comment="ping")
            now = await current()  # one snapshot per change, shared by every stream and held poll of the place
            if now is None:
                return
            snap, view = now

    return ServerSentEvent(stream(), retry_duration=retry_ms, headers={"Cache-Control": "no-cache",
                                                                       "X-Accel-Buffering": "no"})
