"""Drafts of definitions: stored apart from published versions, one open draft per definition id.

Pushing a text for an id that has an open draft replaces that draft's text (same draft id, ``revision`` + 1),
so a preview link and the console page follow the newest push. A text with errors is stored too (its
problems say what to fix); only a draft without errors can be published. Writers run inside a write job.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
from collections import OrderedDict
from typing import Any

import msgspec

from procedure_definitions.errors import Problem
from procedure_definitions.model import LifeEvent, Procedure
from server.definitions.checking import CheckOutcome, check_source, is_notebook
from server.definitions.live import now_utc

__all__ = [
    "DraftConflict",
    "DraftRow",
    "abandon_draft_in",
    "check_draft",
    "draft_definition",
    "get_draft",
    "list_drafts",
    "problem_dict",
    "problem_line",
    "published_keys",
    "save_draft_in",
]

_COLUMNS = ("id, procedure_id, version, kind, filename, format, source, definition, problems, estimate_seconds,"
            " revision, state, created_by, created_at, updated_by, updated_at, published_version")


class DraftRow(msgspec.Struct):
    id: str
    procedure_id: str | None
    version: str | None
    kind: str | None
    filename: str
    format: str
    source: str
    definition: str | None
    problems: list[dict[str, Any]]
    estimate_seconds: int | None
    revision: int
    state: str
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    published_version: str | None

    @property
    def ok(self) -> bool:
        return self.definition is not None and not any(p.get("severity") == "error" for p in self.problems)


class DraftConflict(Exception):
    """A push that cannot be stored as asked (another id than the draft's, or a closed draft)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def _row(r: tuple[Any, ...]) -> DraftRow:
    vals = list(r)
    vals[8] = msgspec.json.decode(vals[8] or "[]")
    return DraftRow(*vals)


def get_draft(conn: sqlite3.Connection, draft_id: str) -> DraftRow | None:
    r = conn.execute(f"SELECT {_COLUMNS} FROM procedure_drafts WHERE id = ?", (draft_id,)).fetchone()
    return _row(r) if r else None


def list_drafts(conn: sqlite3.Connection, *, procedure_id: str | None = None, limit: int = 500) -> list[DraftRow]:
    """Open drafts first, then the rest, newest first."""
    where, args = ("WHERE procedure_id = ?", (procedure_id,)) if procedure_id else ("", ())
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM procedure_drafts {where} ORDER BY state != 'draft', updated_at DESC, id"
        f" LIMIT ?", (*args, limit)).fetchall()
    return [_row(r) for r in rows]


def published_keys(conn: sqlite3.Connection) -> dict[tuple[str, str], bool]:
    """Every published (id, version) to whether it is retired (``checking.version_problem``'s input)."""
    return {(r[0], r[1]): r[2] is not None
            for r in conn.execute("SELECT procedure_id, version, retired_at FROM procedure_versions")}


def problem_line(p: dict[str, Any]) -> str:
    """A stored problem as ``madoguchi check`` prints it: ``path:line:col: CODE [warning: ]message``."""
    sev = "warning: " if p.get("severity") == "warning" else ""
    return f"{p['path']}:{p['line']}:{p['col']}: {p['code']} {sev}{p['message']}"


async def check_draft(svc: Any, filename: str, source: str) -> CheckOutcome:
    """``checking.check_source`` against what the server has published and offers now (a push, and again when
    publishing); the CPU work (loading, scenarios, the estimate: tens of milliseconds) off the event loop."""
    published = await svc.db.read(published_keys)
    return await asyncio.to_thread(check_source, filename, source, live=svc.catalog.library, published=published)


def problem_dict(p: Problem) -> dict[str, Any]:
    return {"path": p.path, "line": p.line, "col": p.col, "code": p.code, "message": p.message,
            "severity": p.severity}


def save_draft_in(conn: sqlite3.Connection, *, filename: str, source: str, outcome: CheckOutcome, actor: str,
                  draft_id: str | None = None) -> tuple[DraftRow, bool]:
    """Store a push: into ``draft_id`` (PUT), else into the open draft of the same definition id, else into
    the same pusher's open draft of the same filename that has no definition id (a text whose id could not be
    read), else a new draft. Returns (the row, created)."""
    now = now_utc()
    fmt = "ipynb" if is_notebook(filename, source) else "yaml"
    definition = msgspec.json.encode(outcome.definition).decode() if outcome.definition is not None else None
    problems = msgspec.json.encode([problem_dict(p) for p in outcome.problems]).decode()
    pid = outcome.procedure_id
    target: DraftRow | None = None
    if draft_id is not None:
        target = get_draft(conn, draft_id)
        if target is None:
            raise DraftConflict("not-found", "No such draft")
        if target.state != "draft":
            raise DraftConflict("draft-closed", f"This draft is {target.state}: push a new draft instead")
        if pid is not None and target.procedure_id is not None and pid != target.procedure_id:
            raise DraftConflict("other-procedure",
                                f"This draft is of '{target.procedure_id}'; the text is of '{pid}'")
    else:
        if pid is not None:
            r = conn.execute(f"SELECT {_COLUMNS} FROM procedure_drafts WHERE procedure_id = ? AND state = 'draft'",
                             (pid,)).fetchone()
            target = _row(r) if r else None
        if target is None:
            # no readable id (or an id's first push): this pusher's open orphan of the same filename takes the
            # text, so a CI job pushing a broken file on every commit keeps one draft, not one per push
            r = conn.execute(f"SELECT {_COLUMNS} FROM procedure_drafts WHERE procedure_id IS NULL AND state = 'draft'"
                             " AND created_by = ? AND filename = ? ORDER BY updated_at DESC LIMIT 1",
                             (actor, filename)).fetchone()
            target = _row(r) if r else None
    values = (pid, outcome.version, outcome.kind, filename, fmt, source, definition, problems,
              outcome.estimate_seconds)
    if target is not None:
        if pid is not None and target.procedure_id != pid:
            other = conn.execute("SELECT id FROM procedure_drafts WHERE procedure_id = ? AND state = 'draft'",
                                 (pid,)).fetchone()
            if other is not None and other[0] != target.id:
                raise DraftConflict("draft-exists", f"'{pid}' has an open draft already: {other[0]}")
        conn.execute(
            "UPDATE procedure_drafts SET procedure_id = ?, version = ?, kind = ?, filename = ?, format = ?,"
            " source = ?, definition = ?, problems = ?, estimate_seconds = ?, revision = revision + 1,"
            " updated_by = ?, updated_at = ? WHERE id = ?", (*values, actor, now, target.id))
        row = get_draft(conn, target.id)
        assert row is not None
        return row, False
    new_id = "drf_" + secrets.token_urlsafe(12)
    conn.execute(
        "INSERT INTO procedure_drafts (procedure_id, version, kind, filename, format, source, definition, problems,"
        " estimate_seconds, id, created_by, created_at, updated_by, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*values, new_id, actor, now, actor, now))
    row = get_draft(conn, new_id)
    assert row is not None
    return row, True


def abandon_draft_in(conn: sqlite3.Connection, draft_id: str, actor: str) -> tuple[DraftRow | None, bool]:
    """(the draft, whether it was abandoned now): a published or abandoned draft stays as it is."""
    changed = conn.execute("UPDATE procedure_drafts SET state = 'abandoned', updated_by = ?, updated_at = ?"
                           " WHERE id = ? AND state = 'draft'", (actor, now_utc(), draft_id)).rowcount
    if changed:
        conn.execute("UPDATE publish_requests SET state = 'withdrawn' WHERE draft_id = ? AND state = 'open'",
                     (draft_id,))
    return get_draft(conn, draft_id), bool(changed)


_DECODED: OrderedDict[tuple[str, int], Procedure | LifeEvent] = OrderedDict()
_DECODED_MAX = 256
_DECODED_LOCK = threading.Lock()


def draft_definition(row: DraftRow) -> Procedure | LifeEvent | None:
    """The draft's definition (None when its text does not load), decoded once per (draft, revision): the form
    engine's caches then see one object per revision. The least recently used are forgotten first."""
    if row.definition is None:
        return None
    key = (row.id, row.revision)
    with _DECODED_LOCK:
        found = _DECODED.get(key)
        if found is None:
            kind: type[Procedure] | type[LifeEvent] = Procedure if row.kind == "procedure" else LifeEvent
            found = _DECODED[key] = msgspec.json.decode(row.definition, type=kind)
            if len(_DECODED) > _DECODED_MAX:
                _DECODED.popitem(last=False)
        else:
            _DECODED.move_to_end(key)
    return found
