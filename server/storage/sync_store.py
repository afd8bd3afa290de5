"""Server-side storage of the sync protocol (tables of component ``"sync"``).

Everything here runs inside one write job of :class:`server.storage.db.Database` (``await db.write(fn)``),
so a mutation's effect, its history row, its change-log entry, its conflict records and its receipt are
committed in ONE transaction: after a crash either all of them exist or none does. Each mutation also gets
its own SAVEPOINT, so a mutation whose handler raises (a "poison" mutation) is rolled back alone and
answered with a terminal ``rejected`` receipt while the rest of the batch commits.

Tables (``sync_`` prefix: they share the file with the rest of the server):
``sync_records``          current state per (type, id): version, data, deleted, last_client, owner, department
``sync_record_versions``  every version with the client/account/mutation that produced it and its fields
``sync_changes``          the change log: one row per record, re-inserted (new AUTOINCREMENT seq) on change
``sync_access``           who (outreach) may see which shared record
``sync_receipts``         mutation_id → content hash + receipt JSON (the idempotency table)
``sync_conflicts``        open/resolved conflicts with base / server / mine per field
``sync_review_tasks``     view: the open conflicts that need a person (review policy, deletes)
``sync_blobs``            content-addressed uploads (resumable) and ``sync_submission_files``
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from server.audit import append_audit
from sync.commands import run_command
from sync.hlc import DEFAULT_MAX_DRIFT_MS, drift_ms
from sync.merge import HistoryEntry, RecordState, merge_delete, merge_patch
from sync.messages import (
    Change,
    ConflictInfo,
    Mutation,
    PullPage,
    Receipt,
    content_hash,
)
from sync.records import CREATE_ROLES, DRAFT, Principal, assignees_of, can_access, schema_for

__all__ = [
    "MIGRATIONS",
    "ConflictRow",
    "KeyReuse",
    "NotFoundError",
    "PermissionDenied",
    "ProcedureInfo",
    "StaleConflict",
    "SyncStore",
    "Verdict",
]

_V1 = """
CREATE TABLE sync_records (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',     -- set-field element stamps and tombstones
    deleted INTEGER NOT NULL DEFAULT 0,
    last_client TEXT,
    owner TEXT,                          -- drafts: the owning account; shared: the creator
    department TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (type, id)
);

CREATE TABLE sync_record_versions (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    client_id TEXT,
    client_seq INTEGER,
    account_id TEXT,
    mutation_id TEXT,
    fields TEXT NOT NULL,                -- JSON list of the fields this version changed
    data TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (type, id, version)
);

CREATE TABLE sync_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    UNIQUE (type, id)
);

CREATE TABLE sync_access (
    account_id TEXT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (account_id, type, id)
);

CREATE TABLE sync_receipts (
    mutation_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_seq INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    receipt TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX sync_receipts_client ON sync_receipts (client_id, client_seq);

CREATE TABLE sync_conflicts (
    id INTEGER PRIMARY KEY,
    mutation_id TEXT NOT NULL,
    type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    policy TEXT NOT NULL,
    outcome TEXT NOT NULL,
    base TEXT,
    server TEXT,
    mine TEXT,
    status TEXT NOT NULL DEFAULT 'open',  -- open | resolved
    account_id TEXT,                      -- who made the mutation
    client_id TEXT,
    department TEXT,
    record_version INTEGER,
    created_at TEXT NOT NULL,
    resolved_by TEXT,
    resolved_at TEXT,
    choice TEXT,
    resolved_value TEXT
);
CREATE INDEX sync_conflicts_open ON sync_conflicts (status, department);
CREATE INDEX sync_conflicts_record ON sync_conflicts (type, record_id);
CREATE INDEX sync_conflicts_account ON sync_conflicts (account_id, status);

CREATE VIEW sync_review_tasks AS
    SELECT * FROM sync_conflicts WHERE status = 'open' AND outcome <> 'mine_applied';

CREATE TABLE sync_blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    type TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    completed_at TEXT
);

CREATE TABLE sync_submission_files (
    submission_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (submission_id, sha256)
);
CREATE INDEX sync_submission_files_sha ON sync_submission_files (sha256);
"""

MIGRATIONS: list[tuple[int, str]] = [(1, _V1)]

_enc = msgspec.json.Encoder(order="sorted")
_dec = msgspec.json.Decoder()
_receipt_dec = msgspec.json.Decoder(Receipt)


def _j(v: Any) -> str:
    return _enc.encode(v).decode()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class KeyReuse(Exception):
    """One or more mutation ids were already used with a different body (or by another account)."""

    def __init__(self, mutation_ids: list[str]) -> None:
        super().__init__(", ".join(mutation_ids))
        self.mutation_ids = mutation_ids


class NotFoundError(Exception):
    pass


class PermissionDenied(Exception):
    pass


class StaleConflict(Exception):
    """The conflict is already resolved."""


@dataclass(frozen=True)
class ProcedureInfo:
    department: str | None = None
    retired: bool = False
    known: bool = True


class _Poison(Exception):
    """Raised out of the fast path so the batch is replayed with per-mutation savepoints."""


class _Rejected(Exception):
    def __init__(self, reason: str, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.result = result or {}


@dataclass(frozen=True)
class Verdict:
    """A decision about a ``submission.create`` made before the write job (answers validated against the
    procedure in worker processes, filer and resident checks): a terminal rejection with its reason."""

    reason: str
    message: str
    result: dict[str, Any] | None = None


@dataclass
class _Batch:
    """The state of one pass over a push batch, handed down explicitly (the store keeps only its
    configuration, so one store serves concurrent requests): the verdicts decided before the write job,
    the batch's timestamp (every version and receipt of the batch carries it) and the records written,
    for the push's single audit entry."""

    verdicts: dict[str, Verdict]
    now: str = field(default_factory=_now)
    writes: list[str] = field(default_factory=list)


class ConflictRow(msgspec.Struct, kw_only=True):
    id: int
    mutation_id: str
    type: str
    record_id: str
    field: str
    policy: str
    outcome: str
    base: Any = None
    server: Any = None
    mine: Any = None
    status: str = "open"
    account_id: str | None = None
    client_id: str | None = None
    department: str | None = None
    record_version: int | None = None
    created_at: str = ""
    resolved_by: str | None = None
    resolved_at: str | None = None
    choice: str | None = None
    resolved_value: Any = None
    current: Any = None  # the field's value now (filled by get/list for the console)
    record_label: str | None = None  # who/what the record is, for people: a name, else None


_CONFLICT_COLS = ("id, mutation_id, type, record_id, field, policy, outcome, base, server, mine, status,"
                  " account_id, client_id, department, record_version, created_at, resolved_by, resolved_at,"
                  " choice, resolved_value")


def _conflict(row: Sequence[Any]) -> ConflictRow:
    def d(x: Any) -> Any:
        return None if x is None else _dec.decode(x)

    return ConflictRow(id=row[0], mutation_id=row[1], type=row[2], record_id=row[3], field=row[4],
                       policy=row[5], outcome=row[6], base=d(row[7]), server=d(row[8]), mine=d(row[9]),
                       status=row[10], account_id=row[11], client_id=row[12], department=row[13],
                       record_version=row[14], created_at=row[15], resolved_by=row[16], resolved_at=row[17],
                       choice=row[18], resolved_value=d(row[19]))


class _Row:
    __slots__ = ("data", "deleted", "department", "meta", "owner", "version")

    def __init__(self, version: int, data: dict[str, Any], meta: dict[str, Any], deleted: bool,
                 owner: str | None, department: str | None) -> None:
        self.version = version
        self.data = data
        self.meta = meta
        self.deleted = deleted
        self.owner = owner
        self.department = department


class SyncStore:
    """All sync storage operations. Methods ending in ``_in`` take the writer connection and must run
    inside a write job; the others take any (reader) connection."""

    def __init__(self, *, procedure_info: Callable[[str, str], ProcedureInfo] | None = None,
                 max_drift_ms: int = DEFAULT_MAX_DRIFT_MS, clock_ms: Callable[[], int] | None = None,
                 audit: bool = True) -> None:
        self.procedure_info = procedure_info or (lambda pid, ver: ProcedureInfo(known=False))
        self.max_drift_ms = max_drift_ms
        self.clock_ms = clock_ms or (lambda: int(dt.datetime.now(dt.UTC).timestamp() * 1000))
        self.audit = audit

    # -- push --------------------------------------------------------------------------------------
    def push_in(self, conn: sqlite3.Connection, principal: Principal, mutations: Sequence[Mutation], *,
                verdicts: dict[str, Verdict] | None = None) -> list[Receipt]:
        """Apply a batch in order; one receipt per mutation. Raises :class:`KeyReuse` (and writes
        nothing) when an id comes back with a different body. ``verdicts``: rejections decided before the
        write job (by mutation id); a mutation already processed keeps its stored receipt regardless."""
        hashes = [content_hash(m) for m in mutations]
        reused: list[str] = []
        seen: dict[str, str] = {}
        stored: dict[str, str] = {}
        ids = list({m.mutation_id for m in mutations})
        for i in range(0, len(ids), 500):
            part = ids[i: i + 500]
            for row in conn.execute("SELECT mutation_id, content_hash, account_id, receipt FROM sync_receipts"
                                    f" WHERE mutation_id IN ({','.join('?' * len(part))})", part):
                seen[row[0]] = row[1]
                stored[row[0]] = row[3]
                if row[2] != principal.id:
                    reused.append(row[0])
        for m, h in zip(mutations, hashes, strict=True):
            if m.mutation_id in seen and seen[m.mutation_id] != h:
                reused.append(m.mutation_id)
            seen.setdefault(m.mutation_id, h)
        if reused:
            raise KeyReuse(sorted(set(reused)))
        # Fast path: no per-mutation savepoints. Rejections never follow a partial write, so only an
        # unexpected exception (a poison mutation) needs isolation: then the whole batch is undone and
        # replayed with one savepoint per mutation.
        conn.execute("SAVEPOINT batch")
        try:
            out, batch = self._batch(conn, principal, mutations, hashes, stored, verdicts or {}, isolate=False)
        except _Poison:
            conn.execute("ROLLBACK TO batch")
            out, batch = self._batch(conn, principal, mutations, hashes, stored, verdicts or {}, isolate=True)
        conn.execute("RELEASE batch")
        if self.audit and batch.writes:
            # One hash-chained audit entry per push (the per-version history with account and mutation
            # ids is in sync_record_versions); subjects listed so the entry can be found.
            append_audit(conn, actor=principal.id, action="sync.push", subject=None,
                         details={"records": batch.writes[:1000], "count": len(batch.writes)})
        return out

    def _batch(self, conn: sqlite3.Connection, principal: Principal, mutations: Sequence[Mutation],
               hashes: list[str], stored: dict[str, str], verdicts: dict[str, Verdict], *,
               isolate: bool) -> tuple[list[Receipt], _Batch]:
        batch = _Batch(verdicts)  # a replay (isolate=True) starts afresh: the first pass was rolled back
        out: list[Receipt] = []
        done: dict[str, Receipt] = {}
        for m, h in zip(mutations, hashes, strict=True):
            if m.mutation_id in stored or m.mutation_id in done:
                first = done.get(m.mutation_id) or _receipt_dec.decode(stored[m.mutation_id])
                out.append(msgspec.structs.replace(first, status="duplicate", original_status=first.status))
                continue
            r = self._one(conn, batch, principal, m, h, isolate)
            done[m.mutation_id] = r
            out.append(r)
        return out, batch

    def _one(self, conn: sqlite3.Connection, batch: _Batch, p: Principal, m: Mutation, h: str,
             isolate: bool = True) -> Receipt:
        flags: list[str] = []
        if m.client_hlc is not None:
            ahead = drift_ms(m.client_hlc, self.clock_ms())
            if ahead is None:
                flags.append("bad_hlc")
            elif ahead > self.max_drift_ms:
                flags.append("clock_ahead")
        if isolate:
            conn.execute("SAVEPOINT mutation")
        try:
            receipt = self._apply(conn, batch, p, m)
        except sqlite3.OperationalError:
            # Disk full, I/O error, locked: transient, not the mutation's fault. Let the request fail so
            # the device retries later; the same id will then be applied once.
            if isolate:
                conn.execute("ROLLBACK TO mutation")
                conn.execute("RELEASE mutation")
            raise
        except _Rejected as exc:
            if isolate:
                conn.execute("ROLLBACK TO mutation")
            receipt = Receipt(mutation_id=m.mutation_id, status="rejected", reason=exc.reason, message=exc.message,
                              result=exc.result)
        except Exception as exc:  # a poison mutation: terminal, so it never blocks the device's queue
            if not isolate:
                raise _Poison from exc
            conn.execute("ROLLBACK TO mutation")
            receipt = Receipt(mutation_id=m.mutation_id, status="rejected", reason="internal_error",
                              message=f"サーバーで処理できませんでした ({type(exc).__name__})")
        if isolate:
            conn.execute("RELEASE mutation")
        if not receipt.seq:
            receipt.seq = self._high_water(conn)
        receipt.flags = flags + receipt.flags
        conn.execute(
            "INSERT INTO sync_receipts (mutation_id, account_id, client_id, client_seq, content_hash, status,"
            " receipt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (m.mutation_id, p.id, m.client_id, m.client_seq, h, receipt.status, _j(receipt), batch.now))
        return receipt

    @staticmethod
    def _high_water(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT MAX(seq) FROM sync_changes").fetchone()
        return int(row[0] or 0)

    def _apply(self, conn: sqlite3.Connection, batch: _Batch, p: Principal, m: Mutation) -> Receipt:
        if m.kind == "submission.create":
            return self._submission(conn, batch, p, m)
        rtype = m.entity.type
        schema = schema_for(rtype)
        if schema is None:
            raise _Rejected("unknown_entity_type", f"同期できない種類の記録です: {rtype}")
        if m.kind == "draft.patch" and rtype != DRAFT:
            raise _Rejected("bad_kind", "draft.patch は下書きにだけ使えます")
        if m.kind == "record.patch" and rtype == DRAFT:
            raise _Rejected("bad_kind", "下書きには draft.patch を使ってください")
        row = self._load(conn, rtype, m.entity.id)
        if row is None:
            if m.kind in ("record.delete", "command"):
                raise _Rejected("not_found", "対象の記録が見つかりません")
            if rtype != DRAFT and p.role not in CREATE_ROLES:
                raise _Rejected("forbidden", "この記録を作成する権限がありません")
        elif not self._visible(conn, p, rtype, m.entity.id, row):
            raise _Rejected("forbidden", "この記録を変更する権限がありません")
        history = self._history(conn, rtype, m.entity.id, m.base_version) if row is not None else []
        state = RecordState(row.version, row.data, row.deleted, row.meta) if row is not None else None

        if m.kind == "record.delete":
            dres = merge_delete(state, base_version=m.base_version, client_id=m.client_id,
                                client_seq=m.client_seq, history=history)
            assert row is not None
            ids = self._conflicts_in(conn, p, m, dres.conflicts, row.department, row.version)
            if dres.deleted and not row.deleted:
                seq = self._write(conn, p, m, rtype, m.entity.id, row, row.data, row.meta, True, {"_deleted"},
                                  batch=batch)
                return Receipt(mutation_id=m.mutation_id, status=dres.status, version=row.version + 1, seq=seq)
            return Receipt(mutation_id=m.mutation_id, status=dres.status, version=row.version,
                           conflicts=ids)

        if m.kind == "command":
            if m.command is None:
                raise _Rejected("bad_request", "command がありません")
            assert row is not None
            out = run_command(m.command.name, m.command.args, rtype, row.data, row.deleted)
            if not out.ok:
                raise _Rejected(out.reason or "rejected", out.message or "実行できませんでした")
            changed = {k for k, v in out.fields.items() if row.data.get(k) != v}
            if not changed:
                return Receipt(mutation_id=m.mutation_id, status="applied", version=row.version)
            seq = self._write(conn, p, m, rtype, m.entity.id, row, {**row.data, **out.fields}, row.meta, False, changed,
                              batch=batch)
            return Receipt(mutation_id=m.mutation_id, status="applied", version=row.version + 1, seq=seq)

        res = merge_patch(state, changes=m.changes, set_ops=m.set_ops, base_version=m.base_version,
                          client_id=m.client_id, client_seq=m.client_seq, schema=schema, history=history)
        if res.status == "rejected":
            raise _Rejected(res.reason or "rejected", "この項目は直接変更できません（操作を使ってください）")
        dept = row.department if row is not None else None
        version = row.version if row is not None else 0
        ids = self._conflicts_in(conn, p, m, res.conflicts, dept if row else res.data.get("department"), version)
        if row is None:
            row = _Row(0, {}, {}, False, p.id, res.data.get("department") if rtype != DRAFT else None)
            res.changed.add("_created")
        if res.changed:
            seq = self._write(conn, p, m, rtype, m.entity.id, row, res.data, res.meta, res.deleted, res.changed,
                              batch=batch)
            return Receipt(mutation_id=m.mutation_id, status=res.status, version=row.version + 1, seq=seq,
                           conflicts=ids)
        return Receipt(mutation_id=m.mutation_id, status=res.status, version=row.version or None, conflicts=ids)

    def _load(self, conn: sqlite3.Connection, rtype: str, rid: str) -> _Row | None:
        r = conn.execute("SELECT version, data, meta, deleted, owner, department FROM sync_records"
                         " WHERE type = ? AND id = ?", (rtype, rid)).fetchone()
        if r is None:
            return None
        return _Row(r[0], _dec.decode(r[1]), _dec.decode(r[2]), bool(r[3]), r[4], r[5])

    @staticmethod
    def _visible(conn: sqlite3.Connection, p: Principal, rtype: str, rid: str, row: _Row) -> bool:
        assignees: Iterable[str] = ()
        if p.role == "outreach" and rtype != DRAFT:
            assignees = [r[0] for r in conn.execute(
                "SELECT account_id FROM sync_access WHERE type = ? AND id = ? AND account_id = ?", (rtype, rid, p.id))]
            if not assignees and conn.execute(
                    f"SELECT 1 FROM (SELECT ? AS t, ? AS i) x WHERE {_assigned_clause('x.t', 'x.i', '?')}",
                    (rtype, rid, p.id, p.id, p.id)).fetchone():
                assignees = [p.id]
        return can_access(p, rtype, owner=row.owner, department=row.department, assignees=assignees)

    # -- outreach assignments ---------------------------------------------------------------------------
    @staticmethod
    def missing_assigned(conn: sqlite3.Connection, p: Principal) -> bool:
        """Whether a household or resident assigned to this outreach worker has no sync record yet."""
        if p.role != "outreach":
            return False
        row = conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM residents m WHERE ({_assigned_residents('?')})"
            " AND (NOT EXISTS (SELECT 1 FROM sync_records s WHERE s.type = 'resident' AND s.id = m.id)"
            " OR (m.household_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sync_records s"
            " WHERE s.type = 'household' AND s.id = m.household_id))))", (p.id, p.id)).fetchone()
        return bool(row[0])

    def materialize_assigned_in(self, conn: sqlite3.Connection, p: Principal) -> int:
        """Create the sync records of the households (and their members) assigned to ``p`` from the registry,
        once: from then on they are shared records edited through the protocol (version 1 comes from
        ``client_id`` ``registry``). Returns how many records were created."""
        rows = conn.execute(f"SELECT m.id, m.household_id, m.record FROM residents m WHERE {_assigned_residents('?')}"
                            " ORDER BY m.id", (p.id, p.id)).fetchall()
        people = [(rid, hid, _dec.decode(rec)) for rid, hid, rec in rows]
        created = 0
        households: dict[str, list[dict[str, Any]]] = {}
        for rid, hid, rec in people:
            if hid:
                households.setdefault(hid, []).append({"id": rid, **rec})
            if self._load(conn, "resident", rid) is None:
                self._write(conn, p, None, "resident", rid, _Row(0, {}, {}, False, None, None),
                            _resident_data(rec), {}, False, {"_created"}, client_id="registry")
                created += 1
        for hid, members in households.items():
            if self._load(conn, "household", hid) is None:
                # Every member of the household, not only the assigned ones: a visit is to the household.
                everyone = [{"id": r[0], **_dec.decode(r[1])} for r in conn.execute(
                    "SELECT id, record FROM residents WHERE household_id = ? ORDER BY id", (hid,))] or members
                self._write(conn, p, None, "household", hid, _Row(0, {}, {}, False, None, None),
                            _household_data(hid, everyone), {}, False, {"_created"}, client_id="registry")
                created += 1
                for member in everyone:
                    if self._load(conn, "resident", member["id"]) is None:
                        self._write(conn, p, None, "resident", member["id"], _Row(0, {}, {}, False, None, None),
                                    _resident_data(member), {}, False, {"_created"}, client_id="registry")
                        created += 1
        if created and self.audit:
            append_audit(conn, actor=p.id, action="sync.materialize", subject=None,
                         details={"records": created, "source": "registry"})
        return created

    @staticmethod
    def _history(conn: sqlite3.Connection, rtype: str, rid: str, base_version: int | None) -> list[HistoryEntry]:
        return [HistoryEntry(r[0], r[1], r[2], frozenset(_dec.decode(r[3])))
                for r in conn.execute("SELECT version, client_id, client_seq, fields FROM sync_record_versions"
                                      " WHERE type = ? AND id = ? AND version > ? ORDER BY version",
                                      (rtype, rid, base_version or 0))]

    def _write(self, conn: sqlite3.Connection, p: Principal, m: Mutation | None, rtype: str, rid: str, row: _Row,
               data: dict[str, Any], meta: dict[str, Any], deleted: bool, changed: set[str],
               *, client_id: str | None = None, batch: _Batch | None = None) -> int:
        """Store a new version of a record and move it to the end of the change log; returns its seq.
        ``batch``: the push this write belongs to (with ``m``); None for console and registry writes."""
        version = row.version + 1
        now = batch.now if batch is not None else _now()
        data_json = _j(data)
        cid = m.client_id if m is not None else client_id
        department = row.department
        if rtype != DRAFT and isinstance(data.get("department"), str):
            department = data["department"]
        if row.version == 0:
            conn.execute("INSERT INTO sync_records (type, id, version, data, meta, deleted, last_client, owner,"
                         " department, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (rtype, rid, version, data_json, _j(meta), int(deleted), cid,
                          row.owner, department, now, now))
        if row.version != 0:
            conn.execute("UPDATE sync_records SET version = ?, data = ?, meta = ?, deleted = ?, last_client = ?,"
                         " department = ?, updated_at = ? WHERE type = ? AND id = ?",
                         (version, data_json, _j(meta), int(deleted), cid, department, now, rtype, rid))
        conn.execute("INSERT INTO sync_record_versions (type, id, version, client_id, client_seq, account_id,"
                     " mutation_id, fields, data, deleted, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (rtype, rid, version, cid, m.client_seq if m else None, p.id,
                      m.mutation_id if m else None, _j(sorted(changed)), data_json, int(deleted), now))
        if rtype != DRAFT:
            # Access rows matter for outreach workers only (others see by role or department).
            creator = (row.owner if row.version else p.id) if p.role == "outreach" or row.version else None
            if row.version == 0 or "assignees" in changed or "assignee" in changed:
                for acc in assignees_of(data, creator):
                    conn.execute("INSERT OR IGNORE INTO sync_access (account_id, type, id) VALUES (?, ?, ?)",
                                 (acc, rtype, rid))
            if batch is not None:
                batch.writes.append(f"{rtype}:{rid}@{version}")
        cur = conn.execute("INSERT OR REPLACE INTO sync_changes (type, id) VALUES (?, ?)", (rtype, rid))
        return int(cur.lastrowid or 0)

    def _conflicts_in(self, conn: sqlite3.Connection, p: Principal, m: Mutation, conflicts: list[ConflictInfo],
                      department: str | None, version: int) -> list[ConflictInfo]:
        now = _now()
        out = []
        for c in conflicts:
            cur = conn.execute(
                "INSERT INTO sync_conflicts (mutation_id, type, record_id, field, policy, outcome, base, server,"
                " mine, account_id, client_id, department, record_version, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (m.mutation_id, m.entity.type, m.entity.id, c.field, c.policy, c.outcome, _j(c.base),
                 _j(c.server), _j(c.mine), p.id, m.client_id, department, version, now))
            out.append(msgspec.structs.replace(c, conflict_id=int(cur.lastrowid or 0)))
        return out

    # -- submissions ---------------------------------------------------------------------------------
    def _submission(self, conn: sqlite3.Connection, batch: _Batch, p: Principal, m: Mutation) -> Receipt:
        from server.storage.submissions import (
            IdempotencyConflict,
            NewSubmission,
            SQLiteSubmissions,
            body_hash,
        )

        s = m.submission
        if s is None or m.entity.type != "submission":
            raise _Rejected("bad_request", "submission.create には submission が必要です")
        if p.role not in ("resident", "counter", "outreach"):
            raise _Rejected("forbidden", "申請を提出する権限がありません")
        if s.on_behalf_of is not None and p.role == "resident":
            raise _Rejected("forbidden", "代理の申請は職員だけができます")
        verdict = batch.verdicts.get(m.mutation_id)
        if verdict is not None:
            raise _Rejected(verdict.reason, verdict.message, verdict.result)
        info = self.procedure_info(s.procedure_id, s.procedure_version)
        flags: list[str] = []
        if info.retired:
            flags.append("retired_version")
        if not info.known:
            flags.append("unknown_version")  # stored and flagged, never refused for its version alone
        shas = sorted({x for x in s.attachments if isinstance(x, str)})
        missing = [x for x in shas if not self._blob_complete(conn, x)]
        if missing:
            flags.append("incomplete_attachments")
        new = NewSubmission(id=m.entity.id, procedure_id=s.procedure_id, procedure_version=s.procedure_version,
                            department=info.department, answers=s.answers,
                            body_hash=body_hash(s.procedure_id, s.procedure_version, s.answers, s.on_behalf_of),
                            flags=flags, account_id=p.id, on_behalf_of=s.on_behalf_of)
        try:
            rec, created = SQLiteSubmissions.create_in(conn, new)
        except IdempotencyConflict:
            raise _Rejected("id_conflict", "同じIDの別の申請がすでにあります") from None
        for sha in shas:
            conn.execute("INSERT OR IGNORE INTO sync_submission_files (submission_id, sha256) VALUES (?, ?)",
                         (m.entity.id, sha))
        if created:
            append_audit(conn, actor=p.id, action="submission.create", subject=f"submission:{m.entity.id}",
                         details={"via": "sync", "mutation_id": m.mutation_id, "flags": flags})
            if p.role != "resident":  # as POST /api/submissions: staff filing for a resident is audited
                append_audit(conn, actor=p.id, action="submission.file_on_behalf",
                             subject=f"submission:{m.entity.id}", details={"resident": s.on_behalf_of})
            if s.telemetry is not None:
                _store_telemetry(conn, s.procedure_id, s.telemetry)
        return Receipt(mutation_id=m.mutation_id, status="applied", result={
            "receipt_number": rec.receipt_number, "status": rec.status,
            "missing_blobs": [x for x in shas if not self._blob_complete(conn, x)],
            "flags": rec.flags})

    @staticmethod
    def _blob_complete(conn: sqlite3.Connection, sha: str) -> bool:
        if conn.execute("SELECT 1 FROM sync_blobs WHERE sha256 = ? AND complete = 1", (sha,)).fetchone():
            return True
        return conn.execute("SELECT 1 FROM attachments WHERE sha256 = ?", (sha,)).fetchone() is not None

    # -- pull ------------------------------------------------------------------------------------------
    @staticmethod
    def pull(conn: sqlite3.Connection, p: Principal, cursor: int, limit: int) -> PullPage:
        """One page of changes after ``cursor`` that ``p`` may see, in seq order."""
        limit = max(1, min(limit, 5000))
        conn.execute("BEGIN")  # one snapshot for the high-water mark and the page
        try:
            hwm = int(conn.execute("SELECT MAX(seq) FROM sync_changes").fetchone()[0] or 0)
            where = "(r.type = 'draft' AND r.owner = :me)"
            if p.role in ("counter", "admin"):
                where += " OR r.type <> 'draft'"
            elif p.role == "reviewer" and p.department:
                where += " OR (r.type <> 'draft' AND r.department = :dept)"
            elif p.role == "outreach":
                where += (" OR (r.type <> 'draft' AND EXISTS (SELECT 1 FROM sync_access a WHERE a.account_id = :me"
                          f" AND a.type = r.type AND a.id = r.id)) OR {_assigned_clause('r.type', 'r.id', ':me')}")
            rows = conn.execute(
                "SELECT c.seq, r.type, r.id, r.version, r.deleted, r.data FROM sync_changes c"
                " JOIN sync_records r ON r.type = c.type AND r.id = c.id"
                f" WHERE c.seq > :cursor AND c.seq <= :hwm AND ({where}) ORDER BY c.seq LIMIT :lim",
                {"me": p.id, "dept": p.department, "cursor": cursor, "hwm": hwm, "lim": limit + 1}).fetchall()
        finally:
            conn.execute("COMMIT")
        has_more = len(rows) > limit
        rows = rows[:limit]
        changes = [Change(seq=r[0], type=r[1], id=r[2], version=r[3], deleted=bool(r[4]), data=_dec.decode(r[5]))
                   for r in rows]
        new_cursor = changes[-1].seq if has_more else max(cursor, hwm)
        return PullPage(changes=changes, cursor=new_cursor, has_more=has_more)

    # -- conflicts -------------------------------------------------------------------------------------
    @staticmethod
    def _conflict_scope(p: Principal) -> tuple[str, list[Any]]:
        if p.role in ("counter", "admin"):
            return "1 = 1", []
        if p.role == "reviewer":
            return "(department = ? OR account_id = ?)", [p.department, p.id]
        if p.role == "outreach":
            return ("(account_id = ? OR EXISTS (SELECT 1 FROM sync_access a WHERE a.account_id = ?"
                    " AND a.type = sync_conflicts.type AND a.id = sync_conflicts.record_id) OR "
                    f"{_assigned_clause('sync_conflicts.type', 'sync_conflicts.record_id', '?')})"), [p.id] * 5
        return "account_id = ?", [p.id]  # residents: the conflicts of their own mutations (drafts)

    def list_conflicts(self, conn: sqlite3.Connection, p: Principal, *, status: str | None = "open",
                       mine_only: bool = False, limit: int = 200) -> list[ConflictRow]:
        scope, args = self._conflict_scope(p)
        sql = f"SELECT {_CONFLICT_COLS} FROM sync_conflicts WHERE {scope}"
        if status:
            sql += " AND status = ?"
            args.append(status)
        if mine_only:
            sql += " AND account_id = ?"
            args.append(p.id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        out = [_conflict(r) for r in conn.execute(sql, args)]
        for c in out:
            c.current = self._current_value(conn, c)
            c.record_label = self._record_label(conn, c)
        return out

    def get_conflict(self, conn: sqlite3.Connection, p: Principal, cid: int) -> ConflictRow:
        scope, args = self._conflict_scope(p)
        r = conn.execute(f"SELECT {_CONFLICT_COLS} FROM sync_conflicts WHERE id = ? AND {scope}",
                         [cid, *args]).fetchone()
        if r is None:
            raise NotFoundError(cid)
        c = _conflict(r)
        c.current = self._current_value(conn, c)
        c.record_label = self._record_label(conn, c)
        return c

    def _record_label(self, conn: sqlite3.Connection, c: ConflictRow) -> str | None:
        row = self._load(conn, c.type, c.record_id)
        if row is None:
            return None
        for key in ("name", "head_name", "title"):
            v = row.data.get(key)
            if isinstance(v, dict) and ("family" in v or "given" in v):
                return " ".join(str(v.get(k) or "") for k in ("family", "given")).strip() or None
            if isinstance(v, str) and v:
                return v
        return None

    def _current_value(self, conn: sqlite3.Connection, c: ConflictRow) -> Any:
        row = self._load(conn, c.type, c.record_id)
        if row is None:
            return None
        if c.field in ("_record", "_deleted"):
            return {"deleted": row.deleted, "version": row.version}
        name, eid = _split_element(c.field)
        if eid is None:
            return row.data.get(name)
        return next((e for e in row.data.get(name) or [] if isinstance(e, dict) and str(e.get("id")) == eid), None)

    def resolve_in(self, conn: sqlite3.Connection, p: Principal, cid: int, choice: str, value: Any = None) -> ConflictRow:
        """Apply a person's decision as a new record version, close the conflict and audit both."""
        if p.role in ("configurator",):
            raise PermissionDenied("forbidden")
        c = self.get_conflict(conn, p, cid)
        if c.status != "open":
            raise StaleConflict(cid)
        if c.type == DRAFT and c.account_id != p.id:
            raise PermissionDenied("forbidden")
        if c.type != DRAFT and p.role == "resident":
            raise PermissionDenied("forbidden")
        if choice not in ("base", "server", "mine", "custom"):
            raise ValueError("choice must be base, server, mine or custom")
        chosen = {"base": c.base, "server": c.server, "mine": c.mine}.get(choice, value)
        row = self._load(conn, c.type, c.record_id)
        if row is None:
            raise NotFoundError(cid)
        data = dict(row.data)
        meta = dict(row.meta)
        deleted = row.deleted
        changed: set[str] = set()
        if c.outcome == "delete_refused":
            if choice in ("mine",) or (choice == "custom" and value is True):
                deleted, changed = True, {"_deleted"}
        elif c.outcome == "edit_on_deleted":
            if choice == "mine" or (choice == "custom" and isinstance(value, dict)):
                restore = chosen if isinstance(chosen, dict) else {}
                for k, v in restore.items():
                    if not k.startswith("_"):
                        data[k] = v
                deleted, changed = False, {"_deleted", *restore}
        else:
            name, eid = _split_element(c.field)
            if eid is None:
                if data.get(name) != chosen:
                    data[name] = chosen
                    changed = {name}
            else:
                items = [e for e in data.get(name) or [] if isinstance(e, dict)]
                others = [e for e in items if str(e.get("id")) != eid]
                current = next((e for e in items if str(e.get("id")) == eid), None)
                if chosen is None and current is not None:
                    data[name] = others
                    changed = {name}
                elif isinstance(chosen, dict) and chosen != current:
                    data[name] = [chosen if str(e.get("id")) == eid else e for e in items] if current else [
                        *items, chosen]
                    changed = {name}
        seq = None
        if changed:
            seq = self._write(conn, p, None, c.type, c.record_id, row, data, meta, deleted, changed, client_id=f"console:{p.id}")
        now = _now()
        conn.execute("UPDATE sync_conflicts SET status = 'resolved', resolved_by = ?, resolved_at = ?, choice = ?,"
                     " resolved_value = ? WHERE id = ?", (p.id, now, choice, _j(chosen), cid))
        append_audit(conn, actor=p.id, action="sync.conflict.resolve", subject=f"{c.type}:{c.record_id}",
                     details={"conflict_id": cid, "field": c.field, "choice": choice, "outcome": c.outcome,
                              "new_version": row.version + 1 if seq else row.version})
        return self.get_conflict(conn, p, cid)

    # -- blobs -------------------------------------------------------------------------------------------
    @staticmethod
    def blob(conn: sqlite3.Connection, sha: str) -> tuple[int, bool] | None:
        r = conn.execute("SELECT size, complete FROM sync_blobs WHERE sha256 = ?", (sha,)).fetchone()
        if r is not None:
            return int(r[0]), bool(r[1])
        r = conn.execute("SELECT size FROM attachments WHERE sha256 = ?", (sha,)).fetchone()
        return (int(r[0]), True) if r is not None else None

    @staticmethod
    def create_blob_in(conn: sqlite3.Connection, p: Principal, sha: str, size: int) -> bool:
        """Register an upload; False when it was already known (then nothing changes)."""
        if SyncStore.blob(conn, sha) is not None:
            return False
        conn.execute("INSERT INTO sync_blobs (sha256, size, complete, created_by, created_at) VALUES (?, ?, 0, ?, ?)",
                     (sha, size, p.id, _now()))
        return True

    @staticmethod
    def complete_blob_in(conn: sqlite3.Connection, p: Principal, sha: str, size: int, mime: str) -> list[str]:
        """Mark a verified blob complete; returns the submissions that just got their last file."""
        now = _now()
        conn.execute("UPDATE sync_blobs SET complete = 1, type = ?, completed_at = ? WHERE sha256 = ?",
                     (mime, now, sha))
        conn.execute("INSERT INTO attachments (sha256, size, type, created_at, uploaded_by) VALUES (?, ?, ?, ?, ?)"
                     " ON CONFLICT DO NOTHING", (sha, size, mime, now, p.id))
        done: list[str] = []
        for (sid,) in conn.execute("SELECT submission_id FROM sync_submission_files WHERE sha256 = ?",
                                   (sha,)).fetchall():
            pending = conn.execute(
                "SELECT COUNT(*) FROM sync_submission_files f WHERE f.submission_id = ? AND NOT EXISTS"
                " (SELECT 1 FROM attachments a WHERE a.sha256 = f.sha256)", (sid,)).fetchone()[0]
            if pending:
                continue
            row = conn.execute("SELECT flags FROM submissions WHERE id = ?", (sid,)).fetchone()
            if row is None:
                continue
            flags = [f for f in _dec.decode(row[0]) if f != "incomplete_attachments"]
            if len(flags) != len(_dec.decode(row[0])):
                conn.execute("UPDATE submissions SET flags = ?, updated_at = ? WHERE id = ?", (_j(flags), now, sid))
                append_audit(conn, actor=p.id, action="submission.attachments_complete",
                             subject=f"submission:{sid}", details={"last_sha256": sha})
                done.append(sid)
        return done

    @staticmethod
    def reset_blob_in(conn: sqlite3.Connection, sha: str) -> None:
        conn.execute("UPDATE sync_blobs SET complete = 0 WHERE sha256 = ?", (sha,))


# Outreach workers see the households of the residents assigned to them (core table outreach_assignments)
# and every member of those households. Derived at query time: removing an assignment removes the access.
def _assigned_households(me: str) -> str:
    return ("SELECT rr.household_id FROM outreach_assignments oa JOIN residents rr ON rr.id = oa.resident_id"
            f" WHERE oa.account_id = {me} AND rr.household_id IS NOT NULL")


def _assigned_residents(me: str) -> str:
    """A condition on ``m`` (a residents row); ``me`` appears twice."""
    return (f"m.household_id IN ({_assigned_households(me)})"
            f" OR m.id IN (SELECT oa2.resident_id FROM outreach_assignments oa2 WHERE oa2.account_id = {me})")


def _assigned_clause(type_col: str, id_col: str, me: str) -> str:
    """A condition on a (type, id) pair; ``me`` appears three times."""
    return (f"(({type_col} = 'household' AND {id_col} IN ({_assigned_households(me)}))"
            f" OR ({type_col} = 'resident' AND {id_col} IN (SELECT m.id FROM residents m"
            f" WHERE {_assigned_residents(me)})))")


def _name(family: Any, given: Any) -> dict[str, str] | None:
    if not family and not given:
        return None
    return {"family": family or "", "given": given or ""}


def _resident_data(rec: dict[str, Any]) -> dict[str, Any]:
    """A resident's shared record from the registry: what a home visit needs (no My Number)."""
    out = {"household_id": rec.get("household_id"), "name": _name(rec.get("family"), rec.get("given")),
           "name_kana": _name(rec.get("family_kana"), rec.get("given_kana")), "birth_date": rec.get("birth_date"),
           "relationship": rec.get("relationship_to_head"), "phone": rec.get("phone")}
    return {k: v for k, v in out.items() if v not in (None, "")}


def _household_data(hid: str, members: list[dict[str, Any]]) -> dict[str, Any]:
    head = next((m for m in members if m.get("relationship_to_head") == "世帯主"), members[0] if members else {})
    address = "".join(str(head.get(k) or "") for k in ("prefecture", "city", "town", "block"))
    if head.get("building"):
        address += " " + str(head["building"])
    out = {"household_id": hid, "head_name": _name(head.get("family"), head.get("given")), "address": address,
           "contact_log": [], "members": [{"id": m["id"], "relationship": m.get("relationship_to_head") or ""}
                                          for m in members]}
    return {k: v for k, v in out.items() if v not in (None, "")}


def _store_telemetry(conn: sqlite3.Connection, procedure_id: str, telemetry: dict[str, Any]) -> None:
    """Telemetry rides inside the submission and is stored only when the submission is created; a bad
    one is dropped (it must never fail or block a submission)."""
    from server.problems import Problem
    from server.telemetry import TelemetryIn, insert_telemetry, telemetry_row

    try:
        t = msgspec.convert(telemetry, TelemetryIn)
        if t.procedure_id != procedure_id:
            return
        insert_telemetry(conn, telemetry_row(t))
    except (msgspec.ValidationError, Problem):
        return


def _split_element(field: str) -> tuple[str, str | None]:
    if field.endswith("]") and "[" in field:
        name, _, rest = field.partition("[")
        return name, rest[:-1]
    return field, None

