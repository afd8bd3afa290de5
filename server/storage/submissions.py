"""Submissions repository: the only code that knows how submissions are stored.

Handlers talk to the :class:`SubmissionStore` protocol; :class:`SQLiteSubmissions` implements it on the
writer-queue :class:`~server.storage.db.Database`. Idempotency is decided inside the writer transaction:
since every write is serialized there, two concurrent requests with the same id can never both insert.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import msgspec

from procedure_definitions.japan import JST
from server.audit import append_audit
from server.storage.handoff import enqueue as enqueue_handoff
from server.storage.submission_search import filed_for, queue_condition, search_text
from server.storage.sync.blobs import held_by
from server.storage.sync.records import utc_now

__all__ = [
    "HELD_STATUSES",
    "STATUSES",
    "TRANSITIONS",
    "HistoryEntry",
    "IdempotencyConflict",
    "InvalidTransition",
    "Listed",
    "NewSubmission",
    "NotFound",
    "Receipt",
    "SQLiteSubmissions",
    "SubmissionRecord",
    "SubmissionStore",
    "TransitionNotPermitted",
    "body_hash",
    "canonical_json",
    "create_many",
    "iter_submissions",
    "load_submission",
    "missing_attachments",
    "move_status",
    "search_text",
]

STATUSES = ("received", "in_review", "needs_info", "accepted", "rejected", "completed")
# A two-person procedure's first part waits for the other person (server.parties): not filed yet, so in no
# department queue, export or staff read; ``cancelled`` when either person withdrew it. Only the party flow
# moves a submission out of these (never a staff status change: TRANSITIONS has no entry for them).
HELD_STATUSES = ("awaiting_partner", "cancelled")
# received → in_review → needs_info → in_review → accepted | rejected → completed
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"in_review"}),
    "in_review": frozenset({"needs_info", "accepted", "rejected"}),
    "needs_info": frozenset({"in_review"}),
    "accepted": frozenset({"completed"}),
    "rejected": frozenset({"completed"}),
    "completed": frozenset(),
}

_enc = msgspec.json.Encoder(order="sorted")


class IdempotencyConflict(Exception):
    """The id was already used with a different body (or by another account)."""


class InvalidTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"cannot go from {current} to {target}")
        self.current = current
        self.target = target


class NotFound(Exception):
    pass


class TransitionNotPermitted(InvalidTransition):
    """A move the status model has, but not one the actor's role makes (``permitted`` said no, decided on the
    status current in the write transaction)."""


class Receipt(msgspec.Struct, kw_only=True):
    id: str
    receipt_number: str
    procedure_id: str
    procedure_version: str
    status: str
    received_at: str
    flags: list[str] = []


class Listed(Receipt, kw_only=True):
    """A row of the account's own list: with when it last changed (a device shows what is new since)."""

    updated_at: str


class HistoryEntry(msgspec.Struct, kw_only=True):
    at: str
    actor: str | None
    from_status: str | None
    to_status: str | None
    comment: str | None
    visible_to_resident: bool = True
    # A resident's reply to a request for information: the files they attached ({sha256, size, name, type}).
    files: list[dict[str, Any]] = []


class SubmissionRecord(Receipt, kw_only=True):
    department: str | None
    answers: dict[str, Any]
    account_id: str | None
    on_behalf_of: str | None
    updated_at: str
    history: list[HistoryEntry] = []
    # Paths of the answers that changed a prefilled value, decided when it was filed (flag prefill_corrected):
    # read with the row, so a page or export naming them reads nothing more. Staff pages only.
    corrected: list[str] = []


class NewSubmission(msgspec.Struct, kw_only=True):
    id: str
    procedure_id: str
    procedure_version: str
    department: str | None
    answers: dict[str, Any]
    body_hash: str
    flags: list[str]
    account_id: str | None
    on_behalf_of: str | None
    answers_json: bytes | None = None  # canonical_json(answers) when the caller already has it
    attachments: list[str] = []  # sha256 of the files it references: linked, flagged until all are stored
    status: str = "received"  # "awaiting_partner": the first part of a two-person procedure (server.parties)
    corrected: list[str] = []  # paths of the answers that changed a prefilled value (flag prefill_corrected)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace: how answers are stored and hashed."""
    return _enc.encode(value)


def body_hash(procedure_id: str, procedure_version: str, answers: Any, on_behalf_of: str | None, *,
              answers_json: bytes | None = None) -> str:
    """Canonical hash of what defines a submission (telemetry excluded: it may differ between retries).

    ``answers_json`` (= ``canonical_json(answers)``) saves encoding the answers a second time; the hashed
    bytes are the same either way: the canonical JSON of ``[procedure_id, procedure_version, answers,
    on_behalf_of]``.
    """
    if answers_json is None:
        answers_json = _enc.encode(answers)
    return hashlib.sha256(b"".join((
        b"[", _enc.encode(procedure_id), b",", _enc.encode(procedure_version), b",", answers_json, b",",
        _enc.encode(on_behalf_of), b"]"))).hexdigest()




_COLS = ("id, receipt_number, procedure_id, procedure_version, status, received_at, flags, department, answers,"
         " account_id, on_behalf_of, updated_at, corrected")


def _record(row: Any, history: list[HistoryEntry] | None = None) -> SubmissionRecord:
    return SubmissionRecord(
        id=row[0], receipt_number=row[1], procedure_id=row[2], procedure_version=row[3], status=row[4],
        received_at=row[5], flags=msgspec.json.decode(row[6]), department=row[7],
        answers=msgspec.json.decode(row[8]), account_id=row[9], on_behalf_of=row[10], updated_at=row[11],
        corrected=msgspec.json.decode(row[12]) if row[12] else [], history=history or [],
    )


def _receipt(rec: SubmissionRecord) -> Receipt:
    return Receipt(id=rec.id, receipt_number=rec.receipt_number, procedure_id=rec.procedure_id,
                   procedure_version=rec.procedure_version, status=rec.status, received_at=rec.received_at,
                   flags=rec.flags)


def _history(conn: sqlite3.Connection, sid: str) -> list[HistoryEntry]:
    # A reply's files sit with its event (server.storage.follow: submission_responses).
    return [
        HistoryEntry(at=r[0], actor=r[1], from_status=r[2], to_status=r[3], comment=r[4],
                     visible_to_resident=bool(r[5]), files=msgspec.json.decode(r[6]) if r[6] else [])
        for r in conn.execute("SELECT e.at, e.actor, e.from_status, e.to_status, e.comment, e.visible_to_resident,"
                              " r.files FROM submission_events e LEFT JOIN submission_responses r ON r.event_id = e.id"
                              " WHERE e.submission_id = ? ORDER BY e.id", (sid,))
    ]


def _load(conn: sqlite3.Connection, sid: str, *, history: bool = True) -> SubmissionRecord | None:
    row = conn.execute(f"SELECT {_COLS} FROM submissions WHERE id = ?", (sid,)).fetchone()
    if row is None:
        return None
    return _record(row, _history(conn, sid) if history else None)


load_submission = _load


class SubmissionStore(Protocol):
    async def create(self, new: NewSubmission, *,
                     also: Callable[[sqlite3.Connection], None] | None = None) -> tuple[Receipt, bool]: ...
    async def get(self, sid: str) -> SubmissionRecord | None: ...
    async def list_for_account(self, account_id: str, limit: int = 200, *,
                               resident_id: str | None = None) -> list[Listed]: ...
    async def queue(self, *, departments: list[str] | None, status: str | None, procedure: str | None,
                    search: str | None, limit: int = 100, offset: int = 0) -> list[SubmissionRecord]: ...
    async def transition(self, sid: str, target: str, *, actor: str, comment: str | None,
                         visible_to_resident: bool = True,
                         permitted: Callable[[str, str], bool] | None = None) -> SubmissionRecord: ...


Also = Callable[[sqlite3.Connection], None]


class _Creates:
    """The writer's batch of new submissions: all items queued together cost a handful of statements."""

    def run_many(self, conn: sqlite3.Connection, items: list[tuple[NewSubmission, Also | None]]) -> list[
            tuple[Receipt, bool] | Exception]:
        outcomes = create_many(conn, [new for new, _ in items])
        for (_, also), out in zip(items, outcomes, strict=True):
            if also is not None and isinstance(out, tuple) and out[1]:
                also(conn)
        return outcomes


_ROW_COLUMNS = ("id, receipt_number, procedure_id, procedure_version, department, status, answers, body_hash, flags,"
                " account_id, on_behalf_of, received_at, updated_at, search_text, corrected")


@functools.lru_cache(maxsize=64)
def _insert_sql(n: int) -> tuple[str, str]:
    """The two INSERTs of ``n`` new submissions, one multi-row statement per table.

    Plain parameters, not a JSON array: SQLite (before 3.45) would re-parse the whole JSON row for each
    extracted column. The writer never groups more than a few hundred jobs, far below SQLite's 32,766
    parameters.
    """
    rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * n)
    events = ", ".join(["(?, ?, ?, NULL, ?, NULL)"] * n)
    return (f"INSERT INTO submissions ({_ROW_COLUMNS}) VALUES {rows}",
            "INSERT INTO submission_events (submission_id, at, actor, from_status, to_status, comment)"
            f" VALUES {events}")


def missing_attachments(conn: sqlite3.Connection, account: str, shas: list[str]) -> list[str]:
    """The sha256 of ``shas`` whose file ``account`` does not hold: not stored yet, or stored by someone else
    (the same answer: whether a file exists is not revealed by naming it). One query; none when empty."""
    held = held_by(conn, ((sha, account) for sha in shas))
    return [s for s in shas if (s, account) not in held]


def _link_files(conn: sqlite3.Connection, created: list[NewSubmission]) -> set[str]:
    """Link the created submissions to their files; the ids of those naming a file their filer does not hold.

    The links say which submissions a file belongs to: who may read it (``server.attachments``; only through
    a link whose filer holds the file) and when a submission gets its last file
    (``submission.attachments_complete``). Submissions without files cost no statement.
    """
    with_files = [new for new in created if new.attachments]
    if not with_files:
        return set()
    held = held_by(conn, ((sha, new.account_id or "") for new in with_files for sha in new.attachments))
    conn.executemany("INSERT OR IGNORE INTO sync_submission_files (submission_id, sha256) VALUES (?, ?)",
                     [(new.id, sha) for new in with_files for sha in new.attachments])
    return {new.id for new in with_files if any((sha, new.account_id or "") not in held for sha in new.attachments)}


def create_many(conn: sqlite3.Connection, news: list[NewSubmission]) -> list[tuple[Receipt, bool] | Exception]:
    """Inside a write job: store each new submission once; ``(receipt, created)`` or the item's error.

    An id seen before (stored, or earlier in ``news``) with the same body and account is a retry: the first
    receipt, ``created`` False. With another body or account it is an :class:`IdempotencyConflict` that wrote
    nothing. Rows go in with one multi-row statement per table: the number of statements, not of rows, is what
    a group of submissions costs the writer. A created submission is linked to its ``attachments`` and flagged
    ``incomplete_attachments`` while one of them is not stored.
    """
    ids = list({new.id: None for new in news})
    existing = {row[0]: row for row in conn.execute(
        f"SELECT {_COLS}, body_hash FROM submissions WHERE id IN ({', '.join('?' * len(ids))})", ids)}
    outcomes: list[Any] = [None] * len(news)
    creating: dict[str, int] = {}
    for i, new in enumerate(news):
        row = existing.get(new.id)
        if row is not None:
            same = row[13] == new.body_hash and row[9] == new.account_id
            outcomes[i] = (_receipt(_record(row)), False) if same else IdempotencyConflict(new.id)
        elif new.id in creating:
            first = news[creating[new.id]]
            same = first.body_hash == new.body_hash and first.account_id == new.account_id
            outcomes[i] = creating[new.id] if same else IdempotencyConflict(new.id)  # resolved below
        else:
            creating[new.id] = i
    if creating:
        now = utc_now()
        # Receipt years follow the Japanese calendar year (JST), not UTC.
        year = dt.datetime.now(JST).year
        last = conn.execute(
            "INSERT INTO receipt_counters (year, last) VALUES (?, ?)"
            " ON CONFLICT(year) DO UPDATE SET last = last + excluded.last RETURNING last",
            (year, len(creating))).fetchone()[0]
        rows: list[Any] = []
        events: list[Any] = []
        incomplete = _link_files(conn, [news[i] for i in creating.values()])
        # Whom each is for, in the queue's search keys: one read of the records for the whole batch.
        names = filed_for(conn, [(news[i].on_behalf_of, news[i].account_id) for i in creating.values()])
        for k, i in enumerate(creating.values()):
            new = news[i]
            if new.id in incomplete and "incomplete_attachments" not in new.flags:
                new.flags = [*new.flags, "incomplete_attachments"]
            number = f"{year}-{last - len(creating) + 1 + k:06d}"
            rows += (new.id, number, new.procedure_id, new.procedure_version, new.department, new.status,
                     (new.answers_json or _enc.encode(new.answers)).decode(), new.body_hash,
                     _enc.encode(new.flags).decode(), new.account_id, new.on_behalf_of, now, now,
                     search_text(number, new.answers, names[k]), _enc.encode(new.corrected).decode() if new.corrected else None)
            events += (new.id, now, new.account_id, new.status)
            outcomes[i] = (Receipt(id=new.id, receipt_number=number, procedure_id=new.procedure_id,
                                   procedure_version=new.procedure_version, status=new.status, received_at=now,
                                   flags=new.flags), True)
        insert_rows, insert_events = _insert_sql(len(creating))
        conn.execute(insert_rows, rows)
        conn.execute(insert_events, events)
        # A department handing off at filing (``received``) gets its outbox row in this transaction.
        enqueue_handoff(conn, list(creating))
    for i, out in enumerate(outcomes):
        if isinstance(out, int):  # a retry of an id created earlier in this batch
            outcomes[i] = (outcomes[out][0], False)
    return outcomes


def move_status(conn: sqlite3.Connection, sid: str, frm: str, to: str, *, actor: str | None,
                comment: str | None = None, visible_to_resident: bool = True,
                answers: tuple[SubmissionRecord, dict[str, Any]] | None = None, flags: list[str] | None = None,
                corrected: list[str] | None = None) -> int:
    """Inside a write job: move submission ``sid`` from ``frm`` to ``to`` and record it in its history; the one
    writer of a status change (a reviewer's transition, a resident's reply, the last part of a two-person
    filing, a cancelled held part). ``answers``: ``(record, answers)``: the new answers stored with it, and
    its search text from the record the caller already holds (its receipt number, whom it is for: not read
    again); ``flags``: the new flags; ``corrected``: the paths that changed a prefilled value. Returns the
    ``submission_events`` row's id; the hand-off outbox row when the department hands off at ``to``
    (``server.storage.handoff.enqueue``). The caller decided that the move is allowed; a submission no longer
    ``frm`` (a caller's bug) is :class:`InvalidTransition`, nothing written. Audit entries are the caller's (each names its own action)."""
    now = utc_now()
    sets: list[str] = ["status = ?", "updated_at = ?"]
    args: list[Any] = [to, now]
    if answers is not None:
        rec, new = answers
        sets += ["answers = ?", "search_text = ?"]
        args += [_enc.encode(new).decode(),
                 search_text(rec.receipt_number, new, filed_for(conn, [(rec.on_behalf_of, rec.account_id)])[0])]
    if flags is not None:
        sets.append("flags = ?")
        args.append(_enc.encode(flags).decode())
    if corrected is not None:
        sets.append("corrected = ?")
        args.append(_enc.encode(corrected).decode() if corrected else None)
    if conn.execute(f"UPDATE submissions SET {', '.join(sets)} WHERE id = ? AND status = ?",
                    [*args, sid, frm]).rowcount != 1:
        raise InvalidTransition(frm, to)
    # The hand-off to the department's core system commits (or rolls back) with the status change itself.
    enqueue_handoff(conn, [sid])
    return int(conn.execute(
        "INSERT INTO submission_events (submission_id, at, actor, from_status, to_status, comment,"
        " visible_to_resident) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (sid, now, actor, frm, to, comment, int(visible_to_resident))).fetchone()[0])


class SQLiteSubmissions:
    def __init__(self, db: Any) -> None:
        self.db = db
        self._creates = _Creates()

    async def create(self, new: NewSubmission, *, also: Also | None = None) -> tuple[Receipt, bool]:
        """``also`` runs in the same transaction, only when the submission is created (not on a retry)."""
        return await self.db.write_batched(self._creates, (new, also))

    async def get(self, sid: str) -> SubmissionRecord | None:
        return await self.db.read(lambda c: _load(c, sid))

    async def list_for_account(self, account_id: str, limit: int = 200, *,
                               resident_id: str | None = None) -> list[Listed]:
        """What the account filed, and (``resident_id``: the registry record a resident's account is bound to)
        the filed submissions staff made for that resident: the SQL form of ``server.authz.submission_readable``
        for a resident's own list (a held part is its filer's only)."""
        held = ", ".join("?" * len(HELD_STATUSES))

        def q(c: sqlite3.Connection) -> list[Listed]:
            # A UNION of the two indexed selections (submissions_account, submissions_on_behalf).
            rows = c.execute(f"SELECT {_COLS} FROM submissions WHERE account_id = ?"
                             f" UNION SELECT {_COLS} FROM submissions WHERE on_behalf_of = ? AND account_id <> ?"
                             f" AND status NOT IN ({held})"
                             " ORDER BY received_at DESC LIMIT ?",
                             (account_id, resident_id, account_id, *HELD_STATUSES, limit)).fetchall()
            return [Listed(**msgspec.structs.asdict(_receipt(rec)), updated_at=rec.updated_at)
                    for rec in map(_record, rows)]

        return await self.db.read(q)

    async def queue(self, *, departments: list[str] | None, status: str | None, procedure: str | None,
                    search: str | None, limit: int = 100, offset: int = 0) -> list[SubmissionRecord]:
        sql, args = _selection(status, procedure, departments)
        if search:  # the raw text or its name-folded key (server.storage.submission_search)
            clause, more = queue_condition(search)
            sql += clause
            args += more
        sql += " ORDER BY received_at LIMIT ? OFFSET ?"
        args += [limit, offset]
        return await self.db.read(
            lambda c: [_record(r) for r in c.execute(sql, args).fetchall()])

    async def transition(self, sid: str, target: str, *, actor: str, comment: str | None,
                         visible_to_resident: bool = True,
                         permitted: Callable[[str, str], bool] | None = None) -> SubmissionRecord:
        """``permitted(current, target)``: whether the actor's role makes this move (server.authz), asked on
        the status current inside the write, so a change that raced ahead cannot widen what a role may do."""
        def job(c: sqlite3.Connection) -> SubmissionRecord:
            rec = _load(c, sid, history=False)
            if rec is None:
                raise NotFound(sid)
            if target not in TRANSITIONS.get(rec.status, frozenset()):
                raise InvalidTransition(rec.status, target)
            if permitted is not None and not permitted(rec.status, target):
                raise TransitionNotPermitted(rec.status, target)
            move_status(c, sid, rec.status, target, actor=actor, comment=comment,
                        visible_to_resident=visible_to_resident)
            append_audit(c, actor=actor, action="submission.status", subject=f"submission:{sid}",
                         details={"from": rec.status, "to": target})
            out = _load(c, sid)
            assert out is not None
            return out

        return await self.db.write(job)


def _selection(status: str | None, procedure: str | None,
               departments: list[str] | None = None) -> tuple[str, list[Any]]:
    """The submissions query filtered by status, procedure and ``departments`` (None: every department; the
    list comes from ``server.auth.roles.department_filter``), open for more ``AND`` clauses."""
    # Held first parts of two-person procedures are not filed yet: no queue or export shows them.
    sql = f"SELECT {_COLS} FROM submissions WHERE status NOT IN ({', '.join(repr(s) for s in HELD_STATUSES)})"
    args: list[Any] = []
    if departments is not None:
        sql += f" AND department IN ({', '.join('?' * len(departments))})" if departments else " AND 0"
        args += departments
    if status:
        sql += " AND status = ?"
        args.append(status)
    if procedure:
        sql += " AND procedure_id = ?"
        args.append(procedure)
    return sql, args


def iter_submissions(conn: sqlite3.Connection, *, status: str | None = None, procedure: str | None = None,
                     departments: list[str] | None = None) -> Iterator[SubmissionRecord]:
    """Every matching submission in receipt order (exports), within ``departments`` as the queue."""
    sql, args = _selection(status, procedure, departments)
    for row in conn.execute(sql + " ORDER BY received_at, receipt_number", args):
        yield _record(row)
