"""Filing a submission through sync (``submission.create``): the same record and audit as
``POST /api/submissions``, flagged rather than refused for its procedure version, with its attachments
tracked until every blob is complete."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from server.audit import append_audit
from server.storage.sync.blobs import blob_complete
from server.storage.sync.errors import Rejected
from server.storage.sync.records import Batch
from sync.messages import Mutation, Receipt
from sync.records import Principal

__all__ = ["ProcedureInfo", "file_submission"]


@dataclass(frozen=True)
class ProcedureInfo:
    department: str | None = None
    retired: bool = False
    known: bool = True


def file_submission(conn: sqlite3.Connection, batch: Batch, p: Principal, m: Mutation,
                    procedure_info: Callable[[str, str], ProcedureInfo]) -> Receipt:
    from server.storage.submissions import (
        IdempotencyConflict,
        NewSubmission,
        SQLiteSubmissions,
        body_hash,
    )

    s = m.submission
    if s is None or m.entity.type != "submission":
        raise Rejected("bad_request", "submission.create には submission が必要です")
    if p.role not in ("resident", "counter", "outreach"):
        raise Rejected("forbidden", "申請を提出する権限がありません")
    if s.on_behalf_of is not None and p.role == "resident":
        raise Rejected("forbidden", "代理の申請は職員だけができます")
    verdict = batch.verdicts.get(m.mutation_id)
    if verdict is not None:
        raise Rejected(verdict.reason, verdict.message, verdict.result)
    info = procedure_info(s.procedure_id, s.procedure_version)
    flags: list[str] = []
    if info.retired:
        flags.append("retired_version")
    if not info.known:
        flags.append("unknown_version")  # stored and flagged, never refused for its version alone
    shas = sorted({x for x in s.attachments if isinstance(x, str)})
    missing = [x for x in shas if not blob_complete(conn, x)]
    if missing:
        flags.append("incomplete_attachments")
    new = NewSubmission(id=m.entity.id, procedure_id=s.procedure_id, procedure_version=s.procedure_version,
                        department=info.department, answers=s.answers,
                        body_hash=body_hash(s.procedure_id, s.procedure_version, s.answers, s.on_behalf_of),
                        flags=flags, account_id=p.id, on_behalf_of=s.on_behalf_of)
    try:
        rec, created = SQLiteSubmissions.create_in(conn, new)
    except IdempotencyConflict:
        raise Rejected("id_conflict", "同じIDの別の申請がすでにあります") from None
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
        "missing_blobs": [x for x in shas if not blob_complete(conn, x)],
        "flags": rec.flags})


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
