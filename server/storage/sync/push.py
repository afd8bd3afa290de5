"""Pushing: a batch of mutations applied in order, one receipt each.

Everything runs inside one write job of :class:`server.storage.db.Database` (``await db.write(fn)``), so a
mutation's effect, its history row, its change-log entry, its conflict records and its receipt are committed
in ONE transaction: after a crash either all of them exist or none does. Each mutation also gets its own
SAVEPOINT, so a mutation whose handler raises (a "poison" mutation) is rolled back alone and answered with a
terminal ``rejected`` receipt while the rest of the batch commits. The state of one pass over the batch is a
:class:`~server.storage.sync.records.Batch` handed down from :func:`push_in`."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from server.audit import append_audit
from server.auth.roles import CASEWORK_ROLES, is_staff_role
from server.storage.sync.access import can_access, visible
from server.storage.sync.clients import bind_clients_in
from server.storage.sync.conflicts import record_conflicts_in
from server.storage.sync.errors import Decision, KeyReuse, Rejected, Verdict
from server.storage.sync.filing import file_submission, respond_submission
from server.storage.sync.records import Batch, Row, high_water, history, load, to_json, write_version
from server.storage.sync.registry_projection import registry_owns
from sync.commands import run_command
from sync.hlc import drift_ms
from sync.merge import RecordState, merge_delete, merge_patch, shape_problem
from sync.messages import Mutation, Receipt, content_hash
from sync.records import DRAFT, Principal, schema_for

__all__ = ["PushSettings", "push_in"]

_receipt_dec = msgspec.json.Decoder(Receipt)
# A record id a person, a URL and a log line can carry: 1-200 characters, no control characters.
_ENTITY_ID = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


@dataclass(frozen=True)
class PushSettings:
    """The store's configuration that a push reads."""

    max_drift_ms: int
    clock_ms: Callable[[], int]
    audit: bool


class _Poison(Exception):
    """Raised out of the fast path so the batch is replayed with per-mutation savepoints."""


def push_in(conn: sqlite3.Connection, settings: PushSettings, principal: Principal, mutations: Sequence[Mutation],
            *, verdicts: dict[str, Decision] | None = None) -> list[Receipt]:
    """Apply a batch in order; one receipt per mutation. Raises :class:`KeyReuse` (and writes
    nothing) when an id comes back with a different body. ``verdicts``: the filing policy's decisions about
    ``submission.create`` mutations, made before the write job (by mutation id: a :class:`Verdict` rejects, a
    :class:`server.filing.Filing` is written); a mutation already processed keeps its stored receipt
    regardless."""
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
    foreign = bind_clients_in(conn, principal.id, (m.client_id for m in mutations))
    # Fast path: no per-mutation savepoints. Rejections never follow a partial write, so only an
    # unexpected exception (a poison mutation) needs isolation: then the whole batch is undone and
    # replayed with one savepoint per mutation.
    conn.execute("SAVEPOINT batch")
    try:
        out, batch = _batch(conn, settings, principal, mutations, hashes, stored, Batch(verdicts or {}, foreign_clients=foreign),
                            isolate=False)
    except _Poison:
        conn.execute("ROLLBACK TO batch")
        out, batch = _batch(conn, settings, principal, mutations, hashes, stored, Batch(verdicts or {}, foreign_clients=foreign),
                            isolate=True)
    conn.execute("RELEASE batch")
    # A receipt's conflicts carry the record's current values to the pusher, even when nothing was written
    # (a stale edit of a review field): for staff that is a read of a shared record, audited with the push.
    disclosed = list(dict.fromkeys(f"{m.entity.type}:{m.entity.id}" for m, r in zip(mutations, out, strict=True)
                                   if r.conflicts and m.entity.type != DRAFT)) if is_staff_role(principal.role) else []
    if settings.audit and (batch.writes or disclosed):
        # One hash-chained audit entry per push (the per-version history with account and mutation
        # ids is in sync_record_versions); subjects listed so the entry can be found.
        details: dict[str, object] = {"records": batch.writes[:1000], "count": len(batch.writes)}
        if disclosed:
            details["disclosed"] = disclosed[:1000]
        append_audit(conn, actor=principal.id, action="sync.push", subject=None, details=details)
    return out


def _batch(conn: sqlite3.Connection, settings: PushSettings, principal: Principal, mutations: Sequence[Mutation],
           hashes: list[str], stored: dict[str, str], batch: Batch, *,
           isolate: bool) -> tuple[list[Receipt], Batch]:
    # ``batch`` is new for each pass: a replay (isolate=True) starts afresh, the first pass was rolled back.
    out: list[Receipt] = []
    done: dict[str, Receipt] = {}
    for m, h in zip(mutations, hashes, strict=True):
        if m.mutation_id in stored or m.mutation_id in done:
            first = done.get(m.mutation_id) or _receipt_dec.decode(stored[m.mutation_id])
            out.append(msgspec.structs.replace(first, status="duplicate", original_status=first.status))
            continue
        r = _one(conn, settings, batch, principal, m, h, isolate)
        done[m.mutation_id] = r
        out.append(r)
    return out, batch


def _one(conn: sqlite3.Connection, settings: PushSettings, batch: Batch, p: Principal, m: Mutation, h: str,
         isolate: bool = True) -> Receipt:
    flags: list[str] = []
    if m.client_hlc is not None:
        ahead = drift_ms(m.client_hlc, settings.clock_ms())
        if ahead is None:
            flags.append("bad_hlc")
        elif ahead > settings.max_drift_ms:
            flags.append("clock_ahead")
    if isolate:
        conn.execute("SAVEPOINT mutation")
    try:
        receipt = _apply(conn, settings, batch, p, m)
    except sqlite3.OperationalError:
        # Disk full, I/O error, locked: transient, not the mutation's fault. Let the request fail so
        # the device retries later; the same id will then be applied once.
        if isolate:
            conn.execute("ROLLBACK TO mutation")
            conn.execute("RELEASE mutation")
        raise
    except Rejected as exc:
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
        receipt.seq = high_water(conn)
    receipt.flags = flags + receipt.flags
    conn.execute(
        "INSERT INTO sync_receipts (mutation_id, account_id, client_id, client_seq, content_hash, status,"
        " receipt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (m.mutation_id, p.id, m.client_id, m.client_seq, h, receipt.status, to_json(receipt), batch.now))
    return receipt


def _registry_record() -> Rejected:
    return Rejected("registry_record", "住民基本台帳の記録と同じIDでは作成できません（担当になると台帳から届きます）")


def _apply(conn: sqlite3.Connection, settings: PushSettings, batch: Batch, p: Principal, m: Mutation) -> Receipt:
    if m.client_id in batch.foreign_clients:
        raise Rejected("client_id_bound", "この端末の識別子は別のアカウントで使われています。アプリを再読み込みしてください")
    if not _ENTITY_ID.fullmatch(m.entity.id):
        raise Rejected("bad_request", "記録のIDが正しくありません（1〜200文字、制御文字なし）")
    if m.kind == "submission.create":
        return file_submission(conn, batch, p, m)
    if m.kind == "submission.respond":
        return respond_submission(conn, batch, p, m)
    rtype = m.entity.type
    schema = schema_for(rtype)
    if schema is None:
        raise Rejected("unknown_entity_type", f"同期できない種類の記録です: {rtype}")
    if m.kind == "draft.patch" and rtype != DRAFT:
        raise Rejected("bad_kind", "draft.patch は下書きにだけ使えます")
    if m.kind == "record.patch" and rtype == DRAFT:
        raise Rejected("bad_kind", "下書きには draft.patch を使ってください")
    if m.kind == "draft.patch" and isinstance(refusal := batch.verdicts.get(m.mutation_id), Verdict):
        raise Rejected(refusal.reason, refusal.message, refusal.result)  # server.draft_policy (staff-only fields)
    row = load(conn, rtype, m.entity.id)
    if row is None:
        if m.kind in ("record.delete", "command"):
            raise Rejected("not_found", "対象の記録が見つかりません")
        if rtype != DRAFT and p.role not in CASEWORK_ROLES:  # residents create drafts only
            raise Rejected("forbidden", "この記録を作成する権限がありません")
        if registry_owns(conn, rtype, m.entity.id):
            raise _registry_record()
    elif not visible(conn, p, rtype, m.entity.id, row):
        if m.kind in ("record.delete", "command"):  # as for an absent record: existence is not revealed
            raise Rejected("not_found", "対象の記録が見つかりません")
        # Registry ids are guessable (R0001, H001): whether one was taken into sync (assigned to someone) is
        # not revealed either, the answer is the absent one's. Other ids are client-made UUIDs: see docs/sync.md.
        if registry_owns(conn, rtype, m.entity.id):
            raise _registry_record()
        raise Rejected("forbidden", "この記録を変更する権限がありません")
    base_version = m.base_version
    if row is not None and m.kind != "command" and base_version is not None and base_version > row.version:
        # A version this database never had (an edit made against versions a restored copy lost): nothing
        # tells which edits the device saw, so it is judged against the record's whole history. A field the
        # device saw as it is applies; any other is a clash, kept in a conflict record by its policy: the edit
        # is neither refused nor silently written over someone else's value.
        base_version = 0
    past = history(conn, rtype, m.entity.id, base_version) if row is not None else []
    state = RecordState(row.version, row.data, row.deleted, row.meta) if row is not None else None

    if m.kind == "record.delete":
        dres = merge_delete(state, base_version=base_version, client_id=m.client_id,
                            client_seq=m.client_seq, history=past)
        assert row is not None
        ids = record_conflicts_in(conn, p, m, dres.conflicts, row.department, row.version)
        if dres.deleted and not row.deleted:
            seq = write_version(conn, p, m, rtype, m.entity.id, row, row.data, row.meta, True, {"_deleted"},
                                batch=batch)
            return Receipt(mutation_id=m.mutation_id, status=dres.status, version=row.version + 1, seq=seq)
        return Receipt(mutation_id=m.mutation_id, status=dres.status, version=row.version,
                       conflicts=ids)

    if m.kind == "command":
        if m.command is None:
            raise Rejected("bad_request", "command がありません")
        assert row is not None
        out = run_command(m.command.name, m.command.args, rtype, row.data, row.deleted)
        if not out.ok:
            raise Rejected(out.reason or "rejected", out.message or "実行できませんでした")
        changed = {k for k, v in out.fields.items() if row.data.get(k) != v}
        if not changed:
            return Receipt(mutation_id=m.mutation_id, status="applied", version=row.version)
        seq = write_version(conn, p, m, rtype, m.entity.id, row, {**row.data, **out.fields}, row.meta, False,
                            changed, batch=batch)
        return Receipt(mutation_id=m.mutation_id, status="applied", version=row.version + 1, seq=seq)

    # Junk in a known field (a log that is a string, a member without an id, a department that is a list)
    # would be stored out of reach of later edits: refused, naming the field (sync.records.SCHEMAS).
    if (problem := shape_problem(schema, m.changes, m.set_ops)) is not None:
        raise Rejected("bad_request", f"項目の値の形が正しくありません（{problem}）")
    res = merge_patch(state, changes=m.changes, set_ops=m.set_ops, base_version=base_version,
                      client_id=m.client_id, client_seq=m.client_seq, schema=schema, history=past)
    if res.status == "rejected":
        raise Rejected(res.reason or "rejected", "この項目は直接変更できません（操作を使ってください）")
    dept = row.department if row is not None else None
    version = row.version if row is not None else 0
    ids = record_conflicts_in(conn, p, m, res.conflicts, dept if row else res.data.get("department"), version)
    if row is None:
        dept = res.data.get("department") if rtype != DRAFT else None
        # Accepted and then invisible to its creator (a reviewer's record of no or another department) would
        # leave every later edit of theirs refused: nobody creates a record they could not see.
        if not can_access(p, rtype, owner=p.id, department=dept if isinstance(dept, str) else None,
                          assignees=[p.id]):
            raise Rejected("forbidden", "自分が見られない記録は作成できません（担当部署を指定してください）")
        row = Row(0, {}, {}, False, p.id, dept)
        res.changed.add("_created")
    if res.changed:
        seq = write_version(conn, p, m, rtype, m.entity.id, row, res.data, res.meta, res.deleted, res.changed,
                            batch=batch)
        return Receipt(mutation_id=m.mutation_id, status=res.status, version=row.version + 1, seq=seq,
                       conflicts=ids)
    return Receipt(mutation_id=m.mutation_id, status=res.status, version=row.version or None, conflicts=ids)
