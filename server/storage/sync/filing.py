"""Filing a submission through sync (``submission.create``) and answering a request for information
(``submission.respond``): the write of a decision made before the write
job by the one filing policy (:func:`server.filing.check_filing`, as for ``POST /api/submissions``), stored by
the same writer (:func:`server.filing.write_filing_in`). A mutation nobody decided is refused: a submission is
never stored unvalidated."""

from __future__ import annotations

import sqlite3

from server.storage.sync.errors import Rejected, Verdict
from server.storage.sync.records import Batch
from sync.messages import Mutation, Receipt
from sync.records import Principal

__all__ = ["file_submission", "respond_submission"]


def file_submission(conn: sqlite3.Connection, batch: Batch, p: Principal, m: Mutation) -> Receipt:
    from server.filing import ID_REUSED, UNKNOWN_PROCEDURE, Filing, write_filing_in
    from server.storage.submissions import IdempotencyConflict, missing_attachments

    if m.submission is None or m.entity.type != "submission":
        raise Rejected("bad_request", "submission.create には submission が必要です")
    decision = batch.verdicts.get(m.mutation_id)
    if isinstance(decision, Verdict):
        raise Rejected(decision.reason, decision.message, decision.result)
    if not isinstance(decision, Filing) or decision.new.id != m.entity.id or decision.actor != p.id:
        # Not decided by the filing policy (a server without a procedure catalog publishes no version).
        raise Rejected(UNKNOWN_PROCEDURE.reason, UNKNOWN_PROCEDURE.message)
    try:
        rec, _ = write_filing_in(conn, decision)
    except IdempotencyConflict:
        raise Rejected(ID_REUSED.reason, ID_REUSED.message) from None
    return Receipt(mutation_id=m.mutation_id, status="applied", result={
        "receipt_number": rec.receipt_number, "status": rec.status,
        "missing_blobs": missing_attachments(conn, p.id, decision.new.attachments), "flags": rec.flags})


def respond_submission(conn: sqlite3.Connection, batch: Batch, p: Principal, m: Mutation) -> Receipt:
    """``submission.respond``: write the reply the respond policy (``server.responding.check_response``, as for
    ``POST /api/submissions/{id}/respond``) accepted, once under its id; refuse what it refused."""
    from server.filing import ID_REUSED
    from server.responding import NOT_FOUND, NOT_WAITING
    from server.storage.follow import ResponseWrite, write_response_in
    from server.storage.submissions import (
        IdempotencyConflict,
        InvalidTransition,
        NotFound,
        missing_attachments,
    )

    if m.response is None or m.entity.type != "submission":
        raise Rejected("bad_request", "submission.respond には submission と response が必要です")
    decision = batch.verdicts.get(m.mutation_id)
    if isinstance(decision, Verdict):
        raise Rejected(decision.reason, decision.message, decision.result)
    if not isinstance(decision, ResponseWrite) or decision.submission_id != m.entity.id or decision.account_id != p.id:
        raise Rejected(NOT_FOUND.reason, NOT_FOUND.message)  # nobody decided it (a server without services)
    try:
        rec, created = write_response_in(conn, decision)
    except NotFound:
        raise Rejected(NOT_FOUND.reason, NOT_FOUND.message) from None
    except InvalidTransition as e:
        raise Rejected("invalid_transition", NOT_WAITING, {"current": e.current}) from None
    except IdempotencyConflict:
        raise Rejected(ID_REUSED.reason, ID_REUSED.message) from None
    return Receipt(mutation_id=m.mutation_id, status="applied", result={
        "response_id": decision.id, "status": rec.status, "created": created, "flags": rec.flags,
        "missing_blobs": missing_attachments(conn, p.id, decision.attachments)})
