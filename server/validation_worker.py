"""A validation worker process (started by ``server.validation.ValidationPool``; not for direct use).

Reads length-prefixed msgpack frames ``[request_id, procedure_id, version, definition_json | None, answers]``
on stdin, answers ``[request_id, errors, error_text | None]`` on stdout, until stdin closes. Under load the
server sends frames in batches; their answers go back in writes of about a millisecond's worth each, not one
syscall (and one wake-up of the server's event loop) per answer.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import msgspec

__all__ = ["main"]

# Answers wait at most this long for their neighbours: fewer writes, without holding early answers back.
_FLUSH_AFTER = 0.001


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def main() -> int:
    # The server owns this process's lifetime (it closes our input to stop us, and a server that dies
    # closes it too). Ctrl+C at the terminal, `timeout` and systemd's stop signal the whole process group:
    # dying first would print a traceback and make the server log an error on every ordinary stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from procedure_definitions.model import Procedure
    from server.catalog import validate_answers
    from server.validation import FrameReader, frame

    enc, dec = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder()
    fd_in, fd_out = sys.stdin.fileno(), sys.stdout.fileno()
    procs: dict[tuple[str, str], Procedure] = {}
    reader = FrameReader()
    while True:
        chunk = os.read(fd_in, 1 << 20)
        if not chunk:
            return 0
        replies: list[bytes] = []
        started = time.perf_counter()
        for body in reader.feed(chunk):
            rid = None
            try:
                rid, pid, version, definition, answers, filer = dec.decode(body)
                key = (pid, version)
                if definition is not None:
                    procs[key] = msgspec.json.decode(definition, type=Procedure)
                out: list[Any] = [rid, validate_answers(procs[key], answers, filer=filer), None]
            except Exception as exc:  # report, keep serving: the server then validates in process
                out = [rid, None, f"{type(exc).__name__}: {exc}"]
            replies.append(frame(enc.encode(out)))
            if time.perf_counter() - started >= _FLUSH_AFTER:
                _write_all(fd_out, b"".join(replies))
                replies, started = [], time.perf_counter()
        if replies:
            _write_all(fd_out, b"".join(replies))


if __name__ == "__main__":
    raise SystemExit(main())
