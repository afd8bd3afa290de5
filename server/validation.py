"""Validating answers off the event loop: a few worker processes, or in process.

Form validation (``procedure_definitions.forms``) is pure Python and the most expensive step of a submission.
In one uvicorn worker every thread shares one GIL, so it would cap the whole server at one core; here it runs
in ``workers`` separate processes (``python -m server.validation_worker``) that talk to the event loop over
pipes — no extra threads in the server, one msgspec message each way per submission. Each worker keeps the
definitions it was sent (by id and version), so a definition crosses the pipe once per worker.

``workers=0`` (tests, tiny machines) or any trouble with a worker (it crashed, it answered an error) falls
back to validating in process, so a submission is never refused because of this module. The result is
exactly ``server.catalog.validate_answers`` either way: the worker calls that same function.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
import sys
from typing import Any

import msgspec

from procedure_definitions.model import Procedure
from server.catalog import validate_answers

__all__ = ["FrameReader", "ValidationPool", "frame"]

log = logging.getLogger("madoguchi.validation")

_HEADER = struct.Struct(">I")
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder()


def frame(payload: bytes) -> bytes:
    """A length-prefixed frame, as both ends of the pipe read them."""
    return _HEADER.pack(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into frames, however the pipe chunks it (shared with the worker)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        pos, end = 0, len(self._buf)
        while end - pos >= _HEADER.size:
            size = _HEADER.unpack_from(self._buf, pos)[0]
            if end - pos - _HEADER.size < size:
                break
            start = pos + _HEADER.size
            frames.append(bytes(self._buf[start:start + size]))
            pos = start + size
        del self._buf[:pos]
        return frames


class _Worker(asyncio.SubprocessProtocol):
    """One worker process; replies are read by this protocol's callback, with no task per message."""

    def __init__(self) -> None:
        self.transport: asyncio.SubprocessTransport | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.known: set[tuple[str, str]] = set()
        self.alive = True
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._frames = FrameReader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        try:
            replies = [_dec.decode(f) for f in self._frames.feed(data)]
        except msgspec.DecodeError as exc:
            self._fail(f"unreadable answer ({exc})")
            return
        for rid, errors, problem in replies:
            fut = self.pending.pop(rid, None)
            if fut is not None and not fut.done():
                if problem is not None:
                    fut.set_exception(RuntimeError(problem))
                else:
                    fut.set_result(errors)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._fail("its output closed")

    def process_exited(self) -> None:
        self._fail("it exited")
        if not self.exited.done():
            self.exited.set_result(None)

    def _fail(self, why: str) -> None:
        if self.alive:
            log.error("validation worker stopped (%s): validating in process", why)
        self.alive = False
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(RuntimeError("validation worker stopped"))
        self.pending.clear()

    def send(self, data: bytes) -> None:
        # Written at once, not at the end of the tick: the worker starts on the first request while this
        # thread still parses the next ones (batching here made requests move through in lockstep).
        if not (self.alive and self.transport is not None):
            raise RuntimeError("validation worker stopped")
        stdin = self.transport.get_pipe_transport(0)
        try:
            stdin.write(data)  # type: ignore[union-attr]
        except Exception as exc:  # stop using this worker: its callers validate in process
            self._fail(f"write failed: {exc}")
            raise

    def kill(self) -> None:
        if self.transport is not None:
            with contextlib.suppress(ProcessLookupError):
                self.transport.kill()


class ValidationPool:
    def __init__(self, workers: int) -> None:
        self.size = max(0, workers)
        self._workers: list[_Worker] = []
        self._ids = itertools.count(1)
        self._definitions: dict[tuple[str, str], bytes] = {}
        self.offloaded = 0  # counters for tests and benchmarks
        self.inline = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(self.size):
            _, w = await loop.subprocess_exec(_Worker, sys.executable, "-m", "server.validation_worker",
                                              stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                              stderr=None)
            self._workers.append(w)
        if self._workers:
            log.info("validation in %d worker process(es)", len(self._workers))

    async def stop(self) -> None:
        for w in self._workers:
            w.alive = False
            if w.transport is not None:
                stdin = w.transport.get_pipe_transport(0)
                if stdin is not None:
                    stdin.close()  # the worker's read loop ends: it exits
        for w in self._workers:
            try:
                await asyncio.wait_for(asyncio.shield(w.exited), timeout=5)
            except TimeoutError:
                w.kill()
                await w.exited
            if w.transport is not None:
                w.transport.close()
        self._workers.clear()

    def _definition(self, proc: Procedure) -> bytes:
        key = (proc.id, proc.version)
        data = self._definitions.get(key)
        if data is None:
            data = self._definitions[key] = msgspec.json.encode(proc)
        return data

    async def validate(self, proc: Procedure, answers: dict[str, Any], filer: str = "resident") -> list[dict[str, Any]]:
        live = [w for w in self._workers if w.alive]
        if live:
            w = min(live, key=lambda x: len(x.pending))
            key = (proc.id, proc.version)
            rid = next(self._ids)
            definition = None if key in w.known else self._definition(proc)
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            w.pending[rid] = fut
            try:
                w.send(frame(_enc.encode([rid, proc.id, proc.version, definition, answers, filer])))
                w.known.add(key)
                errors = await fut
            except Exception as exc:  # any trouble: the same check in process, never a refusal
                w.pending.pop(rid, None)
                log.warning("validation worker failed (%s); validating in process", exc)
            else:
                self.offloaded += 1
                return errors
        self.inline += 1
        return validate_answers(proc, answers, filer=filer)
