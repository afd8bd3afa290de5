"""How counter interviews are stored: one row per interview of a visit, its draft kept server-side until filed.

Its own migration component (``interviews``). One interview per life event per visit
(:func:`start_interview_in` decides it). The draft (``server.interview_plan``: questions, shared fields,
each procedure's answers, procedures added or removed by hand with the reason) is saved on every post of the
interview screen, so nothing typed is lost when filing is refused or the browser closes; once filed the row
keeps the submissions it made and is read-only. Writers run inside a write job of the one writer and write
the visit's step (``interview_started`` / ``interview_finished``) and the audit entry in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any

import msgspec

from server.audit import append_audit
from server.storage.migrations import Migration
from server.storage.sync.records import utc_now
from server.storage.visits import record_step_in

__all__ = [
    "INTERVIEW_MIGRATIONS",
    "InterviewRecord",
    "InterviewRefused",
    "event_interview",
    "filed_again",
    "filed_in_visit",
    "finish_interview_in",
    "load_interview",
    "save_draft_in",
    "start_interview_in",
    "visit_interviews",
]

_V1 = """
CREATE TABLE interviews (
    id TEXT PRIMARY KEY,              -- client-generated UUID: a double click starts one interview
    visit_id TEXT NOT NULL REFERENCES visits (id),
    life_event_id TEXT NOT NULL,
    life_event_version TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'filed')),
    draft TEXT NOT NULL,              -- JSON (server.interview_plan): what the clerk typed, until filed
    prefilled TEXT NOT NULL,          -- JSON list of scope:field keys the registry filled (shown as such)
    submissions TEXT,                 -- JSON list of the applications filed, once filed
    started_by TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    filed_at TEXT
);
CREATE INDEX interviews_by_visit ON interviews (visit_id, started_at);
"""

INTERVIEW_MIGRATIONS: list[Migration] = [(1, _V1)]


class InterviewRecord(msgspec.Struct, kw_only=True):
    id: str
    visit_id: str
    life_event_id: str
    life_event_version: str
    state: str
    draft: dict[str, Any]
    prefilled: list[str]
    submissions: list[str]
    started_by: str
    started_at: str
    updated_at: str
    filed_at: str | None


class InterviewRefused(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


_SELECT = ("SELECT id, visit_id, life_event_id, life_event_version, state, draft, prefilled, submissions, started_by,"
           " started_at, updated_at, filed_at FROM interviews")


def _record(r: sqlite3.Row) -> InterviewRecord:
    return InterviewRecord(id=r[0], visit_id=r[1], life_event_id=r[2], life_event_version=r[3], state=r[4],
                           draft=msgspec.json.decode(r[5]), prefilled=msgspec.json.decode(r[6]),
                           submissions=msgspec.json.decode(r[7]) if r[7] else [], started_by=r[8],
                           started_at=r[9], updated_at=r[10], filed_at=r[11])


def load_interview(conn: sqlite3.Connection, interview_id: str) -> InterviewRecord | None:
    row = conn.execute(_SELECT + " WHERE id = ?", (interview_id,)).fetchone()
    return _record(row) if row else None


def visit_interviews(conn: sqlite3.Connection, visit_id: str) -> list[InterviewRecord]:
    return [_record(r) for r in conn.execute(_SELECT + " WHERE visit_id = ? ORDER BY started_at, id", (visit_id,))]


def event_interview(conn: sqlite3.Connection, visit_id: str, life_event_id: str) -> tuple[str, str] | None:
    """``(id, state)`` of the visit's interview of ``life_event_id`` (one per life event per visit: a filed one
    first, else the oldest, should two exist), None when there is none; nothing decoded (the drafts stay in
    the table)."""
    row = conn.execute("SELECT id, state FROM interviews WHERE visit_id = ? AND life_event_id = ?"
                       " ORDER BY state = 'filed' DESC, started_at, id LIMIT 1", (visit_id, life_event_id)).fetchone()
    return (row[0], row[1]) if row else None


def _open_visit(conn: sqlite3.Connection, visit_id: str) -> None:
    row = conn.execute("SELECT status FROM visits WHERE id = ?", (visit_id,)).fetchone()
    if row is None:
        raise InterviewRefused(404, "not-found", "No such visit")
    if row[0] != "open":
        raise InterviewRefused(409, "visit-closed", "The visit is closed")


def start_interview_in(conn: sqlite3.Connection, *, interview_id: str, visit_id: str, life_event_id: str,
                       life_event_version: str, draft: dict[str, Any], prefilled: list[str],
                       actor: str) -> tuple[InterviewRecord, bool]:
    """Start an interview (the visit's ``interview_started`` step); the same id again answers the one started.

    One interview per life event per visit, decided here, inside the write job (two starts racing cannot both
    pass): the event's interview still open in the visit answers (a second click or the browser's Back starts
    nothing new); one already filed is refused 409 ``life-event-filed`` (its applications would be filed twice)."""
    prev = load_interview(conn, interview_id)
    if prev is not None:
        if prev.visit_id != visit_id:
            raise InterviewRefused(409, "idempotency-conflict", "This interview id belongs to another visit")
        return prev, False
    _open_visit(conn, visit_id)
    same = event_interview(conn, visit_id, life_event_id)
    if same is not None:
        if same[1] == "filed":
            raise InterviewRefused(409, "life-event-filed",
                                   "This life event's interview was filed in this visit already")
        out = load_interview(conn, same[0])
        assert out is not None
        return out, False
    now = utc_now()
    conn.execute("INSERT INTO interviews (id, visit_id, life_event_id, life_event_version, state, draft, prefilled,"
                 " started_by, started_at, updated_at) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)",
                 (interview_id, visit_id, life_event_id, life_event_version, msgspec.json.encode(draft).decode(),
                  msgspec.json.encode(sorted(prefilled)).decode(), actor, now, now))
    record_step_in(conn, visit_id, "interview_started", actor)
    append_audit(conn, actor=actor, action="interview.start", subject=f"visit:{visit_id}",
                 details={"interview": interview_id, "life_event": life_event_id})
    out = load_interview(conn, interview_id)
    assert out is not None
    return out, True


def _open_interview(conn: sqlite3.Connection, interview_id: str) -> InterviewRecord:
    rec = load_interview(conn, interview_id)
    if rec is None:
        raise InterviewRefused(404, "not-found", "No such interview")
    if rec.state != "open":
        raise InterviewRefused(409, "interview-filed", "The interview was filed already")
    return rec


def save_draft_in(conn: sqlite3.Connection, interview_id: str, draft: dict[str, Any], actor: str,
                  change: dict[str, Any] | None = None, prefilled: list[str] | None = None) -> list[str]:
    """Keep what the clerk typed. ``change``: a procedure added or removed by hand (audited with its reason).
    ``prefilled``: keys the registry filled now (a procedure added by hand, prefilled as the start prefills),
    added to the interview's: shown 「住民記録より：…」 and folded like the event's own. Returns every key."""
    rec = _open_interview(conn, interview_id)
    keys = sorted(set(rec.prefilled) | set(prefilled or []))
    conn.execute("UPDATE interviews SET draft = ?, prefilled = ?, updated_at = ? WHERE id = ?",
                 (msgspec.json.encode(draft).decode(), msgspec.json.encode(keys).decode(), utc_now(), interview_id))
    if change is not None:
        append_audit(conn, actor=actor, action=f"interview.procedure_{change['op']}", subject=f"visit:{rec.visit_id}",
                     details={"interview": interview_id, "procedure": change["procedure"], "reason": change["reason"]})
    return keys


def filed_in_visit(conn: sqlite3.Connection, visit_id: str, held: Collection[str] | None = None) -> dict[str, str]:
    """Procedure id -> 受付番号 of the applications ``visit_id`` holds (an earlier interview's or one attached;
    the first filed when several): what a later interview of the visit does not derive again
    (``server.interview_plan.derive``). ``held``: only those of these application ids (the parts the reader
    may see); None: every one (the finish's check inside its write job)."""
    rows = conn.execute("SELECT s.procedure_id, s.receipt_number, s.id FROM visit_submissions v"
                        " JOIN submissions s ON s.id = v.submission_id WHERE v.visit_id = ?"
                        " ORDER BY s.received_at, s.receipt_number", (visit_id,)).fetchall()
    out: dict[str, str] = {}
    for pid, number, sid in rows:
        if held is None or sid in held:
            out.setdefault(str(pid), str(number))
    return out


def filed_again(conn: sqlite3.Connection, visit_id: str, procedure_ids: Collection[str],
                added: Collection[str]) -> list[str]:
    """Of ``procedure_ids`` (an interview about to file them), those the visit holds an application of now and
    the clerk did not add by hand: filed by another interview since its screen was read (the finish refuses
    them inside its write job, as ``derive`` leaves them out)."""
    return [p for p in filed_in_visit(conn, visit_id) if p in procedure_ids and p not in added]


def finish_interview_in(conn: sqlite3.Connection, interview_id: str, submissions: list[str], actor: str) -> bool:
    """Mark the interview filed with its applications (the visit's ``interview_finished`` step); False: a repeat."""
    rec = load_interview(conn, interview_id)
    if rec is None:
        raise InterviewRefused(404, "not-found", "No such interview")
    if rec.state == "filed":
        return False
    now = utc_now()
    conn.execute("UPDATE interviews SET state = 'filed', submissions = ?, filed_at = ?, updated_at = ? WHERE id = ?",
                 (msgspec.json.encode(submissions).decode(), now, now, interview_id))
    record_step_in(conn, rec.visit_id, "interview_finished", actor)
    append_audit(conn, actor=actor, action="interview.finish", subject=f"visit:{rec.visit_id}",
                 details={"interview": interview_id, "submissions": submissions})
    return True
