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

__all__ = ["ValidationPool", "read_frame", "write_frame"]

log = logging.getLogger("madoguchi.validation")

_HEADER = struct.Struct(">I")
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder()


def write_frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    size = _HEADER.unpack(await reader.readexactly(_HEADER.size))[0]
    return await reader.readexactly(size)


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.known: set[tuple[str, str]] = set()
        self.reader_task: asyncio.Task[None] | None = None
        self.alive = True
        self.outbox: list[bytes] = []  # frames written together at the end of the event-loop tick

    def send(self, frame: bytes) -> None:
        # Requests handled in the same tick share one write() to the pipe instead of one syscall each.
        if not self.outbox:
            asyncio.get_running_loop().call_soon(self.flush)
        self.outbox.append(frame)

    def flush(self) -> None:
        frames, self.outbox = self.outbox, []
        if frames and self.alive and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(b"".join(frames))
            except Exception as exc:  # stop using this worker: its callers validate in process
                log.error("validation worker %s: write failed (%s); validating in process", self.proc.pid, exc)
                self.alive = False
                for fut in self.pending.values():
                    if not fut.done():
                        fut.set_exception(RuntimeError("validation worker unreachable"))
                self.pending.clear()


class ValidationPool:
    def __init__(self, workers: int) -> None:
        self.size = max(0, workers)
        self._workers: list[_Worker] = []
        self._ids = itertools.count(1)
        self._definitions: dict[tuple[str, str], bytes] = {}
        self.offloaded = 0  # counters for tests and benchmarks
        self.inline = 0

    async def start(self) -> None:
        for _ in range(self.size):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "server.validation_worker",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            w = _Worker(proc)
            w.reader_task = asyncio.create_task(self._read(w))
            self._workers.append(w)
        if self._workers:
            log.info("validation in %d worker process(es)", len(self._workers))

    async def stop(self) -> None:
        for w in self._workers:
            w.alive = False
            if w.proc.stdin is not None:
                with contextlib.suppress(Exception):
                    w.proc.stdin.close()
        for w in self._workers:
            try:
                await asyncio.wait_for(w.proc.wait(), timeout=5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.kill()
                await w.proc.wait()
            if w.reader_task is not None:
                w.reader_task.cancel()
        self._workers.clear()

    async def _read(self, w: _Worker) -> None:
        assert w.proc.stdout is not None
        try:
            while True:
                msg = _dec.decode(await read_frame(w.proc.stdout))
                fut = w.pending.pop(msg[0], None)
                if fut is not None and not fut.done():
                    if msg[2] is not None:
                        fut.set_exception(RuntimeError(msg[2]))
                    else:
                        fut.set_result(msg[1])
        except (asyncio.IncompleteReadError, ConnectionError, msgspec.DecodeError) as exc:
            if w.alive:
                log.error("validation worker %s stopped (%s): validating in process", w.proc.pid, exc)
        finally:
            w.alive = False
            for fut in w.pending.values():
                if not fut.done():
                    fut.set_exception(RuntimeError("validation worker stopped"))
            w.pending.clear()

    def _definition(self, proc: Procedure) -> bytes:
        key = (proc.id, proc.version)
        data = self._definitions.get(key)
        if data is None:
            data = self._definitions[key] = msgspec.json.encode(proc)
        return data

    async def validate(self, proc: Procedure, answers: dict[str, Any]) -> list[dict[str, Any]]:
        live = [w for w in self._workers if w.alive]
        if live:
            w = min(live, key=lambda x: len(x.pending))
            key = (proc.id, proc.version)
            rid = next(self._ids)
            definition = None if key in w.known else self._definition(proc)
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            w.pending[rid] = fut
            try:
                w.send(write_frame(_enc.encode([rid, proc.id, proc.version, definition, answers])))
                w.known.add(key)
                errors = await fut
            except Exception as exc:  # any trouble: the same check in process, never a refusal
                w.pending.pop(rid, None)
                log.warning("validation worker failed (%s); validating in process", exc)
            else:
                self.offloaded += 1
                return errors
        self.inline += 1
        return validate_answers(proc, answers)
