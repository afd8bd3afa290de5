"""How visits (来庁) are stored: the visit, its department parts, the applications of each part, the event log and
the documents (持ち物) the counter saw of each application (``visit_documents``, :func:`mark_seen_in`).

Its own migration component (``visits``). Every writer here runs inside a write job of the one writer
(``Database.write``): the state check (``server.visit_states``) and the write happen in the same transaction, so
of two clerks taking the same part the second finds it taken. Who may ask is decided before, by the policy
(``server.auth.roles.may_work_part`` and the visit roles), in ``server.visits``.

``visit_events`` is the timing record the analytics issue reads: one row per step (``STEPS``), with the part's
department (NULL for the visit's own steps), when, by whom and at which booth. Durations are differences of
``at`` between steps (e.g. 受付 → the first ``taken``, ``taken`` → ``completed`` per department).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from procedure_definitions.japan import JST
from server.audit import append_audit
from server.registry import bound_resident_id
from server.storage.migrations import Migration
from server.storage.submissions import HELD_STATUSES
from server.storage.sync.records import utc_now
from server.visit_states import (
    Outcome,
    PartAction,
    Refused,
    VisitAction,
    closes_after_completion,
    part_step,
    visit_step,
)

__all__ = [
    "STEPS",
    "VISIT_MIGRATIONS",
    "NewVisit",
    "PartRecord",
    "SeenDocument",
    "SubmissionLine",
    "VisitEvent",
    "VisitNotFound",
    "VisitPerson",
    "VisitRecord",
    "VisitRefused",
    "attach_in",
    "candidate_lines",
    "list_visits",
    "load_visit",
    "mark_seen_in",
    "open_visit_in",
    "open_visits_of",
    "part_action_in",
    "people_of_submissions",
    "record_step_in",
    "visit_action_in",
]

_V1 = """
CREATE TABLE visits (
    id TEXT PRIMARY KEY,             -- client-generated UUID: opening twice (a double click) opens one visit
    number TEXT NOT NULL,            -- printed and called: A-012 (the day's sequence)
    day TEXT NOT NULL,               -- the JST date the visit opened: numbers restart every day
    seq INTEGER NOT NULL,
    resident_id TEXT,                -- registry resident, or NULL for a person not yet in the registry
    person_family TEXT,              -- a person not in the registry: as typed, byte for byte
    person_given TEXT,
    person_birth_date TEXT,
    booking_ref TEXT,                -- a booking (another issue), when the resident booked
    booth TEXT,                      -- where the resident sits: departments come here
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    opened_by TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    body_hash TEXT NOT NULL,         -- a reused id with another body is refused
    UNIQUE (day, seq),
    CHECK (resident_id IS NOT NULL OR person_family IS NOT NULL)
);
CREATE INDEX visits_board ON visits (status, opened_at);

CREATE TABLE visit_parts (
    visit_id TEXT NOT NULL REFERENCES visits (id),
    department TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'in_progress', 'done')),
    taken_by TEXT,                   -- the clerk working on it (in_progress) or who completed it (done)
    booth TEXT,                      -- where they work on it (the visit's booth unless they said another)
    updated_at TEXT NOT NULL,
    PRIMARY KEY (visit_id, department)
);
CREATE INDEX visit_parts_by_department ON visit_parts (department, state);

CREATE TABLE visit_submissions (
    submission_id TEXT PRIMARY KEY,  -- an application belongs to one visit at most
    visit_id TEXT NOT NULL REFERENCES visits (id),
    department TEXT NOT NULL,
    attached_by TEXT NOT NULL,
    attached_at TEXT NOT NULL
);
CREATE INDEX visit_submissions_by_visit ON visit_submissions (visit_id, department);

CREATE TABLE visit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    visit_id TEXT NOT NULL REFERENCES visits (id),
    department TEXT,                 -- NULL: a step of the visit itself (reception, close, reopen, interview)
    step TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT,
    booth TEXT
);
CREATE INDEX visit_events_by_visit ON visit_events (visit_id, id);
CREATE INDEX visit_events_by_step ON visit_events (step, at);
"""

# The documents (持ち物) the counter saw of each application: ticked in the interview, or marked by the
# department later. Only ids its definition declares (the callers check: server.visit_documents).
_V2 = """
CREATE TABLE visit_documents (
    submission_id TEXT NOT NULL REFERENCES visit_submissions (submission_id),
    document_id TEXT NOT NULL,
    visit_id TEXT NOT NULL REFERENCES visits (id),
    seen_by TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (submission_id, document_id)
);
CREATE INDEX visit_documents_by_visit ON visit_documents (visit_id);
"""

# A registry resident's open visit, found by the write that opens one (one open visit per resident).
_V3 = "CREATE INDEX visits_open_by_resident ON visits (resident_id) WHERE status = 'open' AND resident_id IS NOT NULL;"

VISIT_MIGRATIONS: list[Migration] = [(1, _V1), (2, _V2), (3, _V3)]

# Steps of visit_events. reception: 受付 (the visit opened); interview_started / interview_finished: 聞き取り
# (written by the interview, a later round); attached: applications added to a part; taken: 担当; confirmed /
# reviewed / issued: 確認・審査・交付 while the part is in progress; released: handed back (戻す); completed: 完了;
# closed: 来庁終了; reopened.
STEPS: Final = ("reception", "interview_started", "interview_finished", "attached", "taken", "confirmed",
                "reviewed", "issued", "released", "completed", "closed", "reopened")
_PART_STEP = {"take": "taken", "complete": "completed", "release": "released", "attach": "attached",
              "confirm": "confirmed", "review": "reviewed", "issue": "issued"}


class VisitPerson(msgspec.Struct, kw_only=True):
    """A person not (yet) in the registry (転入): name and birth date as typed."""

    family: str
    given: str = ""
    birth_date: str | None = None


class PartRecord(msgspec.Struct, kw_only=True):
    department: str
    state: str
    taken_by: str | None
    booth: str | None
    updated_at: str
    submissions: list[str]


class VisitEvent(msgspec.Struct, kw_only=True):
    department: str | None
    step: str
    at: str
    by: str | None
    booth: str | None


class SeenDocument(msgspec.Struct, kw_only=True):
    """A document (持ち物) of an application the counter saw: who and when (UTC)."""

    submission_id: str
    document_id: str
    seen_by: str
    seen_at: str


class VisitRecord(msgspec.Struct, kw_only=True):
    id: str
    number: str
    day: str
    status: str
    resident_id: str | None
    person: VisitPerson | None
    booking_ref: str | None
    booth: str | None
    opened_by: str
    opened_at: str
    closed_at: str | None
    parts: list[PartRecord]
    events: list[VisitEvent] = []
    documents: list[SeenDocument] = []  # one visit's (load_visit); the board does not load them


class NewVisit(msgspec.Struct, kw_only=True):
    id: str
    resident_id: str | None
    person: VisitPerson | None
    booking_ref: str | None
    booth: str | None
    opened_by: str
    body_hash: str


class VisitNotFound(Exception):
    pass


class VisitRefused(Exception):
    """A step the visit's state (or the request's content) refuses: ``status`` (409/422) and problem slug."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def _event(conn: sqlite3.Connection, visit_id: str, department: str | None, step: str, at: str, by: str | None,
           booth: str | None) -> None:
    conn.execute("INSERT INTO visit_events (visit_id, department, step, at, by, booth) VALUES (?, ?, ?, ?, ?, ?)",
                 (visit_id, department, step, at, by, booth))


def record_step_in(conn: sqlite3.Connection, visit_id: str, step: str, actor: str) -> None:
    """A step of the visit itself (``interview_started`` / ``interview_finished``: the interview,
    ``server.storage.interviews``), now, by ``actor``."""
    assert step in STEPS
    _event(conn, visit_id, None, step, utc_now(), actor, None)


def open_visits_of(conn: sqlite3.Connection, resident_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``{resident id: (visit id, number)}`` of the open visit of each registry resident who has one (the
    index ``visits_open_by_resident``; the oldest, should an older database hold two)."""
    out: dict[str, tuple[str, str]] = {}
    ids = list(dict.fromkeys(resident_ids))
    for i in range(0, len(ids), 500):
        some = ids[i:i + 500]
        for rid, vid, number in conn.execute(
                f"SELECT resident_id, id, number FROM visits WHERE status = 'open' AND resident_id IN"
                f" ({', '.join('?' * len(some))}) ORDER BY opened_at DESC, id DESC", some):
            out[rid] = (vid, number)  # the last row written wins: the oldest
    return out


def open_visit_in(conn: sqlite3.Connection, v: NewVisit) -> tuple[VisitRecord, bool]:
    """Open a visit (its 受付 event, its number for the JST day); ``(record, created)``. The same id and body
    again is a repeat (``created`` False); the same id with another body a :class:`VisitRefused` 409.

    One open visit per registry resident, decided here in the write job (two clerks opening at once are two
    jobs of the one writer: the second finds the first's visit): a resident who has an open visit gets it
    back (``created`` False, its id not ``v.id``; audited ``visit.read`` with ``via: open``), nothing is
    written. A person not in the registry (``v.person``) is never matched: a name typed at reception is no
    identity."""
    prev = conn.execute("SELECT body_hash FROM visits WHERE id = ?", (v.id,)).fetchone()
    if prev is not None:
        if prev[0] != v.body_hash:
            raise VisitRefused(409, "idempotency-conflict", "This visit id was used with another body")
        out = load_visit(conn, v.id)
        assert out is not None
        return out, False
    if v.resident_id is not None and (existing := open_visits_of(conn, [v.resident_id]).get(v.resident_id)):
        append_audit(conn, actor=v.opened_by, action="visit.read", subject=f"visit:{existing[0]}",
                     details={"via": "open", "already_open": True})
        out = load_visit(conn, existing[0])
        assert out is not None
        return out, False
    now = utc_now()
    day = dt.datetime.fromisoformat(now).astimezone(JST).date().isoformat()
    seq = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM visits WHERE day = ?", (day,)).fetchone()[0])
    p = v.person
    conn.execute(
        "INSERT INTO visits (id, number, day, seq, resident_id, person_family, person_given, person_birth_date,"
        " booking_ref, booth, status, opened_by, opened_at, body_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
        (v.id, f"A-{seq:03d}", day, seq, v.resident_id, p.family if p else None, p.given if p else None,
         p.birth_date if p else None, v.booking_ref, v.booth, v.opened_by, now, v.body_hash))
    _event(conn, v.id, None, "reception", now, v.opened_by, v.booth)
    append_audit(conn, actor=v.opened_by, action="visit.open", subject=f"visit:{v.id}",
                 details={"resident_id": v.resident_id, "new_person": p is not None})
    out = load_visit(conn, v.id)
    assert out is not None
    return out, True


def _visit_row(conn: sqlite3.Connection, visit_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT status, resident_id, booth FROM visits WHERE id = ?", (visit_id,)).fetchone()
    if row is None:
        raise VisitNotFound(visit_id)
    return row


def attach_in(conn: sqlite3.Connection, visit_id: str, submission_ids: list[str], actor: str) -> list[str]:
    """Attach applications to the visit, each to the part of its procedure's department (made when missing);
    the departments touched. All or nothing: an unknown application (or a held one), one of another visit or
    about another resident refuses the whole request. Attaching one already in this visit is a repeat."""
    visit = _visit_row(conn, visit_id)
    if visit["status"] == "closed":
        raise VisitRefused(409, "visit-closed", "The visit is closed")
    by_department: dict[str, list[str]] = {}
    for sid in dict.fromkeys(submission_ids):
        row = conn.execute("SELECT department, status, on_behalf_of, account_id FROM submissions WHERE id = ?",
                           (sid,)).fetchone()
        if row is None or row["status"] in HELD_STATUSES:
            raise VisitRefused(422, "unknown-submission", "No such application", submission_id=sid)
        if not row["department"]:
            raise VisitRefused(422, "submission-without-department", "The application's procedure names no department",
                               submission_id=sid)
        # The registry resident it is about: the one it was filed for, else its filer's binding.
        person = row["on_behalf_of"] or (bound_resident_id(conn, row["account_id"]) if row["account_id"] else None)
        if visit["resident_id"] and person and person != visit["resident_id"]:
            raise VisitRefused(422, "submission-other-resident", "The application is about another resident",
                               submission_id=sid)
        other = conn.execute("SELECT visit_id FROM visit_submissions WHERE submission_id = ?", (sid,)).fetchone()
        if other is not None:
            if other[0] != visit_id:
                raise VisitRefused(409, "submission-in-other-visit", "The application belongs to another visit",
                                   submission_id=sid)
            continue
        by_department.setdefault(row["department"], []).append(sid)
    now = utc_now()
    for department, sids in by_department.items():
        part = conn.execute("SELECT state, taken_by FROM visit_parts WHERE visit_id = ? AND department = ?",
                            (visit_id, department)).fetchone()
        if part is None:
            conn.execute("INSERT INTO visit_parts (visit_id, department, state, updated_at) VALUES (?, ?, 'waiting', ?)",
                         (visit_id, department, now))
        else:
            step = part_step(visit="open", state=part["state"], holder=part["taken_by"], action="attach", actor=actor)
            assert isinstance(step, Outcome)
            conn.execute("UPDATE visit_parts SET state = ?, updated_at = ? WHERE visit_id = ? AND department = ?",
                         (step.state, now, visit_id, department))
        conn.executemany("INSERT INTO visit_submissions (submission_id, visit_id, department, attached_by, attached_at)"
                         " VALUES (?, ?, ?, ?, ?)", [(sid, visit_id, department, actor, now) for sid in sids])
        _event(conn, visit_id, department, "attached", now, actor, None)
    if by_department:
        append_audit(conn, actor=actor, action="visit.attach", subject=f"visit:{visit_id}",
                     details={"submissions": [s for sids in by_department.values() for s in sids]})
    return sorted(by_department)


def part_action_in(conn: sqlite3.Connection, visit_id: str, department: str, action: PartAction, actor: str, *,
                   booth: str | None = None, override: bool = False) -> bool:
    """Do ``action`` on the visit's part of ``department`` if its state allows (:class:`VisitRefused` 409 with the
    state machine's code otherwise); False for a repeat that changed nothing."""
    visit = _visit_row(conn, visit_id)
    part = conn.execute("SELECT state, taken_by, booth FROM visit_parts WHERE visit_id = ? AND department = ?",
                        (visit_id, department)).fetchone()
    if part is None:
        raise VisitNotFound(f"{visit_id}/{department}")
    step = part_step(visit=visit["status"], state=part["state"], holder=part["taken_by"], action=action,
                     actor=actor, override=override)
    if isinstance(step, Refused):
        raise VisitRefused(409, step.code, step.detail, state=part["state"])
    if not step.changed:
        return False
    now = utc_now()
    # Taking: where the clerk said, else the visit's booth (departments come to the resident); later steps: the
    # part's booth unless they moved.
    where = (booth or visit["booth"]) if action == "take" else (booth or part["booth"])
    if action == "take":
        conn.execute("UPDATE visit_parts SET state = ?, taken_by = ?, booth = ?, updated_at = ? WHERE visit_id = ?"
                     " AND department = ?", (step.state, actor, where, now, visit_id, department))
    elif action == "release":
        conn.execute("UPDATE visit_parts SET state = ?, taken_by = NULL, booth = NULL, updated_at = ?"
                     " WHERE visit_id = ? AND department = ?", (step.state, now, visit_id, department))
    elif action == "complete":
        conn.execute("UPDATE visit_parts SET state = ?, taken_by = ?, updated_at = ? WHERE visit_id = ? AND department = ?",
                     (step.state, actor, now, visit_id, department))
    _event(conn, visit_id, department, _PART_STEP[action], now, actor, where)
    append_audit(conn, actor=actor, action=f"visit.part_{action}", subject=f"visit:{visit_id}",
                 details={"department": department})
    if action == "complete" and closes_after_completion(
            part_states=[r[0] for r in conn.execute("SELECT state FROM visit_parts WHERE visit_id = ?", (visit_id,))],
            interview_open=conn.execute("SELECT 1 FROM interviews WHERE visit_id = ? AND state = 'open' LIMIT 1",
                                        (visit_id,)).fetchone() is not None):
        # The last department done: the visit closes with it (its 「来庁を終了」 step, by that clerk: "the last
        # part closes the visit", server.auth.roles); the counter reopens it when more work comes.
        visit_action_in(conn, visit_id, "close", actor)
    return True


def mark_seen_in(conn: sqlite3.Connection, visit_id: str, seen: Mapping[str, Sequence[str]], actor: str, *,
                 via: str) -> list[tuple[str, str]]:
    """Record documents the counter saw (``seen``: application id → document ids, already checked against its
    definition by the caller), on an open visit and its own applications only (404 / 409 otherwise, nothing
    written). The pairs newly recorded, audited ``visit.document_seen`` in one entry; one seen already is a
    repeat (not recorded again, not audited)."""
    visit = _visit_row(conn, visit_id)
    if visit["status"] == "closed":
        raise VisitRefused(409, "visit-closed", "The visit is closed")
    ours = {r[0] for r in conn.execute("SELECT submission_id FROM visit_submissions WHERE visit_id = ?", (visit_id,))}
    if set(seen) - ours:
        raise VisitNotFound(f"{visit_id}/{sorted(set(seen) - ours)[0]}")
    now = utc_now()
    new: list[tuple[str, str]] = []
    for sid, docs in seen.items():
        for doc in dict.fromkeys(docs):
            cur = conn.execute("INSERT OR IGNORE INTO visit_documents (submission_id, document_id, visit_id, seen_by,"
                               " seen_at) VALUES (?, ?, ?, ?, ?)", (sid, doc, visit_id, actor, now))
            if cur.rowcount:
                new.append((sid, doc))
    if new:
        by_sid: dict[str, list[str]] = {}
        for sid, doc in new:
            by_sid.setdefault(sid, []).append(doc)
        append_audit(conn, actor=actor, action="visit.document_seen", subject=f"visit:{visit_id}",
                     details={"via": via, "documents": by_sid})
    return new


def visit_action_in(conn: sqlite3.Connection, visit_id: str, action: VisitAction, actor: str) -> bool:
    """Close (every part done, or no part at all: ``server.visit_states.visit_step``) or reopen the visit; False
    for a repeat."""
    visit = _visit_row(conn, visit_id)
    states = [r[0] for r in conn.execute("SELECT state FROM visit_parts WHERE visit_id = ?", (visit_id,))]
    step = visit_step(visit=visit["status"], part_states=states, action=action)
    if isinstance(step, Refused):
        raise VisitRefused(409, step.code, step.detail)
    if not step.changed:
        return False
    if action == "reopen" and visit["resident_id"] is not None:  # one open visit per resident (open_visit_in)
        other = open_visits_of(conn, [visit["resident_id"]]).get(visit["resident_id"])
        if other is not None:
            raise VisitRefused(409, "resident-has-open-visit", "The resident has another open visit",
                               visit_id=other[0], number=other[1])
    now = utc_now()
    conn.execute("UPDATE visits SET status = ?, closed_at = ? WHERE id = ?",
                 (step.state, now if step.state == "closed" else None, visit_id))
    _event(conn, visit_id, None, "closed" if action == "close" else "reopened", now, actor, None)
    append_audit(conn, actor=actor, action=f"visit.{action}", subject=f"visit:{visit_id}", details={})
    if action == "close":  # the queue ticket the visit came from is done with it (docs/queue.md)
        from server.tickets.store import ticket_visit_closed_in

        ticket_visit_closed_in(conn, visit_id, actor)
    return True


_SELECT = ("SELECT id, number, day, status, resident_id, person_family, person_given, person_birth_date, booking_ref,"
           " booth, opened_by, opened_at, closed_at FROM visits")


def _parts(conn: sqlite3.Connection, ids: list[str]) -> dict[str, list[PartRecord]]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    subs: dict[tuple[str, str], list[str]] = {}
    for r in conn.execute(f"SELECT visit_id, department, submission_id FROM visit_submissions WHERE visit_id IN ({marks})"
                          " ORDER BY attached_at, rowid", ids):
        subs.setdefault((r[0], r[1]), []).append(r[2])
    out: dict[str, list[PartRecord]] = {}
    for r in conn.execute(f"SELECT visit_id, department, state, taken_by, booth, updated_at FROM visit_parts"
                          f" WHERE visit_id IN ({marks}) ORDER BY department", ids):
        out.setdefault(r[0], []).append(PartRecord(department=r[1], state=r[2], taken_by=r[3], booth=r[4],
                                                   updated_at=r[5], submissions=subs.get((r[0], r[1]), [])))
    return out


def _record(r: sqlite3.Row, parts: list[PartRecord], events: list[VisitEvent]) -> VisitRecord:
    person = (VisitPerson(family=r["person_family"], given=r["person_given"] or "", birth_date=r["person_birth_date"])
              if r["person_family"] is not None else None)
    return VisitRecord(id=r["id"], number=r["number"], day=r["day"], status=r["status"], resident_id=r["resident_id"],
                       person=person, booking_ref=r["booking_ref"], booth=r["booth"], opened_by=r["opened_by"],
                       opened_at=r["opened_at"], closed_at=r["closed_at"], parts=parts, events=events)


def load_visit(conn: sqlite3.Connection, visit_id: str) -> VisitRecord | None:
    row = conn.execute(_SELECT + " WHERE id = ?", (visit_id,)).fetchone()
    if row is None:
        return None
    events = [VisitEvent(department=e[0], step=e[1], at=e[2], by=e[3], booth=e[4]) for e in conn.execute(
        "SELECT department, step, at, by, booth FROM visit_events WHERE visit_id = ? ORDER BY id", (visit_id,))]
    out = _record(row, _parts(conn, [visit_id]).get(visit_id, []), events)
    out.documents = [SeenDocument(submission_id=d[0], document_id=d[1], seen_by=d[2], seen_at=d[3]) for d in conn.execute(
        "SELECT submission_id, document_id, seen_by, seen_at FROM visit_documents WHERE visit_id = ?"
        " ORDER BY seen_at, submission_id, document_id", (visit_id,))]
    return out


def list_visits(conn: sqlite3.Connection, *, status: str | None, departments: tuple[str, ...] | None,
                waiting_for: str | None = None, limit: int = 200) -> list[VisitRecord]:
    """The board: visits of ``status`` (None: both), oldest first; ``departments`` (None: every department)
    keeps the visits with a part of one of them; ``waiting_for`` only those whose part of that department is
    waiting (a department's own view). Events are not loaded."""
    sql, args = _SELECT, []
    where: list[str] = []
    if status is not None:
        where.append("status = ?")
        args.append(status)
    if departments is not None:
        where.append(f"id IN (SELECT visit_id FROM visit_parts WHERE department IN ({','.join('?' * len(departments))}))")
        args.extend(departments)
    if waiting_for is not None:
        where.append("id IN (SELECT visit_id FROM visit_parts WHERE department = ? AND state = 'waiting')")
        args.append(waiting_for)
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = conn.execute(sql + " ORDER BY opened_at, id LIMIT ?", (*args, limit)).fetchall()
    parts = _parts(conn, [r["id"] for r in rows])
    return [_record(r, parts.get(r["id"], []), []) for r in rows]


class SubmissionLine(msgspec.Struct, kw_only=True):
    """What the visit page lists of an application: enough to name it and link to it."""

    id: str
    receipt_number: str
    procedure_id: str
    procedure_version: str
    department: str | None
    status: str
    received_at: str


_LINE = "SELECT id, receipt_number, procedure_id, procedure_version, department, status, received_at FROM submissions"


def people_of_submissions(conn: sqlite3.Connection, submission_ids: Sequence[str]
                          ) -> dict[str, tuple[str | None, VisitPerson | None]]:
    """``{submission id: (the visit's registry resident, the visit's person as typed)}`` of those of
    ``submission_ids`` a visit holds: whom an application filed at the counter for nobody in the registry is
    about (a new arrival's). One query for a whole queue page; none when empty."""
    ids = list(dict.fromkeys(submission_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(f"SELECT s.submission_id, v.resident_id, v.person_family, v.person_given"
                        f" FROM visit_submissions s JOIN visits v ON v.id = s.visit_id"
                        f" WHERE s.submission_id IN ({marks})", ids).fetchall()
    return {r[0]: (r[1], VisitPerson(family=r[2], given=r[3] or "") if r[2] is not None else None) for r in rows}


def candidate_lines(conn: sqlite3.Connection, resident_id: str, limit: int = 50) -> list[SubmissionLine]:
    """Applications about ``resident_id`` (filed for them, or by an account bound to them) that no visit holds
    and that are filed (not a held two-person part): what the counter may attach to the resident's visit."""
    held = ",".join("?" * len(HELD_STATUSES))
    rows = conn.execute(
        _LINE + " WHERE (on_behalf_of = ?1 OR account_id IN (SELECT account_id FROM identity_bindings"
        " WHERE resident_id = ?1)) AND id NOT IN (SELECT submission_id FROM visit_submissions)"
        f" AND status NOT IN ({held}) AND department IS NOT NULL ORDER BY received_at DESC LIMIT {int(limit)}",
        (resident_id, *HELD_STATUSES)).fetchall()
    return [SubmissionLine(**dict(r)) for r in rows]
