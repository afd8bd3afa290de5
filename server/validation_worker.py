"""A validation worker process (started by ``server.validation.ValidationPool``; not for direct use).

Reads length-prefixed msgpack frames ``[request_id, procedure_id, version, definition_json | None, answers]``
on stdin, answers ``[request_id, errors, error_text | None]`` on stdout, until stdin closes.
"""

from __future__ import annotations

import struct
import sys
from typing import Any, BinaryIO

import msgspec

__all__ = ["main"]

_HEADER = struct.Struct(">I")


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def main() -> int:
    from procedure_definitions.model import Procedure
    from server.catalog import validate_answers

    enc, dec = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    procs: dict[tuple[str, str], Procedure] = {}
    while True:
        head = _read_exactly(stdin, _HEADER.size)
        if head is None:
            return 0
        body = _read_exactly(stdin, _HEADER.unpack(head)[0])
        if body is None:
            return 0
        rid = None
        try:
            rid, pid, version, definition, answers = dec.decode(body)
            key = (pid, version)
            if definition is not None:
                procs[key] = msgspec.json.decode(definition, type=Procedure)
            out: list[Any] = [rid, validate_answers(procs[key], answers), None]
        except Exception as exc:  # report, keep serving: the server then validates in process
            out = [rid, None, f"{type(exc).__name__}: {exc}"]
        payload = enc.encode(out)
        stdout.write(_HEADER.pack(len(payload)) + payload)
        stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
