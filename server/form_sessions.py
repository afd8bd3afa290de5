"""Drop-off telemetry per field: one row per form session in ``form_sessions`` (core migration v7).

The PWA (pwa/js/field-telemetry.js) sends ``POST /api/telemetry/sessions`` once when a form is left or sent:
the field paths shown, the last one focused, how many validation errors each showed. Paths and counts only —
never an answer, an account or an IP address: the body is a closed Struct, every path must name a field of the
published version (so no free text rides in a path) and the row keeps no requester. Upserted by ``session``
(a random id the app keeps per draft until it is sent): leaving, coming back and sending rewrites the same row, and a
session once ``submitted`` stays submitted. A ``last_field`` or ``errors`` path not in ``viewed`` is dropped. The analytics part reads the table: drop-off per field =
exits ÷ views (docs/api.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, post
from litestar.params import JSONBody

from procedure_definitions.model import Procedure
from procedure_definitions.model import field_paths as model_field_paths
from server.problems import Problem
from server.services import services
from server.telemetry import decode_strict, published_procedure, span

__all__ = ["FormSessionIn", "field_paths", "form_session_row", "form_sessions_handler", "upsert_form_session"]

MAX_PATHS = 500
_Count = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
_Stamp = Annotated[str, msgspec.Meta(max_length=40)]
# A field's path in the definition: ids joined by dots, item indexes dropped (``members.name``).
_Path = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class FormSessionIn(msgspec.Struct, forbid_unknown_fields=True):
    session: Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    procedure_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    procedure_version: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    channel: Literal["resident", "staff"]
    outcome: Literal["submitted", "left"]
    started_at: _Stamp | None = None
    ended_at: _Stamp | None = None
    viewed: Annotated[list[_Path], msgspec.Meta(max_length=MAX_PATHS)] = []
    last_field: _Path | None = None
    errors: Annotated[dict[_Path, _Count], msgspec.Meta(max_length=MAX_PATHS)] = {}


class SessionAck(msgspec.Struct):
    stored: bool


_PATHS: dict[tuple[str, str], frozenset[str]] = {}


def field_paths(proc: Procedure) -> frozenset[str]:
    """Every field path of a published version (``group.child`` for a group's fields). Cached: a published
    version is frozen."""
    key = (proc.id, proc.version)
    found = _PATHS.get(key)
    if found is None:
        out = {path for path, _ in model_field_paths(proc)}
        if len(_PATHS) > 512:  # bounded: versions accumulate over years, one process
            _PATHS.clear()
        found = _PATHS[key] = frozenset(out)
    return found


def _check_paths(s: FormSessionIn, known: frozenset[str]) -> None:
    bad = [f"viewed[{i}]" for i, p in enumerate(s.viewed) if p not in known]
    if s.last_field is not None and s.last_field not in known:
        bad.append("last_field")
    bad += [f"errors.{p}" for p in s.errors if p not in known]
    if bad:
        raise Problem(422, "invalid-form-session", "Paths must name fields of this procedure version",
                      errors=[{"path": p, "code": "unknown-field", "message": "not a field of this version"}
                              for p in bad[:20]])


def form_session_row(s: FormSessionIn) -> tuple[Any, ...]:
    """The row to upsert (raises Problem 422 for unparsable timestamps)."""
    started, ended, duration = span(s.started_at, s.ended_at, ("started_at", "ended_at"))
    viewed = list(dict.fromkeys(s.viewed))  # first-shown order, each once
    # An exit or an error on a field this session never showed is dropped (not refused: the rest of the session
    # is sound, and a field focused or flagged just before the page's scan saw it is a race, not a lie); the
    # metrics could otherwise count 1 exit of 0 views or an error rate above 100 % (docs/api.md).
    shown = set(viewed)
    last = s.last_field if s.outcome == "left" and s.last_field in shown else None
    errors = {p: n for p, n in s.errors.items() if p in shown}
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return (s.session, s.procedure_id, s.procedure_version, s.channel,
            started, ended, duration, s.outcome,
            msgspec.json.encode(viewed).decode(), last, msgspec.json.encode(errors).decode(), now)


def upsert_form_session(conn: Any, row: tuple[Any, ...]) -> bool:
    """Call inside a write job. False when the session id is taken by another procedure or version (nothing
    written). A session already ``submitted`` stays as it was sent (a late or replayed 'left', e.g. queued offline
    before the send, changes nothing of it: not its outcome, lists, end or duration)."""
    cur = conn.execute(
        "INSERT INTO form_sessions (session, procedure_id, procedure_version, channel, started_at, ended_at,"
        " duration_s, outcome, viewed, last_field, errors, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (session) DO UPDATE SET"
        " channel = CASE WHEN form_sessions.outcome = 'submitted' THEN form_sessions.channel ELSE excluded.channel END,"
        " started_at = coalesce(form_sessions.started_at, excluded.started_at),"
        " ended_at = CASE WHEN form_sessions.outcome = 'submitted' THEN form_sessions.ended_at"
        "   ELSE excluded.ended_at END,"
        " duration_s = CASE WHEN form_sessions.outcome = 'submitted' THEN form_sessions.duration_s"
        "   ELSE excluded.duration_s END,"
        " outcome = CASE WHEN form_sessions.outcome = 'submitted' THEN 'submitted' ELSE excluded.outcome END,"
        " viewed = CASE WHEN form_sessions.outcome = 'submitted' THEN form_sessions.viewed ELSE excluded.viewed END,"
        " last_field = CASE WHEN form_sessions.outcome = 'submitted' THEN NULL ELSE excluded.last_field END,"
        " errors = CASE WHEN form_sessions.outcome = 'submitted' THEN form_sessions.errors ELSE excluded.errors END,"
        " received_at = excluded.received_at"
        " WHERE form_sessions.procedure_id = excluded.procedure_id"
        " AND form_sessions.procedure_version = excluded.procedure_version", row)
    return bool(cur.rowcount)


@post("/api/telemetry/sessions", summary="Record one form session's fields shown, left and errors (no personal data)",
      status_code=202, tags=["telemetry"])
async def form_sessions_handler(request: Request[Any, Any, Any], data: JSONBody[FormSessionIn]) -> SessionAck:
    # Anyone (residents before signing in too); no CSRF token needed (server/auth/middleware.py: it acts on no
    # one's authority, and navigator.sendBeacon cannot set headers); the Origin check still applies.
    data = decode_strict(await request.body(), FormSessionIn)
    svc = services(request)
    proc = await published_procedure(svc, data.procedure_id, data.procedure_version)
    _check_paths(data, field_paths(proc))
    row = form_session_row(data)
    if not await svc.db.write(lambda c: upsert_form_session(c, row)):
        raise Problem(409, "session-conflict", "This session id belongs to another procedure version",
                      errors=[{"path": "session", "code": "conflict", "message": "another procedure version"}])
    return SessionAck(stored=True)
