"""Reading an ASGI request body ahead of the application, without taking it away from the application."""

from __future__ import annotations

from litestar.types import Receive, ReceiveMessage

__all__ = ["buffer_body"]


async def buffer_body(receive: Receive, limit: int) -> tuple[bytes, bool, Receive]:
    """Read the body up to just past ``limit`` bytes.

    Returns what was read, whether that is the whole body (within ``limit``), and a ``receive`` that gives the
    application exactly the same messages: first what was read, then the rest of the connection's own.
    """
    chunks: list[bytes] = []
    size = 0
    whole = False
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
        if not message.get("more_body", False):
            whole = True
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> ReceiveMessage:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": not whole}
        return await receive()

    return body, whole, replay
