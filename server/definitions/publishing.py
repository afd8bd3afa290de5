"""Publishing, retiring and restoring versions, and what follows each: the live library is rebuilt from the
table at once (``GET /api/procedures`` and every page see the change) and the PWA bundle is rebuilt
incrementally off the event loop. No restart.

Who may call these is decided before (``server.auth.roles.CONFIGURE_ROLES``, a fresh passkey check and,
when the city asks for one, a second configurator's approval: ``server/console/procedure_pages.py``);
these functions only keep the rules of the table: a published version is frozen, a draft with errors is
never published, a draft pushed again after a publish request was made is not the one that was approved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from typing import Any

import msgspec

from procedure_definitions.errors import problem
from procedure_definitions.model import Procedure
from server.audit import append_audit
from server.definitions.checking import version_problem
from server.definitions.drafts import check_draft, get_draft, published_keys
from server.definitions.live import now_utc
from server.problems import Problem

__all__ = ["GoLiveWatcher", "after_change", "publish_draft", "restore_version", "retire_version"]

log = logging.getLogger("madoguchi.definitions")

def _publish_in(conn: sqlite3.Connection, draft_id: str, *, checked_revision: int, outcome: Any, actor: str,
                approved_by: str | None, live_from: str | None, closes_at: str | None,
                close_message: dict[str, str] | None, request_id: str | None) -> tuple[str, str]:
    row = get_draft(conn, draft_id)
    if row is None:
        raise Problem(404, "not-found", "No such draft")
    if row.state != "draft":
        raise Problem(409, "draft-closed", f"This draft is {row.state}")
    if row.revision != checked_revision:
        raise Problem(409, "draft-changed", "The draft was pushed again meanwhile: review the new text")
    if request_id is not None:
        req = conn.execute("SELECT draft_id, draft_revision, state FROM publish_requests WHERE id = ?",
                           (request_id,)).fetchone()
        if req is None or req[0] != draft_id:
            raise Problem(404, "not-found", "No such publish request")
        if req[2] != "open":
            raise Problem(409, "request-closed", f"This request is {req[2]}")
        if req[1] != row.revision:
            raise Problem(409, "draft-changed", "The draft was pushed again after this request: review the new "
                          "text and ask again")
    if not outcome.ok or outcome.definition is None:
        lines = [p.format() for p in outcome.problems if p.severity == "error"]
        raise Problem(409, "draft-has-errors", "A draft with errors cannot be published",
                      errors=[{"path": "source", "code": "invalid", "message": line} for line in lines[:50]])
    d = outcome.definition
    kind = "procedure" if isinstance(d, Procedure) else "life_event"
    # The version rule once more, in the writer: another version may have been published since the check.
    found = version_problem(kind, d.id, d.version, published_keys(conn))
    if found is not None:
        code, kw = found
        raise Problem(409, "version-published" if code == "PD247" else "version-not-newer",
                      problem(code, row.filename, 1, 1, **kw).message)
    dept = d.department.id if isinstance(d, Procedure) else None
    now = now_utc()
    conn.execute(
        "INSERT INTO procedure_versions (procedure_id, version, kind, title, department, definition, published_at,"
        " origin, source, source_format, published_by, approved_by, draft_id, live_from, closes_at, close_message)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'console', ?, ?, ?, ?, ?, ?, ?, ?)",
        (d.id, d.version, kind, d.title.ja, dept, msgspec.json.encode(d).decode(), now, row.source, row.format,
         actor, approved_by, row.id, live_from, closes_at,
         msgspec.json.encode(close_message).decode() if close_message else None))
    conn.execute("UPDATE procedure_drafts SET state = 'published', published_version = ?, updated_at = ?"
                 " WHERE id = ?", (d.version, now, row.id))
    if request_id is not None:
        conn.execute("UPDATE publish_requests SET state = 'published', approved_by = ?, approved_at = ?,"
                     " published_at = ? WHERE id = ?", (approved_by or actor, now, now, request_id))
    conn.execute("UPDATE publish_requests SET state = 'superseded' WHERE draft_id = ? AND state = 'open'",
                 (row.id,))
    append_audit(conn, actor=actor, action="procedure.publish", subject=f"procedure:{d.id}@{d.version}",
                 details={"draft": row.id, "revision": row.revision, "approved_by": approved_by,
                          "live_from": live_from, "closes_at": closes_at, "request": request_id})
    return d.id, d.version


async def publish_draft(svc: Any, draft_id: str, *, actor: str, approved_by: str | None = None,
                        live_from: str | None = None, closes_at: str | None = None,
                        close_message: dict[str, str] | None = None, request_id: str | None = None
                        ) -> tuple[str, str]:
    """Freeze the draft as a published version, then make it live (or schedule it). Returns (id, version).

    The draft is checked again first (off the event loop and outside the writer: loading, scenarios and the
    estimate take tens of milliseconds), then stored in one write job that only re-checks what may have
    changed meanwhile (the draft's revision, the versions published)."""
    row = await svc.db.read(lambda c: get_draft(c, draft_id))
    if row is None:
        raise Problem(404, "not-found", "No such draft")
    outcome = await check_draft(svc, row.filename, row.source)
    pid, version = await svc.db.write(lambda c: _publish_in(
        c, draft_id, checked_revision=row.revision, outcome=outcome, actor=actor, approved_by=approved_by,
        live_from=live_from, closes_at=closes_at, close_message=close_message, request_id=request_id))
    await after_change(svc)
    return pid, version


def _set_retired_in(conn: sqlite3.Connection, pid: str, version: str, *, actor: str, retire: bool) -> None:
    row = conn.execute("SELECT retired_at FROM procedure_versions WHERE procedure_id = ? AND version = ?",
                       (pid, version)).fetchone()
    if row is None:
        raise Problem(404, "not-found", "No such published version")
    if retire and row[0] is not None:
        raise Problem(409, "already-retired", "This version is retired already")
    if not retire and row[0] is None:
        raise Problem(409, "not-retired", "This version is not retired")
    if retire:
        conn.execute("UPDATE procedure_versions SET retired_at = ?, retired_by = ? WHERE procedure_id = ?"
                     " AND version = ?", (now_utc(), actor, pid, version))
    else:
        conn.execute("UPDATE procedure_versions SET retired_at = NULL, retired_by = NULL WHERE procedure_id = ?"
                     " AND version = ?", (pid, version))
    append_audit(conn, actor=actor, action="procedure.retire" if retire else "procedure.restore",
                 subject=f"procedure:{pid}@{version}", details={})


async def retire_version(svc: Any, pid: str, version: str, *, actor: str) -> None:
    """Take a version out of the app (the previous version is live again: a roll back). Submissions made with
    it stay valid and readable (``retired_version``)."""
    await svc.db.write(lambda c: _set_retired_in(c, pid, version, actor=actor, retire=True))
    await after_change(svc)


async def restore_version(svc: Any, pid: str, version: str, *, actor: str) -> None:
    await svc.db.write(lambda c: _set_retired_in(c, pid, version, actor=actor, retire=False))
    await after_change(svc)


async def after_change(svc: Any) -> None:
    """Reload the live library now; the PWA bundle is rebuilt in its own thread (``Bundle.request_rebuild``)."""
    lib = await svc.catalog.reload()
    svc.pwa.request_rebuild(lib)


class GoLiveWatcher:
    """Makes scheduled versions live (and closes procedures) on time: looks every ``interval_s`` whether the
    live library's next change is due, then reloads it and rebuilds the bundle."""

    def __init__(self, svc: Any, interval_s: float = 15.0) -> None:
        self._svc = svc
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                if self._svc.catalog.due(now_utc()):
                    await after_change(self._svc)
            except Exception:  # keep watching; the next tick tries again
                log.exception("scheduled change of the live library failed")
