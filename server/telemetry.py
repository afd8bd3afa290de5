"""Completion-time telemetry: counts and timestamps per procedure version, never personal data.

The body is a closed Struct (unknown keys refused), so a client cannot smuggle answers in. Timestamps are
kept only to compute the duration; there is no account, IP address or submission id in the row.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, post
from litestar.params import JSONBody

from procedure_definitions.model import Procedure
from server.problems import Problem
from server.services import Services, services

__all__ = ["TelemetryIn", "decode_strict", "insert_telemetry", "parse_stamp", "published_procedure", "span",
           "store_telemetry", "telemetry_handler", "telemetry_row"]

T = TypeVar("T")
_Count = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
_Stamp = Annotated[str, msgspec.Meta(max_length=40)]


class TelemetryIn(msgspec.Struct, forbid_unknown_fields=True):
    procedure_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    procedure_version: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    opened_at: _Stamp | None = None
    acknowledged_at: _Stamp | None = None
    fields_typed: _Count = 0
    fields_prefilled: _Count = 0


class TelemetryAck(msgspec.Struct):
    stored: bool


def parse_stamp(stamp: str | None, path: str) -> dt.datetime | None:
    """An ISO 8601 timestamp (UTC when it names no offset); 422 ``invalid-telemetry`` at ``path`` if not one."""
    if not stamp:
        return None
    try:
        t = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(422, "invalid-telemetry", "Timestamps must be ISO 8601",
                      errors=[{"path": path, "code": "format", "message": "ISO 8601 expected"}]) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def span(start: str | None, end: str | None, names: tuple[str, str]) -> tuple[str | None, str | None, float | None]:
    """Two device timestamps as stored (UTC ISO 8601, whatever offset the device sent) and the seconds between
    them (None when either is missing, or below 0 or over 30 days: clock skew or a form left open for weeks is no
    time spent). Raises Problem 422 for an unparsable or out-of-range timestamp. One rule for both telemetries."""
    a, b = parse_stamp(start, names[0]), parse_stamp(end, names[1])
    duration = (b - a).total_seconds() if a and b else None
    if duration is not None and not (0 <= duration <= 86400 * 30):
        duration = None
    out: list[str | None] = []
    for t, name in ((a, names[0]), (b, names[1])):
        try:
            out.append(t.astimezone(dt.UTC).isoformat() if t else None)
        except OverflowError:  # year 1 or 9999 with an offset
            raise Problem(422, "invalid-telemetry", "Timestamp out of range",
                          errors=[{"path": name, "code": "format", "message": "out of range"}]) from None
    return out[0], out[1], duration


def telemetry_row(t: TelemetryIn) -> tuple[Any, ...]:
    """The row to insert (raises Problem 422 for unparsable timestamps)."""
    opened, acked, duration = span(t.opened_at, t.acknowledged_at, ("opened_at", "acknowledged_at"))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return (t.procedure_id, t.procedure_version, opened, acked, t.fields_typed, t.fields_prefilled, duration, now)


def insert_telemetry(conn: Any, row: tuple[Any, ...], *, source: str = "filing") -> None:
    """Call inside a write job. ``source``: 'filing' (stored in a filing's transaction: a real completion) or
    'beacon' (``POST /api/telemetry``, which anyone may send: the analytics never count it as a completion)."""
    conn.execute("INSERT INTO telemetry (procedure_id, procedure_version, opened_at, acknowledged_at,"
                 " fields_typed, fields_prefilled, duration_s, received_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (*row, source))


async def store_telemetry(svc: Services, t: TelemetryIn) -> None:
    row = telemetry_row(t)
    await svc.db.write(lambda c: insert_telemetry(c, row, source="beacon"))


def decode_strict(body: bytes, type_: type[T]) -> T:
    """The body decoded strictly: Litestar's decoding coerces ``"1"`` into ``1``; telemetry's numbers are
    numbers (a string is refused 400 like any other wrong type, as a filing's telemetry is dropped for it)."""
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as e:
        path = str(e).rpartition("at `$.")[2].rstrip("`").split("[")[0].split(".")[0] if "at `$." in str(e) else ""
        raise Problem(400, "bad-request", f"Invalid telemetry: {e}",
                      errors=[{"path": path, "code": "invalid", "message": str(e)}]) from None
    except msgspec.DecodeError:  # Litestar decoded it already; kept for safety
        raise Problem(400, "bad-request", "The body is not JSON") from None


async def published_procedure(svc: Services, pid: str, version: str) -> Procedure:
    """The published (live or retired) version telemetry names, else 422 ``unknown-procedure``: telemetry counts
    only for versions the city published (both telemetry endpoints ask this)."""
    proc, _ = await svc.catalog.get(pid, version)
    if proc is None:
        raise Problem(422, "unknown-procedure", "This procedure version was never published",
                      errors=[{"path": "procedure_version", "code": "unknown", "message": "unknown version"}])
    return proc


@post("/api/telemetry", summary="Record completion-time telemetry (no personal data)", status_code=202,
      tags=["telemetry"])
async def telemetry_handler(request: Request[Any, Any, Any], data: JSONBody[TelemetryIn]) -> TelemetryAck:
    # Anyone may send telemetry (the PWA sends it before sign-in too); only published versions count.
    data = decode_strict(await request.body(), TelemetryIn)
    svc = services(request)
    await published_procedure(svc, data.procedure_id, data.procedure_version)
    await store_telemetry(svc, data)
    return TelemetryAck(stored=True)
