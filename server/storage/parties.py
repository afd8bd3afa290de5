"""Two-person procedures in storage: one slot per party of a held submission, its invitation and its part.

A resident's first part of a procedure with ``parties`` is stored as a submission ``awaiting_partner``
(``server.filing``) with one row here per party. The party's slot moves ``waiting`` (an invitation code may
be issued; only its sha256 is kept) → ``claimed`` (a bound resident redeemed the code: the slot is theirs,
the code is spent) → ``confirmed`` (their part is stored here); when the last slot is confirmed, the same
write job files the submission with every part (``received``: the department's queue). Either person may
cancel while it waits (``cancelled``, the submission too). Every step is audited. Functions run inside
write or read jobs; the decisions that need the validator are made before (``server.parties``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import msgspec

from server.audit import append_audit
from server.registry import bound_resident_id
from server.storage.migrations import Migration
from server.storage.submissions import NewSubmission, SubmissionRecord, canonical_json, move_status
from server.storage.submissions import load_submission as _load
from server.storage.sync.blobs import files_pending

__all__ = [
    "PARTY_MIGRATIONS",
    "PartyConflict",
    "PartySlot",
    "cancel_held",
    "claim_invitation",
    "confirm_part",
    "issue_invitation",
    "open_parties",
    "slot_for",
    "slots_of",
    "slots_of_account",
]

_V1 = """
CREATE TABLE submission_parties (
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    party TEXT NOT NULL,              -- the procedure's party id
    state TEXT NOT NULL CHECK (state IN ('waiting', 'claimed', 'confirmed', 'cancelled')),
    account_id TEXT,                  -- the party's own account, once claimed
    resident_id TEXT,                 -- their registry record when they claimed it
    code_hash TEXT,                   -- sha256 of the live invitation code (the code itself is never stored)
    code_expires_at TEXT,
    answers TEXT,                     -- their part, once confirmed (JSON)
    updated_at TEXT NOT NULL,
    PRIMARY KEY (submission_id, party)
);
CREATE UNIQUE INDEX submission_parties_code ON submission_parties (code_hash) WHERE code_hash IS NOT NULL;
CREATE INDEX submission_parties_account ON submission_parties (account_id) WHERE account_id IS NOT NULL;
"""

PARTY_MIGRATIONS: list[Migration] = [(1, _V1)]


class PartyConflict(Exception):
    """The slot or submission is not in the state the step needs (``why``: a problem slug)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class PartySlot(msgspec.Struct, kw_only=True):
    submission_id: str
    party: str
    state: str
    account_id: str | None
    resident_id: str | None
    code_expires_at: str | None
    answers: dict[str, Any] | None
    updated_at: str


_SLOT_COLS = "submission_id, party, state, account_id, resident_id, code_expires_at, answers, updated_at"


def _slot(row: Any) -> PartySlot:
    return PartySlot(submission_id=row[0], party=row[1], state=row[2], account_id=row[3], resident_id=row[4],
                     code_expires_at=row[5], answers=msgspec.json.decode(row[6]) if row[6] else None,
                     updated_at=row[7])


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def open_parties(conn: sqlite3.Connection, sid: str, parties: tuple[str, ...], *, actor: str) -> None:
    """The held first part was just created: one waiting slot per party."""
    now = _now()
    conn.executemany("INSERT INTO submission_parties (submission_id, party, state, updated_at)"
                     " VALUES (?, ?, 'waiting', ?)", [(sid, p, now) for p in parties])
    append_audit(conn, actor=actor, action="submission.hold", subject=f"submission:{sid}",
                 details={"parties": list(parties)})


def slots_of(conn: sqlite3.Connection, sid: str) -> list[PartySlot]:
    return [_slot(r) for r in conn.execute(
        f"SELECT {_SLOT_COLS} FROM submission_parties WHERE submission_id = ? ORDER BY party", (sid,))]


def slot_for(conn: sqlite3.Connection, sid: str, account_id: str) -> PartySlot | None:
    """The slot of ``sid`` that ``account_id`` claimed, if any."""
    row = conn.execute(f"SELECT {_SLOT_COLS} FROM submission_parties WHERE submission_id = ? AND account_id = ?",
                       (sid, account_id)).fetchone()
    return _slot(row) if row else None


def slots_of_account(conn: sqlite3.Connection, account_id: str, limit: int = 50) -> list[PartySlot]:
    """Every slot ``account_id`` claimed, newest first."""
    return [_slot(r) for r in conn.execute(
        f"SELECT {_SLOT_COLS} FROM submission_parties WHERE account_id = ? ORDER BY updated_at DESC LIMIT ?",
        (account_id, limit))]


def _held(conn: sqlite3.Connection, sid: str) -> SubmissionRecord:
    rec = _load(conn, sid, history=False)
    if rec is None:
        raise PartyConflict("not-found")
    if rec.status != "awaiting_partner":
        raise PartyConflict("not-waiting")
    return rec


def issue_invitation(conn: sqlite3.Connection, sid: str, party: str, *, account_id: str, code_hash: str,
                     expires_at: str) -> None:
    """A new invitation code for a waiting slot of the filer's held submission; the previous one is void."""
    rec = _held(conn, sid)
    if rec.account_id != account_id:
        raise PartyConflict("not-found")
    cur = conn.execute("UPDATE submission_parties SET code_hash = ?, code_expires_at = ?, updated_at = ?"
                       " WHERE submission_id = ? AND party = ? AND state = 'waiting'",
                       (code_hash, expires_at, _now(), sid, party))
    if cur.rowcount != 1:
        exists = conn.execute("SELECT 1 FROM submission_parties WHERE submission_id = ? AND party = ?",
                              (sid, party)).fetchone()
        raise PartyConflict("already-claimed" if exists else "not-found")
    append_audit(conn, actor=account_id, action="party.invite", subject=f"submission:{sid}",
                 details={"party": party, "expires_at": expires_at})


def claim_invitation(conn: sqlite3.Connection, code_hash: str, *, account_id: str, resident_id: str,
                     now: str) -> PartySlot:
    """Redeem a code: the slot becomes ``account_id``'s and the code is spent.

    Refused (nothing written): an unknown or spent code (``invitation-not-found``), an expired one
    (``invitation-expired``), the filer's own application or one of whose parts they already hold
    (``own-application``: the same account, or the same registry record as the first filer).
    """
    row = conn.execute(f"SELECT {_SLOT_COLS} FROM submission_parties WHERE code_hash = ? AND state = 'waiting'",
                       (code_hash,)).fetchone()
    if row is None:
        raise PartyConflict("invitation-not-found")
    slot = _slot(row)
    if slot.code_expires_at is None or slot.code_expires_at <= now:
        raise PartyConflict("invitation-expired")
    rec = _held(conn, slot.submission_id)
    # The first filer's own record: another account bound to it is the filer too (own-application).
    filer_resident = bound_resident_id(conn, rec.account_id) if rec.account_id else None
    mine = conn.execute("SELECT 1 FROM submission_parties WHERE submission_id = ? AND (account_id = ?"
                        " OR resident_id = ?)", (slot.submission_id, account_id, resident_id)).fetchone()
    if rec.account_id == account_id or resident_id in (filer_resident, rec.on_behalf_of) or mine:
        raise PartyConflict("own-application")
    conn.execute("UPDATE submission_parties SET state = 'claimed', account_id = ?, resident_id = ?,"
                 " code_hash = NULL, code_expires_at = NULL, updated_at = ? WHERE submission_id = ? AND party = ?",
                 (account_id, resident_id, now, slot.submission_id, slot.party))
    append_audit(conn, actor=account_id, action="party.claim", subject=f"submission:{slot.submission_id}",
                 details={"party": slot.party})
    out = slot_for(conn, slot.submission_id, account_id)
    assert out is not None
    return out


def confirm_part(conn: sqlite3.Connection, sid: str, *, account_id: str, answers: dict[str, Any],
                 filed: NewSubmission | None) -> SubmissionRecord:
    """Store ``account_id``'s confirmed part. ``filed`` (every part merged, as the filing policy decided it:
    ``check_filing(..., complete=True).new``): this was the last part: the submission is filed (``received``)
    in the same transaction with the decision's answers and flags, linked to its files (flagged
    ``incomplete_attachments`` while its filer does not hold one). The state is checked here, in the writer:
    of two confirmations of one slot exactly one wins (``already-confirmed``), and a submission is filed once."""
    rec = _held(conn, sid)
    now = _now()
    cur = conn.execute("UPDATE submission_parties SET state = 'confirmed', answers = ?, updated_at = ?"
                       " WHERE submission_id = ? AND account_id = ? AND state = 'claimed'",
                       (canonical_json(answers).decode(), now, sid, account_id))
    if cur.rowcount != 1:
        raise PartyConflict("already-confirmed" if slot_for(conn, sid, account_id) else "not-found")
    append_audit(conn, actor=account_id, action="party.confirm", subject=f"submission:{sid}",
                 details={"fields": sorted(answers)})
    if filed is not None:
        if any(s.state != "confirmed" for s in slots_of(conn, sid)):
            raise PartyConflict("not-waiting")  # a part the caller did not merge: decide again
        if filed.attachments:
            conn.executemany("INSERT OR IGNORE INTO sync_submission_files (submission_id, sha256) VALUES (?, ?)",
                             [(sid, sha) for sha in filed.attachments])
        flags = [f for f in filed.flags if f != "incomplete_attachments"]
        if files_pending(conn, sid):
            flags.append("incomplete_attachments")
        move_status(conn, sid, "awaiting_partner", "received", actor=account_id,
                    answers=(rec, filed.answers), flags=flags, corrected=filed.corrected)
        append_audit(conn, actor=account_id, action="submission.file_parts", subject=f"submission:{sid}",
                     details={"parties": [s.party for s in slots_of(conn, sid)]})
    out = _load(conn, sid)
    assert out is not None
    return out


def cancel_held(conn: sqlite3.Connection, sid: str, *, account_id: str) -> SubmissionRecord:
    """The filer or a party who claimed a slot withdraws the held submission: nothing is filed, codes die."""
    rec = _held(conn, sid)
    if rec.account_id != account_id and slot_for(conn, sid, account_id) is None:
        raise PartyConflict("not-found")
    now = _now()
    conn.execute("UPDATE submission_parties SET state = 'cancelled', code_hash = NULL, code_expires_at = NULL,"
                 " updated_at = ? WHERE submission_id = ?", (now, sid))
    move_status(conn, sid, "awaiting_partner", "cancelled", actor=account_id)
    append_audit(conn, actor=account_id, action="submission.cancel", subject=f"submission:{sid}",
                 details={"by": "filer" if rec.account_id == account_id else "party"})
    out = _load(conn, sid)
    assert out is not None
    return out
